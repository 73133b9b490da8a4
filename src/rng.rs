//! [`Rng`]: the crate's one source of randomness, a small seeded PRNG.
//!
//! A handler draws from its node's generator with [`Ctx::rng`](crate::Ctx::rng): seeded from
//! the clock under the mio driver (and written to the record), fixed under replay and in the
//! simulator, so a run that used it replays exactly. Every random choice the simulator makes
//! (latencies, losses, which state a `seq-kv` read sees, which `lww-kv` replica answers, what
//! workload clients do, each node's seed) comes from one master seed. Components get their own
//! sub-stream with [`Rng::fork`], so adding a draw in one place does not shift the choices
//! made in another. The generator is xoshiro256** seeded through splitmix64; it is fast and
//! statistically sound, and not meant for cryptography.
//!
//! This module owns the generator only; what the numbers mean is the caller's business.

/// The golden-ratio increment of splitmix64.
const SPLITMIX_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Multiplied into a fork's label so that nearby labels give unrelated children.
const FORK_MIX: u64 = 0xd1b5_4a32_d192_ed03;

/// A small, fast, seeded pseudo-random generator (xoshiro256**).
///
/// The same seed always gives the same sequence, on every platform.
///
/// ```
/// use maelstrom_loop::Rng;
///
/// let mut a = Rng::new(7);
/// let mut b = Rng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let die = a.below(6);
/// assert!(die < 6);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// A generator seeded with `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        let mut mix = seed;
        let state = [
            splitmix64(&mut mix),
            splitmix64(&mut mix),
            splitmix64(&mut mix),
            splitmix64(&mut mix),
        ];
        Rng { state }
    }

    /// An independent child stream named by `stream`. The child depends only on this
    /// generator's current state and the label; the parent is not advanced, so the same
    /// label forked twice from the same state gives the same child.
    pub fn fork(&mut self, stream: u64) -> Rng {
        let folded = self.state[0]
            ^ self.state[1].rotate_left(17)
            ^ self.state[2].rotate_left(31)
            ^ self.state[3].rotate_left(47);
        Rng::new(folded ^ stream.wrapping_add(1).wrapping_mul(FORK_MIX))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.state;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// A uniform integer in `[0, n)`, without modulo bias.
    ///
    /// # Panics
    /// If `n` is zero.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0): the range is empty");
        // Lemire's multiply-and-shift, rejecting the few low products that would bias it.
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(n);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// A uniform float in `[0, 1)`, with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (`p <= 0` never, `p >= 1` always).
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An exponentially distributed float with the given mean (zero for a mean <= 0).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        // 1 - unit() lies in (0, 1], so the logarithm is finite.
        -mean * (1.0 - self.unit()).ln()
    }

    /// Shuffles `items` uniformly (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// One step of splitmix64: advances `state` and returns a well-mixed value.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(SPLITMIX_GAMMA);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_different_seed_different_sequence() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..8).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn forks_are_deterministic_distinct_and_leave_the_parent_alone() {
        let mut parent = Rng::new(42);
        let before = parent.clone();
        let mut a = parent.fork(1);
        let mut a_again = parent.fork(1);
        let mut b = parent.fork(2);
        assert_eq!(parent, before);
        assert_eq!(a.next_u64(), a_again.next_u64());
        assert_ne!(a.next_u64(), b.next_u64());
        assert_ne!(parent.clone().next_u64(), parent.fork(0).next_u64());
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(3);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            seen[rng.below(7) as usize] += 1;
        }
        // Each bucket expects 1000; a fair generator is far inside these bounds.
        assert!(
            seen.iter().all(|&count| (800..1200).contains(&count)),
            "{seen:?}"
        );
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn unit_chance_and_exponential_have_the_right_shape() {
        let mut rng = Rng::new(9);
        let n = 20_000;
        let units: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
        let hits = (0..n).filter(|_| rng.chance(0.25)).count();
        assert!((4_500..5_500).contains(&hits), "{hits}");
        assert!(!rng.chance(0.0) && rng.chance(1.0));
        let mean = (0..n).map(|_| rng.exponential(100.0)).sum::<f64>() / n as f64;
        assert!((95.0..105.0).contains(&mean), "{mean}");
        assert_eq!(rng.exponential(0.0), 0.0);
    }

    #[test]
    fn shuffle_permutes() {
        let mut rng = Rng::new(5);
        let mut items: Vec<u32> = (0..50).collect();
        rng.shuffle(&mut items);
        assert_ne!(items, (0..50).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..50).collect::<Vec<_>>());
    }
}
