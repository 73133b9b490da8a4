//! Clients for Maelstrom's built-in services: the key-value stores `seq-kv`, `lin-kv` and
//! `lww-kv`, and the timestamp oracle `lin-tso`.
//!
//! Each call is an RPC with a continuation, like [`Ctx::rpc`]: it sends the request and later
//! runs the continuation with a typed outcome. Service replies reach that continuation, never
//! [`Handler::on_message`], so a workload's own `read`/`read_ok` cannot collide with them.
//! Outcomes are typed: a missing key on read is `Ok(None)`; a compare-and-set says
//! [`Cas::Applied`], [`Cas::Mismatch`] or [`Cas::Missing`]; other failures (timeouts,
//! unexpected codes) are `Err` with the crate's [`Error`].
//!
//! # What each service guarantees
//!
//! - `lin-kv` ([`Kv::lin`]) is linearizable: every operation takes effect at one instant
//!   between its request and its reply.
//! - `seq-kv` ([`Kv::seq`]) is sequentially consistent: all nodes agree on one order of
//!   updates and each node's view only moves forward, but a read may return an older state
//!   than another node has already seen — even right after that node's write was acknowledged.
//! - `lww-kv` ([`Kv::lww`]) is last-write-wins over several replicas that gossip: reads may be
//!   stale and concurrent writes may be lost. It ignores `create_if_not_exists`.
//! - `lin-tso` ([`Tso`]) hands out strictly increasing integers, starting at 0.
//!
//! The usual way around seq-kv's staleness is to never trust a read for a decision and do
//! read-modify-write with compare-and-set: a stale read makes the CAS fail, and the retry
//! reads a newer state. [`Kv::update`] does exactly that (the example below).
//!
//! A read that answers a client needs more: seq-kv may serve it from a state older than the
//! writes other nodes have made, so a counter read from seq-kv can come back short, even in
//! the final reads (the simulator fails such a node now and then; Maelstrom does less often).
//! To read fresh, first make a write that changes the store, from this node (say, a new
//! value to a key of its own, `sync-<node id>`), and read after its acknowledgement: seq-kv
//! orders every node's operations after that write, so the read sees at least every write
//! acknowledged before it. Or use `lin-kv`, whose reads are never stale.
//!
//! ```no_run
//! use maelstrom_loop::{kv::Kv, Ctx, Error, Handler, Message};
//!
//! struct Counter;
//!
//! impl Handler for Counter {
//!     type Timer = ();
//!     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
//!         let delta: i64 = msg.field("delta")?;
//!         let request = msg.origin();
//!         // Retries read + compare-and-set until it wins, at most 20 times.
//!         Kv::seq().update(ctx, "total", 0_i64, move |total| total + delta, 20,
//!             move |_node: &mut Counter, ctx, result| match result {
//!                 Ok(_new_total) => ctx.reply(&request, &serde_json::json!({"type": "add_ok"})),
//!                 Err(e) => Err(e), // logged; the client times out and retries
//!             })?;
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     maelstrom_loop::run(Counter)
//! }
//! ```

use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::{Error, ErrorCode};
use crate::handler::Handler;
use crate::message::Message;
use crate::rpc::RpcId;
use crate::time::Duration;

/// How long a service call waits for its reply unless told otherwise.
pub const DEFAULT_SERVICE_TIMEOUT: Duration = Duration::from_secs(1);

/// The outcome of a compare-and-set that the service answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cas {
    /// The value was `from` (or missing, with create) and is now `to`.
    Applied,
    /// The value was not `from` (error 22, precondition-failed).
    Mismatch,
    /// The key did not exist and creation was not asked for (error 20).
    Missing,
}

/// A client for one key-value service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kv {
    service: &'static str,
    timeout: Duration,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "read")]
struct ReadRequest<'a, K: ?Sized> {
    key: &'a K,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "write")]
struct WriteRequest<'a, K: ?Sized, V: ?Sized> {
    key: &'a K,
    value: &'a V,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "cas")]
struct CasRequest<'a, K: ?Sized, V: ?Sized> {
    key: &'a K,
    from: &'a V,
    to: &'a V,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    create_if_not_exists: bool,
}

