//! A strict check that an input line is exactly one JSON object, so that the record can embed
//! it raw instead of escaping it into a string.
//!
//! What this accepts must be a subset of what `serde_json` reads back as a `RawValue` (the
//! record's reader), or a record would not parse: the grammar is RFC 8259's, nesting is capped
//! at [`MAX_DEPTH`], and the line must start with `{` and end with `}` (no whitespace around
//! it, which the reader would not give back). Anything else is recorded as a string instead,
//! so a false "no" costs only speed, never exactness.
//!
//! It runs on every input line of a recorded run, so it is written for Maelstrom's lines:
//! compact (whitespace is allowed, but looked for only where the expected byte is not there),
//! with short strings and numbers. Strings and runs of digits are scanned eight bytes at a
//! time in a `u64` ("SWAR"), and what usually follows a string (a key's `:`, a value's `,"`
//! before the next key) is checked in the word that held its closing quote.

/// Containers nested deeper than this are not checked: the line is recorded as a string.
pub(crate) const MAX_DEPTH: usize = 100;

/// Whether `line` is one JSON object, `{` first and `}` last, that `serde_json` parses.
pub(crate) fn is_object(line: &[u8]) -> bool {
    if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
        return false;
    }
    scan(line).is_some_and(|non_ascii| !non_ascii || std::str::from_utf8(line).is_ok())
}

/// Scans `line` as one JSON value filling it, `{` first; `Some(whether a string held
/// non-ASCII)` when it is one. One pass, no recursion (the open containers are a stack of
/// bits), each step taking the bytes left and giving back those after it. The order of the
/// steps and of the tests in them is the one that measured fastest: small changes here move
/// the compiler's register allocation more than they move the work.
fn scan(line: &[u8]) -> Option<bool> {
    let mut open = Open::NONE;
    let mut strings = Strings {
        swar: Swar::get(),
        non_ascii: false,
    };
    let mut rest = line;
    'value: loop {
        // `rest` starts with a value, perhaps after whitespace. The likeliest first.
        let (&first, after) = rest.split_first()?;
        // Whether a comma after the value was read with it.
        let mut comma = false;
        match first {
            _ if first == b'"' => {
                // A string; then, as long as it is followed by `,"`, the next string: an
                // array's next value, or an object's next key and its colon.
                rest = after;
                loop {
                    // In a string value.
                    let quoted;
                    (rest, quoted) = string(rest, b",\"", &mut strings)?;
                    if !quoted {
                        break;
                    }
                    if !open.in_object() {
                        continue;
                    }
                    // In a key.
                    let colon;
                    (rest, colon) = string(rest, b":", &mut strings)?;
                    if !colon {
                        rest = skip_whitespace(rest).strip_prefix(b":")?;
                    }
                    continue 'value;
                }
            }
            b'0'..=b'9' | b'-' => (rest, comma) = number(rest, b',')?,
            b'{' => {
                open.push(true)?;
                rest = skip_whitespace(after);
                if rest.first() != Some(&b'}') {
                    rest = key(rest, &mut strings)?;
                    continue;
                }
                // Empty: `rest` starts with the `}`, which closes it below.
            }
            b'[' => {
                open.push(false)?;
                rest = skip_whitespace(after);
                if rest.first() != Some(&b']') {
                    continue;
                }
            }
            b't' => rest = rest.strip_prefix(b"true")?,
            b'f' => rest = rest.strip_prefix(b"false")?,
            b'n' => rest = rest.strip_prefix(b"null")?,
            b' ' | b'\t' | b'\r' | b'\n' => {
                rest = skip_whitespace(after);
                continue;
            }
            _ => return None,
        }
        // After a value: closing brackets, then a comma.
        while !comma {
            let (&next, after) = rest.split_first()?;
            rest = after;
            if next == b',' {
                comma = true;
            } else if next == open.close() {
                if open.pop() {
                    // The outermost object closed: it must be the whole line.
                    return rest.is_empty().then_some(strings.non_ascii);
                }
            } else if is_whitespace(next) {
                rest = skip_whitespace(rest);
            } else {
                return None;
            }
        }
        // After a comma: an object's next key, or an array's next value.
        if open.in_object() {
            rest = key(rest, &mut strings)?;
        }
    }
}

#[inline(always)]
fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// `bytes` from their first byte that is not whitespace.
#[inline(always)]
fn skip_whitespace(mut bytes: &[u8]) -> &[u8] {
    while let Some((&byte, after)) = bytes.split_first() {
        if !is_whitespace(byte) {
            break;
        }
        bytes = after;
    }
    bytes
}

