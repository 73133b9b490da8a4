//! Line framing in (LF or CRLF, with a length cap) and message encoding out.
//!
//! [`LineReader`] owns the input buffer: the driver reads into its spare space and takes
//! complete lines out, so bytes are copied once, from the kernel. A line over the cap is
//! discarded as it streams in; only its first and last [`OVERSIZED_KEPT_BYTES`] are kept, so
//! that [`Oversized::envelope`] can find whom to answer. [`encode`] serialises an
//! envelope and a user body straight into the output buffer, adding `msg_id` and
//! `in_reply_to` to the body object without an intermediate `serde_json::Value`.
//! Neither touches a file descriptor.

use serde::Serialize;

use crate::error::Error;

/// The longest line accepted by default, in bytes (a handler sets its own with
/// [`Handler::MAX_LINE_BYTES`](crate::Handler::MAX_LINE_BYTES)). A longer line is dropped
/// (and reported as [`Frame::Oversized`]) without being buffered whole.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// How many bytes of an oversized line's start, and of its end, are kept to answer it.
pub const OVERSIZED_KEPT_BYTES: usize = 4 << 10;

/// How much spare room the reader offers for one read.
const READ_CHUNK: usize = 64 << 10;

/// When the buffer grew for a long line, it shrinks back once it is empty again.
const SHRINK_ABOVE: usize = 1 << 20;

/// One unit of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line, without its `\n` or `\r\n`.
    Line(&'a [u8]),
    /// A line longer than the cap was dropped.
    Oversized(Oversized<'a>),
}

/// A line dropped for its length: how long it was, and its first and last bytes (at most
/// [`OVERSIZED_KEPT_BYTES`] each; they overlap when the line is short).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Oversized<'a> {
    /// The dropped line's length in bytes, without its newline.
    pub len: usize,
    /// Its first bytes.
    pub head: &'a [u8],
    /// Its last bytes.
    pub tail: &'a [u8],
}

/// What could be read of an oversized line's envelope: enough to answer it, when all
/// three are there and it is not a reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OversizedEnvelope {
    /// The sender, from `"src"` in the head.
    pub src: Option<String>,
    /// The addressee, from `"dest"` in the head.
    pub dest: Option<String>,
    /// The request's id, from the last `"msg_id"` in the tail (Maelstrom's clients add it
    /// after the payload), else the first in the head.
    pub msg_id: Option<u64>,
    /// Whether `"in_reply_to"` appears: a reply is never answered.
    pub is_reply: bool,
}

impl Oversized<'_> {
    /// Reads `src`, `dest` and `msg_id` from the kept bytes. Best effort: the keys are
    /// searched for as text (a key quoted inside a string value, `\"src\"`, is skipped), so
    /// a line whose envelope sits in its discarded middle yields nothing.
    pub fn envelope(&self) -> OversizedEnvelope {
        let head_string = |key: &[u8]| {
            find_key(self.head, key, false).and_then(|at| json_string_at(&self.head[at..]))
        };
        let msg_id = find_key(self.tail, b"msg_id", true)
            .and_then(|at| integer_at(&self.tail[at..]))
            .or_else(|| {
                find_key(self.head, b"msg_id", false).and_then(|at| integer_at(&self.head[at..]))
            });
        let is_reply = [self.head, self.tail]
            .iter()
            .any(|kept| find_key(kept, b"in_reply_to", false).is_some());
        OversizedEnvelope {
            src: head_string(b"src"),
            dest: head_string(b"dest"),
            msg_id,
            is_reply,
        }
    }
}

/// Where the value of `"key":` starts in `text` (the first or the last occurrence).
fn find_key(text: &[u8], key: &[u8], last: bool) -> Option<usize> {
    let mut quoted = Vec::with_capacity(key.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(key);
    quoted.push(b'"');
    let mut hits = memchr::memmem::find_iter(text, &quoted)
        .filter(|&at| at == 0 || text[at - 1] != b'\\')
        .filter_map(|at| value_start(text, at + quoted.len()));
    if last {
        hits.last()
    } else {
        hits.next()
    }
}

/// After a key: skips whitespace, a colon and whitespace.
fn value_start(text: &[u8], mut at: usize) -> Option<usize> {
    let skip_space = |at: &mut usize| {
        while text.get(*at).is_some_and(u8::is_ascii_whitespace) {
            *at += 1;
        }
    };
    skip_space(&mut at);
    (text.get(at) == Some(&b':')).then_some(())?;
    at += 1;
    skip_space(&mut at);
    Some(at)
}

/// The JSON string literal at the start of `text`, decoded.
fn json_string_at(text: &[u8]) -> Option<String> {
    let mut values = serde_json::Deserializer::from_slice(text).into_iter::<String>();
    values.next()?.ok()
}

/// The unsigned integer at the start of `text`, if it ends before the kept bytes do.
fn integer_at(text: &[u8]) -> Option<u64> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits == text.len() {
        return None;
    }
    std::str::from_utf8(&text[..digits]).ok()?.parse().ok()
}

