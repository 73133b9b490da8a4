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
//!
//! Maelstrom's verdict: jepsen's checker fails a run for inconsistent offsets, duplicates,
//! aborted reads (its G1a), lost writes, unseen messages, internal and external poll skips
//! and nonmonotonic polls, and nonmonotonic sends; those are
//! [`Strictness::Maelstrom`](crate::sim::check::Strictness). It never sees requests or
//! committed offsets, and Maelstrom's client rejects malformed replies before they reach
//! it, so polls before start, invented commits and malformed replies are beyond Maelstrom.
//!
//! This module owns the parsed history (sends, polls, the logs they reveal) and the
//! summary; `sends` checks what was written (duplicates, aborted reads, send order, lost and
//! unseen messages), `polls` what polls returned, `commits` the committed offsets.

mod commits;
mod polls;
mod sends;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use self::commits::check_commits;
use self::polls::{check_polls, check_process_polls};
use self::sends::{check_aborted_reads, check_duplicates, check_lost_and_unseen, check_sends};
use crate::sim::check::{
    calls, Anomalies, Atom, Call, CheckResult,
    Strictness::{Beyond, Maelstrom},
};
use crate::sim::history::{History, OpKind};

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
            self.anomalies.note(Maelstrom, || {
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
    anomalies.note(Beyond, || {
        format!("malformed {} reply: {}", call.f, call.describe())
    });
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
