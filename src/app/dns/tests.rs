//! Tracker tests from hand-built messages (and `domain`'s builder for answers).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use domain::base::iana::Rcode;
use domain::base::{MessageBuilder, Name, Rtype};
use domain::rdata::{Aaaa, Cname, A};
use proptest::prelude::*;

use super::*;

const T0: i64 = 1_700_000_000_000_000_000;
const MS: i64 = 1_000_000;
const CLIENT: &str = "10.0.0.5:40000";
const SERVER: &str = "10.0.0.53:53";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ep(conn: u64, client: &str, server: &str) -> Endpoints {
    Endpoints {
        conn,
        client: sa(client),
        server: sa(server),
    }
}

fn at(ep: &Endpoints, side: Side, frame: u64, ms: i64) -> Origin {
    Origin {
        conn: ep.conn,
        side,
        frame,
        ts: Timestamp(T0 + ms * MS),
    }
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn header(id: u16, flags: u16, qd: u16, an: u16) -> Vec<u8> {
    let mut h = Vec::new();
    for v in [id, flags, qd, an, 0, 0] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h
}

fn query_raw(id: u16, qname: &[u8], qtype: u16) -> Vec<u8> {
    let mut m = header(id, 0x0100, 1, 0);
    m.extend_from_slice(qname);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    query_raw(id, &wire_name(name), qtype)
}

/// A response with `rcode`, optional TC, and A answers (owner: a pointer to the
/// question name).
fn response(id: u16, name: &str, qtype: u16, rcode: u16, tc: bool, addrs: &[[u8; 4]]) -> Vec<u8> {
    let flags = 0x8180 | rcode | if tc { 0x0200 } else { 0 };
    let mut m = header(id, flags, 1, addrs.len() as u16);
    m.extend_from_slice(&wire_name(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    for a in addrs {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(a);
    }
    m
}

fn tracker() -> DnsTracker {
    DnsTracker::new(DnsConfig::default())
}

fn drain(t: &mut DnsTracker) -> Vec<DnsRecord> {
    t.finish();
    t.take_records()
}

#[test]
fn a_aaaa_cname_answers_parsed() {
    let name = Name::<Vec<u8>>::from_str("www.example.com.").unwrap();
    let target = Name::<Vec<u8>>::from_str("edge.cdn.example.net.").unwrap();
    let mut b = MessageBuilder::new_vec();
    b.header_mut().set_id(0x1234);
    b.header_mut().set_qr(true);
    b.header_mut().set_rd(true);
    b.header_mut().set_ra(true);
    let mut q = b.question();
    q.push((&name, Rtype::A)).unwrap();
    let mut a = q.answer();
    a.push((&name, 300, Cname::new(target.clone()))).unwrap();
    a.push((&target, 60, A::from_octets(192, 0, 2, 7))).unwrap();
    a.push((&target, 60, Aaaa::new("2001:db8::7".parse().unwrap())))
        .unwrap();
    a.push((
        &target,
        60,
        domain::rdata::Txt::<Vec<u8>>::build_from_slice(b"hi").unwrap(),
    ))
    .unwrap();
    let resp = a.finish();

    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    t.on_datagram(
        &e,
        at(&e, Side::Client, 1, 0),
        &query(0x1234, "WWW.example.com", 1),
    );
    t.on_datagram(&e, at(&e, Side::Server, 2, 12), &resp);
    let recs = t.take_records();
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.qname, "WWW.example.com");
    assert_eq!(r.qtype, "A");
    assert_eq!(r.rcode.as_deref(), Some("NOERROR"));
    assert_eq!(r.latency_ms, Some(12.0));
    assert_eq!(
        r.answers,
        vec![
            DnsAnswer::Record {
                name: "www.example.com".into(),
                rtype: "CNAME".into(),
                ttl: 300,
                data: "edge.cdn.example.net".into()
            },
            DnsAnswer::Record {
                name: "edge.cdn.example.net".into(),
                rtype: "A".into(),
                ttl: 60,
                data: "192.0.2.7".into()
            },
            DnsAnswer::Record {
                name: "edge.cdn.example.net".into(),
                rtype: "AAAA".into(),
                ttl: 60,
                data: "2001:db8::7".into()
            },
            DnsAnswer::Record {
                name: "edge.cdn.example.net".into(),
                rtype: "TXT".into(),
                ttl: 60,
                data: "TXT 2 hi".into()
            },
        ]
    );
    assert_eq!(
        r.addresses(),
        vec![
            IpAddr::from([192, 0, 2, 7]),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        ]
    );
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["transport"], "udp");
    assert_eq!(json["query_time"], "2023-11-14T22:13:20.000000000Z");
    assert_eq!(json["answers"][3]["type"], "TXT");
    assert_eq!(json["answers"][1]["data"], "192.0.2.7");
    assert!(json["timed_out"] == false && json["tcp_retry"] == false);
    assert_eq!(t.stats().malformed, 0);
}

#[test]
fn each_rcode_is_named() {
    let e = ep(1, CLIENT, SERVER);
    for (code, name) in [
        (0, "NOERROR"),
        (1, "FORMERR"),
        (2, "SERVFAIL"),
        (3, "NXDOMAIN"),
        (4, "NOTIMP"),
        (5, "REFUSED"),
        (12, "RCODE12"),
    ] {
        let mut t = tracker();
        t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(9, "x.example", 1));
        t.on_datagram(
            &e,
            at(&e, Side::Server, 2, 1),
            &response(9, "x.example", 1, code, false, &[]),
        );
        let r = t.take_records();
        assert_eq!(r.len(), 1, "{name}");
        assert_eq!(r[0].rcode.as_deref(), Some(name));
    }
    // domain's builder agrees on the wire position of the rcode.
    let mut b = MessageBuilder::new_vec();
    b.header_mut().set_id(9);
    b.header_mut().set_qr(true);
    b.header_mut().set_rcode(Rcode::NXDOMAIN);
    let mut q = b.question();
    q.push((Name::<Vec<u8>>::from_str("x.example.").unwrap(), Rtype::A))
        .unwrap();
    let mut t = tracker();
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(9, "x.example", 1));
    t.on_datagram(&e, at(&e, Side::Server, 2, 1), &q.finish());
    assert_eq!(t.take_records()[0].rcode.as_deref(), Some("NXDOMAIN"));
}

