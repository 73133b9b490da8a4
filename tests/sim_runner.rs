//! Whole simulated runs through `sim::runner`: the example nodes pass their challenge rows
//! with fixed seeds, deliberately broken nodes fail them, and a run is reproducible from its
//! seed (Maelstrom's docs "Workloads", "Traps").

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/broadcast.rs"]
mod broadcast;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/echo.rs"]
mod echo;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/unique_ids.rs"]
mod unique_ids;

use maelstrom_loop::kv::Kv;
use maelstrom_loop::sim::check::Strictness;
use maelstrom_loop::sim::check::Workload;
use maelstrom_loop::sim::history::OpKind;
use maelstrom_loop::sim::nemesis::{Shape, Shapes};
use maelstrom_loop::sim::report::Verdict;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig, Targets};
use maelstrom_loop::{Ctx, Duration, Error, Handler, Message, Origin};
use serde_json::json;

fn challenge(name: &str, seed: u64) -> RunConfig {
    let mut config = RunConfig::challenge(name).expect("known challenge");
    config.seed = seed;
    config
}

#[test]
fn echo_and_unique_ids_pass_their_challenges() {
    for seed in [1, 2] {
        let report = run(&challenge("1", seed), |_| echo::Echo);
        assert!(report.is_valid(), "{report}");
        assert!(report.ops_ok > 20, "{report}");
        let report = run(&challenge("2", seed), |_| unique_ids::UniqueIds::default());
        assert!(report.is_valid(), "{report}");
        assert!(report.ops_ok > 10_000, "{report}");
    }
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let a = run(&challenge("2", 5), |_| unique_ids::UniqueIds::default());
    let b = run(&challenge("2", 5), |_| unique_ids::UniqueIds::default());
    let c = run(&challenge("2", 6), |_| unique_ids::UniqueIds::default());
    assert_eq!(a.history, b.history);
    assert_ne!(a.history, c.history);
}

/// Hands out ids from a counter that every node starts at zero: duplicates across nodes.
#[derive(Default)]
struct CollidingIds(u64);

impl Handler for CollidingIds {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        self.0 += 1;
        ctx.reply(msg, &json!({"type": "generate_ok", "id": self.0}))
    }
}

/// Echoes, but adds a key the workload's schema does not have.
struct ChattyEcho;

impl Handler for ChattyEcho {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let echo: serde_json::Value = msg.field("echo")?;
        ctx.reply(
            msg,
            &json!({"type": "echo_ok", "echo": echo, "node": ctx.node_id()}),
        )
    }
}

/// A g-counter that never shares its count: final reads disagree with the total.
#[derive(Default)]
struct LonelyCounter(i64);

impl Handler for LonelyCounter {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "add" => {
                self.0 += msg.field::<i64>("delta")?;
                ctx.reply(msg, &json!({"type": "add_ok"}))
            }
            _ => ctx.reply(msg, &json!({"type": "read_ok", "value": self.0})),
        }
    }
}

/// The partition nemesis as Maelstrom runs it: a start at once, then stops and starts
/// alternating at gaps of at most twice the interval, each start named with its shape and
/// grudge in the trace and the report; healed before the final reads.
#[test]
fn partitions_start_at_once_alternate_and_are_traced_with_shape_and_grudge() {
    let mut config = challenge("3b", 3);
    config.nemesis = Nemesis::Partition {
        interval: Duration::from_secs(2),
        shapes: Shapes::only(&[Shape::MajoritiesRing]),
    };
    config.node_count = 3;
    config.trace = true;
    let report = run(&config, |_| broadcast::Broadcast::default());
    assert!(report.is_valid(), "{report}");
    let trace = String::from_utf8(report.trace.as_ref().unwrap().messages.clone()).unwrap();
    let events: Vec<serde_json::Value> = trace
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|event: &serde_json::Value| event["event"] == "nemesis")
        .collect();
    assert!(events.len() >= 6, "{} nemesis events in 20 s", events.len());
    let first_client_op = report.history.ops[0].time.as_micros();
    assert!(
        events[0]["time_us"].as_u64().unwrap() <= first_client_op,
        "a start at once"
    );
    let mut previous = 0;
    for (i, event) in events.iter().enumerate() {
        let time = event["time_us"].as_u64().unwrap();
        assert!(
            time - previous <= 4_000_000 || i == 0,
            "gap before event {i}"
        );
        previous = time;
        if i % 2 == 1 {
            assert_eq!(event["action"], "stop-partition");
            continue;
        }
        assert_eq!(event["action"], "start-partition");
        assert_eq!(event["shape"], "majorities-ring");
        // A 3-node ring: each node drops exactly one other.
        let grudge = event["grudge"].as_object().unwrap();
        assert_eq!(grudge.len(), 3);
        assert!(grudge
            .values()
            .all(|senders| senders.as_array().unwrap().len() == 1));
    }
    assert_eq!(
        events.last().unwrap()["action"],
        "stop-partition",
        "healed at the end"
    );
    assert_eq!(report.partitions.len(), events.len().div_ceil(2));
    let shown = report.to_string();
    assert!(shown.contains("partition: majorities-ring {n"), "{shown}");
}

