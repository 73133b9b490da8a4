//! Committed offsets: a listing (an assign's or a bare `list_committed_offsets`) may not
//! report an offset above every commit that may have happened by then (invented commit);
//! one below an acknowledged commit is counted, informationally (commit regression).

use std::collections::HashMap;

use super::{key_text, malformed, offset_map, Counts};
use crate::sim::check::{Anomalies, Call, Strictness::Beyond};
use crate::sim::history::OpKind;
use crate::time::Instant;

/// Running maxima of committed offsets per key, by time.
type Timeline = HashMap<String, Vec<(Instant, i64)>>;

/// Listed committed offsets: never above what was committed, informationally not below.
pub(super) fn check_commits(calls: &[Call<'_>], anomalies: &mut Anomalies, counts: &mut Counts) {
    let (possible, acked) = commit_timelines(calls);
    // An assign's listing, or a bare listing; a seek-to-beginning assign lists nothing.
    let lists = calls.iter().filter(|c| {
        let listing = c.f == "list_committed_offsets" || c.f == "assign";
        listing && c.is_ok() && c.output.is_some_and(|o| !o.is_null())
    });
    for call in lists {
        let keys = call.input.as_array().map(|keys| keys.iter().map(key_text));
        let listed = call.output.and_then(offset_map);
        let (Some(keys), Some(listed), Some(end)) = (keys, listed, call.end) else {
            malformed(call, counts, anomalies);
            continue;
        };
        for key in keys {
            // Offset 0 needs no commit: reading from the start skips nothing.
            let ceiling = max_before(possible.get(&key), |at| at <= end).unwrap_or(0);
            let floor = max_before(acked.get(&key), |at| at < call.start);
            match listed.get(&key) {
                Some(&offset) if offset > ceiling => {
                    counts.invented_commit += 1;
                    anomalies.note(Beyond, || {
                        let what =
                            format!("key {key} listed at {offset}, highest commit {ceiling}");
                        format!("invented commit: {what}: {}", call.describe())
                    });
                }
                Some(&offset) if floor.is_some_and(|floor| offset < floor) => {
                    counts.commit_regression += 1;
                }
                None if floor.is_some() => counts.commit_regression += 1,
                _ => {}
            }
        }
    }
}

/// Per key: commits that may have happened (by invocation time) and acknowledged ones (by
/// completion time), each as running maxima.
fn commit_timelines(calls: &[Call<'_>]) -> (Timeline, Timeline) {
    let mut possible = Timeline::new();
    let mut acked = Timeline::new();
    let commits = calls
        .iter()
        .filter(|c| c.f == "commit_offsets" && c.kind != OpKind::Fail);
    for call in commits {
        for (key, offset) in offset_map(call.input).unwrap_or_default() {
            if let (true, Some(end)) = (call.is_ok(), call.end) {
                acked.entry(key.clone()).or_default().push((end, offset));
            }
            possible.entry(key).or_default().push((call.start, offset));
        }
    }
    for timeline in possible.values_mut().chain(acked.values_mut()) {
        timeline.sort();
        let mut max = i64::MIN;
        for entry in timeline.iter_mut() {
            max = max.max(entry.1);
            entry.1 = max;
        }
    }
    (possible, acked)
}

/// The running maximum over the prefix of `timeline` whose times satisfy `before`.
fn max_before(
    timeline: Option<&Vec<(Instant, i64)>>,
    before: impl Fn(Instant) -> bool,
) -> Option<i64> {
    let timeline = timeline?;
    let n = timeline.partition_point(|&(at, _)| before(at));
    n.checked_sub(1)
        .and_then(|last| timeline.get(last))
        .map(|&(_, max)| max)
}
