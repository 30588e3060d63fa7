//! Per-segment TCP sequence analysis, following Wireshark's `tcp.analysis` rules
//! (packet-tcp.c, `tcp_analyze_sequence_number`), in Wireshark's order of checks:
//!
//! | flag | set when |
//! |---|---|
//! | zero_window | window field is 0 and none of SYN, FIN, RST |
//! | lost_segment | seq is beyond the next expected seq of this direction (not RST) |
//! | keep_alive | len ≤ 1, seq = next expected − 1, none of SYN, FIN, RST |
//! | window_full | len > 0 and seq + len reaches the peer's last ACK + its (scaled) window |
//! | duplicate_ack | len 0, window unchanged and non-zero, seq = next expected, ack = this side's last ACK, none of SYN, FIN, RST, connection established |
//! | ack_unseen | ACK beyond the peer's next expected seq (data the capture never saw) |
//! | spurious_retransmission | a retransmission (below) of data the peer had already acknowledged (checked first) |
//! | fast_retransmission | a retransmission (below) whose seq equals the peer's last ACK after ≥ 2 duplicate ACKs, within 20 ms of the last of them |
//! | out_of_order | a retransmission (below) arriving within the out-of-order threshold (the handshake RTT, or 3 ms) of the newest segment, not ending exactly at the next expected seq |
//! | retransmission | len > 0 or SYN/FIN, seq below the next expected seq, not a keep-alive |
//!
//! One segment gets at most one of the four retransmission-like kinds: the most
//! specific one (Wireshark also sets `retransmission` on fast and spurious ones).
//!
//! Differences from Wireshark, on purpose: window-update, zero-window-probe and
//! keep-alive-ACK detection are not reported (they only suppress other flags
//! here, as in Wireshark); "previous segment not captured" is not raised for the
//! first data segment of a capture that started mid-stream.

use super::events::{TcpEventKind, TcpEvents};
use crate::base::Timestamp;
use crate::decode::{SeqNum, TcpFlags};

/// Fast retransmissions follow the last duplicate ACK within this time (Wireshark's 20 ms).
const FAST_RETRANSMISSION_WINDOW_NS: i64 = 20_000_000;
/// Out-of-order threshold when no handshake RTT is known (Wireshark's 3 ms).
const DEFAULT_OOO_THRESHOLD_NS: i64 = 3_000_000;

/// The facts about one segment the analysis needs.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    /// Sequence number.
    pub seq: SeqNum,
    /// Acknowledgement number (meaningful when ACK is set).
    pub ack: SeqNum,
    /// Flags.
    pub flags: TcpFlags,
    /// Payload length on the wire.
    pub len: u32,
    /// Raw (unscaled) window field.
    pub window: u16,
    /// Window scale option, on SYN segments.
    pub window_scale: Option<u8>,
    /// The segment carries SACK blocks (parsed on pure ACKs only).
    pub sack: bool,
    /// Capture time.
    pub ts: Timestamp,
}

impl Segment {
    fn has(&self, f: TcpFlags) -> bool {
        self.flags.contains(f)
    }

    /// Sequence space consumed: payload plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.len
            .wrapping_add(u32::from(self.has(TcpFlags::SYN)))
            .wrapping_add(u32::from(self.has(TcpFlags::FIN)))
    }

    fn control(&self) -> bool {
        self.has(TcpFlags::SYN) || self.has(TcpFlags::FIN) || self.has(TcpFlags::RST)
    }
}

/// What one direction has shown so far (Wireshark's per-flow analysis state).
#[derive(Debug, Clone, Default)]
pub struct DirectionState {
    /// Next expected sequence number: the highest seq + len seen.
    pub next_seq: Option<SeqNum>,
    /// When `next_seq` last advanced.
    next_seq_ts: Timestamp,
    /// The last ACK number this side sent.
    pub last_ack: Option<SeqNum>,
    /// When this side last sent a new ACK (or a duplicate).
    last_ack_ts: Timestamp,
    /// The last raw window this side advertised.
    pub last_window: Option<u16>,
    /// Window scale shift this side announced (applies when both sides did).
    pub window_scale: Option<u8>,
    /// Duplicate ACKs sent in a row.
    dup_acks: u32,
}

