//! The broadcast node (Gossip Glomers 3a-3e, Maelstrom's docs "Workloads": broadcast) through
//! the simulator with fixed seeds: valid everywhere, partitions included, and within the 3d
//! and 3e targets with a margin; plus harsher runs than the challenge lines.

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/broadcast.rs"]
mod broadcast;
mod harness;

use broadcast::Broadcast;
use harness::Router;
use maelstrom_loop::sim::net::Latency;
use maelstrom_loop::sim::report::Report;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::Duration;
use serde_json::{json, Value};

fn challenge(name: &str, seed: u64) -> Report {
    let mut config = RunConfig::challenge(name).expect("known challenge");
    config.seed = seed;
    run(&config, |_| Broadcast::default())
}

#[test]
fn parts_a_b_c_are_valid_including_under_partitions() {
    for seed in [1, 2, 3] {
        for name in ["3a", "3b", "3c"] {
            let report = challenge(name, seed);
            assert!(report.is_valid(), "{report}");
        }
    }
}

/// 3d: msgs-per-op < 30, median < 400 ms, max < 600 ms; 3e: msgs-per-op < 20, median < 1 s,
/// max < 2 s. The node aims beyond both at once, at 3d's settings: at most 4 messages per
/// operation, a median stable latency of at most 300 ms and a maximum of at most 600 ms.
#[test]
fn part_d_at_the_frontier_four_messages_per_op_300_ms_median_600_ms_max() {
    for seed in 1..=4 {
        let report = challenge("3d", seed);
        assert!(report.is_valid(), "{report}");
        assert!(report.msgs_per_op <= 4.0, "{report}");
        assert!(report.latency_us_p50 <= 300_000, "{report}");
        assert!(report.latency_us_max <= 600_000, "{report}");
    }
    let report = challenge("3e", 5);
    assert!(report.is_valid(), "{report}");
}

#[test]
fn harsher_than_the_challenge_50_nodes_exponential_latency_and_partitions() {
    let mut config = RunConfig::challenge("3d").unwrap();
    config.node_count = 50;
    config.concurrency = 50;
    config.latency = Latency::Exponential {
        mean: Duration::from_millis(100),
    };
    config.nemesis = Nemesis::partition(Duration::from_secs(4));
    config.targets = None; // 3d's latency targets are for its own settings, without faults
    let report = run(&config, |_| Broadcast::default());
    assert!(report.is_valid(), "{report}");
    eprintln!("{report}");
}

#[test]
fn a_single_node_needs_no_peers() {
    let report = challenge("3a", 7);
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.msgs_per_op, 0.0);
}

fn broadcast(router: &mut Router<Broadcast>, node: usize, message: u64) {
    let reply = router.request(node, json!({"type": "broadcast", "message": message}));
    assert_eq!(reply["type"], "broadcast_ok", "{reply}");
    assert_eq!(reply.as_object().unwrap().len(), 3, "schema: {reply}");
}

/// Regression: acks were RPC replies with an 800 ms timeout, so with a round trip longer
/// than that (here 1.2 s: `--latency 600`) every ack was dropped as late, every value was
/// resent every 800 ms forever, and msgs-per-op tripled. Acks are now messages of their
/// own: a late one still settles its values, and the cluster goes quiet.
#[test]
fn late_acks_still_count_so_a_slow_network_goes_quiet() {
    let mut router = Router::new(5, Duration::from_millis(600), |_| Broadcast::default());
    for message in 0..20 {
        broadcast(&mut router, 1 + message as usize % 4, message);
        router.run_for(Duration::from_millis(50));
    }
    router.run_for(Duration::from_secs(6));
    for node in 0..5 {
        assert_eq!(router.handler(node).values().len(), 20, "n{node}");
        assert_eq!(router.handler(node).unacknowledged(), 0, "n{node}");
    }
    let delivered = router.delivered;
    router.run_for(Duration::from_secs(5));
    assert_eq!(
        router.delivered, delivered,
        "nothing is resent once acknowledged"
    );
}

/// The same at the simulator's 3d settings with `--latency 500` (round trip 1 s, the resend
/// period): msgs-per-op stays near the 100 ms figure (it was 24, over 3e's 20).
#[test]
fn part_e_message_budget_holds_with_half_second_latency() {
    let mut config = RunConfig::challenge("3e").unwrap();
    config.latency = Latency::Fixed(Duration::from_millis(500));
    config.targets = None; // 3e's latency targets assume 100 ms; the budget is asserted below
    let report = run(&config, |_| Broadcast::default());
    assert!(report.is_valid(), "{report}");
    assert!(report.msgs_per_op < 12.0, "{report}");
}

