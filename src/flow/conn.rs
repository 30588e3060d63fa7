//! One conversation while it is open ([`Connection`]) and what is reported when
//! it ends ([`ConnRecord`]).

use std::net::SocketAddr;

use super::events::{TcpEventCounts, TcpEventKind, TcpEvents};
use super::key::{FlowKey, Protocol};
use super::reassembly::{Reassembler, ReassemblyStats, StreamEnd, StreamSink};
use super::rtt::{RttSummary, RttTracker};
use super::seq_analysis::{Segment, SeqAnalyzer};
use super::table::FlowSink;
use super::zeek::{DatagramTracker, SegmentFacts, ZeekTracker};
use crate::base::Side;
use crate::base::Timestamp;
use crate::decode::{SeqNum, TcpFlags};

/// SYN frames kept as evidence per connection.
const SYN_FRAMES: usize = 10;
/// A record this small sent just before a FIN is a closing alert (a TLS
/// close_notify is 24 to 31 bytes), not application data.
pub const CLOSE_RECORD_MAX: u32 = 64;
/// A SYN-ACK at least this long after the client's ACK is a resend by the
/// server's timer (Linux's minimum RTO): it did not take the ACK.
pub const IGNORED_ACK_MIN_NS: i64 = 200_000_000;
/// "Just before": within this long of the FIN.
pub const CLOSE_RECORD_GAP_NS: i64 = 50_000_000;

/// The lengths of one packet, from the outside in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketLen {
    /// On the wire, link layer included.
    pub wire: u32,
    /// The IP header's total length.
    pub ip: u32,
    /// The transport payload.
    pub payload: u32,
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Packets sent.
    pub packets: u64,
    /// Bytes on the wire (link layer included).
    pub bytes: u64,
    /// Transport payload bytes (as on the wire).
    pub payload_bytes: u64,
    /// Packets carrying payload (the base of retransmission rates).
    pub data_packets: u64,
    /// Bytes at the IP layer (the IP header's total length), as Zeek's
    /// `orig_ip_bytes`/`resp_ip_bytes`.
    pub ip_bytes: u64,
    /// TTL / hop limit of the first packet.
    pub first_ttl: Option<u8>,
}

/// An ICMP error that quoted this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpNote {
    /// Frame of the ICMP message.
    pub frame: u64,
    /// When it arrived.
    pub ts: Timestamp,
    /// Who sent it (a router or the peer).
    pub from: std::net::IpAddr,
    /// Its meaning, e.g. "port unreachable".
    pub description: String,
    /// True for destination-unreachable messages.
    pub unreachable: bool,
    /// For a quoted UDP datagram: its first two payload bytes (the DNS id).
    pub quoted_udp_head: Option<u16>,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Both sides sent FIN; `first` closed first.
    Fin {
        /// The side that closed first.
        first: Side,
    },
    /// One side sent FIN, the other never did.
    HalfClosed {
        /// The side that sent FIN.
        by: Side,
    },
    /// An RST ended it.
    Reset {
        /// Who sent the RST (by address; see the middlebox check in diagnosis).
        by: Side,
        /// Frame of the RST.
        frame: u64,
        /// Quiet time before the RST, nanoseconds.
        idle_before_ns: i64,
    },
    /// No packet for longer than the idle time-out.
    Timeout,
    /// Still open when the capture ended.
    OpenAtEnd,
    /// Pushed out of the table by `--max-flows`.
    Evicted,
}

