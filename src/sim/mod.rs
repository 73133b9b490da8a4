//! The deterministic in-process simulator: a cluster of nodes under a virtual clock.
//!
//! Engine pieces so far: [`rng`] (the seeded generator), [`net`] (latency, loss,
//! partitions) and the services.

pub mod net;
pub mod rng;
mod services;

pub use net::{Latency, NetConfig};
pub use rng::Rng;
pub use services::SERVICE_IDS;
