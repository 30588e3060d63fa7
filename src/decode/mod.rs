//! Decoding frames into typed, zero-copy views: link (Ethernet, 802.1Q/QinQ, Linux
//! SLL/SLL2, BSD null/loop, raw IP), IPv4/IPv6, TCP, UDP, ICMP/ICMPv6.
//!
//! Contract: [`decode`] never panics and never fails. A frame that stops parsing early
//! (truncated by the snap length, or a malformed header) still yields every layer that
//! did parse, and [`Packet::problem`] says where and why it stopped.
//!
//! API sketch (the stable contract the rest of the crate uses):
//! * [`decode`]`(link, bytes) -> Packet<'_>`
//! * [`Packet`] with `link`, `vlans`, `ether_type`, `ip`, `transport`, `problem`
//! * [`Transport`]: `Tcp(TcpSegment)`, `Udp(UdpDatagram)`, `Icmp(IcmpMessage)`, ...
//!
//! Engine: `etherparse` 0.21, lax (zero-copy, keeps what parsed and says where it
//! stopped). Its `LaxIpSlice::from_slice` does the fiddly middle: IPv4 options and
//! authentication headers, IPv6 extension header chains and fragment headers, IP
//! lengths vs captured bytes, bad versions and IHLs. Rarer link extensions (a third
//! VLAN tag, MACsec) go through its full `LaxSlicedPacket::from_ether_type`. We do not
//! run `LaxSlicedPacket` on every frame: its cursor moves a 328-byte struct by value
//! through each layer and slices the transport we slice again, which measured 140 ns
//! per plain TCP frame against 53 ns for this split (see `benches/decode.rs`). Owned
//! `PacketHeaders` are never built (about 1.4 µs each).
//!
//! Hand-parsed here, because etherparse lacks them or is stricter than a passive tool
//! can be:
//! * Ethernet, up to two 802.1Q/802.1ad tags, Linux SLL v1 (etherparse rejects
//!   ARPHRD_LOOPBACK, which `-i any` gives for `lo`), Linux SLL2 (`-i any`), BSD
//!   null/loop (family in the capturing host's byte order): see `link.rs`.
//! * TCP, UDP and ICMP headers (`tcp.rs`, `udp.rs`, `icmp.rs`): etherparse skips the
//!   transport of every fragment, first fragments included, and its errors lack the
//!   "needs N bytes, M captured" context; our views are a few fixed offsets each.
//! * TCP options (`tcp_options.rs`), parsed lazily on request.
//! * The IP header and ports quoted in ICMP errors: RFC 792 guarantees only 8 bytes of
//!   the quoted transport header, so we never require a full TCP header there.
//! * Finding the IPv6 fragment header: etherparse's `Ipv6ExtensionSliceIter` reads out
//!   of bounds when lax parsing stopped inside the chain, so we never call it.
//!
//! Invariants: views borrow the frame; getters cannot panic (their constructors checked
//! the lengths); only [`IpHeader`], [`QuotedPacket`] and the [`DecodeProblem`] are owned.
//! When several layers have problems, the deepest one that stopped decoding wins: a cut
//! TCP header is reported at [`Layer::Transport`] even though the IP packet is also
//! short; an IP packet cut inside the transport payload is reported at [`Layer::Ip`].

mod icmp;
mod ip;
mod link;
#[cfg(test)]
mod proptests;
mod tcp;
mod tcp_options;
#[cfg(test)]
mod tests;
mod udp;

pub use icmp::{IcmpKind, IcmpMessage, QuotedPacket};
pub use ip::{Fragment, IpHeader};
pub use link::{LinkLayer, Vlans};
pub use tcp::{SeqNum, TcpFlags, TcpOptions, TcpSegment};
pub use udp::UdpDatagram;

use std::fmt;

use etherparse::{EtherType, LaxIpSlice, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket};
use link::Entry;

use crate::base::LinkType;

/// A decoded frame: each layer that parsed, plus why decoding stopped if it did.
#[derive(Debug, Clone)]
pub struct Packet<'a> {
    /// The link-layer header found.
    pub link: LinkLayer,
    /// 802.1Q tags, outermost first (QinQ gives two).
    pub vlans: Vlans,
    /// The EtherType (or SLL protocol) that followed the link header, when there was one.
    pub ether_type: Option<u16>,
    /// The IP header, when the frame carried IPv4 or IPv6.
    pub ip: Option<IpHeader>,
    /// The transport layer.
    pub transport: Transport<'a>,
    /// Why decoding stopped before the end of the headers, if it did.
    pub problem: Option<DecodeProblem>,
}

