//! `decode` throughput on typical frames: Ethernet/IPv4/TCP with options, IPv6/UDP
//! (raw IP), and SLL2/IPv4/TCP as `-i any` captures give. Each iteration decodes one
//! frame and reads the fields a flow table would.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::{PacketBuilder, TcpOptionElement};
use netsleuth::base::LinkType;
use netsleuth::decode::{decode, Transport};

const V4_A: [u8; 4] = [10, 0, 0, 1];
const V4_B: [u8; 4] = [10, 0, 0, 2];

fn eth_v4_tcp_options() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(V4_A, V4_B, 64)
        .tcp(51000, 443, 123_456, 502)
        .ack(654_321)
        .psh()
        .options(&[
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Timestamp(1, 2),
        ])
        .expect("options fit")
        .write(&mut out, &[0x17; 100])
        .expect("build");
    out
}

fn eth_v4_tcp_plain() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(V4_A, V4_B, 64)
        .tcp(51000, 443, 123_456, 502)
        .ack(654_321)
        .write(&mut out, &[])
        .expect("build");
    out
}

fn raw_v6_udp() -> Vec<u8> {
    let mut out = Vec::new();
    let a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let b = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    PacketBuilder::ipv6(a, b, 64)
        .udp(40000, 53)
        .write(&mut out, &[0u8; 40])
        .expect("build");
    out
}

fn sll2_v4_tcp() -> Vec<u8> {
    let mut out = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    PacketBuilder::ipv4(V4_A, V4_B, 64)
        .tcp(51000, 443, 1, 502)
        .syn()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(1, 0),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ])
        .expect("options fit")
        .write(&mut out, &[])
        .expect("build");
    out
}

/// What a flow table reads from every packet.
fn use_packet(link: LinkType, frame: &[u8]) -> u64 {
    let p = decode(link, frame);
    let mut acc = u64::from(p.problem.is_some());
    if let Some(ip) = p.ip {
        acc += u64::from(ip.payload_len);
    }
    match p.transport {
        Transport::Tcp(t) => {
            acc += u64::from(t.src_port()) + u64::from(t.seq().0) + u64::from(t.flags().0);
            acc += u64::from(t.payload_len());
        }
        Transport::Udp(u) => acc += u64::from(u.dst_port()) + u.payload().len() as u64,
        _ => {}
    }
    acc
}

fn bench(c: &mut Criterion) {
    let cases = [
        (
            "ethernet_ipv4_tcp_plain",
            LinkType::ETHERNET,
            eth_v4_tcp_plain(),
        ),
        (
            "ethernet_ipv4_tcp_options",
            LinkType::ETHERNET,
            eth_v4_tcp_options(),
        ),
        ("raw_ipv6_udp", LinkType::RAW, raw_v6_udp()),
        ("sll2_ipv4_tcp_syn", LinkType::LINUX_SLL2, sll2_v4_tcp()),
    ];
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    for (name, link, frame) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| use_packet(*link, black_box(frame)));
        });
    }
    // Baseline: etherparse's lax slicer alone on the plain TCP frame.
    group.bench_function("etherparse_lax_only_plain", |b| {
        let frame = eth_v4_tcp_plain();
        b.iter(|| {
            etherparse::LaxSlicedPacket::from_ethernet(black_box(&frame))
                .map(|p| p.transport.is_some())
                .unwrap_or(false)
        });
    });
    group.bench_function("tcp_options_parse", |b| {
        let frame = sll2_v4_tcp();
        b.iter(
            || match decode(LinkType::LINUX_SLL2, black_box(&frame)).transport {
                Transport::Tcp(t) => t.options().mss,
                _ => None,
            },
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