#[test]
fn broken_nodes_fail_their_challenges() {
    let dupes = run(&challenge("2", 1), |_| CollidingIds::default());
    assert!(
        !dupes.is_valid() && dupes.protocol_errors.is_empty(),
        "the checker catches it: {dupes}"
    );
    let chatty = run(&challenge("1", 1), |_| ChattyEcho);
    assert!(!chatty.is_valid(), "{chatty}");
    assert!(
        chatty
            .protocol_errors
            .iter()
            .any(|e| e.detail.contains("`node`")),
        "{chatty}"
    );
    let lonely = run(&challenge("4", 1), |_| LonelyCounter::default());
    assert!(!lonely.is_valid(), "{lonely}");
}

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/g_counter.rs"]
mod g_counter;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/g_set.rs"]
mod g_set;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/txn_rw_register.rs"]
mod txn_rw_register;

#[test]
fn crdt_and_transaction_nodes_pass_their_challenges_with_partitions() {
    for seed in [1, 2] {
        let report = run(&challenge("g-set", seed), |_| g_set::GSet::default());
        assert!(report.is_valid(), "{report}");
        let report = run(&challenge("4", seed), |_| g_counter::GCounter::default());
        assert!(report.is_valid(), "{report}");
        let report = run(&challenge("pn-counter", seed), |_| {
            g_counter::pn_counter::PnCounter::default()
        });
        assert!(report.is_valid(), "{report}");
        for name in ["6a", "6b", "6c"] {
            let report = run(&challenge(name, seed), |_| {
                txn_rw_register::TxnRwRegister::default()
            });
            assert!(report.is_valid(), "{report}");
        }
    }
}

/// A one-node lin-kv: a map; `stale` makes every read answer the previous value instead.
#[derive(Default)]
struct Registers {
    values: std::collections::BTreeMap<u64, u64>,
    previous: std::collections::BTreeMap<u64, u64>,
    stale: bool,
}

impl Handler for Registers {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let key: u64 = msg.field("key")?;
        let current = if self.stale {
            self.previous.get(&key)
        } else {
            self.values.get(&key)
        }
        .copied();
        match msg.kind() {
            "read" => match current {
                Some(value) => ctx.reply(msg, &json!({"type": "read_ok", "value": value})),
                None => Err(Error::key_does_not_exist("no such key")),
            },
            "write" => {
                self.set(key, msg.field("value")?);
                ctx.reply(msg, &json!({"type": "write_ok"}))
            }
            _ => match self.values.get(&key).copied() {
                None => Err(Error::key_does_not_exist("no such key")),
                Some(v) if v != msg.field::<u64>("from")? => {
                    Err(Error::precondition_failed("mismatch"))
                }
                Some(_) => {
                    self.set(key, msg.field("to")?);
                    ctx.reply(msg, &json!({"type": "cas_ok"}))
                }
            },
        }
    }
}

impl Registers {
    fn set(&mut self, key: u64, value: u64) {
        if let Some(old) = self.values.insert(key, value) {
            self.previous.insert(key, old);
        }
    }
}

