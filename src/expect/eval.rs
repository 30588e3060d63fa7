//! The evaluator: one rule over a view of one transaction's response. The body
//! is decoded and parsed as JSON at most once per view, whatever the number of
//! rules. Descriptions of what was found are escaped and shortened: they come
//! from the packets and end up on a terminal.

use std::cell::OnceCell;
use std::time::Duration;

use serde_json::Value;

use super::body::{self, Body};
use super::{Check, Cmp, HeaderTest, JsonPath, JsonTest, PathStep, TextTest};
use crate::app::http::ResponseData;
use crate::app::http::{MAX_KEPT_FIELDS, MAX_KEPT_FIELD_BYTES};
use crate::base::escape::escape_str;

/// Longest excerpt of a body or value shown in a finding (characters, before escaping).
const MAX_EXCERPT: usize = 160;

/// What a rule made of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The rule holds.
    Pass,
    /// The rule does not hold: what was found instead (escaped, shortened).
    Fail(String),
    /// The rule could not be checked: why (the data was not captured in full).
    Unchecked(String),
}

/// One transaction's response (and request) as the rules see it.
#[derive(Debug, Default)]
pub struct TxView<'a> {
    /// Final status, `None` when no response head was seen.
    pub status: Option<u16>,
    /// Kept header fields and body (`None`: nothing was kept).
    pub data: Option<&'a ResponseData>,
    /// Request first byte → response last byte; `None` when not measurable.
    pub total: Option<Duration>,
    /// Request last byte → response first byte; `None` when not measurable.
    pub ttfb: Option<Duration>,
    /// The request's kept header fields and body (`None`: nothing was kept).
    pub request: Option<&'a ResponseData>,
    /// Whether the request head was seen.
    pub request_seen: bool,
    /// This view is of the request (the inner view `request ...` rules read).
    is_request: bool,
    body: OnceCell<Result<Body<'a>, String>>,
    json: OnceCell<Result<Value, String>>,
    request_view: OnceCell<Box<TxView<'a>>>,
}

