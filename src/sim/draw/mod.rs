//! The HTML page of a run: what happened, drawn, in one self-contained file.
//!
//! A page shows the verdict and the checker's reasons, the seed and the command that reruns
//! the run; the operations of each client over time, those the checker named in red and
//! linked to the diagram; a space-time diagram of the messages (one line per node, service
//! and client, time downward, an arrow from each send to its delivery, coloured by message
//! type, drops crossed out, partitions shaded with their shape and grudge); latency over time;
//! and the messages each node sent, by type. Everything is inline SVG and CSS: the file opens
//! from disk in any browser and fetches nothing.
//!
//! The diagram covers a [`Window`] of time, by default two seconds around the first operation
//! the checker named (the first two seconds of a valid run), and at most [`MAX_ARROWS`]
//! messages, so that a page stays small even for 25 nodes.
//!
//! A page is drawn from a [`Run`]: a simulated run's [`Report`] with its trace
//! ([`Run::from_report`]), a trace alone ([`Run::from_trace`]), or the records its nodes
//! wrote under `MAELSTROM_RECORD` in a real Maelstrom run ([`Run::from_records`]: every node
//! on one clock, each node-to-node send paired with its delivery, client and service messages
//! drawn at their one recorded end; no verdict, so the page says "recorded run, not
//! checked"). [`read_run_dir`] reads either kind of directory. Everything here is a pure
//! function from that data to text, except [`read_run_dir`], which reads files, and
//! [`ReportDir::write_report`], which writes pages.
//!
//! # Example
//!
//! ```
//! use maelstrom_loop::sim::draw::{page, Run, Trace, Window};
//!
//! let trace = Trace::parse(concat!(
//!     r#"{"time_us":0,"sent_us":0,"event":"deliver","src":"c1","dest":"n0","body":{"type":"echo","msg_id":1}}"#,
//!     "\n",
//!     r#"{"time_us":900,"sent_us":900,"event":"deliver","src":"n0","dest":"c1","body":{"type":"echo_ok","in_reply_to":1}}"#,
//! ));
//! let run = Run::from_trace("echo", trace);
//! let html = page(&run, Some(Window::parse("0s..1ms").unwrap()));
//! assert!(html.starts_with("<!DOCTYPE html>") && html.contains("echo_ok"));
//! ```

mod diagram;
mod model;
mod page;
mod plots;
mod records;
mod svg;

use std::io;
use std::path::{Path, PathBuf};

pub use model::{Message, Operation, Outcome, Partition, Run, Source, Trace};
pub use records::{trace_from_records, NodeRecord};

use crate::sim::report::Report;

/// The diagram draws at most this many messages; a window holding more is shortened. With
/// hover text of at most 120 characters of body, that keeps the diagram under about 4 MB.
pub const MAX_ARROWS: usize = 12_000;

/// Length of the default window, microseconds.
const DEFAULT_SPAN_US: u64 = 2_000_000;
/// How much of the default window comes before the first named operation.
const LEAD_US: u64 = 500_000;

/// A span of virtual time, `from_us` to `to_us`, that the diagram draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start, microseconds.
    pub from_us: u64,
    /// End, microseconds.
    pub to_us: u64,
}

impl Window {
    /// The window `[from_us, to_us]` (swapped if given backwards).
    pub fn new(from_us: u64, to_us: u64) -> Window {
        Window {
            from_us: from_us.min(to_us),
            to_us: from_us.max(to_us),
        }
    }

    /// Reads `12.5s..13.5s`; each bound is a number of seconds, or ends in `s`, `ms` or `us`.
    ///
    /// # Errors
    /// A message naming the text when it is not two such bounds, the first before the second.
    pub fn parse(text: &str) -> Result<Window, String> {
        let bad = || format!("--report-window {text}: expected FROM..TO, e.g. 12.5s..13.5s");
        let (from, to) = text.split_once("..").ok_or_else(bad)?;
        let (from, to) = (
            parse_time(from).ok_or_else(bad)?,
            parse_time(to).ok_or_else(bad)?,
        );
        if from >= to {
            return Err(bad());
        }
        Ok(Window::new(from, to))
    }

    /// The default span around `us`: a little before, more after.
    pub fn around(us: u64) -> Window {
        let from = us.saturating_sub(LEAD_US) / 1000 * 1000; // whole milliseconds
        Window::new(from, from + DEFAULT_SPAN_US)
    }

