//! Each node's inbound queue, as Maelstrom's network delivers it.
//!
//! Maelstrom keeps one queue per destination, ordered by each message's deadline (send time
//! plus latency), and one receiving loop per node that takes the message with the earliest
//! deadline, checks the partition, sleeps until that deadline and delivers it, then takes the
//! next. A message put in the queue while the loop sleeps waits for the sleep to end even if
//! its own deadline is earlier: under `--latency 100`, a client's request (no latency) can
//! wait up to 100 ms behind a node-to-node message, which is why Maelstrom's client round
//! trips at 3d's settings are about 50 ms at the median although clients see no latency.
//! That delay shortens the stable latency Maelstrom measures (from a broadcast's
//! completion to the invocation of the last read that missed it), so the simulator models it.
//!
//! This module only orders and holds messages; the cluster decides when to take one
//! ([`Inbox::take`]) and schedules its delivery.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::Instant;

/// A message waiting in a node's queue.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Waiting {
    /// When it is due: sent plus latency.
    pub(crate) deadline: Instant,
    /// The cluster's order of putting messages, for a deterministic tie-break.
    pub(crate) sequence: u64,
    /// The sending node, for node-to-node messages (a partition can cut them).
    pub(crate) from: Option<usize>,
    /// When it was sent.
    pub(crate) sent: Instant,
    /// The message.
    pub(crate) line: Box<str>,
}

/// One node's queue and whether its receiving loop is busy with a taken message.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    waiting: BinaryHeap<Reverse<Waiting>>,
    /// The loop took a message and sleeps until its deadline, then delivers it.
    busy: bool,
}

impl Inbox {
    /// Puts a message in the queue.
    pub(crate) fn put(&mut self, message: Waiting) {
        self.waiting.push(Reverse(message));
    }

    /// Whether the receiving loop is sleeping on a taken message.
    pub(crate) fn is_busy(&self) -> bool {
        self.busy
    }

    /// Takes the message with the earliest deadline, if any, and marks the loop busy with
    /// it; the caller delivers it at `max(deadline, now)` and then calls [`Inbox::done`].
    pub(crate) fn take(&mut self) -> Option<Waiting> {
        let Reverse(message) = self.waiting.pop()?;
        self.busy = true;
        Some(message)
    }

    /// The taken message was delivered or dropped: the loop is free again.
    pub(crate) fn done(&mut self) {
        self.busy = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(deadline_ms: u64, sequence: u64) -> Waiting {
        Waiting {
            deadline: Instant::from_millis(deadline_ms),
            sequence,
            from: None,
            sent: Instant::ZERO,
            line: format!("m{sequence}").into(),
        }
    }

    #[test]
    fn takes_the_earliest_deadline_then_the_earliest_put() {
        let mut inbox = Inbox::default();
        inbox.put(waiting(100, 0));
        inbox.put(waiting(5, 2));
        inbox.put(waiting(5, 1));
        assert!(!inbox.is_busy());
        let order: Vec<u64> = std::iter::from_fn(|| {
            let taken = inbox.take().map(|m| m.sequence);
            inbox.done();
            taken
        })
        .collect();
        assert_eq!(order, [1, 2, 0]);
    }

    #[test]
    fn a_taken_message_keeps_the_loop_busy_until_done() {
        let mut inbox = Inbox::default();
        inbox.put(waiting(100, 0));
        assert_eq!(inbox.take().map(|m| m.sequence), Some(0));
        assert!(inbox.is_busy());
        inbox.put(waiting(1, 1)); // earlier, but put while the loop sleeps: it waits
        assert!(inbox.is_busy());
        inbox.done();
        assert_eq!(inbox.take().map(|m| m.sequence), Some(1));
    }
}
