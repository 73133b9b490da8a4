//! Hostile input against the real echo binary (Maelstrom's docs "Wire format", "Errors",
//! "Traps"): every row is one bad line and what the node must answer, or `None` for silence.
//! After each row a normal echo must come back next, which proves nothing else was written
//! and that the node kept going.

mod common;

use common::Proc;
use serde_json::{json, Value};

/// What a row expects: the reply's type, error code and in_reply_to, or silence.
type Expect = Option<(&'static str, Option<u64>, u64)>;

fn rows() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let deep = format!(
        r#"{{"src":"c1","dest":"n1","body":{{"msg_id":10,"type":"echo","echo":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let mut bad_utf8 =
        br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":9,"echo":"a"#.to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    bad_utf8.extend_from_slice(br#""}}"#);
    vec![
        ("not json", b"not json".to_vec(), None),
        ("an array", b"[1,2,3]".to_vec(), None),
        ("body is a string", br#"{"src":"c1","dest":"n1","body":"str"}"#.to_vec(), None),
        ("type missing, msg_id present", br#"{"src":"c1","dest":"n1","body":{"msg_id":5}}"#.to_vec(), Some(("error", Some(12), 5))),
        ("src is a number", br#"{"src":5,"dest":"n1","body":{"type":"echo","msg_id":6,"echo":1}}"#.to_vec(), None),
        ("msg_id is a string", br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":"7","echo":1}}"#.to_vec(), None),
        ("msg_id is negative", br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":-8,"echo":1}}"#.to_vec(), None),
        ("msg_id is fractional", br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":8.5,"echo":1}}"#.to_vec(), None),
        ("invalid UTF-8 in a string", bad_utf8, Some(("error", Some(12), 9))),
        ("nesting 100,000 deep", deep.into_bytes(), Some(("error", Some(12), 10))),
        ("empty line", b"".to_vec(), None),
        ("whitespace only", b"  \t ".to_vec(), None),
        ("CRLF line ending", b"{\"src\":\"c1\",\"dest\":\"n1\",\"body\":{\"type\":\"echo\",\"msg_id\":11,\"echo\":11}}\r".to_vec(), Some(("echo_ok", None, 11))),
        ("reply to an unknown msg_id", br#"{"src":"n2","dest":"n1","body":{"type":"read_ok","in_reply_to":999}}"#.to_vec(), None),
        ("unknown message type", br#"{"src":"c1","dest":"n1","body":{"type":"frobnicate","msg_id":13}}"#.to_vec(), Some(("error", Some(10), 13))),
        ("a second init", br#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":14,"node_id":"n1","node_ids":["n1"]}}"#.to_vec(), None),
        ("in_reply_to 0 to nothing", br#"{"src":"n2","dest":"n1","body":{"type":"x_ok","in_reply_to":0}}"#.to_vec(), None),
        ("extra top-level id", br#"{"id":3,"src":"c1","dest":"n1","body":{"type":"echo","msg_id":16,"echo":16}}"#.to_vec(), Some(("echo_ok", None, 16))),
        ("echo field missing", br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":17}}"#.to_vec(), Some(("error", Some(12), 17))),
        ("type is a number", br#"{"src":"c1","dest":"n1","body":{"msg_id":18,"type":5}}"#.to_vec(), Some(("error", Some(12), 18))),
        ("type is a number, msg_id after it", br#"{"src":"c1","dest":"n1","body":{"type":5,"msg_id":21}}"#.to_vec(), Some(("error", Some(12), 21))),
        ("body is null before src", br#"{"body":{"type":null,"msg_id":22},"src":"c1","dest":"n1"}"#.to_vec(), Some(("error", Some(12), 22))),
        ("truncated object", br#"{"src":"c1","dest":"n1","body":{"msg_id":19,"type":"echo""#.to_vec(), Some(("error", Some(12), 19))),
        ("trailing garbage", br#"{"src":"c1","dest":"n1","body":{"msg_id":20,"type":"echo","echo":1}} x"#.to_vec(), Some(("error", Some(12), 20))),
    ]
}

#[test]
fn each_hostile_line_gets_its_answer_or_silence_and_the_node_goes_on() {
    let mut node = Proc::init("echo", "n1", &["n1"]);
    for (i, (what, mut line, expect)) in rows().into_iter().enumerate() {
        line.push(b'\n');
        node.send_raw(&line);
        if let Some((kind, code, in_reply_to)) = expect {
            let reply = node.recv();
            assert_eq!(reply["src"], "n1", "{what}: {reply}");
            assert_eq!(reply["dest"], "c1", "{what}: {reply}");
            let body = &reply["body"];
            assert_eq!(body["type"], kind, "{what}: {reply}");
            assert_eq!(body["in_reply_to"], in_reply_to, "{what}: {reply}");
            assert!(
                body["msg_id"].is_u64(),
                "{what}: replies carry a msg_id: {reply}"
            );
            if let Some(code) = code {
                assert_eq!(body["code"], code, "{what}: {reply}");
                assert!(
                    body["text"].as_str().is_some_and(|t| !t.is_empty()),
                    "{what}: {reply}"
                );
            }
        }
        let probe = 1_000 + i as u64;
        let echoed = node.request("n1", json!({"type": "echo", "echo": probe}));
        assert_eq!(echoed["type"], "echo_ok", "after {what}: {echoed}");
        assert_eq!(echoed["echo"], probe, "after {what}");
    }
    let (status, rest, stderr) = node.finish();
    assert!(status.success(), "{status}\n{stderr}");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        stderr.contains("dropped an unreadable input line"),
        "bad lines are logged:\n{stderr}"
    );
}

#[test]
fn requests_before_init_get_error_11_and_init_still_works_after() {
    let mut node = Proc::spawn("echo");
    node.send_raw(
        br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":3,"echo":1}}
"#,
    );
    let reply = node.recv();
    assert_eq!(reply["body"]["code"], 11, "{reply}");
    assert_eq!(reply["body"]["in_reply_to"], 3);
    assert_eq!(
        reply["src"], "n1",
        "before init the node answers as the id it was sent to"
    );
    node.send_json(&json!({"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}));
    assert_eq!(node.recv()["body"]["type"], "init_ok");
}

/// A line over the 64 MiB cap, `msg_id` after its payload as Maelstrom's clients write it,
/// is answered with error 12 naming the cap, and the node answers the next request: a 16 MiB
/// echo, just over the old 16 MiB cap with its envelope.
#[test]
fn a_line_over_the_cap_gets_error_12_and_the_next_request_is_answered() {
    let mut node = Proc::init("echo", "n1", &["n1"]);
    let mut huge = br#"{"src":"c1","dest":"n1","body":{"type":"echo","echo":""#.to_vec();
    huge.extend(vec![b'x'; 65 << 20]);
    huge.extend_from_slice(b"\",\"msg_id\":5}}\n");
    node.send_raw(&huge);
    let reply = node.recv();
    let body = &reply["body"];
    assert_eq!(
        (&body["type"], &body["code"], &body["in_reply_to"]),
        (&json!("error"), &json!(12), &json!(5)),
        "{reply}"
    );
    let text = body["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&(64u64 << 20).to_string()),
        "names the cap: {text}"
    );
    assert_eq!(
        (&reply["src"], &reply["dest"]),
        (&json!("n1"), &json!("c1"))
    );
    let big = "y".repeat(16 << 20);
    let reply = node.request("n1", json!({"type": "echo", "echo": big}));
    assert_eq!(reply["echo"].as_str().map(str::len), Some(16 << 20));
    let (status, rest, stderr) = node.finish();
    assert!(status.success(), "{status}\n{stderr}");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(stderr.contains("longer than the cap"), "{stderr}");
}

#[test]
fn stdin_closed_mid_line_still_handles_the_last_line_and_exits_0() {
    let mut node = Proc::init("echo", "n1", &["n1"]);
    node.send_raw(br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":77,"echo":"last"}}"#);
    let (status, rest, stderr) = node.finish();
    assert!(status.success(), "{status}\n{stderr}");
    assert_eq!(rest.len(), 1, "{rest:?}");
    let reply: Value = serde_json::from_str(&rest[0]).unwrap();
    assert_eq!(reply["body"]["echo"], "last");
    assert_eq!(reply["body"]["in_reply_to"], 77);
}
