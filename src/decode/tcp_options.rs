//! TCP options (RFC 9293, 7323, 2018): the few this tool reasons about, parsed by hand
//! from the option bytes of a [`TcpSegment`](super::TcpSegment).
//!
//! Parsing is permissive: an unknown option is skipped by its length; a length that is
//! impossible (below 2, past the end, or wrong for a known kind) sets
//! [`TcpOptions::malformed`] and stops, keeping what was parsed before it.

use super::tcp::SeqNum;

/// Option kinds.
mod kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

/// The TCP options this tool uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift count (as sent; RFC 7323 caps the effective value at 14).
    pub window_scale: Option<u8>,
    /// SACK permitted (SYN only).
    pub sack_permitted: bool,
    /// SACK blocks `(left edge, right edge)`; only the first [`sack_count`](Self::sack_count)
    /// are meaningful, see [`sack`](Self::sack).
    pub sack_blocks: [(SeqNum, SeqNum); 4],
    /// How many entries of `sack_blocks` are filled.
    pub sack_count: u8,
    /// Timestamps `(TSval, TSecr)`.
    pub timestamps: Option<(u32, u32)>,
    /// An option had an impossible length; parsing stopped there.
    pub malformed: bool,
}

impl TcpOptions {
    /// The SACK blocks present, in header order.
    pub fn sack(&self) -> &[(SeqNum, SeqNum)] {
        let n = usize::from(self.sack_count).min(self.sack_blocks.len());
        self.sack_blocks.get(..n).unwrap_or_default()
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Parses the option bytes (everything after the fixed 20-byte header).
pub(crate) fn parse_options(mut rest: &[u8]) -> TcpOptions {
    let mut out = TcpOptions::default();
    while let Some((&k, tail)) = rest.split_first() {
        match k {
            kind::END => break,
            kind::NOP => {
                rest = tail;
                continue;
            }
            _ => {}
        }
        let len = usize::from(tail.first().copied().unwrap_or(0));
        let Some(body) = rest.get(2..len.max(2)).filter(|_| len >= 2) else {
            out.malformed = true;
            break;
        };
        let ok = match (k, body) {
            (kind::MSS, &[a, b]) => {
                out.mss = Some(u16::from_be_bytes([a, b]));
                true
            }
            (kind::WINDOW_SCALE, &[s]) => {
                out.window_scale = Some(s);
                true
            }
            (kind::SACK_PERMITTED, &[]) => {
                out.sack_permitted = true;
                true
            }
            (kind::SACK, blocks) if !blocks.is_empty() && blocks.len() % 8 == 0 => {
                for chunk in blocks.chunks_exact(8).take(out.sack_blocks.len()) {
                    if let Some(slot) = out.sack_blocks.get_mut(usize::from(out.sack_count)) {
                        *slot = (SeqNum(be32(chunk, 0)), SeqNum(be32(chunk, 4)));
                        out.sack_count += 1;
                    }
                }
                true
            }
            (kind::TIMESTAMPS, ts) if ts.len() == 8 => {
                out.timestamps = Some((be32(ts, 0), be32(ts, 4)));
                true
            }
            (kind::MSS | kind::WINDOW_SCALE | kind::SACK_PERMITTED | kind::SACK, _)
            | (kind::TIMESTAMPS, _) => false,
            _ => true,
        };
        if !ok {
            out.malformed = true;
            break;
        }
        rest = rest.get(len..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_options_linux() {
        // mss 1460, sackOK, TS val 1 ecr 0, nop, wscale 7 (Linux SYN layout)
        let opts = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let o = parse_options(&opts);
        assert_eq!(o.mss, Some(1460));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((1, 0)));
        assert_eq!(o.window_scale, Some(7));
        assert!(!o.malformed);
        assert!(o.sack().is_empty());
    }

    #[test]
    fn sack_blocks_and_timestamps() {
        let mut opts = vec![1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6, 1, 1, 5, 26];
        for (l, r) in [(100u32, 200u32), (300, 400), (u32::MAX - 1, 3)] {
            opts.extend_from_slice(&l.to_be_bytes());
            opts.extend_from_slice(&r.to_be_bytes());
        }
        let o = parse_options(&opts);
        assert_eq!(o.timestamps, Some((5, 6)));
        assert_eq!(
            o.sack(),
            &[
                (SeqNum(100), SeqNum(200)),
                (SeqNum(300), SeqNum(400)),
                (SeqNum(u32::MAX - 1), SeqNum(3)),
            ]
        );
        assert!(!o.malformed);
    }

    #[test]
    fn four_sack_blocks_max() {
        let mut opts = vec![5, 34];
        for i in 0..4u32 {
            opts.extend_from_slice(&(i * 10).to_be_bytes());
            opts.extend_from_slice(&(i * 10 + 5).to_be_bytes());
        }
        let o = parse_options(&opts);
        assert_eq!(o.sack().len(), 4);
        assert_eq!(o.sack()[3], (SeqNum(30), SeqNum(35)));
    }

    #[test]
    fn malformed_lengths_stop_parsing() {
        // MSS first, then an option whose length runs past the end.
        let o = parse_options(&[2, 4, 0x05, 0xb4, 8, 12, 0, 0]);
        assert_eq!(o.mss, Some(1460));
        assert!(o.malformed);
        assert_eq!(o.timestamps, None);
        // Length below 2.
        assert!(parse_options(&[30, 1, 0, 0]).malformed);
        assert!(parse_options(&[30, 0]).malformed);
        // Kind with no length byte.
        assert!(parse_options(&[2]).malformed);
        // Known kind with the wrong length.
        let o = parse_options(&[2, 3, 5, 3, 3, 7]);
        assert!(o.malformed);
        assert_eq!(o.mss, None);
        assert_eq!(o.window_scale, None);
        // SACK with a partial block.
        assert!(parse_options(&[5, 6, 0, 0, 0, 1]).malformed);
    }

    #[test]
    fn unknown_options_are_skipped_and_end_stops() {
        let o = parse_options(&[30, 4, 9, 9, 3, 3, 2, 0, 2, 4, 1, 1]);
        assert_eq!(o.window_scale, Some(2));
        assert_eq!(o.mss, None, "options after END are ignored");
        assert!(!o.malformed);
        assert_eq!(parse_options(&[]), TcpOptions::default());
    }
}
