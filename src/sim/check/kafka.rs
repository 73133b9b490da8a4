//! The kafka checker: append-only logs per key, polls, and committed offsets.
//!
//! Modelled on the anomalies Maelstrom's kafka checker names. Invalid when:
//! - two different messages sit at the same key and offset, across send replies and polls
//!   ("inconsistent offsets", a node that reuses an offset);
//! - one sent message shows up at two offsets of its key ("duplicate");
//! - a poll's offsets for a key do not strictly increase ("nonmonotonic poll"), or start below
//!   the requested offset ("poll before start");
//! - a poll's range for a key (first to last offset) leaves out an offset known to exist:
//!   "lost write" when that offset belongs to an acknowledged send, "poll skip" otherwise;
//! - one process's consecutive sends to a key get offsets that do not increase
//!   ("nonmonotonic send");
//! - `list_committed_offsets` reports an offset above every commit invoked before it
//!   completed ("invented commit": clients would skip unprocessed messages);
//! - a reply value does not have the workload's shape ("malformed").
//!
//! Reported but not failing: a listed committed offset below one whose commit completed
//! before the listing began ("commit regression"), since Maelstrom only asks that a re-assign
//! not skip messages and re-reading is allowed (several consumers commit the same key), and
//! acknowledged sends that no poll returned ("unobserved"), since there is no recency
//! requirement. Polls are not compared across one another, because a client may restart from
//! any offset (the requested offset explains each poll's start).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::sim::check::{calls, Anomalies, Atom, Call, CheckResult};
use crate::sim::history::{History, OpKind};
use crate::time::Instant;

/// Checks a `kafka` history.
pub fn check(history: &History) -> CheckResult {
    let calls = calls(history);
    let mut state = State::default();
    let mut counts = Counts::default();
    let sends = parse_sends(&calls, &mut counts, &mut state.anomalies);
    let polls = parse_polls(&calls, &mut counts, &mut state.anomalies);
    for send in &sends {
        state.record(&send.key, send.offset, &send.msg, send.call, &mut counts);
    }
    for poll in &polls {
        for (key, entries) in &poll.msgs {
            for (offset, msg) in entries {
                state.record(key, *offset, msg, poll.call, &mut counts);
            }
        }
    }
    check_duplicates(&calls, &state.logs, &mut state.anomalies, &mut counts);
    check_sends(&sends, &mut state.anomalies, &mut counts);
    let acked: HashSet<(&str, i64)> = sends.iter().map(|s| (&*s.key, s.offset)).collect();
    let seen = check_polls(&polls, &acked, &mut state, &mut counts);
    counts.unobserved = acked.difference(&seen).count();
    check_commits(&calls, &mut state.anomalies, &mut counts);
    let summary = counts.summary();
    state.anomalies.finish(summary)
}

/// How many of each anomaly were found.
#[derive(Debug, Default)]
struct Counts {
    malformed: usize,
    inconsistent: usize,
    duplicate: usize,
    nonmonotonic_poll: usize,
    poll_before_start: usize,
    lost: usize,
    skip: usize,
    nonmonotonic_send: usize,
    invented_commit: usize,
    commit_regression: usize,
    unobserved: usize,
}

impl Counts {
    fn summary(&self) -> String {
        format!(
            "{} lost writes, {} inconsistent offsets, {} duplicates, {} poll skips, \
             {} nonmonotonic polls, {} polls before start, {} nonmonotonic sends, \
             {} invented commits, {} malformed; informational: {} commit regressions, \
             {} unobserved sends",
            self.lost,
            self.inconsistent,
            self.duplicate,
            self.skip,
            self.nonmonotonic_poll,
            self.poll_before_start,
            self.nonmonotonic_send,
            self.invented_commit,
            self.malformed,
            self.commit_regression,
            self.unobserved
        )
    }
}

/// Everything known about the logs: key -> offset -> message.
#[derive(Debug, Default)]
struct State {
    logs: BTreeMap<String, BTreeMap<i64, Atom>>,
    /// (key, offset) already reported as inconsistent.
    conflicts: HashSet<(String, i64)>,
    anomalies: Anomalies,
}

