//! DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766): each message is preceded by
//! a two-byte big-endian length. Messages may span segments and one segment may
//! carry several messages.
//!
//! One [`Framer`] per connection direction. It holds at most one incomplete
//! message (≤ 65,537 bytes), so memory per direction is bounded by the protocol.
//! A gap in the stream loses the framing: there is no marker to find the next
//! message boundary, so the direction is abandoned (its later bytes are ignored
//! and the caller counts it) rather than guessing and misparsing.

/// Reassembles length-prefixed messages from one direction's in-order bytes.
#[derive(Debug, Default)]
pub(super) struct Framer {
    /// The incomplete message, prefix included.
    buf: Vec<u8>,
    /// Stream offset of the next byte expected.
    next: u64,
    /// Framing lost (gap or impossible offset): ignore everything after.
    lost: bool,
}

impl Framer {
    /// Whether the framing has been lost.
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    /// Marks `len` bytes at `offset` missing. Returns true when this loses the
    /// framing (the first time).
    pub fn gap(&mut self, offset: u64, len: u64) -> bool {
        if self.lost || len == 0 || offset.saturating_add(len) <= self.next {
            return false;
        }
        self.lose()
    }

    fn lose(&mut self) -> bool {
        self.lost = true;
        self.buf = Vec::new();
        true
    }

    /// Feeds bytes at stream `offset`; calls `on_msg` with each complete message
    /// (without its prefix). Returns true when this call lost the framing (data
    /// beyond the expected offset: bytes went missing without a gap report).
    pub fn push(&mut self, offset: u64, mut bytes: &[u8], mut on_msg: impl FnMut(&[u8])) -> bool {
        if self.lost {
            return false;
        }
        if offset > self.next {
            return self.lose();
        }
        // Skip bytes already seen (overlapping delivery).
        let seen = self.next - offset;
        if seen > 0 {
            let skip = usize::try_from(seen).unwrap_or(usize::MAX).min(bytes.len());
            bytes = bytes.get(skip..).unwrap_or_default();
        }
        self.next = self.next.saturating_add(bytes.len() as u64);
        while !bytes.is_empty() {
            if self.buf.is_empty() {
                // Fast path: whole messages straight from the segment.
                if let Some(len) = prefix_len(bytes) {
                    if let Some(msg) = bytes.get(2..2 + len) {
                        on_msg(msg);
                        bytes = bytes.get(2 + len..).unwrap_or_default();
                        continue;
                    }
                }
            }
            let want = match prefix_len(&self.buf) {
                Some(len) => 2 + len,
                None => 2,
            };
            let take = want.saturating_sub(self.buf.len()).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.buf.extend_from_slice(head);
            bytes = rest;
            if let Some(len) = prefix_len(&self.buf) {
                if self.buf.len() == 2 + len {
                    if let Some(msg) = self.buf.get(2..) {
                        on_msg(msg);
                    }
                    self.buf.clear();
                }
            }
        }
        false
    }

    /// Bytes of an incomplete message held (for tests and stats).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// The length announced by a two-byte prefix, if present.
fn prefix_len(b: &[u8]) -> Option<usize> {
    match b {
        [hi, lo, ..] => Some(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}
