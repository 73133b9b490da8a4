//! The record of one node's run: what the core saw, in order, with its times, so that the run
//! can be replayed exactly ([`replay`](crate::replay())).
//!
//! A record is JSON lines. The first is a [`Header`]; every later line is one [`Event`], its
//! time `t` in microseconds since the node started (virtual time in the simulator):
//!
//! ```text
//! {"maelstrom_loop":"0.1.0","seed":8446917224,"start_unix_us":1764680000000000}
//! {"t":1520,"in":{"src":"c0","dest":"n1","body":{"type":"init",...}}}
//! {"t":1520,"out":{"src":"n1","dest":"c0","body":{"type":"init_ok","msg_id":1048576,"in_reply_to":1}}}
//! {"t":101544,"timeout":true}
//! {"t":101544,"out":{"src":"n1","dest":"n2","body":{"type":"gossip",...}}}
//! ```
//!
//! - `in`: an input line as received, without its newline. A line that is exactly one JSON
//!   object (nothing around it, strict JSON) is embedded as it is, and read back byte for
//!   byte (the reader takes the object's raw text); any other line is a JSON string
//!   (`"in":"not json"`), or `in_bytes`, an array of bytes, when it is not UTF-8;
//! - `oversized`: a line over the cap, with its length and the `head` and `tail` kept of it
//!   (see [`Oversized`]);
//! - `timeout`: a timer turn, [`Node::handle_timeout`](crate::Node::handle_timeout) called
//!   with `t` while something was due;
//! - `out`: a line the node wrote in answer to the event before it, embedded verbatim (the
//!   core only writes JSON objects), so a replay can compare it byte for byte.
//!
//! The mio driver writes a record when `MAELSTROM_RECORD` names a directory ([`RECORD_ENV`]);
//! the simulator writes one per node when its trace is on. This module owns the format, its
//! encoding into a buffer and its parsing; files are the driver's business.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::codec::{self, Oversized};
use crate::time::Instant;

mod json;

/// The environment variable naming a directory: each node started with it writes
/// `DIR/<node id>.jsonl` (named by process id until `init`).
pub const RECORD_ENV: &str = "MAELSTROM_RECORD";

/// The environment variable naming a record to replay instead of reading stdin.
pub const REPLAY_ENV: &str = "MAELSTROM_REPLAY";

/// The first line of a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The version of maelstrom-loop that wrote it.
    pub maelstrom_loop: String,
    /// The seed of the node's [`Ctx::rng`](crate::Ctx::rng).
    pub seed: u64,
    /// When time 0 was, in microseconds since the Unix epoch (0 in the simulator).
    pub start_unix_us: u64,
}

/// One line of a record after the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An input line, without its newline.
    Input {
        /// When it was handed to the core.
        time: Instant,
        /// The line's bytes.
        line: Vec<u8>,
    },
    /// A line over the length cap, dropped.
    Oversized {
        /// When it was handed to the core.
        time: Instant,
        /// Its length in bytes.
        len: usize,
        /// Its first bytes, as kept.
        head: Vec<u8>,
        /// Its last bytes, as kept.
        tail: Vec<u8>,
    },
    /// A timer turn.
    Timeout {
        /// The time passed to `handle_timeout`.
        time: Instant,
    },
    /// A line the node wrote, without its newline.
    Output {
        /// The time of the event that produced it.
        time: Instant,
        /// The line, exactly as written.
        line: String,
    },
}

impl Event {
    /// When it happened.
    pub fn time(&self) -> Instant {
        match self {
            Event::Input { time, .. }
            | Event::Oversized { time, .. }
            | Event::Timeout { time }
            | Event::Output { time, .. } => *time,
        }
    }
}

/// Parses a record's first line.
///
/// # Errors
/// The reason, when the line is not a header.
pub fn parse_header(line: &str) -> Result<Header, String> {
    serde_json::from_str(line).map_err(|e| format!("not a record header: {e}"))
}

/// The fields an event line may have; which ones are present says what it is.
#[derive(Deserialize)]
struct EventLine<'a> {
    t: u64,
    #[serde(borrow, rename = "in")]
    input: Option<&'a RawValue>,
    in_bytes: Option<Vec<u8>>,
    oversized: Option<usize>,
    #[serde(borrow)]
    head: Option<Cow<'a, str>>,
    head_bytes: Option<Vec<u8>>,
    #[serde(borrow)]
    tail: Option<Cow<'a, str>>,
    tail_bytes: Option<Vec<u8>>,
    timeout: Option<bool>,
    #[serde(borrow)]
    out: Option<&'a RawValue>,
}

