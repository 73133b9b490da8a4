//! What a page is drawn from: a run's messages, partitions and operations, read from the
//! simulator's trace (and its history and checker result, when the run was simulated here).
//!
//! This module parses and gathers; it computes no geometry and writes no markup. Lines it
//! cannot read are counted, never fatal: a trace may come from a node under test.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::sim::history::{History, OpKind};
use crate::sim::report::Report;

/// Longest excerpt of a message body kept for the page's hover text.
const BODY_EXCERPT_CHARS: usize = 120;

/// One message: sent at `sent_us`, delivered (or dropped) at `time_us`.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Sender id.
    pub src: String,
    /// Destination id.
    pub dest: String,
    /// When the sender wrote it, virtual microseconds; `time_us` when the trace has no
    /// `sent_us` (an older trace).
    pub sent_us: u64,
    /// When it was delivered or dropped.
    pub time_us: u64,
    /// True when it was lost (a partition, or the loss rate).
    pub dropped: bool,
    /// The body's `type`, or `?`.
    pub kind: String,
    /// The body's `msg_id`, if any.
    pub msg_id: Option<u64>,
    /// The body's `in_reply_to`, if any.
    pub in_reply_to: Option<u64>,
    /// The start of the body's JSON text, for hover text.
    pub excerpt: String,
}

/// A partition the nemesis held from `start_us` to `end_us` (`None`: until the run ended).
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// When it began.
    pub start_us: u64,
    /// When it was healed, if it was.
    pub end_us: Option<u64>,
    /// The nemesis's name for its shape (`majorities-ring`, ...), when it gave one.
    pub shape: Option<String>,
    /// Receiving node -> the nodes whose messages it drops.
    pub grudge: BTreeMap<String, Vec<String>>,
}

/// The messages and partitions of a trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Every message event, in trace order.
    pub messages: Vec<Message>,
    /// Every partition, in order.
    pub partitions: Vec<Partition>,
    /// Lines that were neither a message nor a nemesis event.
    pub unreadable: usize,
}

impl Trace {
    /// Reads a trace in the simulator's JSON-lines format.
    pub fn parse(text: &str) -> Trace {
        let mut trace = Trace::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            trace.add_line(line);
        }
        trace
    }

    /// Reads one trace line: a message event or a nemesis event.
    pub fn add_line(&mut self, line: &str) {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            self.unreadable += 1;
            return;
        };
        let time_us = value["time_us"].as_u64();
        match (value["event"].as_str(), time_us) {
            (Some("deliver" | "drop"), Some(time_us)) => match message(&value, time_us) {
                Some(message) => self.messages.push(message),
                None => self.unreadable += 1,
            },
            (Some("nemesis"), Some(time_us)) => self.add_nemesis(&value, time_us),
            _ => self.unreadable += 1,
        }
    }

    fn add_nemesis(&mut self, value: &Value, time_us: u64) {
        let open = self.partitions.last_mut().filter(|p| p.end_us.is_none());
        match (value["action"].as_str(), open) {
            (Some("start-partition"), open) => {
                if let Some(open) = open {
                    open.end_us = Some(time_us); // a new partition replaces the old one
                }
                self.partitions.push(Partition {
                    start_us: time_us,
                    end_us: None,
                    shape: value["shape"].as_str().map(str::to_owned),
                    grudge: grudge(&value["grudge"]),
                });
            }
            (Some("stop-partition"), Some(open)) => open.end_us = Some(time_us),
            (Some("stop-partition"), None) => {} // a heal with nothing to heal
            _ => self.unreadable += 1,
        }
    }

    /// The time of the last event, microseconds.
    pub fn end_us(&self) -> u64 {
        let last_message = self.messages.iter().map(|m| m.time_us).max();
        let last_nemesis = self
            .partitions
            .iter()
            .map(|p| p.end_us.unwrap_or(p.start_us))
            .max();
        last_message.max(last_nemesis).unwrap_or(0)
    }
}

fn message(value: &Value, time_us: u64) -> Option<Message> {
    let sent_us = value["sent_us"].as_u64().unwrap_or(time_us);
    let mut message = Message::of_body(&value["body"], sent_us, time_us);
    message.src = value["src"].as_str()?.to_owned();
    message.dest = value["dest"].as_str()?.to_owned();
    message.dropped = value["event"] == "drop";
    Some(message)
}

impl Message {
    /// A delivered message with `body`, its `src` and `dest` left empty for the caller; sent
    /// at `sent_us` (no later than `time_us`).
    pub(crate) fn of_body(body: &Value, sent_us: u64, time_us: u64) -> Message {
        let mut excerpt = body.to_string();
        if let Some((cut, _)) = excerpt.char_indices().nth(BODY_EXCERPT_CHARS) {
            excerpt.truncate(cut);
            excerpt.push_str("...");
        }
        Message {
            src: String::new(),
            dest: String::new(),
            sent_us: sent_us.min(time_us),
            time_us,
            dropped: false,
            kind: body["type"].as_str().unwrap_or("?").to_owned(),
            msg_id: body["msg_id"].as_u64(),
            in_reply_to: body["in_reply_to"].as_u64(),
            excerpt,
        }
    }
}

