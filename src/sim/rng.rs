//! The simulator's generator is the crate's [`Rng`], the same one a handler gets
//! from [`Ctx::rng`](crate::Ctx::rng); this module keeps its old path.

pub use crate::rng::Rng;
