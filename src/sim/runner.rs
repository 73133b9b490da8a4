//! Runs one Maelstrom-style test in the simulator: a cluster of the user's handler, workload
//! clients at a rate and concurrency, a partition nemesis, final reads, then the checker.
//!
//! Clients behave like Maelstrom's: each process is bound to one node and has at most one
//! request in flight; a request unanswered after the client timeout, or answered with an
//! indefinite error, is recorded as indeterminate and its process is replaced by a fresh
//! one. As in Maelstrom (where Jepsen closes the client of a crashed process), the old
//! client id is closed and the new process gets a new id: a node that answers the old id
//! later has sent to a node that no longer exists, which Maelstrom treats as "Invalid dest"
//! and the run reports as a protocol error. Requests are started at
//! exponentially spaced instants at `rate` per second overall; an instant with every process
//! busy is skipped. Workloads with a final read heal the network, wait 10 s, then read every
//! node (retrying each until it answers). Everything is seeded from `RunConfig::seed`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::check::{self, TxnModel, Workload};
use super::cluster::{ClientMessage, Cluster, ClusterConfig};
use super::history::{History, OpKind};
use super::net::{Latency, NetConfig};
use super::report::Report;
use super::rng::Rng;
use super::workload::{Generator, Outcome, Request};
use crate::handler::Handler;
use crate::time::{Duration, Instant};

/// How long a client waits for an answer (MAELSTROM.md "Traps").
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Quiet time between healing and the final reads.
pub const FINAL_QUIESCE: Duration = Duration::from_secs(10);
/// Final reads per node before the run gives up on that node.
const FINAL_ATTEMPTS: u32 = 20;

/// The fault schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nemesis {
    /// A healthy network throughout.
    None,
    /// Every `interval`, alternately cut the nodes into two random halves and heal.
    Partition {
        /// Time between a cut and the heal that follows it (and between heal and next cut).
        interval: Duration,
    },
}

/// A challenge's performance goals, judged on the report (Gossip Glomers 3d and 3e).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Targets {
    /// Server-to-server messages per client operation must stay below this.
    pub msgs_per_op: f64,
    /// The median latency must stay below this (broadcast: stable latency), milliseconds.
    pub latency_ms_p50: u64,
    /// The maximum latency must stay below this, milliseconds.
    pub latency_ms_max: u64,
}

/// One test: workload, cluster, load and faults.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    /// Name shown in reports (a challenge like "3d", or anything).
    pub name: String,
    /// The workload and its checker.
    pub workload: Workload,
    /// Nodes, named n0.. like Maelstrom's.
    pub node_count: usize,
    /// How long clients generate requests.
    pub time_limit: Duration,
    /// Client requests per second, all clients together.
    pub rate: f64,
    /// Client processes (each with at most one request in flight).
    pub concurrency: usize,
    /// One-way latency between nodes and between nodes and services.
    pub latency: Latency,
    /// The fault schedule.
    pub nemesis: Nemesis,
    /// The fraction of client operations that must succeed, like Maelstrom's
    /// `--availability` (`1.0` is `total`); `None` checks nothing.
    pub availability: Option<f64>,
    /// Performance goals the run must meet, if the challenge sets any.
    pub targets: Option<Targets>,
    /// The master seed.
    pub seed: u64,
    /// Record the trace (see [`Report::trace`]).
    pub trace: bool,
}

impl RunConfig {
    /// A run of `workload` on `node_count` nodes with Maelstrom's defaults (rate 5, 10 s,
    /// concurrency = node count, no latency, no nemesis) and seed 1.
    pub fn new(name: &str, workload: Workload, node_count: usize) -> RunConfig {
        RunConfig {
            name: name.to_owned(),
            workload,
            node_count,
            time_limit: Duration::from_secs(10),
            rate: 5.0,
            concurrency: node_count.max(1),
            latency: Latency::default(),
            nemesis: Nemesis::None,
            availability: None,
            targets: None,
            seed: 1,
            trace: false,
        }
    }