#[test]
fn lin_kv_clients_and_checker_tell_a_register_from_a_stale_one() {
    let mut config = challenge("lin-kv", 3);
    config.node_count = 1;
    config.nemesis = maelstrom_loop::sim::runner::Nemesis::None;
    let good = run(&config, |_| Registers::default());
    assert!(good.is_valid(), "{good}");
    assert!(
        good.ops_ok > 500 && good.ops_fail > 0,
        "reads, writes and failed cas: {good}"
    );
    let stale = run(&config, |_| Registers {
        stale: true,
        ..Registers::default()
    });
    assert!(!stale.is_valid(), "{stale}");
}

/// A one-node kafka log: offsets 0, 1, 2 ... per key; `reuse` hands every send offset 0.
#[derive(Default)]
struct Log {
    logs: std::collections::BTreeMap<String, Vec<u64>>,
    committed: serde_json::Map<String, serde_json::Value>,
    reuse: bool,
}

impl Handler for Log {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "send" => {
                let log = self.logs.entry(msg.field("key")?).or_default();
                log.push(msg.field("msg")?);
                let offset = if self.reuse { 0 } else { log.len() - 1 };
                ctx.reply(msg, &json!({"type": "send_ok", "offset": offset}))
            }
            "poll" => {
                let wanted: std::collections::BTreeMap<String, usize> = msg.field("offsets")?;
                let mut msgs = serde_json::Map::new();
                for (key, from) in wanted {
                    let log = self.logs.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                    let entries: Vec<_> = log
                        .iter()
                        .enumerate()
                        .skip(from)
                        .map(|(o, m)| json!([o, m]))
                        .collect();
                    msgs.insert(key, json!(entries));
                }
                ctx.reply(msg, &json!({"type": "poll_ok", "msgs": msgs}))
            }
            "commit_offsets" => {
                let offsets: serde_json::Map<String, serde_json::Value> = msg.field("offsets")?;
                self.committed.extend(offsets);
                ctx.reply(msg, &json!({"type": "commit_offsets_ok"}))
            }
            _ => ctx.reply(
                msg,
                &json!({"type": "list_committed_offsets_ok", "offsets": self.committed}),
            ),
        }
    }
}

#[test]
fn kafka_clients_and_checker_tell_a_log_from_one_that_reuses_offsets() {
    let config = challenge("5a", 4);
    let good = run(&config, |_| Log::default());
    assert!(good.is_valid(), "{good}");
    let sends = good.history.ops.iter().filter(|op| op.f == "send").count();
    let polls = good.history.ops.iter().filter(|op| op.f == "poll").count();
    assert!(sends > 1000 && polls > 1000, "sends {sends}, polls {polls}");
    let broken = run(&config, |_| Log {
        reuse: true,
        ..Log::default()
    });
    assert!(!broken.is_valid(), "{broken}");
}

/// A one-node list-append store: serial, so strict-serializable; `forgetful` drops each
/// key's first element from reads.
#[derive(Default)]
struct Lists {
    lists: std::collections::BTreeMap<u64, Vec<u64>>,
    forgetful: bool,
}

impl Handler for Lists {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let mut txn: Vec<(String, u64, serde_json::Value)> = msg.field("txn")?;
        for (f, key, value) in &mut txn {
            if f == "append" {
                self.lists
                    .entry(*key)
                    .or_default()
                    .push(value.as_u64().unwrap_or(0));
            } else {
                let skip = usize::from(self.forgetful);
                *value = self
                    .lists
                    .get(key)
                    .map_or(serde_json::Value::Null, |l| json!(l[skip.min(l.len())..]));
            }
        }
        ctx.reply(msg, &json!({"type": "txn_ok", "txn": txn}))
    }
}

#[test]
fn list_append_clients_and_checker_tell_a_store_from_a_forgetful_one() {
    let config = challenge("txn-list-append", 2);
    let mut one = config.clone();
    one.node_count = 1;
    let good = run(&one, |_| Lists::default());
    assert!(good.is_valid(), "{good}");
    assert!(good.ops_ok > 500, "{good}");
    let broken = run(&one, |_| Lists {
        forgetful: true,
        ..Lists::default()
    });
    assert!(!broken.is_valid(), "{broken}");
}

