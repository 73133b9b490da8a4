//! The sans-IO core: [`Node`] turns input lines and the passage of time into output lines.
//!
//! It never reads a clock, stdin or stdout. The driving contract, the same for the mio
//! driver and the simulator:
//!
//! 1. Feed one input: [`Node::handle_line`] with the current time, or
//!    [`Node::handle_timeout`] when the current time has reached [`Node::next_deadline`].
//! 2. Drain the output: write [`Node::output`] somewhere, then [`Node::clear_output`]
//!    (drain as often as you like; the buffer only grows until you do).
//! 3. Wait for the earlier of the next input and [`Node::next_deadline`], and repeat.
//!
//! Time passed in must not go backwards; a smaller value is treated as "no time passed".

use serde::Deserialize;

use crate::codec::Oversized;
use crate::context::{Continuation, Core, Ctx, Due};
use crate::error::Error;
use crate::handler::Handler;
use crate::message::{Message, Rejected};
use crate::time::Instant;

mod panics;

/// One Maelstrom node: a [`Handler`] plus the library's state (ids, RPCs, timers, output).
pub struct Node<H: Handler> {
    handler: H,
    core: Core<H>,
    initialised: bool,
}

impl<H: Handler> std::fmt::Debug for Node<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node_id", &self.core.node_id)
            .field("initialised", &self.initialised)
            .field("pending_rpcs", &self.core.rpcs.len())
            .field("timers", &self.core.timers.len())
            .field("output_bytes", &self.core.out.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct InitBody {
    node_id: String,
    node_ids: Vec<String>,
}

impl<H: Handler> Node<H> {
    /// A node that has not seen `init` yet, with [`Ctx::rng`] seeded with 0.
    pub fn new(handler: H) -> Node<H> {
        Node::with_seed(handler, 0)
    }

    /// A node that has not seen `init` yet, whose [`Ctx::rng`] starts from `seed`.
    pub fn with_seed(handler: H, seed: u64) -> Node<H> {
        Node {
            handler,
            core: Core::new(seed),
            initialised: false,
        }
    }

    /// The seed [`Ctx::rng`] started from.
    pub fn seed(&self) -> u64 {
        self.core.seed
    }

    /// Handles one input line (without its newline). Bad input is logged and, where the
    /// sender gave a `msg_id`, answered with an error; it never panics or loses state.
    pub fn handle_line(&mut self, now: Instant, line: &[u8]) {
        self.advance(now);
        match std::str::from_utf8(line) {
            Ok(text) => self.handle_text(text),
            Err(e) => {
                let text = String::from_utf8_lossy(line);
                let reason = format!("invalid UTF-8 at byte {}", e.valid_up_to());
                match Message::parse(&text) {
                    Ok(msg) => {
                        let msg = msg.received(self.core.now);
                        self.reject_message(&msg, Error::malformed(reason))
                    }
                    Err(rejected) => self.reject_line(rejected, &reason),
                }
            }
        }
    }

    /// Handles a line that was dropped for exceeding the length cap
    /// ([`Handler::MAX_LINE_BYTES`]): answers it with error 12 naming the cap when its
    /// envelope gives a sender and a `msg_id` ([`Oversized::envelope`]), else logs it.
    pub fn handle_oversized(&mut self, now: Instant, line: &Oversized<'_>) {
        self.advance(now);
        let envelope = line.envelope();
        let reason = format!(
            "dropped an input line of {} bytes: longer than the cap of {} bytes \
             (Handler::MAX_LINE_BYTES)",
            line.len,
            H::MAX_LINE_BYTES
        );
        match (&envelope.src, envelope.msg_id, envelope.is_reply) {
            (Some(src), Some(msg_id), false) => {
                log::warn!("{reason}; answering {src} msg_id {msg_id}");
                let ours = self.our_id_or(envelope.dest.as_deref().unwrap_or(""));
                self.core
                    .emit_error(&ours, src, msg_id, &Error::malformed(reason));
            }
            _ => log::warn!("{reason}; no sender and msg_id to answer"),
        }
    }

    /// Fires every timer and RPC deadline due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        while let Some((_, due)) = self.core.timers.expire(self.core.now) {
            match due {
                Due::User(value) => {
                    let what = format!("timer {value:?}");
                    let result = self.call(|h, ctx| h.on_timer(ctx, value));
                    log_outcome(&what, result);
                }
                Due::Rpc(msg_id) => {
                    if let Some(continuation) = self.core.take_rpc_timed_out(msg_id) {
                        let error = Error::timeout(format!("RPC msg_id {msg_id} timed out"));
                        self.run_continuation(msg_id, continuation, Err(error));
                    }
                }
            }
        }
    }

    /// The time by which [`Node::handle_timeout`] should be called, if any timer or RPC is
    /// pending. It may be early (nothing is due then), never late.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.core.timers.next_deadline()
    }

    /// Output produced so far: complete JSON lines, each ending in `\n`.
    pub fn output(&self) -> &[u8] {
        &self.core.out
    }

    /// Forgets the output (after it was written).
    pub fn clear_output(&mut self) {
        self.core.out.clear();
    }

    /// This node's id, once `init` has been handled.
    pub fn node_id(&self) -> Option<&str> {
        self.initialised.then_some(self.core.node_id.as_str())
    }

    /// The handler, to inspect its state (tests, the simulator).
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// How many RPCs are awaiting a reply.
    pub fn pending_rpcs(&self) -> usize {
        self.core.rpcs.len()
    }

    fn advance(&mut self, now: Instant) {
        self.core.now = self.core.now.max(now);
    }

    fn handle_text(&mut self, text: &str) {
        if text.trim().is_empty() {
            log::debug!("ignored an empty input line");
            return;
        }
        log::trace!("received {text}");
        match Message::parse(text) {
            Ok(msg) => self.dispatch(&msg.received(self.core.now)),
            Err(rejected) => self.reject_line(rejected, ""),
        }
    }

    fn dispatch(&mut self, msg: &Message<'_>) {
        if let Some(in_reply_to) = msg.in_reply_to() {
            if let Some(continuation) = self.core.take_rpc(in_reply_to, msg.src()) {
                self.run_continuation(in_reply_to, continuation, Ok(msg.clone()));
            }
        } else if msg.kind() == "init" {
            self.handle_init(msg);
        } else if !self.initialised {
            let error = Error::temporarily_unavailable("node has not received init yet");
            self.reject_message(msg, error);
        } else {
            let result = self.call(|h, ctx| h.on_message(ctx, msg));
            if let Err(error) = result {
                self.reject_message(msg, error);
            }
        }
    }

    fn handle_init(&mut self, msg: &Message<'_>) {
        if self.initialised {
            // Maelstrom closes the init client after the first init_ok: answering again
            // would be an "Invalid dest" that stops the whole node being read.
            log::warn!("ignored a second init from {}", msg.src());
            return;
        }
        let init: InitBody = match msg.body() {
            Ok(init) => init,
            Err(error) => return self.reject_message(msg, error),
        };
        if !init.node_ids.contains(&init.node_id) {
            log::warn!(
                "init: node_ids {:?} lack our id {}",
                init.node_ids,
                init.node_id
            );
        }
        self.core.peers = init
            .node_ids
            .iter()
            .filter(|id| **id != init.node_id)
            .cloned()
            .collect();
        self.core.node_id = init.node_id;
        self.core.node_ids = init.node_ids;
        self.initialised = true;
        log::info!(
            "initialised as {} of {} nodes",
            self.core.node_id,
            self.core.node_ids.len()
        );
        let mut ctx = Ctx::new(&mut self.core);
        if let Err(e) = ctx.reply(msg, &serde_json::json!({"type": "init_ok"})) {
            log::error!("could not encode init_ok: {e}");
        }
        let result = self.call(|h, ctx| h.on_init(ctx));
        log_outcome("on_init", result);
    }

    /// Runs handler code, turning a panic into error 13 and discarding its partial output.
    fn call<F>(&mut self, f: F) -> Result<(), Error>
    where
        F: FnOnce(&mut H, &mut Ctx<'_, H>) -> Result<(), Error>,
    {
        let mark = self.core.out.len();
        let handler = &mut self.handler;
        let core = &mut self.core;
        match panics::catching(|| f(handler, &mut Ctx::new(core))) {
            Ok(result) => result,
            Err(what) => {
                self.core.out.truncate(mark);
                Err(Error::crash(what))
            }
        }
    }

    fn run_continuation(
        &mut self,
        msg_id: u64,
        continuation: Continuation<H>,
        outcome: Result<Message<'_>, Error>,
    ) {
        let outcome = outcome.and_then(reply_as_result);
        let result = self.call(|h, ctx| continuation(h, ctx, outcome));
        log_outcome(&format!("continuation of msg_id {msg_id}"), result);
    }

    /// Answers a parsed message with an error, if it can be answered.
    fn reject_message(&mut self, msg: &Message<'_>, error: Error) {
        match msg.msg_id() {
            Some(msg_id) if msg.in_reply_to().is_none() => {
                log::debug!(
                    "answering {} {msg_id} from {} with {error}",
                    msg.kind(),
                    msg.src()
                );
                let src = self.our_id_or(msg.dest());
                self.core.emit_error(&src, msg.src(), msg_id, &error);
            }
            _ => log::warn!("{} from {} failed: {error}", msg.kind(), msg.src()),
        }
    }

    /// Logs a line that did not scan, answering with code 12 when src and msg_id survived.
    fn reject_line(&mut self, rejected: Rejected<'_>, extra: &str) {
        let reason = if extra.is_empty() {
            rejected.reason
        } else {
            format!("{extra}; {}", rejected.reason)
        };
        match (&rejected.src, rejected.msg_id, rejected.in_reply_to) {
            (Some(src), Some(msg_id), None) => {
                log::warn!("malformed message from {src} (msg_id {msg_id}): {reason}");
                let ours = self.our_id_or(rejected.dest.as_deref().unwrap_or(""));
                let error = Error::malformed(format!("malformed message: {reason}"));
                self.core.emit_error(&ours, src, msg_id, &error);
            }
            _ => log::warn!("dropped an unreadable input line: {reason}"),
        }
    }

    /// Our id for an error's `src`; before init, whatever the sender addressed.
    fn our_id_or(&self, dest: &str) -> String {
        if self.initialised {
            self.core.node_id.clone()
        } else {
            dest.to_owned()
        }
    }
}

/// An `error` reply becomes `Err` with its code and text.
fn reply_as_result(msg: Message<'_>) -> Result<Message<'_>, Error> {
    if msg.kind() != "error" {
        return Ok(msg);
    }
    let code = msg
        .field::<u32>("code")
        .unwrap_or(crate::ErrorCode::Crash.code());
    let text = msg.field::<String>("text").unwrap_or_default();
    Err(Error::new(crate::ErrorCode::from_code(code), text))
}

fn log_outcome(what: &str, result: Result<(), Error>) {
    if let Err(e) = result {
        log::warn!("{what} failed: {e}");
    }
}
