//! Unit tests: hand-written segment sequences with the exact sink calls expected.

use super::*;

use super::test_sink::{Ev, Rec};

fn ts(frame: u64) -> Timestamp {
    Timestamp(1_700_000_000_000_000_000 + frame as i64 * 1000)
}

/// A full segment (captured = wire) of `data` at `seq`, carried by `frame`.
fn put(r: &mut Reassembler, s: &mut Rec, seq: u32, data: &[u8], frame: u64) {
    r.on_segment(
        SeqNum(seq),
        data,
        data.len() as u32,
        false,
        frame,
        ts(frame),
        s,
    );
}

fn put_fin(r: &mut Reassembler, s: &mut Rec, seq: u32, data: &[u8], frame: u64) {
    r.on_segment(
        SeqNum(seq),
        data,
        data.len() as u32,
        true,
        frame,
        ts(frame),
        s,
    );
}

fn syn(isn: u32) -> Reassembler {
    let mut r = Reassembler::default();
    r.on_syn(SeqNum(isn));
    r
}

#[test]
fn in_order_passes_through_without_buffering() {
    let mut r = syn(1000);
    let mut s = Rec::default();
    put(&mut r, &mut s, 1001, b"hello ", 1);
    put(&mut r, &mut s, 1007, b"world", 2);
    put_fin(&mut r, &mut s, 1012, b"", 3);
    assert_eq!(
        s.events,
        vec![
            Ev::Data(0, b"hello ".to_vec(), 1, ts(1)),
            Ev::Data(6, b"world".to_vec(), 2, ts(2)),
            Ev::End(StreamEnd::Fin),
        ]
    );
    assert_eq!(r.stats().bytes_delivered, 11);
    assert_eq!(r.stats().peak_buffered_bytes, 0);
    assert_eq!(r.next_offset(), 11);
    assert_eq!(r.fin_offset(), Some(11));
    assert_eq!(r.ended(), Some(StreamEnd::Fin));
}

#[test]
fn fin_on_the_last_data_segment() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put_fin(&mut r, &mut s, 1, b"bye", 1);
    assert_eq!(s.bytes(), b"bye");
    assert_eq!(s.ended(), Some(StreamEnd::Fin));
}

#[test]
fn reversed_segments_are_held_then_delivered() {
    let mut r = syn(99);
    let mut s = Rec::default();
    for i in (0..5u32).rev() {
        put(
            &mut r,
            &mut s,
            100 + 4 * i,
            &[b'a' + i as u8; 4],
            u64::from(i) + 1,
        );
        if i > 0 {
            assert!(s.events.is_empty(), "nothing before the first segment");
        }
    }
    assert_eq!(s.bytes(), b"aaaabbbbccccddddeeee");
    assert!(s.gaps().is_empty());
    assert_eq!(r.stats().peak_buffered_bytes, 16);
    assert_eq!(r.stats().buffered_bytes, 0);
    assert_eq!(r.stats().buffered_segments, 0);
}

#[test]
fn interleaved_segments() {
    let mut r = syn(0);
    let mut s = Rec::default();
    for (n, i) in [0u32, 2, 1, 4, 3].into_iter().enumerate() {
        put(
            &mut r,
            &mut s,
            1 + 3 * i,
            &[b'0' + i as u8; 3],
            n as u64 + 1,
        );
    }
    assert_eq!(s.bytes(), b"000111222333444");
    // Each chunk keeps the frame that carried it, not the one that filled the hole.
    assert_eq!(s.frames(), vec![(0, 1), (3, 3), (6, 2), (9, 5), (12, 4)]);
}

#[test]
fn retransmission_of_delivered_data_delivers_nothing() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 1, b"abcd", 1);
    put(&mut r, &mut s, 1, b"abcd", 2);
    put(&mut r, &mut s, 3, b"cdef", 3);
    assert_eq!(s.bytes(), b"abcdef");
    assert_eq!(s.frames(), vec![(0, 1), (4, 3)]);
    let st = r.stats();
    assert_eq!(
        (st.overlaps, st.overlap_bytes, st.overlap_conflicts),
        (2, 6, 0)
    );
}

#[test]
fn partial_overlap_of_held_data_with_same_bytes() {
    let mut r = syn(0);
    let mut s = Rec::default();
    let text = b"0123456789abcdefghij";
    put(&mut r, &mut s, 11, &text[10..20], 1);
    put(&mut r, &mut s, 6, &text[5..15], 2);
    assert_eq!(r.stats().buffered_bytes, 15);
    put(&mut r, &mut s, 1, &text[..5], 3);
    assert_eq!(s.bytes(), text);
    assert_eq!(s.frames(), vec![(0, 3), (5, 2), (10, 1)]);
    let st = r.stats();
    assert_eq!(
        (st.overlaps, st.overlap_bytes, st.overlap_conflicts),
        (1, 5, 0)
    );
}