/// A key and its colon at the start of `rest` (perhaps after whitespace); what follows the
/// colon.
#[inline(always)]
fn key<'a>(mut rest: &'a [u8], strings: &mut Strings) -> Option<&'a [u8]> {
    if rest.first() != Some(&b'"') {
        rest = skip_whitespace(rest);
    }
    let (rest, colon) = string(rest.strip_prefix(b"\"")?, b":", strings)?;
    if colon {
        return Some(rest);
    }
    skip_whitespace(rest).strip_prefix(b":")
}

/// The open containers: a bit each, innermost lowest, set for an object, under a 1.
#[derive(Clone, Copy)]
struct Open(u128);

impl Open {
    const NONE: Open = Open(1);

    /// Opens an object or an array; `None` past [`MAX_DEPTH`].
    #[inline(always)]
    fn push(&mut self, object: bool) -> Option<()> {
        // Fewer than MAX_DEPTH open: the leading 1 is below bit MAX_DEPTH.
        (self.0 >> MAX_DEPTH == 0).then_some(())?;
        self.0 = self.0 << 1 | u128::from(object);
        Some(())
    }

    #[inline(always)]
    fn in_object(self) -> bool {
        self.0 & 1 == 1
    }

    /// The byte that closes the innermost.
    #[inline(always)]
    fn close(self) -> u8 {
        if self.in_object() {
            b'}'
        } else {
            b']'
        }
    }

    /// Closes the innermost; whether it was the last.
    #[inline(always)]
    fn pop(&mut self) -> bool {
        self.0 >>= 1;
        self.0 == 1
    }
}

/// A string's contents and closing quote at the start of `rest` (after its opening quote);
/// what follows them, and whether that started with `then` (the bytes a caller expects
/// next, which are then skipped too: they are in the word that held the quote, most of the
/// time).
#[inline(always)]
fn string<'a>(mut rest: &'a [u8], then: &[u8], strings: &mut Strings) -> Option<(&'a [u8], bool)> {
    loop {
        // Eight bytes at a time while there are eight, then one at a time.
        let stop = match rest.first_chunk::<8>() {
            Some(chunk) => {
                let word = u64::from_le_bytes(*chunk);
                let stops = string_stops(word, strings.swar);
                if stops == 0 {
                    rest = &rest[8..];
                    continue;
                }
                let high_bit = stops.trailing_zeros();
                let skip = (high_bit / 8) as usize;
                // The stop and the bytes after it, zeros past the word.
                let from_stop = word >> (high_bit - 7);
                let (expected, mask) = match *then {
                    [a] => (u64::from_le_bytes([b'"', a, 0, 0, 0, 0, 0, 0]), 0xffff),
                    [a, b] => (u64::from_le_bytes([b'"', a, b, 0, 0, 0, 0, 0]), 0xff_ffff),
                    _ => (1, 0),
                };
                if from_stop & mask == expected {
                    return Some((rest.get(skip + 1 + then.len()..)?, true));
                }
                rest = &rest[skip + 1..];
                from_stop as u8
            }
            None => {
                let (&byte, after) = rest.split_first()?;
                rest = after;
                if !is_string_stop(byte) {
                    continue;
                }
                byte
            }
        };
        match stop {
            b'"' => {
                return Some(match rest.strip_prefix(then) {
                    Some(after) => (after, true),
                    None => (rest, false),
                })
            }
            b'\\' => rest = escape(rest)?,
            0x80.. => strings.non_ascii = true,
            _ => return None,
        }
    }
}

/// Whether `byte` ends the plain run of a string's contents: `"`, `\`, a control character or
/// non-ASCII (checked as UTF-8 at the end).
#[inline(always)]
fn is_string_stop(byte: u8) -> bool {
    !(0x20..0x80).contains(&byte) || byte == b'"' || byte == b'\\'
}

/// What scanning strings takes and finds.
struct Strings {
    swar: &'static Swar,
    /// Whether a string held non-ASCII.
    non_ascii: bool,
}

/// `0x80` in each byte of a word: its high bits.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// `byte` in each byte of a word.
const fn splat(byte: u8) -> u64 {
    byte as u64 * 0x0101_0101_0101_0101
}

/// The constants of [`string_stops`], each a byte in every byte of a word.
struct Swar {
    x02: u64,
    x21: u64,
    backslash: u64,
    x01: u64,
}

