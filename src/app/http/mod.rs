//! HTTP/1.x over reassembled TCP streams: request/response pairing (keep-alive and
//! pipelining), body framing, and per-transaction timing from the packets.
//!
//! Input is what `flow::table::FlowSink` delivers, one [`HttpConn`] per connection:
//! each direction's bytes in order ([`HttpConn::on_data`]), gaps where the capture
//! missed bytes ([`HttpConn::on_gap`]), and how each direction ended
//! ([`HttpConn::on_end`]). Decrypted TLS streams come through the same calls, with
//! `decrypted` set on the connection. Output is [`HttpTransaction`] records.
//!
//! Rules (RFC 9112 §6.3, and Zeek's HTTP analyzer where the RFC leaves a
//! choice), one implementation in `framing.rs` and `head.rs`:
//! * Heads are parsed by `httparse` with its lenient options; a head may take at
//!   most 64 KiB and 4096 header fields. Obsolete line folding is joined first
//!   (`head::unfolded`). Any token is a method. A malformed or oversize head
//!   stops parsing of that direction with a note (and a counter); a gap where
//!   a head or a chunk's framing should be is noted and parsing resumes at the
//!   next message line (`resync.rs`, bounded; the records after it marked
//!   `resynced`).
//! * A request line without a version (`GET /path` and its line end) is an
//!   HTTP/0.9 request, as Zeek takes it: no headers; its response is the rest
//!   of the server's stream, with no status line, until the server closes.
//! * Requests: `Transfer-Encoding` ending in chunked → chunked; otherwise
//!   `Content-Length`; otherwise no body. Any other transfer coding cannot be
//!   framed: the client direction stops.
//! * `Content-Length` is read as Zeek reads it (`head::content_length_value`):
//!   leading zeros fine, digits up to the first other byte, none at all is 0,
//!   negative or beyond 2^63 - 1 is no length; of several fields the last
//!   wins. Each oddity is noted.
//! * Chunk sizes: hex with leading zeros, extensions after `;` ignored; a size
//!   needing more than 64 bits, or not hex, loses the body's framing.
//! * Responses: to HEAD, and 1xx/204/304, have no body; then chunked; then
//!   `Content-Length`; otherwise the body runs until the server closes. 1xx
//!   responses other than 101 are recorded in `informational` (the last
//!   one's reason in `info_msg`) and the final response is awaited; a 101 ends
//!   parsing; after a 2xx to CONNECT the rest of both streams is a tunnel
//!   (`tunnel.rs`): detected and parsed again (TLS, HTTP) on the same
//!   connection, as Zeek's PIA does.
//! * Responses pair with requests first in, first out. A response with no request
//!   outstanding (the capture started mid-connection) becomes a transaction without
//!   request fields.
//! * Bodies are counted, never buffered; a gap inside a body counts missing bytes.
//!   Only when `--expect` rules need them ([`HttpConn::with_keep`]) are the final
//!   response's header fields and body prefix kept, bounded (`capture.rs`), on
//!   [`HttpTransaction::response_data`].
//! * The fields Zeek's http.log has beyond these (User-Agent, Referer, Origin,
//!   the Basic-auth user, proxy headers, header names, `trans_depth`) are in
//!   [`HttpMeta`] (`meta.rs`).
//!
//! Timing: each byte carries the frame and timestamp of the segment that delivered
//! it. `send` is the request's first to last byte, `wait` the request's last byte to
//! the final response's first byte (after any 1xx), `transfer` that byte to the
//! response's last byte, `total` the request's first byte to the response's last.

pub mod capture;
mod conn;
#[cfg(test)]
mod error_tests;
pub(crate) mod exchange;
pub(crate) mod framing;
pub(crate) mod head;
pub mod meta;
#[cfg(test)]
mod proptests;
mod resync;
#[cfg(test)]
mod tests;
mod tunnel;
#[cfg(test)]
mod zeek_tests;

use std::net::SocketAddr;

use serde::Serialize;

pub use capture::{
    BodyBudget, BodyState, KeepConfig, ResponseData, MAX_KEPT_BODY, MAX_KEPT_FIELDS,
    MAX_KEPT_FIELD_BYTES,
};
pub use conn::HttpConn;
pub use meta::{HeaderNames, HttpMeta};

use crate::base::Timestamp;

/// Counters of one connection's HTTP parsing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Request heads parsed.
    pub requests: u64,
    /// Final response heads parsed.
    pub responses: u64,
    /// 1xx response heads parsed (101 excluded: it is final).
    pub informational: u64,
    /// Heads `httparse` rejected.
    pub malformed_heads: u64,
    /// Heads larger than 64 KiB.
    pub oversize_heads: u64,
    /// Gaps that fell in a head or between messages (parsing resumed at the
    /// next message line, `resync.rs`).
    pub head_gaps: u64,
    /// Body bytes missing from the capture.
    pub missing_body_bytes: u64,
    /// Responses with no request outstanding.
    pub unpaired_responses: u64,
    /// Bodies whose framing broke (bad chunk sizes, unframeable requests).
    pub framing_errors: u64,
}

