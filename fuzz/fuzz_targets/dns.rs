//! DNS tracker fuzz target: the input as a UDP datagram (both directions), then as
//! a TCP stream split at an input-chosen point, each half in one direction; the
//! same datagram on mDNS (a group and a responder's flow) and on NetBIOS-NS
//! (port 137, read by the NBNS parser); the by-content check on it, and
//! resolver-operation grouping of what came out.
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
    for (conn, client, server) in [
        (3, "10.0.0.5:5353", "224.0.0.251:5353"),
        (4, "10.0.0.9:5353", "224.0.0.251:5353"),
        (5, "10.0.0.5:137", "10.0.0.255:137"),
        (6, "10.0.0.9:137", "10.0.0.5:137"),
    ] {
        let e = Endpoints {
            conn,
            client: client.parse().unwrap(),
            server: server.parse().unwrap(),
        };
        t.on_datagram(&e, at(Side::Client, 6, 5), data);
        t.on_datagram(&e, at(Side::Server, 7, 6), data);
    }
    t.expire(Timestamp(10_000_000_000));
    t.finish();
    let records = t.take_records();
    let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
    for r in &records {
        assert!(printable(&r.qname));
        for a in r.answers.iter().chain(&r.authorities).chain(&r.additionals) {
            assert!(a.data().is_none_or(printable) && a.name().is_none_or(printable));
        }
        let _ = r.addresses();
    }
    let grouped: usize = ops::group(&records).iter().map(|o| o.members.len()).sum();
    assert_eq!(grouped, records.len());
    assert_eq!(t.pending(), 0);
});
