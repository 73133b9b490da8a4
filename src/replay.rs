//! Replay: a record's events fed to a fresh [`Node`] on one thread, its output compared line
//! by line with the recorded output.
//!
//! [`replay()`] is the library function a test calls; [`run`](crate::run) calls the same
//! code when `MAELSTROM_REPLAY` names a record, printing the node's output to stdout. Nothing
//! here reads a clock or any file but the record, so a breakpoint in a handler stops the
//! same run every time.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use crate::codec::Oversized;
use crate::handler::Handler;
use crate::node::Node;
use crate::record::{self, Event, Header};
use crate::time::Instant;

/// The first place where a replay's output differs from the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The record's line number (the header is line 1) of the recorded output line, or of
    /// the input event whose replay wrote a line the record lacks.
    pub event: u64,
    /// The time of that event.
    pub time: Instant,
    /// What the record says the node wrote there, if anything.
    pub recorded: Option<String>,
    /// What the node wrote there on replay, if anything.
    pub replayed: Option<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |line: &Option<String>| line.clone().unwrap_or_else(|| "(nothing)".into());
        write!(
            f,
            "replay diverged at event {} (t = {} us)\n  recorded: {}\n  replayed: {}",
            self.event,
            self.time.as_micros(),
            show(&self.recorded),
            show(&self.replayed)
        )
    }
}

/// What a replay found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// The record's header.
    pub header: Header,
    /// Input, oversized-line and timer events fed to the node (the replay stops at the
    /// first divergence).
    pub inputs: u64,
    /// Recorded output lines that the replay wrote identically, in place, before any
    /// divergence.
    pub outputs_matched: u64,
    /// The first difference, if any.
    pub divergence: Option<Divergence>,
    /// Whether the record's last line was cut short (the node was killed mid-write) and
    /// skipped.
    pub truncated: bool,
}

impl ReplayReport {
    /// Whether the node wrote exactly the recorded output.
    pub fn is_identical(&self) -> bool {
        self.divergence.is_none()
    }
}

/// Replays the record at `path` through a fresh node running `handler`, seeded as recorded.
///
/// ```no_run
/// # use maelstrom_loop::{Ctx, Error, Handler, Message};
/// # struct MyNode;
/// # impl Handler for MyNode {
/// #     type Timer = ();
/// #     fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: &Message<'_>) -> Result<(), Error> { Ok(()) }
/// # }
/// let report = maelstrom_loop::replay("records/n1.jsonl", MyNode).unwrap();
/// assert!(report.is_identical(), "{:?}", report.divergence);
/// ```
///
/// # Errors
/// When the file cannot be read, or a line other than the last is not a record line.
pub fn replay<H: Handler>(path: impl AsRef<Path>, handler: H) -> io::Result<ReplayReport> {
    let file = BufReader::new(File::open(path)?);
    replay_from(file, handler, &mut io::sink())
}

/// Replays a record read from `record`, writing the node's output to `out` as it goes.
///
/// # Errors
/// As [`replay()`], and whatever `out` returns.
pub fn replay_from<H: Handler>(
    mut record: impl BufRead,
    handler: H,
    out: &mut dyn Write,
) -> io::Result<ReplayReport> {
    let mut line = Vec::new();
    record.read_until(b'\n', &mut line)?;
    let header = record::parse_header(text_of(&line, 1)?).map_err(|e| invalid(1, &e))?;
    let mut replay = Replay {
        node: Node::with_seed(handler, header.seed),
        pending: VecDeque::new(),
        report: ReplayReport {
            header,
            inputs: 0,
            outputs_matched: 0,
            divergence: None,
            truncated: false,
        },
    };
    let mut number = 1;
    loop {
        line.clear();
        if record.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        let complete = line.last() == Some(&b'\n');
        match text_of(&line, number)
            .and_then(|t| record::parse_event(t.trim_end()).map_err(|e| invalid(number, &e)))
        {
            Ok(event) => replay.step(number, event, out)?,
            Err(_) if !complete => replay.report.truncated = true,
            Err(e) => return Err(e),
        }
        if replay.report.divergence.is_some() {
            // Past the first divergence the node is no longer the recorded one: its answers
            // to recorded replies would only bury the divergence under warnings.
            return Ok(replay.report);
        }
    }
    replay.check_nothing_pending();
    Ok(replay.report)
}

/// `run`'s replay mode: replays the record at `path`, the output to stdout; on a
/// divergence prints it to stderr and exits with status 1.
pub(crate) fn replay_main<H: Handler>(path: &Path, handler: H) -> io::Result<()> {
    let file = BufReader::new(File::open(path)?);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let report = replay_from(file, handler, &mut out)?;
    out.flush()?;
    drop(out);
    if report.truncated {
        eprintln!("the record's last line was cut short; it was skipped");
    }
    match &report.divergence {
        None => {
            log::info!(
                "replayed {} events; all {} output lines match the record",
                report.inputs,
                report.outputs_matched
            );
            Ok(())
        }
        Some(divergence) => {
            eprintln!("{divergence}");
            std::process::exit(1);
        }
    }
}

struct Replay<H: Handler> {
    node: Node<H>,
    /// Lines the node wrote that no recorded output line has been compared with yet, with
    /// the line number and time of the event that produced them.
    pending: VecDeque<(u64, Instant, String)>,
    report: ReplayReport,
}

impl<H: Handler> Replay<H> {
    fn step(&mut self, number: u64, event: Event, out: &mut dyn Write) -> io::Result<()> {
        let time = event.time();
        match event {
            Event::Output { line, .. } => {
                self.compare(number, time, line);
                return Ok(());
            }
            Event::Input { line, .. } => self.node.handle_line(time, &line),
            Event::Oversized {
                len, head, tail, ..
            } => {
                let line = Oversized {
                    len,
                    head: &head,
                    tail: &tail,
                };
                self.node.handle_oversized(time, &line);
            }
            Event::Timeout { .. } => self.node.handle_timeout(time),
        }
        // The output of earlier events follows them in the record: all of it is compared.
        self.check_nothing_pending();
        self.report.inputs += 1;
        out.write_all(self.node.output())?;
        let written = String::from_utf8_lossy(self.node.output()).into_owned();
        self.pending
            .extend(written.lines().map(|line| (number, time, line.to_owned())));
        self.node.clear_output();
        Ok(())
    }

    fn compare(&mut self, number: u64, time: Instant, recorded: String) {
        match self.pending.pop_front() {
            Some((_, _, replayed)) if replayed == recorded => self.report.outputs_matched += 1,
            other => self.diverged(Divergence {
                event: number,
                time,
                recorded: Some(recorded),
                replayed: other.map(|(_, _, line)| line),
            }),
        }
    }

    /// Lines still pending when the next event starts were written on replay only.
    fn check_nothing_pending(&mut self) {
        if let Some((event, time, replayed)) = self.pending.pop_front() {
            self.diverged(Divergence {
                event,
                time,
                recorded: None,
                replayed: Some(replayed),
            });
            self.pending.clear();
        }
    }

    fn diverged(&mut self, divergence: Divergence) {
        if self.report.divergence.is_none() {
            self.report.divergence = Some(divergence);
        }
    }
}

fn text_of(line: &[u8], number: u64) -> io::Result<&str> {
    std::str::from_utf8(line).map_err(|e| invalid(number, &e.to_string()))
}

fn invalid(number: u64, reason: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("record line {number}: {reason}"),
    )
}