#[test]
fn conflicting_overlap_is_counted_and_first_received_wins() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 11, &[b'a'; 10], 1);
    put(&mut r, &mut s, 6, &[b'b'; 10], 2);
    put(&mut r, &mut s, 1, &[b'c'; 5], 3);
    assert_eq!(s.bytes(), b"cccccbbbbbaaaaaaaaaa");
    let st = r.stats();
    assert_eq!(
        (st.overlaps, st.overlap_bytes, st.overlap_conflicts),
        (1, 5, 5)
    );
}

#[test]
fn in_order_segment_does_not_override_held_bytes() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 4, b"XYZ", 1);
    put(&mut r, &mut s, 1, b"abcdefgh", 2);
    assert_eq!(s.bytes(), b"abcXYZgh");
    assert_eq!(s.frames(), vec![(0, 2), (3, 1), (6, 2)]);
    let st = r.stats();
    assert_eq!(
        (st.overlaps, st.overlap_bytes, st.overlap_conflicts),
        (1, 3, 3)
    );
}

#[test]
fn snaplen_cut_segment_leaves_a_gap_for_its_tail() {
    let mut r = syn(0);
    let mut s = Rec::default();
    r.on_segment(SeqNum(1), b"head", 10, false, 1, ts(1), &mut s);
    put(&mut r, &mut s, 11, b"next", 2);
    assert_eq!(
        s.events,
        vec![
            Ev::Data(0, b"head".to_vec(), 1, ts(1)),
            Ev::Gap(4, 6),
            Ev::Data(10, b"next".to_vec(), 2, ts(2)),
        ]
    );
    assert_eq!((r.stats().gaps, r.stats().gap_bytes), (1, 6));
}

#[test]
fn snaplen_cut_segment_out_of_order_gaps_when_reached() {
    let mut r = syn(0);
    let mut s = Rec::default();
    r.on_segment(SeqNum(5), b"ab", 6, false, 1, ts(1), &mut s);
    put(&mut r, &mut s, 11, b"zz", 2);
    assert!(s.events.is_empty());
    put(&mut r, &mut s, 1, b"0123", 3);
    assert_eq!(s.bytes(), b"0123abzz");
    assert_eq!(s.gaps(), vec![(6, 4)]);
}

#[test]
fn ack_beyond_data_marks_a_gap() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 1, b"abcde", 1);
    r.on_peer_ack(SeqNum(1 + 15), &mut s);
    assert_eq!(s.gaps(), vec![(5, 10)]);
    assert_eq!(r.next_offset(), 15);
    put(&mut r, &mut s, 16, b"xyz", 2);
    assert_eq!(s.bytes(), b"abcdexyz");
    // An ACK at or before the next byte changes nothing.
    r.on_peer_ack(SeqNum(1 + 18), &mut s);
    r.on_peer_ack(SeqNum(1 + 3), &mut s);
    assert_eq!(r.stats().gaps, 1);
}

#[test]
fn ack_beyond_a_hole_delivers_held_data_between_gaps() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 1, b"abcde", 1);
    put(&mut r, &mut s, 11, b"kl", 2);
    put(&mut r, &mut s, 21, b"uv", 3);
    r.on_peer_ack(SeqNum(1 + 15), &mut s);
    assert_eq!(
        s.events[1..],
        [
            Ev::Gap(5, 5),
            Ev::Data(10, b"kl".to_vec(), 2, ts(2)),
            Ev::Gap(12, 3)
        ]
    );
    assert_eq!(
        r.stats().buffered_bytes,
        2,
        "data beyond the ACK stays held"
    );
}

#[test]
fn fin_before_missing_data_waits_for_the_hole() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 1, b"abcde", 1);
    put_fin(&mut r, &mut s, 11, b"klmno", 2);
    assert_eq!(s.ended(), None);
    assert_eq!(r.fin_offset(), Some(15));
    put(&mut r, &mut s, 6, b"fghij", 3);
    assert_eq!(s.bytes(), b"abcdefghijklmno");
    assert_eq!(s.ended(), Some(StreamEnd::Fin));
}

