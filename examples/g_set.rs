//! Grow-only set node (Maelstrom's g-set workload): a G-Set CRDT replicated by gossip.
//!
//! ```text
//! cargo build --release --example g_set
//! maelstrom test -w g-set --bin target/release/examples/g_set --node-count 3 --time-limit 20 \
//!     --rate 10 --nemesis partition
//! ```
//!
//! `add` inserts the element locally and answers at once, so the node stays available under
//! any partition; `read` answers with what this node holds. Each node delivers its own adds
//! to every peer through [`gossip`](maelstrom_loop::gossip): batched every
//! [`GOSSIP_INTERVAL`], acknowledged, and resent from the last ack until it gets through.
//! After a partition heals, every node soon holds every element acknowledged anywhere.
//!
//! Elements are any JSON. Two spellings of one value (`1.0` and `1`, or keys in another
//! order) would be two distinct elements to the client, so the set keys each element by its
//! canonical JSON text (serde_json's: object keys sorted, no whitespace) and answers reads
//! with exactly that text.

use std::collections::BTreeSet;

use maelstrom_loop::gossip::{Inbox, Outbox, BATCH_TYPE};
use maelstrom_loop::{Ctx, Duration, Error, Handler, Message};
use serde::Serialize;
use serde_json::value::RawValue;

/// How often a node sends its peers the adds they have not acknowledged.
const GOSSIP_INTERVAL: Duration = Duration::from_millis(100);

/// A node of the grow-only set.
#[derive(Debug, Default)]
pub struct GSet {
    /// Every element this node knows, as canonical JSON text.
    elements: BTreeSet<String>,
    /// Elements first added here, on their way to the peers.
    outbox: Outbox<serde_json::Value>,
    /// What the peers' outboxes delivered so far.
    inbox: Inbox,
}

/// The timer: one periodic gossip round.
#[derive(Clone, Debug)]
pub struct Gossip;

#[derive(Serialize)]
#[serde(tag = "type", rename = "add_ok")]
struct AddOk {}

#[derive(Serialize)]
#[serde(tag = "type", rename = "read_ok")]
struct ReadOk<'a> {
    value: Vec<&'a RawValue>,
}

impl GSet {
    /// Whether the node holds `element` (any spelling of it).
    pub fn contains(&self, element: &serde_json::Value) -> bool {
        self.elements.contains(&element.to_string())
    }

    /// How many elements the node holds.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether the node holds no element.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// How many of this node's adds some peer has not acknowledged yet.
    pub fn undelivered(&self) -> usize {
        self.outbox.retained()
    }

    /// Adds a client's element; only one new to this node goes to the peers (whoever
    /// added it first delivers it).
    fn add(&mut self, element: serde_json::Value) {
        if self.elements.insert(element.to_string()) {
            self.outbox.push(element);
        }
    }

    /// Every element, as the raw JSON text the set keeps.
    fn read(&self) -> Result<ReadOk<'_>, Error> {
        let value: Result<Vec<&RawValue>, _> = self
            .elements
            .iter()
            .map(|text| serde_json::from_str(text))
            .collect();
        // The texts were written by serde_json, so they parse; if not, say so (code 13).
        let value = value.map_err(|e| Error::crash(format!("corrupt element: {e}")))?;
        Ok(ReadOk { value })
    }
}

impl Handler for GSet {
    type Timer = Gossip;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        ctx.set_interval(GOSSIP_INTERVAL, Gossip);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "add" => {
                // A missing `element` is error 12, sent to the client by the library.
                self.add(msg.field("element")?);
                ctx.reply(msg, &AddOk {})
            }
            "read" => ctx.reply(msg, &self.read()?),
            BATCH_TYPE => {
                let elements = &mut self.elements;
                // A batch that does not decode is answered with error 12 and resent later.
                // Peers' elements are re-encoded, so every copy is keyed by the same text.
                self.inbox.receive(ctx, msg, |element: serde_json::Value| {
                    elements.insert(element.to_string());
                })
            }
            // Anything else is answered with not-supported (10).
            other => Err(Error::unsupported_type(other)),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: Gossip) -> Result<(), Error> {
        self.outbox.flush(ctx, |node| &mut node.outbox);
        Ok(())
    }
}

fn main() -> std::io::Result<()> {
    maelstrom_loop::run(GSet::default())
}