#[test]
fn interleaved_queries_match_by_id_and_question() {
    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(1, "a.example", 1));
    t.on_datagram(&e, at(&e, Side::Client, 2, 1), &query(2, "b.example", 28));
    // Same id as the first but another question: a different transaction.
    t.on_datagram(&e, at(&e, Side::Client, 3, 2), &query(1, "c.example", 1));
    t.on_datagram(
        &e,
        at(&e, Side::Server, 4, 10),
        &response(2, "b.example", 28, 0, false, &[]),
    );
    t.on_datagram(
        &e,
        at(&e, Side::Server, 5, 20),
        &response(1, "c.example", 1, 3, false, &[]),
    );
    t.on_datagram(
        &e,
        at(&e, Side::Server, 6, 30),
        &response(1, "a.example", 1, 0, false, &[[1, 2, 3, 4]]),
    );
    // A response to nothing the capture saw: a record of its own.
    t.on_datagram(
        &e,
        at(&e, Side::Server, 7, 31),
        &response(77, "a.example", 1, 0, false, &[]),
    );
    let recs = t.take_records();
    let lone: Vec<_> = recs.iter().filter(|r| r.unsolicited).collect();
    assert_eq!(lone.len(), 1);
    assert_eq!((lone[0].id, lone[0].response_frame), (77, Some(7)));
    let got: Vec<_> = recs
        .iter()
        .filter(|r| !r.unsolicited)
        .map(|r| {
            (
                r.qname.as_str(),
                r.query_frame,
                r.response_frame,
                r.rcode.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a.example", 1, Some(6), Some("NOERROR")),
            ("b.example", 2, Some(4), Some("NOERROR")),
            ("c.example", 3, Some(5), Some("NXDOMAIN")),
        ]
    );
    assert_eq!(recs[1].qtype, "AAAA");
    assert_eq!(t.stats().unmatched_responses, 1);
    assert_eq!(t.stats().queries, 3);
    assert_eq!(t.stats().responses, 4);
}

#[test]
fn output_waits_for_earlier_queries() {
    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(1, "a.example", 1));
    t.on_datagram(&e, at(&e, Side::Client, 2, 1), &query(2, "b.example", 1));
    t.on_datagram(
        &e,
        at(&e, Side::Server, 3, 2),
        &response(2, "b.example", 1, 0, false, &[]),
    );
    assert!(t.take_records().is_empty());
    t.on_datagram(
        &e,
        at(&e, Side::Server, 4, 3),
        &response(1, "a.example", 1, 0, false, &[]),
    );
    let names: Vec<_> = t.take_records().into_iter().map(|r| r.qname).collect();
    assert_eq!(names, ["a.example", "b.example"]);
}

