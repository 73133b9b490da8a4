//! Kafka-style log node (Gossip Glomers 5a, 5b, 5c).
//!
//! ```text
//! cargo build --release --example kafka
//! maelstrom test -w kafka --bin target/release/examples/kafka --node-count 1 --concurrency 2n --time-limit 20 --rate 1000
//! maelstrom test -w kafka --bin target/release/examples/kafka --node-count 2 --concurrency 2n --time-limit 20 --rate 1000
//! ```
//!
//! Every key has one owner, chosen by hashing the key over `node_ids` (the same list on every
//! node), which keeps the key's log and its committed offset and hands out offsets 0, 1, 2 ...
//! in order: offsets are unique and monotonic without any service call (5c's "fewer service
//! calls": none). Other nodes forward: a `send` goes to its key's owner; a `poll`,
//! `commit_offsets` or `list_committed_offsets` is split per owner, answered locally where
//! it can be, and the parts are gathered before the client gets one answer. A forwarded send
//! or commit that times out may have been applied, so the client gets the indefinite code 0;
//! a poll or listing simply omits an unreachable owner's keys. Every forward gives up well
//! before Maelstrom's client does (5 s), so the client always hears an answer in time.
//!
//! Maelstrom's checker fails a run if any acknowledged send is never polled ("unseen"), so
//! the owner is the only writer of a key: a node never appends to, commits on or serves a
//! key it does not own, whoever asks.

use std::collections::BTreeMap;

use maelstrom_loop::{Ctx, Duration, Error, ErrorCode, Handler, Message, Origin};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// How long a forwarded send or commit waits for the owner. Latency is paid twice per round
/// trip and Maelstrom's `--latency` can be a mean of a few hundred milliseconds, so this is
/// generous; it still leaves the client (5 s) well over a second to receive the code 0.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a forwarded part of a poll or listing waits; after that the answer goes out
/// without the owner's keys, which is still a true answer.
pub const READ_TIMEOUT: Duration = Duration::from_millis(1500);
/// At most this many messages per key in one poll answer.
pub const MAX_POLL: usize = 100;

// An answer later than 90% of the client timeout is dropped by the library (the client may
// be closed by then): every forward must end, with a margin, before that.
const _: () = {
    let deadline_us = <Kafka as Handler>::CLIENT_TIMEOUT.as_micros() / 10 * 9;
    let margin_us = 1_000_000;
    assert!(WRITE_TIMEOUT.as_micros() + margin_us <= deadline_us);
    assert!(READ_TIMEOUT.as_micros() + margin_us <= deadline_us);
};

/// The node's state.
#[derive(Debug, Default)]
pub struct Kafka {
    /// Logs of the keys this node owns.
    logs: BTreeMap<String, Vec<Value>>,
    /// Committed offsets of the keys this node owns.
    committed: BTreeMap<String, u64>,
    /// Client requests waiting for other owners' parts, by request number.
    gathering: BTreeMap<u64, Gather>,
    next_gather: u64,
}

/// The per-key requests, which are split by owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `poll {offsets}`: messages from each offset on.
    Poll,
    /// `commit_offsets {offsets}`.
    CommitOffsets,
    /// `list_committed_offsets {keys}`.
    ListCommittedOffsets,
}

impl Kind {
    fn reply_type(self) -> &'static str {
        match self {
            Kind::Poll => "poll_ok",
            Kind::CommitOffsets => "commit_offsets_ok",
            Kind::ListCommittedOffsets => "list_committed_offsets_ok",
        }
    }

    /// The answer's map field, if it has one (Maelstrom's docs "Workloads": kafka).
    fn reply_field(self) -> Option<&'static str> {
        match self {
            Kind::Poll => Some("msgs"),
            Kind::CommitOffsets => None,
            Kind::ListCommittedOffsets => Some("offsets"),
        }
    }

    fn timeout(self) -> Duration {
        match self {
            Kind::CommitOffsets => WRITE_TIMEOUT,
            Kind::Poll | Kind::ListCommittedOffsets => READ_TIMEOUT,
        }
    }
}

/// Per key: an offset (poll, commit) or nothing in particular (listing: 0).
type Offsets = BTreeMap<String, u64>;

/// A client request split across owners.
#[derive(Debug)]
pub struct Gather {
    origin: Origin,
    kind: Kind,
    merged: Map<String, Value>,
    waiting: usize,
    /// A commit part that may not have reached its owner: the client must not hear `ok`.
    failed: bool,
}

#[derive(Deserialize)]
struct SendRequest {
    key: String,
    msg: Value,
}