/// Splits a byte stream into lines, with bounded memory.
#[derive(Debug)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Start of the first unconsumed byte.
    start: usize,
    /// End of valid data.
    end: usize,
    /// Where the newline search resumes (bytes before it hold no newline).
    scanned: usize,
    /// Bytes dropped so far of an oversized line still being skipped.
    discarding: Option<usize>,
    /// The first and last bytes of the oversized line being (or just) dropped.
    kept_head: Vec<u8>,
    kept_tail: Vec<u8>,
    max_line: usize,
}

impl Default for LineReader {
    fn default() -> Self {
        LineReader::new(MAX_LINE_BYTES)
    }
}

impl LineReader {
    /// A reader that drops lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> LineReader {
        LineReader {
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            scanned: 0,
            discarding: None,
            kept_head: Vec::new(),
            kept_tail: Vec::new(),
            max_line: max_line.max(1),
        }
    }

    /// Space to read into; pass the number of bytes read to [`LineReader::filled`].
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.scanned = 0;
            if self.buf.len() > SHRINK_ABOVE {
                self.buf = vec![0; READ_CHUNK];
            }
        }
        if self.buf.len() - self.end < READ_CHUNK / 2 {
            self.make_room();
        }
        &mut self.buf[self.end..]
    }

    /// Records that `n` bytes were written into [`LineReader::spare`].
    pub fn filled(&mut self, n: usize) {
        debug_assert!(self.end + n <= self.buf.len());
        self.end = (self.end + n).min(self.buf.len());
    }

    fn make_room(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_CHUNK / 2 {
            let grown = (self.buf.len() * 2).max(self.end + READ_CHUNK);
            self.buf.resize(grown, 0);
        }
    }

    /// The next complete line or oversize report, if the buffer holds one.
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        let Some(offset) = memchr::memchr(b'\n', &self.buf[self.scanned..self.end]) else {
            self.scanned = self.end;
            self.check_length();
            return None;
        };
        let newline = self.scanned + offset;
        let line_start = self.start;
        self.start = newline + 1;
        self.scanned = self.start;
        if self.discarding.is_some() || newline - line_start > self.max_line {
            return Some(self.oversized(line_start, newline));
        }
        Some(Frame::Line(strip_cr(&self.buf[line_start..newline])))
    }

    /// Drops the partial line once it passes the cap, remembering its length and ends.
    fn check_length(&mut self) {
        let pending = self.end - self.start;
        if pending > self.max_line || (self.discarding.is_some() && pending > 0) {
            self.discard(self.start, self.end);
            self.start = self.end;
            self.scanned = self.end;
        }
    }

    /// Counts `buf[from..to]` as part of the oversized line, keeping its head and tail.
    fn discard(&mut self, from: usize, to: usize) {
        let chunk = &self.buf[from..to];
        if self.discarding.is_none() {
            self.kept_head.clear();
            self.kept_tail.clear();
        }
        let room = OVERSIZED_KEPT_BYTES - self.kept_head.len();
        self.kept_head
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
        let tail = &mut self.kept_tail;
        tail.extend_from_slice(&chunk[chunk.len().saturating_sub(OVERSIZED_KEPT_BYTES)..]);
        tail.drain(..tail.len().saturating_sub(OVERSIZED_KEPT_BYTES));
        *self.discarding.get_or_insert(0) += to - from;
    }

    /// The oversized line ending with `buf[from..to]`.
    fn oversized(&mut self, from: usize, to: usize) -> Frame<'_> {
        self.discard(from, to);
        let len = self.discarding.take().unwrap_or(0);
        Frame::Oversized(Oversized {
            len,
            head: &self.kept_head,
            tail: &self.kept_tail,
        })
    }

    /// At end of input: the last line if it had no newline.
    pub fn finish(&mut self) -> Option<Frame<'_>> {
        let line_start = self.start;
        self.start = self.end;
        self.scanned = self.end;
        if self.discarding.is_some() || self.end - line_start > self.max_line {
            return Some(self.oversized(line_start, self.end));
        }
        (self.end > line_start).then(|| Frame::Line(strip_cr(&self.buf[line_start..self.end])))
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Appends one message line to `out`: the envelope, the body with `msg_id` and
/// `in_reply_to` added, and `\n`.
///
/// # Errors
/// Code 13 (crash) if `body` fails to serialise or is not a JSON object; `out` is then
/// left as it was.
pub(crate) fn encode<B: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    src: &str,
    dest: &str,
    body: &B,
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
) -> Result<(), Error> {
    let mark = out.len();
    let result = encode_unchecked(out, src, dest, body, msg_id, in_reply_to);
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

fn encode_unchecked<B: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    src: &str,
    dest: &str,
    body: &B,
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
) -> Result<(), Error> {
    let fail = |e: &dyn std::fmt::Display| Error::crash(format!("cannot encode body: {e}"));
    out.extend_from_slice(b"{\"src\":");
    serde_json::to_writer(&mut *out, src).map_err(|e| fail(&e))?;
    out.extend_from_slice(b",\"dest\":");
    serde_json::to_writer(&mut *out, dest).map_err(|e| fail(&e))?;
    out.extend_from_slice(b",\"body\":");
    let body_start = out.len();
    serde_json::to_writer(&mut *out, body).map_err(|e| fail(&e))?;
    if out.get(body_start) != Some(&b'{') || out.last() != Some(&b'}') {
        return Err(fail(&"the body is not a JSON object"));
    }
    out.pop();
    let mut first = out.last() == Some(&b'{');
    for (key, value) in [(&b"msg_id"[..], msg_id), (&b"in_reply_to"[..], in_reply_to)] {
        if let Some(value) = value {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(key);
            out.extend_from_slice(b"\":");
            write_u64(out, value);
        }
    }
    out.extend_from_slice(b"}}\n");
    Ok(())
}

