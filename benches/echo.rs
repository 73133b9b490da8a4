//! Echo benchmark: the release `echo` example, the same example recording its run
//! (`MAELSTROM_RECORD` into a scratch directory), and a hand-written minimal echo loop (this
//! same binary with `ECHO_BASELINE=1`), measured in the same run.
//!
//! ```text
//! cargo bench --bench echo
//! ```
//!
//! Reports throughput (pipelined, median of runs), round-trip latency p50/p99 with one
//! request outstanding (unpinned, then both processes pinned to CPU 0 with `taskset`),
//! start-up time to `init_ok` (median of spawns), peak RSS, and the stripped binary size.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

const THROUGHPUT_MESSAGES: u64 = 1_000_000;
const THROUGHPUT_RUNS: usize = 5;
const PING_PONGS: usize = 20_000;
const STARTUP_SPAWNS: usize = 50;
const INIT: &str = r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#;

fn main() {
    if std::env::var_os("ECHO_BASELINE").is_some() {
        baseline_echo_loop();
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / harness probes
    }
    let ours = build_echo_example();
    let base = std::env::current_exe().expect("own path");
    // Records go to memory (tmpfs) when there is one: at a million messages a second the
    // record is ~250 MB per run, and on disk the page cache's writeback throttling, not the
    // node, would set the pace. `ECHO_RECORD_DIR` picks another place.
    let scratch = std::env::var_os("ECHO_RECORD_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|dir| dir.is_dir()))
        .unwrap_or_else(std::env::temp_dir);
    let record_dir = scratch.join(format!("echo-bench-records-{}", std::process::id()));
    println!("records written to {}", record_dir.display());
    let candidates = [
        ("maelstrom-loop", Target::ours(&ours)),
        ("  recording", Target::recording(&ours, &record_dir)),
        ("hand-written", Target::baseline(&base)),
    ];
    println!("echo benchmark: {THROUGHPUT_MESSAGES} pipelined messages x {THROUGHPUT_RUNS} runs, {PING_PONGS} ping-pongs, {STARTUP_SPAWNS} spawns");
    let targets: Vec<&Target> = candidates.iter().map(|(_, target)| target).collect();
    let (figures, storage) = measure(&targets);
    let rows: Vec<(&&str, Figures)> = candidates
        .iter()
        .map(|(name, _)| name)
        .zip(figures)
        .collect();
    report(&rows);
    if let (Some(storage), [(_, ours), (_, recording), _]) = (storage, rows.as_slice()) {
        report_storage(&storage, ours, recording);
    }
    let _ = std::fs::remove_dir_all(&record_dir);
    println!("echo binary: {} bytes stripped", stripped_size(&ours));
}

// ---------------------------------------------------------------------------------------
// The hand-written baseline: big buffered reads, borrowed parse, buffered writes flushed
// when the input buffer runs dry. No framework.

#[derive(Deserialize)]
struct InEnvelope<'a> {
    src: &'a str,
    dest: &'a str,
    #[serde(borrow)]
    body: InBody<'a>,
}

#[derive(Deserialize)]
struct InBody<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    msg_id: u64,
    #[serde(borrow)]
    echo: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct OutEnvelope<'a> {
    src: &'a str,
    dest: &'a str,
    body: OutBody<'a>,
}

#[derive(Serialize)]
struct OutBody<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    echo: Option<&'a RawValue>,
    msg_id: u64,
    in_reply_to: u64,
}

fn baseline_echo_loop() {
    let mut input = BufReader::with_capacity(64 << 10, std::io::stdin().lock());
    let mut output = BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    let mut line = Vec::with_capacity(4096);
    let mut next_id = 0u64;
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Ok(msg) = serde_json::from_slice::<InEnvelope>(&line) {
            next_id += 1;
            let kind = if msg.body.kind == "init" {
                "init_ok"
            } else {
                "echo_ok"
            };
            let reply = OutEnvelope {
                src: msg.dest,
                dest: msg.src,
                body: OutBody {
                    kind,
                    echo: msg.body.echo,
                    msg_id: next_id,
                    in_reply_to: msg.body.msg_id,
                },
            };
            let _ = serde_json::to_writer(&mut output, &reply);
            let _ = output.write_all(b"\n");
        }
        if input.buffer().is_empty() {
            let _ = output.flush();
        }
    }
    let _ = output.flush();
}

// ---------------------------------------------------------------------------------------
// Measurement.

struct Target {
    program: PathBuf,
    baseline: bool,
    /// Where the node writes its record, when it records.
    record_dir: Option<PathBuf>,
}

impl Target {
    fn ours(path: &Path) -> Target {
        Target {
            program: path.to_owned(),
            baseline: false,
            record_dir: None,
        }
    }
    fn recording(path: &Path, dir: &Path) -> Target {
        Target {
            record_dir: Some(dir.to_owned()),
            ..Target::ours(path)
        }
    }
    fn baseline(path: &Path) -> Target {
        Target {
            program: path.to_owned(),
            baseline: true,
            record_dir: None,
        }
    }