    /// The default window of a run: around the first operation the checker named; for an
    /// invalid run naming none, around its first failed or unknown operation; else its start.
    pub fn default_for(run: &Run) -> Window {
        let named = run
            .ops
            .iter()
            .filter(|op| op.failing)
            .map(|op| op.start_us)
            .min();
        let troubled = || {
            let bad = run.ops.iter().filter(|op| op.outcome != Outcome::Ok);
            bad.map(|op| op.start_us).min()
        };
        match (named, run.valid) {
            (Some(at), _) => Window::around(at),
            (None, Some(false)) => {
                troubled().map_or(Window::new(0, DEFAULT_SPAN_US), Window::around)
            }
            _ => Window::new(0, DEFAULT_SPAN_US),
        }
    }

    /// This window, its end pulled in so that at most `max` messages overlap it.
    pub fn capped(self, messages: &[Message], max: usize) -> Window {
        let mut sends: Vec<u64> = messages
            .iter()
            .filter(|m| self.overlaps(m.sent_us, m.time_us))
            .map(|m| m.sent_us.max(self.from_us))
            .collect();
        if sends.len() <= max {
            return self;
        }
        sends.sort_unstable();
        // Messages sent before the cut are kept; a few more may still overlap its edge.
        Window::new(
            self.from_us,
            sends[max.saturating_sub(1)].max(self.from_us + 1),
        )
    }

    /// Whether a message in flight from `sent_us` to `time_us` shows in the window.
    pub fn overlaps(&self, sent_us: u64, time_us: u64) -> bool {
        sent_us <= self.to_us && time_us >= self.from_us
    }

    /// Whether the instant `us` is inside.
    pub fn contains(&self, us: u64) -> bool {
        (self.from_us..=self.to_us).contains(&us)
    }

    /// The window as the `--report-window` flag's value, to the millisecond.
    pub fn flag(&self) -> String {
        let s = |us: u64| format!("{}s", (us as f64 / 1e3).round() / 1e3);
        format!("{}..{}", s(self.from_us), s(self.to_us))
    }
}

fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else {
        (text.strip_suffix('s').unwrap_or(text), 1e6)
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * scale).round() as u64)
}

/// The page of `run`, its diagram over `window` (by default [`Window::default_for`]), capped
/// to [`MAX_ARROWS`] messages.
pub fn page(run: &Run, window: Option<Window>) -> String {
    let window = window.unwrap_or_else(|| Window::default_for(run));
    let capped = window.capped(&run.trace.messages, MAX_ARROWS);
    let cut = (capped != window).then_some(window);
    page::run_page(run, capped, cut)
}

/// Reads the run in `dir`, named after it: the simulator's trace `trace.jsonl` when there is
/// one (as `--trace` writes it), else every node record `*.jsonl` in it (as nodes started
/// with `MAELSTROM_RECORD=dir` write them; see [`Run::from_records`]). Records that cannot be
/// read are skipped and listed among the run's reasons.
///
/// # Errors
/// A message naming the directory or file, when nothing in it can be read.
pub fn read_run_dir(dir: &Path) -> Result<Run, String> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("run");
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let trace = dir.join("trace.jsonl");
    if trace.exists() {
        return Ok(Run::from_trace(name, Trace::parse(&read(&trace)?)));
    }
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for path in record_files(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        match NodeRecord::parse(&read(&path)?) {
            Ok(record) => records.push(record),
            Err(e) => skipped.push(format!("{}: {e}", path.display())),
        }
    }
    if records.is_empty() {
        let skipped: String = skipped.iter().map(|s| format!("; {s}")).collect();
        return Err(format!(
            "no trace.jsonl and no readable node record{skipped}"
        ));
    }
    let mut run = Run::from_records(name, &records);
    run.reasons
        .extend(skipped.into_iter().map(|s| format!("skipped {s}")));
    Ok(run)
}

