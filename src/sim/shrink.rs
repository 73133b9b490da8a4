//! Shrinking a failing run: a deterministic search for a smaller run, with the same seed,
//! that fails the same way.
//!
//! A failing simulation is often 20 seconds of 25 nodes and tens of thousands of messages.
//! [`shrink`] reruns it with one setting made smaller at a time (fewer nodes, a shorter time
//! limit, a lower rate and concurrency, no latency, fewer nemesis events) and keeps each
//! change under which the run still fails the same check, until no change helps. Every
//! candidate is a full run from the same seed, so the result is a run the user can rerun, not
//! a guess, and the search itself is deterministic: the same failing run shrinks to the same
//! smallest one.
//!
//! This module decides what to try and what counts as "the same failure"; running a
//! configuration is the caller's (the runner's, through a closure), printing is the suite's.

use std::fmt;

use super::check::Validity;
use super::nemesis::Shapes;
use super::net::Latency;
use super::report::Report;
use super::runner::{Nemesis, RunConfig};
use crate::time::Duration;

/// Runs a shrink may make, originals included: a bound on the search's cost.
pub const MAX_SHRINK_RUNS: usize = 80;

/// How a run failed, coarsely: what a smaller run must still fail for the shrink to keep it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The workload's checker found an anomaly (or could not decide).
    Checker,
    /// A node broke Maelstrom's protocol (bad output, a message to a closed client, ...).
    Protocol,
    /// Only an availability or performance goal was missed: settings that shrink the run
    /// change the conditions the goal was set for, so such a run is not shrunk.
    Goal,
}

impl Failure {
    /// How `report` failed, or `None` if it passed.
    pub fn of(report: &Report) -> Option<Failure> {
        if report.check.validity != Validity::Valid {
            Some(Failure::Checker)
        } else if !report.protocol_errors.is_empty() {
            Some(Failure::Protocol)
        } else if !report.goals_missed.is_empty() {
            Some(Failure::Goal)
        } else {
            None
        }
    }
}

/// The size of a run, as a shrink reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSize {
    /// Client operations (ok, fail and info).
    pub ops: u64,
    /// Node-to-node messages.
    pub server_msgs: u64,
}

impl RunSize {
    fn of(report: &Report) -> RunSize {
        let ops = report.ops_ok + report.ops_fail + report.ops_info;
        RunSize {
            ops,
            server_msgs: (report.msgs_per_op * ops as f64).round() as u64,
        }
    }
}

impl fmt::Display for RunSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ops, {} server msgs", self.ops, self.server_msgs)
    }
}

/// One candidate the search ran.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// What changed, e.g. `time limit 20 s -> 10 s`.
    pub change: String,
    /// Whether the candidate still failed the same way (and so was kept).
    pub kept: bool,
    /// The candidate run's size.
    pub size: RunSize,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.kept {
            "still fails: kept"
        } else {
            "passes or fails otherwise: undone"
        };
        write!(f, "{:<34} {verdict} ({})", self.change, self.size)
    }
}

/// What a shrink found.
#[derive(Debug)]
pub struct Shrunk {
    /// How the original run failed (the smallest run fails the same way).
    pub failure: Failure,
    /// The original run's size.
    pub original: RunSize,
    /// Every candidate tried, in order.
    pub steps: Vec<Step>,
    /// The smallest failing configuration found.
    pub smallest: RunConfig,
    /// Its report.
    pub report: Report,
}

impl Shrunk {
    /// The smallest run's size.
    pub fn size(&self) -> RunSize {
        RunSize::of(&self.report)
    }
}

