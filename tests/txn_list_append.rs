//! The txn-list-append node (Maelstrom's docs "Workloads": txn-list-append, strict-serializable)
//! through the simulator, with latency and partitions, the core driven by hand (the test plays
//! the sequencer and the clock), and the binary itself.

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/txn_list_append.rs"]
mod txn_list_append;

use common::{assert_one_answer, Driven, Proc};
use maelstrom_loop::sim::net::Latency;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::{Duration, Instant};
use serde_json::{json, Value};
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
        config.nemesis = Nemesis::partition(Duration::from_secs(2));
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

/// What the sequencer answers a forwarded transaction, and what the client must hear
/// (Maelstrom's docs "Errors": definite only if nothing was applied; Elle counts a definitely
/// failed transaction whose appends are visible as an aborted read). Regression: an
/// `execute_ok` without a readable `txn` (the sequencer did commit) reached the client as
/// the definite error 12.
#[test]
fn forwarded_txn_outcomes_reach_the_client_with_the_right_certainty() {
    let done = json!([["append", 1, 5], ["r", 1, [5]]]);
    let rows: &[(Option<Value>, Value)] = &[
        (
            Some(json!({"type": "execute_ok", "txn": done})),
            json!({"type": "txn_ok", "txn": done}),
        ),
        (
            Some(json!({"type": "execute_ok"})),
            json!({"type": "error", "code": 0}),
        ),
        (
            Some(json!({"type": "error", "code": 12, "text": "bad txn"})),
            json!({"type": "error", "code": 12}),
        ),
        (
            Some(json!({"type": "error", "code": 11, "text": "not the sequencer"})),
            json!({"type": "error", "code": 11}),
        ),
        (
            Some(json!({"type": "error", "code": 13, "text": "crashed midway"})),
            json!({"type": "error", "code": 0}),
        ),
        (
            Some(json!({"type": "error", "code": 1001, "text": "custom"})),
            json!({"type": "error", "code": 0}),
        ),
        // No answer: code 0 once the forward times out, well before the client gives up.
        (None, json!({"type": "error", "code": 0})),
    ];
    for (i, (sequencer_reply, expected)) in rows.iter().enumerate() {
        let mut n1 = Driven::new(TxnListAppend::default(), "n1", &["n0", "n1"]);
        let txn = json!([["append", 1, 5], ["r", 1, null]]);
        let sent = n1.deliver("c1", json!({"type": "txn", "msg_id": 7, "txn": txn}));
        assert_eq!(
            sent.len(),
            1,
            "row {i}: one forward, no answer yet: {sent:?}"
        );
        assert_eq!(sent[0]["dest"], "n0", "row {i}: {sent:?}");
        assert_eq!(sent[0]["body"]["txn"], txn, "row {i}: {sent:?}");
        let out = n1.answer(&sent[0], sequencer_reply.as_ref());
        if sequencer_reply.is_none() {
            assert_eq!(n1.now, Instant::ZERO + txn_list_append::FORWARD_TIMEOUT);
            assert!(
                n1.now.as_micros() < 4_500_000,
                "row {i}: in the client's time"
            );
        }
        assert_one_answer(&out, "c1", 7, expected, &format!("row {i}"));
    }
}

/// Only the sequencer executes (Maelstrom's docs "Workloads": txn-list-append is
/// strict-serializable, one database). Regression: any node executed an `execute` it got,
/// on its own empty lists, and answered `execute_ok` with reads nobody else would agree with.
/// A malformed transaction is refused where it arrives, with no forward.
#[test]
fn only_the_sequencer_executes_and_bad_txns_are_refused_where_they_arrive() {
    let mut n1 = Driven::new(TxnListAppend::default(), "n1", &["n0", "n1", "n2"]);
    let out = n1.deliver(
        "n2",
        json!({"type": "execute", "msg_id": 3, "txn": [["append", 1, 5], ["r", 1, null]]}),
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (&out[0]["dest"], &out[0]["body"]["code"]),
        (&json!("n2"), &json!(11))
    );
    let out = n1.deliver(
        "c1",
        json!({"type": "txn", "msg_id": 4, "txn": [["frob", 1, 1]]}),
    );
    assert_eq!(out.len(), 1, "answered at once, nothing forwarded: {out:?}");
    assert_eq!(
        (&out[0]["dest"], &out[0]["body"]["code"]),
        (&json!("c1"), &json!(12))
    );
    // The sequencer still executes what it is sent.
    let mut n0 = Driven::new(TxnListAppend::default(), "n0", &["n0", "n1", "n2"]);
    let out = n0.deliver(
        "n1",
        json!({"type": "execute", "msg_id": 5, "txn": [["append", 1, 5], ["r", 1, null]]}),
    );
    assert_eq!(
        out[0]["body"]["txn"],
        json!([["append", 1, 5], ["r", 1, [5]]]),
        "{out:?}"
    );
}

/// Maelstrom's `--latency` is a mean that can reach a few hundred ms, and a forward pays it
/// twice. Regression: forwards gave up after 1 s, so on a network that lost nothing one
/// forwarded transaction in seven or so came back indefinite.
#[test]
fn a_slow_network_without_faults_leaves_nothing_indefinite() {
    let mut config = RunConfig::challenge("txn-list-append").unwrap();
    config.node_count = 5;
    config.concurrency = 10;
    config.latency = Latency::Exponential {
        mean: Duration::from_millis(300),
    };
    let report = run(&config, |_| TxnListAppend::default());
    assert!(report.is_valid(), "{report}");
    assert!(report.ops_ok > 100, "{report}");
    assert_eq!(report.ops_info, 0, "{report}");
}
