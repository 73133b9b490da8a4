//! `lww-kv`: Maelstrom v0.2.3's eventually consistent store, two replicas that never meet.
//!
//! Maelstrom's `lww-kv` keeps [`REPLICAS`] copies of a last-write-wins map. Its request
//! handler picks two replicas at random and merges one into the other, then applies the
//! request to a replica picked at random and answers from it. But the merged copy is bound
//! to a name that the next binding overwrites (its `Eventual` service computes
//! `replicas'` from the merge, then `replicas'` again from the *original* replicas plus the
//! request's result), so the merge never takes effect: the replicas never exchange anything.
//! A write lands on one replica; a read sees it only when it picks that replica, half the
//! time, for as long as the run lasts; a cas acts on whatever its replica holds.
//!
//! This module does what Maelstrom does, not what its docstring intends: no merge at all
//! (running one and dropping it would only cost time). The stamps a merge would compare are
//! left out for the same reason. A node that relies on `lww-kv` converging fails under
//! Maelstrom v0.2.3, and fails here too. As in Maelstrom, `cas` on a missing key is error 20
//! even with `create_if_not_exists`.
//!
//! What still differs from Maelstrom: only the random draws (seeded here) and the error
//! texts (ours name the key).
//!
//! Owns the replicas; no routing, no latency.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{cas_check, key_text, read_value, KvOk, KvOp};
use crate::error::Error;
use crate::rng::Rng;

/// How many replicas Maelstrom's `lww-kv` keeps.
pub(super) const REPLICAS: usize = 2;

/// The `lww-kv` service's state.
#[derive(Debug)]
pub(super) struct LwwKv {
    replicas: Vec<BTreeMap<String, Value>>,
}

impl LwwKv {
    /// Empty replicas.
    pub(super) fn new() -> LwwKv {
        LwwKv {
            replicas: vec![BTreeMap::new(); REPLICAS],
        }
    }

    /// Applies one operation on a replica picked at random.
    pub(super) fn apply(&mut self, op: &KvOp<'_>, rng: &mut Rng) -> Result<KvOk, Error> {
        let replica = &mut self.replicas[rng.below(REPLICAS as u64) as usize];
        match *op {
            KvOp::Read { key } => read_value(replica.get(&key_text(key)), key).map(KvOk::Read),
            KvOp::Write { key, value } => {
                replica.insert(key_text(key), value.clone());
                Ok(KvOk::Write)
            }
            KvOp::Cas { key, from, to, .. } => {
                // `create_if_not_exists` is ignored, as by Maelstrom's lww-kv.
                let text = key_text(key);
                cas_check(replica.get(&text), key, from, false)?;
                replica.insert(text, to.clone());
                Ok(KvOk::Cas)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(kv: &mut LwwKv, key: &Value, rng: &mut Rng) -> Result<Value, Error> {
        match kv.apply(&KvOp::Read { key }, rng)? {
            KvOk::Read(value) => Ok(value),
            other => panic!("read answered {other:?}"),
        }
    }

    /// One write, then many reads: each read picks a replica uniformly, so it sees the write
    /// about half the time, and still does after a thousand more requests (no convergence).
    #[test]
    fn a_write_is_seen_by_half_the_reads_forever() {
        let mut kv = LwwKv::new();
        let mut rng = Rng::new(21);
        let key = json!("k");
        let write = KvOp::Write {
            key: &key,
            value: &json!(1),
        };
        kv.apply(&write, &mut rng).unwrap();
        for _ in 0..3 {
            let seen = (0..1_000)
                .filter(|_| read(&mut kv, &key, &mut rng).is_ok())
                .count();
            assert!((430..=570).contains(&seen), "{seen} of 1000");
        }
    }

    /// Two writes of different values end up on both replicas only when they happen to land
    /// on different ones; reads then alternate between them.
    #[test]
    fn replicas_keep_their_own_values() {
        let mut kv = LwwKv::new();
        let mut rng = Rng::new(22);
        let key = json!("k");
        for value in 0..20 {
            let value = json!(value);
            let write = KvOp::Write {
                key: &key,
                value: &value,
            };
            kv.apply(&write, &mut rng).unwrap();
        }
        let values: Vec<_> = kv.replicas.iter().map(|r| r["\"k\""].clone()).collect();
        assert_ne!(values[0], values[1], "{values:?}");
        let reads: std::collections::BTreeSet<_> = (0..100)
            .map(|_| read(&mut kv, &key, &mut rng).unwrap().to_string())
            .collect();
        assert_eq!(reads.len(), 2, "{reads:?}");
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
        let error = kv.apply(&op, &mut rng).unwrap_err();
        assert_eq!(error.code().code(), 20);
    }
}
