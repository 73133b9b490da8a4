//! Linearizable key-value store on Raft (Maelstrom's lin-kv workload).
//!
//! ```text
//! cargo build --release --example lin_kv
//! maelstrom test -w lin-kv --bin target/release/examples/lin_kv --node-count 3 --concurrency 2n \
//!     --time-limit 20 --rate 100 --nemesis partition
//! ```
//!
//! Raft as in the paper's figure 2, on one thread: timers drive elections and heartbeats,
//! `ctx.rpc` continuations receive votes and append acknowledgements. Every operation, reads
//! included, goes through the log, so the order of the log is the linearization. The leader
//! answers a client once the operation's entry is committed and applied; followers forward
//! requests to the leader they know (error 11, definite, when they know none). A leader that
//! steps down answers its waiting clients with code 0: their entries may still commit.
//!
//! Appends are pipelined: every tick the leader sends each follower the entries from its
//! `next_index` on, whether or not earlier appends were answered, so neither heartbeats nor
//! progress wait on a round trip however long the network makes it. Replies count for
//! [`REPLY_TIMEOUT`] and teach the node the round-trip time, which stretches the election
//! timeout on a slow network (a candidate must outlive its own vote requests). The election
//! timeout's jitter is drawn from `ctx.rng()` each time the timer is reset, so simulated runs
//! stay deterministic and a recorded run replays exactly.
//! No persistence: Maelstrom does not restart lin-kv nodes.

use std::collections::BTreeMap;

use maelstrom_loop::{Ctx, Duration, Error, ErrorCode, Handler, Instant, Message, Origin};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How often the timer ticks: appends (or heartbeats) to every follower, election checks.
pub const TICK: Duration = Duration::from_millis(25);
/// Election timeout before jitter, on a fast network; at least twice the round trip.
pub const ELECTION_BASE_MS: u64 = 300;
/// Jitter added to the election timeout, at most; at least one round trip.
pub const ELECTION_JITTER_MS: u64 = 300;
/// How long a vote or append request waits for its reply. Pipelined appends need no
/// retransmission timer, so this only bounds how long a silent peer holds a continuation.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a follower waits for the leader's answer to a forwarded client request: as
/// long as the client itself waits (lin-kv clients give up after 1 s at low latency).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(1);
/// At most this many entries per append request.
pub const MAX_ENTRIES: usize = 128;

/// A client operation, as it travels in the log.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Read a key.
    Read {
        /// The key (any JSON).
        key: Value,
    },
    /// Write a key.
    Write {
        /// The key.
        key: Value,
        /// The new value.
        value: Value,
    },
    /// Compare-and-set a key.
    Cas {
        /// The key.
        key: Value,
        /// The value it must hold.
        from: Value,
        /// The value it gets.
        to: Value,
    },
    /// A new leader's first entry: committing it commits every earlier entry (§5.4.2).
    Noop,
}

/// A log entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    term: u64,
    op: Op,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Follower,
    Candidate,
    Leader,
}

/// The node's one timer.
#[derive(Clone, Debug)]
pub struct Tick;

/// Raft state and the replicated key-value map.
#[derive(Debug)]
pub struct Raft {
    role: Role,
    term: u64,
    voted_for: Option<String>,
    /// `log[0]` is a sentinel of term 0, so real indexes start at 1.
    log: Vec<Entry>,
    commit_index: usize,
    last_applied: usize,
    kv: BTreeMap<String, Value>,
    leader: Option<String>,
    last_heard: Instant,
    /// Random bits drawn when `last_heard` was last set; they pick this timeout's jitter.
    jitter_draw: u64,
    votes: usize,
    next_index: BTreeMap<String, usize>,
    match_index: BTreeMap<String, usize>,
    /// Smoothed round-trip time of vote and append requests, once one was answered.
    rtt: Option<Duration>,
    /// Clients waiting on the leader: log index → (term of the entry, whom to answer).
    waiting: BTreeMap<usize, (u64, Origin)>,
}

