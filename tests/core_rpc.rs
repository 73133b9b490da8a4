//! The sans-IO core driven by hand at explicit virtual times: RPC continuations (reply, error
//! reply, timeout, late reply, slot reuse), timers, handler errors and panics. Exact output
//! is asserted, including that nothing more came out (Maelstrom's docs "Errors", "Init").

use maelstrom_loop::{Ctx, Duration, Error, ErrorCode, Handler, Instant, Message, Node, Origin};
use serde_json::{json, Value};

#[derive(Clone, Debug)]
enum Tick {
    Once(&'static str),
    Every,
}

/// Records what happened to it; each client message type triggers one behaviour.
#[derive(Default)]
struct Probe {
    log: Vec<String>,
    counter: u64,
    held: Vec<Origin>,
}

impl Handler for Probe {
    type Timer = Tick;
    const MAX_LINE_BYTES: usize = 1_000;

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        self.counter += 1;
        match msg.kind() {
            "call" => {
                let tag: u64 = msg.field("tag")?;
                let origin = msg.origin();
                ctx.rpc(
                    "n2",
                    &json!({"type": "ping", "tag": tag}),
                    Duration::from_secs(1),
                    move |p: &mut Probe, ctx, reply| {
                        let seen = match reply {
                            Ok(m) => format!("ok tag={}", m.field::<u64>("tag")?),
                            Err(e) => format!("err {}", e.code().code()),
                        };
                        p.log.push(format!("{tag}: {seen}"));
                        ctx.reply(&origin, &json!({"type": "call_ok"}))
                    },
                )?;
                Ok(())
            }
            "arm" => {
                ctx.set_timer(Duration::from_millis(5), Tick::Once("b"));
                ctx.set_timer(Duration::from_millis(2), Tick::Once("a"));
                ctx.set_interval(Duration::from_millis(10), Tick::Every);
                let doomed = ctx.set_timer(Duration::from_millis(3), Tick::Once("cancelled"));
                assert!(ctx.cancel_timer(doomed));
                self.log.push("armed".into());
                Ok(())
            }
            "fail" => Err(Error::new(ErrorCode::PreconditionFailed, "nope")),
            "boom" => panic!("handler bug"),
            "count" => ctx.reply(msg, &json!({"type": "count_ok", "value": self.counter})),
            "hold" => {
                self.held.push(msg.origin());
                Ok(())
            }
            "release" => {
                let as_error: bool = msg.field("error")?;
                for origin in std::mem::take(&mut self.held) {
                    if as_error {
                        ctx.reply_error(&origin, ErrorCode::Timeout, "late");
                    } else {
                        ctx.reply(&origin, &json!({"type": "hold_ok"}))?;
                    }
                }
                Ok(())
            }
            "flood" => ctx.send_to_peers(&json!({"type": "gossip", "n": self.counter})),
            "roll" => {
                let value = ctx.rng().below(1_000_000);
                ctx.reply(msg, &json!({"type": "roll_ok", "value": value}))
            }
            _ => Err(Error::not_supported("probe")),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Tick) -> Result<(), Error> {
        let name = match timer {
            Tick::Once(name) => name,
            Tick::Every => "every",
        };
        self.log
            .push(format!("{name} at {}ms", ctx.now().as_millis()));
        Ok(())
    }
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn line(src: &str, body: Value) -> Vec<u8> {
    json!({"src": src, "dest": "n1", "body": body})
        .to_string()
        .into_bytes()
}

/// Takes the node's output as JSON messages.
fn take(node: &mut Node<Probe>) -> Vec<Value> {
    let out = String::from_utf8(node.output().to_vec()).unwrap();
    node.clear_output();
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn node() -> Node<Probe> {
    let mut node = Node::new(Probe::default());
    node.handle_line(
        ms(0),
        &line(
            "c0",
            json!({"type": "init", "msg_id": 1, "node_id": "n1", "node_ids": ["n1", "n2"]}),
        ),
    );
    let out = take(&mut node);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["body"]["type"], "init_ok");
    node
}

/// Sends a `call` and returns the msg_id of the ping it caused.
fn call(node: &mut Node<Probe>, now: Instant, tag: u64) -> u64 {
    node.handle_line(
        now,
        &line("c1", json!({"type": "call", "msg_id": tag, "tag": tag})),
    );
    let out = take(node);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["dest"], "n2");
    assert_eq!(out[0]["body"]["tag"], tag);
    out[0]["body"]["msg_id"].as_u64().unwrap()
}

#[test]
fn a_reply_runs_the_continuation_once_and_a_duplicate_is_dropped() {
    let mut node = node();
    let ping = call(&mut node, ms(0), 7);
    assert_eq!(node.next_deadline(), Some(ms(1_000)), "the RPC deadline");
    let reply = line(
        "n2",
        json!({"type": "ping_ok", "in_reply_to": ping, "tag": 7}),
    );
    node.handle_line(ms(3), &reply);
    let out = take(&mut node);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["body"]["type"], "call_ok");
    assert_eq!(out[0]["body"]["in_reply_to"], 7);
    node.handle_line(ms(4), &reply);
    assert!(take(&mut node).is_empty());
    assert_eq!(node.handler().log, ["7: ok tag=7"]);
    assert_eq!(node.pending_rpcs(), 0);
    assert_eq!(node.next_deadline(), None, "the deadline went with the RPC");
}