/// TCP-only state of a connection.
#[derive(Debug, Default)]
pub struct TcpConn {
    analyzer: SeqAnalyzer,
    rtt: RttTracker,
    /// Per-segment analysis counts, client then server.
    pub events: [TcpEventCounts; 2],
    zeek: ZeekTracker,
    /// SYNs from the client: first time, count, frames.
    pub syn: Option<SynInfo>,
    /// First SYN-ACK from the server: time and frame.
    pub syn_ack: Option<(Timestamp, u64)>,
    /// SYN-ACKs the server sent before the client's ACK (more than one: the
    /// first was resent).
    pub syn_acks: u32,
    /// The SYN-ACK the client acknowledged (the latest before the handshake
    /// ACK): the end of the connect phase.
    pub answering_syn_ack: Option<(Timestamp, u64)>,
    /// The latest SYN and the first SYN-ACK after it: one round trip at the
    /// capture point, whatever was lost before.
    syn_leg: Option<i64>,
    /// The SYN `syn_leg` was measured from.
    leg_syn: Option<Timestamp>,
    /// A SYN-ACK came before the client's latest SYN (the client did not get it).
    pub syn_ack_before_resend: bool,
    /// SYN-ACKs the server resent after the client's handshake ACK: the server
    /// ignored that ACK (Linux does when its accept queue is full).
    pub syn_acks_after_ack: u32,
    /// The latest of those: time and frame.
    pub last_syn_ack_after_ack: Option<(Timestamp, u64)>,
    /// The client's ACK completing the handshake.
    pub handshake_ack: Option<(Timestamp, u64)>,
    /// First FIN of each side: time and frame.
    pub fin: [Option<(Timestamp, u64)>; 2],
    /// Quiet time on the connection before each side's first FIN, nanoseconds.
    pub fin_idle_ns: [Option<i64>; 2],
    /// The client's latest request: its first data segment after the server's
    /// data (or the connection's first), with the quiet time before it.
    pub request: Option<RequestStart>,
    /// The first data segment of each side and whether it was resent.
    pub first_data: [Option<FirstData>; 2],
    /// The first RST and who sent it.
    pub rst: Option<RstInfo>,
    /// Retransmissions of data the capture had already seen (loss after the capture
    /// point), and fills of holes it never saw (loss before it), per sender.
    pub loss: [LossCounts; 2],
    /// Sequence ranges the capture missed, per sender, for loss location.
    holes: [Holes; 2],
    /// Client ISN, to tell a SYN retransmission from a new connection on the same ports.
    pub client_isn: Option<SeqNum>,
    /// The latest segment carrying payload: sender, time, frame.
    pub last_payload: Option<(Side, Timestamp, u64)>,
    /// The two latest segments carrying payload (newest first): sender, time,
    /// length; for the quiet time before a close.
    recent_payload: [Option<(Side, Timestamp, u32)>; 2],
    /// When each side last reported a hole in what it received (duplicate ACK
    /// or SACK): a resend needs one, a reordering does not.
    last_report: [Option<Timestamp>; 2],
    /// Each direction's byte stream, client then server.
    streams: [Reassembler; 2],
    /// The streams' counters once they ended.
    stream_stats: [ReassemblyStats; 2],
}

/// Loss located relative to the capture point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossCounts {
    /// The original was captured, then sent again: lost after the capture point.
    pub downstream: u64,
    /// A hole the capture never saw was filled: lost before the capture point.
    pub upstream: u64,
    /// A hole filled sooner than a sender could have learned of a loss:
    /// reordering, not loss.
    pub reordered: u64,
}

/// The client's SYNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynInfo {
    /// Time of the first SYN.
    pub first: Timestamp,
    /// Time of the latest SYN.
    pub last: Timestamp,
    /// SYNs sent (1 = no retransmission).
    pub count: u32,
    /// Frames of the first SYNs.
    pub frames: Vec<u64>,
    /// Times of the first SYNs (the back-off).
    pub times: Vec<Timestamp>,
}

/// The start of the client's latest request on a connection (the first client
/// data after server data, or the connection's first data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestStart {
    /// When its first segment was sent.
    pub ts: Timestamp,
    /// Frame of that segment.
    pub frame: u64,
    /// Quiet time on the connection (both directions) before it, nanoseconds.
    pub idle_before_ns: i64,
    /// Sequence number of its first byte.
    seq: SeqNum,
    /// Times its bytes were sent again (resends of the client after it began).
    pub resends: u32,
    /// The latest resend: time and frame.
    pub last_resend: Option<(Timestamp, u64)>,
    /// Packets the server sent after it (an RST included).
    pub server_packets_after: u64,
    /// Server segments carrying data after it.
    pub server_data_after: u64,
    /// Server packets after it other than RSTs.
    pub server_non_rst_after: u64,
    /// Payload bytes of its first segment (a TLS close_notify is under 64).
    pub first_len: u32,
    /// The server had closed its side (FIN) before this request.
    pub after_server_fin: bool,
}

/// A side's first data segment, and its resend when there was one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstData {
    /// When it was sent.
    pub ts: Timestamp,
    /// Its frame.
    pub frame: u64,
    /// Sequence number of its first byte.
    seq: SeqNum,
    /// The first segment sending that byte again: time and frame.
    pub resent: Option<(Timestamp, u64)>,
}

/// The first RST of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RstInfo {
    /// Sender.
    pub by: Side,
    /// Frame.
    pub frame: u64,
    /// When.
    pub ts: Timestamp,
    /// Quiet time before it, nanoseconds.
    pub idle_before_ns: i64,
    /// TTL / hop limit of the RST.
    pub ttl: Option<u8>,
    /// Bytes the RST's peer had sent that were not yet acknowledged.
    pub peer_unacked: u64,
}

