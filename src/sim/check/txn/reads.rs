//! Per-read anomalies of a transactional history: a transaction not seeing its own writes
//! (internal), values nobody wrote (garbage), repeated list elements (duplicate), and from
//! read committed up, reads of failed (G1a) or intermediate (G1b) writes.

use std::collections::{HashMap, HashSet};

use super::{Check, Flavor, Mop};
use crate::sim::check::{Atom, TxnModel};
use crate::sim::history::OpKind;

/// Per-read anomalies: internal, garbage, duplicate, G1a, G1b.
pub(super) fn check_reads(check: &mut Check<'_>) {
    for index in 0..check.txns.len() {
        // Own writes per key since the last read of it, and that last read.
        let mops = std::mem::take(&mut check.txns[index].mops);
        let mut own: HashMap<&Atom, (Option<&[Atom]>, Vec<Atom>)> = HashMap::new();
        for mop in &mops {
            match mop {
                Mop::Write(key, value) => own.entry(key).or_default().1.push(value.clone()),
                Mop::Read(key, Some(read)) => {
                    let (previous, written) = own.remove(key).unwrap_or_default();
                    check_internal(check, index, key, previous, &written, read);
                    check_read_values(check, index, key, read);
                    own.insert(key, (Some(read), Vec::new()));
                }
                Mop::Read(_, None) => {}
            }
        }
        drop(own);
        check.txns[index].mops = mops;
    }
}

fn check_internal(
    check: &mut Check<'_>,
    txn: usize,
    key: &Atom,
    previous: Option<&[Atom]>,
    written: &[Atom],
    read: &[Atom],
) {
    let consistent = match check.flavor {
        Flavor::Register => written.last().map_or(true, |last| read == [last.clone()]),
        Flavor::List if !check.at_least(TxnModel::ReadCommitted) => is_subsequence(written, read),
        Flavor::List => match previous {
            Some(previous) if check.at_least(TxnModel::Serializable) => {
                read.len() == previous.len() + written.len()
                    && read.starts_with(previous)
                    && read.ends_with(written)
            }
            _ => read.ends_with(written),
        },
    };
    if !consistent {
        let call = check.txns[txn].call;
        check.note("internal", || {
            let call = call.describe();
            format!("read of key {key} misses its own writes: {call}")
        });
    }
}

fn is_subsequence(needle: &[Atom], haystack: &[Atom]) -> bool {
    let mut rest = haystack.iter();
    needle.iter().all(|n| rest.any(|h| h == n))
}

fn check_read_values(check: &mut Check<'_>, txn: usize, key: &Atom, read: &[Atom]) {
    let call = check.txns[txn].call;
    let distinct: HashSet<&Atom> = read.iter().collect();
    if distinct.len() != read.len() {
        let what = format!("key {key} read with a repeated element");
        check.note("duplicate", || format!("{what}: {}", call.describe()));
    }
    for value in read {
        if check.writer(key, value).is_none() {
            let what = format!("key {key} value {value} never written");
            check.note("garbage", || format!("{what}: {}", call.describe()));
        }
    }
    if !check.at_least(TxnModel::ReadCommitted) {
        return;
    }
    for value in read {
        let Some(writer) = check.writer(key, value) else {
            continue;
        };
        let by = check.txns[writer.txn].call;
        if by.kind == OpKind::Fail {
            let what = format!("key {key} value {value} from failed {}", by.describe());
            check.note("G1a", || format!("{what}, read by {}", call.describe()));
        }
    }
    // Only the newest value read can be an intermediate state of its writer.
    let Some(value) = read.last() else { return };
    let Some(writer) = check.writer(key, value) else {
        return;
    };
    if writer.txn != txn && !writer.last_in_txn {
        let by = check.txns[writer.txn].call.describe();
        let what = format!("key {key} value {value} was later overwritten by its writer {by}");
        check.note("G1b", || format!("{what}, yet read by {}", call.describe()));
    }
}
