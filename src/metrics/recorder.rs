//! Fills the [`Metrics`] families from the analysis' records as they are
//! made (the same calls an [`AnalysisOutput`](crate::analysis::AnalysisOutput)
//! gets) and from the capture's own counters.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use super::labels::{self, ServerNames, OTHER};
use super::{
    CertLabels, DirectionLabels, DnsLabels, FindingLabels, HttpLabels, Metrics, PhaseLabels,
    ResetLabels, ServerLabel, TlsLabels, WhereLabel,
};
use crate::app::dns::DnsRecord;
use crate::app::tls::TlsRecord;
use crate::base::Side;
use crate::diagnose::Finding;
use crate::flow::conn::ConnRecord;
use crate::flow::events::TcpEvents;
use crate::report::app_json::HttpJson;

/// Servers named in labels before the rest become `other`.
pub const DEFAULT_SERVER_LIMIT: usize = 50;

/// The capture's running totals, as libpcap and the flow table give them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureCounts {
    /// Packets handed to the analysis.
    pub packets: u64,
    /// libpcap's kernel drop counter (32 bits, it wraps).
    pub kernel_dropped: u32,
    /// libpcap's interface drop counter (32 bits, it wraps).
    pub interface_dropped: u32,
    /// Conversations open in the flow table.
    pub flows_open: usize,
}

/// Records into shared [`Metrics`]; owned by the analysis thread.
#[derive(Debug)]
pub struct Recorder {
    metrics: Arc<Metrics>,
    servers: ServerNames,
    /// Server label of each open conversation, for the per-segment and
    /// handshake counts (an index into `label_values`).
    conns: HashMap<u64, u32>,
    label_values: Vec<String>,
    /// (server, subject) pairs given an expiry series; bounded.
    certs: HashSet<CertLabels>,
}

impl Recorder {
    /// A recorder into `metrics`, naming at most `server_limit` servers.
    pub fn new(metrics: Arc<Metrics>, server_limit: usize) -> Recorder {
        Recorder {
            metrics,
            servers: ServerNames::new(server_limit),
            conns: HashMap::new(),
            label_values: Vec::new(),
            certs: HashSet::new(),
        }
    }

