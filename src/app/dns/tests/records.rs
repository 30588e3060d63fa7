//! Issue 16: header flags, every record type rendered, mDNS / LLMNR answers
//! matched or recorded on their own, NetBIOS-NS lookups.

use domain::base::iana::Class;
use domain::base::UnknownRecordData;
use serde_json::Value;

use super::*;

fn name(s: &str) -> Name<Vec<u8>> {
    Name::<Vec<u8>>::from_str(s).unwrap()
}

fn rr(rtype: u16, data: Vec<u8>) -> UnknownRecordData<Vec<u8>> {
    UnknownRecordData::from_octets(Rtype::from_int(rtype), data).unwrap()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A response to `example.com ANY` with one record of each type, an SOA in
/// the authority section and an OPT in the additional one; AA, RD, RA, AD,
/// CD set.
fn every_type() -> Vec<u8> {
    let owner = name("example.com.");
    let mut b = MessageBuilder::new_vec();
    let h = b.header_mut();
    h.set_id(0x0707);
    h.set_qr(true);
    h.set_aa(true);
    h.set_rd(true);
    h.set_ra(true);
    h.set_ad(true);
    h.set_cd(true);
    let mut q = b.question();
    q.push((&owner, Rtype::ANY)).unwrap();
    let mut a = q.answer();
    let records: Vec<(u16, Vec<u8>)> = vec![
        (16, cat(&[b"\x0bv=spf1 -all", b"\x03x\x01y", b"\x03a\\b"])),
        (15, cat(&[&[0, 10], &wire_name("mail.example.com")])),
        (
            33,
            cat(&[&[0, 1, 0, 5, 0x13, 0xc4], &wire_name("sip.example.com")]),
        ),
        (12, wire_name("host.example.com")),
        (2, wire_name("ns1.example.com")),
        (257, cat(&[&[0, 5], b"issue", b"letsencrypt.org"])),
        (48, vec![1, 1, 3, 13, 0xaa, 0xbb, 0xcc, 0xdd]),
        (
            46,
            cat(&[
                &[0, 1, 13, 2, 0, 0, 1, 44],
                &[0x65, 0x92, 0x00, 0x80, 0x65, 0x6a, 0x73, 0x80, 0x30, 0x39],
                &wire_name("example.com"),
                &[1, 2, 3, 4],
            ]),
        ),
        (43, vec![0x30, 0x39, 13, 2, 0xde, 0xad, 0xbe, 0xef]),
        (47, cat(&[&wire_name("a.example.com"), &[0, 1, 0x60]])),
        (50, vec![1, 0, 0, 0, 0, 4, 1, 2, 3, 4, 0, 1, 0x40]),
        (65, cat(&[&[0, 1, 0], &[0, 1, 0, 3, 2, b'h', b'2']])),
        (13, cat(&[b"\x03x86", b"\x05Linux"])),
        (65280, vec![1, 2, 3]),
    ];
    for (t, d) in records {
        a.push((&owner, 300, rr(t, d))).unwrap();
    }
    let mut au = a.authority();
    let soa = cat(&[
        &wire_name("ns1.example.com"),
        &wire_name("hostmaster.example.com"),
        &2_024_010_101u32.to_be_bytes(),
        &7200u32.to_be_bytes(),
        &3600u32.to_be_bytes(),
        &1_209_600u32.to_be_bytes(),
        &300u32.to_be_bytes(),
    ]);
    au.push((&owner, 900, rr(6, soa))).unwrap();
    let mut ad = au.additional();
    let opts = cat(&[&[0, 10, 0, 8], &[9; 8], &[0, 15, 0, 6, 0, 18], b"test"]);
    ad.push((name("."), Class::from_int(1232), 0x8000u32, rr(41, opts)))
        .unwrap();
    ad.finish()
}

fn data_of(answers: &[DnsAnswer]) -> Vec<(String, String, Option<String>)> {
    answers
        .iter()
        .map(|a| match a {
            DnsAnswer::Record { rtype, data, .. } => (rtype.clone(), data.clone(), None),
            DnsAnswer::Detailed {
                rtype, data, rdata, ..
            } => (rtype.clone(), data.clone(), Some(rdata.clone())),
            DnsAnswer::Summary { rtype, count } => (rtype.clone(), count.to_string(), None),
        })
        .collect()
}

#[test]
fn header_flags_from_query_and_answer() {
    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    let mut q = query(0x0707, "example.com", 255);
    q[3] |= 0x20; // AD in the query (dig sets it)
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &q);
    t.on_datagram(&e, at(&e, Side::Server, 2, 3), &every_type());
    let recs = drain(&mut t);
    let r = &recs[0];
    assert_eq!(r.query_flags, Some(0x0120));
    assert_eq!(r.response_flags, Some(0x85b0));
    assert_eq!(
        (r.aa, r.tc, r.rd, r.ra, r.z, r.ad, r.cd),
        (true, false, true, true, false, true, true)
    );
    assert_eq!((r.qclass.as_str(), r.opcode.as_str()), ("IN", "QUERY"));
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["query_flags"], "0120");
    assert_eq!(json["response_flags"], "85b0");
    assert_eq!(json["aa"], true);
    assert_eq!(json["cd"], true);
    assert_eq!(json["unsolicited"], false);
    assert_eq!(t.stats().malformed, 0);

    // Unanswered: the query's bits, RD among them.
    let mut t = tracker();
    t.on_datagram(&e, at(&e, Side::Client, 1, 0), &query(9, "a.x", 1));
    let r = &drain(&mut t)[0];
    assert_eq!((r.rd, r.ra, r.aa), (true, false, false));
    assert_eq!(r.response_flags, None);
    assert_eq!(
        serde_json::to_value(r).unwrap()["response_flags"],
        Value::Null
    );
}