    /// The Gossip Glomers command lines of MAELSTROM.md ("1", "2", "3a".."3e", "4",
    /// "5a".."5c", "6a".."6c") and the tutorial's "g-set", "pn-counter", "lin-kv",
    /// "txn-list-append".
    pub fn challenge(name: &str) -> Option<RunConfig> {
        let partition = Nemesis::Partition {
            interval: Duration::from_secs(5),
        };
        let ms = |n| Latency::Fixed(Duration::from_millis(n));
        let txn = |model| Workload::TxnRwRegister { model };
        // (workload, nodes, seconds, rate, concurrency (0 = node count), latency ms, partition)
        let (workload, nodes, secs, rate, conc, latency, faults) = match name {
            "1" => (Workload::Echo, 1, 10, 5.0, 0, 0, false),
            "2" => (Workload::UniqueIds, 3, 30, 1000.0, 0, 0, true),
            "3a" => (Workload::Broadcast, 1, 20, 10.0, 0, 0, false),
            "3b" => (Workload::Broadcast, 5, 20, 10.0, 0, 0, false),
            "3c" => (Workload::Broadcast, 5, 20, 10.0, 0, 0, true),
            "3d" | "3e" => (Workload::Broadcast, 25, 20, 100.0, 0, 100, false),
            "4" => (Workload::GCounter, 3, 20, 100.0, 0, 0, true),
            "5a" => (Workload::Kafka, 1, 20, 1000.0, 2, 0, false),
            "5b" | "5c" => (Workload::Kafka, 2, 20, 1000.0, 4, 0, false),
            "6a" => (txn(TxnModel::ReadUncommitted), 1, 20, 1000.0, 2, 0, false),
            "6b" => (txn(TxnModel::ReadUncommitted), 2, 20, 1000.0, 4, 0, true),
            "6c" => (txn(TxnModel::ReadCommitted), 2, 20, 1000.0, 4, 0, true),
            "g-set" => (Workload::GSet, 3, 20, 10.0, 0, 0, true),
            "pn-counter" => (Workload::PnCounter, 3, 20, 10.0, 0, 0, true),
            "lin-kv" => (Workload::LinKv, 3, 20, 100.0, 6, 0, true),
            "txn-list-append" => (Workload::TxnListAppend, 2, 10, 100.0, 4, 0, false),
            _ => return None,
        };
        let mut config = RunConfig::new(name, workload, nodes);
        config.time_limit = Duration::from_secs(secs);
        config.rate = rate;
        config.concurrency = if conc == 0 { nodes } else { conc };
        config.latency = ms(latency);
        config.nemesis = if faults { partition } else { Nemesis::None };
        // MAELSTROM.md's command lines: `--availability total` for 2 and 6a-6c.
        if matches!(name, "2" | "6a" | "6b" | "6c") {
            config.availability = Some(1.0);
        }
        config.targets = match name {
            "3d" => Some(Targets {
                msgs_per_op: 30.0,
                latency_ms_p50: 400,
                latency_ms_max: 600,
            }),
            "3e" => Some(Targets {
                msgs_per_op: 20.0,
                latency_ms_p50: 1_000,
                latency_ms_max: 2_000,
            }),
            _ => None,
        };
        Some(config)
    }

    /// Every challenge name [`RunConfig::challenge`] knows, in suite order.
    pub const CHALLENGES: &'static [&'static str] = &[
        "1",
        "2",
        "3a",
        "3b",
        "3c",
        "3d",
        "3e",
        "g-set",
        "4",
        "pn-counter",
        "5a",
        "5b",
        "5c",
        "6a",
        "6b",
        "6c",
        "lin-kv",
        "txn-list-append",
    ];
}

/// A request in flight.
#[derive(Debug)]
struct InFlight {
    process: u64,
    request: Request,
    sent: Instant,
    deadline: Instant,
    final_read: bool,
}

