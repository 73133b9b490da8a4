//! Reliable gossip of a node's own updates: [`Outbox`] sends, [`Inbox`] receives.
//!
//! Each node numbers its own updates 0, 1, 2, ... as it makes them ([`Outbox::push`]) and
//! delivers them to every peer directly (full mesh, no relaying). A periodic
//! [`Outbox::flush`] sends each peer one batch, the updates from its cumulative ack onwards,
//! as an RPC; a peer gets a new batch once the last one is acknowledged, or once it has
//! waited the ack timeout. The peer's [`Inbox`] keeps, per
//! origin, how many of that origin's updates it holds without a gap (its watermark),
//! applies only the ones beyond it, and answers with the new watermark. The sender moves
//! that peer's cursor and forgets updates once every peer holds them.
//!
//! A lost batch or ack costs one ack timeout, then the batch is sent again from the last
//! ack. An ack still counts when it comes later than that (a slow network, not a lost
//! message): each batch's continuation waits [`ACK_PATIENCE_FACTOR`] times the ack timeout,
//! and cumulative acks are valid whenever they arrive. Duplicates and reordering are
//! absorbed by the watermark. So every update is applied
//! exactly once and in its origin's order at every peer, as soon as the network lets one
//! batch and its ack through: the property a grow-only set, a counter or a replicated log
//! needs to converge after a partition heals.
//!
//! Wire format (node to node only): `{"type":"gossip","from":F,"items":[..]}`, answered by
//! `{"type":"gossip_ok","upto":W}`. A handler routes [`BATCH_TYPE`] to [`Inbox::receive`].
//!
//! Not here: relaying through third nodes (a node that never reaches a peer never delivers
//! to it), persistence, and membership changes (the peers are the ones `init` named).

use std::collections::{HashMap, VecDeque};
use std::ops::Range;

use serde::{Deserialize, Serialize, Serializer};

use crate::context::Ctx;
use crate::error::Error;
use crate::handler::Handler;
use crate::message::Message;
use crate::time::{Duration, Instant};

/// The `type` of a batch; answered with [`ACK_TYPE`].
pub const BATCH_TYPE: &str = "gossip";

/// The `type` of a batch's acknowledgement.
pub const ACK_TYPE: &str = "gossip_ok";

/// At most this many updates go in one batch unless [`Outbox::with_limits`] says otherwise.
pub const DEFAULT_MAX_BATCH: usize = 1024;

/// How long a batch waits for its ack before the peer is sent a batch again, unless
/// [`Outbox::with_limits`] says otherwise: short enough that a healed partition is caught up
/// within a second. A slower ack still counts (see [`ACK_PATIENCE_FACTOR`]).
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_millis(1_000);

/// A batch's ack counts if it comes within this many ack timeouts; so a round trip of up to
/// 8 s makes progress (with one batch resent per ack timeout meanwhile), and a silent peer
/// holds at most this many pending continuations.
pub const ACK_PATIENCE_FACTOR: u64 = 8;

/// How far one peer has got with this node's updates.
#[derive(Debug)]
struct PeerCursor {
    id: String,
    /// Updates below this number are acknowledged by the peer.
    acked: u64,
    /// When the last batch to this peer was sent, while no ack has come since.
    awaiting_since: Option<Instant>,
}

/// A node's own updates, kept until every peer has acknowledged them, and each peer's
/// progress through them.
///
/// Put it in the handler, [`push`](Outbox::push) an update whenever the node makes one,
/// and call [`flush`](Outbox::flush) from a periodic timer.
#[derive(Debug)]
pub struct Outbox<T> {
    /// The number of `items[0]`; everything below is acknowledged by every peer.
    base: u64,
    items: VecDeque<T>,
    /// Filled from [`Ctx::peers`] at the first flush.
    peers: Option<Vec<PeerCursor>>,
    max_batch: usize,
    ack_timeout: Duration,
}

impl<T> Default for Outbox<T> {
    fn default() -> Outbox<T> {
        Outbox::with_limits(DEFAULT_MAX_BATCH, DEFAULT_ACK_TIMEOUT)
    }
}

