//! Message heads: finding the end of a head in a bounded buffer, parsing it with
//! `httparse` (lenient, header array grown on `TooManyHeaders`), and reducing it to
//! the small owned facts the rest of the parser needs.

use std::borrow::Cow;

use super::capture::{KeepConfig, ResponseData};

/// Most bytes one head may take (request line or status line plus headers).
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Header slots tried first; doubled on `TooManyHeaders` up to [`MAX_HEADERS`].
pub(crate) const INITIAL_HEADERS: usize = 32;
/// Most header fields one head may carry.
pub(crate) const MAX_HEADERS: usize = 4096;
/// Longest string kept from a head (path, host, reason, content type).
const MAX_FIELD_CHARS: usize = 2048;

/// How the body of a message is delimited, decided from its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    /// No body.
    None,
    /// Exactly this many bytes.
    Fixed(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the sender closes (responses only).
    Close,
}

/// What the framing headers say, before the method/status rules apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Framing {
    /// The final transfer coding is chunked.
    pub chunked: bool,
    /// A Transfer-Encoding header was present.
    pub transfer_encoding: bool,
    /// The Content-Length, when present and consistent.
    pub content_length: Option<u64>,
    /// Content-Length values were invalid or disagreed.
    pub bad_content_length: bool,
}

/// The owned facts of a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: String,
    pub path: String,
    pub version: &'static str,
    pub host: Option<String>,
    pub content_type: Option<String>,
    pub framing: Framing,
    /// Header fields (and an empty body) kept for `request ...` rules, when asked.
    pub kept: Option<Box<ResponseData>>,
}

/// The owned facts of a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub version: &'static str,
    pub content_type: Option<String>,
    pub framing: Framing,
    /// Header fields (and an empty body) kept for `--expect` rules, when asked.
    pub kept: Option<Box<ResponseData>>,
}

/// The outcome of trying to parse a buffered head.
#[derive(Debug)]
pub(crate) enum Parsed<T> {
    /// A complete head of this many bytes.
    Done(T, usize),
    /// More bytes needed.
    Partial,
    /// Not a valid head; the reason.
    Invalid(String),
}

/// Where the blank line ending a head lies, searching from `from`: the index just
/// past it. Accepts CRLF and bare LF line ends, as `httparse` does.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let tail = buf.get(start..)?;
    for (i, w) in tail.windows(2).enumerate() {
        if w == b"\n\n" {
            return Some(start + i + 2);
        }
        if w == b"\n\r" && tail.get(i + 2) == Some(&b'\n') {
            return Some(start + i + 3);
        }
    }
    None
}

fn config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .ignore_invalid_headers_in_responses(true)
        .ignore_invalid_headers_in_requests(true);
    c
}

fn version(v: Option<u8>) -> &'static str {
    match v {
        Some(0) => "HTTP/1.0",
        _ => "HTTP/1.1",
    }
}

fn bounded(s: Cow<'_, str>) -> String {
    match s.char_indices().nth(MAX_FIELD_CHARS) {
        Some((cut, _)) => format!("{}…", s.get(..cut).unwrap_or_default()),
        None => s.into_owned(),
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    bounded(String::from_utf8_lossy(bytes.trim_ascii()))
}

/// Content-Length, Transfer-Encoding, and the chosen text headers.
fn framing_of(headers: &[httparse::Header<'_>]) -> Framing {
    let mut f = Framing::default();
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            f.transfer_encoding = true;
            // The last coding listed (over all fields) decides.
            if let Some(last) = h
                .value
                .split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .rfind(|c| !c.is_empty())
            {
                f.chunked = last.eq_ignore_ascii_case(b"chunked");
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            for v in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                match parse_decimal(v) {
                    Some(n) if f.content_length.is_none_or(|old| old == n) => {
                        f.content_length = Some(n);
                    }
                    _ => f.bad_content_length = true,
                }
            }
        }
    }
    if f.bad_content_length {
        f.content_length = None;
    }
    f
}