/// Searches for the smallest configuration, with `config`'s seed, whose run fails as
/// `config`'s does. `run` runs one configuration (e.g. `|c| runner::run(c, |_| MyNode)`).
///
/// Returns `None` when the original run passes, or when it only missed a goal (see
/// [`Failure::Goal`]); otherwise the result, which is the original itself if nothing smaller
/// fails. At most [`MAX_SHRINK_RUNS`] runs are made.
pub fn shrink(config: &RunConfig, mut run: impl FnMut(&RunConfig) -> Report) -> Option<Shrunk> {
    let report = run(config);
    let failure = Failure::of(&report).filter(|f| *f != Failure::Goal)?;
    let mut best = Shrunk {
        failure,
        original: RunSize::of(&report),
        steps: Vec::new(),
        smallest: config.clone(),
        report,
    };
    // Smaller runs change the conditions a challenge's performance targets were set for.
    best.smallest.targets = None;
    let mut runs = 1;
    let mut changed = true;
    while changed && runs < MAX_SHRINK_RUNS {
        changed = false;
        for candidate in candidates(&best.smallest) {
            if runs >= MAX_SHRINK_RUNS {
                break;
            }
            let (change, config) = candidate;
            let report = run(&config);
            runs += 1;
            let kept = Failure::of(&report) == Some(failure);
            best.steps.push(Step {
                change,
                kept,
                size: RunSize::of(&report),
            });
            if kept {
                best.smallest = config;
                best.report = report;
                changed = true;
                // Start again from the first dimension: a smaller run may let an earlier
                // one shrink further.
                break;
            }
        }
    }
    Some(best)
}

/// The next smaller configurations to try, most aggressive first within each dimension.
fn candidates(config: &RunConfig) -> Vec<(String, RunConfig)> {
    let mut out = Vec::new();
    let mut push = |change: String, edit: &dyn Fn(&mut RunConfig)| {
        let mut next = config.clone();
        edit(&mut next);
        if next != *config {
            out.push((change, next));
        }
    };
    for nodes in smaller_counts(config.node_count as u64, 1) {
        let change = format!("nodes {} -> {nodes}", config.node_count);
        push(change, &|c| c.node_count = nodes as usize);
    }
    if config.nemesis != Nemesis::None {
        push("nemesis -> none".into(), &|c| c.nemesis = Nemesis::None);
    }
    let secs = config.time_limit.as_micros() / 1_000_000;
    for s in smaller_counts(secs, 1) {
        let change = format!("time limit {secs} s -> {s} s");
        push(change, &|c| c.time_limit = Duration::from_secs(s));
    }
    let rate = config.rate.round() as u64;
    for r in smaller_counts(rate, 1) {
        push(format!("rate {rate}/s -> {r}/s"), &|c| c.rate = r as f64);
    }
    for k in smaller_counts(config.concurrency as u64, 1) {
        let change = format!("concurrency {} -> {k}", config.concurrency);
        push(change, &|c| c.concurrency = k as usize);
    }
    if config.latency != Latency::default() {
        push("latency -> 0".into(), &|c| c.latency = Latency::default());
    }
    out
}

