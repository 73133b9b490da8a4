//! Hostile input against every example binary (Maelstrom's docs "Wire format", "Errors",
//! "Traps"): each node, one of three, gets every message type any node here understands, from
//! a client and from a peer, with bodies that lack fields or carry wrong types. After each line
//! a request of a type no node knows must come back as error 10: the node is alive and reading
//! in order. Everything it writes must be a well-formed message from itself to an id that
//! exists, and no handler may panic (error 13) on bad input.

mod common;

use common::Proc;
use serde_json::{json, Value};

const EXAMPLES: &[&str] = &[
    "echo",
    "unique_ids",
    "broadcast",
    "g_set",
    "g_counter",
    "pn_counter",
    "kafka",
    "txn_rw_register",
    "txn_list_append",
    "lin_kv",
];

/// Client requests of every workload, and the node-to-node types the examples use.
const TYPES: &[&str] = &[
    "echo",
    "generate",
    "topology",
    "broadcast",
    "read",
    "add",
    "send",
    "poll",
    "commit_offsets",
    "list_committed_offsets",
    "txn",
    "write",
    "cas",
    "gossip",
    "forward",
    "append",
    "part",
    "execute",
    "append_entries",
    "request_vote",
];

/// Bodies (beside `type` and `msg_id`) that are wrong for every type above.
fn poison_bodies() -> Vec<Value> {
    let deep = (0..60).fold(json!(1), |v, _| json!([v]));
    vec![
        json!({}),
        json!({"key": {"a": [1]}, "value": "x", "delta": "x", "element": null, "message": [],
               "messages": 5, "topology": [1], "txn": "x", "offsets": [1], "keys": {},
               "msg": {}, "from": [], "to": {}, "op": 5, "items": "x", "upto": -1,
               "append": [], "vote": 1, "echo": null}),
        json!({"key": null, "delta": 1.5, "element": deep, "message": 18446744073709551616u128 as f64,
               "topology": {"n0": "x"}, "txn": [["r"], ["w", 1], ["append"], [1, 2, 3], "x"],
               "offsets": {"1": "x", "2": -5}, "keys": [1, null], "msg": null,
               "from": "n9", "items": [{"bogus": true}], "op": {"type": "bogus"},
               "append": {"term": "x"}, "vote": {"term": -1}}),
        json!({"delta": -9_223_372_036_854_775_808i64, "txn": [["r", {"k": 1}, null]],
               "offsets": {}, "keys": [], "key": "", "value": {}, "message": -1,
               "items": [], "from": 18446744073709551615u64,
               "append": {"term": 1, "leader": 7, "entries": [{"term": "x"}]},
               "op": {"type": "cas", "key": 1}, "topology": {}}),
    ]
}

/// Checks one line the node wrote: a message from `n0` to an id that exists; returns the
/// body. Handler panics show up as error 13 and fail the test.
fn check_output(example: &str, after: &str, msg: &Value) -> Value {
    let exists = |id: &str| {
        [
            "c1", "n0", "n1", "n2", "seq-kv", "lin-kv", "lww-kv", "lin-tso",
        ]
        .contains(&id)
    };
    assert_eq!(msg["src"], "n0", "{example} after {after}: {msg}");
    let dest = msg["dest"].as_str().unwrap_or("");
    assert!(exists(dest), "{example} after {after}: bad dest: {msg}");
    let body = &msg["body"];
    assert!(body["type"].is_string(), "{example} after {after}: {msg}");
    if body["type"] == "error" {
        assert!(body["code"].is_u64(), "{example} after {after}: {msg}");
        assert_ne!(body["code"], 13, "{example} panicked after {after}: {msg}");
    }
    body.clone()
}

/// Sends the universal probe and reads until its answer, checking every line on the way.
fn probe(node: &mut Proc, example: &str, after: &str, msg_id: u64) {
    node.send_json(&json!({"src": "c1", "dest": "n0",
        "body": {"type": "hostile_probe", "msg_id": msg_id}}));
    loop {
        let msg = node.recv();
        let body = check_output(example, after, &msg);
        if msg["dest"] == "c1" && body["in_reply_to"] == msg_id {
            assert_eq!(body["code"], 10, "{example} after {after}: {msg}");
            return;
        }
    }
}

#[test]
fn every_node_survives_every_message_type_with_poisoned_bodies_from_clients_and_peers() {
    for example in EXAMPLES {
        let mut node = Proc::init(example, "n0", &["n0", "n1", "n2"]);
        let mut msg_id = 1_000;
        for kind in TYPES {
            for (i, poison) in poison_bodies().into_iter().enumerate() {
                for src in ["c1", "n1"] {
                    let mut body = poison.clone();
                    body["type"] = json!(kind);
                    msg_id += 1;
                    body["msg_id"] = json!(msg_id);
                    let after = format!("{kind} body {i} from {src}");
                    node.send_json(&json!({"src": src, "dest": "n0", "body": body}));
                    // The same without msg_id: nothing to answer, nothing may break.
                    body.as_object_mut().map(|b| b.remove("msg_id"));
                    node.send_json(&json!({"src": src, "dest": "n0", "body": body}));
                    msg_id += 1;
                    probe(&mut node, example, &after, msg_id);
                }
            }
        }
        // Replies to requests the node never sent, from peers and services.
        for src in ["n1", "lin-kv", "seq-kv"] {
            for in_reply_to in [0u64, 1, 999_999, u64::MAX] {
                node.send_json(&json!({"src": src, "dest": "n0",
                    "body": {"type": "read_ok", "in_reply_to": in_reply_to, "value": "x"}}));
            }
            msg_id += 1;
            probe(
                &mut node,
                example,
                &format!("stray replies from {src}"),
                msg_id,
            );
        }
        let (status, rest, stderr) = node.finish();
        assert!(status.success(), "{example}: {status}\n{stderr}");
        for line in rest {
            let msg: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{example}: stdout line is not JSON ({e}): {line}"));
            check_output(example, "stdin closed", &msg);
        }
        assert!(
            !stderr.contains("panicked"),
            "{example}: a handler panicked on bad input:\n{stderr}"
        );
    }
}
