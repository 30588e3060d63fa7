//! HTTP/1.x parser fuzz target: the input is split into a client and a server
//! stream at an input-chosen point, then fed in small input-chosen chunks,
//! interleaved, with occasional gaps, and ended; records are formatted and
//! diagnosed. Nothing may panic. HTTP/0.9 lines, folded heads, odd
//! Content-Length values and CONNECT tunnels (their inner TLS or HTTP) are
//! all reached from these bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::app::http::{looks_like_http09_request, looks_like_http_request, HttpConn};
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
    let (client, server) = rest.split_at(split);
    let _ = looks_like_http_request(client);
    let _ = looks_like_http09_request(client, 80);
    let ep = Endpoints {
        conn: 1,
        client: "10.0.0.1:40000".parse().unwrap(),
        server: "10.0.0.2:80".parse().unwrap(),
    };
    let mut conn = HttpConn::new(ep, flags & 1 != 0);
    let mut streams = [(Side::Client, client, 0u64), (Side::Server, server, 0u64)];
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
    // CONNECT tunnels (TLS or HTTP inside) are reached through the same
    // calls; their TLS record is asked for like the dispatcher does.
    let _ = conn.tunnel_tls(end, Some(end), None);
    for t in &records {
        let _ = format!("{t:?}");
        let _ = netsleuth::diagnose::http::diagnose(t, Some(1_000_000));
    }
});
