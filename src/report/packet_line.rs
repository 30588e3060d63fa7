//! One line per packet, in the spirit of `tcpdump -nn -r` (with absolute sequence
//! numbers, like `tcpdump -S`, because no per-flow state is kept at this stage):
//!
//! ```text
//! 3 0.000042 127.0.0.1:43210 -> 127.0.0.1:8080 TCP [P.] seq 1001 ack 2001 win 512 len 77
//! 7 0.101000 10.0.0.1:5353 -> 10.0.0.2:53 UDP len 32
//! 9 0.200000 10.0.0.2 -> 10.0.0.1 ICMP port unreachable for 10.0.0.1:5353 -> 10.0.0.2:53 UDP
//! ```
//!
//! Frame numbers are those of the file (before filtering), the time is relative to
//! the first frame of the input. Nothing here prints packet payload bytes.

use std::io::{self, Write};
use std::net::IpAddr;

use crate::base::Timestamp;
use crate::decode::{IcmpMessage, IpHeader, LinkLayer, Packet, ProblemKind, TcpSegment, Transport};
use crate::source::Frame;

/// Writes the one-line summary of `packet` (decoded from `frame`), ending in `\n`.
pub fn write_packet_line<W: Write + ?Sized>(
    out: &mut W,
    frame: &Frame<'_>,
    packet: &Packet<'_>,
    first: Timestamp,
) -> io::Result<()> {
    write!(out, "{} ", frame.number)?;
    write_relative_time(out, frame.ts.since(first))?;
    match &packet.ip {
        Some(ip) => write_ip_packet(out, ip, &packet.transport)?,
        None => write_non_ip(out, packet)?,
    }
    let vlans = packet.vlans.ids();
    if !vlans.is_empty() {
        out.write_all(b" [vlan")?;
        for (i, id) in vlans.iter().enumerate() {
            write!(out, "{}{}", if i == 0 { " " } else { "," }, id)?;
        }
        out.write_all(b"]")?;
    }
    if frame.is_truncated() {
        write!(
            out,
            " [captured {} of {} bytes]",
            frame.data.len(),
            frame.orig_len
        )?;
    }
    if let Some(problem) = &packet.problem {
        let kind = match problem.kind {
            ProblemKind::Truncated => "truncated",
            ProblemKind::Malformed => "malformed",
        };
        write!(out, " [{kind}: {}]", problem.detail)?;
    }
    out.write_all(b"\n")
}

fn write_relative_time<W: Write + ?Sized>(out: &mut W, nanos: i64) -> io::Result<()> {
    let sign = if nanos < 0 { "-" } else { "" };
    let micros = nanos.unsigned_abs() / 1_000;
    write!(
        out,
        "{sign}{}.{:06} ",
        micros / 1_000_000,
        micros % 1_000_000
    )
}

/// `addr:port`, with IPv6 addresses in brackets.
pub(crate) struct Endpoint(pub IpAddr, pub Option<u16>);

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.0, self.1) {
            (IpAddr::V4(a), Some(p)) => write!(f, "{a}:{p}"),
            (IpAddr::V6(a), Some(p)) => write!(f, "[{a}]:{p}"),
            (a, None) => write!(f, "{a}"),
        }
    }
}

fn write_ip_packet<W: Write + ?Sized>(
    out: &mut W,
    ip: &IpHeader,
    transport: &Transport<'_>,
) -> io::Result<()> {
    let (sport, dport) = match transport {
        Transport::Tcp(t) => (Some(t.src_port()), Some(t.dst_port())),
        Transport::Udp(u) => (Some(u.src_port()), Some(u.dst_port())),
        _ => (None, None),
    };
    write!(
        out,
        "{} -> {} ",
        Endpoint(ip.src, sport),
        Endpoint(ip.dst, dport)
    )?;
    match transport {
        Transport::Tcp(tcp) => write_tcp(out, tcp),
        Transport::Udp(udp) => write!(out, "UDP len {}", udp.payload().len()),
        Transport::Icmp(icmp) => write_icmp(out, icmp),
        Transport::Fragment => {
            let frag = ip.fragment.unwrap_or(crate::decode::Fragment {
                offset: 0,
                more: false,
                id: 0,
            });
            write!(
                out,
                "IPv{} fragment id {} offset {}{} proto {}",
                ip.version(),
                frag.id,
                frag.offset,
                if frag.more { " +" } else { "" },
                ip.protocol
            )
        }
        Transport::Other(proto) => write!(out, "IPv{} proto {}", ip.version(), proto),
        Transport::None => write!(out, "IPv{} proto {}", ip.version(), ip.protocol),
    }
}

