//! Workload clients: what each Maelstrom workload's clients send, what a valid answer looks
//! like (its schema), and how an answer is written into the [`History`](super::history).
//!
//! Operations follow Maelstrom's generators in spirit: distinct integers for broadcast and
//! g-set, small deltas for counters, small transactions over a few keys with values unique
//! per key, reads/writes/compare-and-sets over a few lin-kv keys, sends/polls/commits over a
//! few kafka keys. The module owns generation and interpretation only: the runner decides
//! when and to whom, and drives the cluster.

use serde_json::{json, Map, Value};

use super::check::Workload;
use super::history::OpKind;
use super::rng::Rng;

/// Keys used by the key-value and transactional workloads.
const KEYS: u64 = 8;
/// Kafka keys (numeric strings).
const KAFKA_KEYS: u64 = 4;

/// One operation about to be sent: its history name and value, and the request body
/// (without `msg_id`).
#[derive(Clone, Debug)]
pub struct Request {
    /// The operation's name in the history (`"read"`, `"add"`, `"txn"`, ...).
    pub f: &'static str,
    /// The value recorded at invocation.
    pub value: Value,
    /// The body to send.
    pub body: Value,
}

/// How an answer went into the history, or why it broke the workload's schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The completion to record.
    Done(OpKind, Value),
    /// The answer does not fit the workload's schema: a run with one is invalid.
    SchemaError(String),
}

/// Generates operations for one workload; all randomness comes from its [`Rng`].
#[derive(Debug)]
pub struct Generator {
    workload: Workload,
    rng: Rng,
    /// The next unique value (broadcast messages, set elements, written values).
    next_value: u64,
    /// Per kafka client process: the offsets to poll from next.
    kafka_positions: std::collections::BTreeMap<u64, Map<String, Value>>,
}

impl Generator {
    /// A generator for `workload` drawing from `rng`.
    pub fn new(workload: Workload, rng: Rng) -> Generator {
        Generator {
            workload,
            rng,
            next_value: 0,
            kafka_positions: Default::default(),
        }
    }

    fn unique(&mut self) -> u64 {
        self.next_value += 1;
        self.next_value
    }

    /// The next operation for client `process`.
    pub fn next(&mut self, process: u64) -> Request {
        match self.workload {
            Workload::Echo => {
                let text = format!("Please echo {}", self.unique());
                request("echo", json!(text), json!({"type": "echo", "echo": text}))
            }
            Workload::UniqueIds => request("generate", Value::Null, json!({"type": "generate"})),
            Workload::Broadcast => self.set_op("broadcast", "message"),
            Workload::GSet => self.set_op("add", "element"),
            Workload::GCounter => self.counter_op(0),
            Workload::PnCounter => self.counter_op(5),
            Workload::LinKv => self.lin_kv_op(),
            Workload::TxnRwRegister { .. } => self.txn_op("w"),
            Workload::TxnListAppend => self.txn_op("append"),
            Workload::Kafka => self.kafka_op(process),
        }
    }

    /// The final read asked of every node at the end, for workloads that have one.
    pub fn final_read(&self) -> Option<Request> {
        match self.workload {
            Workload::Broadcast | Workload::GSet | Workload::GCounter | Workload::PnCounter => {
                Some(request("read", Value::Null, json!({"type": "read"})))
            }
            _ => None,
        }
    }

    fn set_op(&mut self, f: &'static str, field: &str) -> Request {
        if self.rng.chance(0.5) {
            return request("read", Value::Null, json!({"type": "read"}));
        }
        let v = self.unique();
        let mut body = json!({"type": f});
        body[field] = json!(v);
        request(f, json!(v), body)
    }

    fn counter_op(&mut self, negative_up_to: u64) -> Request {
        if self.rng.chance(0.5) {
            return request("read", Value::Null, json!({"type": "read"}));
        }
        let delta = self.rng.below(6 + negative_up_to) as i64 - negative_up_to as i64;
        request("add", json!(delta), json!({"type": "add", "delta": delta}))
    }

