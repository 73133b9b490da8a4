//! The echo binary end to end (Maelstrom's docs "Init", "Workloads": echo), under load, and its
//! logging at the default and trace levels.

mod common;

use common::Proc;
use serde_json::{json, Value};

#[test]
fn echoes_any_json_value_unchanged() {
    let mut node = Proc::init("echo", "n3", &["n1", "n2", "n3"]);
    for value in [
        json!("hi"),
        json!(0),
        json!(null),
        json!({"a": [1, {"b": "\u{1F980}"}]}),
        json!(-1.5e300),
    ] {
        let reply = node.request("n3", json!({"type": "echo", "echo": value}));
        assert_eq!(
            reply,
            json!({"type": "echo_ok", "echo": value, "msg_id": reply["msg_id"], "in_reply_to": reply["in_reply_to"]})
        );
    }
}

/// Writes `count` pipelined echo requests in one go.
fn pipelined(node: &mut Proc, count: u64) {
    let mut batch = String::new();
    for i in 0..count {
        batch.push_str(&format!(
            r#"{{"src":"c1","dest":"n1","body":{{"type":"echo","msg_id":{i},"echo":"Please echo {i}"}}}}"#
        ));
        batch.push('\n');
    }
    node.send_raw(batch.as_bytes());
}

#[test]
fn a_burst_of_50000_then_eof_gets_every_reply_before_a_clean_exit() {
    let mut node = Proc::init("echo", "n1", &["n1"]);
    pipelined(&mut node, 50_000);
    let (status, rest, stderr) = node.finish();
    assert!(status.success(), "{status}\n{stderr}");
    assert_eq!(rest.len(), 50_000);
    for (i, line) in rest.iter().enumerate() {
        let reply: Value = serde_json::from_str(line).unwrap();
        assert_eq!(reply["body"]["in_reply_to"], i as u64);
        assert_eq!(reply["body"]["echo"], format!("Please echo {i}"));
    }
}

/// Peak memory stays small however fast input arrives: output is written as it goes.
#[test]
fn two_hundred_thousand_pipelined_requests_keep_peak_rss_under_3_mb() {
    let mut node = Proc::init("echo", "n1", &["n1"]);
    pipelined(&mut node, 200_000);
    let last = loop {
        let reply = node.recv();
        if reply["body"]["in_reply_to"] == 199_999 {
            break reply;
        }
    };
    assert_eq!(last["body"]["echo"], "Please echo 199999");
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.pid())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    eprintln!("peak RSS after 200,000 pipelined echoes: {peak_kb} kB");
    assert!(peak_kb < 3 * 1024, "peak RSS {peak_kb} kB");
    let (status, _, _) = node.finish();
    assert!(status.success());
}

#[test]
fn default_logging_is_quiet_and_trace_logs_every_message() {
    let mut quiet = Proc::init("echo", "n1", &["n1"]);
    for _ in 0..100 {
        quiet.request("n1", json!({"type": "echo", "echo": 1}));
    }
    let (_, _, stderr) = quiet.finish();
    assert_eq!(
        stderr.lines().count(),
        3,
        "start, init, exit only:\n{stderr}"
    );

    let mut loud = Proc::spawn_with("echo", &[("MAELSTROM_LOG", "trace")]);
    loud.send_json(&json!({"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}));
    loud.recv();
    loud.request("n1", json!({"type": "echo", "echo": "traced"}));
    let (_, _, stderr) = loud.finish();
    assert_eq!(stderr.matches("received ").count(), 2, "{stderr}");
    assert_eq!(stderr.matches("sent ").count(), 2, "{stderr}");
    assert!(stderr.contains("traced"));
}

/// Regression: after a short read the driver skips the read that would say "would block";
/// when the writer had already hung up, that skipped read was the one that saw EOF, and the
/// node waited forever. Write and close at once, many times.
#[test]
fn regression_writer_hangs_up_right_after_writing_node_still_exits() {
    for round in 0..20 {
        let mut node = Proc::init("echo", "n1", &["n1"]);
        pipelined(&mut node, 1 + round * 7);
        let (status, rest, stderr) = node.finish();
        assert!(status.success(), "round {round}: {status}\n{stderr}");
        assert_eq!(rest.len() as u64, 1 + round * 7);
    }
}

/// `node < trace.jsonl` replays a recorded session: stdin is a regular file, which epoll
/// refuses, so the driver falls back to blocking reads.
#[test]
fn stdin_from_a_regular_file_replays_the_session() {
    let path = std::env::temp_dir().join(format!("echo-replay-{}.jsonl", std::process::id()));
    let mut session = String::from(
        r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#,
    );
    for i in 2..=4 {
        session.push_str(&format!("\n{{\"src\":\"c1\",\"dest\":\"n1\",\"body\":{{\"type\":\"echo\",\"msg_id\":{i},\"echo\":{i}}}}}"));
    }
    std::fs::write(&path, &session).unwrap();
    let output = std::process::Command::new(common::example_path("echo"))
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(output.status.success(), "{output:?}");
    let replies: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        replies.len(),
        4,
        "init_ok and three echo_ok, the last line had no newline"
    );
    assert_eq!(replies[3]["body"]["echo"], 4);
}
