//! Zeek-compatible TCP connection `state` (conn.log `conn_state`) and `history`.
//!
//! People who know Zeek read these two fields at a glance, so they must be what Zeek would
//! log for the same packets. This module re-implements the rules of Zeek's TCP analyzer
//! (`TCPSessionAdapter` / the older `TCP_Analyzer`, `TCP_Endpoint`, `Connection`) and of
//! the `conn_state` function in `base/protocols/conn/main.zeek`, read from Zeek's public
//! source; no code was copied.
//!
//! # Model
//!
//! Each side (Zeek: originator = [`Side::Client`], responder = [`Side::Server`]) has an
//! endpoint state machine with Zeek's seven states, plus the sequence-space bookkeeping Zeek
//! uses to decide retransmissions, to compare control packets for repeated letters, and to
//! compute the endpoint's `size` (which `conn_state` consults once, for `REJ`).
//!
//! Per segment, in Zeek's order: (1) initialise the sender's sequence space, (2) compute
//! the relative sequence number, (3) history letters from the flags, (4) zero-window check,
//! (5) the ACK updates the peer's acknowledged sequence (or seeds the peer's sequence space
//! when the peer is still inactive), (6) the sender's highest sequence is advanced or the
//! segment is counted as a retransmission, (7) the endpoint state machine runs. Every
//! check in steps 3–6 sees the states *before* step 7.
//!
//! ## Endpoint transitions (what changes the state; everything else only raised "weirds")
//!
//! | state of sender | segment | effect |
//! |---|---|---|
//! | INACTIVE | SYN from originator | SYN_SENT (SYN_ACK_SENT if it also has ACK) |
//! | INACTIVE | SYN from responder | sender ESTABLISHED; an originator in SYN_SENT becomes ESTABLISHED. A bare SYN while the originator is in SYN_ACK_SENT is a SYN/SYN-ACK reversal: roles flip (`^`, [`Roles::Flipped`]) and both become ESTABLISHED |
//! | INACTIVE | FIN / RST | CLOSED / RESET (applied after the SYN rule, so SYN+FIN ends CLOSED) |
//! | INACTIVE | no SYN/FIN/RST | responder's empty segment while the originator is in SYN_SENT: stays INACTIVE; an ACK while the peer is ESTABLISHED: ESTABLISHED (missed SYN); otherwise PARTIAL |
//! | SYN_SENT, SYN_ACK_SENT | FIN / RST | CLOSED / RESET |
//! | ESTABLISHED, PARTIAL | bare SYN while PARTIAL and peer INACTIVE | SYN_SENT |
//! | ESTABLISHED, PARTIAL | FIN without RST | CLOSED; a peer in RESET that was CLOSED before returns to CLOSED (FIN then RST is a normal close) |
//! | ESTABLISHED, PARTIAL | RST | RESET |
//! | CLOSED | RST while the peer is not CLOSED | RESET |
//! | RESET | anything | stays RESET |
//!
//! ## `conn_state` from (originator state `os`, responder state `rs`), first match wins
//!
//! "inactive" means INACTIVE or PARTIAL.
//!
//! | condition | state |
//! |---|---|
//! | `rs` RESET and (`os` SYN_SENT or SYN_ACK_SENT, or `os` RESET with both sizes 0) | REJ |
//! | `rs` RESET and `os` inactive | RSTRH |
//! | `rs` RESET | RSTR |
//! | `os` RESET, `rs` inactive, history matches `^?S[^HAFGIQ]*R.*` | RSTOS0 |
//! | `os` RESET, `rs` inactive | OTH |
//! | `os` RESET | RSTO |
//! | both CLOSED | SF |
//! | `os` CLOSED | SH if `rs` inactive, else S2 |
//! | `rs` CLOSED | SHR if `os` inactive, else S3 |
//! | `os` SYN_SENT and `rs` INACTIVE | S0 |
//! | both ESTABLISHED | S1 |
//! | otherwise | OTH |
//!
//! ## History letters (uppercase: originator, lowercase: responder)
//!
//! | letter | recorded when | how often |
//! |---|---|---|
//! | `s` / `h` | exactly one of SYN/FIN/RST set, SYN without / with ACK | first time per side (`s` and `h` share one bit), again only if the relative sequence number differs from that side's previous SYN |
//! | `f` | exactly one of SYN/FIN/RST set, FIN | again only if the FIN's end (relative seq + payload) differs from the previous FIN's |
//! | `r` | exactly one of SYN/FIN/RST set, RST | again only if the relative seq differs from the previous RST's |
//! | `i` | FIN and RST both set | once per side |
//! | `q` | two or more of SYN/FIN/RST set, not FIN+RST (SYN+FIN, SYN+RST) | once per side |
//! | `d` | none of SYN/FIN/RST, payload > 0 | once per side |
//! | `a` | none of SYN/FIN/RST, no payload, ACK set | once per side |
//! | `w` | advertised window is 0, no RST, the peer is not CLOSED and the sender is not RESET (also on SYNs) | at the 1st, 10th, 100th, … occurrence |
//! | `t` | payload > 0 and the segment does not advance the sender's highest sequence (not while RESET; keep-alives count) | at the 1st, 10th, 100th, … occurrence |
//! | `g` | [`ZeekTracker::on_content_gap`], only while both sides are ESTABLISHED or CLOSED-after-ESTABLISHED | at the 1st, 10th, 100th, … occurrence |
//! | `^` | roles flipped ([`ZeekTracker::flipped`] or the SYN/SYN-ACK reversal) | each flip |
//!
//! On a flip Zeek swaps the two endpoints (their states, counters and last control
//! sequence numbers move with them) but neither re-cases earlier letters nor swaps the
//! "seen once" bits, so after a flip a letter already recorded for the old originator
//! counts as recorded for the new one. We do the same.
//!
//! # Known differences from Zeek
//!
//! * No `c`/`C`: checksums are not verified. Zeek also drops a bad-checksum segment
//!   before any TCP processing; we process every segment we are given.
//! * `g`/`G` comes from our reassembler through [`ZeekTracker::on_content_gap`]. Zeek
//!   detects a gap when an ACK covers bytes it never saw (or at the end of analysis), and
//!   ignores apparent gaps of 1–2 bytes at the start of partial connections; whether the
//!   engine reports exactly the same gaps depends on it. The "both sides cleanly
//!   established" filter is applied here.
//! * No `x` (Zeek's "analysis limits exceeded") and no `n`-style letters of newer Zeeks.
//! * Zeek's choice of roles for a connection whose first packet is not a bare SYN
//!   (`WantConnection`: flip when the source port is a likely server port and the
//!   destination is not, or when both are and the packet has no SYN and src < dst port)
//!   belongs to the flow engine, which calls [`ZeekTracker::flipped`] before the first
//!   segment. So does connection reuse (a new SYN on a closed connection starts a new
//!   connection in Zeek).
//! * The zero-window test uses the raw 16-bit window: a non-zero window is never zero
//!   after scaling, except for out-of-range shift counts where Zeek's C++ is undefined.
//! * History length is capped at [`MAX_HISTORY_LEN`] letters (Zeek has no cap);
//!   [`ZeekTracker::history_truncated`] tells when the cap was hit.