/// A conversation in the flow table.
#[derive(Debug)]
pub struct Connection {
    /// Connection id, in order of first packet, from 1.
    pub id: u64,
    /// Flow key.
    pub key: FlowKey,
    /// Client (originator) endpoint.
    pub client: SocketAddr,
    /// Server (responder) endpoint.
    pub server: SocketAddr,
    /// How the roles were decided.
    pub roles: RoleSource,
    /// First packet time and frame.
    pub first: (Timestamp, u64),
    /// Latest packet time and frame.
    pub last: (Timestamp, u64),
    /// Client then server counters.
    pub stats: [DirStats; 2],
    /// TCP state; `None` for UDP and ICMP.
    pub tcp: Option<Box<TcpConn>>,
    /// Zeek's history of a UDP or ICMP flow (unused for TCP).
    pub datagram: DatagramTracker,
    /// ICMP errors quoting this flow.
    pub icmp: Vec<IcmpNote>,
    /// Quiet since when before its first packet: that packet for a connection
    /// seen from its handshake, the capture's start for one seen mid-stream.
    pub quiet_since: Timestamp,
}

/// How client and server were told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSource {
    /// The SYN's sender is the client.
    Syn,
    /// Only the SYN-ACK was seen: its receiver is the client.
    SynAck,
    /// No handshake seen: the port numbers decided (see `table.rs`).
    Ports,
    /// No handshake and no port hint: the first packet's sender is the client.
    FirstPacket,
}

/// What one TCP segment contributes, as the table hands it over.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket {
    /// The segment facts for analysis.
    pub seg: Segment,
    /// Frame number.
    pub frame: u64,
    /// TTL / hop limit.
    pub ttl: u8,
}

impl Connection {
    /// A new connection; `tcp` selects TCP tracking.
    pub fn new(
        id: u64,
        key: FlowKey,
        client: SocketAddr,
        server: SocketAddr,
        roles: RoleSource,
        ts: Timestamp,
        frame: u64,
    ) -> Connection {
        let mut tcp = (key.protocol == Protocol::Tcp).then(Box::<TcpConn>::default);
        if let (Some(t), RoleSource::SynAck) = (tcp.as_mut(), roles) {
            t.zeek.flipped();
        }
        let datagram = DatagramTracker::new(key.protocol == Protocol::Icmp);
        Connection {
            id,
            key,
            client,
            server,
            roles,
            first: (ts, frame),
            last: (ts, frame),
            stats: [DirStats::default(); 2],
            tcp,
            datagram,
            icmp: Vec::new(),
            quiet_since: ts,
        }
    }

    /// The flow engine took the first packet's sender for the server (by its
    /// port): Zeek records that flip as `^` in the history.
    pub fn flipped_at_start(&mut self) {
        match self.tcp.as_mut() {
            Some(t) => t.zeek.flipped(),
            None => self.datagram.flipped(),
        }
    }

    /// Counts a packet of any protocol.
    pub fn count(&mut self, from: Side, len: PacketLen, ttl: u8, ts: Timestamp, frame: u64) {
        let PacketLen {
            wire: wire_len,
            ip: ip_len,
            payload: payload_len,
        } = len;
        if self.tcp.is_none() {
            self.datagram.on_packet(from);
        }
        let s = &mut self.stats[from as usize];
        s.packets += 1;
        s.bytes += u64::from(wire_len);
        s.ip_bytes += u64::from(ip_len);
        s.payload_bytes += u64::from(payload_len);
        s.data_packets += u64::from(payload_len > 0);
        s.first_ttl.get_or_insert(ttl);
        if ts >= self.last.0 {
            self.last = (ts, frame);
        }
    }

