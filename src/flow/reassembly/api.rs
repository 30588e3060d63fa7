//! The reassembler's public vocabulary: limits, the sink trait, how a stream ends, and
//! the counters. Re-exported from the parent module.

use crate::base::Timestamp;

/// Caps on what one [`Reassembler`](super::Reassembler) holds; hits are counted in
/// [`ReassemblyStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Out-of-order bytes held at most (default 1 MiB). Beyond it the stream skips
    /// ahead with a gap ([`ReassemblyStats::buffer_overflows`]).
    pub max_buffered_bytes: usize,
    /// Out-of-order chunks held at most (default 1024): bounds the map's overhead when
    /// segments are tiny.
    pub max_segments: usize,
    /// A segment or ACK more than this many bytes beyond the next expected byte is
    /// bogus (default 1 GiB): counted in [`ReassemblyStats::out_of_window`], ignored.
    pub max_ahead: u32,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_buffered_bytes: 1 << 20,
            max_segments: 1024,
            max_ahead: 1 << 30,
        }
    }
}

/// Receives one direction's reassembled stream. Calls tile the stream in offset order;
/// see the module doc for the contract.
pub trait StreamSink {
    /// In-order bytes at stream `offset`, carried by frame `frame` captured at `ts`.
    fn data(&mut self, offset: u64, bytes: &[u8], frame: u64, ts: Timestamp);
    /// `len` bytes at `offset` were on the wire but are not in the capture.
    fn gap(&mut self, offset: u64, len: u64);
    /// The stream ended; called exactly once, last.
    fn end(&mut self, how: StreamEnd) {
        let _ = how;
    }
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamEnd {
    /// The sender's FIN was reached: every byte before it was delivered or gapped.
    Fin,
    /// A reset aborted the stream.
    Reset,
    /// Input ended or the flow was evicted before a FIN or RST.
    Truncated,
}

/// Counters of one [`Reassembler`](super::Reassembler); plain data the pipeline reads and
/// exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Bytes passed to [`StreamSink::data`].
    pub bytes_delivered: u64,
    /// [`StreamSink::gap`] calls.
    pub gaps: u64,
    /// Bytes reported as gaps.
    pub gap_bytes: u64,
    /// Segments that carried at least one byte already received (retransmissions too).
    pub overlaps: u64,
    /// Bytes received more than once.
    pub overlap_bytes: u64,
    /// Overlapping bytes that differ from the copy kept (compared while it is buffered).
    pub overlap_conflicts: u64,
    /// Times a full buffer forced a skip ahead.
    pub buffer_overflows: u64,
    /// Segments, ACKs and FINs ignored because their position is implausible.
    pub out_of_window: u64,
    /// Captured bytes ignored because they lie beyond the FIN or arrived after the end.
    pub ignored_bytes: u64,
    /// Captured bytes from before the first byte of a stream whose start was not seen.
    pub before_start_bytes: u64,
    /// Out-of-order bytes held now.
    pub buffered_bytes: usize,
    /// Out-of-order chunks held now.
    pub buffered_segments: usize,
    /// Most out-of-order bytes ever held at once.
    pub peak_buffered_bytes: usize,
}
