//! Issue 11, "DNS lookups as a resolver performs them", through `analyze` on
//! builder-made captures: lookups per socket and id, search-list walks,
//! repeated lookups, a slow address family, the DNS phase of a call, DNS on
//! other ports, and story names.

use std::net::Ipv4Addr;

use serde_json::Value;

use crate::util::conv::{Conv, CLIENT, SERVER};
use crate::util::live::{dns_query, dns_response};
use crate::util::{analyze_records, write_file};

const RESOLVER: [u8; 4] = [10, 1, 0, 53];

/// Ethernet + IPv4 + UDP.
fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    crate::util::eth_udp(src, sport, dst, dport, payload)
}

/// A DNS response with no answers (`rcode`), or one A record.
fn answer(query: &[u8], rcode: u8, a: Option<[u8; 4]>) -> Vec<u8> {
    let addrs: Vec<Ipv4Addr> = a.into_iter().map(Ipv4Addr::from).collect();
    dns_response(query, rcode, false, &addrs)
}

/// One query from `port` at `t` and, when `reply` says so, its answer
/// `after` seconds later (from `resolver`:`rport`).
struct Lookup<'a> {
    port: u16,
    id: u16,
    name: &'a str,
    qtype: u16,
    t: f64,
    reply: Option<(f64, u8, Option<[u8; 4]>)>,
}

fn lookup(conv: &mut Conv, resolver: ([u8; 4], u16), l: Lookup) {
    let q = dns_query(l.id, l.name, l.qtype);
    conv.at(l.t)
        .raw(udp(CLIENT, l.port, resolver.0, resolver.1, &q));
    if let Some((after, rcode, a)) = l.reply {
        conv.at(l.t + after).raw(udp(
            resolver.0,
            resolver.1,
            CLIENT,
            l.port,
            &answer(&q, rcode, a),
        ));
    }
}

/// A call: handshake, GET, 200, close, from `port` at `t`.
fn call(conv: &mut Conv, port: u16, t: f64) {
    conv.client.port = port;
    conv.at(t).handshake(0.001);
    conv.at(t + 0.002)
        .c("P.", b"GET / HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(t + 0.004)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    conv.at(t + 0.005).c("F.", &[]).s("F.", &[]).c(".", &[]);
}

fn analyze(conv: &Conv) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "dns.pcap", &conv.pcap());
    analyze_records(&path, &[])
}

fn of_type<'a>(records: &'a [Value], t: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

fn findings<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["type"] == "finding" && r["kind"] == kind)
        .collect()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// A Go-style ndots:5 walk (A and AAAA on their own sockets per name) for
/// `api` starting at `t`, ports from `port`: 6 queries, 4 NXDOMAIN, the real
/// name asked 4 ms after the first query, its last answer at 6 ms.
fn ndots_walk(conv: &mut Conv, t: f64, port: u16, id: u16) {
    let r = (RESOLVER, 53);
    let names = [
        ("api.svc.cluster.local", 3, None),
        ("api.cluster.local", 3, None),
        ("api", 0, Some(SERVER)),
    ];
    for (k, (name, rcode, a)) in names.into_iter().enumerate() {
        let at = t + 0.002 * k as f64;
        let n = k as u16 * 2;
        lookup(
            conv,
            r,
            Lookup {
                port: port + n,
                id: id + n,
                name,
                qtype: 1,
                t: at,
                reply: Some((0.001, rcode, a)),
            },
        );
        lookup(
            conv,
            r,
            Lookup {
                port: port + n + 1,
                id: id + n + 1,
                name,
                qtype: 28,
                t: at + 0.0001,
                reply: Some((0.0019, rcode, None)),
            },
        );
    }
}

