//! Unit tests for damaged input: gaps, overlaps, malformed and oversize heads,
//! unframeable bodies.

use super::tests::{all_chunkings, run, Feeder, GET, MS, OK, T0};
use crate::app::Origin;
use crate::base::Side;
use crate::base::Timestamp;
use crate::flow::reassembly::StreamEnd;

#[test]
fn chunked_bad_size_stops_server_direction() {
    let server: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    let t = run(GET, server, usize::MAX);
    assert_eq!(t.len(), 1);
    assert!(!t[0].complete);
    assert!(
        t[0].notes.iter().any(|n| n.contains("framing lost")),
        "{:?}",
        t[0].notes
    );
}

#[test]
fn gap_inside_body_counts_missing_bytes() {
    let mut f = Feeder::new();
    f.seg(Side::Client, GET, 0);
    f.seg(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\nabc",
        10,
    );
    f.gap(Side::Server, 1500);
    f.seg(Side::Server, &[b'x'; 1497], 12);
    f.seg(Side::Client, GET, 20);
    f.seg(Side::Server, OK, 30);
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].response_body_bytes, t[0].response_missing_bytes),
        (3000, 1500)
    );
    assert!(t[0].complete && t[1].complete);
    assert_eq!(f.c.stats().missing_body_bytes, 1500);
}

#[test]
fn gap_in_chunked_data_and_by_offset_jump() {
    let mut f = Feeder::new();
    f.seg(Side::Client, GET, 0);
    f.seg(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nab",
        10,
    );
    // Jump ahead in offsets: the 10 bytes between are a gap.
    let i = 1;
    let off = f.off[i] + 10;
    f.c.on_data(
        Origin {
            conn: 7,
            side: Side::Server,
            frame: 99,
            ts: Timestamp(T0 + 20 * MS),
        },
        off,
        b"opqr\r\n0\r\n\r\n",
    );
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].response_body_bytes, t[0].response_missing_bytes),
        (16, 10)
    );
    assert!(t[0].complete);
}

#[test]
fn overlapping_offsets_are_skipped() {
    let mut f = Feeder::new();
    f.seg(Side::Client, GET, 0);
    let origin = Origin {
        conn: 7,
        side: Side::Server,
        frame: 5,
        ts: Timestamp(T0),
    };
    f.c.on_data(origin, 0, &OK[..20]);
    f.c.on_data(origin, 10, &OK[10..]);
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].response_body_bytes, 13);
}

#[test]
fn gap_in_head_resyncs_at_the_next_message() {
    let mut f = Feeder::new();
    f.seg(Side::Client, &GET[..10], 0);
    f.gap(Side::Client, 5);
    f.seg(Side::Client, b"rest of the lost head\r\n\r\n", 1);
    f.seg(Side::Client, GET, 1);
    assert_eq!(f.c.stats().head_gaps, 1);
    assert_eq!(f.c.stats().requests, 1);
    assert!(
        f.c.notes()
            .iter()
            .any(|n| n.contains("missing at a message head")),
        "{:?}",
        f.c.notes()
    );
    f.seg(Side::Server, OK, 2);
    f.seg(Side::Server, OK, 3);
    let mut t = f.c.take_transactions();
    t.extend(f.finish(4, None));
    // The lost request's place, then the request after the gap.
    assert_eq!(t.len(), 2);
    assert!(t[0].method.is_none() && t[0].status == Some(200));
    assert!(t[0].notes.iter().any(|n| n.contains("lost in the gap")));
    assert_eq!(t[1].path.as_deref(), Some("/v1/orders?id=3"));
    assert_eq!(t[1].status, Some(200));
    assert!(t.iter().all(|t| t.meta.resynced));
    assert_eq!(
        t.iter().map(|t| t.meta.trans_depth).collect::<Vec<_>>(),
        [1, 2]
    );
}

#[test]
fn lost_response_head_resyncs_keep_alive() {
    let get = |p: &str| format!("GET /{p} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes();
    let mut f = Feeder::new();
    f.seg(Side::Client, &[get("1"), get("2"), get("3")].concat(), 0);
    f.seg(Side::Server, OK, 1);
    // The second response's head and part of its body are lost.
    f.seg(Side::Server, &OK[..5], 2);
    f.gap(Side::Server, 40);
    f.seg(Side::Server, b"rders\":[]}", 3);
    f.seg(Side::Server, OK, 4);
    let mut t = f.c.take_transactions();
    t.extend(f.finish(5, None));
    assert_eq!(t.len(), 3);
    assert_eq!((t[0].status, t[0].meta.resynced), (Some(200), false));
    assert_eq!(t[1].status, None);
    assert!(!t[1].complete);
    assert!(
        t[1].notes.iter().any(|n| n.contains("resumed")),
        "{:?}",
        t[1].notes
    );
    assert_eq!((t[2].status, t[2].complete), (Some(200), true));
    assert_eq!(t[2].path.as_deref(), Some("/3"));
    assert!(t[2].meta.resynced);
}

#[test]
fn resync_search_is_bounded() {
    let mut f = Feeder::new();
    f.seg(Side::Client, GET, 0);
    f.gap(Side::Server, 10);
    let junk = vec![b'x'; 64 * 1024];
    for i in 0..20 {
        f.seg(Side::Server, &junk, 1 + i);
    }
    assert!(
        f.c.notes()
            .iter()
            .any(|n| n.contains("no response line within")),
        "{:?}",
        f.c.notes()
    );
    // Once stopped, a status line is no longer looked for.
    f.seg(Side::Server, b"\n", 30);
    f.seg(Side::Server, OK, 31);
    assert_eq!(f.c.stats().responses, 0);
}

#[test]
fn malformed_head_is_counted_and_noted() {
    let mut f = Feeder::new();
    f.seg(Side::Client, GET, 0);
    f.seg(Side::Server, b"HTTP/1.1 2x0 What\r\n\r\n", 5);
    f.seg(Side::Server, OK, 6);
    assert_eq!(f.c.stats().malformed_heads, 1);
    let t = f.finish(10, None);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].status, None);
    assert_eq!(
        t[0].gave_up, None,
        "our parser lost the stream: nobody is blamed"
    );
    assert!(
        t[0].notes
            .iter()
            .any(|n| n.contains("malformed response head")),
        "{:?}",
        t[0].notes
    );

    let mut f = Feeder::new();
    f.seg(
        Side::Client,
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n\x00\x01GET",
        0,
    );
    assert!(f.c.stats().malformed_heads <= 1);
    let mut f = Feeder::new();
    f.seg(
        Side::Client,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n",
        0,
    );
    assert_eq!(f.c.stats().malformed_heads, 1);
}

