//! The Gossip Glomers suite as a library: a table of rows (a name and the run of your node),
//! the `glomers` command line, seeds on every core, one table, an exit code.
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! use maelstrom_loop::sim::runner::run;
//! # use maelstrom_loop::{Ctx, Error, Handler, Message};
//! # #[derive(Default)]
//! # struct MyCounter;
//! # impl Handler for MyCounter {
//! #     type Timer = ();
//! #     fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: &Message<'_>) -> Result<(), Error> {
//! #         Ok(())
//! #     }
//! # }
//!
//! fn main() -> ExitCode {
//!     maelstrom_loop::sim::suite::main(&[("4", |c| run(c, |_| MyCounter::default()))])
//! }
//! ```
//!
//! `cargo run --release --bin my-suite -- --only 4 --seeds 50` then runs 50 seeds of
//! challenge 4 on every core.
//!
//! # Rows
//!
//! A row's name picks its settings: a challenge [`RunConfig::challenge`] knows ("1", "3d",
//! "4", "lin-kv", ...), or a Maelstrom workload name, which takes the settings of that
//! workload's challenge ([`Row::named`] lists them). For anything else, build the
//! [`RunConfig`] yourself and pass [`Row`]s to [`main_rows`]:
//!
//! ```
//! use maelstrom_loop::sim::check::Workload;
//! use maelstrom_loop::sim::runner::{run, RunConfig};
//! use maelstrom_loop::sim::suite::{self, Row};
//! # use maelstrom_loop::{Ctx, Error, Handler, Message};
//! # use serde_json::json;
//! # struct Echo;
//! # impl Handler for Echo {
//! #     type Timer = ();
//! #     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
//! #         let echo: &serde_json::value::RawValue = msg.field("echo")?;
//! #         ctx.reply(msg, &json!({"type": "echo_ok", "echo": echo}))
//! #     }
//! # }
//!
//! let mut wide = RunConfig::new("echo-wide", Workload::Echo, 5); // a row of your own
//! wide.rate = 50.0;
//! let rows = [
//!     Row::named("echo", |c| run(c, |_| Echo)).unwrap(), // challenge 1's settings
//!     Row::new(wide, |c| run(c, |_| Echo)),
//! ];
//! // `suite::main_rows(&rows)` would parse the process's arguments; here, given ones:
//! let mut table = Vec::new();
//! let args = ["--seeds", "2", "--jobs", "2"].map(String::from);
//! let valid = suite::run_rows(&rows, args, &mut table).unwrap();
//! assert!(valid);
//! let table = String::from_utf8(table).unwrap();
//! assert_eq!(table.lines().count(), 1 + 2 * 2); // a header, then a line per row and seed
//! assert!(table.lines().nth(3).unwrap().starts_with("echo-wide"));
//! ```
//!
//! # The command line
//!
//! `--seed N` (first seed, default 1; given alone it runs just that seed), `--seeds N`
//! (seeds per row, default [`DEFAULT_SEEDS`]), `--jobs N` (simulations at once, default the
//! available cores), `--only A,B` (rows by name), `--verbose` (every report, not only
//! invalid ones), `--maelstrom-only` (judge as Maelstrom would: failures the simulator finds
//! beyond Maelstrom's own checkers do not fail a run), and Maelstrom's own flags as
//! overrides of every row: `--node-count`, `--time-limit` (seconds), `--rate`,
//! `--concurrency` (a number, or `2n` for twice the node count), `--latency` (mean ms),
//! `--latency-dist constant|uniform|exponential` (uniform on `[0, 2 x mean]`),
//! `--nemesis partition|none`, `--nemesis-interval S` (mean seconds between partition
//! operations, default 10), `--partition-shapes one,minority-third,majority,majorities-ring`
//! (the shapes a partition is drawn from; all four by default), `--availability total|F`,
//! `--topology grid|line|tree2|tree3|tree4|total`, `--key-count N`, `--max-txn-length N`,
//! `--max-writes-per-key N`. An override that changes the cluster, load, network or faults
//! drops 3d's and 3e's targets, which belong to their own settings.
//!
//! To look at a run: `--trace DIR` writes each run's messages (`DIR/<row>/trace.jsonl`) and
//! each node's record (`DIR/<row>/<node>.jsonl`, which replays through the real binary with
//! `MAELSTROM_REPLAY`); `--report DIR` draws each run as a self-contained HTML page
//! (`DIR/<row>/index.html`, see [`draw`](super::draw)), its message diagram over
//! `--report-window 12.5s..13.5s` if given; `--shrink` searches each failing run for the
//! smallest run with the same seed that fails the same way ([`shrink`](super::shrink)) and
//! prints the command that reruns it; its trace goes to `DIR/<row>/smallest-seed-<N>/` and
//! its page to `DIR/<row>/smallest-seed-<N>.html`, beside the original run's.
//!
//! # Seeds on every core
//!
//! Each (row, seed) is an independent simulation: a worker thread calls the row's run
//! function, which builds its own single-threaded cluster, so handlers need not be `Send`.
//! Lines are printed in row and seed order, so the output is byte-identical whatever
//! `--jobs` is; wall time goes to stderr only.

