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
}
