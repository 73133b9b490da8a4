//! Incoming messages: the envelope scanner, raw field access and typed body decoding.
//!
//! A line is scanned once, without allocating, for the envelope (`src`, `dest`, the span of
//! `body`) and the body's protocol keys (`type`, `msg_id`, `in_reply_to`); every other key is
//! skipped structurally. The user's typed decode ([`Message::body`]) is then the only full
//! serde pass over the body, which keeps the per-message cost close to a hand-written parser.
//! Unknown keys are ignored everywhere (Maelstrom adds a top-level `id`). The scanner checks
//! structure (strings, brackets, the integer ids); serde checks the rest when a field is read.
//!
//! This module owns parsing only: what to do with a message is the node's business.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::time::Instant;

/// Containers nested deeper than this inside a skipped value make the line malformed.
pub const MAX_NESTING: usize = 128;

/// Strings up to this long are scanned byte by byte before the vectorised search.
const SHORT_STRING: usize = 32;

/// A message as received: envelope plus body, borrowed from the input line.
///
/// Raw access: [`src`](Message::src), [`kind`](Message::kind), [`msg_id`](Message::msg_id),
/// [`get`](Message::get), [`field`](Message::field). Typed access: [`body`](Message::body).
#[derive(Clone, Debug)]
pub struct Message<'a> {
    src: Cow<'a, str>,
    dest: Cow<'a, str>,
    body: &'a str,
    kind: Cow<'a, str>,
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
    received_at: Instant,
}

/// Whom to answer: the `src` and `msg_id` of a request, owned, so that a reply can be sent
/// later (from an RPC continuation or a timer) after the message itself is gone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The requester's node id.
    pub src: String,
    /// The request's `msg_id`, if it had one.
    pub msg_id: Option<u64>,
    /// When the request arrived: a reply to a Maelstrom client that comes too late is
    /// dropped (see [`Handler::CLIENT_TIMEOUT`](crate::Handler::CLIENT_TIMEOUT)).
    pub received_at: Instant,
}

/// Anything a reply can be addressed to: a [`Message`] or an [`Origin`].
pub trait ReplyTo {
    /// The node that sent the request.
    fn src(&self) -> &str;
    /// The request's `msg_id`; without one there is no reply to send.
    fn msg_id(&self) -> Option<u64>;
    /// When the request arrived, if known; [`Ctx::reply`](crate::Ctx::reply) uses it to
    /// drop answers that a Maelstrom client has stopped waiting for.
    fn received_at(&self) -> Option<Instant> {
        None
    }
}

/// Why a line was rejected, with whatever of the envelope could be read so that the sender
/// can still be told (an error reply needs `src` and `msg_id`).
#[derive(Debug)]
pub(crate) struct Rejected<'a> {
    pub(crate) reason: String,
    pub(crate) src: Option<Cow<'a, str>>,
    pub(crate) dest: Option<Cow<'a, str>>,
    pub(crate) msg_id: Option<u64>,
    pub(crate) in_reply_to: Option<u64>,
}