mod options;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use self::options::Options;
pub use self::options::DEFAULT_SEEDS;
use super::draw::ReportDir;
use super::report::Report;
use super::runner::RunConfig;
use super::shrink::{rerun_command_for, shrink};

/// Runs one simulation of a row's node under the given settings, usually
/// `|c| run(c, |_| MyNode::default())`.
pub type RunFn = fn(&RunConfig) -> Report;

/// One row of the suite: its settings and the run of the node that answers it.
#[derive(Clone, Debug)]
pub struct Row {
    /// The settings (the seed and trace flag are set per run); its name names the row.
    pub config: RunConfig,
    /// The run.
    pub run: RunFn,
}

impl Row {
    /// A row with settings of your own.
    pub fn new(config: RunConfig, run: RunFn) -> Row {
        Row { config, run }
    }

    /// A row named after a challenge ([`RunConfig::challenge`]: "1", "2", "3a".."3e", "4",
    /// "5a".."5c", "6a".."6c", "g-set", "pn-counter", "lin-kv", "txn-list-append"), with
    /// its settings; or after a Maelstrom workload, with the settings of that workload's
    /// challenge, keeping the given name:
    ///
    /// | name | settings of |
    /// |------|-------------|
    /// | `echo` | 1 |
    /// | `unique-ids` | 2 |
    /// | `broadcast` | 3b |
    /// | `g-counter` | 4 |
    /// | `kafka` | 5b |
    /// | `txn-rw-register` | 6c |
    ///
    /// `None` for any other name: build that row with [`Row::new`].
    pub fn named(name: &str, run: RunFn) -> Option<Row> {
        let challenge = match name {
            "echo" => "1",
            "unique-ids" => "2",
            "broadcast" => "3b",
            "g-counter" => "4",
            "kafka" => "5b",
            "txn-rw-register" => "6c",
            other => other,
        };
        let mut config = RunConfig::challenge(challenge)?;
        config.name = name.to_owned();
        Some(Row { config, run })
    }
}

/// The suite over rows named as in [`Row::named`], with the process's arguments, printing
/// to stdout: the whole `main` of a suite binary.
///
/// Exit code 0 if every run was valid, 1 if any was not, 2 for a bad command line or an
/// unknown row name.
pub fn main(rows: &[(&str, RunFn)]) -> ExitCode {
    let mut named = Vec::new();
    for &(name, run) in rows {
        match Row::named(name, run) {
            Some(row) => named.push(row),
            None => {
                eprintln!(
                    "row {name}: not a challenge or workload name; give it a RunConfig with \
                     suite::Row::new and suite::main_rows"
                );
                return ExitCode::from(2);
            }
        }
    }
    main_rows(&named)
}

