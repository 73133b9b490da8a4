//! Maelstrom's client lifecycle per workload: how an operation that timed out or got an
//! error is recorded, and whether the client survives it.
//!
//! Maelstrom's clients turn a timeout or an error into a completion with its `with-errors`
//! macro: `fail` when the error is definite or the operation is idempotent for that workload
//! (a read in broadcast and lin-kv, an assign in kafka), else `info`. The g-set, g-counter and
//! pn-counter clients do not use it, so every error and timeout there is an exception, which
//! Jepsen records as `info`. After an `info` Jepsen gives the worker a new process; if the
//! workload's client is not reusable (echo, broadcast, g-set, g-counter, pn-counter, kafka)
//! it closes the client and opens a new one under a new id, while a reusable client
//! (unique-ids, lin-kv, txn-rw-register, txn-list-append) keeps its id and skips the late
//! replies it later receives.

use crate::sim::check::Workload;
use crate::sim::history::OpKind;

/// Whether Maelstrom's client for `workload` is reusable (Jepsen's `client/Reusable`): it
/// keeps its id after an indeterminate operation instead of being closed and replaced.
pub fn client_is_reusable(workload: Workload) -> bool {
    matches!(
        workload,
        Workload::UniqueIds
            | Workload::LinKv
            | Workload::TxnRwRegister { .. }
            | Workload::TxnListAppend
    )
}

/// How Maelstrom's client records operation `f` of `workload` that got an error (`definite`
/// says whether its code is definite) or, with `definite` false, that timed out.
pub fn unanswered_kind(workload: Workload, f: &str, definite: bool) -> OpKind {
    let idempotent = match workload {
        Workload::Broadcast | Workload::LinKv => f == "read",
        Workload::Kafka => f == "assign",
        // No `with-errors`: every error is an exception, recorded as `info`.
        Workload::GSet | Workload::GCounter | Workload::PnCounter => return OpKind::Info,
        _ => false,
    };
    if definite || idempotent {
        OpKind::Fail
    } else {
        OpKind::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::check::TxnModel;

    /// One row per workload and operation: (workload, f, reusable, after a timeout, after a
    /// definite error), read from each Maelstrom v0.2.3 workload's client.
    #[test]
    fn each_workload_records_timeouts_and_errors_as_maelstrom_does() {
        use OpKind::{Fail, Info};
        let rw = Workload::TxnRwRegister {
            model: TxnModel::ReadCommitted,
        };
        let rows = [
            (Workload::Echo, "echo", false, Info, Fail),
            (Workload::UniqueIds, "generate", true, Info, Fail),
            (Workload::Broadcast, "broadcast", false, Info, Fail),
            (Workload::Broadcast, "read", false, Fail, Fail),
            (Workload::GSet, "add", false, Info, Info),
            (Workload::GSet, "read", false, Info, Info),
            (Workload::GCounter, "add", false, Info, Info),
            (Workload::PnCounter, "read", false, Info, Info),
            (Workload::Kafka, "send", false, Info, Fail),
            (Workload::Kafka, "assign", false, Fail, Fail),
            (Workload::LinKv, "read", true, Fail, Fail),
            (Workload::LinKv, "cas", true, Info, Fail),
            (rw, "txn", true, Info, Fail),
            (Workload::TxnListAppend, "txn", true, Info, Fail),
        ];
        for (workload, f, reusable, timeout, definite) in rows {
            let row = (workload, f);
            assert_eq!(client_is_reusable(workload), reusable, "{row:?}");
            assert_eq!(unanswered_kind(workload, f, false), timeout, "{row:?}");
            assert_eq!(unanswered_kind(workload, f, true), definite, "{row:?}");
        }
    }
}
