//! One JSON object per packet (`read --json`, `capture --json`): the same facts as
//! the text line, with stable field names. Absent layers are omitted, not null.
//!
//! ```json
//! {"frame":3,"time":"2026-11-26T14:00:00.000042Z","rel":0.000042,"caplen":66,"len":66,
//!  "link":"ethernet","src":"127.0.0.1","dst":"127.0.0.1","ip_version":4,"ttl":64,
//!  "proto":"tcp","src_port":43210,"dst_port":8080,
//!  "tcp":{"flags":"P.","seq":1001,"ack":2001,"win":512,"len":77}}
//! ```

use std::io::{self, Write};

use serde::Serialize;

use crate::base::{rfc3339, Timestamp};
use crate::decode::{LinkLayer, Packet, ProblemKind, Transport};
use crate::source::Frame;

/// The JSON form of one decoded packet.
#[derive(Debug, Serialize)]
pub struct PacketRecord {
    /// Frame number in the input, 1-based.
    pub frame: u64,
    /// Capture time, RFC 3339 UTC with nanoseconds.
    pub time: String,
    /// Seconds since the first frame of the input.
    pub rel: f64,
    /// Bytes captured.
    pub caplen: usize,
    /// Bytes on the wire.
    pub len: u32,
    /// Link-layer type name.
    pub link: String,
    /// 802.1Q VLAN ids, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vlan: Vec<u16>,
    /// EtherType of a non-IP frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ether_type: Option<u16>,
    /// Source IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Destination IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<String>,
    /// 4 or 6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<u8>,
    /// TTL or hop limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    /// IP fragment details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fragment: Option<FragmentRecord>,
    /// Transport protocol: tcp, udp, icmp, icmp6, fragment, or the IP protocol number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    /// Source port (TCP/UDP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Destination port (TCP/UDP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// TCP details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpRecord>,
    /// UDP payload length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_len: Option<usize>,
    /// ICMP details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpRecord>,
    /// Why decoding stopped early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<ProblemRecord>,
}

/// IP fragment fields.
#[derive(Debug, Serialize)]
pub struct FragmentRecord {
    /// Identification.
    pub id: u32,
    /// Offset in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
}

/// TCP fields.
#[derive(Debug, Serialize)]
pub struct TcpRecord {
    /// Flags in tcpdump letters (`S.`, `P.`, ...).
    pub flags: String,
    /// Sequence number (absolute).
    pub seq: u32,
    /// Acknowledgement number (absolute), when ACK is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<u32>,
    /// Window field as sent (unscaled).
    pub win: u16,
    /// Payload length on the wire.
    pub len: u32,
    /// MSS option.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss: Option<u16>,
    /// Window scale option.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wscale: Option<u8>,
    /// SACK-permitted option.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sack_permitted: bool,
    /// SACK blocks as [left, right] pairs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sack: Vec<[u32; 2]>,
    /// Timestamp option [value, echo reply].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<[u32; 2]>,
}

/// ICMP fields.
#[derive(Debug, Serialize)]
pub struct IcmpRecord {
    /// Type number.
    #[serde(rename = "type")]
    pub icmp_type: u8,
    /// Code number.
    pub code: u8,
    /// Human-readable meaning.
    pub description: String,
    /// The quoted packet of an error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quoted: Option<QuotedRecord>,
}

/// The header quoted inside an ICMP error.
#[derive(Debug, Serialize)]
pub struct QuotedRecord {
    /// Inner source address.
    pub src: String,
    /// Inner destination address.
    pub dst: String,
    /// Inner protocol number.
    pub proto: u8,
    /// Inner source port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Inner destination port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
}

/// Where decoding stopped.
#[derive(Debug, Serialize)]
pub struct ProblemRecord {
    /// link, ip or transport.
    pub layer: &'static str,
    /// truncated or malformed.
    pub kind: &'static str,
    /// Description.
    pub detail: String,
}

impl PacketRecord {
    /// Builds the record for one decoded frame.
    pub fn new(frame: &Frame<'_>, packet: &Packet<'_>, first: Timestamp) -> PacketRecord {
        let ip = packet.ip.as_ref();
        let mut record = PacketRecord {
            frame: frame.number,
            time: rfc3339(frame.ts),
            rel: frame.ts.since(first) as f64 / 1e9,
            caplen: frame.data.len(),
            len: frame.orig_len,
            link: frame.link.name(),
            vlan: packet.vlans.ids().to_vec(),
            ether_type: if ip.is_none() {
                packet.ether_type
            } else {
                None
            },
            src: ip.map(|i| i.src.to_string()),
            dst: ip.map(|i| i.dst.to_string()),
            ip_version: ip.map(|i| i.version()),
            ttl: ip.map(|i| i.ttl),
            fragment: ip.and_then(|i| i.fragment).map(|f| FragmentRecord {
                id: f.id,
                offset: f.offset,
                more: f.more,
            }),
            proto: None,
            src_port: None,
            dst_port: None,
            tcp: None,
            udp_len: None,
            icmp: None,
            problem: packet.problem.as_ref().map(|p| ProblemRecord {
                layer: match p.layer {
                    crate::decode::Layer::Link => "link",
                    crate::decode::Layer::Ip => "ip",
                    crate::decode::Layer::Transport => "transport",
                },
                kind: match p.kind {
                    ProblemKind::Truncated => "truncated",
                    ProblemKind::Malformed => "malformed",
                },
                detail: p.detail.clone(),
            }),
        };
        if let LinkLayer::Unsupported(n) = packet.link {
            record.link = format!("linktype {n}");
        }
        match &packet.transport {
            Transport::Tcp(t) => {
                let o = t.options();
                record.proto = Some("tcp".into());
                record.src_port = Some(t.src_port());
                record.dst_port = Some(t.dst_port());
                record.tcp = Some(TcpRecord {
                    flags: t.flags().to_string(),
                    seq: t.seq().0,
                    ack: t
                        .flags()
                        .contains(crate::decode::TcpFlags::ACK)
                        .then(|| t.ack().0),
                    win: t.window(),
                    len: t.payload_len(),
                    mss: o.mss,
                    wscale: o.window_scale,
                    sack_permitted: o.sack_permitted,
                    sack: o.sack().iter().map(|(l, r)| [l.0, r.0]).collect(),
                    ts: o.timestamps.map(|(v, e)| [v, e]),
                });
            }
            Transport::Udp(u) => {
                record.proto = Some("udp".into());
                record.src_port = Some(u.src_port());
                record.dst_port = Some(u.dst_port());
                record.udp_len = Some(u.payload().len());
            }
            Transport::Icmp(i) => {
                record.proto = Some(if i.version() == 6 { "icmp6" } else { "icmp" }.into());
                record.icmp = Some(IcmpRecord {
                    icmp_type: i.icmp_type(),
                    code: i.code(),
                    description: i.kind().to_string(),
                    quoted: i.quoted().map(|q| QuotedRecord {
                        src: q.src.to_string(),
                        dst: q.dst.to_string(),
                        proto: q.protocol,
                        src_port: q.src_port,
                        dst_port: q.dst_port,
                    }),
                });
            }
            Transport::Fragment => record.proto = Some("fragment".into()),
            Transport::Other(n) => record.proto = Some(n.to_string()),
            Transport::None => {}
        }
        record
    }
}

/// Writes `record` as one line of JSON.
pub fn write_packet_json<W: Write + ?Sized>(out: &mut W, record: &PacketRecord) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}