impl Default for Raft {
    fn default() -> Raft {
        let sentinel = Entry {
            term: 0,
            op: Op::Noop,
        };
        Raft {
            role: Role::Follower,
            term: 0,
            voted_for: None,
            log: vec![sentinel],
            commit_index: 0,
            last_applied: 0,
            kv: BTreeMap::new(),
            leader: None,
            last_heard: Instant::ZERO,
            jitter_draw: 0,
            votes: 0,
            next_index: BTreeMap::new(),
            match_index: BTreeMap::new(),
            rtt: None,
            waiting: BTreeMap::new(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct VoteRequest {
    term: u64,
    candidate: String,
    last_log_index: usize,
    last_log_term: u64,
}

#[derive(Serialize, Deserialize)]
struct AppendRequest {
    term: u64,
    leader: String,
    prev_log_index: usize,
    prev_log_term: u64,
    entries: Vec<Entry>,
    leader_commit: usize,
}

impl Raft {
    fn last_index(&self) -> usize {
        self.log.len() - 1
    }

    fn majority(ctx: &Ctx<'_, Self>) -> usize {
        ctx.node_ids().len() / 2 + 1
    }

    /// Restarts the election timer: heard from a leader, granted a vote, or stood for
    /// election. Each restart draws a new jitter, as Raft's randomised timeouts do.
    fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.last_heard = ctx.now();
        self.jitter_draw = ctx.rng().next_u64();
    }

    /// The current election timeout: random per reset (so nodes rarely tie), and long
    /// enough for a vote request's round trip on the network as measured so far.
    fn election_timeout(&self) -> Duration {
        let rtt_ms = self.rtt.map_or(0, |rtt| rtt.as_micros() / 1000);
        let base = ELECTION_BASE_MS.max(2 * rtt_ms);
        let jitter = ELECTION_JITTER_MS.max(rtt_ms);
        Duration::from_millis(base + self.jitter_draw % jitter)
    }

    /// Folds one measured round trip into the estimate (weight 1/8, as TCP does).
    fn observe_rtt(&mut self, sample: Duration) {
        let sample = sample.as_micros();
        let smoothed = self
            .rtt
            .map_or(sample, |rtt| (rtt.as_micros() * 7 + sample) / 8);
        self.rtt = Some(Duration::from_micros(smoothed));
    }

    /// Any message with a newer term makes this node a follower of that term.
    fn observe_term(&mut self, ctx: &mut Ctx<'_, Self>, term: u64) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.step_down(ctx);
        }
    }

    fn step_down(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role == Role::Leader {
            for (_, (_, origin)) in std::mem::take(&mut self.waiting) {
                ctx.reply_error(
                    &origin,
                    ErrorCode::Timeout,
                    "leadership lost; the operation may still commit",
                );
            }
        }
        self.role = Role::Follower;
    }

    fn start_election(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(ctx.node_id().to_owned());
        self.votes = 1;
        self.leader = None;
        self.reset_election_timer(ctx);
        let request = VoteRequest {
            term: self.term,
            candidate: ctx.node_id().to_owned(),
            last_log_index: self.last_index(),
            last_log_term: self.log[self.last_index()].term,
        };
        let body = json!({"type": "request_vote", "vote": request});
        let term = self.term;
        let sent = ctx.now();
        for peer in ctx.peers().to_vec() {
            ctx.rpc(
                &peer,
                &body,
                REPLY_TIMEOUT,
                move |node: &mut Raft, ctx, reply| {
                    let Ok(reply) = reply else { return Ok(()) };
                    node.observe_rtt(ctx.now() - sent);
                    node.observe_term(ctx, reply.field("term")?);
                    if node.role == Role::Candidate
                        && node.term == term
                        && reply.field::<bool>("granted")?
                    {
                        node.votes += 1;
                        node.become_leader_if_elected(ctx);
                    }
                    Ok(())
                },
            )?;
        }
        self.become_leader_if_elected(ctx);
        Ok(())
    }

    fn become_leader_if_elected(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Candidate || self.votes < Raft::majority(ctx) {
            return;
        }
        self.role = Role::Leader;
        self.leader = Some(ctx.node_id().to_owned());
        let next = self.last_index() + 1;
        for peer in ctx.peers() {
            self.next_index.insert(peer.clone(), next);
            self.match_index.insert(peer.clone(), 0);
        }
        log::info!("leader for term {}", self.term);
        self.log.push(Entry {
            term: self.term,
            op: Op::Noop,
        });
        self.advance_commit(ctx);
        self.replicate(ctx);
    }

    fn on_vote_request(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let request: VoteRequest = msg.field("vote")?;
        self.observe_term(ctx, request.term);
        let my_last = (self.log[self.last_index()].term, self.last_index());
        let up_to_date = (request.last_log_term, request.last_log_index) >= my_last;
        let free = self
            .voted_for
            .as_ref()
            .map_or(true, |v| *v == request.candidate);
        let granted = request.term == self.term && free && up_to_date;
        if granted {
            self.voted_for = Some(request.candidate);
            self.reset_election_timer(ctx);
        }
        ctx.reply(
            msg,
            &json!({"type": "request_vote_ok", "term": self.term, "granted": granted}),
        )
    }

    /// Sends each peer the entries from its `next_index` on (none: a heartbeat), whether
    /// or not earlier appends were answered: replies are idempotent, and a lost request is
    /// made good by the next tick's.
    fn replicate(&mut self, ctx: &mut Ctx<'_, Self>) {
        for peer in ctx.peers().to_vec() {
            let next = self
                .next_index
                .get(&peer)
                .copied()
                .unwrap_or(1)
                .clamp(1, self.last_index() + 1);
            let entries: Vec<Entry> = self.log[next..].iter().take(MAX_ENTRIES).cloned().collect();
            let request = AppendRequest {
                term: self.term,
                leader: ctx.node_id().to_owned(),
                prev_log_index: next - 1,
                prev_log_term: self.log[next - 1].term,
                entries,
                leader_commit: self.commit_index,
            };
            let term = self.term;
            let body = json!({"type": "append_entries", "append": request});
            let to = peer.clone();
            let sent = ctx.now();
            let result = ctx.rpc(
                &to,
                &body,
                REPLY_TIMEOUT,
                move |node: &mut Raft, ctx, reply| {
                    let Ok(reply) = reply else { return Ok(()) };
                    node.observe_rtt(ctx.now() - sent);
                    node.observe_term(ctx, reply.field("term")?);
                    if node.role != Role::Leader || node.term != term {
                        return Ok(());
                    }
                    node.on_append_reply(
                        ctx,
                        &peer,
                        reply.field("success")?,
                        reply.field("match_index")?,
                    );
                    Ok(())
                },
            );
            if let Err(e) = result {
                log::warn!("append to {to} not sent: {e}");
            }
        }
    }

    fn on_append_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        peer: &str,
        success: bool,
        matched: usize,
    ) {
        if success {
            let entry = self.match_index.entry(peer.to_owned()).or_default();
            *entry = (*entry).max(matched);
            self.next_index.insert(peer.to_owned(), *entry + 1);
            self.advance_commit(ctx);
        } else {
            // The follower's log ends at or before `matched`: back off to just after it, but
            // not below what it is known to hold (a stale refusal of a pipelined request).
            let next = self.next_index.get(peer).copied().unwrap_or(1);
            let known = self.match_index.get(peer).copied().unwrap_or(0);
            self.next_index.insert(
                peer.to_owned(),
                (matched + 1).min(next.saturating_sub(1)).max(known + 1),
            );
        }
    }

    /// Commits the highest index of this term that a majority holds, then applies.
    fn advance_commit(&mut self, ctx: &mut Ctx<'_, Self>) {
        for index in (self.commit_index + 1..=self.last_index()).rev() {
            if self.log[index].term != self.term {
                break;
            }
            let holders = 1 + self.match_index.values().filter(|&&m| m >= index).count();
            if holders >= Raft::majority(ctx) {
                self.commit_index = index;
                break;
            }
        }
        self.apply(ctx);
    }

    fn on_append(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        let request: AppendRequest = msg.field("append")?;
        self.observe_term(ctx, request.term);
        let reply = |term, success, match_index| json!({"type": "append_entries_ok", "term": term, "success": success, "match_index": match_index});
        if request.term < self.term {
            return ctx.reply(msg, &reply(self.term, false, 0));
        }
        self.step_down(ctx);
        self.leader = Some(request.leader.clone());
        self.reset_election_timer(ctx);
        let prev = request.prev_log_index;
        let count = request.entries.len();
        if prev > self.last_index() || self.log[prev].term != request.prev_log_term {
            let hint = self.last_index().min(prev.saturating_sub(1));
            return ctx.reply(msg, &reply(self.term, false, hint));
        }
        for (offset, entry) in request.entries.into_iter().enumerate() {
            let index = prev + 1 + offset;
            if index <= self.last_index() && self.log[index].term != entry.term {
                self.log.truncate(index);
            }
            if index > self.last_index() {
                self.log.push(entry);
            }
        }
        // Only what this request carried is known to match the leader; entries beyond it
        // may be stale ones a later request will truncate.
        let matched = prev + count;
        if request.leader_commit > self.commit_index {
            self.commit_index = request.leader_commit.min(matched).max(self.commit_index);
        }
        ctx.reply(msg, &reply(self.term, true, matched))?;
        self.apply(ctx);
        Ok(())
    }

    /// Applies committed entries; the leader answers the clients waiting on them.
    fn apply(&mut self, ctx: &mut Ctx<'_, Self>) {
        while self.last_applied < self.commit_index {
            self.last_applied += 1;
            let index = self.last_applied;
            let entry = self.log[index].clone();
            let result = self.execute(&entry.op);
            if let Some((term, origin)) = self.waiting.remove(&index) {
                match (term == entry.term, result) {
                    (true, Ok(body)) => {
                        let _ = ctx.reply(&origin, &body);
                    }
                    (true, Err(e)) => ctx.reply_error(&origin, e.code(), e.text()),
                    (false, _) => ctx.reply_error(
                        &origin,
                        ErrorCode::Timeout,
                        "entry replaced by a new leader",
                    ),
                }
            }
        }
    }

    fn execute(&mut self, op: &Op) -> Result<Value, Error> {
        match op {
            Op::Read { key } => match self.kv.get(&key.to_string()) {
                Some(value) => Ok(json!({"type": "read_ok", "value": value})),
                None => Err(Error::key_does_not_exist(format!(
                    "key {key} does not exist"
                ))),
            },
            Op::Write { key, value } => {
                self.kv.insert(key.to_string(), value.clone());
                Ok(json!({"type": "write_ok"}))
            }
            Op::Noop => Ok(Value::Null),
            Op::Cas { key, from, to } => match self.kv.get_mut(&key.to_string()) {
                None => Err(Error::key_does_not_exist(format!(
                    "key {key} does not exist"
                ))),
                Some(current) if current != from => Err(Error::precondition_failed(format!(
                    "expected {from}, found {current}"
                ))),
                Some(current) => {
                    *current = to.clone();
                    Ok(json!({"type": "cas_ok"}))
                }
            },
        }
    }

    /// A client operation: appended here if leader, else forwarded to the leader.
    fn on_client(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        msg: &Message<'_>,
        op: Op,
    ) -> Result<(), Error> {
        if self.role == Role::Leader {
            self.log.push(Entry {
                term: self.term,
                op,
            });
            self.waiting
                .insert(self.last_index(), (self.term, msg.origin()));
            self.advance_commit(ctx); // a one-node cluster commits at once
            return Ok(());
        }
        let Some(leader) = self.leader.clone().filter(|l| l != ctx.node_id()) else {
            return Err(Error::temporarily_unavailable("no known leader"));
        };
        let origin = msg.origin();
        let body = json!({"type": "forward", "op": op});
        ctx.rpc(
            &leader,
            &body,
            FORWARD_TIMEOUT,
            move |_: &mut Raft, ctx, reply| match reply {
                Ok(answer) => {
                    let body: Value =
                        serde_json::from_str(answer.raw_body()).unwrap_or(Value::Null);
                    ctx.reply(&origin, &strip_ids(body))
                }
                Err(e) if e.is_definite() => {
                    ctx.reply_error(&origin, e.code(), e.text());
                    Ok(())
                }
                Err(e) => {
                    ctx.reply_error(&origin, ErrorCode::Timeout, &format!("forwarded: {e}"));
                    Ok(())
                }
            },
        )?;
        Ok(())
    }
}

/// A relayed answer keeps its type and fields; the library adds fresh ids.
fn strip_ids(mut body: Value) -> Value {
    if let Some(map) = body.as_object_mut() {
        map.remove("msg_id");
        map.remove("in_reply_to");
    }
    body
}

impl Handler for Raft {
    type Timer = Tick;
    /// Maelstrom's lin-kv clients wait ten times the mean latency, at least 1 s.
    const CLIENT_TIMEOUT: Duration = Duration::from_secs(1);

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        self.reset_election_timer(ctx);
        ctx.set_interval(TICK, Tick);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
        match msg.kind() {
            "read" | "write" | "cas" => {
                let op: Op = msg.body()?;
                self.on_client(ctx, msg, op)
            }
            // Node to node: a client operation forwarded to the leader.
            "forward" => {
                let op: Op = msg.field("op")?;
                if self.role != Role::Leader {
                    return Err(Error::temporarily_unavailable("not the leader"));
                }
                self.on_client(ctx, msg, op)
            }
            "request_vote" => self.on_vote_request(ctx, msg),
            "append_entries" => self.on_append(ctx, msg),
            other => Err(Error::unsupported_type(other)),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: Tick) -> Result<(), Error> {
        if self.role == Role::Leader {
            self.replicate(ctx);
        } else if ctx.now() - self.last_heard >= self.election_timeout() {
            self.start_election(ctx)?;
        }
        Ok(())
    }
}

fn main() -> std::io::Result<()> {
    maelstrom_loop::run(Raft::default())
}
