//! Process-test support: build an example once, spawn it, speak JSON lines with deadlines,
//! and on failure show the command, status, stdout and stderr.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long any single expected reply may take before the test fails.
pub(crate) const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// Builds `examples/NAME.rs` (debug profile) once per test binary and returns its path.
pub(crate) fn example_path(name: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let target = target_dir();
    if !built.iter().any(|n| n == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build --example {name} failed: {status}"
        );
        built.push(name.to_owned());
    }
    target.join("debug").join("examples").join(name)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// A running node process.
pub(crate) struct Proc {
    pub(crate) name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
    next_msg_id: u64,
}

impl Proc {
    /// Spawns the example with extra environment variables.
    pub(crate) fn spawn_with(name: &str, env: &[(&str, &str)]) -> Proc {
        let path = example_path(name);
        let mut command = Command::new(&path);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.env_remove("MAELSTROM_LOG");
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {path:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Proc {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            next_msg_id: 100,
        }
    }

    /// The process id (for /proc measurements).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn spawn(name: &str) -> Proc {
        Proc::spawn_with(name, &[])
    }

    /// Spawns and initialises as `node_id` of `node_ids`, checking the init_ok.
    pub(crate) fn init(name: &str, node_id: &str, node_ids: &[&str]) -> Proc {
        let mut p = Proc::spawn(name);
        p.send_json(&json!({"src": "c0", "dest": node_id,
            "body": {"type": "init", "msg_id": 1, "node_id": node_id, "node_ids": node_ids}}));
        let reply = p.recv();
        assert_eq!(reply["body"]["type"], "init_ok", "{reply}");
        assert_eq!(reply["body"]["in_reply_to"], 1);
        p
    }

    /// Writes raw bytes to stdin.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to node");
        stdin.flush().expect("flush");
    }

    pub(crate) fn send_json(&mut self, msg: &Value) {
        let mut line = msg.to_string();
        line.push('\n');
        self.send_raw(line.as_bytes());
    }

    /// Sends a client request with a fresh msg_id and returns the reply body.
    pub(crate) fn request(&mut self, dest: &str, mut body: Value) -> Value {
        self.next_msg_id += 1;
        let msg_id = self.next_msg_id;
        body["msg_id"] = json!(msg_id);
        self.send_json(&json!({"src": "c1", "dest": dest, "body": body}));
        let reply = self.recv();
        assert_eq!(reply["body"]["in_reply_to"], msg_id, "{reply}");
        assert_eq!(reply["dest"], "c1", "{reply}");
        reply["body"].clone()
    }

    /// The next output line as JSON; fails the test after [`REPLY_DEADLINE`].
    pub(crate) fn recv(&mut self) -> Value {
        match self.lines.recv_timeout(REPLY_DEADLINE) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| self.fail(&format!("stdout line is not JSON ({e}): {line}"))),
            Err(_) => self.fail("no reply within the deadline"),
        }
    }

    /// Asserts that nothing is written to stdout for `wait`.
    pub(crate) fn expect_silence(&mut self, wait: Duration) {
        match self.lines.recv_timeout(wait) {
            Ok(line) => self.fail(&format!("expected silence, got: {line}")),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.fail("stdout closed"),
        }
    }

    /// Closes stdin, waits for exit (with a deadline) and returns (status, rest of stdout
    /// lines, stderr).
    pub(crate) fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + REPLY_DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{} did not exit after stdin closed", self.name);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let rest: Vec<String> = self.lines.iter().collect();
        let stderr = self.stderr.join().unwrap_or_default();
        (status, rest, stderr)
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        let stdout: Vec<String> = self.lines.try_iter().collect();
        panic!(
            "{why}\ncommand: {}\nstatus: {status:?}\nstdout (unread): {stdout:#?}",
            example_path(&self.name).display()
        );
    }
}

/// A node driven through the sans-IO core by hand, with no process: the test plays its peers
/// and the clock (virtual time, jumped to the node's deadlines).
pub(crate) struct Driven<H: maelstrom_loop::Handler> {
    pub(crate) node: maelstrom_loop::Node<H>,
    pub(crate) now: maelstrom_loop::Instant,
}

