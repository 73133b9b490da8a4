//! The outcome of a simulated run, shaped like Maelstrom's summary: validity and why, client
//! operations, messages per operation (Maelstrom's count: every message that involves no
//! client), latency quantiles in virtual time, the seed,
//! and the trace when asked for.
//!
//! Every failure (checker anomaly, protocol error, missed goal) is labelled with its
//! [`Strictness`]: `maelstrom: invalid` when Maelstrom v0.2.3 would fail the run for it too,
//! `beyond maelstrom` when the simulator is stricter. A run with only the latter is invalid,
//! unless its config asks to judge as Maelstrom ([`RunConfig::maelstrom_only`]).

use std::fmt;

use super::check::{CheckResult, Failure, Strictness, Validity, Workload};
use super::cluster::NetStats;
use super::history::{History, OpKind};
use super::nemesis::Shape;
use super::runner::RunConfig;
use crate::time::Instant;

/// A partition the nemesis started during the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionRecord {
    /// When it started (virtual time).
    pub at: Instant,
    /// When it healed (the final heal included), if it did.
    pub healed: Option<Instant>,
    /// The shape drawn.
    pub shape: Shape,
    /// Its grudge with node names, each receiver and the senders it drops:
    /// `{n1: [n0], n0: [n2], n2: [n1]}`.
    pub grudge: String,
}

impl fmt::Display for PartitionRecord {
    /// `majorities-ring {n1: [n0], ...} from 0.000 s to 12.345 s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |t: Instant| t.as_micros() as f64 / 1e6;
        write!(
            f,
            "{} {} from {:.3} s",
            self.shape,
            self.grudge,
            secs(self.at)
        )?;
        match self.healed {
            Some(healed) => write!(f, " to {:.3} s", secs(healed)),
            None => write!(f, ", never healed"),
        }
    }
}

/// A run's trace: every message as JSON lines, and each node's record, replayable with
/// `MAELSTROM_REPLAY=n0.jsonl target/release/examples/NODE`.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// The whole trace, JSON lines.
    pub messages: Vec<u8>,
    /// Per node id, its record (see [`crate::record`]).
    pub node_records: Vec<(String, Vec<u8>)>,
}

/// A run's verdict by the strictest class of failure it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No failure.
    Valid,
    /// Failures, all of which Maelstrom v0.2.3 would let through ([`Strictness::Beyond`]).
    BeyondMaelstrom,
    /// At least one failure Maelstrom would fail the run for ([`Strictness::Maelstrom`]).
    MaelstromInvalid,
    /// The checker gave up before deciding (lin-kv's search budget), and nothing failed as
    /// Maelstrom would: neither judge passes the run.
    Unknown,
}

impl Verdict {
    /// The suite table's words: `ok`, `beyond maelstrom`, `maelstrom: invalid`, `unknown`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Valid => "ok",
            Verdict::BeyondMaelstrom => Strictness::Beyond.label(),
            Verdict::MaelstromInvalid => Strictness::Maelstrom.label(),
            Verdict::Unknown => "unknown",
        }
    }
}