impl Kv {
    /// The linearizable store, `lin-kv`.
    pub const fn lin() -> Kv {
        Kv::named("lin-kv")
    }

    /// The sequentially consistent store, `seq-kv`.
    pub const fn seq() -> Kv {
        Kv::named("seq-kv")
    }

    /// The last-write-wins store, `lww-kv`.
    pub const fn lww() -> Kv {
        Kv::named("lww-kv")
    }

    /// A store at another id (a test double, or a service of your own).
    pub const fn named(service: &'static str) -> Kv {
        Kv {
            service,
            timeout: DEFAULT_SERVICE_TIMEOUT,
        }
    }

    /// The same client with another reply timeout.
    pub const fn with_timeout(self, timeout: Duration) -> Kv {
        Kv { timeout, ..self }
    }

    /// The service's id.
    pub const fn service(&self) -> &'static str {
        self.service
    }

    /// Reads `key`; the continuation gets `Ok(Some(value))`, `Ok(None)` for a missing key,
    /// or `Err` (timeout, a value that does not decode as `T` (code 12), another error).
    ///
    /// # Errors
    /// As [`Ctx::rpc`]: the request could not be sent.
    pub fn read<H, K, T, F>(&self, ctx: &mut Ctx<'_, H>, key: &K, then: F) -> Result<RpcId, Error>
    where
        H: Handler,
        K: Serialize + ?Sized,
        T: DeserializeOwned,
        F: for<'c> FnOnce(&mut H, &mut Ctx<'c, H>, Result<Option<T>, Error>) -> Result<(), Error>
            + 'static,
    {
        ctx.rpc(
            self.service,
            &ReadRequest { key },
            self.timeout,
            move |h, ctx, reply| then(h, ctx, read_outcome(reply)),
        )
    }

    /// Reads `key`, giving `default` when it is missing.
    ///
    /// # Errors
    /// As [`Ctx::rpc`].
    pub fn read_or<H, K, T, F>(
        &self,
        ctx: &mut Ctx<'_, H>,
        key: &K,
        default: T,
        then: F,
    ) -> Result<RpcId, Error>
    where
        H: Handler,
        K: Serialize + ?Sized,
        T: DeserializeOwned + 'static,
        F: for<'c> FnOnce(&mut H, &mut Ctx<'c, H>, Result<T, Error>) -> Result<(), Error> + 'static,
    {
        self.read(ctx, key, move |h, ctx, value: Result<Option<T>, Error>| {
            then(h, ctx, value.map(|v| v.unwrap_or(default)))
        })
    }

    /// Writes `value` at `key` unconditionally.
    ///
    /// # Errors
    /// As [`Ctx::rpc`].
    pub fn write<H, K, V, F>(
        &self,
        ctx: &mut Ctx<'_, H>,
        key: &K,
        value: &V,
        then: F,
    ) -> Result<RpcId, Error>
    where
        H: Handler,
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
        F: for<'c> FnOnce(&mut H, &mut Ctx<'c, H>, Result<(), Error>) -> Result<(), Error>
            + 'static,
    {
        let body = WriteRequest { key, value };
        ctx.rpc(self.service, &body, self.timeout, move |h, ctx, reply| {
            then(h, ctx, expect_type(reply, "write_ok").map(|_| ()))
        })
    }

    /// Sets `key` to `to` if it holds `from`; with `create_if_missing`, a missing key is
    /// created with `to` (not on `lww-kv`, which ignores the flag).
    ///
    /// # Errors
    /// As [`Ctx::rpc`].
    pub fn cas<H, K, V, F>(
        &self,
        ctx: &mut Ctx<'_, H>,
        key: &K,
        from: &V,
        to: &V,
        create_if_missing: bool,
        then: F,
    ) -> Result<RpcId, Error>
    where
        H: Handler,
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
        F: for<'c> FnOnce(&mut H, &mut Ctx<'c, H>, Result<Cas, Error>) -> Result<(), Error>
            + 'static,
    {
        let body = CasRequest {
            key,
            from,
            to,
            create_if_not_exists: create_if_missing,
        };
        ctx.rpc(self.service, &body, self.timeout, move |h, ctx, reply| {
            then(h, ctx, cas_outcome(reply))
        })
    }

    /// Read-modify-write until it wins: reads `key` (`default` if missing), computes
    /// `change(current)`, and compare-and-sets it; a lost race re-reads and retries, at most
    /// `max_attempts` times. The continuation gets the value written.
    ///
    /// # Errors
    /// As [`Ctx::rpc`]. The continuation gets code 30 (txn-conflict) when every attempt lost,
    /// or the first other error.
    pub fn update<H, K, T, C, F>(
        &self,
        ctx: &mut Ctx<'_, H>,
        key: &K,
        default: T,
        change: C,
        max_attempts: u32,
        then: F,
    ) -> Result<RpcId, Error>
    where
        H: Handler,
        K: Serialize + ?Sized,
        T: Serialize + DeserializeOwned + Clone + 'static,
        C: Fn(&T) -> T + 'static,
        F: for<'c> FnOnce(&mut H, &mut Ctx<'c, H>, Result<T, Error>) -> Result<(), Error> + 'static,
    {
        let key = serde_json::to_value(key)
            .map_err(|e| Error::crash(format!("cannot encode key: {e}")))?;
        let attempt = Update {
            kv: *self,
            key: Rc::new(key),
            default: Rc::new(default),
            change: Rc::new(change),
            attempts_left: max_attempts.max(1),
        };
        attempt.start(ctx, Box::new(then))
    }
}

