//! A scripted TCP conversation that tracks sequence numbers, for builder-made
//! captures with exact timing (Ethernet, IPv4, one frame per call).

use etherparse::PacketBuilder;

use super::capture_builder::{PcapBuilder, PcapNgBuilder};
use super::{MAC_A, MAC_B};

pub const CLIENT: [u8; 4] = [10, 1, 0, 1];
pub const SERVER: [u8; 4] = [10, 1, 0, 2];
/// 2025-11-26 14:06:40 UTC.
pub const BASE_SECS: u32 = 1_764_166_000;

/// One side's view: address, port, next sequence number, TTL, window.
#[derive(Clone, Copy)]
pub struct End {
    pub addr: [u8; 4],
    pub port: u16,
    pub seq: u32,
    pub ttl: u8,
    pub window: u16,
}

/// Frames of a conversation, in order, with times in seconds from the start.
pub struct Conv {
    pub client: End,
    pub server: End,
    pub t: f64,
    frames: Vec<(f64, Vec<u8>)>,
}

impl Conv {
    pub fn new(client_port: u16, server_port: u16) -> Conv {
        Conv {
            client: End {
                addr: CLIENT,
                port: client_port,
                seq: 1_000,
                ttl: 64,
                window: 64_000,
            },
            server: End {
                addr: SERVER,
                port: server_port,
                seq: 900_000,
                ttl: 57,
                window: 64_000,
            },
            t: 0.0,
            frames: Vec::new(),
        }
    }

    /// Sets the time of the next frames (seconds since the first).
    pub fn at(&mut self, t: f64) -> &mut Self {
        self.t = t;
        self
    }

    /// The client sends `flags` ("S", "S.", ".", "P.", "F.", "R", "R.") and payload.
    pub fn c(&mut self, flags: &str, payload: &[u8]) -> &mut Self {
        let (from, to) = (self.client, self.server);
        let frame = segment(&from, &to, from.seq, to.seq, flags, payload);
        self.client.seq = advance(from.seq, flags, payload);
        self.frames.push((self.t, frame));
        self
    }

    /// The server sends.
    pub fn s(&mut self, flags: &str, payload: &[u8]) -> &mut Self {
        let (from, to) = (self.server, self.client);
        let frame = segment(&from, &to, from.seq, to.seq, flags, payload);
        self.server.seq = advance(from.seq, flags, payload);
        self.frames.push((self.t, frame));
        self
    }

    /// A client segment with an explicit sequence number (retransmissions, holes);
    /// does not move the client's sequence number.
    pub fn c_at_seq(&mut self, seq: u32, flags: &str, payload: &[u8]) -> &mut Self {
        let frame = segment(
            &self.client,
            &self.server,
            seq,
            self.server.seq,
            flags,
            payload,
        );
        self.frames.push((self.t, frame));
        self
    }

    /// A server segment with an explicit sequence number (retransmissions, holes);
    /// does not move the server's sequence number.
    pub fn s_at_seq(&mut self, seq: u32, flags: &str, payload: &[u8]) -> &mut Self {
        let frame = segment(
            &self.server,
            &self.client,
            seq,
            self.client.seq,
            flags,
            payload,
        );
        self.frames.push((self.t, frame));
        self
    }

    /// A client ACK with an explicit ack number (duplicate ACKs).
    pub fn c_dup_ack(&mut self, ack: u32) -> &mut Self {
        let frame = segment(&self.client, &self.server, self.client.seq, ack, ".", &[]);
        self.frames.push((self.t, frame));
        self
    }

    /// The frames so far with their times (seconds since the start).
    pub fn frames(&self) -> &[(f64, Vec<u8>)] {
        &self.frames
    }

    /// A server segment with an explicit ack number (duplicate ACKs, zero windows).
    pub fn s_ack(&mut self, ack: u32, flags: &str) -> &mut Self {
        let frame = segment(&self.server, &self.client, self.server.seq, ack, flags, &[]);
        self.frames.push((self.t, frame));
        self
    }

    /// Adds a finished frame as is (ICMP, other flows).
    pub fn raw(&mut self, frame: Vec<u8>) -> &mut Self {
        self.frames.push((self.t, frame));
        self
    }

    /// Handshake at the current time, `rtt` seconds between SYN and SYN-ACK.
    pub fn handshake(&mut self, rtt: f64) -> &mut Self {
        let t = self.t;
        self.c("S", &[])
            .at(t + rtt)
            .s("S.", &[])
            .at(t + rtt + 0.0001)
            .c(".", &[])
    }

    /// Number of frames so far (the next frame's number minus one).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// The conversation as a pcap file.
    pub fn pcap(&self) -> Vec<u8> {
        let mut b = PcapBuilder::new(1, 65_535, false, false);
        for (t, f) in &self.frames {
            let micros = (t * 1e6).round() as u64;
            b.packet(
                BASE_SECS + (micros / 1_000_000) as u32,
                (micros % 1_000_000) as u32,
                f.len() as u32,
                f,
            );
        }
        b.bytes()
    }
}

impl Conv {
    /// The conversation as pcapng (one Ethernet interface, microseconds), for the
    /// caller to append more blocks to (an ISB, say).
    pub fn pcapng(&self) -> PcapNgBuilder {
        let mut b = PcapNgBuilder::new(false);
        b.idb(1, 65_535, None, None);
        for (t, f) in &self.frames {
            let micros = u64::from(BASE_SECS) * 1_000_000 + (t * 1e6).round() as u64;
            b.epb(0, micros, f.len() as u32, f);
        }
        b
    }
}

fn advance(seq: u32, flags: &str, payload: &[u8]) -> u32 {
    let mut n = seq.wrapping_add(payload.len() as u32);
    if flags.contains('S') {
        n = n.wrapping_add(1);
    }
    if flags.contains('F') {
        n = n.wrapping_add(1);
    }
    n
}

/// Ethernet + IPv4 + TCP from `from` to `to`.
pub fn segment(from: &End, to: &End, seq: u32, ack: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(from.addr, to.addr, from.ttl)
        .tcp(
            from.port,
            to.port,
            seq,
            if flags.contains('S') {
                65_535
            } else {
                from.window
            },
        );
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            '.' => b.ack(ack),
            _ => b,
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("build frame");
    out
}
