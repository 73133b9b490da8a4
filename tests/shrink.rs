//! Shrinking a failing simulation (`sim::shrink`): a deliberately broken node's failing run
//! shrinks, deterministically, to a much smaller run that fails the same check.

use std::collections::BTreeSet;

use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::sim::shrink::{rerun_command, shrink, Failure};
use maelstrom_loop::{Ctx, Error, Handler, Message};
use serde_json::json;

/// A g-set node that never gossips: right on one node, wrong on two or more.
#[derive(Default)]
struct LocalSet(BTreeSet<u64>);

impl Handler for LocalSet {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "add" => {
                self.0.insert(msg.field("element")?);
                ctx.reply(msg, &json!({"type": "add_ok"}))
            }
            "read" => ctx.reply(msg, &json!({"type": "read_ok", "value": self.0})),
            other => Err(Error::unsupported_type(other)),
        }
    }
}

#[test]
fn a_failing_run_shrinks_to_a_tenth_of_its_operations_and_still_fails() {
    let config = RunConfig::challenge("g-set").unwrap();
    let shrunk = shrink(&config, |c| run(c, |_| LocalSet::default())).expect("it fails");
    assert_eq!(shrunk.failure, Failure::Checker);
    assert!(!shrunk.report.is_valid(), "{}", shrunk.report);
    let (before, after) = (shrunk.original.ops, shrunk.size().ops);
    assert!(after * 10 < before, "{before} ops shrank only to {after}");
    let smallest = &shrunk.smallest;
    assert_eq!(smallest.node_count, 2, "one node is correct, two are not");
    assert_eq!(
        smallest.nemesis,
        Nemesis::None,
        "the bug needs no partition"
    );
    assert_eq!(smallest.seed, config.seed);
    assert!(shrunk.steps.iter().any(|s| s.kept) && shrunk.steps.iter().any(|s| !s.kept));
    // The command reruns exactly the smallest run.
    let command = rerun_command(smallest);
    assert!(
        command.contains("--only g-set --seed 1 --node-count 2"),
        "{command}"
    );
    assert!(command.contains("--nemesis none"), "{command}");
    // Deterministic: the same search finds the same run.
    let again = shrink(&config, |c| run(c, |_| LocalSet::default())).unwrap();
    assert_eq!(again.smallest, shrunk.smallest);
    assert_eq!(again.steps, shrunk.steps);
}

#[test]
fn a_passing_run_has_nothing_to_shrink() {
    let mut config = RunConfig::challenge("g-set").unwrap();
    config.node_count = 1;
    config.concurrency = 1;
    assert!(shrink(&config, |c| run(c, |_| LocalSet::default())).is_none());
}