/// The clients' side of a run.
struct Clients {
    generator: Generator,
    history: History,
    /// Per client slot: its current process id.
    processes: Vec<u64>,
    /// Per client slot: the client id its current process sends from (`c1`, `c2`, ...).
    ids: Vec<String>,
    next_process: u64,
    /// The number in the next fresh client id.
    next_client: u64,
    /// (client id, msg_id) → request in flight.
    in_flight: BTreeMap<(String, u64), InFlight>,
    next_msg_id: u64,
    schema_errors: Vec<String>,
    latencies_us: Vec<u64>,
    timeout: Duration,
}

impl Clients {
    /// Adds a client slot with a fresh process and client id; returns the slot.
    fn add_slot(&mut self) -> usize {
        self.processes.push(self.next_process);
        self.next_process += 1;
        self.ids.push(format!("c{}", self.next_client));
        self.next_client += 1;
        self.processes.len() - 1
    }

    /// The slot's process crashed (an indeterminate outcome): Maelstrom closes its client,
    /// and the slot goes on with a new process under a new client id.
    fn replace_process<H: Handler>(&mut self, cluster: &mut Cluster<H>, slot: usize) {
        cluster.close_client(&self.ids[slot]);
        self.processes[slot] = self.next_process;
        self.next_process += 1;
        self.ids[slot] = format!("c{}", self.next_client);
        self.next_client += 1;
    }

    fn slot_of(&self, client: &str) -> Option<usize> {
        self.ids.iter().position(|id| id == client)
    }

    fn is_busy(&self, slot: usize) -> bool {
        let client = &self.ids[slot];
        self.in_flight.keys().any(|(c, _)| c == client)
    }

    fn send<H: Handler>(
        &mut self,
        cluster: &mut Cluster<H>,
        slot: usize,
        node: &str,
        request: Request,
        final_read: bool,
    ) {
        let now = cluster.now();
        let process = self.processes[slot];
        if final_read {
            self.history
                .push_final_invoke(process, request.f, request.value.clone(), now, node);
        } else {
            self.history
                .push_invoke(process, request.f, request.value.clone(), now, node);
        }
        self.next_msg_id += 1;
        let mut body = request.body.clone();
        body["msg_id"] = json!(self.next_msg_id);
        let client = self.ids[slot].clone();
        cluster.send_client(&client, node, &body);
        let deadline = now + self.timeout;
        let flight = InFlight {
            process,
            request,
            sent: now,
            deadline,
            final_read,
        };
        self.in_flight.insert((client, self.next_msg_id), flight);
    }

    /// Records the answers; returns the slots of final reads that failed (to retry).
    fn receive<H: Handler>(
        &mut self,
        cluster: &mut Cluster<H>,
        replies: &mut Vec<ClientMessage>,
    ) -> Vec<(usize, String)> {
        let mut retry = Vec::new();
        for reply in replies.drain(..) {
            let Some(msg_id) = reply.body["in_reply_to"].as_u64() else {
                self.schema_errors.push(format!(
                    "client message without in_reply_to: {}",
                    reply.body
                ));
                continue;
            };
            let Some(flight) = self.in_flight.remove(&(reply.dest.clone(), msg_id)) else {
                continue; // a second answer to the same request
            };
            let Some(slot) = self.slot_of(&reply.dest) else {
                continue; // unreachable: in-flight requests belong to open clients
            };
            match self
                .generator
                .complete(flight.process, &flight.request, &reply.body)
            {
                Outcome::Done(kind, value) => {
                    if kind == OpKind::Ok {
                        self.latencies_us
                            .push((reply.time - flight.sent).as_micros());
                    } else if flight.final_read {
                        retry.push((slot, reply.src.clone()));
                    }
                    if kind == OpKind::Info {
                        self.replace_process(cluster, slot);
                    }
                    self.history
                        .push_completion(flight.process, kind, value, reply.time);
                }
                Outcome::SchemaError(e) => {
                    self.schema_errors
                        .push(format!("{} from {}: {e}", flight.request.f, reply.src));
                    self.history.push_completion(
                        flight.process,
                        OpKind::Info,
                        Value::Null,
                        reply.time,
                    );
                }
            }
        }
        retry
    }

