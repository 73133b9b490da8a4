//! The counter nodes (examples/pn_counter.rs and examples/g_counter.rs, the same `Counter`
//! with and without negative deltas), in process through the sans-IO core and as real
//! processes. Checks Maelstrom's docs "Workloads" (g-counter, pn-counter: `add {delta}` ->
//! `add_ok`, `read` -> `read_ok {value}`), "Errors" (10 and 12), and the final-read rule:
//! after partitions heal, every node reads exactly the acknowledged total.

// The example's `main` is not called here; its `pub` handler is for includes like this.
// g_counter.rs includes pn_counter.rs, so both counters come through it.
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/g_counter.rs"]
mod g_counter;
mod harness;

use g_counter::pn_counter::PnCounter;
use g_counter::GCounter;
use harness::{challenge, harsher, run_available, Faults, Process, Router};
use maelstrom_loop::{Duration, Handler};
use serde_json::{json, Value};

const DELAY: Duration = Duration::from_millis(5);

fn add<H: Handler>(router: &mut Router<H>, node: usize, delta: i64) -> Value {
    router.request(node, json!({"type": "add", "delta": delta}))
}

fn read<H: Handler>(router: &mut Router<H>, node: usize) -> i64 {
    let reply = router.request(node, json!({"type": "read"}));
    assert_eq!(reply["type"], "read_ok", "{reply}");
    assert_eq!(
        reply.as_object().unwrap().len(),
        4,
        "only type, value and ids: {reply}"
    );
    reply["value"].as_i64().expect("an integer value")
}