impl<'a> TxView<'a> {
    /// A view of a response.
    pub fn new(
        status: Option<u16>,
        data: Option<&'a ResponseData>,
        total: Option<Duration>,
        ttfb: Option<Duration>,
    ) -> TxView<'a> {
        TxView {
            status,
            data,
            total,
            ttfb,
            ..TxView::default()
        }
    }

    /// The same view with the request's kept data for `request ...` rules;
    /// `seen`: the request head was in the capture.
    pub fn with_request(mut self, data: Option<&'a ResponseData>, seen: bool) -> TxView<'a> {
        self.request = data;
        self.request_seen = seen;
        self
    }

    /// `"request"` or `"response"`: what this view's header and body rules read.
    fn message(&self) -> &'static str {
        if self.is_request {
            "request"
        } else {
            "response"
        }
    }

    /// Whether the message this view reads was seen at all.
    fn seen(&self) -> bool {
        if self.is_request {
            self.request_seen
        } else {
            self.status.is_some()
        }
    }

    fn not_seen(&self) -> Outcome {
        Outcome::Unchecked(format!("no {} was seen", self.message()))
    }

    /// The view `request ...` rules read: the request's data as the message.
    fn request_view(&self) -> &TxView<'a> {
        self.request_view.get_or_init(|| {
            Box::new(TxView {
                data: self.request,
                request_seen: self.request_seen,
                is_request: true,
                ..TxView::default()
            })
        })
    }

    /// Evaluates one check.
    pub fn evaluate(&self, check: &Check) -> Outcome {
        match check {
            Check::Status(cmp, n) => self.status_with(|s| cmp.holds(s, *n)),
            Check::StatusIn(lo, hi) => self.status_with(|s| (*lo..=*hi).contains(&s)),
            Check::Header { name, test } => self.header(name, test),
            Check::Json { path, test } => self.json(path, test),
            Check::Body(test) => self.body_text(test),
            // Only header, json and body parse after `request`; a nested or
            // other check has no request meaning.
            Check::Request(inner) => match inner.as_ref() {
                Check::Header { .. } | Check::Json { .. } | Check::Body(_) if !self.is_request => {
                    self.request_view().evaluate(inner)
                }
                _ => Outcome::Unchecked(
                    "only header, json and body rules apply to the request".into(),
                ),
            },
            Check::Time(cmp, d) => timing(
                self.total,
                *cmp,
                *d,
                "time",
                "the response did not complete (or its request was not seen in full)",
            ),
            Check::Ttfb(cmp, d) => timing(
                self.ttfb,
                *cmp,
                *d,
                "ttfb",
                "no response came after a fully seen request",
            ),
        }
    }

    fn status_with(&self, ok: impl Fn(u16) -> bool) -> Outcome {
        match self.status {
            None => Outcome::Unchecked("no response was seen".into()),
            Some(s) if ok(s) => Outcome::Pass,
            Some(s) => Outcome::Fail(format!("status was {s}")),
        }
    }

    fn header(&self, name: &str, test: &HeaderTest) -> Outcome {
        if !self.seen() {
            return self.not_seen();
        }
        let Some(data) = self.data else {
            return Outcome::Unchecked(format!(
                "the {}'s header fields were not kept",
                self.message()
            ));
        };
        let values: Vec<&str> = data.header(name).collect();
        let shown = escape_str(name);
        let incomplete = || {
            Outcome::Unchecked(format!(
                "header {shown} is not among the first {MAX_KEPT_FIELDS} fields ({} KiB) netsleuth keeps",
                MAX_KEPT_FIELD_BYTES / 1024
            ))
        };
        let was = || {
            let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
            format!("header {shown} was {}", list.join(", "))
        };
        let absent = |pass_if_absent: bool| {
            if !data.headers_complete {
                incomplete()
            } else if pass_if_absent {
                Outcome::Pass
            } else {
                Outcome::Fail(format!("header {shown} is missing"))
            }
        };
        match test {
            HeaderTest::Exists if values.is_empty() => absent(false),
            HeaderTest::Exists => Outcome::Pass,
            HeaderTest::Missing if values.is_empty() => absent(true),
            HeaderTest::Missing => Outcome::Fail(format!("{} (present)", was())),
            HeaderTest::Text(t) => {
                if values.is_empty() {
                    return absent(matches!(t, TextTest::Ne(_) | TextTest::NotContains(_)));
                }
                let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|v| f(v));
                let ok = match t {
                    TextTest::Eq(x) => any(&|v| v == x),
                    TextTest::Ne(x) => !any(&|v| v == x),
                    TextTest::Contains(x) => any(&|v| contains_ci(v.as_bytes(), x.as_bytes())),
                    TextTest::NotContains(x) => !any(&|v| contains_ci(v.as_bytes(), x.as_bytes())),
                };
                if ok {
                    Outcome::Pass
                } else {
                    Outcome::Fail(was())
                }
            }
        }
    }

    fn body(&self) -> &Result<Body<'a>, String> {
        self.body.get_or_init(|| match self.data {
            None => Err(format!("the {} body was not kept", self.message())),
            Some(d) => body::decode(d, self.message()),
        })
    }

    fn body_text(&self, test: &TextTest) -> Outcome {
        if !self.seen() {
            return self.not_seen();
        }
        let body = match self.body() {
            Ok(b) => b,
            Err(why) => return Outcome::Unchecked(why.clone()),
        };
        let (needle, want) = match test {
            TextTest::Contains(x) | TextTest::Eq(x) => (x, true),
            TextTest::NotContains(x) | TextTest::Ne(x) => (x, false),
        };
        let found = find_ci(&body.bytes, needle.as_bytes());
        match (found, want, &body.partial) {
            (Some(_), true, _) | (None, false, None) => Outcome::Pass,
            (None, _, Some(why)) => Outcome::Unchecked(format!(
                "{why}; its first {} bytes do not contain {}",
                body.bytes.len(),
                quote(needle)
            )),
            (None, true, None) => Outcome::Fail(format!(
                "the body does not contain {}; body was {}",
                quote(needle),
                excerpt(&body.bytes)
            )),
            (Some(at), false, _) => Outcome::Fail(format!(
                "the body contains {}: {}",
                quote(needle),
                excerpt(body.bytes.get(at.saturating_sub(40)..).unwrap_or_default())
            )),
        }
    }

    fn document(&self) -> Result<&Value, Outcome> {
        if !self.seen() {
            return Err(self.not_seen());
        }
        let body = match self.body() {
            Ok(b) => b,
            Err(why) => return Err(Outcome::Unchecked(why.clone())),
        };
        if let Some(why) = &body.partial {
            return Err(Outcome::Unchecked(why.clone()));
        }
        let parsed = self.json.get_or_init(|| {
            if body.bytes.iter().all(u8::is_ascii_whitespace) {
                return Err("the body is empty, not JSON".into());
            }
            serde_json::from_slice::<Value>(&body.bytes).map_err(|e| {
                format!(
                    "the body is not JSON ({e}); body was {}",
                    excerpt(&body.bytes)
                )
            })
        });
        parsed.as_ref().map_err(|e| Outcome::Fail(e.clone()))
    }

    fn json(&self, path: &JsonPath, test: &JsonTest) -> Outcome {
        let doc = match self.document() {
            Ok(d) => d,
            Err(o) => return o,
        };
        let value = lookup(doc, path);
        let missing = || {
            Outcome::Fail(format!(
                "{path} is missing; body was {}",
                excerpt_value(doc)
            ))
        };
        let was = |v: &Value| Outcome::Fail(format!("{path} was {}", excerpt_value(v)));
        match (test, value) {
            (JsonTest::Exists, Some(_)) => Outcome::Pass,
            (JsonTest::Exists, None) => missing(),
            (JsonTest::Missing, None) => Outcome::Pass,
            (JsonTest::Missing, Some(v)) => was(v),
            (JsonTest::Eq(want), Some(v)) if json_eq(v, want) => Outcome::Pass,
            (JsonTest::Eq(_), Some(v)) => was(v),
            (JsonTest::Eq(_), None) => missing(),
            (JsonTest::Ne(want), Some(v)) if json_eq(v, want) => was(v),
            (JsonTest::Ne(_), _) => Outcome::Pass,
            (JsonTest::Order(cmp, n), Some(v)) => match v.as_f64() {
                Some(x) if cmp.holds(x, *n) => Outcome::Pass,
                Some(_) => was(v),
                None => Outcome::Fail(format!("{path} was {}, not a number", excerpt_value(v))),
            },
            (JsonTest::Order(..), None) => missing(),
            (JsonTest::Contains(x), Some(Value::String(s))) => {
                if contains_ci(s.as_bytes(), x.as_bytes()) {
                    Outcome::Pass
                } else {
                    was(value.unwrap_or(&Value::Null))
                }
            }
            (JsonTest::Contains(_), Some(v)) => {
                Outcome::Fail(format!("{path} was {}, not a string", excerpt_value(v)))
            }
            (JsonTest::Contains(_), None) => missing(),
            (JsonTest::NotContains(x), Some(Value::String(s)))
                if contains_ci(s.as_bytes(), x.as_bytes()) =>
            {
                was(value.unwrap_or(&Value::Null))
            }
            (JsonTest::NotContains(_), _) => Outcome::Pass,
        }
    }
}

