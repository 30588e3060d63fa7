//! Link layer: Ethernet II (via etherparse, which also walks 802.1Q/QinQ tags), and by
//! hand the headers etherparse lacks or is too strict about: Linux SLL (etherparse
//! rejects ARPHRD_LOOPBACK, which `-i any` gives for `lo`), Linux SLL2, BSD null/loop
//! and raw IP.
//!
//! [`start`] reads the link header and says where decoding continues: at an EtherType
//! (Ethernet, SLL, SLL2) or straight at an IP header (null/loop, raw). [`walk_vlans`]
//! peels up to two 802.1Q/802.1ad tags by hand (4 bytes each); anything stranger (a
//! third tag, MACsec) is left to etherparse's `LaxSlicedPacket::from_ether_type`.

use super::{DecodeProblem, Layer};
use crate::base::LinkType;

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
    /// The VLAN ids given, outermost first; ids beyond the second are dropped.
    pub fn new(ids: &[u16]) -> Vlans {
        let mut v = Vlans::default();
        for &id in ids {
            v.push(id);
        }
        v
    }

    /// Appends an inner tag; returns false (and keeps the ids) when two are held already.
    pub fn push(&mut self, id: u16) -> bool {
        match self.ids.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = id;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The VLAN ids, outermost first.
    pub fn ids(&self) -> &[u16] {
        self.ids.get(..usize::from(self.len)).unwrap_or(&self.ids)
    }
}

/// Byte offsets in the hand-parsed link headers.
mod field {
    /// Ethernet II: destination MAC at 0, source at 6, EtherType at 12, 14 bytes.
    pub const ETH_DST: usize = 0;
    pub const ETH_SRC: usize = 6;
    pub const ETH_TYPE: usize = 12;
    pub const ETH_LEN: usize = 14;
    /// Linux SLL v1: packet type (u16) at 0, protocol (u16) at 14, 16 bytes in all.
    pub const SLL_PACKET_TYPE: usize = 0;
    pub const SLL_PROTOCOL: usize = 14;
    pub const SLL_LEN: usize = 16;
    /// Linux SLL2: protocol at 0, interface index at 4, packet type at 10, 20 bytes.
    pub const SLL2_PROTOCOL: usize = 0;
    pub const SLL2_IF_INDEX: usize = 4;
    pub const SLL2_PACKET_TYPE: usize = 10;
    pub const SLL2_LEN: usize = 20;
    /// BSD null / loop: a 4-byte address family.
    pub const NULL_LEN: usize = 4;
}

