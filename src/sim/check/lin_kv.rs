//! The lin-kv checker: each key must behave as a linearizable register.
//!
//! Keys are independent registers (initially absent) with read, write and compare-and-set,
//! checked one at a time by the Wing–Gong search as improved by Lowe: walk the history's
//! invocation and completion events, tentatively linearize any operation whose invocation has
//! been reached, backtrack when a completion is reached before its operation was placed, and
//! remember every (linearized set, register value) configuration already explored. The set is
//! remembered by a 128-bit Zobrist hash (a collision, about 2^-100 likely, could only hide a
//! valid order). Each key gets [`STEP_BUDGET`] steps; past that its verdict is unknown.
//!
//! Operations that failed never happened and are dropped; indeterminate writes and
//! compare-and-sets may take effect at any point after their invocation, or never;
//! indeterminate reads carry no information. An acknowledged read of `[key, null]` means the
//! key was absent. Events at the same instant count as concurrent. Malformed values make the
//! result invalid. Latency and availability are not judged.
//!
//! A key with no linearization fails Maelstrom's run too (Knossos, on the same model);
//! malformed values are beyond Maelstrom, whose client rejects such replies as exceptions
//! (the operation becomes indeterminate). An unknown verdict is neither judge's pass.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::sim::check::{
    calls, list, Anomalies, Atom, Call, CheckResult,
    Strictness::{Beyond, Maelstrom},
    Validity,
};
use crate::sim::history::{History, OpKind};

/// Search steps allowed per key before the checker gives up with [`Validity::Unknown`].
pub const STEP_BUDGET: u64 = 2_000_000;

/// Checks a `lin-kv` history.
pub fn check(history: &History) -> CheckResult {
    check_with_budget(history, STEP_BUDGET)
}

/// [`check`] with another per-key step budget.
pub fn check_with_budget(history: &History, budget: u64) -> CheckResult {
    let calls = calls(history);
    let mut anomalies = Anomalies::default();
    let keys = parse(&calls, &mut anomalies);
    let mut gave_up = Vec::new();
    let mut broken = Vec::new();
    let mut total = 0;
    for (key, register) in &keys {
        total += register.ops.len();
        match search(register, budget) {
            Outcome::Linearizable => {}
            Outcome::GaveUp => gave_up.push(key.clone()),
            Outcome::Stuck(stuck) => {
                anomalies.note(Maelstrom, || explain(key, register, &stuck));
                broken.push(key.clone());
            }
        }
    }
    let size = format!("{} keys, {total} operations", keys.len());
    if anomalies.count() > 0 {
        let summary = format!("not linearizable: keys {} ({size})", list(&broken));
        return anomalies.finish(summary);
    }
    if !gave_up.is_empty() {
        let summary = format!(
            "gave up after {budget} steps on keys {} ({size})",
            list(&gave_up)
        );
        return CheckResult::new(Validity::Unknown, summary, Vec::new());
    }
    anomalies.finish(format!("linearizable ({size})"))
}

/// What an operation does to the register; values are interned ids, 0 meaning absent.
#[derive(Debug, Clone, Copy)]
enum Action {
    Read(u32),
    Write(u32),
    Cas(u32, u32),
}

impl Action {
    /// The register's value after the action, or `None` if it cannot happen in `state`.
    fn apply(self, state: u32) -> Option<u32> {
        match self {
            Action::Read(value) => (value == state).then_some(state),
            Action::Write(value) => Some(value),
            Action::Cas(from, to) => (from == state).then_some(to),
        }
    }
}

/// One operation on a key.
struct KeyOp<'a> {
    call: &'a Call<'a>,
    action: Action,
    /// Required operations completed `Ok` and must be linearized.
    required: bool,
}

/// Everything done to one key, with its interned values.
#[derive(Default)]
struct Register<'a> {
    ops: Vec<KeyOp<'a>>,
    values: HashMap<Atom, u32>,
}

impl Register<'_> {
    fn intern(&mut self, value: &Value) -> u32 {
        if value.is_null() {
            return 0;
        }
        let next = self.values.len() as u32 + 1;
        *self.values.entry(Atom::from_value(value)).or_insert(next)
    }

    fn name(&self, id: u32) -> String {
        let found = self.values.iter().find(|(_, &v)| v == id);
        found.map_or_else(|| "absent".to_owned(), |(atom, _)| atom.to_string())
    }
}

