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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::Value;

use crate::sim::check::{calls, list, Anomalies, Atom, Call, CheckResult, TxnModel};
use crate::sim::history::{History, OpKind};
use crate::time::Instant;

/// Checks a `txn-rw-register` history against `model`.
pub fn check_rw_register(history: &History, model: TxnModel) -> CheckResult {
    check_txns(history, model, Flavor::Register)
}

/// Checks a `txn-list-append` history against `model`.
pub fn check_list_append(history: &History, model: TxnModel) -> CheckResult {
    check_txns(history, model, Flavor::List)
}

/// Cap on anti-dependency edges from reads of the initial state (readers x writers per
/// key); past it edges are dropped, which can only hide cycles, never invent them.
const MAX_INITIAL_RW_EDGES: usize = 200_000;

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
        self.anomalies.note(|| format!("{name}: {}", detail()));
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

/// Per-read anomalies: internal, garbage, duplicate, G1a, G1b.
fn check_reads(check: &mut Check<'_>) {
    for index in 0..check.txns.len() {
        // Own writes per key since the last read of it, and that last read.
        let mops = std::mem::take(&mut check.txns[index].mops);
        let mut own: HashMap<&Atom, (Option<&[Atom]>, Vec<Atom>)> = HashMap::new();
        for mop in &mops {
            match mop {
                Mop::Write(key, value) => own.entry(key).or_default().1.push(value.clone()),
                Mop::Read(key, Some(read)) => {
                    let (previous, written) = own.remove(key).unwrap_or_default();
                    check_internal(check, index, key, previous, &written, read);
                    check_read_values(check, index, key, read);
                    own.insert(key, (Some(read), Vec::new()));
                }
                Mop::Read(_, None) => {}
            }
        }
        drop(own);
        check.txns[index].mops = mops;
    }
}

fn check_internal(
    check: &mut Check<'_>,
    txn: usize,
    key: &Atom,
    previous: Option<&[Atom]>,
    written: &[Atom],
    read: &[Atom],
) {
    let consistent = match check.flavor {
        Flavor::Register => written.last().map_or(true, |last| read == [last.clone()]),
        Flavor::List if !check.at_least(TxnModel::ReadCommitted) => is_subsequence(written, read),
        Flavor::List => match previous {
            Some(previous) if check.at_least(TxnModel::Serializable) => {
                read.len() == previous.len() + written.len()
                    && read.starts_with(previous)
                    && read.ends_with(written)
            }
            _ => read.ends_with(written),
        },
    };
    if !consistent {
        let call = check.txns[txn].call;
        check.note("internal", || {
            let call = call.describe();
            format!("read of key {key} misses its own writes: {call}")
        });
    }
}

fn is_subsequence(needle: &[Atom], haystack: &[Atom]) -> bool {
    let mut rest = haystack.iter();
    needle.iter().all(|n| rest.any(|h| h == n))
}

fn check_read_values(check: &mut Check<'_>, txn: usize, key: &Atom, read: &[Atom]) {
    let call = check.txns[txn].call;
    let distinct: HashSet<&Atom> = read.iter().collect();
    if distinct.len() != read.len() {
        let what = format!("key {key} read with a repeated element");
        check.note("duplicate", || format!("{what}: {}", call.describe()));
    }
    for value in read {
        if check.writer(key, value).is_none() {
            let what = format!("key {key} value {value} never written");
            check.note("garbage", || format!("{what}: {}", call.describe()));
        }
    }
    if !check.at_least(TxnModel::ReadCommitted) {
        return;
    }
    for value in read {
        let Some(writer) = check.writer(key, value) else {
            continue;
        };
        let by = check.txns[writer.txn].call;
        if by.kind == OpKind::Fail {
            let what = format!("key {key} value {value} from failed {}", by.describe());
            check.note("G1a", || format!("{what}, read by {}", call.describe()));
        }
    }
    // Only the newest value read can be an intermediate state of its writer.
    let Some(value) = read.last() else { return };
    let Some(writer) = check.writer(key, value) else {
        return;
    };
    if writer.txn != txn && !writer.last_in_txn {
        let by = check.txns[writer.txn].call.describe();
        let what = format!("key {key} value {value} was later overwritten by its writer {by}");
        check.note("G1b", || format!("{what}, yet read by {}", call.describe()));
    }
}