/// Hostile input (Maelstrom's docs "Errors"): gossip from a client or a stranger is refused
/// with code 10 and changes nothing; malformed gossip from a peer gets code 12.
#[test]
fn gossip_from_outside_the_cluster_is_refused() {
    let mut router = Router::new(3, Duration::from_millis(5), |_| Broadcast::default());
    let line = |src: &str, kind: &str, values: Value| {
        let body = json!({"type": kind, "msg_id": 9, "start": 0, "values": values, "ack": 0});
        json!({"src": src, "dest": "n0", "body": body}).to_string()
    };
    for (src, kind, values, code) in [
        ("c1", "gossip", json!([1]), 10),
        ("n9", "gossip", json!([2]), 10),
        ("n0", "gossip", json!([3]), 10),
        ("c1", "gossip_ok", json!([4]), 10),
        ("n1", "gossip", json!(["x"]), 12),
        ("n1", "gossip", json!([-1]), 12),
        ("n1", "gossip", json!({}), 12),
    ] {
        let out = router.raw(0, &line(src, kind, values));
        assert_eq!(out.len(), 1, "{src} {kind}: {out:?}");
        assert_eq!(out[0]["dest"], src, "{out:?}");
        assert_eq!(out[0]["body"]["code"], code, "{src} {kind}: {out:?}");
    }
    let missing_ack = json!({"src": "n1", "dest": "n0",
        "body": {"type": "gossip", "msg_id": 9, "start": 0, "values": [5]}});
    let out = router.raw(0, &missing_ack.to_string());
    assert_eq!(out[0]["body"]["code"], 12, "{out:?}");
    assert!(router.handler(0).values().is_empty());
    // A run that starts at the very top of the log numbering is learned, and breaks nothing.
    let top = json!({"src": "n2", "dest": "n0",
        "body": {"type": "gossip", "msg_id": 9, "start": u64::MAX, "values": [6], "ack": 0}});
    assert!(router.raw(0, &top.to_string()).is_empty());
    assert_eq!(router.handler(0).values().len(), 1);
}

/// Fires `node`'s next timer and returns what it sent, bodies without their `msg_id`.
fn tick(router: &mut Router<Broadcast>, node: usize) -> Vec<Value> {
    let at = router.nodes[node].next_deadline().expect("a tick");
    router.nodes[node].handle_timeout(at);
    let out = String::from_utf8(router.nodes[node].output().to_vec()).unwrap();
    router.nodes[node].clear_output();
    let parse = |line: &str| {
        let mut m: Value = serde_json::from_str(line).unwrap();
        assert!(m["body"].get("in_reply_to").is_none(), "not a reply: {m}");
        m["body"].as_object_mut().unwrap().remove("msg_id");
        m
    };
    out.lines().map(parse).collect()
}

/// A peer's gossip is learned at once and acknowledged on the hub's next tick by a message
/// of its own, whose cumulative ack counts the runs received without a gap; the other leaf
/// gets the values, numbered from the start of its log.
#[test]
fn the_hub_acknowledges_on_its_tick_with_a_cumulative_ack() {
    let mut router = Router::new(3, Duration::from_millis(5), |_| Broadcast::default());
    let gossip = |src: &str, start: u64, values: Value| {
        let body = json!({"type": "gossip", "msg_id": 9, "start": start, "values": values,
            "ack": 0});
        json!({"src": src, "dest": "n0", "body": body}).to_string()
    };
    assert!(router.raw(0, &gossip("n1", 0, json!([7, 8]))).is_empty());
    assert!(router.raw(0, &gossip("n2", 1, json!([6]))).is_empty());
    assert_eq!(router.handler(0).values().len(), 3);
    let out = tick(&mut router, 0);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["dest"], "n1");
    let to_n1 = json!({"type": "gossip", "start": 0, "values": [6], "ack": 2});
    assert_eq!(out[0]["body"], to_n1, "{out:?}");
    // n2's run came after a gap (it starts at 1): the cumulative ack stays at 0.
    assert_eq!(out[1]["dest"], "n2");
    let to_n2 = json!({"type": "gossip", "start": 0, "values": [7, 8], "ack": 0});
    assert_eq!(out[1]["body"], to_n2, "{out:?}");
    // Once n2's run 0 lands, the ack covers both runs; an ack alone goes out on the tick.
    assert!(router.raw(0, &gossip("n2", 0, json!([5]))).is_empty());
    let out = tick(&mut router, 0);
    let n2 = out.iter().find(|m| m["dest"] == "n2").expect("to n2");
    assert_eq!(n2["body"]["ack"], 2, "{out:?}");
    assert!(out
        .iter()
        .any(|m| m["dest"] == "n1" && m["body"]["values"] == json!([5])));
}

