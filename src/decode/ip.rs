//! IPv4 and IPv6: the owned [`IpHeader`] record built from etherparse's lax IP slices
//! (which walk IPv4 options, the IPv4 authentication header and IPv6 extension header
//! chains), and the translation of etherparse's stop errors into [`DecodeProblem`]s.
//!
//! Lengths: a header that claims more bytes than were captured is a truncation (the
//! transport is still decoded as far as captured); a length of 0 (TSO on the sender, or
//! an IPv6 jumbogram) is treated as unknown and the captured length is used.

use std::net::IpAddr;

use etherparse::err::{self, ip::LaxHeaderSliceError, packet::SliceError, LenError};
use etherparse::{LaxIpSlice, LaxIpv4Slice, LaxIpv6Slice, LenSource};

use super::{DecodeProblem, IpPayload, Layer, ProblemKind};

/// What the IP header says, as a small owned record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHeader {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// The transport protocol number (after IPv6 extension headers).
    pub protocol: u8,
    /// IPv4 identification field; `None` for IPv6.
    pub ident: Option<u16>,
    /// Fragment details when the packet is a fragment.
    pub fragment: Option<Fragment>,
    /// Payload length per the header (total length minus header and extension headers).
    pub payload_len: u32,
    /// The whole packet's length per the header (IPv6: the fixed header's 40
    /// bytes plus its payload length), as Zeek counts `orig_ip_bytes`.
    pub total_len: u32,
}

impl IpHeader {
    /// The IP version: 4 or 6.
    pub fn version(&self) -> u8 {
        match self.src {
            IpAddr::V4(_) => 4,
            IpAddr::V6(_) => 6,
        }
    }
}

/// Fragmentation details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Offset of this fragment's data, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// Fragment identification.
    pub id: u32,
}

/// The IP layer of a packet: the record, its payload, and any length problem.
pub(crate) struct IpParts<'a> {
    pub header: IpHeader,
    pub payload: IpPayload<'a>,
    /// Truncation or an impossible length field; decoding continues regardless.
    pub problem: Option<DecodeProblem>,
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Builds the IP record from etherparse's lax IP slice.
pub(crate) fn from_lax<'a>(ip: &LaxIpSlice<'a>) -> IpParts<'a> {
    match ip {
        LaxIpSlice::Ipv4(v4) => from_v4(v4),
        LaxIpSlice::Ipv6(v6) => from_v6(v6),
    }
}

/// Builds the IPv4 record.
pub(crate) fn from_v4<'a>(v4: &LaxIpv4Slice<'a>) -> IpParts<'a> {
    let h = v4.header();
    let p = v4.payload();
    let header_len = h.slice().len();
    let ext_len = v4.extensions().auth.map_or(0, |a| a.slice().len());
    let total = usize::from(h.total_len());
    let captured = header_len + ext_len + p.payload.len();
    let offset = u32::from(h.fragments_offset().value()) * 8;
    let fragment = (offset != 0 || h.more_fragments()).then_some(Fragment {
        offset,
        more: h.more_fragments(),
        id: u32::from(h.identification()),
    });
    let mut problem = None;
    let payload_len = if total >= header_len + ext_len {
        total - header_len - ext_len
    } else {
        if total != 0 {
            problem = Some(DecodeProblem::malformed(
                Layer::Ip,
                format!("ipv4 total length {total} is below its header length {header_len}"),
            ));
        }
        p.payload.len()
    };
    if p.incomplete {
        problem = Some(truncated_packet("ipv4", total, captured));
    }
    IpParts {
        header: IpHeader {
            src: IpAddr::V4(h.source_addr()),
            dst: IpAddr::V4(h.destination_addr()),
            ttl: h.ttl(),
            protocol: p.ip_number.0,
            ident: Some(h.identification()),
            fragment,
            payload_len: len_u32(payload_len),
            total_len: len_u32(header_len + ext_len + payload_len),
        },
        payload: IpPayload {
            bytes: p.payload,
            wire_len: len_u32(payload_len),
            len_from_header: p.len_source != LenSource::Slice,
        },
        problem,
    }
}