use std::fmt;

use crate::base::Side;
use crate::decode::{SeqNum, TcpFlags};

mod datagram;
#[cfg(test)]
mod tests;

pub use datagram::DatagramTracker;

/// Upper bound on the history string. Repeats of `s h f r` need a new sequence number
/// each time, so hostile traffic could otherwise grow the string without bound.
pub const MAX_HISTORY_LEN: usize = 512;

/// Zeek's `TOO_LARGE_SEQ_DELTA`: SYN/RST sequence jumps beyond this are not trusted.
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;

/// Zeek's `conn_state` values, as logged in conn.log.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Connection established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected.
    REJ,
    /// Established, close attempt by the originator seen (no reply from the responder).
    S2,
    /// Established, close attempt by the responder seen (no reply from the originator).
    S3,
    /// Established, the originator aborted (sent a RST).
    RSTO,
    /// The responder sent a RST.
    RSTR,
    /// The originator sent a SYN then a RST; no SYN-ACK from the responder was seen.
    RSTOS0,
    /// The responder sent a SYN-ACK then a RST; no SYN from the originator was seen.
    RSTRH,
    /// The originator sent a SYN then a FIN; no SYN-ACK was seen ("half" open).
    SH,
    /// The responder sent a SYN-ACK then a FIN; no SYN from the originator was seen.
    SHR,
    /// No SYN seen, just midstream traffic.
    OTH,
}

