//! Write [Maelstrom](https://github.com/jepsen-io/maelstrom) nodes in Rust: one thread, no
//! async, no locks, and a deterministic simulator that runs the same code.
//!
//! # The model
//!
//! A node is a [`Handler`]: it gets messages, timers and RPC replies one at a time and records
//! its effects (replies, sends, RPCs, timers) through a [`Ctx`]. The library answers `init`,
//! keeps the ids, matches replies to RPC continuations (each with a deadline, so a silent peer
//! costs a timeout error, never a leak), and turns errors and panics into Maelstrom error
//! replies. All of that lives in the sans-IO core, [`Node`], which never reads a clock or a
//! file descriptor. Two things drive it: [`run`], a thin `mio` loop over stdin and stdout for
//! the real Maelstrom, and [`sim`], an in-process cluster under a virtual clock with a seeded
//! network, Maelstrom's services, workload clients and checkers.
//!
//! # A complete node
//!
//! ```no_run
//! use maelstrom_loop::{Ctx, Error, Handler, Message};
//! use serde::{Deserialize, Serialize};
//! use serde_json::value::RawValue;
//!
//! struct Echo;
//!
//! /// `echo` may be any JSON: it is passed through as raw text, never parsed into a tree.
//! #[derive(Deserialize)]
//! struct EchoRequest<'a> {
//!     #[serde(borrow)]
//!     echo: &'a RawValue,
//! }
//!
//! #[derive(Serialize)]
//! #[serde(tag = "type", rename = "echo_ok")]
//! struct EchoOk<'a> {
//!     echo: &'a RawValue,
//! }
//!
//! impl Handler for Echo {
//!     type Timer = ();
//!
//!     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
//!         match msg.kind() {
//!             "echo" => {
//!                 let EchoRequest { echo } = msg.body()?; // error 12 if malformed
//!                 ctx.reply(msg, &EchoOk { echo })
//!             }
//!             other => Err(Error::unsupported_type(other)),
//!         }
//!     }
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     maelstrom_loop::run(Echo)
//! }
//! ```
//!
//! Build it and hand it to Maelstrom:
//!
//! ```text
//! cargo build --release --example echo
//! maelstrom test -w echo --bin target/release/examples/echo --node-count 1 --time-limit 10
//! ```
//!
//! The same handler, driven through the core by hand (this is what the simulator does for a
//! whole cluster):
//!
//! ```
//! # use maelstrom_loop::{Ctx, Error, Handler, Message};
//! # use serde::{Deserialize, Serialize};
//! # use serde_json::value::RawValue;
//! # struct Echo;
//! # #[derive(Deserialize)]
//! # struct EchoRequest<'a> { #[serde(borrow)] echo: &'a RawValue }
//! # #[derive(Serialize)]
//! # #[serde(tag = "type", rename = "echo_ok")]
//! # struct EchoOk<'a> { echo: &'a RawValue }
//! # impl Handler for Echo {
//! #     type Timer = ();
//! #     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
//! #         match msg.kind() {
//! #             "echo" => { let EchoRequest { echo } = msg.body()?; ctx.reply(msg, &EchoOk { echo }) }
//! #             other => Err(Error::unsupported_type(other)),
//! #         }
//! #     }
//! # }
//! use maelstrom_loop::{Instant, Node};
//!
//! let mut node = Node::new(Echo);
//! let t = Instant::ZERO;
//! node.handle_line(t, br#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#);
//! node.handle_line(t, br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":7,"echo":"hi"}}"#);
//! let out = String::from_utf8(node.output().to_vec()).unwrap();
//! let lines: Vec<&str> = out.lines().collect();
//! assert_eq!(lines[0], r#"{"src":"n1","dest":"c0","body":{"type":"init_ok","msg_id":1048576,"in_reply_to":1}}"#);
//! assert_eq!(lines[1], r#"{"src":"n1","dest":"c1","body":{"type":"echo_ok","echo":"hi","msg_id":2097152,"in_reply_to":7}}"#);
//! assert_eq!(lines.len(), 2);
//! ```
//!
//! Matching on [`Message::kind`] and decoding a struct is the fast path. A
//! `#[serde(tag = "type")]` enum of requests reads well for nodes with many message types
//! (an unknown type then becomes error 10 by itself), but serde buffers such bodies, so
//! borrowed `RawValue` fields do not work inside them.
//!
//! # Determinism: record, replay, and what breaks them
//!
//! A node is a function of its input lines, the times they arrived and its timer turns, so
//! a run can be recorded and replayed exactly. Start any node with `MAELSTROM_RECORD=DIR` and
//! it writes `DIR/<node id>.jsonl` (see [`record`]); start the same binary with
//! `MAELSTROM_REPLAY=FILE` and [`run`] feeds the recorded events to the core on one thread,
//! with the recorded clock, and checks every output line ([`replay()`] does the same in a
//! test). The simulator writes each node's record in the same format.
//!
//! That holds as long as the handler's behaviour depends only on what the core gives it:
//!
//! - **Randomness**: draw it from [`Ctx::rng`], seeded per node and written to the record;
//!   never from an unseeded generator or the address of an allocation.
//! - **Time**: read [`Ctx::now`], never `std::time::Instant::now` or `SystemTime`.
//! - **Iteration order**: a `HashMap` or `HashSet` with the default hasher iterates in a
//!   different order in every process. Iterating one to decide what to send (or in which
//!   order) changes the output; use a `BTreeMap`, a `Vec`, or sort first. Lookups are fine.
//! - **Threads and outside state**: a thread, a file, an environment variable or a socket
//!   the handler reads by itself is not in the record. Keep all input flowing through
//!   messages.
//!
//! # Where to read next
//!
//! [`Handler`] and [`Ctx`] are the whole API a node uses; [`Message`] reads input raw or typed;
//! [`Error`] and [`ErrorCode`] are Maelstrom's errors; [`Node`] documents the driving
//! contract; [`kv`] talks to Maelstrom's services; [`gossip`] delivers a node's own updates
//! to every peer, acknowledged; [`sim`] runs clusters deterministically; [`record`] and
//! [`replay()`] record a real run and replay it exactly. The `examples/`
//! folder has one real node per Maelstrom workload. Logging goes to stderr at the level in
//! `MAELSTROM_LOG` ([`init_logging`]).
#![doc(test(attr(deny(warnings))))]

mod codec;
mod context;
mod driver;
mod error;
pub mod gossip;
mod handler;
pub mod kv;
mod logging;
mod message;
mod node;
pub mod record;
mod replay;
mod rng;
mod rpc;
pub mod sim;
mod time;
mod timer;

pub use codec::{
    Frame, LineReader, Oversized, OversizedEnvelope, MAX_LINE_BYTES, OVERSIZED_KEPT_BYTES,
};
pub use context::{Ctx, TimerId};
pub use driver::{run, FLUSH_THRESHOLD_BYTES};
pub use error::{Error, ErrorCode};
pub use handler::Handler;
pub use logging::{init_logging, parse_level, LOG_ENV};
pub use message::{Message, Origin, ReplyTo, MAX_NESTING};
pub use node::Node;
pub use replay::{replay, replay_from, Divergence, ReplayReport};
pub use rng::Rng;
pub use rpc::{RpcId, MAX_PENDING_RPCS};
pub use time::{Duration, Instant};

/// The README's code blocks, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
