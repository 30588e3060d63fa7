//! Whole-frame tests of [`decode`]: every link type, truncation at every boundary,
//! malformed headers, fragments, ICMP errors. Property tests are in `proptests.rs`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{PacketBuilder, TcpOptionElement};

use super::*;

pub(super) const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
pub(super) const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xbb];
pub(super) const V4_A: [u8; 4] = [192, 168, 1, 10];
pub(super) const V4_B: [u8; 4] = [93, 184, 216, 34];
pub(super) const V6_A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub(super) const V6_B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Ethernet / IPv4 / TCP (SYN-ACK with MSS, SACK-permitted, timestamps, window scale).
pub(super) fn eth_v4_tcp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(V4_A, V4_B, 64)
        .tcp(443, 51000, 1_000_000, 65535)
        .syn()
        .ack(77)
        .options(&[
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(11, 22),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ])
        .expect("options fit")
        .write(&mut out, payload)
        .expect("build");
    out
}

/// An IPv4 header with the given protocol, payload length and flags/fragment word.
pub(super) fn ipv4(protocol: u8, payload_len: usize, frag: u16) -> Vec<u8> {
    let total = u16::try_from(20 + payload_len).expect("fits");
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0xbe, 0xef]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, protocol, 0, 0]);
    h.extend_from_slice(&V4_A);
    h.extend_from_slice(&V4_B);
    h
}

/// An IPv6 header with the given next header and payload length.
pub(super) fn ipv6(next: u8, payload_len: usize) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&u16::try_from(payload_len).expect("fits").to_be_bytes());
    h.extend_from_slice(&[next, 55]);
    h.extend_from_slice(&V6_A);
    h.extend_from_slice(&V6_B);
    h
}

/// A 20-byte TCP header (ACK|PSH) plus `opts` (a multiple of 4 bytes).
pub(super) fn tcp(sport: u16, dport: u16, seq: u32, opts: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&9u32.to_be_bytes());
    let offset = u8::try_from((20 + opts.len()) / 4).expect("fits") << 4;
    t.extend_from_slice(&[offset, 0x18, 0x01, 0x00, 0, 0, 0, 0]);
    t.extend_from_slice(opts);
    t
}

pub(super) fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(
        &u16::try_from(8 + payload.len())
            .expect("fits")
            .to_be_bytes(),
    );
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

pub(super) fn eth(ether_type: u16, rest: &[u8]) -> Vec<u8> {
    let mut f = MAC_B.to_vec();
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(rest);
    f
}

pub(super) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Ethernet / IPv6 / hop-by-hop (8) / destination options (16) / TCP with 12 option
/// bytes / 10 payload bytes. Returns the frame and the header boundaries.
pub(super) fn eth_v6_exts_tcp() -> (Vec<u8>, [usize; 4]) {
    let hbh = [60, 0, 1, 4, 0, 0, 0, 0];
    let dst = [6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let t = tcp(40000, 443, 5, &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    let payload = b"0123456789";
    let ip = ipv6(0, hbh.len() + dst.len() + t.len() + payload.len());
    let f = eth(0x86dd, &cat(&[&ip, &hbh, &dst, &t, payload]));
    (f, [14, 54, 54 + 24, 54 + 24 + 32])
}

pub(super) fn tcp_of<'a>(p: &'a Packet<'a>) -> &'a TcpSegment<'a> {
    match &p.transport {
        Transport::Tcp(t) => t,
        other => panic!("expected tcp, got {other:?} ({:?})", p.problem),
    }
}

pub(super) fn icmp_of<'a>(p: &'a Packet<'a>) -> &'a IcmpMessage<'a> {
    match &p.transport {
        Transport::Icmp(m) => m,
        other => panic!("expected icmp, got {other:?} ({:?})", p.problem),
    }
}

