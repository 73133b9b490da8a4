//! [`Ctx`]: what a handler can see (ids, time) and do (send, reply, call, set timers).
//!
//! Every effect is recorded in the node's buffers (the output bytes, the RPC table, the
//! timer wheel); nothing here performs I/O. The driver or the simulator drains the output.

use serde::Serialize;

use crate::codec;
use crate::error::{Error, ErrorCode};
use crate::handler::Handler;
use crate::message::{Message, ReplyTo};
use crate::rng::Rng;
use crate::rpc::{Lookup, RpcId, RpcTable};
use crate::time::{Duration, Instant};
use crate::timer::{TimerKey, TimerWheel};

/// A stored RPC continuation.
pub(crate) type Continuation<H> = Box<
    dyn for<'c, 'm> FnOnce(
        &mut H,
        &mut Ctx<'c, H>,
        Result<Message<'m>, Error>,
    ) -> Result<(), Error>,
>;

/// What the timer wheel holds for a node.
#[derive(Clone, Debug)]
pub(crate) enum Due<T> {
    /// A handler timer and its value.
    User(T),
    /// The deadline of the RPC with this `msg_id`.
    Rpc(u64),
}

/// Identifies a timer set by a handler, for [`Ctx::cancel_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(TimerKey);

/// Everything of a node but the handler: ids, clock, output, RPCs and timers.
pub(crate) struct Core<H: Handler> {
    pub(crate) now: Instant,
    pub(crate) node_id: String,
    pub(crate) node_ids: Vec<String>,
    pub(crate) peers: Vec<String>,
    pub(crate) out: Vec<u8>,
    pub(crate) rpcs: RpcTable<Continuation<H>>,
    pub(crate) timers: TimerWheel<Due<H::Timer>>,
    /// The handler's generator ([`Ctx::rng`]) and the seed it started from.
    pub(crate) rng: Rng,
    pub(crate) seed: u64,
}

impl<H: Handler> Core<H> {
    pub(crate) fn new(seed: u64) -> Core<H> {
        Core {
            now: Instant::ZERO,
            node_id: String::new(),
            node_ids: Vec::new(),
            peers: Vec::new(),
            out: Vec::with_capacity(64 << 10),
            rpcs: RpcTable::new(),
            timers: TimerWheel::new(Instant::ZERO),
            rng: Rng::new(seed),
            seed,
        }
    }

    /// Encodes one message from this node into the output buffer.
    pub(crate) fn emit<B: Serialize + ?Sized>(
        &mut self,
        src: &str,
        dest: &str,
        body: &B,
        msg_id: Option<u64>,
        in_reply_to: Option<u64>,
    ) -> Result<(), Error> {
        let mark = self.out.len();
        codec::encode(&mut self.out, src, dest, body, msg_id, in_reply_to)?;
        if log::log_enabled!(log::Level::Trace) {
            let line = String::from_utf8_lossy(&self.out[mark..self.out.len() - 1]);
            log::trace!("sent {line}");
        }
        Ok(())
    }

    /// Sends an error reply with our own id as `src` (or `src` if given, before init).
    pub(crate) fn emit_error(&mut self, src: &str, dest: &str, in_reply_to: u64, error: &Error) {
        let body = ErrorBody {
            kind: "error",
            code: error.code().code(),
            text: error.text(),
        };
        let msg_id = self.rpcs.plain_msg_id();
        if let Err(e) = self.emit(src, dest, &body, Some(msg_id), Some(in_reply_to)) {
            log::error!("could not encode an error reply to {dest}: {e}");
        }
    }

    /// Takes the continuation whose deadline just fired (it may have been answered already).
    pub(crate) fn take_rpc_timed_out(&mut self, msg_id: u64) -> Option<Continuation<H>> {
        match self.rpcs.take(msg_id) {
            Lookup::Pending(continuation, _) => Some(continuation),
            _ => None,
        }
    }

    /// Takes the continuation for a reply, if any, logging why not otherwise.
    pub(crate) fn take_rpc(&mut self, in_reply_to: u64, src: &str) -> Option<Continuation<H>> {
        match self.rpcs.take(in_reply_to) {
            Lookup::Pending(continuation, deadline) => {
                self.timers.cancel(deadline);
                Some(continuation)
            }
            Lookup::Late => {
                log::debug!("late reply from {src} to msg_id {in_reply_to} (timed out or answered); dropped");
                None
            }
            Lookup::NoContinuation => {
                log::debug!("reply from {src} to msg_id {in_reply_to}, sent without a continuation; dropped");
                None
            }
            Lookup::Unknown => {
                log::warn!(
                    "reply from {src} to msg_id {in_reply_to}, which this node never sent; dropped"
                );
                None
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    code: u32,
    text: &'a str,
}

/// The handler's view of its node, passed to every callback.
pub struct Ctx<'a, H: Handler> {
    core: &'a mut Core<H>,
}

impl<H: Handler> std::fmt::Debug for Ctx<'_, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("node_id", &self.core.node_id)
            .field("now", &self.core.now)
            .field("pending_rpcs", &self.core.rpcs.len())
            .field("timers", &self.core.timers.len())
            .finish()
    }
}