    /// Gives up on requests past their deadline: indeterminate, and a fresh process.
    fn expire<H: Handler>(
        &mut self,
        cluster: &mut Cluster<H>,
        now: Instant,
    ) -> Vec<(usize, String)> {
        let expired: Vec<(String, u64)> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        let mut retry = Vec::new();
        for key in expired {
            let Some(flight) = self.in_flight.remove(&key) else {
                continue;
            };
            self.history.push_completion(
                flight.process,
                OpKind::Info,
                flight.request.value.clone(),
                now,
            );
            let Some(slot) = self.slot_of(&key.0) else {
                continue; // unreachable: in-flight requests belong to open clients
            };
            self.replace_process(cluster, slot);
            if flight.final_read {
                retry.push((slot, String::new()));
            }
        }
        retry
    }

    fn earliest_deadline(&self) -> Option<Instant> {
        self.in_flight.values().map(|f| f.deadline).min()
    }
}

/// Runs `config` with nodes made by `make_node`, and checks the history.
pub fn run<H: Handler>(config: &RunConfig, make_node: impl FnMut(usize) -> H) -> Report {
    let started = std::time::Instant::now();
    let mut master = Rng::new(config.seed);
    let cluster_config = ClusterConfig {
        node_count: config.node_count,
        seed: master.next_u64(),
        net: NetConfig {
            latency: config.latency,
            loss: 0.0,
        },
        trace: config.trace,
    };
    let mut cluster = Cluster::new(cluster_config, make_node);
    let mut clients = new_clients(config, &mut master);
    let mut replies = Vec::new();
    if config.workload == Workload::Broadcast {
        send_topology(&mut cluster, &mut replies);
    }
    let end = cluster.now() + config.time_limit;
    generate(
        config,
        &mut cluster,
        &mut clients,
        &mut master,
        end,
        &mut replies,
    );
    cluster.heal();
    final_phase(&mut cluster, &mut clients, &mut replies);
    let stats = cluster.stats();
    let check = check::check(&config.workload, &clients.history);
    let mut protocol_errors = cluster.protocol_errors().to_vec();
    protocol_errors.append(&mut clients.schema_errors);
    let trace = config.trace.then(|| trace_of(&cluster));
    Report::new(
        config,
        check,
        protocol_errors,
        clients.history,
        clients.latencies_us,
        stats,
        started.elapsed(),
        trace,
    )
}

fn new_clients(config: &RunConfig, master: &mut Rng) -> Clients {
    let concurrency = config.concurrency.max(1);
    let timeout = if config.workload == Workload::LinKv {
        // Maelstrom's lin-kv clients: ten times the mean latency, at least a second.
        let mean = match config.latency {
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                Duration::from_micros((min.as_micros() + max.as_micros()) / 2)
            }
            Latency::Exponential { mean } => mean,
        };
        mean.saturating_mul(10).max(Duration::from_secs(1))
    } else {
        CLIENT_TIMEOUT
    };
    let mut clients = Clients {
        generator: Generator::new(config.workload, master.fork(1)),
        history: History::new(),
        processes: Vec::new(),
        ids: Vec::new(),
        next_process: 0,
        next_client: 1,
        in_flight: BTreeMap::new(),
        next_msg_id: 0,
        schema_errors: Vec::new(),
        latencies_us: Vec::new(),
        timeout,
    };
    for _ in 0..concurrency {
        clients.add_slot();
    }
    clients
}

/// Maelstrom's broadcast clients first send every node a topology (a line of neighbours).
fn send_topology<H: Handler>(cluster: &mut Cluster<H>, replies: &mut Vec<ClientMessage>) {
    let ids = cluster.node_ids().to_vec();
    let topology: serde_json::Map<String, Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let neighbours: Vec<&String> = [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter_map(|j| ids.get(j))
                .collect();
            (id.clone(), json!(neighbours))
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let body = json!({"type": "topology", "topology": topology, "msg_id": 1_000_000 + i});
        cluster.send_client("c0-topology", id, &body);
    }
    let settle = cluster.now() + Duration::from_millis(1);
    cluster.run_until(settle, replies);
    replies.clear();
}

