//! Per-direction TCP stream reassembly: segments in capture order in, in-order bytes
//! with explicit gaps out.
//!
//! # Contract
//!
//! The flow engine owns one [`Reassembler`] per TCP direction and feeds it, in capture
//! order, that direction's SYN ([`Reassembler::on_syn`]), every segment
//! ([`Reassembler::on_segment`]), the *other* direction's acknowledgements
//! ([`Reassembler::on_peer_ack`]), resets ([`Reassembler::on_reset`]) and, when input
//! ends or the flow is evicted, [`Reassembler::finish`]. The application parsers consume
//! the output through a [`StreamSink`]:
//!
//! * [`StreamSink::data`] and [`StreamSink::gap`] calls tile the stream: each starts at
//!   the offset where the previous one ended, beginning at 0, so a parser sees every
//!   stream offset exactly once, either as bytes or as a gap (bytes that were on the wire
//!   but are not in the capture).
//! * Each data chunk carries the frame number and timestamp of the segment that carried
//!   those bytes (not of the segment that made them contiguous): the timing model needs
//!   when the first and last bytes were seen on the wire.
//! * [`StreamSink::end`] is called exactly once, at the latest from `finish`; nothing is
//!   emitted after it and later input is ignored (and counted).
//!
//! Sans-IO and packet time: no clock, no I/O; timestamps come from the caller.
//!
//! # Offsets
//!
//! Offsets are `u64` stream offsets from the first data byte: ISN + 1 when a SYN was seen,
//! otherwise the sequence number of the first segment that occupies sequence space (a
//! capture that starts mid-stream). Bytes a later segment carries from before that point
//! cannot be placed and are counted in [`ReassemblyStats::before_start_bytes`]. Sequence
//! numbers are placed relative to the next expected byte with 32-bit wrap-around
//! arithmetic, so streams longer than 4 GiB and ISNs near 2^32 work. A segment starting
//! more than [`ReassemblyLimits::max_ahead`] beyond the next expected byte, or more than
//! 2^31 before it, is out of window: counted and ignored.
//!
//! # Buffering
//!
//! In-order bytes go straight to the sink, borrowed from the caller's payload. Bytes that
//! arrive ahead of a hole are copied into a buffer ordered by offset (with their frame and
//! timestamp) and delivered as soon as the hole fills. The buffer is bounded by
//! [`ReassemblyLimits`]; see the gap rules for what happens when it is full.
//!
//! # Overlaps: first received wins
//!
//! When a segment overlaps bytes already delivered or buffered, the earlier bytes are
//! kept and only the segment's new bytes are used. Delivered bytes cannot be retracted
//! from a streaming sink, so "first wins" is the only rule that treats delivered and
//! buffered data alike, and it makes the output independent of when a hole happened to
//! fill. A retransmission of delivered data therefore delivers nothing. Overlaps are
//! counted ([`ReassemblyStats::overlaps`], [`ReassemblyStats::overlap_bytes`]); where
//! the earlier copy is still buffered the bytes are compared and differing bytes are
//! counted in [`ReassemblyStats::overlap_conflicts`] (a middlebox rewriting data, or a
//! broken stack; diagnosis reports it). Delivered bytes are not retained (zero copy),
//! so a retransmission of delivered data is counted as an overlap but not compared.
//!
//! # Gaps
//!
//! A gap is emitted only when the capture shows that bytes were on the wire:
//!
//! * Snaplen cut: a segment with `payload.len() < wire_len` delivers its captured bytes;
//!   the missing tail becomes a gap when the stream reaches it.
//! * The peer acknowledged beyond the next expected byte ([`Reassembler::on_peer_ack`]):
//!   the receiver got data the capture missed. Gap up to the ACK (or up to the first
//!   buffered byte, which is then delivered, and so on up to the ACK).
//! * Buffer full: when holding a segment would exceed a limit, the stream skips ahead
//!   to the lowest held offset (or the new segment's, when lower) with a gap, delivers
//!   what became contiguous, and counts [`ReassemblyStats::buffer_overflows`]; repeated
//!   until the segment fits or becomes in order.
//! * [`Reassembler::finish`] and [`Reassembler::on_reset`] flush everything buffered in
//!   order with gaps between (a passive tool wants every byte it saw); `finish` also gaps
//!   up to a FIN seen beyond missing data.
//!
//! A hole with no such evidence (a lost segment whose ACK is not in the capture yet)
//! holds the stream until the evidence arrives or `finish` is called.
//!
//! # End of stream
//!
//! * FIN occupies the sequence number after its segment's data. The stream ends with
//!   [`StreamEnd::Fin`] once every byte before it was delivered or gapped; a FIN that
//!   arrives before missing data waits for the hole (filled, or gapped by an ACK or
//!   `finish`). Data beyond the FIN's position is ignored and counted in
//!   [`ReassemblyStats::ignored_bytes`]; the first FIN's position wins.
//! * RST ends the stream at once: buffered data is flushed (with gaps over holes), then
//!   [`StreamEnd::Reset`].
//! * `finish` flushes, then ends with [`StreamEnd::Fin`] when a FIN was seen and
//!   [`StreamEnd::Truncated`] otherwise (input ended or the flow was evicted).
//!
//! Segments are expected without the SYN flag's sequence number: for a SYN carrying data
//! (TCP Fast Open), call `on_syn(isn)` then `on_segment(isn + 1, ..)`.
//!
//! The shape follows quinn's `assembler.rs` (an offset-keyed `BTreeMap` with buffered-byte
//! accounting), made streaming: in-order data never enters the map.