impl<'a, H: Handler> Ctx<'a, H> {
    pub(crate) fn new(core: &'a mut Core<H>) -> Ctx<'a, H> {
        Ctx { core }
    }

    /// This node's id, from `init`.
    pub fn node_id(&self) -> &str {
        &self.core.node_id
    }

    /// Every node's id, in the same order on every node, from `init`.
    pub fn node_ids(&self) -> &[String] {
        &self.core.node_ids
    }

    /// Every node's id but this one's.
    pub fn peers(&self) -> &[String] {
        &self.core.peers
    }

    /// The current time: real under the mio driver, virtual under the simulator.
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// Sends `body` (any `Serialize` that is a JSON object) to `dest`, as this node: `src` is
    /// always the node's own id (to have another node answer a client, relay: forward the
    /// request by RPC and reply with what comes back). The library adds a fresh `msg_id` and
    /// nothing else, so `body` must not hold `msg_id` or `in_reply_to` itself (the keys would
    /// appear twice); remove them from a body taken from another message.
    ///
    /// # Errors
    /// Code 13 if the body does not serialise to a JSON object; nothing is sent.
    pub fn send<B: Serialize + ?Sized>(&mut self, dest: &str, body: &B) -> Result<(), Error> {
        let core = &mut *self.core;
        let msg_id = core.rpcs.plain_msg_id();
        let src = std::mem::take(&mut core.node_id);
        let result = core.emit(&src, dest, body, Some(msg_id), None);
        core.node_id = src;
        result
    }

    /// Sends `body` to every peer ([`Ctx::peers`]), in their order, each copy with its own
    /// `msg_id`. This is the loop `for p in ctx.peers() { ctx.send(p, body) }`, which does
    /// not compile (`peers` borrows the context that `send` needs mutably).
    ///
    /// ```
    /// use maelstrom_loop::{Ctx, Error, Handler, Instant, Message, Node};
    ///
    /// struct Flood;
    ///
    /// impl Handler for Flood {
    ///     type Timer = ();
    ///     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
    ///         let value: u64 = msg.field("message")?;
    ///         ctx.send_to_peers(&serde_json::json!({"type": "gossip", "message": value}))
    ///     }
    /// }
    ///
    /// let mut node = Node::new(Flood);
    /// node.handle_line(Instant::ZERO, br#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1","n2","n3"]}}"#);
    /// node.clear_output();
    /// node.handle_line(Instant::ZERO, br#"{"src":"c1","dest":"n1","body":{"type":"flood","message":7}}"#);
    /// let out = String::from_utf8(node.output().to_vec()).unwrap();
    /// let dests: Vec<&str> = out.lines().map(|l| if l.contains(r#""dest":"n2""#) { "n2" } else { "n3" }).collect();
    /// assert_eq!(dests, ["n2", "n3"]);
    /// ```
    ///
    /// # Errors
    /// Code 13 if the body does not serialise to a JSON object; nothing is sent.
    pub fn send_to_peers<B: Serialize + ?Sized>(&mut self, body: &B) -> Result<(), Error> {
        let peers = std::mem::take(&mut self.core.peers);
        let result = peers.iter().try_for_each(|peer| self.send(peer, body));
        self.core.peers = peers;
        result
    }

    /// The node's seeded random generator. Under the mio driver its seed comes from the clock
    /// at start (and is written to the record, see [`run`](crate::run)); under replay and in
    /// the simulator it is fixed, so a handler that draws its randomness here replays
    /// exactly. See the crate docs on determinism.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.core.rng
    }

    /// Whether a Maelstrom client has stopped waiting for the answer to `to` (see
    /// [`Handler::CLIENT_TIMEOUT`]); logs the dropped answer if so.
    fn client_gave_up<T: ReplyTo + ?Sized>(&self, to: &T, in_reply_to: u64) -> bool {
        let Some(received_at) = to.received_at() else {
            return false;
        };
        let waited = self.core.now - received_at;
        let patience = Duration::from_micros(H::CLIENT_TIMEOUT.as_micros() / 10 * 9);
        let gave_up = to.src().starts_with('c') && waited >= patience;
        if gave_up {
            log::debug!(
                "dropped the answer to {} msg_id {in_reply_to}: {} ms after the request, past \
                 the client's timeout (useless, and Invalid dest if the client was closed)",
                to.src(),
                waited.as_micros() / 1000
            );
        }
        gave_up
    }

