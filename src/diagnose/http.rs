//! HTTP findings from transaction records.
//!
//! Thresholds (documented here, named below):
//! * slow server: server think time — the wait for the first byte of the final
//!   response minus one network RTT (the whole wait when the RTT is unknown) — of
//!   1 s or more: a warning. Interactive API calls budget well under a second.
//! * slow transfer: only for response bodies of 64 KiB or more (smaller bodies move
//!   in a few round trips, so their rate says nothing about the path). A throughput
//!   below 100 KB/s is a warning; a body that took 1 s or more at a higher rate is
//!   reported as info (large, not slow). Throughput = body bytes / transfer time.
//! * no response: a request whose response never came (complete) before the
//!   connection closed or the capture ended: an error.
//! * 5xx responses are errors, 4xx warnings.

use super::{Finding, Severity};
use crate::app::http::{GaveUpBy, HttpTransaction};
use crate::base::escape::escape_str;
use crate::base::human_duration;

/// Server think time from which `http.slow_server` fires.
pub const SLOW_SERVER_NS: i64 = 1_000_000_000;
/// Smallest response body `http.slow_transfer` considers.
pub const SLOW_TRANSFER_MIN_BYTES: u64 = 64 * 1024;
/// Transfer time from which a large body is reported (info unless also slow).
pub const SLOW_TRANSFER_NS: i64 = 1_000_000_000;
/// Throughput floor in bytes per second below which a large body is slow.
pub const SLOW_TRANSFER_FLOOR_BPS: f64 = 100_000.0;
/// Longest path shown in a summary (characters, after escaping).
const MAX_SHOWN_PATH: usize = 120;

/// The endpoint template of a transaction, `GET /v1/orders/{id}`, for grouping.
pub fn endpoint(t: &HttpTransaction) -> Option<String> {
    let path = t.path.as_deref()?;
    Some(format!(
        "{} {}",
        escape_str(t.method.as_deref().unwrap_or("?")),
        escape_str(&super::group::path_template(path))
    ))
}