/// Issue 11: a resolver's failover to its next nameserver keeps the id (glibc
/// opens one socket per nameserver): one lookup with a retry.
#[test]
fn failover_with_same_id_to_next_server_is_one_lookup() {
    let mut t = tracker();
    let e1 = ep(1, CLIENT, SERVER);
    let e2 = ep(2, "10.0.0.5:40001", "10.0.0.54:53");
    t.on_datagram(
        &e1,
        at(&e1, Side::Client, 1, 0),
        &query(100, "api.example", 1),
    );
    t.on_datagram(
        &e2,
        at(&e2, Side::Client, 5, 1000),
        &query(100, "API.example", 1),
    );
    t.on_datagram(
        &e2,
        at(&e2, Side::Server, 6, 1030),
        &response(100, "api.example", 1, 0, false, &[[1, 1, 1, 1]]),
    );
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.retries, 1);
    assert_eq!(r.retry_frames, [5]);
    assert_eq!(r.query_frame, 1);
    assert_eq!(r.response_frame, Some(6));
    assert_eq!(r.latency_ms, Some(1030.0));
    assert_eq!(r.server, sa("10.0.0.54:53"));
    assert_eq!(r.conn, 2);
    assert_eq!(r.servers_tried, [sa(SERVER), sa("10.0.0.54:53")]);
    assert!(!r.timed_out);
    // Another client's identical question is not a retry.
    let mut t = tracker();
    let e3 = ep(3, "10.0.0.6:40000", SERVER);
    t.on_datagram(
        &e1,
        at(&e1, Side::Client, 1, 0),
        &query(100, "api.example", 1),
    );
    t.on_datagram(
        &e3,
        at(&e3, Side::Client, 2, 1),
        &query(100, "api.example", 1),
    );
    assert_eq!(t.pending(), 2);
}

/// Issue 11: glibc's failover when its first nameserver is silent: the next
/// server gets the same id from another socket just after the 5 s time-out
/// fired. One lookup, answered by the second server, not a time-out.
#[test]
fn failover_after_a_full_time_out_is_one_lookup() {
    let mut t = tracker();
    let e1 = ep(1, CLIENT, SERVER);
    let e2 = ep(2, "10.0.0.5:40001", "10.0.0.54:53");
    t.on_datagram(&e1, at(&e1, Side::Client, 1, 0), &query(9, "a.example", 1));
    t.expire(Timestamp(T0 + 5_000 * MS));
    t.on_datagram(
        &e2,
        at(&e2, Side::Client, 2, 5_001),
        &query(9, "a.example", 1),
    );
    t.on_datagram(
        &e2,
        at(&e2, Side::Server, 3, 5_003),
        &response(9, "a.example", 1, 0, false, &[[1, 1, 1, 1]]),
    );
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!((recs[0].retries, recs[0].timed_out), (1, false));
    assert_eq!(recs[0].unreachable, None);
    assert_eq!(recs[0].servers_tried, [sa(SERVER), sa("10.0.0.54:53")]);
    assert_eq!(recs[0].latency_ms, Some(5_003.0));
    // Without a failover the lookup times out once the grace is over, and a
    // late answer in the grace matches nothing.
    let mut t = tracker();
    t.on_datagram(&e1, at(&e1, Side::Client, 1, 0), &query(9, "a.example", 1));
    t.expire(Timestamp(T0 + 5_500 * MS)); // the pipeline expires at every packet
    t.on_datagram(
        &e1,
        at(&e1, Side::Server, 2, 5_500),
        &response(9, "a.example", 1, 0, false, &[]),
    );
    t.expire(Timestamp(T0 + 5_000 * MS + FAILOVER_GRACE_NS));
    let recs = t.take_records();
    assert_eq!(recs.len(), 1);
    assert!(recs[0].timed_out && recs[0].rcode.is_none());
    assert_eq!(t.stats().unmatched_responses, 1);
}

