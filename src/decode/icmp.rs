//! ICMP and ICMPv6: the message view ([`IcmpMessage`]), what it means ([`IcmpKind`]),
//! and the packet an error message quotes ([`QuotedPacket`]).
//!
//! Parsed by hand: the 8-byte ICMP header, and the quoted IP header plus the first
//! 8 bytes of its transport header. RFC 792 only guarantees those 8 bytes, so the quoted
//! ports and TCP sequence number are read without requiring a full TCP header (which a
//! general-purpose parser would insist on). Later stages match ICMP errors to flows
//! through [`QuotedPacket`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{DecodeProblem, IpPayload, SeqNum};

/// Byte offsets of the ICMP header fields.
mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    /// The 4 type-specific bytes after type, code and checksum.
    pub const REST: usize = 4;
    /// Header length (type, code, checksum, rest of header).
    pub const LEN: usize = 8;
}

/// An ICMP (v4) or ICMPv6 message: the 8-byte header plus what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpMessage<'a> {
    version: u8,
    header: &'a [u8],
    payload: &'a [u8],
}

/// What an ICMP message means. Open: unknown types keep their numbers in `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// Echo request (ping).
    EchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
    },
    /// Destination unreachable; the meaning of `code` depends on `version`.
    DestUnreachable {
        /// 4 for ICMP, 6 for ICMPv6.
        version: u8,
        /// The unreachable code (v4: 0..15, v6: 0..7 are named).
        code: u8,
    },
    /// Time (TTL / hop limit, or reassembly) exceeded.
    TimeExceeded {
        /// 0 in transit, 1 during fragment reassembly.
        code: u8,
    },
    /// ICMPv6 packet too big, with the next-hop MTU.
    PacketTooBig {
        /// MTU of the next hop.
        mtu: u32,
    },
    /// Parameter problem.
    ParameterProblem {
        /// Problem code.
        code: u8,
        /// Offset of the offending byte in the quoted packet.
        pointer: u32,
    },
    /// Redirect (ICMP type 5, ICMPv6 type 137).
    Redirect,
    /// ICMPv6 router solicitation.
    RouterSolicit,
    /// ICMPv6 router advertisement.
    RouterAdvert,
    /// ICMPv6 neighbor solicitation.
    NeighborSolicit,
    /// ICMPv6 neighbor advertisement.
    NeighborAdvert,
    /// Any other type.
    Other {
        /// The type number.
        icmp_type: u8,
        /// The code.
        code: u8,
    },
}

impl IcmpKind {
    /// True for a port unreachable error (v4 code 3, v6 code 4): nothing listens there.
    pub fn is_port_unreachable(&self) -> bool {
        matches!(
            self,
            IcmpKind::DestUnreachable {
                version: 4,
                code: 3
            } | IcmpKind::DestUnreachable {
                version: 6,
                code: 4
            }
        )
    }
}

fn unreachable_v4(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "network unreachable",
        1 => "host unreachable",
        2 => "protocol unreachable",
        3 => "port unreachable",
        4 => "fragmentation needed",
        5 => "source route failed",
        6 => "destination network unknown",
        7 => "destination host unknown",
        8 => "source host isolated",
        9 => "network administratively prohibited",
        10 => "host administratively prohibited",
        11 => "network unreachable for tos",
        12 => "host unreachable for tos",
        13 => "communication administratively prohibited",
        14 => "host precedence violation",
        15 => "precedence cutoff in effect",
        _ => return None,
    })
}

fn unreachable_v6(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "no route to destination",
        1 => "communication administratively prohibited",
        2 => "beyond scope of source address",
        3 => "address unreachable",
        4 => "port unreachable",
        5 => "source address failed ingress/egress policy",
        6 => "reject route to destination",
        7 => "error in source routing header",
        _ => return None,
    })
}