/// Every HTTP finding for one transaction; `rtt_ns` is the network's share of
/// the wait when known: the connection's RTT, plus any time the request
/// waited on its own resend (the integrator takes both from the connection
/// record).
pub fn diagnose(t: &HttpTransaction, rtt_ns: Option<i64>) -> Vec<Finding> {
    let mut out = Vec::new();
    let frames = evidence_frames(t);
    let finding = |kind, severity, summary: String, next: &str| Finding {
        kind,
        severity,
        summary,
        next_step: next.to_string(),
        frames: frames.clone(),
        conn: Some(t.conn),
        client: Some(t.client),
        server: Some(t.server),
        time: t.start,
        endpoint: endpoint(t),
        goroutines: Vec::new(),
    };
    let call = call_text(t);

    if let Some(status) = t.status {
        let reason = t.reason.as_deref().map(escape_str).unwrap_or_default();
        let what = format!("{call} -> {status} {reason}");
        let what = what.trim_end().to_string();
        if (500..600).contains(&status) {
            let next = match status {
                502 => "a proxy or gateway got a bad answer from its upstream: check the upstream service behind it",
                503 => "the service is unavailable or overloaded: check its health, capacity and any Retry-After",
                504 => "a proxy or gateway timed out waiting for its upstream: check the upstream's latency",
                _ => "check the server's logs at this time for the error behind this request",
            };
            out.push(finding(
                "http.server_error",
                Severity::Error,
                format!("{what}: the server failed the request"),
                next,
            ));
        } else if (400..500).contains(&status) {
            let next = match status {
                401 => "send valid credentials: check the Authorization header, token expiry and audience",
                403 => "the credentials were understood but lack permission: check the account's roles or the resource's ACL",
                404 => "check the path, the API version prefix and the Host the request went to",
                429 => "the client is rate limited: back off (honour Retry-After) or raise the quota",
                _ => "the server rejected the request as sent: compare it with the API's documentation",
            };
            out.push(finding(
                "http.client_error",
                Severity::Warning,
                format!("{what}: the server rejected the request"),
                next,
            ));
        }
    }

    if let Some(wait) = t.wait_ns() {
        let think = rtt_ns.map_or(wait, |r| wait.saturating_sub(r.max(0)));
        if think >= SLOW_SERVER_NS {
            let status = t.status.map_or_else(|| "?".to_string(), |s| s.to_string());
            let total = t
                .total_ns()
                .map(|n| format!(" in {}", human_duration(n)))
                .unwrap_or_default();
            let rtt = rtt_ns.map_or_else(|| "unknown".to_string(), human_duration);
            let transfer = t
                .transfer_ns()
                .map_or_else(|| "unknown".to_string(), human_duration);
            out.push(finding(
                "http.slow_server",
                Severity::Warning,
                format!(
                    "{call} -> {status}{total}: server think time {}, network RTT {rtt}, transfer {transfer}",
                    human_duration(think)
                ),
                "the time is spent inside the server: look at its handler, database queries and downstream calls for this request",
            ));
        }
    }

    if let Some(transfer) = t.transfer_ns() {
        let bytes = t.response_body_bytes;
        if bytes >= SLOW_TRANSFER_MIN_BYTES && transfer > 0 {
            let bps = bytes as f64 / (transfer as f64 / 1e9);
            let slow = bps < SLOW_TRANSFER_FLOOR_BPS;
            if slow || transfer >= SLOW_TRANSFER_NS {
                let (severity, next) = if slow {
                    (Severity::Warning, "the bytes moved slowly: either the server wrote the body slowly (streaming it as it was produced) or the path held it back (loss, a small receive window, shaping: see the tcp findings for this connection)")
                } else {
                    (Severity::Info, "a large body at a reasonable rate: compress it or page the response if the time matters")
                };
                out.push(finding(
                    "http.slow_transfer",
                    severity,
                    format!(
                        "{call}: response body of {} took {} to transfer ({})",
                        human_bytes(bytes),
                        human_duration(transfer),
                        human_rate(bps)
                    ),
                    next,
                ));
            }
        }
    }

    if t.status.is_none() {
        if let Some(g) = &t.gave_up {
            let after = g
                .after_ms
                .map(|m| format!(" {} after the request", human_duration((m * 1e6) as i64)))
                .unwrap_or_default();
            let (how, next) = match (g.by, g.how) {
                (GaveUpBy::Client, Some("rst_stream")) => ("the client reset the HTTP/2 stream (RST_STREAM)", "the client gave up: compare its time-out with the server's usual latency"),
                (GaveUpBy::Server, Some("rst_stream")) => ("the server reset the HTTP/2 stream (RST_STREAM)", "the server refused or aborted the request: check its logs and the error code in the notes"),
                (GaveUpBy::Server, Some("goaway")) => ("the server's GOAWAY said it never processed it", "retry the request on a new connection; check why the server is shutting connections down"),
                (GaveUpBy::Client, Some("rst")) => ("the client reset the connection", "the client gave up: compare its time-out with the server's usual latency"),
                (GaveUpBy::Client, _) => ("the client closed the connection", "the client gave up: compare its time-out with the server's usual latency"),
                (GaveUpBy::Server, Some("rst")) => ("the server reset the connection", "the server aborted the request: check its logs for a crash or a rejected request"),
                (GaveUpBy::Server, _) => ("the server closed the connection", "the server closed without answering: check its logs and any proxy in front of it"),
                (GaveUpBy::CaptureEnd, _) => ("the capture ended", "capture for longer to see whether an answer comes"),
            };
            out.push(finding(
                "http.no_response",
                Severity::Error,
                format!("{call} got no response: {how}{after}"),
                next,
            ));
        }
    }
    out
}

/// The frames of a transaction's request and response (first and last byte of
/// each), ascending: the evidence of every HTTP finding.
pub(crate) fn evidence_frames(t: &HttpTransaction) -> Vec<u64> {
    let mut frames: Vec<u64> = [
        t.request_first,
        t.request_last,
        t.response_first_any,
        t.response_last,
    ]
    .iter()
    .flatten()
    .map(|m| m.frame)
    .collect();
    frames.sort_unstable();
    frames.dedup();
    frames
}

/// `GET host/path` (escaped, path shortened), or `response` when no request was seen.
pub(crate) fn call_text(t: &HttpTransaction) -> String {
    let Some(method) = &t.method else {
        return "response (request not captured)".to_string();
    };
    let mut path = escape_str(t.path.as_deref().unwrap_or(""));
    if let Some((cut, _)) = path.char_indices().nth(MAX_SHOWN_PATH) {
        path.truncate(cut);
        path.push('…');
    }
    format!("{} {path}", escape_str(method))
        + &t.host
            .as_deref()
            .map(|h| format!(" (host {})", escape_str(h)))
            .unwrap_or_default()
        + if t.decrypted {
            " [decrypted HTTPS]"
        } else {
            ""
        }
}

fn human_bytes(n: u64) -> String {
    let f = n as f64;
    if f >= 1e6 {
        format!("{:.1} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} KB", f / 1e3)
    } else {
        format!("{n} B")
    }
}