impl<T> Outbox<T> {
    /// An empty outbox with [`DEFAULT_MAX_BATCH`] and [`DEFAULT_ACK_TIMEOUT`].
    pub fn new() -> Outbox<T> {
        Outbox::default()
    }

    /// An empty outbox sending at most `max_batch` updates (at least one) per batch, and
    /// sending a peer a batch again when `ack_timeout` passes without an ack.
    pub fn with_limits(max_batch: usize, ack_timeout: Duration) -> Outbox<T> {
        Outbox {
            base: 0,
            items: VecDeque::new(),
            peers: None,
            max_batch: max_batch.max(1),
            ack_timeout,
        }
    }

    /// Records an update for delivery to every peer; returns its number.
    pub fn push(&mut self, item: T) -> u64 {
        self.items.push_back(item);
        self.pushed() - 1
    }

    /// How many updates were ever pushed: the number the next one will get.
    pub fn pushed(&self) -> u64 {
        self.base + self.items.len() as u64
    }

    /// How many updates are still kept because some peer has not acknowledged them.
    pub fn retained(&self) -> usize {
        self.items.len()
    }

    /// How many updates `peer` has not acknowledged yet; `None` for an unknown peer or
    /// before the first flush.
    pub fn unacknowledged(&self, peer: &str) -> Option<u64> {
        let cursor = self.peers.as_ref()?.iter().find(|p| p.id == peer)?;
        Some(self.pushed() - cursor.acked)
    }

    /// Whether every peer has acknowledged every update (true before the first flush only
    /// if nothing was pushed).
    pub fn is_settled(&self) -> bool {
        self.items.is_empty()
    }

    /// The outcome of a batch to the peer at `index`: an ack moves its cursor and frees the
    /// peer for the next batch; anything else (an error reply, or no ack within the
    /// patience) leaves the resend to the ack timeout.
    fn settle(&mut self, index: usize, outcome: Result<Message<'_>, Error>) {
        let pushed = self.pushed();
        let Some(cursor) = self.peers.as_mut().and_then(|peers| peers.get_mut(index)) else {
            debug_assert!(
                false,
                "a batch settled for peer {index}, which we never sent to"
            );
            return;
        };
        match outcome.and_then(|ack| ack.field::<u64>("upto")) {
            // An ack beyond what we ever pushed comes from a confused peer: clamp it.
            Ok(upto) => {
                cursor.acked = cursor.acked.max(upto.min(pushed));
                cursor.awaiting_since = None;
            }
            // Lost in a partition, or the peer could not read the batch: resent next flush.
            Err(e) => log::debug!("gossip batch to {} not acknowledged: {e}", cursor.id),
        }
        self.trim();
    }

    /// Forgets the updates every peer has acknowledged.
    fn trim(&mut self) {
        let Some(peers) = &self.peers else { return };
        let delivered = peers.iter().map(|p| p.acked).min().unwrap_or(self.pushed());
        while self.base < delivered && self.items.pop_front().is_some() {
            self.base += 1;
        }
    }
}

impl<T: Serialize + 'static> Outbox<T> {
    /// Sends every peer that has unacknowledged updates a batch of them (up to the batch
    /// limit), unless its last batch is younger than the ack timeout and unacknowledged, as
    /// an RPC whose reply settles it. `outbox` finds this outbox in the handler again when
    /// the reply comes.
    ///
    /// The peers are taken from [`Ctx::peers`] at the first call; with none (a one-node
    /// cluster), every update counts as delivered.
    pub fn flush<H: Handler>(&mut self, ctx: &mut Ctx<'_, H>, outbox: fn(&mut H) -> &mut Self) {
        let peers = self.peers.get_or_insert_with(|| {
            let ids = ctx.peers().iter();
            ids.map(|id| PeerCursor {
                id: id.clone(),
                acked: 0,
                awaiting_since: None,
            })
            .collect()
        });
        let pushed = self.base + self.items.len() as u64;
        let now = ctx.now();
        for (index, cursor) in peers.iter_mut().enumerate() {
            let waiting = cursor
                .awaiting_since
                .is_some_and(|sent| now - sent < self.ack_timeout);
            if waiting || cursor.acked >= pushed {
                continue;
            }
            let start = cursor.acked - self.base;
            let end = (pushed - self.base).min(start + self.max_batch as u64);
            let body = BatchOut {
                kind: BATCH_TYPE,
                from: cursor.acked,
                items: Slice {
                    items: &self.items,
                    range: start as usize..end as usize,
                },
            };
            let sent = ctx.rpc(
                &cursor.id,
                &body,
                self.ack_timeout.saturating_mul(ACK_PATIENCE_FACTOR),
                move |handler, _, outcome| {
                    outbox(handler).settle(index, outcome);
                    Ok(())
                },
            );
            match sent {
                Ok(_) => cursor.awaiting_since = Some(now),
                // Too many RPCs pending, say: the next flush tries again.
                Err(e) => log::warn!("could not send a gossip batch to {}: {e}", cursor.id),
            }
        }
        self.trim();
    }
}

