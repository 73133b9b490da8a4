//! `lww-kv`: several independent replicas, merged by last-write-wins on a gossip schedule.
//!
//! Each request goes to a replica chosen by the seeded RNG, which answers from its own state.
//! A write stamps the value with the replica's Lamport clock (ties broken by replica number,
//! so merges always converge). Every [`GOSSIP_INTERVAL`] of virtual time all replicas merge:
//! for each key the highest stamp wins. As in Maelstrom, `cas` on a missing key is error 20
//! even with `create_if_not_exists`. Reads of a fresh write from another replica, lost updates
//! between concurrent writers and failed cas on a value another replica already changed are
//! all expected: this store is deliberately weak.
//!
//! Gossip is lazy: nothing can observe the replicas between requests, so the rounds due since
//! the last request are run when the next one arrives (one merge does them all, since merging
//! is idempotent). That keeps the event queue free of service timers.
//!
//! Owns the replicas and their clocks; no routing, no latency.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{cas_check, key_text, read_value, KvOk, KvOp};
use crate::error::Error;
use crate::rng::Rng;
use crate::time::{Duration, Instant};

/// How many independent replicas the store simulates.
pub(super) const REPLICAS: usize = 3;

/// How often the replicas exchange and merge their states.
pub(super) const GOSSIP_INTERVAL: Duration = Duration::from_millis(100);

/// A write's timestamp: Lamport clock, then replica number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Stamp {
    clock: u64,
    replica: usize,
}

/// One replica: its Lamport clock and its values with their stamps.
#[derive(Clone, Debug, Default)]
struct Replica {
    clock: u64,
    entries: BTreeMap<String, (Stamp, Value)>,
}

impl Replica {
    /// Stores `value` under `key` with a fresh stamp from this replica (number `replica`).
    fn write(&mut self, replica: usize, key: String, value: Value) {
        let stamp = Stamp {
            clock: self.clock,
            replica,
        };
        self.clock += 1;
        self.entries.insert(key, (stamp, value));
    }

    /// Takes every entry of `other` with a higher stamp than ours, and its clock if later.
    fn merge_from(&mut self, other: &Replica) {
        self.clock = self.clock.max(other.clock);
        for (key, (stamp, value)) in &other.entries {
            match self.entries.get(key) {
                Some((ours, _)) if ours >= stamp => {}
                _ => {
                    self.entries.insert(key.clone(), (*stamp, value.clone()));
                }
            }
        }
    }
}

/// The `lww-kv` service's state.
#[derive(Debug)]
pub(super) struct LwwKv {
    replicas: Vec<Replica>,
    next_gossip: Instant,
}

impl LwwKv {
    /// Empty replicas; the first gossip round is one interval in.
    pub(super) fn new() -> LwwKv {
        LwwKv {
            replicas: vec![Replica::default(); REPLICAS],
            next_gossip: Instant::ZERO + GOSSIP_INTERVAL,
        }
    }

    /// Applies one operation arriving at `now` on a random replica.
    pub(super) fn apply(
        &mut self,
        now: Instant,
        op: &KvOp<'_>,
        rng: &mut Rng,
    ) -> Result<KvOk, Error> {
        self.gossip_if_due(now);
        let index = rng.below(REPLICAS as u64) as usize;
        let replica = &mut self.replicas[index];
        match *op {
            KvOp::Read { key } => {
                let current = replica.entries.get(&key_text(key)).map(|(_, value)| value);
                read_value(current, key).map(KvOk::Read)
            }
            KvOp::Write { key, value } => {
                replica.write(index, key_text(key), value.clone());
                Ok(KvOk::Write)
            }
            KvOp::Cas { key, from, to, .. } => {
                // `create_if_not_exists` is ignored, as by Maelstrom's lww-kv.
                let text = key_text(key);
                let current = replica.entries.get(&text).map(|(_, value)| value);
                cas_check(current, key, from, false)?;
                replica.write(index, text, to.clone());
                Ok(KvOk::Cas)
            }
        }
    }

    /// Runs the gossip rounds due by `now`: all replicas end up with the merged state.
    fn gossip_if_due(&mut self, now: Instant) {
        if now < self.next_gossip {
            return;
        }
        let interval = GOSSIP_INTERVAL.as_micros();
        let rounds_done = now.as_micros() / interval + 1;
        self.next_gossip = Instant::from_micros(rounds_done.saturating_mul(interval));
        let mut merged = Replica::default();
        for replica in &self.replicas {
            merged.merge_from(replica);
        }
        for replica in &mut self.replicas {
            replica.clone_from(&merged);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(kv: &mut LwwKv, now: Instant, key: &Value, rng: &mut Rng) -> Result<Value, Error> {
        match kv.apply(now, &KvOp::Read { key }, rng)? {
            KvOk::Read(value) => Ok(value),
            other => panic!("read answered {other:?}"),
        }
    }

    /// A fresh write is visible on some replicas only; after a gossip round, on all.
    #[test]
    fn writes_spread_by_gossip() {
        let mut kv = LwwKv::new();
        let mut rng = Rng::new(21);
        let key = json!("k");
        let t = Instant::from_millis(10);
        kv.apply(
            t,
            &KvOp::Write {
                key: &key,
                value: &json!(1),
            },
            &mut rng,
        )
        .unwrap();
        let before: Vec<_> = (0..30)
            .map(|_| read(&mut kv, t, &key, &mut rng).is_ok())
            .collect();
        assert!(
            before.contains(&true) && before.contains(&false),
            "{before:?}"
        );
        let later = t + GOSSIP_INTERVAL;
        assert!((0..30).all(|_| read(&mut kv, later, &key, &mut rng) == Ok(json!(1))));
    }

    #[test]
    fn the_highest_stamp_wins_and_replicas_converge() {
        let mut kv = LwwKv::new();
        let mut rng = Rng::new(22);
        let key = json!("k");
        for value in 0..20 {
            let t = Instant::from_micros(value);
            kv.apply(
                t,
                &KvOp::Write {
                    key: &key,
                    value: &json!(value),
                },
                &mut rng,
            )
            .unwrap();
        }
        kv.gossip_if_due(Instant::from_millis(250));
        let winners: Vec<_> = kv
            .replicas
            .iter()
            .map(|r| r.entries["\"k\""].clone())
            .collect();
        assert!(winners.windows(2).all(|pair| pair[0] == pair[1]));
        assert_eq!(kv.next_gossip, Instant::from_millis(300));
    }

    #[test]
    fn cas_ignores_create_if_not_exists() {
        let mut kv = LwwKv::new();
        let mut rng = Rng::new(23);
        let (key, from, to) = (json!("k"), json!(1), json!(2));
        let op = KvOp::Cas {
            key: &key,
            from: &from,
            to: &to,
            create_if_not_exists: true,
        };
        let error = kv.apply(Instant::ZERO, &op, &mut rng).unwrap_err();
        assert_eq!(error.code().code(), 20);
    }
}