/// Issue 11: glibc moves to its next nameserver at once when the first
/// answers ICMP port unreachable (same id, new socket): one lookup, answered,
/// so not `unreachable` (a lookup is never both).
#[test]
fn failover_after_icmp_is_answered_not_unreachable() {
    let mut t = tracker();
    let e1 = ep(1, CLIENT, SERVER);
    let e2 = ep(2, "10.0.0.5:40001", "10.0.0.54:53");
    t.on_datagram(&e1, at(&e1, Side::Client, 1, 0), &query(9, "a.example", 1));
    let note = IcmpNote {
        frame: 2,
        ts: Timestamp(T0 + MS),
        from: "10.0.0.53".parse().unwrap(),
        description: "port unreachable".to_string(),
        unreachable: true,
        quoted_udp_head: Some(9),
    };
    t.on_unreachable(&e1, &note);
    t.on_datagram(&e2, at(&e2, Side::Client, 3, 2), &query(9, "a.example", 1));
    t.on_datagram(
        &e2,
        at(&e2, Side::Server, 4, 3),
        &response(9, "a.example", 1, 0, false, &[[1, 1, 1, 1]]),
    );
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].rcode.as_deref(), Some("NOERROR"));
    assert_eq!(recs[0].unreachable, None);
    assert_eq!(
        (recs[0].retries, recs[0].retry_frames.as_slice()),
        (1, &[3][..])
    );
}

/// Issue 11: the same socket resending the same id is a retry; the same name
/// from another socket or with another id is a lookup of its own (Go retries
/// with a new socket and id; concurrent stub clients ask at once).
#[test]
fn retry_needs_same_socket_or_id() {
    let mut t = tracker();
    let e1 = ep(1, CLIENT, SERVER);
    let e2 = ep(2, "10.0.0.5:40001", SERVER);
    t.on_datagram(&e1, at(&e1, Side::Client, 1, 0), &query(7, "a.example", 1));
    t.on_datagram(
        &e1,
        at(&e1, Side::Client, 2, 1000),
        &query(7, "a.example", 1),
    );
    // Same name, another socket, another id, at once: its own lookup.
    t.on_datagram(
        &e2,
        at(&e2, Side::Client, 3, 1001),
        &query(8, "a.example", 1),
    );
    // Same id and server from another socket without an ICMP error: a
    // concurrent client that happened to pick the same id.
    let e3 = ep(3, "10.0.0.5:40002", SERVER);
    t.on_datagram(
        &e3,
        at(&e3, Side::Client, 4, 1002),
        &query(7, "a.example", 1),
    );
    t.on_datagram(
        &e2,
        at(&e2, Side::Server, 5, 1003),
        &response(8, "a.example", 1, 0, false, &[[1, 1, 1, 1]]),
    );
    t.on_datagram(
        &e1,
        at(&e1, Side::Server, 6, 1004),
        &response(7, "a.example", 1, 0, false, &[[1, 1, 1, 1]]),
    );
    t.on_datagram(
        &e3,
        at(&e3, Side::Server, 7, 1005),
        &response(7, "a.example", 1, 3, false, &[]),
    );
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 3, "{recs:#?}");
    assert_eq!(
        (recs[0].retries, recs[0].retry_frames.as_slice()),
        (1, &[2][..])
    );
    assert_eq!(recs[0].response_frame, Some(6));
    assert_eq!((recs[1].query_frame, recs[1].response_frame), (3, Some(5)));
    assert_eq!(recs[1].retries, 0);
    assert_eq!(
        (recs[2].query_frame, recs[2].rcode.as_deref()),
        (4, Some("NXDOMAIN"))
    );
    assert_eq!(t.stats().unmatched_responses, 0);
}

/// Issue 11: 8 concurrent stub clients, one socket and one random id per
/// lookup, all asking for the same name: every query is a lookup, every
/// time-out stays one, and an ICMP error marks only the query it quotes.
#[test]
fn concurrent_sockets_are_separate_lookups() {
    let mut t = tracker();
    let mut frame = 0;
    let mut sent = 0;
    let mut next = || {
        frame += 1;
        frame
    };
    let server2 = "10.0.0.54:53";
    for round in 0..50u16 {
        for client in 0..8u16 {
            let port = 30000 + round * 8 + client;
            let id = round.wrapping_mul(7919).wrapping_add(client * 131);
            let name = "api.example";
            let ms = i64::from(round) * 10 + i64::from(client);
            let server = if client == 7 { server2 } else { SERVER };
            let e = ep(u64::from(port), &format!("10.0.0.5:{port}"), server);
            t.on_datagram(&e, at(&e, Side::Client, next(), ms), &query(id, name, 1));
            sent += 1;
            match client {
                // Client 6's queries time out; client 7's server is down.
                6 => {}
                7 => {
                    let note = IcmpNote {
                        frame: next(),
                        ts: Timestamp(T0 + (ms + 1) * MS),
                        from: "10.0.0.54".parse().unwrap(),
                        description: "port unreachable".to_string(),
                        unreachable: true,
                        quoted_udp_head: Some(id),
                    };
                    t.on_unreachable(&e, &note);
                }
                _ => {
                    t.on_datagram(
                        &e,
                        at(&e, Side::Server, next(), ms + 2),
                        &response(id, name, 1, 0, false, &[[1, 2, 3, 4]]),
                    );
                }
            }
        }
    }
    t.expire(Timestamp(T0 + 10_000 * MS));
    let recs = drain(&mut t);
    assert_eq!(recs.len(), sent);
    let timed_out = recs.iter().filter(|r| r.timed_out).count();
    let unreachable = recs.iter().filter(|r| r.unreachable.is_some()).count();
    let both = recs
        .iter()
        .filter(|r| r.unreachable.is_some() && r.rcode.is_some())
        .count();
    assert_eq!((timed_out, unreachable, both), (100, 50, 0));
    assert!(recs.iter().all(|r| r.retries == 0));
}

