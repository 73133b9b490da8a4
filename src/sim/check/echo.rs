//! The echo checker: every acknowledged `echo` returns exactly the payload it was sent.
//!
//! Payloads are compared as JSON values (object key order does not matter). An echo answered
//! with a definite error (failed) is flagged, as Maelstrom's echo checker flags it: it
//! expects every completed echo to carry its payload. Indeterminate echoes (timeouts)
//! carry no reply to compare and are not flagged; latency is not judged.
//!
//! Both anomalies fail Maelstrom's echo checker too.

use crate::sim::check::{calls, short_json, Anomalies, Atom, CheckResult, Strictness::Maelstrom};
use crate::sim::history::{History, OpKind};

/// Checks an `echo` history.
pub fn check(history: &History) -> CheckResult {
    let mut anomalies = Anomalies::default();
    let mut acknowledged = 0;
    let calls = calls(history);
    for call in calls.iter().filter(|c| c.f == "echo" && c.is_ok()) {
        acknowledged += 1;
        let Some(output) = call.output else { continue };
        if Atom::from_value(output) != Atom::from_value(call.input) {
            anomalies.note(Maelstrom, || {
                let (sent, got) = (short_json(call.input), short_json(output));
                format!("echo sent {sent} but got {got}: {}", call.describe())
            });
        }
    }
    let mismatched = anomalies.count();
    let mut refused = 0;
    for call in calls
        .iter()
        .filter(|c| c.f == "echo" && c.kind == OpKind::Fail)
    {
        refused += 1;
        anomalies.note(Maelstrom, || {
            format!("echo answered with a definite error: {}", call.describe())
        });
    }
    let summary = format!(
        "{mismatched} of {acknowledged} acknowledged echoes returned a different payload; \
         {refused} answered with an error"
    );
    anomalies.finish(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::check::testing::op;
    use crate::sim::check::Validity;
    use crate::sim::history::OpKind::{Fail, Info, Ok};
    use serde_json::{json, Value};

    /// Any JSON comes back unchanged (Maelstrom's docs, Workloads: echo).
    #[test]
    fn faithful_echo_is_valid() {
        let mut h = History::new();
        op(
            &mut h,
            1,
            "echo",
            json!({"a": 1, "b": [2]}),
            0,
            Ok,
            json!({"b": [2], "a": 1}),
            1,
        );
        op(&mut h, 2, "echo", json!("hi"), 2, Ok, json!("hi"), 3);
        op(&mut h, 3, "echo", json!("lost"), 4, Info, Value::Null, 5);
        let r = check(&h);
        assert!(r.is_valid(), "{r:?}");
    }

    /// A node that reuses a buffer and replies with the previous request's payload.
    #[test]
    fn echo_of_a_stale_payload_is_invalid() {
        let mut h = History::new();
        op(&mut h, 1, "echo", json!("first"), 0, Ok, json!("first"), 1);
        op(&mut h, 1, "echo", json!("second"), 2, Ok, json!("first"), 3);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.summary.starts_with("1 of 2"), "{}", r.summary);
    }

    /// A node that refuses an echo with a definite error (say, 11 temporarily unavailable):
    /// Maelstrom's checker compares the failed operation's value with the payload and fails
    /// the run; a timeout it ignores.
    #[test]
    fn echo_answered_with_an_error_is_invalid_as_in_maelstrom() {
        let mut h = History::new();
        op(&mut h, 1, "echo", json!("a"), 0, Ok, json!("a"), 1);
        op(&mut h, 2, "echo", json!("b"), 2, Info, Value::Null, 3);
        assert!(check(&h).is_valid());
        op(&mut h, 3, "echo", json!("c"), 4, Fail, Value::Null, 5);
        let r = check(&h);
        assert_eq!(r.maelstrom_validity, Validity::Invalid, "{r:?}");
        assert!(
            r.summary.ends_with("1 answered with an error"),
            "{}",
            r.summary
        );
    }
}
