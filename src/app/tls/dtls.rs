//! DTLS over UDP (RFC 6347 for 1.0 and 1.2, RFC 9147 for 1.3): datagrams →
//! records → reassembled handshake messages, decoded by the same code as TLS.
//!
//! A record has a 13-byte header (type, version 0xfe??, epoch, 48-bit
//! sequence number, length); DTLS 1.3 protects records under a short
//! "unified" header (first bits `001`), read here as application data. A
//! handshake message has a 12-byte header (type, length, message_seq,
//! fragment offset and length); its body, once every fragment is in, is the
//! TLS body (a ClientHello adds the cookie), so [`TlsConn`]'s handshake code
//! takes it from there, and the completion, alert and version rules are TLS's.
//!
//! Retransmissions (a timer, or the retry after a HelloVerifyRequest with the
//! server's cookie, which has the next message_seq) are normal: a message
//! whose message_seq was delivered already is skipped. One message is
//! reassembled at a time per direction, at most [`MAX_HANDSHAKE`] bytes from
//! at most [`MAX_FRAGMENTS`] pieces. Datagrams are independent: a malformed
//! one is noted and the next one read.

use super::conn::content;
use super::*;

/// DTLS record header length.
pub const DTLS_HEADER: usize = 13;
/// DTLS handshake header length.
pub const DTLS_HS_HEADER: usize = 12;
/// Distinct fragment ranges kept for one message being reassembled.
pub const MAX_FRAGMENTS: usize = 64;
/// The DTLS 1.3 unified header's fixed bits (`001` in the top three).
const UNIFIED_MASK: u8 = 0xe0;
const UNIFIED_BITS: u8 = 0x20;

/// True when a client's first datagram looks like the start of a DTLS
/// handshake: a handshake record of a DTLS version, epoch 0, holding a
/// ClientHello.
pub fn looks_like_dtls(datagram: &[u8]) -> bool {
    let at = |i: usize| datagram.get(i).copied();
    at(0) == Some(content::HANDSHAKE)
        && at(1) == Some(0xfe)
        && matches!(at(2), Some(0xff | 0xfd | 0xfc))
        && at(3) == Some(0)
        && at(4) == Some(0)
        && at(DTLS_HEADER) == Some(1)
}

/// A handshake message being put together from fragments.
#[derive(Debug)]
struct Partial {
    seq: u16,
    ty: u8,
    body: Vec<u8>,
    /// Byte ranges received, sorted and merged.
    have: Vec<(usize, usize)>,
}

impl Partial {
    fn add(&mut self, from: usize, bytes: &[u8]) -> bool {
        let to = from + bytes.len();
        let Some(dst) = self.body.get_mut(from..to) else {
            return false;
        };
        dst.copy_from_slice(bytes);
        self.have.push((from, to));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(a, b) in &self.have {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.have = merged;
        self.have.len() <= MAX_FRAGMENTS
    }

    fn complete(&self) -> bool {
        self.have.as_slice() == [(0, self.body.len())] || self.body.is_empty()
    }
}

/// One direction's handshake reassembly.
#[derive(Debug, Default)]
struct DirAsm {
    /// The next message_seq not delivered yet.
    next_seq: u16,
    partial: Option<Partial>,
}

/// DTLS state of one UDP flow, beside the TLS state it feeds.
#[derive(Debug, Default)]
pub(super) struct Reassembly {
    dirs: [DirAsm; 2],
}

impl TlsConn {
    /// A DTLS flow with nothing seen yet.
    pub fn new_dtls(ep: Endpoints) -> TlsConn {
        let mut t = TlsConn::new(ep);
        t.dtls = Some(Box::default());
        t
    }

    /// One UDP datagram from `origin.side`: its records in order.
    pub fn on_datagram(&mut self, origin: Origin, datagram: &[u8]) {
        let side = origin.side;
        let mark = Mark {
            frame: origin.frame,
            ts: origin.ts,
        };
        let d = self.dir(side);
        d.bytes = d.bytes.saturating_add(datagram.len() as u64);
        let mut rest = datagram;
        while let Some(&first) = rest.first() {
            if first & UNIFIED_MASK == UNIFIED_BITS {
                rest = self.on_unified(side, rest, mark);
                continue;
            }
            let Some(header) = rest.get(..DTLS_HEADER) else {
                self.note(
                    side,
                    format!("truncated DTLS record in frame {}", mark.frame),
                );
                return;
            };
            let ty = header[0];
            let version = u16::from_be_bytes([header[1], header[2]]);
            let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
            if !(content::CHANGE_CIPHER_SPEC..=content::ACK).contains(&ty) || header[1] != 0xfe {
                self.note(
                    side,
                    format!("not a DTLS record in frame {} (type {ty})", mark.frame),
                );
                return;
            }
            let Some(payload) = rest.get(DTLS_HEADER..DTLS_HEADER + len) else {
                self.note(
                    side,
                    format!("truncated DTLS record in frame {}", mark.frame),
                );
                return;
            };
            rest = rest.get(DTLS_HEADER + len..).unwrap_or(&[]);
            if ty != content::ACK {
                self.on_record(side, ty, version, payload, mark);
            }
        }
    }

