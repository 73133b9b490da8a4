//! The kafka checker: append-only logs per key, polls, and committed offsets.
//!
//! Modelled on jepsen's kafka checker (`jepsen.tests.kafka`), which Maelstrom's kafka
//! workload uses with assign-only consumers and no transactions. Invalid when:
//! - two different messages sit at the same key and offset, across send replies and polls
//!   ("inconsistent offsets", a node that reuses an offset);
//! - one sent message shows up at two offsets of its key ("duplicate");
//! - a poll returns a message whose send failed definitely ("aborted read");
//! - an acknowledged send is at or below, in its key's log, a message some successful poll
//!   returned, yet no successful poll returned it ("lost write": the check is per key over
//!   the whole history, jepsen's bound being the highest offset any poll read);
//! - an acknowledged send is returned by no successful poll at all ("unseen": the final
//!   polls, which read every key from the beginning, should have found it);
//! - a poll's offsets for a key do not strictly increase ("internal nonmonotonic poll"), or
//!   skip an offset known to exist between two of them ("internal poll skip");
//! - a process's poll of a key starts at or below where its previous poll of that key ended
//!   ("nonmonotonic poll"), or past an offset known to exist after it ("poll skip"); as in
//!   jepsen, an assign forgets this for the keys it does not assign;
//! - one process's consecutive sends to a key get offsets that do not increase
//!   ("nonmonotonic send"; an assign forgets it for keys it does not assign, as in jepsen);
//! - a poll starts below the requested offset ("poll before start": Maelstrom's protocol
//!   requires the first message to be at the requested offset; jepsen, which does not see
//!   requests, would call it a nonmonotonic poll when the process had read past it);
//! - an assign (`list_committed_offsets`) reports an offset above every commit invoked
//!   before it completed ("invented commit": clients would skip unprocessed messages; jepsen
//!   only sees this through the lost writes it causes);
//! - a reply value does not have the workload's shape ("malformed").
//!
//! Reported but not failing: a listed committed offset below one whose commit completed
//! before the listing began ("commit regression"), since Maelstrom only asks that a re-assign
//! not skip messages and re-reading is allowed (several consumers commit the same key).
//! Not checked: jepsen's Elle cycle search over write-read and real-time edges.

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
    check_aborted_reads(&calls, &polls, &mut state.anomalies, &mut counts);
    check_sends(&calls, &sends, &mut state.anomalies, &mut counts);
    check_polls(&polls, &mut state, &mut counts);
    check_process_polls(&calls, &polls, &mut state, &mut counts);
    check_lost_and_unseen(&sends, &polls, &mut state.anomalies, &mut counts);
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
    aborted_read: usize,
    lost: usize,
    unseen: usize,
    internal_nonmonotonic: usize,
    internal_skip: usize,
    nonmonotonic_poll: usize,
    poll_skip: usize,
    poll_before_start: usize,
    nonmonotonic_send: usize,
    invented_commit: usize,
    commit_regression: usize,
}

