//! Handler panics, caught and reported through `log`: once in full per place, then sparingly.
//!
//! A node that panics on every read would otherwise print Rust's panic message (and, with
//! `RUST_BACKTRACE`, a backtrace) for each one: thousands of lines of node log that say the
//! same thing. While a handler runs under [`catching`], the panic hook installed here passes
//! only the first panic at each place to the hook that was there before (Rust's message and
//! backtrace, once), and notes the place; the node then logs it at error level: the first
//! three times at a place, then the 10th, 100th, 1000th... with the count. A panic anywhere
//! else goes to the previous hook, as if this one did not exist.

use std::cell::{Cell, RefCell};
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether a handler runs under `catching` on this thread.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// Where the last caught panic happened, and how many times there so far.
    static CAUGHT: RefCell<Option<(String, u64)>> = const { RefCell::new(None) };
    /// Panics caught so far on this thread, per place (a handful of places at most).
    static COUNTS: RefCell<Vec<(String, u64)>> = const { RefCell::new(Vec::new()) };
}

static HOOK: Once = Once::new();

/// Runs `f`; a panic in it becomes `Err(what it said and where)`, logged as above.
pub(super) fn catching<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    HOOK.call_once(install);
    let outer = CATCHING.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(outer));
    let payload = match result {
        Ok(value) => return Ok(value),
        Err(payload) => payload,
    };
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    let (place, count) = CAUGHT
        .with(|c| c.borrow_mut().take())
        .unwrap_or_else(|| ("an unknown place".into(), 1));
    if is_logged(count) {
        let times = if count > 3 {
            format!(" ({count} times there so far)")
        } else {
            String::new()
        };
        log::error!("handler panicked at {place}: {what}{times}");
    }
    Err(format!("handler panicked: {what}"))
}

/// Whether the `count`th panic at a place is logged: the first three, then every power of ten.
fn is_logged(count: u64) -> bool {
    count <= 3 || is_power_of_ten(count)
}

fn is_power_of_ten(mut n: u64) -> bool {
    while n % 10 == 0 && n > 1 {
        n /= 10;
    }
    n == 1
}

fn install() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !CATCHING.with(Cell::get) {
            return previous(info);
        }
        let place = info.location().map_or_else(
            || "an unknown place".to_owned(),
            |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
        );
        let count = COUNTS.with(|counts| {
            let mut counts = counts.borrow_mut();
            if let Some((_, count)) = counts.iter_mut().find(|(p, _)| *p == place) {
                *count += 1;
                return *count;
            }
            counts.push((place.clone(), 1));
            1
        });
        if count == 1 {
            previous(info);
        }
        CAUGHT.with(|c| *c.borrow_mut() = Some((place, count)));
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_the_hook_stays_quiet() {
        assert_eq!(catching(|| 7), Ok(7));
        for _ in 0..25 {
            let caught = catching(|| -> u8 { panic!("boom {}", 1) });
            assert_eq!(caught, Err("handler panicked: boom 1".to_owned()));
        }
        let counts = COUNTS.with(|c| c.borrow().iter().map(|(_, n)| *n).max());
        assert_eq!(counts, Some(25), "one place, counted");
        assert!(CAUGHT.with(|c| c.borrow().is_none()), "taken each time");
        assert!(!CATCHING.with(Cell::get));
    }

    #[test]
    fn logged_counts_are_the_first_three_then_powers_of_ten() {
        let logged: Vec<u64> = (1..=2000).filter(|&n| is_logged(n)).collect();
        assert_eq!(logged, [1, 2, 3, 10, 100, 1000]);
    }
}