impl ConnState {
    /// Every value, in Zeek's documentation order.
    pub const ALL: [ConnState; 13] = [
        ConnState::S0,
        ConnState::S1,
        ConnState::SF,
        ConnState::REJ,
        ConnState::S2,
        ConnState::S3,
        ConnState::RSTO,
        ConnState::RSTR,
        ConnState::RSTOS0,
        ConnState::RSTRH,
        ConnState::SH,
        ConnState::SHR,
        ConnState::OTH,
    ];

    /// The code as Zeek logs it (`"SF"`, `"REJ"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }

    /// Zeek's one-line description of the state (from conn.log's documentation).
    pub fn meaning(self) -> &'static str {
        match self {
            ConnState::S0 => "Connection attempt seen, no reply.",
            ConnState::S1 => "Connection established, not terminated.",
            ConnState::SF => "Normal establishment and termination.",
            ConnState::REJ => "Connection attempt rejected.",
            ConnState::S2 => {
                "Connection established and close attempt by originator seen (but no reply from responder)."
            }
            ConnState::S3 => {
                "Connection established and close attempt by responder seen (but no reply from originator)."
            }
            ConnState::RSTO => "Connection established, originator aborted (sent a RST).",
            ConnState::RSTR => "Responder sent a RST.",
            ConnState::RSTOS0 => {
                "Originator sent a SYN followed by a RST, we never saw a SYN-ACK from the responder."
            }
            ConnState::RSTRH => {
                "Responder sent a SYN ACK followed by a RST, we never saw a SYN from the (purported) originator."
            }
            ConnState::SH => {
                "Originator sent a SYN followed by a FIN, we never saw a SYN ACK from the responder (hence the connection was \"half\" open)."
            }
            ConnState::SHR => {
                "Responder sent a SYN ACK followed by a FIN, we never saw a SYN from the originator."
            }
            ConnState::OTH => "No SYN seen, just midstream traffic.",
        }
    }
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the tracker needs to know about one TCP segment.
///
/// Retransmissions are not an input: Zeek's `t` has its own definition (payload that does
/// not advance the sender's highest sequence number), which the tracker applies itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentFacts {
    /// The flag bits.
    pub flags: TcpFlags,
    /// The sequence number.
    pub seq: SeqNum,
    /// The acknowledgment number (looked at only when the ACK flag is set).
    pub ack: SeqNum,
    /// Payload length from the IP header (not the captured length).
    pub payload_len: u32,
    /// The raw, unscaled receive window.
    pub window: u16,
}

/// Whether a segment made the tracker swap originator and responder.
#[must_use = "after a flip the caller's client is Zeek's responder: swap the sides it passes"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// Roles unchanged.
    Kept,
    /// Zeek's SYN/SYN-ACK reversal: the sender of this segment is now the originator
    /// ([`Side::Client`]); later segments must be passed with the sides swapped.
    Flipped,
}

/// Zeek's per-endpoint TCP state (`EndpointState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndpointState {
    /// Nothing seen from this side.
    Inactive,
    /// SYN seen, no ACK.
    SynSent,
    /// SYN-ACK seen from an originator, no initial SYN.
    SynAckSent,
    /// Data seen, but no SYN.
    Partial,
    /// SYN-ACK seen (implicit for a SYN sent by the responder).
    Established,
    /// FIN seen.
    Closed,
    /// RST seen.
    Reset,
}

/// Zeek's logarithmic letter counter: log at the 1st, 10th, 100th, … event.
#[derive(Debug, Clone, Copy)]
struct Scaled {
    count: u32,
    threshold: u32,
}

impl Scaled {
    const fn new() -> Self {
        Scaled {
            count: 0,
            threshold: 1,
        }
    }