/// [`main`] over rows with settings of their own.
pub fn main_rows(rows: &[Row]) -> ExitCode {
    let started = std::time::Instant::now();
    let stdout = io::stdout();
    match run_rows(rows, std::env::args().skip(1), &mut stdout.lock()) {
        Ok(valid) => {
            eprintln!("wall time {:.1} s", started.elapsed().as_secs_f64());
            if valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the rows as `args` (the arguments after the program name) ask, writing the table
/// (and the reports of invalid runs, or of all with `--verbose`) to `out`. Returns whether
/// every run was valid.
///
/// # Errors
///
/// A bad command line, or a failure to write to `out`, in words.
pub fn run_rows(
    rows: &[Row],
    args: impl IntoIterator<Item = String>,
    out: &mut impl Write,
) -> Result<bool, String> {
    let options = Options::parse(args)?;
    let runs = plan(rows, &options);
    let program = program();
    let mut pages =
        (options.report.as_deref()).map(|dir| ReportDir::new(dir, options.report_window));
    let mut all_valid = true;
    let mut failing = Vec::new();
    writeln!(out, "{}", Report::table_header()).map_err(|e| e.to_string())?;
    let print = |i: usize, report: Report| -> io::Result<()> {
        writeln!(out, "{}", report.table_row())?;
        if options.verbose || !report.is_valid() {
            writeln!(out, "{report}")?;
        }
        if options.verbose {
            eprintln!("{}", report.timing());
        }
        write_files(&options, &mut pages, &program, (&runs[i].0, &report), false);
        if !report.is_valid() {
            failing.push(i);
        }
        all_valid &= report.is_valid();
        Ok(())
    };
    run_in_order(&runs, options.jobs, print).map_err(|e| e.to_string())?;
    if options.shrink {
        for i in failing {
            let (config, run) = &runs[i];
            shrink_one(config, *run, &options, &mut pages, &program, out)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(all_valid)
}

/// The command that runs this suite, for rerun lines: `cargo run --release --example
/// glomers --` for the example, else the program as it was started.
fn program() -> String {
    let arg0 = std::env::args().next().unwrap_or_default();
    let stem = Path::new(&arg0).file_stem().and_then(|s| s.to_str());
    match stem {
        Some("glomers") | None => "cargo run --release --example glomers --".to_owned(),
        Some(_) => arg0,
    }
}

/// Writes a run's trace and page, as the options ask: the trace under `DIR/<row>/` (or
/// `DIR/<row>/seed-<N>/` when a row runs several seeds), the page as `ReportDir` names it;
/// for the smallest run `--shrink` found (`smallest`), both as `smallest-seed-<N>` beside
/// the original's. A failure to write is reported on stderr and does not stop the suite.
fn write_files(
    options: &Options,
    pages: &mut Option<ReportDir>,
    program: &str,
    (config, report): (&RunConfig, &Report),
    smallest: bool,
) {
    if let Some(dir) = &options.trace {
        let mut dir = dir.join(&report.challenge);
        if smallest {
            dir = dir.join(format!("smallest-seed-{}", report.seed));
        } else if options.seeds > 1 {
            dir = dir.join(format!("seed-{}", report.seed));
        }
        if let Err(e) = write_trace(&dir, report) {
            eprintln!("could not write the trace of {}: {e}", report.challenge);
        }
    }
    if let Some(pages) = pages {
        let command = Some(rerun_command_for(program, config));
        let written = match smallest {
            true => pages.write_smallest(report, command),
            false => pages.write_report(report, command),
        };
        if let Err(e) = written {
            eprintln!("could not write the page of {}: {e}", report.challenge);
        }
    }
}

/// Shrinks one failing run and prints the search, the smallest failing run and the command
/// that reruns it; its trace and page are written as the options ask.
fn shrink_one(
    config: &RunConfig,
    run: RunFn,
    options: &Options,
    pages: &mut Option<ReportDir>,
    program: &str,
    out: &mut impl Write,
) -> io::Result<()> {
    writeln!(out, "shrinking {} seed {}:", config.name, config.seed)?;
    let Some(shrunk) = shrink(config, run) else {
        return writeln!(out, "  nothing to shrink: it passes, or only missed a goal");
    };
    for step in &shrunk.steps {
        writeln!(out, "  {step}")?;
    }
    let mut smallest = shrunk.smallest.clone();
    smallest.trace = options.trace.is_some() || pages.is_some();
    let report = run(&smallest);
    writeln!(
        out,
        "smallest failing run ({} -> {}):\n  {}\n{report}",
        shrunk.original,
        shrunk.size(),
        rerun_command_for(program, &smallest),
    )?;
    write_files(options, pages, program, (&smallest, &report), true);
    Ok(())
}

/// Every run the options ask for, in row and seed order.
fn plan(rows: &[Row], options: &Options) -> Vec<(RunConfig, RunFn)> {
    let mut runs = Vec::new();
    for row in rows.iter().filter(|row| options.selects(&row.config.name)) {
        let mut config = row.config.clone();
        options.overrides.apply(&mut config);
        config.trace = options.trace.is_some() || options.report.is_some();
        for seed in options.seed..options.seed.saturating_add(options.seeds) {
            config.seed = seed;
            runs.push((config.clone(), row.run));
        }
    }
    runs
}

/// Runs every `(config, run)` on up to `jobs` threads and hands the reports to `emit` in
/// the order of `runs`. An error from `emit` stops the runs not yet started.
fn run_in_order(
    runs: &[(RunConfig, RunFn)],
    jobs: usize,
    mut emit: impl FnMut(usize, Report) -> io::Result<()>,
) -> io::Result<()> {
    if jobs <= 1 {
        let mut each = runs.iter().enumerate();
        return each.try_for_each(|(i, (config, run))| emit(i, run(config)));
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (done, finished) = mpsc::channel();
        for _ in 0..jobs.min(runs.len()) {
            let done = done.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((config, run)) = runs.get(i) else {
                        return;
                    };
                    if done.send((i, run(config))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done);
        // Reports arrive in any order; hold each until those before it are out.
        let mut waiting = BTreeMap::new();
        let mut printed = 0;
        for (i, report) in finished {
            waiting.insert(i, report);
            while let Some(report) = waiting.remove(&printed) {
                printed += 1;
                if let Err(e) = emit(printed - 1, report) {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(())
    })
}

/// Writes a run's trace and each node's record (replayable: `MAELSTROM_REPLAY=n0.jsonl
/// NODE`) into `dir`.
fn write_trace(dir: &Path, report: &Report) -> io::Result<()> {
    let Some(trace) = &report.trace else {
        return Ok(());
    };
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("trace.jsonl"), &trace.messages)?;
    for (node, record) in &trace.node_records {
        std::fs::write(dir.join(format!("{node}.jsonl")), record)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::runner::run;
    use crate::{Ctx, Error, Handler, Message};
    use serde_json::json;

    /// An echo node that sometimes answers with the wrong payload, so that some seeds
    /// fail and print a full report.
    struct FlakyEcho;

    impl Handler for FlakyEcho {
        type Timer = ();
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
            let echo: serde_json::Value = msg.field("echo")?;
            let wrong = msg.msg_id().is_some_and(|id| id % 23 == 0);
            let echo = if wrong { json!("wrong") } else { echo };
            ctx.reply(msg, &json!({"type": "echo_ok", "echo": echo}))
        }
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::named("1", |c| run(c, |_| FlakyEcho)).unwrap(),
            Row::named("echo", |c| run(c, |_| FlakyEcho)).unwrap(),
        ]
    }

    fn table(jobs: &str) -> (bool, String) {
        let args = ["--seeds", "6", "--jobs", jobs, "--time-limit", "4"].map(String::from);
        let mut out = Vec::new();
        let valid = run_rows(&rows(), args, &mut out).unwrap();
        (valid, String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_table_is_byte_identical_at_one_and_two_jobs() {
        let (valid_one, one) = table("1");
        let (valid_two, two) = table("2");
        assert_eq!(one, two);
        assert_eq!(valid_one, valid_two);
        // Rows then seeds in order: 1 (seeds 1..=6), then echo (seeds 1..=6).
        let rows: Vec<(&str, &str)> = one
            .lines()
            .filter(|l| !l.contains("(seed") && (l.starts_with("1 ") || l.starts_with("echo ")))
            .map(|l| {
                (
                    l.split_whitespace().next().unwrap(),
                    l.rsplit(' ').next().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(&str, String)> = ["1", "echo"]
            .iter()
            .flat_map(|row| (1..=6).map(move |s| (*row, s.to_string())))
            .collect();
        let expected: Vec<(&str, &str)> = expected.iter().map(|(r, s)| (*r, s.as_str())).collect();
        assert_eq!(rows, expected);
        // Some seeds fail (their reports are printed in place), so ordering is exercised.
        assert!(!valid_one && one.contains("INVALID"));
    }

    /// `--shrink` writes the smallest run's page and trace beside the original's, never
    /// over them.
    #[test]
    fn shrink_writes_the_smallest_run_beside_the_original() {
        let scratch = std::env::temp_dir().join(format!("suite-shrink-{}", std::process::id()));
        let (pages, traces) = (scratch.join("pages"), scratch.join("traces"));
        let args = [
            "--only",
            "echo",
            "--seeds",
            "6",
            "--time-limit",
            "4",
            "--shrink",
            "--report",
        ]
        .map(String::from)
        .into_iter()
        .chain([pages.display().to_string(), "--trace".into()])
        .chain([traces.display().to_string()]);
        let mut out = Vec::new();
        assert!(!run_rows(&rows(), args, &mut out).unwrap());
        let out = String::from_utf8(out).unwrap();
        let failing: Vec<u64> = (1..=6)
            .filter(|seed| out.contains(&format!("shrinking echo seed {seed}:")))
            .collect();
        assert!(!failing.is_empty(), "{out}");
        for seed in failing {
            let smallest = format!("smallest-seed-{seed}");
            assert!(pages
                .join("echo")
                .join(format!("{smallest}.html"))
                .is_file());
            assert!(traces
                .join("echo")
                .join(&smallest)
                .join("trace.jsonl")
                .is_file());
            assert!(traces
                .join("echo")
                .join(format!("seed-{seed}"))
                .join("n0.jsonl")
                .is_file());
        }
        let _ = std::fs::remove_dir_all(&scratch);
    }

    #[test]
    fn rows_are_named_after_challenges_or_workloads() {
        let row = Row::named("g-counter", |c| run(c, |_| FlakyEcho)).unwrap();
        let four = RunConfig::challenge("4").unwrap();
        assert_eq!(row.config.name, "g-counter");
        assert_eq!(
            (row.config.workload, row.config.node_count),
            (four.workload, 3)
        );
        assert!(Row::named("my-counter", |c| run(c, |_| FlakyEcho)).is_none());
    }

    #[test]
    fn only_selects_rows_and_a_bad_flag_is_an_error() {
        let args = ["--only", "echo", "--seed", "3", "--time-limit", "2"].map(String::from);
        let mut out = Vec::new();
        run_rows(&rows(), args, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let table: Vec<&str> = out.lines().filter(|l| l.ends_with(" 3")).collect();
        assert_eq!(table.len(), 1);
        assert!(table[0].starts_with("echo "));
        assert!(!out.lines().any(|l| l.starts_with("1 ")));
        let err = run_rows(&rows(), ["--jobs".to_owned()], &mut Vec::new()).unwrap_err();
        assert!(err.contains("--jobs needs a value"));
    }
}
