//! Fuzzes `decode`: the first byte picks a supported link type (plus one unsupported),
//! the rest is the frame. Every getter is touched so lazily parsed parts (TCP options,
//! ICMP quoted packets) are exercised too. `decode` must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::decode::{decode, Transport};
use netsleuth::base::LinkType;

const LINKS: [LinkType; 11] = [
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
    LinkType(147),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    let p = decode(link, frame);
    let mut sink = p.vlans.ids().len() + usize::from(p.ether_type.unwrap_or(0));
    if let Some(ip) = p.ip {
        sink += usize::from(ip.version()) + ip.payload_len as usize + usize::from(ip.ttl);
        assert!(ip.version() == 4 || ip.version() == 6);
    }
    match &p.transport {
        Transport::Tcp(t) => {
            let o = t.options();
            sink += usize::from(t.src_port()) + usize::from(t.dst_port());
            sink += (t.seq() - t.ack()).unsigned_abs() as usize + usize::from(t.window());
            sink += t.flags().to_string().len() + t.header_len() + t.payload().len();
            sink += t.payload_len() as usize + o.sack().len();
            sink += usize::from(o.mss.unwrap_or(0)) + usize::from(o.malformed);
            assert!(t.header_len() >= 20 && t.header_len() <= 60);
            assert!(o.sack().len() <= 4);
        }
        Transport::Udp(u) => {
            sink += usize::from(u.src_port()) + usize::from(u.dst_port());
            sink += usize::from(u.length()) + u.payload().len();
        }
        Transport::Icmp(m) => {
            sink += usize::from(m.version()) + usize::from(m.icmp_type()) + usize::from(m.code());
            sink += m.kind().to_string().len() + m.payload().len();
            if let Some(q) = m.quoted() {
                sink += usize::from(q.protocol) + usize::from(q.src_port.unwrap_or(0));
                sink += q.tcp_seq.map_or(0, |s| s.0 as usize);
            }
        }
        Transport::None | Transport::Fragment | Transport::Other(_) => {}
    }
    if let Some(prob) = &p.problem {
        assert!(!prob.detail.is_empty());
        sink += prob.to_string().len();
    }
    std::hint::black_box(sink);
});
