//! Line framing in (LF or CRLF, with a length cap) and message encoding out.
//!
//! [`LineReader`] owns the input buffer: the driver reads into its spare space and takes
//! complete lines out, so bytes are copied once, from the kernel. [`encode`] serialises an
//! envelope and a user body straight into the output buffer, adding `msg_id` and
//! `in_reply_to` to the body object without an intermediate `serde_json::Value`.
//! Neither touches a file descriptor.

use serde::Serialize;

use crate::error::Error;

/// The longest line accepted, in bytes. A longer line is dropped (and reported as
/// [`Frame::Oversized`]) without being buffered whole.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// How much spare room the reader offers for one read.
const READ_CHUNK: usize = 64 << 10;

/// When the buffer grew for a long line, it shrinks back once it is empty again.
const SHRINK_ABOVE: usize = 1 << 20;

/// One unit of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line, without its `\n` or `\r\n`.
    Line(&'a [u8]),
    /// A line longer than the cap was dropped; `len` is its length in bytes.
    Oversized {
        /// The dropped line's length.
        len: usize,
    },
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
        if let Some(dropped) = self.discarding.take() {
            return Some(Frame::Oversized {
                len: dropped + (newline - line_start),
            });
        }
        if newline - line_start > self.max_line {
            return Some(Frame::Oversized {
                len: newline - line_start,
            });
        }
        Some(Frame::Line(strip_cr(&self.buf[line_start..newline])))
    }

    /// Drops the partial line once it passes the cap, remembering only its length.
    fn check_length(&mut self) {
        let pending = self.end - self.start;
        if pending > self.max_line || (self.discarding.is_some() && pending > 0) {
            *self.discarding.get_or_insert(0) += pending;
            self.start = self.end;
            self.scanned = self.end;
        }
    }

    /// At end of input: the last line if it had no newline.
    pub fn finish(&mut self) -> Option<Frame<'_>> {
        let line_start = self.start;
        self.start = self.end;
        self.scanned = self.end;
        if let Some(dropped) = self.discarding.take() {
            return Some(Frame::Oversized {
                len: dropped + (self.end - line_start),
            });
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

fn write_u64(out: &mut Vec<u8>, mut value: u64) {
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
                Frame::Oversized { len } => format!("<oversized {len}>"),
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