fn generate<H: Handler>(
    config: &RunConfig,
    cluster: &mut Cluster<H>,
    clients: &mut Clients,
    master: &mut Rng,
    end: Instant,
    replies: &mut Vec<ClientMessage>,
) {
    let mut arrivals = master.fork(2);
    let mut nemesis_rng = master.fork(3);
    let mean_gap_us = 1e6 / config.rate.max(1e-3);
    let mut next_op =
        cluster.now() + Duration::from_micros(arrivals.exponential(mean_gap_us) as u64);
    let mut next_fault = match config.nemesis {
        Nemesis::Partition { interval } => Some(cluster.now() + interval),
        Nemesis::None => None,
    };
    let mut slot_cursor = 0usize;
    while cluster.now() < end {
        let wake = [
            Some(next_op),
            next_fault,
            clients.earliest_deadline(),
            Some(end),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(end);
        cluster.run_until(wake, replies);
        clients.receive(cluster, replies);
        clients.expire(cluster, wake);
        if next_fault.is_some_and(|t| t <= wake) {
            toggle_partition(cluster, &mut nemesis_rng);
            next_fault = match config.nemesis {
                Nemesis::Partition { interval } => Some(wake + interval),
                Nemesis::None => None,
            };
        }
        if next_op <= wake && wake < end {
            start_op(cluster, clients, &mut slot_cursor);
            next_op = wake + Duration::from_micros(arrivals.exponential(mean_gap_us) as u64);
        }
    }
}

/// Starts one request on the next free client process, if any.
fn start_op<H: Handler>(cluster: &mut Cluster<H>, clients: &mut Clients, cursor: &mut usize) {
    let slots = clients.processes.len();
    for step in 0..slots {
        let slot = (*cursor + step) % slots;
        if clients.is_busy(slot) {
            continue;
        }
        *cursor = slot + 1;
        let node = cluster.node_ids()[slot % cluster.node_ids().len()].clone();
        let request = clients.generator.next(clients.processes[slot]);
        clients.send(cluster, slot, &node, request, false);
        return;
    }
}

fn toggle_partition<H: Handler>(cluster: &mut Cluster<H>, rng: &mut Rng) {
    if cluster.is_partitioned() {
        cluster.heal();
        return;
    }
    let mut ids = cluster.node_ids().to_vec();
    if ids.len() < 2 {
        return;
    }
    rng.shuffle(&mut ids);
    let half = ids.split_off(ids.len() / 2);
    cluster.partition(&[ids, half]);
}

/// Waits out the last requests, then (for workloads with one) reads every node once the
/// network has been healthy for [`FINAL_QUIESCE`].
fn final_phase<H: Handler>(
    cluster: &mut Cluster<H>,
    clients: &mut Clients,
    replies: &mut Vec<ClientMessage>,
) {
    let quiet = cluster.now() + FINAL_QUIESCE;
    drive_until(cluster, clients, replies, quiet);
    if let Some(targets) = clients.generator.kafka_final_targets() {
        kafka_final_polls(cluster, clients, replies, &targets);
        return;
    }
    let Some(read) = clients.generator.final_read() else {
        return;
    };
    let nodes = cluster.node_ids().to_vec();
    // Final reads use slots past the workload's, one per node.
    let first = clients.processes.len();
    for node in &nodes {
        let slot = clients.add_slot();
        clients.send(cluster, slot, node, read.clone(), true);
    }
    for _ in 0..FINAL_ATTEMPTS {
        let wake = clients.earliest_deadline().unwrap_or(cluster.now());
        cluster.run_until(wake, replies);
        let mut retry = clients.receive(cluster, replies);
        retry.extend(clients.expire(cluster, wake));
        if clients.in_flight.is_empty() && retry.is_empty() {
            return;
        }
        for (slot, _) in retry {
            let node = nodes[slot - first].clone();
            clients.send(cluster, slot, &node, read.clone(), true);
        }
    }
}

/// How long kafka's final polls may start operations (Maelstrom clips them to 10 s).
const KAFKA_FINAL_POLLS: Duration = Duration::from_secs(10);

/// Kafka's final generator as Maelstrom runs jepsen's: every client thread crashes its
/// client (a fresh process and client id), assigns its fresh process every key seen so far seeking to the beginning, then
/// polls (committing after each poll that returned messages) at staggered intervals until
/// it has polled, per key, the highest offset any successful send or poll had reached.
/// New operations start only within [`KAFKA_FINAL_POLLS`]; those in flight are waited out.
/// A process replaced after an indeterminate result starts with no assignment, as in
/// Maelstrom, and so polls nothing.
fn kafka_final_polls<H: Handler>(
    cluster: &mut Cluster<H>,
    clients: &mut Clients,
    replies: &mut Vec<ClientMessage>,
    targets: &BTreeMap<String, i64>,
) {
    let start = cluster.now();
    let end = start + KAFKA_FINAL_POLLS;
    let keys: Vec<String> = targets.keys().cloned().collect();
    let nodes = cluster.node_ids().to_vec();
    let slots = clients.processes.len();
    let node_of = |slot: usize| nodes[slot % nodes.len()].clone();
    for slot in 0..slots {
        let node = node_of(slot);
        // The crash itself is not recorded: it involves no node, and `info` counts stay
        // those of indeterminate answers.
        clients.replace_process(cluster, slot);
        let process = clients.processes[slot];
        let value = clients.generator.kafka_seek_to_beginning(process, &keys);
        let history = &mut clients.history;
        history.push_final_invoke(process, "assign", value, start, &node);
        history.push_completion(process, OpKind::Ok, Value::Null, start);
    }
    let mut remaining = vec![targets.clone(); slots];
    let mut next_poll = vec![start; slots];
    loop {
        let now = cluster.now();
        let mut wake = clients.earliest_deadline();
        for slot in 0..slots {
            let process = clients.processes[slot];
            if let Some(polled) = clients.generator.kafka_polled(process) {
                remaining[slot].retain(|key, target| !polled.get(key).is_some_and(|p| p >= target));
            }
            if clients.is_busy(slot) {
                continue;
            }
            let commit = clients.generator.kafka_commit_pending(process);
            if !commit && (remaining[slot].is_empty() || now >= end) {
                continue;
            }
            if commit || next_poll[slot] <= now {
                if !commit {
                    let gap = Duration::from_micros(clients.generator.kafka_poll_gap_us());
                    next_poll[slot] += gap;
                }
                let request = clients.generator.kafka_final_op(process);
                clients.send(cluster, slot, &node_of(slot), request, true);
            } else {
                let at = next_poll[slot].min(end);
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
        }
        let Some(wake) = wake.or_else(|| clients.earliest_deadline()) else {
            return;
        };
        // Step event by event, so that an answer is acted on when it arrives.
        let wake = cluster
            .next_event_at()
            .map_or(wake, |at| at.max(now).min(wake));
        cluster.run_until(wake, replies);
        clients.receive(cluster, replies);
        clients.expire(cluster, wake);
    }
}

fn drive_until<H: Handler>(
    cluster: &mut Cluster<H>,
    clients: &mut Clients,
    replies: &mut Vec<ClientMessage>,
    until: Instant,
) {
    while cluster.now() < until {
        let wake = clients.earliest_deadline().map_or(until, |d| d.min(until));
        cluster.run_until(wake, replies);
        clients.receive(cluster, replies);
        clients.expire(cluster, wake);
    }
}

fn trace_of<H: Handler>(cluster: &Cluster<H>) -> super::report::Trace {
    let mut all = Vec::new();
    let _ = cluster.write_trace(&mut all);
    let inputs = cluster
        .node_ids()
        .iter()
        .map(|id| (id.clone(), cluster.node_input(id)))
        .collect();
    super::report::Trace {
        messages: all,
        node_inputs: inputs,
    }
}