    fn lin_kv_op(&mut self) -> Request {
        let key = self.rng.below(KEYS / 2);
        match self.rng.below(3) {
            0 => request(
                "read",
                json!([key, null]),
                json!({"type": "read", "key": key}),
            ),
            1 => {
                let v = self.rng.below(5);
                request(
                    "write",
                    json!([key, v]),
                    json!({"type": "write", "key": key, "value": v}),
                )
            }
            _ => {
                let (from, to) = (self.rng.below(5), self.rng.below(5));
                let body = json!({"type": "cas", "key": key, "from": from, "to": to});
                request("cas", json!([key, [from, to]]), body)
            }
        }
    }

    fn txn_op(&mut self, write: &str) -> Request {
        let len = 1 + self.rng.below(4);
        let ops: Vec<Value> = (0..len)
            .map(|_| {
                let key = self.rng.below(KEYS);
                if self.rng.chance(0.5) {
                    json!(["r", key, null])
                } else {
                    json!([write, key, self.unique()])
                }
            })
            .collect();
        request("txn", json!(ops), json!({"type": "txn", "txn": ops}))
    }

    fn kafka_op(&mut self, process: u64) -> Request {
        let key = self.rng.below(KAFKA_KEYS).to_string();
        let positions = self.kafka_positions.entry(process).or_default().clone();
        match self.rng.below(10) {
            0..=4 => {
                let msg = self.unique();
                let body = json!({"type": "send", "key": key, "msg": msg});
                request("send", json!([key, msg]), body)
            }
            5..=7 => {
                let mut offsets = Map::new();
                for k in 0..KAFKA_KEYS {
                    let k = k.to_string();
                    let from = positions.get(&k).cloned().unwrap_or(json!(0));
                    offsets.insert(k, from);
                }
                let offsets = Value::Object(offsets);
                request(
                    "poll",
                    offsets.clone(),
                    json!({"type": "poll", "offsets": offsets}),
                )
            }
            8 if !positions.is_empty() => {
                let offsets = Value::Object(positions);
                let body = json!({"type": "commit_offsets", "offsets": offsets});
                request("commit_offsets", offsets, body)
            }
            _ => {
                let keys: Vec<String> = (0..KAFKA_KEYS).map(|k| k.to_string()).collect();
                let body = json!({"type": "list_committed_offsets", "keys": keys});
                request("list_committed_offsets", json!(keys), body)
            }
        }
    }

    /// Interprets the answer to `req` from client `process`.
    pub fn complete(&mut self, process: u64, req: &Request, reply: &Value) -> Outcome {
        let kind = reply["type"].as_str().unwrap_or("");
        if kind == "error" {
            return self.error_outcome(req, reply);
        }
        let expected = ok_type(req);
        if kind != expected {
            return Outcome::SchemaError(format!("expected {expected}, got {reply}"));
        }
        let fields = self.reply_fields(req);
        if let Some(extra) = extra_key(reply, fields) {
            return Outcome::SchemaError(format!(
                "{expected} has key `{extra}` beyond the schema: {reply}"
            ));
        }
        if let Some(missing) = fields.iter().find(|f| reply.get(**f).is_none()) {
            return Outcome::SchemaError(format!("{expected} lacks `{missing}`: {reply}"));
        }
        let value = self.ok_value(process, req, reply);
        Outcome::Done(OpKind::Ok, value)
    }

    fn error_outcome(&self, req: &Request, reply: &Value) -> Outcome {
        let code = reply["code"].as_u64().unwrap_or(13) as u32;
        let code = crate::ErrorCode::from_code(code);
        // A read of a missing lin-kv key is an answer: the register is empty.
        if self.workload == Workload::LinKv
            && req.f == "read"
            && code == crate::ErrorCode::KeyDoesNotExist
        {
            return Outcome::Done(OpKind::Ok, json!([req.value[0], null]));
        }
        let kind = if code.is_definite() {
            OpKind::Fail
        } else {
            OpKind::Info
        };
        Outcome::Done(kind, req.value.clone())
    }

