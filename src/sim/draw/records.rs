//! A run drawn from node records (the format of [`crate::record`]): what each node of a real
//! Maelstrom run saw and wrote, put on one clock, each node-to-node message's send paired with
//! its delivery.
//!
//! A record's times count from its own node's start; its header's `start_unix_us` puts them on
//! the wall clock, and the earliest start becomes time 0. A line a node wrote is a send at its
//! time, a line it read a delivery at its time. A message between two recorded nodes has both
//! ends: its send is paired with the delivery that has the same `src`, `dest` and body
//! `msg_id` (the same whole body when it has no `msg_id`), first sent with first delivered. A
//! send to a recorded node that never arrived is drawn as dropped at its send time (the
//! network lost it, or the run ended first). A message to or from a client or a service has
//! one recorded end only, and is drawn at that end's time as an arrow of no duration.
//!
//! Records are read only through [`parse_header`] and [`parse_event`]; this module writes no
//! markup and reads no files.

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde_json::Value;

use super::model::{Message, Run, Source, Trace};
use crate::record::{parse_event, parse_header, Event};

/// One node's record, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRecord {
    /// When the node's time 0 was, microseconds since the Unix epoch.
    pub start_unix_us: u64,
    /// Its events, in order.
    pub events: Vec<Event>,
    /// Lines after the header that were not events.
    pub unreadable: usize,
}

impl NodeRecord {
    /// Reads a record's text: a header line, then event lines (unreadable ones counted).
    ///
    /// # Errors
    /// The reason, when the first line is not a record header.
    pub fn parse(text: &str) -> Result<NodeRecord, String> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = parse_header(lines.next().unwrap_or_default())?;
        let mut record = NodeRecord {
            start_unix_us: header.start_unix_us,
            events: Vec::new(),
            unreadable: 0,
        };
        for line in lines {
            match parse_event(line) {
                Ok(event) => record.events.push(event),
                Err(_) => record.unreadable += 1,
            }
        }
        Ok(record)
    }
}

/// One recorded end of a message: a line a node wrote or read, on the common clock.
struct End {
    time_us: u64,
    /// Record and event index, to keep each record's order among equal times.
    order: (usize, usize),
    src: String,
    dest: String,
    body: Value,
}

impl End {
    /// What pairs a send with its delivery: ids and `msg_id`, or ids and the whole body.
    fn key(&self) -> (String, String, String) {
        let id = match self.body["msg_id"].as_u64() {
            Some(msg_id) => msg_id.to_string(),
            None => self.body.to_string(), // object keys are sorted: one text per body
        };
        (self.src.clone(), self.dest.clone(), id)
    }

    fn message(&self, sent_us: u64, time_us: u64, dropped: bool) -> Message {
        let mut message = Message::of_body(&self.body, sent_us, time_us);
        message.src = self.src.clone();
        message.dest = self.dest.clone();
        message.dropped = dropped;
        message
    }
}

/// The messages of a run, from its nodes' records (see the module docs for the pairing).
/// Lines that are not events, or not messages, are counted in [`Trace::unreadable`].
pub fn trace_from_records(records: &[NodeRecord]) -> Trace {
    let base_us = records.iter().map(|r| r.start_unix_us).min().unwrap_or(0);
    let mut sends = Vec::new();
    let mut deliveries = Vec::new();
    let mut unreadable = records.iter().map(|r| r.unreadable).sum();
    for (r, record) in records.iter().enumerate() {
        let offset_us = record.start_unix_us - base_us;
        for (i, event) in record.events.iter().enumerate() {
            let (line, ends) = match event {
                Event::Output { line, .. } => (line.as_bytes(), &mut sends),
                Event::Input { line, .. } => (line.as_slice(), &mut deliveries),
                _ => continue, // timer turns and oversized lines carry no message
            };
            let time_us = offset_us + event.time().as_micros();
            match end(line, time_us, (r, i)) {
                Some(end) => ends.push(end),
                None => unreadable += 1,
            }
        }
    }
    let mut messages = pair(sends, deliveries);
    messages.sort_by_key(|(order, m)| (m.sent_us, *order));
    Trace {
        messages: messages.into_iter().map(|(_, m)| m).collect(),
        partitions: Vec::new(),
        unreadable,
    }
}

