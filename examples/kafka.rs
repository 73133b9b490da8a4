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
//! that times out may have been appended, so the client gets the indefinite code 0; a poll
//! or listing simply omits an unreachable owner's keys.

use std::collections::BTreeMap;

use maelstrom_loop::{Ctx, Duration, Error, ErrorCode, Handler, Message, Origin};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// How long a forwarded request waits for the owner.
pub const FORWARD_TIMEOUT: Duration = Duration::from_millis(1000);
/// At most this many messages per key in one poll answer.
pub const MAX_POLL: usize = 100;

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

/// A client request split across owners.
#[derive(Debug)]
pub struct Gather {
    origin: Origin,
    reply_type: &'static str,
    /// The key of the merged map in the answer, if it has one.
    field: Option<&'static str>,
    merged: Map<String, Value>,
    waiting: usize,
    /// A part failed in a way the client must hear about (a commit that may not have held).
    failed: bool,
}

#[derive(Deserialize)]
struct SendRequest {
    key: String,
    msg: Value,
}

/// FNV-1a: stable across processes and runs, unlike the standard library's hasher.
fn owner_index(key: &str, nodes: usize) -> usize {
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

    fn append(&mut self, key: String, msg: Value) -> u64 {
        let log = self.logs.entry(key).or_default();
        log.push(msg);
        log.len() as u64 - 1
    }

    /// The owned part of a poll: entries from each requested offset, at most [`MAX_POLL`].
    fn poll_local(&self, offsets: &Map<String, Value>) -> Map<String, Value> {
        let mut msgs = Map::new();
        for (key, from) in offsets {
            let Some(log) = self.logs.get(key) else {
                continue;
            };
            let from = from.as_u64().unwrap_or(0) as usize;
            let entries: Vec<Value> = log
                .iter()
                .enumerate()
                .skip(from)
                .take(MAX_POLL)
                .map(|(o, m)| json!([o, m]))
                .collect();
            msgs.insert(key.clone(), Value::Array(entries));
        }
        msgs
    }

    /// Commits only move forward: a stale commit from a slow client never undoes a newer one.
    fn commit_local(&mut self, offsets: &Map<String, Value>) {
        for (key, offset) in offsets {
            if let Some(offset) = offset.as_u64() {
                let entry = self.committed.entry(key.clone()).or_default();
                *entry = (*entry).max(offset);
            }
        }
    }

    fn list_local(&self, keys: &Map<String, Value>) -> Map<String, Value> {
        keys.keys()
            .filter_map(|k| self.committed.get(k).map(|o| (k.clone(), json!(o))))
            .collect()
    }

    /// Answers an internal request for keys this node owns.
    fn serve(&mut self, kind: &str, args: &Map<String, Value>) -> Map<String, Value> {
        match kind {
            "poll" => self.poll_local(args),
            "commit_offsets" => {
                self.commit_local(args);
                Map::new()
            }
            _ => self.list_local(args),
        }
    }

    /// Splits a per-key request by owner, serves the local part, forwards the rest, and
    /// answers the client once every part is in.
    fn scatter(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        msg: &Message<'_>,
        kind: &'static str,
        args: Map<String, Value>,
    ) -> Result<(), Error> {
        let (reply_type, field) = match kind {
            "poll" => ("poll_ok", Some("msgs")),
            "commit_offsets" => ("commit_offsets_ok", None),
            _ => ("list_committed_offsets_ok", Some("offsets")),
        };
        let mut parts: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for (key, value) in args {
            parts
                .entry(Kafka::owner(ctx, &key).to_owned())
                .or_default()
                .insert(key, value);
        }
        let local = parts.remove(ctx.node_id()).unwrap_or_default();
        let merged = self.serve(kind, &local);
        let id = self.next_gather;
        self.next_gather += 1;
        let gather = Gather {
            origin: msg.origin(),
            reply_type,
            field,
            merged,
            waiting: parts.len(),
            failed: false,
        };
        self.gathering.insert(id, gather);
        for (owner, part) in parts {
            let body = json!({"type": "part", "kind": kind, "args": part});
            ctx.rpc(
                &owner,
                &body,
                FORWARD_TIMEOUT,
                move |node: &mut Kafka, ctx, reply| {
                    let answer = reply.and_then(|r| r.field::<Map<String, Value>>("result"));
                    node.gathered(ctx, id, answer)
                },
            )?;
        }
        self.finish_if_done(ctx, id)
    }

    fn gathered(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        id: u64,
        answer: Result<Map<String, Value>, Error>,
    ) -> Result<(), Error> {
        let Some(gather) = self.gathering.get_mut(&id) else {
            return Ok(());
        };
        gather.waiting -= 1;
        match answer {
            Ok(part) => gather.merged.extend(part),
            // A poll or listing without an unreachable owner's keys is still a true answer;
            // a commit that may not have reached its owner is not.
            Err(_) => gather.failed |= gather.reply_type == "commit_offsets_ok",
        }
        self.finish_if_done(ctx, id)
    }

    fn finish_if_done(&mut self, ctx: &mut Ctx<'_, Self>, id: u64) -> Result<(), Error> {
        if self.gathering.get(&id).map_or(true, |g| g.waiting > 0) {
            return Ok(());
        }
        let Some(gather) = self.gathering.remove(&id) else {
            return Ok(());
        };
        if gather.failed {
            ctx.reply_error(
                &gather.origin,
                ErrorCode::Timeout,
                "an owner did not confirm the commit",
            );
            return Ok(());
        }
        let mut body = json!({"type": gather.reply_type});
        if let Some(field) = gather.field {
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
            FORWARD_TIMEOUT,
            move |_: &mut Kafka, ctx, reply| {
                match reply.and_then(|r| r.field::<u64>("offset")) {
                    Ok(offset) => ctx.reply(&origin, &json!({"type": "send_ok", "offset": offset})),
                    // The owner may have appended it: only an indefinite answer is honest.
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
            "poll" => self.scatter(ctx, msg, "poll", msg.field("offsets")?),
            "commit_offsets" => self.scatter(ctx, msg, "commit_offsets", msg.field("offsets")?),
            "list_committed_offsets" => {
                let keys: Vec<String> = msg.field("keys")?;
                let args = keys.into_iter().map(|k| (k, Value::Null)).collect();
                self.scatter(ctx, msg, "list_committed_offsets", args)
            }
            // Node to node: a send forwarded to this key's owner.
            "append" => {
                let SendRequest { key, msg: value } = msg.body()?;
                let offset = self.append(key, value);
                ctx.reply(msg, &json!({"type": "append_ok", "offset": offset}))
            }
            // Node to node: the part of a poll, commit or listing for keys owned here.
            "part" => {
                let kind: String = msg.field("kind")?;
                let args: Map<String, Value> = msg.field("args")?;
                let result = self.serve(&kind, &args);
                ctx.reply(msg, &json!({"type": "part_ok", "result": result}))
            }
            other => Err(Error::unsupported_type(other)),
        }
    }
}

fn main() -> std::io::Result<()> {
    maelstrom_loop::run(Kafka::default())
}
