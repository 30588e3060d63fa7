//! DNS tracker fuzz target: the input as a UDP datagram (both directions), then as
//! a TCP stream split at an input-chosen point, each half in one direction; the
//! by-content check on it, and resolver-operation grouping of what came out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::app::dns::{looks_like_dns_query, looks_like_dns_tcp, ops, DnsConfig, DnsTracker};
use netsleuth::app::{Endpoints, Origin};
use netsleuth::base::Side;
use netsleuth::base::Timestamp;

fuzz_target!(|data: &[u8]| {
    let ep = Endpoints {
        conn: 1,
        client: "10.0.0.5:40000".parse().unwrap(),
        server: "10.0.0.53:53".parse().unwrap(),
    };
    let at = |side, frame, ts| Origin {
        conn: 1,
        side,
        frame,
        ts: Timestamp(ts),
    };
    let mut t = DnsTracker::new(DnsConfig {
        max_pending: 4,
        ..DnsConfig::default()
    });
    let _ = looks_like_dns_query(data);
    let _ = looks_like_dns_tcp(data);
    t.on_datagram(&ep, at(Side::Client, 1, 0), data);
    t.on_datagram(&ep, at(Side::Server, 2, 1), data);
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (a, b) = data.split_at(split);
    let tcp = Endpoints { conn: 2, ..ep };
    t.on_tcp_data(&tcp, at(Side::Client, 3, 2), 0, a);
    t.on_tcp_data(&tcp, at(Side::Client, 4, 3), a.len() as u64, b);
    t.on_tcp_data(&tcp, at(Side::Server, 5, 4), 0, data);
    t.on_tcp_end(&tcp, Side::Client);
    t.expire(Timestamp(10_000_000_000));
    t.finish();
    let records = t.take_records();
    for r in &records {
        assert!(r.qname.bytes().all(|b| (0x20..0x7f).contains(&b)));
        let _ = r.addresses();
    }
    let grouped: usize = ops::group(&records).iter().map(|o| o.members.len()).sum();
    assert_eq!(grouped, records.len());
    assert_eq!(t.pending(), 0);
});