#[test]
fn every_type_is_rendered_with_its_ttl() {
    let msg = wire::parse(&every_type(), false).unwrap();
    assert!(!msg.damaged);
    let s = |v: &str| v.to_string();
    let got = data_of(&msg.answers);
    let want_short = [
        ("TXT", "TXT 11 v=spf1 -all TXT 3 x\\001y TXT 3 a\\\\b"),
        ("MX", "mail.example.com"),
        ("SRV", "sip.example.com"),
        ("PTR", "host.example.com"),
        ("NS", "ns1.example.com"),
        ("CAA", "0 issue \"letsencrypt.org\""),
        ("DNSKEY", "DNSKEY 13"),
        ("RRSIG", "RRSIG 1 example.com"),
        ("DS", "DS 13 2"),
        ("NSEC", "NSEC example.com a.example.com"),
        ("NSEC3", "NSEC3"),
    ];
    for (i, (t, d)) in want_short.iter().enumerate() {
        assert_eq!((got[i].0.as_str(), got[i].1.as_str()), (*t, *d), "{i}");
    }
    assert_eq!(got[1].2, Some(s("10 mail.example.com")));
    assert_eq!(got[2].2, Some(s("1 5 5060 sip.example.com")));
    assert!(got[6].2.as_deref().unwrap().contains("key_tag="), "{got:?}");
    assert!(
        got[8].2.as_deref().unwrap().ends_with("deadbeef"),
        "{got:?}"
    );
    assert_eq!(got[9].2, Some(s("a.example.com A NS")));
    assert_eq!(got[11].0, "HTTPS");
    assert!(
        got[11].1.contains("alpn") && got[11].1.contains("h2"),
        "{got:?}"
    );
    assert_eq!(got[12].1, "\"x86\" \"Linux\"");
    assert_eq!(
        got[13],
        (
            s("TYPE65280"),
            s("<unknown type=65280>"),
            Some(s("\\# 3 010203"))
        )
    );
    assert!(msg.answers.iter().all(|a| a.ttl() == Some(300)));
    let auth = data_of(&msg.authorities);
    assert_eq!(
        auth,
        vec![(
            s("SOA"),
            s("ns1.example.com"),
            Some(s(
                "ns1.example.com hostmaster.example.com 2024010101 7200 3600 1209600 300"
            ))
        )]
    );
    assert_eq!(msg.authorities[0].ttl(), Some(900));
    let addl = data_of(&msg.additionals);
    assert_eq!(
        addl,
        vec![(
            s("OPT"),
            s("EDNS0 udp=1232 do COOKIE EDE=18:\"test\""),
            None
        )]
    );
    // Every string is printable ASCII.
    let json = serde_json::to_string(&msg.answers).unwrap();
    assert!(json.bytes().all(|b| (0x20..0x7f).contains(&b)), "{json}");
}

#[test]
fn answers_past_the_cap_are_counted_by_type() {
    let owner = name("many.example.");
    let mut b = MessageBuilder::new_vec();
    b.header_mut().set_qr(true);
    let mut q = b.question();
    q.push((&owner, Rtype::A)).unwrap();
    let mut a = q.answer();
    for i in 0..70u8 {
        a.push((&owner, 60, A::from_octets(10, 0, 0, i))).unwrap();
    }
    let msg = wire::parse(&a.finish(), false).unwrap();
    assert_eq!(msg.answers.len(), wire::MAX_ANSWERS + 1);
    assert_eq!(
        msg.answers.last(),
        Some(&DnsAnswer::Summary {
            rtype: "A".into(),
            count: 6
        })
    );
}