/// A boxed continuation for [`Kv::update`], carried through its retries.
type UpdateThen<H, T> =
    Box<dyn for<'c> FnOnce(&mut H, &mut Ctx<'c, H>, Result<T, Error>) -> Result<(), Error>>;

/// One read-modify-write in progress (shared pieces are `Rc` so each retry can reuse them).
struct Update<T, C> {
    kv: Kv,
    key: Rc<serde_json::Value>,
    default: Rc<T>,
    change: Rc<C>,
    attempts_left: u32,
}

impl<T, C> Update<T, C>
where
    T: Serialize + DeserializeOwned + Clone + 'static,
    C: Fn(&T) -> T + 'static,
{
    fn start<H: Handler>(
        self,
        ctx: &mut Ctx<'_, H>,
        then: UpdateThen<H, T>,
    ) -> Result<RpcId, Error> {
        let kv = self.kv;
        let key = Rc::clone(&self.key);
        kv.read(
            ctx,
            &*key,
            move |h, ctx, current: Result<Option<T>, Error>| match current {
                Ok(current) => self.try_cas(h, ctx, current, then),
                Err(e) => then(h, ctx, Err(e)),
            },
        )
    }

    fn try_cas<H: Handler>(
        self,
        _h: &mut H,
        ctx: &mut Ctx<'_, H>,
        current: Option<T>,
        then: UpdateThen<H, T>,
    ) -> Result<(), Error> {
        let missing = current.is_none();
        let from = current.unwrap_or_else(|| (*self.default).clone());
        let to = (self.change)(&from);
        let kv = self.kv;
        let key = Rc::clone(&self.key);
        let written = to.clone();
        let sent = kv.cas(
            ctx,
            &*key,
            &from,
            &to,
            missing,
            move |h, ctx, outcome| match outcome {
                Ok(Cas::Applied) => then(h, ctx, Ok(written)),
                Ok(Cas::Mismatch | Cas::Missing) if self.attempts_left > 1 => {
                    let retry = Update {
                        attempts_left: self.attempts_left - 1,
                        ..self
                    };
                    retry.start(ctx, then).map(|_| ())
                }
                Ok(_) => then(
                    h,
                    ctx,
                    Err(Error::txn_conflict(
                        "update lost every compare-and-set race",
                    )),
                ),
                Err(e) => then(h, ctx, Err(e)),
            },
        );
        sent.map(|_| ())
    }
}

/// A client for the `lin-tso` timestamp oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tso {
    timeout: Duration,
}

impl Default for Tso {
    fn default() -> Self {
        Tso {
            timeout: DEFAULT_SERVICE_TIMEOUT,
        }
    }
}

