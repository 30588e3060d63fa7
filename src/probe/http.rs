//! The HTTP/1.1 phase: send one request, read the response to its last byte,
//! and time the wait for the first byte and the transfer.
//!
//! The response is parsed and framed by the same code as passive analysis
//! (`app::http::head` and `app::http::framing`), so Content-Length, chunked,
//! 1xx, HEAD/204/304 and close-delimited bodies follow one set of rules.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::target::Target;
use crate::app::http::framing::Body;
use crate::app::http::head::{
    parse_request_keeping, parse_response_keeping, response_length, Parsed, MAX_HEAD_BYTES,
};
use crate::app::http::{KeepConfig, ResponseData};

/// The request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    /// Method, `GET` by default.
    pub method: String,
    /// Extra header fields, in order (a `Host` here replaces the URL's).
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<Vec<u8>>,
}

impl Default for RequestSpec {
    fn default() -> Self {
        RequestSpec {
            method: "GET".into(),
            headers: Vec::new(),
            body: None,
        }
    }
}

impl RequestSpec {
    /// The host the request names: a `Host` header given with -H, else the
    /// URL's (with its port when not the scheme's default).
    pub fn authority(&self, target: &Target) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map_or_else(|| target.host_header(), |(_, v)| v.clone())
    }
}

impl HttpPhase {
    /// The phase of `spec` sent to `target` as `host`, before any answer.
    pub(super) fn new(
        protocol: &'static str,
        spec: &RequestSpec,
        target: &Target,
        host: &str,
    ) -> HttpPhase {
        HttpPhase {
            protocol,
            method: spec.method.clone(),
            path: target.path.clone(),
            host: host.to_string(),
            ..HttpPhase::default()
        }
    }
}

/// The HTTP phase.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct HttpPhase {
    /// `HTTP/1.1` or `HTTP/2`.
    pub protocol: &'static str,
    /// Method sent.
    pub method: String,
    /// Request target sent.
    pub path: String,
    /// Host header sent.
    pub host: String,
    /// Final status code.
    pub status: Option<u16>,
    /// Reason phrase (raw; escape before display).
    pub reason: Option<String>,
    /// 1xx codes before the final response.
    pub informational: Vec<u16>,
    /// Response Content-Type (raw).
    pub content_type: Option<String>,
    /// Response body payload bytes.
    pub body_bytes: u64,
    /// Milliseconds to write the request.
    pub send_ms: f64,
    /// Request written → first byte of the final response (TTFB).
    pub ttfb_ms: Option<f64>,
    /// First byte → last byte of the final response.
    pub transfer_ms: Option<f64>,
    /// Why the exchange failed.
    pub failure: Option<HttpFailure>,
    /// The final response's header fields and body prefix, kept (bounded) only
    /// for `--expect` rules and dropped once they ran; not serialized.
    #[serde(skip)]
    pub response: Option<Box<ResponseData>>,
    /// The request as sent (header fields and body prefix), kept only for
    /// `request ...` rules; not serialized.
    #[serde(skip)]
    pub request: Option<Box<ResponseData>>,
}

impl HttpPhase {
    /// Marks a kept body as cut short when the exchange failed after the head.
    pub(crate) fn settle(mut self) -> HttpPhase {
        if self.failure.is_some() {
            if let Some(d) = self.response.as_deref_mut() {
                d.cut();
            }
        }
        self
    }
}

/// An exchange that got no complete response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HttpFailure {
    /// `http.no_response` or `tcp.reset_by_server`.
    pub kind: &'static str,
    /// What happened.
    pub reason: String,
}

/// Most bytes read at once.
const READ_CHUNK: usize = 64 * 1024;

/// Sends `spec` for `target` over `stream` and reads the response. The first
/// byte must come within `ttfb_limit`; everything must end by `deadline`. What
/// `keep` asks of the response (header fields, body prefix) is kept on it.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    target: &Target,
    spec: &RequestSpec,
    ttfb_limit: Duration,
    deadline: Instant,
    keep: KeepConfig,
) -> HttpPhase {
    exchange_inner(stream, target, spec, ttfb_limit, deadline, keep)
        .await
        .settle()
}

