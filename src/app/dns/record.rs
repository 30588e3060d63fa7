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
    /// NetBIOS Name Service (RFC 1001/1002): UDP port 137.
    Nbns,
}

impl DnsProtocol {
    /// The protocol of an exchange between `client` and `server`.
    pub fn of(client: SocketAddr, server: SocketAddr) -> DnsProtocol {
        // NetBIOS-NS first: its port is its only mark.
        let ports = (client.port(), server.port());
        if ports.0 == 137 || ports.1 == 137 {
            DnsProtocol::Nbns
        } else if ports.0 == 5355 || ports.1 == 5355 {
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

/// One resource record of a response section, rendered as text (see
/// `rdata.rs` for each type's form). In JSON every record is `{name, type,
/// ttl, data}`, plus `rdata` when `data` leaves fields out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DnsAnswer {
    /// A record whose `data` says all it holds: A, AAAA (the address),
    /// CNAME, NS, PTR, DNAME (the name), TXT (`TXT <len> <text>`), CAA,
    /// HTTPS/SVCB, OPT (EDNS summary) ...
    Record {
        /// Owner name (presentation format).
        name: String,
        /// The type's mnemonic (`A`, `MX`, `TYPE65534`).
        #[serde(rename = "type")]
        rtype: String,
        /// Time to live in seconds (for OPT: the raw field, the EDNS bits).
        ttl: u32,
        /// The record as Zeek's dns.log writes it, or its presentation form.
        data: String,
    },
    /// A record whose `data` (Zeek's form: MX and SRV the target name, SOA
    /// the mname, DNSSEC types their algorithm) leaves fields out; `rdata`
    /// has them all.
    Detailed {
        /// Owner name (presentation format).
        name: String,
        /// The type's mnemonic.
        #[serde(rename = "type")]
        rtype: String,
        /// Time to live in seconds.
        ttl: u32,
        /// The record as Zeek's dns.log writes it.
        data: String,
        /// The whole record in presentation format (`10 mail.example.com`
        /// for MX, `0 5 5060 sip.example.com` for SRV).
        rdata: String,
    },
    /// Records past the per-section cap, counted by type.
    Summary {
        /// The type's mnemonic (`MX`, `TYPE65534`).
        #[serde(rename = "type")]
        rtype: String,
        /// How many.
        count: u32,
    },
}

impl DnsAnswer {
    /// The type's mnemonic.
    pub fn rtype(&self) -> &str {
        match self {
            DnsAnswer::Record { rtype, .. }
            | DnsAnswer::Detailed { rtype, .. }
            | DnsAnswer::Summary { rtype, .. } => rtype,
        }
    }

    /// The owner name, for a rendered record.
    pub fn name(&self) -> Option<&str> {
        match self {
            DnsAnswer::Record { name, .. } | DnsAnswer::Detailed { name, .. } => Some(name),
            DnsAnswer::Summary { .. } => None,
        }
    }

    /// The text (Zeek's form), for a rendered record.
    pub fn data(&self) -> Option<&str> {
        match self {
            DnsAnswer::Record { data, .. } | DnsAnswer::Detailed { data, .. } => Some(data),
            DnsAnswer::Summary { .. } => None,
        }
    }

    /// The TTL in seconds, for a rendered record.
    pub fn ttl(&self) -> Option<u32> {
        match self {
            DnsAnswer::Record { ttl, .. } | DnsAnswer::Detailed { ttl, .. } => Some(*ttl),
            DnsAnswer::Summary { .. } => None,
        }
    }
}

/// Bits of the DNS header's flags word (RFC 1035 §4.1.1; AD and CD from
/// RFC 4035 §3.2). The opcode is `(flags >> 11) & 0xf`, the rcode `flags & 0xf`.
pub mod flag {
    /// Query (0) or response (1).
    pub const QR: u16 = 0x8000;
    /// Authoritative answer.
    pub const AA: u16 = 0x0400;
    /// Truncated.
    pub const TC: u16 = 0x0200;
    /// Recursion desired.
    pub const RD: u16 = 0x0100;
    /// Recursion available.
    pub const RA: u16 = 0x0080;
    /// The reserved bit (must be zero).
    pub const Z: u16 = 0x0040;
    /// Authentic data (DNSSEC).
    pub const AD: u16 = 0x0020;
    /// Checking disabled (DNSSEC).
    pub const CD: u16 = 0x0010;
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
    /// Query class mnemonic: `IN`, `CH`, `CLASSn`; for mDNS without the
    /// unicast-response bit (see `unicast_response`).
    pub qclass: String,
    /// mDNS: the question's unicast-response (QU) bit, the top bit of its
    /// class (RFC 6762 §5.4).
    pub unicast_response: bool,
    /// The header's opcode: `QUERY`, `NOTIFY`, `UPDATE`, `OPCODEn`; for
    /// NetBIOS-NS `QUERY`, `REGISTRATION`, `RELEASE`, `WACK`, `REFRESH`.
    pub opcode: String,
    /// NetBIOS-NS: the suffix (16th byte) of the queried name, the kind of
    /// service it names (0x00 workstation, 0x20 file server, 0x1d master
    /// browser ...); `qname` is the 15-byte name without its padding.
    pub netbios_suffix: Option<u8>,
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
    /// The first query's header flags word, four hex digits (`0100`: RD);
    /// `null` when no query was seen (`unsolicited`).
    #[serde(serialize_with = "ser_opt_hex")]
    pub query_flags: Option<u16>,
    /// The answer's header flags word (`8180`: QR RD RA); `null` when unanswered.
    #[serde(serialize_with = "ser_opt_hex")]
    pub response_flags: Option<u16>,
    /// Authoritative answer (the answer's AA bit).
    pub aa: bool,
    /// The TC bit of the answer (of the query when unanswered); the same as
    /// `truncated` once answered.
    pub tc: bool,
    /// Recursion desired: the query's RD bit (the answer's when no query was seen).
    pub rd: bool,
    /// Recursion available (the answer's RA bit).
    pub ra: bool,
    /// The reserved Z bit (0x0040), of the answer (of the query when unanswered).
    pub z: bool,
    /// Authentic data: the DNSSEC AD bit, of the answer (of the query when unanswered).
    pub ad: bool,
    /// Checking disabled: the DNSSEC CD bit, of the answer (of the query when unanswered).
    pub cd: bool,
    /// The answer section, every record rendered (at most 64, the rest
    /// counted by type).
    pub answers: Vec<DnsAnswer>,
    /// The authority section (SOA of a negative answer, NS of a referral),
    /// rendered like `answers` (at most 16).
    pub authorities: Vec<DnsAnswer>,
    /// The additional section, OPT (EDNS) included (at most 16).
    pub additionals: Vec<DnsAnswer>,
    /// mDNS: a record of the answer carried the cache-flush bit, the top bit
    /// of its class (RFC 6762 §10.2).
    pub cache_flush: bool,
    /// A response with no query in the capture: an mDNS announcement, an
    /// answer from a second responder, or to a question not captured
    /// (mDNS, LLMNR, NetBIOS-NS only). Its `query_frame` and `query_time`
    /// are the response's, `latency_ms` is `null`, the question is the
    /// response's own (its first answer when it has none).
    pub unsolicited: bool,
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
            qclass: "IN".to_string(),
            unicast_response: false,
            opcode: "QUERY".to_string(),
            netbios_suffix: None,
            query_frame: a.frame,
            query_time: a.time,
            retries: 0,
            retry_frames: Vec::new(),
            servers_tried,
            response_frame: None,
            response_time: None,
            latency_ms: None,
            rcode: None,
            query_flags: None,
            response_flags: None,
            aa: false,
            tc: false,
            rd: false,
            ra: false,
            z: false,
            ad: false,
            cd: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            cache_flush: false,
            unsolicited: false,
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

    /// Records the first query's header flags and the bits taken from them.
    pub fn set_query_flags(&mut self, flags: u16) {
        self.query_flags = Some(flags);
        self.rd = flags & flag::RD != 0;
        if self.response_flags.is_none() {
            self.set_bits(flags);
        }
    }

    /// Records the answer's header flags: AA, TC, RA, Z, AD and CD come from
    /// it, RD too when no query was seen.
    pub fn set_response_flags(&mut self, flags: u16) {
        self.response_flags = Some(flags);
        self.set_bits(flags);
        if self.query_flags.is_none() {
            self.rd = flags & flag::RD != 0;
        }
    }

    fn set_bits(&mut self, flags: u16) {
        self.aa = flags & flag::AA != 0;
        self.tc = flags & flag::TC != 0;
        self.ra = flags & flag::RA != 0;
        self.z = flags & flag::Z != 0;
        self.ad = flags & flag::AD != 0;
        self.cd = flags & flag::CD != 0;
    }

    /// Latency in nanoseconds (first query to answer), when answered.
    pub fn latency_ns(&self) -> Option<i64> {
        self.response_time.map(|t| t.since(self.query_time))
    }
}

fn ser_ts<S: serde::Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::base::rfc3339(*ts))
}

fn ser_opt_hex<S: serde::Serializer>(v: &Option<u16>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format!("{v:04x}")),
        None => s.serialize_none(),
    }
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
    /// The header's flags word.
    pub flags: u16,
    /// The answer section, rendered as in [`DnsRecord::answers`].
    pub answers: Vec<DnsAnswer>,
}

impl Response {
    /// Parses a response message; `None` for a query or an unusable message.
    pub fn parse(bytes: &[u8]) -> Option<Response> {
        let msg = wire::parse(bytes, false).ok()?;
        if !msg.qr {
            return None;
        }
        Some(Response {
            id: msg.id,
            truncated: msg.tc,
            rcode: wire::rcode_name(msg.rcode),
            qname: msg.key.as_ref().map(|k| k.name.clone()),
            qtype: msg.key.as_ref().map(|k| k.qtype),
            flags: msg.flags,
            answers: msg.answers,
        })
    }

    /// The A and AAAA addresses of the answer, in answer order.
    pub fn addresses(&self) -> Vec<IpAddr> {
        wire::addresses(&self.answers)
    }
}