    /// Feeds one TCP segment (its captured `payload` too); returns its analysis
    /// flags. Reassembled bytes go to `sink`.
    pub fn on_tcp(
        &mut self,
        from: Side,
        p: &TcpPacket,
        payload: &[u8],
        sink: &mut impl FlowSink,
    ) -> TcpEvents {
        let seen = self.stats[0].packets + self.stats[1].packets > 0;
        let quiet_from = if seen { self.last.0 } else { self.quiet_since };
        let idle_before = p.seg.ts.since(quiet_from).max(0);
        let id = self.id;
        let Some(t) = self.tcp.as_mut() else {
            return TcpEvents::default();
        };
        let i = from as usize;
        let seg = &p.seg;
        let flags = seg.flags;
        let expected = t.analyzer.direction(i).next_seq;
        let events = t.analyzer.on_segment(i, seg);
        t.events[i].add(events, p.frame);

        let retransmission = events.iter().any(|k| k.is_retransmission());
        let end = seg.seq + seg.seq_len();
        if events.contains(TcpEventKind::LostSegment) {
            if let Some(hole_start) = expected {
                t.holes[i].add(hole_start, seg.seq, seg.ts);
            }
        }
        if seg.seq_len() > 0 {
            if !flags.contains(TcpFlags::SYN) {
                t.rtt.on_sent(i, seg.seq, end, seg.ts, retransmission);
            }
            // Data below the newest sent is either the fill of a hole the capture
            // never saw (lost before the capture point) or a resend of bytes it did
            // see (lost after it). Wireshark labels many SACK-driven resends
            // "out-of-order" (they follow new data within the handshake RTT), so
            // those count as resends too. Spurious ones are not loss.
            let resend = (retransmission || events.contains(TcpEventKind::OutOfOrder))
                && !events.contains(TcpEventKind::SpuriousRetransmission);
            if resend && seg.len > 0 {
                t.note_resend(i, seg.seq, end, seg.ts, p.frame);
            }
            if resend && seg.len > 0 {
                let report = t.last_report[1 - i];
                if let Some(verdict) = t.holes[i].fill(seg.seq, end, |opened| {
                    // A resend needs its sender to learn of the hole first: a
                    // report from the peer (duplicate ACK, SACK) after the hole
                    // opened, or a time-out. A hole whose first fill came before
                    // either was reordering (in the network or at the capture
                    // point), and the rest of that hole follows suit.
                    report.is_some_and(|r| r >= opened) || seg.ts.since(opened) >= RESEND_TIMEOUT_NS
                }) {
                    if verdict {
                        t.loss[i].upstream += 1;
                    } else {
                        t.loss[i].reordered += 1;
                    }
                } else {
                    t.loss[i].downstream += 1;
                }
            }
        }
        // What tells a sender to resend: duplicate ACKs or SACK blocks.
        if seg.sack || events.contains(TcpEventKind::DuplicateAck) {
            t.last_report[i] = Some(seg.ts);
        }
        // An RST's ACK field says nothing about when data arrived, and an ACK
        // riding on data waited for the application to answer: neither is a
        // network round trip.
        if flags.contains(TcpFlags::ACK) && !flags.contains(TcpFlags::RST) {
            t.rtt.on_ack(i, seg.ack, seg.ts, seg.len == 0);
        }
        // Roles were settled by the table before Zeek saw the flow (a flow first
        // seen at its SYN-ACK is created flipped), so Zeek's own flip rule only
        // fires for odd midstream orders; its history then carries the '^'.
        let _ = t.zeek.on_segment(
            from,
            &SegmentFacts {
                flags,
                seq: seg.seq,
                ack: seg.ack,
                payload_len: seg.len,
                window: seg.window,
            },
        );

        let syn = flags.contains(TcpFlags::SYN);
        let ack = flags.contains(TcpFlags::ACK);
        if syn && !ack && from == Side::Client {
            t.client_isn.get_or_insert(seg.seq);
            if t.syn_ack.is_some() && t.handshake_ack.is_none() {
                t.syn_ack_before_resend = true;
            }
            let info = t.syn.get_or_insert_with(|| SynInfo {
                first: seg.ts,
                last: seg.ts,
                count: 0,
                frames: Vec::new(),
                times: Vec::new(),
            });
            info.count += 1;
            info.last = seg.ts;
            if info.frames.len() < SYN_FRAMES {
                info.frames.push(p.frame);
                info.times.push(seg.ts);
            }
        } else if syn && ack && from == Side::Server {
            t.on_syn_ack(seg.ts, p.frame);
        } else if ack
            && !syn
            && from == Side::Client
            && t.syn_ack.is_some()
            && t.handshake_ack.is_none()
        {
            t.handshake_ack = Some((seg.ts, p.frame));
            if let Some((sa_ts, _)) = t.answering_syn_ack {
                // The record's `path_rtt`, known from here on.
                let rtt = t.syn_leg.unwrap_or(0).max(0) + seg.ts.since(sa_ts).max(0);
                sink.handshake_rtt(id, rtt);
            }
        }
        // A keep-alive probe (Windows sends one garbage byte below the next
        // sequence number) is no application data: not a request, not the
        // last payload before a close.
        let probe = events.contains(TcpEventKind::KeepAlive);
        if seg.len > 0 && !flags.contains(TcpFlags::RST) && !probe {
            if !retransmission {
                t.note_data(from, seg.seq, seg.len, seg.ts, p.frame, idle_before);
            }
            t.last_payload = Some((from, seg.ts, p.frame));
            t.recent_payload = [Some((from, seg.ts, seg.len)), t.recent_payload[0]];
        }
        if from == Side::Server {
            if let Some(r) = t.request.as_mut() {
                r.server_packets_after += 1;
                r.server_data_after += u64::from(seg.len > 0);
                r.server_non_rst_after += u64::from(!flags.contains(TcpFlags::RST));
            }
        }
        let id = self.id;
        let mut feed =
            |t: &mut TcpConn,
             side: Side,
             f: &mut dyn FnMut(&mut Reassembler, &mut StreamFeed<'_, _>)| {
                let mut out = StreamFeed {
                    sink: &mut *sink,
                    conn: id,
                    side,
                    gaps: 0,
                };
                f(&mut t.streams[side as usize], &mut out);
                for _ in 0..out.gaps {
                    t.zeek.on_content_gap(side);
                }
            };
        if syn {
            feed(t, from, &mut |r, _| r.on_syn(seg.seq));
        }
        if !flags.contains(TcpFlags::RST) && (seg.len > 0 || flags.contains(TcpFlags::FIN)) {
            let data_seq = if syn { seg.seq + 1 } else { seg.seq };
            let fin = flags.contains(TcpFlags::FIN);
            feed(t, from, &mut |r, out| {
                r.on_segment(data_seq, payload, seg.len, fin, p.frame, seg.ts, out)
            });
        }
        if ack && !flags.contains(TcpFlags::RST) {
            feed(t, from.peer(), &mut |r, out| r.on_peer_ack(seg.ack, out));
        }
        if flags.contains(TcpFlags::RST) {
            feed(t, from, &mut |r, out| r.on_reset(out));
            feed(t, from.peer(), &mut |r, out| r.on_reset(out));
        }
        if flags.contains(TcpFlags::FIN) && t.fin[i].is_none() {
            t.fin[i] = Some((seg.ts, p.frame));
            t.fin_idle_ns[i] = Some(t.quiet_before_close(from, seg.ts, self.first.0));
        }
        if flags.contains(TcpFlags::RST) && t.rst.is_none() {
            let peer = t.analyzer.direction(1 - i);
            let mine = t.analyzer.direction(i);
            // Bytes the peer sent beyond what the RST's sender had acknowledged.
            let peer_unacked = match (peer.next_seq, mine.last_ack) {
                (Some(next), Some(acked)) if next > acked => (next - acked).max(0) as u64,
                _ => 0,
            };
            t.rst = Some(RstInfo {
                by: from,
                frame: p.frame,
                ts: seg.ts,
                idle_before_ns: idle_before,
                ttl: Some(p.ttl),
                peer_unacked,
            });
        }
        events
    }