/// Parses one event line.
///
/// # Errors
/// The reason, when the line is not an event.
pub fn parse_event(line: &str) -> Result<Event, String> {
    let e: EventLine<'_> = serde_json::from_str(line).map_err(|e| format!("not an event: {e}"))?;
    let time = Instant::from_micros(e.t);
    let bytes = |text: Option<Cow<'_, str>>, raw: Option<Vec<u8>>| {
        text.map(|t| t.into_owned().into_bytes()).or(raw)
    };
    if let Some(out) = e.out {
        return Ok(Event::Output {
            time,
            line: out.get().to_owned(),
        });
    }
    if let Some(len) = e.oversized {
        return Ok(Event::Oversized {
            time,
            len,
            head: bytes(e.head, e.head_bytes).unwrap_or_default(),
            tail: bytes(e.tail, e.tail_bytes).unwrap_or_default(),
        });
    }
    if e.timeout == Some(true) {
        return Ok(Event::Timeout { time });
    }
    let input = e.input.map(input_line).transpose()?;
    match input.or(e.in_bytes) {
        Some(line) => Ok(Event::Input { time, line }),
        None => Err("an event with none of in, oversized, timeout or out".into()),
    }
}

/// An input line from its field: an object is the line itself, a string holds the line.
fn input_line(raw: &RawValue) -> Result<Vec<u8>, String> {
    let text = raw.get();
    if text.starts_with('{') {
        return Ok(text.as_bytes().to_vec());
    }
    serde_json::from_str::<String>(text)
        .map(String::into_bytes)
        .map_err(|e| format!("\"in\" is neither an object nor a string: {e}"))
}

/// Encodes a record into a buffer; the caller decides where the bytes go and when.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    buf: Vec<u8>,
    /// The last event's time, and its decimal digits.
    time: Instant,
    time_digits: Vec<u8>,
}

impl Recorder {
    /// A record that starts with its header.
    pub(crate) fn new(seed: u64, start_unix_us: u64) -> Recorder {
        let header = Header {
            maelstrom_loop: env!("CARGO_PKG_VERSION").to_owned(),
            seed,
            start_unix_us,
        };
        let mut buf = Vec::with_capacity(64 << 10);
        // A struct of a string and integers always serialises.
        let _ = serde_json::to_writer(&mut buf, &header);
        buf.push(b'\n');
        Recorder {
            buf,
            time: Instant::ZERO,
            time_digits: Vec::new(),
        }
    }

    /// The bytes encoded and not yet taken.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets the bytes (after they were written).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }

    /// An input line: embedded as it is when it is a JSON object, else as a string.
    pub(crate) fn input(&mut self, time: Instant, line: &[u8]) {
        self.open(time);
        if json::is_object(line) {
            self.buf.extend_from_slice(b"\"in\":");
            self.buf.extend_from_slice(line);
        } else {
            self.bytes_field(b"in", line);
        }
        self.buf.extend_from_slice(b"}\n");
    }

    /// A line over the cap.
    pub(crate) fn oversized(&mut self, time: Instant, line: &Oversized<'_>) {
        self.open(time);
        self.buf.extend_from_slice(b"\"oversized\":");
        codec::write_u64(&mut self.buf, line.len as u64);
        self.buf.push(b',');
        self.bytes_field(b"head", line.head);
        self.buf.push(b',');
        self.bytes_field(b"tail", line.tail);
        self.buf.extend_from_slice(b"}\n");
    }

    /// A timer turn.
    pub(crate) fn timeout(&mut self, time: Instant) {
        self.open(time);
        self.buf.extend_from_slice(b"\"timeout\":true}\n");
    }

    /// Every line of `output` (complete lines, each ending in `\n`), as produced at `time`.
    pub(crate) fn outputs(&mut self, time: Instant, mut output: &[u8]) {
        while !output.is_empty() {
            let end = memchr::memchr(b'\n', output).unwrap_or(output.len());
            if end > 0 {
                self.open(time);
                self.buf.extend_from_slice(b"\"out\":");
                self.buf.extend_from_slice(&output[..end]);
                self.buf.extend_from_slice(b"}\n");
            }
            output = output.get(end + 1..).unwrap_or_default();
        }
    }