/// Splits the history into registers, dropping failed operations and unfinished reads.
fn parse<'a>(calls: &'a [Call<'a>], anomalies: &mut Anomalies) -> BTreeMap<Atom, Register<'a>> {
    let mut keys: BTreeMap<Atom, Register<'a>> = BTreeMap::new();
    for call in calls {
        let unfinished_read = call.f == "read" && !call.is_ok();
        if call.kind == OpKind::Fail || unfinished_read {
            continue;
        }
        let (key, argument) = match call.input.as_array().map(Vec::as_slice) {
            Some([key, argument]) => (Atom::from_value(key), argument),
            _ => {
                anomalies.note(Beyond, || format!("malformed request: {}", call.describe()));
                continue;
            }
        };
        let register = keys.entry(key).or_default();
        let action = match call.f {
            "read" => match call.output.and_then(Value::as_array).map(Vec::as_slice) {
                Some([_, value]) => Action::Read(register.intern(value)),
                _ => {
                    anomalies.note(Beyond, || {
                        format!("malformed read reply: {}", call.describe())
                    });
                    continue;
                }
            },
            "write" => Action::Write(register.intern(argument)),
            "cas" => match argument.as_array().map(Vec::as_slice) {
                Some([from, to]) => Action::Cas(register.intern(from), register.intern(to)),
                _ => {
                    anomalies.note(Beyond, || format!("malformed cas: {}", call.describe()));
                    continue;
                }
            },
            _ => continue,
        };
        let required = call.is_ok();
        register.ops.push(KeyOp {
            call,
            action,
            required,
        });
    }
    keys
}

/// How the search for one key ended.
enum Outcome {
    Linearizable,
    GaveUp,
    Stuck(Stuck),
}

/// Where the deepest explored order got stuck.
struct Stuck {
    /// The operation that completed before any explored order could place it.
    op: usize,
    /// The register's value at that point.
    state: u32,
    /// How many operations that order had linearized.
    depth: usize,
}

/// Invocation and completion events as a doubly linked list, so linearized operations can
/// be lifted out and put back in O(1) (dancing links).
struct Events {
    /// Per event: the operation and whether it is the completion.
    event: Vec<(usize, bool)>,
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Per operation: its invocation event and its completion event, if it has one.
    of_op: Vec<(usize, Option<usize>)>,
}

/// The list's sentinel is the last slot.
impl Events {
    fn new(ops: &[KeyOp<'_>]) -> Events {
        let mut timed: Vec<(u64, bool, usize)> = Vec::new();
        for (index, op) in ops.iter().enumerate() {
            timed.push((op.call.start.as_micros(), false, index));
            if let (true, Some(end)) = (op.required, op.call.end) {
                timed.push((end.as_micros(), true, index));
            }
        }
        // Invocations sort before completions at the same instant: ties are concurrent.
        timed.sort();
        let n = timed.len();
        let mut of_op = vec![(0, None); ops.len()];
        for (slot, &(_, is_return, op)) in timed.iter().enumerate() {
            if is_return {
                of_op[op].1 = Some(slot);
            } else {
                of_op[op].0 = slot;
            }
        }
        Events {
            event: timed.iter().map(|&(_, r, op)| (op, r)).collect(),
            next: (0..=n).map(|i| (i + 1) % (n + 1)).collect(),
            prev: (0..=n).map(|i| (i + n) % (n + 1)).collect(),
            of_op,
        }
    }

    fn sentinel(&self) -> usize {
        self.event.len()
    }

    fn first(&self) -> usize {
        self.next[self.sentinel()]
    }

    fn unlink(&mut self, slot: usize) {
        let (prev, next) = (self.prev[slot], self.next[slot]);
        self.next[prev] = next;
        self.prev[next] = prev;
    }

    fn relink(&mut self, slot: usize) {
        let (prev, next) = (self.prev[slot], self.next[slot]);
        self.next[prev] = slot;
        self.prev[next] = slot;
    }

    fn lift(&mut self, op: usize) {
        let (call, ret) = self.of_op[op];
        self.unlink(call);
        if let Some(ret) = ret {
            self.unlink(ret);
        }
    }

    fn unlift(&mut self, op: usize) {
        let (call, ret) = self.of_op[op];
        if let Some(ret) = ret {
            self.relink(ret);
        }
        self.relink(call);
    }
}

/// Two 64-bit Zobrist keys per operation, from a fixed SplitMix64 sequence.
fn zobrist(count: usize) -> Vec<(u64, u64)> {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..count).map(|_| (next(), next())).collect()
}

/// The WGL search over one register.
fn search(register: &Register<'_>, budget: u64) -> Outcome {
    let ops = &register.ops;
    let mut events = Events::new(ops);
    let keys = zobrist(ops.len());
    let mut set_hash = (0u64, 0u64);
    let mut seen: HashSet<(u64, u64, u32)> = HashSet::new();
    let mut stack: Vec<(usize, u32)> = Vec::new(); // (operation, state before it)
    let mut remaining = ops.iter().filter(|op| op.required).count();
    let mut state = 0u32;
    let mut slot = events.first();
    let mut stuck: Option<Stuck> = None;
    let mut steps = 0u64;
    while remaining > 0 {
        steps += 1;
        if steps > budget {
            return Outcome::GaveUp;
        }
        let (op, is_return) = match events.event.get(slot) {
            Some(&event) => event,
            None => (usize::MAX, true), // the sentinel: nothing left to try here
        };
        if !is_return {
            let next_state = ops[op].action.apply(state);
            let hash = (set_hash.0 ^ keys[op].0, set_hash.1 ^ keys[op].1);
            if let Some(new) = next_state.filter(|&new| seen.insert((hash.0, hash.1, new))) {
                stack.push((op, state));
                (state, set_hash) = (new, hash);
                events.lift(op);
                remaining -= usize::from(ops[op].required);
                slot = events.first();
            } else {
                slot = events.next[slot];
            }
            continue;
        }
        if stuck.as_ref().map_or(true, |s| stack.len() > s.depth) && op != usize::MAX {
            stuck = Some(Stuck {
                op,
                state,
                depth: stack.len(),
            });
        }
        let Some((undone, before)) = stack.pop() else {
            return stuck.map_or(Outcome::GaveUp, Outcome::Stuck);
        };
        events.unlift(undone);
        state = before;
        set_hash = (set_hash.0 ^ keys[undone].0, set_hash.1 ^ keys[undone].1);
        remaining += usize::from(ops[undone].required);
        slot = events.next[events.of_op[undone].0];
    }
    Outcome::Linearizable
}

/// One anomaly line: the operation no order could place, and what overlapped it.
fn explain(key: &Atom, register: &Register<'_>, stuck: &Stuck) -> String {
    let Some(culprit) = register.ops.get(stuck.op) else {
        return format!("key {key} is not linearizable");
    };
    let (start, end) = (culprit.call.start, culprit.call.end);
    let overlapping: Vec<String> = register
        .ops
        .iter()
        .enumerate()
        .filter(|&(i, op)| {
            let starts_before_end = end.map_or(true, |end| op.call.start <= end);
            i != stuck.op && starts_before_end && op.call.end.map_or(true, |e| e >= start)
        })
        .take(6)
        .map(|(_, op)| op.call.describe())
        .collect();
    format!(
        "key {key} is not linearizable: after {} operations the register holds {} and no \
         order explains {}; concurrent: [{}]",
        stuck.depth,
        register.name(stuck.state),
        culprit.call.describe(),
        overlapping.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::check::testing::{hang, op, sorted};
    use crate::sim::history::OpKind::{Fail, Info, Ok};
    use crate::time::Instant;
    use serde_json::json;

    /// Deterministic SplitMix64, so every generated history is reproducible from its seed.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n
        }
    }

    /// One generated operation: request, interval and the instant it takes effect.
    struct Planned {
        process: u64,
        f: &'static str,
        key: u64,
        argument: Value,
        start: u64,
        effect: u64,
        end: u64,
        timeout: bool,
    }

    /// `processes` clients issue `count` operations back to back against a correct
    /// linearizable store over `keys` registers; each operation takes effect at a random
    /// instant inside its interval and 2% time out (taking effect or not).
    fn simulate(seed: u64, count: usize, processes: u64, keys: u64) -> History {
        let mut rng = Rng(seed);
        let mut planned = Vec::new();
        let mut clock = vec![0u64; processes as usize];
        for i in 0..count {
            let process = i as u64 % processes;
            let start = clock[process as usize] + 1 + rng.below(2_000);
            let effect = start + rng.below(5_000);
            let end = effect + rng.below(5_000);
            clock[process as usize] = end;
            let (f, argument) = match rng.below(10) {
                0..=3 => ("read", Value::Null),
                4..=6 => ("write", json!(rng.below(5))),
                _ => ("cas", json!([rng.below(5), rng.below(5)])),
            };
            let (key, timeout) = (rng.below(keys), rng.below(50) == 0);
            planned.push(Planned {
                process,
                f,
                key,
                argument,
                start,
                effect,
                end,
                timeout,
            });
        }
        play(&mut rng, planned)
    }

    /// Applies the operations in effect order and records what clients saw.
    fn play(rng: &mut Rng, mut planned: Vec<Planned>) -> History {
        planned.sort_by_key(|p| p.effect);
        let mut registers: HashMap<u64, Value> = HashMap::new();
        let mut events: Vec<(u64, bool, u64, &str, Value, OpKind)> = Vec::new();
        for p in &planned {
            let current = registers.get(&p.key).cloned().unwrap_or(Value::Null);
            let applies = !p.timeout || rng.below(2) == 0;
            let (kind, output) = match p.f {
                "read" => (Ok, json!([p.key, current])),
                "write" => {
                    if applies {
                        registers.insert(p.key, p.argument.clone());
                    }
                    (Ok, Value::Null)
                }
                _ if !current.is_null() && current == p.argument[0] => {
                    if applies {
                        registers.insert(p.key, p.argument[1].clone());
                    }
                    (Ok, Value::Null)
                }
                _ => (Fail, Value::Null), // precondition failed or key missing (22, 20)
            };
            let kind = if p.timeout { Info } else { kind };
            events.push((
                p.start,
                true,
                p.process,
                p.f,
                json!([p.key, p.argument]),
                OpKind::Invoke,
            ));
            events.push((p.end, false, p.process, p.f, output, kind));
        }
        // Completions first at equal instants: a process never overlaps itself.
        events.sort_by_key(|e| (e.0, e.1));
        let mut h = History::new();
        for (at, _, process, f, value, kind) in events {
            let at = Instant::from_micros(at);
            match kind {
                OpKind::Invoke => h.push_invoke(process, f, value, at, "n0"),
                kind => h.push_completion(process, kind, value, at),
            };
        }
        h
    }

    /// A correct store under concurrency 8: about 2000 operations over 10 keys, checked fast.
    #[test]
    fn generated_linearizable_history_is_valid() {
        for seed in 1..=3 {
            let h = simulate(seed, 2_000, 8, 10);
            let began = std::time::Instant::now();
            let r = check(&h);
            assert!(r.is_valid(), "seed {seed}: {r:?}");
            assert!(
                began.elapsed() < std::time::Duration::from_secs(2),
                "seed {seed} slow"
            );
        }
    }

    /// The same history with one read answered from a corrupted cache is caught.
    #[test]
    fn generated_history_with_a_corrupted_read_is_invalid() {
        let mut h = simulate(7, 2_000, 8, 10);
        let reads: Vec<usize> = (0..h.ops.len())
            .filter(|&i| h.ops[i].f == "read" && h.ops[i].kind == Ok)
            .collect();
        let victim = reads[reads.len() / 2];
        let key = h.ops[victim].value[0].clone();
        h.ops[victim].value = json!([key, 99]);
        let r = check(&h);
        assert_eq!(r.validity, Validity::Invalid, "{r:?}");
        assert!(r.anomalies[0].detail.contains("99"), "{:?}", r.anomalies);
    }

    /// A follower serving reads from its stale log: a write completed, yet the old value reads.
    #[test]
    fn stale_read_after_acknowledged_write_is_invalid() {
        let mut h = History::new();
        op(&mut h, 1, "write", json!([1, 10]), 0, Ok, Value::Null, 10);
        op(&mut h, 1, "write", json!([1, 20]), 20, Ok, Value::Null, 30);
        op(
            &mut h,
            2,
            "read",
            json!([1, null]),
            40,
            Ok,
            json!([1, 10]),
            50,
        );
        let r = check(&h);
        assert_eq!(r.validity, Validity::Invalid);
        assert!(
            r.summary.starts_with("not linearizable: keys [1]"),
            "{}",
            r.summary
        );
    }

    /// Concurrent operations may take either order; a timed-out write may or may not apply;
    /// a missing key reads null and failed cas never happened.
    #[test]
    fn concurrent_and_indeterminate_operations_are_valid() {
        let mut h = History::new();
        op(
            &mut h,
            1,
            "read",
            json!([1, null]),
            0,
            Ok,
            json!([1, null]),
            5,
        );
        op(
            &mut h,
            2,
            "cas",
            json!([1, [3, 4]]),
            0,
            Fail,
            Value::Null,
            5,
        );
        op(&mut h, 1, "write", json!([1, 1]), 10, Ok, Value::Null, 40);
        op(
            &mut h,
            2,
            "read",
            json!([1, null]),
            20,
            Ok,
            json!([1, 1]),
            30,
        );
        op(
            &mut h,
            3,
            "cas",
            json!([1, [1, 2]]),
            20,
            Ok,
            Value::Null,
            50,
        );
        hang(&mut h, 4, "write", json!([1, 7]), 60);
        op(
            &mut h,
            5,
            "read",
            json!([1, null]),
            70,
            Ok,
            json!([1, 2]),
            80,
        );
        op(
            &mut h,
            5,
            "read",
            json!([1, null]),
            90,
            Ok,
            json!([1, 7]),
            95,
        );
        let r = check(&sorted(h));
        assert!(r.is_valid(), "{r:?}");
    }

    /// A lost cas: acknowledged, yet a later read still sees the old value.
    #[test]
    fn acknowledged_cas_that_did_not_apply_is_invalid() {
        let mut h = History::new();
        op(&mut h, 1, "write", json!([1, 1]), 0, Ok, Value::Null, 10);
        op(
            &mut h,
            2,
            "cas",
            json!([1, [1, 2]]),
            20,
            Ok,
            Value::Null,
            30,
        );
        op(
            &mut h,
            3,
            "read",
            json!([1, null]),
            40,
            Ok,
            json!([1, 1]),
            50,
        );
        assert_eq!(check(&h).validity, Validity::Invalid);
    }

    /// Is there an order of `ops` (each `(start, end, action, required)`) that respects real
    /// time and the register, with every required operation in it? Plain backtracking.
    fn brute_force(
        ops: &[(u64, Option<u64>, Action, bool)],
        done: &mut [bool],
        state: u32,
    ) -> bool {
        let pending = |done: &[bool], i: usize| !done[i] && ops[i].3;
        if !(0..ops.len()).any(|i| pending(done, i)) {
            return true;
        }
        for i in 0..ops.len() {
            let before = |r: usize| pending(done, r) && ops[r].1.is_some_and(|e| e < ops[i].0);
            let blocked = done[i] || (0..ops.len()).any(before);
            let Some(next) = ops[i].2.apply(state).filter(|_| !blocked) else {
                continue;
            };
            done[i] = true;
            let found = brute_force(ops, done, next);
            done[i] = false;
            if found {
                return true;
            }
        }
        false
    }

    /// The search agrees with brute force on thousands of small random histories, valid or not.
    #[test]
    fn search_agrees_with_brute_force_on_small_histories() {
        let mut rng = Rng(42);
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..3_000 {
            let mut h = History::new();
            let mut ops = Vec::new();
            for process in 0..(2 + rng.below(4)) {
                let start = rng.below(20);
                let end = start + rng.below(10);
                // Value v has id v + 1 here; reads of 0 stand for reads of a missing key.
                let value = rng.below(3);
                let id = value as u32 + 1;
                let (f, input, output, action) = match rng.below(3) {
                    0 if value == 0 => {
                        ("read", json!([1, null]), json!([1, null]), Action::Read(0))
                    }
                    0 => (
                        "read",
                        json!([1, null]),
                        json!([1, value]),
                        Action::Read(id),
                    ),
                    1 => ("write", json!([1, value]), Value::Null, Action::Write(id)),
                    _ => (
                        "cas",
                        json!([1, [value, 0]]),
                        Value::Null,
                        Action::Cas(id, 1),
                    ),
                };
                let info = f != "read" && rng.below(4) == 0;
                if info {
                    hang(&mut h, process, f, input, start);
                } else {
                    op(&mut h, process, f, input, start, Ok, output, end);
                }
                ops.push((start * 1_000, (!info).then_some(end * 1_000), action, !info));
            }
            let expected = brute_force(&ops, &mut vec![false; ops.len()], 0);
            let r = check(&sorted(h));
            assert_eq!(r.is_valid(), expected, "{r:?}");
            if expected {
                valid += 1
            } else {
                invalid += 1
            }
        }
        assert!(
            valid > 300 && invalid > 300,
            "{valid} valid, {invalid} invalid"
        );
    }

    /// A tiny budget turns a hard search into unknown rather than a pass.
    #[test]
    fn exhausted_budget_is_unknown() {
        let h = simulate(3, 400, 8, 1);
        let r = check_with_budget(&h, 10);
        assert_eq!(r.validity, Validity::Unknown, "{r:?}");
    }
}
