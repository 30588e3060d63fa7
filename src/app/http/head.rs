//! Message heads: finding the end of a head in a bounded buffer, parsing it with
//! `httparse` (lenient, header array grown on `TooManyHeaders`), and reducing it to
//! the small owned facts the rest of the parser needs.

use std::borrow::Cow;

use super::capture::{KeepConfig, ResponseData};
use super::meta::{header_names, request_meta, RequestMeta};

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
    /// The Content-Length Zeek would use (see [`content_length_value`]).
    pub content_length: Option<u64>,
    /// What was odd about the Content-Length fields, for a note.
    pub content_length_note: Option<&'static str>,
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
    /// User-Agent, Referer, Origin, user name, proxy headers, header names.
    pub meta: RequestMeta,
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
    /// Header names, upper-cased, in order (bounded).
    pub header_names: super::meta::HeaderNames,
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
            // As Zeek: every field overwrites the one before (the last wins).
            let (value, note) = content_length_value(h.value);
            if f.content_length.is_some() && value.is_some() && f.content_length != value {
                f.content_length_note =
                    Some("Content-Length fields disagree: the last one is used, as Zeek does");
            } else if note.is_some() {
                f.content_length_note = note;
            }
            f.content_length = value;
        }
    }
    f
}

/// One Content-Length field's value, read as Zeek reads it (`atoi_n` over its
/// first token): leading zeros are fine; digits are read up to the first
/// other byte (`12abc` is 12, a list `5, 5` is 5); no digit at all is 0; a
/// negative value means no length (Zeek's `content_length < 0`: a response
/// then runs until close, a request has no body). A value above 2^63 - 1,
/// which overflows Zeek's `int64_t` (undefined behaviour there, a wrap in
/// practice: 2^64 reads as 0), is taken as no length: a response runs until
/// close rather than pretending to end. Each odd case comes with a note.
pub(crate) fn content_length_value(v: &[u8]) -> (Option<u64>, Option<&'static str>) {
    let v = v.trim_ascii_start();
    let (negative, digits) = match v.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    let (num, rest) = digits.split_at(n);
    if num.is_empty() {
        return (
            Some(0),
            Some("Content-Length is not a number: read as 0, as Zeek does"),
        );
    }
    let value = num.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    let rest = rest.trim_ascii();
    let note = if rest.is_empty() {
        None
    } else if rest.starts_with(b",")
        && rest
            .split(|&b| b == b',')
            .skip(1)
            .all(|v| v.trim_ascii() == num)
    {
        // `5, 5`: a list of one value (RFC 9110 §8.6 allows it).
        None
    } else {
        Some("Content-Length has bytes after its digits: they are ignored, as Zeek does")
    };
    match value {
        _ if negative => (
            None,
            Some("Content-Length is negative: taken as absent, as Zeek does"),
        ),
        Some(n) if n <= i64::MAX as u64 => (Some(n), note),
        _ => (
            None,
            Some("Content-Length overflows a 64-bit signed integer: taken as absent"),
        ),
    }
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
    match unfolded(buf) {
        Some((flat, end)) => parse_request_flat(&flat, keep).with_len(end),
        None => parse_request_flat(buf, keep),
    }
}

fn parse_request_flat(buf: &[u8], keep: KeepConfig) -> Parsed<RequestHead> {
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
                    meta: request_meta(headers.iter().map(|h| (h.name, h.value))),
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
    match unfolded(buf) {
        Some((flat, end)) => parse_response_flat(&flat, keep).with_len(end),
        None => parse_response_flat(buf, keep),
    }
}

