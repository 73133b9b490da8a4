//! Mutation tests: deliberately broken variants of the example nodes, one plausible bug each,
//! across workloads. The simulator must judge every one invalid within a few seeds, as
//! Maelstrom does, while the unbroken example nodes stay valid under the same settings.
//!
//! One mutant is wrong only when links are one-way (Maelstrom's `majorities-ring` partition):
//! it takes hearing from a peer as proof that the peer hears it. Under symmetric cuts it
//! passes; under the 3-node ring it loses values for good. That pair of runs is the proof
//! that the simulator's partitions are directional, as Maelstrom's are.
//!
//! The file also runs the unbroken examples under each partition shape alone, and shrinks a
//! mutant's failing run to its smallest (`sim::shrink`).

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/broadcast.rs"]
mod broadcast;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/g_counter.rs"]
mod g_counter;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/g_set.rs"]
mod g_set;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/kafka.rs"]
mod kafka;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/lin_kv.rs"]
mod lin_kv;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/txn_list_append.rs"]
mod txn_list_append;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/txn_rw_register.rs"]
mod txn_rw_register;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/unique_ids.rs"]
mod unique_ids;

use std::collections::{BTreeMap, BTreeSet};

use maelstrom_loop::kv::Kv;
use maelstrom_loop::sim::nemesis::{Shape, Shapes};
use maelstrom_loop::sim::report::Report;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::sim::shrink::{rerun_command, shrink, Failure};
use maelstrom_loop::{Ctx, Duration, Error, Handler, Instant, Message};
use serde_json::{json, Value};

/// Seeds a mutant gets to show its bug.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=4;

fn challenge(name: &str, seed: u64) -> RunConfig {
    let mut config = RunConfig::challenge(name).expect("known challenge");
    config.seed = seed;
    config
}

/// Runs `row` over [`SEEDS`] and returns the first invalid report, or panics naming the
/// mutant the simulator let through.
fn first_failure<H: Handler>(
    mutant: &str,
    config: impl Fn(u64) -> RunConfig,
    make: impl Fn() -> H,
) -> Report {
    for seed in SEEDS {
        let report = run(&config(seed), |_| make());
        if !report.is_valid() {
            return report;
        }
    }
    panic!("mutant `{mutant}` passed every seed in {SEEDS:?}");
}

/// Asserts that `mutant` fails its row within a few seeds, and that the checker (not only a
/// protocol check) says why.
fn assert_caught<H: Handler>(
    mutant: &str,
    config: impl Fn(u64) -> RunConfig,
    make: impl Fn() -> H,
) {
    let report = first_failure(mutant, config, make);
    eprintln!(
        "MUTANT {mutant} seed {}: {}",
        report.seed, report.check.summary
    );
    assert!(
        report.protocol_errors.is_empty(),
        "`{mutant}` should fail the checker, not the protocol: {report}"
    );
}

// ---- unique-ids: a counter every node starts at zero ----------------------------------------

/// The unique-ids node without its node-id prefix: ids collide across nodes.
#[derive(Default)]
struct CounterIds(u64);

impl Handler for CounterIds {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        self.0 += 1;
        ctx.reply(msg, &json!({"type": "generate_ok", "id": self.0}))
    }
}

#[test]
fn ids_without_the_node_id_collide() {
    assert_caught("counter ids", |s| challenge("2", s), CounterIds::default);
}

// ---- broadcast: gossip once, never retry -------------------------------------------------------

/// A broadcast node that forwards each new value once to every peer and never retries: a
/// value sent into a partition is lost for good.
#[derive(Default)]
struct FireAndForget {
    seen: BTreeSet<u64>,
}

impl Handler for FireAndForget {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "topology" => ctx.reply(msg, &json!({"type": "topology_ok"})),
            "read" => ctx.reply(msg, &json!({"type": "read_ok", "messages": self.seen})),
            "broadcast" => {
                let value: u64 = msg.field("message")?;
                if self.seen.insert(value) {
                    for peer in ctx.peers().to_vec() {
                        ctx.send(&peer, &json!({"type": "relay", "message": value}))?;
                    }
                }
                ctx.reply(msg, &json!({"type": "broadcast_ok"}))
            }
            "relay" => {
                self.seen.insert(msg.field("message")?);
                Ok(())
            }
            other => Err(Error::unsupported_type(other)),
        }
    }
}

