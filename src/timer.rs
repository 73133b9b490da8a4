//! Interim timer store (a BTreeMap) with the timer wheel's API; replaced by the wheel.
#![allow(dead_code)] // interim: replaced by the timer wheel in the next commit
use crate::time::{Duration, Instant};
use std::collections::BTreeMap;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey {
    slot: u32,
    generation: u32,
}
pub(crate) struct TimerWheel<T: Clone> {
    map: BTreeMap<(Instant, u64), (u32, Option<Duration>, T)>,
    next: u32,
}
impl<T: Clone> TimerWheel<T> {
    pub(crate) fn new(_now: Instant) -> Self {
        TimerWheel {
            map: BTreeMap::new(),
            next: 0,
        }
    }
    pub(crate) fn insert(
        &mut self,
        deadline: Instant,
        period: Option<Duration>,
        value: T,
    ) -> TimerKey {
        self.next += 1;
        self.map
            .insert((deadline, self.next as u64), (self.next, period, value));
        TimerKey {
            slot: self.next,
            generation: 0,
        }
    }
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let k = self
            .map
            .iter()
            .find(|(_, v)| v.0 == key.slot)
            .map(|(k, _)| *k)?;
        self.map.remove(&k).map(|v| v.2)
    }
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.map.keys().next().map(|k| k.0)
    }
    pub(crate) fn expire(&mut self, now: Instant) -> Option<(TimerKey, T)> {
        let (&k, _) = self.map.iter().next().filter(|(k, _)| k.0 <= now)?;
        let (id, period, v) = self.map.remove(&k)?;
        if let Some(p) = period {
            let mut d = k.0 + p;
            if d <= now {
                d = now + p;
            }
            self.map.insert((d, k.1), (id, period, v.clone()));
        }
        Some((
            TimerKey {
                slot: id,
                generation: 0,
            },
            v,
        ))
    }
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}
