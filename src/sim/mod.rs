//! The deterministic in-process simulator: a cluster of nodes under a virtual clock.