fn timing(got: Option<Duration>, cmp: Cmp, limit: Duration, what: &str, why: &str) -> Outcome {
    match got {
        None => Outcome::Unchecked(format!("{what} is not measurable: {why}")),
        Some(d) if cmp.holds(d, limit) => Outcome::Pass,
        Some(d) => Outcome::Fail(format!(
            "{what} was {}",
            crate::base::human_duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        )),
    }
}

/// The value at `path`, if any.
fn lookup<'v>(doc: &'v Value, path: &JsonPath) -> Option<&'v Value> {
    let mut v = doc;
    for step in &path.0 {
        v = match (step, v) {
            (PathStep::Key(k), Value::Object(m)) => m.get(k)?,
            (PathStep::Index(i), Value::Array(a)) => {
                let idx = if *i < 0 {
                    let back = usize::try_from(i.unsigned_abs()).ok()?;
                    a.len().checked_sub(back)?
                } else {
                    usize::try_from(*i).ok()?
                };
                a.get(idx)?
            }
            _ => return None,
        };
    }
    Some(v)
}

/// JSON equality with numbers compared by value (`1 == 1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// ASCII case-insensitive search; the index of the first match. Both sides are
/// lower-cased once, then searched with `memchr`'s substring search (through
/// `bstr`): linear, where a window-by-window compare is not.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    use bstr::ByteSlice;
    if needle.is_empty() {
        return Some(0);
    }
    hay.to_ascii_lowercase().find(needle.to_ascii_lowercase())
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    find_ci(hay, needle).is_some()
}

/// Text shortened to [`MAX_EXCERPT`] characters, escaped.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(MAX_EXCERPT) {
        Some((cut, _)) => format!("{}…", escape_str(s.get(..cut).unwrap_or_default())),
        None => escape_str(s),
    }
}

/// A quoted, escaped, shortened string.
fn quote(s: &str) -> String {
    format!("\"{}\"", shorten(s))
}

/// Body bytes for a finding: shortened, escaped; `empty` when empty.
fn excerpt(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "empty".into();
    }
    let head = bytes.get(..MAX_EXCERPT * 4).unwrap_or(bytes);
    let text = String::from_utf8_lossy(head);
    let mut out = shorten(&text);
    if head.len() < bytes.len() && !out.ends_with('…') {
        out.push('…');
    }
    out
}

/// A JSON value, compact, shortened, escaped.
fn excerpt_value(v: &Value) -> String {
    // Serializing a huge document to show 160 characters is wasteful but
    // bounded by the 4 MiB decoded body.
    shorten(&serde_json::to_string(v).unwrap_or_default())
}