/// Sequence analysis of one TCP connection (both directions).
#[derive(Debug, Clone, Default)]
pub struct SeqAnalyzer {
    dirs: [DirectionState; 2],
    /// Handshake RTT (SYN to the third packet's ACK), the out-of-order threshold.
    initial_rtt_ns: Option<i64>,
    syn_ts: Option<Timestamp>,
    synack_seen: bool,
}

impl SeqAnalyzer {
    /// A fresh analyzer.
    pub fn new() -> SeqAnalyzer {
        SeqAnalyzer::default()
    }

    /// The state of one direction (0 = client, 1 = server).
    pub fn direction(&self, index: usize) -> &DirectionState {
        &self.dirs[index.min(1)]
    }

    /// Analyzes one segment sent by direction `from` (0 = client, 1 = server) and
    /// updates the state. Returns the flags it earned.
    pub fn on_segment(&mut self, from: usize, seg: &Segment) -> TcpEvents {
        let from = from.min(1);
        let mut ev = TcpEvents::default();
        self.track_handshake(seg);

        let (fwd, rev) = {
            let (a, b) = self.dirs.split_at_mut(1);
            if from == 0 {
                (&mut a[0], &mut b[0])
            } else {
                (&mut b[0], &mut a[0])
            }
        };
        let seq_len = seg.seq_len();
        let seq_end = seg.seq + seq_len;

        if seg.window == 0 && !seg.control() {
            ev.insert(TcpEventKind::ZeroWindow);
        }
        if let Some(next) = fwd.next_seq {
            if seg.seq > next && !seg.has(TcpFlags::RST) {
                ev.insert(TcpEventKind::LostSegment);
            }
        }
        let keep_alive =
            seg.len <= 1 && !seg.control() && fwd.next_seq.is_some_and(|next| seg.seq + 1 == next);
        if keep_alive {
            ev.insert(TcpEventKind::KeepAlive);
        }
        if seg.len > 0 && !seg.control() {
            if let (Some(rev_ack), Some(rev_win)) = (rev.last_ack, rev.last_window) {
                let scale = match (fwd.window_scale, rev.window_scale) {
                    (Some(_), Some(s)) => u32::from(s.min(14)),
                    _ => 0,
                };
                let window = u32::from(rev_win) << scale;
                if seg.seq + seg.len == rev_ack + window {
                    ev.insert(TcpEventKind::WindowFull);
                }
            }
        }
        let is_ack = seg.has(TcpFlags::ACK);
        let window_update = seg.len == 0
            && !seg.control()
            && fwd.last_window.is_some_and(|w| w != seg.window)
            && fwd.next_seq == Some(seg.seq)
            && fwd.last_ack == Some(seg.ack);
        let duplicate_ack = is_ack
            && seg.len == 0
            && !seg.control()
            && seg.window != 0
            && fwd.last_window == Some(seg.window)
            && fwd.next_seq == Some(seg.seq)
            && fwd.last_ack == Some(seg.ack)
            && rev.next_seq.is_some()
            && !window_update;
        if duplicate_ack {
            fwd.dup_acks += 1;
            ev.insert(TcpEventKind::DuplicateAck);
        } else if is_ack && fwd.last_ack != Some(seg.ack) {
            fwd.dup_acks = 0;
        }
        if is_ack && !seg.has(TcpFlags::RST) {
            if let Some(rev_next) = rev.next_seq {
                if seg.ack > rev_next {
                    ev.insert(TcpEventKind::AckUnseen);
                }
            }
        }

        let carries = seg.len > 0 || seg.has(TcpFlags::SYN) || seg.has(TcpFlags::FIN);
        if carries && !keep_alive {
            if let Some(next) = fwd.next_seq {
                if seg.seq < next {
                    // Wireshark subtracts times as unsigned numbers: a capture
                    // whose clock steps back gives a huge gap, not a small one.
                    let since_dup = seg.ts.since(rev.last_ack_ts);
                    let ooo_threshold = self.initial_rtt_ns.unwrap_or(DEFAULT_OOO_THRESHOLD_NS);
                    // A segment longer than one byte starting one below the next
                    // expected byte follows a zero-window probe: it brings new
                    // data, so it is neither fast nor out-of-order (Wireshark).
                    let seq_not_advanced = !(seg.len > 1 && seg.seq + 1 == next);
                    // Wireshark's order: spurious, fast, out-of-order, plain.
                    let kind = if seg.len > 0 && rev.last_ack.is_some_and(|a| seq_end <= a) {
                        TcpEventKind::SpuriousRetransmission
                    } else if seq_not_advanced
                        && rev.dup_acks >= 2
                        && rev.last_ack == Some(seg.seq)
                        && (0..FAST_RETRANSMISSION_WINDOW_NS).contains(&since_dup)
                    {
                        TcpEventKind::FastRetransmission
                    } else if seq_not_advanced
                        && (0..ooo_threshold).contains(&seg.ts.since(fwd.next_seq_ts))
                        && next != seq_end
                    {
                        TcpEventKind::OutOfOrder
                    } else {
                        TcpEventKind::Retransmission
                    };
                    ev.insert(kind);
                }
            }
        }

        // Update this direction's state.
        if fwd.next_seq.is_none_or(|next| seq_end > next) && (carries || fwd.next_seq.is_none()) {
            fwd.next_seq = Some(seq_end);
            fwd.next_seq_ts = seg.ts;
        }
        if seg.has(TcpFlags::SYN) {
            fwd.window_scale = seg.window_scale;
        }
        // As Wireshark: the "last ACK time" is the time of this direction's
        // latest segment, whatever it carried.
        fwd.last_ack_ts = seg.ts;
        if is_ack {
            fwd.last_ack = Some(seg.ack);
        }
        if !seg.has(TcpFlags::RST) {
            fwd.last_window = Some(seg.window);
        }
        ev
    }