pub(crate) fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frames(reader: &mut LineReader) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(frame) = reader.next_frame() {
            seen.push(match frame {
                Frame::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Frame::Oversized(o) => format!("<oversized {}>", o.len),
            });
        }
        seen
    }

    fn feed(reader: &mut LineReader, data: &[u8]) {
        let spare = reader.spare();
        spare[..data.len()].copy_from_slice(data);
        reader.filled(data.len());
    }

    #[test]
    fn splits_lf_and_crlf_across_reads_and_keeps_empty_lines() {
        let mut r = LineReader::new(100);
        feed(&mut r, b"one\r\ntw");
        assert_eq!(frames(&mut r), ["one"]);
        feed(&mut r, b"o\n\nthree");
        assert_eq!(frames(&mut r), ["two", ""]);
        assert_eq!(r.finish(), Some(Frame::Line(b"three")));
        assert_eq!(r.finish(), None);
    }

    #[test]
    fn oversized_lines_are_dropped_without_buffering_them_whole() {
        let mut r = LineReader::new(10);
        feed(&mut r, b"ok\n0123456789abc");
        assert_eq!(frames(&mut r), ["ok"]);
        feed(&mut r, &[b'x'; 5000]);
        assert_eq!(frames(&mut r), Vec::<String>::new());
        assert!(r.buf.len() <= READ_CHUNK * 2, "buffered {}", r.buf.len());
        feed(&mut r, b"yz\nafter\n");
        assert_eq!(frames(&mut r), ["<oversized 5015>", "after"]);
        feed(&mut r, b"0123456789ABCDEF\n");
        assert_eq!(frames(&mut r), ["<oversized 16>"]);
    }

    /// The head and tail of an oversized line survive its discarding, across reads, and
    /// give its envelope; `msg_id` is found after the payload, as Maelstrom's clients put it.
    #[test]
    fn oversized_lines_keep_their_ends_and_their_envelope() {
        let mut r = LineReader::new(64);
        let big = "x".repeat(3 * OVERSIZED_KEPT_BYTES);
        let line = format!(
            r#"{{"src":"c4","dest":"n1","body":{{"type":"write","value":"{big}","msg_id":77}}}}"#
        );
        for chunk in line.as_bytes().chunks(1000) {
            feed(&mut r, chunk);
            assert_eq!(r.next_frame(), None);
        }
        feed(
            &mut r, b"
",
        );
        let Some(Frame::Oversized(o)) = r.next_frame() else {
            panic!("no oversized frame")
        };
        assert_eq!(o.len, line.len());
        assert!(
            o.head == &line.as_bytes()[..OVERSIZED_KEPT_BYTES],
            "the head"
        );
        let tail = &line.as_bytes()[line.len() - OVERSIZED_KEPT_BYTES..];
        assert!(o.tail == tail, "the tail");
        let envelope = o.envelope();
        assert_eq!(envelope.src.as_deref(), Some("c4"));
        assert_eq!(envelope.dest.as_deref(), Some("n1"));
        assert_eq!(envelope.msg_id, Some(77));
        assert!(!envelope.is_reply);
    }

    /// One row per oversized line: what its envelope yields.
    #[test]
    fn oversized_envelopes_table() {
        let rows: [(&str, Option<&str>, Option<u64>, bool); 5] = [
            (
                r#"{"src":"c1","dest":"n1","body":{"msg_id":3,"v":"aaaaaaaaaaaaaaaaaaaaaaa"}}"#,
                Some("c1"),
                Some(3),
                false,
            ),
            (
                r#"{ "src" : "c2" ,"body":{"in_reply_to":4,"v":"aaaaaaaaaaaaaaaaaaaaaaa"}}"#,
                Some("c2"),
                None,
                true,
            ),
            (
                r#"{"v":"\"src\":\"c9\"","src":"c3","body":{"msg_id":12345678901234567890123}}"#,
                Some("c3"),
                None,
                false,
            ),
            (
                r#"no json at all, just a very long line of text that goes on"#,
                None,
                None,
                false,
            ),
            (
                r#"{"src":"c\u0031","body":{"msg_id":1}} trailing text that is long enough"#,
                Some("c1"),
                Some(1),
                false,
            ),
        ];
        for (line, src, msg_id, is_reply) in rows {
            let mut r = LineReader::new(16);
            feed(&mut r, format!("{line}\n").as_bytes());
            let Some(Frame::Oversized(o)) = r.next_frame() else {
                panic!("{line}: not oversized")
            };
            let envelope = o.envelope();
            assert_eq!(envelope.src.as_deref(), src, "{line}");
            assert_eq!(envelope.msg_id, msg_id, "{line}");
            assert_eq!(envelope.is_reply, is_reply, "{line}");
        }
    }

    #[test]
    fn a_long_line_under_the_cap_grows_the_buffer_then_it_shrinks_back() {
        let mut r = LineReader::new(4 << 20);
        let line = vec![b'a'; 3 << 20];
        let mut fed = 0;
        while fed < line.len() {
            let spare = r.spare();
            let n = spare.len().min(line.len() - fed);
            spare[..n].copy_from_slice(&line[fed..fed + n]);
            r.filled(n);
            fed += n;
            assert_eq!(r.next_frame(), None);
        }
        feed(&mut r, b"\n");
        assert!(matches!(r.next_frame(), Some(Frame::Line(l)) if l.len() == 3 << 20));
        let _ = r.spare();
        assert_eq!(r.buf.len(), READ_CHUNK);
    }

    #[test]
    fn encode_adds_ids_to_the_body_object() {
        let mut out = Vec::new();
        encode(
            &mut out,
            "n1",
            "c\"1",
            &json!({"type": "echo_ok", "echo": [1]}),
            Some(9),
            Some(0),
        )
        .unwrap();
        encode(&mut out, "n1", "n2", &json!({}), None, Some(3)).unwrap();
        encode(&mut out, "n1", "n2", &json!({"type": "x"}), None, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"src":"n1","dest":"c\"1","body":{"echo":[1],"type":"echo_ok","msg_id":9,"in_reply_to":0}}"#
        );
        assert_eq!(
            lines[1],
            r#"{"src":"n1","dest":"n2","body":{"in_reply_to":3}}"#
        );
        assert_eq!(lines[2], r#"{"src":"n1","dest":"n2","body":{"type":"x"}}"#);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn encode_rejects_non_objects_and_leaves_the_buffer_untouched() {
        let mut out = b"kept\n".to_vec();
        for body in [json!([1]), json!(3), json!("s")] {
            let e = encode(&mut out, "n1", "c1", &body, Some(1), None).expect_err("not an object");
            assert!(e.text().contains("not a JSON object"));
        }
        assert_eq!(out, b"kept\n");
        let mut big = Vec::new();
        write_u64(&mut big, u64::MAX);
        assert_eq!(big, u64::MAX.to_string().as_bytes());
    }
}