/// Maelstrom's key flags reach the transaction generator (Elle's): with 2 active keys, 3
/// writes per key and single-operation transactions, every invoked transaction has one
/// operation, each key gets the values 1, 2, 3 in order, and retired keys are replaced by
/// fresh ones, so a 10 s run touches many keys.
#[test]
fn key_count_txn_length_and_writes_per_key_shape_the_transactions() {
    let mut config = challenge("txn-list-append", 3);
    config.node_count = 1;
    config.key_count = 2;
    config.max_txn_length = 1;
    config.max_writes_per_key = 3;
    let report = run(&config, |_| Lists::default());
    assert!(report.is_valid(), "{report}");
    let mut appended: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for op in report
        .history
        .ops
        .iter()
        .filter(|op| op.kind == OpKind::Invoke)
    {
        let txn = op.value.as_array().expect("a transaction");
        assert_eq!(txn.len(), 1, "{}", op.value);
        if txn[0][0] == "append" {
            let key = txn[0][1].as_u64().unwrap();
            appended
                .entry(key)
                .or_default()
                .push(txn[0][2].as_u64().unwrap());
        }
    }
    assert!(appended.len() > 50, "{} keys", appended.len());
    for (key, values) in &appended {
        assert_eq!(
            values,
            &(1..=values.len() as u64).collect::<Vec<_>>(),
            "key {key}"
        );
        assert!(values.len() <= 3, "key {key}: {values:?}");
    }
}

/// Answers each echo 6 s late, from a timer; `PATIENT` says whether it believes clients wait
/// an hour (so the library's guard lets the late answers through) or the default 5 s.
struct SlowEcho<const PATIENT: bool>;

impl<const PATIENT: bool> Handler for SlowEcho<PATIENT> {
    type Timer = (Origin, serde_json::Value);
    const CLIENT_TIMEOUT: Duration = if PATIENT {
        Duration::from_secs(3_600)
    } else {
        Duration::from_secs(5)
    };

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let echo: serde_json::Value = msg.field("echo")?;
        ctx.set_timer(Duration::from_secs(6), (msg.origin(), echo));
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer) -> Result<(), Error> {
        let (origin, echo) = timer;
        ctx.reply(&origin, &json!({"type": "echo_ok", "echo": echo}))
    }
}

/// Answers the third echo 6 s late, past the library's guard, and every other at once.
#[derive(Default)]
struct OneLateEcho(u32);

impl Handler for OneLateEcho {
    type Timer = (Origin, serde_json::Value);
    const CLIENT_TIMEOUT: Duration = Duration::from_secs(3_600);

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let echo: serde_json::Value = msg.field("echo")?;
        self.0 += 1;
        if self.0 == 3 {
            ctx.set_timer(Duration::from_secs(6), (msg.origin(), echo));
            return Ok(());
        }
        ctx.reply(msg, &json!({"type": "echo_ok", "echo": echo}))
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer) -> Result<(), Error> {
        let (origin, echo) = timer;
        ctx.reply(&origin, &json!({"type": "echo_ok", "echo": echo}))
    }
}

/// Maelstrom's docs "Traps": Maelstrom closes a client whose request timed out in a workload
/// whose client is not reusable (echo is one), and a message to a closed client throws in
/// the thread reading the node's stdout, which reads nothing more. The runner closes such
/// clients, reports such messages (beyond Maelstrom: the line itself fails no Maelstrom run)
/// and stops reading the node; the checkers judge the rest, as Maelstrom's do. The library's
/// guard keeps a node from sending them.
#[test]
fn answering_a_closed_client_late_is_a_protocol_error_that_the_library_prevents() {
    let late = run(&challenge("1", 1), |_| SlowEcho::<true>);
    assert!(!late.is_valid(), "{late}");
    assert!(
        late.protocol_errors
            .iter()
            .any(|e| e.detail.contains("was closed")
                && e.detail.contains("Invalid dest")
                && e.detail.contains("reads nothing more from this node")
                && e.strictness == Strictness::Beyond),
        "{late}"
    );
    // Under Maelstrom (a real run of the same node): 7 ok, 2 info, "Everything looks good",
    // and one "Invalid dest" in its log; the node answered nothing after it.
    let one_late = run(&challenge("1", 1), |_| OneLateEcho::default());
    assert_eq!(one_late.verdict(), Verdict::BeyondMaelstrom, "{one_late}");
    assert!(one_late.maelstrom_valid(), "{one_late}");
    assert_eq!(one_late.protocol_errors.len(), 1, "{one_late}");
    // The third echo timed out; after the late answer (at 6 s) the next one does too, and
    // the run ends before a third would.
    assert_eq!((one_late.ops_ok, one_late.ops_info), (6, 2), "{one_late}");
    let guarded = run(&challenge("1", 1), |_| SlowEcho::<false>);
    assert!(guarded.protocol_errors.is_empty(), "{guarded}");
    assert_eq!(guarded.ops_ok, 0, "every echo timed out: {guarded}");
}