    /// Ends both byte streams (flushing what is buffered, with gaps); called once
    /// when the connection leaves the table.
    pub fn finish_streams(&mut self, sink: &mut impl FlowSink) {
        let id = self.id;
        if let Some(t) = self.tcp.as_mut() {
            for side in [Side::Client, Side::Server] {
                let mut out = StreamFeed {
                    sink: &mut *sink,
                    conn: id,
                    side,
                    gaps: 0,
                };
                t.streams[side as usize].finish(&mut out);
                t.stream_stats[side as usize] = t.streams[side as usize].stats().clone();
            }
        }
    }

    /// True once the connection is over at the TCP level (RST, or FIN both ways).
    pub fn is_closed(&self) -> bool {
        self.tcp
            .as_ref()
            .is_some_and(|t| t.rst.is_some() || (t.fin[0].is_some() && t.fin[1].is_some()))
    }

    /// True once the close is over: an RST, or FINs both ways and a packet
    /// after the second (its ACK). What follows is late, not new.
    pub fn is_close_complete(&self) -> bool {
        self.tcp.as_ref().is_some_and(|t| {
            t.rst.is_some()
                || matches!(t.fin, [Some((_, a)), Some((_, b))] if self.last.1 > a.max(b))
        })
    }

    /// True while the flow is only SYNs from the client, none answered: the
    /// state a SYN flood or a scan leaves by the million.
    pub fn is_syn_only(&self) -> bool {
        let [client, server] = &self.stats;
        self.tcp.as_ref().is_some_and(|t| {
            t.syn_ack.is_none()
                && t.rst.is_none()
                && t.fin == [None, None]
                // Every client packet was one of the SYNs.
                && t.syn.as_ref().is_some_and(|s| client.packets == u64::from(s.count))
        }) && server.packets == 0
            && client.payload_bytes == 0
    }

    /// True once the handshake completed or data flowed both ways.
    pub fn is_established(&self) -> bool {
        match &self.tcp {
            Some(t) => {
                t.syn_ack.is_some()
                    || (self.stats[0].payload_bytes > 0 && self.stats[1].packets > 0)
            }
            None => self.stats[1].packets > 0,
        }
    }

