//! Maelstrom's partition nemesis: the four shapes of a cut, the grudge each one builds, and
//! the schedule of starts and stops.
//!
//! A partition is a [`Grudge`]: for each receiving node, the nodes whose messages it drops. It
//! is directional (a node may hear a peer that cannot hear it) and concerns node-to-node
//! messages only; clients and services are never cut. Each start draws one [`Shape`]
//! uniformly from the allowed ones, as Maelstrom v0.2.3 does with Jepsen's partition package:
//!
//! - [`Shape::One`]: one random node cut off from all others, both ways;
//! - [`Shape::MinorityThird`]: the first floor((n-1)/3) nodes of a shuffle cut off from the
//!   rest (nothing is cut for fewer than 4 nodes);
//! - [`Shape::Majority`]: the shuffled nodes split in half, the smaller half first;
//! - [`Shape::MajoritiesRing`]: every node sees a majority, no two the same one. Up to 5
//!   nodes, Jepsen's exact ring: shuffle, take each window of m = n/2+1 consecutive nodes
//!   around the ring; the window's middle node (index floor(m/2)) drops every node outside
//!   it. With 3 nodes every link is one-way. Above 5 nodes, Jepsen's stochastic
//!   construction: link least-connected pairs until every node reaches a majority, then
//!   drop everything else. Jepsen's construction lets two nodes end up with the same view
//!   now and then (about 13% of 7-node draws, none at 25); this one draws again then, so
//!   that no two nodes ever share a view.
//!
//! [`PartitionSchedule`] times the operations like Jepsen's `stagger` over `flip-flop`: the
//! first start comes at once, and each later operation a uniform 0 to 2 x interval after the
//! one before, starts and stops alternating. The runner applies them to the cluster and heals
//! before the final reads. This module is pure: node indexes in, grudges out, no cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::sim::rng::Rng;
use crate::time::{Duration, Instant};

/// The shape of a partition, as Jepsen names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    /// One random node cut off from all others.
    One,
    /// floor((n-1)/3) random nodes cut off from the rest.
    MinorityThird,
    /// The nodes shuffled and split in half, the smaller half first.
    Majority,
    /// Every node sees a majority, no two the same one; some links one-way.
    MajoritiesRing,
}

impl Shape {
    /// Every shape, in Jepsen's order.
    pub const ALL: [Shape; 4] = [
        Shape::One,
        Shape::MinorityThird,
        Shape::Majority,
        Shape::MajoritiesRing,
    ];

    /// Jepsen's name for it: `one`, `minority-third`, `majority`, `majorities-ring`.
    pub fn name(self) -> &'static str {
        match self {
            Shape::One => "one",
            Shape::MinorityThird => "minority-third",
            Shape::Majority => "majority",
            Shape::MajoritiesRing => "majorities-ring",
        }
    }

    /// A grudge of this shape over nodes `0..n`, drawn from `rng`.
    pub fn grudge(self, n: usize, rng: &mut Rng) -> Grudge {
        match self {
            Shape::One => one(n, rng),
            Shape::MinorityThird => minority_third(n, rng),
            Shape::Majority => majority(n, rng),
            Shape::MajoritiesRing => majorities_ring(n, rng),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(text: &str) -> Result<Shape, String> {
        Shape::ALL
            .into_iter()
            .find(|shape| shape.name() == text)
            .ok_or_else(|| {
                format!("{text}: not a partition shape (one, minority-third, majority, majorities-ring)")
            })
    }
}

/// A set of shapes a nemesis may draw from (all four by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shapes {
    bits: u8,
}

impl Shapes {
    /// All four shapes, Maelstrom's draw.
    pub const ALL: Shapes = Shapes { bits: 0b1111 };

    /// Exactly these shapes.
    pub fn only(shapes: &[Shape]) -> Shapes {
        let bits = shapes.iter().fold(0, |bits, &s| bits | Shapes::bit(s));
        Shapes { bits }
    }

    /// Whether `shape` may be drawn.
    pub fn contains(self, shape: Shape) -> bool {
        self.bits & Shapes::bit(shape) != 0
    }

    /// The shapes in the set, in [`Shape::ALL`]'s order.
    pub fn to_vec(self) -> Vec<Shape> {
        Shape::ALL
            .into_iter()
            .filter(|&s| self.contains(s))
            .collect()
    }

