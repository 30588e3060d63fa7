//! DTLS fuzz target: the input is cut into datagrams (a length byte, then
//! that many bytes; the top bit of the length byte picks the sender) and fed
//! to one DTLS `TlsConn`; the record and its findings are then built. Nothing
//! may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::app::tls::TlsConn;
use netsleuth::app::{Endpoints, Origin};
use netsleuth::base::Side;
use netsleuth::base::Timestamp;

fuzz_target!(|data: &[u8]| {
    let ep = Endpoints {
        conn: 1,
        client: ([10, 0, 0, 1], 1000).into(),
        server: ([10, 0, 0, 2], 4433).into(),
    };
    let mut conn = TlsConn::new_dtls(ep);
    let mut rest = data;
    let mut frame = 0u64;
    while let Some((&head, tail)) = rest.split_first() {
        let len = usize::from(head & 0x7f) * 4;
        let (datagram, after) = tail.split_at(len.min(tail.len()));
        rest = after;
        frame += 1;
        let side = if head & 0x80 == 0 { Side::Client } else { Side::Server };
        let origin = Origin {
            conn: 1,
            side,
            frame,
            ts: Timestamp(frame as i64 * 1_000_000),
        };
        conn.on_datagram(origin, datagram);
    }
    if let Some(r) = conn.record(Timestamp(frame as i64 * 2_000_000)) {
        let _ = netsleuth::diagnose::tls::diagnose(&r);
    }
});
