//! Whole simulated runs through `sim::runner`: the example nodes pass their challenge rows
//! with fixed seeds, deliberately broken nodes fail them, and a run is reproducible from its
//! seed (MAELSTROM.md "Workloads", "Traps").

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/echo.rs"]
mod echo;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/unique_ids.rs"]
mod unique_ids;

use maelstrom_loop::sim::runner::{run, RunConfig};
use maelstrom_loop::{Ctx, Error, Handler, Message};
use serde_json::json;

fn challenge(name: &str, seed: u64) -> RunConfig {
    let mut config = RunConfig::challenge(name).expect("known challenge");
    config.seed = seed;
    config
}

#[test]
fn echo_and_unique_ids_pass_their_challenges() {
    for seed in [1, 2] {
        let report = run(&challenge("1", seed), |_| echo::Echo);
        assert!(report.is_valid(), "{report}");
        assert!(report.ops_ok > 20, "{report}");
        let report = run(&challenge("2", seed), |_| unique_ids::UniqueIds::default());
        assert!(report.is_valid(), "{report}");
        assert!(report.ops_ok > 10_000, "{report}");
    }
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let a = run(&challenge("2", 5), |_| unique_ids::UniqueIds::default());
    let b = run(&challenge("2", 5), |_| unique_ids::UniqueIds::default());
    let c = run(&challenge("2", 6), |_| unique_ids::UniqueIds::default());
    assert_eq!(a.history, b.history);
    assert_ne!(a.history, c.history);
}

/// Hands out ids from a counter that every node starts at zero: duplicates across nodes.
#[derive(Default)]
struct CollidingIds(u64);

impl Handler for CollidingIds {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        self.0 += 1;
        ctx.reply(msg, &json!({"type": "generate_ok", "id": self.0}))
    }
}

/// Echoes, but adds a key the workload's schema does not have.
struct ChattyEcho;

impl Handler for ChattyEcho {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let echo: serde_json::Value = msg.field("echo")?;
        ctx.reply(
            msg,
            &json!({"type": "echo_ok", "echo": echo, "node": ctx.node_id()}),
        )
    }
}

/// A g-counter that never shares its count: final reads disagree with the total.
#[derive(Default)]
struct LonelyCounter(i64);

impl Handler for LonelyCounter {
    type Timer = ();
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "add" => {
                self.0 += msg.field::<i64>("delta")?;
                ctx.reply(msg, &json!({"type": "add_ok"}))
            }
            _ => ctx.reply(msg, &json!({"type": "read_ok", "value": self.0})),
        }
    }
}

#[test]
fn broken_nodes_fail_their_challenges() {
    let dupes = run(&challenge("2", 1), |_| CollidingIds::default());
    assert!(
        !dupes.is_valid() && dupes.protocol_errors.is_empty(),
        "the checker catches it: {dupes}"
    );
    let chatty = run(&challenge("1", 1), |_| ChattyEcho);
    assert!(!chatty.is_valid(), "{chatty}");
    assert!(
        chatty.protocol_errors.iter().any(|e| e.contains("`node`")),
        "{chatty}"
    );
    let lonely = run(&challenge("4", 1), |_| LonelyCounter::default());
    assert!(!lonely.is_valid(), "{lonely}");
}