/// Issue 11: a search-list walk before the real name is one finding with its
/// numbers, the call's DNS phase is the whole walk, the walked NXDOMAINs are
/// notes and the story is named after the real name.
#[test]
fn dns_search_walk_has_its_numbers_and_is_the_calls_dns_phase() {
    let mut conv = Conv::new(40100, 80);
    ndots_walk(&mut conv, 0.0, 50000, 100);
    call(&mut conv, 40100, 0.010);
    let records = analyze(&conv);

    assert_eq!(of_type(&records, "dns").len(), 6);
    let walks = findings(&records, "dns.search_walk");
    assert_eq!(walks.len(), 1, "{records:#?}");
    assert_eq!(walks[0]["severity"], "warning");
    assert_eq!(
        text(&walks[0]["summary"]),
        "resolving api took 6 queries, 4 NXDOMAIN for search-list names before the real one (api.svc.cluster.local, api.cluster.local), 4.0 ms lost"
    );
    assert!(text(&walks[0]["next_step"]).contains("trailing dot (api.)"));
    assert!(findings(&records, "dns.nxdomain")
        .iter()
        .all(|f| f["severity"] == "info"));
    let http = of_type(&records, "http");
    assert_eq!(http.len(), 1);
    // First query at 0 ms to the AAAA answer of `api` at 6 ms.
    assert_eq!(http[0]["timing_ms"]["dns"], 6.0, "{}", http[0]["timing_ms"]);
    let story = of_type(&records, "story")
        .into_iter()
        .find(|s| s["findings"][0] == "dns.search_walk")
        .expect("a story for the walk");
    assert_eq!(story["target"], "api");
}

/// Issue 11: the same name resolved for every call (no cache) is
/// `dns.repeated_lookup`; a call whose lookup was long before it (a cache
/// hit) has no DNS phase; a healthy single lookup gives no DNS finding.
#[test]
fn dns_repeated_lookup_and_cache_hit() {
    let mut conv = Conv::new(40200, 80);
    let r = (RESOLVER, 53);
    for k in 0..4u16 {
        let t = f64::from(k) * 0.5;
        lookup(
            &mut conv,
            r,
            Lookup {
                port: 51000 + k,
                id: 7 + k,
                name: "api.example",
                qtype: 1,
                t,
                reply: Some((0.002, 0, Some(SERVER))),
            },
        );
        call(&mut conv, 40200 + k, t + 0.003);
    }
    // A fifth call 10 s later without a lookup: served from a cache.
    call(&mut conv, 40300, 12.0);
    let records = analyze(&conv);
    let rep = findings(&records, "dns.repeated_lookup");
    assert_eq!(rep.len(), 1, "{records:#?}");
    assert_eq!(
        text(&rep[0]["summary"]),
        "api.example was resolved 4 times in 1.50 s by 10.1.0.1, each time from the network while the previous answer (TTL 60 s) was still valid: the client does not cache DNS"
    );
    let http = of_type(&records, "http");
    assert_eq!(http.len(), 5);
    let dns: Vec<Value> = http.iter().map(|h| h["timing_ms"]["dns"].clone()).collect();
    assert_eq!(
        dns,
        [2.0.into(), 2.0.into(), 2.0.into(), 2.0.into(), Value::Null]
    );

    // Healthy: one lookup, one call.
    let mut conv = Conv::new(40400, 80);
    lookup(
        &mut conv,
        r,
        Lookup {
            port: 52000,
            id: 1,
            name: "api.example",
            qtype: 1,
            t: 0.0,
            reply: Some((0.002, 0, Some(SERVER))),
        },
    );
    lookup(
        &mut conv,
        r,
        Lookup {
            port: 52001,
            id: 2,
            name: "api.example",
            qtype: 28,
            t: 0.0001,
            reply: Some((0.0025, 0, None)),
        },
    );
    call(&mut conv, 40400, 0.003);
    let records = analyze(&conv);
    let dns_findings: Vec<&Value> = records
        .iter()
        .filter(|f| f["type"] == "finding" && text(&f["kind"]).starts_with("dns."))
        .collect();
    assert!(dns_findings.is_empty(), "{dns_findings:#?}");
    assert_eq!(of_type(&records, "http")[0]["timing_ms"]["dns"], 2.6);
}