    /// Builds the record reported when the connection ends.
    pub fn into_record(self, ended: EndReason) -> ConnRecord {
        let duration_ns = self.last.0.since(self.first.0).max(0);
        let last_payload = self.tcp.as_ref().and_then(|t| t.last_payload);
        let request = self.tcp.as_ref().and_then(|t| t.request);
        let first_data = self.tcp.as_ref().map(|t| t.first_data).unwrap_or_default();
        let fin_idle_ns = self.tcp.as_ref().map(|t| t.fin_idle_ns).unwrap_or_default();
        let streams = self
            .tcp
            .as_ref()
            .map(|t| t.stream_stats.clone())
            .unwrap_or_default();
        let (state, history, handshake, rtt, events, loss, syn, rst, fin) = match &self.tcp {
            Some(t) => {
                let handshake = match (t.syn.as_ref(), t.answering_syn_ack, t.handshake_ack) {
                    (Some(syn), Some((sa_ts, answer_frame)), ack) => Some(HandshakeTiming {
                        answer_frame,
                        syn_to_syn_ack_ns: t.syn_leg.unwrap_or(0).max(0),
                        syn_ack_to_ack_ns: ack.map(|(ts, _)| ts.since(sa_ts).max(0)),
                        connect_ns: sa_ts.since(syn.first).max(0),
                        syn_acks: t.syn_acks,
                        syn_ack_before_resend: t.syn_ack_before_resend,
                        ignored_ack: t.handshake_ack.zip(t.last_syn_ack_after_ack).map(
                            |((ack, _), (last, frame))| IgnoredAck {
                                resends: t.syn_acks_after_ack,
                                waited_ns: last.since(ack).max(0),
                                frame,
                            },
                        ),
                    }),
                    _ => None,
                };
                (
                    t.zeek.state().as_str().to_string(),
                    t.zeek.history().to_string(),
                    handshake,
                    [t.rtt.samples(0).summary(), t.rtt.samples(1).summary()],
                    t.events.clone(),
                    t.loss,
                    t.syn.clone(),
                    t.rst,
                    t.fin,
                )
            }
            None => (
                self.datagram
                    .state([self.stats[0].packets, self.stats[1].packets])
                    .as_str()
                    .to_string(),
                self.datagram.history().to_string(),
                None,
                [None, None],
                Default::default(),
                Default::default(),
                None,
                None,
                [None, None],
            ),
        };
        let zeek_bytes = match &self.tcp {
            Some(t) => t.zeek.sizes().into(),
            None => [self.stats[0].payload_bytes, self.stats[1].payload_bytes],
        };
        ConnRecord {
            id: self.id,
            zeek_bytes,
            protocol: self.key.protocol,
            client: self.client,
            server: self.server,
            vlan: self.key.vlan,
            roles: self.roles,
            start: self.first.0,
            first_frame: self.first.1,
            last_frame: self.last.1,
            duration_ns,
            client_stats: self.stats[0],
            server_stats: self.stats[1],
            state,
            history,
            service: Vec::new(),
            handshake,
            rtt,
            events,
            loss,
            syn,
            rst,
            fin,
            icmp: self.icmp,
            last_payload,
            request,
            first_data,
            fin_idle_ns,
            streams,
            ended,
        }
    }
}

impl TcpConn {
    /// A SYN-ACK from the server.
    fn on_syn_ack(&mut self, ts: Timestamp, frame: u64) {
        self.syn_ack.get_or_insert((ts, frame));
        match self.handshake_ack {
            None => {
                self.syn_acks += 1;
                self.answering_syn_ack = Some((ts, frame));
            }
            // A SYN-ACK crossing the client's ACK answers a resent SYN; one a
            // retransmission time-out later means the server dropped the ACK.
            Some((ack, _)) if ts.since(ack) >= IGNORED_ACK_MIN_NS => {
                self.syn_acks_after_ack += 1;
                self.last_syn_ack_after_ack = Some((ts, frame));
            }
            Some(_) => {}
        }
        if let Some(syn) = &self.syn {
            // The first SYN-ACK after the latest SYN times one round trip.
            if ts >= syn.last && self.leg_syn != Some(syn.last) {
                self.syn_leg = Some(ts.since(syn.last));
                self.leg_syn = Some(syn.last);
            }
        }
    }

    /// The application's quiet time before `from` closed at `ts`: since the
    /// latest payload of either side, not counting a small record `from` sent
    /// just before its FIN (a TLS close_notify), nor keep-alive probes.
    fn quiet_before_close(&self, from: Side, ts: Timestamp, first: Timestamp) -> i64 {
        let quiet = match self.recent_payload {
            [Some((side, at, len)), before]
                if side == from
                    && len <= CLOSE_RECORD_MAX
                    && ts.since(at) <= CLOSE_RECORD_GAP_NS =>
            {
                at.since(before.map_or(first, |(_, t, _)| t))
            }
            [Some((_, at, _)), _] => ts.since(at),
            [None, _] => ts.since(first),
        };
        quiet.max(0)
    }

    /// A new (not resent) data segment from `from`.
    fn note_data(
        &mut self,
        from: Side,
        seq: SeqNum,
        len: u32,
        ts: Timestamp,
        frame: u64,
        idle: i64,
    ) {
        self.first_data[from as usize].get_or_insert(FirstData {
            ts,
            frame,
            seq,
            resent: None,
        });
        let starts_request =
            from == Side::Client && !matches!(self.last_payload, Some((Side::Client, _, _)));
        if starts_request {
            self.request = Some(RequestStart {
                ts,
                frame,
                idle_before_ns: idle,
                seq,
                resends: 0,
                last_resend: None,
                server_packets_after: 0,
                server_data_after: 0,
                server_non_rst_after: 0,
                first_len: len,
                after_server_fin: self.fin[Side::Server as usize].is_some(),
            });
        }
    }