    fn spawn(&self, pinned: bool) -> Child {
        let mut command = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(&self.program);
            c
        } else {
            Command::new(&self.program)
        };
        if self.baseline {
            command.env("ECHO_BASELINE", "1");
        }
        if let Some(dir) = &self.record_dir {
            command.env("MAELSTROM_RECORD", dir);
        }
        command.env("MAELSTROM_LOG", "warn");
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        command.spawn().expect("spawn echo")
    }
}

struct Figures {
    throughput_per_sec: f64,
    latency_us: (f64, f64),
    pinned_latency_us: Option<(f64, f64)>,
    startup_us: f64,
    peak_rss_kb: u64,
}

/// Measures every target; throughput runs alternate between them, so that load from other
/// processes on a shared machine falls on all of them alike.
fn measure(targets: &[&Target]) -> (Vec<Figures>, Option<Storage>) {
    let mut rates = vec![Vec::new(); targets.len()];
    let mut peak_rss_kb = vec![0; targets.len()];
    let mut storage = Vec::new();
    for _ in 0..THROUGHPUT_RUNS {
        for (i, target) in targets.iter().enumerate() {
            let (rate, rss) = throughput(target);
            rates[i].push(rate);
            peak_rss_kb[i] = peak_rss_kb[i].max(rss);
            if let Some(dir) = &target.record_dir {
                storage.extend(store_like(dir));
            }
        }
    }
    let figures = targets
        .iter()
        .zip(rates.iter_mut().zip(peak_rss_kb))
        .map(|(target, (rates, peak_rss_kb))| Figures {
            throughput_per_sec: median(rates),
            latency_us: ping_pong(target, false),
            pinned_latency_us: has_taskset().then(|| ping_pong(target, true)),
            startup_us: startup(target),
            peak_rss_kb,
        })
        .collect();
    let storage = (!storage.is_empty()).then(|| Storage {
        bytes: storage[0].0,
        secs: median(&mut storage.iter().map(|s| s.1).collect::<Vec<_>>()),
    });
    (figures, storage)
}

/// What it costs the kernel to store a record's bytes, with no node: the floor under any
/// recording that writes them.
struct Storage {
    /// The size of the last run's record.
    bytes: u64,
    /// Median time to write that many bytes to a new file beside it.
    secs: f64,
}

/// Writes as many bytes as the record in `dir` holds to a new file in `dir`, in chunks the
/// size of the node's record flushes, and times it; `(bytes, seconds)`.
fn store_like(dir: &Path) -> Option<(u64, f64)> {
    let record = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "jsonl"))?;
    let bytes = record.metadata().ok()?.len();
    let chunk = vec![b'x'; 256 << 10];
    let path = dir.join("storage-floor.bin");
    let started = Instant::now();
    let mut file = std::fs::File::create(&path).ok()?;
    let mut left = bytes as usize;
    while left > 0 {
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n]).ok()?;
        left -= n;
    }
    drop(file);
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    Some((bytes, secs))
}

fn echo_line(i: u64) -> String {
    format!(
        r#"{{"src":"c1","dest":"n1","body":{{"type":"echo","msg_id":{i},"echo":"Please echo {i}"}}}}"#
    )
}

/// Pipes all messages in from one thread while this one counts replies.
fn throughput(target: &Target) -> (f64, u64) {
    let mut payload = String::with_capacity(THROUGHPUT_MESSAGES as usize * 80);
    payload.push_str(INIT);
    payload.push('\n');
    for i in 0..THROUGHPUT_MESSAGES {
        payload.push_str(&echo_line(i + 2));
        payload.push('\n');
    }
    let mut child = target.spawn(false);
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::with_capacity(1 << 20, child.stdout.take().expect("stdout"));
    let started = Instant::now();
    let writer = std::thread::spawn(move || {
        stdin.write_all(payload.as_bytes()).expect("write");
        stdin
    });
    let mut replies = 0u64;
    let mut line = Vec::new();
    while replies < THROUGHPUT_MESSAGES + 1 {
        line.clear();
        if stdout.read_until(b'\n', &mut line).expect("read") == 0 {
            panic!("echo closed stdout after {replies} replies");
        }
        replies += 1;
    }
    let elapsed = started.elapsed();
    let rss = peak_rss_kb(pid);
    drop(writer.join().expect("writer"));
    let _ = child.wait();
    (THROUGHPUT_MESSAGES as f64 / elapsed.as_secs_f64(), rss)
}

