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
//! client gets the indefinite code 0, and so does one whose `execute_ok` cannot be read (it
//! did commit); only the sequencer's own refusal, which means nothing was applied, is passed
//! on as a definite error. The sequencer never half-applies a transaction, and no other node
//! ever executes one. The price is availability: nodes cut off from the sequencer cannot
//! commit (this workload does not ask for total availability). Forwards give up well before
//! Maelstrom's client does (5 s), so the client hears the code 0 rather than nothing.

use std::collections::BTreeMap;

use maelstrom_loop::{Ctx, Duration, Error, ErrorCode, Handler, Message, Origin};
use serde_json::{json, Value};

/// How long a forwarded transaction waits for the sequencer: two network hops, each of which
/// Maelstrom's `--latency` may make a few hundred milliseconds on average.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);

// An answer later than 90% of the client timeout is dropped by the library (the client may
// be closed by then): the forward must end, with a margin, before that.
const _: () = {
    let deadline_us = <TxnListAppend as Handler>::CLIENT_TIMEOUT.as_micros() / 10 * 9;
    assert!(FORWARD_TIMEOUT.as_micros() + 1_000_000 <= deadline_us);
};

/// A micro-operation as the workload sends it: `["r", key, null]` or `["append", key, value]`.
type MicroOp = (String, Value, Value);

/// The node's state: the database, used only on the sequencer.
#[derive(Debug, Default)]
pub struct TxnListAppend {
    lists: BTreeMap<String, Vec<Value>>,
}

/// Refuses (error 12) a transaction with a micro-operation other than `r` and `append`.
fn validate(txn: &[MicroOp]) -> Result<(), Error> {
    match txn.iter().find(|(f, _, _)| f != "r" && f != "append") {
        Some((f, key, value)) => Err(Error::malformed(format!(
            "unknown micro-operation {f:?} on {key}; {value}"
        ))),
        None => Ok(()),
    }
}

impl TxnListAppend {
    /// Runs a transaction atomically (nothing else interleaves), filling in its reads.
    fn execute(&mut self, mut txn: Vec<MicroOp>) -> Result<Vec<MicroOp>, Error> {
        validate(&txn)?;
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

    /// Sends a client's transaction to the sequencer and relays the outcome.
    fn forward(
        ctx: &mut Ctx<'_, Self>,
        sequencer: &str,
        origin: Origin,
        txn: Vec<MicroOp>,
    ) -> Result<(), Error> {
        let body = json!({"type": "execute", "txn": txn});
        ctx.rpc(
            sequencer,
            &body,
            FORWARD_TIMEOUT,
            move |_: &mut Self, ctx, reply| {
                match reply.map(|r| r.field::<Value>("txn")) {
                    Ok(Ok(done)) => ctx.reply(&origin, &json!({"type": "txn_ok", "txn": done})),
                    // `execute_ok` means it committed, even if its body is unreadable.
                    Ok(Err(e)) => {
                        let text =
                            format!("the sequencer committed it, but its answer is malformed: {e}");
                        ctx.reply_error(&origin, ErrorCode::Timeout, &text);
                        Ok(())
                    }
                    // The sequencer's refusal: nothing was applied.
                    Err(e) if e.is_definite() => {
                        ctx.reply_error(&origin, e.code(), e.text());
                        Ok(())
                    }
                    // Silence (or a crash) may hide a commit.
                    Err(e) => {
                        ctx.reply_error(&origin, ErrorCode::Timeout, &format!("sequencer: {e}"));
                        Ok(())
                    }
                }
            },
        )?;
        Ok(())
    }
}

/// The node that executes every transaction: the first of `node_ids`.
fn sequencer<'c>(ctx: &'c Ctx<'_, TxnListAppend>) -> &'c str {
    ctx.node_ids().first().map_or(ctx.node_id(), String::as_str)
}

impl Handler for TxnListAppend {
    type Timer = ();

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "txn" => {
                let txn: Vec<MicroOp> = msg.field("txn")?;
                // Refused here, definitely, without a round trip to the sequencer.
                validate(&txn)?;
                let sequencer = sequencer(ctx).to_owned();
                if sequencer == ctx.node_id() {
                    let done = self.execute(txn)?;
                    return ctx.reply(msg, &json!({"type": "txn_ok", "txn": done}));
                }
                TxnListAppend::forward(ctx, &sequencer, msg.origin(), txn)
            }
            // Node to node: a transaction forwarded to the sequencer. Any other node refuses
            // it (definitely: nothing is applied), or there would be two databases.
            "execute" => {
                if sequencer(ctx) != ctx.node_id() {
                    return Err(Error::temporarily_unavailable(format!(
                        "{} is not the sequencer ({} is)",
                        ctx.node_id(),
                        sequencer(ctx)
                    )));
                }
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
