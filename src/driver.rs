//! The mio driver: runs a [`Node`] on stdin and stdout with the real clock.
//!
//! This is the only module that touches file descriptors or the system clock. Each turn of
//! the loop reads stdin until it would block, hands every complete line to the node, fires
//! due timers, writes all output in one go, then waits in `Poll` until stdin is readable or
//! the node's next deadline. Output is also written mid-turn once it passes
//! [`FLUSH_THRESHOLD_BYTES`], so memory stays bounded however fast input arrives.
//!
//! When stdin cannot be polled (a regular file, `/dev/null`, a terminal), the driver falls back
//! to blocking reads, so `node < trace.jsonl` replays a recorded session; timers then fire
//! only between reads. At end of input the last unterminated line is handled, the output is
//! flushed, and [`run`] returns.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;

use mio::unix::pipe::Receiver;
use mio::{Events, Interest, Poll, Token};

use crate::codec::{Frame, LineReader};
use crate::handler::Handler;
use crate::logging;
use crate::node::Node;
use crate::time::Instant;

/// Output is written as soon as it passes this many bytes, even mid-turn: large enough to
/// batch, below the 64 KiB pipe buffer so a write does not stall on a full pipe.
pub const FLUSH_THRESHOLD_BYTES: usize = 32 << 10;

const STDIN: Token = Token(0);

/// Runs `handler` as a Maelstrom node on stdin/stdout until stdin closes, logging to stderr
/// at the level in `MAELSTROM_LOG` (see [`init_logging`](crate::init_logging)).
///
/// # Errors
/// Only I/O failures of stdin, stdout or the poller (such as stdout closed by Maelstrom).
/// Bad input is handled inside the node and never ends the loop.
pub fn run<H: Handler>(handler: H) -> io::Result<()> {
    logging::init_logging();
    log::info!("maelstrom-loop {} node starting", env!("CARGO_PKG_VERSION"));
    let stdin = io::stdin().as_fd().try_clone_to_owned()?;
    let stdout = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let mut driver = Driver {
        node: Node::new(handler),
        reader: LineReader::new(H::MAX_LINE_BYTES),
        stdout,
        epoch: std::time::Instant::now(),
        hung_up: false,
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

struct Driver<H: Handler> {
    node: Node<H>,
    reader: LineReader,
    stdout: File,
    epoch: std::time::Instant,
    /// The poller reported the writer gone: no further edge will come, so read to EOF.
    hung_up: bool,
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
            self.node.handle_timeout(self.now());
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
            self.node.handle_timeout(self.now());
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
            match frame {
                Frame::Line(line) => self.node.handle_line(now, line),
                Frame::Oversized(line) => self.node.handle_oversized(now, &line),
            }
            if self.node.output().len() >= FLUSH_THRESHOLD_BYTES {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// End of input: the last unterminated line, due timers, then everything written.
    fn finish(&mut self) -> io::Result<()> {
        let now = self.now();
        match self.reader.finish() {
            Some(Frame::Line(line)) => self.node.handle_line(now, line),
            Some(Frame::Oversized(line)) => self.node.handle_oversized(now, &line),
            None => {}
        }
        self.node.handle_timeout(now);
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
        Ok(())
    }
}