/// Smaller values than `value` to try, down to `min`: the minimum, half, one less.
fn smaller_counts(value: u64, min: u64) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for candidate in [min, value / 2, value.saturating_sub(1)] {
        if candidate >= min && candidate < value && !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// The suite command that reruns `config` (a challenge row with overrides), as a user types
/// it for the `glomers` example: only the settings that differ from the challenge's own are
/// given.
pub fn rerun_command(config: &RunConfig) -> String {
    rerun_command_for("cargo run --release --example glomers --", config)
}

/// [`rerun_command`] for another suite program (`program` is the command up to its flags).
pub fn rerun_command_for(program: &str, config: &RunConfig) -> String {
    let mut command = format!("{program} --only {} --seed {}", config.name, config.seed);
    let base = RunConfig::challenge(&config.name);
    let differs = |f: &dyn Fn(&RunConfig) -> bool| base.as_ref().map_or(true, f);
    let mut flag = |name: &str, value: String| command += &format!(" --{name} {value}");
    if differs(&|b| b.node_count != config.node_count) {
        flag("node-count", config.node_count.to_string());
    }
    if differs(&|b| b.time_limit != config.time_limit) {
        flag(
            "time-limit",
            (config.time_limit.as_micros() / 1_000_000).to_string(),
        );
    }
    if differs(&|b| b.rate != config.rate) {
        flag("rate", config.rate.to_string());
    }
    // The suite scales concurrency with `--node-count`, so a changed node count needs the
    // concurrency spelled out.
    if differs(&|b| b.concurrency != config.concurrency || b.node_count != config.node_count) {
        flag("concurrency", config.concurrency.to_string());
    }
    if differs(&|b| b.latency != config.latency) {
        let (mean_ms, dist) = latency_flags(&config.latency);
        flag("latency", mean_ms.to_string());
        if let Some(dist) = dist {
            flag("latency-dist", dist.to_owned());
        }
    }
    if differs(&|b| b.nemesis != config.nemesis) {
        match config.nemesis {
            Nemesis::None => flag("nemesis", "none".to_owned()),
            Nemesis::Partition { interval, shapes } => {
                flag("nemesis", "partition".to_owned());
                flag("nemesis-interval", interval.as_secs_f64().to_string());
                if shapes != Shapes::ALL {
                    let names: Vec<&str> = shapes.to_vec().iter().map(|s| s.name()).collect();
                    flag("partition-shapes", names.join(","));
                }
            }
        }
    }
    if differs(&|b| b.topology != config.topology) {
        flag("topology", config.topology.to_string());
    }
    if differs(&|b| b.key_count != config.key_count) {
        flag("key-count", config.key_count.to_string());
    }
    if differs(&|b| b.max_txn_length != config.max_txn_length) {
        flag("max-txn-length", config.max_txn_length.to_string());
    }
    if differs(&|b| b.max_writes_per_key != config.max_writes_per_key) {
        flag("max-writes-per-key", config.max_writes_per_key.to_string());
    }
    if config.maelstrom_only {
        command += " --maelstrom-only";
    }
    command
}

/// The mean latency in milliseconds and the distribution's flag (none for constant).
fn latency_flags(latency: &Latency) -> (u64, Option<&'static str>) {
    match *latency {
        Latency::Fixed(d) => (d.as_millis(), None),
        Latency::Uniform { max, .. } => (max.as_millis() / 2, Some("uniform")),
        Latency::Exponential { mean } => (mean.as_millis(), Some("exponential")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaller_counts_try_the_minimum_then_half() {
        assert_eq!(smaller_counts(20, 1), vec![1, 10, 19]);
        assert_eq!(smaller_counts(3, 1), vec![1, 2]);
        assert_eq!(smaller_counts(2, 1), vec![1]);
        assert_eq!(smaller_counts(1, 1), Vec::<u64>::new());
    }

    #[test]
    fn candidates_change_one_setting_each() {
        let config = RunConfig::challenge("3c").unwrap();
        let all = candidates(&config);
        let changes: Vec<&str> = all.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            changes,
            [
                "nodes 5 -> 1",
                "nodes 5 -> 2",
                "nodes 5 -> 4",
                "nemesis -> none",
                "time limit 20 s -> 1 s",
                "time limit 20 s -> 10 s",
                "time limit 20 s -> 19 s",
                "rate 10/s -> 1/s",
                "rate 10/s -> 5/s",
                "rate 10/s -> 9/s",
                "concurrency 5 -> 1",
                "concurrency 5 -> 2",
                "concurrency 5 -> 4",
            ]
        );
        for (_, candidate) in &all {
            assert_ne!(candidate, &config);
        }
    }

    #[test]
    fn the_rerun_command_names_only_what_differs_from_the_challenge() {
        let mut config = RunConfig::challenge("3d").unwrap();
        config.seed = 7;
        assert_eq!(
            rerun_command(&config),
            "cargo run --release --example glomers -- --only 3d --seed 7"
        );
        config.node_count = 2;
        config.time_limit = Duration::from_secs(5);
        config.latency = Latency::default();
        assert_eq!(
            rerun_command(&config),
            "cargo run --release --example glomers -- --only 3d --seed 7 --node-count 2 \
             --time-limit 5 --concurrency 25 --latency 0"
        );
    }
}
