//! Maelstrom's services, in process: `lin-kv`, `seq-kv`, `lww-kv` and `lin-tso`.
//!
//! [`Services`] answers one request body at a time with a reply body (or with nothing), the
//! way Maelstrom's service threads do:
//!
//! - KV requests: `read {key}` → `read_ok {value}` or error 20; `write {key, value}` →
//!   `write_ok`; `cas {key, from, to, create_if_not_exists?}` → `cas_ok`, error 22 (the text
//!   names the current and expected values) or error 20. `lww-kv` ignores
//!   `create_if_not_exists`, as Maelstrom's does.
//! - `lin-tso`: `ts` → `ts_ok {ts}`, 0, 1, 2, ...
//! - Replies carry `in_reply_to` (the request's `msg_id`) and no `msg_id` of their own.
//! - A request type the service does not know, or a body without a string `type`, gets no
//!   answer at all: Maelstrom's service thread throws and logs, and the caller sees only its
//!   own timeout. Missing fields act as JSON `null`, again as in Maelstrom (a `read` without
//!   `key` reads the key `null`), so there is no malformed-request error.
//!
//! Consistency, as Maelstrom v0.2.3 has it: `lin-kv` and `lin-tso` are one atomic state.
//! `seq-kv` ([`seq_kv`]) keeps a ring of the last 32 states and serves an operation that
//! changes nothing from a state picked uniformly between the last one the calling node
//! observed and the newest; one that changes the store runs on the newest. `lww-kv`
//! ([`lww_kv`]) is two replicas, each request on one picked at random, which (as in
//! Maelstrom, whose merge step is discarded) never converge.
//!
//! This module owns the services' state and semantics only; latency, routing and the trace
//! belong to the cluster.

mod lww_kv;
mod seq_kv;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::rng::Rng;

use lww_kv::LwwKv;
use seq_kv::SeqKv;

/// The ids of Maelstrom's services, as nodes address them.
pub const SERVICE_IDS: [&str; 4] = ["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// Which service a message is addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServiceId {
    LinKv,
    SeqKv,
    LwwKv,
    LinTso,
}

impl ServiceId {
    /// The service with this node id, if any.
    pub(crate) fn from_id(id: &str) -> Option<ServiceId> {
        match id {
            "lin-kv" => Some(ServiceId::LinKv),
            "seq-kv" => Some(ServiceId::SeqKv),
            "lww-kv" => Some(ServiceId::LwwKv),
            "lin-tso" => Some(ServiceId::LinTso),
            _ => None,
        }
    }

    /// The service's node id.
    pub(crate) fn id(self) -> &'static str {
        match self {
            ServiceId::LinKv => "lin-kv",
            ServiceId::SeqKv => "seq-kv",
            ServiceId::LwwKv => "lww-kv",
            ServiceId::LinTso => "lin-tso",
        }
    }
}

/// A decoded KV request. Missing fields are JSON `null`, as in Maelstrom.
#[derive(Debug)]
pub(crate) enum KvOp<'a> {
    Read {
        key: &'a Value,
    },
    Write {
        key: &'a Value,
        value: &'a Value,
    },
    Cas {
        key: &'a Value,
        from: &'a Value,
        to: &'a Value,
        create_if_not_exists: bool,
    },
}

impl<'a> KvOp<'a> {
    /// The operation a body asks for; `None` for a type the KV services do not know.
    fn decode(kind: &str, body: &'a Map<String, Value>) -> Option<KvOp<'a>> {
        let field = |name: &str| body.get(name).unwrap_or(&Value::Null);
        let key = field("key");
        match kind {
            "read" => Some(KvOp::Read { key }),
            "write" => Some(KvOp::Write {
                key,
                value: field("value"),
            }),
            "cas" => Some(KvOp::Cas {
                key,
                from: field("from"),
                to: field("to"),
                create_if_not_exists: is_truthy(field("create_if_not_exists")),
            }),
            _ => None,
        }
    }
}

/// A successful KV outcome.
#[derive(Debug, PartialEq)]
pub(crate) enum KvOk {
    Read(Value),
    Write,
    Cas,
}

/// Maelstrom-service state: one instance of each service.
#[derive(Debug)]
pub(crate) struct Services {
    lin_kv: BTreeMap<String, Value>,
    seq_kv: SeqKv,
    lww_kv: LwwKv,
    next_ts: u64,
    rng: Rng,
}

impl Services {
    /// Empty services drawing their random choices from `rng`.
    pub(crate) fn new(rng: Rng) -> Services {
        Services {
            lin_kv: BTreeMap::new(),
            seq_kv: SeqKv::new(),
            lww_kv: LwwKv::new(),
            next_ts: 0,
            rng,
        }
    }