fn end(line: &[u8], time_us: u64, order: (usize, usize)) -> Option<End> {
    let mut value: Value = serde_json::from_slice(line).ok()?;
    Some(End {
        time_us,
        order,
        src: value["src"].as_str()?.to_owned(),
        dest: value["dest"].as_str()?.to_owned(),
        body: value.get_mut("body").map(Value::take)?,
    })
}

/// Pairs sends with deliveries; each message comes with the order of the end it is sorted by.
fn pair(mut sends: Vec<End>, mut deliveries: Vec<End>) -> Vec<((usize, usize), Message)> {
    // A node is recorded when a record shows it reading or writing.
    let recorded: BTreeSet<String> = sends
        .iter()
        .map(|e| e.src.clone())
        .chain(deliveries.iter().map(|e| e.dest.clone()))
        .collect();
    sends.sort_by_key(|e| (e.time_us, e.order));
    deliveries.sort_by_key(|e| (e.time_us, e.order));
    let mut messages = Vec::new();
    // Deliveries from recorded nodes wait for their send, first come first paired.
    let mut waiting: HashMap<(String, String, String), VecDeque<End>> = HashMap::new();
    for d in deliveries {
        if recorded.contains(&d.src) {
            waiting.entry(d.key()).or_default().push_back(d);
        } else {
            messages.push((d.order, d.message(d.time_us, d.time_us, false)));
        }
    }
    for s in sends {
        let message = if !recorded.contains(&s.dest) {
            s.message(s.time_us, s.time_us, false)
        } else {
            match waiting.get_mut(&s.key()).and_then(VecDeque::pop_front) {
                // Clocks of different processes may disagree by a little: never upward.
                Some(d) => s.message(s.time_us, d.time_us.max(s.time_us), false),
                None => s.message(s.time_us, s.time_us, true),
            }
        };
        messages.push((s.order, message));
    }
    // Deliveries whose send is not in the records (a record cut short) still show.
    let unpaired = waiting.into_values().flatten();
    messages.extend(unpaired.map(|d| (d.order, d.message(d.time_us, d.time_us, false))));
    messages
}