#[test]
fn fin_before_missing_data_then_finish_gaps_and_ends_with_fin() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 1, b"abcde", 1);
    put_fin(&mut r, &mut s, 11, b"klmno", 2);
    r.finish(&mut s);
    assert_eq!(s.bytes(), b"abcdeklmno");
    assert_eq!(s.gaps(), vec![(5, 5)]);
    assert_eq!(s.ended(), Some(StreamEnd::Fin));
}

#[test]
fn ack_of_the_fin_fills_the_hole_and_ends() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put_fin(&mut r, &mut s, 6, b"fg", 1);
    r.on_peer_ack(SeqNum(1 + 7 + 1), &mut s);
    assert_eq!(s.gaps(), vec![(0, 5)]);
    assert_eq!(s.ended(), Some(StreamEnd::Fin));
    assert_eq!(r.next_offset(), 7);
}

#[test]
fn data_beyond_the_fin_is_ignored_and_counted() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 21, b"late", 1); // held, then cut off by the FIN below
    put(&mut r, &mut s, 9, b"abcdef", 2); // straddles the FIN: 2 bytes kept
    put_fin(&mut r, &mut s, 1, b"01234567", 3);
    put(&mut r, &mut s, 12, b"zz", 4); // after the end
    assert_eq!(s.bytes(), b"01234567");
    assert_eq!(s.ended(), Some(StreamEnd::Fin));
    assert_eq!(r.stats().ignored_bytes, 4 + 6 + 2);
    assert_eq!(r.stats().buffered_bytes, 0);
}

#[test]
fn data_after_an_early_fin_position_is_trimmed() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put_fin(&mut r, &mut s, 5, b"ef", 1);
    put(&mut r, &mut s, 1, b"abcdXYZ", 2);
    assert_eq!(s.bytes(), b"abcdef");
    assert_eq!(s.ended(), Some(StreamEnd::Fin));
    assert_eq!(r.stats().ignored_bytes, 1);
    assert_eq!(r.stats().overlap_bytes, 2);
}

#[test]
fn rst_mid_stream_flushes_held_data_with_gaps() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 1, b"abcde", 1);
    put(&mut r, &mut s, 11, b"klmno", 2);
    r.on_reset(&mut s);
    assert_eq!(
        s.events,
        vec![
            Ev::Data(0, b"abcde".to_vec(), 1, ts(1)),
            Ev::Gap(5, 5),
            Ev::Data(10, b"klmno".to_vec(), 2, ts(2)),
            Ev::End(StreamEnd::Reset),
        ]
    );
    put(&mut r, &mut s, 16, b"pq", 3);
    r.on_peer_ack(SeqNum(100), &mut s);
    r.finish(&mut s);
    assert_eq!(s.events.len(), 4, "nothing after the end");
    assert_eq!(r.stats().ignored_bytes, 2);
}

#[test]
fn end_is_called_exactly_once() {
    // Rec panics on a second end; every order of the ending calls is tried.
    for order in [
        [0, 1, 2],
        [1, 0, 2],
        [2, 1, 0],
        [1, 2, 0],
        [2, 0, 1],
        [0, 2, 1],
    ] {
        let mut r = syn(0);
        let mut s = Rec::default();
        put(&mut r, &mut s, 1, b"ab", 1);
        for step in order {
            match step {
                0 => put_fin(&mut r, &mut s, 3, b"", 2),
                1 => r.on_reset(&mut s),
                _ => r.finish(&mut s),
            }
        }
        r.finish(&mut s);
        let ends = s.events.iter().filter(|e| matches!(e, Ev::End(_))).count();
        assert_eq!(ends, 1, "order {order:?}");
        assert!(matches!(s.events.last(), Some(Ev::End(_))));
    }
}

#[test]
fn finish_on_an_empty_stream_ends_truncated() {
    let mut r = Reassembler::default();
    let mut s = Rec::default();
    r.on_peer_ack(SeqNum(5), &mut s); // no start known: ignored
    r.finish(&mut s);
    assert_eq!(s.events, vec![Ev::End(StreamEnd::Truncated)]);
}

#[test]
fn finish_flushes_held_data_with_gaps_then_truncated() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 5, b"ef", 1);
    put(&mut r, &mut s, 9, b"ij", 2);
    r.finish(&mut s);
    assert_eq!(
        s.events,
        vec![
            Ev::Gap(0, 4),
            Ev::Data(4, b"ef".to_vec(), 1, ts(1)),
            Ev::Gap(6, 2),
            Ev::Data(8, b"ij".to_vec(), 2, ts(2)),
            Ev::End(StreamEnd::Truncated),
        ]
    );
}