fn grudge(value: &Value) -> BTreeMap<String, Vec<String>> {
    let Some(map) = value.as_object() else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(node, from)| {
            let from = from.as_array().into_iter().flatten();
            let from = from.filter_map(|f| f.as_str().map(str::to_owned)).collect();
            (node.clone(), from)
        })
        .collect()
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It took effect.
    Ok,
    /// It definitely did not.
    Fail,
    /// Unknown: it timed out, failed indefinitely, or the run ended first.
    Info,
}

/// One client operation, invocation to completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Its number: the history index of its invocation, or its order in the trace.
    pub id: usize,
    /// The client process (or client id) that ran it.
    pub process: String,
    /// Its name (`read`, `broadcast`, ...).
    pub f: String,
    /// The node it was sent to.
    pub node: String,
    /// Invocation time.
    pub start_us: u64,
    /// Completion time; `None` when it never completed.
    pub end_us: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
    /// The request value and, when ok, the result, shortened.
    pub text: String,
    /// True when the checker named it among its anomalies.
    pub failing: bool,
}

/// Everything a page shows about one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The run's name (a challenge like `3c`, or a directory name).
    pub name: String,
    /// The seed, when known.
    pub seed: Option<u64>,
    /// Valid, invalid, or not checked (`None`).
    pub valid: Option<bool>,
    /// The verdict's reasons: checker summary, anomalies, protocol errors, missed goals.
    pub reasons: Vec<String>,
    /// Summary figures (ops, msgs/op, latency), one line.
    pub figures: String,
    /// The command that reruns it, when known.
    pub command: Option<String>,
    /// Messages and partitions.
    pub trace: Trace,
    /// Client operations in invocation order.
    pub ops: Vec<Operation>,
    /// What the latency chart plots, when not each operation's own latency: for broadcast,
    /// (invocation, microseconds until stable) per value, as Maelstrom measures it.
    pub stable_latencies_us: Option<Vec<(u64, u64)>>,
    /// Where the run was read from.
    pub source: Source,
}

/// Where a [`Run`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A run simulated here, with its history and checker result.
    Simulated,
    /// The simulator's trace alone.
    Trace,
    /// Node records (of a real Maelstrom run, say): no verdict, one clock rebuilt.
    Records,
}

impl Run {
    /// A simulated run: its report (with a trace) and the command that reruns it.
    pub fn from_report(report: &Report, command: Option<String>) -> Run {
        let text = report
            .trace
            .as_ref()
            .map(|t| String::from_utf8_lossy(&t.messages).into_owned())
            .unwrap_or_default();
        let mut reasons = vec![format!(
            "checker: {:?}: {}",
            report.check.validity, report.check.summary
        )];
        reasons.extend(report.check.anomalies.iter().map(ToString::to_string));
        let protocol = report.protocol_errors.iter().take(20);
        reasons.extend(protocol.map(|e| format!("protocol: {e}")));
        reasons.extend(report.goals_missed.iter().map(|g| format!("goal: {g}")));
        let ms = |us: u64| us as f64 / 1000.0;
        let figures = format!(
            "ops {} ok / {} fail / {} info; {:.2} msgs/op; latency p50 {:.1} ms, p99 {:.1} ms, \
             max {:.1} ms",
            report.ops_ok,
            report.ops_fail,
            report.ops_info,
            report.msgs_per_op,
            ms(report.latency_us_p50),
            ms(report.latency_us_p99),
            ms(report.latency_us_max)
        );
        Run {
            name: report.challenge.clone(),
            seed: Some(report.seed),
            valid: Some(report.is_valid()),
            reasons,
            figures,
            command,
            trace: Trace::parse(&text),
            ops: operations_from_history(&report.history, &report.check.ops),
            stable_latencies_us: stable_latencies_us(&report.history),
            source: Source::Simulated,
        }
    }

    /// A run known only from its trace: operations are rebuilt from the client messages
    /// (a request to a node, answered by a message with its `in_reply_to`); nothing is
    /// checked.
    pub fn from_trace(name: &str, trace: Trace) -> Run {
        let ops = operations_from_messages(&trace.messages);
        let figures = format!(
            "{} messages, {} client operations",
            trace.messages.len(),
            ops.len()
        );
        Run {
            name: name.to_owned(),
            seed: None,
            valid: None,
            reasons: vec!["not checked: drawn from a trace".to_owned()],
            figures,
            command: None,
            trace,
            ops,
            stable_latencies_us: None,
            source: Source::Trace,
        }
    }

    /// The run's end: its last message, partition change or operation.
    pub fn end_us(&self) -> u64 {
        let ops = self.ops.iter().map(|o| o.end_us.unwrap_or(o.start_us));
        ops.max().unwrap_or(0).max(self.trace.end_us())
    }
}

/// For a broadcast history, each value's stable latency (see [`Run::stable_latencies_us`]).
fn stable_latencies_us(history: &History) -> Option<Vec<(u64, u64)>> {
    let broadcast = history.ops.iter().any(|op| op.f == "broadcast");
    broadcast.then(|| {
        let latencies = crate::sim::report::stable_latencies(history).into_iter();
        latencies.map(|(at, us)| (at.as_micros(), us)).collect()
    })
}

