//! TCP: the segment view ([`TcpSegment`]), sequence numbers with wrap-around ordering
//! ([`SeqNum`]) and flag bits with tcpdump-style display ([`TcpFlags`]).
//!
//! The header is parsed by hand from the IP payload (fixed offsets in [`field`]): the
//! checked constructor [`parse`] guarantees the whole header (including options) is
//! present, so the getters cannot fail. Options are parsed only when asked for.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

use super::tcp_options::parse_options;
pub use super::tcp_options::TcpOptions;
use super::{DecodeProblem, IpPayload, Layer};

/// Byte offsets of the fixed TCP header fields.
mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const OFFSET_FLAGS: usize = 12;
    pub const WINDOW: usize = 14;
    /// Length of the header without options.
    pub const MIN_LEN: usize = 20;
}

/// A TCP sequence number with wrap-around ordering (RFC 793 / RFC 1982 arithmetic).
///
/// Ordering compares by the signed 32-bit wrapping difference: `a < b` when
/// `(b - a)` as `i32` is positive. This is what TCP means by "before" as long as the two
/// numbers are less than 2^31 apart; at exactly 2^31 apart both `a < b` and `b < a`
/// hold, which is why this type is `PartialOrd` only and never `Ord`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// `self + n`, wrapping at 2^32.
    pub fn wrapping_add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, rhs: u32) -> SeqNum {
        self.wrapping_add(rhs)
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, rhs: u32) {
        *self = self.wrapping_add(rhs);
    }
}

impl Sub<SeqNum> for SeqNum {
    type Output = i32;
    /// The signed wrapping distance from `rhs` to `self`.
    fn sub(self, rhs: SeqNum) -> i32 {
        self.0.wrapping_sub(rhs.0) as i32
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &SeqNum) -> Option<std::cmp::Ordering> {
        Some((*self - *other).cmp(&0))
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// TCP flag bits (the low 9 bits of header bytes 12..14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// Acknowledgment field significant.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// Urgent pointer field significant.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECN echo.
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// Congestion window reduced.
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// ECN nonce (now "AE", accurate ECN).
    pub const NS: TcpFlags = TcpFlags(0x100);

    /// True when every bit of `other` is set in `self`.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for TcpFlags {
    /// tcpdump's letters in tcpdump's order (`print-tcp.c` `tcp_flag_values`):
    /// F S R P `.`(ACK) U E W e(NS/AE); `none` when no flag is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LETTERS: [(TcpFlags, char); 9] = [
            (TcpFlags::FIN, 'F'),
            (TcpFlags::SYN, 'S'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, '.'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
            (TcpFlags::NS, 'e'),
        ];
        if self.0 & 0x1ff == 0 {
            return f.write_str("none");
        }
        for (flag, letter) in LETTERS {
            if self.contains(flag) {
                fmt::Write::write_char(f, letter)?;
            }
        }
        Ok(())
    }
}

/// A TCP segment: a view of the header (options included) plus the captured payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    header: &'a [u8],
    payload: &'a [u8],
    payload_len: u32,
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

impl<'a> TcpSegment<'a> {
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.header, field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.header, field::DST_PORT)
    }
    /// Sequence number.
    pub fn seq(&self) -> SeqNum {
        SeqNum(be32(self.header, field::SEQ))
    }
    /// Acknowledgment number (meaningful only with [`TcpFlags::ACK`]).
    pub fn ack(&self) -> SeqNum {
        SeqNum(be32(self.header, field::ACK))
    }
    /// The flag bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(be16(self.header, field::OFFSET_FLAGS) & 0x1ff)
    }
    /// The raw (unscaled) receive window.
    pub fn window(&self) -> u16 {
        be16(self.header, field::WINDOW)
    }
    /// Header length in bytes, options included (data offset × 4).
    pub fn header_len(&self) -> usize {
        self.header.len()
    }
    /// The raw header bytes, options included.
    pub fn header(&self) -> &'a [u8] {
        self.header
    }
    /// The options this tool uses, parsed on demand.
    pub fn options(&self) -> TcpOptions {
        parse_options(self.header.get(field::MIN_LEN..).unwrap_or_default())
    }
    /// The captured payload bytes (may be shorter than [`payload_len`](Self::payload_len)).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// Payload length on the wire as implied by the IP length field; the captured length
    /// when the IP length is unknown (0, as with TSO) or inconsistent.
    pub fn payload_len(&self) -> u32 {
        self.payload_len
    }
}