/// Where one byte of a message was seen: the frame that carried it, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteMark {
    /// Frame number.
    pub frame: u64,
    /// Capture time of that frame.
    pub ts: Timestamp,
}

/// Who gave up on a request that got no (complete) response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GaveUpBy {
    /// The client closed or reset the connection.
    Client,
    /// The server closed or reset the connection.
    Server,
    /// The capture ended first.
    CaptureEnd,
}

impl GaveUpBy {
    /// `"client"`, `"server"` or `"capture_end"`.
    pub fn as_str(self) -> &'static str {
        match self {
            GaveUpBy::Client => "client",
            GaveUpBy::Server => "server",
            GaveUpBy::CaptureEnd => "capture_end",
        }
    }
}

/// How a request without a complete response ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaveUp {
    /// Who ended it.
    pub by: GaveUpBy,
    /// `"fin"` or `"rst"` when a side closed, `None` when the capture ended;
    /// HTTP/2 streams also `"rst_stream"` (RST_STREAM) or `"goaway"` (above a
    /// server GOAWAY's last stream id).
    pub how: Option<&'static str>,
    /// Milliseconds from the request's last byte seen to the end.
    pub after_ms: Option<f64>,
}

/// The phases of one transaction in milliseconds; `None` where the capture cannot
/// show one. The integrator adds dns/connect/tls/server_think from other records.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct PhasesMs {
    /// Request first byte → request last byte.
    pub send: Option<f64>,
    /// Request last byte → first byte of the final response (TTFB).
    pub wait: Option<f64>,
    /// Final response first byte → response last byte.
    pub transfer: Option<f64>,
    /// Request first byte → response last byte.
    pub total: Option<f64>,
}

/// One HTTP request and its response (an HTTP/1.x exchange or an HTTP/2
/// stream), as seen on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpTransaction {
    /// Connection id (as in connection records).
    pub conn: u64,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// The bytes came from a decrypted TLS stream.
    pub decrypted: bool,
    /// Request method (raw; escape before display); `None` if the request was not seen.
    pub method: Option<String>,
    /// Host header (raw).
    pub host: Option<String>,
    /// Request target (raw).
    pub path: Option<String>,
    /// `HTTP/1.0`, `HTTP/1.1` (the request's, else the response's) or `HTTP/2`.
    pub version: Option<&'static str>,
    /// Final status code; `None` when no final response head was seen.
    pub status: Option<u16>,
    /// Reason phrase (raw).
    pub reason: Option<String>,
    /// 1xx codes received before the final response, in order.
    pub informational: Vec<u16>,
    /// Request Content-Type (raw).
    pub request_content_type: Option<String>,
    /// Response Content-Type (raw).
    pub response_content_type: Option<String>,
    /// Request body payload bytes (chunk framing excluded; gaps included).
    pub request_body_bytes: u64,
    /// Response body payload bytes (chunk framing excluded; gaps included).
    pub response_body_bytes: u64,
    /// Request body bytes the capture missed (counted in `request_body_bytes`).
    pub request_missing_bytes: u64,
    /// Response body bytes the capture missed (counted in `response_body_bytes`).
    pub response_missing_bytes: u64,
    /// The response body was chunked.
    pub chunked: bool,
    /// The request body was chunked.
    pub request_chunked: bool,
    /// Frames of the request's first and last byte.
    pub request_frames: Option<[u64; 2]>,
    /// Frames of the response's first byte (1xx included) and last byte.
    pub response_frames: Option<[u64; 2]>,
    /// Time of the request's first byte (the response's, when no request was seen).
    #[serde(serialize_with = "ser_ts")]
    pub start: Option<Timestamp>,
    /// Phase durations.
    pub phases_ms: PhasesMs,
    /// Both messages were framed to their end.
    pub complete: bool,
    /// Set when the request got no complete response.
    pub gave_up: Option<GaveUp>,
    /// What was odd (framing, gaps, parse errors).
    pub notes: Vec<String>,
    /// Request first byte (raw, for the integrator's timing).
    #[serde(skip)]
    pub request_first: Option<ByteMark>,
    /// Request last byte.
    #[serde(skip)]
    pub request_last: Option<ByteMark>,
    /// First byte of any response head, 1xx included.
    #[serde(skip)]
    pub response_first_any: Option<ByteMark>,
    /// First byte of the final response head.
    #[serde(skip)]
    pub response_first: Option<ByteMark>,
    /// Last response byte seen.
    #[serde(skip)]
    pub response_last: Option<ByteMark>,
    /// The final response's header fields and body prefix, kept (bounded) only
    /// when `--expect` rules need them; not serialized.
    #[serde(skip)]
    pub response_data: Option<Box<ResponseData>>,
    /// The request's header fields and body prefix, kept (bounded) only when
    /// `request ...` rules need them; not serialized.
    #[serde(skip)]
    pub request_data: Option<Box<ResponseData>>,
    /// The fields Zeek's http.log adds (`trans_depth`, `user_agent`, ...),
    /// serialized inline.
    #[serde(flatten)]
    pub meta: HttpMeta,
}

