//! The deterministic in-process simulator: a cluster of nodes under a virtual clock.
//!
//! A [`Cluster`] runs N instances of any [`Handler`](crate::Handler) in one process and one
//! thread, through the same public sans-IO [`Node`](crate::Node) API the mio driver uses
//! (`handle_line`, `handle_timeout`, `next_deadline`, `output`): the handler code is the very
//! code the example binaries run under Maelstrom. Around the nodes it simulates what Maelstrom
//! provides:
//!
//! - a network with a seeded latency distribution ([`Latency`]), optional loss, and
//!   partitions ([`Cluster::start_partition`], [`Cluster::partition`], [`Cluster::heal`]),
//!   directional like Maelstrom's, in its four shapes ([`nemesis`]); random latency reorders
//!   messages, as in Maelstrom;
//! - Maelstrom's services at their usual ids: `lin-kv` (linearizable), `seq-kv`
//!   (sequentially consistent, with stale reads), `lww-kv` (two replicas that, as in
//!   Maelstrom v0.2.3, never converge) and `lin-tso` (a timestamp oracle), with
//!   Maelstrom's error codes, replies without `msg_id`, and silence for request types they
//!   do not know;
//! - Maelstrom's protocol checks ([`Cluster::protocol_errors`]): a line that is not a message,
//!   a message to an id that does not exist (a second `init_ok` to the init client, say), a
//!   `src` that names nothing (as Maelstrom does, a message whose `src` is another node or a
//!   client is sent as from it);
//! - a trace of every message ([`Cluster::write_trace`]) and each node's record
//!   ([`Cluster::node_record`]).
//!
//! Time is virtual: an event queue ordered by (time, scheduling order) jumps from one event to
//! the next, so a 20-second test runs as fast as the handlers can compute.
//!
//! # Example: a cluster of echo nodes
//!
//! ```
//! use maelstrom_loop::sim::{Cluster, ClusterConfig, Latency};
//! use maelstrom_loop::{Ctx, Duration, Error, Handler, Instant, Message};
//! use serde_json::json;
//! use serde_json::value::RawValue;
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Timer = ();
//!     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
//!         let echo: &RawValue = msg.field("echo")?;
//!         ctx.reply(msg, &json!({"type": "echo_ok", "echo": echo}))
//!     }
//! }
//!
//! let mut config = ClusterConfig::new(3, 42); // nodes n0, n1, n2; seed 42
//! config.net.latency = Latency::Fixed(Duration::from_millis(5));
//! let mut cluster = Cluster::new(config, |_| Echo);
//!
//! // Workload clients are c1, c2, ...; they see no latency.
//! cluster.send_client("c1", "n2", &json!({"type": "echo", "msg_id": 1, "echo": "hi"}));
//! let mut replies = Vec::new();
//! cluster.run_until(Instant::from_millis(100), &mut replies);
//!
//! assert_eq!(replies.len(), 1);
//! assert_eq!((replies[0].src.as_str(), replies[0].dest.as_str()), ("n2", "c1"));
//! assert_eq!(replies[0].body["type"], "echo_ok");
//! assert_eq!(replies[0].body["in_reply_to"], 1);
//! assert!(cluster.protocol_errors().is_empty());
//! assert_eq!(cluster.now(), Instant::from_millis(100));
//! ```
//!
//! # Determinism
//!
//! Every random choice (latencies, losses, which past state a `seq-kv` read sees, which
//! `lww-kv` replica answers) comes from one master seed, split into independent streams with
//! [`Rng::fork`]. Events at the same virtual time run in the order they were scheduled. So the
//! same seed and the same handler code give the same run, message for message, and a
//! byte-identical trace; a failure reproduces from its seed. Each node's
//! [`Ctx::rng`](crate::Ctx::rng) is seeded from the master seed too, differently per node.
//! This holds as long as handlers take time only from [`Ctx::now`](crate::Ctx::now) and
//! randomness only from [`Ctx::rng`](crate::Ctx::rng) (never `std::time` or an unseeded
//! generator), and do not iterate a `HashMap` to decide what to send (see the crate docs).
//!
//! # Replaying a simulated node through the real binary
//!
//! With [`ClusterConfig::trace`] on, [`Cluster::node_record`] gives a node's record, in the
//! format a real node writes under `MAELSTROM_RECORD` (see [`crate::record`]): its seed for
//! [`Ctx::rng`](crate::Ctx::rng), every line it was handed, every timer turn and every line
//! it wrote, at virtual times. The suite writes them with `glomers --trace DIR`, as
//! `DIR/<row>/<node>.jsonl`. Hand one to the example binary the simulated handler came from:
//!
//! ```text
//! cargo build --release --example g_counter
//! MAELSTROM_REPLAY=DIR/4/n0.jsonl target/release/examples/g_counter
//! ```
//!
//! The binary then runs the node's core with the recorded clock, timers included, prints
//! what it wrote, byte for byte as in the simulation, and exits 0 (or prints the first line
//! that differs and exits 1). In a test, [`crate::replay()`] does the same.
//!
//! # Modules
//!
//! [`rng`] (the seeded generator), [`net`] (latency, loss, partitions), [`nemesis`] (the
//! partition shapes and their schedule) and [`cluster`] (the nodes, the event loop and
//! routing) are the engine; services, the event queue and the trace
//! are internal to it. [`draw`] turns a run (its report and
//! trace) into an HTML page; [`shrink`] finds the smallest run that fails the same way;
//! [`suite`] is the `glomers` command line as a library.

pub mod check;
pub mod cluster;
pub mod draw;
pub mod history;
pub mod nemesis;
pub mod net;
mod queue;
pub mod report;
pub mod rng;
pub mod runner;
mod services;
pub mod shrink;
pub mod suite;
mod trace;
pub mod workload;

pub use cluster::{
    ClientMessage, Cluster, ClusterConfig, NetStats, INIT_CLIENT, MAX_EVENTS_PER_INSTANT,
    MAX_PROTOCOL_ERRORS,
};
pub use net::{Latency, NetConfig};
pub use rng::Rng;
pub use services::SERVICE_IDS;
