//! JSON (and table) form of HTTP transactions with the full timing model of
//! DESIGN.md: dns ─ connect ─ tls ─ send ─ wait ─ transfer, and server think
//! time ≈ wait − RTT. DNS and TLS records serialize as they are.

use serde::Serialize;

use crate::app::http::HttpTransaction;
use crate::app::tls::TlsRecord;
use crate::flow::conn::ConnRecord;

fn ms(nanos: i64) -> f64 {
    (nanos as f64 / 1e3).round() / 1e3
}

/// Every phase of one transaction in milliseconds; `null` where the capture
/// cannot show it (set-up phases appear on a connection's first transaction).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TimingMs {
    /// The resolver operation that named the server's address: its first query
    /// to the last answer the resolver waited for (`null`: a cache served it).
    pub dns: Option<f64>,
    /// The first SYN to the SYN-ACK the client acknowledged, as seen at the
    /// capture point: resent SYNs and SYN-ACKs are inside it.
    pub connect: Option<f64>,
    /// ClientHello to the end of the TLS handshake.
    pub tls: Option<f64>,
    /// First to last request byte.
    pub send: Option<f64>,
    /// Last request byte to first response byte (TTFB).
    pub wait: Option<f64>,
    /// Wait minus the network round trip: the server's own time.
    pub server_think: Option<f64>,
    /// First to last response byte.
    pub transfer: Option<f64>,
    /// First request byte to last response byte.
    pub total: Option<f64>,
}

/// An HTTP transaction with its connection's view of the timing.
#[derive(Debug, Clone, Serialize)]
pub struct HttpJson {
    /// The transaction as parsed.
    #[serde(flatten)]
    pub tx: HttpTransaction,
    /// The full timing model.
    pub timing_ms: TimingMs,
    /// The network round trip used for `server_think`, ms.
    pub rtt_ms: Option<f64>,
    /// This request replays one that died on connection N (a dead pooled
    /// connection); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<u64>,
}

impl HttpJson {
    /// Joins a transaction with its connection (and, for the first transaction
    /// of a connection, the TLS handshake and the DNS lookup that led to it).
    pub fn new(
        tx: HttpTransaction,
        conn: &ConnRecord,
        tls: Option<&TlsRecord>,
        dns_latency_ns: Option<i64>,
        first: bool,
    ) -> HttpJson {
        let resend = match (tx.request_first, tx.request_last) {
            (Some(first), Some(last)) => conn.request_resend_ns(first.frame, last.ts),
            _ => 0,
        };
        let connect = conn.handshake.map(|h| h.connect_ns).filter(|_| first);
        Self::timed(tx, conn.path_rtt(), resend, connect, tls, dns_latency_ns)
    }

    /// A later transaction of a connection still open, timed with the
    /// round trip its handshake measured (the record's `path_rtt`).
    pub fn before_close(tx: HttpTransaction, path_rtt_ns: i64) -> HttpJson {
        Self::timed(tx, Some(path_rtt_ns), 0, None, None, None)
    }

    /// `tx` with the connection's round trip, the time its request waited on
    /// its own resend, and the set-up phases (a connection's first only).
    fn timed(
        tx: HttpTransaction,
        rtt: Option<i64>,
        resend: i64,
        connect_ns: Option<i64>,
        tls: Option<&TlsRecord>,
        dns_latency_ns: Option<i64>,
    ) -> HttpJson {
        let p = tx.phases_ms;
        let timing_ms = TimingMs {
            dns: dns_latency_ns.map(ms),
            connect: connect_ns.map(ms),
            tls: tls
                .and_then(|t| t.established.as_ref())
                .map(|e| e.handshake_ms),
            send: p.send,
            wait: p.wait,
            // Wait minus the round trip and any time the request waited on
            // its own resend (the server could not answer before it).
            // Rounded to the microsecond like the other phases (a difference
            // of rounded floats is not: 0.040999999999999995).
            server_think: p
                .wait
                .map(|w| ((w - rtt.map_or(0.0, ms) - ms(resend)).max(0.0) * 1e3).round() / 1e3),
            transfer: p.transfer,
            total: p.total,
        };
        HttpJson {
            tx,
            timing_ms,
            rtt_ms: rtt.map(ms),
            replay_of: None,
        }
    }
}