impl fmt::Display for IcmpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IcmpKind::EchoRequest { id, seq } => write!(f, "echo request id {id} seq {seq}"),
            IcmpKind::EchoReply { id, seq } => write!(f, "echo reply id {id} seq {seq}"),
            IcmpKind::DestUnreachable { version, code } => {
                let name = if version == 6 {
                    unreachable_v6(code)
                } else {
                    unreachable_v4(code)
                };
                match name {
                    Some(name) => f.write_str(name),
                    None => write!(f, "destination unreachable (code {code})"),
                }
            }
            IcmpKind::TimeExceeded { code: 0 } => f.write_str("time exceeded in transit"),
            IcmpKind::TimeExceeded { code: 1 } => f.write_str("fragment reassembly time exceeded"),
            IcmpKind::TimeExceeded { code } => write!(f, "time exceeded (code {code})"),
            IcmpKind::PacketTooBig { mtu } => write!(f, "packet too big (mtu {mtu})"),
            IcmpKind::ParameterProblem { code, pointer } => {
                write!(f, "parameter problem (code {code}, pointer {pointer})")
            }
            IcmpKind::Redirect => f.write_str("redirect"),
            IcmpKind::RouterSolicit => f.write_str("router solicitation"),
            IcmpKind::RouterAdvert => f.write_str("router advertisement"),
            IcmpKind::NeighborSolicit => f.write_str("neighbor solicitation"),
            IcmpKind::NeighborAdvert => f.write_str("neighbor advertisement"),
            IcmpKind::Other { icmp_type, code } => write!(f, "icmp type {icmp_type} code {code}"),
        }
    }
}

/// The IP header and transport ports quoted inside an ICMP error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedPacket {
    /// Source of the packet that caused the error (normally us).
    pub src: IpAddr,
    /// Destination of the packet that caused the error.
    pub dst: IpAddr,
    /// Transport protocol of the quoted packet (after IPv6 extension headers).
    pub protocol: u8,
    /// Quoted TCP/UDP source port, when at least 4 transport bytes were quoted.
    pub src_port: Option<u16>,
    /// Quoted TCP/UDP destination port, when at least 4 transport bytes were quoted.
    pub dst_port: Option<u16>,
    /// Quoted TCP sequence number, when at least 8 TCP bytes were quoted.
    pub tcp_seq: Option<SeqNum>,
    /// The first two bytes of a quoted UDP datagram's payload (a DNS message
    /// id, for DNS), when the error quoted that far (most do: RFC 1812 asks
    /// routers to quote as much as fits).
    pub udp_payload_head: Option<u16>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}

impl<'a> IcmpMessage<'a> {
    /// 4 for ICMP, 6 for ICMPv6.
    pub fn version(&self) -> u8 {
        self.version
    }
    /// The type number.
    pub fn icmp_type(&self) -> u8 {
        self.header.get(field::TYPE).copied().unwrap_or(0)
    }
    /// The code number.
    pub fn code(&self) -> u8 {
        self.header.get(field::CODE).copied().unwrap_or(0)
    }
    /// The 4 type-specific header bytes (echo id/seq, MTU, pointer ...), big-endian.
    pub fn rest_of_header(&self) -> u32 {
        be32(self.header, field::REST).unwrap_or(0)
    }
    /// The bytes after the 8-byte header (the quoted packet, for errors).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// What the message means.
    pub fn kind(&self) -> IcmpKind {
        let (t, code) = (self.icmp_type(), self.code());
        let rest = self.rest_of_header();
        let (id, seq) = ((rest >> 16) as u16, rest as u16);
        match (self.version, t) {
            (4, 8) | (6, 128) => IcmpKind::EchoRequest { id, seq },
            (4, 0) | (6, 129) => IcmpKind::EchoReply { id, seq },
            (4, 3) | (6, 1) => IcmpKind::DestUnreachable {
                version: self.version,
                code,
            },
            (4, 11) | (6, 3) => IcmpKind::TimeExceeded { code },
            (6, 2) => IcmpKind::PacketTooBig { mtu: rest },
            (4, 12) => IcmpKind::ParameterProblem {
                code,
                pointer: rest >> 24,
            },
            (6, 4) => IcmpKind::ParameterProblem {
                code,
                pointer: rest,
            },
            (4, 5) | (6, 137) => IcmpKind::Redirect,
            (6, 133) => IcmpKind::RouterSolicit,
            (6, 134) => IcmpKind::RouterAdvert,
            (6, 135) => IcmpKind::NeighborSolicit,
            (6, 136) => IcmpKind::NeighborAdvert,
            _ => IcmpKind::Other { icmp_type: t, code },
        }
    }

