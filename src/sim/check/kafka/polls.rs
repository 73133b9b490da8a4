//! What polls returned: offsets in order and from the requested one within a poll, no
//! known offset skipped inside a poll, and each process's polls of a key continuing where
//! the previous one ended.

use std::collections::HashMap;

use super::{forget_unassigned, Counts, Poll, State};
use crate::sim::check::{
    Anomalies, Atom, Call,
    Strictness::{Beyond, Maelstrom},
};

/// Known offsets of `key` strictly between `low` and `high`.
fn known_between(state: &State, key: &str, low: i64, high: i64) -> Vec<i64> {
    match state.logs.get(key) {
        Some(log) if low < high => log
            .range(low.saturating_add(1)..high)
            .map(|(o, _)| *o)
            .collect(),
        _ => Vec::new(),
    }
}

/// Within each poll: order, start, and known offsets skipped between consecutive entries.
pub(super) fn check_polls(polls: &[Poll<'_>], state: &mut State, counts: &mut Counts) {
    for poll in polls {
        for (key, entries) in &poll.msgs {
            check_poll_order(poll, key, entries, &mut state.anomalies, counts);
            for pair in entries.windows(2) {
                let (low, high) = (pair[0].0, pair[1].0);
                let skipped = known_between(state, key, low, high);
                if skipped.is_empty() {
                    continue;
                }
                counts.internal_skip += 1;
                state.anomalies.note(Maelstrom, || {
                    let what = format!("key {key} went from {low} to {high}, past {skipped:?}");
                    format!("internal poll skip: {what}: {}", poll.call.describe())
                });
            }
        }
    }
}

/// Each process's consecutive polls of a key continue where the previous one ended: the
/// next first offset is above the previous last one ("nonmonotonic poll" otherwise) and no
/// known offset lies between them ("poll skip" otherwise). An assign forgets the keys it
/// does not assign; a poll that returned an empty list for a key leaves nothing to compare
/// the next one with (as in jepsen).
pub(super) fn check_process_polls(
    calls: &[Call<'_>],
    polls: &[Poll<'_>],
    state: &mut State,
    counts: &mut Counts,
) {
    let by_index: HashMap<usize, &Poll<'_>> = polls.iter().map(|p| (p.call.index, p)).collect();
    type Last<'a> = HashMap<&'a str, Option<(i64, &'a Call<'a>)>>;
    let mut last: HashMap<u64, Last<'_>> = HashMap::new();
    for call in calls {
        if forget_unassigned(&mut last, call) {
            continue;
        }
        let Some(poll) = by_index.get(&call.index) else {
            continue;
        };
        let last = last.entry(call.process).or_default();
        for (key, entries) in &poll.msgs {
            let first = entries.first().map(|(offset, _)| *offset);
            if let (Some(Some((previous, earlier))), Some(first)) = (last.get(key.as_str()), first)
            {
                let (previous, earlier) = (*previous, *earlier);
                let skipped = known_between(state, key, previous, first);
                let what = if first <= previous {
                    counts.nonmonotonic_poll += 1;
                    format!("nonmonotonic poll: key {key} went back from {previous} to {first}")
                } else if !skipped.is_empty() {
                    counts.poll_skip += 1;
                    format!(
                        "poll skip: key {key} went from {previous} to {first}, past {skipped:?}"
                    )
                } else {
                    String::new()
                };
                if !what.is_empty() {
                    state.anomalies.note(Maelstrom, || {
                        let (a, b) = (earlier.describe(), poll.call.describe());
                        format!("{what}: {a} then {b}")
                    });
                }
            }
            let end = entries.last().map(|(offset, _)| (*offset, poll.call));
            last.insert(key, end);
        }
    }
}

/// Offsets within one poll's list strictly increase and none is below the requested one.
fn check_poll_order(
    poll: &Poll<'_>,
    key: &str,
    entries: &[(i64, Atom)],
    anomalies: &mut Anomalies,
    counts: &mut Counts,
) {
    if entries.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        counts.internal_nonmonotonic += 1;
        anomalies.note(Maelstrom, || {
            let what = format!("internal nonmonotonic poll on key {key}");
            format!("{what}: {}", poll.call.describe())
        });
    }
    let lowest = entries.iter().map(|(offset, _)| *offset).min();
    if let (Some(lowest), Some(&from)) = (lowest, poll.requested.get(key)) {
        if lowest < from {
            counts.poll_before_start += 1;
            anomalies.note(Beyond, || {
                let what = format!("key {key} returned offset {lowest}, requested from {from}");
                format!("poll before start: {what}: {}", poll.call.describe())
            });
        }
    }
}
