//! ICMP and ICMPv6.

/// An ICMP message.
#[derive(Debug, Clone)]
pub struct IcmpMessage<'a> {
    payload: &'a [u8],
}

/// What kind of ICMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// Anything.
    Other,
}

/// The IP/transport header quoted inside an ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedPacket {}
