//! JSON form of connection records (`analyze --json` / `--jsonl`). Field names
//! are a stable contract; see `docs/json-schema.md`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::base::rfc3339;
use crate::base::Side;
use crate::flow::conn::{ConnRecord, EndReason};
use crate::flow::events::TcpEventKind;

fn ms(nanos: i64) -> f64 {
    (nanos as f64 / 1e3).round() / 1e3
}

/// A connection as JSON.
#[derive(Debug, Serialize)]
pub struct ConnJson {
    /// Connection id, referenced by findings and by dns/tls/http records.
    pub id: u64,
    /// `tcp`, `udp` or `icmp`.
    pub proto: &'static str,
    /// Client endpoint `addr:port`.
    pub client: String,
    /// Server endpoint.
    pub server: String,
    /// VLAN id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// First packet, RFC 3339.
    pub start: String,
    /// Last packet minus first, milliseconds.
    pub duration_ms: f64,
    /// Zeek conn_state.
    pub state: String,
    /// Zeek history.
    pub history: String,
    /// The protocols recognised on the connection, in order (Zeek's `service`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<&'static str>,
    /// How client and server were decided: syn, syn_ack, ports, first_packet.
    pub roles: &'static str,
    /// Packets from the client.
    pub client_packets: u64,
    /// Packets from the server.
    pub server_packets: u64,
    /// Wire bytes from the client.
    pub client_bytes: u64,
    /// Wire bytes from the server.
    pub server_bytes: u64,
    /// Payload bytes from the client.
    pub client_payload: u64,
    /// Payload bytes from the server.
    pub server_payload: u64,
    /// Bytes the client sent as Zeek counts `orig_bytes`: TCP from sequence
    /// numbers (what the capture missed included, resent bytes once), UDP
    /// and ICMP the payload.
    pub client_sent: u64,
    /// The same for the server (Zeek's `resp_bytes`).
    pub server_sent: u64,
    /// IP-layer bytes from the client (Zeek's `orig_ip_bytes`).
    pub client_ip_bytes: u64,
    /// IP-layer bytes from the server (Zeek's `resp_ip_bytes`).
    pub server_ip_bytes: u64,
    /// First and last frame numbers.
    pub frames: [u64; 2],
    /// Handshake timing split at the capture point, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake: Option<HandshakeJson>,
    /// RTT from data/ACK pairs, ms: `path_median_ms`, and per sender of the data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt: Option<PathRttJson>,
    /// Per-segment analysis counts per side (only non-zero kinds).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tcp_analysis: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// Loss located relative to the capture point, per sending side.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub loss: BTreeMap<&'static str, LossJson>,
    /// Reassembly of each direction's bytes, when something was missing or
    /// inconsistent: `gaps`, `gap_bytes` (sent but not captured), `overlap_conflicts`
    /// (retransmitted bytes that differ from the first copy).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reassembly: BTreeMap<&'static str, StreamJson>,
    /// SYNs sent by the client (1 = no retransmission).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syn_count: Option<u32>,
    /// How it ended.
    pub end: EndJson,
}

/// Handshake timing, ms.
#[derive(Debug, Serialize)]
pub struct HandshakeJson {
    /// The latest SYN to the first SYN-ACK after it (one round trip).
    pub syn_to_syn_ack_ms: f64,
    /// SYN-ACK to ACK.
    pub syn_ack_to_ack_ms: Option<f64>,
    /// The connect phase: first SYN to the SYN-ACK the client acknowledged.
    pub connect_ms: f64,
    /// SYN-ACKs the server sent (more than 1: resent).
    pub syn_acks: u32,
}

/// RTT of a connection, ms.
#[derive(Debug, Serialize)]
pub struct PathRttJson {
    /// Client-server round trip seen from the capture point: the sum of the two
    /// directions' medians (the handshake when no data was sampled).
    pub path_median_ms: f64,
    /// Samples from client data: capture point to server and back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_data: Option<RttJson>,
    /// Samples from server data: capture point to client and back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_data: Option<RttJson>,
}

fn rtt_json(r: Option<crate::flow::rtt::RttSummary>) -> Option<RttJson> {
    r.map(|r| RttJson {
        samples: r.samples,
        min_ms: ms(r.min),
        median_ms: ms(r.median),
        p95_ms: ms(r.p95),
        max_ms: ms(r.max),
        jitter_ms: ms(r.jitter),
    })
}

/// RTT summary, ms.
#[derive(Debug, Serialize)]
pub struct RttJson {
    /// Samples.
    pub samples: u64,
    /// Minimum.
    pub min_ms: f64,
    /// Median.
    pub median_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Maximum.
    pub max_ms: f64,
    /// Mean successive difference.
    pub jitter_ms: f64,
}

/// Reassembly counters of one direction.
#[derive(Debug, Serialize)]
pub struct StreamJson {
    /// Holes in the byte stream.
    pub gaps: u64,
    /// Bytes in those holes.
    pub gap_bytes: u64,
    /// Overlapping bytes that differed from the first copy.
    pub overlap_conflicts: u64,
}