#[test]
fn an_error_reply_arrives_as_err_with_its_code() {
    let mut node = node();
    let ping = call(&mut node, ms(0), 1);
    node.handle_line(
        ms(1),
        &line(
            "n2",
            json!({"type": "error", "code": 22, "text": "x", "in_reply_to": ping}),
        ),
    );
    assert_eq!(node.handler().log, ["1: err 22"]);
}

#[test]
fn a_silent_peer_times_out_exactly_at_the_deadline_and_leaks_nothing() {
    let mut node = node();
    let ping = call(&mut node, ms(0), 2);
    node.handle_timeout(ms(999));
    assert!(node.handler().log.is_empty(), "not before the deadline");
    node.handle_timeout(ms(1_000));
    assert_eq!(node.handler().log, ["2: err 0"]);
    assert_eq!(node.pending_rpcs(), 0);
    assert_eq!(
        take(&mut node).len(),
        1,
        "the continuation answered the client"
    );
    node.handle_line(
        ms(1_500),
        &line(
            "n2",
            json!({"type": "ping_ok", "in_reply_to": ping, "tag": 2}),
        ),
    );
    assert_eq!(
        node.handler().log.len(),
        1,
        "a late reply does not run it again"
    );
    assert!(take(&mut node).is_empty());
}

#[test]
fn ten_thousand_rpcs_with_slot_reuse_never_misroute() {
    let mut node = node();
    let mut pings = Vec::new();
    for round in 0..100u64 {
        for i in 0..100u64 {
            let tag = round * 100 + i;
            pings.push((tag, call(&mut node, ms(round), tag)));
        }
        // Answer in reverse order so slots are freed and reused out of order.
        for (tag, ping) in pings.drain(..).rev() {
            node.handle_line(
                ms(round),
                &line(
                    "n2",
                    json!({"type": "ping_ok", "in_reply_to": ping, "tag": tag}),
                ),
            );
        }
        take(&mut node);
    }
    assert_eq!(node.handler().log.len(), 10_000);
    for entry in &node.handler().log {
        let (tag, seen) = entry.split_once(": ").unwrap();
        assert_eq!(seen, format!("ok tag={tag}"));
    }
}

#[test]
fn timers_fire_in_order_periodic_repeats_cancelled_never_fires() {
    let mut node = node();
    node.handle_line(ms(0), &line("c1", json!({"type": "arm"})));
    assert_eq!(node.next_deadline(), Some(ms(2)));
    for t in [1, 2, 4, 5, 10, 19, 20, 30] {
        node.handle_timeout(ms(t));
    }
    assert_eq!(
        node.handler().log,
        [
            "armed",
            "a at 2ms",
            "b at 5ms",
            "every at 10ms",
            "every at 20ms",
            "every at 30ms"
        ]
    );
    assert_eq!(node.next_deadline(), Some(ms(40)));
    assert!(take(&mut node).is_empty(), "timers sent nothing");
}

#[test]
fn handler_errors_and_panics_become_error_replies_and_state_survives() {
    let mut node = node();
    node.handle_line(ms(0), &line("c1", json!({"type": "fail", "msg_id": 5})));
    node.handle_line(ms(0), &line("c1", json!({"type": "boom", "msg_id": 6})));
    node.handle_line(ms(0), &line("c1", json!({"type": "count", "msg_id": 7})));
    let out = take(&mut node);
    let bodies: Vec<&Value> = out.iter().map(|m| &m["body"]).collect();
    assert_eq!(bodies.len(), 3);
    assert_eq!(
        (
            bodies[0]["code"].as_u64(),
            bodies[0]["in_reply_to"].as_u64()
        ),
        (Some(22), Some(5))
    );
    assert_eq!(
        (
            bodies[1]["code"].as_u64(),
            bodies[1]["in_reply_to"].as_u64()
        ),
        (Some(13), Some(6))
    );
    assert!(bodies[1]["text"].as_str().unwrap().contains("handler bug"));
    assert_eq!(
        bodies[2]["value"], 3,
        "the counter kept counting through the panic"
    );
}

#[test]
fn a_reply_with_in_reply_to_zero_is_a_reply_not_a_request() {
    let mut node = node();
    node.handle_line(
        ms(0),
        &line(
            "n2",
            json!({"type": "call", "in_reply_to": 0, "tag": 1, "msg_id": 9}),
        ),
    );
    assert!(
        take(&mut node).is_empty(),
        "routed as a reply (to nothing), not handled as a call"
    );
    assert!(node.handler().log.is_empty());
    assert_eq!(node.handler().counter, 0);
}