#[test]
fn bad_rdata_is_damage_not_a_lost_message() {
    let owner = name("x.example.");
    let mut b = MessageBuilder::new_vec();
    b.header_mut().set_qr(true);
    let mut a = b.question().answer();
    a.push((&owner, 60, rr(1, vec![1, 2, 3]))).unwrap(); // A of 3 bytes
    a.push((&owner, 60, rr(16, vec![9, b'a']))).unwrap(); // TXT string past its end
    a.push((&owner, 60, A::from_octets(192, 0, 2, 1))).unwrap();
    let msg = wire::parse(&a.finish(), false).unwrap();
    assert!(msg.damaged);
    assert_eq!(data_of(&msg.answers)[0].1, "192.0.2.1");
}

/// An mDNS answer: QR and AA, id 0, no question, one A record whose class
/// carries the cache-flush bit.
fn mdns_answer(host: &str, addr: [u8; 4]) -> Vec<u8> {
    let mut m = header(0, 0x8400, 0, 1);
    m.extend_from_slice(&wire_name(host));
    m.extend_from_slice(&[0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4]);
    m.extend_from_slice(&addr);
    m
}

#[test]
fn mdns_multicast_answer_matches_the_question() {
    let mut t = tracker();
    let ask = ep(1, "10.0.0.5:5353", "224.0.0.251:5353");
    let mut q = query(0, "printer.local", 1);
    // The QU (unicast-response) bit on top of the question's class.
    let at_class = 12 + wire_name("printer.local").len() + 2;
    q[at_class] = 0x80;
    t.on_datagram(&ask, at(&ask, Side::Client, 1, 0), &q);
    let answer = ep(2, "10.0.0.9:5353", "224.0.0.251:5353");
    t.on_datagram(
        &answer,
        at(&answer, Side::Client, 2, 4),
        &mdns_answer("printer.local", [10, 0, 0, 9]),
    );
    // An announcement nobody asked for.
    t.on_datagram(
        &answer,
        at(&answer, Side::Client, 3, 9),
        &mdns_answer("scanner.local", [10, 0, 0, 9]),
    );
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    let r = &recs[0];
    assert_eq!(r.protocol, DnsProtocol::Mdns);
    assert_eq!(r.client, sa("10.0.0.5:5353"));
    assert_eq!(r.server, sa("10.0.0.9:5353"));
    assert_eq!(r.conn, 2);
    assert!(r.unicast_response && r.cache_flush && r.aa && !r.unsolicited);
    assert_eq!(r.qclass, "IN");
    assert_eq!(r.latency_ms, Some(4.0));
    assert_eq!(r.addresses(), [IpAddr::from([10, 0, 0, 9])]);
    let u = &recs[1];
    assert!(u.unsolicited && !u.timed_out);
    assert_eq!(u.qname, "scanner.local");
    assert_eq!(u.qtype, "A");
    assert_eq!(u.query_flags, None);
    assert_eq!(u.latency_ms, None);
    assert_eq!(u.query_frame, 3);
    assert_eq!(u.response_frame, Some(3));
    assert_eq!(t.stats().unsolicited_responses, 1);
    assert_eq!(t.stats().unmatched_responses, 0);
}

#[test]
fn llmnr_unicast_answer_from_a_responder_matches() {
    let mut t = tracker();
    let ask = ep(1, "10.0.0.5:50000", "224.0.0.252:5355");
    let q = query(0x4242, "fileserver", 1);
    t.on_datagram(&ask, at(&ask, Side::Client, 1, 0), &q);
    // The responder answers from its own address, to the asking socket.
    let back = ep(2, "10.0.0.7:5355", "10.0.0.5:50000");
    let mut resp = response(0x4242, "fileserver", 1, 0, false, &[[10, 0, 0, 7]]);
    resp[2] = 0x84; // QR AA, no RD
    resp[3] = 0x00;
    t.on_datagram(&back, at(&back, Side::Client, 2, 2), &resp);
    // Another id from that responder is unsolicited, not the lookup's.
    let other = response(0x4243, "fileserver", 1, 0, false, &[[10, 0, 0, 8]]);
    t.on_datagram(&back, at(&back, Side::Client, 3, 3), &other);
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].protocol, DnsProtocol::Llmnr);
    assert_eq!(recs[0].server, sa("10.0.0.7:5355"));
    assert_eq!(recs[0].client, sa("10.0.0.5:50000"));
    assert_eq!(recs[0].addresses(), [IpAddr::from([10, 0, 0, 7])]);
    assert!(recs[1].unsolicited);
}

