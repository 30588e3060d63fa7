//! IPv4 and IPv6 headers.

use std::net::IpAddr;

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