/// Values broadcast at each node in turn, `per_node` apiece, numbered from `first`.
fn broadcast_everywhere(router: &mut Router<Broadcast>, first: u64, per_node: u64) -> u64 {
    let count = router.nodes.len() as u64;
    for message in first..first + per_node * count {
        broadcast(router, (message % count) as usize, message);
        router.run_for(Duration::from_millis(30));
    }
    first + per_node * count
}

/// Every node holds `0..total`, nothing is unacknowledged, and the cluster stays silent.
fn assert_settled(router: &mut Router<Broadcast>, total: u64) {
    let all: std::collections::BTreeSet<u64> = (0..total).collect();
    for node in 0..router.nodes.len() {
        assert_eq!(router.handler(node).values(), &all, "n{node}");
        assert_eq!(router.handler(node).unacknowledged(), 0, "n{node}");
    }
    let before = router.delivered + router.dropped;
    router.run_for(Duration::from_secs(5));
    assert_eq!(
        router.delivered + router.dropped,
        before,
        "quiet once settled"
    );
}

/// One-way links (Maelstrom's majorities ring): a leaf that the hub hears but that cannot
/// hear the hub, and a leaf that hears the hub but that the hub cannot hear. Values go
/// wherever a path lets them, nothing is lost, and everything settles once healed.
#[test]
fn one_way_links_lose_nothing_and_settle_after_heal() {
    let mut router = Router::new(5, Duration::from_millis(100), |_| Broadcast::default());
    router.grudge(1, &[0]); // n1 cannot hear the hub; the hub hears n1
    router.grudge(0, &[2]); // the hub cannot hear n2; n2 hears the hub
    let total = broadcast_everywhere(&mut router, 0, 4);
    router.run_for(Duration::from_secs(5));
    let has = |router: &Router<Broadcast>, node: usize, value: u64| {
        router.handler(node).values().contains(&value)
    };
    assert!(
        has(&router, 2, 1) && has(&router, 3, 1),
        "n1's values went out"
    );
    assert!(!has(&router, 1, 3), "nothing reaches n1");
    assert!(!has(&router, 3, 2), "n2's values are stuck at n2");
    assert!(has(&router, 2, 3), "n2 still hears the others");
    // While cut, each stuck link resends about once per RESEND_AFTER, never every tick.
    let before = router.delivered + router.dropped;
    router.run_for(Duration::from_secs(15));
    let sent = router.delivered + router.dropped - before;
    assert!(sent <= 2 * 15 * 3, "{sent} messages in 15 s of a stuck cut");
    router.heal();
    router.run_for(Duration::from_secs(4));
    assert_settled(&mut router, total);
}

/// A leaf that cannot hear the hub loses every ack; after the heal its resend brings the
/// hub nothing new, and the hub must still acknowledge it, or the leaf resends forever.
#[test]
fn a_repeat_is_acknowledged_again_when_the_first_ack_was_lost() {
    let mut router = Router::new(3, Duration::from_millis(100), |_| Broadcast::default());
    router.grudge(1, &[0]);
    for message in 0..3 {
        broadcast(&mut router, 1, message);
    }
    router.run_for(Duration::from_secs(5));
    assert_eq!(router.handler(2).values().len(), 3, "the hub heard n1");
    assert_eq!(router.handler(1).unacknowledged(), 3, "n1 heard no ack");
    router.heal();
    router.run_for(Duration::from_secs(3));
    assert_settled(&mut router, 3);
}

/// The hub cut off from every leaf: values wait on each side, then all get through once the
/// partition heals (the hub is no single point that blocks progress for good).
#[test]
fn an_isolated_hub_holds_values_back_only_until_the_heal() {
    let mut router = Router::new(5, Duration::from_millis(100), |_| Broadcast::default());
    router.partition(&[&[0], &[1, 2, 3, 4]]);
    let total = broadcast_everywhere(&mut router, 0, 3);
    router.run_for(Duration::from_secs(10));
    assert!(!router.handler(0).values().contains(&1));
    router.heal();
    router.run_for(Duration::from_secs(4));
    assert_settled(&mut router, total);
}

/// Reordering, duplicates and loss on every link: a slow batch is overtaken by the next
/// one, and the receiver's ack still covers both once the slow one lands.
#[test]
fn reordered_duplicated_and_lost_batches_still_settle() {
    let mut router = Router::new(5, Duration::from_millis(50), |_| Broadcast::default());
    router.faults.slow_every = 3;
    router.faults.duplicate_every = 5;
    router.faults.drop_every = 7;
    let total = broadcast_everywhere(&mut router, 0, 10);
    router.run_for(Duration::from_secs(8));
    router.faults = Default::default();
    router.run_for(Duration::from_secs(3));
    assert_settled(&mut router, total);
}