impl Tso {
    /// The same client with another reply timeout.
    pub const fn with_timeout(timeout: Duration) -> Tso {
        Tso { timeout }
    }

    /// Asks for the next timestamp.
    ///
    /// # Errors
    /// As [`Ctx::rpc`].
    pub fn ts<H, F>(&self, ctx: &mut Ctx<'_, H>, then: F) -> Result<RpcId, Error>
    where
        H: Handler,
        F: for<'c> FnOnce(&mut H, &mut Ctx<'c, H>, Result<u64, Error>) -> Result<(), Error>
            + 'static,
    {
        let body = serde_json::json!({"type": "ts"});
        ctx.rpc("lin-tso", &body, self.timeout, move |h, ctx, reply| {
            let ts = expect_type(reply, "ts_ok").and_then(|m| m.field::<u64>("ts"));
            then(h, ctx, ts)
        })
    }
}

/// Checks a reply's type, turning a surprise into code 12.
fn expect_type<'m>(reply: Result<Message<'m>, Error>, kind: &str) -> Result<Message<'m>, Error> {
    let reply = reply?;
    if reply.kind() == kind {
        Ok(reply)
    } else {
        Err(Error::malformed(format!(
            "expected {kind}, got {}",
            reply.kind()
        )))
    }
}

fn read_outcome<T: DeserializeOwned>(
    reply: Result<Message<'_>, Error>,
) -> Result<Option<T>, Error> {
    match expect_type(reply, "read_ok") {
        Ok(reply) => reply.field::<T>("value").map(Some),
        Err(e) if e.code() == ErrorCode::KeyDoesNotExist => Ok(None),
        Err(e) => Err(e),
    }
}