async fn exchange_inner<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    target: &Target,
    spec: &RequestSpec,
    ttfb_limit: Duration,
    deadline: Instant,
    keep: KeepConfig,
) -> HttpPhase {
    let host = spec.authority(target);
    let mut phase = HttpPhase::new("HTTP/1.1", spec, target, &host);
    let request = render(spec, &target.path, &host);
    if keep.request_any() {
        // The fields as the passive parser would keep them from the wire.
        if let Parsed::Done(head, _) = parse_request_keeping(&request, keep) {
            phase.request = sent_request(head.kept, spec, keep);
        }
    }
    let send_start = Instant::now();
    let sent = timeout_at(deadline, async {
        stream.write_all(&request).await?;
        stream.flush().await
    })
    .await;
    phase.send_ms = ms(send_start.elapsed());
    match sent {
        Err(_) => {
            phase.failure = Some(no_response(
                "the request could not be sent before the deadline".into(),
            ));
            return phase;
        }
        Ok(Err(e)) => {
            phase.failure = Some(io_failure(&e, "while sending the request", 0));
            return phase;
        }
        Ok(Ok(())) => {}
    }
    let sent_at = Instant::now();
    let ttfb_deadline = deadline.min(sent_at + ttfb_limit);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut first_byte: Option<Instant> = None;
    // Heads: 1xx responses are skipped until the final one.
    let (head, mut rest) = loop {
        let until = if first_byte.is_some() {
            deadline
        } else {
            ttfb_deadline
        };
        match parse_response_keeping(&buf, keep) {
            Parsed::Done(head, len) => {
                let rest = buf.split_off(len);
                if (100..200).contains(&head.status) && head.status != 101 {
                    phase.informational.push(head.status);
                    buf = rest;
                    first_byte = None;
                    continue;
                }
                break (head, rest);
            }
            Parsed::Invalid(why) => {
                phase.failure = Some(no_response(format!(
                    "the server's answer is not HTTP/1.x: {why}"
                )));
                return phase;
            }
            Parsed::Partial if buf.len() > MAX_HEAD_BYTES => {
                phase.failure = Some(no_response(
                    "the response head is larger than 64 KiB".into(),
                ));
                return phase;
            }
            Parsed::Partial => {}
        }
        match timeout_at(until, stream.read(&mut chunk)).await {
            Err(_) => {
                let waited = ms(sent_at.elapsed());
                phase.failure = Some(no_response(if buf.is_empty() {
                    format!("no response within {:.0} ms: netsleuth gave up waiting (the server kept the connection open)", waited)
                } else {
                    format!("the response head did not complete within {waited:.0} ms")
                }));
                return phase;
            }
            Ok(Ok(0)) => {
                phase.failure = Some(no_response(format!(
                    "the server closed the connection {} after {:.0} ms",
                    if buf.is_empty() {
                        "without answering"
                    } else {
                        "in the middle of the response head"
                    },
                    ms(sent_at.elapsed())
                )));
                return phase;
            }
            Ok(Ok(n)) => {
                if first_byte.is_none() {
                    first_byte = Some(Instant::now());
                }
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
            Ok(Err(e)) => {
                phase.failure = Some(io_failure(&e, "before the response", 0));
                return phase;
            }
        }
    };
    let mut head = head;
    phase.response = head.kept.take();
    let first = first_byte.unwrap_or(sent_at);
    phase.ttfb_ms = Some(ms(first.saturating_duration_since(sent_at)));
    phase.status = Some(head.status);
    phase.reason = Some(head.reason.clone());
    phase.content_type = head.content_type.clone();
    let (length, _) = response_length(Some(&spec.method), head.status, &head.framing);
    let mut body = Body::new(length);
    loop {
        if !rest.is_empty() {
            let mut kept = phase.response.as_deref_mut().filter(|_| keep.body);
            let fed = body.feed_with(&rest, |p| {
                if let Some(d) = kept.as_deref_mut() {
                    d.push_body(p, None);
                }
            });
            match fed {
                Ok(fed) => {
                    phase.body_bytes += fed.payload;
                    rest.drain(..fed.consumed.min(rest.len()));
                }
                Err(why) => {
                    phase.failure = Some(no_response(format!(
                        "the response body is malformed: {why}"
                    )));
                    return phase;
                }
            }
        }
        if body.is_done() {
            break;
        }
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => {
                phase.failure = Some(no_response(format!(
                    "the response body did not complete before the deadline ({} bytes read)",
                    phase.body_bytes
                )));
                return phase;
            }
            Ok(Ok(0)) => {
                if body.is_close_delimited() {
                    body.close();
                    break;
                }
                phase.failure = Some(no_response(format!(
                    "the server closed the connection after {} bytes of the response body{}",
                    phase.body_bytes,
                    body.fixed_left()
                        .map(|left| format!(", {left} bytes short"))
                        .unwrap_or_default()
                )));
                return phase;
            }
            Ok(Ok(n)) => rest.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Ok(Err(e)) if body.is_close_delimited() && is_tls_eof(&e) => {
                body.close();
                break;
            }
            Ok(Err(e)) => {
                phase.failure = Some(io_failure(&e, "during the response body", phase.body_bytes));
                return phase;
            }
        }
    }
    phase.transfer_ms = Some(ms(first.elapsed()));
    phase
}

/// A server that closes a TLS connection without close_notify ends a
/// close-delimited body all the same (as browsers and curl accept).
fn is_tls_eof(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::UnexpectedEof
}