/// The ICMP error quotes the DNS id: on a socket with two pending lookups
/// (glibc sends A and AAAA on one socket) it marks only the quoted one.
#[test]
fn icmp_error_marks_the_quoted_id_only() {
    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(1, "a.example", 1));
    t.on_datagram(&e, at(&e, Side::Client, 2, 0), &query(2, "a.example", 28));
    let note = IcmpNote {
        frame: 3,
        ts: Timestamp(T0 + MS),
        from: "10.0.0.53".parse().unwrap(),
        description: "port unreachable".to_string(),
        unreachable: true,
        quoted_udp_head: Some(2),
    };
    t.on_unreachable(&e, &note);
    let recs = drain(&mut t);
    assert_eq!(recs[0].unreachable, None);
    assert_eq!(recs[1].unreachable.as_ref().map(|u| u.count), Some(1));
}

#[test]
fn timeout_by_packet_time_via_expire() {
    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(1, "slow.example", 1));
    t.on_datagram(
        &e,
        at(&e, Side::Client, 2, 1000),
        &query(1, "slow.example", 1),
    );
    t.expire(Timestamp(T0 + 5_999 * MS));
    assert!(
        t.take_records().is_empty(),
        "deadline runs from the latest attempt"
    );
    assert_eq!(t.pending(), 1);
    t.expire(Timestamp(T0 + 6_000 * MS));
    assert!(
        t.take_records().is_empty(),
        "a failover may still come within the grace"
    );
    t.expire(Timestamp(T0 + 6_000 * MS + FAILOVER_GRACE_NS));
    let recs = t.take_records();
    assert_eq!(recs.len(), 1);
    assert!(recs[0].timed_out && !recs[0].unanswered_at_end);
    assert_eq!(recs[0].rcode, None);
    assert_eq!(recs[0].retries, 1);
    assert_eq!(t.pending(), 0);
    // A late answer is unmatched.
    t.on_datagram(
        &e,
        at(&e, Side::Server, 3, 8000),
        &response(1, "slow.example", 1, 0, false, &[]),
    );
    assert_eq!(t.stats().unmatched_responses, 1);
    let json = serde_json::to_value(&recs[0]).unwrap();
    assert!(json["rcode"].is_null() && json["response_time"].is_null());
}

/// Found on real traffic: a query to an address where nothing listens on port
/// 53 draws ICMP port unreachable, which the lookup's record must carry (it used
/// to read as a silent time-out).
#[test]
fn icmp_unreachable_is_noted_on_the_pending_lookup() {
    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    let other = ep(2, "10.0.0.5:40001", "10.0.0.54:53");
    let icmp = |frame, ms| IcmpNote {
        frame,
        ts: Timestamp(T0 + ms * MS),
        from: "10.0.0.53".parse().unwrap(),
        description: "port unreachable".to_string(),
        unreachable: true,
        quoted_udp_head: None,
    };
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(1, "a.example", 1));
    t.on_datagram(
        &other,
        at(&other, Side::Client, 2, 0),
        &query(2, "b.example", 1),
    );
    t.on_unreachable(&e, &icmp(3, 0));
    t.on_datagram(&e, at(&e, Side::Client, 4, 300), &query(1, "a.example", 1));
    t.on_unreachable(&e, &icmp(5, 300));
    // An answered lookup is not touched by a later error on its flow.
    t.on_datagram(
        &other,
        at(&other, Side::Server, 6, 301),
        &response(2, "b.example", 1, 0, false, &[]),
    );
    t.on_unreachable(&other, &icmp(7, 302));
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 2);
    let u = recs[0].unreachable.as_ref().expect("noted");
    assert_eq!((u.count, u.frames.as_slice()), (2, &[3, 5][..]));
    assert_eq!(u.description, "port unreachable");
    assert_eq!(recs[0].retries, 1);
    assert!(recs[0].unanswered_at_end && recs[0].rcode.is_none());
    assert_eq!(recs[1].unreachable, None);
    let json = serde_json::to_value(&recs[0]).unwrap();
    assert_eq!(json["unreachable"]["from"], "10.0.0.53");
}

