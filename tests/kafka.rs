//! The kafka node (Gossip Glomers 5a-5c, Maelstrom's docs "Workloads": kafka): its challenge rows
//! through the simulator, harsher runs with latency and partitions, the core driven by hand
//! (the test plays the peer and the clock), and the binary itself.

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/kafka.rs"]
mod kafka;

use common::{assert_one_answer, Driven, Proc};
use kafka::Kafka;
use maelstrom_loop::sim::net::Latency;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::{Duration, Instant};
use serde_json::{json, Value};

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
    config.nemesis = Nemesis::partition(Duration::from_secs(3));
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

/// The first numeric key (Maelstrom's keys are strings of digits) owned by node `index` of
/// `nodes`.
fn key_owned_by(index: usize, nodes: usize) -> String {
    (0..)
        .map(|k: u64| k.to_string())
        .find(|k| kafka::owner_index(k, nodes) == index)
        .expect("some key hashes to every node")
}

/// Answers from the owner of a forwarded send, and what the client must hear
/// (Maelstrom's docs "Errors": a definite code only when nothing was appended). Regression: an
/// owner's refusal used to reach the client as the indefinite 0, and nothing kept the
/// owner from appending to a key it does not own.
#[test]
fn forwarded_send_outcomes_reach_the_client_with_the_right_certainty() {
    let rows: &[(Option<Value>, Value)] = &[
        (
            Some(json!({"type": "append_ok", "offset": 4})),
            json!({"type": "send_ok", "offset": 4}),
        ),
        // append_ok means it was appended: unreadable, yet certainly not "failed".
        (
            Some(json!({"type": "append_ok", "offset": "four"})),
            json!({"type": "error", "code": 0}),
        ),
        (
            Some(json!({"type": "error", "code": 11, "text": "not mine"})),
            json!({"type": "error", "code": 11}),
        ),
        (
            Some(json!({"type": "error", "code": 13, "text": "crashed midway"})),
            json!({"type": "error", "code": 0}),
        ),
        (
            Some(json!({"type": "error", "code": 1000, "text": "custom"})),
            json!({"type": "error", "code": 0}),
        ),
        // No answer at all: code 0 once the forward times out.
        (None, json!({"type": "error", "code": 0})),
    ];
    let remote = key_owned_by(1, 2);
    for (i, (owner_reply, expected)) in rows.iter().enumerate() {
        let mut n0 = Driven::new(Kafka::default(), "n0", &["n0", "n1"]);
        let sent = n0.deliver(
            "c1",
            json!({"type": "send", "msg_id": 7, "key": remote, "msg": 99}),
        );
        assert_eq!(
            sent.len(),
            1,
            "row {i}: one forward, no answer yet: {sent:?}"
        );
        assert_eq!(sent[0]["dest"], "n1", "row {i}: {sent:?}");
        assert_eq!(sent[0]["body"]["type"], "append", "row {i}: {sent:?}");
        let out = n0.answer(&sent[0], owner_reply.as_ref());
        if owner_reply.is_none() {
            assert_eq!(n0.now, Instant::ZERO + kafka::WRITE_TIMEOUT, "row {i}");
        }
        assert_one_answer(&out, "c1", 7, expected, &format!("row {i}"));
    }
}

