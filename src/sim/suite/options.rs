//! The suite's command line: its own flags (`--seed`, `--seeds`, `--jobs`, `--only`,
//! `--trace`, `--verbose`) and Maelstrom's flag names as overrides of every row's settings.
//!
//! Adding a flag is one field and one match arm in [`Options::parse`]; an override also
//! gets a line in [`Overrides::apply`] (and in [`Overrides::changes_conditions`] if it
//! changes what a challenge's targets were set for).

use std::path::PathBuf;

use crate::sim::draw::Window;
use crate::sim::nemesis::Shapes;
use crate::sim::net::Latency;
use crate::sim::runner::{Nemesis, RunConfig, Topology};
use crate::time::Duration;

/// Seeds per row when the command line names neither `--seed` nor `--seeds`.
pub const DEFAULT_SEEDS: u64 = 10;

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Options {
    /// The first seed of every row.
    pub(crate) seed: u64,
    /// Seeds per row: `seed .. seed + seeds`.
    pub(crate) seeds: u64,
    /// Simulations run at once, one thread each.
    pub(crate) jobs: usize,
    /// Rows to run, by name; `None` runs all.
    pub(crate) only: Option<Vec<String>>,
    /// Where to write traces.
    pub(crate) trace: Option<PathBuf>,
    /// Print every report, not only invalid ones.
    pub(crate) verbose: bool,
    /// Where to write each run's HTML page.
    pub(crate) report: Option<PathBuf>,
    /// The span of the pages' message diagrams.
    pub(crate) report_window: Option<Window>,
    /// Shrink each failing run to the smallest that fails the same way.
    pub(crate) shrink: bool,
    /// Settings replacing the rows' own.
    pub(crate) overrides: Overrides,
}

/// Maelstrom-style settings that replace a row's own, for harsher runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Overrides {
    node_count: Option<usize>,
    time_limit_secs: Option<u64>,
    rate: Option<f64>,
    /// Client processes per node (`2n`) or in all.
    concurrency: Option<Concurrency>,
    latency_ms: Option<u64>,
    latency_dist: Option<String>,
    nemesis: Option<Nemesis>,
    nemesis_interval_secs: Option<f64>,
    partition_shapes: Option<Shapes>,
    availability: Option<f64>,
    topology: Option<Topology>,
    key_count: Option<usize>,
    max_txn_length: Option<usize>,
    max_writes_per_key: Option<u64>,
    /// Judge as Maelstrom would: beyond-maelstrom failures do not fail a run.
    maelstrom_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Concurrency {
    PerNode(usize),
    Total(usize),
}

impl Options {
    /// Parses the arguments after the program name.
    ///
    /// # Errors
    ///
    /// A message naming the flag, for an unknown flag, a missing value or a bad one.
    pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            seed: 1,
            seeds: DEFAULT_SEEDS,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            only: None,
            trace: None,
            verbose: false,
            report: None,
            report_window: None,
            shrink: false,
            overrides: Overrides::default(),
        };
        let (mut seed_given, mut seeds_given) = (false, false);
        let over = &mut options.overrides;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let flag = arg.as_str();
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag {
                "--seed" => (options.seed, seed_given) = (number(flag, &value()?)?, true),
                "--seeds" => (options.seeds, seeds_given) = (number(flag, &value()?)?, true),
                "--jobs" => options.jobs = number(flag, &value()?)?,
                "--only" => options.only = Some(value()?.split(',').map(str::to_owned).collect()),
                "--trace" => options.trace = Some(PathBuf::from(value()?)),
                "--verbose" => options.verbose = true,
                "--report" => options.report = Some(PathBuf::from(value()?)),
                "--report-window" => options.report_window = Some(Window::parse(&value()?)?),
                "--shrink" => options.shrink = true,
                "--node-count" => over.node_count = Some(number(flag, &value()?)?),
                "--time-limit" => over.time_limit_secs = Some(number(flag, &value()?)?),
                "--rate" => over.rate = Some(number(flag, &value()?)?),
                "--concurrency" => over.concurrency = Some(concurrency(&value()?)?),
                "--latency" => over.latency_ms = Some(number(flag, &value()?)?),
                "--latency-dist" => over.latency_dist = Some(latency_dist(&value()?)?),
                "--nemesis" => over.nemesis = Some(nemesis(&value()?)?),
                "--availability" => over.availability = Some(availability(&value()?)?),
                "--topology" => over.topology = Some(value()?.parse()?),
                "--nemesis-interval" => over.nemesis_interval_secs = Some(number(flag, &value()?)?),
                "--partition-shapes" => over.partition_shapes = Some(value()?.parse()?),
                "--key-count" => over.key_count = Some(positive(flag, &value()?)?),
                "--max-txn-length" => over.max_txn_length = Some(positive(flag, &value()?)?),
                "--max-writes-per-key" => {
                    over.max_writes_per_key = Some(positive(flag, &value()?)?)
                }
                "--maelstrom-only" => over.maelstrom_only = true,
                other => return Err(format!("unknown argument {other}; {USAGE}")),
            }
        }
        // `--seed 7` alone reruns the one seed a failure printed.
        if seed_given && !seeds_given {
            options.seeds = 1;
        }
        if options.seeds == 0 || options.jobs == 0 {
            return Err("--seeds and --jobs take a positive number".to_owned());
        }
        Ok(options)
    }

    /// Whether the row named `name` runs.
    pub(crate) fn selects(&self, name: &str) -> bool {
        match &self.only {
            Some(only) => only.iter().any(|o| o == name),
            None => true,
        }
    }
}

