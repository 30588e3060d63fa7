//! Bounded keeping of a response's (and, for `request ...` rules, a request's)
//! header fields and body prefix, for the `--expect` rules (`crate::expect`).
//! Off unless asked for ([`KeepConfig`]), so a plain analysis pays nothing:
//! bodies are otherwise only counted. Requests and responses are kept with the
//! same [`ResponseData`] type, under the same bounds and budget.
//!
//! Bounds (each hit is recorded, never silent):
//! * header fields: the first [`MAX_KEPT_FIELDS`] fields of the final response,
//!   at most [`MAX_KEPT_FIELD_BYTES`] of names and values together; beyond that
//!   `headers_complete` is false.
//! * body: the first [`MAX_KEPT_BODY`] payload bytes (chunk framing removed,
//!   content coding still applied; `crate::expect` inflates gzip/deflate with its
//!   own bound). Beyond it, after a gap in the capture, or when the response was
//!   cut short, [`BodyState`] says so and the prefix before the problem is kept.
//! * all open connections of one analysis together keep at most
//!   [`BODY_BUDGET`] bytes of bodies ([`BodyBudget`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Most response header fields kept per transaction.
pub const MAX_KEPT_FIELDS: usize = 64;
/// Most bytes of header names and values kept per transaction.
pub const MAX_KEPT_FIELD_BYTES: usize = 8 * 1024;
/// Most response body bytes kept per transaction.
pub const MAX_KEPT_BODY: usize = 1 << 20;
/// Most body bytes kept at once over all open connections of an analysis.
pub const BODY_BUDGET: usize = 256 << 20;

/// What of a response (and of its request) to keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeepConfig {
    /// The final response's header fields.
    pub headers: bool,
    /// The response body prefix (implies the headers, for Content-Encoding).
    pub body: bool,
    /// The request's header fields.
    pub request_headers: bool,
    /// The request body prefix (implies the request's headers).
    pub request_body: bool,
}

impl KeepConfig {
    /// True when anything is kept.
    pub fn any(self) -> bool {
        self.response_any() || self.request_any()
    }

    /// True when anything of the response is kept.
    pub fn response_any(self) -> bool {
        self.headers || self.body
    }

    /// True when anything of the request is kept.
    pub fn request_any(self) -> bool {
        self.request_headers || self.request_body
    }

    /// Both sets of needs together.
    pub fn union(self, other: KeepConfig) -> KeepConfig {
        KeepConfig {
            headers: self.headers || other.headers,
            body: self.body || other.body,
            request_headers: self.request_headers || other.request_headers,
            request_body: self.request_body || other.request_body,
        }
    }
}

/// How much of the response body [`ResponseData::body`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyState {
    /// Every payload byte.
    Complete,
    /// Bodies were not kept (no rule needed them).
    NotKept,
    /// The body is larger than the limit; the first `limit` bytes are kept.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The capture missed `bytes` bytes of the body; the bytes before the first
    /// hole are kept.
    Missing {
        /// Bytes missing.
        bytes: u64,
    },
    /// The response ended before its framed end (reset, capture end, deadline).
    Cut,
    /// The memory budget for kept bodies was used up by other open connections.
    OverBudget,
}

impl BodyState {
    /// Why the kept bytes are not the whole body, in words; `None` when complete.
    pub fn why_partial(&self) -> Option<String> {
        self.why_partial_of("response")
    }

    /// [`BodyState::why_partial`] for a `message` (`"response"` or `"request"`).
    pub fn why_partial_of(&self, message: &str) -> Option<String> {
        match self {
            BodyState::Complete => None,
            BodyState::NotKept => Some(format!("the {message} body was not kept")),
            BodyState::TooLarge { limit } => Some(format!(
                "the {message} body is larger than the {} KiB netsleuth keeps",
                limit / 1024
            )),
            BodyState::Missing { bytes } => Some(format!(
                "{bytes} bytes of the {message} body are missing from the capture"
            )),
            BodyState::Cut => Some(format!("the {message} was cut short")),
            BodyState::OverBudget => Some(format!(
                "netsleuth's {} MiB budget for kept bodies was in use by other connections",
                BODY_BUDGET >> 20
            )),
        }
    }
}

/// A response's (or request's) kept header fields and body prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseData {
    /// Header fields in order, names as sent, values trimmed (lossy UTF-8; raw:
    /// escape before display).
    pub headers: Vec<(String, String)>,
    /// False when the response had more fields than were kept.
    pub headers_complete: bool,
    /// The body's first bytes (chunk framing removed, content coding applied).
    pub body: Vec<u8>,
    /// Whether `body` is all of it.
    pub body_state: BodyState,
}

impl ResponseData {
    /// Empty data; the body starts complete (and empty) when it is kept.
    pub fn new(keep_body: bool) -> ResponseData {
        ResponseData {
            headers: Vec::new(),
            headers_complete: true,
            body: Vec::new(),
            body_state: if keep_body {
                BodyState::Complete
            } else {
                BodyState::NotKept
            },
        }
    }