/// Builds the IPv6 record.
pub(crate) fn from_v6<'a>(v6: &LaxIpv6Slice<'a>) -> IpParts<'a> {
    let h = v6.header();
    let p = v6.payload();
    let exts = v6.extensions();
    let ext_len = exts.slice().len();
    let declared = usize::from(h.payload_length());
    let fragment = exts
        .first_header()
        .and_then(|first| v6_fragment(first.0, exts.slice()));
    let payload_len = match declared.checked_sub(ext_len) {
        Some(n) if declared != 0 => n,
        _ => p.payload.len(),
    };
    let problem = p
        .incomplete
        .then(|| truncated_packet("ipv6", 40 + declared, 40 + ext_len + p.payload.len()));
    IpParts {
        header: IpHeader {
            src: IpAddr::V6(h.source_addr()),
            dst: IpAddr::V6(h.destination_addr()),
            ttl: h.hop_limit(),
            protocol: p.ip_number.0,
            ident: None,
            fragment,
            payload_len: len_u32(payload_len),
            total_len: len_u32(40 + ext_len + payload_len),
        },
        payload: IpPayload {
            bytes: p.payload,
            wire_len: len_u32(payload_len),
            len_from_header: p.len_source != LenSource::Slice,
        },
        problem,
    }
}

/// Finds the fragment header in the parsed part of an IPv6 extension chain.
///
/// Walked by hand on purpose: etherparse 0.21's `Ipv6ExtensionSliceIter` trusts the
/// chain to be complete and reads past the parsed bytes (an out-of-bounds
/// `get_unchecked`) when lax parsing stopped inside the chain.
fn v6_fragment(mut next: u8, mut rest: &[u8]) -> Option<Fragment> {
    loop {
        let len = match next {
            0 | 43 | 60 => (usize::from(*rest.get(1)?) + 1) * 8,
            51 => (usize::from(*rest.get(1)?) + 2) * 4,
            44 => {
                let word = u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]);
                let id = u32::from_be_bytes([
                    *rest.get(4)?,
                    *rest.get(5)?,
                    *rest.get(6)?,
                    *rest.get(7)?,
                ]);
                return Some(Fragment {
                    offset: u32::from(word >> 3) * 8,
                    more: word & 1 == 1,
                    id,
                });
            }
            _ => return None,
        };
        next = *rest.first()?;
        rest = rest.get(len..)?;
    }
}

fn truncated_packet(name: &str, total: usize, captured: usize) -> DecodeProblem {
    DecodeProblem::truncated(
        Layer::Ip,
        format!("{name} packet is {total} bytes, {captured} captured"),
    )
}

/// The problem for an IP header that etherparse could not start on (raw IP links).
pub(crate) fn start_problem(e: &LaxHeaderSliceError) -> DecodeProblem {
    match e {
        LaxHeaderSliceError::Len(l) => {
            let (layer, name) = layer_name(l.layer).unwrap_or((Layer::Ip, "ip header"));
            len_problem(layer, name, l)
        }
        LaxHeaderSliceError::Content(c) => content_problem(c),
    }
}

fn content_problem(c: &err::ip::HeaderError) -> DecodeProblem {
    use err::ip::HeaderError as H;
    let detail = match c {
        H::UnsupportedIpVersion { version_number } => {
            format!("ip version {version_number} is not 4 or 6")
        }
        H::Ipv4HeaderLengthSmallerThanHeader { ihl } => {
            format!("ipv4 header length (ihl) {ihl} is below the minimum of 5")
        }
    };
    DecodeProblem::malformed(Layer::Ip, detail)
}

fn len_problem(layer: Layer, name: &str, l: &LenError) -> DecodeProblem {
    // An empty slice makes etherparse ask for 1 byte; the IP header needs 20.
    let need = if name == "ip header" {
        l.required_len.max(20)
    } else {
        l.required_len
    };
    if l.len_source == LenSource::Slice {
        DecodeProblem::truncated(
            layer,
            format!("{name} needs {need} bytes, {} captured", l.len),
        )
    } else {
        DecodeProblem::malformed(
            layer,
            format!("{name} needs {need} bytes, ip length leaves {}", l.len),
        )
    }
}