/// What a node has received of each origin's updates.
#[derive(Debug, Default)]
pub struct Inbox {
    /// Per origin: the number of updates received without a gap.
    watermarks: HashMap<String, u64>,
}

impl Inbox {
    /// An inbox that has received nothing.
    pub fn new() -> Inbox {
        Inbox::default()
    }

    /// How many of `origin`'s updates were received and applied, in order, without a gap.
    pub fn watermark(&self, origin: &str) -> u64 {
        self.watermarks.get(origin).copied().unwrap_or(0)
    }

    /// Handles a [`BATCH_TYPE`] message: decodes its items as `T`, calls `apply` on each one
    /// not applied before (in the origin's order), and acknowledges with the new watermark.
    /// A batch that starts beyond the watermark (something before it is missing) applies
    /// nothing; the origin resends from its last ack.
    ///
    /// # Errors
    /// Code 12 (malformed-request) if the body is not a batch of `T`: nothing is applied
    /// and the error goes back to the sender. Code 10 (not-supported) if the sender is not
    /// one of this node's peers (a client, a service, or the node itself): gossip from
    /// outside the cluster would forge another node's updates. Code 13 if the ack cannot
    /// be encoded.
    pub fn receive<'m, H, T, F>(
        &mut self,
        ctx: &mut Ctx<'_, H>,
        msg: &Message<'m>,
        mut apply: F,
    ) -> Result<(), Error>
    where
        H: Handler,
        T: Deserialize<'m>,
        F: FnMut(T),
    {
        if !ctx.peers().iter().any(|peer| peer == msg.src()) {
            return Err(Error::not_supported(format!(
                "{BATCH_TYPE} from {}, which is not a peer of this node",
                msg.src()
            )));
        }
        let batch: BatchIn<T> = msg.body()?;
        let watermark = self.watermarks.entry(msg.src().to_owned()).or_insert(0);
        if let Some(skip) = watermark.checked_sub(batch.from) {
            let end = batch.from.saturating_add(batch.items.len() as u64);
            let skip = usize::try_from(skip).unwrap_or(usize::MAX);
            batch.items.into_iter().skip(skip).for_each(&mut apply);
            *watermark = (*watermark).max(end);
        } else {
            log::debug!(
                "gossip from {} starts at {} beyond our watermark {}; ignored",
                msg.src(),
                batch.from,
                watermark
            );
        }
        let ack = Ack {
            kind: ACK_TYPE,
            upto: *watermark,
        };
        ctx.reply(msg, &ack)
    }
}

#[derive(Serialize)]
struct BatchOut<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    from: u64,
    items: Slice<'a, T>,
}

/// A range of the outbox's items, serialised as a JSON array without copying.
struct Slice<'a, T> {
    items: &'a VecDeque<T>,
    range: Range<usize>,
}

impl<T: Serialize> Serialize for Slice<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.items.range(self.range.clone()))
    }
}

#[derive(Deserialize)]
struct BatchIn<T> {
    from: u64,
    items: Vec<T>,
}

#[derive(Serialize)]
struct Ack {
    #[serde(rename = "type")]
    kind: &'static str,
    upto: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Node;
    use crate::time::Instant;
    use serde_json::{json, Value};

    const TICK: Duration = Duration::from_millis(100);
    const ACK_TIMEOUT: Duration = Duration::from_millis(500);