#[test]
fn answered_at_end_vs_unanswered_at_end() {
    let e = ep(1, CLIENT, SERVER);
    // The capture goes on 5 s past the query: a time-out even without expire().
    let mut t = tracker();
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(1, "a.example", 1));
    t.on_datagram(&e, at(&e, Side::Client, 2, 5000), &query(9, "b.example", 1));
    t.on_datagram(
        &e,
        at(&e, Side::Server, 3, 5001),
        &response(9, "b.example", 1, 0, false, &[]),
    );
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 2);
    assert!(recs[0].timed_out && !recs[0].unanswered_at_end);
    assert!(!recs[1].timed_out && recs[1].rcode.is_some());
    // The capture ends 2 s after the query: unanswered at end, not a time-out.
    let mut t = tracker();
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(1, "a.example", 1));
    t.on_datagram(&e, at(&e, Side::Client, 2, 2000), &query(9, "b.example", 1));
    t.on_datagram(
        &e,
        at(&e, Side::Server, 3, 2001),
        &response(9, "b.example", 1, 0, false, &[]),
    );
    let recs = drain(&mut t);
    assert!(!recs[0].timed_out && recs[0].unanswered_at_end);
    assert!(!recs[1].unanswered_at_end);
}

#[test]
fn truncated_udp_then_tcp_retry() {
    let mut t = tracker();
    let u = ep(1, CLIENT, SERVER);
    let tc = ep(2, "10.0.0.5:40100", SERVER);
    t.on_datagram(&u, at(&u, Side::Client, 1, 0), &query(5, "big.example", 16));
    t.on_datagram(
        &u,
        at(&u, Side::Server, 2, 3),
        &response(5, "big.example", 16, 0, true, &[]),
    );
    let q = query(6, "big.example", 16);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    t.on_tcp_data(&tc, at(&tc, Side::Client, 5, 10), 0, &framed);
    let r = response(6, "big.example", 16, 0, false, &[]);
    let mut framed = (r.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&r);
    t.on_tcp_data(&tc, at(&tc, Side::Server, 6, 14), 0, &framed);
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 2);
    assert!(recs[0].truncated && recs[0].tcp_retry);
    assert_eq!(recs[0].transport, Transport::Udp);
    assert_eq!(recs[0].qtype, "TXT");
    assert_eq!(recs[1].transport, Transport::Tcp);
    assert_eq!(recs[1].response_frame, Some(6));
    assert!(!recs[1].truncated && !recs[1].tcp_retry);
    // TC without a TCP retry: closed by expire with tcp_retry false.
    let mut t = tracker();
    t.on_datagram(&u, at(&u, Side::Client, 1, 0), &query(5, "big.example", 16));
    t.on_datagram(
        &u,
        at(&u, Side::Server, 2, 3),
        &response(5, "big.example", 16, 0, true, &[]),
    );
    t.expire(Timestamp(T0 + 5_003 * MS));
    let recs = t.take_records();
    assert_eq!(recs.len(), 1);
    assert!(recs[0].truncated && !recs[0].tcp_retry && !recs[0].timed_out);
}

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut out = (msg.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    out
}

#[test]
fn tcp_split_across_segments_and_two_in_one() {
    let mut t = tracker();
    let e = ep(3, CLIENT, SERVER);
    // Two queries in one segment.
    let mut both = framed(&query(1, "a.example", 1));
    both.extend(framed(&query(2, "b.example", 1)));
    t.on_tcp_data(&e, at(&e, Side::Client, 1, 0), 0, &both);
    assert_eq!(t.pending(), 2);
    // Responses split at every awkward place: inside the prefix, inside the
    // header, across the boundary between the two.
    let mut resp = framed(&response(1, "a.example", 1, 0, false, &[[9, 9, 9, 9]]));
    resp.extend(framed(&response(2, "b.example", 1, 3, false, &[])));
    let cuts = [1usize, 5, 40, resp.len() - 3, resp.len()];
    let mut from = 0;
    for (i, &to) in cuts.iter().enumerate() {
        t.on_tcp_data(
            &e,
            at(&e, Side::Server, 2 + i as u64, 10 + i as i64),
            from as u64,
            &resp[from..to],
        );
        from = to;
    }
    t.on_tcp_end(&e, Side::Client);
    t.on_tcp_end(&e, Side::Server);
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].addresses(), [IpAddr::from([9, 9, 9, 9])]);
    assert_eq!(recs[1].rcode.as_deref(), Some("NXDOMAIN"));
    assert_eq!(
        recs[1].response_frame,
        Some(6),
        "the frame that completed it"
    );
    assert_eq!(t.stats().malformed, 0);
}