static SWAR: Swar = Swar {
    x02: splat(0x02),
    x21: splat(0x21),
    backslash: splat(b'\\'),
    x01: splat(0x01),
};

impl Swar {
    /// The constants, through a reference the compiler cannot see through. As known values,
    /// it would rebuild each 64-bit immediate in the loops with an instruction of its own
    /// (x86 has no 64-bit immediate operands); as unknown ones it folds them into the loops'
    /// instructions as memory operands: some 40 instructions fewer on a 92-byte line.
    #[inline(always)]
    fn get() -> &'static Swar {
        std::hint::black_box(&SWAR)
    }
}

/// The high bit of each byte of `word` (little-endian) that [`is_string_stop`]. Exact for
/// the lowest such byte, which is all that is read: bytes above it may be marked too.
#[inline(always)]
fn string_stops(word: u64, swar: &Swar) -> u64 {
    // Flipping bit 1 takes `"` (0x22) to 0x20 and keeps control characters below it, so those
    // borrow when 0x21 is taken away; `\` xors to 0 and borrows when 1 is; non-ASCII has
    // its own high bit. A borrow may set the next byte's high bit, and non-ASCII may set
    // others, but only above a byte that stops anyway.
    ((word ^ swar.x02).wrapping_sub(swar.x21)
        | (word ^ swar.backslash).wrapping_sub(swar.x01)
        | word)
        & HIGH
}

/// An escape at the start of `rest` (after its backslash); what follows it.
fn escape(rest: &[u8]) -> Option<&[u8]> {
    let (&kind, after) = rest.split_first()?;
    match kind {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(after),
        b'u' => {
            let (hex, after) = after.split_first_chunk::<4>()?;
            hex.iter().all(u8::is_ascii_hexdigit).then_some(after)
        }
        _ => None,
    }
}

/// A number at the start of `rest`: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]?
/// [0-9]+)?; what follows it, and whether that started with `then` (skipped too).
#[inline(always)]
fn number(rest: &[u8], then: u8) -> Option<(&[u8], bool)> {
    // The integer part, and the byte after it (0 at the end).
    let (rest, next) = match rest {
        // One digit is the commonest: the byte after it is read as it is.
        [b'1'..=b'9', next, ..] if !next.is_ascii_digit() => (&rest[1..], *next),
        [b'1'..=b'9', ..] => digits(rest),
        _ => signed_or_zero(rest)?,
    };
    if next == then {
        return Some((rest.get(1..)?, true));
    }
    if matches!(next, b'.' | b'e' | b'E') {
        return Some((fraction_exponent(rest)?, false));
    }
    Some((rest, false))
}

/// [`number`]'s integer part when it does not start with a nonzero digit; what follows it,
/// and the byte after it (0 at the end).
fn signed_or_zero(rest: &[u8]) -> Option<(&[u8], u8)> {
    let rest = rest.strip_prefix(b"-").unwrap_or(rest);
    let rest = match rest {
        [b'1'..=b'9', ..] => return Some(digits(rest)),
        [b'0', after @ ..] => after,
        _ => return None,
    };
    Some((rest, rest.first().copied().unwrap_or(0)))
}

/// A number's fraction and exponent, either optional, at the start of `rest`; what follows
/// them.
fn fraction_exponent(mut rest: &[u8]) -> Option<&[u8]> {
    if let Some(after) = rest.strip_prefix(b".") {
        rest = some_digits(after)?;
    }
    if let Some(after) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let after = after
            .strip_prefix(b"+")
            .or_else(|| after.strip_prefix(b"-"))
            .unwrap_or(after);
        rest = some_digits(after)?;
    }
    Some(rest)
}

/// `rest` after the digits it starts with, and the byte after them (0 at the end).
#[inline(always)]
fn digits(mut rest: &[u8]) -> (&[u8], u8) {
    while let Some(chunk) = rest.first_chunk::<8>() {
        let word = u64::from_le_bytes(*chunk);
        // A byte's high bit is set in the first term when it is below `0` (0x30, it borrows)
        // or 0xb0 or more, in the second when it is above `9` (0x39, it reaches 0x80) and
        // below 0xba (it carries). A borrow or a carry may set the next byte's bit, but only
        // above a byte that is not a digit: the lowest bit set is exact.
        let stops = (word.wrapping_sub(splat(b'0')) | word.wrapping_add(splat(0x80 - 0x3a))) & HIGH;
        if stops != 0 {
            let high_bit = stops.trailing_zeros();
            let stop = (word >> (high_bit - 7)) as u8;
            return (&rest[(high_bit / 8) as usize..], stop);
        }
        rest = &rest[8..];
    }
    let run = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    (&rest[run..], rest.get(run).copied().unwrap_or(0))
}

