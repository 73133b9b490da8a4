//! Echo node (Gossip Glomers challenge 1): answers every `echo` with the same value.
//!
//! ```text
//! cargo build --release --example echo
//! maelstrom test -w echo --bin target/release/examples/echo --node-count 1 --time-limit 10
//! ```

use maelstrom_loop::{Ctx, Error, Handler, Message};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The node keeps no state.
#[derive(Debug)]
pub struct Echo;

/// The echoed value may be any JSON: it is passed through as raw text, never parsed into a
/// tree.
#[derive(Deserialize)]
struct EchoRequest<'a> {
    #[serde(borrow)]
    echo: &'a RawValue,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "echo_ok")]
struct EchoOk<'a> {
    echo: &'a RawValue,
}

impl Handler for Echo {
    type Timer = ();

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "echo" => {
                // A missing or broken `echo` is error 12, sent to the client by the library.
                let EchoRequest { echo } = msg.body()?;
                ctx.reply(msg, &EchoOk { echo })
            }
            // Anything else is answered with not-supported (10).
            other => Err(Error::unsupported_type(other)),
        }
    }
}

fn main() -> std::io::Result<()> {
    maelstrom_loop::run(Echo)
}