/// Issue 11: AAAA answered much later than A is named as the slow family.
#[test]
fn dns_slow_address_family() {
    let mut conv = Conv::new(40500, 80);
    let r = (RESOLVER, 53);
    lookup(
        &mut conv,
        r,
        Lookup {
            port: 53000,
            id: 1,
            name: "api.example",
            qtype: 1,
            t: 0.0,
            reply: Some((0.003, 0, Some(SERVER))),
        },
    );
    lookup(
        &mut conv,
        r,
        Lookup {
            port: 53001,
            id: 2,
            name: "api.example",
            qtype: 28,
            t: 0.0,
            reply: Some((0.483, 0, None)),
        },
    );
    call(&mut conv, 40500, 0.484);
    let records = analyze(&conv);
    let slow = findings(&records, "dns.slow");
    assert_eq!(slow.len(), 1, "{records:#?}");
    assert!(
        text(&slow[0]["summary"])
            .starts_with("lookup of api.example waited for AAAA: AAAA answered 480.0 ms after A"),
        "{}",
        slow[0]["summary"]
    );
    assert_eq!(of_type(&records, "http")[0]["timing_ms"]["dns"], 483.0);
}

/// Issue 11: 8 concurrent stub clients, one socket and one random id per
/// lookup, the same name: every lookup counted, every time-out kept, an ICMP
/// error only on the lookup it quotes (none both unreachable and answered).
#[test]
fn dns_concurrent_sockets_are_counted_one_by_one() {
    let mut conv = Conv::new(40600, 80);
    let r = (RESOLVER, 53);
    let mut sent = 0;
    let mut seed: u32 = 12345;
    for round in 0..25u16 {
        for client in 0..8u16 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let id = (seed >> 16) as u16;
            let port = 30000 + round * 8 + client;
            let t = f64::from(round) * 0.02 + f64::from(client) * 0.0005;
            let reply = match client {
                6 => None,
                _ => Some((0.002, 0, Some(SERVER))),
            };
            let q = dns_query(id, "api.example", 1);
            if client == 7 {
                // Nothing listens at the second resolver: ICMP port
                // unreachable quoting the query's IP and UDP headers and id.
                let bad = [10, 1, 0, 54];
                let frame = udp(CLIENT, port, bad, 53, &q);
                conv.at(t).raw(frame.clone());
                let mut icmp = Vec::new();
                etherparse::PacketBuilder::ethernet2([3; 6], [2; 6])
                    .ipv4(bad, CLIENT, 64)
                    .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                        etherparse::icmpv4::DestUnreachableHeader::Port,
                    ))
                    .write(&mut icmp, &frame[14..14 + 28 + 8])
                    .unwrap();
                conv.at(t + 0.0003).raw(icmp);
            } else {
                lookup(
                    &mut conv,
                    r,
                    Lookup {
                        port,
                        id,
                        name: "api.example",
                        qtype: 1,
                        t,
                        reply,
                    },
                );
            }
            sent += 1;
        }
    }
    // The capture runs on past every time-out.
    call(&mut conv, 40600, 8.0);
    let records = analyze(&conv);
    let dns = of_type(&records, "dns");
    assert_eq!(dns.len(), sent);
    let count = |f: &dyn Fn(&&Value) -> bool| dns.iter().filter(|r| f(r)).count();
    assert_eq!(
        count(&|r| r["timed_out"] == true),
        50,
        "client 6 and client 7"
    );
    assert_eq!(count(&|r| !r["unreachable"].is_null()), 25);
    assert_eq!(
        count(&|r| !r["unreachable"].is_null() && !r["rcode"].is_null()),
        0
    );
    assert_eq!(count(&|r| r["retries"] != 0), 0);
    assert_eq!(count(&|r| r["rcode"] == "NOERROR"), 150);
}