/// Where etherparse's lax slicer takes over after the link header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry<'a> {
    /// Nothing more to decode (non-IP family, or the link header did not parse).
    Stop,
    /// An EtherType (or SLL protocol) and the bytes after the link header.
    EtherType(u16, &'a [u8]),
    /// An IP header starts here (version taken from the first nibble).
    Ip(&'a [u8]),
}

/// What the link header said and where decoding continues.
pub(crate) struct LinkStart<'a> {
    pub link: LinkLayer,
    /// The EtherType or SLL protocol after the link header, if the link type has one.
    pub ether_type: Option<u16>,
    /// Where decoding continues.
    pub entry: Entry<'a>,
    /// Why decoding stopped at the link layer.
    pub problem: Option<DecodeProblem>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn short(what: &str, need: usize, got: usize) -> DecodeProblem {
    DecodeProblem::truncated(
        Layer::Link,
        format!("{what} header needs {need} bytes, {got} captured"),
    )
}

fn mac(data: &[u8], at: usize) -> [u8; 6] {
    data.get(at..at + 6)
        .and_then(|m| m.try_into().ok())
        .unwrap_or([0; 6])
}

/// Reads the link header of `data` and says where decoding continues.
pub(crate) fn start(link: LinkType, data: &[u8]) -> LinkStart<'_> {
    let mut out = LinkStart {
        link: LinkLayer::Unsupported(link.0),
        ether_type: None,
        entry: Entry::Stop,
        problem: None,
    };
    match link {
        LinkType::ETHERNET => {
            // MACs read as zeros when the header was cut.
            out.link = LinkLayer::Ethernet {
                src: mac(data, field::ETH_SRC),
                dst: mac(data, field::ETH_DST),
            };
            match data.get(field::ETH_LEN..) {
                Some(rest) => {
                    let ether_type = be16(data, field::ETH_TYPE);
                    out.ether_type = Some(ether_type);
                    out.entry = Entry::EtherType(ether_type, rest);
                }
                None => out.problem = Some(short("ethernet", field::ETH_LEN, data.len())),
            }
        }
        LinkType::LINUX_SLL => {
            out.link = LinkLayer::LinuxSll {
                packet_type: be16(data, field::SLL_PACKET_TYPE),
            };
            match data.get(field::SLL_LEN..) {
                Some(rest) => {
                    let proto = be16(data, field::SLL_PROTOCOL);
                    out.ether_type = Some(proto);
                    out.entry = Entry::EtherType(proto, rest);
                }
                None => out.problem = Some(short("linux sll", field::SLL_LEN, data.len())),
            }
        }
        LinkType::LINUX_SLL2 => {
            let if_index = match data.get(field::SLL2_IF_INDEX..field::SLL2_IF_INDEX + 4) {
                Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
                _ => 0,
            };
            out.link = LinkLayer::LinuxSll2 {
                packet_type: data.get(field::SLL2_PACKET_TYPE).copied().unwrap_or(0),
                if_index,
            };
            match data.get(field::SLL2_LEN..) {
                Some(rest) => {
                    let proto = be16(data, field::SLL2_PROTOCOL);
                    out.ether_type = Some(proto);
                    out.entry = Entry::EtherType(proto, rest);
                }
                None => out.problem = Some(short("linux sll2", field::SLL2_LEN, data.len())),
            }
        }
        LinkType::NULL | LinkType::LOOP => {
            let (Some(&[a, b, c, d]), Some(rest)) =
                (data.get(..field::NULL_LEN), data.get(field::NULL_LEN..))
            else {
                out.link = LinkLayer::Null { family: 0 };
                out.problem = Some(short("null", field::NULL_LEN, data.len()));
                return out;
            };
            let be = u32::from_be_bytes([a, b, c, d]);
            let le = u32::from_le_bytes([a, b, c, d]);
            // NULL is in the capturing host's byte order, which the file does not say:
            // take whichever reading is a known family, else the smaller (saner) one.
            let family = match (link, is_ip_family(le), is_ip_family(be)) {
                (LinkType::LOOP, _, _) => be,
                (_, true, _) => le,
                (_, false, true) => be,
                _ => le.min(be),
            };
            out.link = LinkLayer::Null { family };
            if is_ip_family(family) {
                out.entry = Entry::Ip(rest);
            }
        }
        LinkType::RAW
        | LinkType::RAW_DLT12
        | LinkType::RAW_DLT14
        | LinkType::IPV4
        | LinkType::IPV6 => {
            out.link = LinkLayer::RawIp;
            out.entry = Entry::Ip(data);
        }
        LinkType(n) => {
            out.problem = Some(DecodeProblem::malformed(
                Layer::Link,
                format!("unsupported link type {n}"),
            ));
        }
    }
    out
}

/// 802.1Q, 802.1ad (QinQ) and the old 0x9100 double-tag EtherTypes.
pub(crate) fn is_vlan(ether_type: u16) -> bool {
    matches!(ether_type, 0x8100 | 0x88a8 | 0x9100)
}

/// Peels up to two VLAN tags, returning the inner EtherType and what follows it.
pub(crate) fn walk_vlans<'a>(
    vlans: &mut Vlans,
    mut ether_type: u16,
    mut rest: &'a [u8],
) -> Result<(u16, &'a [u8]), DecodeProblem> {
    while is_vlan(ether_type) && vlans.ids().len() < 2 {
        let (Some(&[t0, t1, e0, e1]), Some(after)) = (rest.get(..4), rest.get(4..)) else {
            return Err(short("vlan", 4, rest.len()));
        };
        vlans.push(u16::from_be_bytes([t0, t1]) & 0x0fff);
        ether_type = u16::from_be_bytes([e0, e1]);
        rest = after;
    }
    Ok((ether_type, rest))
}

