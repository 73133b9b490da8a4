//! The mio driver: runs a [`Node`] on stdin and stdout with the real clock.
//!
//! This is the only module that touches file descriptors or the system clock. Each turn of
//! the loop reads stdin until it would block, hands every complete line to the node, fires
//! due timers, writes all output in one go, then waits in `Poll` until stdin is readable or
//! the node's next deadline. Output is also written mid-turn once it passes
//! [`FLUSH_THRESHOLD_BYTES`], so memory stays bounded however fast input arrives.
//!
//! When stdin cannot be polled (a regular file, `/dev/null`, a terminal), the driver falls back
//! to blocking reads, so `node < input.jsonl` feeds a node a file; timers then fire only
//! between reads (an exact replay is `MAELSTROM_REPLAY`, below). At end of input the last
//! unterminated line is handled, the output is flushed, and [`run`] returns.
//!
//! With `MAELSTROM_RECORD=DIR` the driver also writes the node's record (the `recording`
//! submodule); with `MAELSTROM_REPLAY=FILE` it reads no stdin and replays the record instead
//! ([`replay`](crate::replay())).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use mio::unix::pipe::Receiver;
use mio::{Events, Interest, Poll, Token};

use crate::codec::{Frame, LineReader};
use crate::handler::Handler;
use crate::logging;
use crate::node::Node;
use crate::record::{RECORD_ENV, REPLAY_ENV};
use crate::rng::Rng;
use crate::time::Instant;

mod recording;

use recording::RecordFile;

/// Output is written as soon as it passes this many bytes, even mid-turn: large enough to
/// batch, below the 64 KiB pipe buffer so a write does not stall on a full pipe.
pub const FLUSH_THRESHOLD_BYTES: usize = 32 << 10;

/// The record's buffer is written once it passes this many bytes, even mid-turn.
const RECORD_FLUSH_BYTES: usize = 256 << 10;

const STDIN: Token = Token(0);

/// Runs `handler` as a Maelstrom node on stdin/stdout until stdin closes, logging to stderr
/// at the level in `MAELSTROM_LOG` (see [`init_logging`](crate::init_logging)).
///
/// [`Ctx::rng`](crate::Ctx::rng) is seeded from the clock. Two environment variables change
/// what `run` does (see the [`record`](crate::record) format):
///
/// - `MAELSTROM_RECORD=DIR`: also write the node's record to `DIR/<node id>.jsonl` (named
///   `pid-<process id>.jsonl` until `init`);
/// - `MAELSTROM_REPLAY=FILE`: read no stdin; replay the record in `FILE` through the core
///   on this thread, with its clock and seed, write the node's output to stdout and compare
///   it with the recorded output. `run` returns `Ok` when every line matches; otherwise it
///   stops at the first divergence, prints it (event, time, recorded and replayed line) to
///   stderr and exits the process with status 1.
///
/// # Errors
/// Only I/O failures of stdin, stdout or the poller (such as stdout closed by Maelstrom), or
/// an unreadable record to replay. Bad input is handled inside the node and never ends the
/// loop; a record that cannot be written is logged and dropped.
pub fn run<H: Handler>(handler: H) -> io::Result<()> {
    logging::init_logging();
    if let Some(path) = std::env::var_os(REPLAY_ENV) {
        log::info!("replaying {}", Path::new(&path).display());
        return crate::replay::replay_main(Path::new(&path), handler);
    }
    log::info!("maelstrom-loop {} node starting", env!("CARGO_PKG_VERSION"));
    let stdin = io::stdin().as_fd().try_clone_to_owned()?;
    let stdout = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let epoch = std::time::Instant::now();
    let (seed, start_unix_us) = clock_seed();
    let mut driver = Driver {
        node: Node::with_seed(handler, seed),
        reader: LineReader::new(H::MAX_LINE_BYTES),
        stdout,
        epoch,
        hung_up: false,
        record: open_record(seed, start_unix_us),
    };
    let pollable = File::from(stdin.try_clone()?)
        .metadata()
        .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
        .unwrap_or(false);
    let result = if pollable {
        driver.run_polled(stdin)
    } else {
        log::debug!("stdin is not a pipe or socket; reading it with blocking reads");
        driver.run_blocking(File::from(stdin))
    };
    log::info!("input closed; exiting");
    result
}

