//! Property tests: segmentation never changes the transactions; no input panics.

use proptest::prelude::*;

use super::frame::build;
use super::tests::{client_start, req, server_start, strip, Feeder, Peer, DATA, ES, T0};
use super::*;
use crate::app::http::HttpTransaction;
use crate::app::Origin;
use crate::base::Side;
use crate::base::Timestamp;
use crate::flow::reassembly::StreamEnd;

/// A connection of `bodies.len()` streams; the server answers in reverse order,
/// each body in DATA frames of up to 7 bytes.
fn build_conn(bodies: &[usize]) -> (Vec<u8>, Vec<u8>) {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = client_start();
    let mut server = server_start();
    for (i, _) in bodies.iter().enumerate() {
        client.extend(req(&mut c, 2 * i as u32 + 1, &format!("/item/{i}")));
    }
    for (i, &len) in bodies.iter().enumerate().rev() {
        let id = 2 * i as u32 + 1;
        server.extend(super::tests::resp(&mut s, id, "200", 0));
        let body = vec![b'b'; len];
        let mut chunks = body.chunks(7).peekable();
        if chunks.peek().is_none() {
            server.extend(build(DATA, ES, id, &[]));
        }
        while let Some(ch) = chunks.next() {
            let fl = if chunks.peek().is_none() { ES } else { 0 };
            server.extend(build(DATA, fl, id, ch));
        }
    }
    (client, server)
}

fn run_cuts(client: &[u8], server: &[u8], cuts: &[usize]) -> Vec<HttpTransaction> {
    let mut f = Feeder::new();
    let mut out = Vec::new();
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
            f.seg(side, a, if side == Side::Client { 0 } else { 10 });
            out.extend(f.c.take_transactions());
            rest = b;
            k += 1;
        }
    }
    out.extend(f.finish(20, Some((Side::Client, "fin"))));
    // Streams leave as they complete, which depends on where segments end.
    out.sort_by(|a, b| a.path.cmp(&b.path));
    strip(&out)
}

proptest! {
    #[test]
    fn segmentation_does_not_change_transactions(
        bodies in prop::collection::vec(0usize..60, 1..6),
        cuts in prop::collection::vec(1usize..40, 1..20),
    ) {
        let (client, server) = build_conn(&bodies);
        let whole = run_cuts(&client, &server, &[usize::MAX]);
        let cut = run_cuts(&client, &server, &cuts);
        prop_assert_eq!(&cut, &whole);
        let sizes: Vec<u64> = whole.iter().map(|t| t.response_body_bytes).collect();
        prop_assert_eq!(sizes, bodies.iter().map(|&b| b as u64).collect::<Vec<_>>());
        prop_assert!(whole.iter().all(|t| t.complete && t.status == Some(200)));
    }

    #[test]
    fn random_bytes_never_panic(
        client in prop::collection::vec(any::<u8>(), 0..400),
        server in prop::collection::vec(any::<u8>(), 0..400),
        chunk in 1usize..50,
        with_preface in any::<bool>(),
        gap in any::<bool>(),
    ) {
        let mut c = H2Conn::new(super::tests::ep(), false);
        let mut cl = if with_preface { client_start() } else { Vec::new() };
        cl.extend(client);
        let mut off = [0u64; 2];
        let mut frame = 0;
        for (side, bytes) in [(Side::Client, &cl), (Side::Server, &server)] {
            let i = side.index();
            for ch in bytes.chunks(chunk) {
                frame += 1;
                if gap && frame % 5 == 0 {
                    c.on_gap(side, off[i], ch.len() as u64);
                } else {
                    let origin = Origin { conn: 9, side, frame, ts: Timestamp(T0 + frame as i64) };
                    c.on_data(origin, off[i], ch);
                }
                off[i] += ch.len() as u64;
                let _ = c.take_transactions();
            }
        }
        c.on_end(Side::Server, StreamEnd::Reset, Timestamp(T0));
        let t = c.finish(Timestamp(T0 + 1_000), None);
        for t in &t {
            let _ = crate::diagnose::http::diagnose(t, Some(1_000_000));
        }
    }

    #[test]
    fn random_frames_never_panic(
        frames in prop::collection::vec(
            (any::<bool>(), 0u8..11, any::<u8>(), 0u32..8, prop::collection::vec(any::<u8>(), 0..40), any::<bool>()),
            0..40,
        ),
        chunk in 1usize..30,
    ) {
        let (mut cp, mut sp) = (Peer::new(), Peer::new());
        let (mut client, mut server) = (client_start(), server_start());
        for (from_client, kind, flags, stream, payload, valid_head) in frames {
            let f = match (valid_head, from_client) {
                (true, true) => req(&mut cp, stream | 1, "/p"),
                (true, false) => super::tests::resp(&mut sp, stream | 1, "200", flags & ES),
                _ => build(kind, flags, stream, &payload),
            };
            if from_client { client.extend(f) } else { server.extend(f) }
        }
        let mut f = Feeder::new();
        f.chunks(Side::Client, &client, chunk, 0);
        f.chunks(Side::Server, &server, chunk, 1);
        let _ = f.c.take_transactions();
        let t = f.finish(2, Some((Side::Server, "rst")));
        for t in &t {
            let _ = crate::diagnose::http::diagnose(t, Some(1_000_000));
        }
    }
}
