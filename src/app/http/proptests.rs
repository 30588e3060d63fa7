//! Property tests: segmentation never changes the transactions; no input panics.

use proptest::prelude::*;

use super::tests::{run, Feeder};
use super::*;
use crate::base::Side;
use crate::flow::reassembly::StreamEnd;

#[derive(Debug, Clone)]
struct Spec {
    method: &'static str,
    req_body: usize,
    req_chunked: bool,
    informational: Option<u16>,
    status: u16,
    resp_body: usize,
    resp_chunked: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(vec!["GET", "POST", "HEAD", "PUT", "X-CUSTOM"]),
        0usize..300,
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![100u16, 102, 103])),
        prop::sample::select(vec![200u16, 201, 204, 304, 404, 500]),
        0usize..300,
        any::<bool>(),
    )
        .prop_map(
            |(method, req_body, req_chunked, informational, status, resp_body, resp_chunked)| {
                Spec {
                    method,
                    req_body,
                    req_chunked,
                    informational,
                    status,
                    resp_body,
                    resp_chunked,
                }
            },
        )
}

fn body(out: &mut Vec<u8>, len: usize, chunked: bool) {
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        let mut left = len;
        let mut n = 1;
        while left > 0 {
            let c = left.min(n * 7);
            out.extend_from_slice(format!("{c:x};ext={n}\r\n").as_bytes());
            out.extend(std::iter::repeat_n(b'b', c));
            out.extend_from_slice(b"\r\n");
            left -= c;
            n += 1;
        }
        out.extend_from_slice(b"0\r\nTrailer: t\r\n\r\n");
    } else {
        out.extend_from_slice(format!("Content-Length: {len}\r\n\r\n").as_bytes());
        out.extend(std::iter::repeat_n(b'a', len));
    }
}