/// A seed for the node's generator from the clock and process id, and the start time in
/// microseconds since the Unix epoch.
fn clock_seed() -> (u64, u64) {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let start_unix_us = u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX);
    // Truncating the nanoseconds keeps their fast-moving low bits, which is what a seed wants.
    let mixed = (since_epoch.as_nanos() as u64) ^ (u64::from(std::process::id()) << 40);
    (Rng::new(mixed).next_u64(), start_unix_us)
}

/// The record file, when `MAELSTROM_RECORD` names a directory and it can be created.
fn open_record(seed: u64, start_unix_us: u64) -> Option<RecordFile> {
    let dir = std::env::var_os(RECORD_ENV)?;
    match RecordFile::create(Path::new(&dir), seed, start_unix_us) {
        Ok(record) => {
            log::info!("recording to {}", record.path().display());
            Some(record)
        }
        Err(e) => {
            log::error!("cannot record to {}: {e}", Path::new(&dir).display());
            None
        }
    }
}

struct Driver<H: Handler> {
    node: Node<H>,
    reader: LineReader,
    stdout: File,
    epoch: std::time::Instant,
    /// The poller reported the writer gone: no further edge will come, so read to EOF.
    hung_up: bool,
    /// Where the record goes, when recording.
    record: Option<RecordFile>,
}

/// What one read attempt found.
enum ReadOutcome {
    /// The read filled the space offered: more may be waiting.
    Data,
    /// A short read: a pipe returns less than asked only when it has nothing more, so the
    /// next read would block; edge-triggered polling reports anything that arrives later,
    /// unless the writer already hung up (see `Driver::hung_up`).
    Drained,
    WouldBlock,
    Eof,
}

impl<H: Handler> Driver<H> {
    fn now(&self) -> Instant {
        let micros = self.epoch.elapsed().as_micros();
        Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    fn run_polled(&mut self, stdin: OwnedFd) -> io::Result<()> {
        let mut receiver = Receiver::from(stdin);
        receiver.set_nonblocking(true)?;
        let mut poll = Poll::new()?;
        poll.registry()
            .register(&mut receiver, STDIN, Interest::READABLE)?;
        let mut events = Events::with_capacity(8);
        let result = self.poll_loop(&mut poll, &mut events, &mut receiver);
        // Stdin's file description may be shared with our parent: leave it as we found it.
        let _ = receiver.set_nonblocking(false);
        result
    }

    fn poll_loop(
        &mut self,
        poll: &mut Poll,
        events: &mut Events,
        stdin: &mut Receiver,
    ) -> io::Result<()> {
        loop {
            let eof = self.read_until_blocked(stdin)?;
            self.handle_timeout(self.now());
            if eof {
                return self.finish();
            }
            self.flush()?;
            let timeout = self
                .node
                .next_deadline()
                .map(|deadline| std::time::Duration::from(deadline - self.now()));
            match poll.poll(events, timeout) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => other?,
            }
            self.hung_up |= events.iter().any(|e| e.is_read_closed() || e.is_error());
        }
    }

    /// Reads and handles input until stdin would block (false) or ends (true).
    fn read_until_blocked(&mut self, stdin: &mut Receiver) -> io::Result<bool> {
        loop {
            match self.read_once(stdin)? {
                ReadOutcome::Data => self.handle_frames()?,
                ReadOutcome::Drained if !self.hung_up => {
                    self.handle_frames()?;
                    return Ok(false);
                }
                ReadOutcome::Drained => self.handle_frames()?,
                ReadOutcome::WouldBlock => return Ok(false),
                ReadOutcome::Eof => return Ok(true),
            }
        }
    }

