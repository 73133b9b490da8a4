//! `seq-kv`: sequentially consistent, and deliberately stale when it may be.
//!
//! Writes and compare-and-sets apply to the latest state, in one total order; each that
//! changes the store makes a new version. A read by client X is served from the state at some
//! version between the last version X observed and the latest (chosen by the seeded RNG,
//! biased toward the latest), and X's observed version moves up to it. So every client sees
//! its own writes and never goes back in time, while reads can miss other clients' recent
//! writes. Like Maelstrom's ring of 32 past states, staleness is bounded by
//! [`STALE_WINDOW`] versions.
//!
//! Owns the version history and the clients' observed versions; no routing, no latency.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

use super::{cas_check, key_text, read_value, KvOk, KvOp};
use crate::error::Error;
use crate::sim::rng::Rng;

/// How many versions behind the latest a read may be served from.
pub(super) const STALE_WINDOW: u64 = 32;

/// Probability that a read is served from the latest version rather than a random one in
/// the client's window.
const FRESH_READ_CHANCE: f64 = 0.5;

/// A key's value as of a version.
#[derive(Debug)]
struct Entry {
    version: u64,
    value: Value,
}

/// The `seq-kv` service's state.
#[derive(Debug, Default)]
pub(super) struct SeqKv {
    /// The newest version; 0 is the empty store.
    latest: u64,
    /// Per key, its values by ascending version, trimmed to what reads can still see.
    history: BTreeMap<String, VecDeque<Entry>>,
    /// Per client, the newest version it has observed.
    observed: HashMap<String, u64>,
}

impl SeqKv {
    /// An empty store.
    pub(super) fn new() -> SeqKv {
        SeqKv::default()
    }

    /// Applies one operation for `client`.
    pub(super) fn apply(
        &mut self,
        client: &str,
        op: &KvOp<'_>,
        rng: &mut Rng,
    ) -> Result<KvOk, Error> {
        match *op {
            KvOp::Read { key } => {
                let version = self.pick_read_version(client, rng);
                self.observe(client, version);
                read_value(self.value_at(&key_text(key), version), key).map(KvOk::Read)
            }
            KvOp::Write { key, value } => {
                self.append(client, key_text(key), value.clone());
                Ok(KvOk::Write)
            }
            KvOp::Cas {
                key,
                from,
                to,
                create_if_not_exists,
            } => {
                let text = key_text(key);
                self.observe(client, self.latest);
                cas_check(
                    self.value_at(&text, self.latest),
                    key,
                    from,
                    create_if_not_exists,
                )?;
                self.append(client, text, to.clone());
                Ok(KvOk::Cas)
            }
        }
    }

    /// A version in `[max(observed, latest - window), latest]`, biased toward the latest.
    fn pick_read_version(&self, client: &str, rng: &mut Rng) -> u64 {
        let observed = self.observed.get(client).copied().unwrap_or(0);
        let oldest = observed.max(self.latest.saturating_sub(STALE_WINDOW));
        if rng.chance(FRESH_READ_CHANCE) {
            return self.latest;
        }
        oldest + rng.below(self.latest - oldest + 1)
    }

    /// Records that `client` has seen the store as of `version` (never moving back).
    fn observe(&mut self, client: &str, version: u64) {
        match self.observed.get_mut(client) {
            Some(observed) => *observed = (*observed).max(version),
            None => {
                self.observed.insert(client.to_owned(), version);
            }
        }
    }

    /// The key's value as of `version`, if it existed then.
    fn value_at(&self, key: &str, version: u64) -> Option<&Value> {
        let entries = self.history.get(key)?;
        let newer = entries.partition_point(|entry| entry.version <= version);
        newer.checked_sub(1).map(|index| &entries[index].value)
    }

    /// Makes a new latest version with `key` set to `value`, seen by `client`.
    fn append(&mut self, client: &str, key: String, value: Value) {
        self.latest += 1;
        let cutoff = self.latest.saturating_sub(STALE_WINDOW);
        let entries = self.history.entry(key).or_default();
        entries.push_back(Entry {
            version: self.latest,
            value,
        });
        // Keep the newest entry at or before the cutoff (the value then) and all after it.
        while entries.len() >= 2 && entries[1].version <= cutoff {
            entries.pop_front();
        }
        self.observe(client, self.latest);
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

    /// Sequential consistency (Maelstrom's docs, Services): a writer always reads its own writes;
    /// another reader sometimes reads stale values but never goes backwards.
    #[test]
    fn reads_are_sometimes_stale_but_monotonic_and_read_your_writes() {
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
                        "went back from {last_seen_by_reader} to {seen}"
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
        assert!(stale_reads > 50, "only {stale_reads} stale reads in 500");
    }

    #[test]
    fn staleness_is_bounded_by_the_window() {
        let mut kv = SeqKv::new();
        let mut rng = Rng::new(12);
        let key = json!("k");
        for value in 0..1_000 {
            write(&mut kv, "writer", &key, value, &mut rng);
        }
        for _ in 0..200 {
            let seen = read(&mut kv, "fresh", &key, &mut rng)
                .unwrap()
                .as_i64()
                .unwrap();
            assert!(seen >= 999 - STALE_WINDOW as i64, "{seen}");
        }
        // Trimming kept the history short.
        assert!(kv.history["\"k\""].len() <= STALE_WINDOW as usize + 1);
    }

    #[test]
    fn cas_acts_on_the_latest_state_and_counts_as_observing_it() {
        let mut kv = SeqKv::new();
        let mut rng = Rng::new(13);
        let key = json!("k");
        write(&mut kv, "a", &key, 1, &mut rng);
        let cas = |from: i64, to: i64| (json!(from), json!(to));
        let (from, to) = cas(1, 2);
        let op = KvOp::Cas {
            key: &key,
            from: &from,
            to: &to,
            create_if_not_exists: false,
        };
        assert_eq!(kv.apply("b", &op, &mut rng), Ok(KvOk::Cas));
        let error = kv.apply("b", &op, &mut rng).unwrap_err();
        assert_eq!(
            (error.code().code(), error.text()),
            (22, "current value 2 is not 1")
        );
        // b has observed the latest state through its cas, so it reads 2 from now on.
        assert!((0..50).all(|_| read(&mut kv, "b", &key, &mut rng) == Ok(json!(2))));
    }
}