    /// Handles a request `body` from node `client`. Returns the reply body (with
    /// `in_reply_to`), or `None` when Maelstrom's service would not answer.
    pub(crate) fn handle(
        &mut self,
        service: ServiceId,
        client: &str,
        body: &Value,
    ) -> Option<Value> {
        let body = body.as_object()?;
        let kind = body.get("type")?.as_str()?;
        let mut reply = match service {
            ServiceId::LinTso => self.timestamp(kind)?,
            _ => {
                let op = KvOp::decode(kind, body)?;
                kv_reply(self.apply(service, client, &op))
            }
        };
        let in_reply_to = body.get("msg_id").cloned().unwrap_or(Value::Null);
        if let Some(reply) = reply.as_object_mut() {
            reply.insert("in_reply_to".to_owned(), in_reply_to);
        }
        Some(reply)
    }

    /// `lin-tso`: the next timestamp, or nothing for any other request type.
    fn timestamp(&mut self, kind: &str) -> Option<Value> {
        if kind != "ts" {
            return None;
        }
        let ts = self.next_ts;
        self.next_ts += 1;
        Some(json!({"type": "ts_ok", "ts": ts}))
    }

    fn apply(&mut self, service: ServiceId, client: &str, op: &KvOp<'_>) -> Result<KvOk, Error> {
        match service {
            ServiceId::LinKv => apply_linearizable(&mut self.lin_kv, op),
            ServiceId::SeqKv => self.seq_kv.apply(client, op, &mut self.rng),
            ServiceId::LwwKv => self.lww_kv.apply(op, &mut self.rng),
            ServiceId::LinTso => unreachable!("lin-tso is not a KV service"),
        }
    }
}

/// `lin-kv`: every operation acts on the one current map.
fn apply_linearizable(map: &mut BTreeMap<String, Value>, op: &KvOp<'_>) -> Result<KvOk, Error> {
    match *op {
        KvOp::Read { key } => read_value(map.get(&key_text(key)), key).map(KvOk::Read),
        KvOp::Write { key, value } => {
            map.insert(key_text(key), value.clone());
            Ok(KvOk::Write)
        }
        KvOp::Cas {
            key,
            from,
            to,
            create_if_not_exists,
        } => {
            let text = key_text(key);
            cas_check(map.get(&text), key, from, create_if_not_exists)?;
            map.insert(text, to.clone());
            Ok(KvOk::Cas)
        }
    }
}

/// A key's identity: its JSON text (object keys come out sorted, so equal values agree;
/// `1` and `"1"` are different keys, as in Maelstrom).
pub(crate) fn key_text(key: &Value) -> String {
    key.to_string()
}

/// The value of a read, or error 20.
pub(crate) fn read_value(current: Option<&Value>, key: &Value) -> Result<Value, Error> {
    current.cloned().ok_or_else(|| missing_key(key))
}

/// Whether a `cas` may proceed on `current`: the value must equal `from`; a missing key is
/// error 20 unless `create_if_not_exists`.
pub(crate) fn cas_check(
    current: Option<&Value>,
    key: &Value,
    from: &Value,
    create_if_not_exists: bool,
) -> Result<(), Error> {
    match current {
        Some(value) if value == from => Ok(()),
        Some(value) => Err(Error::precondition_failed(format!(
            "current value {value} is not {from}"
        ))),
        None if create_if_not_exists => Ok(()),
        None => Err(missing_key(key)),
    }
}

/// Error 20 for `key`.
pub(crate) fn missing_key(key: &Value) -> Error {
    Error::key_does_not_exist(format!("key {key} does not exist"))
}

/// Clojure's truthiness, which Maelstrom applies to `create_if_not_exists`: anything but
/// `null` and `false`.
fn is_truthy(value: &Value) -> bool {
    !matches!(value, Value::Null | Value::Bool(false))
}

/// The reply body for a KV outcome (without `in_reply_to`).
fn kv_reply(outcome: Result<KvOk, Error>) -> Value {
    match outcome {
        Ok(KvOk::Read(value)) => json!({"type": "read_ok", "value": value}),
        Ok(KvOk::Write) => json!({"type": "write_ok"}),
        Ok(KvOk::Cas) => json!({"type": "cas_ok"}),
        Err(error) => json!({
            "type": "error",
            "code": error.code().code(),
            "text": error.text(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(services: &mut Services, service: &str, body: Value) -> Option<Value> {
        let service = ServiceId::from_id(service).expect("a service id");
        services.handle(service, "n0", &body)
    }

    /// Every KV operation and error code on `lin-kv`, each row a request and its reply.
    #[test]
    fn lin_kv_answers_each_operation_and_error() {
        let mut services = Services::new(Rng::new(1));
        let rows = [
            (
                json!({"type":"read","key":"x","msg_id":1}),
                json!({"type":"error","code":20,"text":"key \"x\" does not exist","in_reply_to":1}),
            ),
            (
                json!({"type":"cas","key":"x","from":1,"to":2,"msg_id":2}),
                json!({"type":"error","code":20,"text":"key \"x\" does not exist","in_reply_to":2}),
            ),
            (
                json!({"type":"cas","key":"x","from":1,"to":2,"create_if_not_exists":true,"msg_id":3}),
                json!({"type":"cas_ok","in_reply_to":3}),
            ),
            (
                json!({"type":"read","key":"x","msg_id":4}),
                json!({"type":"read_ok","value":2,"in_reply_to":4}),
            ),
            (
                json!({"type":"cas","key":"x","from":1,"to":3,"msg_id":5}),
                json!({"type":"error","code":22,"text":"current value 2 is not 1","in_reply_to":5}),
            ),
            (
                json!({"type":"write","key":"x","value":[1,"a"],"msg_id":6}),
                json!({"type":"write_ok","in_reply_to":6}),
            ),
            (
                json!({"type":"cas","key":"x","from":[1,"a"],"to":null,"msg_id":7}),
                json!({"type":"cas_ok","in_reply_to":7}),
            ),
            (
                json!({"type":"read","key":"x","msg_id":8}),
                json!({"type":"read_ok","value":null,"in_reply_to":8}),
            ),
        ];
        for (request, expected) in rows {
            assert_eq!(
                ask(&mut services, "lin-kv", request.clone()),
                Some(expected),
                "{request}"
            );
        }
    }

    #[test]
    fn keys_of_different_json_types_are_different_keys() {
        let mut services = Services::new(Rng::new(1));
        ask(
            &mut services,
            "lin-kv",
            json!({"type":"write","key":1,"value":"int","msg_id":1}),
        );
        let reply = ask(
            &mut services,
            "lin-kv",
            json!({"type":"read","key":"1","msg_id":2}),
        );
        assert_eq!(reply.unwrap()["code"], 20);
    }

    #[test]
    fn unknown_or_missing_types_get_no_answer() {
        let mut services = Services::new(Rng::new(1));
        for service in SERVICE_IDS {
            assert_eq!(
                ask(
                    &mut services,
                    service,
                    json!({"type":"frobnicate","msg_id":1})
                ),
                None
            );
            assert_eq!(ask(&mut services, service, json!({"msg_id":1})), None);
            assert_eq!(
                ask(&mut services, service, json!({"type":7,"msg_id":1})),
                None
            );
        }
        assert_eq!(
            ask(&mut services, "lin-tso", json!({"type":"read","key":1})),
            None
        );
        assert_eq!(
            ask(&mut services, "lin-kv", json!({"type":"ts","msg_id":1})),
            None
        );
    }

    #[test]
    fn lin_tso_counts_up_from_zero() {
        let mut services = Services::new(Rng::new(1));
        for expected in 0..5 {
            let reply = ask(
                &mut services,
                "lin-tso",
                json!({"type":"ts","msg_id":expected + 10}),
            );
            assert_eq!(
                reply,
                Some(json!({"type":"ts_ok","ts":expected,"in_reply_to":expected + 10}))
            );
        }
    }

    #[test]
    fn missing_fields_act_as_null_like_maelstrom() {
        let mut services = Services::new(Rng::new(1));
        let reply = ask(&mut services, "lin-kv", json!({"type":"write","msg_id":1}));
        assert_eq!(reply, Some(json!({"type":"write_ok","in_reply_to":1})));
        let reply = ask(&mut services, "lin-kv", json!({"type":"read","key":null}));
        assert_eq!(
            reply,
            Some(json!({"type":"read_ok","value":null,"in_reply_to":null}))
        );
    }
}
