//! The kafka node (Gossip Glomers 5a-5c, MAELSTROM.md "Workloads": kafka): its challenge rows
//! through the simulator, a harsher run with latency and partitions, and the binary itself.

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/kafka.rs"]
mod kafka;

use common::Proc;
use kafka::Kafka;
use maelstrom_loop::sim::net::Latency;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::Duration;
use serde_json::json;

#[test]
fn challenge_rows_are_valid_without_service_calls() {
    for seed in [1, 2] {
        for name in ["5a", "5b", "5c"] {
            let mut config = RunConfig::challenge(name).unwrap();
            config.seed = seed;
            let report = run(&config, |_| Kafka::default());
            assert!(report.is_valid(), "{report}");
            assert_eq!(report.service_msgs_per_op, 0.0);
            assert!(report.msgs_per_op < 2.0, "{report}");
        }
    }
}

/// Forwarded sends that time out are answered indefinitely, polls omit unreachable owners:
/// the history stays valid through partitions.
#[test]
fn five_nodes_with_latency_and_partitions_stay_valid() {
    let mut config = RunConfig::challenge("5b").unwrap();
    config.node_count = 5;
    config.concurrency = 10;
    config.rate = 300.0;
    config.latency = Latency::Uniform {
        min: Duration::from_millis(5),
        max: Duration::from_millis(50),
    };
    config.nemesis = Nemesis::Partition {
        interval: Duration::from_secs(3),
    };
    let report = run(&config, |_| Kafka::default());
    assert!(report.is_valid(), "{report}");
    assert!(
        report.ops_info > 0,
        "partitions made some forwarded requests indefinite: {report}"
    );
}

#[test]
fn the_binary_assigns_offsets_and_polls_them_back() {
    let mut node = Proc::init("kafka", "n0", &["n0"]);
    for (msg, offset) in [(10, 0), (11, 1), (12, 2)] {
        let reply = node.request("n0", json!({"type": "send", "key": "7", "msg": msg}));
        assert_eq!(reply["offset"], offset, "{reply}");
    }
    let reply = node.request("n0", json!({"type": "poll", "offsets": {"7": 1, "8": 0}}));
    assert_eq!(reply["msgs"], json!({"7": [[1, 11], [2, 12]]}));
    node.request("n0", json!({"type": "commit_offsets", "offsets": {"7": 2}}));
    node.request("n0", json!({"type": "commit_offsets", "offsets": {"7": 1}}));
    let reply = node.request(
        "n0",
        json!({"type": "list_committed_offsets", "keys": ["7", "8"]}),
    );
    assert_eq!(
        reply["offsets"],
        json!({"7": 2}),
        "commits never go backwards"
    );
    let reply = node.request("n0", json!({"type": "send", "key": "7"}));
    assert_eq!(
        (reply["type"].as_str(), reply["code"].as_u64()),
        (Some("error"), Some(12))
    );
}
