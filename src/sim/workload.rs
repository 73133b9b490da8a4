//! Workload clients: what each Maelstrom workload's clients send, what a valid answer looks
//! like (its schema), and how an answer is written into the [`History`](super::history).
//!
//! Operations follow Maelstrom's generators: distinct integers for broadcast and g-set, small
//! deltas for counters, lin-kv's reads on some threads and writes and compare-and-sets on
//! others, over one key at a time; transactions
//! and kafka's sends and polls draw their keys and values as Elle's generator does
//! ([`KeySettings`]: a pool of active keys, each retired after so many writes). The module
//! owns generation and interpretation, and Maelstrom's client lifecycle rules
//! ([`client_is_reusable`], [`unanswered_kind`]); the runner decides when and to whom, and
//! drives the cluster.

mod keys;
mod lifecycle;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

pub use self::keys::KeySettings;
use self::keys::{KeyPool, MicroOp};
pub use self::lifecycle::{client_is_reusable, unanswered_kind};

use super::check::Workload;
use super::history::OpKind;
use crate::rng::Rng;

/// Jepsen's linearizable-register test moves a group of threads to a new key once this many
/// distinct processes have worked on its key (`gen/process-limit`, default 20): only crashed
/// (indeterminate) operations bring new processes, so most runs use one key.
const LIN_KV_PROCESS_LIMIT: usize = 20;
/// One kafka operation in this many is an assign instead (jepsen's `subscribe-ratio`, 1/8).
const KAFKA_ASSIGN_ONE_IN: u64 = 8;

/// One operation about to be sent: its history name and value, and the request body
/// (without `msg_id`).
#[derive(Clone, Debug)]
pub struct Request {
    /// The operation's name in the history (`"read"`, `"add"`, `"txn"`, ...).
    pub f: &'static str,
    /// The value recorded at invocation.
    pub value: Value,
    /// The body to send.
    pub body: Value,
}

/// How an answer went into the history, or why it broke the workload's schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The completion to record.
    Done(OpKind, Value),
    /// The answer does not fit the workload's schema: a run with one is invalid.
    SchemaError(String),
}

/// Generates operations for one workload; all randomness comes from its [`Rng`].
#[derive(Debug)]
pub struct Generator {
    workload: Workload,
    rng: Rng,
    /// The next unique value (broadcast messages, set elements, written values).
    next_value: u64,
    /// Per kafka client process: Maelstrom's client state.
    kafka_clients: BTreeMap<u64, KafkaClient>,
    /// Every process's kafka view so far: sends, polls and what is still unseen.
    kafka: KafkaTracker,
    /// Transactions' and kafka's keys and values.
    keys: KeyPool,
    /// Per lin-kv thread group: its key and the processes that have worked on it.
    lin_kv_groups: Vec<LinKvGroup>,
    /// The next lin-kv key a group moves to.
    lin_kv_next_key: u64,
}

/// One lin-kv thread group's key (`independent/concurrent-generator`) and the processes its
/// `process-limit` has seen.
#[derive(Debug, Default)]
struct LinKvGroup {
    key: u64,
    processes: std::collections::BTreeSet<u64>,
}

/// Where a lin-kv operation goes: a thread and what it does there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinKvPick {
    /// The client thread (slot).
    pub slot: usize,
    /// Its thread group (2 x node count threads each).
    pub group: usize,
    /// The group's threads.
    pub threads: std::ops::Range<usize>,
    /// Whether it is from the group's write half (writes and cas) rather than its read half.
    pub write: bool,
}

/// One kafka client process, as Maelstrom's `kafka` client keeps it.
#[derive(Debug, Default)]
struct KafkaClient {
    /// Assigned keys (and any key a poll returned) to the offset to poll from next.
    offsets: BTreeMap<String, i64>,
    /// Highest offsets of the last successful poll, per key: committed before anything else.
    to_commit: Option<Map<String, Value>>,
    /// Highest offset this process has polled, per key (final polls stop at their targets).
    polled: BTreeMap<String, i64>,
}