impl Packet<'_> {
    /// A TCP or UDP packet's (source, destination) endpoints.
    pub fn endpoints(&self) -> Option<(std::net::SocketAddr, std::net::SocketAddr)> {
        let ip = self.ip.as_ref()?;
        let (sp, dp) = match &self.transport {
            Transport::Tcp(t) => (t.src_port(), t.dst_port()),
            Transport::Udp(u) => (u.src_port(), u.dst_port()),
            _ => return None,
        };
        Some((
            std::net::SocketAddr::new(ip.src, sp),
            std::net::SocketAddr::new(ip.dst, dp),
        ))
    }
}

/// The transport-layer content of a packet.
#[derive(Debug, Clone)]
pub enum Transport<'a> {
    /// No transport layer reached (non-IP, or decoding stopped).
    None,
    /// TCP segment.
    Tcp(TcpSegment<'a>),
    /// UDP datagram.
    Udp(UdpDatagram<'a>),
    /// ICMP (v4) or ICMPv6 message.
    Icmp(IcmpMessage<'a>),
    /// A non-first IP fragment: the transport header is in an earlier fragment.
    Fragment,
    /// Another IP protocol, by number; its bytes are left undecoded.
    Other(u8),
}

/// The layer at which decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Link-layer header (Ethernet, VLAN, SLL, null).
    Link,
    /// IPv4/IPv6 header or IPv6 extension headers.
    Ip,
    /// TCP, UDP or ICMP header.
    Transport,
}

/// Whether bytes were missing or present but invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The frame ended before the header did (snap length or short frame).
    Truncated,
    /// A header field holds an impossible value (bad version, length below minimum ...).
    Malformed,
}

/// Where and why decoding stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeProblem {
    /// The layer that could not be decoded.
    pub layer: Layer,
    /// Truncated or malformed.
    pub kind: ProblemKind,
    /// A short lowercase description, e.g. "tcp header needs 20 bytes, 12 captured".
    pub detail: String,
}

impl DecodeProblem {
    /// A truncation at `layer`.
    pub fn truncated(layer: Layer, detail: String) -> DecodeProblem {
        DecodeProblem {
            layer,
            kind: ProblemKind::Truncated,
            detail,
        }
    }

    /// An impossible value at `layer`.
    pub fn malformed(layer: Layer, detail: String) -> DecodeProblem {
        DecodeProblem {
            layer,
            kind: ProblemKind::Malformed,
            detail,
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Link => "link",
            Layer::Ip => "ip",
            Layer::Transport => "transport",
        })
    }
}

impl fmt::Display for DecodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ProblemKind::Truncated => "truncated",
            ProblemKind::Malformed => "malformed",
        };
        write!(f, "{kind} {} layer: {}", self.layer, self.detail)
    }
}

/// The bytes after the IP header(s), handed to the transport parsers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpPayload<'a> {
    /// Captured bytes, cut at the IP length when that is known.
    pub bytes: &'a [u8],
    /// Payload length on the wire per the IP header (captured length when unknown).
    pub wire_len: u32,
    /// True when `bytes` ends where the IP length field says the packet ends, so a
    /// header that does not fit is malformed rather than truncated.
    pub len_from_header: bool,
}

impl IpPayload<'_> {
    /// The problem for a transport header of `need` bytes that does not fit.
    pub(crate) fn short(&self, what: &str, need: usize) -> DecodeProblem {
        let got = self.bytes.len();
        if self.len_from_header {
            DecodeProblem::malformed(
                Layer::Transport,
                format!("{what} needs {need} bytes, ip length leaves {got}"),
            )
        } else {
            DecodeProblem::truncated(
                Layer::Transport,
                format!("{what} needs {need} bytes, {got} captured"),
            )
        }
    }

    /// Wire length of what follows a transport header of `header_len` bytes, falling
    /// back to the `captured` length when the IP length is inconsistent with it.
    pub(crate) fn wire_payload_len(&self, header_len: usize, captured: usize) -> u32 {
        let wire = usize::try_from(self.wire_len).unwrap_or(usize::MAX);
        match wire.checked_sub(header_len) {
            Some(n) if n >= captured => u32::try_from(n).unwrap_or(u32::MAX),
            _ => u32::try_from(captured).unwrap_or(u32::MAX),
        }
    }
}