/// What a run found.
#[derive(Debug)]
pub struct Report {
    /// The run's name (a challenge like "3d").
    pub challenge: String,
    /// The seed that reproduces it.
    pub seed: u64,
    /// The checker's verdict.
    pub check: CheckResult,
    /// Maelstrom-level violations: bad output lines and invalid sources or destinations
    /// (beyond Maelstrom: its network rejects them and stops reading the node, which the
    /// simulator does too, leaving the verdict to the checkers), replies outside the
    /// workload's schema (beyond Maelstrom: its client records an exception), and what
    /// crashes Maelstrom's setup or teardown (Maelstrom's: no verdict there). Any one makes
    /// the run invalid, unless it is beyond Maelstrom and the run judges as Maelstrom.
    pub protocol_errors: Vec<Failure>,
    /// The run's availability or performance goals it missed ([`RunConfig::availability`],
    /// Maelstrom's; [`RunConfig::targets`], beyond Maelstrom). Any one makes the run invalid,
    /// unless it is beyond Maelstrom and the run judges as Maelstrom.
    pub goals_missed: Vec<Failure>,
    /// Whether the run is judged as Maelstrom would ([`RunConfig::maelstrom_only`]).
    pub maelstrom_only: bool,
    /// Client operations that completed ok (final reads included; kafka's commits after a
    /// poll are part of the poll, as in Maelstrom's client).
    pub ops_ok: u64,
    /// Client operations that definitely failed.
    pub ops_fail: u64,
    /// Client operations with an unknown outcome (timeouts, indefinite errors).
    pub ops_info: u64,
    /// Messages that involve no client, per client operation, as Maelstrom computes its
    /// `:net :servers :msgs-per-op`: node-to-node messages (lost ones included) and
    /// messages between nodes and services (`seq-kv`, `lin-kv`, ...) both ways. Kafka's
    /// commits after a poll are not counted as operations of their own: Maelstrom's client
    /// makes them inside the poll operation.
    pub msgs_per_op: f64,
    /// The services' share of [`Report::msgs_per_op`]: messages between nodes and services,
    /// both ways, per client operation.
    pub service_msgs_per_op: f64,
    /// Latency of ok operations in virtual microseconds, median; for broadcast, the stable
    /// latency of each value as Maelstrom reports it (see `stable_latencies`).
    pub latency_us_p50: u64,
    /// 95th percentile.
    pub latency_us_p95: u64,
    /// 99th percentile.
    pub latency_us_p99: u64,
    /// Maximum.
    pub latency_us_max: u64,
    /// Wall-clock time the simulation took.
    pub wall_time: std::time::Duration,
    /// Messages simulated per wall-clock second (all kinds).
    pub sim_msgs_per_sec: f64,
    /// The partitions the nemesis started, in order.
    pub partitions: Vec<PartitionRecord>,
    /// The history the checker judged.
    pub history: History,
    /// The trace, when the run asked for one.
    pub trace: Option<Trace>,
}

impl Report {
    #[allow(clippy::too_many_arguments)] // one call site, in the runner; a builder adds nothing
    pub(crate) fn new(
        config: &RunConfig,
        check: CheckResult,
        protocol_errors: Vec<Failure>,
        history: History,
        mut latencies_us: Vec<u64>,
        stats: NetStats,
        wall_time: std::time::Duration,
        trace: Option<Trace>,
    ) -> Report {
        // Maelstrom's kafka client commits inside the poll operation that returned messages,
        // so its history has no commit operations: count ours as it would.
        let count = |kind| {
            (history.ops.iter())
                .filter(|op| op.kind == kind && op.f != "commit_offsets")
                .count() as u64
        };
        let (ops_ok, ops_fail, ops_info) =
            (count(OpKind::Ok), count(OpKind::Fail), count(OpKind::Info));
        let ops = (ops_ok + ops_fail + ops_info).max(1) as f64;
        if config.workload == Workload::Broadcast {
            latencies_us = stable_latencies(&history)
                .into_iter()
                .map(|(_, latency)| latency)
                .collect();
        }
        latencies_us.sort_unstable();
        let quantile = |q: f64| {
            let i = ((latencies_us.len() as f64 - 1.0) * q).round().max(0.0) as usize;
            latencies_us.get(i).copied().unwrap_or(0)
        };
        let total_msgs = stats.server_msgs + stats.service_msgs + stats.client_msgs;
        let mut report = Report {
            challenge: config.name.clone(),
            seed: config.seed,
            check,
            protocol_errors,
            goals_missed: Vec::new(),
            maelstrom_only: config.maelstrom_only,
            ops_ok,
            ops_fail,
            ops_info,
            msgs_per_op: (stats.server_msgs + stats.service_msgs) as f64 / ops,
            service_msgs_per_op: stats.service_msgs as f64 / ops,
            latency_us_p50: quantile(0.5),
            latency_us_p95: quantile(0.95),
            latency_us_p99: quantile(0.99),
            latency_us_max: latencies_us.last().copied().unwrap_or(0),
            wall_time,
            sim_msgs_per_sec: total_msgs as f64 / wall_time.as_secs_f64().max(1e-9),
            partitions: Vec::new(),
            history,
            trace,
        };
        report.goals_missed = report.missed_goals(config);
        report
    }