/// Client and server streams for the specs, and the body sizes expected.
fn build(specs: &[Spec]) -> (Vec<u8>, Vec<u8>, Vec<u64>) {
    let (mut c, mut s, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for (i, sp) in specs.iter().enumerate() {
        c.extend_from_slice(format!("{} /item/{i} HTTP/1.1\r\nHost: h\r\n", sp.method).as_bytes());
        body(&mut c, sp.req_body, sp.req_chunked);
        if let Some(code) = sp.informational {
            s.extend_from_slice(format!("HTTP/1.1 {code} Info\r\n\r\n").as_bytes());
        }
        s.extend_from_slice(format!("HTTP/1.1 {} Status\r\n", sp.status).as_bytes());
        let no_body = sp.method == "HEAD" || sp.status == 204 || sp.status == 304;
        body(
            &mut s,
            if no_body { 0 } else { sp.resp_body },
            sp.resp_chunked && !no_body,
        );
        sizes.push(if no_body { 0 } else { sp.resp_body as u64 });
    }
    (c, s, sizes)
}

fn run_cuts(client: &[u8], server: &[u8], cuts: &[usize]) -> Vec<HttpTransaction> {
    run_cuts_keeping(client, server, cuts, KeepConfig::default())
}

fn run_cuts_keeping(
    client: &[u8],
    server: &[u8],
    cuts: &[usize],
    keep: KeepConfig,
) -> Vec<HttpTransaction> {
    let mut f = Feeder::new();
    f.c = HttpConn::with_keep(super::tests::ep(), false, keep, Some(BodyBudget::default()));
    for (side, bytes) in [(Side::Client, client), (Side::Server, server)] {
        let mut rest = bytes;
        let mut k = 0;
        while !rest.is_empty() {
            let n = cuts
                .get(k % cuts.len().max(1))
                .copied()
                .unwrap_or(usize::MAX)
                .clamp(1, rest.len());
            let (a, b) = rest.split_at(n);
            let ms = if side == Side::Client { 0 } else { 10 };
            f.seg(side, a, ms);
            rest = b;
            k += 1;
        }
    }
    f.end(Side::Client, StreamEnd::Fin, 20);
    f.end(Side::Server, StreamEnd::Fin, 20);
    let mut out = f.c.take_transactions();
    out.extend(f.finish(20, Some((Side::Client, "fin"))));
    out.into_iter()
        .map(|t| HttpTransaction {
            request_frames: None,
            response_frames: None,
            request_first: None,
            request_last: None,
            response_first_any: None,
            response_first: None,
            response_last: None,
            ..t
        })
        .collect()
}

proptest! {
    #[test]
    fn segmentation_does_not_change_transactions(
        specs in prop::collection::vec(spec(), 1..5),
        cuts in prop::collection::vec(1usize..40, 1..20),
    ) {
        let (client, server, sizes) = build(&specs);
        let whole = run_cuts(&client, &server, &[usize::MAX]);
        prop_assert_eq!(whole.len(), specs.len());
        for ((t, sp), size) in whole.iter().zip(&specs).zip(&sizes) {
            prop_assert!(t.complete, "{:?}", t);
            prop_assert_eq!(t.method.as_deref(), Some(sp.method));
            prop_assert_eq!(t.status, Some(sp.status));
            prop_assert_eq!(t.request_body_bytes, sp.req_body as u64);
            prop_assert_eq!(t.response_body_bytes, *size);
            prop_assert_eq!(t.informational.clone(), sp.informational.into_iter().collect::<Vec<_>>());
        }
        prop_assert_eq!(run_cuts(&client, &server, &cuts), whole.clone());
        prop_assert_eq!(run_cuts(&client, &server, &[1]), whole);
    }

    #[test]
    fn kept_bodies_are_the_payload_in_any_segmentation(
        specs in prop::collection::vec(spec(), 1..5),
        cuts in prop::collection::vec(1usize..40, 1..20),
    ) {
        let keep = KeepConfig { headers: true, body: true, ..KeepConfig::default() };
        let (client, server, sizes) = build(&specs);
        let whole = run_cuts_keeping(&client, &server, &[usize::MAX], keep);
        for ((t, sp), size) in whole.iter().zip(&specs).zip(&sizes) {
            let d = t.response_data.as_deref().unwrap();
            let fill = if sp.resp_chunked { b'b' } else { b'a' };
            prop_assert_eq!(d.body.len() as u64, *size);
            prop_assert!(d.body.iter().all(|&b| b == fill));
            prop_assert_eq!(&d.body_state, &BodyState::Complete);
        }
        prop_assert_eq!(run_cuts_keeping(&client, &server, &cuts, keep), whole);
    }

    #[test]
    fn random_bytes_never_panic(
        client in prop::collection::vec(any::<u8>(), 0..400),
        server in prop::collection::vec(any::<u8>(), 0..400),
        chunk in 1usize..50,
    ) {
        let _ = run(&client, &server, chunk);
        let mut c = b"GET / HTTP/1.1\r\nContent-Length: 10\r\n\r\n".to_vec();
        c.extend_from_slice(&client);
        let mut s = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        s.extend_from_slice(&server);
        let _ = run(&c, &s, chunk);
        let _ = looks_like_http_request(&client);
    }

    #[test]
    fn gaps_and_ends_never_panic(
        ops in prop::collection::vec((any::<bool>(), 0u8..4, prop::collection::vec(any::<u8>(), 0..60), 0u64..100), 0..40),
    ) {
        let mut f = Feeder::new();
        let heads = [b"GET / HTTP/1.1\r\nContent-Length: 30\r\n\r\n".as_slice(), b"HTTP/1.1 200 OK\r\n\r\n"];
        f.seg(Side::Client, heads[0], 0);
        f.seg(Side::Server, heads[1], 0);
        for (i, (server, op, bytes, n)) in ops.into_iter().enumerate() {
            let side = if server { Side::Server } else { Side::Client };
            match op {
                0 | 1 => { f.seg(side, &bytes, i as i64); }
                2 => f.gap(side, n),
                _ => f.end(side, StreamEnd::Reset, i as i64),
            }
            let _ = f.c.take_transactions();
        }
        let _ = f.finish(1000, None);
    }
}

proptest! {
    /// Content-Length values are read as Zeek reads them, never panicking:
    /// a plain decimal with any number of leading zeros is its value.
    #[test]
    fn content_length_values(n in any::<i64>().prop_map(i64::unsigned_abs), zeros in 0usize..30, junk in prop::collection::vec(any::<u8>(), 0..24)) {
        let text = format!("{}{n}", "0".repeat(zeros));
        prop_assert_eq!(head::content_length_value(text.as_bytes()).0, (n <= i64::MAX as u64).then_some(n));
        let _ = head::content_length_value(&junk);
    }

    /// Obsolete folding: any head with continuation lines unfolds to one no
    /// longer than itself, keeps the head's length, and parses like the same
    /// head written on one line.
    #[test]
    fn folded_heads_parse_as_unfolded(parts in prop::collection::vec("[a-z]{1,8}", 1..5), ws in prop::sample::select(vec![" ", "\t", "  "])) {
        let folded = parts.join(&format!("\r\n{ws}"));
        let flat = parts.join(ws);
        let head = format!("GET / HTTP/1.1\r\nX-F: {folded}\r\nHost: h\r\n\r\n");
        let one = format!("GET / HTTP/1.1\r\nX-F: {flat}\r\nHost: h\r\n\r\n");
        let (a, b) = (
            head::parse_request_keeping(head.as_bytes(), KeepConfig { request_headers: true, ..KeepConfig::default() }),
            head::parse_request_keeping(one.as_bytes(), KeepConfig { request_headers: true, ..KeepConfig::default() }),
        );
        match (a, b) {
            (head::Parsed::Done(a, n), head::Parsed::Done(b, _)) => {
                prop_assert_eq!(n, head.len());
                prop_assert_eq!(a.kept, b.kept);
            }
            _ => prop_assert!(false, "not parsed"),
        }
    }

    /// Arbitrary heads with folds, HTTP/0.9 lines and odd lengths never panic
    /// and never claim more bytes than given.
    #[test]
    fn head_parsers_never_panic(bytes in prop::collection::vec(prop::sample::select(b"GET /\r\n \tHTTP/1.1:Content-Length-09aZ,;".to_vec()), 0..200)) {
        if let Some((flat, end)) = head::unfolded(&bytes) {
            prop_assert!(end <= bytes.len() && flat.len() <= end);
        }
        if let Some((_, n)) = head::parse_http09_request(&bytes) {
            prop_assert!(n <= bytes.len());
        }
        for r in [head::parse_request_keeping(&bytes, KeepConfig::default()).map(|_| ()), head::parse_response_keeping(&bytes, KeepConfig::default()).map(|_| ())] {
            if let head::Parsed::Done((), n) = r {
                prop_assert!(n <= bytes.len());
            }
        }
        let _ = looks_like_http09_request(&bytes, 80);
    }

    /// Chunk sizes of any width (leading zeros, overflow, extensions) are
    /// read or refused without panicking; a size that fits is read exactly.
    #[test]
    fn chunk_sizes_never_panic(size in any::<u64>(), zeros in 0usize..40, ext in "(;[a-z=]{0,9})?", extra in prop::collection::vec(prop::sample::select(b"0123456789abcdefABCDEF;\r\n xyz".to_vec()), 0..64)) {
        let line = format!("{}{size:x}{ext}\r\n", "0".repeat(zeros));
        let mut b = framing::Body::new(head::Length::Chunked);
        let fed = b.feed(line.as_bytes());
        prop_assert!(fed.is_ok());
        let left = b.skip(size);
        prop_assert_eq!(left, if size == 0 { Err("bytes missing from the capture across a message boundary or chunk header") } else { Ok(size) });
        let mut b = framing::Body::new(head::Length::Chunked);
        let _ = b.feed(&extra);
    }

    /// Tunnels of tunnels with random bytes inside never panic.
    #[test]
    fn connect_tunnels_never_panic(inner in prop::collection::vec(any::<u8>(), 0..300), depth in 1usize..8) {
        let mut f = Feeder::new();
        for _ in 0..depth {
            f.seg(Side::Client, b"CONNECT x:1 HTTP/1.1\r\n\r\n", 0);
            f.seg(Side::Server, b"HTTP/1.1 200 OK\r\n\r\n", 1);
        }
        f.seg(Side::Client, &inner, 2);
        f.gap(Side::Server, 10);
        f.seg(Side::Server, &inner, 3);
        f.end(Side::Server, StreamEnd::Reset, 4);
        let t = f.finish(5, None);
        prop_assert!(t.len() >= depth.min(usize::from(super::tunnel::MAX_NESTING) + 1));
    }
}

proptest! {
    /// Resynchronisation after gaps never panics, whatever the bytes, and
    /// the search for the next message is bounded (a run of junk ends it).
    #[test]
    fn resync_after_gaps_never_panics(
        segs in prop::collection::vec((any::<bool>(), prop::collection::vec(prop::sample::select(b"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz".to_vec()), 0..80), 0u64..20), 1..30),
    ) {
        let mut f = Feeder::new();
        for (client, bytes, gap) in &segs {
            let side = if *client { Side::Client } else { Side::Server };
            if *gap > 0 {
                f.gap(side, *gap);
            }
            f.seg(side, bytes, 1);
        }
        let t = f.finish(2, None);
        prop_assert!(t.len() <= segs.len() * 80);
        let s = b"x".repeat(usize::try_from(super::resync::MAX_RESYNC_SCAN).unwrap_or(0) / 4096);
        prop_assert_eq!(super::resync::next_message(Side::Server, &s, true), None);
    }
}
