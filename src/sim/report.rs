//! The outcome of a simulated run, shaped like Maelstrom's summary: validity and why, client
//! operations, server messages per operation, latency quantiles in virtual time, the seed,
//! and the trace when asked for.

use std::fmt;

use super::check::{CheckResult, Workload};
use super::cluster::NetStats;
use super::history::{History, OpKind};
use super::runner::RunConfig;

/// A run's trace: every message as JSON lines, and each node's input, replayable with
/// `target/release/examples/NODE < node-input.jsonl`.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// The whole trace, JSON lines.
    pub messages: Vec<u8>,
    /// Per node id, the lines it received in order.
    pub node_inputs: Vec<(String, Vec<String>)>,
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
    /// Maelstrom-level violations: bad output lines, invalid destinations, replies outside
    /// the workload's schema. Any one makes the run invalid.
    pub protocol_errors: Vec<String>,
    /// The run's availability or performance goals it missed ([`RunConfig::availability`],
    /// [`RunConfig::targets`]). Any one makes the run invalid.
    pub goals_missed: Vec<String>,
    /// Client operations that completed ok (final reads included).
    pub ops_ok: u64,
    /// Client operations that definitely failed.
    pub ops_fail: u64,
    /// Client operations with an unknown outcome (timeouts, indefinite errors).
    pub ops_info: u64,
    /// Node-to-node messages per client operation (Maelstrom's `:net :servers :msgs-per-op`).
    pub msgs_per_op: f64,
    /// Node-to-service messages per client operation.
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
        protocol_errors: Vec<String>,
        history: History,
        mut latencies_us: Vec<u64>,
        stats: NetStats,
        wall_time: std::time::Duration,
        trace: Option<Trace>,
    ) -> Report {
        let count = |kind| history.ops.iter().filter(|op| op.kind == kind).count() as u64;
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
            ops_ok,
            ops_fail,
            ops_info,
            msgs_per_op: stats.server_msgs as f64 / ops,
            service_msgs_per_op: stats.service_msgs as f64 / ops,
            latency_us_p50: quantile(0.5),
            latency_us_p95: quantile(0.95),
            latency_us_p99: quantile(0.99),
            latency_us_max: latencies_us.last().copied().unwrap_or(0),
            wall_time,
            sim_msgs_per_sec: total_msgs as f64 / wall_time.as_secs_f64().max(1e-9),
            history,
            trace,
        };
        report.goals_missed = report.missed_goals(config);
        report
    }

    /// What of the config's availability and targets this run missed, in words.
    fn missed_goals(&self, config: &RunConfig) -> Vec<String> {
        let mut missed = Vec::new();
        let ops = self.ops_ok + self.ops_fail + self.ops_info;
        if let Some(required) = config.availability {
            let fraction = if ops == 0 {
                1.0
            } else {
                self.ops_ok as f64 / ops as f64
            };
            if fraction < required {
                missed.push(format!(
                    "availability {fraction:.4} below the required {required} ({} of {ops} \
                     operations did not succeed)",
                    ops - self.ops_ok
                ));
            }
        }
        if let Some(t) = config.targets {
            if self.msgs_per_op >= t.msgs_per_op {
                missed.push(format!(
                    "{:.2} msgs/op, target below {}",
                    self.msgs_per_op, t.msgs_per_op
                ));
            }
            let ms = |us: u64| us as f64 / 1000.0;
            if ms(self.latency_us_p50) >= t.latency_ms_p50 as f64 {
                missed.push(format!(
                    "median latency {:.1} ms, target below {} ms",
                    ms(self.latency_us_p50),
                    t.latency_ms_p50
                ));
            }
            if ms(self.latency_us_max) >= t.latency_ms_max as f64 {
                missed.push(format!(
                    "max latency {:.1} ms, target below {} ms",
                    ms(self.latency_us_max),
                    t.latency_ms_max
                ));
            }
        }
        missed
    }

    /// Valid: the checker passed, Maelstrom would have seen no protocol violation, and the
    /// run met its availability and performance goals.
    pub fn is_valid(&self) -> bool {
        self.check.is_valid() && self.protocol_errors.is_empty() && self.goals_missed.is_empty()
    }

    /// The header of [`Report::table_row`].
    pub fn table_header() -> String {
        format!(
            "{:<16} {:<7} {:>20} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
            "challenge",
            "valid",
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
            "{:<16} {:<7} {:>20} {:>8.2} {:>8.2} {:>8.1} {:>8.1} {:>8.1} {:>6}",
            self.challenge,
            if self.is_valid() { "yes" } else { "NO" },
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

/// For each acknowledged broadcast: the time from its invocation until the completion of
/// the last read, invoked after it, that did not contain it (0 if every such read did).
/// After that instant every read saw the value: it was stable. Returns (invocation time,
/// microseconds) per broadcast.
pub(crate) fn stable_latencies(history: &History) -> Vec<(crate::time::Instant, u64)> {
    let mut broadcasts = Vec::new();
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
            "broadcast" => broadcasts.push((start.time, start.value.as_u64())),
            "read" if !start.final_read => {
                let values: std::collections::HashSet<u64> = done
                    .value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_u64())
                    .collect();
                reads.push((start.time, done.time, values));
            }
            _ => {}
        }
    }
    broadcasts
        .iter()
        .filter_map(|&(sent, value)| {
            let value = value?;
            let stable = reads
                .iter()
                .filter(|(invoked, _, values)| *invoked >= sent && !values.contains(&value))
                .map(|(_, completed, _)| *completed)
                .max()
                .unwrap_or(sent);
            Some((sent, (stable - sent).as_micros()))
        })
        .collect()
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} (seed {}): {}",
            self.challenge,
            self.seed,
            if self.is_valid() {
                "Everything looks good!"
            } else {
                "INVALID"
            }
        )?;
        writeln!(
            f,
            "  checker: {:?}: {}",
            self.check.validity, self.check.summary
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
        writeln!(
            f,
            "  ops: {} ok, {} fail, {} info",
            self.ops_ok, self.ops_fail, self.ops_info
        )?;
        writeln!(
            f,
            "  net: {:.2} server msgs/op, {:.2} service msgs/op",
            self.msgs_per_op, self.service_msgs_per_op
        )?;
        writeln!(
            f,
            "  latency (virtual): p50 {} us, p95 {} us, p99 {} us, max {} us",
            self.latency_us_p50, self.latency_us_p95, self.latency_us_p99, self.latency_us_max
        )?;
        write!(
            f,
            "  simulated in {:.3} s ({:.0} msgs/s)",
            self.wall_time.as_secs_f64(),
            self.sim_msgs_per_sec
        )
    }
}
