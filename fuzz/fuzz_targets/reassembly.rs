//! Structure-aware fuzzing of `flow::reassembly`: a sequence of SYN / segment / peer ACK /
//! reset / finish operations, mostly near one ISN so segments overlap and interact, with
//! small limits. Checks the sink contract (data and gaps tile the stream from 0, `end`
//! exactly once and last), the limits (buffered bytes and chunks), the counters, and,
//! when every segment carries the same bytes for the same sequence number, that every
//! delivered byte is the byte sent at that position.
//!
//! `Arbitrary` is implemented by hand: the fuzz crate's `libfuzzer-sys` is built without
//! its `arbitrary-derive` feature.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netsleuth::decode::SeqNum;
use netsleuth::flow::reassembly::{Reassembler, ReassemblyLimits, StreamEnd, StreamSink};
use netsleuth::base::Timestamp;

/// Operations per input at most, so one input cannot stall a run.
const MAX_OPS: usize = 512;

#[derive(Debug)]
enum Op {
    Syn(u32),
    Segment {
        /// Sequence number: `isn + near` unless `far`.
        near: u16,
        far: Option<u32>,
        len: u16,
        /// Bytes on the wire beyond the captured ones (snaplen cut).
        extra: u32,
        fin: bool,
        /// XORed into the payload: non-zero makes overlaps conflict.
        fill: u8,
    },
    Ack {
        near: u16,
        far: Option<u32>,
    },
    Reset,
    Finish,
}

impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let far = |u: &mut Unstructured<'a>| -> arbitrary::Result<Option<u32>> {
            Ok(if u.ratio(1u8, 16)? {
                Some(u.arbitrary()?)
            } else {
                None
            })
        };
        Ok(match u.int_in_range(0u8..=15)? {
            0 => Op::Syn(u.arbitrary()?),
            1..=10 => Op::Segment {
                near: u.arbitrary()?,
                far: far(u)?,
                len: u.int_in_range(0..=1500)?,
                extra: if u.ratio(1u8, 8)? { u.arbitrary()? } else { 0 },
                fin: u.ratio(1u8, 10)?,
                fill: if u.ratio(1u8, 8)? { u.arbitrary()? } else { 0 },
            },
            11..=13 => Op::Ack {
                near: u.arbitrary()?,
                far: far(u)?,
            },
            14 => Op::Reset,
            _ => Op::Finish,
        })
    }
}

#[derive(Debug)]
struct Input {
    isn: u32,
    syn: bool,
    max_buffered_bytes: u16,
    max_segments: u8,
    max_ahead: u32,
    ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let isn = u.arbitrary()?;
        let syn = u.arbitrary()?;
        let max_buffered_bytes = u.arbitrary()?;
        let max_segments = u.int_in_range(0..=64)?;
        let max_ahead = if u.arbitrary()? {
            1 << 30
        } else {
            u.arbitrary()?
        };
        let mut ops = Vec::new();
        for op in u.arbitrary_iter::<Op>()? {
            if ops.len() == MAX_OPS {
                break;
            }
            ops.push(op?);
        }
        Ok(Input {
            isn,
            syn,
            max_buffered_bytes,
            max_segments,
            max_ahead,
            ops,
        })
    }
}

/// The byte sent at sequence number `seq` when `fill` is 0.
fn pattern(seq: u32) -> u8 {
    (seq ^ (seq >> 8) ^ (seq >> 16)) as u8
}

/// Checks the sink contract as calls arrive.
struct Check {
    pos: u64,
    ends: u32,
    /// Sequence number of offset 0, when every byte can be checked against `pattern`.
    base: Option<u32>,
}

impl StreamSink for Check {
    fn data(&mut self, offset: u64, bytes: &[u8], _frame: u64, _ts: Timestamp) {
        assert_eq!(self.ends, 0, "data after end");
        assert_eq!(offset, self.pos, "data not contiguous");
        assert!(!bytes.is_empty(), "empty data");
        if let Some(base) = self.base {
            for (i, b) in bytes.iter().enumerate() {
                let seq = base.wrapping_add((offset + i as u64) as u32);
                assert_eq!(
                    *b,
                    pattern(seq),
                    "wrong byte at offset {}",
                    offset + i as u64
                );
            }
        }
        self.pos += bytes.len() as u64;
    }

    fn gap(&mut self, offset: u64, len: u64) {
        assert_eq!(self.ends, 0, "gap after end");
        assert_eq!(offset, self.pos, "gap not contiguous");
        assert!(len > 0, "empty gap");
        self.pos += len;
    }

    fn end(&mut self, _how: StreamEnd) {
        self.ends += 1;
        assert_eq!(self.ends, 1, "end called twice");
    }
}

fuzz_target!(|input: Input| {
    let limits = ReassemblyLimits {
        max_buffered_bytes: usize::from(input.max_buffered_bytes),
        max_segments: usize::from(input.max_segments),
        max_ahead: input.max_ahead,
    };
    let mut r = Reassembler::new(limits);
    let consistent = input
        .ops
        .iter()
        .all(|op| !matches!(op, Op::Segment { fill, .. } if *fill != 0));
    if input.syn {
        r.on_syn(SeqNum(input.isn));
    }
    let mut sink = Check {
        pos: 0,
        ends: 0,
        base: (input.syn && consistent).then(|| input.isn.wrapping_add(1)),
    };
    let mut payload = Vec::new();
    for (frame, op) in input.ops.iter().enumerate() {
        let frame = frame as u64;
        match *op {
            Op::Syn(isn) => r.on_syn(SeqNum(isn)),
            Op::Segment {
                near,
                far,
                len,
                extra,
                fin,
                fill,
            } => {
                let seq = far.unwrap_or(input.isn.wrapping_add(u32::from(near)));
                payload.clear();
                payload.extend((0..u32::from(len)).map(|i| pattern(seq.wrapping_add(i)) ^ fill));
                let wire = u32::from(len).saturating_add(extra);
                let ts = Timestamp(frame as i64);
                r.on_segment(SeqNum(seq), &payload, wire, fin, frame, ts, &mut sink);
            }
            Op::Ack { near, far } => {
                let ack = far.unwrap_or(input.isn.wrapping_add(u32::from(near)));
                r.on_peer_ack(SeqNum(ack), &mut sink);
            }
            Op::Reset => r.on_reset(&mut sink),
            Op::Finish => r.finish(&mut sink),
        }
        let st = r.stats();
        assert!(st.buffered_bytes <= limits.max_buffered_bytes);
        assert!(st.peak_buffered_bytes <= limits.max_buffered_bytes);
        assert!(st.buffered_segments <= limits.max_segments);
        assert_eq!(st.bytes_delivered + st.gap_bytes, r.next_offset());
        assert_eq!(sink.pos, r.next_offset());
        assert_eq!(r.ended().is_some(), sink.ends == 1);
        if consistent {
            assert_eq!(st.overlap_conflicts, 0);
        }
    }
    r.finish(&mut sink);
    assert_eq!(sink.ends, 1);
    assert_eq!(r.stats().buffered_bytes, 0);
});