    fn run_blocking(&mut self, mut stdin: File) -> io::Result<()> {
        loop {
            match self.read_once(&mut stdin)? {
                ReadOutcome::Data | ReadOutcome::Drained => self.handle_frames()?,
                ReadOutcome::Eof => return self.finish(),
                ReadOutcome::WouldBlock => {}
            }
            self.handle_timeout(self.now());
            self.flush()?;
        }
    }

    fn read_once(&mut self, input: &mut impl Read) -> io::Result<ReadOutcome> {
        let spare = self.reader.spare();
        let offered = spare.len();
        match input.read(spare) {
            Ok(0) => Ok(ReadOutcome::Eof),
            Ok(n) => {
                self.reader.filled(n);
                Ok(if n < offered {
                    ReadOutcome::Drained
                } else {
                    ReadOutcome::Data
                })
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::WouldBlock),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(ReadOutcome::Data),
            Err(e) => Err(e),
        }
    }

    /// Hands every complete line to the node; writes output early if it grew large.
    fn handle_frames(&mut self) -> io::Result<()> {
        let now = self.now();
        while let Some(frame) = self.reader.next_frame() {
            handle_frame(&mut self.node, self.record.as_mut(), now, frame);
            let recorded = self.record.as_ref().map_or(0, RecordFile::buffered);
            if self.node.output().len() >= FLUSH_THRESHOLD_BYTES || recorded >= RECORD_FLUSH_BYTES {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Fires due timers, recording the turn when something was due.
    fn handle_timeout(&mut self, now: Instant) {
        let due = self.node.next_deadline().is_some_and(|at| at <= now);
        let mark = self.node.output().len();
        self.node.handle_timeout(now);
        if let (true, Some(record)) = (due, &mut self.record) {
            record.timeout(now, &self.node.output()[mark..]);
        }
    }

    /// Renames the record after the node's id once `init` has told it (after the output
    /// was written: a rename can wait on the file system, `init_ok` should not).
    fn name_record(&mut self) {
        let Some(record) = self.record.as_mut().filter(|r| r.unnamed()) else {
            return;
        };
        if let Some(id) = self.node.node_id() {
            if let Err(e) = record.name(id) {
                log::error!("cannot rename the record after {id}: {e}");
            }
        }
    }

    /// End of input: the last unterminated line, due timers, then everything written.
    fn finish(&mut self) -> io::Result<()> {
        let now = self.now();
        if let Some(frame) = self.reader.finish() {
            handle_frame(&mut self.node, self.record.as_mut(), now, frame);
        }
        self.handle_timeout(now);
        self.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut pending = self.node.output();
        while !pending.is_empty() {
            match self.stdout.write(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => pending = &pending[n..],
                // Stdout shares a non-blocking file description with stdin (a socket dup'ed
                // onto both): wait our turn rather than lose output.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.node.clear_output();
        self.name_record();
        if let Some(record) = &mut self.record {
            if let Err(e) = record.flush() {
                log::error!(
                    "cannot write the record {}: {e}; recording stops",
                    record.path().display()
                );
                self.record = None;
            }
        }
        Ok(())
    }
}

/// Hands one frame to the node, and the frame and what it wrote to the record.
fn handle_frame<H: Handler>(
    node: &mut Node<H>,
    record: Option<&mut RecordFile>,
    now: Instant,
    frame: Frame<'_>,
) {
    let mark = node.output().len();
    match frame {
        Frame::Line(line) => {
            node.handle_line(now, line);
            if let Some(record) = record {
                record.input(now, line, &node.output()[mark..]);
            }
        }
        Frame::Oversized(line) => {
            node.handle_oversized(now, &line);
            if let Some(record) = record {
                record.oversized(now, &line, &node.output()[mark..]);
            }
        }
    }
}
