//! `seq-kv`: sequentially consistent, and as stale as Maelstrom v0.2.3's `seq-kv` may be.
//!
//! Maelstrom keeps a ring of the last [`RING`] states of the store, numbered by an index that
//! grows by one for every operation that changes the store, and remembers per client (the
//! calling node) the index it last observed. Each operation:
//!
//! 1. picks an index uniformly from the client's observed index to the newest, both included
//!    (no bias toward the newest: a client that is 10 states behind reads the newest state
//!    one time in 11);
//! 2. runs speculatively on the state at that index. If that leaves the state unchanged (a
//!    read, a failed cas, a write of the value already there, a cas from a value to itself),
//!    that is the answer, and the client's observed index becomes the picked one;
//! 3. otherwise runs on the newest state instead, whatever the outcome there (a cas that would
//!    have succeeded on the old state may fail on the newest), appends the result as a new
//!    newest state, even if it is unchanged, and moves the client to it.
//!
//! So a cas can fail on a past state although it would succeed on the newest: the usual
//! read-then-cas counter retries more often than against `lin-kv`.
//!
//! One quirk is kept on purpose, because Maelstrom has it: the picked index addresses the
//! ring modulo its length, so a client more than [`RING`] states behind is served from the
//! state its index wraps to (possibly the newest) while its observed index stays at the
//! (older) picked one; its next read can then see an older state than the last. Only a node
//! that lags the writers by more than 32 changes can observe this, as under Maelstrom.
//!
//! What still differs from Maelstrom: only the random draws (ours come from the simulator's
//! seeded generator, so a seed reproduces a run here, not Maelstrom's choices) and the
//! error texts (ours name the key). States are stored as per-key version lists rather than
//! 32 whole maps, which serves the same values.
//!
//! Owns the states' history and the clients' observed indices; no routing, no latency.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

use super::{cas_check, key_text, read_value, KvOk, KvOp};
use crate::error::Error;
use crate::rng::Rng;

/// How many past states Maelstrom's `seq-kv` keeps (its ring buffer's size).
pub(super) const RING: u64 = 32;

/// A key's value as of a state index.
#[derive(Debug)]
struct Entry {
    index: u64,
    value: Value,
}

/// What an operation does to one state.
#[derive(Debug)]
enum Effect {
    /// The state stays as it was; this is the answer.
    Unchanged(Result<KvOk, Error>),
    /// The key would be set to this value.
    Set(Value),
}

/// The `seq-kv` service's state.
#[derive(Debug, Default)]
pub(super) struct SeqKv {
    /// The newest state's index; 0 is the empty store.
    latest: u64,
    /// Per key, its values by ascending state index, trimmed to what the ring can still serve.
    history: BTreeMap<String, VecDeque<Entry>>,
    /// Per client, the index it last observed (never more than `latest`).
    observed: HashMap<String, u64>,
}

impl SeqKv {
    /// An empty store.
    pub(super) fn new() -> SeqKv {
        SeqKv::default()
    }

    /// Applies one operation for `client`, as Maelstrom's sequential service does.
    pub(super) fn apply(
        &mut self,
        client: &str,
        op: &KvOp<'_>,
        rng: &mut Rng,
    ) -> Result<KvOk, Error> {
        let observed = self.observed.get(client).copied().unwrap_or(0);
        let index = observed + rng.below(self.latest - observed + 1);
        let served = served_state(self.latest, index);
        match self.effect(served, op) {
            Effect::Unchanged(answer) => {
                self.observed.insert(client.to_owned(), index);
                answer
            }
            Effect::Set(_) => self.apply_to_newest(client, op),
        }
    }

    /// Runs `op` on the newest state and appends the outcome as a new newest state.
    fn apply_to_newest(&mut self, client: &str, op: &KvOp<'_>) -> Result<KvOk, Error> {
        let effect = self.effect(self.latest, op);
        self.latest += 1;
        self.observed.insert(client.to_owned(), self.latest);
        match effect {
            Effect::Unchanged(answer) => answer,
            Effect::Set(value) => {
                let key = key_text(op_key(op));
                self.set(key, value);
                Ok(match op {
                    KvOp::Cas { .. } => KvOk::Cas,
                    _ => KvOk::Write,
                })
            }
        }
    }

    /// What `op` would do to the state at `index`.
    fn effect(&self, index: u64, op: &KvOp<'_>) -> Effect {
        let current = self.value_at(&key_text(op_key(op)), index);
        match *op {
            KvOp::Read { key } => Effect::Unchanged(read_value(current, key).map(KvOk::Read)),
            KvOp::Write { value, .. } if current == Some(value) => {
                Effect::Unchanged(Ok(KvOk::Write))
            }
            KvOp::Write { value, .. } => Effect::Set(value.clone()),
            KvOp::Cas {
                key,
                from,
                to,
                create_if_not_exists,
            } => match cas_check(current, key, from, create_if_not_exists) {
                Err(error) => Effect::Unchanged(Err(error)),
                Ok(()) if current == Some(to) => Effect::Unchanged(Ok(KvOk::Cas)),
                Ok(()) => Effect::Set(to.clone()),
            },
        }
    }

