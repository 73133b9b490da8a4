//! The transactional checkers, for `txn-rw-register` and `txn-list-append`, in the manner of
//! Elle: infer dependencies between transactions from the values they read, then look for
//! Adya's anomalies. Written values are unique per key, so every read names its writer.
//!
//! Always flagged: malformed transactions, reads of values nobody wrote ("garbage"), a
//! transaction not seeing its own writes ("internal"; for lists under read uncommitted only
//! the order of its own appends is required, since others may append in between), and for
//! lists, a read holding an element twice ("duplicate") or reads of a key that are not all
//! prefixes of one order ("incompatible order"). From read committed up: reads of values only
//! failed transactions wrote (G1a) and of values their writer overwrote later (G1b). Then
//! cycles in the dependency graph, by model: read uncommitted G0 (ww), read committed also
//! G1c (ww, wr), serializable also G-single and G2 (rw), strict serializable also cycles
//! through real-time order (a transaction completed before another was invoked).
//!
//! Version orders: a list's order is its longest read, exact. A register's is only known in
//! part, so it is inferred conservatively: wr edges are exact; "writes follow reads" (a
//! transaction that read v1 then wrote v2 puts v1 before v2) is used from read committed up,
//! where a history breaking that inference has a G1c cycle anyway; rw edges come from those
//! pairs and from reads of the initial (absent) state. Registers therefore get no G0 check
//! under read uncommitted: nothing sound orders their writes there.
//!
//! Maelstrom's verdict follows Elle 0.1.6 under the same model (`--consistency-models`):
//! an anomaly Elle prohibits there is [`Strictness::Maelstrom`]; garbage reads and
//! malformed replies, and internal inconsistency and incompatible orders below the models
//! where Elle prohibits them, are beyond Maelstrom (see `strictness`).
//!
//! This module owns the transaction model (parsing, who wrote what) and the pipeline;
//! `reads` holds the per-read anomalies, `edges` the version orders and dependency edges,
//! `graph` the dependency graph and its cycle search.

mod edges;
mod graph;
mod reads;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use self::edges::{list_edges, register_edges};
use self::graph::{find_cycles, Graph};
use self::reads::check_reads;
use crate::sim::check::{calls, Anomalies, Atom, Call, CheckResult, Strictness, TxnModel};
use crate::sim::history::{History, OpKind};

/// Checks a `txn-rw-register` history against `model`.
pub fn check_rw_register(history: &History, model: TxnModel) -> CheckResult {
    check_txns(history, model, Flavor::Register)
}

/// Checks a `txn-list-append` history against `model`.
pub fn check_list_append(history: &History, model: TxnModel) -> CheckResult {
    check_txns(history, model, Flavor::List)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Register,
    List,
}

impl Flavor {
    fn write_name(self) -> &'static str {
        match self {
            Flavor::Register => "w",
            Flavor::List => "append",
        }
    }
}

/// One micro-operation. A read holds `None` when its transaction did not complete `Ok`; a
/// register read of `v` is held as `[v]`, of nothing as `[]`, like a list read.
#[derive(Debug)]
enum Mop {
    Read(Atom, Option<Vec<Atom>>),
    Write(Atom, Atom),
}

struct Txn<'a> {
    call: &'a Call<'a>,
    mops: Vec<Mop>,
}

/// Who wrote a value, and whether it was that transaction's last write to the key.
#[derive(Debug, Clone, Copy)]
struct Writer {
    txn: usize,
    last_in_txn: bool,
}

/// Shared state of one check: transactions, their writes, findings so far. Maps that are
/// iterated are ordered, so one history always yields the same report.
struct Check<'a> {
    model: TxnModel,
    flavor: Flavor,
    txns: Vec<Txn<'a>>,
    writers: HashMap<(Atom, Atom), Writer>,
    anomalies: Anomalies,
    counts: BTreeMap<&'static str, usize>,
}

impl Check<'_> {
    fn note(&mut self, name: &'static str, detail: impl FnOnce() -> String) {
        *self.counts.entry(name).or_default() += 1;
        let strictness = strictness(name, self.model);
        self.anomalies
            .note(strictness, || format!("{name}: {}", detail()));
    }

    fn at_least(&self, model: TxnModel) -> bool {
        self.model >= model
    }

    fn writer(&self, key: &Atom, value: &Atom) -> Option<Writer> {
        self.writers.get(&(key.clone(), value.clone())).copied()
    }

    /// The graph node of a value's writer, unless it failed (failed transactions are not in
    /// the graph) or is `reader` itself.
    fn live_writer(&self, key: &Atom, value: &Atom, reader: usize) -> Option<usize> {
        let writer = self.writer(key, value)?.txn;
        (writer != reader && self.txns[writer].call.kind != OpKind::Fail).then_some(writer)
    }
}

