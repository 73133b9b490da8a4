//! The keys and values of the transactional and kafka workloads, drawn as Elle's generator
//! (`elle.txn/wr-txns`, which Maelstrom v0.2.3's txn-rw-register, txn-list-append and, through
//! jepsen's kafka workload, kafka use) draws them.
//!
//! A pool of `key_count` active keys, initially `0..key_count`. Each micro-operation is a read
//! or a write with equal chance, on a key picked from the pool with Elle's default exponential
//! distribution: the key at position `i` is twice as likely as the one at `i - 1`, so the
//! last position gets about half of all operations. A write to key `k` writes `k`'s next
//! value, 1, 2, ... (unique per key); a write that would exceed `max_writes_per_key` retires
//! the key instead: a fresh key, one more than the largest active, takes its position, and the
//! micro-operation is drawn again. A transaction has 1 to `max_txn_length` micro-operations,
//! uniformly.

use std::collections::HashMap;

use crate::sim::rng::Rng;

/// Maelstrom's key settings: `--key-count`, `--max-txn-length`, `--max-writes-per-key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySettings {
    /// Keys active at any time (Maelstrom leaves it to Elle: 10).
    pub key_count: usize,
    /// The most micro-operations in one transaction (Maelstrom's default 4; kafka uses 1).
    pub max_txn_length: usize,
    /// Writes a key gets before it is retired (Maelstrom's default 16).
    pub max_writes_per_key: u64,
}

impl Default for KeySettings {
    /// Maelstrom v0.2.3's defaults: 10 keys, transactions of up to 4, 16 writes per key.
    fn default() -> KeySettings {
        KeySettings {
            key_count: 10,
            max_txn_length: 4,
            max_writes_per_key: 16,
        }
    }
}

/// One micro-operation's target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MicroOp {
    /// Read this key.
    Read(u64),
    /// Write (or append) this value to this key.
    Write(u64, u64),
}

/// Positions above this are as good as never picked by the exponential distribution (their
/// chance is below 2^-62), so a larger pool draws among its last [`MAX_WEIGHTED`] positions.
const MAX_WEIGHTED: usize = 62;

/// The active keys and each key's next value.
#[derive(Debug)]
pub(super) struct KeyPool {
    settings: KeySettings,
    active: Vec<u64>,
    next_value: HashMap<u64, u64>,
}

impl KeyPool {
    /// Keys `0..key_count` (at least one).
    pub(super) fn new(settings: KeySettings) -> KeyPool {
        let count = settings.key_count.max(1) as u64;
        KeyPool {
            settings,
            active: (0..count).collect(),
            next_value: HashMap::new(),
        }
    }

    /// A transaction's length: 1 to `max_txn_length`, uniformly.
    pub(super) fn txn_length(&self, rng: &mut Rng) -> usize {
        let max = self.settings.max_txn_length.max(1) as u64;
        1 + rng.below(max) as usize
    }

    /// The next micro-operation: a read or a write, even odds, on a key of the pool.
    pub(super) fn next(&mut self, rng: &mut Rng) -> MicroOp {
        loop {
            let write = rng.chance(0.5);
            let position = self.position(rng);
            let key = self.active[position];
            if !write {
                return MicroOp::Read(key);
            }
            let value = self.next_value.get(&key).copied().unwrap_or(1);
            if value > self.settings.max_writes_per_key {
                let fresh = self.active.iter().max().map_or(0, |k| k + 1);
                self.active[position] = fresh;
                continue;
            }
            self.next_value.insert(key, value + 1);
            return MicroOp::Write(key, value);
        }
    }

    /// A position in the pool, the one at `i` weighted 2^(i+1) (Elle's exponential keys).
    fn position(&self, rng: &mut Rng) -> usize {
        let len = self.active.len();
        let weighted = len.min(MAX_WEIGHTED);
        // Uniform over [2, 2^(n+1)): the floor of its log2, less one, is position i with
        // chance 2^(i+1) / (2^(n+1) - 2).
        let draw = 2 + rng.below((1u64 << (weighted + 1)) - 2);
        let i = (63 - draw.leading_zeros()) as usize - 1;
        len - weighted + i
    }

    /// The keys active now, by position.
    #[cfg(test)]
    fn active(&self) -> &[u64] {
        &self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(key_count: usize, max_writes_per_key: u64) -> KeyPool {
        KeyPool::new(KeySettings {
            key_count,
            max_txn_length: 4,
            max_writes_per_key,
        })
    }

    /// Elle's exponential distribution over 3 positions: weights 2, 4, 8 out of 14.
    #[test]
    fn positions_are_exponentially_weighted_toward_the_last() {
        let keys = pool(3, 16);
        let mut rng = Rng::new(1);
        let mut counts = [0u32; 3];
        for _ in 0..14_000 {
            counts[keys.position(&mut rng)] += 1;
        }
        let expected = [2_000, 4_000, 8_000];
        for (count, expected) in counts.iter().zip(expected) {
            assert!(count.abs_diff(expected) < 250, "{counts:?}");
        }
    }

    /// Reads and writes come in even odds; each key gets the values 1..=max once, then is
    /// replaced in its position by a fresh key one above the largest active.
    #[test]
    fn keys_are_retired_after_their_writes_and_replaced_by_fresh_ones() {
        let mut keys = pool(3, 4);
        let mut rng = Rng::new(2);
        let mut written: HashMap<u64, Vec<u64>> = HashMap::new();
        let mut reads = 0;
        for _ in 0..2_000 {
            match keys.next(&mut rng) {
                MicroOp::Read(key) => {
                    assert!(keys.active().contains(&key));
                    reads += 1;
                }
                MicroOp::Write(key, value) => written.entry(key).or_default().push(value),
            }
        }
        assert!((850..=1_150).contains(&reads), "{reads}");
        let mut active = keys.active().to_vec();
        active.sort_unstable();
        let largest = *active.last().unwrap();
        assert!(largest > 100, "{active:?}");
        for (key, values) in &written {
            let full: Vec<u64> = (1..=values.len() as u64).collect();
            assert_eq!(values, &full, "key {key}");
            assert!(values.len() <= 4);
            if !active.contains(key) {
                assert_eq!(values.len(), 4, "key {key} retired early");
            }
        }
    }

    #[test]
    fn transactions_have_one_to_max_operations() {
        let keys = pool(10, 16);
        let mut rng = Rng::new(3);
        let mut seen = [0u32; 5];
        for _ in 0..4_000 {
            seen[keys.txn_length(&mut rng)] += 1;
        }
        assert_eq!(seen[0], 0);
        assert!(
            seen[1..].iter().all(|&n| (850..=1_150).contains(&n)),
            "{seen:?}"
        );
    }

    /// A pool larger than the weighted window still works, drawing among its last positions.
    #[test]
    fn a_huge_pool_draws_from_its_last_positions() {
        let keys = pool(1_000, 16);
        let mut rng = Rng::new(4);
        for _ in 0..1_000 {
            let position = keys.position(&mut rng);
            assert!((1_000 - MAX_WEIGHTED..1_000).contains(&position));
        }
    }
}