/// Issue 11: DNS on other ports by content (a resolver on 15353 over UDP,
/// CoreDNS on 1053 over TCP), mDNS named as such, and other UDP left alone.
#[test]
fn dns_on_any_port_by_content() {
    let mut conv = Conv::new(40700, 1053);
    let q = dns_query(0x4242, "api.internal", 1);
    conv.raw(udp(CLIENT, 41000, RESOLVER, 15353, &q));
    conv.at(0.001).raw(udp(
        RESOLVER,
        15353,
        CLIENT,
        41000,
        &answer(&q, 0, Some(SERVER)),
    ));
    // SSDP, and a non-DNS first datagram to the same resolver port.
    let ssdp = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
    conv.at(0.002)
        .raw(udp(CLIENT, 41001, [239, 255, 255, 250], 1900, ssdp));
    conv.raw(udp(CLIENT, 41002, RESOLVER, 15353, b"hello, not dns"));
    // Then a DNS-looking reply on that flow: the flow was decided.
    conv.raw(udp(RESOLVER, 15353, CLIENT, 41002, &answer(&q, 0, None)));
    // mDNS: a multicast question nobody answers.
    conv.raw(udp(
        CLIENT,
        5353,
        [224, 0, 0, 251],
        5353,
        &dns_query(0, "printer.local", 1),
    ));
    // DNS over TCP on 1053.
    let q = dns_query(0x77, "db.internal", 1);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    let a = answer(&q, 3, None);
    let mut framed_a = (a.len() as u16).to_be_bytes().to_vec();
    framed_a.extend_from_slice(&a);
    conv.at(0.01).handshake(0.001);
    conv.at(0.012).c("P.", &framed);
    conv.at(0.013).s("P.", &framed_a);
    conv.at(0.014).c("F.", &[]).s("F.", &[]).c(".", &[]);
    conv.at(7.0)
        .raw(udp(CLIENT, 41003, [10, 1, 0, 9], 9999, b"end"));
    let records = analyze(&conv);
    let dns = of_type(&records, "dns");
    let seen: Vec<(String, String, String)> = dns
        .iter()
        .map(|r| {
            (
                text(&r["qname"]).to_string(),
                text(&r["protocol"]).to_string(),
                text(&r["transport"]).to_string(),
            )
        })
        .collect();
    let want = [
        ("api.internal", "dns", "udp"),
        ("printer.local", "mdns", "udp"),
        ("db.internal", "dns", "tcp"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(seen, want, "{dns:#?}");
    assert_eq!(dns[0]["rcode"], "NOERROR");
    assert_eq!(dns[0]["server"], "10.1.0.53:15353");
    assert_eq!(dns[2]["rcode"], "NXDOMAIN");
    let kinds: Vec<&str> = of_type(&records, "finding")
        .iter()
        .map(|f| text(&f["kind"]))
        .collect();
    assert_eq!(kinds, ["dns.nxdomain"], "mDNS silence is no time-out");
}

/// Issue 11: one socket carrying several lookups (glibc's A + AAAA, or a
/// client reusing its socket): the story is named after the failing lookup.
#[test]
fn dns_story_named_after_the_failing_lookup() {
    let mut conv = Conv::new(40800, 80);
    let r = (RESOLVER, 53);
    lookup(
        &mut conv,
        r,
        Lookup {
            port: 54000,
            id: 1,
            name: "ok.example",
            qtype: 1,
            t: 0.0,
            reply: Some((0.001, 0, Some(SERVER))),
        },
    );
    lookup(
        &mut conv,
        r,
        Lookup {
            port: 54000,
            id: 2,
            name: "broken.example",
            qtype: 1,
            t: 0.002,
            reply: Some((0.001, 2, None)),
        },
    );
    let records = analyze(&conv);
    let stories = of_type(&records, "story");
    assert_eq!(stories.len(), 1, "{stories:#?}");
    assert_eq!(stories[0]["target"], "broken.example");
    assert!(text(&stories[0]["headline"])
        .starts_with("the call to broken.example failed at the DNS step"));
}