impl State {
    fn record(&mut self, key: &str, offset: i64, msg: &Atom, call: &Call<'_>, counts: &mut Counts) {
        let log = self.logs.entry(key.to_owned()).or_default();
        let existing = log.entry(offset).or_insert_with(|| msg.clone());
        if existing != msg && self.conflicts.insert((key.to_owned(), offset)) {
            counts.inconsistent += 1;
            let other = existing.clone();
            self.anomalies.note(|| {
                let what = format!("key {key} offset {offset} holds both {other} and {msg}");
                format!("inconsistent offsets: {what}, seen by {}", call.describe())
            });
        }
    }
}

/// An acknowledged send.
struct Send<'a> {
    call: &'a Call<'a>,
    key: String,
    msg: Atom,
    offset: i64,
}

/// What a poll returned: per key, `(offset, msg)` pairs in reply order.
type PolledMsgs = Vec<(String, Vec<(i64, Atom)>)>;

/// An acknowledged poll: requested offsets and returned messages.
struct Poll<'a> {
    call: &'a Call<'a>,
    requested: HashMap<String, i64>,
    msgs: PolledMsgs,
}

fn key_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn malformed(call: &Call<'_>, counts: &mut Counts, anomalies: &mut Anomalies) {
    counts.malformed += 1;
    anomalies.note(|| format!("malformed {} reply: {}", call.f, call.describe()));
}

fn parse_sends<'a>(
    calls: &'a [Call<'a>],
    counts: &mut Counts,
    anomalies: &mut Anomalies,
) -> Vec<Send<'a>> {
    let mut sends = Vec::new();
    for call in calls.iter().filter(|c| c.f == "send" && c.is_ok()) {
        let input = call.input.as_array().map(Vec::as_slice);
        let offset = call.output.and_then(|v| v.get(2)).and_then(Value::as_i64);
        match (input, offset) {
            (Some([key, msg]), Some(offset)) => sends.push(Send {
                call,
                key: key_text(key),
                msg: Atom::from_value(msg),
                offset,
            }),
            _ => malformed(call, counts, anomalies),
        }
    }
    sends
}

fn parse_polls<'a>(
    calls: &'a [Call<'a>],
    counts: &mut Counts,
    anomalies: &mut Anomalies,
) -> Vec<Poll<'a>> {
    let mut polls = Vec::new();
    for call in calls.iter().filter(|c| c.f == "poll" && c.is_ok()) {
        let requested = offset_map(call.input).unwrap_or_default();
        match call.output.and_then(parse_poll_msgs) {
            Some(msgs) => polls.push(Poll {
                call,
                requested,
                msgs,
            }),
            None => malformed(call, counts, anomalies),
        }
    }
    polls
}

/// `{key: [[offset, msg], ...]}`, or `None` if any part has another shape.
fn parse_poll_msgs(value: &Value) -> Option<PolledMsgs> {
    let mut out = Vec::new();
    for (key, entries) in value.as_object()? {
        let mut list = Vec::new();
        for entry in entries.as_array()? {
            match entry.as_array().map(Vec::as_slice) {
                Some([offset, msg]) => list.push((offset.as_i64()?, Atom::from_value(msg))),
                _ => return None,
            }
        }
        out.push((key.clone(), list));
    }
    Some(out)
}

/// `{key: offset}`, or `None` if any part has another shape.
fn offset_map(value: &Value) -> Option<HashMap<String, i64>> {
    let object = value.as_object()?;
    object
        .iter()
        .map(|(key, offset)| Some((key.clone(), offset.as_i64()?)))
        .collect()
}

