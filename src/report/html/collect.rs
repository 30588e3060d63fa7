//! What the HTML report keeps of the records as they stream past: bounded
//! tables (failures first, then the slowest or busiest), the rows the
//! stories need by connection (capped), and the [`Timeline`]. Nothing here
//! grows with the number of connections past its cap.

use std::collections::HashMap;

use crate::app::dns::DnsRecord;
use crate::app::tls::TlsRecord;
use crate::base::escape::escape_str;
use crate::base::{Side, Timestamp};
use crate::diagnose::{Finding, Severity};
use crate::flow::conn::ConnRecord;
use crate::report::app_json::{HttpJson, TimingMs};

use super::timeline::Timeline;

/// Rows kept per table for failures (and, apart, for the slowest or busiest
/// healthy ones: [`HEALTHY_ROWS`]).
pub const PROBLEM_ROWS: usize = 200;
/// Healthy rows kept per table.
pub const HEALTHY_ROWS: usize = 25;
/// Rows kept by connection for the stories.
const BY_CONN: usize = 10_000;

/// One connection, as the table shows it.
#[derive(Debug, Clone)]
pub struct ConnRow {
    /// Its id.
    pub id: u64,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
    /// Client endpoint.
    pub client: String,
    /// Server endpoint.
    pub server: String,
    /// When it began.
    pub start: Timestamp,
    /// Zeek's state and history.
    pub state: String,
    /// Zeek's history letters.
    pub history: String,
    /// First to last packet, ms.
    pub duration_ms: f64,
    /// Packets each way.
    pub packets: [u64; 2],
    /// Payload bytes each way.
    pub payload: [u64; 2],
    /// The round trip, ms.
    pub rtt_ms: Option<f64>,
    /// Segments sent again, both ways.
    pub resent: u64,
    /// The worst finding on it.
    pub worst: Option<Severity>,
    /// How it ended, in words.
    pub end: String,
    /// TCP: first SYN to the handshake's end, when it completed.
    pub connect_ms: Option<f64>,
    /// TCP: SYNs sent.
    pub syns: u32,
}

/// One HTTP transaction, as the report shows it.
#[derive(Debug, Clone)]
pub struct HttpRow {
    /// Its connection.
    pub conn: u64,
    /// When the request began.
    pub start: Option<Timestamp>,
    /// `GET api.example.com/v1/orders`, escaped.
    pub request: String,
    /// The status, or what happened instead.
    pub status: String,
    /// No response, or a 5xx.
    pub failed: bool,
    /// A 4xx: the server refused the request.
    pub rejected: bool,
    /// The phases.
    pub timing: TimingMs,
    /// No response: how long after the request one side gave up, ms.
    pub gave_up_after_ms: Option<f64>,
}

/// One DNS lookup.
#[derive(Debug, Clone)]
pub struct DnsRow {
    /// Its flow.
    pub conn: u64,
    /// When the query went out.
    pub time: Timestamp,
    /// The name asked, escaped.
    pub name: String,
    /// The record type asked.
    pub qtype: String,
    /// The resolver.
    pub server: String,
    /// The answer code, or what happened instead.
    pub outcome: String,
    /// No answer, unreachable or an error code.
    pub failed: bool,
    /// Query to answer, ms.
    pub latency_ms: Option<f64>,
    /// Queries sent again.
    pub retries: u32,
    /// Answers.
    pub answers: usize,
}

/// One TLS handshake.
#[derive(Debug, Clone)]
pub struct TlsRow {
    /// Its connection.
    pub conn: u64,
    /// When the ClientHello went out.
    pub time: Timestamp,
    /// The server name asked for, escaped.
    pub sni: String,
    /// The server.
    pub server: String,
    /// Version and cipher agreed.
    pub version: String,
    /// The cipher suite.
    pub cipher: String,
    /// The protocol ALPN chose.
    pub alpn: String,
    /// ClientHello to the handshake's end, ms.
    pub handshake_ms: Option<f64>,
    /// `ok`, or the alert or what stopped it.
    pub outcome: String,
    /// Not established.
    pub failed: bool,
    /// The leaf certificate's subject and expiry, escaped.
    pub certificate: String,
}