/// The request's kept data with its body (the probe's own, so complete) added.
pub(super) fn sent_request(
    kept: Option<Box<ResponseData>>,
    spec: &RequestSpec,
    keep: KeepConfig,
) -> Option<Box<ResponseData>> {
    let mut d = kept?;
    if keep.request_body {
        if let Some(body) = &spec.body {
            d.push_body(body, None);
        }
    }
    Some(d)
}

fn render(spec: &RequestSpec, path: &str, host: &str) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", spec.method, path, host);
    let has = |name: &str| {
        spec.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    if !has("user-agent") {
        out.push_str(concat!(
            "User-Agent: netsleuth/",
            env!("CARGO_PKG_VERSION"),
            "\r\n"
        ));
    }
    if !has("accept") {
        out.push_str("Accept: */*\r\n");
    }
    for (k, v) in &spec.headers {
        if !k.eq_ignore_ascii_case("host") {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if let Some(body) = &spec.body {
        if !has("content-length") {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
    }
    // One request per connection: the server may close after answering.
    if !has("connection") {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if let Some(body) = &spec.body {
        bytes.extend_from_slice(body);
    }
    bytes
}

fn no_response(reason: String) -> HttpFailure {
    HttpFailure {
        kind: "http.no_response",
        reason,
    }
}

fn io_failure(e: &std::io::Error, when: &str, body_bytes: u64) -> HttpFailure {
    if e.kind() == std::io::ErrorKind::ConnectionReset {
        HttpFailure {
            kind: "tcp.reset_by_server",
            reason: if body_bytes > 0 {
                format!("the server reset the connection {when}, after {body_bytes} bytes")
            } else {
                format!("the server reset the connection {when}")
            },
        }
    } else {
        no_response(format!("reading failed {when}: {e}"))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap()
    }

    async fn run(response: &'static [u8], method: &str) -> HttpPhase {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let serve = async move {
            let mut buf = vec![0u8; 4096];
            let _ = server.read(&mut buf).await;
            let _ = server.write_all(response).await;
            drop(server);
        };
        let spec = RequestSpec {
            method: method.into(),
            ..RequestSpec::default()
        };
        let t = target("http://example.test/x");
        let deadline = Instant::now() + Duration::from_secs(2);
        let keep = KeepConfig {
            headers: true,
            body: true,
            ..KeepConfig::default()
        };
        let (phase, ()) = tokio::join!(
            exchange(
                &mut client,
                &t,
                &spec,
                Duration::from_secs(1),
                deadline,
                keep
            ),
            serve
        );
        phase
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn framed_bodies() {
        let rt = rt();
        let p = rt.block_on(run(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            "GET",
        ));
        assert_eq!((p.status, p.body_bytes, p.failure), (Some(200), 5, None));
        let p = rt.block_on(run(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            "GET",
        ));
        assert_eq!((p.status, p.body_bytes), (Some(404), 3));
        assert_eq!(p.informational, vec![100]);
        let kept = p.response.as_deref().unwrap();
        assert_eq!(
            (&kept.body[..], &kept.body_state),
            (&b"abc"[..], &crate::app::http::BodyState::Complete)
        );
        assert_eq!(kept.header("transfer-encoding").next(), Some("chunked"));
        let p = rt.block_on(run(b"HTTP/1.1 200 OK\r\n\r\nuntil close", "GET"));
        assert_eq!((p.body_bytes, p.failure), (11, None));
        let p = rt.block_on(run(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD"));
        assert_eq!((p.body_bytes, p.failure), (0, None));
    }

    #[test]
    fn cut_and_missing_responses() {
        let rt = rt();
        let p = rt.block_on(run(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            "GET",
        ));
        assert_eq!(
            p.response.as_deref().unwrap().body_state,
            crate::app::http::BodyState::Cut
        );
        let f = p.failure.unwrap();
        assert_eq!(f.kind, "http.no_response");
        assert!(f.reason.contains("7 bytes short"), "{}", f.reason);
        let p = rt.block_on(run(b"", "GET"));
        assert!(p.failure.unwrap().reason.contains("without answering"));
        let p = rt.block_on(run(b"SSH-2.0-OpenSSH\r\n\r\n", "GET"));
        assert!(p.failure.unwrap().reason.contains("not HTTP"));
    }

    #[test]
    fn request_has_host_and_length() {
        let spec = RequestSpec {
            method: "POST".into(),
            headers: vec![("X-A".into(), "1".into())],
            body: Some(b"{}".to_vec()),
        };
        let text = String::from_utf8(render(&spec, "/v1", "h:8080")).unwrap();
        assert!(text.starts_with("POST /v1 HTTP/1.1\r\nHost: h:8080\r\n"));
        assert!(text.contains("X-A: 1\r\n") && text.contains("Content-Length: 2\r\n"));
        assert!(text.ends_with("\r\n\r\n{}"));
    }
}
