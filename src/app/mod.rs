//! The application layer: DNS, TLS (also after STARTTLS, and DTLS) and HTTP/1.x parsed from UDP datagrams and
//! reassembled TCP streams (see `flow::table::FlowSink`), producing per-protocol
//! records that `diagnose` turns into findings.
//!
//! Contract: parsers are sans-IO and use packet time only; every input is
//! untrusted (bounded buffers, no panics); every record names its connection.

pub mod dns;
pub mod http;
pub mod http2;
pub mod starttls;
pub mod tls;

mod dispatch;
pub use dispatch::{AppLayer, AppRecords};

use std::net::SocketAddr;

use crate::base::Side;
use crate::base::Timestamp;

/// Where a parser is in one direction's byte stream: the offset it expects
/// next. Input that overlaps what was seen is trimmed; input that starts past
/// it leaves a hole the caller reports as a gap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCursor {
    next: Option<u64>,
}

/// What [`StreamCursor::advance`] made of one delivery.
#[derive(Debug, PartialEq, Eq)]
pub struct Advance<'a> {
    /// Bytes missing before this delivery: (offset, length).
    pub gap: Option<(u64, u64)>,
    /// The new bytes (already-seen ones cut off).
    pub bytes: &'a [u8],
}

impl StreamCursor {
    /// Takes `bytes` delivered at stream `offset`; the cursor moves past them.
    pub fn advance<'a>(&mut self, offset: u64, bytes: &'a [u8]) -> Advance<'a> {
        let mut out = Advance { gap: None, bytes };
        let mut offset = offset;
        if let Some(next) = self.next {
            if offset > next {
                out.gap = Some((next, offset - next));
            } else if offset < next {
                let skip = usize::try_from(next - offset).unwrap_or(usize::MAX);
                out.bytes = bytes.get(skip..).unwrap_or_default();
                offset = next;
            }
        }
        self.next = Some(offset.saturating_add(out.bytes.len() as u64));
        out
    }

    /// `len` bytes at `offset` were reported missing: the cursor moves past them.
    pub fn skip(&mut self, offset: u64, len: u64) {
        let end = offset.saturating_add(len);
        self.next = Some(self.next.map_or(end, |n| n.max(end)));
    }
}

/// Where a piece of application data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Connection id (as in connection records).
    pub conn: u64,
    /// Who sent it.
    pub side: Side,
    /// The frame that carried it.
    pub frame: u64,
    /// When.
    pub ts: Timestamp,
}

/// A connection's identity, copied into every application record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// Connection id.
    pub conn: u64,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
}

#[cfg(test)]
mod cursor_tests {
    use super::StreamCursor;

    #[test]
    fn overlaps_are_trimmed_and_jumps_are_gaps() {
        let mut c = StreamCursor::default();
        assert_eq!(c.advance(0, b"abcd").bytes, b"abcd");
        let a = c.advance(2, b"cdef");
        assert_eq!((a.gap, a.bytes), (None, &b"ef"[..]));
        let a = c.advance(10, b"xy");
        assert_eq!((a.gap, a.bytes), (Some((6, 4)), &b"xy"[..]));
        assert_eq!(c.advance(0, b"old").bytes, b"");
        c.skip(12, 5);
        assert_eq!(c.advance(17, b"z").gap, None);
    }
}
