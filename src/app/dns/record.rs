//! The records the tracker emits ([`DnsRecord`] and its parts, part of the
//! JSON contract) and the probe's parsed [`Response`].

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::wire;
use crate::base::Timestamp;

/// Which protocol of the DNS family an exchange speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsProtocol {
    /// Unicast DNS (RFC 1035), on port 53 or any other port.
    #[default]
    Dns,
    /// Multicast DNS (RFC 6762): port 5353 with a multicast address, or 5353
    /// on both ends. A unicast resolver on port 5353 (a local dnsmasq) is `Dns`.
    Mdns,
    /// Link-Local Multicast Name Resolution (RFC 4795): port 5355.
    Llmnr,
}

impl DnsProtocol {
    /// The protocol of an exchange between `client` and `server`.
    pub fn of(client: SocketAddr, server: SocketAddr) -> DnsProtocol {
        let ports = (client.port(), server.port());
        if ports.0 == 5355 || ports.1 == 5355 {
            DnsProtocol::Llmnr
        } else if (ports.0 == 5353 || ports.1 == 5353)
            && (ports == (5353, 5353) || client.ip().is_multicast() || server.ip().is_multicast())
        {
            DnsProtocol::Mdns
        } else {
            DnsProtocol::Dns
        }
    }
}

/// The transport a DNS exchange used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// DNS over UDP.
    Udp,
    /// DNS over TCP (length-prefixed messages).
    Tcp,
}

/// One resource record of an answer section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DnsAnswer {
    /// An A, AAAA or CNAME record in full.
    Record {
        /// Owner name (presentation format).
        name: String,
        /// `A`, `AAAA` or `CNAME`.
        #[serde(rename = "type")]
        rtype: String,
        /// Time to live in seconds.
        ttl: u32,
        /// The address, or the canonical name.
        data: String,
    },
    /// Records of another type, counted.
    Summary {
        /// The type's mnemonic (`MX`, `TYPE65534`).
        #[serde(rename = "type")]
        rtype: String,
        /// How many.
        count: u32,
    },
}

impl DnsAnswer {
    pub(super) fn is_record(&self) -> bool {
        matches!(self, DnsAnswer::Record { .. })
    }
}

/// One DNS transaction: a question, its attempts, and its outcome. Field names
/// are part of the JSON contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DnsRecord {
    /// Connection id of the answered exchange (of the first query when unanswered).
    pub conn: u64,
    /// The DNS client (the query's sender) of that exchange.
    pub client: SocketAddr,
    /// The DNS server of that exchange (the one that answered, if any).
    pub server: SocketAddr,
    /// Transport of that exchange.
    pub transport: Transport,
    /// `dns`, `mdns` or `llmnr` (see [`DnsProtocol`]).
    pub protocol: DnsProtocol,
    /// Message id of the first query.
    pub id: u16,
    /// Queried name, presentation format (non-printable bytes as `\DDD`).
    pub qname: String,
    /// Query type mnemonic: `A`, `AAAA`, `HTTPS`, or `TYPEn` for unknown types.
    pub qtype: String,
    /// Frame of the first query.
    pub query_frame: u64,
    /// Time of the first query.
    #[serde(serialize_with = "ser_ts")]
    pub query_time: Timestamp,
    /// How many times the question was asked again before an answer.
    pub retries: u32,
    /// Frames of the retries (at most 32).
    pub retry_frames: Vec<u64>,
    /// Every server asked, in order (at most 16).
    pub servers_tried: Vec<SocketAddr>,
    /// Frame of the answer.
    pub response_frame: Option<u64>,
    /// Time of the answer.
    #[serde(serialize_with = "ser_opt_ts")]
    pub response_time: Option<Timestamp>,
    /// From the first query to the answer, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Response code mnemonic (`NOERROR`, `NXDOMAIN`, `RCODE12`); `null` when unanswered.
    pub rcode: Option<String>,
    /// The answer section: A, AAAA, CNAME in full, other types counted.
    pub answers: Vec<DnsAnswer>,
    /// The answer had the TC (truncated) bit.
    pub truncated: bool,
    /// A truncated UDP answer was followed by a TCP query for the same question.
    pub tcp_retry: bool,
    /// No answer within the time-out.
    pub timed_out: bool,
    /// No answer, but the capture ended before the time-out.
    pub unanswered_at_end: bool,
    /// ICMP destination-unreachable errors for the queries, before any answer.
    pub unreachable: Option<DnsUnreachable>,
}

