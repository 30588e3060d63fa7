//! Property tests of [`decode`]: arbitrary bytes on every link type never panic, valid
//! TCP/UDP packets round-trip through etherparse's `PacketBuilder`, and every prefix of
//! a valid frame decodes without panicking and reports a problem.

use etherparse::PacketBuilder;
use proptest::prelude::*;

use super::tests::{
    cat, eth_v4_tcp, eth_v6_exts_tcp, ipv4, ipv6, tcp_of, MAC_A, MAC_B, V4_A, V4_B, V6_A, V6_B,
};
use super::*;

const LINKS: [LinkType; 10] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType::RAW_DLT12,
    LinkType::RAW_DLT14,
];

/// Touches every getter, as the fuzz target does.
fn touch(p: &Packet<'_>) {
    let _ = (p.vlans.ids(), p.ether_type, p.ip.map(|ip| ip.version()));
    match &p.transport {
        Transport::Tcp(t) => {
            let o = t.options();
            let _ = (t.src_port(), t.dst_port(), t.seq(), t.ack(), t.window());
            let _ = (
                t.flags().to_string(),
                t.payload(),
                t.payload_len(),
                o.sack(),
            );
            assert!(t.header_len() >= 20);
        }
        Transport::Udp(u) => {
            let _ = (u.src_port(), u.dst_port(), u.length(), u.payload());
        }
        Transport::Icmp(m) => {
            let _ = (m.kind().to_string(), m.quoted(), m.payload(), m.version());
        }
        _ => {}
    }
    if let Some(prob) = &p.problem {
        assert!(!prob.detail.is_empty());
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(link in 0..LINKS.len(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let p = decode(LINKS[link], &bytes);
        touch(&p);
    }

    #[test]
    fn ip_shaped_bytes_never_panic(v6 in any::<bool>(), proto in prop::sample::select(vec![1u8, 6, 17, 58, 0, 44, 60]), rest in proptest::collection::vec(any::<u8>(), 0..120)) {
        let head = if v6 { ipv6(proto, rest.len()) } else { ipv4(proto, rest.len(), 0) };
        let f = cat(&[&head, &rest]);
        touch(&decode(LinkType::RAW, &f));
    }

    #[test]
    fn tcp_round_trip(v6 in any::<bool>(), sport in any::<u16>(), dport in any::<u16>(), seq in any::<u32>(), ack in any::<u32>(), win in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let b = PacketBuilder::ethernet2(MAC_A, MAC_B);
        let b = if v6 { b.ipv6(V6_A, V6_B, 9) } else { b.ipv4(V4_A, V4_B, 9) };
        let mut f = Vec::new();
        b.tcp(sport, dport, seq, win).ack(ack).psh().write(&mut f, &payload).expect("build");
        let p = decode(LinkType::ETHERNET, &f);
        prop_assert_eq!(&p.problem, &None);
        let ip = p.ip.expect("ip");
        prop_assert_eq!(ip.version(), if v6 { 6 } else { 4 });
        prop_assert_eq!(ip.ttl, 9);
        let t = tcp_of(&p);
        prop_assert_eq!((t.src_port(), t.dst_port(), t.window()), (sport, dport, win));
        prop_assert_eq!((t.seq(), t.ack()), (SeqNum(seq), SeqNum(ack)));
        prop_assert_eq!(t.flags(), TcpFlags::PSH | TcpFlags::ACK);
        prop_assert_eq!(t.payload(), &payload[..]);
        prop_assert_eq!(t.payload_len() as usize, payload.len());
    }

    #[test]
    fn udp_round_trip(v6 in any::<bool>(), sport in any::<u16>(), dport in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let b = if v6 { PacketBuilder::ipv6(V6_A, V6_B, 1) } else { PacketBuilder::ipv4(V4_A, V4_B, 1) };
        let mut f = Vec::new();
        b.udp(sport, dport).write(&mut f, &payload).expect("build");
        let p = decode(LinkType::RAW, &f);
        prop_assert_eq!(&p.problem, &None);
        prop_assert_eq!(p.ip.expect("ip").protocol, 17);
        let Transport::Udp(u) = p.transport else { panic!("udp") };
        prop_assert_eq!((u.src_port(), u.dst_port()), (sport, dport));
        prop_assert_eq!(usize::from(u.length()), 8 + payload.len());
        prop_assert_eq!(u.payload(), &payload[..]);
    }

    #[test]
    fn any_prefix_never_panics(cut in 0usize..200, v6 in any::<bool>(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let (f, headers) = if v6 {
            let (f, b) = eth_v6_exts_tcp();
            (f, b[3])
        } else {
            let f = eth_v4_tcp(&payload);
            (f, 14 + 20 + 40)
        };
        let n = cut.min(f.len());
        let p = decode(LinkType::ETHERNET, &f[..n]);
        touch(&p);
        if n < headers {
            prop_assert!(p.problem.is_some());
        }
        if n < f.len() {
            prop_assert!(p.problem.is_some());
        } else {
            prop_assert_eq!(p.problem, None);
        }
    }
}