/// Translates an IPv6 extension (or IPv4 authentication) header error.
pub(crate) fn ext_problem(
    e: err::ipv6_exts::HeaderSliceError,
    at: err::Layer,
) -> Option<DecodeProblem> {
    let e = match e {
        err::ipv6_exts::HeaderSliceError::Len(l) => SliceError::Len(l),
        err::ipv6_exts::HeaderSliceError::Content(c) => SliceError::Ipv6Exts(c),
    };
    slice_problem(&e, at)
}

/// Translates etherparse's stop error. Transport-layer errors give `None`: the
/// transport is decoded by our own views, which report their own problems.
pub(crate) fn slice_problem(e: &SliceError, at: err::Layer) -> Option<DecodeProblem> {
    let (layer, name) = layer_name(at)?;
    Some(match e {
        SliceError::Len(l) => {
            // For a generic "ip header" stop, the length error's own layer says which.
            let (layer, name) = match at {
                err::Layer::IpHeader => layer_name(l.layer).unwrap_or((layer, name)),
                _ => (layer, name),
            };
            len_problem(layer, name, l)
        }
        SliceError::Ip(c) => content_problem(c),
        SliceError::Ipv6Exts(err::ipv6_exts::HeaderError::HopByHopNotAtStart) => {
            DecodeProblem::malformed(layer, "ipv6 hop-by-hop header is not first".to_string())
        }
        SliceError::Ipv4Exts(_) | SliceError::Ipv6Exts(_) => DecodeProblem::malformed(
            layer,
            "ip authentication header length is below the minimum".to_string(),
        ),
        SliceError::Macsec(_) => {
            DecodeProblem::malformed(layer, "macsec header is invalid".to_string())
        }
        _ => DecodeProblem {
            layer,
            kind: ProblemKind::Malformed,
            detail: format!("{name} is invalid"),
        },
    })
}

