//! STARTTLS fuzz target: the first byte picks the server port (and so the
//! protocol a session on it may be), the rest is cut into deliveries (a
//! length byte, top bit the sender) fed to the session detected from the
//! first one; an upgrade's TLS bytes go on to a `TlsConn`. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::app::starttls::{detect, StartTls};
use netsleuth::app::tls::TlsConn;
use netsleuth::app::{Endpoints, Origin};
use netsleuth::base::Side;
use netsleuth::base::Timestamp;

const PORTS: [u16; 8] = [25, 143, 110, 21, 5222, 6667, 5432, 9999];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let port = PORTS[usize::from(pick) % PORTS.len()];
    let ep = Endpoints {
        conn: 1,
        client: ([10, 0, 0, 1], 1000).into(),
        server: ([10, 0, 0, 2], port).into(),
    };
    let mut session: Option<StartTls> = None;
    let mut tls: Option<TlsConn> = None;
    let mut off = [0u64; 2];
    let mut frame = 0u64;
    while let Some((&head, tail)) = rest.split_first() {
        let (bytes, after) = tail.split_at(usize::from(head & 0x7f).min(tail.len()));
        rest = after;
        frame += 1;
        let side = if head & 0x80 == 0 { Side::Client } else { Side::Server };
        let i = side.index();
        let origin = Origin {
            conn: 1,
            side,
            frame,
            ts: Timestamp(frame as i64 * 1_000_000),
        };
        if let Some(t) = &mut tls {
            t.on_data(origin, off[i], bytes);
        } else {
            if session.is_none() && off == [0, 0] {
                session = detect(port, side, bytes);
            }
            if let Some(up) = session.as_mut().and_then(|s| s.on_data(side, off[i], bytes)) {
                let mut t = TlsConn::new(ep);
                t.set_starttls(up.protocol.name());
                t.on_data(Origin { side: Side::Client, ..origin }, up.client_at, &up.client);
                t.on_data(Origin { side: Side::Server, ..origin }, up.server_at, &up.server);
                tls = Some(t);
            }
        }
        off[i] += bytes.len() as u64;
    }
    if let Some(r) = tls.and_then(|t| t.record(Timestamp(frame as i64 * 2_000_000))) {
        let _ = netsleuth::diagnose::tls::diagnose(&r);
    }
});
