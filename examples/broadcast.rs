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
//! acknowledged and ignored. Every node batches the values it has not yet seen acknowledged
//! by its targets (a leaf's one target is the hub; the hub's targets are all leaves) and sends
//! each target one batch every [`BATCH_INTERVAL`]. The target answers every batch with an
//! ack naming the values it carried. A value still unacknowledged [`RESEND_AFTER`] after it
//! was last sent goes out again, so every value reaches every node once the network lets one
//! batch and its ack through: correct under partitions (3c). A value crosses at most two
//! hops (leaf, hub, leaf): with 100 ms latency, about 2 x 100 ms plus two half batch
//! intervals, and a batch per target per interval keeps messages per operation low (3d and
//! 3e at once).
//!
//! Acks are plain messages, not RPC replies, so one that comes late still counts: with a
//! round trip longer than [`RESEND_AFTER`] (latency of 500 ms and up, or an exponential tail)
//! a value is resent once or twice, then acknowledged. An RPC timeout would discard every
//! late reply, resend every value forever, and lose the 3e message budget.
//!
//! If the hub is cut off, values wait on each side until the partition heals; Maelstrom
//! heals before its final reads, which then see everything.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use maelstrom_loop::{Ctx, Duration, Error, Handler, Instant, Message};
use serde::{Deserialize, Serialize};

/// How often a node sends each target what it lacks.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(60);
/// How long a sent value waits for its ack before it is due again. An ack that comes later
/// still counts.
pub const RESEND_AFTER: Duration = Duration::from_millis(1_000);
/// At most this many values go in one batch (bounds a message after a long partition).
pub const MAX_BATCH: usize = 4096;

/// The `type` of a batch of values, node to node.
const BATCH_TYPE: &str = "gossip";
/// The `type` of a batch's ack: a message of its own (no `in_reply_to`), so a late one is
/// still delivered to the handler.
const ACK_TYPE: &str = "gossip_ok";

/// What one target still has to be told.
#[derive(Debug, Default)]
struct Link {
    /// Values for the next batch: never sent, or sent too long ago without an ack.
    due: BTreeSet<u64>,
    /// Values sent and not acknowledged, with when they were last sent.
    unacked: HashMap<u64, Instant>,
    /// Batches sent, oldest first: when, and what they carried (to find resends).
    sent: VecDeque<(Instant, Vec<u64>)>,
}

impl Link {
    /// The target has these values (it acknowledged or sent them): stop sending them.
    fn settle(&mut self, values: &[u64]) {
        for v in values {
            self.unacked.remove(v);
            self.due.remove(v);
        }
    }

    /// Makes due again every value whose latest send is older than [`RESEND_AFTER`].
    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.sent.front() {
            if *at + RESEND_AFTER > now {
                break;
            }
            let Some((at, values)) = self.sent.pop_front() else {
                break;
            };
            // A value sent again since is judged by that later send.
            let stale = values
                .into_iter()
                .filter(|v| self.unacked.get(v) == Some(&at));
            self.due.extend(stale);
        }
    }

    /// Takes the next batch out of `due`, recording it as sent at `now`.
    fn next_batch(&mut self, now: Instant) -> Option<Vec<u64>> {
        if self.due.is_empty() {
            return None;
        }
        let values: Vec<u64> = self.due.iter().copied().take(MAX_BATCH).collect();
        for v in &values {
            self.due.remove(v);
            self.unacked.insert(*v, now);
        }
        self.sent.push_back((now, values.clone()));
        Some(values)
    }
}

/// The node's state.
#[derive(Debug, Default)]
pub struct Broadcast {
    /// Every value this node has.
    seen: BTreeSet<u64>,
    /// Per target (the hub for a leaf, every leaf for the hub), what it still lacks.
    links: BTreeMap<String, Link>,
}

/// The node's one timer.
#[derive(Clone, Debug)]
pub struct Flush;

#[derive(Deserialize)]
struct BroadcastRequest {
    message: u64,
}

/// A batch and its ack have the same shape: the values carried.
#[derive(Deserialize)]
struct Values {
    values: Vec<u64>,
}

#[derive(Serialize)]
struct ValuesOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    values: &'a [u64],
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
        let links = self.links.values();
        links.map(|l| l.unacked.len() + l.due.len()).sum()
    }

    /// One link per target: the hub for a leaf, every leaf for the hub.
    fn connect(&mut self, ctx: &Ctx<'_, Self>) {
        let Some(hub) = ctx.node_ids().first() else {
            return;
        };
        let targets = if ctx.node_id() == hub {
            ctx.peers().to_vec()
        } else {
            vec![hub.clone()]
        };
        self.links = targets.into_iter().map(|t| (t, Link::default())).collect();
    }

    /// Records values; new ones become due to every target except `from`, which has them.
    fn learn(&mut self, values: &[u64], from: Option<&str>) {
        let fresh: Vec<u64> = values
            .iter()
            .copied()
            .filter(|v| self.seen.insert(*v))
            .collect();
        for (target, link) in &mut self.links {
            if Some(target.as_str()) == from {
                link.settle(values);
            } else {
                link.due.extend(&fresh);
            }
        }
    }

    /// Sends each target with due values one batch. Earlier batches may still await their
    /// acks: waiting for each would add a round trip to every value's latency.
    fn flush(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let now = ctx.now();
        for (target, link) in &mut self.links {
            link.expire(now);
            if let Some(values) = link.next_batch(now) {
                let batch = ValuesOut {
                    kind: BATCH_TYPE,
                    values: &values,
                };
                ctx.send(target, &batch)?;
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

    /// A peer's batch: learn it and acknowledge it with a message of its own.
    fn on_batch(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        Broadcast::check_peer(ctx, msg)?;
        let Values { values } = msg.body()?;
        self.learn(&values, Some(msg.src()));
        let ack = ValuesOut {
            kind: ACK_TYPE,
            values: &values,
        };
        ctx.send(msg.src(), &ack)
    }

    /// A target's ack, however late: those values need not be sent to it again.
    fn on_ack(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        Broadcast::check_peer(ctx, msg)?;
        let Values { values } = msg.body()?;
        if let Some(link) = self.links.get_mut(msg.src()) {
            link.settle(&values);
        }
        Ok(())
    }
}

impl Handler for Broadcast {
    type Timer = Flush;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        self.connect(ctx);
        ctx.set_interval(BATCH_INTERVAL, Flush);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "broadcast" => {
                // A missing or non-integer `message` is error 12, sent by the library.
                let BroadcastRequest { message } = msg.body()?;
                self.learn(&[message], None);
                ctx.reply(msg, &serde_json::json!({"type": "broadcast_ok"}))
            }
            "read" => ctx.reply(
                msg,
                &ReadOk {
                    messages: &self.seen,
                },
            ),
            // The suggested topology is acknowledged and ignored: see the header.
            "topology" => ctx.reply(msg, &serde_json::json!({"type": "topology_ok"})),
            BATCH_TYPE => self.on_batch(ctx, msg),
            ACK_TYPE => self.on_ack(ctx, msg),
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