impl<'a> Rejected<'a> {
    /// Fills in what the scanner stopped before reaching (it stops at the first fault, so a
    /// `msg_id` after a bad `type` is not read), when the line is JSON all the same. Only a
    /// rejected line pays for this second parse.
    fn salvaged(mut self, line: &str) -> Rejected<'a> {
        /// Every field raw, so that one of the wrong type spoils only itself.
        #[derive(Deserialize)]
        struct Fields<'a> {
            #[serde(borrow)]
            src: Option<&'a RawValue>,
            #[serde(borrow)]
            dest: Option<&'a RawValue>,
            #[serde(borrow)]
            body: Option<&'a RawValue>,
            #[serde(borrow)]
            msg_id: Option<&'a RawValue>,
            #[serde(borrow)]
            in_reply_to: Option<&'a RawValue>,
        }
        fn fields(json: &str) -> Option<Fields<'_>> {
            serde_json::from_str(json).ok()
        }
        fn text(raw: Option<&RawValue>) -> Option<Cow<'static, str>> {
            serde_json::from_str::<String>(raw?.get())
                .ok()
                .map(Cow::Owned)
        }
        fn id(raw: Option<&RawValue>) -> Option<u64> {
            serde_json::from_str(raw?.get()).ok()
        }
        if self.src.is_some() && (self.msg_id.is_some() || self.in_reply_to.is_some()) {
            return self;
        }
        let Some(envelope) = fields(line) else {
            return self;
        };
        self.src = self.src.or_else(|| text(envelope.src));
        self.dest = self.dest.or_else(|| text(envelope.dest));
        if let Some(body) = envelope.body.and_then(|body| fields(body.get())) {
            self.msg_id = self.msg_id.or_else(|| id(body.msg_id));
            self.in_reply_to = self.in_reply_to.or_else(|| id(body.in_reply_to));
        }
        self
    }
}

impl<'a> Message<'a> {
    /// Scans one line (without its newline).
    pub(crate) fn parse(line: &'a str) -> Result<Message<'a>, Rejected<'a>> {
        let mut scan = EnvelopeScan::default();
        let outcome = scan.run(line);
        let reject = |reason: String, scan: EnvelopeScan<'a>| {
            Rejected {
                reason,
                src: scan.src,
                dest: scan.dest,
                msg_id: scan.msg_id,
                in_reply_to: scan.in_reply_to,
            }
            .salvaged(line)
        };
        if let Err(reason) = outcome {
            return Err(reject(reason, scan));
        }
        match (&scan.src, &scan.dest, scan.body, &scan.kind) {
            (None, ..) => Err(reject("missing \"src\"".into(), scan)),
            (_, None, ..) => Err(reject("missing \"dest\"".into(), scan)),
            (_, _, None, _) => Err(reject("missing \"body\"".into(), scan)),
            (_, _, _, None) => Err(reject("body has no \"type\"".into(), scan)),
            (Some(src), Some(dest), Some(body), Some(kind)) => Ok(Message {
                src: src.clone(),
                dest: dest.clone(),
                body,
                kind: kind.clone(),
                msg_id: scan.msg_id,
                in_reply_to: scan.in_reply_to,
                received_at: Instant::ZERO,
            }),
        }
    }

    /// The same message, stamped with the time it arrived.
    pub(crate) fn received(mut self, now: Instant) -> Message<'a> {
        self.received_at = now;
        self
    }

    /// When the node received this message (the driver's clock, or the simulator's).
    pub fn received_at(&self) -> Instant {
        self.received_at
    }

    /// The sender's id.
    pub fn src(&self) -> &str {
        &self.src
    }

    /// The receiver's id (this node's, normally).
    pub fn dest(&self) -> &str {
        &self.dest
    }

    /// The body's `type`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The body's `msg_id`, if present.
    pub fn msg_id(&self) -> Option<u64> {
        self.msg_id
    }

    /// The body's `in_reply_to`, if present (`0` is a real value: presence decides).
    pub fn in_reply_to(&self) -> Option<u64> {
        self.in_reply_to
    }

    /// The body exactly as received, as JSON text.
    pub fn raw_body(&self) -> &'a str {
        self.body
    }

    /// The owned [`Origin`] of this message, for replying later.
    pub fn origin(&self) -> Origin {
        Origin {
            src: self.src.to_string(),
            msg_id: self.msg_id,
            received_at: self.received_at,
        }
    }

    /// The raw JSON of a body field, or `None` if the body has no such key.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        let span = find_field(self.body, key)?;
        serde_json::from_str(span).ok()
    }

    /// Decodes one body field.
    ///
    /// # Errors
    /// Code 12 (malformed-request) if the field is missing or does not decode as `T`.
    pub fn field<T: Deserialize<'a>>(&self, key: &str) -> Result<T, Error> {
        let span = find_field(self.body, key)
            .ok_or_else(|| Error::malformed(format!("{} body has no field `{key}`", self.kind)))?;
        serde_json::from_str(span)
            .map_err(|e| Error::malformed(format!("{} field `{key}`: {e}", self.kind)))
    }

    /// Decodes the whole body into `T`, typically a `#[serde(tag = "type")]` enum of the
    /// requests a node accepts, or a struct for one message type.
    ///
    /// # Errors
    /// Code 10 (not-supported) when `T` is a tagged enum without this message's type;
    /// code 12 (malformed-request), carrying serde's message, for any other failure.
    pub fn body<T: Deserialize<'a>>(&self) -> Result<T, Error> {
        serde_json::from_str(self.body).map_err(|e| self.decode_error(&e))
    }

    fn decode_error(&self, e: &serde_json::Error) -> Error {
        let text = e.to_string();
        let unknown = format!("unknown variant `{}`", self.kind);
        if text.starts_with(&unknown) {
            Error::unsupported_type(&self.kind)
        } else {
            Error::malformed(format!("malformed {} body: {text}", self.kind))
        }
    }
}