/// ICMP errors that said a lookup's server could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsUnreachable {
    /// Who sent the first one (the server's host, or a router on the way).
    pub from: IpAddr,
    /// What the first one said, e.g. `port unreachable`.
    pub description: String,
    /// Frames of the ICMP errors (at most 32).
    pub frames: Vec<u64>,
    /// How many there were.
    pub count: u32,
}

/// Who asked what, where and when: the start of a [`DnsRecord`].
#[derive(Debug, Clone)]
pub struct Asked {
    /// Connection id.
    pub conn: u64,
    /// The query's sender.
    pub client: SocketAddr,
    /// Where it went.
    pub server: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Message id.
    pub id: u16,
    /// Queried name (presentation format).
    pub qname: String,
    /// Query type mnemonic.
    pub qtype: String,
    /// Frame of the query (0 when not from a capture).
    pub frame: u64,
    /// When it was sent.
    pub time: Timestamp,
}

impl DnsRecord {
    /// A record for a query not answered yet, with `servers_tried` so far.
    pub fn asked(a: Asked, servers_tried: Vec<SocketAddr>) -> DnsRecord {
        DnsRecord {
            conn: a.conn,
            client: a.client,
            server: a.server,
            transport: a.transport,
            protocol: DnsProtocol::of(a.client, a.server),
            id: a.id,
            qname: a.qname,
            qtype: a.qtype,
            query_frame: a.frame,
            query_time: a.time,
            retries: 0,
            retry_frames: Vec::new(),
            servers_tried,
            response_frame: None,
            response_time: None,
            latency_ms: None,
            rcode: None,
            answers: Vec::new(),
            truncated: false,
            tcp_retry: false,
            timed_out: false,
            unanswered_at_end: false,
            unreachable: None,
        }
    }

    /// The addresses of the A and AAAA answers: later connections to one of them
    /// are linked to this lookup.
    pub fn addresses(&self) -> Vec<IpAddr> {
        wire::addresses(&self.answers)
    }

    /// Latency in nanoseconds (first query to answer), when answered.
    pub fn latency_ns(&self) -> Option<i64> {
        self.response_time.map(|t| t.since(self.query_time))
    }
}

fn ser_ts<S: serde::Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::base::rfc3339(*ts))
}

fn ser_opt_ts<S: serde::Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(t) => ser_ts(t, s),
        None => s.serialize_none(),
    }
}

/// The facts of one DNS response, for a client that made the query itself (the
/// probe): the same parser and answer records as the passive tracker.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Message id.
    pub id: u16,
    /// The TC (truncated) bit.
    pub truncated: bool,
    /// Response code mnemonic (`NOERROR`, `NXDOMAIN` ...).
    pub rcode: String,
    /// The question's name (presentation format, lower-cased), if present.
    pub qname: Option<String>,
    /// The question's type code, if present.
    pub qtype: Option<u16>,
    /// The answer section: A, AAAA, CNAME in full, others counted.
    pub answers: Vec<DnsAnswer>,
}

impl Response {
    /// Parses a response message; `None` for a query or an unusable message.
    pub fn parse(bytes: &[u8]) -> Option<Response> {
        let msg = wire::parse(bytes).ok()?;
        if !msg.qr {
            return None;
        }
        Some(Response {
            id: msg.id,
            truncated: msg.tc,
            rcode: wire::rcode_name(msg.rcode),
            qname: msg.key.as_ref().map(|k| k.name.clone()),
            qtype: msg.key.as_ref().map(|k| k.qtype),
            answers: msg.answers,
        })
    }

    /// The A and AAAA addresses of the answer, in answer order.
    pub fn addresses(&self) -> Vec<IpAddr> {
        wire::addresses(&self.answers)
    }
}
