//! Prometheus metrics for `watch --metrics`: the families ([`Metrics`]),
//! what fills them from the analysis records ([`Recorder`]), the bounded
//! label values ([`labels`]), and the `/metrics` and `/healthz` server
//! ([`server`], with the `metrics` feature).
//!
//! The families are `prometheus-client`'s: atomic counters and histograms
//! behind shared handles, so the analysis thread records and the server's
//! thread encodes without a lock of ours. Every label value comes from a
//! bounded set (see [`labels`]): a capture cannot grow the exposition.

pub mod labels;
mod recorder;
#[cfg(feature = "metrics")]
pub mod server;

pub use recorder::{CaptureCounts, CaptureMeter, Recorder, DEFAULT_SERVER_LIMIT};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels: a server alone.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabel {
    /// SNI, Host or DNS name when known, else `ip:port`; `other` past the limit.
    pub server: String,
}

/// Labels of `netsleuth_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// See [`ServerLabel::server`].
    pub server: String,
    /// A registered method, or `other`.
    pub method: String,
    /// `2xx` .. `5xx`, or `none` when no response came.
    pub status_class: String,
}

/// Labels of `netsleuth_http_phase_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// See [`ServerLabel::server`].
    pub server: String,
    /// dns, connect, tls, send, wait, server_think or transfer.
    pub phase: String,
}

/// Labels of `netsleuth_findings_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    /// The finding's kind from the vocabulary (`tcp.connect_refused`).
    pub kind: String,
    /// info, warning or error.
    pub severity: String,
    /// See [`ServerLabel::server`].
    pub server: String,
}

/// Labels of `netsleuth_tcp_retransmitted_segments_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    /// The server's `ip:port` (TCP counts are made before any name is seen).
    pub server: String,
    /// `to_server` or `to_client`: who sent the segments.
    pub direction: String,
}

/// Labels of `netsleuth_tcp_resets_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResetLabels {
    /// The server's `ip:port`.
    pub server: String,
    /// `client`, `server`, or `middlebox` (the diagnosis said the RST was
    /// forged on the way, e.g. an idle time-out).
    pub by: String,
}

/// Labels of `netsleuth_dns_lookups_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DnsLabels {
    /// The resolver's `ip:port`.
    pub server: String,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL` ..., or `timeout`, `unreachable`.
    pub rcode: String,
}

/// Labels of `netsleuth_tls_handshakes_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TlsLabels {
    /// SNI when sent, else `ip:port`.
    pub server: String,
    /// `ok`, the alert's description (`handshake_failure`), `no_answer`
    /// (the server never answered the ClientHello) or `incomplete`.
    pub result: String,
}

/// Labels of `netsleuth_tls_certificate_expiry_timestamp_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CertLabels {
    /// SNI when sent, else `ip:port`.
    pub server: String,
    /// The leaf certificate's subject (cut to 96 characters).
    pub subject: String,
}

/// Labels of `netsleuth_capture_dropped_packets_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WhereLabel {
    /// `kernel` (buffer full) or `interface` (the driver).
    pub r#where: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds from 1 ms to about 33 s, doubling.
fn seconds_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Round trips from 50 µs to about 3.3 s, doubling.
fn rtt_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
}

/// Every family `watch` exports, registered under the `netsleuth_` prefix.
/// Clones share the same series.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_phase: HistogramFamily<PhaseLabels>,
    findings: Family<FindingLabels, Counter>,
    retransmitted: Family<DirectionLabels, Counter>,
    resets: Family<ResetLabels, Counter>,
    rtt: HistogramFamily<ServerLabel>,
    dns_lookups: Family<DnsLabels, Counter>,
    dns_seconds: HistogramFamily<ServerLabel>,
    tls_handshakes: Family<TlsLabels, Counter>,
    cert_expiry: Family<CertLabels, Gauge>,
    packets: Counter,
    dropped: Family<WhereLabel, Counter>,
    flows_open: Gauge,
    server_limit_hit: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The families, registered and empty.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("netsleuth");
        let m = Metrics {
            http_requests: Family::default(),
            http_phase: Family::new_with_constructor(seconds_buckets),
            findings: Family::default(),
            retransmitted: Family::default(),
            resets: Family::default(),
            rtt: Family::new_with_constructor(rtt_buckets),
            dns_lookups: Family::default(),
            dns_seconds: Family::new_with_constructor(seconds_buckets),
            tls_handshakes: Family::default(),
            cert_expiry: Family::default(),
            packets: Counter::default(),
            dropped: Family::default(),
            flows_open: Gauge::default(),
            server_limit_hit: Counter::default(),
            registry: Registry::default(),
        };
        // Counters are named without `_total`: the encoder adds it.
        registry.register(
            "http_requests",
            "HTTP requests seen, by server, method and status class",
            m.http_requests.clone(),
        );
        registry.register(
            "http_phase_seconds",
            "Time of each phase of an HTTP call (dns, connect, tls, send, wait, server_think, transfer)",
            m.http_phase.clone(),
        );
        registry.register(
            "findings",
            "Diagnosis findings, by kind, severity and server",
            m.findings.clone(),
        );
        registry.register(
            "tcp_retransmitted_segments",
            "TCP segments sent again, by server and direction",
            m.retransmitted.clone(),
        );
        registry.register(
            "tcp_resets",
            "Established TCP connections ended by a reset, by server and sender",
            m.resets.clone(),
        );
        registry.register(
            "tcp_rtt_seconds",
            "TCP handshake round trip (SYN to SYN-ACK plus SYN-ACK to ACK)",
            m.rtt.clone(),
        );
        registry.register(
            "dns_lookups",
            "DNS lookups, by resolver and response code",
            m.dns_lookups.clone(),
        );
        registry.register(
            "dns_lookup_seconds",
            "DNS lookup time, first query to answer",
            m.dns_seconds.clone(),
        );
        registry.register(
            "tls_handshakes",
            "TLS handshakes, by server and result",
            m.tls_handshakes.clone(),
        );
        registry.register(
            "tls_certificate_expiry_timestamp_seconds",
            "When the server's leaf certificate expires (Unix time)",
            m.cert_expiry.clone(),
        );
        registry.register(
            "capture_packets",
            "Packets the capture handed to the analysis",
            m.packets.clone(),
        );
        registry.register(
            "capture_dropped_packets",
            "Packets lost before the analysis saw them, by where",
            m.dropped.clone(),
        );
        registry.register(
            "flows_open",
            "Conversations open in the flow table",
            m.flows_open.clone(),
        );
        registry.register(
            "label_servers_folded",
            "Observations labelled server=\"other\" because the server limit was reached",
            m.server_limit_hit.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The exposition in the OpenMetrics text format (`# EOF` at the end).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_is_openmetrics_with_counter_suffixes() {
        let m = Metrics::new();
        m.packets.inc_by(3);
        m.findings
            .get_or_create(&FindingLabels {
                kind: "tcp.connect_refused".into(),
                severity: "error".into(),
                server: "10.0.0.1:443".into(),
            })
            .inc();
        let text = m.encode();
        assert!(text.contains("# TYPE netsleuth_findings counter"), "{text}");
        assert!(
            text.contains(
                "netsleuth_findings_total{kind=\"tcp.connect_refused\",severity=\"error\",server=\"10.0.0.1:443\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("netsleuth_capture_packets_total 3"), "{text}");
        assert!(text.contains("netsleuth_flows_open 0"), "{text}");
        // A labelled family without series writes nothing yet.
        assert!(!text.contains("netsleuth_http_requests"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