use std::collections::BTreeMap;

use crate::base::Timestamp;
use crate::decode::SeqNum;

mod api;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod test_sink;
#[cfg(test)]
mod tests;

pub use api::{ReassemblyLimits, ReassemblyStats, StreamEnd, StreamSink};

/// Out-of-order bytes held until the hole before them fills.
#[derive(Debug)]
struct Held {
    data: Vec<u8>,
    frame: u64,
    ts: Timestamp,
    /// The stream is known to have been on the wire up to here once this is delivered
    /// (the end of a snaplen-cut segment).
    wire_end: u64,
}

/// A segment placed at stream offsets, clipped to `[0, fin]`.
#[derive(Debug, Clone, Copy)]
struct Placed<'a> {
    start: u64,
    data: &'a [u8],
    wire_end: u64,
    frame: u64,
    ts: Timestamp,
}

impl Placed<'_> {
    fn cap_end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

/// Reassembles one direction of a TCP connection; see the module doc.
#[derive(Debug)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    stats: ReassemblyStats,
    /// Sequence number of stream offset 0, once known.
    base: Option<SeqNum>,
    /// Next offset to deliver: everything before it was delivered or gapped.
    next: u64,
    /// Offset of the FIN, once seen.
    fin: Option<u64>,
    ended: Option<StreamEnd>,
    /// Invariant: non-overlapping, non-empty, every key > `next`, every end <= `fin`.
    held: BTreeMap<u64, Held>,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(ReassemblyLimits::default())
    }
}

