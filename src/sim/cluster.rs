//! [`Cluster`]: N nodes, Maelstrom's services and a seeded network, on one virtual clock.
//!
//! The cluster owns the nodes (each a [`Node`], driven only through its public sans-IO API),
//! the event queue, the clock and the routing of every line a node writes:
//!
//! - to another node: it goes into the node's queue, due after a latency drawn from the
//!   network's distribution, and the node's receiving loop takes it, checks the partition and
//!   delivers it when due, one message at a time, as Maelstrom's network does (`inbox`); the
//!   loss rate drops it when sent;
//! - to a service (`lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`): it arrives after a latency, the
//!   service answers at once, and the answer takes another latency back;
//! - to a client: it is handed to [`Cluster::run_until`]'s caller at once, with no latency;
//! - anywhere else, or not a message at all: it is a protocol error, and, as in Maelstrom,
//!   whose thread reading the node's stdout throws on such a line and reads no more, nothing
//!   the node writes afterwards is routed.
//!
//! After every event that touches a node, the node's timer is rescheduled at its
//! [`Node::next_deadline`]. This file holds the public API, the event loop and node timers;
//! the `route` submodule holds routing, protocol checks and service requests. Workload clients, checkers and reports live elsewhere
//! (`sim::workload`, `sim::check`, `sim::report`); this module only runs the cluster.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::Value;

use crate::handler::Handler;
use crate::node::Node;
use crate::rng::Rng;
use crate::sim::nemesis::Grudge;
use crate::sim::net::{NetConfig, Network};
use crate::sim::queue::{Event, EventQueue};
use crate::sim::services::Services;
use crate::sim::trace::{Trace, TraceEvent};
use crate::time::{Duration, Instant};

mod inbox;
mod route;

use self::inbox::{Inbox, Waiting};

use route::envelope_line;

/// The id of the client that sends `init`; any message to it after `init_ok` is an error.
pub const INIT_CLIENT: &str = "c0";

/// More events than this at one virtual instant means the nodes are livelocked.
pub const MAX_EVENTS_PER_INSTANT: u64 = 10_000_000;

/// Protocol errors kept verbatim; later ones are only counted.
pub const MAX_PROTOCOL_ERRORS: usize = 100;

/// Labels of the random streams forked from the master seed.
const NET_STREAM: u64 = 1;
const SERVICES_STREAM: u64 = 2;
/// Node `i`'s seed for [`Ctx::rng`](crate::Ctx::rng) comes from stream `NODE_STREAMS + i`.
const NODE_STREAMS: u64 = 1 << 32;
const INIT_STREAM: u64 = 3;

/// How to build a [`Cluster`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// Number of nodes, named `n0` .. `n{node_count - 1}`.
    pub node_count: usize,
    /// The master seed: every random choice of the run derives from it.
    pub seed: u64,
    /// Latency and loss.
    pub net: NetConfig,
    /// Whether to record the trace ([`Cluster::write_trace`], [`Cluster::node_record`]).
    pub trace: bool,
    /// Each node gets `init` at a seeded instant uniform on `[0, init_spread)` rather than
    /// all at time 0. Maelstrom starts the node processes in parallel, and they come up over
    /// a few hundred milliseconds (25 nodes over 260 ms on a 2-core machine), so periodic
    /// timers set at init tick out of phase across nodes; at zero they tick in lockstep.
    pub init_spread: Duration,
}

impl ClusterConfig {
    /// `node_count` nodes, the given seed, no latency, no loss, no trace, every `init` at 0.
    pub fn new(node_count: usize, seed: u64) -> ClusterConfig {
        ClusterConfig {
            node_count,
            seed,
            net: NetConfig::default(),
            trace: false,
            init_spread: Duration::ZERO,
        }
    }
}

/// A message a node sent to a client (dest starting with 'c'), as the client sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientMessage {
    /// When it was sent (and received: clients see no latency).
    pub time: Instant,
    /// The node that sent it.
    pub src: String,
    /// The client it is for.
    pub dest: String,
    /// Its body, `type`, `msg_id` and `in_reply_to` included.
    pub body: Value,
}

/// Message counts of a run so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Node-to-node messages sent, lost ones included (Maelstrom's `:net :servers`).
    pub server_msgs: u64,
    /// Messages between nodes and services, both ways.
    pub service_msgs: u64,
    /// Messages between workload clients and nodes, both ways (`init` not included).
    pub client_msgs: u64,
    /// Node-to-node messages lost to partitions or to the loss rate.
    pub dropped: u64,
}

