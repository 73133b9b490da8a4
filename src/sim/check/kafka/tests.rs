//! Tests of the kafka checker, on histories shaped like Maelstrom's.

use super::*;
use crate::sim::check::testing::{op, sorted};
use crate::sim::check::{Strictness, Validity};
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
    assert_eq!(r.maelstrom_validity, Validity::Invalid);
    assert!(r
        .anomalies
        .iter()
        .all(|a| a.strictness == Strictness::Maelstrom));
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
    // Jepsen sees the unsorted poll, not the request it answered.
    let classes: Vec<Strictness> = r.anomalies.iter().map(|a| a.strictness).collect();
    assert_eq!(
        classes,
        [Strictness::Maelstrom, Strictness::Beyond],
        "{r:?}"
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
    // Once a poll returns the message, the invented commit is all that is wrong, and
    // Jepsen's kafka checker sees no commits: Maelstrom passes the history.
    poll(&mut h, 4, 5, json!([[5, 10]]), 30);
    let r = check(&h);
    assert_eq!(r.validity, Validity::Invalid);
    assert_eq!(r.maelstrom_validity, Validity::Valid, "{r:?}");
    assert_eq!(r.anomalies.len(), 1, "{r:?}");
    assert_eq!(r.anomalies[0].strictness, Strictness::Beyond);
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
    assert!(
        r.anomalies[0].detail.contains("message 12"),
        "{:?}",
        r.anomalies
    );
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