impl Reassembler {
    /// An empty reassembler; the stream's start is set by a SYN or the first segment.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler {
            limits,
            stats: ReassemblyStats::default(),
            base: None,
            next: 0,
            fin: None,
            ended: None,
            held: BTreeMap::new(),
        }
    }

    /// This direction's SYN with initial sequence number `isn`: data starts at `isn + 1`.
    /// Ignored once the start is known (a retransmitted SYN, or a SYN seen after data).
    pub fn on_syn(&mut self, isn: SeqNum) {
        if self.base.is_none() {
            self.base = Some(isn + 1);
        }
    }

    /// A segment of this direction: `seq` is the sequence number of its first payload
    /// byte, `payload` the captured payload, `wire_len` the payload length on the wire
    /// (larger when the snap length cut the frame), `fin` its FIN flag.
    #[allow(clippy::too_many_arguments)]
    pub fn on_segment(
        &mut self,
        seq: SeqNum,
        payload: &[u8],
        wire_len: u32,
        fin: bool,
        frame: u64,
        ts: Timestamp,
        sink: &mut impl StreamSink,
    ) {
        let cap_len = payload.len() as u64;
        let wire_len = u64::from(wire_len).max(cap_len);
        if self.ended.is_some() {
            self.stats.ignored_bytes += cap_len;
            return;
        }
        if wire_len == 0 && !fin {
            return;
        }
        let base = *self.base.get_or_insert(seq);
        let Some(start) = self.locate(base, seq) else {
            self.stats.out_of_window += 1;
            return;
        };
        if fin {
            self.set_fin(start + i128::from(wire_len));
        }
        let Some(seg) = self.place(start, payload, wire_len, frame, ts) else {
            self.stats.out_of_window += 1;
            return;
        };
        let mut overlap = 0;
        if seg.start < self.next {
            let n = seg.cap_end().min(self.next) - seg.start;
            self.stats.overlap_bytes += n;
            overlap += n;
        }
        loop {
            if self.ended.is_some() {
                break;
            }
            if seg.start <= self.next {
                overlap += self.advance(Some(&seg), seg.wire_end, sink);
                break;
            }
            let (new_bytes, pieces) = self.plan(&seg);
            let fits = pieces == 0
                || (self.stats.buffered_bytes as u64 + new_bytes
                    <= self.limits.max_buffered_bytes as u64
                    && self.held.len() + pieces <= self.limits.max_segments);
            if fits {
                overlap += self.hold(&seg);
                break;
            }
            self.stats.buffer_overflows += 1;
            let first = self.held.keys().next().copied().unwrap_or(u64::MAX);
            overlap += self.advance(Some(&seg), first.min(seg.start), sink);
        }
        if overlap > 0 {
            self.stats.overlaps += 1;
        }
        if self.fin == Some(self.next) {
            self.end(StreamEnd::Fin, sink);
        }
    }

    /// The other direction acknowledged up to `ack`: the receiver has every byte before
    /// it, so bytes missing from the capture before `ack` become a gap.
    pub fn on_peer_ack(&mut self, ack: SeqNum, sink: &mut impl StreamSink) {
        let (Some(base), None) = (self.base, self.ended) else {
            return;
        };
        let Some(at) = self.locate(base, ack) else {
            self.stats.out_of_window += 1;
            return;
        };
        if let Ok(target) = u64::try_from(at) {
            if target > self.next {
                self.advance(None, target, sink);
            }
        }
    }

    /// A reset in either direction: flush what is buffered (gaps over holes), then
    /// [`StreamEnd::Reset`].
    pub fn on_reset(&mut self, sink: &mut impl StreamSink) {
        if self.ended.is_some() {
            return;
        }
        let target = self.held_end();
        self.advance(None, target, sink);
        self.end(StreamEnd::Reset, sink);
    }

    /// End of input or flow eviction: flush what is buffered (gaps over holes, and up to
    /// a FIN seen beyond missing data), then end with [`StreamEnd::Fin`] if a FIN was
    /// seen, [`StreamEnd::Truncated`] otherwise. Does nothing once the stream ended.
    pub fn finish(&mut self, sink: &mut impl StreamSink) {
        if self.ended.is_some() {
            return;
        }
        let target = self.held_end().max(self.fin.unwrap_or(0));
        self.advance(None, target, sink);
        self.end(StreamEnd::Truncated, sink);
    }

    /// The counters.
    pub fn stats(&self) -> &ReassemblyStats {
        &self.stats
    }

    /// The limits this reassembler was built with.
    pub fn limits(&self) -> &ReassemblyLimits {
        &self.limits
    }

    /// Stream bytes delivered or skipped as gaps so far: the next offset the sink sees.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Offset of the FIN, once seen.
    pub fn fin_offset(&self) -> Option<u64> {
        self.fin
    }

    /// How the stream ended, once it has.
    pub fn ended(&self) -> Option<StreamEnd> {
        self.ended
    }

    /// Stream offset of `seq` (possibly negative: before the stream's start), or `None`
    /// when out of window.
    fn locate(&self, base: SeqNum, seq: SeqNum) -> Option<i128> {
        // Truncation to u32 is the point: sequence numbers are offsets modulo 2^32.
        let here = base + self.next as u32;
        let ahead = seq.0.wrapping_sub(here.0);
        if ahead <= self.limits.max_ahead {
            return Some(i128::from(self.next) + i128::from(ahead));
        }
        let behind = ahead.wrapping_neg();
        (behind <= 1 << 31).then(|| i128::from(self.next) - i128::from(behind))
    }

    /// Clips a located segment to `[0, fin]`, counting what is cut off.
    fn place<'a>(
        &mut self,
        start: i128,
        payload: &'a [u8],
        wire_len: u64,
        frame: u64,
        ts: Timestamp,
    ) -> Option<Placed<'a>> {
        let mut data = payload;
        let mut wire_end = start + i128::from(wire_len);
        let start = if start < 0 {
            let cut = usize::try_from(-start)
                .unwrap_or(usize::MAX)
                .min(data.len());
            self.stats.before_start_bytes += cut as u64;
            data = data.get(cut..).unwrap_or_default();
            wire_end = wire_end.max(0);
            0
        } else {
            u64::try_from(start).ok()?
        };
        let wire_end = u64::try_from(wire_end).ok()?;
        start.checked_add(data.len() as u64)?;
        let mut seg = Placed {
            start,
            data,
            wire_end,
            frame,
            ts,
        };
        if let Some(fin) = self.fin {
            if seg.cap_end() > fin {
                let keep = fin.saturating_sub(seg.start).min(seg.data.len() as u64) as usize;
                self.stats.ignored_bytes += (seg.data.len() - keep) as u64;
                seg.data = seg.data.get(..keep).unwrap_or_default();
            }
            seg.wire_end = seg.wire_end.min(fin).max(seg.cap_end());
        }
        Some(seg)
    }

    /// Records the FIN at offset `at`; the first plausible FIN wins.
    fn set_fin(&mut self, at: i128) {
        let at = match u64::try_from(at) {
            Ok(at) if at >= self.next && self.fin.is_none() => at,
            Ok(at) if self.fin == Some(at) => return,
            _ => {
                self.stats.out_of_window += 1;
                return;
            }
        };
        self.fin = Some(at);
        for (_, h) in self.held.split_off(&at) {
            self.stats.ignored_bytes += h.data.len() as u64;
            self.unaccount(h.data.len());
        }
        let mut cut = 0;
        if let Some(mut last) = self.held.last_entry() {
            let start = *last.key();
            let h = last.get_mut();
            let keep = usize::try_from(at - start).unwrap_or(usize::MAX);
            if h.data.len() > keep {
                cut = h.data.len() - keep;
                h.data.truncate(keep);
                h.data.shrink_to_fit();
            }
        }
        if cut > 0 {
            self.stats.ignored_bytes += cut as u64;
            self.stats.buffered_bytes -= cut;
        }
    }

    /// Delivers from `next` onwards: held chunks, then the in-order part of `seg`, then
    /// gaps over holes before `target` (raised by the wire ends of what gets delivered),
    /// until nothing more can move. Ends the stream on reaching the FIN. Returns the
    /// bytes of `seg` that overlapped held chunks.
    fn advance(
        &mut self,
        seg: Option<&Placed<'_>>,
        mut target: u64,
        sink: &mut impl StreamSink,
    ) -> u64 {
        let mut overlap = 0;
        let limit = self.fin.unwrap_or(u64::MAX);
        loop {
            if self.ended.is_some() {
                break;
            }
            if self.fin.is_some_and(|f| self.next >= f) {
                self.end(StreamEnd::Fin, sink);
                break;
            }
            let first_start = match self.held.first_entry() {
                Some(e) if *e.key() <= self.next => {
                    let (start, h) = e.remove_entry();
                    self.unaccount(h.data.len());
                    let skip = usize::try_from(self.next - start).unwrap_or(usize::MAX);
                    let bytes = h.data.get(skip..).unwrap_or_default();
                    let room = usize::try_from(limit - self.next).unwrap_or(usize::MAX);
                    let bytes = bytes.get(..room.min(bytes.len())).unwrap_or_default();
                    if let Some(s) = seg {
                        overlap += compare(s, self.next, bytes, &mut self.stats);
                    }
                    // Held bytes reach the application only when the hole before
                    // them fills: that is their time, not their own segment's (a
                    // response is whole when its last hole is filled).
                    let ts = seg.map_or(h.ts, |s| h.ts.max(s.ts));
                    self.emit_data(bytes, h.frame, ts, sink);
                    target = target.max(h.wire_end);
                    continue;
                }
                Some(e) => *e.key(),
                None => u64::MAX,
            };
            if let Some(s) = seg.filter(|s| s.start <= self.next && self.next < s.cap_end()) {
                let end = s.cap_end().min(first_start).min(limit);
                let from = (self.next - s.start) as usize;
                let to = (end - s.start) as usize;
                let bytes = s.data.get(from..to).unwrap_or_default();
                self.emit_data(bytes, s.frame, s.ts, sink);
                target = target.max(s.wire_end);
                if bytes.is_empty() {
                    break; // unreachable by the invariants; never spin
                }
                continue;
            }
            let end = target.min(first_start).min(limit);
            if end <= self.next {
                break;
            }
            self.emit_gap(end - self.next, sink);
        }
        overlap
    }

    /// New bytes and chunks holding `seg` would add.
    fn plan(&self, seg: &Placed<'_>) -> (u64, usize) {
        let mut bytes = 0;
        let mut pieces = 0;
        self.free_ranges(seg, |a, b| {
            bytes += b - a;
            pieces += 1;
        });
        (bytes, pieces)
    }

    /// Calls `f(start, end)` for each part of `seg` (ahead of `next`) no held chunk covers.
    fn free_ranges(&self, seg: &Placed<'_>, mut f: impl FnMut(u64, u64)) {
        let end = seg.cap_end();
        let mut pos = seg.start;
        if let Some((k, h)) = self.held.range(..seg.start).next_back() {
            pos = pos.max((k + h.data.len() as u64).min(end));
        }
        for (&k, h) in self.held.range(seg.start..end) {
            if k > pos {
                f(pos, k);
            }
            pos = pos.max((k + h.data.len() as u64).min(end));
        }
        if pos < end {
            f(pos, end);
        }
    }

    /// Copies the parts of `seg` not held yet into the buffer; compares and counts the
    /// overlapping parts. Returns the overlapping byte count.
    fn hold(&mut self, seg: &Placed<'_>) -> u64 {
        let mut overlap = 0;
        let from = self
            .held
            .range(..seg.start)
            .next_back()
            .map_or(seg.start, |(&k, _)| k);
        for (&k, h) in self.held.range_mut(from..seg.cap_end().max(from)) {
            let n = compare(seg, k, &h.data, &mut self.stats);
            if n > 0 {
                h.wire_end = h.wire_end.max(seg.wire_end);
                overlap += n;
            }
        }
        let mut ranges = Vec::new();
        self.free_ranges(seg, |a, b| ranges.push((a, b)));
        for (a, b) in ranges {
            let bytes = seg
                .data
                .get((a - seg.start) as usize..(b - seg.start) as usize)
                .unwrap_or_default();
            self.stats.buffered_bytes += bytes.len();
            self.held.insert(
                a,
                Held {
                    data: bytes.to_vec(),
                    frame: seg.frame,
                    ts: seg.ts,
                    wire_end: seg.wire_end,
                },
            );
        }
        self.stats.buffered_segments = self.held.len();
        self.stats.peak_buffered_bytes = self
            .stats
            .peak_buffered_bytes
            .max(self.stats.buffered_bytes);
        overlap
    }

    /// End of the last held chunk, or `next` when nothing is held.
    fn held_end(&self) -> u64 {
        self.held
            .last_key_value()
            .map_or(self.next, |(&k, h)| k + h.data.len() as u64)
    }

    fn unaccount(&mut self, len: usize) {
        self.stats.buffered_bytes = self.stats.buffered_bytes.saturating_sub(len);
        self.stats.buffered_segments = self.held.len();
    }

    fn emit_data(&mut self, bytes: &[u8], frame: u64, ts: Timestamp, sink: &mut impl StreamSink) {
        if bytes.is_empty() {
            return;
        }
        sink.data(self.next, bytes, frame, ts);
        self.next += bytes.len() as u64;
        self.stats.bytes_delivered += bytes.len() as u64;
    }

    fn emit_gap(&mut self, len: u64, sink: &mut impl StreamSink) {
        sink.gap(self.next, len);
        self.next += len;
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
    }

    fn end(&mut self, how: StreamEnd, sink: &mut impl StreamSink) {
        if self.ended.is_some() {
            return;
        }
        self.ended = Some(how);
        self.held.clear();
        self.unaccount(self.stats.buffered_bytes);
        sink.end(how);
    }
}

/// Compares the part of `seg` overlapping `bytes` (which sit at offset `at`), counting
/// overlapping and differing bytes in `stats`. Returns the overlapping byte count.
fn compare(seg: &Placed<'_>, at: u64, bytes: &[u8], stats: &mut ReassemblyStats) -> u64 {
    let lo = seg.start.max(at);
    let hi = seg.cap_end().min(at + bytes.len() as u64);
    if hi <= lo {
        return 0;
    }
    let new = seg
        .data
        .get((lo - seg.start) as usize..(hi - seg.start) as usize)
        .unwrap_or_default();
    let old = bytes
        .get((lo - at) as usize..(hi - at) as usize)
        .unwrap_or_default();
    let differ = new.iter().zip(old).filter(|(a, b)| a != b).count();
    stats.overlap_bytes += hi - lo;
    stats.overlap_conflicts += differ as u64;
    hi - lo
}