/// Answers each `generate` 6 s late, from a timer, past the library's guard (it believes
/// clients wait an hour).
struct SlowIds(u64);

impl Handler for SlowIds {
    type Timer = (Origin, u64);
    const CLIENT_TIMEOUT: Duration = Duration::from_secs(3_600);

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        self.0 += 1;
        ctx.set_timer(Duration::from_secs(6), (msg.origin(), self.0));
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer) -> Result<(), Error> {
        let (origin, id) = timer;
        let id = format!("{}-{id}", ctx.node_id());
        ctx.reply(&origin, &json!({"type": "generate_ok", "id": id}))
    }
}

/// Maelstrom's docs "Workloads": unique-ids' client is reusable (as are lin-kv's and the
/// transaction workloads'): after a timeout it keeps its id and skips the late answer, so
/// answering late is no protocol error there, only an indeterminate operation.
#[test]
fn answering_a_reusable_client_late_is_no_protocol_error() {
    let mut config = RunConfig::new("slow-ids", Workload::UniqueIds, 1);
    config.concurrency = 2;
    config.trace = true;
    let late = run(&config, |_| SlowIds(0));
    assert!(late.protocol_errors.is_empty(), "{late}");
    // Invalid only because no generate ever succeeded (Jepsen's stats checker).
    assert!(
        late.check
            .summary
            .contains("no [generate] operation succeeded"),
        "{late}"
    );
    assert_eq!(late.ops_ok, 0, "every generate timed out: {late}");
    assert!(late.ops_info >= 4, "{late}");
    // The two clients kept their ids and received the late answers.
    let trace = String::from_utf8_lossy(&late.trace.as_ref().expect("traced").messages);
    let late_answers = trace
        .lines()
        .filter(|line| line.contains("generate_ok"))
        .inspect(|line| {
            assert!(
                line.contains(r#""dest":"c1""#) || line.contains(r#""dest":"c2""#),
                "{line}"
            )
        })
        .count();
    assert!(late_answers >= 2, "{trace}");
}

/// Unique ids from `node-counter`, but one request in a hundred is refused (code 11).
#[derive(Default)]
struct FlakyIds(u64);

impl Handler for FlakyIds {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        self.0 += 1;
        if self.0 % 100 == 0 {
            return Err(Error::temporarily_unavailable("flaky"));
        }
        let id = format!("{}-{}", ctx.node_id(), self.0);
        ctx.reply(msg, &json!({"type": "generate_ok", "id": id}))
    }
}

/// the challenges' command lines: 2 and 6a-6c run with `--availability total` (every
/// operation must succeed), and 3d/3e have message and latency targets. A run that misses
/// one is invalid, though every answer was right.
#[test]
fn runs_that_miss_their_availability_or_targets_are_invalid() {
    let flaky = run(&challenge("2", 1), |_| FlakyIds::default());
    assert!(flaky.check.is_valid(), "the ids are unique: {flaky}");
    assert!(!flaky.is_valid(), "{flaky}");
    assert!(
        flaky
            .goals_missed
            .iter()
            .any(|g| g.detail.contains("availability")),
        "{flaky}"
    );
    // Maelstrom's availability checker fails such a run too.
    assert_eq!(flaky.verdict(), Verdict::MaelstromInvalid, "{flaky}");
    let steady = run(&challenge("2", 1), |_| unique_ids::UniqueIds::default());
    assert!(steady.goals_missed.is_empty(), "{steady}");

    let mut strict = challenge("3e", 1);
    strict.targets = Some(Targets {
        msgs_per_op: 2.0,
        latency_ms_p50: 100,
        latency_ms_max: 2_000,
    });
    let missed = run(&strict, |_| broadcast::Broadcast::default());
    assert!(missed.check.is_valid(), "{missed}");
    let goals: Vec<&str> = missed
        .goals_missed
        .iter()
        .map(|g| g.detail.as_str())
        .collect();
    let goals = goals.join("; ");
    assert!(
        goals.contains("msgs/op") && goals.contains("median") && !goals.contains("max"),
        "{missed}"
    );
    // The targets are the challenge's, not Maelstrom's: judged as Maelstrom, the run passes.
    assert_eq!(missed.verdict(), Verdict::BeyondMaelstrom, "{missed}");
    assert!(!missed.is_valid() && missed.maelstrom_valid(), "{missed}");
    strict.maelstrom_only = true;
    let judged = run(&strict, |_| broadcast::Broadcast::default());
    assert!(judged.is_valid(), "{judged}");
    assert!(
        judged
            .to_string()
            .contains("goal missed: [beyond maelstrom]"),
        "{judged}"
    );
    let met = run(&challenge("3e", 1), |_| broadcast::Broadcast::default());
    assert!(met.is_valid(), "{met}");
}

