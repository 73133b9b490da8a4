//! The set checker, shared by `broadcast` (adds are `broadcast`) and `g-set` (adds are `add`).
//!
//! Modelled on Jepsen's set-full checker as Maelstrom uses it. Invalid when:
//! - an element known to be in the set (acknowledged, or seen by any read) is missing from a
//!   final read ("lost"): after the heal and the quiet period every node must have it;
//! - a read returns an element nobody tried to add ("unexpected");
//! - a read returns an element twice ("duplicated");
//! - a read's value is not an array ("malformed"), or there is no final read at all.
//!
//! Of these, Maelstrom (Jepsen's set-full checker) fails a run only for a lost element whose
//! last read was a miss: invoked after the element was known and after every read that
//! returned it. Every other lost element, and unexpected, duplicated or malformed reads, or
//! no final read, are beyond Maelstrom: set-full ignores elements nobody added and reads
//! each read as a set.
//!
//! Reported but never failing: "stale" elements, acknowledged but missing from a non-final
//! read that started after the acknowledgement; eventual consistency allows that. An element
//! whose add failed definitely but shows up in a read is not flagged (Jepsen counts every
//! attempt as possible).

use std::collections::{HashMap, HashSet};

use crate::sim::check::{
    calls, list, Anomalies, Atom, Call, CheckResult,
    Strictness::{Beyond, Maelstrom},
};
use crate::sim::history::History;
use crate::time::Instant;

/// Checks a grow-only set history whose add operations are named `add_f`.
pub fn check(history: &History, add_f: &str) -> CheckResult {
    let calls = calls(history);
    let mut anomalies = Anomalies::default();
    let adds = Adds::collect(&calls, add_f);
    let reads = parse_reads(&calls, &mut anomalies);

    let unexpected = find_unexpected(&reads, &adds, &mut anomalies);
    let duplicated = reads.iter().filter(|r| r.duplicated).count();
    let finals: Vec<&Read<'_>> = reads.iter().filter(|r| r.call.final_read).collect();
    let stale = count_stale(&reads, &adds.acked);
    let tail = format!(
        "{} unexpected {}; {duplicated} reads with duplicates; {stale} stale (informational)",
        unexpected.len(),
        list(&unexpected)
    );
    if finals.is_empty() {
        anomalies.note(Beyond, || {
            "no final reads: nothing shows the set converged".to_owned()
        });
        return anomalies.finish(format!("no final reads; {tail}"));
    }
    let lost = find_lost(&reads, &finals, &adds, &mut anomalies);
    let summary = format!(
        "lost {} of {} acknowledged elements: {}; {tail}",
        lost.len(),
        adds.acked.len(),
        list(&lost)
    );
    anomalies.finish(summary)
}

/// What the clients tried to add and what was acknowledged.
struct Adds {
    /// Element -> history index of its (last) add invocation.
    attempted: HashMap<Atom, usize>,
    /// Element -> completion time of its acknowledged add.
    acked: HashMap<Atom, Instant>,
}

impl Adds {
    fn collect(calls: &[Call<'_>], add_f: &str) -> Adds {
        let mut adds = Adds {
            attempted: HashMap::new(),
            acked: HashMap::new(),
        };
        for call in calls.iter().filter(|c| c.f == add_f) {
            let element = Atom::from_value(call.input);
            if let (true, Some(end)) = (call.is_ok(), call.end) {
                adds.acked.insert(element.clone(), end);
            }
            adds.attempted.insert(element, call.index);
        }
        adds
    }
}

/// An acknowledged read and the elements it returned.
struct Read<'a> {
    call: &'a Call<'a>,
    elements: HashSet<Atom>,
    duplicated: bool,
}