/// What every kafka client has done, across processes (jepsen's generator state).
#[derive(Debug, Default)]
struct KafkaTracker {
    /// Highest offset per key of any successful send or poll (the final polls' targets).
    max_offsets: BTreeMap<String, i64>,
    /// Highest sent offset per key not yet matched by a poll (jepsen's "poll unseen"), with
    /// the highest polled offset of that key.
    unseen: BTreeMap<String, (i64, i64)>,
}

impl Generator {
    /// A generator for `workload` drawing from `rng`, with Maelstrom's default key settings.
    pub fn new(workload: Workload, rng: Rng) -> Generator {
        Generator {
            workload,
            rng,
            next_value: 0,
            kafka_clients: BTreeMap::new(),
            kafka: KafkaTracker::default(),
            keys: KeyPool::new(KeySettings::default()),
            lin_kv_groups: Vec::new(),
            lin_kv_next_key: 0,
        }
    }

    /// Picks the thread for the next lin-kv operation as Jepsen's linearizable-register
    /// generator does: threads form groups of `2 x nodes` (`independent/concurrent-generator`),
    /// and in each group the first `nodes` threads only read while the others write or cas
    /// (`gen/reserve`), the two halves at even odds when both have a free thread. Within a
    /// half the thread is the first free one at or after `cursor` (Jepsen's next-thread index,
    /// over every thread), else the first free one of the half, so the half's first thread
    /// gets most operations while all are free. `None` when no thread is free.
    pub fn lin_kv_pick(
        &mut self,
        slots: usize,
        nodes: usize,
        cursor: usize,
        busy: impl Fn(usize) -> bool,
    ) -> Option<LinKvPick> {
        let size = (2 * nodes).min(slots).max(1);
        let halves: Vec<(usize, bool, std::ops::Range<usize>)> = (0..(slots / size).max(1))
            .flat_map(|group| {
                let start = group * size;
                let middle = (start + nodes).min(start + size);
                [
                    (group, false, start..middle),
                    (group, true, middle..start + size),
                ]
            })
            .filter(|(_, _, half)| half.clone().any(|slot| !busy(slot)))
            .collect();
        if halves.is_empty() {
            return None;
        }
        let (group, write, half) = halves[self.rng.below(halves.len() as u64) as usize].clone();
        let slot = (cursor.max(half.start)..half.end)
            .chain(half)
            .find(|&slot| !busy(slot))?;
        let threads = group * size..(group + 1) * size;
        Some(LinKvPick {
            slot,
            group,
            threads,
            write,
        })
    }

    /// The lin-kv operation for `pick`, on its group's key; `group_processes` are the
    /// processes of the group's threads now (a group moves to a fresh key once more than
    /// [`LIN_KV_PROCESS_LIMIT`] distinct ones, or than its threads, have worked on its key).
    pub fn lin_kv_op(&mut self, pick: &LinKvPick, group_processes: &[u64]) -> Request {
        while self.lin_kv_groups.len() <= pick.group {
            let key = self.lin_kv_next_key;
            self.lin_kv_next_key += 1;
            self.lin_kv_groups.push(LinKvGroup {
                key,
                processes: Default::default(),
            });
        }
        let group = &mut self.lin_kv_groups[pick.group];
        group.processes.extend(group_processes.iter().copied());
        // Past 10 nodes a group has more threads than the limit, and Jepsen's generator
        // would draw fresh keys forever without yielding an operation (Maelstrom's lin-kv
        // hangs there: 11 nodes logged no operation in two minutes); the simulator lets the
        // group's own threads count as within it.
        let limit = LIN_KV_PROCESS_LIMIT.max(group_processes.len());
        if group.processes.len() > limit {
            group.key = self.lin_kv_next_key;
            self.lin_kv_next_key += 1;
            group.processes = group_processes.iter().copied().collect();
        }
        let key = group.key;
        if !pick.write {
            return request(
                "read",
                json!([key, null]),
                json!({"type": "read", "key": key}),
            );
        }
        // `gen/mix [w cas cas]`.
        if self.rng.below(3) == 0 {
            let v = self.rng.below(5);
            return request(
                "write",
                json!([key, v]),
                json!({"type": "write", "key": key, "value": v}),
            );
        }
        let (from, to) = (self.rng.below(5), self.rng.below(5));
        let body = json!({"type": "cas", "key": key, "from": from, "to": to});
        request("cas", json!([key, [from, to]]), body)
    }

