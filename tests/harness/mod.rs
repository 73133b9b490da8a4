//! Test harness for the gossip nodes: an in-process [`Router`] driving a few [`Node`]s
//! through the sans-IO core under a virtual clock, and [`Process`], a spawned example binary
//! spoken to over stdin and stdout.
//!
//! The router delivers every node-to-node line after a fixed delay (optionally stretched,
//! duplicated or dropped by deterministic rules), drops lines between nodes that a
//! partition separates when they land, and answers nothing itself: client replies are
//! collected for the test. It jumps the clock to the next event and caps its steps, so a
//! livelock fails instead of hanging.

// Each test file uses a different part of the harness, and `pub` here means "for the
// including test file", which is not the crate root.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};

use maelstrom_loop::sim::net::Latency;
use maelstrom_loop::sim::report::Report;
use maelstrom_loop::sim::runner::{run, Nemesis, RunConfig};
use maelstrom_loop::{Duration, Handler, Instant, Node};
use serde_json::{json, Value};

/// More events than this in one `run_for` means the nodes never go quiet.
const MAX_STEPS: usize = 2_000_000;

/// Deterministic faults on node-to-node lines, counted by each line's sequence number.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Drop every n-th line (0: never).
    pub drop_every: u64,
    /// Deliver every n-th line twice, the copy one delay later (0: never).
    pub duplicate_every: u64,
    /// Delay every n-th line three times as long, so it overtakes nothing but is overtaken
    /// (0: never).
    pub slow_every: u64,
}

/// A message a node sent to a client.
#[derive(Clone, Debug)]
pub struct ClientReply {
    pub time: Instant,
    pub dest: String,
    pub body: Value,
}

/// Nodes n0..n{k-1}, a queue of lines in flight and the partition in force.
pub struct Router<H: Handler> {
    pub nodes: Vec<Node<H>>,
    ids: Vec<String>,
    now: Instant,
    delay: Duration,
    pub faults: Faults,
    /// Lines in flight by (arrival time, sequence): destination index and the line.
    in_flight: BTreeMap<(Instant, u64), (usize, String)>,
    sequence: u64,
    /// Each node's side; nodes on different sides cannot talk. All zero when healed.
    side: Vec<usize>,
    /// One-way cuts: (receiver, sender) pairs whose lines the receiver drops.
    deaf: std::collections::BTreeSet<(usize, usize)>,
    pub replies: Vec<ClientReply>,
    next_client_msg_id: u64,
    pub delivered: u64,
    pub dropped: u64,
}