    /// Counts one event; true when this one is to be logged.
    fn bump(&mut self) -> bool {
        self.count = self.count.wrapping_add(1);
        if self.count != self.threshold {
            return false;
        }
        let next = self.threshold.wrapping_mul(10);
        if next <= self.threshold {
            // Zeek: on overflow keep the threshold and restart the count.
            self.count = 0;
        } else {
            self.threshold = next;
        }
        true
    }
}

/// One side's state and sequence-space bookkeeping (Zeek's `TCP_Endpoint`).
#[derive(Debug, Clone)]
struct Endpoint {
    state: EndpointState,
    prev_state: EndpointState,
    /// Initial sequence number (as if a SYN had been seen for partial connections).
    start_seq: u32,
    /// One past the highest sequence number sent.
    last_seq: u32,
    /// Highest sequence number of this side acknowledged by the peer.
    ack_seq: u32,
    seq_wraps: u32,
    ack_wraps: u32,
    fin_cnt: u32,
    hist_last_syn: u64,
    hist_last_fin: u64,
    hist_last_rst: u64,
    rxmit: Scaled,
    win0: Scaled,
    gap: Scaled,
}

impl Endpoint {
    const fn new() -> Self {
        Endpoint {
            state: EndpointState::Inactive,
            prev_state: EndpointState::Inactive,
            start_seq: 0,
            last_seq: 0,
            ack_seq: 0,
            seq_wraps: 0,
            ack_wraps: 0,
            fin_cnt: 0,
            hist_last_syn: 0,
            hist_last_fin: 0,
            hist_last_rst: 0,
            rxmit: Scaled::new(),
            win0: Scaled::new(),
            gap: Scaled::new(),
        }
    }

    fn set_state(&mut self, new: EndpointState) {
        if new != self.state {
            self.prev_state = self.state;
            self.state = new;
        }
    }

    fn reseed(&mut self, start: u32, last: u32) {
        self.start_seq = start;
        self.ack_seq = start;
        self.last_seq = last;
    }

    /// Zeek's `init_endpoint`: (re)start the sequence space from this segment.
    fn init_from_segment(&mut self, syn: bool, seq: u32, one_past: u32) {
        match self.state {
            EndpointState::Inactive => {
                if syn {
                    self.reseed(seq, one_past);
                } else {
                    // Partial connection: number bytes as if a SYN had been seen, and
                    // make sure this first segment does not look like a retransmission.
                    self.reseed(seq.wrapping_sub(1), seq);
                }
            }
            EndpointState::SynSent | EndpointState::SynAckSent => {
                if syn && seq != self.start_seq {
                    self.reseed(seq, one_past);
                }
            }
            EndpointState::Established | EndpointState::Partial => {
                if syn {
                    self.reseed(seq, one_past);
                }
            }
            EndpointState::Reset => {
                if syn && self.prev_state == EndpointState::Inactive {
                    self.reseed(seq, one_past);
                }
            }
            EndpointState::Closed => {}
        }
    }

    /// Zeek's `init_peer`: the first ACK for a silent side seeds its sequence space.
    fn init_from_peer_ack(&mut self, ack: u32) {
        let start = ack.wrapping_sub(1);
        self.reseed(start, start);
    }

    /// Zeek's `get_relative_seq`: `seq` relative to the start, with wrap-around counting;
    /// the flag is true when `seq` lies before the start (an "underflow").
    fn relative(&self, seq: u32, last: u32, wraps: u32) -> (u64, bool) {
        let delta = seq.wrapping_sub(last) as i32;
        let mut wraps = wraps;
        if delta < 0 {
            if wraps != 0 && seq > last {
                wraps -= 1;
            }
        } else if delta > 0 && seq < last {
            wraps = wraps.wrapping_add(1);
        }
        if wraps == 0 {
            let d = seq.wrapping_sub(self.start_seq) as i32;
            // Zeek returns the signed delta as an unsigned 64-bit value.
            (i64::from(d) as u64, d < 0)
        } else {
            let full = (u64::from(wraps) << 32) + u64::from(seq);
            (full.wrapping_sub(u64::from(self.start_seq)), false)
        }
    }