    /// What of the config's availability and targets this run missed, in words. Maelstrom
    /// checks the availability (`--availability`); the performance targets are the
    /// challenges' own, which Maelstrom only reports.
    fn missed_goals(&self, config: &RunConfig) -> Vec<Failure> {
        let mut missed = Vec::new();
        let ops = self.ops_ok + self.ops_fail + self.ops_info;
        if let Some(required) = config.availability {
            let fraction = if ops == 0 {
                1.0
            } else {
                self.ops_ok as f64 / ops as f64
            };
            if fraction < required {
                missed.push(Failure::maelstrom(format!(
                    "availability {fraction:.4} below the required {required} ({} of {ops} \
                     operations did not succeed)",
                    ops - self.ops_ok
                )));
            }
        }
        if let Some(t) = config.targets {
            if self.msgs_per_op >= t.msgs_per_op {
                missed.push(Failure::beyond(format!(
                    "{:.2} msgs/op, target below {}",
                    self.msgs_per_op, t.msgs_per_op
                )));
            }
            let ms = |us: u64| us as f64 / 1000.0;
            if ms(self.latency_us_p50) >= t.latency_ms_p50 as f64 {
                missed.push(Failure::beyond(format!(
                    "median latency {:.1} ms, target below {} ms",
                    ms(self.latency_us_p50),
                    t.latency_ms_p50
                )));
            }
            if ms(self.latency_us_max) >= t.latency_ms_max as f64 {
                missed.push(Failure::beyond(format!(
                    "max latency {:.1} ms, target below {} ms",
                    ms(self.latency_us_max),
                    t.latency_ms_max
                )));
            }
        }
        missed
    }

    /// Valid: the checker passed, Maelstrom would have seen no protocol violation, and the
    /// run met its availability and performance goals. When the run judges as Maelstrom
    /// ([`Report::maelstrom_only`]), this is [`Report::maelstrom_valid`].
    pub fn is_valid(&self) -> bool {
        match self.maelstrom_only {
            true => self.maelstrom_valid(),
            false => self.verdict() == Verdict::Valid,
        }
    }

    /// Valid as Maelstrom v0.2.3 would judge it: no failure Maelstrom fails a run for
    /// ([`Strictness::Maelstrom`]) and no undecided check; beyond-maelstrom failures do not
    /// count.
    pub fn maelstrom_valid(&self) -> bool {
        matches!(self.verdict(), Verdict::Valid | Verdict::BeyondMaelstrom)
    }

    /// The run's verdict, by the strictest class of failure it has, whatever the run is
    /// judged by.
    pub fn verdict(&self) -> Verdict {
        let any = |class| {
            self.protocol_errors
                .iter()
                .chain(&self.goals_missed)
                .any(|f| f.strictness == class)
        };
        if self.check.maelstrom_validity == Validity::Invalid || any(Strictness::Maelstrom) {
            Verdict::MaelstromInvalid
        } else if self.check.validity == Validity::Unknown {
            Verdict::Unknown
        } else if self.check.validity == Validity::Invalid || any(Strictness::Beyond) {
            Verdict::BeyondMaelstrom
        } else {
            Verdict::Valid
        }
    }

    /// How long the simulation took in wall-clock time, in words. Kept out of the table and
    /// of [`Display`](fmt::Display), so that those are the same on every machine.
    pub fn timing(&self) -> String {
        format!(
            "{} (seed {}) simulated in {:.3} s ({:.0} msgs/s)",
            self.challenge,
            self.seed,
            self.wall_time.as_secs_f64(),
            self.sim_msgs_per_sec
        )
    }

    /// The header of [`Report::table_row`].
    pub fn table_header() -> String {
        format!(
            "{:<16} {:<7} {:<18} {:>20} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
            "challenge",
            "valid",
            "verdict",
            "ops ok/fail/info",
            "msgs/op",
            "svc/op",
            "p50 ms",
            "p99 ms",
            "max ms",
            "seed"
        )
    }

