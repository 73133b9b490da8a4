//! Broadcast node (Gossip Glomers 3a-3e): one binary for every part.
//!
//! ```text
//! cargo build --release --example broadcast
//! maelstrom test -w broadcast --bin target/release/examples/broadcast --node-count 1 --time-limit 20 --rate 10
//! maelstrom test -w broadcast --bin target/release/examples/broadcast --node-count 5 --time-limit 20 --rate 10 --nemesis partition
//! maelstrom test -w broadcast --bin target/release/examples/broadcast --node-count 25 --time-limit 20 --rate 100 --latency 100
//! ```
//!
//! Topology: a star. The first node of `node_ids` is the hub; the suggested topology is
//! acknowledged and ignored. A leaf sends each value a client gives it to the hub at once;
//! the hub sends each leaf, every [`TICK`], one batch of the values that leaf lacks. A value
//! thus crosses two hops and waits for one tick: with 100 ms latency, stable after 200 ms
//! plus half a tick on average. At 3d's load (25 nodes, 50 broadcasts a second) that costs
//! a message per broadcast into the hub and 24 per tick out of it, about 3 per operation.
//!
//! Reliability: each node keeps, per link, a log of the values it owes the other end and
//! numbers them. A batch names where it starts in the log; every message carries a
//! cumulative ack (how much of the other end's log this node holds without a gap). Acks
//! ride on the next message the other way: the hub's next batch to a leaf; a leaf's next
//! value, or after [`ACK_DELAY`] a message carrying only the ack. A message that carries
//! values is acknowledged even if it brought nothing new (the earlier ack may be lost), and
//! a message that carries only an ack is never acknowledged, so a quiet cluster stays quiet.
//! When the oldest unacknowledged batch on a link is [`RESEND_AFTER`] old, the link goes back
//! to its first unacknowledged value and sends everything from there in one batch. Nothing
//! assumes a link is symmetric: a node that hears a peer but cannot reach it keeps resending
//! until an ack comes back, and a late ack still counts.
//!
//! If the hub is cut off, values wait on each side (in the logs) until the partition heals;
//! then the next resend delivers them. Maelstrom heals before its final reads, which then
//! see everything.
//!
//! Limits: a link's log holds only what its peer has not acknowledged; a batch carries at
//! most [`MAX_BATCH`] values; the runs a peer sent beyond a gap are kept by their start, at
//! most one per message received, and dropped as the gap closes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use maelstrom_loop::{Ctx, Duration, Error, Handler, Instant, Message};
use serde::{Deserialize, Serialize};

/// How often a node flushes its links (the hub's batches, acks and resends).
pub const TICK: Duration = Duration::from_millis(100);
/// How long a leaf may hold an ack, waiting for a value of its own to carry it.
pub const ACK_DELAY: Duration = Duration::from_millis(500);
/// How long the oldest unacknowledged batch on a link waits before the link resends.
pub const RESEND_AFTER: Duration = Duration::from_millis(1_500);
/// At most this many values go in one batch (bounds a message after a long partition).
pub const MAX_BATCH: usize = 4096;

/// The `type` of every node-to-node message: values (possibly none) and an ack.
const GOSSIP_TYPE: &str = "gossip";

/// What this node owes one peer, and what it has heard from it.
#[derive(Debug, Default)]
struct Link {
    /// Values owed to the peer, from log position `acked` on.
    log: VecDeque<u64>,
    /// The peer holds our log up to here (it said so).
    acked: u64,
    /// Our log is sent up to here (`acked <= sent <= end`).
    sent: u64,
    /// Batches sent and not yet acknowledged: where each ends, and when it went.
    inflight: VecDeque<(u64, Instant)>,
    /// How much of the peer's log to us we hold without a gap.
    received: u64,
    /// Batches of the peer's log received beyond a gap: start -> end.
    ahead: BTreeMap<u64, u64>,
    /// Since when the peer is owed an ack (it sent values we have not acknowledged).
    owed_since: Option<Instant>,
}

impl Link {
    /// Where the log ends: the position the next owed value takes.
    fn end(&self) -> u64 {
        self.acked + self.log.len() as u64
    }

    /// The peer holds our log up to `ack`: drop what it holds. An ack beyond what was ever
    /// logged is bogus and clamped.
    fn on_ack(&mut self, ack: u64) {
        let ack = ack.min(self.end());
        while self.acked < ack {
            self.log.pop_front();
            self.acked += 1;
        }
        self.sent = self.sent.max(self.acked);
        while self.inflight.front().is_some_and(|&(end, _)| end <= ack) {
            self.inflight.pop_front();
        }
    }

    /// The peer sent log positions `start..start + len`; `received` moves past every run
    /// that now joins up. A message with values is owed an ack, even a repeat.
    fn on_values(&mut self, start: u64, len: usize, now: Instant) {
        if len == 0 {
            return;
        }
        // A hostile start near the top must not overflow; such a run never joins up.
        let end = start.saturating_add(len as u64);
        if start > self.received {
            let slot = self.ahead.entry(start).or_insert(end);
            *slot = (*slot).max(end);
        } else {
            self.received = self.received.max(end);
        }
        while let Some((&s, &e)) = self.ahead.first_key_value() {
            if s > self.received {
                break;
            }
            self.received = self.received.max(e);
            self.ahead.remove(&s);
        }
        self.owed_since.get_or_insert(now);
    }

    /// The oldest unacknowledged batch is too old: send again from the first value the
    /// peer has not acknowledged.
    fn expire(&mut self, now: Instant) {
        if self
            .inflight
            .front()
            .is_some_and(|&(_, at)| at + RESEND_AFTER <= now)
        {
            self.sent = self.acked;
            self.inflight.clear();
        }
    }