    fn update_ack_seq(&mut self, ack: u32) {
        let delta = ack.wrapping_sub(self.ack_seq) as i32;
        if ack == 0 && delta > TOO_LARGE_SEQ_DELTA {
            // More likely a broken ack than a connection landing exactly on 0.
            return;
        }
        if delta > 0 {
            if ack < self.ack_seq {
                self.ack_wraps = self.ack_wraps.wrapping_add(1);
            }
            self.ack_seq = ack;
        }
    }

    fn advance_last_seq(&mut self, seq: u32) {
        if seq < self.last_seq {
            self.seq_wraps = self.seq_wraps.wrapping_add(1);
        }
        self.last_seq = seq;
    }

    /// Zeek's `update_last_seq`; true when the segment counts as a retransmission.
    fn update_last_seq(&mut self, one_past: u32, flags: Flags, len: u32) -> bool {
        let delta = one_past.wrapping_sub(self.last_seq) as i32;
        if (flags.syn || flags.rst)
            && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta)
        {
            false
        } else if flags.fin && self.last_seq == self.start_seq.wrapping_add(1) {
            // Only SYN and FIN seen (or > 2 GB): trust the FIN even if it goes backwards.
            self.advance_last_seq(one_past);
            false
        } else if self.state == EndpointState::Reset {
            false
        } else if delta > 0 {
            self.advance_last_seq(one_past);
            false
        } else {
            len > 0
        }
    }

    fn no_data_acked(&self) -> bool {
        let ack = (u64::from(self.ack_wraps) << 32) + u64::from(self.ack_seq);
        let start = u64::from(self.start_seq);
        ack == start || ack == start.wrapping_add(1)
    }

    /// Zeek's `TCP_Endpoint::Size`: payload bytes from sequence numbers.
    fn size(&self, peer_state: EndpointState) -> u64 {
        if self.prev_state == EndpointState::SynSent
            && self.state == EndpointState::Reset
            && peer_state == EndpointState::Inactive
            && !self.no_data_acked()
        {
            // A half-open connection discovered and aborted.
            return 0;
        }
        let last = (u64::from(self.seq_wraps) << 32) + u64::from(self.last_seq);
        let ack = (u64::from(self.ack_wraps) << 32) + u64::from(self.ack_seq);
        // Neither the SYN octet nor (once one was sent) the FIN octet is payload.
        let size = last
            .max(ack)
            .wrapping_sub(u64::from(self.start_seq))
            .saturating_sub(1);
        if self.fin_cnt > 0 {
            size.saturating_sub(1)
        } else {
            size
        }
    }

    /// Zeek's `is_clean`: established, or closed straight from established.
    fn is_clean(&self) -> bool {
        self.state == EndpointState::Established
            || (self.state == EndpointState::Closed
                && self.prev_state == EndpointState::Established)
    }
}

/// The control bits the rules look at.
#[derive(Debug, Clone, Copy)]
struct Flags {
    syn: bool,
    fin: bool,
    rst: bool,
    ack: bool,
}

impl From<TcpFlags> for Flags {
    fn from(f: TcpFlags) -> Flags {
        Flags {
            syn: f.contains(TcpFlags::SYN),
            fin: f.contains(TcpFlags::FIN),
            rst: f.contains(TcpFlags::RST),
            ack: f.contains(TcpFlags::ACK),
        }
    }
}

/// "Seen once" bits, per side (responder bits are shifted left by 16, as in Zeek).
mod mask {
    pub const SYN: u32 = 0x1;
    pub const FIN: u32 = 0x2;
    pub const RST: u32 = 0x4;
    pub const FIN_RST: u32 = 0x8;
    pub const DATA: u32 = 0x10;
    pub const ACK: u32 = 0x20;
    pub const MULTI_FLAG: u32 = 0x40;
}

/// The history string and the "seen once" bits.
#[derive(Debug, Clone, Default)]
struct History {
    seen: u32,
    text: String,
    truncated: bool,
}

impl History {
    fn add(&mut self, side: Side, upper: char) {
        let c = match side {
            Side::Client => upper,
            Side::Server => upper.to_ascii_lowercase(),
        };
        if self.text.len() < MAX_HISTORY_LEN {
            self.text.push(c);
        } else {
            self.truncated = true;
        }
    }

