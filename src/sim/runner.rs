//! Runs one Maelstrom-style test in the simulator: a cluster of the user's handler, workload
//! clients at a rate and concurrency, a partition nemesis, final reads, then the checker.
//!
//! Clients behave like Maelstrom's: each process is bound to one node and has at most one
//! request in flight; a request unanswered after the client timeout, or answered with an
//! error, is recorded as Maelstrom's client records it (a failure when definite or
//! idempotent, else indeterminate), and an indeterminate one replaces its process by a
//! fresh one. In workloads whose client is not reusable (echo, broadcast, g-set, g-counter,
//! pn-counter, kafka) Jepsen then closes the client and the new process gets a new id: a node
//! that answers the old id later has sent to a node that no longer exists, which Maelstrom
//! treats as "Invalid dest" and the run reports as a protocol error, reading nothing more
//! from that node, as Maelstrom does. In the others
//! (unique-ids, lin-kv, txn-rw-register, txn-list-append) the client keeps its id and
//! silently skips late answers. Requests are started `rate` per second overall, at gaps
//! uniform on `[0, 2 / rate)` (jepsen's `stagger`); an instant with every process busy is
//! skipped. Kafka's clients also crash on jepsen's schedule
//! ([`RunConfig::crash_client_interval`]), each crash taking a rate slot, and follow a poll
//! that returned messages at once with its commit (the runner stops at every answer, so a
//! client can act on it when it arrives).
//! A partition nemesis runs Maelstrom's schedule and shapes ([`PartitionSchedule`])
//! while clients generate requests, and the report lists every partition it started.
//! Workloads with a final read heal the network, wait 10 s, then read every node (retrying
//! each until it answers). Everything is seeded from `RunConfig::seed`.
//!
//! The run ends where Maelstrom tears the nodes down: after the final reads (or kafka's
//! final polls), or, for workloads without a final phase, as soon as every request has its
//! answer or timed out. A request to a service still on its way then fails the run
//! ([`Cluster::service_requests_in_flight`]): Maelstrom would answer it to a removed node
//! and crash at teardown without a verdict.

mod clients;
mod config;
mod topology;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use self::clients::{new_clients, Clients};
pub use self::config::{Nemesis, RunConfig, Targets};
pub use self::topology::Topology;
use super::check::{self, Failure, Workload};
use super::cluster::{ClientMessage, Cluster, ClusterConfig};
use super::history::OpKind;
use super::nemesis::{NemesisOp, PartitionSchedule};
use super::net::NetConfig;
use super::report::{PartitionRecord, Report};
use crate::handler::Handler;
use crate::rng::Rng;
use crate::time::{Duration, Instant};

/// How long a client waits for an answer (Maelstrom's default; lin-kv's clients wait longer
/// under high latency).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Quiet time between healing and the final reads.
pub const FINAL_QUIESCE: Duration = Duration::from_secs(10);
/// How far apart the nodes get `init`, per node ([`ClusterConfig::init_spread`]): Maelstrom
/// brought 25 nodes up over 260 ms on a 2-core machine. Without it, every node's periodic
/// timers would tick in lockstep, which no real run does.
pub const INIT_SPREAD_PER_NODE: Duration = Duration::from_millis(10);
/// Final reads per node before the run gives up on that node.
const FINAL_ATTEMPTS: u32 = 20;

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
        init_spread: INIT_SPREAD_PER_NODE.saturating_mul(config.node_count as u64),
    };
    let workload_start = Instant::ZERO + cluster_config.init_spread;
    let mut cluster = Cluster::new(cluster_config, make_node);
    let mut clients = new_clients(config, &mut master);
    let mut replies = Vec::new();
    // Maelstrom's clients start once every node has answered init (and, in broadcast,
    // topology); a node that does not crashes its setup.
    let mut setup_crashes = await_init(&mut cluster, workload_start, &mut replies);
    if config.workload == Workload::Broadcast && setup_crashes.is_empty() {
        setup_crashes = send_topology(&mut cluster, config.topology, &mut replies);
    }
    let end = cluster.now() + config.time_limit;
    let mut partitions = generate(
        config,
        &mut cluster,
        &mut clients,
        &mut master,
        end,
        &mut replies,
    );
    if cluster.is_partitioned() {
        heal(&mut cluster, &mut partitions);
    }
    final_phase(&mut cluster, &mut clients, &mut replies);
    let stats = cluster.stats();
    let check = check::check(&config.workload, &clients.history);
    let mut protocol_errors = protocol_failures(cluster.protocol_errors(), &clients.schema_errors);
    protocol_errors.extend(
        setup_crashes
            .into_iter()
            .chain(teardown_crashes(&cluster))
            .map(Failure::maelstrom),
    );
    let trace = config.trace.then(|| trace_of(&cluster));
    let mut report = Report::new(
        config,
        check,
        protocol_errors,
        clients.history,
        clients.latencies_us,
        stats,
        started.elapsed(),
        trace,
    );
    report.partitions = partitions;
    report
}

