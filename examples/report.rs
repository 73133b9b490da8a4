//! Draws the HTML page of runs recorded on disk: for every run directory under DIR (or DIR
//! itself), the messages its nodes saw and sent, and the client operations rebuilt from them.
//!
//! ```text
//! cargo run --release --example glomers -- --only 3c --trace sim-out
//! cargo run --release --example report -- sim-out                      # sim-out/3c/index.html
//! cargo run --release --example report -- sim-out --report-window 2s..4s --out pages
//!
//! MAELSTROM_RECORD=/tmp/rec maelstrom test -w broadcast --bin target/release/examples/broadcast ...
//! cargo run --release --example report -- /tmp/rec                     # /tmp/rec/index.html
//! ```
//!
//! A run directory holds either what `glomers --trace` writes, `trace.jsonl` (the
//! simulator's trace: every message with its send and delivery times, and nemesis events),
//! or only node records `NODE.jsonl`, as nodes started with `MAELSTROM_RECORD=DIR` write them
//! under a real Maelstrom: then each message's send and delivery are paired across the
//! records (see `sim::draw::read_run_dir`).
//!
//! Nothing is checked here: neither has a checker verdict, so the page says "not checked".

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use maelstrom_loop::sim::draw::{page, read_run_dir, Window};

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

/// The run directories: DIR itself if it holds a trace or records, else its subdirectories.
fn run_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path()));
    if entries.any(|p| p.is_file() && p.extension().is_some_and(|x| x == "jsonl")) {
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
    let run = read_run_dir(run_dir)?;
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
