//! The simulator's event queue: a min-heap on (time, sequence).
//!
//! Every event gets a sequence number from one increasing counter when it is scheduled, so
//! events at the same virtual time run in the order they were scheduled. That tie-break is
//! what makes a run a function of its seed and nothing else.
//!
//! This module orders events; what an event does is the cluster's business.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::sim::services::ServiceId;
use crate::time::Instant;

/// Something that will happen at a virtual time.
#[derive(Debug)]
pub(crate) enum Event {
    /// `line`, sent at `sent`, is delivered to node number `node` (its receiving loop took
    /// it from the node's inbox, past the partition check).
    ToNode {
        node: usize,
        sent: Instant,
        line: Box<str>,
    },
    /// `line`, a request from node number `from` sent at `sent`, arrives at a service.
    ToService {
        service: ServiceId,
        from: usize,
        sent: Instant,
        line: Box<str>,
    },
    /// Node number `node` may have a timer or RPC deadline due.
    Timer { node: usize },
}

/// An event with its time and sequence number; ordered so that the heap's top is the
/// earliest (the smallest time, then the smallest sequence).
#[derive(Debug)]
struct Scheduled {
    at: Instant,
    sequence: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Scheduled) -> bool {
        (self.at, self.sequence) == (other.at, other.sequence)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Scheduled) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Scheduled) -> Ordering {
        // Reversed: BinaryHeap is a max-heap.
        (other.at, other.sequence).cmp(&(self.at, self.sequence))
    }
}

/// Pending events, earliest first, ties in scheduling order.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Scheduled>,
    next_sequence: u64,
}

impl EventQueue {
    /// Schedules `event` at `at`.
    pub(crate) fn push(&mut self, at: Instant, event: Event) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.heap.push(Scheduled {
            at,
            sequence,
            event,
        });
    }

    /// The time of the earliest event.
    pub(crate) fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|scheduled| scheduled.at)
    }

    /// Every pending event with its time, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Instant, &Event)> {
        self.heap
            .iter()
            .map(|scheduled| (scheduled.at, &scheduled.event))
    }

    /// Takes the earliest event.
    pub(crate) fn pop(&mut self) -> Option<(Instant, Event)> {
        self.heap
            .pop()
            .map(|scheduled| (scheduled.at, scheduled.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_ties_in_scheduling_order() {
        let mut queue = EventQueue::default();
        for (at, node) in [(5, 0), (1, 1), (5, 2), (1, 3), (3, 4)] {
            queue.push(Instant::from_micros(at), Event::Timer { node });
        }
        assert_eq!(queue.peek_time(), Some(Instant::from_micros(1)));
        let order: Vec<usize> = std::iter::from_fn(|| queue.pop())
            .map(|(_, event)| match event {
                Event::Timer { node } => node,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(order, [1, 3, 4, 0, 2]);
        assert_eq!(queue.peek_time(), None);
    }
}