impl<H: Handler> Router<H> {
    /// `count` nodes built by `make`, each initialised at time zero; the init_ok replies are
    /// checked and discarded.
    pub fn new(count: usize, delay: Duration, mut make: impl FnMut(usize) -> H) -> Router<H> {
        let ids: Vec<String> = (0..count).map(|i| format!("n{i}")).collect();
        let mut router = Router {
            nodes: (0..count).map(|i| Node::new(make(i))).collect(),
            ids: ids.clone(),
            now: Instant::ZERO,
            delay,
            faults: Faults::default(),
            in_flight: BTreeMap::new(),
            sequence: 0,
            side: vec![0; count],
            deaf: Default::default(),
            replies: Vec::new(),
            next_client_msg_id: 1,
            delivered: 0,
            dropped: 0,
        };
        for (i, id) in ids.iter().enumerate() {
            let init = json!({"src": "c0", "dest": id, "body":
                {"type": "init", "msg_id": 1, "node_id": id, "node_ids": ids}});
            router.nodes[i].handle_line(Instant::ZERO, init.to_string().as_bytes());
            router.drain(i);
        }
        let inits = std::mem::take(&mut router.replies);
        assert_eq!(inits.len(), count, "one init_ok per node: {inits:?}");
        assert!(
            inits.iter().all(|r| r.body["type"] == "init_ok"),
            "{inits:?}"
        );
        router
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn handler(&self, node: usize) -> &H {
        self.nodes[node].handler()
    }

    /// Sends a client request to `node` now (clients see no latency and no partitions) and
    /// returns the one reply, which these nodes give at once.
    pub fn request(&mut self, node: usize, mut body: Value) -> Value {
        let msg_id = self.next_client_msg_id;
        self.next_client_msg_id += 1;
        body["msg_id"] = json!(msg_id);
        let line = json!({"src": "c1", "dest": self.ids[node], "body": body});
        self.replies.clear();
        self.nodes[node].handle_line(self.now, line.to_string().as_bytes());
        self.drain(node);
        let replies = std::mem::take(&mut self.replies);
        assert_eq!(replies.len(), 1, "one reply to {line}: {replies:?}");
        let reply = replies
            .into_iter()
            .next()
            .map(|r| r.body)
            .unwrap_or_default();
        assert_eq!(reply["in_reply_to"], json!(msg_id), "{reply}");
        reply
    }

    /// Feeds `node` a raw line from `src` (anything: a hostile peer, a malformed request)
    /// and returns every line it wrote in response.
    pub fn raw(&mut self, node: usize, line: &str) -> Vec<Value> {
        self.nodes[node].handle_line(self.now, line.as_bytes());
        let out = String::from_utf8(self.nodes[node].output().to_vec()).expect("UTF-8 output");
        self.nodes[node].clear_output();
        out.lines()
            .map(|l| serde_json::from_str(l).expect("JSON output"))
            .collect()
    }

    /// Cuts the cluster into the given sides; nodes not listed are isolated from all.
    pub fn partition(&mut self, sides: &[&[usize]]) {
        let isolated = sides.len() + 1;
        for (i, side) in self.side.iter_mut().enumerate() {
            *side = isolated + i;
        }
        for (number, members) in sides.iter().enumerate() {
            for &node in *members {
                self.side[node] = number;
            }
        }
    }

    /// A one-way cut: `receiver` drops every line from each of `senders` when it lands,
    /// while its own lines to them still get through (a grudge, as Maelstrom's nemesis has).
    pub fn grudge(&mut self, receiver: usize, senders: &[usize]) {
        self.deaf.extend(senders.iter().map(|&s| (receiver, s)));
    }

    /// Ends every partition and grudge.
    pub fn heal(&mut self) {
        self.side.iter_mut().for_each(|s| *s = 0);
        self.deaf.clear();
    }

    /// Runs every delivery and timer due within `span`, in time order, then sets the
    /// clock to the end of it.
    pub fn run_for(&mut self, span: Duration) {
        let until = self.now + span;
        for _ in 0..MAX_STEPS {
            let delivery = self.in_flight.keys().next().map(|&(at, _)| at);
            let timer = self.nodes.iter().filter_map(|n| n.next_deadline()).min();
            let next = match (delivery, timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if delivery == Some(next) {
                self.deliver_first();
            } else {
                self.fire_timers();
            }
        }
        assert!(self.now <= until, "clock overshot");
        self.now = until;
    }

    fn deliver_first(&mut self) {
        let Some((_, (dest, line))) = self.in_flight.pop_first() else {
            return;
        };
        let src = self.src_index(&line);
        let cut = |s: usize| self.side[s] != self.side[dest] || self.deaf.contains(&(dest, s));
        if src.is_some_and(cut) {
            self.dropped += 1;
            return;
        }
        self.delivered += 1;
        self.nodes[dest].handle_line(self.now, line.as_bytes());
        self.drain(dest);
    }

    fn fire_timers(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].next_deadline().is_some_and(|d| d <= self.now) {
                self.nodes[i].handle_timeout(self.now);
                self.drain(i);
            }
        }
    }

    fn src_index(&self, line: &str) -> Option<usize> {
        let value: Value = serde_json::from_str(line).ok()?;
        let src = value["src"].as_str()?;
        self.ids.iter().position(|id| id == src)
    }

    /// Routes everything `node` wrote: to nodes after the delay, to clients at once.
    fn drain(&mut self, node: usize) {
        let out = String::from_utf8(self.nodes[node].output().to_vec()).expect("UTF-8 output");
        self.nodes[node].clear_output();
        for line in out.lines() {
            let value: Value = serde_json::from_str(line).expect("every output line is JSON");
            assert_eq!(
                value["src"],
                json!(self.ids[node]),
                "src is the node's own id"
            );
            let dest = value["dest"].as_str().expect("dest").to_owned();
            match self.ids.iter().position(|id| *id == dest) {
                Some(index) => self.send(index, line),
                None => {
                    assert!(dest.starts_with('c'), "a message to nobody: {line}");
                    let body = value["body"].clone();
                    self.replies.push(ClientReply {
                        time: self.now,
                        dest,
                        body,
                    });
                }
            }
        }
    }