#[test]
fn broadcast_without_retries_loses_values_to_partitions() {
    assert_caught(
        "fire and forget",
        |s| challenge("3c", s),
        FireAndForget::default,
    );
}

// ---- broadcast: hearing from a peer taken as proof it hears us -------------------------------

/// How often the failure-detector node gossips (and so proves it is alive).
const TICK: Duration = Duration::from_millis(50);
/// Silence from a peer for this long marks it down.
const SUSPECT_AFTER: Duration = Duration::from_millis(300);
/// When a peer goes down, values sent to it since it was last heard, less this margin, are
/// sent again once it is back: generous against in-flight messages on symmetric links.
const REQUEUE_MARGIN: Duration = Duration::from_secs(1);

/// `at` less `by`, or time zero.
fn earlier(at: Instant, by: Duration) -> Instant {
    Instant::from_micros(at.as_micros().saturating_sub(by.as_micros()))
}

/// Per peer: when it was last heard, what it still needs, and what was sent to it lately.
#[derive(Default)]
struct PeerState {
    last_heard: Option<Instant>,
    up: bool,
    pending: BTreeSet<u64>,
    sent: Vec<(Instant, u64)>,
}

impl PeerState {
    /// Owes the peer again every value sent to it since `since`.
    fn requeue_since(&mut self, since: Instant) {
        let resend = self.sent.iter().filter(|(at, _)| *at >= since);
        self.pending.extend(resend.map(|&(_, v)| v));
    }
}

/// A broadcast node with no acknowledgements: it sends each of its clients' values straight
/// to every peer (no relaying) and counts a value as delivered once sent to a peer it has
/// heard from lately. When a peer falls silent (for longer than two ticks) it sends the
/// recent values again once the peer is heard from. On symmetric links that is enough,
/// short of a cut briefer than a tick: if a peer's messages get through, so do ours. On a
/// one-way link (Maelstrom's 3-node majorities ring) the peer is heard but never hears us, so
/// the values are lost.
#[derive(Default)]
struct TrustsWhatItHears {
    seen: BTreeSet<u64>,
    peers: BTreeMap<String, PeerState>,
}

impl TrustsWhatItHears {
    /// Notes a message from `peer`. A silence longer than two ticks means the peer was cut
    /// off for a while, so what was sent to it meanwhile goes out again: on symmetric links a
    /// cut long enough to drop our batches also drops the peer's own.
    fn mark_heard(&mut self, peer: &str, now: Instant) {
        let state = self.peers.entry(peer.to_owned()).or_default();
        if let Some(heard) = state.last_heard {
            if now.saturating_duration_since(heard) > TICK.saturating_mul(2) {
                state.requeue_since(earlier(heard, REQUEUE_MARGIN));
            }
        }
        state.last_heard = Some(now);
        state.up = true;
    }

    /// Marks silent peers down, putting back what was sent to them since they went quiet.
    fn detect(&mut self, now: Instant) {
        for state in self.peers.values_mut() {
            let Some(heard) = state.last_heard else {
                continue;
            };
            if state.up && now.saturating_duration_since(heard) > SUSPECT_AFTER {
                state.up = false;
                state.requeue_since(earlier(heard, REQUEUE_MARGIN));
            }
            let keep_from = earlier(now, SUSPECT_AFTER + REQUEUE_MARGIN.saturating_mul(2));
            state.sent.retain(|(at, _)| *at >= keep_from);
        }
    }
}

impl Handler for TrustsWhatItHears {
    type Timer = ();

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        for peer in ctx.peers() {
            self.peers.insert(peer.clone(), PeerState::default());
        }
        ctx.set_interval(TICK, ());
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "topology" => ctx.reply(msg, &json!({"type": "topology_ok"})),
            "read" => ctx.reply(msg, &json!({"type": "read_ok", "messages": self.seen})),
            "broadcast" => {
                let value: u64 = msg.field("message")?;
                if self.seen.insert(value) {
                    for state in self.peers.values_mut() {
                        state.pending.insert(value);
                    }
                }
                ctx.reply(msg, &json!({"type": "broadcast_ok"}))
            }
            "gossip" => {
                let values: Vec<u64> = msg.field("values")?;
                self.seen.extend(values);
                self.mark_heard(msg.src(), ctx.now());
                Ok(())
            }
            other => Err(Error::unsupported_type(other)),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, (): ()) -> Result<(), Error> {
        let now = ctx.now();
        self.detect(now);
        for (peer, state) in &mut self.peers {
            let mut values = Vec::new();
            if state.up {
                values.extend(std::mem::take(&mut state.pending));
                state.sent.extend(values.iter().map(|&v| (now, v)));
            }
            ctx.send(peer, &json!({"type": "gossip", "values": values}))?;
        }
        Ok(())
    }
}