    /// True for the error types that quote the offending packet.
    pub fn is_error(&self) -> bool {
        matches!(
            (self.version, self.icmp_type()),
            (4, 3 | 4 | 5 | 11 | 12) | (6, 1..=4)
        )
    }

    /// The quoted packet of an error message, when its IP header was quoted in full.
    pub fn quoted(&self) -> Option<QuotedPacket> {
        if !self.is_error() {
            return None;
        }
        parse_quoted(self.payload)
    }
}

/// Parses a quoted IP header and the first transport bytes after it.
fn parse_quoted(q: &[u8]) -> Option<QuotedPacket> {
    let first = *q.first()?;
    let (src, dst, protocol, transport, first_fragment) = match first >> 4 {
        4 => {
            let ihl = usize::from(first & 0x0f) * 4;
            if ihl < 20 {
                return None;
            }
            let h = q.get(..ihl)?;
            let src: [u8; 4] = h.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = h.get(16..20)?.try_into().ok()?;
            let frag_offset = be16(h, 6)? & 0x1fff;
            (
                IpAddr::V4(Ipv4Addr::from(src)),
                IpAddr::V4(Ipv4Addr::from(dst)),
                *h.get(9)?,
                q.get(ihl..)?,
                frag_offset == 0,
            )
        }
        6 => {
            let h = q.get(..40)?;
            let src: [u8; 16] = h.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = h.get(24..40)?.try_into().ok()?;
            let (protocol, transport, first_fragment) = skip_v6_exts(*h.get(6)?, q.get(40..)?);
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                protocol,
                transport,
                first_fragment,
            )
        }
        _ => return None,
    };
    let has_ports = first_fragment && matches!(protocol, 6 | 17 | 132 | 136);
    let port = |at| if has_ports { be16(transport, at) } else { None };
    let (src_port, dst_port) = match (port(0), port(2)) {
        (Some(s), Some(d)) => (Some(s), Some(d)),
        _ => (None, None),
    };
    let tcp_seq = if has_ports && protocol == 6 {
        be32(transport, 4).map(SeqNum)
    } else {
        None
    };
    let udp_payload_head = if has_ports && protocol == 17 {
        be16(transport, 8)
    } else {
        None
    };
    Some(QuotedPacket {
        src,
        dst,
        protocol,
        src_port,
        dst_port,
        tcp_seq,
        udp_payload_head,
    })
}

/// Walks quoted IPv6 extension headers (bounded), returning the transport protocol,
/// the bytes after the headers, and whether this is a first (or no) fragment.
fn skip_v6_exts(mut next: u8, mut rest: &[u8]) -> (u8, &[u8], bool) {
    let mut first_fragment = true;
    for _ in 0..8 {
        let len = match next {
            0 | 43 | 60 => rest.get(1).map(|l| (usize::from(*l) + 1) * 8),
            44 => {
                first_fragment = be16(rest, 2).is_some_and(|o| o >> 3 == 0);
                Some(8)
            }
            51 => rest.get(1).map(|l| (usize::from(*l) + 2) * 4),
            _ => return (next, rest, first_fragment),
        };
        match (len, rest.first()) {
            (Some(len), Some(&n)) if rest.len() >= len => {
                next = n;
                rest = rest.get(len..).unwrap_or_default();
            }
            _ => return (next, &[], false),
        }
    }
    (next, &[], false)
}