/// Version orders, then ww, wr and rw edges, for lists.
fn list_edges(check: &mut Check<'_>, graph: &mut Graph) {
    let mut orders: BTreeMap<Atom, Vec<Atom>> = BTreeMap::new();
    for (_, key, read) in known_reads(&check.txns) {
        let order = orders.entry(key.clone()).or_default();
        if read.len() > order.len() {
            *order = read.to_vec();
        }
    }
    let mut incompatible: HashSet<Atom> = HashSet::new();
    let mut details = Vec::new();
    for (txn, key, read) in known_reads(&check.txns) {
        let order = orders.get(key).map_or(&[][..], Vec::as_slice);
        if !order.starts_with(read) && incompatible.insert(key.clone()) {
            let call = check.txns[txn].call.describe();
            let (read, order) = (list(read), list(order));
            details.push(format!(
                "key {key} read {read} is no prefix of {order}: {call}"
            ));
        }
    }
    for detail in details {
        check.note("incompatible-order", || detail);
    }
    for (key, order) in orders
        .iter()
        .filter(|(key, _)| !incompatible.contains(*key))
    {
        for pair in order.windows(2) {
            let a = check.live_writer(key, &pair[0], usize::MAX);
            let b = check.live_writer(key, &pair[1], usize::MAX);
            if let (Some(a), Some(b)) = (a, b) {
                graph.add(a, b, WW, Some(key));
            }
        }
    }
    for (txn, key, read) in known_reads(&check.txns) {
        let Some(order) = orders.get(key).filter(|_| !incompatible.contains(key)) else {
            continue;
        };
        if let Some(writer) = read.last().and_then(|v| check.live_writer(key, v, txn)) {
            graph.add(writer, txn, WR, Some(key));
        }
        if let Some(writer) = order
            .get(read.len())
            .and_then(|v| check.live_writer(key, v, txn))
        {
            graph.add(txn, writer, RW, Some(key));
        }
    }
}

/// Every read with a known value: (transaction, key, values).
fn known_reads<'t>(txns: &'t [Txn<'_>]) -> impl Iterator<Item = (usize, &'t Atom, &'t [Atom])> {
    txns.iter().enumerate().flat_map(|(index, txn)| {
        txn.mops.iter().filter_map(move |mop| match mop {
            Mop::Read(key, Some(read)) => Some((index, key, read.as_slice())),
            _ => None,
        })
    })
}

/// (key, value read or `None` for absent) -> transactions, in a stable order.
type ReadSlots = BTreeMap<(Atom, Option<Atom>), Vec<usize>>;

/// wr edges, and from read committed up ww edges by "writes follow reads"; from
/// serializable up rw edges from those pairs and from reads of the initial state.
fn register_edges(check: &Check<'_>, graph: &mut Graph) {
    // External readers of each value, and those of them that then overwrote it.
    let mut readers = ReadSlots::new();
    let mut successors = ReadSlots::new();
    for (index, txn) in check.txns.iter().enumerate() {
        let writes: HashSet<&Atom> = txn.mops.iter().filter_map(written_key).collect();
        let mut wrote: HashSet<&Atom> = HashSet::new();
        for mop in &txn.mops {
            let Mop::Read(key, Some(read)) = mop else {
                wrote.extend(written_key(mop));
                continue;
            };
            if wrote.contains(key) {
                continue; // reads its own write: internal, checked elsewhere
            }
            let value = read.first();
            let writer = value.and_then(|v| check.live_writer(key, v, index));
            if let Some(writer) = writer {
                graph.add(writer, index, WR, Some(key));
            }
            let slot = (key.clone(), value.cloned());
            if writes.contains(key) {
                if let (Some(writer), true) = (writer, check.at_least(TxnModel::ReadCommitted)) {
                    graph.add(writer, index, WW, Some(key));
                }
                successors.entry(slot.clone()).or_default().push(index);
            }
            readers.entry(slot).or_default().push(index);
        }
    }
    if check.at_least(TxnModel::Serializable) {
        register_anti_dependencies(check, graph, &readers, &successors);
    }
}

