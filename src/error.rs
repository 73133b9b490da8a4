//! Maelstrom's error codes ([`ErrorCode`]) and the crate's one error type ([`Error`]).
//!
//! An [`Error`] is what a handler returns, what an RPC continuation receives, and what goes
//! on the wire as `{"type":"error","code":N,"text":"..."}`. It owns no I/O.

use std::borrow::Cow;
use std::fmt;

/// Every error code Maelstrom defines, plus custom codes (1000 and up).
///
/// Codes below 1000 that Maelstrom does not define decode to [`ErrorCode::Other`] and are
/// treated as indefinite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: the operation timed out; it may or may not have happened.
    Timeout,
    /// 1: the destination node does not exist.
    NodeNotFound,
    /// 10: the message type is not supported by this node.
    NotSupported,
    /// 11: the operation definitely did not happen, and may work later.
    TemporarilyUnavailable,
    /// 12: the request was malformed.
    MalformedRequest,
    /// 13: the node crashed while handling the request; it may or may not have happened.
    Crash,
    /// 14: the operation was aborted and definitely did not happen.
    Abort,
    /// 20: the key does not exist.
    KeyDoesNotExist,
    /// 21: the key already exists.
    KeyAlreadyExists,
    /// 22: a precondition (such as a compare-and-set's `from`) did not hold.
    PreconditionFailed,
    /// 30: a transaction conflicted and was aborted.
    TxnConflict,
    /// Any other code: custom codes (1000 and up) and undefined codes below 1000.
    Other(u32),
}

impl ErrorCode {
    /// The numeric code sent on the wire.
    pub const fn code(self) -> u32 {
        match self {
            ErrorCode::Timeout => 0,
            ErrorCode::NodeNotFound => 1,
            ErrorCode::NotSupported => 10,
            ErrorCode::TemporarilyUnavailable => 11,
            ErrorCode::MalformedRequest => 12,
            ErrorCode::Crash => 13,
            ErrorCode::Abort => 14,
            ErrorCode::KeyDoesNotExist => 20,
            ErrorCode::KeyAlreadyExists => 21,
            ErrorCode::PreconditionFailed => 22,
            ErrorCode::TxnConflict => 30,
            ErrorCode::Other(code) => code,
        }
    }

    /// The code for a number received on the wire.
    pub const fn from_code(code: u32) -> ErrorCode {
        match code {
            0 => ErrorCode::Timeout,
            1 => ErrorCode::NodeNotFound,
            10 => ErrorCode::NotSupported,
            11 => ErrorCode::TemporarilyUnavailable,
            12 => ErrorCode::MalformedRequest,
            13 => ErrorCode::Crash,
            14 => ErrorCode::Abort,
            20 => ErrorCode::KeyDoesNotExist,
            21 => ErrorCode::KeyAlreadyExists,
            22 => ErrorCode::PreconditionFailed,
            30 => ErrorCode::TxnConflict,
            other => ErrorCode::Other(other),
        }
    }

    /// Whether the code means the operation certainly did not and will not happen.
    ///
    /// Timeouts, crashes, custom codes and unknown codes are indefinite.
    pub const fn is_definite(self) -> bool {
        !matches!(
            self,
            ErrorCode::Timeout | ErrorCode::Crash | ErrorCode::Other(_)
        )
    }

    /// Maelstrom's name for the code (`"key-does-not-exist"`), or `"custom"`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "timeout",
            ErrorCode::NodeNotFound => "node-not-found",
            ErrorCode::NotSupported => "not-supported",
            ErrorCode::TemporarilyUnavailable => "temporarily-unavailable",
            ErrorCode::MalformedRequest => "malformed-request",
            ErrorCode::Crash => "crash",
            ErrorCode::Abort => "abort",
            ErrorCode::KeyDoesNotExist => "key-does-not-exist",
            ErrorCode::KeyAlreadyExists => "key-already-exists",
            ErrorCode::PreconditionFailed => "precondition-failed",
            ErrorCode::TxnConflict => "txn-conflict",
            ErrorCode::Other(_) => "custom",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// An error with a Maelstrom code and a human-readable text.
///
/// Returned by handlers (the library answers the request with it), passed to RPC
/// continuations (an error reply, a timeout), and produced by decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    text: Cow<'static, str>,
}

impl Error {
    /// An error with the given code and text.
    pub fn new(code: ErrorCode, text: impl Into<Cow<'static, str>>) -> Error {
        Error {
            code,
            text: text.into(),
        }
    }

    /// Code 0, timeout.
    pub fn timeout(text: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorCode::Timeout, text)
    }

    /// Code 10, not-supported.
    pub fn not_supported(text: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorCode::NotSupported, text)
    }

    /// Code 10 for a message type the node does not handle, naming it: the answer Maelstrom
    /// expects for an unknown `type`.
    pub fn unsupported_type(kind: &str) -> Error {
        Error::not_supported(format!("unsupported message type `{kind}`"))
    }

    /// Code 11, temporarily-unavailable.
    pub fn temporarily_unavailable(text: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorCode::TemporarilyUnavailable, text)
    }

    /// Code 12, malformed-request.
    pub fn malformed(text: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorCode::MalformedRequest, text)
    }

    /// Code 13, crash.
    pub fn crash(text: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorCode::Crash, text)
    }

    /// Code 14, abort.
    pub fn abort(text: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorCode::Abort, text)
    }

    /// Code 20, key-does-not-exist.
    pub fn key_does_not_exist(text: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorCode::KeyDoesNotExist, text)
    }

    /// Code 22, precondition-failed.
    pub fn precondition_failed(text: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorCode::PreconditionFailed, text)
    }

    /// Code 30, txn-conflict.
    pub fn txn_conflict(text: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorCode::TxnConflict, text)
    }

    /// The error's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The error's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Shorthand for `self.code().is_definite()`.
    pub fn is_definite(&self) -> bool {
        self.code.is_definite()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {}: {}", self.code, self.text)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Maelstrom's docs "Errors": the table of codes and which are definite.
    #[test]
    fn codes_round_trip_and_definiteness_matches_the_table() {
        let table = [
            (0, false),
            (1, true),
            (10, true),
            (11, true),
            (12, true),
            (13, false),
            (14, true),
            (20, true),
            (21, true),
            (22, true),
            (30, true),
            (1000, false),
            (4242, false),
            (7, false),
        ];
        for (code, definite) in table {
            let parsed = ErrorCode::from_code(code);
            assert_eq!(parsed.code(), code);
            assert_eq!(parsed.is_definite(), definite, "code {code}");
        }
        assert_eq!(ErrorCode::from_code(1000), ErrorCode::Other(1000));
    }

    #[test]
    fn display_names_code_and_text() {
        let e = Error::key_does_not_exist("key 7");
        assert_eq!(e.to_string(), "error key-does-not-exist (20): key 7");
    }
}