#[test]
fn unicast_answer_without_its_query_is_a_record_and_a_late_one_is_not() {
    let mut t = tracker();
    let e = ep(1, CLIENT, SERVER);
    // The capture missed the query: the answer is recorded on its own, as
    // Zeek logs an unmatched reply.
    t.on_datagram(
        &e,
        at(&e, Side::Server, 1, 0),
        &response(5, "a.x", 1, 0, false, &[[1, 2, 3, 4]]),
    );
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].unsolicited && recs[0].rcode.is_some());
    assert_eq!(recs[0].answers.len(), 1);
    assert_eq!(t.stats().unmatched_responses, 1);
    // A lookup answered, then the same answer again: one lookup only.
    t.on_datagram(&e, at(&e, Side::Client, 2, 10), &query(6, "b.x", 1));
    for (frame, ms) in [(3, 12), (4, 13)] {
        t.on_datagram(
            &e,
            at(&e, Side::Server, frame, ms),
            &response(6, "b.x", 1, 0, false, &[[1, 2, 3, 4]]),
        );
    }
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert!(!recs[0].unsolicited);
    assert_eq!(t.stats().unmatched_responses, 2);
}

/// NetBIOS-NS: first-level encoding of a name and its suffix.
fn nb_name(n: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    raw[..n.len()].copy_from_slice(n.as_bytes());
    raw[15] = suffix;
    let mut out = vec![32u8];
    for b in raw {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    out.push(0);
    out
}

#[test]
fn nbns_broadcast_query_and_answer_are_one_lookup() {
    let mut t = tracker();
    let ask = ep(1, "10.0.0.5:137", "10.0.0.255:137");
    let mut q = header(0x7001, 0x0110, 1, 0);
    q.extend_from_slice(&nb_name("FILESRV", 0x20));
    q.extend_from_slice(&[0, 0x20, 0, 1]);
    t.on_datagram(&ask, at(&ask, Side::Client, 1, 0), &q);
    let back = ep(2, "10.0.0.20:137", "10.0.0.5:137");
    let mut a = header(0x7001, 0x8500, 0, 1);
    a.extend_from_slice(&nb_name("FILESRV", 0x20));
    a.extend_from_slice(&[0, 0x20, 0, 1, 0, 0, 0x0e, 0x10, 0, 6, 0x60, 0, 10, 0, 0, 20]);
    t.on_datagram(&back, at(&back, Side::Client, 2, 1), &a);
    let recs = drain(&mut t);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    let r = &recs[0];
    assert_eq!(r.protocol, DnsProtocol::Nbns);
    assert_eq!(
        (r.qname.as_str(), r.qtype.as_str(), r.netbios_suffix),
        ("FILESRV", "NB", Some(0x20))
    );
    assert_eq!(r.rcode.as_deref(), Some("NOERROR"));
    assert_eq!(r.server, sa("10.0.0.20:137"));
    assert_eq!(
        r.answers,
        vec![DnsAnswer::Record {
            name: "FILESRV<20>".into(),
            rtype: "NB".into(),
            ttl: 3600,
            data: "10.0.0.20 unique H-node".into()
        }]
    );
    assert_eq!(r.addresses(), [IpAddr::from([10, 0, 0, 20])]);
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["protocol"], "nbns");
    assert_eq!(json["netbios_suffix"], 32);
    assert!(is_nbns_port(137) && !is_dns_port(137));
}

proptest! {
    #[test]
    fn new_parsers_never_panic_and_stay_printable(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        prefix in 0usize..3,
    ) {
        // Half the time behind a valid response header and question, so the
        // record sections, not only the header checks, see the noise.
        let bytes = match prefix {
            0 => bytes,
            _ => {
                let mut m = header(1, 0x8180, 1, 4);
                m.extend_from_slice(&wire_name("a.x"));
                m.extend_from_slice(&[0, 255, 0, 1]);
                m.extend_from_slice(&bytes);
                m
            }
        };
        let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
        for m in [wire::parse(&bytes, true), wire::parse(&bytes, false), nbns::parse(&bytes)]
            .into_iter()
            .flatten()
        {
            prop_assert!(printable(&m.qname) && printable(&m.qtype) && printable(&m.qclass));
            for a in m.answers.iter().chain(&m.authorities).chain(&m.additionals) {
                let json = serde_json::to_string(a).unwrap();
                prop_assert!(printable(&json), "{}", json);
            }
        }
        let mut t = tracker();
        for (c, s) in [("10.0.0.5:137", "10.0.0.255:137"), ("10.0.0.5:5353", "224.0.0.251:5353")] {
            let e = ep(1, c, s);
            t.on_datagram(&e, at(&e, Side::Client, 1, 0), &bytes);
            t.on_datagram(&e, at(&e, Side::Server, 2, 1), &bytes);
        }
        for r in drain(&mut t) {
            prop_assert!(printable(&r.qname));
            prop_assert!(serde_json::to_string(&r).is_ok());
        }
    }
}
