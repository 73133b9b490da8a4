//! Transactional list-append node (Maelstrom's txn-list-append workload), strict-serializable.
//!
//! ```text
//! cargo build --release --example txn_list_append
//! maelstrom test -w txn-list-append --bin target/release/examples/txn_list_append --node-count 2 \
//!     --time-limit 10 --rate 100 --concurrency 2n --consistency-models strict-serializable
//! ```
//!
//! One sequencer, the first node of `node_ids`, holds the database and executes every
//! transaction alone and to completion, in arrival order: a single serial order that also
//! respects real time, which is strict serializability with nothing to coordinate. Other
//! nodes forward each transaction to it. A forward that times out may have committed, so the
//! client gets the indefinite code 0; the sequencer never half-applies a transaction. The
//! price is availability: nodes cut off from the sequencer cannot commit (this workload does
//! not ask for total availability).

use std::collections::BTreeMap;

use maelstrom_loop::{Ctx, Duration, Error, ErrorCode, Handler, Message};
use serde_json::{json, Value};

/// How long a forwarded transaction waits for the sequencer.
pub const FORWARD_TIMEOUT: Duration = Duration::from_millis(1000);

/// A micro-operation as the workload sends it: `["r", key, null]` or `["append", key, value]`.
type MicroOp = (String, Value, Value);

/// The node's state: the database, used only on the sequencer.
#[derive(Debug, Default)]
pub struct TxnListAppend {
    lists: BTreeMap<String, Vec<Value>>,
}

impl TxnListAppend {
    /// Runs a transaction atomically (nothing else interleaves), filling in its reads.
    fn execute(&mut self, mut txn: Vec<MicroOp>) -> Result<Vec<MicroOp>, Error> {
        for (f, key, value) in &txn {
            if f != "r" && f != "append" {
                return Err(Error::malformed(format!(
                    "unknown micro-operation {f:?} on {key}; {value}"
                )));
            }
        }
        for (f, key, value) in &mut txn {
            let key = key.to_string();
            if f == "append" {
                self.lists.entry(key).or_default().push(value.clone());
            } else {
                *value = self.lists.get(&key).map_or(Value::Null, |list| json!(list));
            }
        }
        Ok(txn)
    }
}

impl Handler for TxnListAppend {
    type Timer = ();

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "txn" => {
                let txn: Vec<MicroOp> = msg.field("txn")?;
                let sequencer = ctx.node_ids().first().cloned().unwrap_or_default();
                if sequencer == ctx.node_id() {
                    let done = self.execute(txn)?;
                    return ctx.reply(msg, &json!({"type": "txn_ok", "txn": done}));
                }
                let origin = msg.origin();
                let body = json!({"type": "execute", "txn": txn});
                ctx.rpc(
                    &sequencer,
                    &body,
                    FORWARD_TIMEOUT,
                    move |_: &mut Self, ctx, reply| {
                        match reply.and_then(|r| r.field::<Value>("txn")) {
                            Ok(done) => ctx.reply(&origin, &json!({"type": "txn_ok", "txn": done})),
                            // A definite refusal stays definite; silence may hide a commit.
                            Err(e) if e.is_definite() => {
                                ctx.reply_error(&origin, e.code(), e.text());
                                Ok(())
                            }
                            Err(e) => {
                                ctx.reply_error(
                                    &origin,
                                    ErrorCode::Timeout,
                                    &format!("sequencer: {e}"),
                                );
                                Ok(())
                            }
                        }
                    },
                )?;
                Ok(())
            }
            // Node to node: a transaction forwarded to the sequencer.
            "execute" => {
                let done = self.execute(msg.field("txn")?)?;
                ctx.reply(msg, &json!({"type": "execute_ok", "txn": done}))
            }
            other => Err(Error::unsupported_type(other)),
        }
    }
}

fn main() -> std::io::Result<()> {
    maelstrom_loop::run(TxnListAppend::default())
}
