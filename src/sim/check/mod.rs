//! Checkers: given a workload and a [`History`], decide whether the nodes behaved.
//!
//! This module owns the common result type ([`CheckResult`]), the workload list and the
//! dispatch ([`check`]), plus the helpers every checker shares: pairing invocations with
//! completions (`Call`), hashable JSON atoms (`Atom`) and capped anomaly lists. Each
//! workload's rules live in its own submodule, modelled on what Maelstrom's checkers flag (see
//! Maelstrom's docs). Checkers never panic on what nodes returned: a malformed value is
//! an anomaly. They do not run clients or format reports beyond one summary line.
//!
//! Every anomaly carries a [`Strictness`]: whether Maelstrom v0.2.3's own checker (Jepsen's
//! and Elle's, as Maelstrom configures them) would fail the run for it too, or whether the
//! simulator is stricter. Each checker's module docs say which of its anomalies are which.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::sim::history::{History, OpKind};
use crate::time::Instant;

pub mod broadcast;
pub mod counter;
pub mod echo;
pub mod kafka;
pub mod lin_kv;
pub mod txn;
pub mod unique_ids;

/// At most this many anomaly details are kept in a [`CheckResult`]; counts cover all of them.
pub const MAX_ANOMALIES: usize = 20;

/// At most this many operations are named in [`CheckResult::ops`].
pub const MAX_NAMED_OPS: usize = 100;

/// The verdict of a checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    /// No anomaly found.
    Valid,
    /// At least one anomaly found.
    Invalid,
    /// The search gave up (step budget) before deciding: not a pass.
    Unknown,
}

/// Whether Maelstrom v0.2.3 would fail a run for a failure the simulator reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strictness {
    /// Maelstrom's own checker fails the run for it too ("maelstrom: invalid").
    Maelstrom,
    /// Stricter than Maelstrom: Maelstrom v0.2.3 would let the run through ("beyond
    /// maelstrom"). Still a bug, and still a failure unless the run judges as Maelstrom.
    Beyond,
}

impl Strictness {
    /// The label reports print: `maelstrom: invalid` or `beyond maelstrom`.
    pub fn label(self) -> &'static str {
        match self {
            Strictness::Maelstrom => "maelstrom: invalid",
            Strictness::Beyond => "beyond maelstrom",
        }
    }
}

/// One failure (a checker's anomaly, a protocol error, a missed goal) and whether Maelstrom
/// would fail the run for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Whether Maelstrom would fail the run for it.
    pub strictness: Strictness,
    /// What happened, in one line.
    pub detail: String,
}

impl Failure {
    /// A failure Maelstrom's own checker would also fail the run for.
    pub fn maelstrom(detail: String) -> Failure {
        Failure {
            strictness: Strictness::Maelstrom,
            detail,
        }
    }

    /// A failure only the simulator flags.
    pub fn beyond(detail: String) -> Failure {
        Failure {
            strictness: Strictness::Beyond,
            detail,
        }
    }
}

impl fmt::Display for Failure {
    /// `[maelstrom: invalid] detail` or `[beyond maelstrom] detail`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.strictness.label(), self.detail)
    }
}

/// What a checker concluded, in one line plus details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The verdict.
    pub validity: Validity,
    /// The verdict counting only anomalies Maelstrom's own checker fails a run for: valid
    /// when every anomaly found is [`Strictness::Beyond`].
    pub maelstrom_validity: Validity,
    /// One line, e.g. `lost 3 of 120 acknowledged elements: [4, 17, 90]`.
    pub summary: String,
    /// Details of individual anomalies, at most [`MAX_ANOMALIES`].
    pub anomalies: Vec<Failure>,
    /// History indexes of the invocations the anomalies are about, in history order, at most
    /// [`MAX_NAMED_OPS`]; empty when the checker does not name operations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<usize>,
}

