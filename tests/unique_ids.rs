//! The unique-ids binary (Maelstrom's docs "Workloads": unique-ids): ids from three nodes never
//! collide, and a request before init is refused with a definite error.

mod common;

use std::collections::HashSet;

use common::Proc;
use serde_json::json;

#[test]
fn three_nodes_issue_thirty_thousand_distinct_ids() {
    let ids = ["n0", "n1", "n2"];
    let mut seen = HashSet::new();
    for id in ids {
        let mut node = Proc::init("unique_ids", id, &ids);
        let mut batch = String::new();
        for i in 0..10_000 {
            batch.push_str(&format!(
                r#"{{"src":"c1","dest":"{id}","body":{{"type":"generate","msg_id":{i}}}}}"#
            ));
            batch.push('\n');
        }
        node.send_raw(batch.as_bytes());
        let (status, rest, _) = node.finish();
        assert!(status.success());
        assert_eq!(rest.len(), 10_000);
        for line in rest {
            let reply: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(reply["body"]["type"], "generate_ok");
            let keys: Vec<&String> = reply["body"].as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 4, "only type, id, msg_id, in_reply_to: {reply}");
            assert!(
                seen.insert(reply["body"]["id"].clone()),
                "duplicate id {reply}"
            );
        }
    }
    assert_eq!(seen.len(), 30_000);
}

#[test]
fn generate_before_init_is_error_11() {
    let mut node = Proc::spawn("unique_ids");
    node.send_json(&json!({"src": "c1", "dest": "n0", "body": {"type": "generate", "msg_id": 4}}));
    let reply = node.recv();
    assert_eq!(reply["body"]["type"], "error");
    assert_eq!(reply["body"]["code"], 11);
}