fn parse_reads<'a>(calls: &'a [Call<'a>], anomalies: &mut Anomalies) -> Vec<Read<'a>> {
    let mut reads = Vec::new();
    for call in calls.iter().filter(|c| c.f == "read" && c.is_ok()) {
        let Some(items) = call.output.and_then(|v| v.as_array()) else {
            anomalies.note(Beyond, || {
                format!("malformed read (not an array): {}", call.describe())
            });
            continue;
        };
        let elements: HashSet<Atom> = items.iter().map(Atom::from_value).collect();
        let duplicated = elements.len() != items.len();
        if duplicated {
            anomalies.note(Beyond, || {
                format!("read returned an element twice: {}", call.describe())
            });
        }
        reads.push(Read {
            call,
            elements,
            duplicated,
        });
    }
    reads
}

/// Elements read that no client ever tried to add, sorted.
fn find_unexpected(reads: &[Read<'_>], adds: &Adds, anomalies: &mut Anomalies) -> Vec<Atom> {
    let mut unexpected = HashSet::new();
    for read in reads {
        let mut fresh: Vec<&Atom> = read
            .elements
            .iter()
            .filter(|e| !adds.attempted.contains_key(e))
            .collect();
        fresh.sort();
        for element in fresh {
            if unexpected.insert(element.clone()) {
                anomalies.name_op(read.call.index);
                anomalies.note(Beyond, || {
                    let call = read.call.describe();
                    format!("element {element} was never added but was read: {call}")
                });
            }
        }
    }
    let mut sorted: Vec<Atom> = unexpected.into_iter().collect();
    sorted.sort();
    sorted
}

/// Known elements (acknowledged or observed) missing from at least one final read, sorted.
fn find_lost(
    reads: &[Read<'_>],
    finals: &[&Read<'_>],
    adds: &Adds,
    anomalies: &mut Anomalies,
) -> Vec<Atom> {
    let mut known: HashSet<&Atom> = adds.acked.keys().collect();
    for read in reads {
        known.extend(
            read.elements
                .iter()
                .filter(|e| adds.attempted.contains_key(e)),
        );
    }
    let mut known: Vec<&Atom> = known.into_iter().collect();
    known.sort();
    let mut lost = Vec::new();
    for element in known {
        let missing: Vec<&Call<'_>> = finals
            .iter()
            .filter(|r| !r.elements.contains(element))
            .map(|r| r.call)
            .collect();
        if missing.is_empty() {
            continue;
        }
        if let Some(&add) = adds.attempted.get(element) {
            anomalies.name_op(add);
        }
        missing
            .iter()
            .for_each(|read| anomalies.name_op(read.index));
        let missing: Vec<&str> = missing.iter().map(|read| read.node).collect();
        let strictness = match jepsen_lost(element, reads, adds) {
            true => Maelstrom,
            false => Beyond,
        };
        anomalies.note(strictness, || {
            let how = match adds.acked.get(element) {
                Some(at) => format!("acknowledged at {at}"),
                None => "observed by a read".to_owned(),
            };
            format!("element {element} ({how}) missing from final reads on {missing:?}")
        });
        lost.push(element.clone());
    }
    lost
}

/// Whether Jepsen's set-full checker, which Maelstrom runs for broadcast and g-set, calls
/// `element` lost: it became known (its add acknowledged, or a read returned it), and the
/// read invoked last among those missing it was invoked after that, and after every read
/// that returned it. A final read missing an element that a later-invoked read returned is
/// only stale to Jepsen.
fn jepsen_lost(element: &Atom, reads: &[Read<'_>], adds: &Adds) -> bool {
    let seen_at = reads
        .iter()
        .filter(|r| r.elements.contains(element))
        .filter_map(|r| r.call.end)
        .min();
    let known = [adds.acked.get(element).copied(), seen_at]
        .into_iter()
        .flatten()
        .min();
    let last = |present: bool| {
        reads
            .iter()
            .filter(|r| r.elements.contains(element) == present)
            .max_by_key(|r| r.call.index)
            .map(|r| r.call)
    };
    match (known, last(false), last(true)) {
        (Some(known), Some(absent), present) => {
            absent.start >= known && present.map_or(true, |p| p.index < absent.index)
        }
        _ => false,
    }
}

/// Acknowledged elements missing from some non-final read that started after the
/// acknowledgement. Walks reads from the latest, so a healthy history costs one pass over
/// the reads' elements.
fn count_stale(reads: &[Read<'_>], acked: &HashMap<Atom, Instant>) -> usize {
    let mut interim: Vec<&Read<'_>> = reads.iter().filter(|r| !r.call.final_read).collect();
    interim.sort_by_key(|r| std::cmp::Reverse(r.call.start));
    // Elements present in every read seen so far (the latest ones).
    let mut unresolved: HashSet<&Atom> = acked.keys().collect();
    let mut stale = 0;
    for read in interim {
        let present = read
            .elements
            .iter()
            .filter(|e| unresolved.contains(e))
            .count();
        if present == unresolved.len() {
            continue;
        }
        // `read` is the latest read missing these elements.
        unresolved.retain(|element| {
            let keep = read.elements.contains(*element);
            if !keep && acked.get(*element).is_some_and(|at| *at < read.call.start) {
                stale += 1;
            }
            keep
        });
    }
    stale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::check::testing::{hang, op, sorted};
    use crate::sim::check::{Strictness, Validity};
    use crate::sim::history::OpKind::{Info, Ok};
    use crate::time::Instant;
    use serde_json::{json, Value};

    /// Final reads on three nodes after broadcasts 0..4 (Maelstrom's docs, Workloads: broadcast).
    fn final_reads(h: &mut History, contents: [Value; 3]) {
        for (i, read) in contents.into_iter().enumerate() {
            let process = 100 + i as u64;
            let node = format!("n{i}");
            let at = Instant::from_millis(1_000);
            h.push_final_invoke(process, "read", Value::Null, at, &node);
            h.push_completion(process, Ok, read, Instant::from_millis(1_001));
        }
    }

    fn broadcasts(h: &mut History) {
        for v in 0..4u64 {
            op(
                h,
                v,
                "broadcast",
                json!(v),
                10 * v,
                Ok,
                json!(v),
                10 * v + 5,
            );
        }
    }

    /// Every acknowledged broadcast reaches every node: valid, and a stale read is only counted.
    #[test]
    fn converged_broadcast_is_valid_and_stale_reads_do_not_fail() {
        let mut h = History::new();
        broadcasts(&mut h);
        // Read on another node before gossip arrived: missing 0, acknowledged at 5 ms.
        op(&mut h, 9, "read", Value::Null, 20, Ok, json!([1]), 21);
        let all = json!([0, 1, 2, 3]);
        final_reads(&mut h, [all.clone(), json!([3, 2, 1, 0]), all]);
        let r = check(&sorted(h), "broadcast");
        assert!(r.is_valid(), "{r:?}");
        assert!(r.summary.contains("lost 0 of 4"), "{}", r.summary);
        assert!(r.summary.contains("1 stale"), "{}", r.summary);
    }

    /// A node that never forwards: the broadcasts it received are missing elsewhere.
    #[test]
    fn node_that_does_not_forward_loses_broadcasts() {
        let mut h = History::new();
        broadcasts(&mut h);
        let all = json!([0, 1, 2, 3]);
        final_reads(&mut h, [all.clone(), json!([0, 2]), all.clone()]);
        let r = check(&sorted(h), "broadcast");
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.summary.starts_with("lost 2 of 4"), "{}", r.summary);
        assert!(
            r.anomalies[0].detail.contains("element 1"),
            "{:?}",
            r.anomalies
        );
        // n2's read, invoked after n1's, returned both: to Jepsen's set-full they are
        // stable, not lost, so only the simulator fails the run.
        assert_eq!(r.maelstrom_validity, Validity::Valid, "{r:?}");
        assert_eq!(r.anomalies[0].strictness, Strictness::Beyond);

        // When the last read invoked is the one missing them, Jepsen calls them lost too.
        let mut h = History::new();
        broadcasts(&mut h);
        final_reads(&mut h, [all.clone(), all, json!([0, 2])]);
        let r = check(&sorted(h), "broadcast");
        assert_eq!(r.maelstrom_validity, Validity::Invalid, "{r:?}");
        assert!(r
            .anomalies
            .iter()
            .all(|a| a.strictness == Strictness::Maelstrom));
    }

    /// A timed-out add that a read saw must survive too; one never seen may be absent.
    #[test]
    fn observed_indeterminate_add_must_reach_final_reads() {
        let mut h = History::new();
        broadcasts(&mut h);
        hang(&mut h, 50, "broadcast", json!(7), 30);
        hang(&mut h, 51, "broadcast", json!(8), 31);
        op(&mut h, 9, "read", Value::Null, 40, Ok, json!([0, 7]), 41);
        let all = json!([0, 1, 2, 3]);
        final_reads(&mut h, [all.clone(), all.clone(), all]);
        let r = check(&sorted(h), "broadcast");
        assert_eq!(r.validity, Validity::Invalid);
        assert!(
            r.anomalies[0].detail.contains("element 7"),
            "{:?}",
            r.anomalies
        );
    }

    /// A g-set node that invents elements (say, echoing a counter) is caught.
    #[test]
    fn gset_read_of_unknown_element_is_unexpected() {
        let mut h = History::new();
        op(&mut h, 1, "add", json!(5), 0, Ok, json!(5), 1);
        op(&mut h, 2, "read", Value::Null, 2, Ok, json!([5, 6]), 3);
        let five = json!([5]);
        final_reads(&mut h, [five.clone(), five.clone(), five]);
        let r = check(&sorted(h), "add");
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.summary.contains("1 unexpected [6]"), "{}", r.summary);
        // Jepsen's set-full ignores elements nobody added.
        assert_eq!(r.maelstrom_validity, Validity::Valid, "{r:?}");
    }

    /// Without final reads nothing shows convergence; duplicates in a read fail too.
    #[test]
    fn missing_final_reads_and_duplicates_are_invalid() {
        let mut h = History::new();
        op(&mut h, 1, "add", json!(5), 0, Ok, json!(5), 1);
        op(&mut h, 2, "read", Value::Null, 2, Ok, json!([5, 5]), 3);
        op(&mut h, 3, "read", Value::Null, 4, Info, Value::Null, 5);
        let r = check(&sorted(h), "add");
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.summary.starts_with("no final reads"), "{}", r.summary);
        assert_eq!(r.anomalies.len(), 2, "{:?}", r.anomalies);
        assert_eq!(r.maelstrom_validity, Validity::Valid, "{r:?}");
    }
}