/// Decodes one frame of the given link type. Never panics.
pub fn decode(link: LinkType, data: &[u8]) -> Packet<'_> {
    let start = link::start(link, data);
    let mut packet = Packet {
        link: start.link,
        vlans: Vlans::default(),
        ether_type: start.ether_type,
        ip: None,
        transport: Transport::None,
        problem: start.problem,
    };
    match start.entry {
        Entry::Stop => {}
        Entry::EtherType(ether_type, rest) => ether(&mut packet, ether_type, rest),
        Entry::Ip(rest) => ip_packet(&mut packet, rest),
    }
    packet
}

/// Decodes what follows an EtherType: VLAN tags, then IP.
fn ether<'a>(packet: &mut Packet<'a>, ether_type: u16, rest: &'a [u8]) {
    let (ether_type, rest) = match link::walk_vlans(&mut packet.vlans, ether_type, rest) {
        Ok(inner) => inner,
        Err(problem) => {
            packet.problem = Some(problem);
            return;
        }
    };
    packet.ether_type = Some(ether_type);
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => ip_packet(packet, rest),
        // A third tag, MACsec: etherparse's full slicer knows these.
        t if link::is_vlan(t) || t == ETHERTYPE_MACSEC => {
            let sliced = LaxSlicedPacket::from_ether_type(EtherType(t), rest);
            lax_packet(packet, &sliced);
        }
        _ => {}
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_MACSEC: u16 = 0x88e5;

/// Decodes an IP packet with etherparse's lax IP slicer, then the transport.
fn ip_packet<'a>(packet: &mut Packet<'a>, data: &'a [u8]) {
    match LaxIpSlice::from_slice(data) {
        Ok((sliced, ext_err)) => {
            let stop = ext_err.and_then(|(e, at)| ip::ext_problem(e, at));
            let parts = ip::from_lax(&sliced);
            finish(packet, parts, stop);
        }
        Err(e) => packet.problem = Some(ip::start_problem(&e)),
    }
}

/// Takes what etherparse's full slicer found after the tags we peeled ourselves.
fn lax_packet<'a>(packet: &mut Packet<'a>, sliced: &LaxSlicedPacket<'a>) {
    for ext in &sliced.link_exts {
        if let LaxLinkExtSlice::Vlan(v) = ext {
            packet.vlans.push(v.vlan_identifier().value());
        }
    }
    if let Some(payload) = sliced.ether_payload() {
        packet.ether_type = Some(payload.ether_type.0);
    }
    let stop = sliced
        .stop_err
        .as_ref()
        .and_then(|(e, at)| ip::slice_problem(e, *at));
    match sliced.net.as_ref() {
        Some(LaxNetSlice::Ipv4(v4)) => finish(packet, ip::from_v4(v4), stop),
        Some(LaxNetSlice::Ipv6(v6)) => finish(packet, ip::from_v6(v6), stop),
        _ => packet.problem = stop,
    }
}

/// Records the IP layer and decodes the transport, unless the extension headers failed.
fn finish<'a>(packet: &mut Packet<'a>, ip: ip::IpParts<'a>, stop: Option<DecodeProblem>) {
    packet.ip = Some(ip.header);
    if stop.is_some() {
        // The IP header parsed but its extension headers did not: no transport start.
        packet.problem = stop;
        return;
    }
    let (transport, problem) = transport(&ip.header, &ip.payload);
    packet.transport = transport;
    packet.problem = problem.or(ip.problem);
}

/// Decodes the transport header, unless this is a non-first fragment.
fn transport<'a>(ip: &IpHeader, payload: &IpPayload<'a>) -> (Transport<'a>, Option<DecodeProblem>) {
    if ip.fragment.is_some_and(|f| f.offset != 0) {
        return (Transport::Fragment, None);
    }
    let result = match ip.protocol {
        6 => tcp::parse(payload).map(Transport::Tcp),
        17 => udp::parse(payload).map(Transport::Udp),
        1 => icmp::parse(payload, 4).map(Transport::Icmp),
        58 => icmp::parse(payload, 6).map(Transport::Icmp),
        other => Ok(Transport::Other(other)),
    };
    match result {
        Ok(t) => (t, None),
        Err(p) => (Transport::None, Some(p)),
    }
}
