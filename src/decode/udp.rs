//! UDP: the datagram view ([`UdpDatagram`]), parsed by hand from the IP payload.
//!
//! The payload is bounded by the UDP length field when that is consistent with what was
//! captured, so Ethernet padding never leaks into it.

use super::{DecodeProblem, IpPayload};

/// Byte offsets of the UDP header fields.
mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    /// Header length.
    pub const LEN: usize = 8;
}

/// A UDP datagram: the 8-byte header plus the captured payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    header: &'a [u8],
    payload: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

impl<'a> UdpDatagram<'a> {
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.header, field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.header, field::DST_PORT)
    }
    /// The length field: header plus payload on the wire, as the sender wrote it.
    pub fn length(&self) -> u16 {
        be16(self.header, field::LENGTH)
    }
    /// The captured payload bytes (cut at the length field when it is consistent).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// Parses the UDP header at the start of an IP payload.
pub(crate) fn parse<'a>(ip: &IpPayload<'a>) -> Result<UdpDatagram<'a>, DecodeProblem> {
    let (Some(header), Some(rest)) = (ip.bytes.get(..field::LEN), ip.bytes.get(field::LEN..))
    else {
        return Err(ip.short("udp header", field::LEN));
    };
    let length = usize::from(be16(header, field::LENGTH));
    let payload = match length.checked_sub(field::LEN) {
        Some(n) if n <= rest.len() => rest.get(..n).unwrap_or(rest),
        _ => rest,
    };
    Ok(UdpDatagram { header, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ProblemKind;

    fn ip(bytes: &[u8], from_header: bool) -> IpPayload<'_> {
        IpPayload {
            bytes,
            wire_len: bytes.len() as u32,
            len_from_header: from_header,
        }
    }

    #[test]
    fn every_field() {
        let d = [
            0x00, 0x35, 0xc0, 0x01, 0x00, 0x0b, 0xab, 0xcd, b'a', b'b', b'c', 0, 0,
        ];
        let u = parse(&ip(&d, true)).expect("valid");
        assert_eq!(u.src_port(), 53);
        assert_eq!(u.dst_port(), 0xc001);
        assert_eq!(u.length(), 11);
        assert_eq!(
            u.payload(),
            b"abc",
            "padding beyond the length field is cut"
        );
    }

    #[test]
    fn length_field_larger_than_captured_keeps_captured() {
        let d = [0, 1, 0, 2, 0x05, 0xdc, 0, 0, 1, 2];
        let u = parse(&ip(&d, false)).expect("valid");
        assert_eq!(u.length(), 1500);
        assert_eq!(u.payload(), &[1, 2]);
        // A length field below 8 is kept as data; the payload is what was captured.
        let d = [0, 1, 0, 2, 0, 3, 0, 0, 9];
        assert_eq!(parse(&ip(&d, true)).expect("valid").payload(), &[9]);
    }

    #[test]
    fn short_header() {
        for n in 0..8 {
            let d = [0u8; 8];
            let p = parse(&ip(&d[..n], false)).expect_err("short");
            assert_eq!(p.kind, ProblemKind::Truncated);
            assert_eq!(p.detail, format!("udp header needs 8 bytes, {n} captured"));
            let p = parse(&ip(&d[..n], true)).expect_err("short");
            assert_eq!(p.kind, ProblemKind::Malformed);
        }
    }
}
