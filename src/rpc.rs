//! The pending-RPC table: a slab of continuations keyed by the outgoing `msg_id`.
//!
//! A `msg_id` is `sequence << SLOT_BITS | (slot + 1)`: the sequence number is unique for the
//! node's whole life and the low bits find the slab slot in O(1). A lookup checks the full id
//! stored in the slot, so a reply to an old request can never reach the continuation that
//! reuses its slot. Plain messages (no continuation) get `sequence << SLOT_BITS`, low bits 0.
//! The table owns bookkeeping only; deadlines live in the timer wheel and the node runs the
//! continuations.

use slab::Slab;

use crate::timer::TimerKey;

/// Low bits of a `msg_id` that hold the slot (plus one).
const SLOT_BITS: u32 = 20;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

/// At most this many RPCs can be awaiting a reply at once; [`Ctx::rpc`](crate::Ctx::rpc)
/// fails with code 11 beyond it.
pub const MAX_PENDING_RPCS: usize = (1 << SLOT_BITS) - 1;

/// Identifies one outgoing RPC: the `msg_id` it was sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RpcId(pub(crate) u64);

impl RpcId {
    /// The `msg_id` the request carried.
    pub fn msg_id(self) -> u64 {
        self.0
    }
}

#[derive(Debug)]
struct Pending<C> {
    msg_id: u64,
    deadline: TimerKey,
    continuation: C,
}

/// What a reply's `in_reply_to` refers to.
#[derive(Debug)]
pub(crate) enum Lookup<C> {
    /// A pending RPC: its continuation and the deadline entry to cancel.
    Pending(C, TimerKey),
    /// An RPC of ours that already completed or timed out.
    Late,
    /// A plain message of ours, sent without a continuation.
    NoContinuation,
    /// Never sent by this node.
    Unknown,
}

/// Pending RPCs plus the node's message sequence.
#[derive(Debug)]
pub(crate) struct RpcTable<C> {
    slots: Slab<Pending<C>>,
    /// The next sequence number; every outgoing message takes one.
    next_sequence: u64,
}

impl<C> RpcTable<C> {
    pub(crate) fn new() -> RpcTable<C> {
        RpcTable {
            slots: Slab::new(),
            next_sequence: 1,
        }
    }

    /// A fresh `msg_id` for a message that expects no continuation.
    pub(crate) fn plain_msg_id(&mut self) -> u64 {
        let sequence = self.take_sequence();
        sequence << SLOT_BITS
    }

    /// The `msg_id` the next [`insert`](RpcTable::insert) will use, or `None` when full.
    /// The caller encodes the request with it, then inserts.
    pub(crate) fn next_rpc_msg_id(&self) -> Option<u64> {
        let slot = self.slots.vacant_key();
        (slot < MAX_PENDING_RPCS).then(|| self.next_sequence << SLOT_BITS | (slot as u64 + 1))
    }

    /// Stores a continuation under the id from [`next_rpc_msg_id`](RpcTable::next_rpc_msg_id).
    pub(crate) fn insert(&mut self, msg_id: u64, deadline: TimerKey, continuation: C) -> RpcId {
        debug_assert_eq!(Some(msg_id), self.next_rpc_msg_id());
        self.take_sequence();
        let slot = self.slots.insert(Pending {
            msg_id,
            deadline,
            continuation,
        });
        debug_assert_eq!(slot as u64 + 1, msg_id & SLOT_MASK);
        RpcId(msg_id)
    }

    /// Removes and returns what a reply to `in_reply_to` should run.
    pub(crate) fn take(&mut self, in_reply_to: u64) -> Lookup<C> {
        let low = in_reply_to & SLOT_MASK;
        let sequence = in_reply_to >> SLOT_BITS;
        if sequence == 0 || sequence >= self.next_sequence {
            return Lookup::Unknown;
        }
        if low == 0 {
            return Lookup::NoContinuation;
        }
        let slot = (low - 1) as usize;
        match self.slots.get(slot) {
            Some(p) if p.msg_id == in_reply_to => {
                let p = self.slots.remove(slot);
                Lookup::Pending(p.continuation, p.deadline)
            }
            _ => Lookup::Late,
        }
    }

    /// Number of RPCs awaiting a reply.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    fn take_sequence(&mut self) -> u64 {
        let sequence = self.next_sequence;
        // 2^44 sequence numbers: at ten million messages a second, 20 days. msg_ids stay
        // below 2^64; Maelstrom reads them as 64-bit integers.
        self.next_sequence += 1;
        sequence
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;
    use crate::timer::TimerWheel;

    fn key(wheel: &mut TimerWheel<()>) -> TimerKey {
        wheel.insert(Instant::from_millis(1), None, ())
    }

    #[test]
    fn reply_finds_its_continuation_once() {
        let mut wheel = TimerWheel::new(Instant::ZERO);
        let mut table = RpcTable::new();
        let id = table.next_rpc_msg_id().unwrap();
        let k = key(&mut wheel);
        assert_eq!(table.insert(id, k, "a").msg_id(), id);
        assert_eq!(table.len(), 1);
        assert!(matches!(table.take(id), Lookup::Pending("a", got) if got == k));
        assert!(matches!(table.take(id), Lookup::Late));
        assert_eq!(table.len(), 0);
    }

    /// A reused slot gets a new msg_id, and a reply to the old one is late, never misrouted.
    #[test]
    fn slot_reuse_never_delivers_to_the_wrong_continuation() {
        let mut wheel = TimerWheel::new(Instant::ZERO);
        let mut table = RpcTable::new();
        let first = table.next_rpc_msg_id().unwrap();
        table.insert(first, key(&mut wheel), "first");
        assert!(matches!(table.take(first), Lookup::Pending("first", _)));
        let second = table.next_rpc_msg_id().unwrap();
        assert_ne!(first, second);
        assert_eq!(first & SLOT_MASK, second & SLOT_MASK, "same slot reused");
        table.insert(second, key(&mut wheel), "second");
        assert!(matches!(table.take(first), Lookup::Late));
        assert!(matches!(table.take(second), Lookup::Pending("second", _)));
    }

    #[test]
    fn ids_are_unique_across_plain_and_rpc_messages_and_unknown_ids_are_told_apart() {
        let mut wheel = TimerWheel::new(Instant::ZERO);
        let mut table = RpcTable::new();
        let mut seen = std::collections::HashSet::new();
        for i in 0..1000 {
            let id = if i % 3 == 0 {
                table.plain_msg_id()
            } else {
                let id = table.next_rpc_msg_id().unwrap();
                table.insert(id, key(&mut wheel), i);
                if i % 2 == 0 {
                    assert!(matches!(table.take(id), Lookup::Pending(..)));
                }
                id
            };
            assert!(seen.insert(id), "duplicate msg_id {id}");
        }
        let plain = table.plain_msg_id();
        assert!(matches!(table.take(plain), Lookup::NoContinuation));
        assert!(matches!(table.take(0), Lookup::Unknown));
        assert!(matches!(table.take(u64::MAX), Lookup::Unknown));
        assert!(matches!(table.take(7), Lookup::Unknown));
    }
}