    /// Answers a request: `body` goes to its `src` with `in_reply_to` set to its `msg_id`
    /// (and a fresh `msg_id`), so `body` must not hold those keys itself: relaying a reply's
    /// [`Message::raw_body`](crate::Message::raw_body), remove them first. A request without
    /// `msg_id` expects no answer: nothing is sent.
    /// Nor is anything sent to a Maelstrom client that has given up waiting (see
    /// [`Handler::CLIENT_TIMEOUT`]).
    ///
    /// # Errors
    /// Code 13 if the body does not serialise to a JSON object; nothing is sent.
    pub fn reply<T: ReplyTo + ?Sized, B: Serialize + ?Sized>(
        &mut self,
        to: &T,
        body: &B,
    ) -> Result<(), Error> {
        let Some(in_reply_to) = to.msg_id() else {
            log::debug!("not replying to {}: the request had no msg_id", to.src());
            return Ok(());
        };
        if self.client_gave_up(to, in_reply_to) {
            return Ok(());
        }
        let core = &mut *self.core;
        let msg_id = core.rpcs.plain_msg_id();
        let src = std::mem::take(&mut core.node_id);
        let result = core.emit(&src, to.src(), body, Some(msg_id), Some(in_reply_to));
        core.node_id = src;
        result
    }

    /// Answers a request with `{"type":"error","code":..,"text":..}`, unless the request had
    /// no `msg_id` or came from a Maelstrom client that has given up waiting.
    pub fn reply_error<T: ReplyTo + ?Sized>(&mut self, to: &T, code: ErrorCode, text: &str) {
        let Some(in_reply_to) = to.msg_id() else {
            log::debug!(
                "not sending error {code} to {}: the request had no msg_id",
                to.src()
            );
            return;
        };
        if self.client_gave_up(to, in_reply_to) {
            return;
        }
        let core = &mut *self.core;
        let src = std::mem::take(&mut core.node_id);
        core.emit_error(
            &src,
            to.src(),
            in_reply_to,
            &Error::new(code, text.to_owned()),
        );
        core.node_id = src;
    }

    /// Sends a request and runs `continuation` exactly once: with the reply, with `Err` for an
    /// error reply (its code and text), or with `Err` code 0 (timeout) once `timeout` passes
    /// without a reply. A reply after that is logged and dropped. The continuation gets the
    /// handler's state, a context, and the outcome; an `Err` it returns is logged.
    ///
    /// # Errors
    /// Code 13 if the body does not serialise to a JSON object; code 11 if
    /// [`MAX_PENDING_RPCS`](crate::MAX_PENDING_RPCS) are already pending. The continuation is
    /// then dropped without running.
    pub fn rpc<B, F>(
        &mut self,
        dest: &str,
        body: &B,
        timeout: Duration,
        continuation: F,
    ) -> Result<RpcId, Error>
    where
        B: Serialize + ?Sized,
        F: for<'c, 'm> FnOnce(
                &mut H,
                &mut Ctx<'c, H>,
                Result<Message<'m>, Error>,
            ) -> Result<(), Error>
            + 'static,
    {
        let core = &mut *self.core;
        let msg_id = core.rpcs.next_rpc_msg_id().ok_or_else(|| {
            Error::temporarily_unavailable(format!("{} RPCs already pending", core.rpcs.len()))
        })?;
        let src = std::mem::take(&mut core.node_id);
        let sent = core.emit(&src, dest, body, Some(msg_id), None);
        core.node_id = src;
        sent?;
        let deadline = core
            .timers
            .insert(core.now + timeout, None, Due::Rpc(msg_id));
        Ok(core.rpcs.insert(msg_id, deadline, Box::new(continuation)))
    }

    /// Forgets a pending RPC: its continuation is dropped without running and a reply to it
    /// will be logged as late. Returns whether it was still pending.
    pub fn cancel_rpc(&mut self, rpc: RpcId) -> bool {
        match self.core.rpcs.take(rpc.0) {
            Lookup::Pending(_, deadline) => {
                self.core.timers.cancel(deadline);
                true
            }
            _ => false,
        }
    }

    /// How many RPCs are awaiting a reply.
    pub fn pending_rpcs(&self) -> usize {
        self.core.rpcs.len()
    }

    /// Calls [`Handler::on_timer`] with `value` once, `after` from now.
    pub fn set_timer(&mut self, after: Duration, value: H::Timer) -> TimerId {
        let at = self.core.now + after;
        TimerId(self.core.timers.insert(at, None, Due::User(value)))
    }

    /// Calls [`Handler::on_timer`] with a clone of `value` every `every`, first after
    /// `every`. A node that falls behind skips missed firings rather than bursting.
    pub fn set_interval(&mut self, every: Duration, value: H::Timer) -> TimerId {
        let at = self.core.now + every;
        TimerId(self.core.timers.insert(at, Some(every), Due::User(value)))
    }

    /// Stops a timer. Returns whether it was still scheduled.
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.core.timers.cancel(timer.0).is_some()
    }
}