/// Classifies protocol errors. A line Maelstrom's network rejects (not JSON, a malformed
/// envelope, an unknown source or destination) throws in the thread reading the node's
/// stdout, which logs it and reads nothing more from that node; the simulator stops reading
/// it too, and the checkers judge what follows, as Maelstrom's do (a node answering a closed
/// client late can still pass there). The line itself fails no Maelstrom run: beyond
/// Maelstrom. A reply outside the workload's schema only makes Maelstrom's client throw:
/// the operation is recorded as indeterminate and Jepsen's exception checker, which never
/// fails a run, lists it: beyond Maelstrom too.
fn protocol_failures(network: &[String], schema: &[String]) -> Vec<Failure> {
    network
        .iter()
        .chain(schema)
        .cloned()
        .map(Failure::beyond)
        .collect()
}

/// How long Maelstrom's setup waits for a node's answer to `init` or `topology` (its
/// client's default RPC timeout): past it, or on an error or a malformed answer, the RPC
/// throws in Jepsen's setup and the whole test crashes without a verdict.
const SETUP_TIMEOUT: Duration = Duration::from_secs(SETUP_TIMEOUT_SECS);
const SETUP_TIMEOUT_SECS: u64 = 5;

/// Waits for every node's `init_ok` (up to [`SETUP_TIMEOUT`] after `start`, and at least
/// until `start`); a node that never answers crashes Maelstrom's setup.
fn await_init<H: Handler>(
    cluster: &mut Cluster<H>,
    start: Instant,
    replies: &mut Vec<ClientMessage>,
) -> Vec<String> {
    cluster.run_until(start, replies);
    let deadline = start + SETUP_TIMEOUT;
    while !cluster.awaiting_init().is_empty() && cluster.now() < deadline {
        let next = cluster
            .next_event_at()
            .map_or(deadline, |at| at.min(deadline));
        cluster.run_until(next, replies);
    }
    replies.clear();
    cluster
        .awaiting_init()
        .into_iter()
        .map(|node| {
            format!(
                "{node} did not answer init within {} s: Maelstrom's setup times out and the \
                 test crashes without a verdict",
                SETUP_TIMEOUT_SECS
            )
        })
        .collect()
}

/// Maelstrom's broadcast clients first send every node the topology
/// ([`RunConfig::topology`]) and wait for each `topology_ok`: a missing, erroneous or
/// malformed answer (Maelstrom's schema allows `type`, `msg_id` and `in_reply_to`, nothing
/// more) crashes Maelstrom's setup, and the test ends without a verdict. Returns those.
fn send_topology<H: Handler>(
    cluster: &mut Cluster<H>,
    topology: Topology,
    replies: &mut Vec<ClientMessage>,
) -> Vec<String> {
    const FIRST_MSG_ID: u64 = 1_000_000;
    let ids = cluster.node_ids().to_vec();
    let topology: serde_json::Map<String, Value> = topology
        .neighbours(&ids)
        .into_iter()
        .map(|(id, neighbours)| (id, json!(neighbours)))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let body =
            json!({"type": "topology", "topology": topology, "msg_id": FIRST_MSG_ID + i as u64});
        cluster.send_client(TOPOLOGY_CLIENT, id, &body);
    }
    let deadline = cluster.now() + SETUP_TIMEOUT;
    let mut answers: Vec<Option<Value>> = vec![None; ids.len()];
    replies.clear();
    while answers.iter().any(Option::is_none) && cluster.now() < deadline {
        cluster.run_until_reply(deadline, replies);
        for reply in replies.drain(..) {
            let index = reply.body["in_reply_to"]
                .as_u64()
                .and_then(|id| id.checked_sub(FIRST_MSG_ID));
            let slot = index.and_then(|i| answers.get_mut(i as usize));
            if let (true, Some(slot @ None)) = (reply.dest == TOPOLOGY_CLIENT, slot) {
                *slot = Some(reply.body);
            }
        }
    }
    ids.iter()
        .zip(answers)
        .filter_map(|(id, answer)| {
            let why = match answer {
                None => format!(
                    "no answer within {} s (Client read timeout)",
                    SETUP_TIMEOUT_SECS
                ),
                Some(body) => topology_fault(&body)?,
            };
            Some(format!(
                "{id}: topology {why}: Maelstrom's setup throws and the test crashes without \
                 a verdict"
            ))
        })
        .collect()
}