/// Whether Maelstrom v0.2.3 fails a run for anomaly `name` found while checking `model`:
/// whether Elle 0.1.6 prohibits it under `--consistency-models` `model`. Read uncommitted
/// prohibits G0 and duplicate elements; read committed adds G1 (G1a, G1b, G1c) and what
/// implies it (incompatible orders); serializable adds internal inconsistency and the
/// cycles with anti-dependencies; strict serializable adds the real-time cycles. Elle has
/// no garbage-read anomaly, and a malformed reply never reaches it (Maelstrom's client
/// rejects it). Cycles are only searched for where `model` prohibits them.
fn strictness(name: &str, model: TxnModel) -> Strictness {
    let prohibited = match name {
        "malformed" | "garbage" => false,
        "internal" => model >= TxnModel::Serializable,
        "incompatible-order" => model >= TxnModel::ReadCommitted,
        _ => true,
    };
    match prohibited {
        true => Strictness::Maelstrom,
        false => Strictness::Beyond,
    }
}

fn check_txns(history: &History, model: TxnModel, flavor: Flavor) -> CheckResult {
    let calls = calls(history);
    let mut check = Check {
        model,
        flavor,
        txns: Vec::new(),
        writers: HashMap::new(),
        anomalies: Anomalies::default(),
        counts: BTreeMap::new(),
    };
    parse(&mut check, &calls);
    index_writers(&mut check);
    check_reads(&mut check);
    let mut graph = Graph::new(check.txns.len());
    match flavor {
        Flavor::List => list_edges(&mut check, &mut graph),
        Flavor::Register => register_edges(&check, &mut graph),
    }
    if check.at_least(TxnModel::StrictSerializable) {
        graph.add_real_time(&check.txns);
    }
    find_cycles(&mut check, &graph);
    let found: Vec<String> = check
        .counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let size = format!("{} transactions", check.txns.len());
    let summary = match found.is_empty() {
        true => format!("no anomalies in {size} ({model:?})"),
        false => format!("{} in {size} ({model:?})", found.join(", ")),
    };
    check.anomalies.finish(summary)
}

fn parse<'a>(check: &mut Check<'a>, calls: &'a [Call<'a>]) {
    for call in calls.iter().filter(|c| c.f == "txn") {
        let value = call.output.unwrap_or(call.input);
        match parse_mops(value, check.flavor, call.is_ok()) {
            Some(mops) => check.txns.push(Txn { call, mops }),
            None => check.note("malformed", || call.describe()),
        }
    }
}

/// `[[f, k, v], ...]`; reads are kept only when `reads_known`.
fn parse_mops(value: &Value, flavor: Flavor, reads_known: bool) -> Option<Vec<Mop>> {
    let mut mops = Vec::new();
    for mop in value.as_array()? {
        let Some([f, key, value]) = mop.as_array().map(Vec::as_slice) else {
            return None;
        };
        let key = Atom::from_value(key);
        let mop = match f.as_str()? {
            "r" if !reads_known => Mop::Read(key, None),
            "r" => Mop::Read(key, Some(parse_read(value, flavor)?)),
            name if name == flavor.write_name() => Mop::Write(key, Atom::from_value(value)),
            _ => return None,
        };
        mops.push(mop);
    }
    Some(mops)
}

fn parse_read(value: &Value, flavor: Flavor) -> Option<Vec<Atom>> {
    match (value, flavor) {
        (Value::Null, _) => Some(Vec::new()),
        (Value::Array(items), Flavor::List) => Some(items.iter().map(Atom::from_value).collect()),
        (Value::Array(_), Flavor::Register) => None,
        (value, Flavor::Register) => Some(vec![Atom::from_value(value)]),
        (_, Flavor::List) => None,
    }
}

fn index_writers(check: &mut Check<'_>) {
    for (index, txn) in check.txns.iter().enumerate() {
        let mut last: HashMap<&Atom, &Atom> = HashMap::new();
        for mop in &txn.mops {
            if let Mop::Write(key, value) = mop {
                last.insert(key, value);
            }
        }
        for mop in &txn.mops {
            if let Mop::Write(key, value) = mop {
                let last_in_txn = last.get(key) == Some(&value);
                let writer = Writer {
                    txn: index,
                    last_in_txn,
                };
                // Values are unique per key; a repeat keeps its first writer.
                check
                    .writers
                    .entry((key.clone(), value.clone()))
                    .or_insert(writer);
            }
        }
    }
}
