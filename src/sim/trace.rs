//! The run's trace: every message delivered or dropped, and each node's record.
//!
//! [`Trace`] keeps two things, only when a cluster is built with tracing on:
//!
//! - one JSON line per message event, in the order they happened:
//!   `{"time_us":..,"sent_us":..,"event":"deliver"|"drop","src":..,"dest":..,"body":{..}}`,
//!   where `time_us` is when it was delivered or dropped, `sent_us` when its sender wrote it,
//!   and `body` the message's body exactly as it was written, and one per nemesis operation:
//!   `{"time_us":..,"event":"nemesis","action":"start-partition","shape":..,"grudge":{..}}`
//!   (the grudge maps a receiving node to the nodes whose messages it drops) and
//!   `{"time_us":..,"event":"nemesis","action":"stop-partition"}`;
//! - per node, its record in the format of [`crate::record`], the same a real node writes
//!   under `MAELSTROM_RECORD`: its seed, every line it was handed, every timer turn and every
//!   line it wrote, at virtual times, so that `MAELSTROM_REPLAY=n0.jsonl
//!   target/release/examples/NODE` replays the node exactly.
//!
//! Two runs with the same seed and handler code give byte-identical traces. This module only
//! records and writes; deciding what happened is the cluster's job.

use std::io::{self, Write};

use crate::message::Message;
use crate::record::Recorder;
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

/// The recorded events and node records of one run.
#[derive(Debug)]
pub(crate) struct Trace {
    events: Vec<String>,
    records: Vec<Recorder>,
}

impl Trace {
    /// An empty trace for a cluster whose nodes have these seeds (for `Ctx::rng`).
    pub(crate) fn new(node_seeds: impl IntoIterator<Item = u64>) -> Trace {
        Trace {
            events: Vec::new(),
            records: node_seeds
                .into_iter()
                .map(|seed| Recorder::new(seed, 0))
                .collect(),
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

    /// Records a nemesis operation at `time`: `action` (`start-partition`, `stop-partition`)
    /// and, for a start, the shape's name and the grudge as a JSON object.
    pub(crate) fn record_nemesis(
        &mut self,
        time: Instant,
        action: &str,
        partition: Option<(&str, &serde_json::Value)>,
    ) {
        let mut entry = format!(
            r#"{{"time_us":{},"event":"nemesis","action":{}"#,
            time.as_micros(),
            json_string(action)
        );
        if let Some((shape, grudge)) = partition {
            entry.push_str(&format!(
                r#","shape":{},"grudge":{grudge}"#,
                json_string(shape)
            ));
        }
        entry.push('}');
        self.events.push(entry);
    }

    /// Records that node number `node` was handed `line` at `time`.
    pub(crate) fn record_input(&mut self, node: usize, time: Instant, line: &str) {
        self.records[node].input(time, line.as_bytes());
    }

    /// Records a timer turn of node number `node` at `time`.
    pub(crate) fn record_timeout(&mut self, node: usize, time: Instant) {
        self.records[node].timeout(time);
    }

    /// Records the lines node number `node` wrote at `time`.
    pub(crate) fn record_output(&mut self, node: usize, time: Instant, output: &[u8]) {
        self.records[node].outputs(time, output);
    }

    /// Node number `node`'s record so far: JSON lines, each ending in `\n`.
    pub(crate) fn node_record(&self, node: usize) -> &[u8] {
        self.records[node].bytes()
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
        let mut trace = Trace::new([5]);
        let line = r#"{"src":"n0","dest":"n\"1","body":{"type":"x","n":1.50}}"#;
        trace.record(
            Instant::from_micros(7),
            Instant::from_micros(3),
            TraceEvent::Drop,
            line,
        );
        let mut out = Vec::new();
        trace.write(&mut out).unwrap();
        let expected = concat!(
            r#"{"time_us":7,"sent_us":3,"event":"drop","src":"n0","dest":"n\"1","body":{"type":"x","n":1.50}}"#,
            "\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn node_records_are_in_the_record_format() {
        let mut trace = Trace::new([5, 6]);
        let t = Instant::from_micros(9);
        trace.record_input(1, t, r#"{"src":"c1"}"#);
        trace.record_output(1, t, b"{\"src\":\"n1\"}\n");
        trace.record_timeout(1, Instant::from_micros(10));
        let text = String::from_utf8(trace.node_record(1).to_vec()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(crate::record::parse_header(lines[0]).unwrap().seed, 6);
        assert_eq!(
            lines[1..],
            [
                r#"{"t":9,"in":{"src":"c1"}}"#,
                r#"{"t":9,"out":{"src":"n1"}}"#,
                r#"{"t":10,"timeout":true}"#
            ]
        );
    }

    #[test]
    fn nemesis_events_use_the_agreed_format() {
        let mut trace = Trace::new([1, 2, 3]);
        let grudge = serde_json::json!({"n1": ["n0"], "n0": ["n2"], "n2": ["n1"]});
        let start = Some(("majorities-ring", &grudge));
        trace.record_nemesis(Instant::from_micros(5), "start-partition", start);
        trace.record_nemesis(Instant::from_micros(9), "stop-partition", None);
        let mut out = Vec::new();
        trace.write(&mut out).unwrap();
        let expected = concat!(
            r#"{"time_us":5,"event":"nemesis","action":"start-partition","#,
            r#""shape":"majorities-ring","grudge":{"n0":["n2"],"n1":["n0"],"n2":["n1"]}}"#,
            "\n",
            r#"{"time_us":9,"event":"nemesis","action":"stop-partition"}"#,
            "\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