    /// Pushes the numbers clients send, gossips them every tick, records what peers sent.
    #[derive(Debug)]
    struct Log {
        outbox: Outbox<u32>,
        inbox: Inbox,
        applied: Vec<(String, u32)>,
    }

    impl Handler for Log {
        type Timer = ();
        fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
            ctx.set_interval(TICK, ());
            Ok(())
        }
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
            if msg.kind() == "push" {
                self.outbox.push(msg.field("n")?);
                return Ok(());
            }
            let (applied, src) = (&mut self.applied, msg.src().to_owned());
            self.inbox
                .receive(ctx, msg, |n: u32| applied.push((src.clone(), n)))
        }
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) -> Result<(), Error> {
            self.outbox.flush(ctx, |log| &mut log.outbox);
            Ok(())
        }
    }

    fn node(peers: &[&str]) -> Node<Log> {
        let mut node = Node::new(Log {
            outbox: Outbox::with_limits(2, ACK_TIMEOUT),
            inbox: Inbox::new(),
            applied: Vec::new(),
        });
        let mut ids = vec!["n0"];
        ids.extend(peers);
        let init = json!({"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":ids}});
        node.handle_line(Instant::ZERO, init.to_string().as_bytes());
        node.clear_output();
        node
    }

    fn feed(node: &mut Node<Log>, at_ms: u64, src: &str, body: Value) {
        let line = json!({"src": src, "dest": "n0", "body": body});
        node.handle_line(Instant::from_millis(at_ms), line.to_string().as_bytes());
    }

    /// Runs the timers due by `at_ms` and returns (dest, body) of every line written.
    fn tick(node: &mut Node<Log>, at_ms: u64) -> Vec<(String, Value)> {
        node.handle_timeout(Instant::from_millis(at_ms));
        drain(node)
    }

    fn drain(node: &mut Node<Log>) -> Vec<(String, Value)> {
        let text = String::from_utf8(node.output().to_vec()).unwrap();
        node.clear_output();
        let lines = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap());
        lines
            .map(|v| (v["dest"].as_str().unwrap().to_owned(), v["body"].clone()))
            .collect()
    }

    /// (dest, from, items) of each batch, ignoring msg_ids.
    fn batches(out: &[(String, Value)]) -> Vec<(&str, u64, Value)> {
        out.iter()
            .map(|(dest, body)| {
                assert_eq!(body["type"], BATCH_TYPE);
                (
                    &**dest,
                    body["from"].as_u64().unwrap(),
                    body["items"].clone(),
                )
            })
            .collect()
    }

    #[test]
    fn batches_start_at_each_peers_ack_and_are_resent_only_after_a_timeout() {
        let mut node = node(&["n1", "n2"]);
        for n in [10, 11, 12] {
            feed(&mut node, 0, "c1", json!({"type": "push", "n": n}));
        }
        let first = tick(&mut node, 100);
        let expected = [("n1", 0, json!([10, 11])), ("n2", 0, json!([10, 11]))];
        assert_eq!(batches(&first), expected, "at most two per batch");
        // In flight: the next ticks send nothing until an ack or the timeout.
        assert!(tick(&mut node, 300).is_empty());
        let to_n1 = first[0].1["msg_id"].clone();
        feed(
            &mut node,
            350,
            "n1",
            json!({"type": ACK_TYPE, "in_reply_to": to_n1, "upto": 2}),
        );
        assert_eq!(batches(&tick(&mut node, 400)), [("n1", 2, json!([12]))]);
        assert_eq!(
            node.handler().outbox.retained(),
            3,
            "n2 acknowledged nothing"
        );
        // n2's batch has waited the ack timeout at 600 ms: it goes again, from its ack (0).
        assert_eq!(batches(&tick(&mut node, 600)), [("n2", 0, json!([10, 11]))]);
        assert!(tick(&mut node, 700).is_empty(), "and waits again");
        assert_eq!(node.handler().outbox.unacknowledged("n2"), Some(3));
        // The first batch's ack, 1.9 s late (a slow network, not a lost message), counts.
        let to_n2 = first[1].1["msg_id"].clone();
        feed(
            &mut node,
            2_000,
            "n2",
            json!({"type": ACK_TYPE, "in_reply_to": to_n2, "upto": 2}),
        );
        assert_eq!(node.handler().outbox.unacknowledged("n2"), Some(1));
        let resent = [("n1", 2, json!([12])), ("n2", 2, json!([12]))];
        assert_eq!(
            batches(&tick(&mut node, 2_000)),
            resent,
            "n1's [12] waited too"
        );
    }

    #[test]
    fn acks_trim_what_every_peer_holds_and_absurd_acks_are_clamped() {
        let mut node = node(&["n1"]);
        feed(&mut node, 0, "c1", json!({"type": "push", "n": 1}));
        let out = tick(&mut node, 100);
        let ack = json!({"type": ACK_TYPE, "in_reply_to": out[0].1["msg_id"], "upto": 99});
        feed(&mut node, 110, "n1", ack);
        let outbox = &node.handler().outbox;
        assert_eq!((outbox.pushed(), outbox.retained()), (1, 0));
        assert!(outbox.is_settled() && outbox.unacknowledged("n1") == Some(0));
        // Everything is acknowledged: later ticks send nothing.
        assert!(tick(&mut node, 1_000).is_empty());
    }

    #[test]
    fn without_peers_everything_counts_as_delivered() {
        let mut node = node(&[]);
        feed(&mut node, 0, "c1", json!({"type": "push", "n": 1}));
        assert!(tick(&mut node, 100).is_empty());
        assert!(node.handler().outbox.is_settled());
    }

    #[test]
    fn inbox_applies_each_item_once_in_order_and_acks_its_watermark() {
        let mut node = node(&["n1", "n2"]);
        // (src, from, items, expected ack)
        let rows: &[(&str, u64, Value, u64)] = &[
            ("n1", 0, json!([1, 2]), 2),
            ("n1", 0, json!([1, 2]), 2),    // duplicate
            ("n1", 3, json!([4]), 2),       // gap: 2 is missing
            ("n1", 1, json!([2, 3, 4]), 4), // overlap fills the gap
            ("n2", 0, json!([7]), 1),       // another origin, its own watermark
            ("n1", 4, json!([]), 4),        // empty batch
        ];
        for (i, (src, from, items, upto)) in rows.iter().enumerate() {
            let body = json!({"type": BATCH_TYPE, "msg_id": i + 1, "from": from, "items": items});
            feed(&mut node, 0, src, body);
            let out = drain(&mut node);
            assert_eq!(out.len(), 1, "row {i}");
            assert_eq!(
                (&*out[0].0, &out[0].1["upto"]),
                (*src, &json!(upto)),
                "row {i}"
            );
            assert_eq!(out[0].1["type"], ACK_TYPE);
        }
        let applied = &node.handler().applied;
        let expected = [("n1", 1), ("n1", 2), ("n1", 3), ("n1", 4), ("n2", 7)];
        let expected: Vec<(String, u32)> =
            expected.iter().map(|(s, n)| (s.to_string(), *n)).collect();
        assert_eq!(*applied, expected);
        assert_eq!(
            (
                node.handler().inbox.watermark("n1"),
                node.handler().inbox.watermark("n9")
            ),
            (4, 0)
        );
    }

    /// Hostile input: a batch from a client, a stranger or the node itself would forge a
    /// peer's updates; it is refused with code 10 and nothing is applied or acknowledged.
    #[test]
    fn inbox_refuses_batches_from_anyone_but_a_peer() {
        let mut node = node(&["n1", "n2"]);
        for (i, src) in ["c1", "n9", "n0", "lin-kv"].into_iter().enumerate() {
            let body = json!({"type": BATCH_TYPE, "msg_id": i + 1, "from": 0, "items": [5]});
            feed(&mut node, 0, src, body);
            let out = drain(&mut node);
            assert_eq!(out.len(), 1, "{src}");
            assert_eq!(out[0].0, src);
            assert_eq!(
                (&out[0].1["type"], &out[0].1["code"]),
                (&json!("error"), &json!(10)),
                "{src}"
            );
        }
        assert!(node.handler().applied.is_empty());
        assert_eq!(node.handler().inbox.watermark("c1"), 0);
    }
}