/// One sent message (sent once) found at two offsets of its key.
fn check_duplicates(
    calls: &[Call<'_>],
    logs: &BTreeMap<String, BTreeMap<i64, Atom>>,
    anomalies: &mut Anomalies,
    counts: &mut Counts,
) {
    let mut sent: HashMap<(String, Atom), usize> = HashMap::new();
    for call in calls.iter().filter(|c| c.f == "send") {
        if let Some([key, msg]) = call.input.as_array().map(Vec::as_slice) {
            *sent
                .entry((key_text(key), Atom::from_value(msg)))
                .or_default() += 1;
        }
    }
    for (key, log) in logs {
        let mut first: HashMap<&Atom, i64> = HashMap::new();
        for (&offset, msg) in log {
            let Some(&earlier) = first.get(msg) else {
                first.insert(msg, offset);
                continue;
            };
            if sent.get(&(key.clone(), msg.clone())) == Some(&1) {
                counts.duplicate += 1;
                anomalies.note(|| {
                    format!("duplicate: message {msg} sent once to key {key} is at offsets {earlier} and {offset}")
                });
            }
        }
    }
}

/// A process's consecutive sends to a key must get increasing offsets.
fn check_sends(sends: &[Send<'_>], anomalies: &mut Anomalies, counts: &mut Counts) {
    let mut last: HashMap<(u64, &str), (i64, &Call<'_>)> = HashMap::new();
    for send in sends {
        let slot = (send.call.process, &*send.key);
        if let Some(&(previous, earlier)) = last.get(&slot) {
            if send.offset <= previous {
                counts.nonmonotonic_send += 1;
                anomalies.note(|| {
                    let what = format!("offset {} after {previous}", send.offset);
                    let (a, b) = (earlier.describe(), send.call.describe());
                    format!(
                        "nonmonotonic send on key {}: {what}: {a} then {b}",
                        send.key
                    )
                });
            }
        }
        last.insert(slot, (send.offset, send.call));
    }
}

/// Order and start of each poll's lists, and offsets known to exist that a poll skipped.
/// Returns every `(key, offset)` some poll returned.
fn check_polls<'a>(
    polls: &'a [Poll<'a>],
    acked: &HashSet<(&'a str, i64)>,
    state: &mut State,
    counts: &mut Counts,
) -> HashSet<(&'a str, i64)> {
    let mut seen = HashSet::new();
    let mut skipped: HashSet<(&str, i64)> = HashSet::new();
    for poll in polls {
        for (key, entries) in &poll.msgs {
            seen.extend(entries.iter().map(|(offset, _)| (key.as_str(), *offset)));
            check_poll_order(poll, key, entries, &mut state.anomalies, counts);
            let present: HashSet<i64> = entries.iter().map(|(offset, _)| *offset).collect();
            let (Some(&low), Some(&high)) = (present.iter().min(), present.iter().max()) else {
                continue;
            };
            let Some(log) = state.logs.get(key) else {
                continue;
            };
            for &offset in log.range(low..=high).map(|(offset, _)| offset) {
                if present.contains(&offset) || !skipped.insert((key, offset)) {
                    continue;
                }
                let what = if acked.contains(&(key.as_str(), offset)) {
                    counts.lost += 1;
                    "lost write: acknowledged"
                } else {
                    counts.skip += 1;
                    "poll skip: known"
                };
                state.anomalies.note(|| {
                    let range = format!("offsets {low}..={high}");
                    let place = format!("key {key} offset {offset}");
                    format!(
                        "{what} {place} missing from a poll of {range}: {}",
                        poll.call.describe()
                    )
                });
            }
        }
    }
    seen
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
        counts.nonmonotonic_poll += 1;
        anomalies.note(|| format!("nonmonotonic poll on key {key}: {}", poll.call.describe()));
    }
    let lowest = entries.iter().map(|(offset, _)| *offset).min();
    if let (Some(lowest), Some(&from)) = (lowest, poll.requested.get(key)) {
        if lowest < from {
            counts.poll_before_start += 1;
            anomalies.note(|| {
                let what = format!("key {key} returned offset {lowest}, requested from {from}");
                format!("poll before start: {what}: {}", poll.call.describe())
            });
        }
    }
}

/// Running maxima of committed offsets per key, by time.
type Timeline = HashMap<String, Vec<(Instant, i64)>>;

/// Listed committed offsets: never above what was committed, informationally not below.
fn check_commits(calls: &[Call<'_>], anomalies: &mut Anomalies, counts: &mut Counts) {
    let (possible, acked) = commit_timelines(calls);
    let lists = calls
        .iter()
        .filter(|c| c.f == "list_committed_offsets" && c.is_ok());
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
                    anomalies.note(|| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::check::testing::{op, sorted};
    use crate::sim::check::Validity;
    use crate::sim::history::OpKind::Ok;
    use serde_json::json;

    /// Messages on the wire as MAELSTROM.md (Workloads: kafka) describes them.
    fn send(h: &mut History, process: u64, key: &str, msg: i64, offset: i64, at: u64) {
        let output = json!([key, msg, offset]);
        op(
            h,
            process,
            "send",
            json!([key, msg]),
            at,
            Ok,
            output,
            at + 1,
        );
    }

    fn poll(h: &mut History, process: u64, from: i64, msgs: Value, at: u64) {
        let output = json!({ "k": msgs });
        op(
            h,
            process,
            "poll",
            json!({ "k": from }),
            at,
            Ok,
            output,
            at + 1,
        );
    }

    fn commit(h: &mut History, process: u64, offset: i64, at: u64) {
        let offsets = json!({ "k": offset });
        op(
            h,
            process,
            "commit_offsets",
            offsets.clone(),
            at,
            Ok,
            offsets,
            at + 1,
        );
    }

    fn list(h: &mut History, process: u64, listed: Value, at: u64) {
        op(
            h,
            process,
            "list_committed_offsets",
            json!(["k"]),
            at,
            Ok,
            listed,
            at + 1,
        );
    }

    /// Two producers, sparse offsets, a consumer that polls, commits and re-reads.
    fn healthy() -> History {
        let mut h = History::new();
        send(&mut h, 1, "k", 10, 0, 0);
        send(&mut h, 2, "k", 20, 2, 0);
        send(&mut h, 1, "k", 11, 3, 10);
        poll(&mut h, 3, 0, json!([[0, 10], [2, 20], [3, 11]]), 20);
        commit(&mut h, 3, 3, 30);
        // Another consumer, behind, commits a lower offset: re-reading is allowed.
        commit(&mut h, 4, 2, 40);
        list(&mut h, 5, json!({ "k": 2 }), 50);
        poll(&mut h, 5, 2, json!([[2, 20], [3, 11]]), 60);
        h
    }

    #[test]
    fn contiguous_sparse_log_is_valid() {
        let r = check(&healthy());
        assert!(r.is_valid(), "{r:?}");
        assert!(r.summary.contains("1 commit regressions"), "{}", r.summary);
    }

    /// Two nodes each hand out offsets from their own counter: offset 1 is assigned twice,
    /// and a poll served by one node lacks the other's acknowledged message.
    #[test]
    fn reused_offset_and_lost_write_are_invalid() {
        let mut h = healthy();
        send(&mut h, 6, "k", 30, 4, 70);
        send(&mut h, 7, "k", 40, 4, 70);
        send(&mut h, 6, "k", 31, 5, 80);
        poll(&mut h, 8, 3, json!([[3, 11], [4, 40], [6, 50]]), 90);
        send(&mut h, 9, "k", 50, 6, 85);
        poll(
            &mut h,
            9,
            0,
            json!([[0, 10], [2, 20], [3, 11], [4, 40], [6, 50]]),
            95,
        );
        let r = check(&sorted(h));
        assert_eq!(r.validity, Validity::Invalid);
        assert!(
            r.summary.starts_with("1 lost writes, 1 inconsistent"),
            "{}",
            r.summary
        );
    }

    /// A poll served from an unsorted map: offsets out of order and before the request.
    #[test]
    fn unsorted_poll_and_early_start_are_invalid() {
        let mut h = healthy();
        poll(&mut h, 9, 3, json!([[3, 11], [2, 20]]), 70);
        let r = check(&sorted(h));
        assert_eq!(r.validity, Validity::Invalid);
        assert!(
            r.summary
                .contains("1 nonmonotonic polls, 1 polls before start"),
            "{}",
            r.summary
        );
    }

    /// A node that forgets its log on restart hands a process a smaller offset again.
    #[test]
    fn sends_going_backwards_are_invalid() {
        let mut h = healthy();
        send(&mut h, 1, "k", 12, 1, 70);
        let r = check(&sorted(h));
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.summary.contains("1 nonmonotonic sends"), "{}", r.summary);
    }

    /// A node that lists the log's end as the committed offset makes re-assigned clients skip
    /// messages nobody processed; a list without commits may say 0.
    #[test]
    fn listing_uncommitted_offsets_is_invalid() {
        let mut h = History::new();
        list(&mut h, 1, json!({ "k": 0 }), 0);
        send(&mut h, 2, "k", 10, 5, 10);
        list(&mut h, 3, json!({ "k": 5 }), 20);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.summary.contains("1 invented commits"), "{}", r.summary);
    }

    /// Replies of the wrong shape are anomalies, not panics.
    #[test]
    fn malformed_replies_are_invalid() {
        let mut h = History::new();
        op(
            &mut h,
            1,
            "send",
            json!(["k", 1]),
            0,
            Ok,
            json!({"offset": 1}),
            1,
        );
        op(
            &mut h,
            2,
            "poll",
            json!({"k": 0}),
            0,
            Ok,
            json!({"k": [[0]]}),
            1,
        );
        let r = check(&h);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.summary.contains("2 malformed"), "{}", r.summary);
    }
}
