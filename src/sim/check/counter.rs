//! The counter checker, for `g-counter` and `pn-counter`.
//!
//! Invalid when:
//! - a final read is not the sum of the acknowledged adds plus some of the indeterminate ones:
//!   it must lie in `[ok + negative info deltas, ok + positive info deltas]` (as Maelstrom,
//!   but with the interval hull instead of the exact subset sums: never stricter);
//! - any read (final or not) is impossible whatever subset of the adds took effect: below the
//!   sum of the negative deltas, or above the sum of the positive deltas, of the adds invoked
//!   before the read completed and not failed (a node that double counts gossip);
//! - a read's value is not an integer ("malformed"), or there is no final read at all.
//!
//! Deliberately not failing: a non-final read that misses adds acknowledged before it began
//! ("stale") is counted but allowed, since these counters are only eventually consistent and
//! Maelstrom judges final reads alone.
//!
//! Maelstrom's pn-counter checker (also g-counter's) judges final reads alone: a wrong final
//! read fails the run there too; impossible mid-run reads, malformed values and a run
//! without final reads are beyond Maelstrom (its checker passes a run with no final read).

use crate::sim::check::{
    calls, Anomalies, Call, CheckResult,
    Strictness::{Beyond, Maelstrom},
};
use crate::sim::history::{History, OpKind};
use crate::time::Instant;

/// Checks a `g-counter` or `pn-counter` history.
pub fn check(history: &History) -> CheckResult {
    let calls = calls(history);
    let mut anomalies = Anomalies::default();
    let sums = Sums::collect(&calls, &mut anomalies);
    let mut reads = 0;
    let mut finals = 0;
    let mut stale = 0;
    for call in calls.iter().filter(|c| c.f == "read" && c.is_ok()) {
        let Some(value) = call.output.and_then(|v| v.as_i64()) else {
            anomalies.note(Beyond, || {
                format!("malformed read (not an integer): {}", call.describe())
            });
            continue;
        };
        let (value, end) = (i128::from(value), call.end.unwrap_or(call.start));
        reads += 1;
        if call.final_read {
            // Every add was invoked before the final reads: this range is the tighter one.
            finals += 1;
            let expected = sums.final_range();
            if !within(value, expected) {
                anomalies.note(Maelstrom, || {
                    let want = format!("acknowledged total plus indeterminate adds, {expected:?}");
                    format!("final read {value} is not the {want}: {}", call.describe())
                });
            }
            continue;
        }
        let possible = sums.possible_by(end);
        if !within(value, possible) {
            anomalies.note(Beyond, || {
                let why = format!("no subset of the adds sums to it, range {possible:?}");
                format!("impossible read {value} ({why}): {}", call.describe())
            });
        } else if !within(value, sums.linearizable(call.start, end)) {
            stale += 1;
        }
    }
    let bad = anomalies.count();
    if finals == 0 {
        anomalies.note(Beyond, || {
            "no final reads: nothing shows the counter converged".to_owned()
        });
    }
    let summary = format!(
        "{bad} bad of {reads} reads ({finals} final, expected in {:?}); {stale} stale (informational)",
        sums.final_range()
    );
    anomalies.finish(summary)
}

fn within(value: i128, (low, high): (i128, i128)) -> bool {
    low <= value && value <= high
}

/// Prefix sums over the adds, split into positive and negative parts.
#[derive(Debug, Default)]
struct Sums {
    /// Invocation times of adds that may have happened (not failed), sorted.
    possible_starts: Vec<Instant>,
    /// `possible_negative[i]`: sum of the negative deltas of the first `i` possible adds.
    possible_negative: Vec<i128>,
    possible_positive: Vec<i128>,
    /// Completion times of acknowledged adds, sorted.
    acked_ends: Vec<Instant>,
    acked_total: Vec<i128>,
    acked_negative: Vec<i128>,
    acked_positive: Vec<i128>,
    /// Totals over the whole history: acknowledged, and indeterminate by sign.
    ok: i128,
    info_negative: i128,
    info_positive: i128,
}