fn parse_decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn header<'b>(headers: &[httparse::Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// Parses a request head at the start of `buf`, keeping its header fields
/// (bounded) in `kept` when `keep` asks for anything of requests.
pub(crate) fn parse_request_keeping(buf: &[u8], keep: KeepConfig) -> Parsed<RequestHead> {
    let cfg = config();
    let mut n = INITIAL_HEADERS;
    loop {
        let mut slots = vec![httparse::EMPTY_HEADER; n];
        let mut req = httparse::Request::new(&mut slots);
        match cfg.parse_request(&mut req, buf) {
            Ok(httparse::Status::Complete(len)) => {
                let headers = &*req.headers;
                let head = RequestHead {
                    method: bounded(Cow::Borrowed(req.method.unwrap_or_default())),
                    path: bounded(Cow::Borrowed(req.path.unwrap_or_default())),
                    version: version(req.version),
                    host: header(headers, "host").map(text),
                    content_type: header(headers, "content-type").map(text),
                    framing: framing_of(headers),
                    kept: keep.request_any().then(|| {
                        let mut d = ResponseData::new(keep.request_body);
                        d.keep_fields(headers.iter().map(|h| (h.name, h.value)));
                        Box::new(d)
                    }),
                };
                return Parsed::Done(head, len);
            }
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(httparse::Error::TooManyHeaders) if n < MAX_HEADERS => n *= 2,
            Err(e) => return Parsed::Invalid(format!("malformed request head: {e}")),
        }
    }
}

/// Parses a response head at the start of `buf`, keeping its header fields
/// (bounded) in `kept` when `keep` asks for anything.
pub(crate) fn parse_response_keeping(buf: &[u8], keep: KeepConfig) -> Parsed<ResponseHead> {
    let cfg = config();
    let mut n = INITIAL_HEADERS;
    loop {
        let mut slots = vec![httparse::EMPTY_HEADER; n];
        let mut resp = httparse::Response::new(&mut slots);
        match cfg.parse_response(&mut resp, buf) {
            Ok(httparse::Status::Complete(len)) => {
                let headers = &*resp.headers;
                let head = ResponseHead {
                    status: resp.code.unwrap_or_default(),
                    reason: bounded(Cow::Borrowed(resp.reason.unwrap_or_default())),
                    version: version(resp.version),
                    content_type: header(headers, "content-type").map(text),
                    framing: framing_of(headers),
                    kept: keep.response_any().then(|| {
                        let mut d = ResponseData::new(keep.body);
                        d.keep_fields(headers.iter().map(|h| (h.name, h.value)));
                        Box::new(d)
                    }),
                };
                return Parsed::Done(head, len);
            }
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(httparse::Error::TooManyHeaders) if n < MAX_HEADERS => n *= 2,
            Err(e) => return Parsed::Invalid(format!("malformed response head: {e}")),
        }
    }
}

/// Body length of a request (RFC 9112 §6.3): chunked, else Content-Length, else
/// none. `Err` when the request cannot be framed (the direction must stop).
pub(crate) fn request_length(f: &Framing) -> Result<Length, &'static str> {
    if f.transfer_encoding {
        return if f.chunked {
            Ok(Length::Chunked)
        } else {
            Err("request Transfer-Encoding does not end in chunked: its body cannot be delimited")
        };
    }
    if f.bad_content_length {
        return Err("request Content-Length invalid or conflicting: its body cannot be delimited");
    }
    Ok(f.content_length.map_or(Length::None, Length::Fixed))
}

/// Body length of a final response to a request with `method` (RFC 9112 §6.3),
/// and a note when the headers were odd.
pub(crate) fn response_length(
    method: Option<&str>,
    status: u16,
    f: &Framing,
) -> (Length, Option<&'static str>) {
    let head = method.is_some_and(|m| m.eq_ignore_ascii_case("HEAD"));
    if head || (100..200).contains(&status) || status == 204 || status == 304 {
        return (Length::None, None);
    }
    if f.transfer_encoding {
        let note = f.content_length.map(|_| {
            "response has both Transfer-Encoding and Content-Length: Transfer-Encoding wins"
        });
        return if f.chunked {
            (Length::Chunked, note)
        } else {
            (Length::Close, note)
        };
    }
    if f.bad_content_length {
        return (
            Length::Close,
            Some("response Content-Length invalid or conflicting: body read until close"),
        );
    }
    (f.content_length.map_or(Length::Close, Length::Fixed), None)
}

/// A parsed head of either direction.
pub(crate) enum Head {
    /// From the client.
    Request(RequestHead),
    /// From the server.
    Response(ResponseHead),
}

impl<T> Parsed<T> {
    /// Converts the parsed value.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        match self {
            Parsed::Done(t, n) => Parsed::Done(f(t), n),
            Parsed::Partial => Parsed::Partial,
            Parsed::Invalid(e) => Parsed::Invalid(e),
        }
    }
}
