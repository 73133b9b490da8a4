//! Kafka runs through `sim::runner` with small one-node logs: Maelstrom's client model
//! (assign, poll then commit, crash and final polls) and the checker's jepsen anomalies, each
//! caught on a deliberately broken log.

use std::collections::BTreeMap;

use maelstrom_loop::sim::check::Strictness;
use maelstrom_loop::sim::history::OpKind;
use maelstrom_loop::sim::report::{Report, Verdict};
use maelstrom_loop::sim::runner::{run, RunConfig};
use maelstrom_loop::{Ctx, Duration, Error, Handler, Message};
use serde_json::{json, Map, Value};

/// How a [`Log`] misbehaves.
#[derive(Clone, Copy, Default, PartialEq)]
enum Fault {
    #[default]
    None,
    /// Polls never return a key's newest message: acknowledged, never seen.
    HideNewest,
    /// Polls start one past the requested offset: every poll skips a message.
    SkipFirst,
    /// Polls ignore the requested offset and start from 0: a process goes backwards.
    FromZero,
    /// Lists each key's log end as its committed offset, whatever was committed.
    InventCommits,
}

/// A one-node kafka log (offsets 0, 1, 2 ... per key) serving at most 1000 messages a poll
/// (with a few, the final polls could not catch up within their 10 s: unseen messages).
#[derive(Default)]
struct Log {
    logs: BTreeMap<String, Vec<Value>>,
    committed: BTreeMap<String, i64>,
    fault: Fault,
}

const POLL_LIMIT: usize = 1000;

impl Log {
    fn poll(&self, wanted: BTreeMap<String, i64>) -> Map<String, Value> {
        let mut msgs = Map::new();
        for (key, from) in wanted {
            let log = self.logs.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let visible = match self.fault {
                Fault::HideNewest => log.len().saturating_sub(1),
                _ => log.len(),
            };
            let from = match self.fault {
                Fault::SkipFirst => from + 1,
                Fault::FromZero => 0,
                _ => from,
            };
            let entries: Vec<Value> = (0..visible)
                .skip(usize::try_from(from).unwrap_or(0))
                .take(POLL_LIMIT)
                .map(|o| json!([o, log[o]]))
                .collect();
            msgs.insert(key, Value::Array(entries));
        }
        msgs
    }
}

impl Handler for Log {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "send" => {
                let log = self.logs.entry(msg.field("key")?).or_default();
                log.push(msg.field("msg")?);
                let offset = log.len() - 1;
                ctx.reply(msg, &json!({"type": "send_ok", "offset": offset}))
            }
            "poll" => {
                let msgs = self.poll(msg.field("offsets")?);
                ctx.reply(msg, &json!({"type": "poll_ok", "msgs": msgs}))
            }
            "commit_offsets" => {
                let offsets: BTreeMap<String, i64> = msg.field("offsets")?;
                for (key, offset) in offsets {
                    let committed = self.committed.entry(key).or_default();
                    *committed = (*committed).max(offset);
                }
                ctx.reply(msg, &json!({"type": "commit_offsets_ok"}))
            }
            _ => {
                let keys: Vec<String> = msg.field("keys")?;
                let committed = |k: &String| match self.fault {
                    Fault::InventCommits => self.logs.get(k).map(Vec::len).map(|n| n as i64),
                    _ => self.committed.get(k).copied(),
                };
                let offsets: Map<String, Value> = keys
                    .into_iter()
                    .filter_map(|k| committed(&k).map(|o| (k, json!(o))))
                    .collect();
                let reply = json!({"type": "list_committed_offsets_ok", "offsets": offsets});
                ctx.reply(msg, &reply)
            }
        }
    }
}

fn run_log(seed: u64, fault: Fault) -> Report {
    run_log_judged(seed, fault, false)
}

fn run_log_judged(seed: u64, fault: Fault, maelstrom_only: bool) -> Report {
    let mut config = RunConfig::challenge("5a").expect("known challenge");
    config.seed = seed;
    config.maelstrom_only = maelstrom_only;
    run_config(&config, fault)
}

fn run_config(config: &RunConfig, fault: Fault) -> Report {
    run(config, |_| Log {
        fault,
        ..Log::default()
    })
}

