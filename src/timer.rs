//! The timer wheel: schedules values at exact microsecond deadlines and hands them back,
//! in deadline order, once the caller's clock reaches them.
//!
//! Hierarchical and hashed: [`LEVELS`] levels of 64 slots, level `L` slot covering `64^L`
//! ticks of one millisecond ([`TICK_US`]), so insert, cancel and finding the next occupied
//! slot are O(1) (per-level `u64` occupancy bitmaps); time can jump by years in one call
//! without visiting each tick. Deadlines beyond the top level's range wait in an overflow
//! list. A slot is only a bucket: when its tick comes, its entries move to a small heap
//! ordered by (exact deadline, insertion order), and an entry leaves that heap only once the
//! clock has reached its deadline — never early, never a tick late.
//!
//! It owns scheduling and expiry. It reads no clock: time comes in through
//! [`TimerWheel::expire`]. Memory is one slab entry per scheduled timer; nothing else grows.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use slab::Slab;

use crate::time::{Duration, Instant};

/// Length of one tick, in microseconds.
pub(crate) const TICK_US: u64 = 1_000;
/// Levels of the wheel: 64^6 ticks of 1 ms is about two years.
pub(crate) const LEVELS: usize = 6;
const SLOTS: usize = 64;
/// `next_deadline` reads at most this many entries of a slot to be exact.
const EXACT_SCAN: usize = 32;

/// Handle to a scheduled entry. A reused slab slot gets a new generation, so a stale key never
/// cancels someone else's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey {
    slot: u32,
    generation: u32,
}

/// Where an entry currently waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Wheel { level: usize, slot: usize },
    Overflow,
    Ready,
}

#[derive(Debug)]
struct Entry<T> {
    deadline: Instant,
    period: Option<Duration>,
    value: T,
    generation: u32,
    /// Insertion order, for ties between equal deadlines.
    sequence: u64,
    place: Place,
    prev: Option<usize>,
    next: Option<usize>,
}

/// Timers keyed by [`TimerKey`], each carrying a `T`.
#[derive(Debug)]
pub(crate) struct TimerWheel<T: Clone> {
    entries: Slab<Entry<T>>,
    /// Generation to give the next entry stored in each slab slot.
    generations: Vec<u32>,
    /// Head of each slot's doubly linked list, `level * SLOTS + slot`.
    heads: Vec<Option<usize>>,
    occupied: [u64; LEVELS],
    overflow: Vec<usize>,
    /// Entries whose tick has come: (deadline, sequence, index, generation).
    ready: BinaryHeap<Reverse<(Instant, u64, usize, u32)>>,
    /// The first tick not yet moved out of the wheel.
    next_tick: u64,
    sequence: u64,
}

fn tick_of(t: Instant) -> u64 {
    t.as_micros() / TICK_US
}

impl<T: Clone> TimerWheel<T> {
    /// An empty wheel whose time starts at `now`.
    pub(crate) fn new(now: Instant) -> Self {
        TimerWheel {
            entries: Slab::new(),
            generations: Vec::new(),
            heads: vec![None; LEVELS * SLOTS],
            occupied: [0; LEVELS],
            overflow: Vec::new(),
            ready: BinaryHeap::new(),
            next_tick: tick_of(now),
            sequence: 0,
        }
    }

    /// Schedules `value` at `deadline` (a past deadline is due at the next expire). With a
    /// period the entry repeats: after firing at `d` it is due at `d + period`, or at
    /// `now + period` if the caller fell behind; a zero period counts as one tick.
    pub(crate) fn insert(
        &mut self,
        deadline: Instant,
        period: Option<Duration>,
        value: T,
    ) -> TimerKey {
        let period = period.map(|p| p.max(Duration::from_micros(TICK_US)));
        let vacant = self.entries.vacant_key();
        if vacant >= self.generations.len() {
            self.generations.resize(vacant + 1, 0);
        }
        let generation = self.generations[vacant];
        let index = self.entries.insert(Entry {
            deadline,
            period,
            value,
            generation,
            sequence: 0,
            place: Place::Ready,
            prev: None,
            next: None,
        });
        debug_assert_eq!(index, vacant);
        self.stamp(index);
        self.schedule(index);
        TimerKey {
            slot: index as u32,
            generation,
        }
    }

