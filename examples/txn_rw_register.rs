//! Totally available transactional key-value node (Gossip Glomers challenges 6a-6c,
//! Maelstrom's txn-rw-register workload), read committed.
//!
//! ```text
//! cargo build --release --example txn_rw_register
//! # 6a
//! maelstrom test -w txn-rw-register --bin target/release/examples/txn_rw_register \
//!     --node-count 1 --time-limit 20 --rate 1000 --concurrency 2n \
//!     --consistency-models read-uncommitted --availability total
//! # 6b
//! maelstrom test -w txn-rw-register --bin target/release/examples/txn_rw_register \
//!     --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 \
//!     --consistency-models read-uncommitted --availability total --nemesis partition
//! # 6c: as 6b with --consistency-models read-committed
//! ```
//!
//! Each transaction runs on the node that receives it, alone and to completion (the node
//! has one thread), against the node's own store, and is answered at once: no other node is
//! ever waited for, so every transaction succeeds under any partition. Reads see the store
//! as it is, including the transaction's own earlier writes.
//!
//! A transaction that writes gets a version, a Lamport timestamp `(counter, node index)`
//! above every version this node has seen; each key it writes takes that version. Its final
//! write per key (never an intermediate one) goes to the peers as one write set through
//! acknowledged gossip. A peer applies a write set at once, keeping per key whichever
//! write has the higher version, so all nodes converge on the same store.
//!
//! Why that is read committed (no G0, G1a, G1b, G1c):
//! - G1a (aborted read): nothing ever aborts.
//! - G1b (intermediate read): only final writes leave the node, and a local transaction
//!   runs to completion before any other can read.
//! - G0 and G1c (cycles of write-write and write-read dependencies): a transaction that
//!   reads another's write runs after that write set was applied here, so after the clock
//!   moved past its version, so it gets a higher version; a key's later write has the higher
//!   version by construction. Every dependency goes from a lower version to a higher one,
//!   so there is no cycle.

use std::collections::{BTreeMap, HashMap};

use maelstrom_loop::gossip::{Inbox, Outbox, BATCH_TYPE};
use maelstrom_loop::{Ctx, Duration, Error, Handler, Message};
use serde::{Deserialize, Serialize};

/// How often a node sends its peers the write sets they have not acknowledged.
const GOSSIP_INTERVAL: Duration = Duration::from_millis(100);

/// A transaction's version: Lamport counter, then node index to break ties. Ordered
/// lexicographically; sent as `[counter, node]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version(u64, u32);

/// A key's current value and the version of the transaction that wrote it.
#[derive(Clone, Copy, Debug)]
struct Register {
    version: Version,
    value: i64,
}

/// One committed transaction's final writes, replicated as a unit: `[version, [[k, v], ..]]`.
#[derive(Debug, Serialize, Deserialize)]
struct WriteSet(Version, Vec<(i64, i64)>);

/// A node of the replicated store.
#[derive(Debug, Default)]
pub struct TxnRwRegister {
    /// This node's index in `node_ids`, the tie-breaker of its versions.
    index: u32,
    /// The Lamport counter: at least the counter of every version seen.
    clock: u64,
    store: HashMap<i64, Register>,
    /// This node's committed write sets, on their way to the peers.
    outbox: Outbox<WriteSet>,
    inbox: Inbox,
}

/// The timer: one periodic gossip round.
#[derive(Clone, Debug)]
pub struct Gossip;

/// A micro-operation's function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Function {
    #[serde(rename = "r")]
    Read,
    #[serde(rename = "w")]
    Write,
}

/// `["r", key, null]` or `["w", key, value]`; a read's value is filled in by the node.
#[derive(Debug, Serialize, Deserialize)]
struct Op(Function, i64, Option<i64>);

#[derive(Deserialize)]
struct Txn {
    txn: Vec<Op>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "txn_ok")]
struct TxnOk {
    txn: Vec<Op>,
}

impl TxnRwRegister {
    /// The value of `key` on this node, if it was ever written.
    pub fn get(&self, key: i64) -> Option<i64> {
        self.store.get(&key).map(|register| register.value)
    }

    /// How many of this node's write sets some peer has not acknowledged yet.
    pub fn undelivered(&self) -> usize {
        self.outbox.retained()
    }

    /// Runs a transaction against the store, filling in its reads, and queues its final
    /// writes for the peers. Nothing else runs meanwhile: it is atomic here.
    fn execute(&mut self, txn: &mut [Op]) {
        let mut version = None;
        let mut finals = BTreeMap::new();
        for Op(function, key, value) in txn.iter_mut() {
            match (function, *value) {
                (Function::Read, _) => *value = self.get(*key),
                (Function::Write, Some(written)) => {
                    let version = *version.get_or_insert_with(|| self.next_version());
                    let register = Register {
                        version,
                        value: written,
                    };
                    self.store.insert(*key, register);
                    finals.insert(*key, written);
                }
                // Refused by `validate` before anything ran.
                (Function::Write, None) => debug_assert!(false, "write of null to {key}"),
            }
        }
        if let Some(version) = version {
            self.outbox
                .push(WriteSet(version, finals.into_iter().collect()));
        }
    }

    /// A version above every one seen so far.
    fn next_version(&mut self) -> Version {
        self.clock += 1;
        Version(self.clock, self.index)
    }

    /// Applies a peer's write set: per key, the higher version wins.
    fn apply(&mut self, WriteSet(version, writes): WriteSet) {
        self.clock = self.clock.max(version.0);
        for (key, value) in writes {
            let register = Register { version, value };
            self.store
                .entry(key)
                .and_modify(|current| {
                    if current.version < version {
                        *current = register;
                    }
                })
                .or_insert(register);
        }
    }
}

/// Refuses a transaction with a write of `null`, before any of it runs.
fn validate(txn: &[Op]) -> Result<(), Error> {
    match txn
        .iter()
        .find(|op| op.0 == Function::Write && op.2.is_none())
    {
        Some(Op(_, key, _)) => Err(Error::malformed(format!("write to key {key} has no value"))),
        None => Ok(()),
    }
}

impl Handler for TxnRwRegister {
    type Timer = Gossip;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let position = ctx.node_ids().iter().position(|id| id == ctx.node_id());
        // init guarantees nothing here; a node missing from the list still works alone.
        self.index = position.and_then(|i| u32::try_from(i).ok()).unwrap_or(0);
        ctx.set_interval(GOSSIP_INTERVAL, Gossip);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "txn" => {
                // A missing `txn`, or an op that is not ["r"|"w", int, int|null], is error 12.
                let Txn { mut txn } = msg.body()?;
                validate(&txn)?;
                self.execute(&mut txn);
                ctx.reply(msg, &TxnOk { txn })
            }
            BATCH_TYPE => {
                let mut received = Vec::new();
                // A batch that does not decode is answered with error 12 and resent later.
                self.inbox
                    .receive(ctx, msg, |set: WriteSet| received.push(set))?;
                received.into_iter().for_each(|set| self.apply(set));
                Ok(())
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
    maelstrom_loop::run(TxnRwRegister::default())
}
