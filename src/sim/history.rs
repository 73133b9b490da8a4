//! The history of a simulated test: every client operation's invocation and completion, in
//! virtual-time order, as the checkers in [`crate::sim::check`] read it.
//!
//! This module owns the data model only (modelled on Jepsen's histories: one client process has
//! at most one operation in flight, and a process whose operation ended indeterminate is
//! replaced by a new process id). It does not run clients or judge results; values are kept
//! as raw JSON because they come from nodes under test and may be malformed.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::time::Instant;

/// What an entry of the history records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// A client sent the request.
    Invoke,
    /// The operation completed and took effect.
    Ok,
    /// The operation definitely did not happen (a definite error code).
    Fail,
    /// Indeterminate: the operation may or may not have happened (timeout, indefinite error).
    Info,
}

/// One entry of a history: an invocation or a completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Op {
    /// Client process id; a process has at most one operation in flight.
    pub process: u64,
    /// Invocation or which kind of completion.
    pub kind: OpKind,
    /// Operation name (`"read"`, `"send"`, `"txn"`, ...).
    pub f: String,
    /// Request value at invocation, result value at an `Ok` completion.
    pub value: Value,
    /// Virtual time of the invocation or completion (serialized as microseconds).
    #[serde(serialize_with = "serialize_micros")]
    pub time: Instant,
    /// The node the client talked to.
    pub node: String,
    /// True for the final reads done after the nemesis healed and the cluster quiesced.
    pub final_read: bool,
}

/// A whole test's operations in time order.
///
/// Each [`OpKind::Invoke`] is followed later by exactly one completion from the same process,
/// unless the run ended first; checkers treat a missing completion as [`OpKind::Info`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct History {
    /// The entries, in time order.
    pub ops: Vec<Op>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Appends an invocation and returns its index.
    pub fn push_invoke(
        &mut self,
        process: u64,
        f: &str,
        value: Value,
        time: Instant,
        node: &str,
    ) -> usize {
        self.push(process, OpKind::Invoke, f, value, time, node, false)
    }

    /// Appends the invocation of a final read (see [`Op::final_read`]) and returns its index.
    pub fn push_final_invoke(
        &mut self,
        process: u64,
        f: &str,
        value: Value,
        time: Instant,
        node: &str,
    ) -> usize {
        self.push(process, OpKind::Invoke, f, value, time, node, true)
    }

    /// Appends the completion of `process`'s open invocation, copying its `f`, `node` and
    /// `final_read`, and returns its index. Without an open invocation the entry is still
    /// appended, with an empty `f` and `node`; [`History::pairs`] ignores it.
    pub fn push_completion(
        &mut self,
        process: u64,
        kind: OpKind,
        value: Value,
        time: Instant,
    ) -> usize {
        let open = self.open_invoke(process);
        let (f, node, final_read) = match open.map(|i| &self.ops[i]) {
            Some(op) => (op.f.clone(), op.node.clone(), op.final_read),
            None => (String::new(), String::new(), false),
        };
        self.ops.push(Op {
            process,
            kind,
            f,
            value,
            time,
            node,
            final_read,
        });
        self.ops.len() - 1
    }

    /// Pairs every invocation with its completion: `(invoke index, completion index)`, in
    /// invocation order, with `None` when the run ended (or the process invoked again) first.
    /// Completions without an open invocation are ignored.
    pub fn pairs(&self) -> Vec<(usize, Option<usize>)> {
        let mut pairs: Vec<(usize, Option<usize>)> = Vec::new();
        // process -> position in `pairs` of its open invocation
        let mut open: HashMap<u64, usize> = HashMap::new();
        for (index, op) in self.ops.iter().enumerate() {
            if op.kind == OpKind::Invoke {
                // A second invocation while one is open leaves the first one unmatched.
                open.insert(op.process, pairs.len());
                pairs.push((index, None));
            } else if let Some(slot) = open.remove(&op.process) {
                pairs[slot].1 = Some(index);
            }
        }
        pairs
    }

    /// The index of `process`'s latest invocation if it has not completed yet.
    fn open_invoke(&self, process: u64) -> Option<usize> {
        let last = self.ops.iter().rposition(|op| op.process == process)?;
        (self.ops[last].kind == OpKind::Invoke).then_some(last)
    }

    #[allow(clippy::too_many_arguments)] // private: the public helpers name each field
    fn push(
        &mut self,
        process: u64,
        kind: OpKind,
        f: &str,
        value: Value,
        time: Instant,
        node: &str,
        final_read: bool,
    ) -> usize {
        self.ops.push(Op {
            process,
            kind,
            f: f.to_owned(),
            value,
            time,
            node: node.to_owned(),
            final_read,
        });
        self.ops.len() - 1
    }
}

/// [`Instant`] has no serde support of its own: write it as microseconds since the epoch.
fn serialize_micros<S: serde::Serializer>(
    time: &Instant,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(time.as_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(millis: u64) -> Instant {
        Instant::from_millis(millis)
    }

    /// Pairs follow processes, tolerate stray completions and mark unfinished invocations.
    #[test]
    fn pairs_match_invocations_to_completions_per_process() {
        let mut h = History::new();
        h.push_invoke(1, "read", Value::Null, t(0), "n0");
        h.push_invoke(2, "add", json!(3), t(1), "n1");
        h.push_completion(2, OpKind::Ok, json!(3), t(2));
        h.push_completion(9, OpKind::Ok, json!(1), t(3)); // no invocation: ignored
        h.push_completion(1, OpKind::Ok, json!(5), t(4));
        h.push_final_invoke(3, "read", Value::Null, t(5), "n2");
        assert_eq!(h.pairs(), vec![(0, Some(4)), (1, Some(2)), (5, None)]);
        assert_eq!(h.ops[4].f, "read");
        assert_eq!(h.ops[4].node, "n0");
        assert!(h.ops[5].final_read);
        assert_eq!(h.ops[3].f, "");
    }

    /// A process that invokes twice without completing leaves the first invocation open.
    #[test]
    fn reinvocation_leaves_the_first_invocation_unmatched() {
        let mut h = History::new();
        h.push_invoke(1, "read", Value::Null, t(0), "n0");
        h.push_invoke(1, "read", Value::Null, t(1), "n0");
        h.push_completion(1, OpKind::Info, Value::Null, t(2));
        assert_eq!(h.pairs(), vec![(0, None), (1, Some(2))]);
        let text = serde_json::to_string(&h.ops[2]).unwrap_or_default();
        assert!(text.contains("\"kind\":\"info\""), "{text}");
        assert!(text.contains("\"time\":2000"), "{text}");
    }
}