/// The client id the topology comes from.
const TOPOLOGY_CLIENT: &str = "c0-topology";

/// What is wrong with an answer to `topology`, if anything.
fn topology_fault(body: &Value) -> Option<String> {
    if body["type"] == "error" {
        return Some(format!("answered with an error: {body}"));
    }
    if body["type"] != "topology_ok" {
        return Some(format!(
            "answered with {body}, not topology_ok (Malformed RPC response)"
        ));
    }
    let extra = body
        .as_object()?
        .iter()
        .find(|(key, value)| match key.as_str() {
            "type" | "in_reply_to" => false,
            "msg_id" => !value.is_u64(),
            _ => true,
        });
    extra.map(|(key, _)| {
        format!(
            "answer has `{key}`, which its schema does not allow (Malformed RPC response): {body}"
        )
    })
}

/// Runs the clients and the nemesis until `end`; returns the partitions started.
fn generate<H: Handler>(
    config: &RunConfig,
    cluster: &mut Cluster<H>,
    clients: &mut Clients,
    master: &mut Rng,
    end: Instant,
    replies: &mut Vec<ClientMessage>,
) -> Vec<PartitionRecord> {
    let mut arrivals = master.fork(2);
    let mut nemesis = match config.nemesis {
        Nemesis::Partition { interval, shapes } => Some(PartitionSchedule::new(
            cluster.now(),
            interval,
            shapes,
            master.fork(3),
        )),
        Nemesis::None => None,
    };
    let mut partitions = Vec::new();
    let mean_gap_us = 1e6 / config.rate.max(1e-3);
    let mut next_op = cluster.now() + stagger(&mut arrivals, mean_gap_us);
    let mut slot_cursor = 0usize;
    let mut crashes = CrashSchedule::new(config, cluster.now(), master.fork(4));
    while cluster.now() < end {
        let next_fault = nemesis.as_ref().map(PartitionSchedule::next_at);
        let wake = [Some(next_op), next_fault, clients.earliest_deadline()]
            .into_iter()
            .flatten()
            .fold(end, Instant::min);
        // Stop at each answer: the client may follow it up at once (kafka's commits).
        cluster.run_until_reply(wake, replies);
        let wake = cluster.now();
        clients.receive(cluster, replies);
        clients.expire(cluster, wake);
        // Like Jepsen's time limit, an operation due at the end does not happen.
        while let Some(schedule) = nemesis
            .as_mut()
            .filter(|n| n.next_at() <= wake && wake < end)
        {
            let op = schedule.next_op(cluster.node_ids().len());
            apply_nemesis(cluster, op, &mut partitions);
        }
        if next_op <= wake && wake < end {
            // A crash due takes the slot of the operation, as jepsen's generators share
            // Maelstrom's rate.
            let crash = crashes.as_ref().is_some_and(|c| c.next_at <= wake);
            if start_op(cluster, clients, &mut slot_cursor, crash) && crash {
                crashes.as_mut().map(CrashSchedule::advance);
            }
            next_op = wake + stagger(&mut arrivals, mean_gap_us);
        }
    }
    partitions
}