    /// Whether a message is due now: values to send, or an ack held at most `ack_delay`.
    fn due(&self, now: Instant, ack_delay: Duration) -> bool {
        let ack_due = self.owed_since.is_some_and(|at| at + ack_delay <= now);
        self.sent < self.end() || ack_due
    }

    /// Takes the next message: unsent values (at most [`MAX_BATCH`]) from `sent` on, and
    /// the ack. Records the batch as in flight.
    fn next_message(&mut self, now: Instant) -> Gossip {
        let start = self.sent;
        let skip = (start - self.acked) as usize;
        let values: Vec<u64> = self
            .log
            .iter()
            .skip(skip)
            .take(MAX_BATCH)
            .copied()
            .collect();
        self.sent += values.len() as u64;
        if !values.is_empty() {
            self.inflight.push_back((self.sent, now));
        }
        self.owed_since = None;
        Gossip {
            start,
            values,
            ack: self.received,
        }
    }
}

/// The node's state.
#[derive(Debug, Default)]
pub struct Broadcast {
    /// Every value this node has.
    seen: BTreeSet<u64>,
    /// Per target (the hub for a leaf, every leaf for the hub), what it is owed.
    links: BTreeMap<String, Link>,
    /// Whether this node is the hub (it sends its acks on its next tick; a leaf holds
    /// them up to [`ACK_DELAY`], for a value to carry them).
    hub: bool,
}

/// The node's one timer.
#[derive(Clone, Debug)]
pub struct Flush;

#[derive(Deserialize)]
struct BroadcastRequest {
    message: u64,
}

/// Node to node: log positions `start..` hold `values`; the sender holds the receiver's
/// log up to `ack`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename = "gossip")]
struct Gossip {
    start: u64,
    values: Vec<u64>,
    ack: u64,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "read_ok")]
struct ReadOk<'a> {
    messages: &'a BTreeSet<u64>,
}

impl Broadcast {
    /// The values this node holds.
    pub fn values(&self) -> &BTreeSet<u64> {
        &self.seen
    }

    /// How many values some target has not acknowledged yet, summed over targets.
    pub fn unacknowledged(&self) -> usize {
        self.links.values().map(|l| l.log.len()).sum()
    }

    /// One link per target: the hub for a leaf, every leaf for the hub.
    fn connect(&mut self, ctx: &Ctx<'_, Self>) {
        let Some(hub) = ctx.node_ids().first() else {
            return;
        };
        self.hub = ctx.node_id() == hub;
        let targets = if self.hub {
            ctx.peers().to_vec()
        } else {
            vec![hub.clone()]
        };
        self.links = targets.into_iter().map(|t| (t, Link::default())).collect();
    }

    /// Records values; new ones are owed to every target except `from`, which has them.
    /// Returns whether any was new.
    fn learn(&mut self, values: &[u64], from: Option<&str>) -> bool {
        let fresh: Vec<u64> = values
            .iter()
            .copied()
            .filter(|v| self.seen.insert(*v))
            .collect();
        for (target, link) in &mut self.links {
            if Some(target.as_str()) != from {
                link.log.extend(&fresh);
            }
        }
        !fresh.is_empty()
    }

    /// Sends each link that is due one message. Earlier batches may still await their
    /// acks: waiting for each would add a round trip to every value's latency.
    fn flush(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let now = ctx.now();
        let ack_delay = if self.hub { Duration::ZERO } else { ACK_DELAY };
        for (target, link) in &mut self.links {
            link.expire(now);
            if link.due(now, ack_delay) {
                ctx.send(target, &link.next_message(now))?;
            }
        }
        Ok(())
    }

    /// Gossip comes only from the other nodes; from a client or a stranger it would be
    /// accepted as if a node had it, so it is refused.
    fn check_peer(ctx: &Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        if ctx.peers().iter().any(|p| p == msg.src()) {
            return Ok(());
        }
        let text = format!("{} from {}, which is not a peer", msg.kind(), msg.src());
        Err(Error::not_supported(text))
    }

    /// A peer's gossip: learn its values, note its ack, and owe it an ack of our own. From
    /// a peer that is not a target (no star would send it) the values are still learned.
    fn on_gossip(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        Broadcast::check_peer(ctx, msg)?;
        let Gossip { start, values, ack } = msg.body()?;
        self.learn(&values, Some(msg.src()));
        if let Some(link) = self.links.get_mut(msg.src()) {
            link.on_ack(ack);
            link.on_values(start, values.len(), ctx.now());
        }
        Ok(())
    }

    /// A client's value: a leaf forwards it to the hub at once; the hub's own values wait
    /// for its tick.
    fn on_broadcast(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        // A missing or non-integer `message` is error 12, sent by the library.
        let BroadcastRequest { message } = msg.body()?;
        ctx.reply(msg, &serde_json::json!({"type": "broadcast_ok"}))?;
        if self.learn(&[message], None) && !self.hub {
            self.flush(ctx)?;
        }
        Ok(())
    }
}

impl Handler for Broadcast {
    type Timer = Flush;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        self.connect(ctx);
        ctx.set_interval(TICK, Flush);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "broadcast" => self.on_broadcast(ctx, msg),
            "read" => ctx.reply(
                msg,
                &ReadOk {
                    messages: &self.seen,
                },
            ),
            // The suggested topology is acknowledged and ignored: see the header.
            "topology" => ctx.reply(msg, &serde_json::json!({"type": "topology_ok"})),
            GOSSIP_TYPE => self.on_gossip(ctx, msg),
            // Anything else is answered with not-supported (10).
            other => Err(Error::unsupported_type(other)),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: Flush) -> Result<(), Error> {
        self.flush(ctx)
    }
}

fn main() -> std::io::Result<()> {
    maelstrom_loop::run(Broadcast::default())
}
