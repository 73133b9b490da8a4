//! The dependency graph between transactions (ww, wr, rw and real-time edges), its cycle
//! search (strongly connected components, then a shortest cycle in each) and the naming of
//! the cycles found by Adya's anomalies.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Check, Txn};
use crate::sim::check::{Atom, TxnModel};
use crate::sim::history::OpKind;
use crate::time::Instant;

// Dependency kinds, as bits so a search can be limited to some of them.
pub(super) const WW: u8 = 1;
pub(super) const WR: u8 = 2;
pub(super) const RW: u8 = 4;
pub(super) const RT: u8 = 8;

/// One dependency: `to` depends on the edge's source through `kind` on `key`.
struct Edge {
    to: usize,
    kind: u8,
    key: Option<Atom>,
}

/// Transactions `0..txn_count`, then real-time barrier nodes.
pub(super) struct Graph {
    txn_count: usize,
    out: Vec<Vec<Edge>>,
}

impl Graph {
    pub(super) fn new(txn_count: usize) -> Graph {
        let out = (0..txn_count).map(|_| Vec::new()).collect();
        Graph { txn_count, out }
    }

    pub(super) fn add(&mut self, from: usize, to: usize, kind: u8, key: Option<&Atom>) {
        if from != to {
            let key = key.cloned();
            self.out[from].push(Edge { to, kind, key });
        }
    }

    /// Real-time order in O(n log n) edges: each completed transaction links to its own
    /// barrier node, barriers chain in completion order, and a transaction hangs off the last
    /// barrier completed before its invocation, so A reaches B exactly when A completed
    /// before B was invoked. Indeterminate transactions are only ever the later party.
    pub(super) fn add_real_time(&mut self, txns: &[Txn<'_>]) {
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
pub(super) fn find_cycles(check: &mut Check<'_>, graph: &Graph) {
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