impl CheckResult {
    /// A result whose anomaly list is cut to [`MAX_ANOMALIES`]; `anomalies` must be all of
    /// them, since an invalid result with only [`Strictness::Beyond`] anomalies is valid as
    /// Maelstrom judges it.
    pub fn new(validity: Validity, summary: String, mut anomalies: Vec<Failure>) -> CheckResult {
        let only_beyond =
            !anomalies.is_empty() && anomalies.iter().all(|a| a.strictness == Strictness::Beyond);
        let maelstrom_validity = match validity {
            Validity::Invalid if only_beyond => Validity::Valid,
            other => other,
        };
        anomalies.truncate(MAX_ANOMALIES);
        CheckResult {
            validity,
            maelstrom_validity,
            summary,
            anomalies,
            ops: Vec::new(),
        }
    }

    /// The result naming the invocations (history indexes) its anomalies are about; they are
    /// sorted, deduplicated and cut to [`MAX_NAMED_OPS`].
    pub fn with_ops(mut self, mut ops: Vec<usize>) -> CheckResult {
        ops.sort_unstable();
        ops.dedup();
        ops.truncate(MAX_NAMED_OPS);
        self.ops = ops;
        self
    }

    /// True only for [`Validity::Valid`]: an unknown result is not a pass.
    pub fn is_valid(&self) -> bool {
        self.validity == Validity::Valid
    }

    /// True when Maelstrom's own checker would pass the history: every anomaly found is
    /// [`Strictness::Beyond`]. An unknown result is not a pass.
    pub fn maelstrom_valid(&self) -> bool {
        self.maelstrom_validity == Validity::Valid
    }
}

/// The isolation level a transactional history is checked against (Adya's anomalies),
/// ordered from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxnModel {
    /// Forbids G0 (write cycles), besides garbage reads and internal inconsistency.
    ReadUncommitted,
    /// Also forbids G1a (aborted read), G1b (intermediate read) and G1c (ww/wr cycles).
    ReadCommitted,
    /// Also forbids G2 (cycles with anti-dependencies).
    Serializable,
    /// Also forbids cycles through real-time order.
    StrictSerializable,
}

/// The Maelstrom workloads the simulator can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Workload {
    /// `echo`: replies carry the request's payload.
    Echo,
    /// `unique-ids`: generated ids are distinct.
    UniqueIds,
    /// `broadcast`: a grow-only set spread by gossip.
    Broadcast,
    /// `g-set`: a grow-only set.
    GSet,
    /// `g-counter`: a grow-only counter.
    GCounter,
    /// `pn-counter`: a counter with increments and decrements.
    PnCounter,
    /// `kafka`: append-only logs with offsets and committed offsets.
    Kafka,
    /// `lin-kv`: a linearizable key-value store.
    LinKv,
    /// `txn-rw-register`: transactions over read/write registers.
    TxnRwRegister {
        /// The isolation level to check.
        model: TxnModel,
    },
    /// `txn-list-append`: transactions over append-only lists, checked as strict serializable
    /// (Maelstrom's default); use [`txn::check_list_append`] for another model.
    TxnListAppend,
}

impl Workload {
    /// Maelstrom's name for the workload (`-w` on its command line).
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Echo => "echo",
            Workload::UniqueIds => "unique-ids",
            Workload::Broadcast => "broadcast",
            Workload::GSet => "g-set",
            Workload::GCounter => "g-counter",
            Workload::PnCounter => "pn-counter",
            Workload::Kafka => "kafka",
            Workload::LinKv => "lin-kv",
            Workload::TxnRwRegister { .. } => "txn-rw-register",
            Workload::TxnListAppend => "txn-list-append",
        }
    }
}

/// Checks `history` with the rules of `workload`, and, as Maelstrom does beside every
/// workload's checker, with Jepsen's stats checker: every kind of operation the clients
/// completed must have succeeded at least once ([`Strictness::Maelstrom`]).
pub fn check(workload: &Workload, history: &History) -> CheckResult {
    let result = check_workload(workload, history);
    with_stats(result, &never_succeeded(history))
}

/// The operation names (`f`) completed at least once and never `Ok`, sorted: what Jepsen's
/// stats checker fails a run for. Operations still pending at the end do not count.
fn never_succeeded(history: &History) -> Vec<&str> {
    let mut succeeded: BTreeMap<&str, bool> = BTreeMap::new();
    for op in history.ops.iter().filter(|op| op.kind != OpKind::Invoke) {
        *succeeded.entry(op.f.as_str()).or_default() |= op.kind == OpKind::Ok;
    }
    succeeded
        .into_iter()
        .filter_map(|(f, ok)| (!ok).then_some(f))
        .collect()
}