#[test]
fn tcp_gap_abandons_the_direction() {
    let mut t = tracker();
    let e = ep(3, CLIENT, SERVER);
    let q1 = framed(&query(1, "a.example", 1));
    let q2 = framed(&query(2, "b.example", 1));
    let q3 = framed(&query(3, "c.example", 1));
    t.on_tcp_data(&e, at(&e, Side::Client, 1, 0), 0, &q1);
    let off2 = q1.len() as u64;
    t.on_tcp_data(&e, at(&e, Side::Client, 2, 1), off2, &q2[..4]);
    t.on_tcp_gap(&e, Side::Client, off2 + 4, (q2.len() - 4) as u64);
    let off3 = off2 + q2.len() as u64;
    t.on_tcp_data(&e, at(&e, Side::Client, 3, 2), off3, &q3);
    assert_eq!(t.pending(), 1, "only the message before the gap");
    assert_eq!(t.stats().tcp_framing_lost, 1);
    // Data beyond the expected offset without a gap call loses framing too.
    let e2 = ep(4, CLIENT, SERVER);
    t.on_tcp_data(&e2, at(&e2, Side::Client, 4, 3), 10, &q1);
    assert_eq!(t.stats().tcp_framing_lost, 2);
    assert_eq!(t.pending(), 1);
    t.on_tcp_end(&e, Side::Client);
    assert_eq!(t.stats().malformed, 0);
}

#[test]
fn malformed_messages_are_counted() {
    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    // Truncated header.
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &[0x12, 0x34, 0x01]);
    // Compression loop: the question name points at itself.
    let mut looped = header(1, 0x0100, 1, 0);
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    t.on_datagram(&e, at(&e, Side::Client, 2, 0), &looped);
    // Label too long: a length byte of 64 is no valid label type.
    let mut long = vec![64u8];
    long.extend(std::iter::repeat_n(b'a', 64));
    long.push(0);
    t.on_datagram(&e, at(&e, Side::Client, 3, 0), &query_raw(1, &long, 1));
    // A name longer than 255 bytes.
    let mut huge = Vec::new();
    for _ in 0..5 {
        huge.push(63u8);
        huge.extend(std::iter::repeat_n(b'b', 63));
    }
    huge.push(0);
    t.on_datagram(&e, at(&e, Side::Client, 4, 0), &query_raw(1, &huge, 1));
    // A response whose answer section is cut short: still matched, counted.
    t.on_datagram(&e, at(&e, Side::Client, 5, 0), &query(7, "ok.example", 1));
    let mut cut = response(7, "ok.example", 1, 0, false, &[[1, 2, 3, 4], [5, 6, 7, 8]]);
    cut.truncate(cut.len() - 6);
    t.on_datagram(&e, at(&e, Side::Server, 6, 1), &cut);
    // An empty TCP message and a stream ending mid-message.
    let c = ep(2, CLIENT, SERVER);
    t.on_tcp_data(&c, at(&c, Side::Client, 7, 2), 0, &[0, 0, 0, 30, 1, 2]);
    t.on_tcp_end(&c, Side::Client);
    assert_eq!(t.stats().malformed, 7);
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].addresses(), [IpAddr::from([1, 2, 3, 4])]);
}

#[test]
fn control_bytes_in_names_are_escaped() {
    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    let mut name = vec![7u8];
    name.extend_from_slice(b"a\x1b[2J\nb");
    name.extend_from_slice(&[3, b'c', b'o', 0xff, 0]);
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query_raw(1, &name, 1));
    let recs = drain(&mut t);
    let q = &recs[0].qname;
    assert!(q.bytes().all(|b| (0x20..0x7f).contains(&b)), "{q:?}");
    assert_eq!(q, "a\\027[2J\\010b.co\\255");
}

