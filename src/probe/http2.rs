//! The HTTP/2 phase, when the server picked `h2` by ALPN: one request on one
//! stream with the `h2` crate, timed like HTTP/1.1 (request sent → response
//! headers is the TTFB; headers → end of stream is the transfer).
//!
//! The connection task runs beside the request on the same current-thread
//! runtime; a GOAWAY or RST_STREAM from the server becomes the failure reason.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{timeout_at, Instant};

use super::http::{HttpFailure, HttpPhase, RequestSpec};
use super::target::Target;
use crate::app::http::{KeepConfig, ResponseData};

/// Sends `spec` over HTTP/2 and reads the whole response, keeping what `keep`
/// asks of it (header fields, body prefix).
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
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

async fn exchange_inner<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    target: &Target,
    spec: &RequestSpec,
    ttfb_limit: Duration,
    deadline: Instant,
    keep: KeepConfig,
) -> HttpPhase {
    let authority = spec.authority(target);
    let mut phase = HttpPhase::new("HTTP/2", spec, target, &authority);
    let fail = |phase: &mut HttpPhase, reason: String| {
        phase.failure = Some(HttpFailure {
            kind: "http.no_response",
            reason,
        });
    };
    let handshake = timeout_at(deadline, h2::client::handshake(stream)).await;
    let (mut client, connection) = match handshake {
        Err(_) => {
            fail(
                &mut phase,
                "the HTTP/2 connection preface got no answer before the deadline".into(),
            );
            return phase;
        }
        Ok(Err(e)) => {
            fail(&mut phase, format!("the HTTP/2 connection failed: {e}"));
            return phase;
        }
        Ok(Ok(pair)) => pair,
    };
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = match build_request(spec, target, &authority) {
        Ok(r) => r,
        Err(why) => {
            driver.abort();
            fail(&mut phase, why);
            return phase;
        }
    };
    if keep.request_any() {
        let mut d = ResponseData::new(keep.request_body);
        d.keep_fields(
            request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_bytes())),
        );
        phase.request = super::http::sent_request(Some(Box::new(d)), spec, keep);
    }
    let send_start = Instant::now();
    let has_body = spec.body.is_some();
    let sent = client.send_request(request, !has_body);
    let (response, mut body_tx) = match sent {
        Ok(pair) => pair,
        Err(e) => {
            driver.abort();
            fail(
                &mut phase,
                format!("the request could not be sent: {}", h2_reason(&e)),
            );
            return phase;
        }
    };
    if let Some(body) = &spec.body {
        if let Err(e) = body_tx.send_data(Bytes::from(body.clone()), true) {
            driver.abort();
            fail(
                &mut phase,
                format!("the request body could not be sent: {}", h2_reason(&e)),
            );
            return phase;
        }
    }
    phase.send_ms = ms(send_start.elapsed());
    let sent_at = Instant::now();
    let head = timeout_at(deadline.min(sent_at + ttfb_limit), response).await;
    let response = match head {
        Err(_) => {
            driver.abort();
            fail(
                &mut phase,
                format!(
                    "no response within {:.0} ms: netsleuth gave up waiting (the server kept the stream open)",
                    ms(sent_at.elapsed())
                ),
            );
            return phase;
        }
        Ok(Err(e)) => {
            driver.abort();
            phase.failure = Some(stream_failure(&e, "before the response"));
            return phase;
        }
        Ok(Ok(r)) => r,
    };
    let first = Instant::now();
    phase.ttfb_ms = Some(ms(first.saturating_duration_since(sent_at)));
    let status = response.status();
    phase.status = Some(status.as_u16());
    phase.reason = status.canonical_reason().map(String::from);
    phase.content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if keep.response_any() {
        let mut d = ResponseData::new(keep.body);
        d.keep_fields(
            response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_bytes())),
        );
        phase.response = Some(Box::new(d));
    }
    let mut body = response.into_body();
    loop {
        match timeout_at(deadline, body.data()).await {
            Err(_) => {
                let read = phase.body_bytes;
                fail(
                    &mut phase,
                    format!(
                        "the response body did not complete before the deadline ({read} bytes read)"
                    ),
                );
                break;
            }
            Ok(None) => {
                phase.transfer_ms = Some(ms(first.elapsed()));
                break;
            }
            Ok(Some(Ok(chunk))) => {
                phase.body_bytes += chunk.len() as u64;
                if let Some(d) = phase.response.as_deref_mut().filter(|_| keep.body) {
                    d.push_body(&chunk, None);
                }
                // Give the window back, or a large body stalls at 64 KiB.
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            Ok(Some(Err(e))) => {
                phase.failure = Some(stream_failure(&e, "during the response body"));
                break;
            }
        }
    }
    driver.abort();
    phase
}

fn build_request(
    spec: &RequestSpec,
    target: &Target,
    authority: &str,
) -> Result<http::Request<()>, String> {
    let uri = format!("https://{authority}{}", target.path);
    let mut builder = http::Request::builder()
        .method(spec.method.as_str())
        .uri(uri)
        .version(http::Version::HTTP_2);
    let has = |name: &str| {
        spec.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    if !has("user-agent") {
        builder = builder.header(
            "user-agent",
            concat!("netsleuth/", env!("CARGO_PKG_VERSION")),
        );
    }
    if !has("accept") {
        builder = builder.header("accept", "*/*");
    }
    for (k, v) in &spec.headers {
        // Connection-specific fields are forbidden in HTTP/2 (RFC 9113 §8.2.2);
        // Host becomes :authority.
        let lower = k.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "host"
                | "connection"
                | "keep-alive"
                | "proxy-connection"
                | "transfer-encoding"
                | "upgrade"
        ) {
            continue;
        }
        builder = builder.header(lower, v.as_str());
    }
    builder
        .body(())
        .map_err(|e| format!("the request cannot be expressed in HTTP/2: {e}"))
}

/// A stream reset or GOAWAY in the words of the report.
fn stream_failure(e: &h2::Error, when: &str) -> HttpFailure {
    let reason = h2_reason(e);
    if e.is_reset() || e.is_go_away() {
        HttpFailure {
            kind: "tcp.reset_by_server",
            reason: format!("the server ended the HTTP/2 stream {when}: {reason}"),
        }
    } else {
        HttpFailure {
            kind: "http.no_response",
            reason: format!("the HTTP/2 exchange failed {when}: {reason}"),
        }
    }
}

fn h2_reason(e: &h2::Error) -> String {
    match e.reason() {
        Some(r) if e.is_go_away() => format!("GOAWAY {r:?}"),
        Some(r) => format!("RST_STREAM {r:?}"),
        None => e.to_string(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
