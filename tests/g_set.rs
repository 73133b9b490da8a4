//! The g-set node (examples/g_set.rs), driven in process through the sans-IO core and once
//! as a real process. Checks Maelstrom's docs "Workloads" (g-set: `add {element}` -> `add_ok`,
//! `read` -> `read_ok {value}`), "Errors" (10 for unknown types, 12 for malformed bodies)
//! and the final-read rule: once partitions heal, every node holds every acknowledged add.

// The example's `main` is not called here; its `pub` handler is for includes like this.
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/g_set.rs"]
mod g_set;
mod harness;

use std::collections::BTreeSet;

use g_set::GSet;
use harness::{challenge, harsher, run_available, Faults, Process, Router};
use maelstrom_loop::Duration;
use serde_json::{json, Value};

const DELAY: Duration = Duration::from_millis(5);

fn cluster(count: usize) -> Router<GSet> {
    Router::new(count, DELAY, |_| GSet::default())
}

fn add(router: &mut Router<GSet>, node: usize, element: Value) {
    let reply = router.request(node, json!({"type": "add", "element": element}));
    assert_eq!(reply["type"], "add_ok", "{reply}");
    let keys: BTreeSet<&str> = reply.as_object().unwrap().keys().map(|k| &**k).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["type", "msg_id", "in_reply_to"]),
        "schema: {reply}"
    );
}

/// The node's answer to `read`, as canonical JSON texts.
fn read(router: &mut Router<GSet>, node: usize) -> BTreeSet<String> {
    let reply = router.request(node, json!({"type": "read"}));
    assert_eq!(reply["type"], "read_ok", "{reply}");
    assert_eq!(
        reply.as_object().unwrap().len(),
        4,
        "only type, value and ids: {reply}"
    );
    let value = reply["value"].as_array().expect("value is an array");
    let set: BTreeSet<String> = value.iter().map(Value::to_string).collect();
    assert_eq!(set.len(), value.len(), "no element twice: {reply}");
    set
}

fn canonical(elements: &[Value]) -> BTreeSet<String> {
    elements.iter().map(Value::to_string).collect()
}

#[test]
fn every_acknowledged_add_reaches_every_node_after_the_partition_heals() {
    let mut router = cluster(5);
    router.partition(&[&[0, 1], &[2, 3, 4]]);
    let mut added = Vec::new();
    for round in 0..20_i64 {
        let node = (round % 5) as usize;
        let element = match round % 4 {
            0 => json!(round),
            1 => json!(format!("s{round}")),
            2 => json!({"round": round, "list": [1, null, true]}),
            _ => json!([round, {"nested": {"deeper": round}}]),
        };
        add(&mut router, node, element.clone());
        added.push(element);
        router.run_for(Duration::from_millis(150));
    }
    // The partition held: n0 has its side's adds and none of the other side's.
    let side_a: Vec<Value> = added
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 5 < 2)
        .map(|(_, e)| e.clone())
        .collect();
    assert_eq!(read(&mut router, 0), canonical(&side_a));

    router.heal();
    // Maelstrom waits 10 s after healing; the nodes need well under 2.
    router.run_for(Duration::from_secs(2));
    for node in 0..5 {
        assert_eq!(read(&mut router, node), canonical(&added), "n{node}");
        assert_eq!(
            router.handler(node).undelivered(),
            0,
            "n{node} still holds adds"
        );
    }
}

#[test]
fn loss_duplicates_and_reordering_still_deliver_each_element_once() {
    let mut router = cluster(3);
    router.faults = Faults {
        drop_every: 3,
        duplicate_every: 4,
        slow_every: 5,
    };
    let mut added = Vec::new();
    for i in 0..60_i64 {
        let element = json!(i);
        add(&mut router, (i % 3) as usize, element.clone());
        added.push(element);
        router.run_for(Duration::from_millis(7 * (i as u64 % 5) + 1));
    }
    router.run_for(Duration::from_secs(5));
    assert!(router.dropped > 0, "the faults did drop lines");
    for node in 0..3 {
        assert_eq!(read(&mut router, node), canonical(&added), "n{node}");
        assert_eq!(router.handler(node).len(), added.len());
    }
}

#[test]
fn idle_nodes_send_nothing_and_an_add_costs_one_batch_and_ack_per_peer() {
    let mut router = cluster(3);
    add(&mut router, 0, json!("first"));
    router.run_for(Duration::from_secs(1));
    let before = router.delivered;
    router.run_for(Duration::from_secs(3));
    assert_eq!(
        router.delivered, before,
        "gossip while there is nothing to send"
    );

    add(&mut router, 1, json!("second"));
    router.run_for(Duration::from_secs(1));
    assert_eq!(
        router.delivered - before,
        4,
        "a batch and an ack to each of 2 peers"
    );
    for node in 0..3 {
        assert_eq!(
            read(&mut router, node),
            canonical(&[json!("first"), json!("second")])
        );
    }
}

