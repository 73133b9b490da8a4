//! The simulated network's rules: latency, loss and partitions.
//!
//! [`NetConfig`] is what a user configures (Maelstrom's `--latency` and a loss rate);
//! `Network` (crate-internal) applies it with its own seeded [`Rng`] stream and holds the current
//! partition, a [`Grudge`]: for each receiving node, the nodes whose messages it drops (so a
//! cut may go one way only). Latency applies between nodes and between nodes and services;
//! clients see none. Loss and partitions apply to node-to-node messages only. Like Maelstrom's
//! network, the cluster checks a partition when the receiving node's loop takes a message from
//! its queue (see the cluster's `inbox` module): at once when the loop is idle, so a message
//! sent before a cut still lands during it, and one sent during a cut is lost even if it
//! would land after the heal.
//!
//! This module decides *whether* and *when* a message arrives; the event queue and the
//! routing of messages belong to the cluster.

use crate::rng::Rng;
use crate::sim::nemesis::Grudge;
use crate::time::Duration;

/// One-way latency of a message between nodes, and between nodes and services (Maelstrom's
/// `--latency`; clients see none). Random latency reorders messages, as Maelstrom's does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Every message takes exactly this long.
    Fixed(Duration),
    /// Uniform between `min` and `max`, both included (a `max` below `min` counts as `min`).
    Uniform {
        /// The shortest latency.
        min: Duration,
        /// The longest latency.
        max: Duration,
    },
    /// Exponentially distributed with this mean, rounded down to whole microseconds.
    Exponential {
        /// The mean latency.
        mean: Duration,
    },
}

impl Default for Latency {
    /// No latency, Maelstrom's default.
    fn default() -> Latency {
        Latency::Fixed(Duration::ZERO)
    }
}

impl Latency {
    /// Draws one latency from the distribution.
    pub fn sample(&self, rng: &mut Rng) -> Duration {
        match *self {
            Latency::Fixed(latency) => latency,
            Latency::Uniform { min, max } => {
                let spread = max.as_micros().saturating_sub(min.as_micros());
                let extra = match spread.checked_add(1) {
                    Some(range) => rng.below(range),
                    None => rng.next_u64(),
                };
                min + Duration::from_micros(extra)
            }
            Latency::Exponential { mean } => {
                let micros = rng.exponential(mean.as_micros() as f64);
                // `as` saturates for floats too large for u64.
                Duration::from_micros(micros as u64)
            }
        }
    }
}

/// How the simulated network behaves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetConfig {
    /// One-way latency between nodes and between nodes and services.
    pub latency: Latency,
    /// Probability that a node-to-node message is dropped (0 by default). Messages to and
    /// from services and clients are never lost.
    pub loss: f64,
}

/// The network as the cluster uses it: the config, a random stream, and the partition.
#[derive(Debug)]
pub(crate) struct Network {
    config: NetConfig,
    rng: Rng,
    /// While partitioned, the node count and, at `receiver * count + sender`, whether the
    /// receiver drops the sender's messages.
    cut: Option<(usize, Vec<bool>)>,
}

impl Network {
    /// A healed network drawing its randomness from `rng`.
    pub(crate) fn new(config: NetConfig, rng: Rng) -> Network {
        Network {
            config,
            rng,
            cut: None,
        }
    }

    /// A latency drawn from the configured distribution.
    pub(crate) fn latency(&mut self) -> Duration {
        self.config.latency.sample(&mut self.rng)
    }

    /// Whether a node-to-node message is lost to the configured loss rate. Draws nothing
    /// when the rate is zero, so a lossless run's random stream does not depend on it.
    pub(crate) fn is_lost(&mut self) -> bool {
        self.config.loss > 0.0 && self.rng.chance(self.config.loss)
    }