impl<H: maelstrom_loop::Handler> Driven<H> {
    /// `handler` as node `id` of `ids`, initialised at time zero (its `init_ok` discarded).
    pub(crate) fn new(handler: H, id: &str, ids: &[&str]) -> Driven<H> {
        let mut node = maelstrom_loop::Node::new(handler);
        let init = json!({"src": "c0", "dest": id,
            "body": {"type": "init", "msg_id": 1, "node_id": id, "node_ids": ids}});
        let zero = maelstrom_loop::Instant::ZERO;
        node.handle_line(zero, init.to_string().as_bytes());
        node.clear_output();
        Driven { node, now: zero }
    }

    /// Every message the node wrote since the last call.
    pub(crate) fn take_output(&mut self) -> Vec<Value> {
        let out = String::from_utf8(self.node.output().to_vec()).expect("UTF-8 output");
        self.node.clear_output();
        out.lines()
            .map(|line| serde_json::from_str(line).expect("every output line is JSON"))
            .collect()
    }

    /// Delivers `body` from `src` now and returns every message the node wrote.
    pub(crate) fn deliver(&mut self, src: &str, body: Value) -> Vec<Value> {
        let dest = self.node.node_id().unwrap_or_default().to_owned();
        let line = json!({"src": src, "dest": dest, "body": body});
        self.node.handle_line(self.now, line.to_string().as_bytes());
        self.take_output()
    }

    /// Jumps to the next deadline (an RPC timeout, say) and returns what the node wrote.
    pub(crate) fn expire_next(&mut self) -> Vec<Value> {
        self.now = self.node.next_deadline().expect("a pending deadline");
        self.node.handle_timeout(self.now);
        self.take_output()
    }

    /// Plays the peer the node sent `request` to: answers it with `reply` (its
    /// `in_reply_to` filled in), or with `None` stays silent until the request's deadline
    /// passes. Returns what the node wrote then.
    pub(crate) fn answer(&mut self, request: &Value, reply: Option<&Value>) -> Vec<Value> {
        let Some(reply) = reply else {
            return self.expire_next();
        };
        let mut reply = reply.clone();
        reply["in_reply_to"] = request["body"]["msg_id"].clone();
        let peer = request["dest"].as_str().expect("a dest").to_owned();
        self.deliver(&peer, reply)
    }
}

/// Asserts that `out` is exactly one message, to `client` in reply to `msg_id`, whose body
/// has every field of `expected` with its value; `what` names the case in failures.
pub(crate) fn assert_one_answer(
    out: &[Value],
    client: &str,
    msg_id: u64,
    expected: &Value,
    what: &str,
) {
    assert_eq!(out.len(), 1, "{what}: exactly one answer: {out:?}");
    let body = &out[0]["body"];
    assert_eq!(
        (&out[0]["dest"], &body["in_reply_to"]),
        (&json!(client), &json!(msg_id)),
        "{what}"
    );
    for (field, value) in expected.as_object().expect("an object") {
        assert_eq!(&body[field], value, "{what}: {body}");
    }
}

/// A fresh, empty directory for one test's files, under the target directory.
pub(crate) fn scratch_dir(label: &str) -> PathBuf {
    let dir = target_dir()
        .join("test-scratch")
        .join(format!("{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {dir:?}: {e}"));
    dir
}

/// Runs example `name` with `MAELSTROM_REPLAY=record` and no stdin, with a deadline;
/// returns its status, stdout and stderr.
pub(crate) fn replay_example(name: &str, record: &std::path::Path) -> (ExitStatus, String, String) {
    let path = example_path(name);
    let mut child = Command::new(&path)
        .env("MAELSTROM_REPLAY", record)
        .env_remove("MAELSTROM_RECORD")
        .env_remove("MAELSTROM_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {path:?}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + REPLY_DEADLINE;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{path:?} did not finish replaying {record:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8(reader.join().unwrap_or_default()).expect("UTF-8 stdout");
    (
        output.status,
        stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