    /// The same generator with other key settings (kafka ignores `max_txn_length`: its
    /// operations are single sends or polls, as in Maelstrom).
    pub fn with_keys(mut self, settings: KeySettings) -> Generator {
        self.keys = KeyPool::new(settings);
        self
    }

    fn unique(&mut self) -> u64 {
        self.next_value += 1;
        self.next_value
    }

    /// The next operation for client `process`.
    pub fn next(&mut self, process: u64) -> Request {
        match self.workload {
            Workload::Echo => {
                let text = format!("Please echo {}", self.unique());
                request("echo", json!(text), json!({"type": "echo", "echo": text}))
            }
            Workload::UniqueIds => request("generate", Value::Null, json!({"type": "generate"})),
            Workload::Broadcast => self.set_op("broadcast", "message"),
            Workload::GSet => self.set_op("add", "element"),
            Workload::GCounter => self.counter_op(false),
            Workload::PnCounter => self.counter_op(true),
            // The runner asks `lin_kv_pick` and `lin_kv_op`: the thread decides the operation.
            Workload::LinKv => {
                let write = self.rng.chance(0.5);
                let pick = LinKvPick {
                    slot: 0,
                    group: 0,
                    threads: 0..1,
                    write,
                };
                self.lin_kv_op(&pick, &[process])
            }
            Workload::TxnRwRegister { .. } => self.txn_op("w"),
            Workload::TxnListAppend => self.txn_op("append"),
            Workload::Kafka => self.kafka_op(process),
        }
    }

    /// The final read asked of every node at the end, for workloads that have one.
    pub fn final_read(&self) -> Option<Request> {
        match self.workload {
            Workload::Broadcast | Workload::GSet | Workload::GCounter | Workload::PnCounter => {
                Some(request("read", Value::Null, json!({"type": "read"})))
            }
            _ => None,
        }
    }

    fn set_op(&mut self, f: &'static str, field: &str) -> Request {
        if self.rng.chance(0.5) {
            return request("read", Value::Null, json!({"type": "read"}));
        }
        let v = self.unique();
        let mut body = json!({"type": f});
        body[field] = json!(v);
        request(f, json!(v), body)
    }

    /// Maelstrom's pn-counter mix: reads and adds at even odds, deltas uniform on -5..=4.
    /// Its g-counter filters the negative adds out of that mix, so a third of its operations
    /// are adds, of 0..=4.
    fn counter_op(&mut self, negative: bool) -> Request {
        loop {
            if self.rng.chance(0.5) {
                return request("read", Value::Null, json!({"type": "read"}));
            }
            let delta = self.rng.below(10) as i64 - 5;
            if negative || delta >= 0 {
                return request("add", json!(delta), json!({"type": "add", "delta": delta}));
            }
        }
    }

    fn txn_op(&mut self, write: &str) -> Request {
        let len = self.keys.txn_length(&mut self.rng);
        let ops: Vec<Value> = (0..len)
            .map(|_| match self.keys.next(&mut self.rng) {
                MicroOp::Read(key) => json!(["r", key, null]),
                MicroOp::Write(key, value) => json!([write, key, value]),
            })
            .collect();
        request("txn", json!(ops), json!({"type": "txn", "txn": ops}))
    }