/// One request outstanding at a time; returns (p50, p99) in microseconds.
fn ping_pong(target: &Target, pinned: bool) -> (f64, f64) {
    if pinned {
        pin_self(Some("0"));
    }
    let mut child = target.spawn(pinned);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    writeln!(stdin, "{INIT}").expect("init");
    stdout.read_line(&mut line).expect("init_ok");
    let mut samples = Vec::with_capacity(PING_PONGS);
    for i in 0..PING_PONGS as u64 {
        let request = echo_line(i + 2) + "\n";
        line.clear();
        let t = Instant::now();
        stdin.write_all(request.as_bytes()).expect("write");
        stdout.read_line(&mut line).expect("read");
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    drop(stdin);
    let _ = child.wait();
    if pinned {
        pin_self(None);
    }
    samples.sort_by(f64::total_cmp);
    (quantile(&samples, 0.5), quantile(&samples, 0.99))
}

/// Spawn to init_ok, median over spawns, in microseconds.
fn startup(target: &Target) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..STARTUP_SPAWNS {
        let t = Instant::now();
        let mut child = target.spawn(false);
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{INIT}").expect("init");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("init_ok");
        samples.push(t.elapsed().as_secs_f64() * 1e6);
        drop(stdin);
        let _ = child.wait();
    }
    median(&mut samples)
}

fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Pins this process to CPU `cpus`, or back to every CPU.
fn pin_self(cpus: Option<&str>) {
    let all = format!(
        "0-{}",
        std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
    );
    let list = cpus.map_or(all, str::to_owned);
    let _ = Command::new("taskset")
        .args(["-a", "-p", "-c", &list, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();
}

fn build_echo_example() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--example", "echo"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo build");
    assert!(status.success(), "building the echo example failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("release").join("examples").join("echo")
}

fn stripped_size(path: &Path) -> u64 {
    let copy = std::env::temp_dir().join(format!("echo-stripped-{}", std::process::id()));
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&copy)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    let file = if stripped { copy.as_path() } else { path };
    let size = std::fs::metadata(file).map_or(0, |m| m.len());
    let _ = std::fs::remove_file(&copy);
    size
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    quantile(samples, 0.5)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

/// Splits recording's throughput cost into the kernel's part (storing the record's bytes,
/// measured alone) and the rest, each as a share of the recording run's time.
fn report_storage(storage: &Storage, ours: &Figures, recording: &Figures) {
    let messages = THROUGHPUT_MESSAGES as f64;
    let plain_secs = messages / ours.throughput_per_sec;
    let recording_secs = messages / recording.throughput_per_sec;
    let share = |secs: f64| 100.0 * secs / recording_secs;
    println!(
        "record: {:.0} bytes/message; throughput lost to recording {:.1}% = storing the \
         bytes {:.1}% (writing {:.0} MB to a new file there alone: {:.3} s) + the rest \
         (encoding, copying, system calls) {:.1}%; a recorder that cost nothing but the \
         storing would keep {:.3}x",
        storage.bytes as f64 / messages,
        share(recording_secs - plain_secs),
        share(storage.secs),
        storage.bytes as f64 / 1e6,
        storage.secs,
        share(recording_secs - plain_secs - storage.secs),
        plain_secs / (plain_secs + storage.secs),
    );
}

fn report(rows: &[(&&str, Figures)]) {
    println!(
        "{:<16} {:>12} {:>10} {:>10} {:>12} {:>12} {:>11} {:>9}",
        "", "msgs/s", "p50 us", "p99 us", "pinned p50", "pinned p99", "startup us", "RSS kB"
    );
    for (name, f) in rows {
        let (pp50, pp99) = f.pinned_latency_us.unwrap_or((f64::NAN, f64::NAN));
        println!(
            "{:<16} {:>12.0} {:>10.1} {:>10.1} {:>12.1} {:>12.1} {:>11.0} {:>9}",
            name,
            f.throughput_per_sec,
            f.latency_us.0,
            f.latency_us.1,
            pp50,
            pp99,
            f.startup_us,
            f.peak_rss_kb
        );
    }
    if let [(_, ours), (_, recording), (_, base)] = rows {
        println!(
            "recording/ours: throughput {:.3}x, p50 {:+.1} us, startup {:.2}x",
            recording.throughput_per_sec / ours.throughput_per_sec,
            recording.latency_us.0 - ours.latency_us.0,
            recording.startup_us / ours.startup_us,
        );
        println!(
            "ours/baseline: throughput {:.3}x, p50 {:+.1} us, pinned p50 {:+.1} us, startup {:.2}x",
            ours.throughput_per_sec / base.throughput_per_sec,
            ours.latency_us.0 - base.latency_us.0,
            ours.pinned_latency_us.map_or(f64::NAN, |o| o.0)
                - base.pinned_latency_us.map_or(f64::NAN, |b| b.0),
            ours.startup_us / base.startup_us,
        );
    }
    let _ = std::io::stdout().flush();
    let _ = Duration::ZERO;
    let _ = std::io::empty().read(&mut []);
}