// ---- g-set: no replication ---------------------------------------------------------------------

/// The g-set node with its gossip forgotten: each node knows only its own clients' elements.
#[derive(Default)]
struct LocalSet(BTreeSet<u64>);

impl Handler for LocalSet {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "add" => {
                self.0.insert(msg.field("element")?);
                ctx.reply(msg, &json!({"type": "add_ok"}))
            }
            "read" => ctx.reply(msg, &json!({"type": "read_ok", "value": self.0})),
            other => Err(Error::unsupported_type(other)),
        }
    }
}

#[test]
fn a_set_that_never_gossips_loses_elements() {
    assert_caught("local set", |s| challenge("g-set", s), LocalSet::default);
}

// ---- g-counter: compare-and-set on seq-kv, read straight from seq-kv -------------------------

/// The common g-counter on `seq-kv`: adds by compare-and-set (correct), reads by a plain
/// `seq-kv` read, which may return any state since the one this node last saw: a node that
/// stopped writing can read a stale total for ever, and the final reads disagree.
#[derive(Default)]
struct SeqKvCounter;

impl Handler for SeqKvCounter {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let origin = msg.origin();
        match msg.kind() {
            "add" => {
                let delta: i64 = msg.field("delta")?;
                let add = move |v: &i64| v + delta;
                Kv::seq().update(
                    ctx,
                    "counter",
                    0_i64,
                    add,
                    100,
                    move |_, ctx, done| match done {
                        Ok(_) => ctx.reply(&origin, &json!({"type": "add_ok"})),
                        Err(e) => Err(e),
                    },
                )?;
                Ok(())
            }
            "read" => {
                Kv::seq().read_or(ctx, "counter", 0_i64, move |_, ctx, value| {
                    ctx.reply(&origin, &json!({"type": "read_ok", "value": value?}))
                })?;
                Ok(())
            }
            other => Err(Error::unsupported_type(other)),
        }
    }
}

#[test]
fn a_counter_that_reads_seq_kv_directly_reads_stale_totals() {
    assert_caught("seq-kv counter", |s| challenge("4", s), || SeqKvCounter);
}

// ---- pn-counter: negative deltas dropped -------------------------------------------------------

/// A pn-counter built from a single grow-only counter: negative deltas are acknowledged but
/// clamped to zero. Replicated correctly (by full-state gossip), wrong in value.
#[derive(Default)]
struct GrowOnlyPn {
    counts: BTreeMap<String, i64>,
}

impl Handler for GrowOnlyPn {
    type Timer = ();

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        ctx.set_interval(Duration::from_millis(100), ());
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "add" => {
                let delta: i64 = msg.field("delta")?;
                *self.counts.entry(ctx.node_id().to_owned()).or_default() += delta.max(0);
                ctx.reply(msg, &json!({"type": "add_ok"}))
            }
            "read" => {
                let total: i64 = self.counts.values().sum();
                ctx.reply(msg, &json!({"type": "read_ok", "value": total}))
            }
            "state" => {
                let counts: BTreeMap<String, i64> = msg.field("counts")?;
                for (node, count) in counts {
                    let mine = self.counts.entry(node).or_default();
                    *mine = (*mine).max(count);
                }
                Ok(())
            }
            other => Err(Error::unsupported_type(other)),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, (): ()) -> Result<(), Error> {
        for peer in ctx.peers().to_vec() {
            ctx.send(&peer, &json!({"type": "state", "counts": self.counts}))?;
        }
        Ok(())
    }
}

#[test]
fn a_pn_counter_that_drops_decrements_is_caught() {
    assert_caught(
        "grow-only pn",
        |s| challenge("pn-counter", s),
        GrowOnlyPn::default,
    );
}

// ---- kafka: every node hands out offsets on its own --------------------------------------------

/// The kafka node without its owner rule: each node keeps its own log per key and assigns
/// offsets locally, so two nodes hand out the same offsets for different messages, and a
/// poll on one node misses what the other acknowledged.
#[derive(Default)]
struct LocalLogs {
    logs: BTreeMap<String, Vec<Value>>,
    committed: BTreeMap<String, u64>,
}

