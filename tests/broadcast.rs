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
/// max < 2 s. Both at once, with a margin.
#[test]
fn parts_d_and_e_meet_both_targets_with_a_margin() {
    for seed in [1, 2] {
        let report = challenge("3d", seed);
        assert!(report.is_valid(), "{report}");
        assert!(report.msgs_per_op < 15.0, "{report}");
        assert!(report.latency_us_p50 < 300_000, "{report}");
        assert!(report.latency_us_max < 450_000, "{report}");
    }
}

#[test]
fn harsher_than_the_challenge_50_nodes_exponential_latency_and_partitions() {
    let mut config = RunConfig::challenge("3d").unwrap();
    config.node_count = 50;
    config.concurrency = 50;
    config.latency = Latency::Exponential {
        mean: Duration::from_millis(100),
    };
    config.nemesis = Nemesis::Partition {
        interval: Duration::from_secs(4),
    };
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

/// Hostile input (Maelstrom's docs "Errors"): gossip or acks from a client or a stranger are
/// refused with code 10 and change nothing; malformed ones from a peer get code 12.
#[test]
fn gossip_from_outside_the_cluster_is_refused() {
    let mut router = Router::new(3, Duration::from_millis(5), |_| Broadcast::default());
    let line = |src: &str, kind: &str, values: Value| {
        json!({"src": src, "dest": "n0", "body": {"type": kind, "msg_id": 9, "values": values}})
            .to_string()
    };
    for (src, kind, values, code) in [
        ("c1", "gossip", json!([1]), 10),
        ("n9", "gossip", json!([2]), 10),
        ("n0", "gossip", json!([3]), 10),
        ("c1", "gossip_ok", json!([4]), 10),
        ("n1", "gossip", json!(["x"]), 12),
        ("n1", "gossip", json!([-1]), 12),
        ("n1", "gossip_ok", json!({}), 12),
    ] {
        let out = router.raw(0, &line(src, kind, values));
        assert_eq!(out.len(), 1, "{src} {kind}: {out:?}");
        assert_eq!(out[0]["dest"], src, "{out:?}");
        assert_eq!(out[0]["body"]["code"], code, "{src} {kind}: {out:?}");
    }
    assert!(router.handler(0).values().is_empty());
    // A peer's gossip is learned and acknowledged with a message of its own, not a reply.
    let out = router.raw(0, &line("n1", "gossip", json!([7, 8])));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["dest"], "n1");
    assert_eq!(out[0]["body"]["type"], "gossip_ok");
    assert_eq!(out[0]["body"]["values"], json!([7, 8]));
    assert!(out[0]["body"].get("in_reply_to").is_none(), "{out:?}");
    assert_eq!(router.handler(0).values().len(), 2);
}