/// Loss location counts.
#[derive(Debug, Serialize)]
pub struct LossJson {
    /// Holes the capture never saw, later filled.
    pub upstream: u64,
    /// Captured segments sent again.
    pub downstream: u64,
    /// Holes filled sooner than a resend could have been: reordering.
    pub reordered: u64,
}

/// How a connection ended.
#[derive(Debug, Serialize)]
pub struct EndJson {
    /// fin, half_closed, reset, timeout, open, evicted.
    pub how: &'static str,
    /// Who: for fin the side that closed first; for reset the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'static str>,
    /// Quiet time before an RST, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_before_ms: Option<f64>,
    /// Frame of the RST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
}

impl ConnJson {
    /// Builds the JSON form of a record.
    pub fn new(c: &ConnRecord) -> ConnJson {
        let mut tcp_analysis = BTreeMap::new();
        let mut loss = BTreeMap::new();
        let mut reassembly = BTreeMap::new();
        for (i, side) in [Side::Client, Side::Server].into_iter().enumerate() {
            let counts: BTreeMap<&'static str, u64> = TcpEventKind::ALL
                .into_iter()
                .map(|k| (k.as_str(), c.events[i].count(k)))
                .filter(|(_, n)| *n > 0)
                .collect();
            if !counts.is_empty() {
                tcp_analysis.insert(side.as_str(), counts);
            }
            let st = &c.streams[i];
            if st.gaps > 0 || st.overlap_conflicts > 0 {
                reassembly.insert(
                    side.as_str(),
                    StreamJson {
                        gaps: st.gaps,
                        gap_bytes: st.gap_bytes,
                        overlap_conflicts: st.overlap_conflicts,
                    },
                );
            }
            let l = c.loss[i];
            if l.upstream > 0 || l.downstream > 0 || l.reordered > 0 {
                loss.insert(
                    side.as_str(),
                    LossJson {
                        upstream: l.upstream,
                        downstream: l.downstream,
                        reordered: l.reordered,
                    },
                );
            }
        }
        ConnJson {
            id: c.id,
            proto: c.protocol.as_str(),
            client: c.client.to_string(),
            server: c.server.to_string(),
            vlan: c.vlan,
            start: rfc3339(c.start),
            duration_ms: ms(c.duration_ns),
            state: c.state.clone(),
            history: c.history.clone(),
            service: c.service.clone(),
            roles: match c.roles {
                crate::flow::conn::RoleSource::Syn => "syn",
                crate::flow::conn::RoleSource::SynAck => "syn_ack",
                crate::flow::conn::RoleSource::Ports => "ports",
                crate::flow::conn::RoleSource::FirstPacket => "first_packet",
            },
            client_packets: c.client_stats.packets,
            server_packets: c.server_stats.packets,
            client_bytes: c.client_stats.bytes,
            server_bytes: c.server_stats.bytes,
            client_payload: c.client_stats.payload_bytes,
            server_payload: c.server_stats.payload_bytes,
            client_sent: c.zeek_bytes[0],
            server_sent: c.zeek_bytes[1],
            client_ip_bytes: c.client_stats.ip_bytes,
            server_ip_bytes: c.server_stats.ip_bytes,
            frames: [c.first_frame, c.last_frame],
            handshake: c.handshake.map(|h| HandshakeJson {
                syn_to_syn_ack_ms: ms(h.syn_to_syn_ack_ns),
                syn_ack_to_ack_ms: h.syn_ack_to_ack_ns.map(ms),
                connect_ms: ms(h.connect_ns),
                syn_acks: h.syn_acks,
            }),
            rtt: c.path_rtt().map(|path| PathRttJson {
                path_median_ms: ms(path),
                client_data: rtt_json(c.rtt[0]),
                server_data: rtt_json(c.rtt[1]),
            }),
            tcp_analysis,
            loss,
            reassembly,
            syn_count: c.syn.as_ref().map(|s| s.count),
            end: end_json(c.ended),
        }
    }
}

fn end_json(e: EndReason) -> EndJson {
    let plain = |how| EndJson {
        how,
        by: None,
        idle_before_ms: None,
        frame: None,
    };
    match e {
        EndReason::Fin { first } => EndJson {
            by: Some(first.as_str()),
            ..plain("fin")
        },
        EndReason::HalfClosed { by } => EndJson {
            by: Some(by.as_str()),
            ..plain("half_closed")
        },
        EndReason::Reset {
            by,
            frame,
            idle_before_ns,
        } => EndJson {
            how: "reset",
            by: Some(by.as_str()),
            idle_before_ms: Some(ms(idle_before_ns)),
            frame: Some(frame),
        },
        EndReason::Timeout => plain("timeout"),
        EndReason::OpenAtEnd => plain("open"),
        EndReason::Evicted => plain("evicted"),
    }
}

/// A short human phrase for how a connection ended.
pub fn end_phrase(e: EndReason) -> String {
    match e {
        EndReason::Fin { first } => format!("FIN ({} first)", first.as_str()),
        EndReason::HalfClosed { by } => format!("FIN from {} only", by.as_str()),
        EndReason::Reset { by, .. } => format!("RST by {}", by.as_str()),
        EndReason::Timeout => "idle time-out".into(),
        EndReason::OpenAtEnd => "open at end".into(),
        EndReason::Evicted => "evicted".into(),
    }
}