impl HttpTransaction {
    /// Request last byte → final response first byte, in nanoseconds, when the
    /// request was sent in full.
    pub fn wait_ns(&self) -> Option<i64> {
        self.phases_ms.wait?;
        Some(self.response_first?.ts.since(self.request_last?.ts))
    }

    /// Final response first byte → last byte, in nanoseconds, for complete responses.
    pub fn transfer_ns(&self) -> Option<i64> {
        self.phases_ms.transfer?;
        Some(self.response_last?.ts.since(self.response_first?.ts))
    }

    /// Request first byte → response last byte, in nanoseconds, for complete responses.
    pub fn total_ns(&self) -> Option<i64> {
        self.phases_ms.total?;
        Some(self.response_last?.ts.since(self.request_first?.ts))
    }
}

fn ser_ts<S: serde::Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(t) => s.serialize_str(&crate::base::rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// Methods recognised from their first bytes alone.
const KNOWN_METHODS: [&[u8]; 9] = [
    b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
];
/// Longest method token considered.
const MAX_METHOD_LEN: usize = 32;

/// RFC 9110 `tchar`: the bytes a method (token) may hold.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// True when a client's first bytes look like an HTTP/1.x request line: a known
/// method, or any token, then a space and a request-target, then `HTTP/1.` when
/// the line is visible that far. An unknown method token needs the `HTTP/1.` seen.
pub fn looks_like_http_request(client_first_bytes: &[u8]) -> bool {
    let b = client_first_bytes;
    let Some(sp) = b.iter().take(MAX_METHOD_LEN + 1).position(|&c| c == b' ') else {
        return false;
    };
    let (method, rest) = b.split_at(sp);
    if method.is_empty() || !method.iter().all(|&c| is_tchar(c)) {
        return false;
    }
    let known = KNOWN_METHODS.contains(&method);
    let rest = rest.get(1..).unwrap_or_default();
    let target_len = rest
        .iter()
        .position(|&c| c == b' ' || c < 0x21 || c == 0x7f)
        .unwrap_or(rest.len());
    let (target, after) = rest.split_at(target_len);
    if target.first().is_some_and(|&c| c == b'\r' || c == b'\n') {
        return false;
    }
    if after.is_empty() {
        // The line continues beyond what is visible.
        return known && (target.is_empty() || plausible_target(target));
    }
    if target.is_empty() || after.first() != Some(&b' ') || !plausible_target(target) {
        return false;
    }
    let version = after.get(1..).unwrap_or_default();
    let want: &[u8] = b"HTTP/1.";
    if version.len() < want.len() {
        known && want.starts_with(version)
    } else {
        version.starts_with(want)
    }
}

/// Server ports where a versionless request line is taken for HTTP/0.9
/// (Zeek's `HTTP::ports`, its likely HTTP server ports).
const HTTP09_PORTS: [u16; 8] = [80, 81, 631, 1080, 3128, 8000, 8080, 8888];

/// True when a client's first bytes are exactly one HTTP/0.9 request line
/// (`GET /path` and its line end, nothing after) to a server port Zeek takes
/// for HTTP. The line has no version to check, so false positives are kept
/// out three ways: a known method, a complete line that is all the client
/// sent first (0.9 has no headers), and the port. Anywhere else a stream
/// needs [`looks_like_http_request`]'s `HTTP/1.` to be taken for HTTP.
pub fn looks_like_http09_request(client_first_bytes: &[u8], server_port: u16) -> bool {
    HTTP09_PORTS.contains(&server_port)
        && head::parse_http09_request(client_first_bytes).is_some_and(|(h, n)| {
            n == client_first_bytes.len() && KNOWN_METHODS.contains(&h.method.as_bytes())
        })
}

/// Origin-form, asterisk-form, absolute-form or authority-form.
fn plausible_target(t: &[u8]) -> bool {
    match t.first() {
        Some(b'/') | Some(b'*') => true,
        Some(c) => c.is_ascii_alphanumeric(),
        None => false,
    }
}

#[cfg(test)]
mod detect_tests {
    use super::looks_like_http_request;

    #[test]
    fn looks_like_http_request_cases() {
        for yes in [
            b"GET / HTTP/1.1\r\n".as_slice(),
            b"POST /a?b=c HTTP/1.0\r\n",
            b"GET ",
            b"GET /partial-line-no-vers",
            b"DELETE /x HTT",
            b"PROPFIND /dav HTTP/1.1\r\n",
            b"OPTIONS * HTTP/1.1\r\n",
            b"CONNECT example.com:443 HTTP/1.1\r\n",
        ] {
            assert!(
                looks_like_http_request(yes),
                "{:?}",
                String::from_utf8_lossy(yes)
            );
        }
        for no in [
            b"".as_slice(),
            b"GET",
            b"\x16\x03\x01\x00\xa5\x01",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"PROPFIND /dav",
            b"GET / HTTP/2.0\r\n",
            b"GET  / HTTP/1.1\r\n",
            b"get\x00 / HTTP/1.1",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"HELLO WORLD\r\n",
        ] {
            assert!(
                !looks_like_http_request(no),
                "{:?}",
                String::from_utf8_lossy(no)
            );
        }
    }
}