/// A g-counter on seq-kv. With `poll`, it refreshes a cached total from seq-kv on a 50 ms
/// timer and answers reads from the cache: a request to seq-kv is nearly always on its way,
/// also when the run ends. Without, it calls seq-kv only while answering a client.
struct SeqKvCounter {
    poll: bool,
    cached: i64,
}

impl Handler for SeqKvCounter {
    type Timer = ();

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        if self.poll {
            ctx.set_interval(Duration::from_millis(50), ());
        }
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let request = msg.origin();
        if msg.kind() == "add" {
            let delta: i64 = msg.field("delta")?;
            Kv::seq().update(
                ctx,
                "total",
                0_i64,
                move |t| t + delta,
                20,
                move |_, ctx, r| r.and_then(|_| ctx.reply(&request, &json!({"type": "add_ok"}))),
            )?;
        } else if self.poll {
            ctx.reply(msg, &json!({"type": "read_ok", "value": self.cached}))?;
        } else {
            Kv::seq().read_or(ctx, "total", 0_i64, move |_, ctx, total| {
                ctx.reply(&request, &json!({"type": "read_ok", "value": total?}))
            })?;
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) -> Result<(), Error> {
        Kv::seq().read_or(ctx, "total", 0_i64, |node: &mut Self, _, total| {
            node.cached = node.cached.max(total?);
            Ok(())
        })?;
        Ok(())
    }
}

/// Maelstrom tears the nodes down right after the final reads; a seq-kv request still on
/// its way then gets an answer to a removed node, which crashes Maelstrom's teardown
/// ("Invalid dest"). The simulator fails such a run and names the trap.
#[test]
fn a_service_request_in_flight_at_teardown_fails_the_run_as_maelstrom_crashes() {
    let mut config = challenge("4", 1);
    config.latency = maelstrom_loop::sim::Latency::Fixed(Duration::from_millis(100));
    config.nemesis = maelstrom_loop::sim::runner::Nemesis::None;
    config.time_limit = Duration::from_secs(5);
    let trap = "maelstrom would crash at teardown: a seq-kv request from n";
    let polling = run(&config, |_| SeqKvCounter {
        poll: true,
        cached: 0,
    });
    assert!(!polling.is_valid(), "{polling}");
    assert!(
        polling
            .protocol_errors
            .iter()
            .any(|e| e.detail.contains(trap)),
        "{polling}"
    );
    let on_demand = run(&config, |_| SeqKvCounter {
        poll: false,
        cached: 0,
    });
    assert!(
        !on_demand
            .protocol_errors
            .iter()
            .any(|e| e.detail.contains("teardown")),
        "{on_demand}"
    );
    // Maelstrom's msgs-per-op counts service messages too: this node sends nothing else.
    assert!(on_demand.msgs_per_op > 1.0, "{on_demand}");
    assert_eq!(on_demand.msgs_per_op, on_demand.service_msgs_per_op);
}