    /// A DTLS 1.3 protected record (unified header, RFC 9147 §4): its flags
    /// say whether a connection id, a 16-bit sequence number and a length
    /// follow. Without a length it runs to the datagram's end; with a
    /// connection id (of a length only the handshake tells) likewise.
    fn on_unified<'a>(&mut self, side: Side, rest: &'a [u8], mark: Mark) -> &'a [u8] {
        let flags = rest.first().copied().unwrap_or(0);
        let (cid, long_seq, has_len) = (flags & 0x10 != 0, flags & 0x08 != 0, flags & 0x04 != 0);
        let header = 1 + if long_seq { 2 } else { 1 } + if has_len { 2 } else { 0 };
        let (payload, after) = if cid {
            (rest.get(1..).unwrap_or(&[]), &[][..])
        } else if has_len {
            let at = header - 2;
            let len = match (rest.get(at), rest.get(at + 1)) {
                (Some(&hi), Some(&lo)) => usize::from(u16::from_be_bytes([hi, lo])),
                _ => usize::MAX,
            };
            match rest.get(header..header.saturating_add(len)) {
                Some(p) => (p, rest.get(header + len..).unwrap_or(&[])),
                None => {
                    self.note(
                        side,
                        format!("truncated DTLS record in frame {}", mark.frame),
                    );
                    return &[];
                }
            }
        } else {
            (rest.get(header..).unwrap_or(&[]), &[][..])
        };
        self.on_record(side, content::APPLICATION_DATA, 0xfefc, payload, mark);
        after
    }

    /// A plaintext DTLS handshake record: its fragments, each added to the
    /// message it belongs to; complete messages go to the TLS handshake code.
    pub(super) fn on_dtls_handshake(&mut self, side: Side, payload: &[u8], mark: Mark) {
        let mut rest = payload;
        while !rest.is_empty() {
            let Some(h) = rest.get(..DTLS_HS_HEADER) else {
                self.note(
                    side,
                    format!("truncated DTLS handshake header in frame {}", mark.frame),
                );
                return;
            };
            let u24 = |i: usize| {
                (usize::from(h[i]) << 16) | (usize::from(h[i + 1]) << 8) | usize::from(h[i + 2])
            };
            let (ty, len, seq) = (h[0], u24(1), u16::from_be_bytes([h[4], h[5]]));
            let (from, flen) = (u24(6), u24(9));
            let Some(frag) = rest.get(DTLS_HS_HEADER..DTLS_HS_HEADER + flen) else {
                self.note(
                    side,
                    format!("truncated DTLS handshake fragment in frame {}", mark.frame),
                );
                return;
            };
            rest = rest.get(DTLS_HS_HEADER + flen..).unwrap_or(&[]);
            if len > MAX_HANDSHAKE {
                self.note(
                    side,
                    format!("handshake message of {len} bytes exceeds {MAX_HANDSHAKE}: skipped"),
                );
                continue;
            }
            if from.saturating_add(flen) > len {
                self.note(
                    side,
                    format!(
                        "DTLS fragment past its message's end in frame {}",
                        mark.frame
                    ),
                );
                continue;
            }
            if let Some((ty, body)) = self.add_fragment(side, ty, len, seq, from, frag) {
                self.on_handshake(side, ty, &body, mark);
            }
        }
    }

    /// Adds one fragment; the whole message when it is now complete.
    fn add_fragment(
        &mut self,
        side: Side,
        ty: u8,
        len: usize,
        seq: u16,
        from: usize,
        frag: &[u8],
    ) -> Option<(u8, Vec<u8>)> {
        let asm = self.dtls.as_mut()?.dirs.get_mut(side.index())?;
        if seq < asm.next_seq {
            return None; // a retransmission of a message delivered already
        }
        let fits = asm
            .partial
            .as_ref()
            .is_some_and(|p| p.seq == seq && p.ty == ty && p.body.len() == len);
        if !fits {
            if asm.partial.as_ref().is_some_and(|p| p.seq >= seq) {
                return None; // the same message_seq with other framing
            }
            // A later message: the one in progress will not complete.
            asm.partial = Some(Partial {
                seq,
                ty,
                body: vec![0; len],
                have: Vec::new(),
            });
        }
        let p = asm.partial.as_mut()?;
        if !p.add(from, frag) {
            asm.partial = None;
            return None;
        }
        if !p.complete() {
            return None;
        }
        let done = asm.partial.take()?;
        asm.next_seq = done.seq.saturating_add(1);
        Some((done.ty, done.body))
    }

    /// Bytes held by DTLS reassembly (for the memory-bound tests).
    #[cfg(test)]
    pub(crate) fn dtls_buffered(&self) -> usize {
        self.dtls.as_ref().map_or(0, |r| {
            r.dirs
                .iter()
                .filter_map(|d| d.partial.as_ref())
                .map(|p| p.body.capacity() + p.have.capacity() * 16)
                .sum()
        })
    }
}