/// The report's share of the records.
#[derive(Debug, Default)]
pub struct HtmlCollector {
    /// Calls, lookups and retransmissions over time.
    pub timeline: Timeline,
    /// Connections with a warning or an error (the first [`PROBLEM_ROWS`]).
    pub problem_conns: Vec<ConnRow>,
    /// The busiest healthy connections.
    pub healthy_conns: Vec<ConnRow>,
    /// Failed and slowest transactions.
    pub http: Vec<HttpRow>,
    /// Failed and slowest lookups.
    pub dns: Vec<DnsRow>,
    /// Failed and slowest handshakes.
    pub tls: Vec<TlsRow>,
    /// For the stories: each problem connection, its worst transaction,
    /// lookup and handshake (capped at [`BY_CONN`]).
    pub conn_by_id: HashMap<u64, ConnRow>,
    /// The worst transaction of each connection.
    pub http_by_conn: HashMap<u64, HttpRow>,
    /// The worst lookup of each DNS flow.
    pub dns_by_conn: HashMap<u64, DnsRow>,
    /// The handshake of each TLS connection that failed or was slow.
    pub tls_by_conn: HashMap<u64, TlsRow>,
    /// Records seen, per table.
    pub totals: Totals,
}

/// How many records each table had to choose from.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    /// Connections.
    pub conns: u64,
    /// HTTP transactions.
    pub http: u64,
    /// DNS lookups.
    pub dns: u64,
    /// TLS handshakes.
    pub tls: u64,
}

/// Keeps `row` in `rows`: failures (the first [`PROBLEM_ROWS`]), and the
/// [`HEALTHY_ROWS`] healthy ones with the largest `weight`.
fn keep<T>(rows: &mut Vec<T>, row: T, failed: impl Fn(&T) -> bool, weight: impl Fn(&T) -> f64) {
    if failed(&row) {
        if rows.iter().filter(|r| failed(r)).count() < PROBLEM_ROWS {
            rows.push(row);
        }
        return;
    }
    rows.push(row);
    if rows.iter().filter(|r| !failed(r)).count() > HEALTHY_ROWS {
        let smallest = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !failed(r))
            .min_by(|a, b| weight(a.1).total_cmp(&weight(b.1)))
            .map(|(i, _)| i);
        if let Some(i) = smallest {
            rows.remove(i);
        }
    }
}

fn put_by_conn<T>(map: &mut HashMap<u64, T>, conn: u64, row: T, worse: impl Fn(&T, &T) -> bool) {
    match map.get(&conn) {
        Some(old) if !worse(&row, old) => {}
        Some(_) => {
            map.insert(conn, row);
        }
        None if map.len() < BY_CONN => {
            map.insert(conn, row);
        }
        None => {}
    }
}

fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

impl HtmlCollector {
    /// A conversation ended, with its findings.
    pub fn connection(&mut self, c: &ConnRecord, found: &[Finding]) {
        self.totals.conns += 1;
        let worst = found.iter().map(|f| f.severity).max();
        let row = ConnRow {
            id: c.id,
            protocol: c.protocol.as_str(),
            client: c.client.to_string(),
            server: c.server.to_string(),
            start: c.start,
            state: c.state.clone(),
            history: c.history.clone(),
            duration_ms: ms(c.duration_ns),
            packets: [c.client_stats.packets, c.server_stats.packets],
            payload: [c.client_stats.payload_bytes, c.server_stats.payload_bytes],
            rtt_ms: c.path_rtt().map(ms),
            resent: c.resent(Side::Client) + c.resent(Side::Server),
            worst,
            end: crate::report::conn_json::end_phrase(c.ended),
            connect_ms: c.handshake.map(|h| ms(h.connect_ns)),
            syns: c.syn.as_ref().map_or(0, |s| s.count),
        };
        if worst.is_some_and(|w| w >= Severity::Warning) {
            if self.conn_by_id.len() < BY_CONN {
                self.conn_by_id.insert(c.id, row.clone());
            }
            if self.problem_conns.len() < PROBLEM_ROWS {
                self.problem_conns.push(row);
            }
            return;
        }
        let busy = |r: &ConnRow| (r.payload[0] + r.payload[1]) as f64;
        keep(&mut self.healthy_conns, row, |_| false, busy);
    }