/// Maelstrom's docs "Traps": a client that gave up is closed, and a message to it is "Invalid
/// dest". A deferred answer to a client (`c…`) is dropped from 90% of
/// `Handler::CLIENT_TIMEOUT` (5 s here) after its request arrived; other nodes always get theirs.
#[test]
fn a_deferred_answer_to_a_client_that_gave_up_is_dropped_and_a_node_still_gets_its_own() {
    for as_error in [false, true] {
        let mut node = node();
        let hold = |id: u64| json!({"type": "hold", "msg_id": id});
        node.handle_line(ms(0), &line("c1", hold(1)));
        node.handle_line(ms(0), &line("n2", hold(2)));
        node.handle_line(ms(1), &line("c3", hold(3)));
        assert!(take(&mut node).is_empty());
        let release = json!({"type": "release", "error": as_error});
        node.handle_line(ms(4_500), &line("n2", release));
        let out = take(&mut node);
        let answered: Vec<(&str, u64)> = out
            .iter()
            .map(|m| {
                let body = &m["body"];
                (
                    m["dest"].as_str().unwrap(),
                    body["in_reply_to"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            answered,
            [("n2", 2), ("c3", 3)],
            "c1 waited 4.5 s and is dropped; c3 waited 4.499 s (error replies: {as_error})"
        );
    }
}

/// Initialises a node with the given seed as n1 of n1, n2, n3.
fn node_of_three(seed: u64) -> Node<Probe> {
    let mut node = Node::with_seed(Probe::default(), seed);
    let init =
        json!({"type": "init", "msg_id": 1, "node_id": "n1", "node_ids": ["n2", "n1", "n3"]});
    node.handle_line(ms(0), &line("c0", init));
    assert_eq!(take(&mut node).len(), 1, "init_ok");
    node
}

/// `send_to_peers` sends one copy to every peer, in `peers()` order, each with its own
/// msg_id, and none to the node itself.
#[test]
fn send_to_peers_sends_one_copy_to_each_peer() {
    let mut node = node_of_three(0);
    node.handle_line(ms(1), &line("c1", json!({"type": "flood", "msg_id": 5})));
    let out = take(&mut node);
    let dests: Vec<&str> = out.iter().map(|m| m["dest"].as_str().unwrap()).collect();
    assert_eq!(dests, ["n2", "n3"]);
    assert!(out
        .iter()
        .all(|m| m["body"]["type"] == "gossip" && m["src"] == "n1"));
    assert_ne!(out[0]["body"]["msg_id"], out[1]["body"]["msg_id"]);
}

/// `ctx.rng()` is the node's seeded generator: the same seed draws the same numbers, another
/// seed others, and `Node::new` is seed 0.
#[test]
fn ctx_rng_draws_from_the_nodes_seed() {
    let rolls = |mut node: Node<Probe>| -> Vec<Value> {
        (0..4)
            .map(|i| {
                node.handle_line(
                    ms(1),
                    &line("c1", json!({"type": "roll", "msg_id": 10 + i})),
                );
                take(&mut node)[0]["body"]["value"].clone()
            })
            .collect()
    };
    assert_eq!(node_of_three(0).seed(), 0);
    assert_eq!(rolls(node_of_three(7)), rolls(node_of_three(7)));
    assert_ne!(rolls(node_of_three(7)), rolls(node_of_three(8)));
    let mut fresh = Node::new(Probe::default());
    assert_eq!(fresh.seed(), 0);
    let init =
        json!({"type": "init", "msg_id": 1, "node_id": "n1", "node_ids": ["n2", "n1", "n3"]});
    fresh.handle_line(ms(0), &line("c0", init));
    take(&mut fresh);
    assert_eq!(rolls(fresh), rolls(node_of_three(0)));
}

/// A line over the handler's own cap is answered with error 12 naming that cap, when its
/// kept ends give a sender and a msg_id; a reply over the cap, or one with no msg_id, is not.
#[test]
fn an_oversized_request_is_answered_with_the_handlers_cap() {
    let mut node = node();
    let request = maelstrom_loop::Oversized {
        len: 5_000,
        head: br#"{"src":"c1","dest":"n1","body":{"type":"put","value":"xxxx"#,
        tail: br#"xxxx","msg_id":9}}"#,
    };
    node.handle_oversized(ms(1), &request);
    let out = take(&mut node);
    assert_eq!(out.len(), 1, "{out:?}");
    let body = &out[0]["body"];
    assert_eq!(
        (&out[0]["src"], &out[0]["dest"]),
        (&json!("n1"), &json!("c1"))
    );
    assert_eq!(
        (&body["code"], &body["in_reply_to"]),
        (&json!(12), &json!(9))
    );
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("5000 bytes") && text.contains("cap of 1000 bytes"),
        "{text}"
    );
    let reply = maelstrom_loop::Oversized {
        tail: br#"xxxx","in_reply_to":9}}"#,
        ..request
    };
    node.handle_oversized(ms(2), &reply);
    let anonymous = maelstrom_loop::Oversized {
        tail: br#"xxxx"}}"#,
        ..request
    };
    node.handle_oversized(ms(3), &anonymous);
    assert!(
        take(&mut node).is_empty(),
        "no answer to a reply or without msg_id"
    );
}