    fn bit(shape: Shape) -> u8 {
        1 << Shape::ALL.iter().position(|&s| s == shape).unwrap_or(0)
    }
}

impl Default for Shapes {
    fn default() -> Shapes {
        Shapes::ALL
    }
}

impl FromStr for Shapes {
    type Err = String;

    /// A comma-separated list of shape names, like `one,majorities-ring`.
    fn from_str(text: &str) -> Result<Shapes, String> {
        let shapes = text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(Shape::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if shapes.is_empty() {
            return Err("no partition shape given".to_owned());
        }
        Ok(Shapes::only(&shapes))
    }
}

/// Which node-to-node messages are dropped: for each receiving node (an index), the nodes
/// whose messages it drops. Receivers that drop nothing are not listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grudge {
    drops: BTreeMap<usize, BTreeSet<usize>>,
}

impl Grudge {
    /// A grudge that drops nothing.
    pub fn new() -> Grudge {
        Grudge::default()
    }

    /// Jepsen's complete grudge: every node drops every node outside its own component.
    /// Nodes in no component are not involved.
    pub fn complete(components: &[Vec<usize>]) -> Grudge {
        let universe: BTreeSet<usize> = components.iter().flatten().copied().collect();
        let mut grudge = Grudge::new();
        for component in components {
            for &receiver in component {
                for &sender in universe.iter().filter(|s| !component.contains(s)) {
                    grudge.add(receiver, sender);
                }
            }
        }
        grudge
    }

    /// Makes `receiver` drop messages from `sender` (a node never drops its own).
    pub fn add(&mut self, receiver: usize, sender: usize) {
        if receiver != sender {
            self.drops.entry(receiver).or_default().insert(sender);
        }
    }

    /// Whether `receiver` drops messages from `sender`.
    pub fn drops(&self, receiver: usize, sender: usize) -> bool {
        self.drops
            .get(&receiver)
            .is_some_and(|s| s.contains(&sender))
    }

    /// Whether nothing is dropped.
    pub fn is_empty(&self) -> bool {
        self.drops.is_empty()
    }

    /// Each receiver that drops something, with the senders it drops, by index.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &BTreeSet<usize>)> {
        self.drops.iter().map(|(&r, s)| (r, s))
    }

    /// The grudge with node names, for reports: `{n1: [n0], n2: [n0, n1]}`.
    pub fn describe(&self, names: &[String]) -> String {
        let entries: Vec<String> = self
            .iter()
            .map(|(r, senders)| {
                let senders: Vec<&str> = senders.iter().map(|&s| names[s].as_str()).collect();
                format!("{}: [{}]", names[r], senders.join(", "))
            })
            .collect();
        format!("{{{}}}", entries.join(", "))
    }

    /// The grudge as a JSON object with node names: `{"n1":["n0"]}`.
    pub fn to_json(&self, names: &[String]) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .iter()
            .map(|(r, senders)| {
                let senders: Vec<&str> = senders.iter().map(|&s| names[s].as_str()).collect();
                (names[r].clone(), serde_json::json!(senders))
            })
            .collect();
        serde_json::Value::Object(map)
    }
}

fn shuffled(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut nodes: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut nodes);
    nodes
}

/// Jepsen's majority: the smallest number strictly greater than half of `n`.
pub fn majority_of(n: usize) -> usize {
    n / 2 + 1
}

fn one(n: usize, rng: &mut Rng) -> Grudge {
    if n == 0 {
        return Grudge::new();
    }
    let loner = rng.below(n as u64) as usize;
    let others = (0..n).filter(|&i| i != loner).collect();
    Grudge::complete(&[vec![loner], others])
}

fn minority_third(n: usize, rng: &mut Rng) -> Grudge {
    let mut nodes = shuffled(n, rng);
    let rest = nodes.split_off(n.saturating_sub(1) / 3);
    Grudge::complete(&[nodes, rest])
}

fn majority(n: usize, rng: &mut Rng) -> Grudge {
    let mut nodes = shuffled(n, rng);
    let larger = nodes.split_off(n / 2);
    Grudge::complete(&[nodes, larger])
}

fn majorities_ring(n: usize, rng: &mut Rng) -> Grudge {
    if n <= 5 {
        return ring_perfect(n, rng);
    }
    // The stochastic construction rarely gives two nodes the same view; draw again then.
    let mut grudge = ring_stochastic(n, rng);
    for _ in 0..100 {
        if views_distinct(&grudge, n) {
            break;
        }
        grudge = ring_stochastic(n, rng);
    }
    grudge
}

