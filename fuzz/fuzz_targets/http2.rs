//! HTTP/2 parser fuzz target: the input is split into a client and a server
//! stream at an input-chosen point (the client's optionally after a valid
//! connection preface, so frames are reached), then fed in small input-chosen
//! chunks, interleaved, with occasional gaps, and ended; records are formatted
//! and diagnosed. Nothing may panic. Cap `-max_len` (HPACK Huffman decoding is
//! ~5 MB/s).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::app::http::KeepConfig;
use netsleuth::app::http2::{looks_like_h2_preface, H2Conn, PREFACE};
use netsleuth::app::{Endpoints, Origin};
use netsleuth::flow::reassembly::StreamEnd;
use netsleuth::base::Side;
use netsleuth::base::Timestamp;

fuzz_target!(|data: &[u8]| {
    let [chunk, split_hi, split_lo, flags, rest @ ..] = data else {
        return;
    };
    let chunk = usize::from(*chunk % 64) + 1;
    let split = (usize::from(*split_hi) << 8 | usize::from(*split_lo)) % (rest.len() + 1);
    let (client_in, server) = rest.split_at(split);
    let mut client = Vec::new();
    if flags & 32 != 0 {
        client.extend_from_slice(PREFACE);
    }
    client.extend_from_slice(client_in);
    let _ = looks_like_h2_preface(&client);
    let ep = Endpoints {
        conn: 1,
        client: "10.0.0.1:40000".parse().unwrap(),
        server: "10.0.0.2:443".parse().unwrap(),
    };
    let keep = KeepConfig {
        headers: flags & 64 != 0,
        body: flags & 128 != 0,
        request_headers: flags & 64 != 0,
        request_body: flags & 128 != 0,
    };
    let mut conn = H2Conn::with_keep(ep, flags & 1 != 0, keep, None);
    let mut streams = [
        (Side::Client, client.as_slice(), 0u64),
        (Side::Server, server, 0u64),
    ];
    let mut frame = 0u64;
    let mut records = Vec::new();
    while streams.iter().any(|s| !s.1.is_empty()) {
        for (side, bytes, off) in streams.iter_mut() {
            let n = chunk.min(bytes.len());
            if n == 0 {
                continue;
            }
            let (now, later) = bytes.split_at(n);
            frame += 1;
            // Every 13th chunk (when asked) goes missing instead of arriving.
            if flags & 2 != 0 && frame % 13 == 0 {
                conn.on_gap(*side, *off, n as u64);
            } else {
                let origin = Origin {
                    conn: 1,
                    side: *side,
                    frame,
                    ts: Timestamp(frame as i64 * 1_000_000),
                };
                conn.on_data(origin, *off, now);
            }
            *off += n as u64;
            *bytes = later;
        }
        records.extend(conn.take_transactions());
    }
    let how = match flags >> 2 & 3 {
        0 => StreamEnd::Fin,
        1 => StreamEnd::Reset,
        _ => StreamEnd::Truncated,
    };
    let end = Timestamp((frame as i64 + 1) * 1_000_000);
    conn.on_end(Side::Server, how, end);
    conn.on_end(Side::Client, StreamEnd::Fin, end);
    let by = (flags & 16 != 0).then_some((Side::Server, "rst"));
    records.extend(conn.finish(end, by));
    let _ = (conn.stats(), conn.notes());
    for t in &records {
        let _ = format!("{t:?}");
        let _ = netsleuth::diagnose::http::diagnose(t, Some(1_000_000));
    }
});
