//! The Gossip Glomers suite under the built-in simulator: every challenge that has a node in
//! this repository, with MAELSTROM.md's settings (partitions where the challenge has them),
//! one table, and a non-zero exit code if any run is invalid.
//!
//! ```text
//! cargo run --release --example glomers                      # the whole suite
//! cargo run --release --example glomers -- --only 3d,4       # some challenges
//! cargo run --release --example glomers -- --seed 7 --verbose
//! cargo run --release --example glomers -- --only 4 --trace sim-out   # trace + node inputs
//! cargo run --release --example glomers -- --only 3c --report pages    # pages/3c/index.html
//! cargo run --release --example glomers -- --node-count 7 --latency 50 --nemesis partition --seeds 20
//! ```
//!
//! The overrides take Maelstrom's flag names and apply to every row that runs: `--node-count`,
//! `--time-limit` (seconds), `--rate`, `--concurrency` (a number, or `2n` for twice the node
//! count), `--latency` (mean milliseconds), `--latency-dist` (`constant`, `uniform` on
//! `[0, 2 x mean]`, `exponential`), `--nemesis partition|none`, `--availability total|F`
//! (the fraction of operations that must succeed; 2 and 6a-6c require `total`).
//! `--seeds N` runs each row with seeds `seed .. seed + N` and prints a row per seed.
//! `--report DIR` draws each run as a self-contained HTML page, `DIR/<row>/index.html`, with
//! `DIR/index.html` linking them; `--report-window 12.5s..13.5s` sets the span its message
//! diagram covers (by default two seconds around the first failing operation).
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

use std::path::PathBuf;
use std::process::ExitCode;

use maelstrom_loop::sim::draw::{ReportDir, Window};
use maelstrom_loop::sim::net::Latency;
use maelstrom_loop::sim::report::Report;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::Duration;

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
    seeds: u64,
    only: Option<Vec<String>>,
    trace: Option<PathBuf>,
    report: Option<PathBuf>,
    report_window: Option<Window>,
    verbose: bool,
    overrides: Overrides,
}

/// Maelstrom-style settings that replace a challenge's own, for harsher runs.
#[derive(Default)]
struct Overrides {
    node_count: Option<usize>,
    time_limit_secs: Option<u64>,
    rate: Option<f64>,
    /// Client processes per node (`2n`) or in all.
    concurrency: Option<Concurrency>,
    latency_ms: Option<u64>,
    latency_dist: Option<String>,
    nemesis: Option<Nemesis>,
    availability: Option<f64>,
}

#[derive(Clone, Copy)]
enum Concurrency {
    PerNode(usize),
    Total(usize),
}

impl Overrides {
    /// Whether any override changes the conditions a challenge's targets were set for.
    fn changes_conditions(&self) -> bool {
        self.node_count.is_some()
            || self.time_limit_secs.is_some()
            || self.rate.is_some()
            || self.concurrency.is_some()
            || self.latency_ms.is_some()
            || self.latency_dist.is_some()
            || self.nemesis.is_some()
    }

    fn apply(&self, config: &mut RunConfig) {
        if self.changes_conditions() {
            config.targets = None;
        }
        if let Some(nodes) = self.node_count {
            // A challenge's concurrency is a multiple of its node count: keep the multiple.
            let per_node = config.concurrency.div_ceil(config.node_count.max(1));
            config.node_count = nodes;
            config.concurrency = per_node * nodes;
        }
        if let Some(secs) = self.time_limit_secs {
            config.time_limit = Duration::from_secs(secs);
        }
        if let Some(rate) = self.rate {
            config.rate = rate;
        }
        match self.concurrency {
            Some(Concurrency::PerNode(k)) => config.concurrency = k * config.node_count,
            Some(Concurrency::Total(n)) => config.concurrency = n,
            None => {}
        }
        if let Some(nemesis) = self.nemesis {
            config.nemesis = nemesis;
        }
        if let Some(availability) = self.availability {
            config.availability = Some(availability);
        }
        let mean = match (self.latency_ms, &config.latency) {
            (Some(ms), _) => Duration::from_millis(ms),
            (None, Latency::Fixed(d)) => *d,
            (None, _) => return,
        };
        config.latency = match self.latency_dist.as_deref() {
            Some("uniform") => Latency::Uniform {
                min: Duration::ZERO,
                max: mean.saturating_mul(2),
            },
            Some("exponential") => Latency::Exponential { mean },
            _ => Latency::Fixed(mean),
        };
    }
}

