//! The unique-ids checker: every acknowledged `generate` returned a distinct id.
//!
//! Ids are compared as JSON values (`1` and `"1"` differ; object key order does not matter).
//! Failed and indeterminate generates returned nothing and are ignored; the checker does not
//! judge the ids' shape or availability.
//!
//! A duplicate fails Jepsen's unique-ids checker, which Maelstrom uses, too.

use std::collections::HashMap;

use crate::sim::check::{calls, Anomalies, Atom, Call, CheckResult, Strictness::Maelstrom};
use crate::sim::history::History;

/// Checks a `unique-ids` history.
pub fn check(history: &History) -> CheckResult {
    let calls = calls(history);
    let mut anomalies = Anomalies::default();
    let mut first: HashMap<Atom, &Call<'_>> = HashMap::new();
    let mut generated = 0;
    let mut duplicated = 0;
    for call in calls.iter().filter(|c| c.f == "generate" && c.is_ok()) {
        let Some(output) = call.output else { continue };
        generated += 1;
        let id = Atom::from_value(output);
        if let Some(earlier) = first.get(&id) {
            duplicated += 1;
            anomalies.note(Maelstrom, || {
                let (a, b) = (earlier.describe(), call.describe());
                format!("id {id} generated twice: {a} and {b}")
            });
        } else {
            first.insert(id, call);
        }
    }
    let summary = format!("{duplicated} duplicate ids among {generated} generated");
    anomalies.finish(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::check::testing::op;
    use crate::sim::check::Validity;
    use crate::sim::history::OpKind::Ok;
    use serde_json::{json, Value};

    /// Ids of any JSON shape are fine as long as they differ (Maelstrom's docs, unique-ids).
    #[test]
    fn distinct_ids_are_valid() {
        let mut h = History::new();
        op(&mut h, 1, "generate", Value::Null, 0, Ok, json!("n0-1"), 1);
        op(&mut h, 2, "generate", Value::Null, 0, Ok, json!("n1-1"), 1);
        op(&mut h, 3, "generate", Value::Null, 2, Ok, json!(1), 3);
        op(&mut h, 4, "generate", Value::Null, 2, Ok, json!("1"), 3);
        let r = check(&h);
        assert!(r.is_valid(), "{r:?}");
    }

    /// Two nodes that count from zero without their node id collide.
    #[test]
    fn per_node_counters_without_node_id_collide() {
        let mut h = History::new();
        op(
            &mut h,
            1,
            "generate",
            Value::Null,
            0,
            Ok,
            json!([0, "x"]),
            1,
        );
        op(
            &mut h,
            2,
            "generate",
            Value::Null,
            0,
            Ok,
            json!([0, "x"]),
            1,
        );
        op(&mut h, 3, "generate", Value::Null, 2, Ok, json!(7), 3);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(
            r.summary.starts_with("1 duplicate ids among 3"),
            "{}",
            r.summary
        );
    }
}