/// The number before `label` in a checker summary (`"3 unseen, 0 ..."`).
fn count(report: &Report, label: &str) -> usize {
    let summary = &report.check.summary;
    summary
        .split([',', ';', ':'])
        .map(str::trim)
        .find_map(|part| {
            let (n, rest) = part.split_once(' ')?;
            (rest == label).then(|| n.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("no `{label}` in {summary}"))
}

/// A correct log passes, with Maelstrom's client: assigns list committed offsets, polls are
/// followed by commits of their highest offsets, and the run ends with crashed clients
/// assigning every key from the beginning and polling until they have caught up.
#[test]
fn a_log_passes_with_assigns_commits_and_final_polls() {
    let report = run_log(1, Fault::None);
    assert!(report.is_valid(), "{report}");
    let ops = &report.history.ops;
    let done = |f: &str| {
        ops.iter()
            .filter(|op| op.f == f && op.kind == OpKind::Ok)
            .count()
    };
    assert!(done("assign") > 10, "assigns: {}", done("assign"));
    assert!(done("commit_offsets") > 100, "{}", done("commit_offsets"));
    assert!(done("list_committed_offsets") == 0);
    // The final pollers are fresh processes (their clients crashed), one per thread.
    let finals: Vec<u64> = ops
        .iter()
        .filter(|op| op.final_read && op.f == "assign" && op.kind == OpKind::Ok)
        .map(|op| op.process)
        .collect();
    assert_eq!(
        finals.len(),
        2,
        "one seek-to-beginning assign per client thread"
    );
    for process in &finals {
        let first = ops.iter().position(|op| op.process == *process);
        assert!(
            first.is_some_and(|i| ops[i].final_read),
            "p{process} is fresh"
        );
    }
    let final_msgs: usize = ops
        .iter()
        .filter(|op| op.final_read && op.f == "poll" && op.kind == OpKind::Ok)
        .flat_map(|op| op.value.as_object().into_iter().flatten())
        .map(|(_, entries)| entries.as_array().map_or(0, Vec::len))
        .sum();
    let sends = done("send");
    // Both final pollers read every key from the beginning.
    assert!(
        final_msgs >= 2 * sends,
        "final polls read {final_msgs} of {sends}"
    );
    // Every commit is sent the moment a poll by the same process returns messages (inside
    // the poll's operation, as Maelstrom's client does) and names its highest offsets.
    for (i, op) in ops.iter().enumerate().skip(1) {
        if op.f == "commit_offsets" && op.kind == OpKind::Invoke {
            let poll = &ops[i - 1];
            assert_eq!(
                (poll.f.as_str(), poll.kind, poll.process, poll.time),
                ("poll", OpKind::Ok, op.process, op.time),
                "{op:?} does not follow its poll's answer at once"
            );
        }
    }
    let mut last_poll: BTreeMap<u64, Value> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.kind == OpKind::Ok) {
        match op.f.as_str() {
            "poll" => {
                last_poll.insert(op.process, op.value.clone());
            }
            "commit_offsets" => {
                let polled = last_poll.remove(&op.process).expect("a poll before");
                for (key, offset) in op.value.as_object().into_iter().flatten() {
                    let highest = polled[key].as_array().and_then(|e| e.last()).cloned();
                    assert_eq!(highest.map(|e| e[0].clone()), Some(offset.clone()));
                }
            }
            _ => {}
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_kafka_run() {
    let a = run_log(7, Fault::None);
    let b = run_log(7, Fault::None);
    assert_eq!(a.history, b.history);
    let c = run_log(8, Fault::None);
    assert_ne!(a.history, c.history);
}

/// Acknowledged messages that no poll ever returns are unseen, which fails the run, even
/// though nothing after them was read (no lost write).
#[test]
fn a_log_hiding_its_newest_messages_fails_as_unseen() {
    let report = run_log(1, Fault::HideNewest);
    assert!(!report.is_valid(), "{report}");
    assert!(count(&report, "unseen") > 0, "{}", report.check.summary);
    assert_eq!(count(&report, "lost writes"), 0, "{}", report.check.summary);
}

/// Polls that skip an acknowledged offset: between one process's polls (poll skips) and
/// for good (lost writes: offset 0 of every key is never read).
#[test]
fn a_log_skipping_offsets_fails_with_poll_skips_and_lost_writes() {
    let report = run_log(1, Fault::SkipFirst);
    assert!(!report.is_valid(), "{report}");
    assert!(count(&report, "poll skips") > 0, "{}", report.check.summary);
    assert!(
        count(&report, "lost writes") > 0,
        "{}",
        report.check.summary
    );
}

/// A log that lists its end as every key's committed offset: re-assigned clients would skip
/// messages nobody processed. Jepsen's kafka checker, which sees no requests, cannot tell:
/// the run fails beyond Maelstrom only, and passes when judged as Maelstrom. Lost writes
/// (a log skipping offsets) fail it either way.
#[test]
fn invented_commits_are_beyond_maelstrom_and_lost_writes_are_not() {
    let report = run_log(1, Fault::InventCommits);
    assert!(count(&report, "invented commits") > 0, "{report}");
    assert_eq!(report.verdict(), Verdict::BeyondMaelstrom, "{report}");
    assert!(!report.is_valid() && report.maelstrom_valid(), "{report}");
    let anomalies = &report.check.anomalies;
    assert!(
        anomalies.iter().all(|a| a.strictness == Strictness::Beyond),
        "{report}"
    );
    assert!(report
        .to_string()
        .contains("[beyond maelstrom] invented commit"));
    let judged = run_log_judged(1, Fault::InventCommits, true);
    assert!(judged.is_valid(), "{judged}");

    let lost = run_log_judged(1, Fault::SkipFirst, true);
    assert_eq!(lost.verdict(), Verdict::MaelstromInvalid, "{lost}");
    assert!(!lost.is_valid() && !lost.maelstrom_valid(), "{lost}");
    assert!(count(&lost, "lost writes") > 0, "{lost}");
    assert!(
        lost.to_string()
            .contains("    [maelstrom: invalid] poll skip"),
        "{lost}"
    );
}

/// Polls that go back to the start: a process reads offsets at or below its last ones.
#[test]
fn a_log_going_backwards_fails_with_nonmonotonic_polls() {
    let report = run_log(1, Fault::FromZero);
    assert!(!report.is_valid(), "{report}");
    assert!(
        count(&report, "nonmonotonic polls") > 0,
        "{}",
        report.check.summary
    );
}

/// Maelstrom crashes its kafka clients (`:crash-clients? true`, jepsen's crash-client-gen:
/// one crash per client per `crash-client-interval` on average): a crashed process is
/// replaced by a fresh one (under a new client id), which knows no keys until it assigns
/// some. With a 2 s interval here (Maelstrom's is 30 s) no request times out, yet processes
/// are replaced about once a second, and each new one's first operation on a key is an
/// assign, never a poll from a position it cannot know.
#[test]
fn clients_crash_and_their_successors_assign_before_they_poll() {
    let mut config = RunConfig::challenge("5a").expect("known challenge");
    config.seed = 3;
    config.crash_client_interval = Duration::from_secs(2);
    let report = run_config(&config, Fault::None);
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.ops_info, 0, "no request timed out: {report}");
    let ops = &report.history.ops;
    let processes = generating_processes(&report);
    // 20 s at a crash per second on average (two clients, one per 2 s each).
    assert!(
        (config.concurrency + 10..=config.concurrency + 35).contains(&processes.len()),
        "{} processes for {} client slots: crashes replaced some",
        processes.len(),
        config.concurrency
    );
    for process in processes {
        let first_keyed = ops.iter().find(|o| {
            o.process == process
                && o.kind == OpKind::Invoke
                && (o.f == "assign"
                    || (o.f == "poll" && o.value.as_object().is_some_and(|m| !m.is_empty())))
        });
        if let Some(op) = first_keyed {
            assert_eq!(
                op.f, "assign",
                "process {process} polled keys before assigning: {op:?}"
            );
        }
    }
}

/// At Maelstrom's 30 s interval a 20 s run of two clients sees a crash or two, not one per
/// hundred operations; assigns are jepsen's one operation in eight.
#[test]
fn crashes_are_rare_and_assigns_one_in_eight_at_maelstrom_s_settings() {
    let report = run_log(3, Fault::None);
    assert!(report.is_valid(), "{report}");
    let config = RunConfig::challenge("5a").expect("known challenge");
    let processes = generating_processes(&report);
    assert!(
        processes.len() <= config.concurrency + 6,
        "{} processes for {} client slots",
        processes.len(),
        config.concurrency
    );
    let invoked = |f: &str| {
        (report.history.ops.iter())
            .filter(|op| !op.final_read && op.kind == OpKind::Invoke && op.f == f)
            .count() as f64
    };
    let share = invoked("assign") / (invoked("assign") + invoked("send") + invoked("poll"));
    assert!((0.11..0.14).contains(&share), "assign share {share}");
}

/// The processes that ran generated (not final) operations.
fn generating_processes(report: &Report) -> Vec<u64> {
    let mut processes: Vec<u64> = (report.history.ops.iter())
        .filter(|o| !o.final_read)
        .map(|o| o.process)
        .collect();
    processes.sort_unstable();
    processes.dedup();
    processes
}