/// The flags, for an error message.
const USAGE: &str = "flags: --seed N, --seeds N, --jobs N, --only A,B, --trace DIR, --verbose, \
    --report DIR, --report-window 12.5s..13.5s, --shrink, \
    --node-count N, --time-limit S, --rate R, --concurrency N|Kn, --latency MS, \
    --latency-dist constant|uniform|exponential, --nemesis partition|none, \
    --availability total|F, --topology grid|line|tree2|tree3|tree4|total, \
    --nemesis-interval S, --partition-shapes one,minority-third,majority,majorities-ring, \
    --key-count N, --max-txn-length N, --max-writes-per-key N, --maelstrom-only";

impl Overrides {
    /// Whether any override changes the conditions a challenge's targets were set for.
    pub(crate) fn changes_conditions(&self) -> bool {
        self.node_count.is_some()
            || self.time_limit_secs.is_some()
            || self.rate.is_some()
            || self.concurrency.is_some()
            || self.latency_ms.is_some()
            || self.latency_dist.is_some()
            || self.nemesis.is_some()
            || self.nemesis_interval_secs.is_some()
            || self.partition_shapes.is_some()
            || self.topology.is_some()
            || self.key_count.is_some()
            || self.max_txn_length.is_some()
            || self.max_writes_per_key.is_some()
    }

    /// Replaces `config`'s settings with the overridden ones.
    pub(crate) fn apply(&self, config: &mut RunConfig) {
        if self.changes_conditions() {
            config.targets = None;
        }
        if let Some(nodes) = self.node_count {
            // A challenge's concurrency is a multiple of its node count: keep the multiple.
            let per_node = config.concurrency.div_ceil(config.node_count.max(1));
            config.node_count = nodes;
            config.concurrency = per_node * nodes;
        }
        if let Some(secs) = self.time_limit_secs {
            config.time_limit = Duration::from_secs(secs);
        }
        if let Some(rate) = self.rate {
            config.rate = rate;
        }
        match self.concurrency {
            Some(Concurrency::PerNode(k)) => config.concurrency = k * config.node_count,
            Some(Concurrency::Total(n)) => config.concurrency = n,
            None => {}
        }
        if let Some(nemesis) = self.nemesis {
            config.nemesis = nemesis;
        }
        if let Nemesis::Partition { interval, shapes } = &mut config.nemesis {
            if let Some(secs) = self.nemesis_interval_secs {
                *interval = Duration::from_micros((secs * 1e6) as u64);
            }
            *shapes = self.partition_shapes.unwrap_or(*shapes);
        }
        if let Some(availability) = self.availability {
            config.availability = Some(availability);
        }
        if let Some(topology) = self.topology {
            config.topology = topology;
        }
        config.key_count = self.key_count.unwrap_or(config.key_count);
        config.max_txn_length = self.max_txn_length.unwrap_or(config.max_txn_length);
        config.max_writes_per_key = self.max_writes_per_key.unwrap_or(config.max_writes_per_key);
        config.maelstrom_only |= self.maelstrom_only;
        self.apply_latency(config);
    }

