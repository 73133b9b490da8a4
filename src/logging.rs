//! Logging setup: `log` records go to stderr through `simplelog`, at the level named by the
//! `MAELSTROM_LOG` environment variable.
//!
//! Stdout carries the protocol, so nothing else may write there; Maelstrom keeps each node's
//! stderr as its log. At the default level (`info`) a healthy node logs one line at start and
//! one at init; `debug` adds dropped late replies and error answers; `trace` logs every
//! message received and sent.

use simplelog::{ConfigBuilder, LevelFilter, WriteLogger};

/// The environment variable that sets the log level: `off`, `error`, `warn`, `info`
/// (default), `debug` or `trace`.
pub const LOG_ENV: &str = "MAELSTROM_LOG";

/// Parses a level name as used in [`LOG_ENV`]; unknown names give `None`.
pub fn parse_level(name: &str) -> Option<LevelFilter> {
    match name.trim().to_ascii_lowercase().as_str() {
        "off" | "none" => Some(LevelFilter::Off),
        "error" => Some(LevelFilter::Error),
        "warn" | "warning" => Some(LevelFilter::Warn),
        "info" | "" => Some(LevelFilter::Info),
        "debug" => Some(LevelFilter::Debug),
        "trace" => Some(LevelFilter::Trace),
        _ => None,
    }
}

/// Installs the stderr logger at the level from [`LOG_ENV`]. Does nothing if a logger is
/// already installed (a test harness, or a user's own choice).
pub fn init_logging() {
    let raw = std::env::var(LOG_ENV).unwrap_or_default();
    let level = parse_level(&raw).unwrap_or(LevelFilter::Info);
    let config = ConfigBuilder::new()
        .set_thread_level(LevelFilter::Off)
        .set_target_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        .build();
    if WriteLogger::init(level, config, std::io::stderr()).is_ok() && parse_level(&raw).is_none() {
        log::warn!(
            "{LOG_ENV}={raw:?} is not a level (off, error, warn, info, debug, trace); using info"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names_parse_case_insensitively_and_unknown_names_are_rejected() {
        assert_eq!(parse_level("DEBUG"), Some(LevelFilter::Debug));
        assert_eq!(parse_level(""), Some(LevelFilter::Info));
        assert_eq!(parse_level("off"), Some(LevelFilter::Off));
        assert_eq!(parse_level("loud"), None);
    }
}