impl ReplyTo for Message<'_> {
    fn src(&self) -> &str {
        &self.src
    }
    fn msg_id(&self) -> Option<u64> {
        self.msg_id
    }
    fn received_at(&self) -> Option<Instant> {
        Some(self.received_at)
    }
}

impl ReplyTo for Origin {
    fn src(&self) -> &str {
        &self.src
    }
    fn msg_id(&self) -> Option<u64> {
        self.msg_id
    }
    fn received_at(&self) -> Option<Instant> {
        Some(self.received_at)
    }
}

/// What the scanner found so far; kept on failure so the sender can still get an error.
#[derive(Default)]
struct EnvelopeScan<'a> {
    src: Option<Cow<'a, str>>,
    dest: Option<Cow<'a, str>>,
    body: Option<&'a str>,
    kind: Option<Cow<'a, str>>,
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
}

impl<'a> EnvelopeScan<'a> {
    fn run(&mut self, line: &'a str) -> Result<(), String> {
        let mut cur = Cursor::new(line);
        cur.object_keys(|cur, key| {
            match key {
                "src" => self.src = Some(cur.string_value("src")?),
                "dest" => self.dest = Some(cur.string_value("dest")?),
                "body" => self.scan_body(cur)?,
                _ => cur.skip_value()?,
            }
            Ok(())
        })?;
        cur.skip_ws();
        if cur.pos < line.len() {
            return Err(format!("trailing characters at byte {}", cur.pos));
        }
        Ok(())
    }

    fn scan_body(&mut self, cur: &mut Cursor<'a>) -> Result<(), String> {
        cur.skip_ws();
        let start = cur.pos;
        if cur.peek() != Some(b'{') {
            return Err(format!("\"body\" is not an object (byte {start})"));
        }
        cur.object_keys(|cur, key| {
            match key {
                "type" => self.kind = Some(cur.string_value("type")?),
                "msg_id" => self.msg_id = cur.id_value("msg_id")?,
                "in_reply_to" => self.in_reply_to = cur.id_value("in_reply_to")?,
                _ => cur.skip_value()?,
            }
            Ok(())
        })?;
        self.body = Some(&cur.text[start..cur.pos]);
        Ok(())
    }
}

/// The index of the first `"` or `\\` within the first `limit` bytes (rounded up to a
/// word), scanning a word at a time: a byte equal to the pattern becomes zero after XOR,
/// and `(v - 0x01..) & !v & 0x80..` flags the lowest zero byte exactly.
fn find_quote_or_backslash(bytes: &[u8], limit: usize) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(LOW) & !v & HIGH;
    let mut at = 0;
    while at < limit {
        let Some(chunk) = bytes.get(at..at + 8) else {
            return bytes[at..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
                .map(|i| at + i);
        };
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let hits = zero_byte(v ^ (LOW * u64::from(b'"'))) | zero_byte(v ^ (LOW * u64::from(b'\\')));
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    None
}

/// Finds the raw text of `key`'s value among the top-level keys of a body object.
fn find_field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let mut cur = Cursor::new(body);
    let mut found = None;
    let _ = cur.object_keys(|cur, k| {
        cur.skip_ws();
        let start = cur.pos;
        cur.skip_value()?;
        if k == key {
            found = Some(&body[start..cur.pos]);
        }
        Ok(())
    });
    found
}