    /// Maelstrom's kafka client (jepsen's kafka workload with `:sub-via #{:assign}`, no
    /// transactions): the process draws a micro-operation from the key pool (a send of the
    /// key's next value, or a poll of its assigned keys), and one time in
    /// [`KAFKA_ASSIGN_ONE_IN`] assigns itself that micro-operation's key instead, a third of
    /// the time together with every key that has acknowledged sends no poll has returned
    /// yet. An assign asks the node for the keys' committed offsets
    /// (`list_committed_offsets`) and is recorded as `assign`. A poll that returns messages
    /// is followed at once by its commit ([`Generator::kafka_take_commit`]); client crashes
    /// come from the runner's schedule ([`Generator::kafka_crash`]).
    fn kafka_op(&mut self, process: u64) -> Request {
        let micro = self.keys.next(&mut self.rng);
        let (MicroOp::Read(key) | MicroOp::Write(key, _)) = micro;
        let key = key.to_string();
        if self.rng.below(KAFKA_ASSIGN_ONE_IN) == 0 {
            let mut keys = vec![key];
            if !self.kafka.unseen.is_empty() && self.rng.below(3) == 0 {
                for unseen in self.kafka.unseen.keys() {
                    if !keys.contains(unseen) {
                        keys.push(unseen.clone());
                    }
                }
            }
            let body = json!({"type": "list_committed_offsets", "keys": keys});
            return request("assign", json!(keys), body);
        }
        match micro {
            MicroOp::Write(_, msg) => {
                let body = json!({"type": "send", "key": key, "msg": msg});
                request("send", json!([key, msg]), body)
            }
            MicroOp::Read(_) => self.kafka_poll(process),
        }
    }

    /// A poll from the process's current offsets (all of its assigned keys).
    fn kafka_poll(&mut self, process: u64) -> Request {
        let client = self.kafka_clients.entry(process).or_default();
        let offsets: Map<String, Value> = client
            .offsets
            .iter()
            .map(|(k, o)| (k.clone(), json!(o)))
            .collect();
        let offsets = Value::Object(offsets);
        request(
            "poll",
            offsets.clone(),
            json!({"type": "poll", "offsets": offsets}),
        )
    }

    /// Kafka's final polls: the highest offset per key any successful send or poll reached
    /// so far, which every final poller must read up to; `None` for other workloads.
    pub fn kafka_final_targets(&self) -> Option<BTreeMap<String, i64>> {
        (self.workload == Workload::Kafka).then(|| self.kafka.max_offsets.clone())
    }

    /// Kafka's final polls: `process` (fresh after a crash) assigns itself `keys` and seeks
    /// to the beginning of each; returns the assign's value for the history.
    pub fn kafka_seek_to_beginning(&mut self, process: u64, keys: &[String]) -> Value {
        let client = self.kafka_clients.entry(process).or_default();
        client.offsets = keys.iter().map(|k| (k.clone(), 0)).collect();
        json!(keys)
    }

    /// Kafka's final polls: the next operation of `process`, a poll of its keys.
    pub fn kafka_final_op(&mut self, process: u64) -> Request {
        self.kafka_poll(process)
    }

    /// Kafka: the commit `process` makes right after a poll that returned messages (the
    /// highest offset it polled per key), if the last poll calls for one. Maelstrom's client
    /// sends it inside the poll's operation, on the same connection, with no pause.
    pub fn kafka_take_commit(&mut self, process: u64) -> Option<Request> {
        let client = self.kafka_clients.get_mut(&process)?;
        client.to_commit.take().map(commit_request)
    }

    /// Kafka: `process` crashes (jepsen's `crash-client-gen`); its client state is gone,
    /// and the runner replaces it with a fresh process under a new client id.
    pub fn kafka_crash(&mut self, process: u64) {
        self.kafka_clients.remove(&process);
    }

    /// Kafka: the highest offset per key `process` has polled successfully.
    pub fn kafka_polled(&self, process: u64) -> Option<&BTreeMap<String, i64>> {
        self.kafka_clients.get(&process).map(|c| &c.polled)
    }

    /// A pause between final polls: jepsen staggers them by a uniform 0..400 ms (a mean of
    /// 200 ms).
    pub fn kafka_poll_gap_us(&mut self) -> u64 {
        self.rng.below(400_000)
    }

    /// Interprets the answer to `req` from client `process`.
    pub fn complete(&mut self, process: u64, req: &Request, reply: &Value) -> Outcome {
        let kind = reply["type"].as_str().unwrap_or("");
        if kind == "error" {
            return self.error_outcome(req, reply);
        }
        let expected = ok_type(req);
        if kind != expected {
            return Outcome::SchemaError(format!("expected {expected}, got {reply}"));
        }
        let fields = self.reply_fields(req);
        if let Some(extra) = extra_key(reply, fields) {
            return Outcome::SchemaError(format!(
                "{expected} has key `{extra}` beyond the schema: {reply}"
            ));
        }
        if let Some(missing) = fields.iter().find(|f| reply.get(**f).is_none()) {
            return Outcome::SchemaError(format!("{expected} lacks `{missing}`: {reply}"));
        }
        if req.f == "assign" && offsets_of(&reply["offsets"]).is_none() {
            return Outcome::SchemaError(format!(
                "{expected} offsets are not a map of keys to offsets: {reply}"
            ));
        }
        let value = self.ok_value(process, req, reply);
        Outcome::Done(OpKind::Ok, value)
    }