/// `result`, failed as Maelstrom would fail it when some operation never succeeded.
fn with_stats(mut result: CheckResult, never: &[&str]) -> CheckResult {
    if never.is_empty() {
        return result;
    }
    let names = list(never);
    result
        .summary
        .push_str(&format!("; no {names} operation succeeded"));
    let detail = format!(
        "no {names} operation succeeded, which Jepsen's stats checker (run by Maelstrom) fails"
    );
    result.anomalies.insert(0, Failure::maelstrom(detail));
    result.anomalies.truncate(MAX_ANOMALIES);
    result.validity = Validity::Invalid;
    result.maelstrom_validity = Validity::Invalid;
    result
}

fn check_workload(workload: &Workload, history: &History) -> CheckResult {
    match *workload {
        Workload::Echo => echo::check(history),
        Workload::UniqueIds => unique_ids::check(history),
        Workload::Broadcast => broadcast::check(history, "broadcast"),
        Workload::GSet => broadcast::check(history, "add"),
        Workload::GCounter | Workload::PnCounter => counter::check(history),
        Workload::Kafka => kafka::check(history),
        Workload::LinKv => lin_kv::check(history),
        Workload::TxnRwRegister { model } => txn::check_rw_register(history, model),
        Workload::TxnListAppend => txn::check_list_append(history, TxnModel::StrictSerializable),
    }
}

/// One operation with its outcome: an invocation paired with its completion.
#[derive(Debug, Clone)]
pub(crate) struct Call<'a> {
    /// Index of the invocation in the history.
    pub(crate) index: usize,
    pub(crate) process: u64,
    pub(crate) f: &'a str,
    /// `Ok`, `Fail` or `Info`; a missing completion counts as `Info`.
    pub(crate) kind: OpKind,
    /// The invocation's value.
    pub(crate) input: &'a Value,
    /// The completion's value when `kind` is `Ok`.
    pub(crate) output: Option<&'a Value>,
    pub(crate) start: Instant,
    /// Completion time for `Ok` and `Fail`; `None` for `Info`, which may take effect any time
    /// after `start`.
    pub(crate) end: Option<Instant>,
    pub(crate) node: &'a str,
    pub(crate) final_read: bool,
}

impl Call<'_> {
    /// True when the operation completed `Ok`.
    pub(crate) fn is_ok(&self) -> bool {
        self.kind == OpKind::Ok
    }

    /// One line naming the operation for anomaly reports.
    pub(crate) fn describe(&self) -> String {
        let end = self.end.map_or("?".to_owned(), |end| end.to_string());
        let outcome = match (self.kind, self.output) {
            (OpKind::Ok, Some(value)) => format!("ok {}", short_json(value)),
            (OpKind::Fail, _) => "fail".to_owned(),
            _ => "info".to_owned(),
        };
        format!(
            "p{} {} {} on {} [{} .. {}] {}",
            self.process,
            self.f,
            short_json(self.input),
            self.node,
            self.start,
            end,
            outcome
        )
    }
}

/// Pairs the history's invocations with their completions, in invocation order.
pub(crate) fn calls(history: &History) -> Vec<Call<'_>> {
    let ops = &history.ops;
    history
        .pairs()
        .into_iter()
        .filter_map(|(invoke, completion)| {
            let op = ops.get(invoke)?;
            let done = completion.and_then(|i| ops.get(i));
            let kind = match done.map(|d| d.kind) {
                Some(OpKind::Ok) => OpKind::Ok,
                Some(OpKind::Fail) => OpKind::Fail,
                _ => OpKind::Info,
            };
            Some(Call {
                index: invoke,
                process: op.process,
                f: &op.f,
                kind,
                input: &op.value,
                output: done.filter(|_| kind == OpKind::Ok).map(|d| &d.value),
                start: op.time,
                end: done.filter(|_| kind != OpKind::Info).map(|d| d.time),
                node: &op.node,
                final_read: op.final_read || done.is_some_and(|d| d.final_read),
            })
        })
        .collect()
}

