//! The link-layer type of captured frames.

use std::fmt;

/// A link-layer header type, as numbered by the tcpdump.org LINKTYPE_ registry.
///
/// Kept open (a plain number inside) so that unknown link types reach the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP, version taken from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL but the family is big-endian.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture, version 1 (16-byte header).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux "cooked" capture, version 2 (20-byte header), what `-i any` gives.
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// Some platforms' DLT_RAW value (12), which pcap files may carry verbatim.
    pub const RAW_DLT12: LinkType = LinkType(12);
    /// Some platforms' DLT_RAW value (14), which pcap files may carry verbatim.
    pub const RAW_DLT14: LinkType = LinkType(14);

    /// A short lowercase name, as `tcpdump` prints it, or `linktype N`.
    pub fn name(self) -> String {
        let known = match self {
            LinkType::NULL => "null",
            LinkType::ETHERNET => "ethernet",
            LinkType::RAW | LinkType::RAW_DLT12 | LinkType::RAW_DLT14 => "raw",
            LinkType::LOOP => "loop",
            LinkType::LINUX_SLL => "linux_sll",
            LinkType::IPV4 => "ipv4",
            LinkType::IPV6 => "ipv6",
            LinkType::LINUX_SLL2 => "linux_sll2",
            other => return format!("linktype {}", other.0),
        };
        known.to_string()
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