/// The node records in `dir`: `*.jsonl` but the simulator's trace and replay inputs, sorted.
fn record_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let record = name.ends_with(".jsonl") && !name.ends_with("-input.jsonl");
        if record && name != "trace.jsonl" && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A directory of run pages with an index: `DIR/<row>/index.html` per run (further seeds of
/// a row as `DIR/<row>/seed-<S>.html`) and `DIR/index.html` with the suite table.
#[derive(Debug)]
pub struct ReportDir {
    dir: PathBuf,
    window: Option<Window>,
    header: String,
    rows: Vec<page::IndexRow>,
}

impl ReportDir {
    /// Pages will go under `dir`, their diagrams over `window` (or each run's default).
    pub fn new(dir: &Path, window: Option<Window>) -> ReportDir {
        ReportDir {
            dir: dir.to_owned(),
            window,
            header: Report::table_header(),
            rows: Vec::new(),
        }
    }

    /// Writes the page of `report` (which should carry a trace) and rewrites the index;
    /// `command` reruns it. Returns the page's path.
    ///
    /// # Errors
    /// Whatever creating the directory or writing the files returns.
    pub fn write_report(
        &mut self,
        report: &Report,
        command: Option<String>,
    ) -> io::Result<PathBuf> {
        let first = !self
            .rows
            .iter()
            .any(|r| r.href.starts_with(&format!("{}/", report.challenge)));
        let file = if first {
            "index.html".to_owned()
        } else {
            format!("seed-{}.html", report.seed)
        };
        self.write_page(report, command, file)
    }

    /// Writes the page of the smallest failing run `--shrink` found for a seed, as
    /// `DIR/<row>/smallest-seed-<N>.html`, and lists it in `DIR/index.html`.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn write_smallest(
        &mut self,
        report: &Report,
        command: Option<String>,
    ) -> io::Result<PathBuf> {
        let file = format!("smallest-seed-{}.html", report.seed);
        self.write_page(report, command, file)
    }

    fn write_page(
        &mut self,
        report: &Report,
        command: Option<String>,
        file: String,
    ) -> io::Result<PathBuf> {
        let run = Run::from_report(report, command);
        let row_dir = self.dir.join(&report.challenge);
        std::fs::create_dir_all(&row_dir)?;
        let path = row_dir.join(&file);
        std::fs::write(&path, page(&run, self.window))?;
        self.rows.push(page::IndexRow {
            href: format!("{}/{file}", report.challenge),
            row: report.table_row(),
            valid: report.is_valid(),
        });
        std::fs::write(
            self.dir.join("index.html"),
            page::index_page(&self.header, &self.rows),
        )?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_with_units_and_reject_nonsense() {
        assert_eq!(
            Window::parse("12.5s..13.5s"),
            Ok(Window::new(12_500_000, 13_500_000))
        );
        assert_eq!(
            Window::parse("200ms..1"),
            Ok(Window::new(200_000, 1_000_000))
        );
        assert_eq!(Window::parse("5us..7us"), Ok(Window::new(5, 7)));
        for bad in ["", "1s", "2s..1s", "a..b", "-1..2"] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Window::new(12_500_000, 13_500_000).flag(), "12.5s..13.5s");
        assert_eq!(Window::around(200_000), Window::new(0, DEFAULT_SPAN_US));
    }

    fn message(sent_us: u64, time_us: u64) -> Message {
        Message {
            src: "n0".into(),
            dest: "n1".into(),
            sent_us,
            time_us,
            dropped: false,
            kind: "x".into(),
            msg_id: None,
            in_reply_to: None,
            excerpt: String::new(),
        }
    }

    /// A window holding too many messages is shortened to the last one kept.
    #[test]
    fn crowded_windows_are_capped() {
        let messages: Vec<Message> = (0..10).map(|i| message(i * 100, i * 100 + 50)).collect();
        let window = Window::new(0, 10_000);
        assert_eq!(window.capped(&messages, 20), window);
        let capped = window.capped(&messages, 4);
        assert_eq!(capped, Window::new(0, 300));
        let inside = messages
            .iter()
            .filter(|m| capped.overlaps(m.sent_us, m.time_us));
        assert_eq!(inside.count(), 4);
    }

    /// A page whose window was shortened says so, and draws no more than the cap.
    #[test]
    fn pages_say_when_their_window_was_shortened() {
        let trace = Trace {
            messages: (0..MAX_ARROWS as u64 + 10)
                .map(|i| message(i, i + 1))
                .collect(),
            ..Trace::default()
        };
        let run = Run::from_trace("crowded", trace);
        let html = page(&run, Some(Window::new(0, 1_000_000)));
        assert!(html.contains("Shortened from 0.000s..1.000s"));
        assert!(html.matches("<line class=\"m").count() <= MAX_ARROWS + 1);
        let roomy = page(&run, Some(Window::new(0, 100)));
        assert!(!roomy.contains("Shortened"));
    }
}