fn cas_outcome(reply: Result<Message<'_>, Error>) -> Result<Cas, Error> {
    match expect_type(reply, "cas_ok") {
        Ok(_) => Ok(Cas::Applied),
        Err(e) if e.code() == ErrorCode::PreconditionFailed => Ok(Cas::Mismatch),
        Err(e) if e.code() == ErrorCode::KeyDoesNotExist => Ok(Cas::Missing),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Instant, Node};
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    /// Records every outcome its service calls produce.
    #[derive(Default)]
    struct Probe {
        log: Vec<String>,
    }

    impl Handler for Probe {
        type Timer = ();
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
            let kv = Kv::lin();
            match msg.kind() {
                "read" => kv.read(
                    ctx,
                    &msg.field::<Value>("key")?,
                    |p: &mut Probe, _, r: Result<Option<i64>, Error>| {
                        p.log.push(format!("read {r:?}"));
                        Ok(())
                    },
                ),
                "read_or" => kv.read_or(ctx, "k", 7_i64, |p: &mut Probe, _, r| {
                    p.log.push(format!("read_or {r:?}"));
                    Ok(())
                }),
                "write" => kv.write(ctx, "k", &5, |p: &mut Probe, _, r| {
                    p.log.push(format!("write {r:?}"));
                    Ok(())
                }),
                "cas" => kv.cas(
                    ctx,
                    "k",
                    &1,
                    &2,
                    msg.field("create")?,
                    |p: &mut Probe, _, r| {
                        p.log.push(format!("cas {r:?}"));
                        Ok(())
                    },
                ),
                "update" => kv.update(
                    ctx,
                    "k",
                    0_i64,
                    |v| v + 10,
                    msg.field("attempts")?,
                    |p: &mut Probe, _, r| {
                        p.log.push(format!("update {r:?}"));
                        Ok(())
                    },
                ),
                "ts" => Tso::default().ts(ctx, |p: &mut Probe, _, r| {
                    p.log.push(format!("ts {r:?}"));
                    Ok(())
                }),
                _ => return Err(Error::not_supported("probe")),
            }
            .map(|_| ())
        }
    }

    /// A lin-kv stand-in that answers like the real one (no msg_id on replies), optionally
    /// pretending the first `stale` CAS requests raced with someone else.
    struct FakeKv {
        data: BTreeMap<String, Value>,
        stale: u32,
        requests: Vec<Value>,
    }

    impl FakeKv {
        fn answer(&mut self, body: &Value) -> Value {
            self.requests.push(body.clone());
            let key = body["key"].to_string();
            let reply = match body["type"].as_str() {
                Some("read") => match self.data.get(&key) {
                    Some(v) => json!({"type": "read_ok", "value": v}),
                    None => json!({"type": "error", "code": 20, "text": "missing"}),
                },
                Some("write") => {
                    self.data.insert(key, body["value"].clone());
                    json!({"type": "write_ok"})
                }
                Some("cas") => self.cas(key, body),
                Some("ts") => json!({"type": "ts_ok", "ts": 41}),
                _ => json!({"type": "error", "code": 10}),
            };
            let mut reply = reply;
            reply["in_reply_to"] = body["msg_id"].clone();
            reply
        }

        fn cas(&mut self, key: String, body: &Value) -> Value {
            if self.stale > 0 {
                self.stale -= 1;
                return json!({"type": "error", "code": 22, "text": "raced"});
            }
            match self.data.get(&key) {
                None if body["create_if_not_exists"] == json!(true) => {
                    self.data.insert(key, body["to"].clone());
                    json!({"type": "cas_ok"})
                }
                None => json!({"type": "error", "code": 20, "text": "missing"}),
                Some(v) if *v == body["from"] => {
                    self.data.insert(key, body["to"].clone());
                    json!({"type": "cas_ok"})
                }
                Some(_) => json!({"type": "error", "code": 22, "text": "mismatch"}),
            }
        }
    }

    /// Delivers `request` to the node, then bounces every service request off `kv` until
    /// the node goes quiet.
    fn exchange(node: &mut Node<Probe>, kv: &mut FakeKv, request: Value) {
        let line = json!({"src": "c1", "dest": "n1", "body": request}).to_string();
        node.handle_line(Instant::ZERO, line.as_bytes());
        for _ in 0..100 {
            let out = String::from_utf8(node.output().to_vec()).unwrap();
            node.clear_output();
            if out.is_empty() {
                return;
            }
            for line in out.lines() {
                let msg: Value = serde_json::from_str(line).unwrap();
                if msg["dest"] == "lin-kv" || msg["dest"] == "lin-tso" {
                    let reply =
                        json!({"src": msg["dest"], "dest": "n1", "body": kv.answer(&msg["body"])});
                    node.handle_line(Instant::ZERO, reply.to_string().as_bytes());
                }
            }
        }
        panic!("the node never went quiet");
    }

    fn node() -> (Node<Probe>, FakeKv) {
        let mut node = Node::new(Probe::default());
        let init = r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#;
        node.handle_line(Instant::ZERO, init.as_bytes());
        node.clear_output();
        let kv = FakeKv {
            data: BTreeMap::new(),
            stale: 0,
            requests: Vec::new(),
        };
        (node, kv)
    }

    /// Maelstrom's docs "Services": read, write, cas and their error codes as typed outcomes.
    #[test]
    fn outcomes_are_typed_missing_key_and_cas_failures_are_distinct() {
        let (mut node, mut kv) = node();
        exchange(&mut node, &mut kv, json!({"type": "read", "key": "k"}));
        exchange(&mut node, &mut kv, json!({"type": "read_or"}));
        exchange(&mut node, &mut kv, json!({"type": "cas", "create": false}));
        exchange(&mut node, &mut kv, json!({"type": "write"}));
        exchange(&mut node, &mut kv, json!({"type": "read", "key": "k"}));
        exchange(&mut node, &mut kv, json!({"type": "cas", "create": false}));
        kv.data.insert("\"k\"".into(), json!(1));
        exchange(&mut node, &mut kv, json!({"type": "cas", "create": false}));
        exchange(&mut node, &mut kv, json!({"type": "ts"}));
        assert_eq!(
            node.handler().log,
            [
                "read Ok(None)",
                "read_or Ok(7)",
                "cas Ok(Missing)",
                "write Ok(())",
                "read Ok(Some(5))",
                "cas Ok(Mismatch)",
                "cas Ok(Applied)",
                "ts Ok(41)",
            ]
        );
        assert_eq!(
            kv.requests[2],
            json!({"type": "cas", "key": "k", "from": 1, "to": 2, "msg_id": kv.requests[2]["msg_id"]})
        );
        assert_eq!(node.pending_rpcs(), 0);
    }

    #[test]
    fn update_retries_lost_races_then_reports_the_written_value() {
        let (mut node, mut kv) = node();
        kv.stale = 2;
        exchange(&mut node, &mut kv, json!({"type": "update", "attempts": 5}));
        assert_eq!(node.handler().log, ["update Ok(10)"]);
        let kinds: Vec<&str> = kv
            .requests
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["read", "cas", "read", "cas", "read", "cas"]);
        assert_eq!(
            kv.requests[1]["create_if_not_exists"],
            json!(true),
            "missing key: create"
        );
        assert_eq!(kv.data["\"k\""], json!(10));
    }

    #[test]
    fn update_gives_up_after_its_attempts_with_txn_conflict() {
        let (mut node, mut kv) = node();
        kv.stale = 100;
        exchange(&mut node, &mut kv, json!({"type": "update", "attempts": 3}));
        assert_eq!(node.handler().log.len(), 1);
        assert!(
            node.handler().log[0].contains("TxnConflict"),
            "{:?}",
            node.handler().log
        );
        assert_eq!(kv.requests.len(), 6);
    }

    /// A service that never answers (an unknown request type gets no reply at all) costs a
    /// timeout, not a leak.
    #[test]
    fn a_silent_service_times_out() {
        let (mut node, _) = node();
        let line = json!({"src": "c1", "dest": "n1", "body": {"type": "write"}}).to_string();
        node.handle_line(Instant::ZERO, line.as_bytes());
        assert_eq!(node.pending_rpcs(), 1);
        assert_eq!(
            node.next_deadline(),
            Some(Instant::ZERO + DEFAULT_SERVICE_TIMEOUT)
        );
        node.handle_timeout(Instant::ZERO + DEFAULT_SERVICE_TIMEOUT);
        assert_eq!(node.pending_rpcs(), 0);
        assert_eq!(node.handler().log.len(), 1);
        assert!(
            node.handler().log[0].starts_with("write Err"),
            "{:?}",
            node.handler().log
        );
        assert!(node.handler().log[0].contains("Timeout"));
    }

    /// Issue: a service that answers garbage must not wedge the node. One row per bad
    /// answer to a `read`; each reaches the continuation as an error, exactly once, and the
    /// next call works.
    #[test]
    fn garbage_answers_from_a_service_become_errors_and_the_node_goes_on() {
        let rows: &[(Value, &str)] = &[
            (json!({"type": "read_ok"}), "MalformedRequest"),
            (
                json!({"type": "read_ok", "value": "five"}),
                "MalformedRequest",
            ),
            (json!({"type": "write_ok"}), "expected read_ok"),
            (json!({"type": "error", "code": "x"}), "Err"),
            (
                json!({"type": "error", "code": 11, "text": 7}),
                "TemporarilyUnavailable",
            ),
        ];
        for (answer, expected) in rows {
            let (mut node, mut kv) = node();
            let line = json!({"src": "c1", "dest": "n1", "body": {"type": "read", "key": "k"}});
            node.handle_line(Instant::ZERO, line.to_string().as_bytes());
            let out = String::from_utf8(node.output().to_vec()).unwrap();
            node.clear_output();
            let request: Value = serde_json::from_str(out.trim()).unwrap();
            let mut body = answer.clone();
            body["in_reply_to"] = request["body"]["msg_id"].clone();
            let reply = json!({"src": "lin-kv", "dest": "n1", "body": body});
            node.handle_line(Instant::ZERO, reply.to_string().as_bytes());
            let log = &node.handler().log;
            assert_eq!(log.len(), 1, "{answer}: {log:?}");
            assert!(log[0].starts_with("read Err"), "{answer}: {log:?}");
            assert!(log[0].contains(expected), "{answer}: {log:?}");
            assert_eq!(node.pending_rpcs(), 0, "{answer}");
            kv.data.insert("\"k\"".into(), json!(3));
            exchange(&mut node, &mut kv, json!({"type": "read", "key": "k"}));
            assert_eq!(node.handler().log[1], "read Ok(Some(3))", "{answer}");
        }
    }
}