    fn reply_fields(&self, req: &Request) -> &'static [&'static str] {
        match (req.f, &self.workload) {
            ("echo", _) => &["echo"],
            ("generate", _) => &["id"],
            ("read", Workload::Broadcast) => &["messages"],
            ("read", _) => &["value"],
            ("txn", _) => &["txn"],
            ("send", _) => &["offset"],
            ("poll", _) => &["msgs"],
            ("list_committed_offsets", _) => &["offsets"],
            _ => &[],
        }
    }

    fn ok_value(&mut self, process: u64, req: &Request, reply: &Value) -> Value {
        match (req.f, &self.workload) {
            ("echo", _) => reply["echo"].clone(),
            ("generate", _) => reply["id"].clone(),
            ("read", Workload::Broadcast) => reply["messages"].clone(),
            ("read", Workload::LinKv) => json!([req.value[0], reply["value"]]),
            ("read", _) => reply["value"].clone(),
            ("txn", _) => reply["txn"].clone(),
            ("send", _) => json!([req.value[0], req.value[1], reply["offset"]]),
            ("poll", _) => {
                self.advance_positions(process, &reply["msgs"]);
                reply["msgs"].clone()
            }
            ("list_committed_offsets", _) => reply["offsets"].clone(),
            _ => req.value.clone(),
        }
    }

    /// A kafka client resumes polling after the last offset it saw, per key.
    fn advance_positions(&mut self, process: u64, msgs: &Value) {
        let positions = self.kafka_positions.entry(process).or_default();
        for (key, entries) in msgs.as_object().into_iter().flatten() {
            let last = entries
                .as_array()
                .and_then(|e| e.last())
                .and_then(|e| e[0].as_u64());
            if let Some(last) = last {
                positions.insert(key.clone(), json!(last + 1));
            }
        }
    }
}

fn request(f: &'static str, value: Value, body: Value) -> Request {
    Request { f, value, body }
}

/// The answer type a request expects: its own type plus `_ok`.
fn ok_type(req: &Request) -> String {
    format!("{}_ok", req.body["type"].as_str().unwrap_or(""))
}

/// A key outside `fields` and the protocol keys, if any.
fn extra_key<'a>(reply: &'a Value, fields: &[&str]) -> Option<&'a str> {
    let protocol = ["type", "msg_id", "in_reply_to"];
    reply
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|k| !protocol.contains(k) && !fields.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_held_to_the_schema() {
        let mut g = Generator::new(Workload::GCounter, Rng::new(1));
        let read = request("read", Value::Null, json!({"type": "read"}));
        let ok = json!({"type": "read_ok", "value": 5, "msg_id": 1, "in_reply_to": 3});
        assert_eq!(
            g.complete(1, &read, &ok),
            Outcome::Done(OpKind::Ok, json!(5))
        );
        let extra = json!({"type": "read_ok", "value": 5, "node": "n1", "in_reply_to": 3});
        assert!(
            matches!(g.complete(1, &read, &extra), Outcome::SchemaError(e) if e.contains("node"))
        );
        let wrong = json!({"type": "add_ok", "in_reply_to": 3});
        assert!(matches!(
            g.complete(1, &read, &wrong),
            Outcome::SchemaError(_)
        ));
        let definite = json!({"type": "error", "code": 11, "text": "later", "extra": 1});
        assert_eq!(
            g.complete(1, &read, &definite),
            Outcome::Done(OpKind::Fail, Value::Null)
        );
        let indefinite = json!({"type": "error", "code": 0});
        assert_eq!(
            g.complete(1, &read, &indefinite),
            Outcome::Done(OpKind::Info, Value::Null)
        );
    }

    #[test]
    fn set_values_are_unique_and_txn_writes_unique_per_key() {
        let mut g = Generator::new(
            Workload::TxnRwRegister {
                model: super::super::check::TxnModel::ReadCommitted,
            },
            Rng::new(9),
        );
        let mut written = std::collections::HashSet::new();
        for _ in 0..500 {
            for op in g.next(1).value.as_array().unwrap() {
                if op[0] == "w" {
                    assert!(written.insert((op[1].as_u64(), op[2].as_u64())));
                }
            }
        }
    }
}