    /// Removes the entry; its value, or `None` if the key is stale.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let index = key.slot as usize;
        if !self.contains(key) {
            return None;
        }
        match self.entries[index].place {
            Place::Wheel { .. } => self.unlink(index),
            Place::Overflow => self.overflow.retain(|&i| i != index),
            // Left in the heap; popping it finds a newer generation and skips it.
            Place::Ready => {}
        }
        Some(self.remove(index))
    }

    /// A time by which `expire` should be called: never later than the earliest deadline,
    /// and equal to it unless a crowded slot made reading it exactly too costly.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let ready = self
            .ready
            .iter()
            .filter(|Reverse((_, _, i, g))| self.is_live(*i, *g))
            .map(|Reverse((d, ..))| *d)
            .min();
        let wheel = (0..LEVELS)
            .filter_map(|level| self.level_deadline(level))
            .min();
        let overflow = self
            .overflow
            .iter()
            .map(|&i| self.entries[i].deadline)
            .min();
        [ready, wheel, overflow].into_iter().flatten().min()
    }

    /// Pops one entry whose deadline is at or before `now`, in (deadline, insertion) order.
    /// Periodic entries are rescheduled and a clone of their value returned.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<(TimerKey, T)> {
        self.advance(tick_of(now));
        while let Some(&Reverse((deadline, _, index, generation))) = self.ready.peek() {
            if !self.is_live(index, generation) {
                self.ready.pop();
                continue;
            }
            if deadline > now {
                return None;
            }
            self.ready.pop();
            return Some(self.fire(index, now));
        }
        None
    }

    /// Number of scheduled entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is scheduled.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `key` still names a scheduled entry.
    pub(crate) fn contains(&self, key: TimerKey) -> bool {
        self.is_live(key.slot as usize, key.generation)
    }

    fn is_live(&self, index: usize, generation: u32) -> bool {
        self.entries
            .get(index)
            .is_some_and(|e| e.generation == generation)
    }

    fn fire(&mut self, index: usize, now: Instant) -> (TimerKey, T) {
        let entry = &mut self.entries[index];
        let key = TimerKey {
            slot: index as u32,
            generation: entry.generation,
        };
        let Some(period) = entry.period else {
            return (key, self.remove(index));
        };
        let mut next = entry.deadline + period;
        if next <= now {
            next = now + period;
        }
        entry.deadline = next;
        let value = entry.value.clone();
        self.stamp(index);
        self.schedule(index);
        (key, value)
    }

    fn remove(&mut self, index: usize) -> T {
        self.generations[index] = self.generations[index].wrapping_add(1);
        self.entries.remove(index).value
    }

    /// Gives an entry the next insertion number (ties between equal deadlines go by it).
    fn stamp(&mut self, index: usize) {
        self.sequence += 1;
        self.entries[index].sequence = self.sequence;
    }

    /// Puts an entry where its deadline belongs relative to `next_tick`.
    fn schedule(&mut self, index: usize) {
        let entry = &mut self.entries[index];
        let when = tick_of(entry.deadline);
        if when < self.next_tick {
            entry.place = Place::Ready;
            let item = (entry.deadline, entry.sequence, index, entry.generation);
            self.ready.push(Reverse(item));
            return;
        }
        match level_for(self.next_tick, when) {
            Some(level) => self.link(index, level, slot_for(when, level)),
            None => {
                self.entries[index].place = Place::Overflow;
                self.overflow.push(index);
            }
        }
    }

    /// Moves every entry whose tick is at or before `target` out of the wheel.
    fn advance(&mut self, target: u64) {
        while self.next_tick <= target {
            let Some((level, slot, start)) = self.earliest_slot() else {
                self.next_tick = target + 1;
                break;
            };
            if start > target {
                self.next_tick = target + 1;
                break;
            }
            self.next_tick = start;
            self.drain_slot(level, slot);
            if level == 0 {
                self.next_tick = start + 1;
            }
        }
        if !self.overflow.is_empty() {
            self.rehome_overflow();
        }
    }

    /// Re-places every entry of one slot relative to the new `next_tick`: due entries go to
    /// the ready heap, the rest cascade to lower levels.
    fn drain_slot(&mut self, level: usize, slot: usize) {
        let mut cursor = self.heads[level * SLOTS + slot].take();
        self.occupied[level] &= !(1 << slot);
        while let Some(index) = cursor {
            cursor = self.entries[index].next;
            let entry = &mut self.entries[index];
            entry.prev = None;
            entry.next = None;
            if level == 0 {
                // The tick has come: its exact deadline decides from here on.
                entry.place = Place::Ready;
                let item = (entry.deadline, entry.sequence, index, entry.generation);
                self.ready.push(Reverse(item));
            } else {
                self.schedule(index);
            }
        }
    }

    fn rehome_overflow(&mut self) {
        let waiting = std::mem::take(&mut self.overflow);
        for index in waiting {
            self.schedule(index);
        }
    }

    /// The occupied slot whose span starts first, with that start tick (never before
    /// `next_tick`).
    fn earliest_slot(&self) -> Option<(usize, usize, u64)> {
        (0..LEVELS)
            .filter_map(|level| {
                let slot = self.next_occupied(level)?;
                Some((level, slot, self.slot_start(level, slot)))
            })
            .min_by_key(|&(level, _, start)| (start, Reverse(level)))
    }

    fn next_occupied(&self, level: usize) -> Option<usize> {
        let position = slot_for(self.next_tick, level);
        // Every entry of a level lies at or after the current position in its rotation.
        let ahead = self.occupied[level] & (u64::MAX << position);
        (ahead != 0).then(|| ahead.trailing_zeros() as usize)
    }

    fn slot_start(&self, level: usize, slot: usize) -> u64 {
        let span_bits = 6 * (level as u32 + 1);
        let rotation = if span_bits >= 64 {
            0
        } else {
            self.next_tick >> span_bits << span_bits
        };
        let start = rotation | ((slot as u64) << (6 * level as u32));
        start.max(self.next_tick)
    }

    /// Earliest deadline among this level's entries: the slots of a level are ordered in
    /// time, so it is in the first occupied one. Exact unless that slot holds more than
    /// [`EXACT_SCAN`] entries; then the slot's start, which is never later.
    fn level_deadline(&self, level: usize) -> Option<Instant> {
        let slot = self.next_occupied(level)?;
        let mut cursor = self.heads[level * SLOTS + slot];
        let mut earliest: Option<Instant> = None;
        for _ in 0..EXACT_SCAN {
            let Some(index) = cursor else {
                return earliest;
            };
            let entry = &self.entries[index];
            earliest = Some(earliest.map_or(entry.deadline, |e| e.min(entry.deadline)));
            cursor = entry.next;
        }
        if cursor.is_none() {
            return earliest;
        }
        let start = self.slot_start(level, slot);
        Some(Instant::from_micros(start.saturating_mul(TICK_US)))
    }

    fn link(&mut self, index: usize, level: usize, slot: usize) {
        let head = &mut self.heads[level * SLOTS + slot];
        let old = head.replace(index);
        if let Some(old) = old {
            self.entries[old].prev = Some(index);
        }
        let entry = &mut self.entries[index];
        entry.next = old;
        entry.prev = None;
        entry.place = Place::Wheel { level, slot };
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, index: usize) {
        let Place::Wheel { level, slot } = self.entries[index].place else {
            debug_assert!(false, "unlink of an entry not in the wheel");
            return;
        };
        let (prev, next) = (self.entries[index].prev, self.entries[index].next);
        match prev {
            Some(p) => self.entries[p].next = next,
            None => self.heads[level * SLOTS + slot] = next,
        }
        if let Some(n) = next {
            self.entries[n].prev = prev;
        }
        if self.heads[level * SLOTS + slot].is_none() {
            self.occupied[level] &= !(1 << slot);
        }
    }
}

