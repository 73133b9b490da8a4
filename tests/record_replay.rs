//! Record and replay (the crate docs, "Determinism"): real nodes recorded with
//! `MAELSTROM_RECORD` replay byte for byte with `MAELSTROM_REPLAY`, timers and `ctx.rng()`
//! included; a changed handler is caught at its first divergent line; a record cut short, or
//! whose input ended mid-line, still replays; the simulator's records replay through the real
//! binaries. Relies on Maelstrom's docs "Wire format" (one JSON message per line).

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/broadcast.rs"]
mod broadcast;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/echo.rs"]
mod echo;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration as WallDuration;

use common::{example_path, replay_example, scratch_dir, Proc};
use maelstrom_loop::record::{self, Event};
use maelstrom_loop::sim::{Cluster, ClusterConfig, Latency};
use maelstrom_loop::{replay, replay_from, Ctx, Duration, Error, Handler, Instant, Message};
use serde_json::{json, Value};

/// The record's events after its header.
fn events(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    record::parse_header(lines.next().expect("a header")).expect("the header parses");
    lines
        .map(|line| record::parse_event(line).unwrap())
        .collect()
}

/// What the record says the node wrote, as it wrote it to stdout.
fn recorded_stdout(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Output { line, .. } => Some(format!("{line}\n")),
            _ => None,
        })
        .collect()
}

/// Spawns `name` recording into `dir`, initialised as n1 of n1, n2, n3.
fn spawn_recorded(name: &str, dir: &Path) -> Proc {
    let mut node = Proc::spawn_with(name, &[("MAELSTROM_RECORD", dir.to_str().unwrap())]);
    send(
        &mut node,
        "c0",
        json!({"type": "init", "msg_id": 1, "node_id": "n1", "node_ids": ["n1", "n2", "n3"]}),
    );
    node
}

fn send(node: &mut Proc, src: &str, body: Value) {
    node.send_json(&json!({"src": src, "dest": "n1", "body": body}));
}

/// The only file in `dir`, which must be `n1.jsonl` (renamed from its pid name at init).
fn the_record(dir: &Path) -> PathBuf {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["n1.jsonl"], "one record, named after the node");
    dir.join("n1.jsonl")
}