#[test]
fn ethernet_ipv4_tcp_every_field() {
    let f = eth_v4_tcp(b"hello");
    let p = decode(LinkType::ETHERNET, &f);
    assert_eq!(p.problem, None);
    assert_eq!(
        p.link,
        LinkLayer::Ethernet {
            src: MAC_A,
            dst: MAC_B
        }
    );
    assert_eq!(p.vlans.ids(), &[] as &[u16]);
    assert_eq!(p.ether_type, Some(0x0800));
    let ip = p.ip.expect("ip");
    assert_eq!(ip.version(), 4);
    assert_eq!(ip.src, IpAddr::V4(Ipv4Addr::from(V4_A)));
    assert_eq!(ip.dst, IpAddr::V4(Ipv4Addr::from(V4_B)));
    assert_eq!((ip.ttl, ip.protocol, ip.fragment), (64, 6, None));
    assert!(ip.ident.is_some());
    assert_eq!(ip.payload_len, 40 + 5);
    let t = tcp_of(&p);
    assert_eq!((t.src_port(), t.dst_port()), (443, 51000));
    assert_eq!((t.seq(), t.ack()), (SeqNum(1_000_000), SeqNum(77)));
    assert_eq!(t.flags(), TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(t.flags().to_string(), "S.");
    assert_eq!((t.window(), t.header_len()), (65535, 40));
    let o = t.options();
    assert_eq!(o.mss, Some(1460));
    assert!(o.sack_permitted);
    assert_eq!(o.timestamps, Some((11, 22)));
    assert_eq!(o.window_scale, Some(7));
    assert!(!o.malformed);
    assert_eq!((t.payload(), t.payload_len()), (&b"hello"[..], 5));
}

#[test]
fn snaplen_cut_payload_keeps_wire_length() {
    let f = eth_v4_tcp(&[7u8; 1000]);
    let p = decode(LinkType::ETHERNET, &f[..96]);
    let t = tcp_of(&p);
    assert_eq!(t.payload().len(), 96 - 14 - 20 - 40);
    assert_eq!(t.payload_len(), 1000);
    let prob = p.problem.expect("truncated");
    assert_eq!((prob.layer, prob.kind), (Layer::Ip, ProblemKind::Truncated));
    assert_eq!(prob.detail, "ipv4 packet is 1060 bytes, 82 captured");
    assert_eq!(
        prob.to_string(),
        "truncated ip layer: ipv4 packet is 1060 bytes, 82 captured"
    );
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut f = eth(0x0800, &cat(&[&ipv4(17, 9, 0), &udp(53, 5353, b"x")]));
    f.resize(60, 0);
    let p = decode(LinkType::ETHERNET, &f);
    assert_eq!(p.problem, None);
    let Transport::Udp(u) = p.transport else {
        panic!("udp")
    };
    assert_eq!((u.src_port(), u.dst_port(), u.length()), (53, 5353, 9));
    assert_eq!(u.payload(), b"x");
}

#[test]
fn vlan_and_qinq() {
    let inner = cat(&[&ipv4(17, 8, 0), &udp(1, 2, b"")]);
    let single = eth(0x8100, &cat(&[&[0x20, 0x64, 0x08, 0x00], &inner]));
    let p = decode(LinkType::ETHERNET, &single);
    assert_eq!(p.vlans.ids(), &[100]);
    assert_eq!(p.ether_type, Some(0x0800));
    assert!(matches!(p.transport, Transport::Udp(_)));
    assert_eq!(p.problem, None);

    let qinq = eth(
        0x88a8,
        &cat(&[&[0x00, 0x0a, 0x81, 0x00], &[0x0f, 0xff, 0x08, 0x00], &inner]),
    );
    let p = decode(LinkType::ETHERNET, &qinq);
    assert_eq!(p.vlans.ids(), &[10, 4095]);
    assert_eq!(p.ether_type, Some(0x0800));
    assert!(p.ip.is_some());
    // Cut inside the second tag.
    let p = decode(LinkType::ETHERNET, &qinq[..20]);
    assert_eq!(p.vlans.ids(), &[10]);
    let prob = p.problem.expect("cut");
    assert_eq!(
        (prob.layer, prob.kind),
        (Layer::Link, ProblemKind::Truncated)
    );
    assert_eq!(prob.detail, "vlan header needs 4 bytes, 2 captured");
}

#[test]
fn third_vlan_tag_goes_through_etherparse() {
    let inner = cat(&[&ipv4(17, 8, 0), &udp(7, 9, b"")]);
    let tags: [&[u8]; 3] = [&[0, 1, 0x81, 0], &[0, 2, 0x81, 0], &[0, 3, 0x08, 0]];
    let f = eth(0x88a8, &cat(&[tags[0], tags[1], tags[2], &inner]));
    let p = decode(LinkType::ETHERNET, &f);
    assert_eq!(p.vlans.ids(), &[1, 2], "only two ids are kept");
    assert_eq!(p.ether_type, Some(0x0800));
    assert!(matches!(p.transport, Transport::Udp(_)));
    assert_eq!(p.problem, None);
    let p = decode(LinkType::ETHERNET, &f[..14 + 8 + 2]);
    let prob = p.problem.expect("cut third tag");
    assert_eq!(
        (prob.layer, prob.kind),
        (Layer::Link, ProblemKind::Truncated)
    );
    let p = decode(LinkType::ETHERNET, &f[..14 + 12 + 10]);
    let prob = p.problem.expect("cut ip");
    assert_eq!((prob.layer, prob.kind), (Layer::Ip, ProblemKind::Truncated));
    assert_eq!(prob.detail, "ipv4 header needs 20 bytes, 10 captured");
}

#[test]
fn linux_sll_v1_and_v2() {
    let inner = cat(&[&ipv4(6, 20, 0), &tcp(1234, 80, 42, &[])]);
    // SLL v1, outgoing, ARPHRD_LOOPBACK (772), as `-i any` gives for `lo`.
    let mut sll = vec![0, 4, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&inner);
    let p = decode(LinkType::LINUX_SLL, &sll);
    assert_eq!(p.link, LinkLayer::LinuxSll { packet_type: 4 });
    assert_eq!(p.ether_type, Some(0x0800));
    assert_eq!(tcp_of(&p).seq(), SeqNum(42));
    assert_eq!(p.problem, None);
    let p = decode(LinkType::LINUX_SLL, &sll[..15]);
    assert_eq!(p.problem.expect("cut").layer, Layer::Link);

    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
    sll2.extend_from_slice(&MAC_A);
    sll2.extend_from_slice(&[0, 0]);
    sll2.extend_from_slice(&inner);
    let p = decode(LinkType::LINUX_SLL2, &sll2);
    assert_eq!(
        p.link,
        LinkLayer::LinuxSll2 {
            packet_type: 0,
            if_index: 3
        }
    );
    assert_eq!(p.ether_type, Some(0x0800));
    assert_eq!(tcp_of(&p).dst_port(), 80);
    assert_eq!(p.problem, None);
}

#[test]
fn null_loop_and_raw() {
    let v6 = cat(&[&ipv6(17, 9), &udp(5353, 53, b"q")]);
    for (link, hdr, family) in [
        (LinkType::NULL, [30, 0, 0, 0], 30),
        (LinkType::NULL, [0, 0, 0, 28], 28),
        (LinkType::LOOP, [0, 0, 0, 24], 24),
    ] {
        let f = cat(&[&hdr, &v6]);
        let p = decode(link, &f);
        assert_eq!(p.link, LinkLayer::Null { family });
        assert_eq!(p.ether_type, None);
        assert_eq!(p.ip.expect("ip").version(), 6);
        assert!(matches!(p.transport, Transport::Udp(_)));
        assert_eq!(p.problem, None);
    }
    let v4 = cat(&[&ipv4(6, 20, 0), &tcp(1, 2, 3, &[])]);
    for link in [
        LinkType::RAW,
        LinkType::RAW_DLT12,
        LinkType::RAW_DLT14,
        LinkType::IPV4,
        LinkType::IPV6,
    ] {
        for frame in [&v4, &v6] {
            let p = decode(link, frame);
            assert_eq!(p.link, LinkLayer::RawIp);
            assert!(p.ip.is_some(), "{link}");
            assert_eq!(p.problem, None);
        }
    }
}

#[test]
fn unsupported_link_type() {
    let p = decode(LinkType(147), &[0; 40]);
    assert_eq!(p.link, LinkLayer::Unsupported(147));
    let prob = p.problem.expect("unsupported");
    assert_eq!(
        (prob.layer, prob.kind),
        (Layer::Link, ProblemKind::Malformed)
    );
    assert_eq!(prob.detail, "unsupported link type 147");
}

#[test]
fn ipv4_tcp_truncation_at_every_boundary() {
    let f = eth_v4_tcp(b"some payload");
    for n in 0..=f.len() {
        let p = decode(LinkType::ETHERNET, &f[..n]);
        let want = match n {
            0..14 => Some(Layer::Link),
            14..34 => Some(Layer::Ip),
            34..74 => Some(Layer::Transport),
            _ if n < f.len() => Some(Layer::Ip),
            _ => None,
        };
        assert_eq!(p.problem.as_ref().map(|p| p.layer), want, "cut at {n}");
        if let Some(prob) = &p.problem {
            assert_eq!(prob.kind, ProblemKind::Truncated, "cut at {n}: {prob}");
        }
        assert_eq!(p.ip.is_some(), n >= 34, "cut at {n}");
        assert_eq!(
            matches!(p.transport, Transport::Tcp(_)),
            n >= 74,
            "cut at {n}"
        );
    }
    let p = decode(LinkType::ETHERNET, &f[..40]);
    assert_eq!(
        p.problem.expect("cut").detail,
        "tcp header needs 20 bytes, 6 captured"
    );
    let p = decode(LinkType::ETHERNET, &f[..60]);
    assert_eq!(
        p.problem.expect("cut").detail,
        "tcp header needs 40 bytes, 26 captured"
    );
}

#[test]
fn ipv6_ext_tcp_truncation_at_every_boundary() {
    let (f, [ip, exts, tcp_at, payload_at]) = eth_v6_exts_tcp();
    let p = decode(LinkType::ETHERNET, &f);
    assert_eq!(p.problem, None);
    let h = p.ip.expect("ip");
    assert_eq!((h.protocol, h.ttl, h.payload_len), (6, 55, 32 + 10));
    assert_eq!(h.src, IpAddr::V6(Ipv6Addr::from(V6_A)));
    let t = tcp_of(&p);
    assert_eq!(t.options().timestamps, Some((1, 2)));
    assert_eq!(t.payload(), b"0123456789");
    for n in 0..=f.len() {
        let p = decode(LinkType::ETHERNET, &f[..n]);
        let want = if n < ip {
            Some(Layer::Link)
        } else if n < tcp_at {
            Some(Layer::Ip)
        } else if n < payload_at {
            Some(Layer::Transport)
        } else if n < f.len() {
            Some(Layer::Ip)
        } else {
            None
        };
        assert_eq!(p.problem.as_ref().map(|p| p.layer), want, "cut at {n}");
        if let Some(prob) = &p.problem {
            assert_eq!(prob.kind, ProblemKind::Truncated, "cut at {n}: {prob}");
        }
        assert_eq!(p.ip.is_some(), n >= exts, "cut at {n}");
        assert_eq!(
            matches!(p.transport, Transport::Tcp(_)),
            n >= payload_at,
            "cut at {n}"
        );
    }
}

#[test]
fn malformed_headers() {
    // IP version 5 behind an IPv4 EtherType.
    let mut v = ipv4(6, 20, 0);
    v[0] = 0x55;
    let f = eth(0x0800, &v);
    let p = decode(LinkType::ETHERNET, &f);
    let prob = p.problem.expect("bad version");
    assert_eq!((prob.layer, prob.kind), (Layer::Ip, ProblemKind::Malformed));
    assert_eq!(prob.detail, "ip version 5 is not 4 or 6");
    let p = decode(LinkType::RAW, &v);
    assert_eq!(p.problem.expect("bad").detail, "ip version 5 is not 4 or 6");
    // IHL 4.
    v[0] = 0x44;
    let f = eth(0x0800, &v);
    let p = decode(LinkType::ETHERNET, &f);
    let prob = p.problem.expect("ihl");
    assert_eq!((prob.layer, prob.kind), (Layer::Ip, ProblemKind::Malformed));
    assert!(p.ip.is_none());
    // TCP data offset 3.
    let mut t = tcp(1, 2, 3, &[]);
    t[12] = 0x30;
    let f = eth(0x0800, &cat(&[&ipv4(6, 20, 0), &t]));
    let p = decode(LinkType::ETHERNET, &f);
    let prob = p.problem.expect("offset");
    assert_eq!(
        (prob.layer, prob.kind),
        (Layer::Transport, ProblemKind::Malformed)
    );
    assert!(p.ip.is_some());
    assert!(matches!(p.transport, Transport::None));
    // IPv6 destination options whose length runs past the (complete) packet.
    let dst = [6, 4, 1, 4, 0, 0, 0, 0];
    let f = eth(0x86dd, &cat(&[&ipv6(60, 8 + 20), &dst, &tcp(1, 2, 3, &[])]));
    let p = decode(LinkType::ETHERNET, &f);
    let prob = p.problem.expect("ext length");
    assert_eq!((prob.layer, prob.kind), (Layer::Ip, ProblemKind::Malformed));
    assert_eq!(
        prob.detail,
        "ipv6 destination options header needs 40 bytes, ip length leaves 28"
    );
    assert!(matches!(p.transport, Transport::None));
    // TCP header longer than the IP packet says: malformed, not truncated.
    let t = tcp(1, 2, 3, &[1, 1, 1, 1]);
    let f = eth(0x0800, &cat(&[&ipv4(6, 20, 0), &t]));
    let prob = decode(LinkType::ETHERNET, &f).problem.expect("short ip");
    assert_eq!(
        (prob.layer, prob.kind),
        (Layer::Transport, ProblemKind::Malformed)
    );
}

#[test]
fn malformed_tcp_option_length() {
    let t = tcp(1, 2, 3, &[2, 4, 5, 0xb4, 1, 5, 20, 0]);
    let f = eth(0x0800, &cat(&[&ipv4(6, t.len(), 0), &t]));
    let p = decode(LinkType::ETHERNET, &f);
    assert_eq!(p.problem, None, "bad options are data, not a decode stop");
    let o = tcp_of(&p).options();
    assert_eq!(o.mss, Some(1460));
    assert!(o.malformed);
}

#[test]
fn sack_blocks_in_a_frame() {
    let mut opts = vec![1, 1, 5, 18];
    for x in [1000u32, 2000, 3000, 4000] {
        opts.extend_from_slice(&x.to_be_bytes());
    }
    let t = tcp(1, 2, 3, &opts);
    let f = eth(0x0800, &cat(&[&ipv4(6, t.len(), 0), &t]));
    let p = decode(LinkType::ETHERNET, &f);
    let o = tcp_of(&p).options();
    assert_eq!(
        o.sack(),
        &[(SeqNum(1000), SeqNum(2000)), (SeqNum(3000), SeqNum(4000))]
    );
}

#[test]
fn ipv4_fragments() {
    let t = tcp(80, 5000, 99, &[]);
    // First fragment: offset 0, MF set; the TCP header is there and decoded.
    let f = eth(0x0800, &cat(&[&ipv4(6, 24, 0x2000), &t, b"abcd"]));
    let p = decode(LinkType::ETHERNET, &f);
    let ip = p.ip.expect("ip");
    assert_eq!(
        ip.fragment,
        Some(Fragment {
            offset: 0,
            more: true,
            id: 0xbeef
        })
    );
    assert_eq!(tcp_of(&p).seq(), SeqNum(99));
    assert_eq!(tcp_of(&p).payload(), b"abcd");
    assert_eq!(p.problem, None);
    // Non-first fragment: the bytes are not a TCP header.
    let f = eth(0x0800, &cat(&[&ipv4(6, 24, 3), &t, b"abcd"]));
    let p = decode(LinkType::ETHERNET, &f);
    assert_eq!(p.ip.expect("ip").fragment.expect("frag").offset, 24);
    assert!(matches!(p.transport, Transport::Fragment));
    assert_eq!(p.problem, None);
}

#[test]
fn ipv6_fragments() {
    let u = udp(53, 53, b"zz");
    let frag = |offset_flags: u16| {
        let mut h = vec![17, 0];
        h.extend_from_slice(&offset_flags.to_be_bytes());
        h.extend_from_slice(&7u32.to_be_bytes());
        h
    };
    let f = cat(&[&ipv6(44, 8 + u.len()), &frag(1), &u]);
    let p = decode(LinkType::RAW, &f);
    let ip = p.ip.expect("ip");
    assert_eq!(ip.protocol, 17);
    assert_eq!(
        ip.fragment,
        Some(Fragment {
            offset: 0,
            more: true,
            id: 7
        })
    );
    let Transport::Udp(d) = p.transport else {
        panic!("udp in first fragment")
    };
    assert_eq!(d.payload(), b"zz");
    let f = cat(&[&ipv6(44, 8 + u.len()), &frag(2 << 3), &u]);
    let p = decode(LinkType::RAW, &f);
    let frag = p.ip.expect("ip").fragment.expect("fragment");
    assert_eq!((frag.offset, frag.more), (16, false));
    assert!(matches!(p.transport, Transport::Fragment));
}

#[test]
fn icmpv4_port_unreachable_quoting_udp() {
    let quoted = cat(&[&ipv4(17, 8 + 4, 0), &udp(40001, 53, b"abcd")]);
    let icmp = cat(&[&[3, 3, 0, 0, 0, 0, 0, 0], &quoted]);
    let f = eth(0x0800, &cat(&[&ipv4(1, icmp.len(), 0), &icmp]));
    let p = decode(LinkType::ETHERNET, &f);
    assert_eq!(p.problem, None);
    let m = icmp_of(&p);
    assert_eq!((m.version(), m.icmp_type(), m.code()), (4, 3, 3));
    assert_eq!(
        m.kind(),
        IcmpKind::DestUnreachable {
            version: 4,
            code: 3
        }
    );
    assert_eq!(m.kind().to_string(), "port unreachable");
    assert_eq!(m.payload(), &quoted[..]);
    let q = m.quoted().expect("quoted");
    assert_eq!(q.src, IpAddr::V4(Ipv4Addr::from(V4_A)));
    assert_eq!(q.dst, IpAddr::V4(Ipv4Addr::from(V4_B)));
    assert_eq!(
        (q.protocol, q.src_port, q.dst_port),
        (17, Some(40001), Some(53))
    );
    assert_eq!(q.tcp_seq, None);
}

#[test]
fn icmpv4_time_exceeded_quoting_eight_bytes_of_tcp() {
    let t = tcp(50123, 443, 0xfeed_f00d, &[]);
    let quoted = cat(&[&ipv4(6, 20, 0), &t[..8]]);
    let icmp = cat(&[&[11, 0, 0, 0, 0, 0, 0, 0], &quoted]);
    let f = eth(0x0800, &cat(&[&ipv4(1, icmp.len(), 0), &icmp]));
    let p = decode(LinkType::ETHERNET, &f);
    let m = icmp_of(&p);
    assert_eq!(m.kind(), IcmpKind::TimeExceeded { code: 0 });
    assert_eq!(m.kind().to_string(), "time exceeded in transit");
    let q = m.quoted().expect("quoted");
    assert_eq!(
        (q.protocol, q.src_port, q.dst_port),
        (6, Some(50123), Some(443))
    );
    assert_eq!(q.tcp_seq, Some(SeqNum(0xfeed_f00d)));
}

#[test]
fn icmpv6_dest_unreachable_quoting_tcp() {
    let t = tcp(33000, 8443, 12345, &[]);
    let quoted = cat(&[&ipv6(6, t.len()), &t]);
    let icmp = cat(&[&[1, 4, 0, 0, 0, 0, 0, 0], &quoted]);
    let f = eth(0x86dd, &cat(&[&ipv6(58, icmp.len()), &icmp]));
    let p = decode(LinkType::ETHERNET, &f);
    assert_eq!(p.problem, None);
    let m = icmp_of(&p);
    assert_eq!(m.version(), 6);
    assert_eq!(
        m.kind(),
        IcmpKind::DestUnreachable {
            version: 6,
            code: 4
        }
    );
    assert!(m.kind().is_port_unreachable());
    let q = m.quoted().expect("quoted");
    assert_eq!(q.src, IpAddr::V6(Ipv6Addr::from(V6_A)));
    assert_eq!(q.dst, IpAddr::V6(Ipv6Addr::from(V6_B)));
    assert_eq!(
        (q.protocol, q.src_port, q.dst_port, q.tcp_seq),
        (6, Some(33000), Some(8443), Some(SeqNum(12345)))
    );
}

#[test]
fn icmp_echo_via_builder() {
    let mut f = Vec::new();
    PacketBuilder::ipv4(V4_A, V4_B, 3)
        .icmpv4_echo_request(0x77, 5)
        .write(&mut f, b"ping")
        .expect("build");
    let p = decode(LinkType::RAW, &f);
    let m = icmp_of(&p);
    assert_eq!(m.kind(), IcmpKind::EchoRequest { id: 0x77, seq: 5 });
    assert_eq!(m.payload(), b"ping");
    assert_eq!(m.quoted(), None);
    let p = decode(LinkType::RAW, &f[..24]);
    let prob = p.problem.expect("cut");
    assert_eq!(
        (prob.layer, prob.detail.as_str()),
        (Layer::Transport, "icmp header needs 8 bytes, 4 captured")
    );
}

#[test]
fn other_protocols_and_non_ip() {
    let f = eth(0x0800, &cat(&[&ipv4(47, 4, 0), &[0, 0, 0x08, 0]]));
    let p = decode(LinkType::ETHERNET, &f);
    assert!(matches!(p.transport, Transport::Other(47)));
    let f = eth(0x88cc, &[1, 2, 3]);
    let p = decode(LinkType::ETHERNET, &f);
    assert_eq!(p.ether_type, Some(0x88cc));
    assert!(p.ip.is_none() && p.problem.is_none());
}

/// Regression: etherparse 0.21's `Ipv6ExtensionSliceIter` reads past the parsed bytes
/// when lax parsing stopped inside the chain (found by `any_prefix_never_panics`).
#[test]
fn ipv6_cut_inside_extension_chain_does_not_read_past_the_frame() {
    let (f, [_, exts, tcp_at, _]) = eth_v6_exts_tcp();
    for n in exts..tcp_at {
        let p = decode(LinkType::ETHERNET, &f[..n]);
        let ip = p.ip.expect("ipv6 header parsed");
        assert_eq!(ip.fragment, None);
        let prob = p.problem.expect("cut chain");
        assert_eq!((prob.layer, prob.kind), (Layer::Ip, ProblemKind::Truncated));
    }
    let p = decode(LinkType::ETHERNET, &f[..exts + 8 + 4]);
    assert_eq!(
        p.problem.expect("cut").detail,
        "ipv6 destination options header needs 8 bytes, 4 captured"
    );
    let p = decode(LinkType::ETHERNET, &f[..exts + 8 + 10]);
    assert_eq!(
        p.problem.expect("cut").detail,
        "ipv6 destination options header needs 16 bytes, 10 captured"
    );
}