impl Counts {
    fn summary(&self) -> String {
        format!(
            "{} lost writes, {} unseen, {} inconsistent offsets, {} duplicates, \
             {} aborted reads, {} poll skips, {} nonmonotonic polls, \
             {} internal poll skips, {} internal nonmonotonic polls, \
             {} polls before start, {} nonmonotonic sends, {} invented commits, \
             {} malformed; informational: {} commit regressions",
            self.lost,
            self.unseen,
            self.inconsistent,
            self.duplicate,
            self.aborted_read,
            self.poll_skip,
            self.nonmonotonic_poll,
            self.internal_skip,
            self.internal_nonmonotonic,
            self.poll_before_start,
            self.nonmonotonic_send,
            self.invented_commit,
            self.malformed,
            self.commit_regression,
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

/// The keys an assign gives its process, when the assign may have happened (ok or info).
fn assigned_keys<'a>(call: &'a Call<'a>) -> Option<HashSet<String>> {
    if call.f != "assign" || call.kind == OpKind::Fail {
        return None;
    }
    let keys = call.input.as_array().map(|keys| keys.iter().map(key_text));
    Some(keys.into_iter().flatten().collect())
}

/// If `call` is an assign, its process forgets what it tracked for the keys the assign does
/// not give it (as jepsen does), and this returns true.
fn forget_unassigned<V>(last: &mut HashMap<u64, HashMap<&str, V>>, call: &Call<'_>) -> bool {
    let Some(keys) = assigned_keys(call) else {
        return false;
    };
    if let Some(last) = last.get_mut(&call.process) {
        last.retain(|key, _| keys.contains(*key));
    }
    true
}

/// A process's consecutive sends to a key must get increasing offsets; an assign forgets
/// the keys it does not assign.
fn check_sends(
    calls: &[Call<'_>],
    sends: &[Send<'_>],
    anomalies: &mut Anomalies,
    counts: &mut Counts,
) {
    let by_index: HashMap<usize, &Send<'_>> = sends.iter().map(|s| (s.call.index, s)).collect();
    let mut last: HashMap<u64, HashMap<&str, (i64, &Call<'_>)>> = HashMap::new();
    for call in calls {
        if forget_unassigned(&mut last, call) {
            continue;
        }
        let Some(send) = by_index.get(&call.index) else {
            continue;
        };
        let last = last.entry(call.process).or_default();
        if let Some(&(previous, earlier)) = last.get(&*send.key) {
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
        last.insert(&send.key, (send.offset, send.call));
    }
}

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
fn check_polls(polls: &[Poll<'_>], state: &mut State, counts: &mut Counts) {
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
                state.anomalies.note(|| {
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
fn check_process_polls(
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
                    state.anomalies.note(|| {
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

/// Jepsen's lost writes and unseen messages, per key over the whole history. Once some
/// successful poll has read a message at offset k, every acknowledged send whose message
/// sits at or below k (at its last known offset) must have been read by some successful
/// poll; and every acknowledged send must have been read by one.
fn check_lost_and_unseen(
    sends: &[Send<'_>],
    polls: &[Poll<'_>],
    anomalies: &mut Anomalies,
    counts: &mut Counts,
) {
    // (key, msg) -> (first, last) offset where sends or polls put it.
    let mut places: HashMap<(&str, &Atom), (i64, i64)> = HashMap::new();
    let mut place = |key, msg, offset: i64| {
        let entry = places.entry((key, msg)).or_insert((offset, offset));
        *entry = (entry.0.min(offset), entry.1.max(offset));
    };
    for send in sends {
        place(&*send.key, &send.msg, send.offset);
    }
    for poll in polls {
        for (key, entries) in &poll.msgs {
            for (offset, msg) in entries {
                place(key.as_str(), msg, *offset);
            }
        }
    }
    let mut read: HashSet<(&str, &Atom)> = HashSet::new();
    // key -> the highest first offset of a read message, and the poll that read it.
    let mut bound: HashMap<&str, (i64, &Call<'_>)> = HashMap::new();
    for poll in polls {
        for (key, entries) in &poll.msgs {
            for (_, msg) in entries {
                read.insert((key.as_str(), msg));
                let first = places.get(&(key.as_str(), msg)).map_or(i64::MIN, |p| p.0);
                let entry = bound.entry(key).or_insert((first, poll.call));
                if first > entry.0 {
                    *entry = (first, poll.call);
                }
            }
        }
    }
    let mut done: HashSet<(&str, &Atom)> = HashSet::new();
    for send in sends {
        let id = (&*send.key, &send.msg);
        if read.contains(&id) || !done.insert(id) {
            continue;
        }
        counts.unseen += 1;
        anomalies.note(|| {
            format!(
                "unseen: key {} message {} acknowledged, returned by no poll: {}",
                send.key,
                send.msg,
                send.call.describe()
            )
        });
        let last = places.get(&id).map_or(send.offset, |p| p.1);
        if let Some(&(high, reader)) = bound.get(&*send.key).filter(|b| last <= b.0) {
            counts.lost += 1;
            anomalies.note(|| {
                let what = format!("key {} message {} at offset {last}", send.key, send.msg);
                let (a, b) = (send.call.describe(), reader.describe());
                format!("lost write: {what}, below offset {high} that {b} read: sent by {a}")
            });
        }
    }
}

/// A poll must not return a message whose only sends failed definitely.
fn check_aborted_reads(
    calls: &[Call<'_>],
    polls: &[Poll<'_>],
    anomalies: &mut Anomalies,
    counts: &mut Counts,
) {
    let mut failed: HashSet<(String, Atom)> = HashSet::new();
    let mut maybe: HashSet<(String, Atom)> = HashSet::new();
    for call in calls.iter().filter(|c| c.f == "send") {
        if let Some([key, msg]) = call.input.as_array().map(Vec::as_slice) {
            let id = (key_text(key), Atom::from_value(msg));
            if call.kind == OpKind::Fail {
                failed.insert(id);
            } else {
                maybe.insert(id);
            }
        }
    }
    let mut reported: HashSet<(String, Atom)> = HashSet::new();
    for poll in polls {
        for (key, entries) in &poll.msgs {
            for (offset, msg) in entries {
                let id = (key.clone(), msg.clone());
                if !failed.contains(&id) || maybe.contains(&id) || !reported.insert(id) {
                    continue;
                }
                counts.aborted_read += 1;
                anomalies.note(|| {
                    let what = format!("key {key} offset {offset} holds failed send {msg}");
                    format!("aborted read: {what}: {}", poll.call.describe())
                });
            }
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
        anomalies.note(|| {
            let what = format!("internal nonmonotonic poll on key {key}");
            format!("{what}: {}", poll.call.describe())
        });
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

    /// Messages on the wire as Maelstrom's docs (Workloads: kafka) describes them.
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
        // 30 and 31 (offsets 4 and 5) were acknowledged and lie below offset 6, which polls
        // read, yet no poll returned them; both polls skipped the known offset 5.
        assert!(
            r.summary
                .starts_with("2 lost writes, 2 unseen, 1 inconsistent offsets"),
            "{}",
            r.summary
        );
        assert!(r.summary.contains("2 internal poll skips"), "{}", r.summary);
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
                .contains("1 internal nonmonotonic polls, 1 polls before start"),
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

    fn assign(h: &mut History, process: u64, keys: Value, at: u64) {
        let listed = json!({});
        op(h, process, "assign", keys, at, Ok, listed, at + 1);
    }

    /// A node that acknowledges a send and never serves it: even without a poll past it,
    /// the message is unseen, which fails the run as in jepsen.
    #[test]
    fn acknowledged_send_no_poll_returns_is_invalid() {
        let mut h = healthy();
        send(&mut h, 1, "k", 12, 4, 70);
        let r = check(&sorted(h));
        assert_eq!(r.validity, Validity::Invalid);
        assert!(
            r.summary.starts_with("0 lost writes, 1 unseen,"),
            "{}",
            r.summary
        );
        assert!(r.anomalies[0].contains("message 12"), "{:?}", r.anomalies);
    }

    /// The lost-write check is global per key: offset 1 lies in no single poll's range, but
    /// a poll read offset 2, so the acknowledged send at 1 had to be read by some poll.
    #[test]
    fn acknowledged_offset_below_a_read_one_must_be_read() {
        let mut h = History::new();
        send(&mut h, 1, "k", 10, 0, 0);
        send(&mut h, 1, "k", 11, 1, 10);
        send(&mut h, 1, "k", 12, 2, 20);
        poll(&mut h, 2, 0, json!([[0, 10]]), 30);
        poll(&mut h, 3, 2, json!([[2, 12]]), 40);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(
            r.summary
                .starts_with("1 lost writes, 1 unseen, 0 inconsistent"),
            "{}",
            r.summary
        );
        assert!(r.summary.contains("0 poll skips"), "{}", r.summary);
        // Reading it anywhere, even later, is enough.
        poll(&mut h, 4, 1, json!([[1, 11]]), 50);
        let r = check(&h);
        assert!(r.is_valid(), "{r:?}");
    }

    /// One process's polls of a key must continue where the previous one ended: neither
    /// re-reading the last offset nor jumping past a known one.
    #[test]
    fn a_process_polls_going_back_or_skipping_is_invalid() {
        let mut h = History::new();
        for (offset, msg) in (0..4).zip(10..) {
            send(&mut h, 1, "k", msg, offset, offset as u64);
        }
        poll(&mut h, 2, 0, json!([[0, 10], [1, 11]]), 10);
        poll(&mut h, 2, 1, json!([[1, 11], [2, 12], [3, 13]]), 20);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(
            r.summary
                .contains("0 poll skips, 1 nonmonotonic polls, 0 internal"),
            "{}",
            r.summary
        );
        let mut h = History::new();
        for (offset, msg) in (0..4).zip(10..) {
            send(&mut h, 1, "k", msg, offset, offset as u64);
        }
        poll(&mut h, 2, 0, json!([[0, 10], [1, 11]]), 10);
        poll(&mut h, 2, 3, json!([[3, 13]]), 20);
        poll(&mut h, 3, 0, json!([[0, 10], [1, 11], [2, 12]]), 30);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(
            r.summary.contains("1 poll skips, 0 nonmonotonic polls"),
            "{}",
            r.summary
        );
    }

    /// An assign that drops a key forgets where the process was in it, as jepsen does; one
    /// that keeps the key keeps tracking it (Maelstrom's client keeps its position).
    #[test]
    fn assign_resets_process_tracking_for_dropped_keys_only() {
        let mut h = History::new();
        send(&mut h, 1, "k", 10, 0, 0);
        send(&mut h, 1, "k", 11, 1, 1);
        poll(&mut h, 2, 0, json!([[0, 10], [1, 11]]), 10);
        assign(&mut h, 2, json!(["j"]), 20);
        poll(&mut h, 2, 0, json!([[0, 10], [1, 11]]), 30);
        assert!(check(&h).is_valid(), "{:?}", check(&h));
        assign(&mut h, 2, json!(["k", "j"]), 40);
        poll(&mut h, 2, 0, json!([[0, 10], [1, 11]]), 50);
        let r = check(&h);
        assert!(r.summary.contains("1 nonmonotonic polls"), "{}", r.summary);
    }

    /// Sends tracked per process are forgotten for keys an assign drops, as in jepsen.
    #[test]
    fn assign_resets_send_tracking_for_dropped_keys() {
        let mut h = History::new();
        send(&mut h, 1, "k", 10, 1, 0);
        assign(&mut h, 1, json!(["j"]), 5);
        send(&mut h, 1, "k", 11, 0, 10);
        poll(&mut h, 2, 0, json!([[0, 11], [1, 10]]), 20);
        assert!(check(&h).is_valid(), "{:?}", check(&h));
    }

    /// A poll that returns a message whose send failed definitely.
    #[test]
    fn reading_a_failed_send_is_invalid() {
        let mut h = healthy();
        op(
            &mut h,
            1,
            "send",
            json!(["k", 99]),
            70,
            crate::sim::history::OpKind::Fail,
            json!(["k", 99]),
            71,
        );
        poll(&mut h, 6, 3, json!([[3, 11], [4, 99]]), 80);
        let r = check(&sorted(h));
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.summary.contains("1 aborted reads"), "{}", r.summary);
    }

    /// Maelstrom's client: an assign lists committed offsets; a seek-to-beginning one lists
    /// nothing and is not checked as a listing.
    #[test]
    fn assign_listings_are_checked_like_listings() {
        let mut h = History::new();
        send(&mut h, 1, "k", 10, 0, 0);
        send(&mut h, 1, "k", 11, 1, 1);
        poll(&mut h, 2, 0, json!([[0, 10], [1, 11]]), 10);
        op(&mut h, 3, "assign", json!(["k"]), 20, Ok, Value::Null, 20);
        op(
            &mut h,
            4,
            "assign",
            json!(["k"]),
            30,
            Ok,
            json!({"k": 1}),
            31,
        );
        let r = check(&h);
        assert!(r.summary.contains("1 invented commits"), "{}", r.summary);
    }
}