/// A node and the simulator's bookkeeping for it.
struct SimNode<H: Handler> {
    node: Node<H>,
    /// The earliest pending timer event for this node; a popped timer event at any other
    /// time is stale and skipped.
    timer_at: Option<Instant>,
    /// Whether the node has answered `init` (its one allowed message to the init client).
    init_answered: bool,
    /// Whether the node wrote a line Maelstrom rejects: its output is no longer read.
    unread: bool,
}

/// N instances of a Handler on one thread under a virtual clock, plus Maelstrom's services
/// (seq-kv, lin-kv, lww-kv, lin-tso) at their usual ids, with a seeded network.
///
/// See the [module docs](crate::sim) for an example.
pub struct Cluster<H: Handler> {
    nodes: Vec<SimNode<H>>,
    node_ids: Vec<String>,
    /// Node id to index; looked up, never iterated (iteration order is not seeded).
    index: HashMap<String, usize>,
    /// Workload clients that have sent something: the client ids a node may write to.
    clients: HashSet<String>,
    /// Clients closed by [`Cluster::close_client`]: writing to one is "Invalid dest".
    closed_clients: HashSet<String>,
    services: Services,
    net: Network,
    queue: EventQueue,
    now: Instant,
    /// Events run at `now` so far, for the livelock guard.
    events_at_now: u64,
    stats: NetStats,
    protocol_errors: Vec<String>,
    errors_not_listed: u64,
    trace: Option<Trace>,
    seed: u64,
    /// Reused copy of a node's output while it is routed.
    scratch: Vec<u8>,
    /// Each node's inbound queue and receiving loop, as Maelstrom's network has them.
    inboxes: Vec<Inbox>,
    /// Order of messages put in inboxes, for ties between equal deadlines.
    put_sequence: u64,
}

impl<H: Handler> fmt::Debug for Cluster<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field("nodes", &self.node_ids)
            .field("stats", &self.stats)
            .field("protocol_errors", &self.protocol_errors.len())
            .field("partitioned", &self.net.is_partitioned())
            .finish()
    }
}

impl<H: Handler> Cluster<H> {
    /// Nodes n0..n{N-1}; each gets `init` at time 0 (or within [`ClusterConfig::init_spread`])
    /// from client "c0" (the init client; its
    /// init_ok is consumed; any later message to "c0" is a protocol error, like Maelstrom's
    /// "Invalid dest"). Workload clients use ids c1, c2, ...
    pub fn new(config: ClusterConfig, mut make_node: impl FnMut(usize) -> H) -> Cluster<H> {
        let node_ids: Vec<String> = (0..config.node_count).map(|i| format!("n{i}")).collect();
        let mut master = Rng::new(config.seed);
        let mut cluster = Cluster {
            nodes: (0..config.node_count)
                .map(|i| SimNode {
                    node: Node::with_seed(make_node(i), node_seed(&mut master, i)),
                    timer_at: None,
                    init_answered: false,
                    unread: false,
                })
                .collect(),
            index: node_ids.iter().cloned().zip(0..).collect(),
            node_ids,
            clients: HashSet::new(),
            closed_clients: HashSet::new(),
            services: Services::new(master.fork(SERVICES_STREAM)),
            net: Network::new(config.net, master.fork(NET_STREAM)),
            queue: EventQueue::default(),
            now: Instant::ZERO,
            events_at_now: 0,
            stats: NetStats::default(),
            protocol_errors: Vec::new(),
            errors_not_listed: 0,
            trace: None,
            seed: config.seed,
            scratch: Vec::new(),
            inboxes: (0..config.node_count).map(|_| Inbox::default()).collect(),
            put_sequence: 0,
        };
        if config.trace {
            let seeds = cluster.nodes.iter().map(|sim| sim.node.seed());
            cluster.trace = Some(Trace::new(seeds));
        }
        let mut init_times = master.fork(INIT_STREAM);
        let spread_us = config.init_spread.as_micros();
        for node in 0..config.node_count {
            let at = match spread_us {
                0 => Instant::ZERO,
                spread => Instant::ZERO + Duration::from_micros(init_times.below(spread)),
            };
            cluster.schedule_init(node, at);
        }
        cluster
    }

    /// The nodes' ids, `n0` first.
    pub fn node_ids(&self) -> &[String] {
        &self.node_ids
    }

