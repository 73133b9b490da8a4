//! The clients' side of a run: processes bound to nodes, one request in flight each, the
//! history they record, and Maelstrom's client lifecycle: an operation recorded as
//! indeterminate (`info`) crashes its process, which is replaced by a fresh one; in a
//! workload whose client is not reusable the client id is closed too and the new process
//! sends from a new id, while a reusable client keeps its id and skips late replies (see
//! [`client_is_reusable`] and [`unanswered_kind`]).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{RunConfig, CLIENT_TIMEOUT};
use crate::handler::Handler;
use crate::rng::Rng;
use crate::sim::check::Workload;
use crate::sim::cluster::{ClientMessage, Cluster};
use crate::sim::history::{History, OpKind};
use crate::sim::net::Latency;
use crate::sim::workload::{
    client_is_reusable, unanswered_kind, Generator, KeySettings, Outcome, Request,
};
use crate::time::{Duration, Instant};

/// A request in flight.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) process: u64,
    pub(super) request: Request,
    pub(super) sent: Instant,
    pub(super) deadline: Instant,
    pub(super) final_read: bool,
}

/// The clients' side of a run.
pub(super) struct Clients {
    pub(super) generator: Generator,
    pub(super) history: History,
    /// Per client slot: its current process id.
    pub(super) processes: Vec<u64>,
    /// Per client slot: the client id its current process sends from (`c1`, `c2`, ...).
    pub(super) ids: Vec<String>,
    pub(super) next_process: u64,
    /// The number in the next fresh client id.
    pub(super) next_client: u64,
    /// (client id, msg_id) → request in flight.
    pub(super) in_flight: BTreeMap<(String, u64), InFlight>,
    pub(super) next_msg_id: u64,
    pub(super) schema_errors: Vec<String>,
    pub(super) latencies_us: Vec<u64>,
    pub(super) timeout: Duration,
    /// The workload, for its client lifecycle.
    pub(super) workload: Workload,
}

impl Clients {
    /// Adds a client slot with a fresh process and client id; returns the slot.
    pub(super) fn add_slot(&mut self) -> usize {
        self.processes.push(self.next_process);
        self.next_process += 1;
        self.ids.push(format!("c{}", self.next_client));
        self.next_client += 1;
        self.processes.len() - 1
    }

    /// The slot's process crashed (an indeterminate outcome): the slot goes on with a new
    /// process. A client that is not reusable is closed, and the new process sends from a
    /// new client id; a reusable one keeps its id (late replies to it are skipped).
    pub(super) fn replace_process<H: Handler>(&mut self, cluster: &mut Cluster<H>, slot: usize) {
        self.processes[slot] = self.next_process;
        self.next_process += 1;
        if client_is_reusable(self.workload) {
            return;
        }
        cluster.close_client(&self.ids[slot]);
        self.ids[slot] = format!("c{}", self.next_client);
        self.next_client += 1;
    }

    pub(super) fn slot_of(&self, client: &str) -> Option<usize> {
        self.ids.iter().position(|id| id == client)
    }

    pub(super) fn is_busy(&self, slot: usize) -> bool {
        let client = &self.ids[slot];
        self.in_flight.keys().any(|(c, _)| c == client)
    }

    pub(super) fn send<H: Handler>(
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
    pub(super) fn receive<H: Handler>(
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
                // A second answer, or a late one to a reusable client that gave up on it:
                // Maelstrom's client skips replies to requests it is not waiting for.
                continue;
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
                    if kind == OpKind::Ok {
                        self.commit_after_poll(cluster, slot, &reply.src, &flight);
                    }
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

    /// Kafka: a poll that returned messages is followed at once, from the same client to the
    /// same node, by the commit of its highest offsets (Maelstrom's client does so inside the
    /// poll's operation; it is recorded as a `commit_offsets` operation of its own, which the
    /// report does not count as a client operation).
    fn commit_after_poll<H: Handler>(
        &mut self,
        cluster: &mut Cluster<H>,
        slot: usize,
        node: &str,
        poll: &InFlight,
    ) {
        if poll.request.f != "poll" {
            return;
        }
        if let Some(commit) = self.generator.kafka_take_commit(poll.process) {
            self.send(cluster, slot, node, commit, poll.final_read);
        }
    }

    /// Gives up on requests past their deadline: a failure for an idempotent operation, else
    /// indeterminate, which crashes the process (see [`Clients::replace_process`]).
    pub(super) fn expire<H: Handler>(
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
            let kind = unanswered_kind(self.workload, flight.request.f, false);
            let value = flight.request.value.clone();
            self.history
                .push_completion(flight.process, kind, value, now);
            let Some(slot) = self.slot_of(&key.0) else {
                continue; // unreachable: in-flight requests belong to open clients
            };
            if kind == OpKind::Info {
                self.replace_process(cluster, slot);
            }
            if flight.final_read {
                retry.push((slot, String::new()));
            }
        }
        retry
    }

    pub(super) fn earliest_deadline(&self) -> Option<Instant> {
        self.in_flight.values().map(|f| f.deadline).min()
    }
}

pub(super) fn new_clients(config: &RunConfig, master: &mut Rng) -> Clients {
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
        generator: Generator::new(config.workload, master.fork(1)).with_keys(KeySettings {
            key_count: config.key_count,
            max_txn_length: config.max_txn_length,
            max_writes_per_key: config.max_writes_per_key,
        }),
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
        workload: config.workload,
    };
    for _ in 0..concurrency {
        clients.add_slot();
    }
    clients
}