fn parse_response_flat(buf: &[u8], keep: KeepConfig) -> Parsed<ResponseHead> {
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
                    header_names: header_names(headers.iter().map(|h| h.name)),
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

/// A request line without a version at the start of `buf`, complete with its
/// line end: `TOKEN SP+ target SP* CRLF` (or LF), the method at least three
/// token characters and the target one or more visible characters not
/// starting `HTTP/` (Zeek's test for HTTP/0.9: a 3-character method and a
/// URI). The head and its length; `None` for anything else, including a line
/// with a version or one not yet ended.
pub(crate) fn parse_http09_request(buf: &[u8]) -> Option<(RequestHead, usize)> {
    let lf = buf.iter().take(MAX_HEAD_BYTES).position(|&b| b == b'\n')?;
    let line = buf.get(..lf)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let m = line.iter().take_while(|&&b| super::is_tchar(b)).count();
    let (method, rest) = line.split_at(m);
    let sp = rest.iter().take_while(|&&b| b == b' ').count();
    let rest = rest.get(sp..)?;
    let t = rest
        .iter()
        .take_while(|&&b| (0x21..0x7f).contains(&b))
        .count();
    let (target, tail) = rest.split_at(t);
    if method.len() < 3
        || sp == 0
        || target.is_empty()
        || target.starts_with(b"HTTP/")
        || !tail.iter().all(|&b| b == b' ')
    {
        return None;
    }
    let head = RequestHead {
        method: text(method),
        path: text(target),
        version: super::exchange::HTTP09,
        host: None,
        content_type: None,
        framing: Framing::default(),
        meta: RequestMeta::default(),
        kept: None,
    };
    Some((head, lf + 1))
}

/// The head standing for the raw response to an HTTP/0.9 request.
pub(crate) fn http09_response() -> ResponseHead {
    ResponseHead {
        status: 0,
        reason: String::new(),
        version: super::exchange::HTTP09,
        content_type: None,
        framing: Framing::default(),
        header_names: Default::default(),
        kept: None,
    }
}

/// Body length of a request (RFC 9112 §6.3): chunked, else Content-Length (as
/// Zeek reads it), else none. `Err` when the request cannot be framed (the direction must stop).
pub(crate) fn request_length(f: &Framing) -> Result<Length, &'static str> {
    if f.transfer_encoding {
        return if f.chunked {
            Ok(Length::Chunked)
        } else {
            Err("request Transfer-Encoding does not end in chunked: its body cannot be delimited")
        };
    }
    // Odd Content-Length values are read as Zeek reads them (noted by the
    // caller from `content_length_note`), never a reason to stop.
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
    (
        f.content_length.map_or(Length::Close, Length::Fixed),
        f.content_length_note,
    )
}

/// A parsed head of either direction.
pub(crate) enum Head {
    /// From the client.
    Request(RequestHead),
    /// From the server.
    Response(ResponseHead),
}

/// A complete head at the start of `buf` with obsolete line folding (a
/// header line continued on lines starting with SP or HT), unfolded, and the
/// head's length in `buf`; `None` when the head is incomplete or has no fold.
/// As Zeek's MIME reader, a continuation is joined to the line before by
/// dropping only the line break (its leading whitespace stays), so
/// `A: b\r\n  c` reads as `A: b  c`. A continuation right after the start line
/// has no field to join and is left for `httparse` to judge.
pub(crate) fn unfolded(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    // One pass over the line breaks (this runs on every head; most have no
    // fold): the head ends at an empty line, a fold is a break followed by
    // a space or tab after the start line.
    let mut breaks = memchr::memchr_iter(b'\n', buf);
    let first_lf = breaks.next()?;
    let mut fold = false;
    let mut i = first_lf;
    let end = loop {
        match buf.get(i + 1) {
            Some(b'\n') => break i + 2,
            Some(b'\r') if buf.get(i + 2) == Some(&b'\n') => break i + 3,
            Some(b' ' | b'\t') if i > first_lf => fold = true,
            None => return None,
            _ => {}
        }
        i = breaks.next()?;
    };
    if !fold {
        return None;
    }
    let head = buf.get(..end)?;
    let folds = |i: usize| {
        head.get(i) == Some(&b'\n') && i > first_lf && matches!(head.get(i + 1), Some(b' ' | b'\t'))
    };
    let mut out = Vec::with_capacity(head.len());
    for (i, &b) in head.iter().enumerate() {
        if folds(i) {
            if out.last() == Some(&b'\r') {
                out.pop();
            }
            continue;
        }
        out.push(b);
    }
    Some((out, end))
}

impl<T> Parsed<T> {
    /// A `Done` head's length replaced by `len` (its length before unfolding).
    fn with_len(self, len: usize) -> Parsed<T> {
        match self {
            Parsed::Done(t, _) => Parsed::Done(t, len),
            other => other,
        }
    }

    /// Converts the parsed value.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        match self {
            Parsed::Done(t, n) => Parsed::Done(f(t), n),
            Parsed::Partial => Parsed::Partial,
            Parsed::Invalid(e) => Parsed::Invalid(e),
        }
    }
}