#[test]
fn mid_stream_start_without_syn() {
    let mut r = Reassembler::default();
    let mut s = Rec::default();
    // A pure ACK does not fix the start.
    r.on_segment(SeqNum(4_000), b"", 0, false, 1, ts(1), &mut s);
    put(&mut r, &mut s, 5_000_000, b"world", 2);
    // A retransmission reaching back before the first byte seen.
    put(&mut r, &mut s, 5_000_000 - 6, b"hello world!", 3);
    assert_eq!(s.bytes(), b"world!");
    assert_eq!(s.frames(), vec![(0, 2), (5, 3)]);
    assert_eq!(r.stats().before_start_bytes, 6);
    assert_eq!(r.stats().overlap_bytes, 5);
    assert_eq!(r.next_offset(), 6);
}

#[test]
fn sequence_wraps_across_2_pow_32() {
    let isn = 0xffff_fff0u32;
    let text: Vec<u8> = (0..64u8).collect();
    let mut r = syn(isn);
    let mut s = Rec::default();
    for i in [2u32, 0, 3, 1] {
        let at = (16 * i) as usize;
        put(
            &mut r,
            &mut s,
            isn.wrapping_add(1 + 16 * i),
            &text[at..at + 16],
            1,
        );
    }
    put_fin(&mut r, &mut s, isn.wrapping_add(65), b"", 2);
    assert_eq!(s.bytes(), text);
    assert!(s.gaps().is_empty());
    assert_eq!(s.ended(), Some(StreamEnd::Fin));
}

#[test]
fn streams_longer_than_4_gib_keep_counting() {
    let mut r = syn(7);
    let mut s = Rec::default();
    let step = 0x3000_0000u32;
    let mut ack = 8u32;
    for _ in 0..6 {
        ack = ack.wrapping_add(step);
        r.on_peer_ack(SeqNum(ack), &mut s);
    }
    let at = 6 * u64::from(step);
    assert!(at > 1 << 32);
    assert_eq!(r.next_offset(), at);
    put(&mut r, &mut s, ack, b"tail", 1);
    assert_eq!(
        s.events.last(),
        Some(&Ev::Data(at, b"tail".to_vec(), 1, ts(1)))
    );
}

#[test]
fn buffer_byte_limit_forces_a_gap() {
    let limits = ReassemblyLimits {
        max_buffered_bytes: 10,
        ..ReassemblyLimits::default()
    };
    let mut r = Reassembler::new(limits);
    r.on_syn(SeqNum(0));
    let mut s = Rec::default();
    put(&mut r, &mut s, 1, b"abcde", 1);
    put(&mut r, &mut s, 11, b"klmnopqr", 2);
    put(&mut r, &mut s, 21, b"uvwxyz", 3); // 8 + 6 > 10: skip to 10
    assert_eq!(r.stats().buffer_overflows, 1);
    assert_eq!(s.gaps(), vec![(5, 5)]);
    assert_eq!(s.bytes(), b"abcdeklmnopqr");
    assert_eq!(r.stats().buffered_bytes, 6);
    assert!(r.stats().peak_buffered_bytes <= 10);
    r.finish(&mut s);
    assert_eq!(s.bytes(), b"abcdeklmnopqruvwxyz");
    assert_eq!(s.gaps(), vec![(5, 5), (18, 2)]);
}

#[test]
fn buffer_segment_limit_forces_a_gap() {
    let limits = ReassemblyLimits {
        max_segments: 2,
        ..ReassemblyLimits::default()
    };
    let mut r = Reassembler::new(limits);
    r.on_syn(SeqNum(0));
    let mut s = Rec::default();
    put(&mut r, &mut s, 31, b"d", 1);
    put(&mut r, &mut s, 21, b"c", 2);
    put(&mut r, &mut s, 11, b"b", 3); // third chunk: skip to the lowest, offset 10
    assert_eq!(r.stats().buffer_overflows, 1);
    assert_eq!(s.gaps(), vec![(0, 10)]);
    assert_eq!(s.bytes(), b"b");
    assert_eq!(r.stats().buffered_segments, 2);
}