    /// Cuts the network as `grudge` says, replacing any partition in force. `node_count` is
    /// the number of nodes; the grudge names nodes by index below it. An empty grudge still
    /// counts as a partition (Maelstrom's 3-node minority-third starts one that cuts nothing).
    pub(crate) fn partition(&mut self, node_count: usize, grudge: &Grudge) {
        let mut cut = vec![false; node_count * node_count];
        for (receiver, senders) in grudge.iter() {
            for &sender in senders {
                cut[receiver * node_count + sender] = true;
            }
        }
        self.cut = Some((node_count, cut));
    }

    /// Removes the partition.
    pub(crate) fn heal(&mut self) {
        self.cut = None;
    }

    /// Whether a partition is in force.
    pub(crate) fn is_partitioned(&self) -> bool {
        self.cut.is_some()
    }

    /// Whether a message from node `from` reaches node `to` right now (both indexes).
    pub(crate) fn connected(&self, from: usize, to: usize) -> bool {
        match &self.cut {
            None => true,
            Some((count, cut)) => !cut[to * count + from],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(d: Duration) -> u64 {
        d.as_micros()
    }

    #[test]
    fn fixed_latency_is_exact() {
        let mut rng = Rng::new(1);
        let latency = Latency::Fixed(Duration::from_millis(7));
        assert!((0..100).all(|_| latency.sample(&mut rng) == Duration::from_millis(7)));
    }

    #[test]
    fn uniform_latency_stays_within_bounds_and_reaches_both_ends() {
        let mut rng = Rng::new(2);
        let latency = Latency::Uniform {
            min: Duration::from_micros(10),
            max: Duration::from_micros(13),
        };
        let draws: Vec<u64> = (0..1_000)
            .map(|_| micros(latency.sample(&mut rng)))
            .collect();
        assert!(draws.iter().all(|d| (10..=13).contains(d)));
        assert!(draws.contains(&10) && draws.contains(&13));
        let inverted = Latency::Uniform {
            min: Duration::from_micros(5),
            max: Duration::ZERO,
        };
        assert_eq!(inverted.sample(&mut rng), Duration::from_micros(5));
    }

    #[test]
    fn exponential_latency_has_its_mean() {
        let mut rng = Rng::new(3);
        let latency = Latency::Exponential {
            mean: Duration::from_millis(100),
        };
        let n = 20_000;
        let mean = (0..n)
            .map(|_| micros(latency.sample(&mut rng)))
            .sum::<u64>()
            / n;
        assert!((95_000..105_000).contains(&mean), "{mean}");
    }

    #[test]
    fn a_grudge_cuts_only_the_directions_it_names_and_heal_reconnects() {
        let mut net = Network::new(NetConfig::default(), Rng::new(4));
        let mut grudge = Grudge::new();
        grudge.add(1, 0); // n1 drops n0's messages
        grudge.add(2, 0);
        grudge.add(0, 2);
        net.partition(3, &grudge);
        assert!(net.is_partitioned());
        assert!(!net.connected(0, 1) && net.connected(1, 0), "one way only");
        assert!(!net.connected(0, 2) && !net.connected(2, 0), "both ways");
        assert!(net.connected(1, 2) && net.connected(2, 1) && net.connected(0, 0));
        net.heal();
        assert!(!net.is_partitioned() && net.connected(0, 1));
        net.partition(3, &Grudge::new());
        assert!(
            net.is_partitioned() && net.connected(0, 1),
            "an empty grudge cuts nothing"
        );
    }

    #[test]
    fn loss_rate_is_respected() {
        let mut net = Network::new(
            NetConfig {
                latency: Latency::default(),
                loss: 0.3,
            },
            Rng::new(5),
        );
        let lost = (0..10_000).filter(|_| net.is_lost()).count();
        assert!((2_700..3_300).contains(&lost), "{lost}");
        let mut lossless = Network::new(NetConfig::default(), Rng::new(5));
        assert!((0..1_000).all(|_| !lossless.is_lost()));
    }
}