    /// Records the letter the first time; returns true when it had been seen before
    /// (Zeek's `CheckHistory`).
    fn check(&mut self, side: Side, mask: u32, upper: char) -> bool {
        let mask = match side {
            Side::Client => mask,
            Side::Server => mask << 16,
        };
        if self.seen & mask == 0 {
            self.seen |= mask;
            self.add(side, upper);
            false
        } else {
            true
        }
    }
}

/// Tracks one TCP connection's Zeek `conn_state` and `history`.
///
/// Feed every segment in capture order with [`on_segment`](Self::on_segment), reassembly
/// gaps with [`on_content_gap`](Self::on_content_gap), and role flips decided by the flow
/// engine with [`flipped`](Self::flipped). Sans-IO, no allocation beyond the history
/// string, never panics.
#[derive(Debug, Clone)]
pub struct ZeekTracker {
    orig: Endpoint,
    resp: Endpoint,
    history: History,
}

impl Default for ZeekTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl ZeekTracker {
    /// A tracker for a connection with nothing seen yet.
    pub fn new() -> Self {
        ZeekTracker {
            orig: Endpoint::new(),
            resp: Endpoint::new(),
            history: History::default(),
        }
    }

    fn endpoint(&self, side: Side) -> &Endpoint {
        match side {
            Side::Client => &self.orig,
            Side::Server => &self.resp,
        }
    }