/// Parses the TCP header at the start of an IP payload.
pub(crate) fn parse<'a>(ip: &IpPayload<'a>) -> Result<TcpSegment<'a>, DecodeProblem> {
    let bytes = ip.bytes;
    if bytes.len() < field::MIN_LEN {
        return Err(ip.short("tcp header", field::MIN_LEN));
    }
    let offset = bytes.get(field::OFFSET_FLAGS).map_or(0, |b| b >> 4);
    if offset < 5 {
        return Err(DecodeProblem::malformed(
            Layer::Transport,
            format!("tcp data offset {offset} is below the minimum of 5"),
        ));
    }
    let header_len = usize::from(offset) * 4;
    let (Some(header), Some(payload)) = (bytes.get(..header_len), bytes.get(header_len..)) else {
        return Err(ip.short("tcp header", header_len));
    };
    Ok(TcpSegment {
        header,
        payload,
        payload_len: ip.wire_payload_len(header_len, payload.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(bytes: &[u8], wire_len: u32, from_header: bool) -> IpPayload<'_> {
        IpPayload {
            bytes,
            wire_len,
            len_from_header: from_header,
        }
    }

    const SYN: [u8; 24] = [
        0x1f, 0x90, 0x00, 0x50, // ports 8080 -> 80
        0x01, 0x02, 0x03, 0x04, // seq
        0xa0, 0xb0, 0xc0, 0xd0, // ack
        0x60, 0x12, // offset 6, SYN|ACK
        0x72, 0x10, // window
        0x00, 0x00, 0x00, 0x00, // checksum, urgent
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
    ];

    #[test]
    fn every_field() {
        let mut frame = SYN.to_vec();
        frame.extend_from_slice(b"hello");
        let seg = parse(&payload(&frame, 29, true)).expect("valid");
        assert_eq!(seg.src_port(), 8080);
        assert_eq!(seg.dst_port(), 80);
        assert_eq!(seg.seq(), SeqNum(0x0102_0304));
        assert_eq!(seg.ack(), SeqNum(0xa0b0_c0d0));
        assert_eq!(seg.flags(), TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!(seg.window(), 0x7210);
        assert_eq!(seg.header_len(), 24);
        assert_eq!(seg.options().mss, Some(1460));
        assert_eq!(seg.payload(), b"hello");
        assert_eq!(seg.payload_len(), 5);
    }

    #[test]
    fn wire_payload_len_exceeds_captured() {
        let seg = parse(&payload(&SYN, 1024, false)).expect("valid");
        assert_eq!(seg.payload(), b"");
        assert_eq!(seg.payload_len(), 1000);
        // Inconsistent IP length (shorter than the header) falls back to captured.
        let seg = parse(&payload(&SYN, 10, false)).expect("valid");
        assert_eq!(seg.payload_len(), 0);
    }

    #[test]
    fn truncated_and_malformed() {
        let p = parse(&payload(&SYN[..12], 40, false)).expect_err("short");
        assert_eq!(p.kind, super::super::ProblemKind::Truncated);
        assert_eq!(p.detail, "tcp header needs 20 bytes, 12 captured");
        let p = parse(&payload(&SYN[..22], 22, true)).expect_err("short");
        assert_eq!(p.kind, super::super::ProblemKind::Malformed);
        let mut bad = SYN;
        bad[12] = 0x30;
        let p = parse(&payload(&bad, 24, true)).expect_err("offset 3");
        assert_eq!(p.kind, super::super::ProblemKind::Malformed);
        assert_eq!(p.layer, Layer::Transport);
        assert_eq!(p.detail, "tcp data offset 3 is below the minimum of 5");
    }

    #[test]
    fn seqnum_wraps() {
        let a = SeqNum(u32::MAX - 10);
        let b = a + 20;
        assert_eq!(b, SeqNum(9));
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 20);
        assert_eq!(a - b, -20);
        assert_eq!(a.wrapping_add(11), SeqNum(0));
        let mut c = a;
        c += 11;
        assert_eq!(c, SeqNum(0));
        assert!(SeqNum(5) <= SeqNum(5));
        assert!(SeqNum(0x8000_0000) > SeqNum(1));
        assert!(SeqNum(1) > SeqNum(0x8000_0002));
    }

    #[test]
    fn flags_display() {
        let f = |x: TcpFlags| x.to_string();
        assert_eq!(f(TcpFlags::SYN), "S");
        assert_eq!(f(TcpFlags::SYN | TcpFlags::ACK), "S.");
        assert_eq!(f(TcpFlags::ACK), ".");
        assert_eq!(f(TcpFlags::PSH | TcpFlags::ACK), "P.");
        assert_eq!(f(TcpFlags::FIN | TcpFlags::ACK), "F.");
        assert_eq!(f(TcpFlags::RST), "R");
        assert_eq!(f(TcpFlags::RST | TcpFlags::ACK), "R.");
        assert_eq!(f(TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR), "SEW");
        assert_eq!(f(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE), "S.E");
        assert_eq!(f(TcpFlags(0)), "none");
        assert!(TcpFlags(0x12).contains(TcpFlags::SYN));
        assert!(!TcpFlags(0x12).contains(TcpFlags::FIN));
    }
}