fn written_key(mop: &Mop) -> Option<&Atom> {
    match mop {
        Mop::Write(key, _) => Some(key),
        Mop::Read(..) => None,
    }
}

fn register_anti_dependencies(
    check: &Check<'_>,
    graph: &mut Graph,
    readers: &ReadSlots,
    successors: &ReadSlots,
) {
    // A reader of v precedes every transaction that read v and then overwrote it.
    for (slot, later) in successors {
        for &reader in readers.get(slot).into_iter().flatten() {
            for &writer in later.iter().filter(|&&w| w != reader) {
                graph.add(reader, writer, RW, Some(&slot.0));
            }
        }
    }
    // A reader of the initial state precedes every writer of the key's final values.
    let mut by_key: BTreeMap<&Atom, Vec<usize>> = BTreeMap::new();
    for ((key, _), writer) in &check.writers {
        if writer.last_in_txn && check.txns[writer.txn].call.kind != OpKind::Fail {
            by_key.entry(key).or_default().push(writer.txn);
        }
    }
    let mut budget = MAX_INITIAL_RW_EDGES;
    for ((key, _), initial_readers) in readers.iter().filter(|((_, v), _)| v.is_none()) {
        let Some(writers) = by_key.get_mut(key) else {
            continue;
        };
        writers.sort_unstable();
        for &reader in initial_readers {
            for &writer in writers.iter().filter(|&&w| w != reader) {
                if budget == 0 {
                    return;
                }
                budget -= 1;
                graph.add(reader, writer, RW, Some(key));
            }
        }
    }
}

// Dependency kinds, as bits so a search can be limited to some of them.
const WW: u8 = 1;
const WR: u8 = 2;
const RW: u8 = 4;
const RT: u8 = 8;

/// One dependency: `to` depends on the edge's source through `kind` on `key`.
struct Edge {
    to: usize,
    kind: u8,
    key: Option<Atom>,
}

/// Transactions `0..txn_count`, then real-time barrier nodes.
struct Graph {
    txn_count: usize,
    out: Vec<Vec<Edge>>,
}

impl Graph {
    fn new(txn_count: usize) -> Graph {
        let out = (0..txn_count).map(|_| Vec::new()).collect();
        Graph { txn_count, out }
    }

    fn add(&mut self, from: usize, to: usize, kind: u8, key: Option<&Atom>) {
        if from != to {
            let key = key.cloned();
            self.out[from].push(Edge { to, kind, key });
        }
    }