/// `rest` after the digits it starts with, if there is one.
fn some_digits(rest: &[u8]) -> Option<&[u8]> {
    let (after, _) = digits(rest);
    (after.len() < rest.len()).then_some(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    /// What the record's reader would make of the line embedded raw.
    fn serde_reads_back(line: &str) -> bool {
        serde_json::from_str::<&RawValue>(line).is_ok_and(|raw| raw.get() == line)
    }

    #[test]
    fn objects_serde_reads_back_are_accepted() {
        let good = [
            r#"{}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hi"}}"#,
            r#"{ "a" : [ 1 , -0.5e+3, 0, 10E2, true, false, null, [], {} ] }"#,
            "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD800\",\t\"b\":\"é ü 字\"}",
            r#"{"a":{"b":{"c":[[[1]]]}}}"#,
        ];
        for line in good {
            assert!(serde_reads_back(line), "{line}");
            assert!(is_object(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let bad: [&[u8]; 20] = [
            b"",
            b" {}",
            b"{} ",
            b"[1]",
            b"\"x\"",
            b"{",
            b"{}}",
            b"{}{}",
            br#"{"a":01}"#,
            br#"{"a":1.}"#,
            br#"{"a":.5}"#,
            br#"{"a":1e}"#,
            br#"{"a":-}"#,
            br#"{"a":tru}"#,
            br#"{"a":"\x"}"#,
            br#"{"a":"\u12G4"}"#,
            b"{\"a\":\"\x01\"}",
            br#"{"a":1,}"#,
            br#"{a:1}"#,
            b"{\"a\":\"\xff\"}",
        ];
        for line in bad {
            assert!(!is_object(line), "{}", String::from_utf8_lossy(line));
        }
        let deep = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(!is_object(deep.as_bytes()));
        let ok = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(is_object(ok.as_bytes()));
    }

    /// Every line one byte away from valid ones (each byte replaced by each of the bytes
    /// JSON cares about, or deleted) is accepted only if serde reads it back: the check never
    /// says yes where the record's reader would fail.
    #[test]
    fn no_mutation_is_accepted_that_serde_refuses() {
        let seeds = [
            r#"{"a":[1,-2.5e+3,0,"x\u0041\n"],"b":{"c":null,"d":true,"e":false}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":12,"echo":"é"}}"#,
        ];
        let alphabet = b"{}[]\":,.-+eE019 \\/utfnrlsa\x01\x7f\xc3\xa9";
        let mut accepted = 0;
        for seed in seeds {
            let seed = seed.as_bytes();
            for at in 0..seed.len() {
                let mut deleted = seed.to_vec();
                deleted.remove(at);
                let replaced = alphabet.iter().map(|&b| {
                    let mut line = seed.to_vec();
                    line[at] = b;
                    line
                });
                for line in replaced.chain([deleted]) {
                    if is_object(&line) {
                        accepted += 1;
                        let text = std::str::from_utf8(&line).expect("accepted lines are UTF-8");
                        assert!(serde_reads_back(text), "{text}");
                    }
                }
            }
        }
        assert!(
            accepted > 100,
            "the mutations include valid lines: {accepted}"
        );
    }

    /// Every prefix of a valid line but itself is refused, and never read past its end.
    #[test]
    fn truncations_are_refused() {
        let line = r#"{"a":[1,2.5e3,"x\u0041"],"b":{"c":null}}"#;
        for end in 0..line.len() {
            let cut = &line.as_bytes()[..end];
            assert!(!is_object(cut), "{}", String::from_utf8_lossy(cut));
        }
        assert!(is_object(line.as_bytes()));
    }

    /// Random lines, from valid objects and from them mutated and spliced, against serde: for
    /// every line with `{` first and `}` last, the check says yes exactly when serde reads the
    /// line back and its nesting is within [`MAX_DEPTH`]; for any other line it says no.
    #[test]
    fn agrees_with_serde_on_random_lines() {
        let mut gen = Gen {
            rng: crate::rng::Rng::new(0x6a73_6f6e),
            out: Vec::new(),
            sloppy: false,
        };
        let mut pool: Vec<Vec<u8>> = Vec::new();
        let (mut yes, mut no, mut unbraced) = (0, 0, 0);
        for n in 0..200_000 {
            // A quarter are generated with mistakes; half get one to three mutations.
            gen.sloppy = gen.below(4) == 0;
            gen.out.clear();
            gen.object(0);
            let mut line = std::mem::take(&mut gen.out);
            if n % 2 == 0 {
                for _ in 0..1 + gen.below(3) {
                    gen.mutate(&mut line, &pool);
                }
            }
            let accepted = is_object(&line);
            if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
                assert!(!accepted, "{}", String::from_utf8_lossy(&line));
                unbraced += 1;
            } else {
                // Deeper than the cap, serde may read what the check refuses.
                let expected = std::str::from_utf8(&line).is_ok_and(serde_reads_back)
                    && depth(&line) <= MAX_DEPTH;
                assert_eq!(accepted, expected, "{}", String::from_utf8_lossy(&line));
                *if accepted { &mut yes } else { &mut no } += 1;
            }
            if n % 7 == 0 {
                let slot = gen.below(64);
                match pool.get_mut(slot) {
                    Some(old) => old.clone_from(&line),
                    None => pool.push(line.clone()),
                }
            }
            // The buffer, for the next line.
            gen.out = line;
        }
        // Both answers are common, so neither side is tested only on one.
        assert!(
            yes > 60_000 && no > 60_000,
            "{yes} yes, {no} no, {unbraced} unbraced"
        );
    }

    /// The deepest nesting of a line serde read, counting brackets outside strings.
    fn depth(line: &[u8]) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0, 0, false, false);
        for &b in line {
            match b {
                _ if escaped => escaped = false,
                b'\\' if in_string => escaped = true,
                b'"' => in_string = !in_string,
                b'{' | b'[' if !in_string => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b'}' | b']' if !in_string => depth -= 1,
                _ => {}
            }
        }
        deepest
    }

    /// A generator of JSON text into `out`: valid, unless `sloppy`.
    struct Gen {
        rng: crate::rng::Rng,
        out: Vec<u8>,
        sloppy: bool,
    }

    impl Gen {
        /// A number in `[0, n)`: multiplied and shifted, without `Rng::below`'s division (its
        /// bias is no matter here).
        fn below(&mut self, n: usize) -> usize {
            ((u128::from(self.rng.next_u64()) * n as u128) >> 64) as usize
        }

        fn pick<'a>(&mut self, choices: &[&'a [u8]]) -> &'a [u8] {
            choices[self.below(choices.len())]
        }

        /// One of the first `valid` of `choices` (those that are JSON), or of all when sloppy.
        fn pick_sloppy<'a>(&mut self, valid: usize, choices: &[&'a [u8]]) -> &'a [u8] {
            let n = if self.sloppy { choices.len() } else { valid };
            choices[self.below(n)]
        }

        /// Whitespace between tokens, now and then (when sloppy, now and then not JSON's).
        fn space(&mut self) {
            if self.below(12) == 0 {
                let space = self.pick_sloppy(
                    5,
                    &[b" ", b"\t", b"\r\n", b"  ", b"\n ", b"\x0c", b"\xc2\xa0"],
                );
                self.out.extend_from_slice(space);
            }
        }

        fn object(&mut self, depth: usize) {
            self.out.push(b'{');
            self.space();
            for member in 0..self.below(5) {
                if member > 0 {
                    self.out.push(b',');
                    self.space();
                }
                self.string();
                self.space();
                self.out.push(b':');
                self.space();
                self.value(depth + 1);
                self.space();
            }
            self.out.push(b'}');
        }

        fn value(&mut self, depth: usize) {
            match self.below(if depth < 4 { 12 } else { 8 }) {
                0..=2 => self.string(),
                3..=5 => self.number(),
                6 => {
                    let literal =
                        self.pick_sloppy(3, &[b"true", b"false", b"null", b"nul", b"True"]);
                    self.out.extend_from_slice(literal);
                }
                7 if self.below(50) == 0 => {
                    // Nesting around the cap, a few levels either side.
                    let levels = MAX_DEPTH - 3 + self.below(6) - depth.min(MAX_DEPTH - 3);
                    let (open, close) = if self.below(2) == 0 {
                        (&b"["[..], &b"]"[..])
                    } else {
                        (&b"{\"k\":"[..], &b"}"[..])
                    };
                    (0..levels).for_each(|_| self.out.extend_from_slice(open));
                    self.number();
                    (0..levels).for_each(|_| self.out.extend_from_slice(close));
                }
                7 => self.out.extend_from_slice(b"0"),
                8 | 9 => self.object(depth),
                _ => {
                    self.out.push(b'[');
                    self.space();
                    for element in 0..self.below(6) {
                        if element > 0 {
                            self.out.push(b',');
                            self.space();
                        }
                        self.value(depth + 1);
                        self.space();
                    }
                    self.out.push(b']');
                }
            }
        }

        fn string(&mut self) {
            self.out.push(b'"');
            let most = if self.below(4) == 0 { 40 } else { 8 };
            for _ in 0..self.below(most) {
                let piece: &[u8] = match self.below(20) {
                    0 => self.pick(&[
                        b"\\\"",
                        b"\\\\",
                        b"\\/",
                        b"\\b",
                        b"\\f",
                        b"\\n",
                        b"\\r",
                        b"\\t",
                        b"\\u00e9",
                        b"\\uD83D\\uDE00",
                        b"\\uDC00",
                        b"\\uABCD",
                    ]),
                    1 => self.pick_sloppy(
                        4,
                        &[
                            b"\xc3\xa9",
                            b"\xe5\xad\x97",
                            b"\xf0\x9f\x98\x80",
                            b"\x7f",
                            b"\\u12G4",
                            b"\\x",
                            b"\\u12",
                            b"\\U0041",
                            b"\\'",
                            b"\\",
                            b"\x01",
                            b"\x1f",
                            b"\t",
                            b"\xff",
                            b"\x80",
                            b"\xe5\xad",
                            b"\xc0\xaf",
                            b"\xed\xa0\x80",
                            b"\xf4\x90\x80\x80",
                            b"\"",
                        ],
                    ),
                    2..=4 => b" ",
                    _ => {
                        let letter = b'a' + self.below(26) as u8;
                        self.out.push(letter);
                        continue;
                    }
                };
                self.out.extend_from_slice(piece);
            }
            self.out.push(b'"');
        }

        fn number(&mut self) {
            if self.below(4) == 0 {
                self.out.push(b'-');
            }
            let digits = if self.below(3) == 0 { 20 } else { 6 };
            match self.below(12) {
                0 => self.out.push(b'0'),
                1 => {
                    let broken = self.pick_sloppy(1, &[b"0", b"01", b"-", b"+1", b".5", b"00"]);
                    self.out.extend_from_slice(broken);
                }
                _ => {
                    let first = b'1' + self.below(9) as u8;
                    self.out.push(first);
                    self.digits(digits);
                }
            }
            if self.below(5) == 0 {
                self.out.push(b'.');
                self.digits(digits);
            }
            if self.below(5) == 0 {
                let exponent = self.pick(&[b"e", b"E", b"e+", b"E-", b"e-"]);
                self.out.extend_from_slice(exponent);
                self.digits(4);
            }
        }

        /// Up to `most` digits, perhaps none.
        fn digits(&mut self, most: usize) {
            for _ in 0..self.below(most + 1) {
                let digit = b'0' + self.below(10) as u8;
                self.out.push(digit);
            }
        }

        /// Changes `line` a little: a byte replaced, inserted or deleted, a run of it
        /// repeated or cut, or a piece of another line spliced in.
        fn mutate(&mut self, line: &mut Vec<u8>, pool: &[Vec<u8>]) {
            let alphabet = b"{}[]\":,.-+eE0159 \t\n\\/ubfnrtlsa\x00\x01\x1f\x7f\x80\xc3\xa9\xff";
            let at = self.below(line.len() + 1);
            let byte = match self.below(4) {
                0 => self.below(256) as u8,
                _ => alphabet[self.below(alphabet.len())],
            };
            let end = (at + 1 + self.below(12)).min(line.len());
            match self.below(6) {
                0 if at < line.len() => line[at] = byte,
                1 => line.insert(at, byte),
                2 if at < line.len() => drop(line.remove(at)),
                3 if at < end => {
                    let run = line[at..end].to_vec();
                    line.splice(at..at, run);
                }
                4 => drop(line.drain(at..end)),
                _ if !pool.is_empty() => {
                    let other = &pool[self.below(pool.len())];
                    let from = self.below(other.len());
                    let to = (from + 1 + self.below(24)).min(other.len());
                    line.splice(at..end, other[from..to].iter().copied());
                }
                _ => {}
            }
        }
    }
}