    /// One line for the suite table.
    pub fn table_row(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        let ops = format!("{}/{}/{}", self.ops_ok, self.ops_fail, self.ops_info);
        format!(
            "{:<16} {:<7} {:<18} {:>20} {:>8.2} {:>8.2} {:>8.1} {:>8.1} {:>8.1} {:>6}",
            self.challenge,
            if self.is_valid() { "yes" } else { "NO" },
            self.verdict().label(),
            ops,
            self.msgs_per_op,
            self.service_msgs_per_op,
            ms(self.latency_us_p50),
            ms(self.latency_us_p99),
            ms(self.latency_us_max),
            self.seed
        )
    }
}

/// Each broadcast's stable latency, as Jepsen's `set-full` checker (Maelstrom's broadcast
/// checker) computes it: from the moment the value was known (its broadcast completed, or a
/// read that returned it completed, whichever came first) to the invocation of the last read
/// that missed it (0 if none missed it after that). Only values that were stable (a read
/// invoked after the last one that missed it returned it) get a latency: lost ones are the
/// checker's business. Returns (broadcast invocation time, microseconds) per value.
pub(crate) fn stable_latencies(history: &History) -> Vec<(crate::time::Instant, u64)> {
    let mut broadcasts = Vec::new();
    // (invocation index, invocation time, completion time, values)
    let mut reads = Vec::new();
    for (invoke, done) in history.pairs() {
        let Some(done) = done
            .map(|i| &history.ops[i])
            .filter(|op| op.kind == OpKind::Ok)
        else {
            continue;
        };
        let start = &history.ops[invoke];
        match start.f.as_str() {
            "broadcast" => broadcasts.push((start.time, done.time, start.value.as_u64())),
            "read" => {
                let values: std::collections::HashSet<u64> = (done.value.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_u64())
                    .collect();
                reads.push((invoke, start.time, done.time, values));
            }
            _ => {}
        }
    }
    broadcasts
        .iter()
        .filter_map(|&(invoked, completed, value)| {
            let value = value?;
            let (present, absent): (Vec<_>, Vec<_>) =
                reads.iter().partition(|read| read.3.contains(&value));
            let last_present = present.iter().map(|read| read.0).max()?;
            let last_absent = absent.iter().max_by_key(|read| read.0);
            if last_absent.is_some_and(|read| read.0 > last_present) {
                return None;
            }
            let seen = present.iter().map(|read| read.2).min();
            let known = seen.map_or(completed, |seen| seen.min(completed));
            let stable = last_absent.map_or(crate::time::Instant::ZERO, |read| read.1);
            let latency = stable.saturating_duration_since(known).as_micros();
            Some((invoked, latency))
        })
        .collect()
}

/// Partitions listed by [`Report`]'s `Display`; later ones are only counted.
const MAX_PARTITIONS_SHOWN: usize = 20;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let judged = match self.maelstrom_only {
            true => " (judged as Maelstrom)",
            false => "",
        };
        writeln!(
            f,
            "{} (seed {}): {}{judged}",
            self.challenge,
            self.seed,
            match (self.is_valid(), self.verdict()) {
                (true, Verdict::Valid) => "Everything looks good!".to_owned(),
                (true, verdict) => format!("valid as Maelstrom judges ({})", verdict.label()),
                (false, verdict) => format!("INVALID ({})", verdict.label()),
            }
        )?;
        writeln!(
            f,
            "  checker: {:?} (as Maelstrom: {:?}): {}",
            self.check.validity, self.check.maelstrom_validity, self.check.summary
        )?;
        for anomaly in &self.check.anomalies {
            writeln!(f, "    {anomaly}")?;
        }
        for error in self.protocol_errors.iter().take(20) {
            writeln!(f, "  protocol: {error}")?;
        }
        for goal in &self.goals_missed {
            writeln!(f, "  goal missed: {goal}")?;
        }
        for partition in self.partitions.iter().take(MAX_PARTITIONS_SHOWN) {
            writeln!(f, "  partition: {partition}")?;
        }
        if let Some(more) = self.partitions.len().checked_sub(MAX_PARTITIONS_SHOWN + 1) {
            writeln!(f, "  partition: ... and {} more", more + 1)?;
        }
        writeln!(
            f,
            "  ops: {} ok, {} fail, {} info",
            self.ops_ok, self.ops_fail, self.ops_info
        )?;
        writeln!(
            f,
            "  net: {:.2} msgs/op involving no client, of which {:.2} to or from services",
            self.msgs_per_op, self.service_msgs_per_op
        )?;
        write!(
            f,
            "  latency (virtual): p50 {} us, p95 {} us, p99 {} us, max {} us",
            self.latency_us_p50, self.latency_us_p95, self.latency_us_p99, self.latency_us_max
        )
    }
}