#[test]
fn oversize_head_stops_with_note() {
    let mut f = Feeder::new();
    f.seg(Side::Client, b"GET / HTTP/1.1\r\n", 0);
    let filler = [b"X-Filler: ".as_slice(), &[b'a'; 1000], b"\r\n"].concat();
    for _ in 0..70 {
        f.seg(Side::Client, &filler, 1);
    }
    assert_eq!(f.c.stats().oversize_heads, 1);
    assert!(f.c.notes().iter().any(|n| n.contains("larger than 64 KiB")));
    assert_eq!(f.c.stats().requests, 0);
}

#[test]
fn conflicting_content_length() {
    // As Zeek: the last field wins, with a note.
    let server: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    let t = all_chunkings(GET, server);
    assert_eq!(t[0].response_body_bytes, 6);
    assert!(t[0].complete);
    assert!(t[0]
        .notes
        .iter()
        .any(|n| n.contains("Content-Length fields disagree")));
    // Same value repeated is fine.
    let server: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello";
    let t = all_chunkings(GET, server);
    assert!(t[0].notes.is_empty() && t[0].complete);
    // Request: not a number reads as 0 (Zeek's `atoi_n` failing): no body;
    // the bytes after are the next head.
    let mut f = Feeder::new();
    f.seg(
        Side::Client,
        b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\nxyz",
        0,
    );
    assert_eq!(f.c.stats().framing_errors, 0);
    let t = f.finish(1, None);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].request_body_bytes, 0);
    assert!(t[0].notes.iter().any(|n| n.contains("not a number")));
}

#[test]
fn content_length_edge_cases_read_as_zeek() {
    // Leading zeros: 3 bytes.
    let server: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0000000000000000000003\r\n\r\nabc";
    let t = all_chunkings(GET, server);
    assert_eq!((t[0].response_body_bytes, t[0].complete), (3, true));
    assert!(t[0].notes.is_empty());
    // Negative, and 2^64 (beyond Zeek's int64): no length, read until close.
    for cl in ["-5", "18446744073709551616", "9223372036854775808"] {
        let server = format!("HTTP/1.1 200 OK\r\nContent-Length: {cl}\r\n\r\nabcdefgh");
        let mut f = Feeder::new();
        f.seg(Side::Client, GET, 0);
        f.seg(Side::Server, server.as_bytes(), 5);
        f.end(Side::Server, StreamEnd::Fin, 6);
        let t = f.finish(7, Some((Side::Server, "fin")));
        assert_eq!(t[0].response_body_bytes, 8, "{cl}");
        assert!(
            t[0].notes.iter().any(|n| n.contains("Content-Length")),
            "{cl}"
        );
    }
    // The largest Zeek reads is a length.
    let (v, note) = super::head::content_length_value(b"9223372036854775807");
    assert_eq!((v, note), (Some(i64::MAX as u64), None));
    // Digits then garbage: the digits.
    assert_eq!(super::head::content_length_value(b" 12abc").0, Some(12));
    // A request with a negative length has no body.
    let client: &[u8] = b"POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    let server = [OK, OK].concat();
    let t = all_chunkings(client, &server);
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].path.as_deref(), Some("/b"));
}

#[test]
fn chunk_sizes_leading_zeros_extensions_and_overflow() {
    let server: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000000000003;ext=1\r\nabc\r\n00\r\n\r\n";
    let t = all_chunkings(GET, server);
    assert_eq!((t[0].response_body_bytes, t[0].complete), (3, true));
    // 2^64 as a chunk size: the framing is lost, nothing panics.
    let server: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nabc";
    let t = all_chunkings(GET, server);
    assert!(!t[0].complete);
    assert!(t[0].notes.iter().any(|n| n.contains("overflows")));
}

#[test]
fn obsolete_line_folding_is_joined() {
    let client: &[u8] =
        b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: curl\r\n  folded/1\r\n\tmore\r\nAccept: */*\r\n\r\n";
    let server: &[u8] = b"HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 2\r\n\r\nok";
    let t = all_chunkings(client, server);
    assert_eq!(t.len(), 1);
    assert_eq!(
        t[0].meta.user_agent.as_deref(),
        Some("curl  folded/1\tmore")
    );
    assert_eq!(
        t[0].meta.request_header_names,
        ["HOST", "USER-AGENT", "ACCEPT"]
    );
    assert_eq!(
        t[0].meta.response_header_names,
        ["X-LONG", "CONTENT-LENGTH"]
    );
    assert_eq!((t[0].response_body_bytes, t[0].complete), (2, true));
}