/// Node to node: the keys of one owner.
#[derive(Serialize, Deserialize)]
struct Part {
    kind: Kind,
    offsets: Offsets,
}

/// FNV-1a: stable across processes and runs, unlike the standard library's hasher.
pub fn owner_index(key: &str, nodes: usize) -> usize {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash % nodes.max(1) as u64) as usize
}

impl Kafka {
    fn owner<'c>(ctx: &'c Ctx<'_, Self>, key: &str) -> &'c str {
        let nodes = ctx.node_ids();
        nodes
            .get(owner_index(key, nodes.len()))
            .map_or(ctx.node_id(), String::as_str)
    }

    /// Refuses (definitely: nothing was done) a peer's request for keys owned elsewhere, which
    /// only a confused or hostile sender makes: a second log for a key would hold messages no
    /// poll ever returns.
    fn check_owned<'k>(
        ctx: &Ctx<'_, Self>,
        mut keys: impl Iterator<Item = &'k String>,
    ) -> Result<(), Error> {
        match keys.find(|key| Kafka::owner(ctx, key) != ctx.node_id()) {
            Some(key) => Err(Error::temporarily_unavailable(format!(
                "key {key} is owned by {}, not {}",
                Kafka::owner(ctx, key),
                ctx.node_id()
            ))),
            None => Ok(()),
        }
    }

    fn append(&mut self, key: String, msg: Value) -> u64 {
        let log = self.logs.entry(key).or_default();
        log.push(msg);
        log.len() as u64 - 1
    }

    /// The owned part of a poll: entries from each requested offset, at most [`MAX_POLL`];
    /// a key with no log is left out, as Maelstrom allows.
    fn poll_local(&self, offsets: &Offsets) -> Map<String, Value> {
        let mut msgs = Map::new();
        for (key, &from) in offsets {
            let Some(log) = self.logs.get(key) else {
                continue;
            };
            let start = usize::try_from(from).unwrap_or(usize::MAX);
            let tail = log.get(start..).unwrap_or_default();
            let entries = tail
                .iter()
                .take(MAX_POLL)
                .zip(from..)
                .map(|(msg, offset)| json!([offset, msg]))
                .collect();
            msgs.insert(key.clone(), Value::Array(entries));
        }
        msgs
    }

    /// Commits only move forward: a stale commit from a slow client never undoes a newer one.
    fn commit_local(&mut self, offsets: &Offsets) {
        for (key, &offset) in offsets {
            let entry = self.committed.entry(key.clone()).or_default();
            *entry = (*entry).max(offset);
        }
    }

    fn list_local(&self, keys: &Offsets) -> Map<String, Value> {
        keys.keys()
            .filter_map(|k| self.committed.get(k).map(|o| (k.clone(), json!(o))))
            .collect()
    }

    /// Answers the part of a request for keys this node owns.
    fn serve(&mut self, kind: Kind, offsets: &Offsets) -> Map<String, Value> {
        match kind {
            Kind::Poll => self.poll_local(offsets),
            Kind::CommitOffsets => {
                self.commit_local(offsets);
                Map::new()
            }
            Kind::ListCommittedOffsets => self.list_local(offsets),
        }
    }

    /// Splits a per-key request by owner, serves the local part, forwards the rest, and
    /// answers the client once every part is in (or has failed).
    fn scatter(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        msg: &Message<'_>,
        kind: Kind,
        offsets: Offsets,
    ) -> Result<(), Error> {
        let mut parts: BTreeMap<String, Offsets> = BTreeMap::new();
        for (key, offset) in offsets {
            parts
                .entry(Kafka::owner(ctx, &key).to_owned())
                .or_default()
                .insert(key, offset);
        }
        let local = parts.remove(ctx.node_id()).unwrap_or_default();
        let id = self.next_gather;
        self.next_gather += 1;
        let gather = Gather {
            origin: msg.origin(),
            kind,
            merged: self.serve(kind, &local),
            waiting: parts.len(),
            failed: false,
        };
        self.gathering.insert(id, gather);
        for (owner, offsets) in parts {
            let body = json!({"type": "part", "kind": kind, "offsets": offsets});
            let sent = ctx.rpc(
                &owner,
                &body,
                kind.timeout(),
                move |node: &mut Kafka, ctx, reply| {
                    let answer = reply.and_then(|r| r.field::<Map<String, Value>>("result"));
                    node.gathered(ctx, id, answer)
                },
            );
            // Not sent (too many RPCs pending): the same as a part that got no answer. Earlier
            // parts are on their way, so the client must still get exactly one answer.
            if let Err(e) = sent {
                self.part_done(id, Err(e));
            }
        }
        self.finish_if_done(ctx, id)
    }

    fn gathered(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        id: u64,
        answer: Result<Map<String, Value>, Error>,
    ) -> Result<(), Error> {
        self.part_done(id, answer);
        self.finish_if_done(ctx, id)
    }

    fn part_done(&mut self, id: u64, answer: Result<Map<String, Value>, Error>) {
        let Some(gather) = self.gathering.get_mut(&id) else {
            return;
        };
        gather.waiting = gather.waiting.saturating_sub(1);
        match answer {
            Ok(part) => gather.merged.extend(part),
            // A poll or listing without an unreachable owner's keys is still a true answer;
            // a commit that may not have reached its owner is not.
            Err(_) => gather.failed |= gather.kind == Kind::CommitOffsets,
        }
    }

    fn finish_if_done(&mut self, ctx: &mut Ctx<'_, Self>, id: u64) -> Result<(), Error> {
        if self.gathering.get(&id).map_or(true, |g| g.waiting > 0) {
            return Ok(());
        }
        let Some(gather) = self.gathering.remove(&id) else {
            return Ok(());
        };
        if gather.failed {
            // Other parts (the local one, say) may have committed: only code 0 is honest.
            ctx.reply_error(
                &gather.origin,
                ErrorCode::Timeout,
                "an owner did not confirm the commit",
            );
            return Ok(());
        }
        let mut body = json!({"type": gather.kind.reply_type()});
        if let Some(field) = gather.kind.reply_field() {
            body[field] = Value::Object(gather.merged);
        }
        ctx.reply(&gather.origin, &body)
    }

    fn send(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let SendRequest { key, msg: value } = msg.body()?;
        let owner = Kafka::owner(ctx, &key).to_owned();
        if owner == ctx.node_id() {
            let offset = self.append(key, value);
            return ctx.reply(msg, &json!({"type": "send_ok", "offset": offset}));
        }
        let origin = msg.origin();
        let body = json!({"type": "append", "key": key, "msg": value});
        let to = owner.clone();
        ctx.rpc(
            &to,
            &body,
            WRITE_TIMEOUT,
            move |_: &mut Kafka, ctx, reply| {
                match reply.map(|r| r.field::<u64>("offset")) {
                    Ok(Ok(offset)) => {
                        ctx.reply(&origin, &json!({"type": "send_ok", "offset": offset}))
                    }
                    // The owner answered `append_ok`, so it appended, but the offset is unreadable.
                    Ok(Err(e)) => {
                        let text =
                            format!("owner {owner} appended, but its answer is malformed: {e}");
                        ctx.reply_error(&origin, ErrorCode::Timeout, &text);
                        Ok(())
                    }
                    // The owner refused: it appended nothing.
                    Err(e) if e.is_definite() => {
                        ctx.reply_error(&origin, e.code(), &format!("owner {owner}: {}", e.text()));
                        Ok(())
                    }
                    // Timed out or crashed: the owner may have appended it.
                    Err(e) => {
                        ctx.reply_error(
                            &origin,
                            ErrorCode::Timeout,
                            &format!("owner {owner}: {e}"),
                        );
                        Ok(())
                    }
                }
            },
        )?;
        Ok(())
    }
}