/// The level whose slots distinguish `when` from `now` (both in ticks), if any.
fn level_for(now: u64, when: u64) -> Option<usize> {
    let differing = (now ^ when) | (SLOTS as u64 - 1);
    let level = (63 - differing.leading_zeros() as usize) / 6;
    (level < LEVELS).then_some(level)
}

fn slot_for(tick: u64, level: usize) -> usize {
    ((tick >> (6 * level as u32)) & (SLOTS as u64 - 1)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(us: u64) -> Instant {
        Instant::from_micros(us)
    }

    fn drain(wheel: &mut TimerWheel<u32>, now: Instant) -> Vec<u32> {
        std::iter::from_fn(|| wheel.expire(now).map(|(_, v)| v)).collect()
    }

    /// Tiny deterministic generator for the randomized tests.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn fires_in_deadline_order_never_early_ties_by_insertion() {
        let mut wheel = TimerWheel::new(at(0));
        wheel.insert(at(5_500), None, 3);
        wheel.insert(at(1_200), None, 1);
        wheel.insert(at(1_700), None, 2);
        wheel.insert(at(5_500), None, 4);
        assert_eq!(drain(&mut wheel, at(1_199)), Vec::<u32>::new());
        assert_eq!(wheel.next_deadline(), Some(at(1_200)));
        assert_eq!(drain(&mut wheel, at(1_200)), [1]);
        assert_eq!(wheel.next_deadline(), Some(at(1_700)));
        assert_eq!(drain(&mut wheel, at(10_000)), [2, 3, 4]);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn past_deadlines_are_due_at_once() {
        let mut wheel = TimerWheel::new(at(50_000));
        wheel.insert(at(10), None, 1);
        wheel.insert(at(50_000), None, 2);
        assert_eq!(wheel.next_deadline(), Some(at(10)));
        assert_eq!(drain(&mut wheel, at(50_000)), [1, 2]);
    }

    #[test]
    fn cancel_works_once_including_during_a_drain_and_stale_keys_do_nothing() {
        let mut wheel = TimerWheel::new(at(0));
        let a = wheel.insert(at(1_000), None, 1);
        let b = wheel.insert(at(1_000), None, 2);
        let far = wheel.insert(at(90_000_000), None, 3);
        assert_eq!(wheel.expire(at(2_000)).map(|(_, v)| v), Some(1));
        assert_eq!(wheel.cancel(b), Some(2), "cancel while ready");
        assert_eq!(wheel.expire(at(2_000)), None);
        assert_eq!(wheel.cancel(b), None);
        assert_eq!(wheel.cancel(a), None, "already fired");
        assert_eq!(wheel.cancel(far), Some(3));
        let reused = wheel.insert(at(3_000), None, 4);
        assert_eq!(
            wheel.cancel(a),
            None,
            "a stale key must not cancel the slot's new entry"
        );
        assert!(wheel.contains(reused));
        assert_eq!(drain(&mut wheel, at(3_000)), [4]);
    }

    #[test]
    fn periodic_repeats_skips_ahead_when_behind_and_stops_when_cancelled() {
        let mut wheel = TimerWheel::new(at(0));
        let key = wheel.insert(at(100_000), Some(Duration::from_millis(100)), 7);
        assert_eq!(drain(&mut wheel, at(100_000)), [7]);
        assert_eq!(wheel.next_deadline(), Some(at(200_000)));
        assert_eq!(drain(&mut wheel, at(200_000)), [7]);
        // Fell behind by 1.05 s: one firing, then the next is a period after now.
        assert_eq!(drain(&mut wheel, at(1_250_000)), [7]);
        assert_eq!(wheel.next_deadline(), Some(at(1_350_000)));
        assert!(wheel.contains(key));
        assert_eq!(wheel.cancel(key), Some(7));
        assert_eq!(drain(&mut wheel, at(9_000_000)), Vec::<u32>::new());
        let tiny = wheel.insert(at(9_000_000), Some(Duration::ZERO), 8);
        assert_eq!(
            drain(&mut wheel, at(9_000_000)),
            [8],
            "a zero period fires once per drain"
        );
        assert_eq!(wheel.next_deadline(), Some(at(9_001_000)));
        wheel.cancel(tiny);
    }

    #[test]
    fn far_deadlines_hours_years_and_the_end_of_time() {
        let mut wheel = TimerWheel::new(at(0));
        let hour = 3_600_000_000;
        wheel.insert(at(hour), None, 1);
        wheel.insert(at(3 * 365 * 24 * hour), None, 2);
        wheel.insert(at(u64::MAX), None, 3);
        let first = wheel.next_deadline().unwrap();
        assert!(first <= at(hour));
        assert_eq!(drain(&mut wheel, at(hour - 1)), Vec::<u32>::new());
        assert_eq!(drain(&mut wheel, at(hour)), [1]);
        assert_eq!(
            drain(&mut wheel, at(3 * 365 * 24 * hour - 1)),
            Vec::<u32>::new()
        );
        assert_eq!(drain(&mut wheel, at(3 * 365 * 24 * hour)), [2]);
        assert_eq!(drain(&mut wheel, at(u64::MAX - 1)), Vec::<u32>::new());
        assert!(wheel.next_deadline().unwrap() <= at(u64::MAX));
        assert_eq!(drain(&mut wheel, at(u64::MAX)), [3]);
    }

    #[test]
    fn time_going_backwards_is_no_advance() {
        let mut wheel = TimerWheel::new(at(10_000));
        wheel.insert(at(12_000), None, 1);
        assert_eq!(drain(&mut wheel, at(5_000)), Vec::<u32>::new());
        assert_eq!(drain(&mut wheel, at(12_000)), [1]);
    }

    /// Random inserts, cancels and expiries against a naive sorted model: same values out,
    /// in the same order, at the same times; next_deadline never after the true earliest.
    #[test]
    fn matches_a_naive_model_under_random_operations() {
        for seed in 1..=20u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut wheel = TimerWheel::new(at(0));
            let mut model: Vec<(Instant, u64, u32, TimerKey)> = Vec::new();
            let mut now = 0u64;
            let mut sequence = 0u64;
            for step in 0..3_000u32 {
                match rng.next() % 10 {
                    0..=4 => {
                        let span =
                            [2_000, 70_000, 5_000_000, 400_000_000][(rng.next() % 4) as usize];
                        let deadline = at(now + rng.next() % span);
                        let key = wheel.insert(deadline, None, step);
                        sequence += 1;
                        model.push((deadline, sequence, step, key));
                    }
                    5 if !model.is_empty() => {
                        let victim = (rng.next() % model.len() as u64) as usize;
                        let (_, _, value, key) = model.remove(victim);
                        assert_eq!(wheel.cancel(key), Some(value), "seed {seed}");
                    }
                    _ => {
                        now += rng.next() % [500, 5_000, 3_000_000][(rng.next() % 3) as usize];
                        if let Some(bound) = wheel.next_deadline() {
                            let earliest = model.iter().map(|m| m.0).min().unwrap();
                            assert!(bound <= earliest, "seed {seed}: {bound:?} > {earliest:?}");
                        }
                        model.sort_by_key(|m| (m.0, m.1));
                        let due: Vec<u32> = model
                            .iter()
                            .filter(|m| m.0 <= at(now))
                            .map(|m| m.2)
                            .collect();
                        model.retain(|m| m.0 > at(now));
                        assert_eq!(drain(&mut wheel, at(now)), due, "seed {seed} step {step}");
                    }
                }
                assert_eq!(wheel.len(), model.len());
            }
        }
    }

    #[test]
    fn a_hundred_thousand_entries() {
        let mut wheel = TimerWheel::new(at(0));
        let mut rng = XorShift(42);
        for i in 0..100_000u32 {
            wheel.insert(at(rng.next() % 60_000_000), None, i);
        }
        let mut fired = 0;
        let mut last = at(0);
        let mut now = 0;
        while !wheel.is_empty() {
            now += 7_000;
            while let Some((key, _)) = wheel.expire(at(now)) {
                let _ = key;
                fired += 1;
            }
            assert!(at(now) >= last);
            last = at(now);
        }
        assert_eq!(fired, 100_000);
    }
}