    /// Keeps header fields from `fields`, within the bounds.
    pub fn keep_fields<'f>(&mut self, fields: impl IntoIterator<Item = (&'f str, &'f [u8])>) {
        let mut bytes: usize = self.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
        for (name, value) in fields {
            let value = value.trim_ascii();
            let size = name.len() + value.len();
            if self.headers.len() >= MAX_KEPT_FIELDS || bytes + size > MAX_KEPT_FIELD_BYTES {
                self.headers_complete = false;
                return;
            }
            bytes += size;
            self.headers.push((
                name.to_string(),
                String::from_utf8_lossy(value).into_owned(),
            ));
        }
    }

    /// The values of header `name` (case-insensitive), in order.
    pub fn header<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Appends body payload bytes, within the per-transaction limit and what
    /// `budget` grants. Returns the bytes kept (to give back to the budget later).
    pub fn push_body(&mut self, bytes: &[u8], budget: Option<&BodyBudget>) -> usize {
        if self.body_state != BodyState::Complete || bytes.is_empty() {
            return 0;
        }
        let room = MAX_KEPT_BODY.saturating_sub(self.body.len());
        let want = bytes.len().min(room);
        let granted = budget.map_or(want, |b| b.take(want));
        self.body
            .extend_from_slice(bytes.get(..granted).unwrap_or_default());
        if granted < want {
            self.body_state = BodyState::OverBudget;
        } else if want < bytes.len() {
            self.body_state = BodyState::TooLarge {
                limit: MAX_KEPT_BODY,
            };
        }
        granted
    }

    /// `n` body bytes are missing from the capture.
    pub fn gap(&mut self, n: u64) {
        match &mut self.body_state {
            BodyState::Complete => self.body_state = BodyState::Missing { bytes: n },
            BodyState::Missing { bytes } => *bytes = bytes.saturating_add(n),
            _ => {}
        }
    }

    /// The response did not reach its framed end.
    pub fn cut(&mut self) {
        if self.body_state == BodyState::Complete {
            self.body_state = BodyState::Cut;
        }
    }
}

/// Body bytes still allowed to be kept by all connections of one analysis
/// together; shared by its parsers, given back as their records leave.
#[derive(Debug, Clone)]
pub struct BodyBudget(Arc<AtomicUsize>);

impl Default for BodyBudget {
    fn default() -> Self {
        BodyBudget::new(BODY_BUDGET)
    }
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> BodyBudget {
        BodyBudget(Arc::new(AtomicUsize::new(bytes)))
    }

    /// Takes up to `n` bytes; returns how many were granted.
    pub fn take(&self, n: usize) -> usize {
        let mut granted = 0;
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                granted = n.min(left);
                Some(left - granted)
            });
        granted
    }

    /// Gives `n` bytes back.
    pub fn give(&self, n: usize) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes left.
    pub fn left(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_bounded() {
        let mut d = ResponseData::new(false);
        let many: Vec<(String, Vec<u8>)> = (0..100)
            .map(|i| (format!("X-{i}"), b" v ".to_vec()))
            .collect();
        d.keep_fields(many.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        assert_eq!(d.headers.len(), MAX_KEPT_FIELDS);
        assert!(!d.headers_complete);
        assert_eq!(d.header("x-3").collect::<Vec<_>>(), ["v"]);
        let mut d = ResponseData::new(false);
        let big = vec![b'a'; MAX_KEPT_FIELD_BYTES];
        d.keep_fields([("A", &b"1"[..]), ("B", &big[..])]);
        assert_eq!((d.headers.len(), d.headers_complete), (1, false));
        assert_eq!(d.body_state, BodyState::NotKept);
    }

    #[test]
    fn body_limit_gap_cut_and_budget() {
        let mut d = ResponseData::new(true);
        assert_eq!(
            d.push_body(&vec![1; MAX_KEPT_BODY - 1], None),
            MAX_KEPT_BODY - 1
        );
        assert_eq!(d.push_body(b"ab", None), 1);
        assert_eq!(
            d.body_state,
            BodyState::TooLarge {
                limit: MAX_KEPT_BODY
            }
        );
        assert_eq!(d.push_body(b"ab", None), 0);
        let mut d = ResponseData::new(true);
        d.push_body(b"abc", None);
        d.gap(5);
        d.gap(2);
        d.push_body(b"def", None);
        assert_eq!(
            (&d.body[..], &d.body_state),
            (&b"abc"[..], &BodyState::Missing { bytes: 7 })
        );
        d.cut();
        assert_eq!(d.body_state, BodyState::Missing { bytes: 7 });
        let budget = BodyBudget::new(4);
        let mut d = ResponseData::new(true);
        assert_eq!(d.push_body(b"abcdef", Some(&budget)), 4);
        assert_eq!(d.body_state, BodyState::OverBudget);
        budget.give(4);
        assert_eq!(budget.left(), 4);
        assert!(d.body_state.why_partial().unwrap().contains("budget"));
    }
}
