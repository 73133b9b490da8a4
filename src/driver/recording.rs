//! The record file beside the mio driver: `MAELSTROM_RECORD=DIR` makes the node write
//! `DIR/<node id>.jsonl` (see [`record`](crate::record) for the format).
//!
//! Events are encoded into the [`Recorder`]'s buffer as they happen and written to the file
//! right after each write to stdout, so recording never delays an answer. The file is named
//! `pid-<process id>.jsonl` until the node learns its id from `init`, then renamed. A failure
//! to write is logged once and ends the recording, never the node.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::codec::Oversized;
use crate::record::Recorder;
use crate::time::Instant;

/// An open record file and its buffer.
pub(super) struct RecordFile {
    recorder: Recorder,
    file: File,
    dir: PathBuf,
    path: PathBuf,
    /// Whether the file has its node-id name yet.
    named: bool,
}

impl RecordFile {
    /// Creates `dir/pid-<pid>.jsonl` (and `dir`), the header buffered.
    pub(super) fn create(dir: &Path, seed: u64, start_unix_us: u64) -> io::Result<RecordFile> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("pid-{}.jsonl", std::process::id()));
        let file = File::create(&path)?;
        Ok(RecordFile {
            recorder: Recorder::new(seed, start_unix_us),
            file,
            dir: dir.to_owned(),
            path,
            named: false,
        })
    }

    pub(super) fn input(&mut self, now: Instant, line: &[u8], output: &[u8]) {
        self.recorder.input(now, line);
        self.recorder.outputs(now, output);
    }

    pub(super) fn oversized(&mut self, now: Instant, line: &Oversized<'_>, output: &[u8]) {
        self.recorder.oversized(now, line);
        self.recorder.outputs(now, output);
    }

    pub(super) fn timeout(&mut self, now: Instant, output: &[u8]) {
        self.recorder.timeout(now);
        self.recorder.outputs(now, output);
    }

    /// Whether the file still awaits its node-id name.
    pub(super) fn unnamed(&self) -> bool {
        !self.named
    }

    /// Renames the file after the node's id (characters other than letters, digits, `-`
    /// and `_` become `_`, so a hostile id cannot leave the directory).
    pub(super) fn name(&mut self, node_id: &str) -> io::Result<()> {
        self.named = true;
        let safe: String = node_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let named = self.dir.join(format!("{safe}.jsonl"));
        std::fs::rename(&self.path, &named)?;
        log::debug!("recording to {}", named.display());
        self.path = named;
        Ok(())
    }

    /// Writes the buffered events to the file.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.file.write_all(self.recorder.bytes())?;
        self.recorder.clear();
        Ok(())
    }

    /// Bytes encoded and not yet written.
    pub(super) fn buffered(&self) -> usize {
        self.recorder.bytes().len()
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}