/// BSD address families for IPv4 (2) and IPv6 (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS).
fn is_ip_family(family: u32) -> bool {
    matches!(family, 2 | 24 | 28 | 30)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ProblemKind;

    #[test]
    fn vlans_hold_two() {
        let mut v = Vlans::default();
        assert!(v.ids().is_empty());
        assert!(v.push(10));
        assert!(v.push(20));
        assert!(!v.push(30));
        assert_eq!(v.ids(), &[10, 20]);
        assert_eq!(Vlans::new(&[1, 2, 3]).ids(), &[1, 2]);
    }

    #[test]
    fn vlan_walk() {
        let mut v = Vlans::default();
        let tags = [0x20, 0x64, 0x81, 0x00, 0xf0, 0x0a, 0x08, 0x00, 0x45];
        let (t, rest) = walk_vlans(&mut v, 0x88a8, &tags).expect("two tags");
        assert_eq!((t, rest), (0x0800, &[0x45][..]));
        assert_eq!(v.ids(), &[100, 10]);
        let mut v = Vlans::default();
        let p = walk_vlans(&mut v, 0x8100, &tags[..6]).expect_err("cut");
        assert_eq!(p.detail, "vlan header needs 4 bytes, 2 captured");
        assert_eq!(v.ids(), &[100]);
    }

    #[test]
    fn sll2_fields() {
        let mut f = vec![0x08, 0x00, 0, 0, 0, 0, 0, 7, 0x03, 0x04, 4, 6];
        f.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0, 0]);
        let s = start(LinkType::LINUX_SLL2, &f);
        assert_eq!(
            s.link,
            LinkLayer::LinuxSll2 {
                packet_type: 4,
                if_index: 7
            }
        );
        assert_eq!(s.ether_type, Some(0x0800));
        assert!(matches!(s.entry, Entry::EtherType(_, _) | Entry::Ip(_)));
        assert_eq!(s.problem, None);
        let s = start(LinkType::LINUX_SLL2, &f[..19]);
        let p = s.problem.expect("short");
        assert_eq!((p.layer, p.kind), (Layer::Link, ProblemKind::Truncated));
        assert_eq!(p.detail, "linux sll2 header needs 20 bytes, 19 captured");
    }

    #[test]
    fn null_family_either_byte_order() {
        let ip = [
            0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        ];
        for (hdr, fam) in [([2, 0, 0, 0], 2), ([0, 0, 0, 2], 2), ([30, 0, 0, 0], 30)] {
            let mut f = hdr.to_vec();
            f.extend_from_slice(&ip);
            let s = start(LinkType::NULL, &f);
            assert_eq!(s.link, LinkLayer::Null { family: fam });
            assert!(matches!(s.entry, Entry::EtherType(_, _) | Entry::Ip(_)));
        }
        // LOOP is always big-endian.
        let mut f = vec![0, 0, 0, 24];
        f.extend_from_slice(&ip);
        assert_eq!(
            start(LinkType::LOOP, &f).link,
            LinkLayer::Null { family: 24 }
        );
        // Non-IP family: nothing more to decode, no problem.
        let s = start(LinkType::NULL, &[7, 0, 0, 0, 1, 2]);
        assert_eq!(s.link, LinkLayer::Null { family: 7 });
        assert!(s.entry == Entry::Stop && s.problem.is_none());
    }

    #[test]
    fn unsupported_link_type() {
        let s = start(LinkType(147), &[1, 2, 3]);
        assert_eq!(s.link, LinkLayer::Unsupported(147));
        let p = s.problem.expect("problem");
        assert_eq!((p.layer, p.kind), (Layer::Link, ProblemKind::Malformed));
        assert_eq!(p.detail, "unsupported link type 147");
    }
}
