//! The txn-list-append node (MAELSTROM.md "Workloads": txn-list-append, strict-serializable)
//! through the simulator, with latency and partitions, and the binary itself.

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/txn_list_append.rs"]
mod txn_list_append;

use common::Proc;
use maelstrom_loop::sim::net::Latency;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::Duration;
use serde_json::json;
use txn_list_append::TxnListAppend;

#[test]
fn strict_serializable_on_its_row_and_under_partitions_with_latency() {
    for seed in [1, 2, 3] {
        let mut config = RunConfig::challenge("txn-list-append").unwrap();
        config.seed = seed;
        let report = run(&config, |_| TxnListAppend::default());
        assert!(report.is_valid(), "{report}");
        config.node_count = 5;
        config.concurrency = 10;
        config.latency = Latency::Exponential {
            mean: Duration::from_millis(20),
        };
        config.nemesis = Nemesis::Partition {
            interval: Duration::from_secs(2),
        };
        let report = run(&config, |_| TxnListAppend::default());
        assert!(report.is_valid(), "{report}");
        assert!(
            report.ops_info > 0,
            "cut-off nodes answered indefinitely: {report}"
        );
    }
}

#[test]
fn the_binary_appends_and_reads_within_and_across_transactions() {
    let mut node = Proc::init("txn_list_append", "n0", &["n0", "n1"]);
    let reply = node.request(
        "n0",
        json!({"type": "txn", "txn": [["r", 1, null], ["append", 1, 5], ["r", 1, null]]}),
    );
    assert_eq!(
        reply["txn"],
        json!([["r", 1, null], ["append", 1, 5], ["r", 1, [5]]])
    );
    let reply = node.request(
        "n0",
        json!({"type": "txn", "txn": [["append", 1, 6], ["r", 1, null], ["r", 2, null]]}),
    );
    assert_eq!(
        reply["txn"],
        json!([["append", 1, 6], ["r", 1, [5, 6]], ["r", 2, null]])
    );
    let reply = node.request("n0", json!({"type": "txn", "txn": [["frob", 1, 1]]}));
    assert_eq!(reply["code"], 12, "{reply}");
    let reply = node.request("n0", json!({"type": "txn", "txn": [["r", 1, null]]}));
    assert_eq!(
        reply["txn"],
        json!([["r", 1, [5, 6]]]),
        "the refused txn changed nothing"
    );
}
