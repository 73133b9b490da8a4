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
//! each target one batch every [`BATCH_INTERVAL`] as an RPC; the reply acknowledges the
//! batch. A lost or cut-off batch times out and its values go out again in the next batch,
//! so every value reaches every node once the network lets one batch and its reply through:
//! correct under partitions (3c). A value crosses at most two hops (leaf, hub, leaf): with
//! 100 ms latency, about 2 x 100 ms plus two half batch intervals, and a batch per target per
//! interval keeps messages per operation low (3d and 3e at once).

use std::collections::{BTreeMap, BTreeSet};

use maelstrom_loop::{Ctx, Duration, Error, Handler, Message};
use serde::{Deserialize, Serialize};

/// How often a node sends each target what it lacks.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(60);
/// How long a batch waits for its acknowledgement before its values are due again.
pub const BATCH_TIMEOUT: Duration = Duration::from_millis(800);
/// At most this many values go in one batch (bounds a message after a long partition).
pub const MAX_BATCH: usize = 4096;

/// The node's state.
#[derive(Debug, Default)]
pub struct Broadcast {
    /// Every value this node has.
    seen: BTreeSet<u64>,
    /// Per target, the values to send it: not sent yet, or sent in a batch that was not
    /// acknowledged in time. Values in a batch still awaiting its reply are in neither.
    due: BTreeMap<String, BTreeSet<u64>>,
}

/// The node's one timer.
#[derive(Clone, Debug)]
pub struct Flush;

#[derive(Deserialize)]
struct BroadcastRequest {
    message: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename = "gossip")]
struct GossipBatch {
    values: Vec<u64>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "read_ok")]
struct ReadOk<'a> {
    messages: &'a BTreeSet<u64>,
}

impl Broadcast {
    /// The nodes this one sends to: the hub for a leaf, every leaf for the hub.
    fn targets(ctx: &Ctx<'_, Self>) -> Vec<String> {
        let Some(hub) = ctx.node_ids().first() else {
            return Vec::new();
        };
        if ctx.node_id() == hub {
            ctx.peers().to_vec()
        } else {
            vec![hub.clone()]
        }
    }

    /// Records values; new ones become due to every target except `from`.
    fn learn(&mut self, ctx: &Ctx<'_, Self>, values: &[u64], from: Option<&str>) {
        let fresh: Vec<u64> = values
            .iter()
            .copied()
            .filter(|v| self.seen.insert(*v))
            .collect();
        if fresh.is_empty() {
            return;
        }
        for target in Broadcast::targets(ctx) {
            if Some(target.as_str()) != from {
                self.due.entry(target).or_default().extend(&fresh);
            }
        }
    }

    /// Sends each target with due values one batch. Several batches to one target may be
    /// in flight: waiting for each reply would add a round trip to every value's latency.
    fn flush(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        for (target, due) in &mut self.due {
            if due.is_empty() {
                continue;
            }
            let values: Vec<u64> = due.iter().copied().take(MAX_BATCH).collect();
            for v in &values {
                due.remove(v);
            }
            let batch = GossipBatch { values };
            let target_id = target.clone();
            let sent = batch.values.clone();
            ctx.rpc(
                target,
                &batch,
                BATCH_TIMEOUT,
                move |node: &mut Broadcast, _, reply| {
                    // No acknowledgement (timeout, partition): the values are due again.
                    if reply.is_err() {
                        node.due.entry(target_id).or_default().extend(sent);
                    }
                    Ok(())
                },
            )?;
        }
        Ok(())
    }
}

impl Handler for Broadcast {
    type Timer = Flush;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        ctx.set_interval(BATCH_INTERVAL, Flush);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "broadcast" => {
                let BroadcastRequest { message } = msg.body()?;
                self.learn(ctx, &[message], None);
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
            "gossip" => {
                let GossipBatch { values } = msg.body()?;
                self.learn(ctx, &values, Some(msg.src()));
                ctx.reply(msg, &serde_json::json!({"type": "gossip_ok"}))
            }
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
