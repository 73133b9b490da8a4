//! What was written: one message at two offsets (duplicate), polls of definitely failed
//! sends (aborted read), each process's send offsets (nonmonotonic send), and acknowledged
//! sends no poll returned (lost write, unseen).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{forget_unassigned, key_text, Counts, Poll, Send};
use crate::sim::check::{Anomalies, Atom, Call, Strictness::Maelstrom};
use crate::sim::history::OpKind;

/// One sent message (sent once) found at two offsets of its key.
pub(super) fn check_duplicates(
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
                anomalies.note(Maelstrom, || {
                    format!("duplicate: message {msg} sent once to key {key} is at offsets {earlier} and {offset}")
                });
            }
        }
    }
}

/// A process's consecutive sends to a key must get increasing offsets; an assign forgets
/// the keys it does not assign.
pub(super) fn check_sends(
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
                anomalies.note(Maelstrom, || {
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

/// Jepsen's lost writes and unseen messages, per key over the whole history. Once some
/// successful poll has read a message at offset k, every acknowledged send whose message
/// sits at or below k (at its last known offset) must have been read by some successful
/// poll; and every acknowledged send must have been read by one.
pub(super) fn check_lost_and_unseen(
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
        anomalies.note(Maelstrom, || {
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
            anomalies.note(Maelstrom, || {
                let what = format!("key {} message {} at offset {last}", send.key, send.msg);
                let (a, b) = (send.call.describe(), reader.describe());
                format!("lost write: {what}, below offset {high} that {b} read: sent by {a}")
            });
        }
    }
}

/// A poll must not return a message whose only sends failed definitely.
pub(super) fn check_aborted_reads(
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
                anomalies.note(Maelstrom, || {
                    let what = format!("key {key} offset {offset} holds failed send {msg}");
                    format!("aborted read: {what}: {}", poll.call.describe())
                });
            }
        }
    }
}
