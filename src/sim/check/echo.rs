//! The echo checker: every acknowledged `echo` returns exactly the payload it was sent.
//!
//! Payloads are compared as JSON values (object key order does not matter). Failed and
//! indeterminate echoes carry no reply to compare and are not flagged; latency is not judged.

use crate::sim::check::{calls, short_json, Anomalies, Atom, CheckResult};
use crate::sim::history::History;

/// Checks an `echo` history.
pub fn check(history: &History) -> CheckResult {
    let mut anomalies = Anomalies::default();
    let mut acknowledged = 0;
    for call in calls(history).iter().filter(|c| c.f == "echo" && c.is_ok()) {
        acknowledged += 1;
        let Some(output) = call.output else { continue };
        if Atom::from_value(output) != Atom::from_value(call.input) {
            anomalies.note(|| {
                let (sent, got) = (short_json(call.input), short_json(output));
                format!("echo sent {sent} but got {got}: {}", call.describe())
            });
        }
    }
    let summary = format!(
        "{} of {acknowledged} acknowledged echoes returned a different payload",
        anomalies.count()
    );
    anomalies.finish(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::check::testing::op;
    use crate::sim::check::Validity;
    use crate::sim::history::OpKind::{Info, Ok};
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
}
