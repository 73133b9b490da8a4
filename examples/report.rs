//! Draws the HTML page of runs recorded on disk: for every run directory under DIR (or DIR
//! itself), the messages its nodes saw and sent, and the client operations rebuilt from them.
//!
//! ```text
//! cargo run --release --example glomers -- --only 3c --trace sim-out
//! cargo run --release --example report -- sim-out                      # sim-out/3c/index.html
//! cargo run --release --example report -- sim-out --report-window 2s..4s --out pages
//! ```
//!
//! A run directory holds what `glomers --trace` writes: `trace.jsonl`, the simulator's
//! trace (every message with its send and delivery times, and nemesis events), beside each
//! node's replayable input (`NODE-input.jsonl`, not needed here). Per-node records
//! (`NODE.jsonl`: a header line, then the node's events) are recognised and listed, and will
//! be read once their format lands; a directory with only those is reported as such.
//!
//! Nothing is checked here: a trace has no checker verdict, so the page says "not checked".

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use maelstrom_loop::sim::draw::{page, Run, Trace, Window};

/// What a run directory holds, by file.
#[derive(Debug, Default)]
struct RunFiles {
    /// The simulator's trace of all messages.
    trace: Option<PathBuf>,
    /// Per-node records, one file per node.
    node_records: Vec<PathBuf>,
}

impl RunFiles {
    /// Sorts the files of `dir` by what they are.
    fn scan(dir: &Path) -> std::io::Result<RunFiles> {
        let mut files = RunFiles::default();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "trace.jsonl" {
                files.trace = Some(path);
            } else if name.ends_with(".jsonl") && !name.ends_with("-input.jsonl") {
                files.node_records.push(path);
            }
        }
        files.node_records.sort();
        Ok(files)
    }

    /// The run's trace: today the simulator's; per-node records will merge in here.
    fn read(&self) -> Result<Trace, String> {
        let Some(path) = &self.trace else {
            return Err(format!(
                "no trace.jsonl; per-node records ({}) are not read yet",
                self.node_records.len()
            ));
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Trace::parse(&text))
    }
}

struct Options {
    dir: PathBuf,
    out: Option<PathBuf>,
    window: Option<Window>,
}

fn parse_options() -> Result<Options, String> {
    let mut dir = None;
    let mut out = None;
    let mut window = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(value()?)),
            "--report-window" => window = Some(Window::parse(&value()?)?),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown flag {flag}; see examples/report.rs"))
            }
            _ => dir = Some(PathBuf::from(arg)),
        }
    }
    let dir = dir.ok_or("usage: report DIR [--out OUT] [--report-window 1s..3s]")?;
    Ok(Options { dir, out, window })
}

/// The run directories: DIR itself if it holds a trace, else its subdirectories.
fn run_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    if dir.join("trace.jsonl").exists() {
        return Ok(vec![dir.to_owned()]);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Draws one run directory into `out_dir/index.html`.
fn draw(run_dir: &Path, out_dir: &Path, window: Option<Window>) -> Result<PathBuf, String> {
    let files = RunFiles::scan(run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let trace = files.read()?;
    let name = run_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("run");
    let run = Run::from_trace(name, trace);
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let path = out_dir.join("index.html");
    std::fs::write(&path, page(&run, window)).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let dirs = match run_dirs(&options.dir) {
        Ok(dirs) => dirs,
        Err(e) => {
            eprintln!("{}: {e}", options.dir.display());
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    for run_dir in dirs {
        let relative = run_dir.strip_prefix(&options.dir).unwrap_or(Path::new(""));
        let out_dir = options
            .out
            .as_ref()
            .map_or(run_dir.clone(), |o| o.join(relative));
        match draw(&run_dir, &out_dir, options.window) {
            Ok(path) => println!("{}", path.display()),
            Err(e) => {
                // One unreadable run does not stop the others.
                eprintln!("{}: {e}", run_dir.display());
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
