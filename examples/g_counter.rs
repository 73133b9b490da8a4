//! Grow-only counter node (Gossip Glomers challenge 4, Maelstrom's g-counter workload).
//!
//! ```text
//! cargo build --release --example g_counter
//! maelstrom test -w g-counter --bin target/release/examples/g_counter --node-count 3 \
//!     --rate 100 --time-limit 20 --nemesis partition
//! ```
//!
//! This is the pn-counter node of `pn_counter.rs` refusing negative deltas (error 12): a
//! G-Counter CRDT with one entry per node, merged by maximum and replicated by acknowledged
//! gossip. See that file for how it works.
//!
//! Why a CRDT rather than the challenge's suggested seq-kv: the checker judges only the final
//! reads, which must equal the acknowledged total once partitions have healed. A CRDT answers
//! every `add` and `read` locally, so it stays available and fast during partitions (seq-kv
//! would cost a service round trip per operation, a compare-and-set retry loop under
//! contention, and a write to force a fresh read), and it converges within about a second of
//! the heal, as the final reads need.

use maelstrom_loop::run;

// The node is pn_counter.rs's `Counter`; that file's `PnCounter` and `main` go unused here.
// Visible to the crate so that a test including this file reaches both counters.
#[allow(dead_code, unreachable_pub)]
#[path = "pn_counter.rs"]
pub(crate) mod pn_counter;

/// The g-counter node: a counter whose deltas must be non-negative.
pub type GCounter = pn_counter::Counter<false>;

fn main() -> std::io::Result<()> {
    run(GCounter::default())
}