    /// The families recorded into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    fn server(&mut self, name: Option<&str>, addr: Option<SocketAddr>) -> String {
        let label = self.servers.label(name, addr);
        if label == OTHER {
            self.metrics.server_limit_hit.inc();
        }
        label
    }

    fn conn_server(&self, conn: u64) -> Option<&str> {
        let i = *self.conns.get(&conn)?;
        self.label_values.get(i as usize).map(String::as_str)
    }

    /// A conversation began.
    pub fn opened(&mut self, conn: u64, server: SocketAddr) {
        let label = self.server(None, Some(server));
        let i = match self.label_values.iter().position(|v| *v == label) {
            Some(i) => i,
            None => {
                self.label_values.push(label);
                self.label_values.len() - 1
            }
        };
        self.conns
            .insert(conn, u32::try_from(i).unwrap_or(u32::MAX));
    }

    /// A TCP handshake completed.
    pub fn handshake_rtt(&mut self, conn: u64, rtt_ns: i64) {
        let Some(server) = self.conn_server(conn).map(str::to_string) else {
            return;
        };
        self.metrics
            .rtt
            .get_or_create(&ServerLabel { server })
            .observe(rtt_ns.max(0) as f64 / 1e9);
    }

    /// One segment's analysis flags: a resent segment counts once.
    pub fn tcp_events(&mut self, conn: u64, side: Side, events: TcpEvents) {
        if !events.iter().any(|k| k.is_retransmission()) {
            return;
        }
        let Some(server) = self.conn_server(conn).map(str::to_string) else {
            return;
        };
        let direction = match side {
            Side::Client => "to_server",
            Side::Server => "to_client",
        };
        self.metrics
            .retransmitted
            .get_or_create(&DirectionLabels {
                server,
                direction: direction.into(),
            })
            .inc();
    }

    /// A conversation ended, with its findings. A reset counts when the
    /// connection had been set up (a refusal is a finding, not a reset).
    pub fn connection(&mut self, record: &ConnRecord, found: &[Finding]) {
        let refused = record.syn.is_some() && record.handshake.is_none();
        if let Some(rst) = record.rst.filter(|_| !refused) {
            let by = if found.iter().any(|f| f.kind == "tcp.reset_by_middlebox") {
                "middlebox"
            } else {
                match rst.by {
                    Side::Client => "client",
                    Side::Server => "server",
                }
            };
            let server = match self.conn_server(record.id) {
                Some(s) => s.to_string(),
                None => self.server(None, Some(record.server)),
            };
            self.metrics
                .resets
                .get_or_create(&ResetLabels {
                    server,
                    by: by.into(),
                })
                .inc();
        }
        self.conns.remove(&record.id);
    }

    /// A DNS lookup completed (answered, failed or timed out).
    pub fn dns(&mut self, record: &DnsRecord) {
        let rcode = match &record.rcode {
            Some(r) => labels::clean(r).to_ascii_uppercase(),
            None if record.unreachable.is_some() => "unreachable".into(),
            None if record.timed_out => "timeout".into(),
            None => "unanswered".into(),
        };
        let server = self.server(None, Some(record.server));
        self.metrics
            .dns_lookups
            .get_or_create(&DnsLabels {
                server: server.clone(),
                rcode,
            })
            .inc();
        if let Some(ms) = record.latency_ms {
            self.metrics
                .dns_seconds
                .get_or_create(&ServerLabel { server })
                .observe(ms / 1e3);
        }
    }

    /// A TLS connection ended.
    pub fn tls(&mut self, record: &TlsRecord) {
        let server = self.server(record.sni.as_deref(), Some(record.server));
        let result = if record.established.is_some() {
            "ok".to_string()
        } else if let Some(a) = record.alerts.first() {
            a.description.to_string()
        } else if record.server_hello.is_none() && record.unanswered_ms.is_some() {
            "no_answer".to_string()
        } else {
            "incomplete".to_string()
        };
        self.metrics
            .tls_handshakes
            .get_or_create(&TlsLabels {
                server: server.clone(),
                result,
            })
            .inc();
        if let Some(leaf) = record.certificates.first() {
            let key = CertLabels {
                server,
                subject: labels::clean(&leaf.subject),
            };
            if self.certs.contains(&key) || self.certs.len() < 2 * self.servers.limit() {
                self.metrics
                    .cert_expiry
                    .get_or_create(&key)
                    .set(leaf.not_after_unix);
                self.certs.insert(key);
            }
        }
    }

    /// An HTTP transaction, timed.
    pub fn http(&mut self, row: &HttpJson) {
        let tx = &row.tx;
        let server = self.server(tx.host.as_deref(), Some(tx.server));
        self.metrics
            .http_requests
            .get_or_create(&HttpLabels {
                server: server.clone(),
                method: labels::method(tx.method.as_deref()).into(),
                status_class: labels::status_class(tx.status).into(),
            })
            .inc();
        let t = &row.timing_ms;
        for (phase, ms) in [
            ("dns", t.dns),
            ("connect", t.connect),
            ("tls", t.tls),
            ("send", t.send),
            ("wait", t.wait),
            ("server_think", t.server_think),
            ("transfer", t.transfer),
        ] {
            if let Some(ms) = ms {
                self.metrics
                    .http_phase
                    .get_or_create(&PhaseLabels {
                        server: server.clone(),
                        phase: phase.into(),
                    })
                    .observe(ms.max(0.0) / 1e3);
            }
        }
    }

    /// One call's findings, with the call's name when known.
    pub fn findings(&mut self, batch: &[Finding], target: Option<&str>) {
        for f in batch {
            let server = self.server(target, f.server);
            self.metrics
                .findings
                .get_or_create(&FindingLabels {
                    kind: f.kind.into(),
                    severity: f.severity.as_str().into(),
                    server,
                })
                .inc();
        }
    }
}

/// Records the capture's own counters (on the capture loop's side, apart
/// from the [`Recorder`] the analysis owns).
#[derive(Debug)]
pub struct CaptureMeter {
    metrics: Arc<Metrics>,
    last: CaptureCounts,
}

impl CaptureMeter {
    /// A meter into `metrics`, from zero.
    pub fn new(metrics: Arc<Metrics>) -> CaptureMeter {
        CaptureMeter {
            metrics,
            last: CaptureCounts::default(),
        }
    }

    /// The capture's totals now: the counters move on by the difference.
    pub fn update(&mut self, now: CaptureCounts) {
        let m = &self.metrics;
        m.packets
            .inc_by(now.packets.saturating_sub(self.last.packets));
        for (place, new, old) in [
            ("kernel", now.kernel_dropped, self.last.kernel_dropped),
            (
                "interface",
                now.interface_dropped,
                self.last.interface_dropped,
            ),
        ] {
            let counter = m.dropped.get_or_create(&WhereLabel {
                r#where: place.into(),
            });
            counter.inc_by(u64::from(new.wrapping_sub(old)));
        }
        m.flows_open
            .set(i64::try_from(now.flows_open).unwrap_or(i64::MAX));
        self.last = now;
    }
}
