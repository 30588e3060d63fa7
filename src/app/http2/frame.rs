//! The HTTP/2 frame layer (RFC 9113 §4.1, §6): the 9-byte frame header, frame
//! types and flags as open values, and the padding / priority prefix of DATA
//! and HEADERS payloads.

/// Bytes of a frame header.
pub(crate) const HEADER_LEN: usize = 9;
/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Offsets inside the frame header.
mod field {
    use std::ops::Range;
    pub const LENGTH: Range<usize> = 0..3;
    pub const TYPE: usize = 3;
    pub const FLAGS: usize = 4;
    pub const STREAM: std::ops::Range<usize> = 5..9;
}

/// Flag bits (their meaning depends on the frame type).
pub(crate) mod flags {
    /// DATA, HEADERS: the sender's last frame on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block ends here.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length byte leads the payload.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: 5 bytes of priority follow the pad length.
    pub const PRIORITY: u8 = 0x20;
}

/// A frame type; unknown types are kept (and ignored, as RFC 9113 §4.1 asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Data,
    Headers,
    Priority,
    RstStream,
    Settings,
    PushPromise,
    Ping,
    GoAway,
    WindowUpdate,
    Continuation,
    Unknown(u8),
}

impl From<u8> for Kind {
    fn from(t: u8) -> Kind {
        match t {
            0 => Kind::Data,
            1 => Kind::Headers,
            2 => Kind::Priority,
            3 => Kind::RstStream,
            4 => Kind::Settings,
            5 => Kind::PushPromise,
            6 => Kind::Ping,
            7 => Kind::GoAway,
            8 => Kind::WindowUpdate,
            9 => Kind::Continuation,
            other => Kind::Unknown(other),
        }
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// Payload length (24 bits, so below 16 MiB).
    pub len: u32,
    pub kind: Kind,
    pub flags: u8,
    /// Stream id, reserved bit cleared.
    pub stream: u32,
}

impl FrameHeader {
    /// The header in the first 9 bytes of `b`, when there are 9.
    pub fn parse(b: &[u8]) -> Option<FrameHeader> {
        let len = b.get(field::LENGTH)?;
        let stream = b.get(field::STREAM)?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, len[0], len[1], len[2]]),
            kind: Kind::from(*b.get(field::TYPE)?),
            flags: *b.get(field::FLAGS)?,
            stream: u32::from_be_bytes([stream[0], stream[1], stream[2], stream[3]]) & 0x7fff_ffff,
        })
    }

    /// True when `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The header block fragment of a HEADERS or PUSH_PROMISE payload: padding,
/// priority fields and the promised stream id removed. `None` when the
/// padding or prefix does not fit the payload (a protocol error).
pub(crate) fn block_fragment<'p>(h: &FrameHeader, payload: &'p [u8]) -> Option<(u32, &'p [u8])> {
    let mut p = payload;
    let mut pad = 0usize;
    if h.has(flags::PADDED) && matches!(h.kind, Kind::Headers | Kind::PushPromise) {
        let (&n, rest) = p.split_first()?;
        pad = usize::from(n);
        p = rest;
    }
    let mut promised = 0;
    match h.kind {
        Kind::Headers if h.has(flags::PRIORITY) => p = p.get(5..)?,
        Kind::PushPromise => {
            let id = p.get(..4)?;
            promised = u32::from_be_bytes([id[0], id[1], id[2], id[3]]) & 0x7fff_ffff;
            p = p.get(4..)?;
        }
        _ => {}
    }
    let end = p.len().checked_sub(pad)?;
    Some((promised, p.get(..end)?))
}

/// A 32-bit big-endian value at `at`.
pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// The name of an HTTP/2 error code (RFC 9113 §7), or its number.
pub(crate) fn error_name(code: u32) -> String {
    let name = match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => return format!("error code {code:#x}"),
    };
    format!("{name} ({code:#x})")
}

/// Test helper: a frame with this header and payload.
#[cfg(test)]
pub(crate) fn build(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut v = len.to_be_bytes()[1..].to_vec();
    v.push(kind);
    v.push(flags);
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_reserved_bit() {
        let f = build(1, 0x25, 0x8000_0003, b"abc");
        let h = FrameHeader::parse(&f).unwrap();
        assert_eq!(
            h,
            FrameHeader {
                len: 3,
                kind: Kind::Headers,
                flags: 0x25,
                stream: 3
            }
        );
        assert!(h.has(flags::END_STREAM) && h.has(flags::PRIORITY) && !h.has(flags::PADDED));
        for cut in 0..HEADER_LEN {
            assert_eq!(FrameHeader::parse(&f[..cut]), None);
        }
        let big = FrameHeader::parse(&[0xff, 0xff, 0xff, 0xee, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!((big.len, big.kind), (0xff_ffff, Kind::Unknown(0xee)));
    }

    #[test]
    fn fragments_without_padding_and_priority() {
        let h = |kind, flags| FrameHeader {
            len: 0,
            kind,
            flags,
            stream: 1,
        };
        assert_eq!(
            block_fragment(&h(Kind::Headers, 0), b"xyz"),
            Some((0, &b"xyz"[..]))
        );
        assert_eq!(
            block_fragment(&h(Kind::Headers, flags::PADDED), b"\x02xyzPP"),
            Some((0, &b"xyz"[..]))
        );
        assert_eq!(
            block_fragment(
                &h(Kind::Headers, flags::PADDED | flags::PRIORITY),
                b"\x01\x00\x00\x00\x01\x10xyP"
            ),
            Some((0, &b"xy"[..]))
        );
        assert_eq!(
            block_fragment(&h(Kind::PushPromise, 0), b"\x00\x00\x00\x02ab"),
            Some((2, &b"ab"[..]))
        );
        // Padding longer than the payload, priority cut short.
        assert_eq!(
            block_fragment(&h(Kind::Headers, flags::PADDED), b"\x05ab"),
            None
        );
        assert_eq!(block_fragment(&h(Kind::Headers, flags::PADDED), b""), None);
        assert_eq!(
            block_fragment(&h(Kind::Headers, flags::PRIORITY), b"\x00\x00"),
            None
        );
        assert_eq!(block_fragment(&h(Kind::PushPromise, 0), b"\x00"), None);
    }

    #[test]
    fn error_names() {
        assert_eq!(error_name(8), "CANCEL (0x8)");
        assert_eq!(error_name(0x77), "error code 0x77");
        assert_eq!(u32_at(b"\x00\x00\x01\x00", 0), Some(256));
        assert_eq!(u32_at(b"\x00\x00\x01", 0), None);
        assert_eq!(u32_at(b"", usize::MAX), None);
    }
}
