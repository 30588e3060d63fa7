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
use crate::flow::events::{TcpEventKind, TcpEvents};
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

/// What the recorder keeps of one open conversation.
#[derive(Debug, Clone, Copy)]
struct OpenConn {
    /// Its server label, for the per-segment and handshake counts (an index
    /// into `label_values`).
    label: u32,
    /// Per sender (client, server): the capture missed bytes of its stream (a
    /// `lost_segment` flag), so a segment below its newest may be the late
    /// first copy of those bytes rather than a resend.
    hole: [bool; 2],
    /// Per sender: resends counted as their segments came.
    counted: [u64; 2],
}

/// Records into shared [`Metrics`]; owned by the analysis thread.
#[derive(Debug)]
pub struct Recorder {
    metrics: Arc<Metrics>,
    servers: ServerNames,
    /// Each open conversation.
    conns: HashMap<u64, OpenConn>,
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
        let label = self.conns.get(&conn)?.label;
        self.label_values.get(label as usize).map(String::as_str)
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
        self.conns.insert(
            conn,
            OpenConn {
                label: u32::try_from(i).unwrap_or(u32::MAX),
                hole: [false; 2],
                counted: [0; 2],
            },
        );
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
    ///
    /// Resent means flagged retransmission (plain, fast or spurious), or
    /// out-of-order while the capture holds every byte its sender sent before
    /// (no `lost_segment` yet): data below the newest that the capture already
    /// saw is sent again, whatever the timing. Wireshark's rule calls a resend
    /// out-of-order when it follows the newest segment within the handshake
    /// round trip, which is what SACK-driven resends on a fast path (loopback,
    /// one data centre) do: counting the flags alone left them out. After a
    /// hole, an out-of-order segment may be the late first copy of the missing
    /// bytes (reordering); the flow's loss location, given with the
    /// connection's record, settles those at its end.
    pub fn tcp_events(&mut self, conn: u64, side: Side, events: TcpEvents) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let i = side as usize;
        if events.contains(TcpEventKind::LostSegment) {
            c.hole[i] = true;
        }
        let resent = events.iter().any(|k| k.is_retransmission())
            || (events.contains(TcpEventKind::OutOfOrder) && !c.hole[i]);
        if !resent {
            return;
        }
        c.counted[i] += 1;
        let label = c.label;
        self.count_resends(label, side, 1);
    }

    /// Counts `n` segments `side` sent again on a conversation with server
    /// label `label`.
    fn count_resends(&self, label: u32, side: Side, n: u64) {
        let Some(server) = self.label_values.get(label as usize).cloned() else {
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
            .inc_by(n);
    }

    /// A conversation ended, with its findings. A reset counts when the
    /// connection had been set up (a refusal is a finding, not a reset).
    /// Resends its segments' flags could not prove (out-of-order fills of a
    /// hole the flow judged lost before the capture point) count now, so the
    /// total is at least what `tcp.retransmissions` reports
    /// ([`ConnRecord::resent`]).
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
        if let Some(c) = self.conns.remove(&record.id) {
            for side in [Side::Client, Side::Server] {
                let missed = record.resent(side).saturating_sub(c.counted[side as usize]);
                if missed > 0 {
                    self.count_resends(c.label, side, missed);
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Timestamp;
    use crate::decode::{SeqNum, TcpFlags};
    use crate::flow::conn::{Connection, EndReason, RoleSource, TcpPacket};
    use crate::flow::key::{FlowKey, Protocol};
    use crate::flow::seq_analysis::Segment;
    use crate::flow::table::FlowSink;

    struct NoSink;

    impl FlowSink for NoSink {
        fn connection(&mut self, _: ConnRecord) {}
    }

    const CLIENT_ISN: u32 = 1_000;
    const SERVER_ISN: u32 = 5_000;

    /// One TCP connection fed segment by segment, as the flow table feeds it,
    /// with its flags and its record going to a recorder.
    struct Conn {
        conn: Option<Connection>,
        recorder: Recorder,
        frame: u64,
    }

    impl Conn {
        fn new() -> Conn {
            let client: SocketAddr = "127.0.0.1:46258".parse().unwrap();
            let server: SocketAddr = "127.0.0.1:52353".parse().unwrap();
            let key = FlowKey::of(
                Protocol::Tcp,
                (client.ip(), client.port()),
                (server.ip(), server.port()),
                None,
            );
            let conn = Connection::new(1, key, client, server, RoleSource::Syn, at(0), 1);
            let mut recorder = Recorder::new(Arc::new(Metrics::new()), DEFAULT_SERVER_LIMIT);
            recorder.opened(1, server);
            Conn {
                conn: Some(conn),
                recorder,
                frame: 0,
            }
        }

        /// A segment from `from` at `us` microseconds; its flags.
        #[allow(clippy::too_many_arguments)]
        fn send(
            &mut self,
            from: Side,
            us: i64,
            seq: u32,
            ack: u32,
            flags: TcpFlags,
            len: u32,
            sack: bool,
        ) -> TcpEvents {
            self.frame += 1;
            let seg = Segment {
                seq: SeqNum(seq),
                ack: SeqNum(ack),
                flags,
                len,
                window: 512,
                window_scale: flags.contains(TcpFlags::SYN).then_some(7),
                sack,
                ts: at(us),
            };
            let p = TcpPacket {
                seg,
                frame: self.frame,
                ttl: 64,
            };
            let payload = vec![7u8; len as usize];
            let conn = self.conn.as_mut().expect("an open connection");
            let events = conn.on_tcp(from, &p, &payload, &mut NoSink);
            let lens = crate::flow::conn::PacketLen {
                wire: 66 + len,
                ip: 52 + len,
                payload: len,
            };
            conn.count(from, lens, 64, seg.ts, self.frame);
            if !events.is_empty() {
                self.recorder.tcp_events(1, from, events);
            }
            events
        }

        /// The handshake of a loopback connection (a 41 µs round trip).
        fn handshake(&mut self) {
            let (c, s) = (Side::Client, Side::Server);
            self.send(c, 0, CLIENT_ISN, 0, TcpFlags::SYN, 0, false);
            self.send(
                s,
                22,
                SERVER_ISN,
                CLIENT_ISN + 1,
                TcpFlags::SYN | TcpFlags::ACK,
                0,
                false,
            );
            self.send(
                c,
                41,
                CLIENT_ISN + 1,
                SERVER_ISN + 1,
                TcpFlags::ACK,
                0,
                false,
            );
        }

        /// Client data: `len` bytes at stream offset `offset`.
        fn data(&mut self, us: i64, offset: u32, len: u32) -> TcpEvents {
            self.send(
                Side::Client,
                us,
                CLIENT_ISN + 1 + offset,
                SERVER_ISN + 1,
                TcpFlags::ACK | TcpFlags::PSH,
                len,
                false,
            )
        }

        /// The server acknowledges up to client offset `upto`, with SACK
        /// blocks when it reports a hole.
        fn ack(&mut self, us: i64, upto: u32, sack: bool) {
            self.send(
                Side::Server,
                us,
                SERVER_ISN + 1,
                CLIENT_ISN + 1 + upto,
                TcpFlags::ACK,
                0,
                sack,
            );
        }

        /// Both FINs, then the connection's record to the recorder.
        fn close(&mut self, us: i64, client_end: u32) -> ConnRecord {
            let fin = CLIENT_ISN + 1 + client_end;
            self.send(
                Side::Client,
                us,
                fin,
                SERVER_ISN + 1,
                TcpFlags::FIN | TcpFlags::ACK,
                0,
                false,
            );
            self.send(
                Side::Server,
                us + 10,
                SERVER_ISN + 1,
                fin + 1,
                TcpFlags::FIN | TcpFlags::ACK,
                0,
                false,
            );
            self.send(
                Side::Client,
                us + 20,
                fin + 1,
                SERVER_ISN + 2,
                TcpFlags::ACK,
                0,
                false,
            );
            let conn = self.conn.take().expect("an open connection");
            let record = conn.into_record(EndReason::Fin {
                first: Side::Client,
            });
            self.recorder.connection(&record, &[]);
            record
        }

        /// `netsleuth_tcp_retransmitted_segments_total` to the server now.
        fn resent_to_server(&self) -> u64 {
            self.recorder
                .metrics()
                .retransmitted
                .get_or_create(&DirectionLabels {
                    server: "127.0.0.1:52353".into(),
                    direction: "to_server".into(),
                })
                .get()
        }
    }

    fn at(us: i64) -> Timestamp {
        Timestamp::from_parts(1_700_000_000, u64::try_from(us).unwrap(), 1_000_000)
    }

    /// What the iptables drop in tests/monitoring.rs makes on loopback: the
    /// capture sees a segment, the receiver never gets it, reports the hole
    /// with SACK, and the resend follows the newest segment within the
    /// handshake round trip, so Wireshark's rule calls it out-of-order.
    #[test]
    fn a_sack_driven_resend_flagged_out_of_order_counts_as_it_comes() {
        let mut c = Conn::new();
        c.handshake();
        c.data(3_400, 0, 8_192);
        c.ack(3_460, 8_192, false);
        c.data(3_800, 8_192, 8_192); // dropped after the capture point
        c.data(3_870, 16_384, 55_808);
        c.ack(3_884, 8_192, true);
        let resend = c.data(3_899, 8_192, 8_192);
        assert!(resend.contains(TcpEventKind::OutOfOrder), "{resend:?}");
        assert!(!resend.iter().any(|k| k.is_retransmission()), "{resend:?}");
        assert_eq!(c.resent_to_server(), 1);
        c.ack(3_924, 72_192, false);
        let record = c.close(4_000, 72_192);
        assert_eq!(record.resent(Side::Client), 1);
        assert_eq!(
            c.resent_to_server(),
            1,
            "counted once, not again at the end"
        );
    }

    /// The capture itself missed bytes (lost before the capture point): the
    /// out-of-order fill cannot be told from reordering by its flags, so the
    /// flow's loss location decides it at the connection's end.
    #[test]
    fn a_hole_filled_after_the_receiver_reported_it_counts_at_the_end() {
        let mut c = Conn::new();
        c.handshake();
        c.data(3_400, 0, 8_192);
        c.ack(3_460, 8_192, false);
        let jump = c.data(3_870, 16_384, 55_808);
        assert!(jump.contains(TcpEventKind::LostSegment), "{jump:?}");
        c.ack(3_884, 8_192, true);
        let fill = c.data(3_899, 8_192, 8_192);
        assert!(fill.contains(TcpEventKind::OutOfOrder), "{fill:?}");
        assert_eq!(c.resent_to_server(), 0);
        c.ack(3_924, 72_192, false);
        let record = c.close(4_000, 72_192);
        assert_eq!(record.resent(Side::Client), 1);
        assert_eq!(c.resent_to_server(), 1);
    }

    /// Two segments swapped before the capture point, no report between
    /// them: reordering, never a resend.
    #[test]
    fn reordered_segments_are_not_resends() {
        let mut c = Conn::new();
        c.handshake();
        c.data(3_400, 0, 8_192);
        c.ack(3_460, 8_192, false);
        c.data(3_870, 16_384, 8_192);
        let late = c.data(3_875, 8_192, 8_192);
        assert!(late.contains(TcpEventKind::OutOfOrder), "{late:?}");
        c.ack(3_924, 24_576, false);
        let record = c.close(4_000, 24_576);
        assert_eq!(record.resent(Side::Client), 0);
        assert_eq!(c.resent_to_server(), 0);
    }
}