/// Jepsen's exact ring: the middle node of each window of a majority drops the rest.
fn ring_perfect(n: usize, rng: &mut Rng) -> Grudge {
    let ring = shuffled(n, rng);
    let m = majority_of(n);
    let mut grudge = Grudge::new();
    for start in 0..n {
        let window: Vec<usize> = (0..m).map(|j| ring[(start + j) % n]).collect();
        let middle = window[m / 2];
        for &outsider in ring.iter().filter(|node| !window.contains(node)) {
            grudge.add(middle, outsider);
        }
    }
    grudge
}

/// Jepsen's stochastic ring: repeatedly link a least-connected node to the least-connected
/// node it is not linked to yet (ties broken at random), until every node is linked to a
/// majority (itself included); then each node drops every node it is not linked to.
fn ring_stochastic(n: usize, rng: &mut Rng) -> Grudge {
    let m = majority_of(n);
    let mut links: Vec<BTreeSet<usize>> = (0..n).map(|i| BTreeSet::from([i])).collect();
    loop {
        let mut order = shuffled(n, rng);
        // Stable sort: a shuffled order within each degree.
        order.sort_by_key(|&node| links[node].len());
        let a = order[0];
        if links[a].len() >= m {
            break;
        }
        let Some(&b) = order.iter().find(|b| !links[a].contains(b)) else {
            break;
        };
        links[a].insert(b);
        links[b].insert(a);
    }
    let mut grudge = Grudge::new();
    for (receiver, linked) in links.iter().enumerate() {
        for sender in (0..n).filter(|s| !linked.contains(s)) {
            grudge.add(receiver, sender);
        }
    }
    grudge
}

/// The nodes `receiver` hears under `grudge` (itself included).
pub fn view(grudge: &Grudge, n: usize, receiver: usize) -> BTreeSet<usize> {
    (0..n).filter(|&s| !grudge.drops(receiver, s)).collect()
}

fn views_distinct(grudge: &Grudge, n: usize) -> bool {
    let views: BTreeSet<BTreeSet<usize>> = (0..n).map(|r| view(grudge, n, r)).collect();
    views.len() == n
}

/// One nemesis operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NemesisOp {
    /// Cut the network with this grudge, of this shape.
    Start {
        /// The shape drawn.
        shape: Shape,
        /// The links it cuts.
        grudge: Grudge,
    },
    /// Heal every link.
    Stop,
}

/// Maelstrom's partition schedule: starts and stops alternating, a start first and at once,
/// then each operation a uniform 0 to 2 x `interval` after the previous one (at least 1 µs).
#[derive(Clone, Debug)]
pub struct PartitionSchedule {
    interval: Duration,
    shapes: Vec<Shape>,
    rng: Rng,
    next_at: Instant,
    started: bool,
}

impl PartitionSchedule {
    /// A schedule whose first start is at `start`, drawing from `shapes` (all four if
    /// empty) with `rng`.
    pub fn new(start: Instant, interval: Duration, shapes: Shapes, rng: Rng) -> Self {
        let mut shapes = shapes.to_vec();
        if shapes.is_empty() {
            shapes = Shape::ALL.to_vec();
        }
        PartitionSchedule {
            interval,
            shapes,
            rng,
            next_at: start,
            started: false,
        }
    }

    /// When the next operation is due.
    pub fn next_at(&self) -> Instant {
        self.next_at
    }

    /// The next operation over nodes `0..node_count`; schedules the one after it.
    pub fn next_op(&mut self, node_count: usize) -> NemesisOp {
        let op = if self.started {
            NemesisOp::Stop
        } else {
            let pick = self.rng.below(self.shapes.len() as u64) as usize;
            let shape = self.shapes[pick];
            let grudge = shape.grudge(node_count, &mut self.rng);
            NemesisOp::Start { shape, grudge }
        };
        self.started = !self.started;
        let span = self.interval.as_micros().saturating_mul(2);
        // At least a microsecond, so that a zero interval cannot stop the clock.
        let gap = if span == 0 { 0 } else { self.rng.below(span) };
        self.next_at += Duration::from_micros(gap.max(1));
        op
    }
}

#[cfg(test)]
mod tests;