impl LocalLogs {
    fn poll(&self, offsets: &BTreeMap<String, u64>) -> BTreeMap<String, Vec<(u64, Value)>> {
        let mut msgs = BTreeMap::new();
        for (key, &from) in offsets {
            let log = self.logs.get(key).map(Vec::as_slice).unwrap_or_default();
            let entries = (from..log.len() as u64)
                .take(10)
                .map(|o| (o, log[o as usize].clone()))
                .collect();
            msgs.insert(key.clone(), entries);
        }
        msgs
    }
}

impl Handler for LocalLogs {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "send" => {
                let key: String = msg.field("key")?;
                let log = self.logs.entry(key).or_default();
                log.push(msg.field("msg")?);
                let offset = log.len() - 1;
                ctx.reply(msg, &json!({"type": "send_ok", "offset": offset}))
            }
            "poll" => {
                let msgs = self.poll(&msg.field("offsets")?);
                ctx.reply(msg, &json!({"type": "poll_ok", "msgs": msgs}))
            }
            "commit_offsets" => {
                let offsets: BTreeMap<String, u64> = msg.field("offsets")?;
                self.committed.extend(offsets);
                ctx.reply(msg, &json!({"type": "commit_offsets_ok"}))
            }
            "list_committed_offsets" => {
                let keys: Vec<String> = msg.field("keys")?;
                let offsets: BTreeMap<&String, u64> = keys
                    .iter()
                    .filter_map(|k| self.committed.get(k).map(|&o| (k, o)))
                    .collect();
                let body = json!({"type": "list_committed_offsets_ok", "offsets": offsets});
                ctx.reply(msg, &body)
            }
            other => Err(Error::unsupported_type(other)),
        }
    }
}

#[test]
fn kafka_logs_kept_per_node_are_caught() {
    assert_caught("local logs", |s| challenge("5b", s), LocalLogs::default);
}

// ---- transactions: each node its own store; aborts that keep their writes ------------------

/// Executes transactions on a local map and never replicates: on two nodes, each client sees
/// a different history of the same keys. With `KEEP_ABORTED`, it also answers every
/// transaction of three or more operations with a definite abort (code 30) after applying
/// its writes, so later reads see writes of failed transactions (G1a, aborted read).
#[derive(Default)]
struct SeparateStores<const KEEP_ABORTED: bool> {
    registers: BTreeMap<u64, Value>,
}

impl<const KEEP_ABORTED: bool> SeparateStores<KEEP_ABORTED> {
    fn execute(&mut self, ops: Vec<(String, u64, Value)>) -> Vec<Value> {
        let mut done = Vec::with_capacity(ops.len());
        for (f, key, value) in ops {
            match f.as_str() {
                "r" => {
                    let read = self.registers.get(&key).cloned().unwrap_or(Value::Null);
                    done.push(json!([f, key, read]));
                }
                "append" => {
                    let list = self.registers.entry(key).or_insert_with(|| json!([]));
                    if let Value::Array(items) = list {
                        items.push(value.clone());
                    }
                    done.push(json!([f, key, value]));
                }
                _ => {
                    self.registers.insert(key, value.clone());
                    done.push(json!([f, key, value]));
                }
            }
        }
        done
    }
}

impl<const KEEP_ABORTED: bool> Handler for SeparateStores<KEEP_ABORTED> {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "txn" => {
                let done = self.execute(msg.field("txn")?);
                if KEEP_ABORTED && done.len() >= 3 {
                    let code = maelstrom_loop::ErrorCode::TxnConflict;
                    return Err(Error::new(code, "aborted (its writes stay)"));
                }
                ctx.reply(msg, &json!({"type": "txn_ok", "txn": done}))
            }
            other => Err(Error::unsupported_type(other)),
        }
    }
}

#[test]
fn list_append_on_separate_stores_is_caught() {
    assert_caught(
        "separate list stores",
        |s| challenge("txn-list-append", s),
        SeparateStores::<false>::default,
    );
}

#[test]
fn aborted_writes_that_stay_visible_are_caught_under_read_committed() {
    assert_caught(
        "aborts keep writes",
        |s| challenge("6c", s),
        SeparateStores::<true>::default,
    );
}

// ---- lin-kv: reads served by whichever node the client asked ---------------------------------

