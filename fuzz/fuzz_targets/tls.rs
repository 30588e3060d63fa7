//! TLS parser fuzz target: the input is split into a client and a server stream at
//! input-chosen points and fed to one `TlsConn` in alternating chunks; the record
//! and its findings are then built. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::app::tls::TlsConn;
use netsleuth::app::{Endpoints, Origin};
use netsleuth::flow::reassembly::StreamEnd;
use netsleuth::base::Side;
use netsleuth::base::Timestamp;

fuzz_target!(|data: &[u8]| {
    let (Some(&a), Some(&b), Some(rest)) = (data.first(), data.get(1), data.get(2..)) else {
        return;
    };
    let split = (usize::from(a) << 8 | usize::from(b)) % (rest.len() + 1);
    let (client, server) = rest.split_at(split);
    let chunk = usize::from(a % 64) + 1;
    let ep = Endpoints {
        conn: 1,
        client: ([10, 0, 0, 1], 1000).into(),
        server: ([10, 0, 0, 2], 443).into(),
    };
    let mut conn = TlsConn::new(ep);
    let mut off = [0u64; 2];
    let mut frame = 0;
    let mut chunks = [client.chunks(chunk), server.chunks(chunk)];
    loop {
        let mut any = false;
        for (i, side) in [Side::Client, Side::Server].into_iter().enumerate() {
            if let Some(piece) = chunks[i].next() {
                any = true;
                frame += 1;
                let origin = Origin {
                    conn: 1,
                    side,
                    frame,
                    ts: Timestamp(frame as i64 * 1_000_000),
                };
                conn.on_data(origin, off[i], piece);
                off[i] += piece.len() as u64;
            }
        }
        if !any {
            break;
        }
    }
    if b & 1 == 1 {
        conn.on_gap(Side::Server, off[1], 10);
    }
    conn.on_end(
        Side::Client,
        StreamEnd::Fin,
        Timestamp(frame as i64 * 1_000_000),
    );
    conn.on_end(
        Side::Server,
        StreamEnd::Reset,
        Timestamp(frame as i64 * 1_000_000),
    );
    if let Some(r) = conn.record(Timestamp(frame as i64 * 2_000_000)) {
        let _ = netsleuth::diagnose::tls::diagnose(&r);
    }
});
