//! The deterministic in-process simulator: a cluster of nodes under a virtual clock.
//!
//! Engine pieces so far: [`rng`] (the seeded generator) and [`net`] (latency, loss,
//! partitions).

pub mod net;
pub mod rng;

pub use net::{Latency, NetConfig};
pub use rng::Rng;
