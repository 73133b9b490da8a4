//! A strict check that an input line is exactly one JSON object, so that the record can embed
//! it raw instead of escaping it into a string.
//!
//! What this accepts must be a subset of what `serde_json` reads back as a `RawValue` (the
//! record's reader), or a record would not parse: the grammar is RFC 8259's, nesting is capped
//! at [`MAX_DEPTH`], and the line must start with `{` and end with `}` (no whitespace around
//! it, which the reader would not give back). Anything else is recorded as a string instead,
//! so a false "no" costs only speed, never exactness.

/// Containers nested deeper than this are not checked: the line is recorded as a string.
pub(crate) const MAX_DEPTH: usize = 100;

/// Bytes that end the fast scan of a string's contents: `"`, `\`, control characters and
/// non-ASCII (checked as UTF-8 at the end).
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b < 0x20 || b >= 0x80 || b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    table
};

/// Whether `line` is one JSON object, `{` first and `}` last, that `serde_json` parses.
pub(crate) fn is_object(line: &[u8]) -> bool {
    if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
        return false;
    }
    scan(line).is_some_and(|non_ascii| !non_ascii || std::str::from_utf8(line).is_ok())
}

/// Scans `bytes` as one JSON value filling it; `Some(whether a string held non-ASCII)` when
/// it is one. One pass, no recursion (a bit per open container says object or array), and
/// an object's members read key, colon and value in one go, since that is most of a line.
fn scan(bytes: &[u8]) -> Option<bool> {
    let mut open = Open::default();
    let mut non_ascii = false;
    let mut at = 0;
    'value: loop {
        // `at` is where a value starts, perhaps after whitespace.
        at = skip_whitespace(bytes, at)?;
        match bytes[at] {
            b'{' | b'[' => {
                let object = bytes[at] == b'{';
                open.push(object)?;
                at = skip_whitespace(bytes, at + 1)?;
                if bytes[at] != if object { b'}' } else { b']' } {
                    if object {
                        at = key(bytes, at, &mut non_ascii)?;
                    }
                    continue 'value;
                }
                open.pop();
                at += 1;
            }
            _ => at = scalar(bytes, at, &mut non_ascii)?,
        }
        // After a value: a comma and the next member, or closing brackets.
        loop {
            if open.depth == 0 {
                return (at == bytes.len()).then_some(non_ascii);
            }
            at = skip_whitespace(bytes, at)?;
            match bytes[at] {
                b',' if open.object => {
                    at = skip_whitespace(bytes, at + 1)?;
                    at = key(bytes, at, &mut non_ascii)?;
                    continue 'value;
                }
                b',' => {
                    at += 1;
                    continue 'value;
                }
                b'}' if open.object => open.pop(),
                b']' if !open.object => open.pop(),
                _ => return None,
            }
            at += 1;
        }
    }
}

/// The index of the first byte from `at` that is not whitespace, if there is one.
#[inline(always)]
fn skip_whitespace(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match *bytes.get(at)? {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            _ => return Some(at),
        }
    }
}

/// A key and its colon, the key's opening quote at `at`; the index after the colon.
#[inline(always)]
fn key(bytes: &[u8], at: usize, non_ascii: &mut bool) -> Option<usize> {
    (bytes[at] == b'"').then_some(())?;
    let at = skip_whitespace(bytes, string(bytes, at + 1, non_ascii)?)?;
    (bytes[at] == b':').then_some(at + 1)
}

/// The open containers: a bit each, set for an object.
#[derive(Default)]
struct Open {
    kinds: u128,
    depth: usize,
    /// Whether the innermost is an object.
    object: bool,
}

impl Open {
    fn push(&mut self, object: bool) -> Option<()> {
        (self.depth < MAX_DEPTH).then_some(())?;
        self.kinds = self.kinds & !(1 << self.depth) | u128::from(object) << self.depth;
        self.depth += 1;
        self.object = object;
        Some(())
    }

    fn pop(&mut self) {
        self.depth -= 1;
        self.object = self.depth > 0 && self.kinds >> (self.depth - 1) & 1 == 1;
    }
}

/// A string, number or literal starting at `at`; the index after it.
fn scalar(bytes: &[u8], at: usize, non_ascii: &mut bool) -> Option<usize> {
    match bytes[at] {
        b'"' => string(bytes, at + 1, non_ascii),
        b'-' | b'0'..=b'9' => number(bytes, at),
        b't' => literal(bytes, at, b"true"),
        b'f' => literal(bytes, at, b"false"),
        b'n' => literal(bytes, at, b"null"),
        _ => None,
    }
}

/// A string's contents from `at` (after its opening quote); the index after its closing quote.
#[inline(always)]
fn string(bytes: &[u8], mut at: usize, non_ascii: &mut bool) -> Option<usize> {
    loop {
        // Byte by byte: the strings of Maelstrom's messages are mostly a few bytes long.
        while !STRING_STOP[usize::from(*bytes.get(at)?)] {
            at += 1;
        }
        match bytes[at] {
            b'"' => return Some(at + 1),
            b'\\' => at = escape(bytes, at)?,
            0x80.. => {
                *non_ascii = true;
                at += 1;
            }
            _ => return None,
        }
    }
}

/// An escape at `at` (its backslash); the index after it.
fn escape(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 2),
        b'u' => {
            let hex = bytes.get(at + 2..at + 6)?;
            hex.iter().all(u8::is_ascii_hexdigit).then_some(at + 6)
        }
        _ => None,
    }
}

/// A number at `at`: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?; the index
/// after it.
fn number(bytes: &[u8], mut at: usize) -> Option<usize> {
    if bytes[at] == b'-' {
        at += 1;
    }
    match *bytes.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at = digits(bytes, at),
        _ => return None,
    }
    if bytes.get(at) == Some(&b'.') {
        at = some_digits(bytes, at + 1)?;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        at = some_digits(bytes, at)?;
    }
    Some(at)
}

fn digits(bytes: &[u8], at: usize) -> usize {
    let run = bytes[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    at + run
}

/// At least one digit from `at`; the index after them.
fn some_digits(bytes: &[u8], at: usize) -> Option<usize> {
    let end = digits(bytes, at.min(bytes.len()));
    (end > at).then_some(end)
}

fn literal(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    let end = at + word.len();
    (bytes.get(at..end)? == word).then_some(end)
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
