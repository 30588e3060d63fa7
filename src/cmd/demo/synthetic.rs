//! The demo's fallback when capture is not permitted: raw-IP frames of the same
//! story (a request, a refused connection, an ICMP port unreachable), built here.

use std::path::Path;

use crate::base::{LinkType, Timestamp};
use crate::source::writer::{CaptureWriter, OutputFormat, Rotation};
use crate::source::{Frame, SourceError};

/// Raw-IP frames of the same story, for machines where capture is not allowed.
pub fn write_synthetic(path: &Path) -> Result<(), SourceError> {
    let mut writer = CaptureWriter::create(
        path,
        OutputFormat::Pcap,
        LinkType::RAW,
        65_535,
        Rotation::default(),
    )?;
    let frames = synthetic_frames();
    for (i, data) in frames.iter().enumerate() {
        writer.write(&Frame {
            number: i as u64 + 1,
            ts: Timestamp(1_764_166_000_000_000_000 + i as i64 * 150_000),
            orig_len: data.len() as u32,
            link: LinkType::RAW,
            interface: 0,
            data,
        })?;
    }
    writer.flush()
}

fn synthetic_frames() -> Vec<Vec<u8>> {
    const C: u16 = 40_000;
    const S: u16 = 8_080;
    let req: &[u8] = b"GET /v1/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let resp: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, world\n";
    let (syn, ack, psh, fin, rst) = (0x02, 0x10, 0x08, 0x01, 0x04);
    vec![
        tcp(C, S, 1000, 0, syn, &[]),
        tcp(S, C, 5000, 1001, syn | ack, &[]),
        tcp(C, S, 1001, 5001, ack, &[]),
        tcp(C, S, 1001, 5001, psh | ack, req),
        tcp(S, C, 5001, 1001 + req.len() as u32, psh | ack, resp),
        tcp(
            S,
            C,
            5001 + resp.len() as u32,
            1001 + req.len() as u32,
            fin | ack,
            &[],
        ),
        tcp(
            C,
            S,
            1001 + req.len() as u32,
            5002 + resp.len() as u32,
            fin | ack,
            &[],
        ),
        tcp(
            S,
            C,
            5002 + resp.len() as u32,
            1002 + req.len() as u32,
            ack,
            &[],
        ),
        tcp(C, 9, 7000, 0, syn, &[]),
        tcp(9, C, 0, 7001, rst | ack, &[]),
        port_unreachable(&udp(C, 9, b"ping")),
    ]
}

/// IPv4 127.0.0.1 -> 127.0.0.1 carrying one UDP datagram (checksums left zero).
fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = ipv4_header(17, 8 + payload.len());
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// The ICMP port unreachable a host sends back for `quoted`.
fn port_unreachable(quoted: &[u8]) -> Vec<u8> {
    let mut p = ipv4_header(1, 8 + quoted.len());
    p.extend_from_slice(&[3, 3, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(quoted);
    p
}

fn ipv4_header(protocol: u8, payload_len: usize) -> Vec<u8> {
    let total = (20 + payload_len) as u16;
    let mut p = Vec::with_capacity(usize::from(total));
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[
        0, 0, 0x40, 0, 64, protocol, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
    ]);
    p
}

/// IPv4 127.0.0.1 -> 127.0.0.1 carrying one TCP segment (checksums left zero).
fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = ipv4_header(6, 20 + payload.len());
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags]);
    p.extend_from_slice(&65_535u16.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}
