//! The Gossip Glomers suite under the built-in simulator: every challenge that has a node in
//! this repository, with the challenges' own settings (partitions where the challenge has
//! them), 10 seeds per row on every core, one table, and a non-zero exit code if any run is
//! invalid. The suite itself is the library's `maelstrom_loop::sim::suite`; this file only
//! lists the rows.
//!
//! ```text
//! cargo run --release --example glomers                      # the whole suite, seeds 1-10
//! cargo run --release --example glomers -- --only 3d,4       # some challenges
//! cargo run --release --example glomers -- --seed 7 --verbose   # seed 7 only, full reports
//! cargo run --release --example glomers -- --only 3d --seeds 100 --jobs 2
//! cargo run --release --example glomers -- --only 4 --seed 1 --trace sim-out   # trace + node records
//! cargo run --release --example glomers -- --only 3c --report pages    # pages/3c/index.html
//! cargo run --release --example glomers -- --only 3c --seed 3 --shrink   # smallest failing run
//! cargo run --release --example glomers -- --node-count 7 --latency 50 --nemesis partition --seeds 20
//! ```
//!
//! The flags (`--seed`, `--seeds`, `--jobs`, `--only`, `--trace`, `--report`,
//! `--report-window`, `--shrink`, `--verbose`, `--maelstrom-only`, and Maelstrom's
//! `--node-count`, `--time-limit`, `--rate`, `--concurrency`, `--latency`, `--latency-dist`,
//! `--nemesis`, `--nemesis-interval`, `--partition-shapes`, `--availability`, `--topology`,
//! `--key-count`, `--max-txn-length`, `--max-writes-per-key` as overrides of every row) are
//! documented on `maelstrom_loop::sim::suite`.
//!
//! A row is valid when the checker passes, no node broke the protocol, and the run met its
//! goals: the availability, and 3d's and 3e's msgs-per-op and latency targets. Those targets
//! belong to the challenges' own settings: an override that changes the cluster, the load,
//! the network or the faults drops them.
//!
//! Each node is the very example binary's handler, included as a module: what runs here is
//! what Maelstrom would run.

// Each included example's `main` goes unused here; their handlers are `pub` for this.
#[allow(dead_code, unreachable_pub)]
#[path = "broadcast.rs"]
mod broadcast;
#[allow(dead_code, unreachable_pub)]
#[path = "echo.rs"]
mod echo;
#[allow(dead_code, unreachable_pub)]
#[path = "g_counter.rs"]
mod g_counter;
#[allow(dead_code, unreachable_pub)]
#[path = "g_set.rs"]
mod g_set;
#[allow(dead_code, unreachable_pub)]
#[path = "kafka.rs"]
mod kafka;
#[allow(dead_code, unreachable_pub)]
#[path = "lin_kv.rs"]
mod lin_kv;
#[allow(dead_code, unreachable_pub)]
#[path = "txn_list_append.rs"]
mod txn_list_append;
#[allow(dead_code, unreachable_pub)]
#[path = "txn_rw_register.rs"]
mod txn_rw_register;
#[allow(dead_code, unreachable_pub)]
#[path = "unique_ids.rs"]
mod unique_ids;

use std::process::ExitCode;

use maelstrom_loop::sim::runner::run;
use maelstrom_loop::sim::suite::{self, RunFn};

/// The suite; adding a challenge is one line.
const ROWS: &[(&str, RunFn)] = &[
    ("1", |c| run(c, |_| echo::Echo)),
    ("2", |c| run(c, |_| unique_ids::UniqueIds::default())),
    ("3a", |c| run(c, |_| broadcast::Broadcast::default())),
    ("3b", |c| run(c, |_| broadcast::Broadcast::default())),
    ("3c", |c| run(c, |_| broadcast::Broadcast::default())),
    ("3d", |c| run(c, |_| broadcast::Broadcast::default())),
    ("3e", |c| run(c, |_| broadcast::Broadcast::default())),
    ("g-set", |c| run(c, |_| g_set::GSet::default())),
    ("4", |c| run(c, |_| g_counter::GCounter::default())),
    ("pn-counter", |c| {
        run(c, |_| g_counter::pn_counter::PnCounter::default())
    }),
    ("5a", |c| run(c, |_| kafka::Kafka::default())),
    ("5b", |c| run(c, |_| kafka::Kafka::default())),
    ("5c", |c| run(c, |_| kafka::Kafka::default())),
    ("6a", |c| {
        run(c, |_| txn_rw_register::TxnRwRegister::default())
    }),
    ("6b", |c| {
        run(c, |_| txn_rw_register::TxnRwRegister::default())
    }),
    ("6c", |c| {
        run(c, |_| txn_rw_register::TxnRwRegister::default())
    }),
    ("lin-kv", |c| run(c, |_| lin_kv::Raft::default())),
    ("txn-list-append", |c| {
        run(c, |_| txn_list_append::TxnListAppend::default())
    }),
];

fn main() -> ExitCode {
    suite::main(ROWS)
}
