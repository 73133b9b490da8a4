//! Counter node (Maelstrom's pn-counter workload): a PN-Counter CRDT replicated by gossip.
//!
//! ```text
//! cargo build --release --example pn_counter
//! maelstrom test -w pn-counter --bin target/release/examples/pn_counter --node-count 3 \
//!     --time-limit 20 --rate 10 --nemesis partition
//! ```
//!
//! The counter is two grow-only counters, each with one entry per node: the sum of the
//! positive deltas a node was asked to add, and the sum of the magnitudes of the negative
//! ones. A node only ever raises its own entries, so merging two states is the
//! entry-wise maximum, and the value is the sum of the increments minus the sum of the
//! decrements. `add` changes this node's entries and answers at once; `read` answers with
//! this node's view. Both work under any partition.
//!
//! Every [`GOSSIP_INTERVAL`] a node whose own entries changed queues a snapshot of them in
//! its [`Outbox`] and sends each peer the snapshots it has not acknowledged; peers keep the
//! maximum. After a partition heals the acknowledged adds reach every node within about a
//! second, well inside the ten seconds before Maelstrom's final reads.
//!
//! The same node, refusing negative deltas, is the g-counter node (`g_counter.rs`):
//! [`Counter`]'s parameter says which.

use std::collections::HashMap;

use maelstrom_loop::gossip::{Inbox, Outbox, BATCH_TYPE};
use maelstrom_loop::{Ctx, Duration, Error, Handler, Message};
use serde::{Deserialize, Serialize};

/// How often a node sends its peers the snapshots they have not acknowledged.
const GOSSIP_INTERVAL: Duration = Duration::from_millis(100);

/// The pn-counter node.
pub type PnCounter = Counter<true>;

/// A counter node; `NEGATIVE` says whether `add` accepts negative deltas (pn-counter) or
/// refuses them with error 12 (g-counter).
#[derive(Debug, Default)]
pub struct Counter<const NEGATIVE: bool> {
    /// This node's own entries.
    own: Entry,
    /// Whether `own` changed since the last snapshot was queued.
    dirty: bool,
    /// The latest entries heard from each peer.
    peers: HashMap<String, Entry>,
    /// Snapshots of `own`, on their way to the peers.
    outbox: Outbox<Entry>,
    inbox: Inbox,
}

/// One node's contribution: the two grow-only counters' entries for that node, sent on the
/// wire as `[increments, decrements]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry(u64, u64);

impl Entry {
    /// Adds `delta` to the increments or its magnitude to the decrements.
    fn add(&mut self, delta: i64) {
        if delta >= 0 {
            self.0 = self.0.saturating_add(delta.unsigned_abs());
        } else {
            self.1 = self.1.saturating_add(delta.unsigned_abs());
        }
    }

    /// The least state that includes both: each count only grows, so the larger is newer.
    fn merge(&mut self, other: Entry) {
        self.0 = self.0.max(other.0);
        self.1 = self.1.max(other.1);
    }

    /// Increments minus decrements.
    fn value(self) -> i128 {
        i128::from(self.0) - i128::from(self.1)
    }
}

/// The timer: one periodic gossip round.
#[derive(Clone, Debug)]
pub struct Gossip;

#[derive(Deserialize)]
struct Add {
    delta: i64,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "add_ok")]
struct AddOk {}

#[derive(Serialize)]
#[serde(tag = "type", rename = "read_ok")]
struct ReadOk {
    value: i64,
}

impl<const NEGATIVE: bool> Counter<NEGATIVE> {
    /// The counter's value as this node sees it (saturated to the `i64` range).
    pub fn value(&self) -> i64 {
        let total: i128 = self.own.value() + self.peers.values().map(|e| e.value()).sum::<i128>();
        i64::try_from(total).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX })
    }

    /// How many snapshots of this node's entries some peer has not acknowledged yet.
    pub fn undelivered(&self) -> usize {
        self.outbox.retained()
    }

    fn add(&mut self, delta: i64) -> Result<(), Error> {
        if delta < 0 && !NEGATIVE {
            // A grow-only counter cannot go down: refuse, definitely not applied.
            return Err(Error::malformed(format!("delta {delta} is negative")));
        }
        self.own.add(delta);
        self.dirty |= delta != 0;
        Ok(())
    }
}

impl<const NEGATIVE: bool> Handler for Counter<NEGATIVE> {
    type Timer = Gossip;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        ctx.set_interval(GOSSIP_INTERVAL, Gossip);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "add" => {
                // A missing or non-integer `delta` is error 12, sent by the library.
                let Add { delta } = msg.body()?;
                self.add(delta)?;
                ctx.reply(msg, &AddOk {})
            }
            "read" => ctx.reply(
                msg,
                &ReadOk {
                    value: self.value(),
                },
            ),
            BATCH_TYPE => {
                let entry = self.peers.entry(msg.src().to_owned()).or_default();
                // A batch that does not decode is answered with error 12 and resent later.
                self.inbox
                    .receive(ctx, msg, |snapshot: Entry| entry.merge(snapshot))
            }
            // Anything else is answered with not-supported (10).
            other => Err(Error::unsupported_type(other)),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: Gossip) -> Result<(), Error> {
        if std::mem::take(&mut self.dirty) {
            self.outbox.push(self.own);
        }
        self.outbox.flush(ctx, |node| &mut node.outbox);
        Ok(())
    }
}

// g_counter.rs includes this file for `Counter`; its own main is the one it runs.
#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    maelstrom_loop::run(PnCounter::default())
}