#[cfg(test)]
mod tests {

    /// Jepsen's set-full: from when the value was known (its broadcast completed) to the
    /// invocation of the last read that missed it; reads before it was known count as 0, and
    /// a value the last reads missed gets none (it is lost, not slow).
    #[test]
    fn stable_latency_runs_from_known_to_the_last_missing_read_s_invocation() {
        use serde_json::json;
        let ms = Instant::from_millis;
        let mut h = History::new();
        h.push_invoke(0, "broadcast", json!(1), ms(0), "n0");
        h.push_completion(0, OpKind::Ok, json!(1), ms(10));
        h.push_invoke(0, "broadcast", json!(2), ms(20), "n0");
        h.push_completion(0, OpKind::Ok, json!(2), ms(25));
        let read = |h: &mut History, at: u64, values: serde_json::Value| {
            h.push_invoke(1, "read", serde_json::Value::Null, ms(at), "n1");
            h.push_completion(1, OpKind::Ok, values, ms(at + 5));
        };
        read(&mut h, 5, json!([])); // before 1 was known: no latency from it
        read(&mut h, 50, json!([]));
        read(&mut h, 120, json!([1]));
        let latencies = stable_latencies(&h);
        assert_eq!(
            latencies,
            [(ms(0), 40_000)],
            "2 is never read: lost, no latency"
        );
    }

    use super::*;

    /// A report of an empty run whose checker found `anomalies`, with `errors`.
    fn report(anomalies: Vec<Failure>, errors: Vec<Failure>, maelstrom_only: bool) -> Report {
        let mut config = RunConfig::new("t", Workload::Echo, 1);
        config.maelstrom_only = maelstrom_only;
        let validity = match anomalies.is_empty() {
            true => Validity::Valid,
            false => Validity::Invalid,
        };
        let check = CheckResult::new(validity, "s".into(), anomalies);
        let wall = std::time::Duration::ZERO;
        let stats = NetStats::default();
        Report::new(
            &config,
            check,
            errors,
            History::new(),
            Vec::new(),
            stats,
            wall,
            None,
        )
    }

    /// The verdict is the strictest class among the checker's anomalies and the protocol
    /// errors; judged as Maelstrom, only Maelstrom's class fails the run.
    #[test]
    fn verdict_takes_the_strictest_failure_and_maelstrom_only_ignores_beyond() {
        let beyond = || Failure::beyond("b".into());
        let maelstrom = || Failure::maelstrom("m".into());
        assert_eq!(report(vec![], vec![], false).verdict(), Verdict::Valid);
        let r = report(vec![beyond()], vec![beyond()], false);
        assert_eq!(r.verdict(), Verdict::BeyondMaelstrom);
        assert!(!r.is_valid() && r.maelstrom_valid());
        assert!(
            r.table_row().contains(" beyond maelstrom "),
            "{}",
            r.table_row()
        );
        assert!(
            r.to_string().contains("  protocol: [beyond maelstrom] b"),
            "{r}"
        );
        assert!(report(vec![beyond()], vec![], true).is_valid());

        let r = report(vec![beyond()], vec![maelstrom()], true);
        assert_eq!(r.verdict(), Verdict::MaelstromInvalid);
        assert!(!r.is_valid() && !r.maelstrom_valid());
        assert!(
            r.table_row().contains(" maelstrom: invalid "),
            "{}",
            r.table_row()
        );
        let r = report(vec![maelstrom()], vec![], false);
        assert_eq!(r.verdict(), Verdict::MaelstromInvalid);
        assert!(report(vec![], vec![], true).table_row().contains(" ok "));
    }
}
