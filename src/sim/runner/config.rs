//! What a simulated run is: workload, cluster, load, faults and goals, and the Gossip
//! Glomers challenges' settings ([`RunConfig::challenge`]).

use super::Topology;
use crate::sim::check::{TxnModel, Workload};
use crate::sim::nemesis::Shapes;
use crate::sim::net::Latency;
use crate::time::Duration;

/// The fault schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nemesis {
    /// A healthy network throughout.
    None,
    /// Maelstrom's `--nemesis partition`: a partition of a shape drawn from `shapes` at once,
    /// then heals and new partitions alternating at uniform gaps of 0 to 2 x `interval`
    /// (see [`nemesis`](crate::sim::nemesis)); healed before the final reads.
    Partition {
        /// Maelstrom's `--nemesis-interval`: the mean time between nemesis operations.
        interval: Duration,
        /// The shapes each partition is drawn from (all four in Maelstrom).
        shapes: Shapes,
    },
}

impl Nemesis {
    /// Maelstrom's default `--nemesis-interval`, 10 seconds.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

    /// Maelstrom's partition nemesis with this interval and all four shapes.
    pub fn partition(interval: Duration) -> Nemesis {
        Nemesis::Partition {
            interval,
            shapes: Shapes::ALL,
        }
    }
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
    /// The neighbours the broadcast workload's `topology` message suggests (Maelstrom's
    /// `--topology`, default [`Topology::Grid`]); other workloads send none.
    pub topology: Topology,
    /// The fraction of client operations that must succeed, like Maelstrom's
    /// `--availability` (`1.0` is `total`); `None` checks nothing.
    pub availability: Option<f64>,
    /// Performance goals the run must meet, if the challenge sets any.
    pub targets: Option<Targets>,
    /// Transactions and kafka: keys active at any time (Maelstrom's `--key-count`; Maelstrom
    /// leaves the default to Elle's generator: 10).
    pub key_count: usize,
    /// Transactions: the most operations in one (`--max-txn-length`, default 4).
    pub max_txn_length: usize,
    /// Transactions and kafka: writes (sends) a key gets before it is retired and replaced by
    /// a fresh key (`--max-writes-per-key`, default 16).
    pub max_writes_per_key: u64,
    /// Kafka: Maelstrom crashes its kafka clients (jepsen's `crash-client-gen`, with
    /// `:crash-client-interval`, default 30 s): one crash per this interval per client on
    /// average, at staggered gaps (uniform on 0 to 2 x interval / concurrency, all clients
    /// together). Other workloads crash no clients.
    pub crash_client_interval: Duration,
    /// The master seed.
    pub seed: u64,
    /// Record the trace (see [`Report::trace`](crate::sim::report::Report::trace)).
    pub trace: bool,
    /// Judge the run as Maelstrom v0.2.3 would: failures stricter than Maelstrom's checkers
    /// ("beyond maelstrom") are still reported, but do not make the run invalid (see
    /// [`Report::maelstrom_valid`](crate::sim::report::Report::maelstrom_valid)).
    pub maelstrom_only: bool,
}

impl RunConfig {
    /// A run of `workload` on `node_count` nodes with Maelstrom's defaults (rate 5, 10 s,
    /// concurrency = node count, no latency, no nemesis, grid topology, 10 active keys,
    /// transactions of up to 4 operations, 16 writes per key) and seed 1.
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
            topology: Topology::Grid,
            availability: None,
            targets: None,
            key_count: 10,
            max_txn_length: 4,
            max_writes_per_key: 16,
            crash_client_interval: Duration::from_secs(30),
            seed: 1,
            trace: false,
            maelstrom_only: false,
        }
    }

    /// The settings of a Gossip Glomers challenge ("1", "2", "3a".."3e", "4", "5a".."5c",
    /// "6a".."6c") or of one of Maelstrom's tutorial workloads ("g-set", "pn-counter",
    /// "lin-kv", "txn-list-append"), as their `maelstrom test` command lines give them;
    /// `None` for any other name. Every row has Maelstrom's defaults otherwise: constant
    /// latency, the grid topology, seed 1.
    ///
    /// | row | workload | nodes | time s | rate/s | clients | latency ms | partitions |
    /// |-----|----------|------:|-------:|-------:|--------:|-----------:|------------|
    /// | 1 | echo | 1 | 10 | 5 | 1 | 0 | no |
    /// | 2 | unique-ids | 3 | 30 | 1000 | 3 | 0 | yes |
    /// | 3a | broadcast | 1 | 20 | 10 | 1 | 0 | no |
    /// | 3b | broadcast | 5 | 20 | 10 | 5 | 0 | no |
    /// | 3c | broadcast | 5 | 20 | 10 | 5 | 0 | yes |
    /// | 3d, 3e | broadcast | 25 | 20 | 100 | 25 | 100 | no |
    /// | g-set | g-set | 3 | 20 | 10 | 3 | 0 | yes |
    /// | 4 | g-counter | 3 | 20 | 100 | 3 | 0 | yes |
    /// | pn-counter | pn-counter | 3 | 20 | 10 | 3 | 0 | yes |
    /// | 5a | kafka | 1 | 20 | 1000 | 2 | 0 | no |
    /// | 5b, 5c | kafka | 2 | 20 | 1000 | 4 | 0 | no |
    /// | 6a | txn-rw-register (read uncommitted) | 1 | 20 | 1000 | 2 | 0 | no |
    /// | 6b | txn-rw-register (read uncommitted) | 2 | 20 | 1000 | 4 | 0 | yes |
    /// | 6c | txn-rw-register (read committed) | 2 | 20 | 1000 | 4 | 0 | yes |
    /// | lin-kv | lin-kv | 3 | 20 | 100 | 6 | 0 | yes |
    /// | txn-list-append | txn-list-append (strict serializable) | 2 | 10 | 100 | 4 | 0 | no |
    ///
    /// Goals: 2 and 6a-6c need every operation to succeed ([`RunConfig::availability`]
    /// `Some(1.0)`, Maelstrom's `--availability total`); 3d needs under 30 msgs/op, a
    /// median (stable) latency under 400 ms and a maximum under 600 ms; 3e under 20
    /// msgs/op, 1 s and 2 s ([`RunConfig::targets`]).
    /// Partitions: [`Nemesis::Partition`] every 5 s.
    pub fn challenge(name: &str) -> Option<RunConfig> {
        // Their command lines set no `--nemesis-interval`: Maelstrom's default.
        let partition = Nemesis::partition(Nemesis::DEFAULT_INTERVAL);
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
        // The challenges' command lines: `--availability total` for 2 and 6a-6c.
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