    /// Starts an event line: `{"t":<time>,`. The time's digits are kept, because the
    /// driver hands many events the same time.
    fn open(&mut self, time: Instant) {
        if time != self.time || self.time_digits.is_empty() {
            self.time = time;
            self.time_digits.clear();
            codec::write_u64(&mut self.time_digits, time.as_micros());
        }
        self.buf.extend_from_slice(b"{\"t\":");
        self.buf.extend_from_slice(&self.time_digits);
        self.buf.push(b',');
    }

    /// `"key":"text"` when `bytes` is UTF-8, else `"key_bytes":[..]`.
    fn bytes_field(&mut self, key: &[u8], bytes: &[u8]) {
        self.buf.push(b'"');
        self.buf.extend_from_slice(key);
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                self.buf.extend_from_slice(b"\":");
                // Writing a string into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut self.buf, text);
            }
            Err(_) => {
                self.buf.extend_from_slice(b"_bytes\":");
                let _ = serde_json::to_writer(&mut self.buf, bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of event survives encoding and parsing, bytes included.
    /// An input line that is one JSON object is embedded raw, any other as a string; both
    /// come back byte for byte.
    #[test]
    fn inputs_are_raw_when_they_are_objects_and_come_back_exactly() {
        let lines: [(&str, bool); 7] = [
            (
                r#"{"src":"c1","body":{"type":"x","n":1.50,"s":"\u00e9\/"}}"#,
                true,
            ),
            ("{ \"a\" :\t[ 1 , true ] }", true),
            (r#" {"a":1}"#, false),
            (r#"{"a":1} "#, false),
            (r#"{"a":01}"#, false),
            (r#"[1,2]"#, false),
            ("not json \"at all\"", false),
        ];
        for (line, raw) in lines {
            let mut rec = Recorder::new(1, 0);
            rec.clear();
            rec.input(Instant::from_micros(3), line.as_bytes());
            let text = std::str::from_utf8(rec.bytes()).unwrap();
            let embedded = text.starts_with(&format!("{{\"t\":3,\"in\":{line}}}"));
            assert_eq!(embedded, raw, "{text}");
            let event = parse_event(text.trim_end()).unwrap();
            let expected = Event::Input {
                time: Instant::from_micros(3),
                line: line.as_bytes().to_vec(),
            };
            assert_eq!(event, expected, "{text}");
        }
    }

    #[test]
    fn events_round_trip_through_their_lines() {
        let mut rec = Recorder::new(42, 7);
        let t = Instant::from_micros(1_500);
        rec.input(t, br#"{"src":"c1","body":{"a":"\"q\""}}"#);
        rec.input(t, &[b'{', 0xff, b'}']);
        let head = br#"{"src":"c1""#;
        rec.oversized(
            t,
            &Oversized {
                len: 99,
                head,
                tail: &[0xfe, b'}'],
            },
        );
        rec.timeout(Instant::from_micros(2_000));
        rec.outputs(t, b"{\"src\":\"n1\",\"body\":{}}\n{\"x\":1.50}\n");
        let text = String::from_utf8(rec.bytes().to_vec()).unwrap();
        let mut lines = text.lines();
        let header = parse_header(lines.next().unwrap()).unwrap();
        assert_eq!((header.seed, header.start_unix_us), (42, 7));
        assert_eq!(header.maelstrom_loop, env!("CARGO_PKG_VERSION"));
        let events: Vec<Event> = lines.map(|l| parse_event(l).unwrap()).collect();
        let expected = [
            Event::Input {
                time: t,
                line: br#"{"src":"c1","body":{"a":"\"q\""}}"#.to_vec(),
            },
            Event::Input {
                time: t,
                line: vec![b'{', 0xff, b'}'],
            },
            Event::Oversized {
                time: t,
                len: 99,
                head: head.to_vec(),
                tail: vec![0xfe, b'}'],
            },
            Event::Timeout {
                time: Instant::from_micros(2_000),
            },
            Event::Output {
                time: t,
                line: r#"{"src":"n1","body":{}}"#.into(),
            },
            Event::Output {
                time: t,
                line: r#"{"x":1.50}"#.into(),
            },
        ];
        assert_eq!(events, expected);
        assert!(text.contains(r#"{"t":1500,"in":{"src":"c1","body":{"a":"\"q\""}}}"#));
        assert!(parse_event(r#"{"t":1}"#).is_err());
        assert!(parse_event(r#"{"t":1,"in":[1]}"#).is_err());
        assert!(parse_header(r#"{"t":1,"in":"x"}"#).is_err());
    }
}