#[test]
fn segment_larger_than_the_buffer_is_delivered_after_a_gap() {
    let limits = ReassemblyLimits {
        max_buffered_bytes: 4,
        ..ReassemblyLimits::default()
    };
    let mut r = Reassembler::new(limits);
    r.on_syn(SeqNum(0));
    let mut s = Rec::default();
    put(&mut r, &mut s, 11, b"12", 1);
    put(&mut r, &mut s, 5, b"0123456789", 2);
    assert_eq!(s.gaps(), vec![(0, 4)]);
    // First received wins: the held "12" replaces "67".
    assert_eq!(s.bytes(), b"0123451289");
    assert_eq!(s.frames(), vec![(4, 2), (10, 1), (12, 2)]);
    assert_eq!(r.stats().overlap_conflicts, 2, "held \"12\" vs \"67\"");
    assert_eq!(r.stats().buffered_bytes, 0);
}

#[test]
fn zero_limits_still_deliver_everything_with_gaps() {
    let limits = ReassemblyLimits {
        max_buffered_bytes: 0,
        max_segments: 0,
        max_ahead: 1 << 30,
    };
    let mut r = Reassembler::new(limits);
    r.on_syn(SeqNum(0));
    let mut s = Rec::default();
    put(&mut r, &mut s, 6, b"fgh", 1);
    put(&mut r, &mut s, 1, b"abcde", 2);
    r.finish(&mut s);
    assert_eq!(s.bytes(), b"fgh");
    assert_eq!(s.gaps(), vec![(0, 5)]);
    assert_eq!(r.stats().buffer_overflows, 1);
    assert_eq!(r.stats().peak_buffered_bytes, 0);
}

#[test]
fn segments_far_out_of_window_are_ignored() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put(&mut r, &mut s, 1, b"ab", 1);
    put(&mut r, &mut s, 3 + (1 << 30) + 1, b"far", 2); // just beyond max_ahead
    put(&mut r, &mut s, 3 + 0x5000_0000, b"far", 3); // 2.75 GiB behind
    r.on_peer_ack(SeqNum(3 + 0x6000_0000), &mut s);
    assert_eq!(r.stats().out_of_window, 3);
    put(&mut r, &mut s, 3 + (1 << 30), b"edge", 4); // exactly max_ahead: held
    assert_eq!(r.stats().buffered_bytes, 4);
    assert_eq!(s.bytes(), b"ab");
    assert!(s.gaps().is_empty());
}

#[test]
fn a_second_fin_elsewhere_is_ignored() {
    let mut r = syn(0);
    let mut s = Rec::default();
    put_fin(&mut r, &mut s, 11, b"", 1);
    put_fin(&mut r, &mut s, 11, b"", 2); // same position: fine
    put_fin(&mut r, &mut s, 5, b"", 3); // elsewhere: ignored
    assert_eq!(r.stats().out_of_window, 1);
    put(&mut r, &mut s, 1, b"0123456789", 4);
    assert_eq!(s.ended(), Some(StreamEnd::Fin));
    assert_eq!(s.bytes(), b"0123456789");
}

#[test]
fn syn_with_data_and_repeated_syn() {
    let mut r = syn(41);
    r.on_syn(SeqNum(999)); // a later SYN does not move the start
    let mut s = Rec::default();
    put(&mut r, &mut s, 42, b"tfo", 1);
    assert_eq!(s.events, vec![Ev::Data(0, b"tfo".to_vec(), 1, ts(1))]);
}

#[test]
fn held_chunks_keep_their_frame_and_arrive_when_the_hole_fills() {
    let mut r = syn(0);
    let mut s = Rec::default();
    r.on_segment(SeqNum(4), b"def", 3, false, 10, Timestamp(500), &mut s);
    r.on_segment(SeqNum(1), b"abc", 3, false, 11, Timestamp(600), &mut s);
    assert_eq!(
        s.events,
        vec![
            Ev::Data(0, b"abc".to_vec(), 11, Timestamp(600)),
            // In order only once "abc" came: the application has it at 600.
            Ev::Data(3, b"def".to_vec(), 10, Timestamp(600)),
        ]
    );
}

#[test]
fn old_data_up_to_2_pow_31_behind_is_a_retransmission_not_out_of_window() {
    let mut r = syn(0);
    let mut s = Rec::default();
    r.on_peer_ack(SeqNum(1 + 0x3000_0000), &mut s);
    r.on_peer_ack(SeqNum(1 + 0x6000_0000), &mut s);
    put(&mut r, &mut s, 1 + 0x2000_0000, b"old", 1); // 1 GiB behind
    put(&mut r, &mut s, 1 + 0x6000_0000 - 3, b"oldnew", 2); // straddles the next byte
    let st = r.stats();
    assert_eq!((st.out_of_window, st.overlaps, st.overlap_bytes), (0, 2, 6));
    assert_eq!(s.bytes(), b"new");
}