/// A JSON value made hashable and ordered: integers stay integers, anything else is kept as
/// canonical JSON text (object keys sorted), so structurally equal values are equal atoms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Atom {
    Int(i64),
    Json(String),
}

impl Atom {
    pub(crate) fn from_value(value: &Value) -> Atom {
        match value.as_i64() {
            Some(int) => Atom::Int(int),
            None => {
                let mut text = String::new();
                write_canonical(value, &mut text);
                Atom::Json(text)
            }
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Int(int) => write!(f, "{int}"),
            Atom::Json(text) => f.write_str(text),
        }
    }
}

/// Writes `value` as JSON with object keys sorted, whatever map type serde_json was built with.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A value's JSON text, cut to about 80 characters for reports.
pub(crate) fn short_json(value: &Value) -> String {
    const LIMIT: usize = 80;
    let text = value.to_string();
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// Formats a list for a summary line, eliding past ten items.
pub(crate) fn list<T: fmt::Display>(items: &[T]) -> String {
    let shown: Vec<String> = items.iter().take(10).map(|i| i.to_string()).collect();
    let more = if items.len() > 10 { ", ..." } else { "" };
    format!("[{}{}]", shown.join(", "), more)
}

/// Anomaly details, keeping the first [`MAX_ANOMALIES`] and counting all of them by
/// [`Strictness`].
#[derive(Debug, Default)]
pub(crate) struct Anomalies {
    details: Vec<Failure>,
    maelstrom: usize,
    beyond: usize,
    /// History indexes of the invocations named so far.
    ops: Vec<usize>,
}

impl Anomalies {
    /// Records one anomaly; `detail` is only formatted while there is room for it.
    pub(crate) fn note(&mut self, strictness: Strictness, detail: impl FnOnce() -> String) {
        match strictness {
            Strictness::Maelstrom => self.maelstrom += 1,
            Strictness::Beyond => self.beyond += 1,
        }
        if self.details.len() < MAX_ANOMALIES {
            self.details.push(Failure {
                strictness,
                detail: detail(),
            });
        }
    }

    /// Names the invocation at history index `index` as part of an anomaly (once).
    pub(crate) fn name_op(&mut self, index: usize) {
        if self.ops.len() < MAX_NAMED_OPS && !self.ops.contains(&index) {
            self.ops.push(index);
        }
    }

    /// How many anomalies were recorded.
    pub(crate) fn count(&self) -> usize {
        self.maelstrom + self.beyond
    }

    /// Invalid when anything was recorded, valid otherwise; valid as Maelstrom judges it
    /// when only [`Strictness::Beyond`] anomalies were recorded.
    pub(crate) fn finish(self, summary: String) -> CheckResult {
        let verdict = |count: usize| match count {
            0 => Validity::Valid,
            _ => Validity::Invalid,
        };
        CheckResult {
            validity: verdict(self.count()),
            maelstrom_validity: verdict(self.maelstrom),
            summary,
            anomalies: self.details,
            ops: Vec::new(),
        }
        .with_ops(self.ops)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Small history builders shared by the checkers' tests.

    use serde_json::Value;

    use crate::sim::history::{History, OpKind};
    use crate::time::Instant;

    /// Appends one completed operation: invoked at `start` ms, completed at `end` ms.
    #[allow(clippy::too_many_arguments)] // a test table row, read positionally
    pub(crate) fn op(
        h: &mut History,
        process: u64,
        f: &str,
        input: Value,
        start: u64,
        kind: OpKind,
        output: Value,
        end: u64,
    ) {
        h.push_invoke(process, f, input, Instant::from_millis(start), "n0");
        h.push_completion(process, kind, output, Instant::from_millis(end));
    }

    /// Appends an invocation at `start` ms that never completes.
    pub(crate) fn hang(h: &mut History, process: u64, f: &str, input: Value, start: u64) {
        h.push_invoke(process, f, input, Instant::from_millis(start), "n0");
    }

    /// Sorts entries by time (stable), so tests may append operations out of order.
    pub(crate) fn sorted(mut h: History) -> History {
        h.ops.sort_by_key(|op| op.time);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Jepsen's stats checker: an operation kind that completed only as fail or info fails
    /// the run, whatever the workload's checker said; pending operations do not count.
    #[test]
    fn an_operation_kind_that_never_succeeds_fails_as_in_maelstrom() {
        use crate::sim::check::testing::{hang, op};
        let mut h = History::new();
        op(
            &mut h,
            1,
            "generate",
            json!(null),
            0,
            OpKind::Ok,
            json!(1),
            1,
        );
        hang(&mut h, 2, "other", json!(null), 2);
        let r = check(&Workload::UniqueIds, &h);
        assert!(r.is_valid(), "{r:?}");
        op(
            &mut h,
            3,
            "cas",
            json!(null),
            3,
            OpKind::Fail,
            json!(null),
            4,
        );
        op(
            &mut h,
            4,
            "cas",
            json!(null),
            5,
            OpKind::Info,
            json!(null),
            6,
        );
        let r = check(&Workload::UniqueIds, &h);
        assert_eq!(r.maelstrom_validity, Validity::Invalid, "{r:?}");
        assert!(
            r.summary.ends_with("; no [cas] operation succeeded"),
            "{}",
            r.summary
        );
        assert_eq!(r.anomalies[0].strictness, Strictness::Maelstrom);
    }

    /// Structurally equal JSON values are equal atoms, whatever the key order.
    #[test]
    fn atoms_compare_json_structurally() {
        let a = Atom::from_value(&json!({"b": 1, "a": [1, "x"]}));
        let b = Atom::from_value(&json!({"a": [1, "x"], "b": 1}));
        assert_eq!(a, b);
        assert_eq!(a.to_string(), r#"{"a":[1,"x"],"b":1}"#);
        assert_eq!(Atom::from_value(&json!(7)), Atom::Int(7));
        assert_ne!(Atom::from_value(&json!(7)), Atom::from_value(&json!("7")));
    }

    /// Unknown is not a pass, and anomaly lists are capped.
    #[test]
    fn results_cap_details_and_unknown_is_not_valid() {
        let many = (0..50).map(|i| Failure::maelstrom(i.to_string())).collect();
        let r = CheckResult::new(Validity::Unknown, "gave up".into(), many);
        assert!(!r.is_valid());
        assert!(!r.maelstrom_valid());
        assert_eq!(r.anomalies.len(), MAX_ANOMALIES);
        let mut a = Anomalies::default();
        for i in 0..30 {
            a.note(Strictness::Beyond, || i.to_string());
        }
        assert_eq!(a.count(), 30);
        for i in (0..2 * MAX_NAMED_OPS).rev() {
            a.name_op(i / 2); // each twice: named once
        }
        assert_eq!(a.ops.len(), MAX_NAMED_OPS);
        let r = a.finish("x".into());
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(r.ops, (0..MAX_NAMED_OPS).collect::<Vec<_>>(), "sorted");
    }

    /// Only beyond-maelstrom anomalies: invalid, yet valid as Maelstrom judges; one
    /// maelstrom anomaly, even past the kept details, makes both invalid.
    #[test]
    fn maelstrom_validity_counts_only_maelstrom_anomalies() {
        let mut beyond = Anomalies::default();
        beyond.note(Strictness::Beyond, || "invented commit".into());
        let r = beyond.finish("x".into());
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(r.maelstrom_validity, Validity::Valid);
        assert!(r.maelstrom_valid() && !r.is_valid());
        assert_eq!(
            r.anomalies[0].to_string(),
            "[beyond maelstrom] invented commit"
        );

        let mut both = Anomalies::default();
        for i in 0..MAX_ANOMALIES {
            both.note(Strictness::Beyond, || i.to_string());
        }
        both.note(Strictness::Maelstrom, || "lost write".into());
        let r = both.finish("x".into());
        assert_eq!(r.anomalies.len(), MAX_ANOMALIES);
        assert_eq!(r.maelstrom_validity, Validity::Invalid);

        let r = CheckResult::new(
            Validity::Invalid,
            "x".into(),
            vec![Failure::beyond("a".into()), Failure::maelstrom("b".into())],
        );
        assert!(!r.maelstrom_valid());
    }
}