    fn error_outcome(&self, req: &Request, reply: &Value) -> Outcome {
        let code = reply["code"].as_u64().unwrap_or(13) as u32;
        let code = crate::ErrorCode::from_code(code);
        // A read of a missing lin-kv key is an answer: the register is empty.
        if self.workload == Workload::LinKv
            && req.f == "read"
            && code == crate::ErrorCode::KeyDoesNotExist
        {
            return Outcome::Done(OpKind::Ok, json!([req.value[0], null]));
        }
        let kind = unanswered_kind(self.workload, req.f, code.is_definite());
        Outcome::Done(kind, req.value.clone())
    }

    fn reply_fields(&self, req: &Request) -> &'static [&'static str] {
        match (req.f, &self.workload) {
            ("echo", _) => &["echo"],
            ("generate", _) => &["id"],
            ("read", Workload::Broadcast) => &["messages"],
            ("read", _) => &["value"],
            ("txn", _) => &["txn"],
            ("send", _) => &["offset"],
            ("poll", _) => &["msgs"],
            ("list_committed_offsets" | "assign", _) => &["offsets"],
            _ => &[],
        }
    }

    fn ok_value(&mut self, process: u64, req: &Request, reply: &Value) -> Value {
        match (req.f, &self.workload) {
            ("echo", _) => reply["echo"].clone(),
            ("generate", _) => reply["id"].clone(),
            ("read", Workload::Broadcast) => reply["messages"].clone(),
            ("read", Workload::LinKv) => json!([req.value[0], reply["value"]]),
            ("read", _) => reply["value"].clone(),
            ("txn", _) => reply["txn"].clone(),
            ("send", _) => {
                if let (Some(key), Some(offset)) = (req.value[0].as_str(), reply["offset"].as_i64())
                {
                    self.kafka.sent(key, offset);
                }
                json!([req.value[0], req.value[1], reply["offset"]])
            }
            ("poll", _) => {
                self.kafka_polled_ok(process, &reply["msgs"]);
                reply["msgs"].clone()
            }
            ("assign", _) => {
                self.kafka_assigned(process, &req.value, &reply["offsets"]);
                reply["offsets"].clone()
            }
            ("list_committed_offsets", _) => reply["offsets"].clone(),
            _ => req.value.clone(),
        }
    }

    /// A successful poll: the client resumes after the highest offset it got per key
    /// (never moving back), and commits those highest offsets next.
    fn kafka_polled_ok(&mut self, process: u64, msgs: &Value) {
        let client = self.kafka_clients.entry(process).or_default();
        let mut commit = Map::new();
        for (key, entries) in msgs.as_object().into_iter().flatten() {
            let highest = entries
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.get(0).and_then(Value::as_i64))
                .max();
            let Some(highest) = highest else {
                continue;
            };
            let next = client.offsets.entry(key.clone()).or_insert(0);
            *next = (*next).max(highest.saturating_add(1));
            let polled = client.polled.entry(key.clone()).or_insert(highest);
            *polled = (*polled).max(highest);
            commit.insert(key.clone(), json!(highest.max(0)));
            self.kafka.polled(key, highest);
        }
        client.to_commit = (!commit.is_empty()).then_some(commit);
    }

    /// A successful assign: the client now polls exactly `keys`, each from where it already
    /// was, else from the listed committed offset, else from 0.
    fn kafka_assigned(&mut self, process: u64, keys: &Value, listed: &Value) {
        let listed = offsets_of(listed).unwrap_or_default();
        let client = self.kafka_clients.entry(process).or_default();
        let keys = keys
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        client.offsets = keys
            .map(|k| {
                let from = client.offsets.get(k).or(listed.get(k)).copied();
                (k.to_owned(), from.unwrap_or(0))
            })
            .collect();
    }
}

