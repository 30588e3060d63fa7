//! Property tests: reassembly equals the original bytes under any segment order and any
//! overlap; dropped segments become exactly the uncovered ranges as gaps; garbage input
//! never panics and never exceeds the limits.

use proptest::prelude::*;

use super::test_sink::{Ev, Rec};
use super::*;

/// A segment of the original text: `[start, end)`, with or without FIN.
type Seg = (usize, usize, bool);

/// Initial sequence numbers, biased towards the 2^32 wrap.
fn isn() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        (0u32..2000).prop_map(|x| 0u32.wrapping_sub(x))
    ]
}

/// A text and segments covering all of it (a random tiling plus random overlapping
/// extras carrying the same bytes), shuffled; the segments ending the text carry FIN
/// when `fin` is drawn.
fn segmented() -> impl Strategy<Value = (Vec<u8>, Vec<Seg>, u32)> {
    (
        prop::collection::vec(any::<u8>(), 1..1200),
        isn(),
        any::<bool>(),
    )
        .prop_flat_map(|(text, isn, fin)| {
            let n = text.len();
            let cuts = prop::collection::vec(0..=n, 0..24);
            let extras = prop::collection::vec((0..n, 1..300usize), 0..10);
            (Just(text), cuts, extras, Just(isn), Just(fin))
        })
        .prop_flat_map(|(text, mut cuts, extras, isn, fin)| {
            let n = text.len();
            cuts.extend([0, n]);
            cuts.sort_unstable();
            cuts.dedup();
            let mut segs: Vec<Seg> = cuts.windows(2).map(|w| (w[0], w[1], false)).collect();
            segs.extend(extras.into_iter().map(|(s, l)| (s, (s + l).min(n), false)));
            for s in &mut segs {
                s.2 = fin && s.1 == n;
            }
            (Just(text), Just(segs).prop_shuffle(), Just(isn))
        })
}

fn send(r: &mut Reassembler, sink: &mut Rec, text: &[u8], isn: u32, (a, b, fin): Seg, n: u64) {
    let seq = SeqNum(isn.wrapping_add(1).wrapping_add(a as u32));
    let data = &text[a..b];
    r.on_segment(
        seq,
        data,
        data.len() as u32,
        fin,
        n,
        Timestamp(n as i64),
        sink,
    );
}

/// Every data call carries the original bytes at its offset.
fn assert_faithful(sink: &Rec, text: &[u8]) {
    for e in &sink.events {
        if let Ev::Data(o, b, _, _) = e {
            let o = *o as usize;
            assert_eq!(&text[o..o + b.len()], &b[..], "wrong bytes at offset {o}");
        }
    }
}