/// A lin-kv node that keeps a local map and tells the others about writes by gossip: reads
/// on another node are stale until the gossip lands (eventual, not linearizable).
#[derive(Default)]
struct GossipedRegisters {
    values: BTreeMap<u64, Value>,
}

impl Handler for GossipedRegisters {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "read" => match self.values.get(&msg.field::<u64>("key")?) {
                Some(value) => ctx.reply(msg, &json!({"type": "read_ok", "value": value})),
                None => Err(Error::new(
                    maelstrom_loop::ErrorCode::KeyDoesNotExist,
                    "not here",
                )),
            },
            "write" => {
                let (key, value): (u64, Value) = (msg.field("key")?, msg.field("value")?);
                self.values.insert(key, value.clone());
                for peer in ctx.peers().to_vec() {
                    ctx.send(&peer, &json!({"type": "set", "key": key, "value": value}))?;
                }
                ctx.reply(msg, &json!({"type": "write_ok"}))
            }
            "cas" => {
                let key: u64 = msg.field("key")?;
                let (from, to): (Value, Value) = (msg.field("from")?, msg.field("to")?);
                match self.values.get(&key) {
                    None => Err(Error::new(
                        maelstrom_loop::ErrorCode::KeyDoesNotExist,
                        "not here",
                    )),
                    Some(v) if *v != from => Err(Error::new(
                        maelstrom_loop::ErrorCode::PreconditionFailed,
                        "differs",
                    )),
                    Some(_) => {
                        self.values.insert(key, to.clone());
                        for peer in ctx.peers().to_vec() {
                            ctx.send(&peer, &json!({"type": "set", "key": key, "value": to}))?;
                        }
                        ctx.reply(msg, &json!({"type": "cas_ok"}))
                    }
                }
            }
            "set" => {
                self.values.insert(msg.field("key")?, msg.field("value")?);
                Ok(())
            }
            other => Err(Error::unsupported_type(other)),
        }
    }
}

#[test]
fn gossiped_registers_are_not_linearizable() {
    assert_caught(
        "gossiped registers",
        |s| challenge("lin-kv", s),
        GossipedRegisters::default,
    );
}

/// `row` with partitions drawn from `shape` alone, on `nodes` nodes (concurrency scaled as
/// the suite's `--node-count` scales it).
fn under(row: &str, shape: Shape, nodes: usize, seed: u64) -> RunConfig {
    let mut config = challenge(row, seed);
    let per_node = config.concurrency.div_ceil(config.node_count);
    config.node_count = nodes;
    config.concurrency = per_node * nodes;
    config.targets = None;
    config.nemesis = Nemesis::Partition {
        interval: Nemesis::DEFAULT_INTERVAL,
        shapes: Shapes::only(&[shape]),
    };
    config
}

#[test]
fn trusting_what_it_hears_is_right_on_symmetric_links() {
    for shape in [Shape::One, Shape::Majority] {
        for seed in SEEDS {
            let config = under("3c", shape, 5, seed);
            let report = run(&config, |_| TrustsWhatItHears::default());
            assert!(report.is_valid(), "{shape}: {report}");
        }
    }
}

/// Only the 3-node ring has one-way links: at 5 nodes each node drops its two
/// non-neighbours and they drop it, a symmetric cut (Jepsen's construction).
#[test]
fn trusting_what_it_hears_loses_values_on_one_way_links() {
    assert_caught(
        "trusts what it hears",
        |s| under("3c", Shape::MajoritiesRing, 3, s),
        TrustsWhatItHears::default,
    );
}

// ---- the unbroken nodes under every shape --------------------------------------------------

/// Seeds per (row, shape) at 3 and 5 nodes; 25 nodes get the first of them.
const SHAPE_SEEDS: std::ops::RangeInclusive<u64> = 1..=20;