/// Starts or heals a partition, and keeps the record of it for the report.
fn apply_nemesis<H: Handler>(
    cluster: &mut Cluster<H>,
    op: NemesisOp,
    partitions: &mut Vec<PartitionRecord>,
) {
    match op {
        NemesisOp::Start { shape, grudge } => {
            cluster.start_partition(shape.name(), &grudge);
            partitions.push(PartitionRecord {
                at: cluster.now(),
                healed: None,
                shape,
                grudge: grudge.describe(cluster.node_ids()),
            });
        }
        NemesisOp::Stop => heal(cluster, partitions),
    }
}

fn heal<H: Handler>(cluster: &mut Cluster<H>, partitions: &mut [PartitionRecord]) {
    cluster.heal();
    if let Some(last) = partitions.last_mut() {
        last.healed.get_or_insert(cluster.now());
    }
}

/// The gap before the next request: uniform on `[0, 2 x mean)`, as jepsen's `stagger`
/// spaces Maelstrom's requests (all clients together).
fn stagger(arrivals: &mut Rng, mean_gap_us: f64) -> Duration {
    Duration::from_micros((arrivals.unit() * 2.0 * mean_gap_us) as u64)
}

/// Kafka's client crashes (jepsen's `crash-client-gen`): due times at staggered gaps of
/// mean [`RunConfig::crash_client_interval`] / concurrency.
struct CrashSchedule {
    next_at: Instant,
    mean_gap_us: f64,
    rng: Rng,
}

impl CrashSchedule {
    /// The schedule of a kafka run; `None` for other workloads.
    fn new(config: &RunConfig, now: Instant, mut rng: Rng) -> Option<CrashSchedule> {
        if config.workload != Workload::Kafka {
            return None;
        }
        let clients = config.concurrency.max(1) as f64;
        let mean_gap_us = config.crash_client_interval.as_micros() as f64 / clients;
        let next_at = now + stagger(&mut rng, mean_gap_us);
        Some(CrashSchedule {
            next_at,
            mean_gap_us,
            rng,
        })
    }

    fn advance(&mut self) {
        self.next_at += stagger(&mut self.rng, self.mean_gap_us);
    }
}

/// Starts one request on the next free client process, if any, or crashes that process
/// (`crash`: a fresh process replaces it, under a new client id); whether one was free.
fn start_op<H: Handler>(
    cluster: &mut Cluster<H>,
    clients: &mut Clients,
    cursor: &mut usize,
    crash: bool,
) -> bool {
    let slots = clients.processes.len();
    let nodes = cluster.node_ids().len();
    let lin_kv = clients.workload == Workload::LinKv && !crash;
    let (slot, lin_kv_pick) = if lin_kv {
        let busy: Vec<bool> = (0..slots).map(|slot| clients.is_busy(slot)).collect();
        let Some(pick) = clients
            .generator
            .lin_kv_pick(slots, nodes, *cursor, |slot| busy[slot])
        else {
            return false;
        };
        (pick.slot, Some(pick))
    } else {
        let Some(slot) = next_free_thread(slots, *cursor, |slot| clients.is_busy(slot)) else {
            return false;
        };
        (slot, None)
    };
    // Jepsen bumps its next-thread index by one per operation, over the client threads and
    // the nemesis thread, whatever thread it chose.
    *cursor = (*cursor + 1) % (slots + 1);
    if crash {
        // Not recorded: it involves no node (Maelstrom's history has it as an `info` op).
        clients.generator.kafka_crash(clients.processes[slot]);
        clients.replace_process(cluster, slot);
        return true;
    }
    let node = cluster.node_ids()[slot % nodes].clone();
    let request = match lin_kv_pick {
        Some(pick) => {
            let group = &clients.processes[pick.threads.clone()];
            clients.generator.lin_kv_op(&pick, group)
        }
        None => clients.generator.next(clients.processes[slot]),
    };
    clients.send(cluster, slot, &node, request, false);
    true
}

/// The client thread Jepsen's generator context gives the next operation: the first free
/// one at or after `cursor`, else the first free one from 0. Jepsen counts the nemesis thread
/// as thread `slots`, never free for a client operation, so a cursor on it wraps to 0 and
/// thread 0 gets two operations in `slots + 1` while all are free (Maelstrom's histories show
/// it: 374, 208, 197, 195 operations for four processes).
fn next_free_thread(slots: usize, cursor: usize, busy: impl Fn(usize) -> bool) -> Option<usize> {
    (cursor..slots).chain(0..slots).find(|&slot| !busy(slot))
}