impl Run {
    /// A run known from its nodes' records (`name` says which): messages paired as
    /// [`trace_from_records`] does, client operations rebuilt from requests and replies;
    /// nothing checked.
    pub fn from_records(name: &str, records: &[NodeRecord]) -> Run {
        let trace = trace_from_records(records);
        let unpaired = trace.messages.iter().filter(|m| m.dropped).count();
        let mut run = Run::from_trace(name, trace);
        run.source = Source::Records;
        run.reasons = vec![
            format!(
                "recorded run, not checked: drawn from {} node records; {unpaired} \
                 node-to-node messages were sent and never delivered (drawn as dropped)",
                records.len()
            ),
            "messages to or from clients and services have one recorded end, and are drawn \
             at its time as short arrows"
                .to_owned(),
        ];
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(start_unix_us: u64, lines: &[&str]) -> NodeRecord {
        let header =
            format!(r#"{{"maelstrom_loop":"0","seed":1,"start_unix_us":{start_unix_us}}}"#);
        let text = std::iter::once(header.as_str())
            .chain(lines.iter().copied())
            .collect::<Vec<_>>()
            .join("\n");
        NodeRecord::parse(&text).expect("a record")
    }

    fn input(t: u64, src: &str, dest: &str, body: &str) -> String {
        let line = format!(r#"{{"id":7,"src":"{src}","dest":"{dest}","body":{body}}}"#);
        format!(r#"{{"t":{t},"in":{}}}"#, Value::String(line))
    }

    fn output(t: u64, src: &str, dest: &str, body: &str) -> String {
        format!(r#"{{"t":{t},"out":{{"src":"{src}","dest":"{dest}","body":{body}}}}}"#)
    }

    fn ends(m: &Message) -> (&str, &str, u64, u64, bool) {
        (&m.src, &m.dest, m.sent_us, m.time_us, m.dropped)
    }

    /// n0 started 1 ms before n1: times land on n0's clock. The gossip with a msg_id pairs by
    /// it, the two identical acks without one pair first with first (the body's key order
    /// does not matter), the lost one is dropped at its send, client messages have no length.
    #[test]
    fn sends_pair_with_deliveries_on_one_clock() {
        let n0 = record(
            1_000_000,
            &[
                &input(10, "c1", "n0", r#"{"type":"add","msg_id":1,"delta":2}"#),
                &output(20, "n0", "n1", r#"{"type":"gossip","msg_id":5,"v":2}"#),
                &output(30, "n0", "c1", r#"{"type":"add_ok","in_reply_to":1}"#),
                &output(40, "n0", "n1", r#"{"type":"lost","msg_id":6}"#),
                &input(3_000, "n1", "n0", r#"{"type":"ack","v":2}"#),
                &input(3_100, "n1", "n0", r#"{"v":2,"type":"ack"}"#),
                "{\"t\":3200,\"timeout\":true}",
                "not an event",
            ],
        );
        let n1 = record(
            1_001_000,
            &[
                &input(500, "n0", "n1", r#"{"type":"gossip","v":2,"msg_id":5}"#),
                &output(600, "n1", "n0", r#"{"type":"ack","v":2}"#),
                &output(700, "n1", "n0", r#"{"type":"ack","v":2}"#),
                &output(800, "n1", "seq-kv", r#"{"type":"read","msg_id":9}"#),
            ],
        );
        let trace = trace_from_records(&[n1.clone(), n0.clone()]);
        let got: Vec<_> = trace.messages.iter().map(ends).collect();
        assert_eq!(
            got,
            [
                ("c1", "n0", 10, 10, false),
                ("n0", "n1", 20, 1_500, false),
                ("n0", "c1", 30, 30, false),
                ("n0", "n1", 40, 40, true),
                ("n1", "n0", 1_600, 3_000, false),
                ("n1", "n0", 1_700, 3_100, false),
                ("n1", "seq-kv", 1_800, 1_800, false),
            ]
        );
        assert_eq!(trace.unreadable, 1);
        assert_eq!(trace.messages[1].kind, "gossip");

        let run = Run::from_records("recorded", &[n0, n1]);
        assert_eq!(run.source, Source::Records);
        assert_eq!(run.valid, None);
        assert_eq!(run.ops.len(), 1);
        let op = &run.ops[0];
        assert_eq!((op.process.as_str(), op.f.as_str()), ("c1", "add"));
        assert_eq!((op.start_us, op.end_us), (10, Some(30)));
    }

    /// A delivery seen before its send (the two processes' clocks disagree) is drawn at the
    /// send's time, never upward; a delivery whose send is missing still shows.
    #[test]
    fn skewed_and_unpaired_deliveries_still_go_down() {
        let n0 = record(0, &[&output(900, "n0", "n1", r#"{"type":"g","msg_id":1}"#)]);
        let n1 = record(
            0,
            &[
                &input(850, "n0", "n1", r#"{"type":"g","msg_id":1}"#),
                &input(950, "n0", "n1", r#"{"type":"g","msg_id":2}"#),
            ],
        );
        let trace = trace_from_records(&[n0, n1]);
        let got: Vec<_> = trace.messages.iter().map(ends).collect();
        assert_eq!(
            got,
            [("n0", "n1", 900, 900, false), ("n0", "n1", 950, 950, false)]
        );
    }

    #[test]
    fn a_record_needs_its_header() {
        assert!(NodeRecord::parse("{}\n").is_err());
        assert!(NodeRecord::parse("").is_err());
    }
}
