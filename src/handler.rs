//! The [`Handler`] trait: what a node's author implements.
//!
//! The library answers `init` itself, then calls [`Handler::on_init`]; every later message
//! goes to [`Handler::on_message`], every timer to [`Handler::on_timer`], and every RPC reply
//! to the continuation given to [`Ctx::rpc`](crate::Ctx::rpc). Each call runs to completion
//! on the node's one thread, so handler state needs no locks.

use std::fmt;

use crate::context::Ctx;
use crate::error::Error;
use crate::message::Message;
use crate::time::Duration;

/// A Maelstrom node's behaviour.
///
/// Returning `Err` from [`on_message`](Handler::on_message) answers the request with that
/// error (when it had a `msg_id`); a panic is caught and answered with code 13 (crash), and
/// the node goes on. See the crate docs for a complete node.
pub trait Handler: Sized + 'static {
    /// The value a timer carries back to [`on_timer`](Handler::on_timer); use `()` for a
    /// node without timers, or an enum when there are several kinds. Periodic timers hand
    /// out a clone at each firing.
    type Timer: Clone + fmt::Debug + 'static;

    /// How long Maelstrom's clients wait for an answer: 5 s in most workloads, and in
    /// lin-kv ten times the mean network latency, at least 1 s.
    ///
    /// What happens to a client that gives up depends on the workload. In echo, broadcast,
    /// g-set, g-counter, pn-counter and kafka the client is not reusable: once an operation
    /// ends indeterminate (a timeout, except on a read in broadcast and an assign in kafka)
    /// Maelstrom closes it, treats any later message to it as "Invalid dest", and stops
    /// reading the node that sent it. In unique-ids, lin-kv, txn-rw-register and
    /// txn-list-append the client is reusable: it keeps its id and skips late answers.
    ///
    /// A late answer is useless either way, so [`Ctx::reply`](crate::Ctx::reply) and
    /// [`Ctx::reply_error`](crate::Ctx::reply_error) drop (and log at debug) an answer to a
    /// client (an id starting with `c`) once 90% of this has passed since the request
    /// arrived; the client records the operation as it would anyway. Raise this only if
    /// you know your clients wait longer. There is no need to lower it, for any workload
    /// (lin-kv's clients may wait less, but they are reusable and skip a late answer).
    const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The longest input line [`run`](crate::run) accepts, in bytes; 64 MiB unless a node
    /// sets its own. A longer line is discarded as it streams in, never buffered whole, and
    /// answered with error 12 (malformed-request) naming the cap, when its `src` and
    /// `msg_id` can be read from its first or last few KiB.
    const MAX_LINE_BYTES: usize = crate::codec::MAX_LINE_BYTES;

    /// Called once, after `init` was recorded and answered with `init_ok`.
    /// [`Ctx::node_id`], [`Ctx::node_ids`] and [`Ctx::peers`] are set by then; this is
    /// where periodic timers are usually started.
    ///
    /// # Errors
    /// An error is logged; `init_ok` has already been sent.
    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let _ = ctx;
        Ok(())
    }

    /// Called for every message that is neither `init` nor a reply to one of this node's
    /// RPCs. Unknown types should be answered with code 10 (not-supported); decoding with
    /// [`Message::body`] into a tagged enum does that by itself.
    ///
    /// # Errors
    /// The error is sent to the requester if the message had a `msg_id`, else logged.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error>;

    /// Called when a timer set with [`Ctx::set_timer`] or [`Ctx::set_interval`] fires.
    ///
    /// # Errors
    /// An error is logged.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer) -> Result<(), Error> {
        let _ = ctx;
        log::warn!("timer {timer:?} fired but the handler does not implement on_timer");
        Ok(())
    }
}