#[test]
fn spellings_of_one_value_are_one_element() {
    let mut router = cluster(2);
    add(&mut router, 0, json!({"a": 1, "b": [2, 3]}));
    let reordered = r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":9,"element":{ "b" : [2,3], "a":1 }}}"#;
    let out = router.raw(1, reordered);
    assert_eq!(out[0]["body"]["type"], "add_ok");
    router.run_for(Duration::from_secs(1));
    for node in 0..2 {
        assert_eq!(
            read(&mut router, node),
            canonical(&[json!({"a": 1, "b": [2, 3]})])
        );
        assert!(router.handler(node).contains(&json!({"b": [2, 3], "a": 1})));
    }
}

/// One row per bad input: the line, and the error code the node must answer with.
#[test]
fn bad_requests_are_answered_with_the_right_error_and_change_nothing() {
    let rows: &[(&str, u64)] = &[
        (
            r#"{"src":"c1","dest":"n0","body":{"type":"remove","msg_id":3,"element":1}}"#,
            10,
        ),
        (
            r#"{"src":"c1","dest":"n0","body":{"type":"add","msg_id":4}}"#,
            12,
        ),
        (
            r#"{"src":"n1","dest":"n0","body":{"type":"gossip","msg_id":5,"from":"x","items":[1]}}"#,
            12,
        ),
        (
            r#"{"src":"n1","dest":"n0","body":{"type":"gossip","msg_id":6,"from":0}}"#,
            12,
        ),
    ];
    let mut router = cluster(2);
    for (line, code) in rows {
        let out = router.raw(0, line);
        assert_eq!(out.len(), 1, "{line}: {out:?}");
        let body = &out[0]["body"];
        assert_eq!(
            (&body["type"], &body["code"]),
            (&json!("error"), &json!(code)),
            "{line}"
        );
    }
    assert!(router.handler(0).is_empty());
}

#[test]
fn a_batch_from_beyond_the_watermark_applies_nothing_until_the_gap_is_filled() {
    let mut router = cluster(2);
    let late =
        r#"{"src":"n1","dest":"n0","body":{"type":"gossip","msg_id":7,"from":2,"items":["c"]}}"#;
    let out = router.raw(0, late);
    assert_eq!(
        out[0]["body"],
        json!({"type": "gossip_ok", "upto": 0, "msg_id": out[0]["body"]["msg_id"], "in_reply_to": 7})
    );
    assert!(router.handler(0).is_empty());
    let all = r#"{"src":"n1","dest":"n0","body":{"type":"gossip","msg_id":8,"from":0,"items":["a","b","c"]}}"#;
    assert_eq!(router.raw(0, all)[0]["body"]["upto"], 3);
    let duplicate =
        r#"{"src":"n1","dest":"n0","body":{"type":"gossip","msg_id":9,"from":1,"items":["b"]}}"#;
    assert_eq!(router.raw(0, duplicate)[0]["body"]["upto"], 3);
    assert_eq!(
        read(&mut router, 0),
        canonical(&[json!("a"), json!("b"), json!("c")])
    );
}

#[test]
fn process_answers_init_add_read_and_unknown_types() {
    let mut node = Process::spawn("g_set");
    node.init("n0", &["n0"]);
    node.send(r#"{"src":"c1","dest":"n0","body":{"type":"add","msg_id":2,"element":{"k":[1]}}}"#);
    let reply = node.recv();
    assert_eq!(reply["body"]["type"], "add_ok", "{reply}");
    node.send(r#"{"src":"c1","dest":"n0","body":{"type":"read","msg_id":3}}"#);
    let reply = node.recv();
    assert_eq!(reply["body"]["value"], json!([{"k": [1]}]), "{reply}");
    node.send(r#"{"src":"c1","dest":"n0","body":{"type":"delete","msg_id":4}}"#);
    let reply = node.recv();
    assert_eq!(
        (&reply["body"]["code"], &reply["body"]["in_reply_to"]),
        (&json!(10), &json!(4))
    );
}

/// The simulator's g-set run (Maelstrom's docs flags, partitions) and a harsher one: the set
/// checker finds no lost or unexpected element, and gossip stays cheap.
#[test]
fn simulated_g_set_runs_are_valid_and_cheap() {
    for seed in [11, 12] {
        let report = run_available(&challenge("g-set", seed), |_| GSet::default());
        // Idle ticks send nothing: about one batch and one ack per peer per busy tick.
        assert!(report.msgs_per_op < 4.0, "{report}");
        run_available(&harsher("g-set", seed), |_| GSet::default());
    }
}

/// Regression: the gossip library dropped an ack that came after its 1 s ack timeout.
/// With a slower round trip (here 1.2 s, `--latency 600`) no ack ever counted, the outbox
/// resent its first batch (1,024 adds) forever, and every later add never left the node.
/// Now a late ack still counts.
#[test]
fn adds_past_one_batch_arrive_when_every_round_trip_is_slower_than_a_second() {
    let mut router = Router::new(2, Duration::from_millis(600), |_| GSet::default());
    let count = 1_100;
    for i in 0..count {
        add(&mut router, 0, json!(i));
    }
    router.run_for(Duration::from_secs(10));
    assert_eq!(router.handler(1).len(), count, "n1 holds every add");
    assert!(router.handler(1).contains(&json!(count - 1)));
    assert_eq!(router.handler(0).undelivered(), 0, "and acknowledged them");
}