/// Closes the node and returns everything it wrote to stdout.
fn finish(node: Proc) -> String {
    let (status, lines, stderr) = node.finish();
    assert!(status.success(), "{status}\n{stderr}");
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// Replays `record` through the example binary and asserts it wrote `expected` and exited 0.
fn assert_binary_replays(name: &str, record: &Path, expected: &str) {
    let (status, stdout, stderr) = replay_example(name, record);
    assert!(
        status.success(),
        "replay of {record:?} failed: {status}\n{stderr}"
    );
    assert!(
        stdout == expected,
        "replayed output differs from the original:\n{stdout}\n---\n{expected}"
    );
}

/// A broadcast node gossips on a 100 ms timer and resends after 1.5 s: recorded through an
/// exchange with pauses, its record holds timer turns that wrote gossip, and the binary and
/// the library both replay it to exactly the output the process wrote.
#[test]
fn a_recorded_broadcast_node_replays_byte_for_byte() {
    let dir = scratch_dir("record-broadcast");
    let mut node = spawn_recorded("broadcast", &dir);
    send(
        &mut node,
        "c1",
        json!({"type": "broadcast", "msg_id": 2, "message": 1}),
    );
    std::thread::sleep(WallDuration::from_millis(150));
    send(
        &mut node,
        "n2",
        json!({"type": "gossip", "msg_id": 5, "start": 0, "values": [7], "ack": 0}),
    );
    std::thread::sleep(WallDuration::from_millis(100));
    send(
        &mut node,
        "n3",
        json!({"type": "gossip", "start": 0, "values": [], "ack": 1}),
    );
    send(&mut node, "c1", json!({"type": "read", "msg_id": 3}));
    std::thread::sleep(WallDuration::from_millis(1_100));
    send(
        &mut node,
        "c1",
        json!({"type": "topology", "msg_id": 4, "topology": {}}),
    );
    let stdout = finish(node);
    let path = the_record(&dir);
    let events = events(&path);
    assert_eq!(
        recorded_stdout(&events),
        stdout,
        "the record holds every output line"
    );
    let gossip_after_timer = events.windows(2).any(|pair| {
        matches!(&pair[0], Event::Timeout { .. })
            && matches!(&pair[1], Event::Output { line, .. } if line.contains(r#""type":"gossip""#))
    });
    assert!(gossip_after_timer, "a timer turn wrote gossip: {events:?}");
    assert!(stdout.lines().count() >= 8, "{stdout}");

    assert_binary_replays("broadcast", &path, &stdout);
    let report = replay(&path, broadcast::Broadcast::default()).unwrap();
    assert!(report.is_identical(), "{:?}", report.divergence);
    assert_eq!(report.outputs_matched, stdout.lines().count() as u64);
}

/// The Raft node draws its election timeouts from `ctx.rng()`, seeded from the clock: left
/// alone for 1.5 s it stands for election several times, at random ticks, and its record
/// (seed in the header) replays identically.
#[test]
fn a_node_using_ctx_rng_replays_identically() {
    let dir = scratch_dir("record-lin-kv");
    let node = spawn_recorded("lin_kv", &dir);
    std::thread::sleep(WallDuration::from_millis(1_500));
    let stdout = finish(node);
    assert!(
        stdout.contains("request_vote"),
        "it stood for election: {stdout}"
    );
    let path = the_record(&dir);
    assert_eq!(recorded_stdout(&events(&path)), stdout);
    assert_binary_replays("lin_kv", &path, &stdout);
}

/// Stdin closed in the middle of a line: the node handled the unterminated line, the record
/// has it, and it replays. A record itself cut short mid-line (the node killed while writing
/// it) replays up to the cut and says so.
#[test]
fn a_record_whose_input_ends_mid_line_replays() {
    let dir = scratch_dir("record-mid-line");
    let mut node = spawn_recorded("echo", &dir);
    send(
        &mut node,
        "c1",
        json!({"type": "echo", "msg_id": 2, "echo": "whole"}),
    );
    node.send_raw(br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":3,"echo":"cut"}}"#);
    let stdout = finish(node);
    assert!(stdout.contains(r#""echo":"cut""#), "{stdout}");
    let path = the_record(&dir);
    assert_binary_replays("echo", &path, &stdout);

    let text = std::fs::read_to_string(&path).unwrap();
    let last_input = text.rfind(r#"{"t":"#).unwrap();
    let last_input = text[..last_input - 1].rfind(r#"{"t":"#).unwrap();
    assert!(text[last_input..].starts_with(r#"{"t":"#) && text[last_input..].contains(r#""in":"#));
    let cut = &text[..last_input + 30];
    let report = replay_from(cut.as_bytes(), echo::Echo, &mut Vec::new()).unwrap();
    assert!(report.truncated, "{report:?}");
    assert!(report.is_identical(), "{report:?}");
    assert_eq!(report.outputs_matched, 2, "init_ok and the first echo_ok");
}

/// `glomers --trace DIR` writes each node's record as `DIR/4/nK.jsonl`; every one replays
/// through the real g_counter binary byte for byte.
#[test]
fn a_glomers_trace_record_replays_through_the_real_binary() {
    let dir = scratch_dir("glomers-trace");
    let glomers = example_path("glomers");
    let output = Command::new(&glomers)
        .args(["--only", "4", "--seed", "1", "--time-limit", "5", "--trace"])
        .arg(&dir)
        .output()
        .expect("run glomers");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let mut replayed = 0;
    for node in ["n0", "n1", "n2"] {
        let path = dir.join("4").join(format!("{node}.jsonl"));
        let events = events(&path);
        assert!(
            events.iter().any(|e| matches!(e, Event::Timeout { .. })),
            "{node} has timer turns"
        );
        let expected = recorded_stdout(&events);
        assert!(expected.lines().count() > 50, "{node}: {expected}");
        assert_binary_replays("g_counter", &path, &expected);
        replayed += 1;
    }
    assert_eq!(replayed, 3);
}

// ---- Records from the simulator, replayed by the library ----------------------------------

/// Answers `add` with the running total; `roll` with a draw from `ctx.rng()`, and sets a
/// timer of random length whose firing sends a draw to a peer. `changed_from` makes the
/// answer to the Nth `add` and later differ, as an edited handler would.
#[derive(Default)]
struct Dice {
    total: u64,
    adds: u64,
    changed_from: Option<u64>,
}

impl Handler for Dice {
    type Timer = ();

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "add" => {
                self.adds += 1;
                self.total += msg.field::<u64>("delta")?;
                let changed = self.changed_from.is_some_and(|n| self.adds >= n);
                let value = if changed { self.total * 10 } else { self.total };
                ctx.reply(msg, &json!({"type": "add_ok", "value": value}))
            }
            "roll" => {
                let value = ctx.rng().below(1_000_000);
                let delay = Duration::from_micros(ctx.rng().below(50_000));
                ctx.set_timer(delay, ());
                ctx.reply(msg, &json!({"type": "roll_ok", "value": value}))
            }
            "die" => Ok(()),
            other => Err(Error::unsupported_type(other)),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) -> Result<(), Error> {
        let value = ctx.rng().below(6);
        ctx.send_to_peers(&json!({"type": "die", "value": value}))
    }
}

/// Node n0's record from a simulated run of Dice: five adds and five rolls, 10 ms apart.
fn dice_record() -> Vec<u8> {
    let mut config = ClusterConfig::new(2, 11);
    config.trace = true;
    config.net.latency = Latency::Fixed(Duration::from_millis(2));
    let mut cluster = Cluster::new(config, |_| Dice::default());
    let mut out = Vec::new();
    for i in 0..5u64 {
        cluster.send_client(
            "c1",
            "n0",
            &json!({"type": "add", "msg_id": 2 * i, "delta": i + 1}),
        );
        cluster.send_client("c1", "n0", &json!({"type": "roll", "msg_id": 2 * i + 1}));
        cluster.run_until(cluster.now() + Duration::from_millis(10), &mut out);
    }
    cluster.run_until(cluster.now() + Duration::from_millis(100), &mut out);
    cluster.node_record("n0").unwrap().to_vec()
}

/// A node that draws from `ctx.rng()` (replies and timer lengths) replays identically from
/// its record; the same record with another seed in its header does not.
#[test]
fn a_simulated_node_using_ctx_rng_replays_identically_and_needs_its_seed() {
    let record = dice_record();
    let report = replay_from(&record[..], Dice::default(), &mut Vec::new()).unwrap();
    assert!(report.is_identical(), "{:?}", report.divergence);
    assert_eq!(
        report.outputs_matched,
        1 + 10 + 5,
        "init_ok, ten answers, five dice"
    );
    let text = String::from_utf8(record).unwrap();
    let header = record::parse_header(text.lines().next().unwrap()).unwrap();
    let reseeded = text.replacen(
        &format!(r#""seed":{}"#, header.seed),
        &format!(r#""seed":{}"#, header.seed ^ 1),
        1,
    );
    let report = replay_from(reseeded.as_bytes(), Dice::default(), &mut Vec::new()).unwrap();
    let divergence = report.divergence.expect("another seed, other rolls");
    assert!(divergence.recorded.unwrap().contains("roll_ok"));
}

/// Replaying against a handler changed to answer the third `add` differently reports that
/// line: its number in the record, its time, the recorded and the replayed line.
#[test]
fn replay_against_a_changed_handler_reports_the_first_divergent_line() {
    let record = dice_record();
    let changed = Dice {
        changed_from: Some(3),
        ..Dice::default()
    };
    let report = replay_from(&record[..], changed, &mut Vec::new()).unwrap();
    let divergence = report.divergence.clone().expect("a divergence");
    let text = String::from_utf8(record).unwrap();
    let (index, line) = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.contains("add_ok"))
        .nth(2)
        .unwrap();
    assert_eq!(divergence.event, index as u64 + 1, "{divergence}");
    let Ok(Event::Output {
        time,
        line: recorded,
    }) = record::parse_event(line)
    else {
        panic!("not an output line: {line}")
    };
    assert_eq!(divergence.time, time);
    assert_eq!(divergence.time, Instant::from_millis(20));
    assert_eq!(divergence.recorded.as_deref(), Some(recorded.as_str()));
    assert!(recorded.contains(r#""value":6"#), "{recorded}");
    let replayed = divergence.replayed.unwrap();
    assert_eq!(replayed, recorded.replace(r#""value":6"#, r#""value":60"#));
    // The replay stops at the divergence: every output line before it matched.
    let before = text
        .lines()
        .take(index)
        .filter(|l| l.contains(r#""out":"#))
        .count();
    assert_eq!(report.outputs_matched, before as u64, "{report:?}");
    assert!(before >= 2, "two add_ok and more before it");
}

/// The binary's replay mode reports a divergence on stderr (event number, time, recorded and
/// replayed line) and exits 1, having written the node's output up to the divergence.
#[test]
fn the_binary_exits_1_and_names_the_first_divergent_line() {
    let mut config = ClusterConfig::new(1, 3);
    config.trace = true;
    let mut cluster = Cluster::new(config, |_| echo::Echo);
    for i in 0..3 {
        cluster.send_client("c1", "n0", &json!({"type": "echo", "msg_id": i, "echo": i}));
    }
    cluster.run_until(Instant::from_millis(1), &mut Vec::new());
    let text = String::from_utf8(cluster.node_record("n0").unwrap().to_vec()).unwrap();
    // The echo_ok with value 1, in its output line (the input before it says the same).
    let edited: String = text
        .lines()
        .map(|l| match l.contains(r#""out":"#) {
            true => l.replacen(r#""echo":1,"#, r#""echo":"one","#, 1) + "\n",
            false => format!("{l}\n"),
        })
        .collect();
    assert_ne!(edited, text);
    let path = scratch_dir("edited-record").join("n0.jsonl");
    std::fs::write(&path, &edited).unwrap();
    let line = edited.lines().position(|l| l.contains(r#""one""#)).unwrap() + 1;
    let (status, stdout, stderr) = replay_example("echo", &path);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        3,
        "output up to the divergence: {stdout}"
    );
    assert!(
        stderr.contains(&format!("diverged at event {line} (t = 0 us)")),
        "{stderr}"
    );
    assert!(
        stderr
            .contains(r#"recorded: {"src":"n0","dest":"c1","body":{"type":"echo_ok","echo":"one""#),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"replayed: {"src":"n0","dest":"c1","body":{"type":"echo_ok","echo":1,"#),
        "{stderr}"
    );
}

/// Until `init` the record is named by process id; a node id that is not a plain name cannot
/// put the record outside its directory.
#[test]
fn the_record_is_named_by_pid_until_init_and_by_a_safe_node_id_after() {
    let dir = scratch_dir("record-names");
    let silent = Proc::spawn_with("echo", &[("MAELSTROM_RECORD", dir.to_str().unwrap())]);
    let pid = silent.pid();
    finish(silent);
    assert!(
        dir.join(format!("pid-{pid}.jsonl")).is_file(),
        "named by pid before init"
    );
    let mut odd = Proc::spawn_with("echo", &[("MAELSTROM_RECORD", dir.to_str().unwrap())]);
    let init = json!({"type": "init", "msg_id": 1, "node_id": "../n/1", "node_ids": ["../n/1"]});
    odd.send_json(&json!({"src": "c0", "dest": "../n/1", "body": init}));
    assert_eq!(odd.recv()["body"]["type"], "init_ok");
    finish(odd);
    assert!(
        dir.join("___n_1.jsonl").is_file(),
        "the id's unsafe characters became _"
    );
}
