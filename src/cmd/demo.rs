//! `netsleuth demo`: makes real traffic on loopback, captures it with netsleuth's
//! own live source, and analyzes the capture (optionally printing its packets
//! first), so one command shows the whole pipeline working on this machine.
//!
//! The traffic: a TCP request/response with a small in-process server, a
//! connection to a closed port (answered by RST), and a UDP datagram to a closed
//! port (answered by ICMP port unreachable). Where capture is not permitted, the
//! demo says so and reads a capture it builds in memory instead.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::analyze::{self, AnalyzeConfig};
use super::read::{self, ReadConfig};
use super::CommandError;
use crate::source::live::{LiveOptions, LiveSource};
use crate::source::writer::{CaptureWriter, OutputFormat, Rotation};
use crate::source::{Frame, FrameSource, LinkType, SourceError, Timestamp};

/// Runs the demo, writing the capture to `capture_path` and the report to `out`;
/// `status` gets progress lines.
pub fn run(
    capture_path: &Path,
    show_packets: bool,
    out: &mut dyn Write,
    status: &mut dyn Write,
) -> Result<(), CommandError> {
    match capture_live(capture_path, status) {
        Ok(count) => writeln!(
            status,
            "captured {count} packets of demo traffic on lo into {}",
            capture_path.display()
        )?,
        Err(SourceError::Permission { .. }) | Err(SourceError::NoSuchInterface { .. }) => {
            writeln!(
                status,
                "live capture is not permitted here (run as root for real traffic); \
                 reading a capture built in memory instead"
            )?;
            write_synthetic(capture_path)?;
        }
        Err(e) => return Err(e.into()),
    }
    status.flush()?;
    let path = capture_path.display().to_string();
    if show_packets {
        read::run(
            &ReadConfig {
                path: path.clone(),
                ..ReadConfig::default()
            },
            out,
        )?;
        writeln!(out)?;
    }
    analyze::run(
        &AnalyzeConfig {
            paths: vec![path],
            ..AnalyzeConfig::default()
        },
        out,
        status,
    )?;
    Ok(())
}

/// Default place for the demo capture: the system temp directory.
pub fn default_capture_path() -> PathBuf {
    std::env::temp_dir().join(format!("netsleuth-demo-{}.pcap", std::process::id()))
}

fn capture_live(path: &Path, status: &mut dyn Write) -> Result<u64, SourceError> {
    let server = TcpListener::bind("127.0.0.1:0").map_err(io_err)?;
    let port = server.local_addr().map_err(io_err)?.port();
    let closed_tcp = closed_port()?;
    let closed_udp = closed_port()?;
    let stop = Arc::new(AtomicBool::new(false));
    let options = LiveOptions {
        interface: "lo".into(),
        snaplen: 65_535,
        filter: Some(format!(
            "host 127.0.0.1 and (tcp port {port} or tcp port {closed_tcp} or udp port {closed_udp} or icmp)"
        )),
        duration: Some(Duration::from_secs(10)),
        ..LiveOptions::default()
    };
    let mut source = LiveSource::open(&options, Arc::clone(&stop))?;
    let _ = writeln!(status, "capturing demo traffic on lo ...");
    let traffic = thread::spawn(move || {
        make_traffic(server, closed_tcp, closed_udp);
        // Let the last packets reach the capture ring before asking it to stop.
        thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
    });
    let mut writer = CaptureWriter::create(
        path,
        OutputFormat::Pcap,
        source.link_type(),
        options.snaplen,
        Rotation::default(),
    )?;
    let mut count = 0;
    while let Some(frame) = source.next_frame()? {
        writer.write(&frame)?;
        count += 1;
    }
    writer.flush()?;
    let _ = traffic.join();
    Ok(count)
}

/// A port that nothing listens on (bound, then released).
fn closed_port() -> Result<u16, SourceError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io_err)?;
    Ok(l.local_addr().map_err(io_err)?.port())
}

fn make_traffic(server: TcpListener, closed_tcp: u16, closed_udp: u16) {
    let port = server.local_addr().map(|a| a.port()).unwrap_or(0);
    let handle = thread::spawn(move || {
        if let Ok((mut conn, _)) = server.accept() {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nhello, world\n",
            );
            let _ = conn.shutdown(Shutdown::Write);
            let _ = conn.read(&mut buf);
        }
    });
    if let Ok(mut client) = TcpStream::connect(("127.0.0.1", port)) {
        let _ = client.write_all(b"GET /v1/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let mut response = Vec::new();
        let _ = client.read_to_end(&mut response);
    }
    let _ = handle.join();
    let _ = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], closed_tcp)),
        Duration::from_secs(1),
    );
    if let Ok(udp) = UdpSocket::bind("127.0.0.1:0") {
        let _ = udp.send_to(b"ping", ("127.0.0.1", closed_udp));
        let _ = udp.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = udp.recv(&mut [0u8; 64]);
    }
}

fn io_err(e: std::io::Error) -> SourceError {
    SourceError::Pcap(format!("demo set-up failed: {e}"))
}

/// Raw-IP frames of the same story, for machines where capture is not allowed.
fn write_synthetic(path: &Path) -> Result<(), SourceError> {
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
