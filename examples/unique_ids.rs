//! Unique-id node (Gossip Glomers challenge 2): ids unique across the cluster with no
//! coordination, so it stays available under any partition.
//!
//! ```text
//! cargo build --release --example unique_ids
//! maelstrom test -w unique-ids --bin target/release/examples/unique_ids --time-limit 30 \
//!     --rate 1000 --node-count 3 --availability total --nemesis partition
//! ```
//!
//! An id is `"<node id>-<counter>"`: node ids are unique within a test and the counter never
//! repeats within a node, so no two replies can carry the same id.

use maelstrom_loop::{Ctx, Error, Handler, Message};
use serde::Serialize;

/// The node: a counter of ids handed out.
#[derive(Debug, Default)]
pub struct UniqueIds {
    /// Ids handed out by this node so far.
    issued: u64,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "generate_ok")]
struct GenerateOk<'a> {
    id: &'a str,
}

impl Handler for UniqueIds {
    type Timer = ();

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "generate" => {
                let id = format!("{}-{}", ctx.node_id(), self.issued);
                self.issued += 1;
                ctx.reply(msg, &GenerateOk { id: &id })
            }
            // Anything else is answered with not-supported (10).
            other => Err(Error::unsupported_type(other)),
        }
    }
}

fn main() -> std::io::Result<()> {
    maelstrom_loop::run(UniqueIds::default())
}