/// The history's operations; those whose invocation index is in `failing` are marked.
fn operations_from_history(history: &History, failing: &[usize]) -> Vec<Operation> {
    let short = |v: &Value| crate::sim::check::short_json(v);
    history
        .pairs()
        .into_iter()
        .map(|(invoke, done)| {
            let op = &history.ops[invoke];
            let done = done.map(|i| &history.ops[i]);
            let outcome = match done.map(|d| d.kind) {
                Some(OpKind::Ok) => Outcome::Ok,
                Some(OpKind::Fail) => Outcome::Fail,
                _ => Outcome::Info,
            };
            let mut text = format!("{} {}", op.f, short(&op.value));
            if let Some(d) = done.filter(|_| outcome == Outcome::Ok) {
                text.push_str(&format!(" -> {}", short(&d.value)));
            }
            Operation {
                id: invoke,
                process: format!("p{}", op.process),
                f: op.f.clone(),
                node: op.node.clone(),
                start_us: op.time.as_micros(),
                end_us: done.map(|d| d.time.as_micros()),
                outcome,
                text,
                failing: failing.contains(&invoke),
            }
        })
        .collect()
}

/// Client requests paired with their answers, from a trace alone.
fn operations_from_messages(messages: &[Message]) -> Vec<Operation> {
    let mut ops = Vec::new();
    // (client, msg_id) -> index in `ops`
    let mut open: HashMap<(String, u64), usize> = HashMap::new();
    for m in messages.iter().filter(|m| !m.dropped) {
        if is_client(&m.src) {
            let Some(msg_id) = m.msg_id else {
                continue;
            };
            open.insert((m.src.clone(), msg_id), ops.len());
            ops.push(Operation {
                id: ops.len(),
                process: m.src.clone(),
                f: m.kind.clone(),
                node: m.dest.clone(),
                start_us: m.sent_us,
                end_us: None,
                outcome: Outcome::Info,
                text: m.excerpt.clone(),
                failing: false,
            });
        } else if is_client(&m.dest) {
            let Some(reply_to) = m.in_reply_to else {
                continue;
            };
            if let Some(index) = open.remove(&(m.dest.clone(), reply_to)) {
                let op: &mut Operation = &mut ops[index];
                op.end_us = Some(m.time_us);
                op.outcome = if m.kind == "error" {
                    Outcome::Fail
                } else {
                    Outcome::Ok
                };
                op.text = format!("{} -> {}", op.text, m.excerpt);
            }
        }
    }
    ops
}

/// Workload clients are `c1`, `c2`, ... (`c0` sends `init`).
pub(crate) fn is_client(id: &str) -> bool {
    id.strip_prefix('c')
        .is_some_and(|n| n != "0" && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages, drops and the agreed nemesis events (start with shape and grudge, stop).
    #[test]
    fn trace_lines_become_messages_and_partitions() {
        let text = concat!(
            r#"{"time_us":100,"sent_us":100,"event":"deliver","src":"c1","dest":"n0","body":{"type":"broadcast","msg_id":1,"message":7}}"#,
            "\n",
            r#"{"time_us":150,"event":"nemesis","action":"start-partition","shape":"majorities-ring","grudge":{"n1":["n0"],"n0":["n2"]}}"#,
            "\n",
            r#"{"time_us":300,"sent_us":200,"event":"drop","src":"n0","dest":"n1","body":{"type":"gossip"}}"#,
            "\n",
            r#"{"time_us":320,"sent_us":300,"event":"deliver","src":"n0","dest":"c1","body":{"type":"broadcast_ok","in_reply_to":1}}"#,
            "\nnot json\n",
            r#"{"time_us":900,"event":"nemesis","action":"stop-partition"}"#,
        );
        let trace = Trace::parse(text);
        assert_eq!(trace.messages.len(), 3);
        assert_eq!(trace.unreadable, 1);
        let drop = &trace.messages[1];
        assert!(drop.dropped && drop.sent_us == 200 && drop.time_us == 300);
        assert_eq!(drop.kind, "gossip");
        assert_eq!(trace.partitions.len(), 1);
        let p = &trace.partitions[0];
        assert_eq!((p.start_us, p.end_us), (150, Some(900)));
        assert_eq!(p.shape.as_deref(), Some("majorities-ring"));
        assert_eq!(p.grudge["n1"], ["n0"]);
        assert_eq!(trace.end_us(), 900);

        let run = Run::from_trace("t", trace);
        assert_eq!(run.ops.len(), 1);
        let op = &run.ops[0];
        assert_eq!((op.f.as_str(), op.node.as_str()), ("broadcast", "n0"));
        assert_eq!(
            (op.start_us, op.end_us, op.outcome),
            (100, Some(320), Outcome::Ok)
        );
    }

    #[test]
    fn client_ids_are_c_and_a_number() {
        assert!(is_client("c1") && is_client("c120"));
        assert!(!is_client("c0x") && !is_client("c") && !is_client("n1") && !is_client("c0"));
    }
}