    /// An HTTP transaction, timed.
    pub fn http(&mut self, row: &HttpJson) {
        self.totals.http += 1;
        let tx = &row.tx;
        let failed = tx.status.is_none_or(|s| s >= 500);
        if let Some(start) = tx.start {
            self.timeline.http(start, row.timing_ms.total, failed);
        }
        let status = match (tx.status, &tx.gave_up) {
            (Some(s), _) => s.to_string(),
            (None, Some(g)) => match g.by {
                crate::app::http::GaveUpBy::CaptureEnd => {
                    "no response by the capture's end".to_string()
                }
                by => format!("no response (the {} gave up)", by.as_str()),
            },
            (None, None) => "no response".to_string(),
        };
        let request = format!(
            "{} {}{}",
            escape_str(tx.method.as_deref().unwrap_or("?")),
            escape_str(tx.host.as_deref().unwrap_or("")),
            escape_str(tx.path.as_deref().unwrap_or(""))
        );
        let r = HttpRow {
            conn: tx.conn,
            start: tx.start,
            request,
            status,
            failed,
            rejected: tx.status.is_some_and(|s| (400..500).contains(&s)),
            timing: row.timing_ms,
            gave_up_after_ms: tx.gave_up.as_ref().and_then(|g| g.after_ms),
        };
        let total = |r: &HttpRow| r.timing.total.unwrap_or(0.0);
        let rank = |r: &HttpRow| (r.failed, r.rejected);
        put_by_conn(&mut self.http_by_conn, tx.conn, r.clone(), |new, old| {
            rank(new) > rank(old) || (rank(new) == rank(old) && total(new) > total(old))
        });
        keep(&mut self.http, r, |r| r.failed || r.rejected, total);
    }

    /// A DNS lookup.
    pub fn dns(&mut self, d: &DnsRecord) {
        self.totals.dns += 1;
        let (outcome, failed) = if let Some(u) = &d.unreachable {
            (format!("unreachable: {}", escape_str(&u.description)), true)
        } else if d.timed_out || d.unanswered_at_end {
            ("no answer".to_string(), true)
        } else {
            let rcode = d.rcode.clone().unwrap_or_else(|| "-".into());
            let failed = rcode != "NOERROR";
            (rcode, failed)
        };
        self.timeline.dns(d.query_time, d.latency_ms, failed);
        let row = DnsRow {
            conn: d.conn,
            time: d.query_time,
            name: escape_str(&d.qname),
            qtype: escape_str(&d.qtype),
            server: d.server.to_string(),
            outcome,
            failed,
            latency_ms: d.latency_ms,
            retries: d.retries,
            answers: d.answers.len(),
        };
        let slow = |r: &DnsRow| r.latency_ms.unwrap_or(0.0);
        put_by_conn(&mut self.dns_by_conn, d.conn, row.clone(), |new, old| {
            (new.failed && !old.failed) || (new.failed == old.failed && slow(new) > slow(old))
        });
        keep(&mut self.dns, row, |r| r.failed, slow);
    }

    /// A TLS handshake.
    pub fn tls(&mut self, t: &TlsRecord) {
        self.totals.tls += 1;
        let fatal = t.alerts.iter().find(|a| a.is_fatal());
        let failed = t.established.is_none();
        let outcome = match (fatal, &t.established) {
            (Some(a), _) => format!("alert {} from the {}", a.description, a.from.as_str()),
            (None, Some(_)) => "ok".to_string(),
            (None, None) if t.server_hello.is_none() => "no ServerHello".to_string(),
            (None, None) => "not completed".to_string(),
        };
        let certificate = t
            .certificates
            .first()
            .map(|c| {
                format!(
                    "{} (until {})",
                    escape_str(c.common_name.as_deref().unwrap_or(&c.subject)),
                    escape_str(&c.not_after)
                )
            })
            .unwrap_or_default();
        let row = TlsRow {
            conn: t.conn,
            time: t.client_hello.time,
            sni: escape_str(t.sni.as_deref().unwrap_or("")),
            server: t.server.to_string(),
            version: t.version.clone().unwrap_or_default(),
            cipher: t.cipher.clone().unwrap_or_default(),
            alpn: escape_str(t.alpn.as_deref().unwrap_or("")),
            handshake_ms: t.established.as_ref().map(|e| e.handshake_ms),
            outcome,
            failed,
            certificate,
        };
        let slow = |r: &TlsRow| r.handshake_ms.unwrap_or(0.0);
        put_by_conn(&mut self.tls_by_conn, t.conn, row.clone(), |_, _| false);
        keep(&mut self.tls, row, |r| r.failed, slow);
    }

    /// A TCP segment sent again.
    pub fn retransmission(&mut self, ts: Timestamp) {
        self.timeline.retransmission(ts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_keep_failures_then_the_heaviest_healthy_rows() {
        let mut rows: Vec<(bool, f64)> = Vec::new();
        for i in 0..1000 {
            keep(&mut rows, (i % 10 == 0, i as f64), |r| r.0, |r| r.1);
        }
        assert_eq!(rows.iter().filter(|r| r.0).count(), 100);
        let healthy: Vec<f64> = rows.iter().filter(|r| !r.0).map(|r| r.1).collect();
        assert_eq!(healthy.len(), HEALTHY_ROWS);
        assert!(healthy.iter().all(|&w| w >= 960.0), "{healthy:?}");
    }
}