/// Our layer and a lowercase name for an etherparse layer; `None` for transport layers.
fn layer_name(at: err::Layer) -> Option<(Layer, &'static str)> {
    use err::Layer as L;
    Some(match at {
        L::VlanHeader => (Layer::Link, "vlan header"),
        L::MacsecHeader | L::MacsecPacket => (Layer::Link, "macsec header"),
        L::Ethernet2Header | L::LinuxSllHeader | L::EtherPayload => (Layer::Link, "link header"),
        L::IpHeader => (Layer::Ip, "ip header"),
        L::Ipv4Header => (Layer::Ip, "ipv4 header"),
        L::Ipv4Packet => (Layer::Ip, "ipv4 packet"),
        L::IpAuthHeader => (Layer::Ip, "ip authentication header"),
        L::Ipv6Header => (Layer::Ip, "ipv6 header"),
        L::Ipv6Packet => (Layer::Ip, "ipv6 packet"),
        L::Ipv6ExtHeader => (Layer::Ip, "ipv6 extension header"),
        L::Ipv6HopByHopHeader => (Layer::Ip, "ipv6 hop-by-hop header"),
        L::Ipv6DestOptionsHeader => (Layer::Ip, "ipv6 destination options header"),
        L::Ipv6RouteHeader => (Layer::Ip, "ipv6 routing header"),
        L::Ipv6FragHeader => (Layer::Ip, "ipv6 fragment header"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::LaxSlicedPacket;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(total: u16, flags_frag: u16, extra: usize) -> Vec<u8> {
        let mut b = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 63, 17, 0, 0];
        b[2..4].copy_from_slice(&total.to_be_bytes());
        b[6..8].copy_from_slice(&flags_frag.to_be_bytes());
        b.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 7]);
        b.extend(std::iter::repeat_n(0xaa, extra));
        b
    }

    fn parts(bytes: &[u8]) -> IpParts<'_> {
        let (s, _) = LaxIpSlice::from_slice(bytes).expect("ip");
        from_lax(&s)
    }

    #[test]
    fn v4_fields() {
        let b = v4(28, 0x4000, 8);
        let p = parts(&b);
        let h = p.header;
        assert_eq!(h.version(), 4);
        assert_eq!(h.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(h.dst, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
        assert_eq!((h.ttl, h.protocol, h.ident), (63, 17, Some(0x1234)));
        assert_eq!(h.fragment, None, "DF alone is not a fragment");
        assert_eq!(h.payload_len, 8);
        assert_eq!(p.payload.bytes.len(), 8);
        assert!(p.payload.len_from_header);
        assert!(p.problem.is_none());
    }

    #[test]
    fn v4_lengths() {
        // Captured less than the total length: truncated, captured bytes kept.
        let b = v4(100, 0, 8);
        let p = parts(&b);
        assert_eq!(p.header.payload_len, 80);
        assert_eq!(p.payload.bytes.len(), 8);
        let prob = p.problem.expect("truncated");
        assert_eq!((prob.layer, prob.kind), (Layer::Ip, ProblemKind::Truncated));
        assert_eq!(prob.detail, "ipv4 packet is 100 bytes, 28 captured");
        // Total length 0 (TSO): unknown, use what was captured, no problem.
        let b = v4(0, 0, 8);
        let p = parts(&b);
        assert_eq!(p.header.payload_len, 8);
        assert!(p.problem.is_none());
        // Total length below the header: malformed.
        let b = v4(12, 0, 8);
        let p = parts(&b);
        assert_eq!(p.problem.expect("bad").kind, ProblemKind::Malformed);
        // Trailing padding is not payload.
        let b = v4(22, 0, 8);
        let p = parts(&b);
        assert_eq!(p.payload.bytes.len(), 2);
    }

    #[test]
    fn v4_fragments() {
        let h = parts(&v4(28, 0x2000, 8)).header;
        assert_eq!(
            h.fragment,
            Some(Fragment {
                offset: 0,
                more: true,
                id: 0x1234
            })
        );
        let h = parts(&v4(28, 185, 8)).header;
        assert_eq!(
            h.fragment,
            Some(Fragment {
                offset: 1480,
                more: false,
                id: 0x1234
            })
        );
    }

    #[test]
    fn v6_fields_and_fragment() {
        let mut b = vec![0x60, 0, 0, 0, 0, 12, 44, 7];
        b.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        b.extend_from_slice(&Ipv6Addr::UNSPECIFIED.octets());
        b.extend_from_slice(&[17, 0, 0x05, 0xc9, 0xde, 0xad, 0xbe, 0xef]);
        b.extend_from_slice(&[1, 2, 3, 4]);
        let p = parts(&b);
        let h = p.header;
        assert_eq!(h.version(), 6);
        assert_eq!(h.src, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!((h.ttl, h.protocol, h.ident), (7, 17, None));
        assert_eq!(h.payload_len, 4);
        assert_eq!(
            h.fragment,
            Some(Fragment {
                offset: 1480,
                more: true,
                id: 0xdead_beef
            })
        );
    }

    #[test]
    fn start_problems() {
        let start = |b: &[u8]| start_problem(&LaxSlicedPacket::from_ip(b).expect_err("bad"));
        let p = start(&[]);
        assert_eq!(p.detail, "ip header needs 20 bytes, 0 captured");
        let p = start(&[0x55, 0]);
        assert_eq!((p.layer, p.kind), (Layer::Ip, ProblemKind::Malformed));
        assert_eq!(p.detail, "ip version 5 is not 4 or 6");
        let p = start(&[0x43; 20]);
        assert_eq!(
            p.detail,
            "ipv4 header length (ihl) 3 is below the minimum of 5"
        );
        let p = start(&[0x46; 20]);
        assert_eq!(p.kind, ProblemKind::Truncated);
        assert_eq!(p.detail, "ipv4 header needs 24 bytes, 20 captured");
    }
}