/// Hostile or confused requests, one row each, and the error each must get (Maelstrom's docs
/// "Errors"). Regressions: a peer could make a non-owner append to or serve a key owned
/// elsewhere (`append_ok`/`part_ok`), an unknown part kind was served as a listing, and a
/// negative or non-integer offset was silently read as 0.
#[test]
fn bad_offsets_and_requests_for_keys_owned_elsewhere_are_refused() {
    let here = key_owned_by(0, 2);
    let there = key_owned_by(1, 2);
    let rows: Vec<(&str, Value, u64)> = vec![
        ("n1", json!({"type": "append", "key": there, "msg": 1}), 11),
        (
            "n1",
            json!({"type": "part", "kind": "poll", "offsets": {&there: 0}}),
            11,
        ),
        (
            "n1",
            json!({"type": "part", "kind": "commit_offsets", "offsets": {&here: 0, &there: 0}}),
            11,
        ),
        (
            "n1",
            json!({"type": "part", "kind": "frob", "offsets": {}}),
            12,
        ),
        (
            "n1",
            json!({"type": "part", "kind": "poll", "offsets": {&here: -1}}),
            12,
        ),
        ("c1", json!({"type": "poll", "offsets": {&here: -1}}), 12),
        ("c1", json!({"type": "poll", "offsets": {&here: 1.5}}), 12),
        (
            "c1",
            json!({"type": "commit_offsets", "offsets": {&here: "x"}}),
            12,
        ),
        (
            "c1",
            json!({"type": "list_committed_offsets", "keys": [1]}),
            12,
        ),
        ("c1", json!({"type": "send", "key": 7, "msg": 1}), 12),
    ];
    let mut n0 = Driven::new(Kafka::default(), "n0", &["n0", "n1"]);
    for (i, (src, mut body, code)) in rows.into_iter().enumerate() {
        body["msg_id"] = json!(100 + i);
        let out = n0.deliver(src, body.clone());
        assert_eq!(out.len(), 1, "row {i}: {body} -> {out:?}");
        assert_eq!(out[0]["dest"], src, "row {i}: {out:?}");
        assert_eq!(
            out[0]["body"]["type"], "error",
            "row {i}: {body} -> {out:?}"
        );
        assert_eq!(out[0]["body"]["code"], code, "row {i}: {body} -> {out:?}");
    }
    // The refusals left the node's own log untouched: its first message gets offset 0.
    let out = n0.deliver(
        "c1",
        json!({"type": "send", "msg_id": 1, "key": here, "msg": 5}),
    );
    assert_eq!(out[0]["body"]["offset"], 0, "{out:?}");
}

/// A poll or commit split across owners when one owner is silent (Maelstrom's docs "Workloads":
/// kafka): the poll answers in time with the keys it has, the commit with the indefinite
/// code 0 (the local part did commit).
#[test]
fn silent_owners_cost_polls_their_keys_and_commits_their_certainty() {
    let here = key_owned_by(0, 2);
    let there = key_owned_by(1, 2);
    let mut n0 = Driven::new(Kafka::default(), "n0", &["n0", "n1"]);
    n0.deliver(
        "c1",
        json!({"type": "send", "msg_id": 1, "key": here, "msg": 5}),
    );
    let out = n0.deliver(
        "c1",
        json!({"type": "poll", "msg_id": 2, "offsets": {&here: 0, &there: 0}}),
    );
    assert_eq!(out.len(), 1, "a part for n1, no answer yet: {out:?}");
    assert_eq!(out[0]["body"]["type"], "part");
    let out = n0.expire_next();
    assert_eq!(n0.now, Instant::ZERO + kafka::READ_TIMEOUT);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["body"]["type"], "poll_ok", "{out:?}");
    assert_eq!(out[0]["body"]["msgs"], json!({&here: [[0, 5]]}));

    let out = n0.deliver(
        "c1",
        json!({"type": "commit_offsets", "msg_id": 3, "offsets": {&here: 0, &there: 0}}),
    );
    assert_eq!(out.len(), 1, "{out:?}");
    let start = n0.now;
    let out = n0.expire_next();
    assert_eq!(n0.now, start + kafka::WRITE_TIMEOUT);
    assert!(
        (n0.now - start).as_micros() < 4_500_000,
        "answered before the client's 5 s timeout (less the library's 10% guard)"
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (&out[0]["body"]["type"], &out[0]["body"]["code"]),
        (&json!("error"), &json!(0))
    );
    let out = n0.deliver(
        "c1",
        json!({"type": "list_committed_offsets", "msg_id": 4, "keys": [&here]}),
    );
    assert_eq!(out[0]["body"]["offsets"], json!({&here: 0}), "{out:?}");
}

/// Maelstrom's `--latency` is a mean that can reach a few hundred ms, each forward paying it
/// twice. Regression: forwards gave up after 1 s, so about one send or commit in seven came
/// back indefinite (and Maelstrom crashed that client) on a network that lost nothing. With
/// exponential latency a message can still wait seconds (behind a slower one in its node's
/// queue, as in Maelstrom), so at most one operation in a hundred may end indefinite.
#[test]
fn a_slow_network_without_faults_leaves_almost_nothing_indefinite() {
    let mut config = RunConfig::challenge("5b").unwrap();
    config.node_count = 5;
    config.concurrency = 10;
    config.latency = Latency::Exponential {
        mean: Duration::from_millis(300),
    };
    let report = run(&config, |_| Kafka::default());
    assert!(report.is_valid(), "{report}");
    assert!(report.ops_ok > 100, "{report}");
    assert!(report.ops_info * 100 <= report.ops_ok, "{report}");
}