impl Sums {
    fn collect(calls: &[Call<'_>], anomalies: &mut Anomalies) -> Sums {
        let mut possible: Vec<(Instant, i128)> = Vec::new();
        let mut acked: Vec<(Instant, i128)> = Vec::new();
        let mut sums = Sums::default();
        for call in calls
            .iter()
            .filter(|c| c.f == "add" && c.kind != OpKind::Fail)
        {
            let Some(delta) = call.input.as_i64().map(i128::from) else {
                anomalies.note(Beyond, || {
                    format!("malformed add (not an integer): {}", call.describe())
                });
                continue;
            };
            possible.push((call.start, delta));
            match call.end.filter(|_| call.is_ok()) {
                Some(end) => {
                    acked.push((end, delta));
                    sums.ok += delta;
                }
                None if delta < 0 => sums.info_negative += delta,
                None => sums.info_positive += delta,
            }
        }
        possible.sort_by_key(|&(at, _)| at);
        acked.sort_by_key(|&(at, _)| at);
        sums.possible_starts = possible.iter().map(|&(at, _)| at).collect();
        sums.possible_negative = prefix(&possible, |d| d.min(0));
        sums.possible_positive = prefix(&possible, |d| d.max(0));
        sums.acked_ends = acked.iter().map(|&(at, _)| at).collect();
        sums.acked_total = prefix(&acked, |d| d);
        sums.acked_negative = prefix(&acked, |d| d.min(0));
        sums.acked_positive = prefix(&acked, |d| d.max(0));
        sums
    }

    /// Range of any subset of the adds invoked by `end` (ties count as concurrent).
    fn possible_by(&self, end: Instant) -> (i128, i128) {
        let n = self.possible_starts.partition_point(|&at| at <= end);
        (self.possible_negative[n], self.possible_positive[n])
    }

    /// Range a linearizable counter could return: every add acknowledged before `start`, plus
    /// any subset of the others invoked by `end`.
    fn linearizable(&self, start: Instant, end: Instant) -> (i128, i128) {
        let (negative, positive) = self.possible_by(end);
        let done = self.acked_ends.partition_point(|&at| at < start);
        let base = self.acked_total[done];
        (
            base + negative - self.acked_negative[done],
            base + positive - self.acked_positive[done],
        )
    }

    /// Range a final read must fall in: every acknowledged add, some indeterminate ones.
    fn final_range(&self) -> (i128, i128) {
        (self.ok + self.info_negative, self.ok + self.info_positive)
    }
}

/// `out[i]` = sum of `part(delta)` over the first `i` entries.
fn prefix(entries: &[(Instant, i128)], part: impl Fn(i128) -> i128) -> Vec<i128> {
    let mut out = Vec::with_capacity(entries.len() + 1);
    let mut sum = 0;
    out.push(sum);
    for &(_, delta) in entries {
        sum += part(delta);
        out.push(sum);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::check::testing::{hang, op, sorted};
    use crate::sim::check::{Strictness, Validity};
    use crate::sim::history::OpKind::{Fail, Ok};
    use serde_json::{json, Value};

    fn final_read(h: &mut History, process: u64, value: i64) {
        let at = Instant::from_millis(1_000);
        h.push_final_invoke(process, "read", Value::Null, at, "n1");
        h.push_completion(process, Ok, json!(value), Instant::from_millis(1_001));
    }

    /// Adds 5, -2 (pn-counter), a failed add and an indeterminate +3 (Maelstrom's docs, g-counter).
    fn adds(h: &mut History) {
        op(h, 1, "add", json!(5), 0, Ok, Value::Null, 10);
        op(h, 2, "add", json!(-2), 0, Ok, Value::Null, 10);
        op(h, 3, "add", json!(100), 20, Fail, Value::Null, 30);
        hang(h, 4, "add", json!(3), 20);
    }

    /// Converged reads of 3 or 6 (the timed-out add may or may not count); stale reads pass.
    #[test]
    fn converged_counter_is_valid() {
        let mut h = History::new();
        adds(&mut h);
        op(&mut h, 5, "read", Value::Null, 40, Ok, json!(0), 41); // stale, allowed
        final_read(&mut h, 6, 3);
        final_read(&mut h, 7, 6);
        let r = check(&sorted(h));
        assert!(r.is_valid(), "{r:?}");
        assert!(r.summary.contains("1 stale"), "{}", r.summary);
    }

    /// A node that adds its peers' gossiped totals to its own instead of taking the max.
    #[test]
    fn double_counting_gossip_is_invalid() {
        let mut h = History::new();
        adds(&mut h);
        // 5 - 2 counted twice: reachable by no subset, and wrong at the end.
        op(&mut h, 5, "read", Value::Null, 40, Ok, json!(11), 41);
        final_read(&mut h, 6, 6);
        final_read(&mut h, 7, 9);
        let r = check(&sorted(h));
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.summary.starts_with("2 bad of 3 reads"), "{}", r.summary);
        assert!(
            r.anomalies[0].detail.starts_with("impossible read 11"),
            "{:?}",
            r.anomalies
        );
        // Maelstrom judges final reads alone: the impossible read in mid-run is beyond it,
        // the final read of 9 is not.
        let classes: Vec<Strictness> = r.anomalies.iter().map(|a| a.strictness).collect();
        assert_eq!(classes, [Strictness::Beyond, Strictness::Maelstrom]);
        assert_eq!(r.maelstrom_validity, Validity::Invalid);
    }

    /// A failed add counted anyway, and a run without final reads, are both invalid.
    #[test]
    fn counting_a_failed_add_and_missing_final_reads_are_invalid() {
        let mut h = History::new();
        adds(&mut h);
        op(&mut h, 5, "read", Value::Null, 40, Ok, json!(103), 41);
        let r = check(&sorted(h));
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(r.anomalies.len(), 2, "{:?}", r.anomalies);
        // Maelstrom's checker judges only final reads, and passes a run with none.
        assert_eq!(r.maelstrom_validity, Validity::Valid, "{r:?}");
    }
}