    fn endpoint_mut(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::Client => &mut self.orig,
            Side::Server => &mut self.resp,
        }
    }

    /// Processes one segment sent by `from`.
    ///
    /// Returns [`Roles::Flipped`] when the segment completed Zeek's SYN/SYN-ACK reversal
    /// (a bare SYN from the responder after the originator sent a SYN-ACK): from then on
    /// the sender of this segment is the originator, and the caller must swap the sides it
    /// passes (and must not call [`flipped`](Self::flipped) for it).
    pub fn on_segment(&mut self, from: Side, seg: &SegmentFacts) -> Roles {
        let flags = Flags::from(seg.flags);
        let len = seg.payload_len;
        let seq = seg.seq.0;
        let ack = seg.ack.0;
        let peer_side = from.peer();

        // Sequence space consumed: SYN and FIN count one each; a RST's payload does not.
        let mut seg_len = len;
        if flags.syn {
            seg_len = seg_len.wrapping_add(1);
        }
        if flags.fin {
            seg_len = seg_len.wrapping_add(1);
        }
        if flags.rst {
            seg_len = seg_len.wrapping_sub(len);
        }
        let one_past = seq.wrapping_add(seg_len);

        let ep = self.endpoint_mut(from);
        ep.init_from_segment(flags.syn, seq, one_past);
        let (rel_seq, _underflow) = ep.relative(seq, ep.last_seq, ep.seq_wraps);

        self.update_history(from, flags, rel_seq, len);

        let peer_state = self.endpoint(peer_side).state;
        let ep = self.endpoint_mut(from);
        let zero_window = seg.window == 0
            && !flags.rst
            && peer_state != EndpointState::Closed
            && ep.state != EndpointState::Reset;
        if zero_window && ep.win0.bump() {
            self.history.add(from, 'W');
        }

        let ep = self.endpoint_mut(from);
        if flags.fin {
            ep.fin_cnt = ep.fin_cnt.saturating_add(1);
        }

        if flags.ack {
            let peer = self.endpoint_mut(peer_side);
            if peer.state == EndpointState::Inactive {
                peer.init_from_peer_ack(ack);
            } else {
                let (_, underflow) = peer.relative(ack, peer.ack_seq, peer.ack_wraps);
                // RSTs' acks are not trusted.
                if !underflow && !flags.rst {
                    peer.update_ack_seq(ack);
                }
            }
        }

        if self
            .endpoint_mut(from)
            .update_last_seq(one_past, flags, len)
            && self.endpoint_mut(from).rxmit.bump()
        {
            self.history.add(from, 'T');
        }

        self.update_state_machine(from, flags, seq, len)
    }

    /// Zeek's `update_history`: the flag letters.
    fn update_history(&mut self, from: Side, flags: Flags, rel_seq: u64, len: u32) {
        let bits = u8::from(flags.syn) + u8::from(flags.fin) + u8::from(flags.rst);
        let h = &mut self.history;
        let ep = match from {
            Side::Client => &mut self.orig,
            Side::Server => &mut self.resp,
        };
        if bits > 1 {
            if flags.fin && flags.rst {
                h.check(from, mask::FIN_RST, 'I');
            } else {
                h.check(from, mask::MULTI_FLAG, 'Q');
            }
        } else if bits == 1 {
            if flags.syn {
                let code = if flags.ack { 'H' } else { 'S' };
                if h.check(from, mask::SYN, code) && rel_seq != ep.hist_last_syn {
                    h.add(from, code);
                }
                ep.hist_last_syn = rel_seq;
            }
            if flags.fin {
                // A FIN's sequence number is at the end of its payload.
                let fin_at = rel_seq.wrapping_add(u64::from(len));
                if h.check(from, mask::FIN, 'F') && fin_at != ep.hist_last_fin {
                    h.add(from, 'F');
                }
                ep.hist_last_fin = fin_at;
            }
            if flags.rst {
                if h.check(from, mask::RST, 'R') && rel_seq != ep.hist_last_rst {
                    h.add(from, 'R');
                }
                ep.hist_last_rst = rel_seq;
            }
        } else if len > 0 {
            h.check(from, mask::DATA, 'D');
        } else if flags.ack {
            h.check(from, mask::ACK, 'A');
        }
    }

    /// Zeek's `UpdateStateMachine`, dispatched on the sender's state.
    fn update_state_machine(&mut self, from: Side, flags: Flags, seq: u32, len: u32) -> Roles {
        match self.endpoint(from).state {
            EndpointState::Inactive => return self.leave_inactive(from, flags, seq, len),
            EndpointState::SynSent | EndpointState::SynAckSent => {
                let ep = self.endpoint_mut(from);
                if flags.fin {
                    ep.set_state(EndpointState::Closed);
                }
                if flags.rst {
                    ep.set_state(EndpointState::Reset);
                }
            }
            EndpointState::Established | EndpointState::Partial => {
                let peer = self.endpoint(from.peer()).clone();
                let ep = self.endpoint_mut(from);
                if flags.syn
                    && !flags.ack
                    && ep.state == EndpointState::Partial
                    && peer.state == EndpointState::Inactive
                {
                    ep.set_state(EndpointState::SynSent);
                }
                if flags.fin && !flags.rst {
                    ep.set_state(EndpointState::Closed);
                    if peer.state == EndpointState::Reset
                        && peer.prev_state == EndpointState::Closed
                    {
                        // FIN followed by RST from the peer was a normal close after all.
                        self.endpoint_mut(from.peer())
                            .set_state(EndpointState::Closed);
                    }
                }
                if flags.rst {
                    self.endpoint_mut(from).set_state(EndpointState::Reset);
                }
            }
            EndpointState::Closed => {
                // After a FIN exchange a RST changes nothing.
                if flags.rst && self.endpoint(from.peer()).state != EndpointState::Closed {
                    self.endpoint_mut(from).set_state(EndpointState::Reset);
                }
            }
            EndpointState::Reset => {}
        }
        Roles::Kept
    }

    /// Zeek's `UpdateInactiveState`: the first segment(s) from a side.
    fn leave_inactive(&mut self, from: Side, flags: Flags, seq: u32, len: u32) -> Roles {
        let is_orig = from == Side::Client;
        let mut roles = Roles::Kept;
        // Which stored endpoint is "this" one; changes if the roles flip.
        let mut this = from;
        if flags.syn {
            if is_orig {
                let state = if flags.ack {
                    EndpointState::SynAckSent
                } else {
                    EndpointState::SynSent
                };
                self.orig.set_state(state);
            } else {
                if !flags.ack
                    && self.orig.state == EndpointState::SynAckSent
                    && seq == self.resp.start_seq
                {
                    // SYN/SYN-ACK reversal: the SYN-ACK's sender is the responder.
                    self.flip();
                    this = Side::Client;
                    roles = Roles::Flipped;
                    self.resp.set_state(EndpointState::Established);
                }
                let peer = self.endpoint_mut(this.peer());
                if peer.state == EndpointState::SynSent {
                    peer.set_state(EndpointState::Established);
                }
                self.endpoint_mut(this)
                    .set_state(EndpointState::Established);
            }
        }
        if flags.fin {
            self.endpoint_mut(this).set_state(EndpointState::Closed);
        }
        if flags.rst {
            self.endpoint_mut(this).set_state(EndpointState::Reset);
        }
        if self.endpoint(this).state == EndpointState::Inactive {
            let peer_state = self.endpoint(this.peer()).state;
            if !is_orig && len == 0 && self.orig.state == EndpointState::SynSent {
                // Some stacks ack a SYN before sending their SYN-ACK: not a partial
                // connection yet.
            } else if flags.ack && peer_state == EndpointState::Established {
                // SYN-ACK seen but the SYN missed: treat as established.
                self.endpoint_mut(this)
                    .set_state(EndpointState::Established);
            } else {
                self.endpoint_mut(this).set_state(EndpointState::Partial);
            }
        }
        roles
    }

    fn flip(&mut self) {
        std::mem::swap(&mut self.orig, &mut self.resp);
        self.history.add(Side::Client, '^');
    }

    /// Reports missing bytes in `from`'s stream found by reassembly (`g`/`G`).
    ///
    /// Recorded only while both sides are established (or closed straight from
    /// established), as Zeek does; logged at the 1st, 10th, 100th, … gap.
    pub fn on_content_gap(&mut self, from: Side) {
        if self.orig.is_clean() && self.resp.is_clean() && self.endpoint_mut(from).gap.bump() {
            self.history.add(from, 'G');
        }
    }

    /// The flow engine swapped the roles (its heuristic found that the first packet's
    /// sender is the responder). Records `^`; later sides are taken in the new roles.
    pub fn flipped(&mut self) {
        self.flip();
    }

    /// The history string as Zeek would log it (empty when nothing was recorded; Zeek
    /// then leaves the field unset).
    pub fn history(&self) -> &str {
        &self.history.text
    }

    /// True when letters were dropped because the history reached [`MAX_HISTORY_LEN`].
    pub fn history_truncated(&self) -> bool {
        self.history.truncated
    }

    /// Payload bytes each side sent, from sequence numbers, as Zeek computes
    /// `orig_bytes`/`resp_bytes` (originator first).
    pub fn sizes(&self) -> (u64, u64) {
        (
            self.orig.size(self.resp.state),
            self.resp.size(self.orig.state),
        )
    }

    /// The `conn_state` Zeek would log if the connection ended now.
    pub fn state(&self) -> ConnState {
        use EndpointState as E;
        let os = self.orig.state;
        let rs = self.resp.state;
        let inactive = |s: EndpointState| s == E::Inactive || s == E::Partial;
        if rs == E::Reset {
            let both_empty = || self.sizes() == (0, 0);
            if os == E::SynSent || os == E::SynAckSent || (os == E::Reset && both_empty()) {
                ConnState::REJ
            } else if inactive(os) {
                ConnState::RSTRH
            } else {
                ConnState::RSTR
            }
        } else if os == E::Reset {
            if !inactive(rs) {
                ConnState::RSTO
            } else if syn_then_rst(self.history()) {
                ConnState::RSTOS0
            } else {
                ConnState::OTH
            }
        } else if os == E::Closed && rs == E::Closed {
            ConnState::SF
        } else if os == E::Closed {
            if inactive(rs) {
                ConnState::SH
            } else {
                ConnState::S2
            }
        } else if rs == E::Closed {
            if inactive(os) {
                ConnState::SHR
            } else {
                ConnState::S3
            }
        } else if os == E::SynSent && rs == E::Inactive {
            ConnState::S0
        } else if os == E::Established && rs == E::Established {
            ConnState::S1
        } else {
            ConnState::OTH
        }
    }
}

/// Zeek's RSTOS0 test: the whole history matches `^?S[^HAFGIQ]*R.*`.
fn syn_then_rst(history: &str) -> bool {
    let h = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}