    /// The key's value in the state at `index`, if it existed then.
    fn value_at(&self, key: &str, index: u64) -> Option<&Value> {
        let entries = self.history.get(key)?;
        let newer = entries.partition_point(|entry| entry.index <= index);
        newer.checked_sub(1).map(|at| &entries[at].value)
    }

    /// Sets `key` to `value` in the newest state.
    fn set(&mut self, key: String, value: Value) {
        let oldest_served = (self.latest + 1).saturating_sub(RING);
        let entries = self.history.entry(key).or_default();
        entries.push_back(Entry {
            index: self.latest,
            value,
        });
        // Keep the newest entry at or before the oldest servable state, and all after it.
        while entries.len() >= 2 && entries[1].index <= oldest_served {
            entries.pop_front();
        }
    }
}

/// The state Maelstrom serves for a picked `index` when the newest is `latest`: the ring holds
/// the last min(latest + 1, [`RING`]) states and is addressed modulo its length, so an index
/// older than the ring wraps around into it.
fn served_state(latest: u64, index: u64) -> u64 {
    let len = (latest + 1).min(RING);
    let oldest = latest + 1 - len;
    if index >= oldest {
        return index;
    }
    oldest + (index + len - oldest % len) % len
}

/// The key an operation names.
fn op_key<'a>(op: &KvOp<'a>) -> &'a Value {
    match *op {
        KvOp::Read { key } | KvOp::Write { key, .. } | KvOp::Cas { key, .. } => key,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(kv: &mut SeqKv, client: &str, key: &Value, rng: &mut Rng) -> Result<Value, Error> {
        match kv.apply(client, &KvOp::Read { key }, rng)? {
            KvOk::Read(value) => Ok(value),
            other => panic!("read answered {other:?}"),
        }
    }

    fn write(kv: &mut SeqKv, client: &str, key: &Value, value: i64, rng: &mut Rng) {
        let value = json!(value);
        kv.apply(client, &KvOp::Write { key, value: &value }, rng)
            .expect("writes succeed");
    }

    fn cas(kv: &mut SeqKv, client: &str, from: i64, to: i64, rng: &mut Rng) -> Result<(), i64> {
        let (key, from, to) = (json!("k"), json!(from), json!(to));
        let op = KvOp::Cas {
            key: &key,
            from: &from,
            to: &to,
            create_if_not_exists: false,
        };
        kv.apply(client, &op, rng)
            .map(|_| ())
            .map_err(|e| i64::from(e.code().code()))
    }

    /// Sequential consistency (Maelstrom's docs, Services): a writer always reads its own writes;
    /// another reader that keeps up often reads stale values but never goes backwards.
    #[test]
    fn reads_are_often_stale_but_monotonic_and_read_your_writes() {
        let mut kv = SeqKv::new();
        let mut rng = Rng::new(11);
        let key = json!("k");
        let mut stale_reads = 0;
        let mut last_seen_by_reader = -1;
        for round in 0..500 {
            write(&mut kv, "writer", &key, round, &mut rng);
            assert_eq!(read(&mut kv, "writer", &key, &mut rng), Ok(json!(round)));
            match read(&mut kv, "reader", &key, &mut rng) {
                Ok(value) => {
                    let seen = value.as_i64().expect("an integer");
                    assert!(
                        seen >= last_seen_by_reader,
                        "{last_seen_by_reader} → {seen}"
                    );
                    assert!(seen <= round);
                    stale_reads += usize::from(seen < round);
                    last_seen_by_reader = seen;
                }
                Err(error) => {
                    // Only before the reader has seen the key at all.
                    assert_eq!(error.code().code(), 20);
                    assert_eq!(last_seen_by_reader, -1);
                }
            }
        }
        assert!(stale_reads > 150, "only {stale_reads} stale reads in 500");
    }

    /// Maelstrom picks the served state uniformly between the client's observed one and the
    /// newest, both included: after 10 writes, a fresh client reads each of the 11 states
    /// (the empty one is error 20) about equally often, the newest no more than the others.
    #[test]
    fn reads_are_uniform_over_the_clients_window_not_biased_to_the_newest() {
        let mut kv = SeqKv::new();
        let mut rng = Rng::new(12);
        let key = json!("k");
        for value in 1..=10 {
            write(&mut kv, "writer", &key, value, &mut rng);
        }
        let mut counts = [0u32; 11];
        for reader in 0..11_000 {
            let client = format!("fresh{reader}");
            let seen = read(&mut kv, &client, &key, &mut rng).map_or(0, |v| v.as_i64().unwrap());
            counts[seen as usize] += 1;
        }
        // Each state expects 1,000 reads (standard deviation about 30).
        assert!(
            counts.iter().all(|&n| (880..=1_120).contains(&n)),
            "{counts:?}"
        );
    }

    /// Within the ring an index is its own state; older indices wrap around modulo the ring's
    /// length, as Maelstrom's ring buffer does with a negative offset.
    #[test]
    fn indices_older_than_the_ring_wrap_into_it() {
        assert_eq!(served_state(10, 0), 0);
        assert_eq!(served_state(10, 7), 7);
        assert_eq!(served_state(31, 0), 0);
        // latest 100: the ring holds 69..=100.
        assert_eq!(served_state(100, 69), 69);
        assert_eq!(served_state(100, 100), 100);
        assert_eq!(served_state(100, 68), 100);
        assert_eq!(served_state(100, 37), 69);
        assert_eq!(served_state(100, 36), 100);
        assert_eq!(served_state(100, 0), 96);
    }

    /// The wrap's consequence, pinned: a client far behind can read a newer state and then an
    /// older one (Maelstrom v0.2.3 does the same), and staleness stays within the ring.
    #[test]
    fn a_client_far_behind_reads_within_the_ring_and_can_go_back_in_time() {
        let mut went_back = 0;
        for seed in 0..200 {
            let mut kv = SeqKv::new();
            let mut rng = Rng::new(seed);
            let key = json!("k");
            for value in 1..=1_000 {
                write(&mut kv, "writer", &key, value, &mut rng);
            }
            let first = read(&mut kv, "late", &key, &mut rng).unwrap();
            let second = read(&mut kv, "late", &key, &mut rng).unwrap();
            for seen in [&first, &second] {
                assert!(seen.as_i64().unwrap() > 1_000 - RING as i64, "{seen}");
            }
            went_back += usize::from(second.as_i64() < first.as_i64());
        }
        assert!(went_back > 20, "{went_back} of 200");
    }

    /// An unchanging operation is served from the picked past state: a cas that fails there
    /// fails (error 22) although it would succeed on the newest, and leaves no new state.
    /// One that would change the past state runs on the newest instead and always appends
    /// a state, even if it fails there.
    #[test]
    fn cas_runs_on_a_past_state_when_it_fails_there_and_on_the_newest_otherwise() {
        let mut failed_on_the_past = 0;
        let mut failed_on_the_newest = 0;
        for seed in 0..300 {
            let mut kv = SeqKv::new();
            let mut rng = Rng::new(seed);
            let key = json!("k");
            write(&mut kv, "a", &key, 1, &mut rng);
            write(&mut kv, "a", &key, 2, &mut rng);
            // b has observed nothing: it may be served state 0 (missing), 1 (k = 1) or 2.
            let before = kv.latest;
            match cas(&mut kv, "b", 2, 3, &mut rng) {
                Ok(()) => assert_eq!(kv.latest, before + 1),
                Err(20 | 22) => assert_eq!(kv.latest, before),
                Err(code) => panic!("error {code}"),
            }
            let before = kv.latest;
            match cas(&mut kv, "c", 1, 5, &mut rng) {
                Err(22) if kv.latest == before => failed_on_the_past += 1,
                Err(22) => {
                    assert_eq!(kv.latest, before + 1);
                    failed_on_the_newest += 1;
                }
                other => assert_eq!(other, Err(20)),
            }
        }
        assert!(failed_on_the_past > 50, "{failed_on_the_past}");
        assert!(failed_on_the_newest > 50, "{failed_on_the_newest}");
    }

    /// A write of the value the picked state already has changes nothing: no new state.
    #[test]
    fn a_write_of_the_value_already_there_adds_no_state() {
        let mut appended = 0;
        for seed in 0..200 {
            let mut kv = SeqKv::new();
            let mut rng = Rng::new(seed);
            let key = json!("k");
            write(&mut kv, "a", &key, 7, &mut rng);
            write(&mut kv, "a", &key, 7, &mut rng);
            assert_eq!(kv.latest, 1);
            // b has observed nothing, so it is served state 0 or 1: a new state only from 0
            // (where the write changes the store, so it runs on the newest, unchanged there).
            write(&mut kv, "b", &key, 7, &mut rng);
            appended += kv.latest - 1;
            assert_eq!(kv.value_at("\"k\"", kv.latest), Some(&json!(7)));
        }
        assert!((70..=130).contains(&appended), "{appended}");
    }

    #[test]
    fn trimming_keeps_what_the_ring_can_serve() {
        let mut kv = SeqKv::new();
        let mut rng = Rng::new(15);
        let key = json!("k");
        for value in 1..=1_000 {
            write(&mut kv, "writer", &key, value, &mut rng);
        }
        assert!(kv.history["\"k\""].len() <= RING as usize + 1);
        let oldest = kv.latest + 1 - RING;
        assert_eq!(kv.value_at("\"k\"", oldest), Some(&json!(oldest)));
    }
}