/// Waits out the last requests, then (for workloads with one) reads every node once the
/// network has been healthy for [`FINAL_QUIESCE`].
fn final_phase<H: Handler>(
    cluster: &mut Cluster<H>,
    clients: &mut Clients,
    replies: &mut Vec<ClientMessage>,
) {
    let has_final_phase = clients.generator.final_read().is_some()
        || clients.generator.kafka_final_targets().is_some();
    if !has_final_phase {
        // Maelstrom tears down as soon as the last request has its answer or timed out.
        return drive_until_answered(cluster, clients, replies);
    }
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
/// client (a fresh process and client id), assigns the fresh process every key seen so
/// far, from the beginning of each, then polls (committing after each poll that returned
/// messages) at staggered intervals until it has polled, per key, the highest offset any
/// successful send or poll had reached.
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
            if remaining[slot].is_empty() || now >= end {
                continue;
            }
            if next_poll[slot] <= now {
                let gap = Duration::from_micros(clients.generator.kafka_poll_gap_us());
                next_poll[slot] += gap;
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

/// Runs until no client request is in flight (each ends by its answer or its timeout).
fn drive_until_answered<H: Handler>(
    cluster: &mut Cluster<H>,
    clients: &mut Clients,
    replies: &mut Vec<ClientMessage>,
) {
    while let Some(deadline) = clients.earliest_deadline() {
        // Step event by event, so that the run ends at the last answer, not at a deadline.
        let wake = cluster
            .next_event_at()
            .map_or(deadline, |at| at.max(cluster.now()).min(deadline));
        cluster.run_until(wake, replies);
        clients.receive(cluster, replies);
        clients.expire(cluster, wake);
    }
}

/// Maelstrom's teardown trap: a service request still on its way when the nodes stop is
/// answered to a node that no longer exists, which crashes Maelstrom (no verdict).
fn teardown_crashes<H: Handler>(cluster: &Cluster<H>) -> Vec<String> {
    let stranded = cluster.service_requests_in_flight();
    let Some((lands, node, service)) = stranded.first() else {
        return Vec::new();
    };
    vec![format!(
        "maelstrom would crash at teardown: a {service} request from {node} was in flight \
         when the nodes stopped at {}, and {service}'s answer (at {lands}) to the removed \
         {node} is an invalid destination that kills Maelstrom's service thread \
         ({} service request(s) in flight in all); send service requests only while \
         answering a client request",
        cluster.now(),
        stranded.len()
    )]
}

fn drive_until<H: Handler>(
    cluster: &mut Cluster<H>,
    clients: &mut Clients,
    replies: &mut Vec<ClientMessage>,
    until: Instant,
) {
    while cluster.now() < until {
        let wake = clients.earliest_deadline().map_or(until, |d| d.min(until));
        cluster.run_until_reply(wake, replies);
        let wake = cluster.now();
        clients.receive(cluster, replies);
        clients.expire(cluster, wake);
    }
}

fn trace_of<H: Handler>(cluster: &Cluster<H>) -> super::report::Trace {
    let mut all = Vec::new();
    let _ = cluster.write_trace(&mut all);
    let records = cluster
        .node_ids()
        .iter()
        .map(|id| {
            let record = cluster.node_record(id).unwrap_or_default().to_vec();
            (id.clone(), record)
        })
        .collect();
    super::report::Trace {
        messages: all,
        node_records: records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jepsen_s_thread_rotation_gives_thread_zero_two_operations_in_five() {
        let (slots, mut cursor) = (4, 0);
        let mut counts = [0; 4];
        for _ in 0..500 {
            let slot = next_free_thread(slots, cursor, |_| false).unwrap();
            counts[slot] += 1;
            cursor = (cursor + 1) % (slots + 1);
        }
        assert_eq!(counts, [200, 100, 100, 100]);
        assert_eq!(
            next_free_thread(4, 2, |s| s >= 2),
            Some(0),
            "wraps past busy ones"
        );
        assert_eq!(next_free_thread(4, 0, |_| true), None);
    }
}
