//! Helpers shared by the decryption tests.

use crate::decrypt::keylog::decode_hex;

/// Hex (spaces allowed) to bytes; panics on bad hex (test input).
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = vec![0u8; s.len() / 2];
    decode_hex(&s, &mut out).expect("test hex");
    out
}

/// Hex to a fixed-size array.
pub fn arr<const N: usize>(s: &str) -> [u8; N] {
    hex(s).try_into().expect("test hex length")
}

/// A record split into (type, version, fragment).
pub struct Rec {
    pub content_type: u8,
    pub version: u16,
    pub fragment: Vec<u8>,
}

/// Cuts a byte stream into TLS records; a trailing partial record is an error.
pub fn records(mut stream: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    while !stream.is_empty() {
        assert!(stream.len() >= 5, "partial record header");
        let len = usize::from(u16::from_be_bytes([stream[3], stream[4]]));
        assert!(stream.len() >= 5 + len, "partial record");
        out.push(Rec {
            content_type: stream[0],
            version: u16::from_be_bytes([stream[1], stream[2]]),
            fragment: stream[5..5 + len].to_vec(),
        });
        stream = &stream[5 + len..];
    }
    out
}