impl KafkaTracker {
    fn sent(&mut self, key: &str, offset: i64) {
        self.seen(key, offset);
        let entry = self.unseen.entry(key.to_owned()).or_insert((offset, -1));
        entry.0 = entry.0.max(offset);
        self.trim(key);
    }

    fn polled(&mut self, key: &str, offset: i64) {
        self.seen(key, offset);
        if let Some(entry) = self.unseen.get_mut(key) {
            entry.1 = entry.1.max(offset);
            self.trim(key);
        }
    }

    fn seen(&mut self, key: &str, offset: i64) {
        let max = self.max_offsets.entry(key.to_owned()).or_insert(offset);
        *max = (*max).max(offset);
    }

    /// A key whose polls have caught up with its sends has nothing unseen.
    fn trim(&mut self, key: &str) {
        if self
            .unseen
            .get(key)
            .is_some_and(|&(sent, polled)| polled >= sent)
        {
            self.unseen.remove(key);
        }
    }
}

fn commit_request(offsets: Map<String, Value>) -> Request {
    let offsets = Value::Object(offsets);
    let body = json!({"type": "commit_offsets", "offsets": offsets});
    request("commit_offsets", offsets, body)
}

/// `{key: offset}` with integer offsets, or `None`.
fn offsets_of(value: &Value) -> Option<BTreeMap<String, i64>> {
    value
        .as_object()?
        .iter()
        .map(|(k, o)| Some((k.clone(), o.as_i64()?)))
        .collect()
}

fn request(f: &'static str, value: Value, body: Value) -> Request {
    Request { f, value, body }
}

/// The answer type a request expects: its own type plus `_ok`.
fn ok_type(req: &Request) -> String {
    format!("{}_ok", req.body["type"].as_str().unwrap_or(""))
}