/// Ranges of `[0, end)` that no segment covers, in order.
fn uncovered(segs: &[Seg], end: usize) -> Vec<(u64, u64)> {
    let mut covered = vec![false; end];
    for &(a, b, _) in segs {
        for c in covered.iter_mut().take(b.min(end)).skip(a) {
            *c = true;
        }
    }
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (i, c) in covered.iter().enumerate() {
        if !c {
            match out.last_mut() {
                Some(last) if last.0 + last.1 == i as u64 => last.1 += 1,
                _ => out.push((i as u64, 1)),
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn any_order_any_overlap_reassembles_the_original((text, segs, isn) in segmented()) {
        let mut r = Reassembler::default();
        r.on_syn(SeqNum(isn));
        let mut sink = Rec::default();
        for (i, &s) in segs.iter().enumerate() {
            send(&mut r, &mut sink, &text, isn, s, i as u64 + 1);
        }
        let fin = segs.iter().any(|s| s.2);
        prop_assert_eq!(sink.bytes(), text.clone());
        prop_assert!(sink.gaps().is_empty());
        prop_assert_eq!(sink.ended(), fin.then_some(StreamEnd::Fin));
        prop_assert_eq!(r.stats().overlap_conflicts, 0);
        prop_assert_eq!(r.stats().buffered_bytes, 0);
        r.finish(&mut sink);
        let how = if fin { StreamEnd::Fin } else { StreamEnd::Truncated };
        prop_assert_eq!(sink.ended(), Some(how));
        prop_assert_eq!(sink.bytes(), text);
    }

    #[test]
    fn dropped_segments_become_exactly_the_uncovered_gaps(
        (text, segs, isn, drops) in segmented().prop_flat_map(|(t, s, i)| {
            let n = s.len();
            (Just(t), Just(s), Just(i), prop::collection::vec(prop::bool::weighted(0.3), n))
        })
    ) {
        let kept: Vec<Seg> = segs
            .iter()
            .zip(&drops)
            .filter(|(_, d)| !**d)
            .map(|(s, _)| *s)
            .collect();
        let mut r = Reassembler::default();
        r.on_syn(SeqNum(isn));
        let mut sink = Rec::default();
        for (i, &s) in kept.iter().enumerate() {
            send(&mut r, &mut sink, &text, isn, s, i as u64 + 1);
        }
        r.finish(&mut sink);
        let fin = kept.iter().any(|s| s.2);
        let end = if fin { text.len() } else { kept.iter().map(|s| s.1).max().unwrap_or(0) };
        assert_faithful(&sink, &text);
        prop_assert_eq!(sink.gaps(), uncovered(&kept, end));
        prop_assert_eq!(r.next_offset(), end as u64);
        let how = if fin { StreamEnd::Fin } else { StreamEnd::Truncated };
        prop_assert_eq!(sink.ended(), Some(how));
        prop_assert_eq!(r.stats().bytes_delivered + r.stats().gap_bytes, end as u64);
    }

    #[test]
    fn small_buffers_lose_bytes_but_never_corrupt_them((text, segs, isn) in segmented(),
        max_bytes in 0usize..300, max_segs in 0usize..6) {
        let limits = ReassemblyLimits {
            max_buffered_bytes: max_bytes,
            max_segments: max_segs,
            ..ReassemblyLimits::default()
        };
        let mut r = Reassembler::new(limits);
        r.on_syn(SeqNum(isn));
        let mut sink = Rec::default();
        for (i, &s) in segs.iter().enumerate() {
            send(&mut r, &mut sink, &text, isn, s, i as u64 + 1);
            prop_assert!(r.stats().buffered_bytes <= max_bytes);
            prop_assert!(r.stats().buffered_segments <= max_segs);
        }
        r.finish(&mut sink);
        assert_faithful(&sink, &text);
        prop_assert!(r.stats().peak_buffered_bytes <= max_bytes);
        prop_assert_eq!(r.stats().overlap_conflicts, 0);
        if r.stats().buffer_overflows == 0 {
            prop_assert_eq!(sink.bytes(), text);
        }
    }

    #[test]
    fn garbage_never_panics_and_stays_bounded(
        ops in prop::collection::vec(op(), 0..60),
        max_bytes in 0usize..2000,
        max_segs in 0usize..20,
        max_ahead in prop_oneof![Just(1u32 << 30), 0u32..5000, any::<u32>()],
    ) {
        let limits = ReassemblyLimits {
            max_buffered_bytes: max_bytes,
            max_segments: max_segs,
            max_ahead,
        };
        let mut r = Reassembler::new(limits);
        let mut sink = Rec::default();
        for (i, op) in ops.iter().enumerate() {
            let frame = i as u64;
            match op {
                Op::Syn(isn) => r.on_syn(SeqNum(*isn)),
                Op::Seg { seq, data, extra, fin } => {
                    let wire = (data.len() as u32).saturating_add(*extra);
                    r.on_segment(SeqNum(*seq), data, wire, *fin, frame, Timestamp(0), &mut sink);
                }
                Op::Ack(ack) => r.on_peer_ack(SeqNum(*ack), &mut sink),
                Op::Reset => r.on_reset(&mut sink),
                Op::Finish => r.finish(&mut sink),
            }
            let st = r.stats();
            prop_assert!(st.buffered_bytes <= max_bytes);
            prop_assert!(st.peak_buffered_bytes <= max_bytes);
            prop_assert!(st.buffered_segments <= max_segs);
            prop_assert_eq!(st.bytes_delivered + st.gap_bytes, r.next_offset());
            prop_assert_eq!(sink.pos(), r.next_offset());
        }
        r.finish(&mut sink);
        prop_assert!(matches!(sink.events.last(), Some(Ev::End(_))));
        prop_assert_eq!(r.stats().buffered_bytes, 0);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Syn(u32),
    Seg {
        seq: u32,
        data: Vec<u8>,
        extra: u32,
        fin: bool,
    },
    Ack(u32),
    Reset,
    Finish,
}

/// Sequence numbers mostly near 0 (so segments interact), sometimes anywhere.
fn seq() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..3000, 1 => any::<u32>()]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => seq().prop_map(Op::Syn),
        8 => (
            seq(),
            prop::collection::vec(any::<u8>(), 0..300),
            prop_oneof![4 => Just(0u32), 2 => 0u32..100, 1 => any::<u32>()],
            prop::bool::weighted(0.1),
        )
            .prop_map(|(seq, data, extra, fin)| Op::Seg { seq, data, extra, fin }),
        3 => seq().prop_map(Op::Ack),
        1 => Just(Op::Reset),
        1 => Just(Op::Finish),
    ]
}