fn parse_concurrency(text: &str) -> Result<Concurrency, String> {
    let bad = |e: std::num::ParseIntError| format!("--concurrency {text}: {e}");
    match text.strip_suffix('n') {
        Some("") => Ok(Concurrency::PerNode(1)),
        Some(k) => k.parse().map(Concurrency::PerNode).map_err(bad),
        None => text.parse().map(Concurrency::Total).map_err(bad),
    }
}

fn parse_number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{flag} {text}: {e}"))
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        seed: 1,
        seeds: 1,
        only: None,
        trace: None,
        report: None,
        report_window: None,
        verbose: false,
        overrides: Overrides::default(),
    };
    let over = &mut options.overrides;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let flag = arg.as_str();
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag {
            "--seed" => options.seed = parse_number(flag, &value()?)?,
            "--seeds" => options.seeds = parse_number::<u64>(flag, &value()?)?.max(1),
            "--only" => options.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--trace" => options.trace = Some(PathBuf::from(value()?)),
            "--report" => options.report = Some(PathBuf::from(value()?)),
            "--report-window" => options.report_window = Some(Window::parse(&value()?)?),
            "--verbose" => options.verbose = true,
            "--node-count" => over.node_count = Some(parse_number(flag, &value()?)?),
            "--time-limit" => over.time_limit_secs = Some(parse_number(flag, &value()?)?),
            "--rate" => over.rate = Some(parse_number(flag, &value()?)?),
            "--concurrency" => over.concurrency = Some(parse_concurrency(&value()?)?),
            "--latency" => over.latency_ms = Some(parse_number(flag, &value()?)?),
            "--availability" => {
                over.availability = Some(match value()?.as_str() {
                    "total" => 1.0,
                    fraction => parse_number(flag, fraction)?,
                })
            }
            "--latency-dist" => match value()?.as_str() {
                dist @ ("constant" | "uniform" | "exponential") => {
                    over.latency_dist = Some(dist.to_owned())
                }
                other => return Err(format!("--latency-dist {other}: not a distribution")),
            },
            "--nemesis" => {
                over.nemesis = Some(match value()?.as_str() {
                    "partition" => Nemesis::Partition {
                        interval: Duration::from_secs(5),
                    },
                    "none" => Nemesis::None,
                    other => return Err(format!("--nemesis {other}: use partition or none")),
                })
            }
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

/// The command that reruns one row with one seed, keeping this run's overrides.
fn rerun_command(row: &str, seed: u64) -> String {
    const DROPPED: [&str; 6] = [
        "--only",
        "--seed",
        "--seeds",
        "--trace",
        "--report",
        "--report-window",
    ];
    let mut command =
        format!("cargo run --release --example glomers -- --only {row} --seed {seed}");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if DROPPED.contains(&arg.as_str()) {
            args.next();
        } else if arg != "--verbose" {
            command.push(' ');
            command.push_str(&arg);
        }
    }
    command
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
    let mut pages = options
        .report
        .as_ref()
        .map(|dir| ReportDir::new(dir, options.report_window));
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
        options.overrides.apply(&mut config);
        config.trace = options.trace.is_some() || pages.is_some();
        for seed in options.seed..options.seed.saturating_add(options.seeds) {
            config.seed = seed;
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
            if let Some(pages) = &mut pages {
                let command = rerun_command(name, seed);
                if let Err(e) = pages.write_report(&report, Some(command)) {
                    eprintln!("could not write the page of {name}: {e}");
                }
            }
            all_valid &= report.is_valid();
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