/// The broadcast workload's first message to each node is the topology Maelstrom's
/// `--topology` names (Maelstrom's docs, "Workloads": broadcast); the default is a grid.
#[test]
fn broadcast_nodes_get_the_configured_topology() {
    use maelstrom_loop::sim::runner::Topology;
    for topology in [Topology::Grid, Topology::Tree(3), Topology::Total] {
        let mut config = challenge("3b", 1);
        config.time_limit = Duration::from_secs(1);
        config.topology = topology;
        config.trace = true;
        let report = run(&config, |_| broadcast::Broadcast::default());
        let trace = report.trace.expect("trace asked for");
        let ids: Vec<String> = (0..5).map(|i| format!("n{i}")).collect();
        let expected: serde_json::Map<String, serde_json::Value> = topology
            .neighbours(&ids)
            .into_iter()
            .map(|(id, of)| (id, json!(of)))
            .collect();
        for (node, record) in &trace.node_records {
            let inputs: Vec<Vec<u8>> = String::from_utf8_lossy(record)
                .lines()
                .skip(1) // the header
                .filter_map(|line| match maelstrom_loop::record::parse_event(line) {
                    Ok(maelstrom_loop::record::Event::Input { line, .. }) => Some(line),
                    _ => None,
                })
                .collect();
            // After init, a broadcast node's first input is its topology.
            let first: serde_json::Value = serde_json::from_slice(&inputs[1]).unwrap();
            assert_eq!(first["body"]["type"], "topology", "{node}: {first}");
            assert_eq!(
                first["body"]["topology"],
                json!(expected),
                "{node} under {topology}"
            );
        }
    }
}

/// How a node answers `topology`: 0 not at all, 1 with an error, 2 with a key beyond the
/// schema, 3 properly. Otherwise a flooding broadcast node (enough without partitions).
#[derive(Default)]
struct TopologyAnswer<const MODE: u8>(Vec<u64>);

impl<const MODE: u8> Handler for TopologyAnswer<MODE> {
    type Timer = ();

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "topology" => match MODE {
                0 => Ok(()),
                1 => Err(Error::not_supported("topology")),
                2 => ctx.reply(msg, &json!({"type": "topology_ok", "note": "thanks"})),
                _ => ctx.reply(msg, &json!({"type": "topology_ok"})),
            },
            "broadcast" => {
                let value: u64 = msg.field("message")?;
                self.0.push(value);
                ctx.send_to_peers(&json!({"type": "gossip", "message": value}))?;
                ctx.reply(msg, &json!({"type": "broadcast_ok"}))
            }
            "gossip" => {
                self.0.push(msg.field("message")?);
                Ok(())
            }
            _ => ctx.reply(msg, &json!({"type": "read_ok", "messages": self.0})),
        }
    }
}

/// Maelstrom's broadcast setup waits for each node's `topology_ok` (5 s), typed by a schema
/// that allows `type`, `msg_id` and `in_reply_to`: no answer, an error or a malformed answer
/// throws in Jepsen's setup and the test crashes without a verdict (three real runs: "Client
/// read timeout", `:rpc-error :not-supported`, "Malformed RPC response").
#[test]
fn a_missing_or_bad_topology_answer_fails_as_maelstrom_s_setup_crashes() {
    fn topology_failures(report: &maelstrom_loop::sim::report::Report) -> Vec<String> {
        report
            .protocol_errors
            .iter()
            .filter(|e| e.detail.contains("topology") && e.strictness == Strictness::Maelstrom)
            .map(|e| e.detail.clone())
            .collect()
    }
    let config = challenge("3b", 1);
    let silent = run(&config, |_| TopologyAnswer::<0>::default());
    let failures = topology_failures(&silent);
    assert_eq!(failures.len(), 5, "{silent}");
    assert!(failures[0].contains("Client read timeout"), "{silent}");
    let error = run(&config, |_| TopologyAnswer::<1>::default());
    assert!(topology_failures(&error)[0].contains("error"), "{error}");
    let extra = run(&config, |_| TopologyAnswer::<2>::default());
    assert!(topology_failures(&extra)[0].contains("`note`"), "{extra}");
    for report in [&silent, &error, &extra] {
        assert_eq!(report.verdict(), Verdict::MaelstromInvalid, "{report}");
    }
    let proper = run(&config, |_| TopologyAnswer::<3>::default());
    assert!(proper.is_valid(), "{proper}");
}