fn human_rate(bps: f64) -> String {
    if bps >= 1e6 {
        format!("{:.1} MB/s", bps / 1e6)
    } else {
        format!("{:.1} KB/s", bps / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::http::{ByteMark, GaveUp, PhasesMs};
    use crate::base::Timestamp;

    const MS: i64 = 1_000_000;

    /// GET /v1/orders -> 200: request at 0 ms, response head at `wait_ms`, last byte
    /// `transfer_ms` later, `bytes` of body.
    fn tx(status: Option<u16>, wait_ns: i64, transfer_ns: i64, bytes: u64) -> HttpTransaction {
        let first = ByteMark {
            frame: 3,
            ts: Timestamp(0),
        };
        let resp_first = ByteMark {
            frame: 5,
            ts: Timestamp(wait_ns),
        };
        let resp_last = ByteMark {
            frame: 9,
            ts: Timestamp(wait_ns + transfer_ns),
        };
        let complete = status.is_some();
        HttpTransaction {
            conn: 4,
            client: "10.0.0.5:51234".parse().unwrap(),
            server: "10.0.0.9:80".parse().unwrap(),
            decrypted: false,
            method: Some("GET".into()),
            host: None,
            path: Some("/v1/orders".into()),
            version: Some("HTTP/1.1"),
            status,
            reason: status.map(|_| "Reason".into()),
            informational: vec![],
            request_content_type: None,
            response_content_type: None,
            request_body_bytes: 0,
            response_body_bytes: bytes,
            request_missing_bytes: 0,
            response_missing_bytes: 0,
            chunked: false,
            request_chunked: false,
            request_frames: Some([3, 3]),
            response_frames: complete.then_some([5, 9]),
            start: Some(Timestamp(0)),
            phases_ms: PhasesMs {
                send: Some(0.0),
                wait: complete.then_some(wait_ns as f64 / 1e6),
                transfer: complete.then_some(transfer_ns as f64 / 1e6),
                total: complete.then_some((wait_ns + transfer_ns) as f64 / 1e6),
            },
            complete,
            gave_up: None,
            notes: vec![],
            meta: Default::default(),
            request_first: Some(first),
            request_last: Some(first),
            response_first_any: complete.then_some(resp_first),
            response_first: complete.then_some(resp_first),
            response_last: complete.then_some(resp_last),
            response_data: None,
            request_data: None,
        }
    }

    fn kinds(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn status_classes() {
        let ok = tx(Some(200), 10 * MS, MS, 10);
        assert!(diagnose(&ok, None).is_empty());
        let f = diagnose(&tx(Some(503), 10 * MS, MS, 10), None);
        assert_eq!(kinds(&f), ["http.server_error"]);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(
            f[0].summary,
            "GET /v1/orders -> 503 Reason: the server failed the request"
        );
        assert!(f[0].next_step.contains("overloaded"));
        assert_eq!(f[0].frames, [3, 5, 9]);
        assert_eq!((f[0].conn, f[0].time), (Some(4), Some(Timestamp(0))));
        assert!(f[0].client.is_some() && f[0].server.is_some());
        assert_eq!(
            kinds(&diagnose(&tx(Some(599), 0, 0, 0), None)),
            ["http.server_error"]
        );
        assert!(diagnose(&tx(Some(600), 0, 0, 0), None).is_empty());
        assert!(diagnose(&tx(Some(399), 0, 0, 0), None).is_empty());
        let mut steps = Vec::new();
        for code in [400, 401, 403, 404, 429, 499] {
            let f = diagnose(&tx(Some(code), 0, 0, 0), None);
            assert_eq!(kinds(&f), ["http.client_error"], "{code}");
            assert_eq!(f[0].severity, Severity::Warning);
            steps.push(f[0].next_step.clone());
        }
        assert!(steps[1].contains("credentials") && steps[2].contains("permission"));
        assert!(steps[3].contains("path") && steps[4].contains("rate limited"));
        assert_eq!(steps[0], steps[5], "generic advice for other 4xx");
    }

    #[test]
    fn slow_server_at_the_threshold() {
        let rtt = 12 * MS;
        let f = diagnose(&tx(Some(200), SLOW_SERVER_NS + rtt, 9 * MS, 10), Some(rtt));
        assert_eq!(kinds(&f), ["http.slow_server"]);
        assert_eq!(
            f[0].summary,
            "GET /v1/orders -> 200 in 1.02 s: server think time 1.00 s, network RTT 12.0 ms, transfer 9.0 ms"
        );
        assert!(diagnose(
            &tx(Some(200), SLOW_SERVER_NS + rtt - 1, 9 * MS, 10),
            Some(rtt)
        )
        .is_empty());
        // Without an RTT the whole wait counts.
        assert_eq!(
            kinds(&diagnose(&tx(Some(200), SLOW_SERVER_NS, 0, 0), None)),
            ["http.slow_server"]
        );
        assert!(diagnose(&tx(Some(200), SLOW_SERVER_NS - 1, 0, 0), None).is_empty());
        let f = diagnose(&tx(Some(200), SLOW_SERVER_NS, 0, 0), None);
        assert!(
            f[0].summary.contains("network RTT unknown"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn slow_transfer_edges() {
        let s = 1_000_000_000;
        // 64 KiB in 1 s: 65.5 KB/s, below the floor.
        let f = diagnose(&tx(Some(200), MS, s, SLOW_TRANSFER_MIN_BYTES), None);
        assert_eq!(kinds(&f), ["http.slow_transfer"]);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].summary.contains("65.5 KB/s"), "{}", f[0].summary);
        // Found on real traffic: a server writing its body slowly gives the same
        // picture as a slow path; the advice names both.
        assert!(
            f[0].next_step.contains("server wrote the body slowly")
                && f[0].next_step.contains("tcp findings"),
            "{}",
            f[0].next_step
        );
        // One byte less: too small to judge.
        assert!(diagnose(
            &tx(Some(200), MS, 10 * s, SLOW_TRANSFER_MIN_BYTES - 1),
            None
        )
        .is_empty());
        // Exactly at the floor for 1 s: not slow, but large: info.
        let f = diagnose(&tx(Some(200), MS, s, 100_000), None);
        assert_eq!(
            (kinds(&f), f[0].severity),
            (vec!["http.slow_transfer"], Severity::Info)
        );
        // Just below the floor (1 s + a bit for 100 kB).
        let f = diagnose(&tx(Some(200), MS, s + 1000, 100_000), None);
        assert_eq!(f[0].severity, Severity::Warning);
        // Fast and short: nothing.
        assert!(diagnose(&tx(Some(200), MS, s - 1, 10_000_000), None).is_empty());
        let f = diagnose(&tx(Some(200), MS, 2 * s, 10_000_000), None);
        assert_eq!(f[0].severity, Severity::Info);
        assert!(
            f[0].summary.contains("5.0 MB/s") && f[0].summary.contains("10.0 MB"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn no_response_says_who_gave_up() {
        let cases = [
            (
                GaveUpBy::Client,
                Some("rst"),
                "the client reset the connection 30.00 s after the request",
            ),
            (
                GaveUpBy::Client,
                Some("fin"),
                "the client closed the connection",
            ),
            (
                GaveUpBy::Server,
                Some("rst"),
                "the server reset the connection",
            ),
            (
                GaveUpBy::Server,
                Some("fin"),
                "the server closed the connection",
            ),
            (GaveUpBy::CaptureEnd, None, "the capture ended"),
        ];
        for (by, how, want) in cases {
            let mut t = tx(None, 0, 0, 0);
            t.gave_up = Some(GaveUp {
                by,
                how,
                after_ms: Some(30_000.0),
            });
            let f = diagnose(&t, None);
            assert_eq!(kinds(&f), ["http.no_response"]);
            assert_eq!(f[0].severity, Severity::Error);
            assert!(
                f[0].summary.starts_with("GET /v1/orders got no response: "),
                "{}",
                f[0].summary
            );
            assert!(f[0].summary.contains(want), "{}", f[0].summary);
            assert_eq!(f[0].frames, [3]);
        }
        // No gave_up (our parser lost the stream): no finding.
        assert!(diagnose(&tx(None, 0, 0, 0), None).is_empty());
    }

    #[test]
    fn packet_strings_are_escaped() {
        let mut t = tx(Some(500), 0, 0, 0);
        t.path = Some("/a\x1b[2J\nb".into());
        t.host = Some("evil\r\nhost".into());
        t.method = Some("G\x07T".into());
        t.reason = Some("bad\x1b]0;x\x07".into());
        let f = diagnose(&t, None);
        let s = &f[0].summary;
        assert!(!s.chars().any(char::is_control), "{s:?}");
        assert!(
            s.contains("\\u{1b}[2J\\nb") && s.contains("evil\\r\\nhost"),
            "{s}"
        );
        t.path = Some("/".to_string() + &"x".repeat(500));
        let s = &diagnose(&t, None)[0].summary;
        assert!(s.len() < 300 && s.contains('…'));
    }
}