/// A key outside `fields` and the protocol keys, if any.
fn extra_key<'a>(reply: &'a Value, fields: &[&str]) -> Option<&'a str> {
    let protocol = ["type", "msg_id", "in_reply_to"];
    reply
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|k| !protocol.contains(k) && !fields.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Maelstrom's lin-kv histories (3 nodes, 6 processes): processes 0-2 only read, 3-5
    /// only write and cas (one write in three), reads and the rest half each; processes 0
    /// and 3 get five operations in seven of their half (673, 157, 128 and 666, 162, 145 in
    /// one run); and one key all run long.
    #[test]
    fn lin_kv_threads_split_reads_from_writes_and_favour_each_half_s_first() {
        let mut g = Generator::new(Workload::LinKv, Rng::new(5));
        let (slots, nodes) = (6, 3);
        let mut per_slot = [0u32; 6];
        let mut kinds: BTreeMap<(usize, &str), u32> = BTreeMap::new();
        let mut cursor = 0;
        for _ in 0..70_000 {
            let pick = g.lin_kv_pick(slots, nodes, cursor, |_| false).unwrap();
            cursor = (cursor + 1) % (slots + 1);
            let op = g.lin_kv_op(&pick, &[0, 1, 2, 3, 4, 5]);
            assert_eq!(op.value[0], 0, "one key while no process is replaced");
            per_slot[pick.slot] += 1;
            *kinds.entry((pick.slot / 3, op.f)).or_default() += 1;
        }
        let near = |n: u32, expected: u32| n.abs_diff(expected) < expected / 20;
        for (slot, expected) in [
            (0, 25_000),
            (1, 5_000),
            (2, 5_000),
            (3, 25_000),
            (4, 5_000),
            (5, 5_000),
        ] {
            assert!(near(per_slot[slot], expected), "{per_slot:?}");
        }
        assert!(near(kinds[&(0, "read")], 35_000) && !kinds.contains_key(&(1, "read")));
        assert!(near(kinds[&(1, "write")], 35_000 / 3) && near(kinds[&(1, "cas")], 70_000 / 3));
        // A busy half leaves the other; all busy, nothing.
        let pick = g.lin_kv_pick(slots, nodes, 0, |slot| slot < 3).unwrap();
        assert!(pick.write && pick.slot == 3);
        assert_eq!(g.lin_kv_pick(slots, nodes, 0, |_| true), None);
        // More than 20 processes on the key: the group moves on.
        let pick = LinKvPick {
            slot: 0,
            group: 0,
            threads: 0..6,
            write: false,
        };
        let op = g.lin_kv_op(&pick, &[0, 1, 2, 3, 4, 100]);
        assert_eq!(op.value[0], 0);
        let crashed: Vec<u64> = (200..220).collect();
        g.lin_kv_op(&pick, &crashed[..6]);
        let op = g.lin_kv_op(&pick, &crashed[6..13]);
        assert_eq!(op.value[0], 0, "20 processes so far: still key 0");
        let op = g.lin_kv_op(&pick, &crashed[13..14]);
        assert_eq!(op.value[0], 1, "the 21st: a fresh key");
        let op = g.lin_kv_op(&pick, &crashed[13..14]);
        assert_eq!(op.value[0], 1, "{op:?}");
    }

    #[test]
    fn counters_draw_maelstrom_s_mix_and_deltas() {
        for (workload, adds_per_mille, deltas) in [
            (Workload::GCounter, 333, 0..=4),
            (Workload::PnCounter, 500, -5..=4),
        ] {
            let mut g = Generator::new(workload, Rng::new(3));
            let ops: Vec<Request> = (0..30_000).map(|_| g.next(1)).collect();
            let adds: Vec<i64> = (ops.iter().filter(|op| op.f == "add"))
                .map(|op| op.value.as_i64().unwrap())
                .collect();
            let per_mille = adds.len() * 1000 / ops.len();
            assert!(
                per_mille.abs_diff(adds_per_mille) < 15,
                "{workload:?}: {per_mille}"
            );
            assert!(adds.iter().all(|d| deltas.contains(d)), "{workload:?}");
            assert!(adds.contains(deltas.start()) && adds.contains(deltas.end()));
        }
    }

    #[test]
    fn replies_are_held_to_the_schema() {
        let mut g = Generator::new(Workload::GCounter, Rng::new(1));
        let read = request("read", Value::Null, json!({"type": "read"}));
        let ok = json!({"type": "read_ok", "value": 5, "msg_id": 1, "in_reply_to": 3});
        assert_eq!(
            g.complete(1, &read, &ok),
            Outcome::Done(OpKind::Ok, json!(5))
        );
        let extra = json!({"type": "read_ok", "value": 5, "node": "n1", "in_reply_to": 3});
        assert!(
            matches!(g.complete(1, &read, &extra), Outcome::SchemaError(e) if e.contains("node"))
        );
        let wrong = json!({"type": "add_ok", "in_reply_to": 3});
        assert!(matches!(
            g.complete(1, &read, &wrong),
            Outcome::SchemaError(_)
        ));
        // Maelstrom's g-counter client records every error as indeterminate; echo's (like
        // most) records a definite one as a failure. Extra keys in an error are fine.
        let definite = json!({"type": "error", "code": 11, "text": "later", "extra": 1});
        assert_eq!(
            g.complete(1, &read, &definite),
            Outcome::Done(OpKind::Info, Value::Null)
        );
        let mut echo = Generator::new(Workload::Echo, Rng::new(1));
        let request = echo.next(1);
        assert_eq!(
            echo.complete(1, &request, &definite),
            Outcome::Done(OpKind::Fail, request.value.clone())
        );
        let indefinite = json!({"type": "error", "code": 0});
        assert_eq!(
            echo.complete(1, &request, &indefinite),
            Outcome::Done(OpKind::Info, request.value.clone())
        );
    }

    #[test]
    fn set_values_are_unique_and_txn_writes_unique_per_key() {
        let mut g = Generator::new(
            Workload::TxnRwRegister {
                model: super::super::check::TxnModel::ReadCommitted,
            },
            Rng::new(9),
        );
        let mut written = std::collections::HashSet::new();
        for _ in 0..500 {
            for op in g.next(1).value.as_array().unwrap() {
                if op[0] == "w" {
                    assert!(written.insert((op[1].as_u64(), op[2].as_u64())));
                }
            }
        }
    }
}
