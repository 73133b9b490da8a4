//! Version orders and dependency edges: for lists, exact orders from the longest read; for
//! registers, the conservative inference described in the parent module. Adds ww, wr and rw
//! edges to the [`Graph`].

use std::collections::{BTreeMap, HashSet};

use super::graph::{Graph, RW, WR, WW};
use super::{Check, Mop, Txn};
use crate::sim::check::{list, Atom, TxnModel};
use crate::sim::history::OpKind;

/// Cap on anti-dependency edges from reads of the initial state (readers x writers per
/// key); past it edges are dropped, which can only hide cycles, never invent them.
const MAX_INITIAL_RW_EDGES: usize = 200_000;

/// Version orders, then ww, wr and rw edges, for lists.
pub(super) fn list_edges(check: &mut Check<'_>, graph: &mut Graph) {
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
pub(super) fn register_edges(check: &Check<'_>, graph: &mut Graph) {
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