    fn track_handshake(&mut self, seg: &Segment) {
        let syn = seg.has(TcpFlags::SYN);
        let ack = seg.has(TcpFlags::ACK);
        if syn && !ack && self.syn_ts.is_none() {
            self.syn_ts = Some(seg.ts);
        } else if syn && ack {
            self.synack_seen = true;
        } else if ack && !syn && self.synack_seen && self.initial_rtt_ns.is_none() {
            if let Some(t) = self.syn_ts {
                self.initial_rtt_ns = Some(seg.ts.since(t).max(0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    fn seg(seq: u32, ack: u32, flags: TcpFlags, len: u32, win: u16, t_ms: i64) -> Segment {
        Segment {
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            len,
            window: win,
            window_scale: None,
            sack: false,
            ts: Timestamp(t_ms * MS),
        }
    }

    const A: TcpFlags = TcpFlags::ACK;

    fn handshake(a: &mut SeqAnalyzer) {
        assert!(a
            .on_segment(0, &seg(100, 0, TcpFlags::SYN, 0, 1000, 0))
            .is_empty());
        assert!(a
            .on_segment(
                1,
                &seg(500, 101, TcpFlags(TcpFlags::SYN.0 | A.0), 0, 1000, 10)
            )
            .is_empty());
        assert!(a.on_segment(0, &seg(101, 501, A, 0, 1000, 20)).is_empty());
    }

    fn kinds(e: TcpEvents) -> Vec<&'static str> {
        e.iter().map(|k| k.as_str()).collect()
    }

    #[test]
    fn retransmission_after_rto_is_plain() {
        let mut a = SeqAnalyzer::new();
        handshake(&mut a);
        assert!(a.on_segment(0, &seg(101, 501, A, 100, 1000, 30)).is_empty());
        let e = a.on_segment(0, &seg(101, 501, A, 100, 1000, 300));
        assert_eq!(kinds(e), ["retransmission"]);
    }

    #[test]
    fn dup_acks_then_fast_retransmission() {
        let mut a = SeqAnalyzer::new();
        handshake(&mut a);
        a.on_segment(0, &seg(101, 501, A, 100, 1000, 30));
        // 201..301 lost downstream of the capture; 301.. arrives, the server dup-ACKs.
        a.on_segment(0, &seg(201, 501, A, 100, 1000, 31));
        a.on_segment(0, &seg(301, 501, A, 100, 1000, 32));
        assert!(a.on_segment(1, &seg(501, 201, A, 0, 1000, 40)).is_empty());
        for t in 41..44 {
            let e = a.on_segment(1, &seg(501, 201, A, 0, 1000, t));
            assert_eq!(kinds(e), ["duplicate_ack"], "t={t}");
        }
        let e = a.on_segment(0, &seg(201, 501, A, 100, 1000, 50));
        assert_eq!(kinds(e), ["fast_retransmission"]);
    }

    #[test]
    fn clock_stepping_back_is_no_fast_retransmission() {
        let mut a = SeqAnalyzer::new();
        handshake(&mut a);
        a.on_segment(0, &seg(101, 501, A, 100, 1000, 30));
        a.on_segment(0, &seg(201, 501, A, 100, 1000, 31));
        a.on_segment(1, &seg(501, 201, A, 0, 1000, 40));
        a.on_segment(1, &seg(501, 201, A, 0, 1000, 41));
        a.on_segment(1, &seg(501, 201, A, 0, 1000, 42));
        // Timestamped 1 ms before the last duplicate ACK (capture clock jitter):
        // Wireshark's unsigned time difference makes this a plain retransmission.
        let e = a.on_segment(0, &seg(201, 501, A, 100, 1000, 41));
        assert_eq!(kinds(e), ["retransmission"]);
    }

    #[test]
    fn hole_in_capture_is_a_lost_segment_then_ack_unseen() {
        let mut a = SeqAnalyzer::new();
        handshake(&mut a);
        a.on_segment(0, &seg(101, 501, A, 100, 1000, 30));
        let e = a.on_segment(0, &seg(301, 501, A, 100, 1000, 31));
        assert_eq!(kinds(e), ["lost_segment"]);
        // The server acknowledges it all: fine, the hole is behind next_seq.
        let e = a.on_segment(1, &seg(501, 401, A, 0, 1000, 40));
        assert!(e.is_empty(), "{:?}", kinds(e));
        // An ACK beyond anything the client was seen sending.
        let e = a.on_segment(1, &seg(501, 901, A, 0, 1000, 41));
        assert_eq!(kinds(e), ["ack_unseen"]);
    }

    #[test]
    fn quick_reordering_is_out_of_order() {
        let mut a = SeqAnalyzer::new();
        handshake(&mut a); // initial RTT 20 ms
        a.on_segment(0, &seg(101, 501, A, 100, 1000, 30));
        a.on_segment(0, &seg(301, 501, A, 100, 1000, 31));
        let e = a.on_segment(0, &seg(201, 501, A, 100, 1000, 32));
        assert_eq!(kinds(e), ["out_of_order"]);
    }

    #[test]
    fn already_acked_data_is_spurious() {
        let mut a = SeqAnalyzer::new();
        handshake(&mut a);
        a.on_segment(0, &seg(101, 501, A, 100, 1000, 30));
        a.on_segment(1, &seg(501, 201, A, 0, 1000, 40));
        let e = a.on_segment(0, &seg(101, 501, A, 100, 1000, 400));
        assert_eq!(kinds(e), ["spurious_retransmission"]);
    }

    #[test]
    fn zero_window_keep_alive_and_window_full() {
        let mut a = SeqAnalyzer::new();
        handshake(&mut a);
        // Server's window is 1000 from ack 501? No: the server acks the client.
        a.on_segment(1, &seg(501, 101, A, 0, 300, 25));
        let e = a.on_segment(0, &seg(101, 501, A, 300, 1000, 30));
        assert_eq!(kinds(e), ["window_full"]);
        let e = a.on_segment(1, &seg(501, 401, A, 0, 0, 40));
        assert_eq!(kinds(e), ["zero_window"]);
        let e = a.on_segment(0, &seg(400, 501, A, 0, 1000, 5000));
        assert_eq!(kinds(e), ["keep_alive"]);
    }

    #[test]
    fn syn_retransmission_is_a_retransmission() {
        let mut a = SeqAnalyzer::new();
        a.on_segment(0, &seg(100, 0, TcpFlags::SYN, 0, 1000, 0));
        let e = a.on_segment(0, &seg(100, 0, TcpFlags::SYN, 0, 1000, 1000));
        assert_eq!(kinds(e), ["retransmission"]);
    }
}