/// A fixed, varied sequence of deltas: splitmix-style mixing of the index.
fn delta(i: u64, negative: bool) -> i64 {
    let mut x = i
        .wrapping_add(0x9e37_79b9_7f4a_7c15)
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 31;
    let magnitude = (x % 50) as i64;
    if negative && x % 3 == 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Adds on every node through two partitions (one isolating a node, one splitting the
/// cluster), then heals and expects every node to read exactly the total.
fn converges_to_the_exact_total<H: Handler>(mut router: Router<H>, negative: bool) {
    let count = router.nodes.len();
    let mut total = 0;
    let mut i = 0;
    for sides in [
        &[&[0usize][..], &[1, 2, 3, 4][..]][..],
        &[&[0, 1, 2], &[3, 4]],
    ] {
        router.partition(sides);
        for _ in 0..40 {
            let d = delta(i, negative);
            assert_eq!(
                add(&mut router, (i as usize * 7) % count, d)["type"],
                "add_ok"
            );
            total += d;
            i += 1;
            router.run_for(Duration::from_millis(50));
        }
        // Both sides still answer reads, each with what it has seen.
        assert_ne!(read(&mut router, 0), total, "the partition hid some adds");
        router.heal();
        router.run_for(Duration::from_millis(300));
    }
    router.run_for(Duration::from_secs(2));
    for node in 0..count {
        assert_eq!(read(&mut router, node), total, "n{node}");
    }
}

#[test]
fn pn_counter_reads_the_exact_total_after_partitions_heal() {
    converges_to_the_exact_total(Router::new(5, DELAY, |_| PnCounter::default()), true);
}

#[test]
fn g_counter_reads_the_exact_total_after_partitions_heal() {
    converges_to_the_exact_total(Router::new(5, DELAY, |_| GCounter::default()), false);
}

#[test]
fn duplicated_lost_and_reordered_gossip_counts_each_add_once() {
    let mut router = Router::new(3, DELAY, |_| PnCounter::default());
    router.faults = Faults {
        drop_every: 4,
        duplicate_every: 3,
        slow_every: 5,
    };
    let mut total = 0;
    for i in 0..90 {
        let d = delta(i, true);
        add(&mut router, i as usize % 3, d);
        total += d;
        router.run_for(Duration::from_millis(3 + i % 40));
    }
    // Maelstrom's quiet period before its final reads: a lost batch or ack costs one ack
    // timeout, and a resend can be lost again.
    router.run_for(Duration::from_secs(10));
    assert!(router.dropped > 0, "the faults did drop lines");
    for node in 0..3 {
        assert_eq!(read(&mut router, node), total, "n{node}");
        assert_eq!(router.handler(node).undelivered(), 0, "n{node}");
    }
}

/// Regression: the gossip library dropped an ack that came after its 1 s ack timeout.
/// With a slower round trip (here 1.2 s, `--latency 600`) no ack ever counted, and every
/// snapshot past the first batch (1,024 of them, one per busy gossip tick) never left the
/// node, so peers' final reads stayed behind. Now a late ack still counts.
#[test]
fn snapshots_past_one_batch_arrive_when_every_round_trip_is_slower_than_a_second() {
    let mut router = Router::new(2, Duration::from_millis(600), |_| PnCounter::default());
    let mut total = 0;
    for i in 0..1_100 {
        let d = delta(i, true).max(1); // never zero: each tick queues a snapshot
        add(&mut router, 0, d);
        total += d;
        router.run_for(Duration::from_millis(100));
    }
    router.run_for(Duration::from_secs(10));
    assert_eq!(read(&mut router, 1), total, "n1 has every add");
    assert_eq!(router.handler(0).undelivered(), 0, "and acknowledged them");
}

#[test]
fn a_quiet_counter_sends_nothing() {
    let mut router = Router::new(3, DELAY, |_| PnCounter::default());
    add(&mut router, 2, -4);
    add(&mut router, 2, 9);
    router.run_for(Duration::from_secs(1));
    let before = router.delivered;
    router.run_for(Duration::from_secs(5));
    assert_eq!(router.delivered, before);
    assert_eq!((read(&mut router, 0), read(&mut router, 1)), (5, 5));
}

#[test]
fn g_counter_refuses_negative_deltas_and_pn_counter_takes_them() {
    let mut g = Router::new(1, DELAY, |_| GCounter::default());
    let reply = add(&mut g, 0, -3);
    assert_eq!(
        (&reply["type"], &reply["code"]),
        (&json!("error"), &json!(12)),
        "{reply}"
    );
    assert_eq!(add(&mut g, 0, 0)["type"], "add_ok");
    assert_eq!(read(&mut g, 0), 0);

    let mut pn = Router::new(1, DELAY, |_| PnCounter::default());
    assert_eq!(add(&mut pn, 0, -3)["type"], "add_ok");
    assert_eq!(read(&mut pn, 0), -3);
}

/// One row per bad input: the line, and the error code the node must answer with.
#[test]
fn bad_requests_are_answered_with_the_right_error_and_change_nothing() {
    let rows: &[(&str, u64)] = &[
        (
            r#"{"src":"c1","dest":"n0","body":{"type":"cas","msg_id":3}}"#,
            10,
        ),
        (
            r#"{"src":"c1","dest":"n0","body":{"type":"add","msg_id":4}}"#,
            12,
        ),
        (
            r#"{"src":"c1","dest":"n0","body":{"type":"add","msg_id":5,"delta":"1"}}"#,
            12,
        ),
        (
            r#"{"src":"c1","dest":"n0","body":{"type":"add","msg_id":6,"delta":1.5}}"#,
            12,
        ),
        (
            r#"{"src":"n1","dest":"n0","body":{"type":"gossip","msg_id":7,"from":0,"items":[5]}}"#,
            12,
        ),
    ];
    let mut router = Router::new(2, DELAY, |_| PnCounter::default());
    for (line, code) in rows {
        let out = router.raw(0, line);
        assert_eq!(out.len(), 1, "{line}: {out:?}");
        let body = &out[0]["body"];
        assert_eq!(
            (&body["type"], &body["code"]),
            (&json!("error"), &json!(code)),
            "{line}"
        );
    }
    assert_eq!(read(&mut router, 0), 0);
}

fn process_round_trip(name: &str) {
    let mut node = Process::spawn(name);
    node.init("n1", &["n0", "n1"]);
    node.send(r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":2,"delta":7}}"#);
    assert_eq!(node.recv()["body"]["type"], "add_ok");
    node.send(r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":3}}"#);
    let reply = node.recv();
    assert_eq!(reply["body"]["value"], 7, "{reply}");
    node.send(r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":4,"delta":null}}"#);
    let reply = node.recv();
    assert_eq!(
        (&reply["body"]["code"], &reply["body"]["in_reply_to"]),
        (&json!(12), &json!(4))
    );
}

#[test]
fn g_counter_process_answers_init_add_read_and_malformed_adds() {
    process_round_trip("g_counter");
}

#[test]
fn pn_counter_process_answers_init_add_read_and_malformed_adds() {
    process_round_trip("pn_counter");
}

/// Challenge 4 and the pn-counter run in the simulator, as on their command lines and
/// harsher: every final read is the acknowledged total, and every add and read is answered.
#[test]
fn simulated_counter_runs_are_valid() {
    for seed in [11, 12] {
        let report = run_available(&challenge("4", seed), |_| GCounter::default());
        // One snapshot per busy tick per peer, whatever the rate: well under one per add.
        assert!(report.msgs_per_op < 1.5, "{report}");
        run_available(&harsher("4", seed), |_| GCounter::default());
        run_available(&challenge("pn-counter", seed), |_| PnCounter::default());
        run_available(&harsher("pn-counter", seed), |_| PnCounter::default());
    }
}