impl Handler for Kafka {
    type Timer = ();

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "send" => self.send(ctx, msg),
            // Offsets must be non-negative integers: anything else is error 12, never a guess.
            "poll" => self.scatter(ctx, msg, Kind::Poll, msg.field("offsets")?),
            "commit_offsets" => self.scatter(ctx, msg, Kind::CommitOffsets, msg.field("offsets")?),
            "list_committed_offsets" => {
                let keys: Vec<String> = msg.field("keys")?;
                let keys = keys.into_iter().map(|k| (k, 0)).collect();
                self.scatter(ctx, msg, Kind::ListCommittedOffsets, keys)
            }
            // Node to node: a send forwarded to this key's owner.
            "append" => {
                let SendRequest { key, msg: value } = msg.body()?;
                Kafka::check_owned(ctx, std::iter::once(&key))?;
                let offset = self.append(key, value);
                ctx.reply(msg, &json!({"type": "append_ok", "offset": offset}))
            }
            // Node to node: the part of a poll, commit or listing for keys owned here.
            "part" => {
                let Part { kind, offsets } = msg.body()?;
                Kafka::check_owned(ctx, offsets.keys())?;
                let result = self.serve(kind, &offsets);
                ctx.reply(msg, &json!({"type": "part_ok", "result": result}))
            }
            other => Err(Error::unsupported_type(other)),
        }
    }
}

fn main() -> std::io::Result<()> {
    maelstrom_loop::run(Kafka::default())
}