/// Runs every example that a partition can hurt under `shape` at 3 and 5 nodes (20 seeds)
/// and 25 nodes (one seed), and asserts each run valid.
fn examples_stay_valid_under(shape: Shape) {
    type RunFn = fn(&RunConfig) -> Report;
    let rows: [(&str, RunFn); 9] = [
        ("2", |c| run(c, |_| unique_ids::UniqueIds::default())),
        ("3c", |c| run(c, |_| broadcast::Broadcast::default())),
        ("g-set", |c| run(c, |_| g_set::GSet::default())),
        ("4", |c| run(c, |_| g_counter::GCounter::default())),
        ("5b", |c| run(c, |_| kafka::Kafka::default())),
        ("6b", |c| {
            run(c, |_| txn_rw_register::TxnRwRegister::default())
        }),
        ("6c", |c| {
            run(c, |_| txn_rw_register::TxnRwRegister::default())
        }),
        ("lin-kv", |c| run(c, |_| lin_kv::Raft::default())),
        ("txn-list-append", |c| {
            run(c, |_| txn_list_append::TxnListAppend::default())
        }),
    ];
    let runs = [(3, SHAPE_SEEDS), (5, SHAPE_SEEDS), (25, 1..=1)];
    for (row, run_row) in rows {
        for (nodes, seeds) in runs.clone() {
            for seed in seeds {
                let mut config = under(row, shape, nodes, seed);
                // Shorter runs: the shapes, not the load, are under test here.
                config.time_limit = maelstrom_loop::Duration::from_secs(10);
                let report = run_row(&config);
                if unavailable_by_design(row, shape, nodes) {
                    assert_only_unavailable(&report);
                    continue;
                }
                assert!(
                    report.is_valid(),
                    "{row} under {shape}, {nodes} nodes: {report}"
                );
            }
        }
    }
}

/// On the 3-node majorities ring every link is one-way, so no request and its reply both
/// arrive: Raft can neither elect a leader nor commit while it holds (the README gives the
/// figures). A run the ring covers whole has no successful operation, which Jepsen's stats
/// checker fails, in Maelstrom as here.
fn unavailable_by_design(row: &str, shape: Shape, nodes: usize) -> bool {
    row == "lin-kv" && shape == Shape::MajoritiesRing && nodes == 3
}

/// The run is linearizable and broke no protocol; at worst nothing succeeded.
fn assert_only_unavailable(report: &Report) {
    assert!(report.protocol_errors.is_empty(), "{report}");
    let only_stats =
        (report.check.anomalies.iter()).all(|a| a.detail.contains("operation succeeded"));
    assert!(only_stats, "{report}");
}

#[test]
fn examples_stay_valid_when_one_node_is_cut_off() {
    examples_stay_valid_under(Shape::One);
}

#[test]
fn examples_stay_valid_when_a_third_is_cut_off() {
    examples_stay_valid_under(Shape::MinorityThird);
}

#[test]
fn examples_stay_valid_when_the_cluster_is_halved() {
    examples_stay_valid_under(Shape::Majority);
}

#[test]
fn examples_stay_valid_on_a_one_way_majorities_ring() {
    examples_stay_valid_under(Shape::MajoritiesRing);
}

// ---- shrinking a mutant's failing run (`sim::shrink`) -------------------------------------

#[test]
fn a_failing_run_shrinks_to_a_tenth_of_its_operations_and_still_fails() {
    let config = RunConfig::challenge("g-set").unwrap();
    let shrunk = shrink(&config, |c| run(c, |_| LocalSet::default())).expect("it fails");
    assert_eq!(shrunk.failure, Failure::Checker);
    assert!(!shrunk.report.is_valid(), "{}", shrunk.report);
    let (before, after) = (shrunk.original.ops, shrunk.size().ops);
    assert!(after * 10 < before, "{before} ops shrank only to {after}");
    let smallest = &shrunk.smallest;
    assert_eq!(smallest.node_count, 2, "one node is correct, two are not");
    assert_eq!(
        smallest.nemesis,
        Nemesis::None,
        "the bug needs no partition"
    );
    assert_eq!(smallest.seed, config.seed);
    assert!(shrunk.steps.iter().any(|s| s.kept) && shrunk.steps.iter().any(|s| !s.kept));
    // The command reruns exactly the smallest run.
    let command = rerun_command(smallest);
    assert!(
        command.contains("--only g-set --seed 1 --node-count 2"),
        "{command}"
    );
    assert!(command.contains("--nemesis none"), "{command}");
    // Deterministic: the same search finds the same run.
    let again = shrink(&config, |c| run(c, |_| LocalSet::default())).unwrap();
    assert_eq!(again.smallest, shrunk.smallest);
    assert_eq!(again.steps, shrunk.steps);
}

#[test]
fn a_passing_run_has_nothing_to_shrink() {
    let mut config = RunConfig::challenge("g-set").unwrap();
    config.node_count = 1;
    config.concurrency = 1;
    assert!(shrink(&config, |c| run(c, |_| LocalSet::default())).is_none());
}