    /// Real-time order in O(n log n) edges: each completed transaction links to its own
    /// barrier node, barriers chain in completion order, and a transaction hangs off the last
    /// barrier completed before its invocation, so A reaches B exactly when A completed
    /// before B was invoked. Indeterminate transactions are only ever the later party.
    fn add_real_time(&mut self, txns: &[Txn<'_>]) {
        let mut ends: Vec<(Instant, usize)> = Vec::new();
        for (index, txn) in txns.iter().enumerate() {
            if let (true, Some(end)) = (txn.call.is_ok(), txn.call.end) {
                ends.push((end, index));
            }
        }
        ends.sort();
        let base = self.out.len();
        self.out.extend(ends.iter().map(|_| Vec::new()));
        for (rank, &(_, txn)) in ends.iter().enumerate() {
            self.add(txn, base + rank, RT, None);
            if rank + 1 < ends.len() {
                self.add(base + rank, base + rank + 1, RT, None);
            }
        }
        for (index, txn) in txns.iter().enumerate() {
            let before = ends.partition_point(|&(end, _)| end < txn.call.start);
            if before > 0 && txn.call.kind != OpKind::Fail {
                self.add(base + before - 1, index, RT, None);
            }
        }
    }
}

impl Graph {
    /// Strongly connected components of two or more nodes over edges of `mask` (Tarjan's
    /// algorithm with an explicit stack, so long chains cannot overflow the call stack).
    fn components(&self, mask: u8) -> Vec<Vec<usize>> {
        const UNSEEN: usize = usize::MAX;
        let n = self.out.len();
        let (mut order, mut low) = (vec![UNSEEN; n], vec![0; n]);
        let (mut on_stack, mut stack) = (vec![false; n], Vec::<usize>::new());
        let (mut next, mut found) = (0, Vec::new());
        for root in 0..n {
            if order[root] != UNSEEN {
                continue;
            }
            let mut calls: Vec<(usize, usize)> = vec![(root, 0)];
            (order[root], low[root], next) = (next, next, next + 1);
            on_stack[root] = true;
            stack.push(root);
            while let Some(&mut (node, ref mut edge)) = calls.last_mut() {
                if let Some(e) = self.out[node].get(*edge) {
                    *edge += 1;
                    let to = e.to;
                    if e.kind & mask == 0 {
                        continue;
                    }
                    if order[to] == UNSEEN {
                        (order[to], low[to], next) = (next, next, next + 1);
                        on_stack[to] = true;
                        stack.push(to);
                        calls.push((to, 0));
                    } else if on_stack[to] {
                        low[node] = low[node].min(order[to]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == order[node] {
                    let at = stack.iter().rposition(|&m| m == node).unwrap_or(0);
                    let component = stack.split_off(at);
                    component.iter().for_each(|&m| on_stack[m] = false);
                    if component.len() > 1 {
                        found.push(component);
                    }
                }
            }
        }
        found
    }

    /// A shortest cycle through `start` inside `members` over edges of `mask`, as edges.
    fn cycle_through(
        &self,
        start: usize,
        members: &HashSet<usize>,
        mask: u8,
    ) -> Vec<(usize, &Edge)> {
        let mut parent: HashMap<usize, (usize, &Edge)> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            for edge in self.out[node].iter().filter(|e| e.kind & mask != 0) {
                if edge.to == start {
                    let mut path = vec![(node, edge)];
                    let mut at = node;
                    while let Some(&(from, via)) = parent.get(&at) {
                        path.push((from, via));
                        at = from;
                    }
                    path.reverse();
                    return path;
                }
                if members.contains(&edge.to) && !parent.contains_key(&edge.to) {
                    parent.insert(edge.to, (node, edge));
                    queue.push_back(edge.to);
                }
            }
        }
        Vec::new()
    }
}

/// Cumulative edge masks of the cycle searches `model` forbids, weakest first.
fn masks(model: TxnModel) -> Vec<u8> {
    let all = [WW, WW | WR, WW | WR | RW, WW | WR | RW | RT];
    all[..=model as usize].to_vec()
}

/// Cycles, named by the weakest search that finds each component.
fn find_cycles(check: &mut Check<'_>, graph: &Graph) {
    let mut reported = vec![false; graph.out.len()];
    for mask in masks(check.model) {
        for component in graph.components(mask) {
            if component.iter().any(|&node| reported[node]) {
                continue;
            }
            component.iter().for_each(|&node| reported[node] = true);
            let Some(&start) = component.iter().find(|&&node| node < graph.txn_count) else {
                continue;
            };
            let members: HashSet<usize> = component.into_iter().collect();
            let cycle = graph.cycle_through(start, &members, mask);
            let (name, text) = describe_cycle(check, graph, &cycle);
            check.note(name, || text);
        }
    }
}

/// Names a cycle by its edge kinds and spells it out, folding barrier nodes into `rt`.
fn describe_cycle(
    check: &Check<'_>,
    graph: &Graph,
    cycle: &[(usize, &Edge)],
) -> (&'static str, String) {
    let kinds = cycle.iter().map(|(_, e)| e.kind);
    let anti = kinds.clone().filter(|&k| k == RW).count();
    let real_time = kinds.clone().any(|k| k == RT);
    let name = match (anti, kinds.clone().any(|k| k == WR), real_time) {
        (0, false, false) => "G0",
        (0, true, false) => "G1c",
        (1, _, false) => "G-single",
        (_, _, false) => "G2",
        (0, false, true) => "G0-realtime",
        (0, true, true) => "G1c-realtime",
        (1, _, true) => "G-single-realtime",
        (_, _, true) => "G2-realtime",
    };
    let name_of = |txn: usize| format!("T{}", check.txns[txn].call.index);
    let mut text = cycle
        .first()
        .map(|&(from, _)| name_of(from))
        .unwrap_or_default();
    for (_, edge) in cycle.iter().filter(|(_, e)| e.to < graph.txn_count) {
        let label = match (edge.kind, &edge.key) {
            (WW, Some(key)) => format!("ww {key}"),
            (WR, Some(key)) => format!("wr {key}"),
            (RW, Some(key)) => format!("rw {key}"),
            _ => "rt".to_owned(),
        };
        text.push_str(&format!(" -{label}-> {}", name_of(edge.to)));
    }
    let members: Vec<String> = cycle
        .iter()
        .filter(|&&(from, _)| from < graph.txn_count)
        .take(4)
        .map(|&(from, _)| format!("{} = {}", name_of(from), check.txns[from].call.describe()))
        .collect();
    (name, format!("{text}; {}", members.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::check::testing::{op, sorted};
    use crate::sim::check::Validity;
    use crate::sim::history::OpKind::{Fail, Ok};
    use serde_json::json;
    use TxnModel::{ReadCommitted, ReadUncommitted, Serializable, StrictSerializable};

    /// A transaction from `start` to `end` ms; the request is the reply with reads blanked
    /// (Maelstrom's docs, Workloads: txn-rw-register and txn-list-append).
    fn txn(h: &mut History, process: u64, start: u64, end: u64, kind: OpKind, mops: Value) {
        let mut request = mops.clone();
        for mop in request.as_array_mut().into_iter().flatten() {
            if mop[0] == "r" {
                mop[2] = Value::Null;
            }
        }
        op(h, process, "txn", request, start, kind, mops, end);
    }

    fn rw(h: &History, model: TxnModel) -> CheckResult {
        check_rw_register(h, model)
    }

    fn names(r: &CheckResult) -> String {
        r.summary.clone()
    }

    /// Sequential transactions reading each other's writes are fine at every level.
    #[test]
    fn sequential_registers_are_strict_serializable() {
        let mut h = History::new();
        txn(&mut h, 1, 0, 10, Ok, json!([["w", 1, 1]]));
        txn(
            &mut h,
            2,
            20,
            30,
            Ok,
            json!([["r", 1, 1], ["w", 2, 2], ["r", 2, 2]]),
        );
        txn(
            &mut h,
            3,
            40,
            50,
            Ok,
            json!([["r", 2, 2], ["r", 1, 1], ["r", 3, null]]),
        );
        txn(&mut h, 4, 60, 70, Ok, json!([["r", 1, 1], ["w", 1, 3]]));
        for model in [
            ReadUncommitted,
            ReadCommitted,
            Serializable,
            StrictSerializable,
        ] {
            let r = rw(&h, model);
            assert!(r.is_valid(), "{model:?}: {r:?}");
        }
    }

    /// A node that applies writes before learning the transaction aborted (G1a), exposes a
    /// transaction's first write to a key it wrote twice (G1b), returns a made-up value
    /// (garbage) or ignores its own buffered write (internal).
    #[test]
    fn dirty_and_garbage_register_reads_are_flagged_by_level() {
        let mut h = History::new();
        txn(&mut h, 1, 0, 10, Fail, json!([["w", 1, 1]]));
        txn(&mut h, 2, 0, 10, Ok, json!([["w", 2, 1], ["w", 2, 2]]));
        txn(&mut h, 3, 20, 30, Ok, json!([["r", 1, 1], ["r", 2, 1]]));
        let ru = rw(&h, ReadUncommitted);
        assert!(ru.is_valid(), "{ru:?}");
        let rc = rw(&h, ReadCommitted);
        assert_eq!(rc.validity, Validity::Invalid);
        assert_eq!(names(&rc), "G1a 1, G1b 1 in 3 transactions (ReadCommitted)");

        txn(
            &mut h,
            4,
            40,
            50,
            Ok,
            json!([["r", 3, 99], ["w", 4, 1], ["r", 4, null]]),
        );
        let ru = rw(&h, ReadUncommitted);
        assert_eq!(
            names(&ru),
            "garbage 1, internal 1 in 4 transactions (ReadUncommitted)"
        );
    }

    /// Two nodes that each apply a transaction locally and read the other's replicated write
    /// before their own is visible: circular information flow (G1c).
    #[test]
    fn circular_register_reads_are_g1c() {
        let mut h = History::new();
        txn(&mut h, 1, 0, 10, Ok, json!([["w", 1, 1], ["r", 2, 2]]));
        txn(&mut h, 2, 0, 10, Ok, json!([["w", 2, 2], ["r", 1, 1]]));
        assert!(rw(&h, ReadUncommitted).is_valid());
        let r = rw(&h, ReadCommitted);
        assert!(names(&r).starts_with("G1c 1"), "{r:?}");
        assert!(r.anomalies[0].contains("-wr 2->"), "{:?}", r.anomalies);
    }

    /// Write skew and lost update, read committed but not serializable.
    #[test]
    fn write_skew_and_lost_update_are_g2() {
        let mut h = History::new();
        txn(
            &mut h,
            1,
            0,
            10,
            Ok,
            json!([["r", 1, null], ["r", 2, null], ["w", 1, 1]]),
        );
        txn(
            &mut h,
            2,
            0,
            10,
            Ok,
            json!([["r", 1, null], ["r", 2, null], ["w", 2, 2]]),
        );
        txn(&mut h, 3, 20, 30, Ok, json!([["w", 3, 1]]));
        txn(&mut h, 4, 40, 50, Ok, json!([["r", 3, 1], ["w", 3, 2]]));
        txn(&mut h, 5, 40, 50, Ok, json!([["r", 3, 1], ["w", 3, 3]]));
        assert!(rw(&h, ReadCommitted).is_valid());
        let r = rw(&h, Serializable);
        assert_eq!(names(&r), "G2 2 in 5 transactions (Serializable)", "{r:?}");
    }

    fn la(h: &History, model: TxnModel) -> CheckResult {
        check_list_append(h, model)
    }

    /// Appends seen in one order by everyone, in real-time order.
    #[test]
    fn sequential_appends_are_strict_serializable() {
        let mut h = History::new();
        txn(
            &mut h,
            1,
            0,
            10,
            Ok,
            json!([["append", 1, 1], ["r", 1, [1]]]),
        );
        txn(
            &mut h,
            2,
            20,
            30,
            Ok,
            json!([["r", 1, [1]], ["append", 1, 2], ["append", 2, 1]]),
        );
        txn(
            &mut h,
            3,
            25,
            35,
            Ok,
            json!([["r", 2, null], ["r", 1, [1]]]),
        );
        txn(
            &mut h,
            4,
            40,
            50,
            Ok,
            json!([["r", 1, [1, 2]], ["r", 2, [1]]]),
        );
        let r = la(&h, StrictSerializable);
        assert!(r.is_valid(), "{r:?}");
    }

    /// Two replicas apply appends in different orders: reads disagree on the order, or,
    /// per key consistent, the write order forms a cycle (G0).
    #[test]
    fn replicas_applying_appends_in_different_orders() {
        let mut h = History::new();
        txn(
            &mut h,
            1,
            0,
            10,
            Ok,
            json!([["append", 1, 1], ["append", 2, 1]]),
        );
        txn(
            &mut h,
            2,
            0,
            10,
            Ok,
            json!([["append", 1, 2], ["append", 2, 2]]),
        );
        txn(
            &mut h,
            3,
            20,
            30,
            Ok,
            json!([["r", 1, [1, 2]], ["r", 2, [2, 1]]]),
        );
        let r = la(&h, ReadUncommitted);
        assert_eq!(
            names(&r),
            "G0 1 in 3 transactions (ReadUncommitted)",
            "{r:?}"
        );

        txn(&mut h, 4, 40, 50, Ok, json!([["r", 1, [2, 1]]]));
        let r = la(&h, ReadUncommitted);
        assert!(names(&r).starts_with("incompatible-order 1"), "{r:?}");
    }

    /// Dirty, intermediate, garbage and own-write-blind reads of lists.
    #[test]
    fn bad_list_reads_are_flagged() {
        let mut h = History::new();
        txn(
            &mut h,
            1,
            0,
            10,
            Ok,
            json!([["append", 1, 1], ["append", 1, 2]]),
        );
        txn(&mut h, 2, 0, 10, Fail, json!([["append", 2, 1]]));
        txn(
            &mut h,
            3,
            20,
            30,
            Ok,
            json!([["r", 1, [1]], ["r", 2, [1]], ["r", 3, [42]]]),
        );
        txn(
            &mut h,
            4,
            40,
            50,
            Ok,
            json!([["append", 4, 5], ["r", 4, null]]),
        );
        txn(&mut h, 5, 40, 50, Ok, json!([["r", 5, [7, 7]]]));
        let r = la(&h, ReadCommitted);
        let expected = "G1a 1, G1b 1, duplicate 1, garbage 3, internal 1";
        assert_eq!(
            names(&r),
            format!("{expected} in 5 transactions (ReadCommitted)")
        );
    }

    /// Two transactions each read the other's append: circular information flow (G1c).
    #[test]
    fn circular_list_reads_are_g1c() {
        let mut h = History::new();
        txn(
            &mut h,
            1,
            0,
            10,
            Ok,
            json!([["append", 1, 1], ["r", 2, [1]]]),
        );
        txn(
            &mut h,
            2,
            0,
            10,
            Ok,
            json!([["append", 2, 1], ["r", 1, [1]]]),
        );
        let r = la(&h, ReadCommitted);
        assert_eq!(
            names(&r),
            "G1c 1 in 2 transactions (ReadCommitted)",
            "{r:?}"
        );
    }

    /// Write skew on lists (G2), and a stale read served by a lagging replica after the write
    /// completed: serializable, but not strict serializable.
    #[test]
    fn write_skew_and_stale_reads_need_stronger_models() {
        let mut h = History::new();
        txn(
            &mut h,
            1,
            0,
            10,
            Ok,
            json!([["r", 1, null], ["append", 2, 1]]),
        );
        txn(
            &mut h,
            2,
            0,
            10,
            Ok,
            json!([["r", 2, null], ["append", 1, 1]]),
        );
        txn(&mut h, 3, 20, 30, Ok, json!([["r", 1, [1]], ["r", 2, [1]]]));
        assert!(la(&h, ReadCommitted).is_valid());
        let r = la(&h, Serializable);
        assert_eq!(names(&r), "G2 1 in 3 transactions (Serializable)", "{r:?}");

        let mut h = History::new();
        txn(&mut h, 1, 0, 10, Ok, json!([["append", 1, 1]]));
        txn(&mut h, 2, 20, 30, Ok, json!([["r", 1, null]]));
        txn(&mut h, 3, 40, 50, Ok, json!([["r", 1, [1]]]));
        assert!(la(&h, Serializable).is_valid());
        let r = la(&sorted(h), StrictSerializable);
        assert!(names(&r).starts_with("G-single-realtime 1"), "{r:?}");
        assert!(r.anomalies[0].contains("-rt->"), "{:?}", r.anomalies);
    }

    /// Deterministic SplitMix64 for generated histories.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n
        }
    }

    /// `count` transactions from 10 clients against a correct strict-serializable store with
    /// 5 keys: each takes effect at one instant inside its interval; 2% time out (applied or
    /// not) and 2% fail (not applied). Returns the history in time order.
    fn simulate(seed: u64, count: usize, flavor: Flavor) -> History {
        let mut rng = Rng(seed);
        let mut clock = [0u64; 10];
        let mut planned = Vec::new();
        for i in 0..count {
            let process = i % clock.len();
            let start = clock[process] + 1 + rng.below(2_000);
            let effect = start + rng.below(3_000);
            let end = effect + rng.below(3_000);
            clock[process] = end;
            let outcome = match rng.below(50) {
                0 => OpKind::Info,
                1 => OpKind::Fail,
                _ => Ok,
            };
            planned.push((
                effect,
                start,
                end,
                process as u64,
                outcome,
                1 + rng.below(4),
            ));
        }
        planned.sort_by_key(|p| (p.0, p.1, p.3));
        let mut state: HashMap<u64, Vec<u64>> = HashMap::new();
        let mut next_value = 0;
        let mut events = Vec::new();
        for (_, start, end, process, outcome, size) in planned {
            let applies = outcome == Ok || (outcome == OpKind::Info && rng.below(2) == 0);
            let mut scratch = state.clone();
            let mut mops = Vec::new();
            for _ in 0..size {
                let key = rng.below(5);
                if rng.below(2) == 0 {
                    let list = scratch.get(&key).cloned().unwrap_or_default();
                    let read = match (list.last(), flavor) {
                        (None, _) => Value::Null,
                        (Some(last), Flavor::Register) => json!(last),
                        (Some(_), Flavor::List) => json!(list),
                    };
                    mops.push(json!(["r", key, read]));
                } else {
                    next_value += 1;
                    scratch.entry(key).or_default().push(next_value);
                    mops.push(json!([flavor.write_name(), key, next_value]));
                }
            }
            if applies {
                state = scratch;
            }
            events.push((
                start,
                1,
                process,
                OpKind::Invoke,
                Value::Array(mops.clone()),
            ));
            events.push((end, 0, process, outcome, Value::Array(mops)));
        }
        events.sort_by_key(|e| (e.0, e.1));
        let mut h = History::new();
        for (at, _, process, kind, mops) in events {
            let at = Instant::from_micros(at);
            match kind {
                OpKind::Invoke => h.push_invoke(process, "txn", blank_reads(mops), at, "n0"),
                kind => h.push_completion(process, kind, mops, at),
            };
        }
        h
    }

    fn blank_reads(mut mops: Value) -> Value {
        for mop in mops.as_array_mut().into_iter().flatten() {
            if mop[0] == "r" {
                mop[2] = Value::Null;
            }
        }
        mops
    }

    /// Generated correct histories pass at strict serializability, quickly; the same history
    /// with one read served stale (the first value it held) fails.
    #[test]
    fn generated_histories_are_valid_and_a_stale_read_is_caught() {
        for flavor in [Flavor::Register, Flavor::List] {
            let mut h = simulate(5, 3_000, flavor);
            let began = std::time::Instant::now();
            let r = check_txns(&h, StrictSerializable, flavor);
            assert!(r.is_valid(), "{flavor:?}: {r:?}");
            assert!(
                began.elapsed() < std::time::Duration::from_secs(2),
                "{flavor:?} slow"
            );
            let victim = (h.ops.len() * 2 / 3..h.ops.len())
                .find(|&i| {
                    let op = &h.ops[i];
                    op.kind == Ok
                        && op.value[0][0] == "r"
                        && op.value[0][2]
                            .as_array()
                            .map_or(op.value[0][2].is_number(), |l| l.len() > 1)
                })
                .unwrap_or_default();
            let stale = match flavor {
                Flavor::Register => Value::Null,
                Flavor::List => json!([h.ops[victim].value[0][2][0]]),
            };
            h.ops[victim].value[0][2] = stale;
            let r = check_txns(&h, StrictSerializable, flavor);
            assert_eq!(r.validity, Validity::Invalid, "{flavor:?}: {r:?}");
        }
    }
}
