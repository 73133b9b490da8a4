//! The Gossip Glomers suite under the built-in simulator: every challenge that has a node in
//! this repository, with MAELSTROM.md's settings (partitions where the challenge has them),
//! one table, and a non-zero exit code if any run is invalid.
//!
//! ```text
//! cargo run --release --example glomers                      # the whole suite
//! cargo run --release --example glomers -- --only 3d,4       # some challenges
//! cargo run --release --example glomers -- --seed 7 --verbose
//! cargo run --release --example glomers -- --only 4 --trace sim-out   # trace + node inputs
//! ```
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

use std::path::PathBuf;
use std::process::ExitCode;

use maelstrom_loop::sim::report::Report;
use maelstrom_loop::sim::runner::{run, RunConfig};

/// One row of the suite: a challenge and the node that answers it.
type Row = (&'static str, fn(&RunConfig) -> Report);

/// The suite; adding a challenge is one line.
const ROWS: &[Row] = &[
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

struct Options {
    seed: u64,
    only: Option<Vec<String>>,
    trace: Option<PathBuf>,
    verbose: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        seed: 1,
        only: None,
        trace: None,
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--seed" => options.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--only" => options.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--trace" => options.trace = Some(PathBuf::from(value()?)),
            "--verbose" => options.verbose = true,
            other => {
                return Err(format!(
                    "unknown argument {other}; see the header of examples/glomers.rs"
                ))
            }
        }
    }
    Ok(options)
}

/// Writes the run's trace and each node's input (replayable: `NODE < n0-input.jsonl`).
fn write_trace(dir: &std::path::Path, report: &Report) -> std::io::Result<()> {
    let Some(trace) = &report.trace else {
        return Ok(());
    };
    let dir = dir.join(&report.challenge);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("trace.jsonl"), &trace.messages)?;
    for (node, lines) in &trace.node_inputs {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(dir.join(format!("{node}-input.jsonl")), text)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", Report::table_header());
    let mut all_valid = true;
    for (name, run_row) in ROWS {
        if options
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|o| o == name))
        {
            continue;
        }
        let Some(mut config) = RunConfig::challenge(name) else {
            continue;
        };
        config.seed = options.seed;
        config.trace = options.trace.is_some();
        let report = run_row(&config);
        println!("{}", report.table_row());
        if options.verbose || !report.is_valid() {
            println!("{report}");
        }
        if let Some(dir) = &options.trace {
            if let Err(e) = write_trace(dir, &report) {
                eprintln!("could not write the trace of {name}: {e}");
            }
        }
        all_valid &= report.is_valid();
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