/// A position in a JSON text, with structural scanning primitives.
struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", byte as char, self.pos))
        }
    }

    /// Walks an object, calling `on_key` with the cursor placed before each value; the
    /// callback must consume the value.
    fn object_keys(
        &mut self,
        mut on_key: impl FnMut(&mut Self, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key = self.string(&"an object key")?;
            self.expect(b':')?;
            on_key(self, &key)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(format!("expected `,` or `}}` at byte {}", self.pos)),
            }
        }
    }

    /// Reads a string at the cursor; escapes are decoded by serde (rare in ids and keys).
    /// `what` names it in errors only (no formatting on the hot path).
    fn string(&mut self, what: &dyn std::fmt::Display) -> Result<Cow<'a, str>, String> {
        let start = self.pos;
        if self.peek() != Some(b'"') {
            return Err(format!("expected a string for {what} at byte {start}"));
        }
        let escaped = self.skip_string()?;
        let raw = &self.text[start..self.pos];
        if !escaped {
            return Ok(Cow::Borrowed(&raw[1..raw.len() - 1]));
        }
        serde_json::from_str::<String>(raw)
            .map(Cow::Owned)
            .map_err(|e| format!("bad string for {what} at byte {start}: {e}"))
    }

    fn string_value(&mut self, key: &'static str) -> Result<Cow<'a, str>, String> {
        self.skip_ws();
        self.string(&key)
    }

    /// Skips a string starting at `"`; returns whether it contained escapes.
    fn skip_string(&mut self) -> Result<bool, String> {
        let start = self.pos;
        self.pos += 1;
        // Keys, ids and types are short: eight bytes at a time beats a vector search there.
        if let Some(i) = find_quote_or_backslash(&self.bytes[self.pos..], SHORT_STRING) {
            if self.bytes[self.pos + i] == b'"' {
                self.pos += i + 1;
                return Ok(false);
            }
        }
        let mut escaped = false;
        loop {
            let rest = &self.bytes[self.pos..];
            match memchr::memchr2(b'"', b'\\', rest) {
                None => return Err(format!("unterminated string at byte {start}")),
                Some(i) if rest[i] == b'"' => {
                    self.pos += i + 1;
                    return Ok(escaped);
                }
                Some(i) => {
                    escaped = true;
                    self.pos += i + 2;
                    if self.pos > self.bytes.len() {
                        return Err(format!("unterminated string at byte {start}"));
                    }
                }
            }
        }
    }

    /// Reads `msg_id`/`in_reply_to`: a non-negative integer, or `null` for absent.
    fn id_value(&mut self, key: &str) -> Result<Option<u64>, String> {
        self.skip_ws();
        let start = self.pos;
        let token = self.scalar();
        if token == "null" {
            return Ok(None);
        }
        token
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("\"{key}\" is not a non-negative integer (byte {start})"))
    }

    /// Consumes a number or literal token and returns it.
    fn scalar(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(
                b,
                b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':' | b'"'
            ) {
                break;
            }
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// Skips any value structurally: strings and brackets are matched, scalars are
    /// consumed as tokens (serde validates them if the field is ever decoded).
    fn skip_value(&mut self) -> Result<(), String> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => self.skip_string().map(|_| ()),
            Some(b'{' | b'[') => self.skip_container(),
            Some(_) if !self.scalar().is_empty() => Ok(()),
            _ => Err(format!("expected a value at byte {}", self.pos)),
        }
    }

    /// Skips a nested object or array with an explicit bracket stack (no recursion).
    fn skip_container(&mut self) -> Result<(), String> {
        let start = self.pos;
        let mut closers = [0u8; MAX_NESTING];
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                b'{' | b'[' => {
                    if depth == MAX_NESTING {
                        return Err(format!(
                            "nesting deeper than {MAX_NESTING} at byte {}",
                            self.pos
                        ));
                    }
                    closers[depth] = if b == b'{' { b'}' } else { b']' };
                    depth += 1;
                }
                b'}' | b']' => {
                    if depth == 0 || closers[depth - 1] != b {
                        return Err(format!("unbalanced `{}` at byte {}", b as char, self.pos));
                    }
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        Err(format!("unterminated value starting at byte {start}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn ok(line: &str) -> Message<'_> {
        Message::parse(line).unwrap_or_else(|r| panic!("{line}: {}", r.reason))
    }

    /// Maelstrom's docs "Wire format": unknown keys are ignored, ids and type are found.
    #[test]
    fn scans_envelope_and_protocol_keys_ignoring_unknown_ones() {
        let line = r#"{"id":4,"src":"c1","dest":"n1","body":{"echo":{"a":[1,"}"]},"type":"echo","msg_id":7,"extra":null}}"#;
        let m = ok(line);
        assert_eq!((m.src(), m.dest(), m.kind()), ("c1", "n1", "echo"));
        assert_eq!((m.msg_id(), m.in_reply_to()), (Some(7), None));
        assert_eq!(m.get("echo").map(|v| v.get()), Some(r#"{"a":[1,"}"]}"#));
        assert!(m.get("missing").is_none());
        assert!(m.raw_body().starts_with("{\"echo\"") && m.raw_body().ends_with("null}"));
    }

    #[test]
    fn in_reply_to_zero_is_a_real_reply_and_null_is_absent() {
        let m =
            ok(r#"{"src":"n2","dest":"n1","body":{"type":"x_ok","in_reply_to":0,"msg_id":null}}"#);
        assert_eq!((m.in_reply_to(), m.msg_id()), (Some(0), None));
    }

    #[test]
    fn word_scan_finds_the_first_quote_or_backslash_at_every_position() {
        for len in 0..40 {
            for hit in 0..len {
                for special in [b'"', b'\\'] {
                    let mut bytes = vec![b'a'; len];
                    bytes[hit] = special;
                    if hit + 1 < len {
                        bytes[hit + 1] = b'"';
                    }
                    let found = find_quote_or_backslash(&bytes, 64);
                    assert_eq!(found, Some(hit), "len {len} hit {hit}");
                }
            }
            assert_eq!(find_quote_or_backslash(&vec![0x22 ^ 0x80; len], 64), None);
        }
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let m = ok(r#"{"src":"c\u0031","dest":"n1","body":{"type":"e\"cho"}}"#);
        assert_eq!((m.src(), m.kind()), ("c1", "e\"cho"));
    }

    #[test]
    fn whitespace_and_crlf_style_spacing_are_accepted() {
        let m = ok(
            "  { \"src\" : \"c1\" ,\r\n \"dest\":\"n1\", \"body\" : { \"type\" : \"read\" } }  ",
        );
        assert_eq!(m.kind(), "read");
    }

    /// One row per hostile input: what is rejected, and what of the envelope survives so
    /// that the sender can still get an error reply.
    #[test]
    fn rejects_hostile_lines_keeping_what_is_needed_to_answer() {
        let rows: &[(&str, Option<&str>, Option<u64>)] = &[
            ("", None, None),
            ("[1,2]", None, None),
            ("{\"src\":\"c1\"", Some("c1"), None),
            (
                r#"{"src":"c1","dest":"n1","body":{"msg_id":3}}"#,
                Some("c1"),
                Some(3),
            ),
            (r#"{"src":"c1","dest":"n1","body":[]}"#, Some("c1"), None),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"x","msg_id":-1}}"#,
                Some("c1"),
                None,
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"x","msg_id":1.5}}"#,
                Some("c1"),
                None,
            ),
            (
                r#"{"src":7,"dest":"n1","body":{"type":"x","msg_id":2}}"#,
                None,
                Some(2), // salvaged, but with no src there is no one to answer
            ),
            (
                r#"{"src":"c1","body":{"type":"x","msg_id":2}}"#,
                Some("c1"),
                Some(2),
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"msg_id":2,"type":"x","k":[1}}"#,
                Some("c1"),
                Some(2),
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"x"}} trailing"#,
                Some("c1"),
                None,
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"msg_id":5,"type":"x","s":"unterminated}}"#,
                Some("c1"),
                Some(5),
            ),
        ];
        for &(line, src, msg_id) in rows {
            let r = Message::parse(line).expect_err(line);
            assert_eq!(r.src.as_deref(), src, "{line}");
            assert_eq!(r.msg_id, msg_id, "{line}");
            assert!(!r.reason.is_empty());
        }
    }

    #[test]
    fn deep_nesting_is_rejected_without_recursion() {
        let deep = format!(
            r#"{{"src":"c1","dest":"n1","body":{{"type":"x","msg_id":1,"v":{}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let r = Message::parse(&deep).expect_err("too deep");
        assert!(r.reason.contains("nesting"), "{}", r.reason);
        assert_eq!(r.msg_id, Some(1));
    }

    /// The scanner stops at the first fault; what lies after it is still read when the
    /// line is JSON, so the sender of a request with a bad `type` gets its error.
    #[test]
    fn ids_after_the_first_fault_are_salvaged_from_json() {
        let r = Message::parse(r#"{"src":"c1","dest":"n1","body":{"type":7,"msg_id":4}}"#)
            .expect_err("type is not a string");
        assert_eq!(
            (r.src.as_deref(), r.dest.as_deref()),
            (Some("c1"), Some("n1"))
        );
        assert_eq!((r.msg_id, r.in_reply_to), (Some(4), None));
        let r = Message::parse(r#"{"body":{"in_reply_to":2,"type":null},"src":"n2"}"#)
            .expect_err("type is null");
        assert_eq!((r.src.as_deref(), r.in_reply_to), (Some("n2"), Some(2)));
        // Not JSON, or an id that is no u64: nothing to salvage.
        for line in [
            r#"{"src":"c1","body":{"type":7,"msg_id":4"#,
            r#"{"src":"c1","body":{"type":"x","msg_id":-1}}"#,
            r#"{"src":"c1","body":{"type":"x","msg_id":1e3}}"#,
        ] {
            let r = Message::parse(line).expect_err(line);
            assert_eq!(r.msg_id, None, "{line}");
        }
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Req {
        Add { delta: i64 },
        Read,
    }

    #[test]
    fn typed_decode_maps_unknown_type_to_10_and_bad_fields_to_12() {
        let add = ok(r#"{"src":"c1","dest":"n1","body":{"type":"add","delta":5,"msg_id":1}}"#);
        assert_eq!(add.body::<Req>(), Ok(Req::Add { delta: 5 }));
        assert_eq!(add.field::<i64>("delta"), Ok(5));
        let bad = ok(r#"{"src":"c1","dest":"n1","body":{"type":"add","delta":"x","msg_id":1}}"#);
        let e = bad.body::<Req>().expect_err("bad delta");
        assert_eq!(e.code(), ErrorCode::MalformedRequest);
        assert!(e.text().contains("invalid type"), "{e}");
        let missing = bad.field::<i64>("nope").expect_err("missing");
        assert_eq!(missing.code(), ErrorCode::MalformedRequest);
        let unknown = ok(r#"{"src":"c1","dest":"n1","body":{"type":"frob","msg_id":1}}"#);
        assert_eq!(
            unknown.body::<Req>().expect_err("frob").code(),
            ErrorCode::NotSupported
        );
    }
}