    /// The index of the node with this id, if there is one.
    pub fn node_index(&self, node_id: &str) -> Option<usize> {
        self.index.get(node_id).copied()
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The master seed of this run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A client request, delivered to node `dest` at the current time (no latency for
    /// clients, not affected by partitions). `body` must be an object with "type" and "msg_id".
    ///
    /// # Panics
    /// If `dest` is not one of the cluster's nodes (a bug in the workload).
    pub fn send_client(&mut self, src: &str, dest: &str, body: &Value) {
        let Some(node) = self.node_index(dest) else {
            panic!("send_client: {dest} is not a node of this cluster");
        };
        if !self.clients.contains(src) {
            self.clients.insert(src.to_owned());
        }
        self.stats.client_msgs += 1;
        let line = envelope_line(src, dest, body);
        self.put_to_node(node, self.now, None, line);
    }

    /// Closes a client, as Maelstrom does when an operation of a client that is not reusable
    /// ends indeterminate (Jepsen treats its process as crashed): from now on a message to it is
    /// a protocol error, like Maelstrom's "Invalid dest", after which nothing more is read
    /// from the node that sent it (as Maelstrom reads nothing more from it).
    pub fn close_client(&mut self, id: &str) {
        if self.clients.remove(id) {
            self.closed_clients.insert(id.to_owned());
        }
    }

    /// Like [`Cluster::run_until`], but returns right after the first event that gives a
    /// client a message, the clock at that event's time, so that the client can act on an
    /// answer the moment it arrives (kafka's client commits right after a poll's answer).
    pub fn run_until_reply(&mut self, until: Instant, out: &mut Vec<ClientMessage>) {
        self.run_events(until, out, true);
    }

    /// Runs every event with time <= `until` in (time, insertion order) order, then sets the
    /// clock to `until`. Messages nodes send to clients are appended to `out`.
    ///
    /// # Panics
    /// If more than [`MAX_EVENTS_PER_INSTANT`] events happen at one virtual instant: the
    /// nodes are livelocked (say, two nodes answering each other forever with no latency).
    pub fn run_until(&mut self, until: Instant, out: &mut Vec<ClientMessage>) {
        self.run_events(until, out, false);
    }

    /// Runs events up to `until` (stopping after the first that gives a client a message, if
    /// `stop_at_reply`), then sets the clock to `until` unless it stopped early.
    fn run_events(&mut self, until: Instant, out: &mut Vec<ClientMessage>, stop_at_reply: bool) {
        let before = out.len();
        while let Some(at) = self.queue.peek_time() {
            if at > until {
                break;
            }
            let Some((at, event)) = self.queue.pop() else {
                break;
            };
            self.advance_to(at);
            self.handle_event(event, out);
            if stop_at_reply && out.len() > before {
                return;
            }
        }
        self.advance_to(until);
    }

    /// Time of the next pending event (delivery, node timer), if any. It may be early (a
    /// superseded node timer, which does nothing when run), never late.
    pub fn next_event_at(&self) -> Option<Instant> {
        self.queue.peek_time()
    }

    /// Requests from nodes to services that have not reached the service yet, earliest
    /// first: `(when it lands, node id, service id)`.
    ///
    /// Maelstrom's service answers a request when it lands; if the node was removed by
    /// then (the run ended and Maelstrom tore the nodes down), the answer has an invalid
    /// destination, and that error kills the service's thread and crashes Maelstrom's
    /// teardown. A run that ends with any of these would end without a verdict there.
    pub fn service_requests_in_flight(&self) -> Vec<(Instant, String, &'static str)> {
        let mut requests: Vec<_> = self
            .queue
            .iter()
            .filter_map(|(at, event)| match event {
                Event::ToService { service, from, .. } => {
                    Some((at, self.node_ids[*from].clone(), service.id()))
                }
                _ => None,
            })
            .collect();
        requests.sort();
        requests
    }

    /// Cuts the network between the groups, both ways (nodes in no group are isolated from
    /// all): a shorthand for [`Cluster::start_partition`] with Jepsen's complete grudge,
    /// traced as shape `groups`. Only node<->node traffic is affected; services and clients
    /// stay reachable.
    ///
    /// # Panics
    /// If a group names a node the cluster does not have (a bug in the caller).
    pub fn partition(&mut self, groups: &[Vec<String>]) {
        let mut components: Vec<Vec<usize>> = groups
            .iter()
            .map(|group| group.iter().map(|id| self.index_of(id)).collect())
            .collect();
        let grouped: HashSet<usize> = components.iter().flatten().copied().collect();
        let alone = (0..self.nodes.len()).filter(|node| !grouped.contains(node));
        components.extend(alone.map(|node| vec![node]).collect::<Vec<_>>());
        self.start_partition("groups", &Grudge::complete(&components));
    }

    /// Cuts the network as `grudge` says (receiver index to the sender indexes it drops;
    /// directional), replacing any partition in force. `shape` names it in the trace. Only
    /// node<->node traffic is affected; services and clients stay reachable.
    ///
    /// # Panics
    /// If the grudge names a node index the cluster does not have.
    pub fn start_partition(&mut self, shape: &str, grudge: &Grudge) {
        let count = self.nodes.len();
        let fits = grudge
            .iter()
            .all(|(r, senders)| r < count && senders.iter().all(|&s| s < count));
        assert!(
            fits,
            "start_partition: the grudge names a node this cluster lacks"
        );
        self.net.partition(count, grudge);
        if let Some(trace) = &mut self.trace {
            let grudge = grudge.to_json(&self.node_ids);
            trace.record_nemesis(self.now, "start-partition", Some((shape, &grudge)));
        }
    }

    /// Restores every node<->node link.
    pub fn heal(&mut self) {
        if !self.net.is_partitioned() {
            return;
        }
        self.net.heal();
        if let Some(trace) = &mut self.trace {
            trace.record_nemesis(self.now, "stop-partition", None);
        }
    }

    /// Whether a partition is in force.
    pub fn is_partitioned(&self) -> bool {
        self.net.is_partitioned()
    }

    fn index_of(&self, id: &str) -> usize {
        match self.node_index(id) {
            Some(index) => index,
            None => panic!("partition: {id} is not a node of this cluster"),
        }
    }

    /// The nodes that have not answered `init` yet.
    pub fn awaiting_init(&self) -> Vec<String> {
        (self.nodes.iter().zip(&self.node_ids))
            .filter(|(node, _)| !node.init_answered)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// The nodes whose output is no longer read, after a protocol error.
    pub fn unread_nodes(&self) -> Vec<String> {
        (self.nodes.iter().zip(&self.node_ids))
            .filter(|(node, _)| node.unread)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Message counts so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Maelstrom-style protocol violations seen so far: output lines that are not valid
    /// messages, messages to ids that do not exist (including a second init_ok to "c0"), a
    /// src that names nothing that exists (Maelstrom sends a message as from any id it
    /// knows: another node's, a client's). After its first, a node's output is no longer
    /// read, as in Maelstrom ([`Cluster::unread_nodes`]). The first [`MAX_PROTOCOL_ERRORS`]
    /// are kept; a last entry counts the rest.
    pub fn protocol_errors(&self) -> &[String] {
        &self.protocol_errors
    }

    /// The node at `index` (`n{index}`), to inspect its handler.
    ///
    /// # Panics
    /// If there is no such node.
    pub fn node(&self, index: usize) -> &Node<H> {
        &self.nodes[index].node
    }

    /// The trace (when ClusterConfig::trace): one JSON line per delivered/dropped message,
    /// {"time_us":..,"sent_us":..,"event":"deliver"|"drop","src":..,"dest":..,"body":..}
    /// (`sent_us` is when the sender wrote it), and one per partition started or healed,
    /// {"time_us":..,"event":"nemesis","action":"start-partition","shape":..,"grudge":
    /// {receiver:[senders dropped]}} or {..,"action":"stop-partition"}. Writes nothing when
    /// the trace is off.
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn write_trace(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match &self.trace {
            Some(trace) => trace.write(out),
            None => Ok(()),
        }
    }

    /// Node `node_id`'s record so far (when ClusterConfig::trace), in the format a real
    /// node writes under `MAELSTROM_RECORD` (see [`crate::record`]), at virtual times:
    /// `MAELSTROM_REPLAY=FILE target/release/examples/NODE` replays it exactly, and so does
    /// [`replay`](crate::replay()). `None` when the trace is off or there is no such node.
    pub fn node_record(&self, node_id: &str) -> Option<&[u8]> {
        match (&self.trace, self.node_index(node_id)) {
            (Some(trace), Some(node)) => Some(trace.node_record(node)),
            _ => None,
        }
    }

    fn schedule_init(&mut self, node: usize, at: Instant) {
        let body = serde_json::json!({
            "type": "init",
            "msg_id": 1,
            "node_id": self.node_ids[node],
            "node_ids": self.node_ids,
        });
        let line = envelope_line(INIT_CLIENT, &self.node_ids[node], &body);
        self.put_to_node(node, at, None, line);
    }

    /// Puts a message sent now, due at `deadline`, in node `node`'s queue; an idle receiving
    /// loop takes it at once (see [`inbox`]).
    pub(crate) fn put_to_node(
        &mut self,
        node: usize,
        deadline: Instant,
        from: Option<usize>,
        line: Box<str>,
    ) {
        self.put_sequence += 1;
        self.inboxes[node].put(Waiting {
            deadline,
            sequence: self.put_sequence,
            from,
            sent: self.now,
            line,
        });
        if !self.inboxes[node].is_busy() {
            self.take_next(node);
        }
    }

    /// Node `node`'s receiving loop takes its earliest-due message: one from a node the
    /// partition cuts off is dropped now (Maelstrom checks when it takes a message, before
    /// sleeping until it is due); any other is delivered when due, and nothing else reaches
    /// the node before it.
    fn take_next(&mut self, node: usize) {
        while let Some(message) = self.inboxes[node].take() {
            if message
                .from
                .is_some_and(|from| !self.net.connected(from, node))
            {
                self.stats.dropped += 1;
                self.record(message.sent, TraceEvent::Drop, &message.line);
                self.inboxes[node].done();
                continue;
            }
            let event = Event::ToNode {
                node,
                sent: message.sent,
                line: message.line,
            };
            self.queue.push(message.deadline.max(self.now), event);
            return;
        }
    }

    /// Moves the clock forward (never back), counting events per instant for the livelock
    /// guard.
    fn advance_to(&mut self, at: Instant) {
        if at > self.now {
            self.now = at;
            self.events_at_now = 0;
        }
    }

    fn handle_event(&mut self, event: Event, out: &mut Vec<ClientMessage>) {
        self.events_at_now += 1;
        assert!(
            self.events_at_now <= MAX_EVENTS_PER_INSTANT,
            "livelock: more than {MAX_EVENTS_PER_INSTANT} events at {} (seed {})",
            self.now,
            self.seed
        );
        match event {
            Event::ToNode { node, sent, line } => self.deliver_to_node(node, sent, &line, out),
            Event::ToService {
                service,
                from,
                sent,
                line,
            } => self.deliver_to_service(service, from, sent, &line),
            Event::Timer { node } => self.fire_timer(node, out),
        }
    }

    fn deliver_to_node(
        &mut self,
        node: usize,
        sent: Instant,
        line: &str,
        out: &mut Vec<ClientMessage>,
    ) {
        // The partition was checked when the node's loop took the message (`take_next`).
        self.record(sent, TraceEvent::Deliver, line);
        if let Some(trace) = &mut self.trace {
            trace.record_input(node, self.now, line);
        }
        self.nodes[node].node.handle_line(self.now, line.as_bytes());
        self.after_node_event(node, false, out);
        self.inboxes[node].done();
        self.take_next(node);
    }

    fn fire_timer(&mut self, node: usize, out: &mut Vec<ClientMessage>) {
        let now = self.now;
        let sim = &mut self.nodes[node];
        if sim.timer_at != Some(now) {
            return; // superseded by an earlier timer event for this node
        }
        sim.timer_at = None;
        let due = sim.node.next_deadline().is_some_and(|at| at <= now);
        if due {
            sim.node.handle_timeout(now);
            if let Some(trace) = &mut self.trace {
                trace.record_timeout(node, now);
            }
        }
        self.after_node_event(node, due, out);
    }

    /// Routes what the node wrote, then makes sure a timer event is queued for its next
    /// deadline.
    fn after_node_event(&mut self, node: usize, timed_out: bool, out: &mut Vec<ClientMessage>) {
        if let Some(trace) = &mut self.trace {
            trace.record_output(node, self.now, self.nodes[node].node.output());
        }
        self.route_output(node, out);
        self.reschedule_timer(node, timed_out);
    }

    fn reschedule_timer(&mut self, node: usize, timed_out: bool) {
        let now = self.now;
        let sim = &mut self.nodes[node];
        let Some(mut deadline) = sim.node.next_deadline() else {
            return;
        };
        if deadline <= now {
            // Due now. Right after handle_timeout(now) that can only mean the node reported
            // its deadline early; a microsecond later guarantees progress.
            deadline = if timed_out {
                now + Duration::from_micros(1)
            } else {
                now
            };
        }
        if sim.timer_at.map_or(true, |queued| deadline < queued) {
            // A later queued event for this node stays in the heap and is skipped as stale.
            sim.timer_at = Some(deadline);
            self.queue.push(deadline, Event::Timer { node });
        }
    }

    /// Records what happened now to `line`, which was sent at `sent`.
    fn record(&mut self, sent: Instant, event: TraceEvent, line: &str) {
        if let Some(trace) = &mut self.trace {
            trace.record(self.now, sent, event, line);
        }
    }
}

/// Node `index`'s seed for [`Ctx::rng`](crate::Ctx::rng): fixed by the master seed, and
/// different for every node.
fn node_seed(master: &mut Rng, index: usize) -> u64 {
    master.fork(NODE_STREAMS + index as u64).next_u64()
}