    /// A resend of `[start, end)` by side `i`.
    fn note_resend(&mut self, i: usize, start: SeqNum, end: SeqNum, ts: Timestamp, frame: u64) {
        if let Some(f) = self.first_data[i].as_mut() {
            if f.resent.is_none() && start <= f.seq && f.seq < end {
                f.resent = Some((ts, frame));
            }
        }
        if i == Side::Client as usize {
            if let Some(r) = self.request.as_mut().filter(|r| end > r.seq) {
                r.resends += 1;
                r.last_resend = Some((ts, frame));
            }
        }
    }
}

impl ConnRecord {
    /// The round trip between client and server as seen from the capture point,
    /// nanoseconds: the handshake (SYN → SYN-ACK → ACK) when it was captured,
    /// else the sum of the two directions' median data samples.
    pub fn path_rtt(&self) -> Option<i64> {
        // The handshake is the cleanest measure: no application and no delayed
        // ACK sits inside it. Data samples are the fallback (capture started
        // mid-connection) and feed the jitter figures.
        if let Some(h) = self.handshake.filter(|h| h.syn_ack_to_ack_ns.is_some()) {
            return Some(h.syn_to_syn_ack_ns + h.syn_ack_to_ack_ns.unwrap_or(0));
        }
        match self.rtt {
            [None, None] => self.handshake.map(|h| h.syn_to_syn_ack_ns),
            [a, b] => Some(a.map_or(0, |r| r.median) + b.map_or(0, |r| r.median)),
        }
    }

    /// How long after `last_byte` the client last resent the request whose
    /// first segment is frame `first_frame` (0 when it was not resent, or the
    /// connection does not know that request): the server could not answer
    /// before it, so it is network time, not the server's.
    pub fn request_resend_ns(&self, first_frame: u64, last_byte: Timestamp) -> i64 {
        let resent = match (self.request, self.first_data[Side::Client as usize]) {
            (Some(r), _) if r.frame == first_frame => r.last_resend,
            (_, Some(f)) if f.frame == first_frame => f.resent,
            _ => None,
        };
        resent.map_or(0, |(ts, _)| ts.since(last_byte).max(0))
    }

    /// The latest transmission of request `r`: its latest resend, else its first.
    pub fn last_resend_or(&self, r: RequestStart) -> Timestamp {
        r.last_resend.map_or(r.ts, |(ts, _)| ts)
    }

    /// Segments carrying data that `side` sent again: the resends found by loss
    /// location (before or after the capture point) plus spurious ones.
    pub fn resent(&self, side: Side) -> u64 {
        let i = side as usize;
        let ev = &self.events[i];
        let loss = self.loss[i];
        // Every data segment Wireshark flags as resent (retransmission or
        // out-of-order) is located as lost before or after the capture point, or
        // as reordering; only the first two were sent again.
        loss.upstream + loss.downstream + ev.count(TcpEventKind::SpuriousRetransmission)
    }
}

/// Handshake timing split at the capture point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeTiming {
    /// The latest SYN to the first SYN-ACK after it: the path from the capture
    /// point to the server and back.
    pub syn_to_syn_ack_ns: i64,
    /// SYN-ACK to the client's ACK: the path to the client and back.
    pub syn_ack_to_ack_ns: Option<i64>,
    /// The connect phase: the first SYN to the SYN-ACK the client acknowledged,
    /// resent SYNs and SYN-ACKs included.
    pub connect_ns: i64,
    /// SYN-ACKs the server sent.
    pub syn_acks: u32,
    /// Frame of the SYN-ACK the client acknowledged.
    pub answer_frame: u64,
    /// A SYN-ACK was captured before the client's latest SYN: the client never
    /// got it.
    pub syn_ack_before_resend: bool,
    /// The server ignored the client's ACK and resent its SYN-ACK.
    pub ignored_ack: Option<IgnoredAck>,
}

/// The server resent its SYN-ACK after the client's ACK completed the
/// handshake: it dropped that ACK (a full accept queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgnoredAck {
    /// SYN-ACKs resent after the ACK.
    pub resends: u32,
    /// From the client's ACK to the latest of them, nanoseconds.
    pub waited_ns: i64,
    /// Frame of the latest of them.
    pub frame: u64,
}

impl HandshakeTiming {
    /// Connect time beyond one round trip: what resent SYNs or SYN-ACKs cost.
    pub fn lost_ns(&self) -> i64 {
        (self.connect_ns - self.syn_to_syn_ack_ns).max(0)
    }
}