/// Parses the ICMP header at the start of an IP payload.
pub(crate) fn parse<'a>(ip: &IpPayload<'a>, version: u8) -> Result<IcmpMessage<'a>, DecodeProblem> {
    let name = if version == 6 {
        "icmpv6 header"
    } else {
        "icmp header"
    };
    let (Some(header), Some(payload)) = (ip.bytes.get(..field::LEN), ip.bytes.get(field::LEN..))
    else {
        return Err(ip.short(name, field::LEN));
    };
    Ok(IcmpMessage {
        version,
        header,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ProblemKind;

    fn msg(version: u8, bytes: &[u8]) -> IcmpMessage<'_> {
        let ip = IpPayload {
            bytes,
            wire_len: bytes.len() as u32,
            len_from_header: true,
        };
        parse(&ip, version).expect("valid icmp")
    }

    /// An IPv4 header (20 bytes) from 10.0.0.1 to 10.0.0.2 with the given protocol.
    fn v4_header(protocol: u8) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 48, 0, 1, 0, 0, 64, protocol, 0, 0];
        h.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        h
    }

    #[test]
    fn echo_fields_and_names() {
        let m = msg(4, &[8, 0, 0xff, 0xff, 0x12, 0x34, 0x00, 0x07, b'x']);
        assert_eq!(m.version(), 4);
        assert_eq!(m.icmp_type(), 8);
        assert_eq!(m.code(), 0);
        assert_eq!(m.kind(), IcmpKind::EchoRequest { id: 0x1234, seq: 7 });
        assert_eq!(m.payload(), b"x");
        assert_eq!(m.quoted(), None);
        assert_eq!(m.kind().to_string(), "echo request id 4660 seq 7");
        let m = msg(6, &[129, 0, 0, 0, 0, 1, 0, 2]);
        assert_eq!(m.kind(), IcmpKind::EchoReply { id: 1, seq: 2 });
        assert_eq!(m.kind().to_string(), "echo reply id 1 seq 2");
    }

    #[test]
    fn kinds_and_display() {
        let k = |v: u8, t: u8, c: u8| msg(v, &[t, c, 0, 0, 0, 0, 0x05, 0xdc]).kind();
        assert_eq!(k(4, 3, 3).to_string(), "port unreachable");
        assert!(k(4, 3, 3).is_port_unreachable());
        assert_eq!(k(4, 3, 1).to_string(), "host unreachable");
        assert_eq!(
            k(4, 3, 13).to_string(),
            "communication administratively prohibited"
        );
        assert_eq!(k(4, 3, 16).to_string(), "destination unreachable (code 16)");
        assert_eq!(k(6, 1, 4).to_string(), "port unreachable");
        assert!(k(6, 1, 4).is_port_unreachable());
        assert!(!k(6, 1, 3).is_port_unreachable());
        assert_eq!(k(6, 1, 0).to_string(), "no route to destination");
        assert_eq!(k(6, 1, 3).to_string(), "address unreachable");
        assert_eq!(k(6, 1, 8).to_string(), "destination unreachable (code 8)");
        for code in 0..16 {
            assert!(!k(4, 3, code).to_string().contains("code"));
        }
        for code in 0..8 {
            assert!(!k(6, 1, code).to_string().contains("code"));
        }
        assert_eq!(k(4, 11, 0).to_string(), "time exceeded in transit");
        assert_eq!(k(6, 3, 1).to_string(), "fragment reassembly time exceeded");
        assert_eq!(k(6, 2, 0), IcmpKind::PacketTooBig { mtu: 1500 });
        assert_eq!(k(6, 2, 0).to_string(), "packet too big (mtu 1500)");
        assert_eq!(
            k(4, 12, 0),
            IcmpKind::ParameterProblem {
                code: 0,
                pointer: 0
            }
        );
        assert_eq!(
            k(6, 4, 1),
            IcmpKind::ParameterProblem {
                code: 1,
                pointer: 1500
            }
        );
        assert_eq!(k(4, 5, 1), IcmpKind::Redirect);
        assert_eq!(k(6, 137, 0), IcmpKind::Redirect);
        assert_eq!(k(6, 133, 0), IcmpKind::RouterSolicit);
        assert_eq!(k(6, 134, 0), IcmpKind::RouterAdvert);
        assert_eq!(k(6, 135, 0), IcmpKind::NeighborSolicit);
        assert_eq!(k(6, 136, 0).to_string(), "neighbor advertisement");
        assert_eq!(
            k(4, 13, 0),
            IcmpKind::Other {
                icmp_type: 13,
                code: 0
            }
        );
        assert_eq!(k(4, 13, 0).to_string(), "icmp type 13 code 0");
        // ICMPv6 numbers mean nothing in ICMPv4.
        assert_eq!(
            k(4, 128, 0),
            IcmpKind::Other {
                icmp_type: 128,
                code: 0
            }
        );
    }

    #[test]
    fn quoted_udp_and_short_tcp() {
        let mut m = vec![3, 3, 0, 0, 0, 0, 0, 0];
        m.extend(v4_header(17));
        m.extend_from_slice(&[0xc0, 0x00, 0x00, 0x35, 0x00, 0x10, 0, 0]);
        let q = msg(4, &m).quoted().expect("quoted");
        assert_eq!(q.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(q.dst, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(q.protocol, 17);
        assert_eq!((q.src_port, q.dst_port), (Some(0xc000), Some(53)));
        assert_eq!(q.tcp_seq, None);
        assert_eq!(q.udp_payload_head, None, "only the UDP header was quoted");
        m.extend_from_slice(&[0xab, 0xcd, 0x01]);
        let q = msg(4, &m).quoted().expect("quoted");
        assert_eq!(
            q.udp_payload_head,
            Some(0xabcd),
            "the DNS id of a quoted query"
        );

        let mut m = vec![11, 0, 0, 0, 0, 0, 0, 0];
        m.extend(v4_header(6));
        m.extend_from_slice(&[0x9c, 0x40, 0x01, 0xbb, 0xde, 0xad, 0xbe, 0xef]);
        let q = msg(4, &m).quoted().expect("quoted");
        assert_eq!((q.src_port, q.dst_port), (Some(40000), Some(443)));
        assert_eq!(q.tcp_seq, Some(SeqNum(0xdead_beef)));

        // Only 4 transport bytes: ports but no sequence number; 2 bytes: neither.
        let q = msg(4, &m[..m.len() - 4]).quoted().expect("quoted");
        assert_eq!((q.src_port, q.tcp_seq), (Some(40000), None));
        let q = msg(4, &m[..m.len() - 6]).quoted().expect("quoted");
        assert_eq!((q.src_port, q.dst_port), (None, None));
        // IP header cut: nothing to report.
        assert_eq!(msg(4, &m[..8 + 19]).quoted(), None);
    }

    #[test]
    fn quoted_v6_with_extension_and_fragment() {
        let mut m = vec![1, 4, 0, 0, 0, 0, 0, 0];
        let mut h = vec![0x60, 0, 0, 0, 0, 24, 60, 64];
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8].repeat(4));
        h.extend_from_slice(&[0xfe, 0x80, 0, 0].repeat(4));
        m.extend(&h);
        m.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // destination options, next TCP
        m.extend_from_slice(&[0x00, 0x50, 0x1f, 0x90, 0, 0, 0, 9]);
        let q = msg(6, &m).quoted().expect("quoted");
        assert_eq!(q.protocol, 6);
        assert_eq!(
            (q.src_port, q.dst_port, q.tcp_seq),
            (Some(80), Some(8080), Some(SeqNum(9)))
        );
        assert!(matches!(q.src, IpAddr::V6(_)));

        // Quoted non-first fragment: no ports.
        let mut m = vec![3, 0, 0, 0, 0, 0, 0, 0];
        h[6] = 44;
        m.extend(&h);
        m.extend_from_slice(&[17, 0, 0x00, 0x10, 0, 0, 0, 1]);
        m.extend_from_slice(&[0, 53, 0, 53, 0, 8, 0, 0]);
        let q = msg(6, &m).quoted().expect("quoted");
        assert_eq!((q.protocol, q.src_port), (17, None));
        // Bad quoted version.
        let mut m = vec![3, 0, 0, 0, 0, 0, 0, 0, 0x50];
        m.extend([0; 40]);
        assert_eq!(msg(6, &m).quoted(), None);
    }

    #[test]
    fn short_header() {
        let ip = IpPayload {
            bytes: &[3, 3, 0, 0],
            wire_len: 36,
            len_from_header: false,
        };
        let p = parse(&ip, 4).expect_err("short");
        assert_eq!(p.kind, ProblemKind::Truncated);
        assert_eq!(p.detail, "icmp header needs 8 bytes, 4 captured");
    }
}