    fn apply_latency(&self, config: &mut RunConfig) {
        let mean = match (self.latency_ms, &config.latency) {
            (Some(ms), _) => Duration::from_millis(ms),
            (None, Latency::Fixed(d)) => *d,
            (None, _) => return,
        };
        config.latency = match self.latency_dist.as_deref() {
            Some("uniform") => Latency::Uniform {
                min: Duration::ZERO,
                max: mean.saturating_mul(2),
            },
            Some("exponential") => Latency::Exponential { mean },
            _ => Latency::Fixed(mean),
        };
    }
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{flag} {text}: {e}"))
}

fn positive<T>(flag: &str, text: &str) -> Result<T, String>
where
    T: std::str::FromStr + Default + PartialOrd,
    T::Err: std::fmt::Display,
{
    let value: T = number(flag, text)?;
    if value > T::default() {
        Ok(value)
    } else {
        Err(format!("{flag} {text}: must be positive"))
    }
}

fn concurrency(text: &str) -> Result<Concurrency, String> {
    let bad = |e: std::num::ParseIntError| format!("--concurrency {text}: {e}");
    match text.strip_suffix('n') {
        Some("") => Ok(Concurrency::PerNode(1)),
        Some(k) => k.parse().map(Concurrency::PerNode).map_err(bad),
        None => text.parse().map(Concurrency::Total).map_err(bad),
    }
}

fn latency_dist(text: &str) -> Result<String, String> {
    match text {
        "constant" | "uniform" | "exponential" => Ok(text.to_owned()),
        other => Err(format!("--latency-dist {other}: not a distribution")),
    }
}

fn nemesis(text: &str) -> Result<Nemesis, String> {
    match text {
        "partition" => Ok(Nemesis::partition(Nemesis::DEFAULT_INTERVAL)),
        "none" => Ok(Nemesis::None),
        other => Err(format!("--nemesis {other}: use partition or none")),
    }
}

fn availability(text: &str) -> Result<f64, String> {
    match text {
        "total" => Ok(1.0),
        fraction => number("--availability", fraction),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Options, String> {
        Options::parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn defaults_run_ten_seeds_from_one_and_a_lone_seed_runs_once() {
        let options = parse("").unwrap();
        assert_eq!((options.seed, options.seeds), (1, DEFAULT_SEEDS));
        assert!(options.jobs >= 1);
        let options = parse("--seed 7").unwrap();
        assert_eq!((options.seed, options.seeds), (7, 1));
        let options = parse("--seed 7 --seeds 3 --jobs 2").unwrap();
        assert_eq!((options.seed, options.seeds, options.jobs), (7, 3, 2));
    }

    #[test]
    fn bad_flags_are_named() {
        assert!(parse("--seeds")
            .unwrap_err()
            .contains("--seeds needs a value"));
        assert!(parse("--jobs 0").unwrap_err().contains("positive"));
        assert!(parse("--bogus")
            .unwrap_err()
            .contains("unknown argument --bogus"));
        assert!(parse("--topology ring").unwrap_err().contains("ring"));
        assert!(parse("--latency-dist pareto")
            .unwrap_err()
            .contains("pareto"));
    }

    #[test]
    fn overrides_replace_settings_and_drop_targets() {
        let options = parse("--node-count 7 --latency 50 --latency-dist exponential").unwrap();
        let mut config = RunConfig::challenge("3d").unwrap();
        options.overrides.apply(&mut config);
        assert_eq!((config.node_count, config.concurrency), (7, 7));
        let mean = Duration::from_millis(50);
        assert_eq!(config.latency, Latency::Exponential { mean });
        assert_eq!(config.targets, None);
        let options = parse("--only 3d,4 --topology total").unwrap();
        assert!(options.selects("4") && !options.selects("3e"));
        let mut config = RunConfig::challenge("3d").unwrap();
        options.overrides.apply(&mut config);
        assert_eq!(config.topology, Topology::Total);
    }
}