#[test]
fn pending_cap_is_counted() {
    let mut t = DnsTracker::new(DnsConfig {
        max_pending: 2,
        ..DnsConfig::default()
    });
    let e = ep(1, CLIENT, SERVER);
    for (i, n) in ["a.x", "b.x", "c.x"].into_iter().enumerate() {
        t.on_datagram(
            &e,
            at(&e, Side::Client, i as u64, 0),
            &query(i as u16, n, 1),
        );
    }
    assert_eq!(t.pending(), 2);
    assert_eq!(t.stats().pending_cap_hits, 1);
    assert!(is_dns_port(53) && is_dns_port(5353) && is_dns_port(5355) && !is_dns_port(15353));
}

proptest! {
    #[test]
    fn random_input_never_panics_and_respects_the_cap(
        datagrams in proptest::collection::vec(
            (any::<bool>(), 0u64..3, proptest::collection::vec(any::<u8>(), 0..80)), 0..40),
        stream in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(0usize..400, 0..8),
        gap_at in proptest::option::of(0usize..400),
    ) {
        let cap = 3;
        let mut t = DnsTracker::new(DnsConfig { max_pending: cap, ..DnsConfig::default() });
        let e = ep(1, CLIENT, SERVER);
        for (i, (server, id, mut bytes)) in datagrams.into_iter().enumerate() {
            // Half the time a plausible query or response with a mutated tail, so
            // the matching paths are exercised, not only the parser's rejections.
            if id == 0 {
                let mut m = if server { response(1, "a.x", 1, 0, false, &[[1, 2, 3, 4]]) } else { query(1, "a.x", 1) };
                m.extend_from_slice(&bytes);
                bytes = m;
            }
            let side = if server { Side::Server } else { Side::Client };
            t.on_datagram(&e, at(&e, side, i as u64, i as i64 * 700), &bytes);
            prop_assert!(t.pending() <= cap);
            t.expire(Timestamp(T0 + i as i64 * 700 * MS));
        }
        let c = ep(2, CLIENT, SERVER);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut from = 0;
        for (i, to) in cuts.into_iter().enumerate() {
            let chunk = &stream[from..to];
            if gap_at == Some(i) {
                t.on_tcp_gap(&c, Side::Client, from as u64, chunk.len() as u64);
            } else {
                t.on_tcp_data(&c, at(&c, Side::Client, 100 + i as u64, 0), from as u64, chunk);
            }
            prop_assert!(t.pending() <= cap);
            from = to;
        }
        t.on_tcp_end(&c, Side::Client);
        t.finish();
        let recs = t.take_records();
        prop_assert_eq!(t.pending(), 0);
        for r in &recs {
            prop_assert!(r.qname.bytes().all(|b| (0x20..0x7f).contains(&b)));
            prop_assert!(serde_json::to_string(r).is_ok());
        }
    }
}

/// Issue 11: the protocol of the DNS family an exchange speaks.
#[test]
fn protocol_is_named_by_port_and_address() {
    let of = |c: &str, s: &str| DnsProtocol::of(sa(c), sa(s));
    assert_eq!(of(CLIENT, SERVER), DnsProtocol::Dns);
    // A local dnsmasq on 5353 is unicast DNS.
    assert_eq!(of("127.0.0.1:40000", "127.0.0.1:5353"), DnsProtocol::Dns);
    assert_eq!(of("10.0.0.5:5353", "224.0.0.251:5353"), DnsProtocol::Mdns);
    assert_eq!(of("10.0.0.5:40000", "224.0.0.251:5353"), DnsProtocol::Mdns);
    assert_eq!(of("[fe80::1]:5353", "[ff02::fb]:5353"), DnsProtocol::Mdns);
    assert_eq!(of("10.0.0.5:5353", "10.0.0.6:5353"), DnsProtocol::Mdns);
    assert_eq!(of("10.0.0.5:40000", "224.0.0.252:5355"), DnsProtocol::Llmnr);
    assert_eq!(of("10.0.0.6:5355", "10.0.0.5:40000"), DnsProtocol::Llmnr);
    let mut t = tracker();
    let e = ep(1, "10.0.0.5:40000", "224.0.0.252:5355");
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(3, "fileserver", 1));
    let recs = drain(&mut t);
    assert_eq!(recs[0].protocol, DnsProtocol::Llmnr);
    assert_eq!(serde_json::to_value(&recs[0]).unwrap()["protocol"], "llmnr");
}

mod records;
