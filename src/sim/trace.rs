//! The run's record: every message delivered or dropped, and each node's input.
//!
//! [`Trace`] keeps two things, only when a cluster is built with tracing on:
//!
//! - one JSON line per message event, in the order they happened:
//!   `{"time_us":..,"sent_us":..,"event":"deliver"|"drop","src":..,"dest":..,"body":{..}}`,
//!   where `time_us` is when it was delivered or dropped, `sent_us` when its sender wrote it,
//!   and `body` the message's body exactly as it was written;
//! - per node, the lines it was handed, byte for byte and in order, so that
//!   `target/release/examples/NODE < input.jsonl` feeds the real binary the same input.
//!
//! Two runs with the same seed and handler code give byte-identical traces. This module only
//! records and writes; deciding what happened is the cluster's job.

use std::io::{self, Write};

use crate::message::Message;
use crate::time::Instant;

/// What happened to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TraceEvent {
    /// It reached its destination (a node, a service or a client).
    Deliver,
    /// It was lost to a partition or to the loss rate.
    Drop,
}

impl TraceEvent {
    fn name(self) -> &'static str {
        match self {
            TraceEvent::Deliver => "deliver",
            TraceEvent::Drop => "drop",
        }
    }
}

/// The recorded events and node inputs of one run.
#[derive(Debug)]
pub(crate) struct Trace {
    events: Vec<String>,
    inputs: Vec<Vec<String>>,
}

impl Trace {
    /// An empty trace for a cluster of `node_count` nodes.
    pub(crate) fn new(node_count: usize) -> Trace {
        Trace {
            events: Vec::new(),
            inputs: vec![Vec::new(); node_count],
        }
    }

    /// Records what happened at `time` to the message `line` (a complete message, as
    /// written by its sender at `sent`).
    pub(crate) fn record(&mut self, time: Instant, sent: Instant, event: TraceEvent, line: &str) {
        let entry = match Message::parse(line) {
            Ok(msg) => format!(
                r#"{{"time_us":{},"sent_us":{},"event":"{}","src":{},"dest":{},"body":{}}}"#,
                time.as_micros(),
                sent.as_micros(),
                event.name(),
                json_string(msg.src()),
                json_string(msg.dest()),
                msg.raw_body(),
            ),
            // Only well-formed messages are routed, so this is a broken invariant; keep the
            // line rather than lose it.
            Err(_) => format!(
                r#"{{"time_us":{},"sent_us":{},"event":"{}","raw":{}}}"#,
                time.as_micros(),
                sent.as_micros(),
                event.name(),
                json_string(line),
            ),
        };
        self.events.push(entry);
    }

    /// Records that node number `node` was handed `line`.
    pub(crate) fn record_input(&mut self, node: usize, line: &str) {
        self.inputs[node].push(line.to_owned());
    }

    /// The lines node number `node` was handed, in order.
    pub(crate) fn node_input(&self, node: usize) -> &[String] {
        &self.inputs[node]
    }

    /// Writes the event lines, each ending in `\n`.
    pub(crate) fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        for line in &self.events {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_json_lines_with_the_body_verbatim() {
        let mut trace = Trace::new(1);
        let line = r#"{"src":"n0","dest":"n\"1","body":{"type":"x","n":1.50}}"#;
        trace.record(
            Instant::from_micros(7),
            Instant::from_micros(3),
            TraceEvent::Drop,
            line,
        );
        trace.record_input(0, line);
        let mut out = Vec::new();
        trace.write(&mut out).unwrap();
        let expected = concat!(
            r#"{"time_us":7,"sent_us":3,"event":"drop","src":"n0","dest":"n\"1","body":{"type":"x","n":1.50}}"#,
            "\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert_eq!(trace.node_input(0), [line.to_owned()]);
    }
}
