//! The pcapng Interface Statistics Block our captures end with (block type 5):
//! interface 0, the time the counters were read, then `isb_starttime` /
//! `isb_endtime` (first and last packet of the capture, when there were any),
//! `isb_ifrecv`, `isb_ifdrop` and `isb_osdrop`, each written only when known.
//! Timestamps are in the interface's units, nanoseconds (`if_tsresol` = 9).

use crate::base::Timestamp;
use crate::source::stats::{isb_option, InterfaceStats};

/// The longest block [`encode`] writes: 24 bytes of header and trailer, five
/// 12-byte options and the end-of-options marker.
pub(super) const MAX_LEN: u64 = 24 + 5 * 12 + 4;

/// Block type of an Interface Statistics Block.
const ISB_TYPE: u32 = 5;

/// The whole block, little-endian, lengths at both ends.
pub(super) fn encode(
    stats: &InterfaceStats,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
) -> Vec<u8> {
    let mut opts = Vec::with_capacity(64);
    let mut option = |code: u16, value: u64| {
        opts.extend_from_slice(&code.to_le_bytes());
        opts.extend_from_slice(&8u16.to_le_bytes());
        opts.extend_from_slice(&value.to_le_bytes());
    };
    if let Some(t) = start {
        option(isb_option::START_TIME, swapped_ts(t));
    }
    if let Some(t) = end {
        option(isb_option::END_TIME, swapped_ts(t));
    }
    for (code, value) in [
        (isb_option::IF_RECV, stats.received),
        (isb_option::IF_DROP, stats.dropped_by_interface),
        (isb_option::OS_DROP, stats.dropped_by_os),
    ] {
        if let Some(v) = value {
            option(code, v);
        }
    }
    if !opts.is_empty() {
        opts.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    }
    let total = (12 + 12 + opts.len()) as u32;
    let ts = nanos(stats.taken);
    let mut b = Vec::with_capacity(total as usize);
    for v in [
        ISB_TYPE,
        total,
        stats.interface,
        (ts >> 32) as u32,
        ts as u32,
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&opts);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

/// Nanoseconds since the epoch; times before 1970 are clamped to 0.
fn nanos(t: Timestamp) -> u64 {
    u64::try_from(t.0).unwrap_or(0)
}

/// A timestamp option value: the high 32 bits first, then the low, each in the
/// section's byte order (as in an EPB), so as a little-endian u64 the halves swap.
fn swapped_ts(t: Timestamp) -> u64 {
    let v = nanos(t);
    v.rotate_right(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_a_full_block() {
        let s = InterfaceStats {
            interface: 0,
            taken: Timestamp(0x1_0000_0002),
            received: Some(10),
            dropped_by_interface: Some(1),
            dropped_by_os: Some(2),
            ..InterfaceStats::default()
        };
        let b = encode(&s, Some(Timestamp(5)), Some(Timestamp(0x3_0000_0004)));
        assert_eq!(b.len() as u64, MAX_LEN);
        assert_eq!(&b[..4], &5u32.to_le_bytes());
        assert_eq!(&b[4..8], &(b.len() as u32).to_le_bytes());
        assert_eq!(&b[b.len() - 4..], &(b.len() as u32).to_le_bytes());
        assert_eq!(&b[12..16], &1u32.to_le_bytes()); // ts high
        assert_eq!(&b[16..20], &2u32.to_le_bytes()); // ts low
                                                     // isb_starttime: code 2, length 8, high word then low word.
        assert_eq!(&b[20..24], &[2, 0, 8, 0]);
        assert_eq!(&b[24..32], &[0, 0, 0, 0, 5, 0, 0, 0]);
        assert_eq!(&b[32..36], &[3, 0, 8, 0]);
        assert_eq!(&b[36..44], &[3, 0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(&b[44..48], &[4, 0, 8, 0]);
        assert_eq!(&b[48..56], &10u64.to_le_bytes());
        assert_eq!(&b[56..60], &[5, 0, 8, 0]);
        assert_eq!(&b[68..72], &[7, 0, 8, 0]);
        assert_eq!(&b[80..84], &[0, 0, 0, 0]);
    }

    #[test]
    fn no_counters_no_options() {
        let b = encode(&InterfaceStats::default(), None, None);
        assert_eq!(b.len(), 24);
    }
}