fn write_tcp<W: Write + ?Sized>(out: &mut W, tcp: &TcpSegment<'_>) -> io::Result<()> {
    write!(out, "TCP [{}] seq {}", tcp.flags(), tcp.seq().0)?;
    if tcp.flags().contains(crate::decode::TcpFlags::ACK) {
        write!(out, " ack {}", tcp.ack().0)?;
    }
    write!(out, " win {} len {}", tcp.window(), tcp.payload_len())?;
    let opts = tcp.options();
    // Written piece by piece: most Linux segments carry timestamps, so this runs
    // for nearly every packet and must not allocate.
    let mut sep = Separator::new(" [", ",");
    if let Some(mss) = opts.mss {
        write!(out, "{}mss {mss}", sep.next())?;
    }
    if opts.sack_permitted {
        write!(out, "{}sackOK", sep.next())?;
    }
    if let Some((val, ecr)) = opts.timestamps {
        write!(out, "{}TS val {val} ecr {ecr}", sep.next())?;
    }
    if let Some(ws) = opts.window_scale {
        write!(out, "{}wscale {ws}", sep.next())?;
    }
    let sack = opts.sack();
    if !sack.is_empty() {
        write!(out, "{}sack {} ", sep.next(), sack.len())?;
        for (left, right) in sack {
            write!(out, "{{{}:{}}}", left.0, right.0)?;
        }
    }
    if opts.malformed {
        write!(out, "{}bad options", sep.next())?;
    }
    if sep.used {
        out.write_all(b"]")?;
    }
    Ok(())
}

/// Yields `first` once, then `rest`: joins list items without building a list.
struct Separator {
    first: &'static str,
    rest: &'static str,
    used: bool,
}

impl Separator {
    fn new(first: &'static str, rest: &'static str) -> Separator {
        Separator {
            first,
            rest,
            used: false,
        }
    }

    fn next(&mut self) -> &'static str {
        if std::mem::replace(&mut self.used, true) {
            self.rest
        } else {
            self.first
        }
    }
}

fn write_icmp<W: Write + ?Sized>(out: &mut W, icmp: &IcmpMessage<'_>) -> io::Result<()> {
    let name = if icmp.version() == 6 { "ICMP6" } else { "ICMP" };
    write!(out, "{name} {}", icmp.kind())?;
    if let Some(q) = icmp.quoted() {
        let proto = match q.protocol {
            6 => "TCP".to_string(),
            17 => "UDP".to_string(),
            1 => "ICMP".to_string(),
            58 => "ICMP6".to_string(),
            n => format!("proto {n}"),
        };
        write!(
            out,
            " for {} -> {} {proto}",
            Endpoint(q.src, q.src_port),
            Endpoint(q.dst, q.dst_port)
        )?;
    }
    Ok(())
}

fn write_non_ip<W: Write + ?Sized>(out: &mut W, packet: &Packet<'_>) -> io::Result<()> {
    if let LinkLayer::Ethernet { src, dst } = packet.link {
        write!(out, "{} -> {} ", Mac(src), Mac(dst))?;
    }
    match packet.ether_type {
        Some(t) => write!(out, "ethertype 0x{t:04x}{}", ether_type_name(t)),
        None => match packet.link {
            LinkLayer::Unsupported(n) => write!(out, "link type {n}"),
            _ => out.write_all(b"unknown"),
        },
    }
}

fn ether_type_name(t: u16) -> &'static str {
    match t {
        0x0806 => " (ARP)",
        0x0800 => " (IPv4)",
        0x86dd => " (IPv6)",
        0x88cc => " (LLDP)",
        0x8035 => " (RARP)",
        0x8847 | 0x8848 => " (MPLS)",
        0x888e => " (EAPOL)",
        _ => "",
    }
}

struct Mac([u8; 6]);

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}
