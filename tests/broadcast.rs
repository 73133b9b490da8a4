//! The broadcast node (Gossip Glomers 3a-3e, MAELSTROM.md "Workloads": broadcast) through
//! the simulator with fixed seeds: valid everywhere, partitions included, and within the 3d
//! and 3e targets with a margin; plus harsher runs than the challenge lines.

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/broadcast.rs"]
mod broadcast;

use broadcast::Broadcast;
use maelstrom_loop::sim::net::Latency;
use maelstrom_loop::sim::report::Report;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::Duration;

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
