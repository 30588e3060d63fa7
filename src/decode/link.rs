//! Link-layer headers.

/// The link-layer header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkLayer {
    /// Ethernet II.
    Ethernet {
        /// Source MAC.
        src: [u8; 6],
        /// Destination MAC.
        dst: [u8; 6],
    },
    /// Linux cooked capture v1.
    LinuxSll {
        /// Packet type (0 to us, 4 outgoing, ...).
        packet_type: u16,
    },
    /// Linux cooked capture v2 (`-i any`).
    LinuxSll2 {
        /// Packet type (0 to us, 4 outgoing, ...).
        packet_type: u8,
        /// Interface index the packet was seen on.
        if_index: u32,
    },
    /// BSD null / OpenBSD loop header with its address family.
    Null {
        /// Address family as found (2 = IPv4; 24, 28 or 30 = IPv6 depending on the OS).
        family: u32,
    },
    /// No link header: raw IP.
    RawIp,
    /// A link type this build does not decode.
    Unsupported(u32),
}

/// Up to two 802.1Q VLAN ids, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vlans {
    ids: [u16; 2],
    len: u8,
}

impl Vlans {
    /// The VLAN ids, outermost first.
    pub fn ids(&self) -> &[u16] {
        &self.ids[..usize::from(self.len.min(2))]
    }
}