    fn send(&mut self, dest: usize, line: &str) {
        self.sequence += 1;
        let n = self.sequence;
        let every = |k: u64| k != 0 && n % k == 0;
        if every(self.faults.drop_every) {
            self.dropped += 1;
            return;
        }
        let factor = if every(self.faults.slow_every) { 3 } else { 1 };
        let at = self.now + self.delay.saturating_mul(factor);
        self.in_flight.insert((at, n), (dest, line.to_owned()));
        if every(self.faults.duplicate_every) {
            let again = at + self.delay;
            self.in_flight.insert((again, n), (dest, line.to_owned()));
        }
    }
}

/// A spawned example binary.
pub struct Process {
    command: String,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

/// How long a process test waits for one line before failing.
const LINE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

impl Process {
    /// Starts `target/<profile>/examples/<name>`, building it first: cargo does nothing when
    /// the binary is fresh, and a stale one would test old code.
    pub fn spawn(name: &str) -> Process {
        let path = example_path(name);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build --example {name} failed");
        let mut child = Command::new(&path)
            .env("MAELSTROM_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", path.display()));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Process {
            command: path.display().to_string(),
            child,
            stdin,
            lines,
        }
    }

    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the node");
        self.stdin.flush().expect("flush");
    }

    /// The next line the node writes, as JSON; fails with the node's stderr after a
    /// deadline.
    pub fn recv(&mut self) -> Value {
        match self.lines.recv_timeout(LINE_DEADLINE) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| self.fail(&format!("not JSON ({e}): {line}"))),
            Err(e) => self.fail(&format!("no line within {LINE_DEADLINE:?}: {e}")),
        }
    }

    /// Sends `init` for `node_id` among `node_ids` and checks the `init_ok`.
    pub fn init(&mut self, node_id: &str, node_ids: &[&str]) {
        let init = json!({"src": "c0", "dest": node_id, "body":
            {"type": "init", "msg_id": 1, "node_id": node_id, "node_ids": node_ids}});
        self.send(&init.to_string());
        let reply = self.recv();
        if reply["body"]["type"] != "init_ok" || reply["body"]["in_reply_to"] != 1 {
            self.fail(&format!("expected init_ok, got {reply}"));
        }
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        panic!("{}: {why}\nexit: {status}\nstderr:\n{stderr}", self.command);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where cargo puts example binaries for the profile this test was built with.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile> directory");
    profile_dir.join("examples").join(name)
}

/// The simulator's run of `challenge` (the challenges' flags) with a fixed `seed`.
pub fn challenge(challenge: &str, seed: u64) -> RunConfig {
    let mut config = RunConfig::challenge(challenge).expect("a known challenge");
    config.seed = seed;
    config
}

/// `challenge` made harder than its command line: five nodes, exponentially distributed
/// latency (so gossip is reordered and slow), and Maelstrom's partitions every two seconds
/// on average.
pub fn harsher(challenge_name: &str, seed: u64) -> RunConfig {
    let mut config = challenge(challenge_name, seed);
    config.name = format!("{challenge_name}-harsher");
    config.node_count = 5;
    config.concurrency = config.concurrency.max(5);
    config.latency = Latency::Exponential {
        mean: Duration::from_millis(30),
    };
    config.nemesis = Nemesis::partition(Duration::from_secs(2));
    config.targets = None; // performance targets belong to the challenge's own settings
    config
}

/// Runs `config` and checks what every totally available node must show: the checker's
/// verdict is valid, no protocol errors, and every request was answered `ok` (never
/// refused, never timed out), partitions or not. Returns the report for more checks.
pub fn run_available<H: Handler>(config: &RunConfig, make: impl FnMut(usize) -> H) -> Report {
    let report = run(config, make);
    assert!(report.is_valid(), "{report}");
    assert_eq!((report.ops_fail, report.ops_info), (0, 0), "{report}");
    assert!(report.ops_ok > 0, "{report}");
    report
}
