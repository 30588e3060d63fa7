//! Flow keys: one key for both directions of a conversation.

use std::net::{IpAddr, SocketAddr};

/// Transport protocol of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP or ICMPv6: Zeek's pairing, the ports being the message type and
    /// its counterpart (the reply's type, or the code for one-way messages).
    Icmp,
}

impl Protocol {
    /// `"tcp"`, `"udp"` or `"icmp"` (Zeek's names).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }
}

/// A bidirectional flow key: the two endpoints in a canonical order, so both
/// directions of a conversation map to the same key. VLAN-aware: the same
/// addresses on two VLANs are two flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// Transport protocol.
    pub protocol: Protocol,
    /// The lower endpoint (by address, then port).
    pub low: SocketAddr,
    /// The higher endpoint.
    pub high: SocketAddr,
    /// Outermost VLAN id, if tagged.
    pub vlan: Option<u16>,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst` (the same in both directions).
    pub fn of(
        protocol: Protocol,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        vlan: Option<u16>,
    ) -> FlowKey {
        let s = SocketAddr::new(src.0, src.1);
        let d = SocketAddr::new(dst.0, dst.1);
        let src_is_low = (s.ip(), s.port()) <= (d.ip(), d.port());
        let (low, high) = if src_is_low { (s, d) } else { (d, s) };
        FlowKey {
            protocol,
            low,
            high,
            vlan,
        }
    }
}

/// Hashes the key as a few machine words: the derived hash walks the
/// `SocketAddr` enums field by field, a few percent of `analyze` (every
/// packet looks its flow up). Equal keys hash equally: `FlowKey::of` builds
/// endpoints without flow info or scope, and the fields below are all `Eq` uses.
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        fn endpoint<H: std::hash::Hasher>(a: &SocketAddr, state: &mut H) {
            match a {
                SocketAddr::V4(v4) => {
                    state.write_u64(u64::from(v4.ip().to_bits()) << 16 | u64::from(v4.port()))
                }
                SocketAddr::V6(v6) => {
                    state.write_u128(v6.ip().to_bits());
                    state.write_u64(
                        u64::from(v6.port())
                            | u64::from(v6.flowinfo()) << 16
                            | u64::from(v6.scope_id()) << 48,
                    );
                }
            }
        }
        endpoint(&self.low, state);
        endpoint(&self.high, state);
        let vlan = self.vlan.map_or(0, |v| u32::from(v) + 1);
        state.write_u32(vlan << 8 | self.protocol as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_a_key() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let k1 = FlowKey::of(Protocol::Tcp, (a, 40000), (b, 80), None);
        let k2 = FlowKey::of(Protocol::Tcp, (b, 80), (a, 40000), None);
        assert_eq!(k1, k2);
        let k3 = FlowKey::of(Protocol::Tcp, (a, 40000), (b, 80), Some(7));
        assert_ne!(k1, k3, "another VLAN is another flow");
        let k4 = FlowKey::of(Protocol::Udp, (a, 40000), (b, 80), None);
        assert_ne!(k1, k4);
    }
}
