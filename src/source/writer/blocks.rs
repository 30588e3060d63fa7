//! pcapng blocks as bytes, little-endian, lengths at both ends: the Section
//! Header, Interface Description, Enhanced Packet (with `opt_comment`s) and
//! Decryption Secrets blocks. The capture writer and `analyze --evidence`
//! both write through these.
//!
//! Layouts from the pcapng specification (draft-ietf-opsawg-pcapng):
//! * SHB (type `0x0A0D0D0A`): byte-order magic `0x1A2B3C4D`, version 1.0,
//!   section length -1 (unknown), `shb_userappl` (code 4) "netsleuth".
//! * IDB (type 1): link type, reserved, snap length, `if_tsresol` (code 9) = 9,
//!   so timestamps are nanoseconds.
//! * EPB (type 6): interface id, 64-bit timestamp split high/low, captured and
//!   original lengths, data padded to 32 bits, then options: `opt_comment`
//!   (code 1, UTF-8), as many as given.
//! * DSB (type `0x0000000A`): secrets type, secrets length, the secrets padded
//!   to 32 bits. Type `0x544c534b` ("TLSK") holds NSS key log lines.

use crate::base::{LinkType, Timestamp};

/// Block type of a Section Header Block.
const SHB: u32 = 0x0a0d_0d0a;
/// Block type of an Interface Description Block.
const IDB: u32 = 1;
/// Block type of an Enhanced Packet Block.
const EPB: u32 = 6;
/// Block type of a Decryption Secrets Block.
const DSB: u32 = 0x0000_000a;
/// Secrets type of an NSS key log in a DSB.
pub const TLS_KEY_LOG: u32 = 0x544c_534b;
/// `opt_comment`.
const OPT_COMMENT: u16 = 1;
/// Longest comment kept: an option's length is 16 bits.
const MAX_COMMENT: usize = 60_000;

/// The bytes of an Enhanced Packet Block before its data: 28 of header, and
/// after it the 4-byte trailer, with no options.
pub const EPB_OVERHEAD: u64 = 32;

/// Bytes `len` takes once padded to 32 bits.
pub fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let total = (12 + padded(body.len())) as u32;
    let mut b = Vec::with_capacity(total as usize);
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(8 + padded(body.len()), 0);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.resize(padded(out.len()), 0);
}

/// A Section Header Block naming netsleuth as the writer.
pub fn section_header() -> Vec<u8> {
    let mut body = Vec::with_capacity(36);
    body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    option(&mut body, 4, b"netsleuth");
    body.extend_from_slice(&[0, 0, 0, 0]);
    block(SHB, &body)
}

/// An Interface Description Block with nanosecond timestamps.
pub fn interface(link: LinkType, snaplen: u32) -> Vec<u8> {
    let mut body = Vec::with_capacity(20);
    body.extend_from_slice(&(link.0 as u16).to_le_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&snaplen.to_le_bytes());
    option(&mut body, 9, &[9]);
    body.extend_from_slice(&[0, 0, 0, 0]);
    block(IDB, &body)
}

/// The 28 bytes that open an Enhanced Packet Block of `total` bytes.
pub fn packet_header(
    total: u32,
    interface: u32,
    ts: Timestamp,
    caplen: u32,
    orig_len: u32,
) -> [u8; 28] {
    let ts = u64::try_from(ts.0).unwrap_or(0);
    let mut h = [0u8; 28];
    for (i, v) in [
        EPB,
        total,
        interface,
        (ts >> 32) as u32,
        ts as u32,
        caplen,
        orig_len,
    ]
    .into_iter()
    .enumerate()
    {
        h[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    h
}

/// A whole Enhanced Packet Block with these comments (each cut to what an
/// option can hold).
pub fn packet(
    interface: u32,
    ts: Timestamp,
    orig_len: u32,
    data: &[u8],
    comments: &[String],
) -> Vec<u8> {
    let mut opts = Vec::new();
    for c in comments {
        let mut end = c.len().min(MAX_COMMENT);
        while !c.is_char_boundary(end) {
            end -= 1;
        }
        option(&mut opts, OPT_COMMENT, &c.as_bytes()[..end]);
    }
    if !opts.is_empty() {
        opts.extend_from_slice(&[0, 0, 0, 0]);
    }
    let total = (EPB_OVERHEAD as usize + padded(data.len()) + opts.len()) as u32;
    let mut b = Vec::with_capacity(total as usize);
    b.extend_from_slice(&packet_header(
        total,
        interface,
        ts,
        data.len() as u32,
        orig_len,
    ));
    b.extend_from_slice(data);
    b.resize(28 + padded(data.len()), 0);
    b.extend_from_slice(&opts);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

/// A Decryption Secrets Block holding `secrets` of `kind` (e.g.
/// [`TLS_KEY_LOG`]).
pub fn secrets(kind: u32, secrets: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(8 + padded(secrets.len()));
    body.extend_from_slice(&kind.to_le_bytes());
    body.extend_from_slice(&(secrets.len() as u32).to_le_bytes());
    body.extend_from_slice(secrets);
    block(DSB, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_their_length_at_both_ends_and_are_aligned() {
        let comments = vec!["netsleuth: tcp.connect_timeout".to_string(), "é".into()];
        for b in [
            section_header(),
            interface(LinkType(1), 65535),
            packet(0, Timestamp(1_500_000_000_123), 60, &[1, 2, 3], &comments),
            packet(0, Timestamp(0), 4, &[1, 2, 3, 4], &[]),
            secrets(TLS_KEY_LOG, b"CLIENT_RANDOM 00 11\n"),
        ] {
            assert_eq!(b.len() % 4, 0);
            let head = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
            let tail = u32::from_le_bytes(b[b.len() - 4..].try_into().unwrap()) as usize;
            assert_eq!((head, tail), (b.len(), b.len()));
        }
        let p = packet(2, Timestamp(1_500_000_000_123), 60, &[1, 2, 3], &comments);
        assert_eq!(u32::from_le_bytes(p[8..12].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(p[20..24].try_into().unwrap()), 3);
        assert_eq!(u32::from_le_bytes(p[24..28].try_into().unwrap()), 60);
        // The first comment follows the padded data.
        assert_eq!(&p[32..34], &1u16.to_le_bytes());
        assert_eq!(&p[36..36 + 30], b"netsleuth: tcp.connect_timeout");
    }
}