/// What is reported about a connection once it has ended.
#[derive(Debug, Clone)]
pub struct ConnRecord {
    /// Connection id.
    pub id: u64,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// VLAN id.
    pub vlan: Option<u16>,
    /// How roles were decided.
    pub roles: RoleSource,
    /// First packet time.
    pub start: Timestamp,
    /// First frame.
    pub first_frame: u64,
    /// Last frame.
    pub last_frame: u64,
    /// Last packet minus first packet, nanoseconds.
    pub duration_ns: i64,
    /// Client-sent counters.
    pub client_stats: DirStats,
    /// Server-sent counters.
    pub server_stats: DirStats,
    /// Zeek conn_state.
    pub state: String,
    /// Zeek history.
    pub history: String,
    /// The application protocols recognised on the connection, in the order
    /// they were (Zeek's `service`: `dns`, `ssl`, `http`, ...). Empty from the
    /// flow engine; the application layer fills it.
    pub service: Vec<&'static str>,
    /// Payload bytes each side sent as Zeek counts them (client, server):
    /// TCP from sequence numbers (retransmissions once, holes included),
    /// UDP the datagrams' payload.
    pub zeek_bytes: [u64; 2],
    /// Handshake timing.
    pub handshake: Option<HandshakeTiming>,
    /// RTT statistics from data/ACK pairs, by sender of the data (client, server).
    pub rtt: [Option<RttSummary>; 2],
    /// Per-segment analysis, client then server.
    pub events: [TcpEventCounts; 2],
    /// Loss location, client then server as senders.
    pub loss: [LossCounts; 2],
    /// The client's SYNs.
    pub syn: Option<SynInfo>,
    /// The first RST.
    pub rst: Option<RstInfo>,
    /// First FIN per side (time, frame).
    pub fin: [Option<(Timestamp, u64)>; 2],
    /// ICMP errors quoting this flow.
    pub icmp: Vec<IcmpNote>,
    /// The latest segment carrying payload: sender, time, frame.
    pub last_payload: Option<(Side, Timestamp, u64)>,
    /// The client's latest request (see [`RequestStart`]).
    pub request: Option<RequestStart>,
    /// Each side's first data segment and its resend (client, server).
    pub first_data: [Option<FirstData>; 2],
    /// Quiet time before each side's first FIN (client, server), nanoseconds.
    pub fin_idle_ns: [Option<i64>; 2],
    /// Reassembly counters per direction (client, server): gaps, overlaps, ...
    pub streams: [ReassemblyStats; 2],
    /// How it ended.
    pub ended: EndReason,
}

/// Adapts one direction's reassembler output to the flow sink, counting gaps
/// for Zeek's history.
struct StreamFeed<'s, S: FlowSink> {
    sink: &'s mut S,
    conn: u64,
    side: Side,
    gaps: u64,
}

impl<S: FlowSink> StreamSink for StreamFeed<'_, S> {
    fn data(&mut self, offset: u64, bytes: &[u8], frame: u64, ts: Timestamp) {
        self.sink
            .stream_data(self.conn, self.side, offset, bytes, frame, ts);
    }

    fn gap(&mut self, offset: u64, len: u64) {
        self.gaps += 1;
        self.sink.stream_gap(self.conn, self.side, offset, len);
    }

    fn end(&mut self, how: StreamEnd) {
        self.sink.stream_end(self.conn, self.side, how);
    }
}

/// Holes kept per direction; older ones are forgotten (their fills then count as
/// downstream loss, the conservative reading).
const MAX_HOLES: usize = 256;

/// Sequence ranges a direction sent that the capture did not see.
#[derive(Debug, Clone, Default)]
struct Holes(Vec<Hole>);

#[derive(Debug, Clone, Copy)]
struct Hole {
    start: SeqNum,
    end: SeqNum,
    opened: Timestamp,
    /// Decided at the first fill: true for loss, false for reordering.
    verdict: Option<bool>,
}

impl Holes {
    fn add(&mut self, start: SeqNum, end: SeqNum, opened: Timestamp) {
        if end > start {
            if self.0.len() == MAX_HOLES {
                self.0.remove(0);
            }
            self.0.push(Hole {
                start,
                end,
                opened,
                verdict: None,
            });
        }
    }

    /// Removes what `[start, end)` covers. When it overlapped a hole, returns
    /// that hole's verdict, deciding it with `decide(opened)` at its first fill.
    fn fill(
        &mut self,
        start: SeqNum,
        end: SeqNum,
        decide: impl Fn(Timestamp) -> bool,
    ) -> Option<bool> {
        let mut hit = None;
        let mut kept = Vec::with_capacity(self.0.len());
        for &h in &self.0 {
            if start < h.end && end > h.start {
                let verdict = h.verdict.unwrap_or_else(|| decide(h.opened));
                hit.get_or_insert(verdict);
                let rest = Hole {
                    verdict: Some(verdict),
                    ..h
                };
                if h.start < start {
                    kept.push(Hole { end: start, ..rest });
                }
                if end < h.end {
                    kept.push(Hole { start: end, ..rest });
                }
            } else {
                kept.push(h);
            }
        }
        self.0 = kept;
        hit
    }
}

/// A fill this long after its hole opened is a resend after a time-out even
/// when no ACK was captured in between (Linux's minimum RTO is 200 ms).
const RESEND_TIMEOUT_NS: i64 = 200_000_000;
