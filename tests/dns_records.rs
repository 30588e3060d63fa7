//! Issue 16, DNS records as complete as Zeek's and Suricata's, through the
//! real binary on a builder-made capture: a DNS lookup whose answer carries
//! MX, TXT and SRV records, an SOA in its authority section and EDNS in its
//! additional one (header flags AA, RD, RA, AD); an mDNS question answered by
//! another host on the group, and an announcement nobody asked for; a
//! NetBIOS-NS broadcast name query and its answer. Checked in `analyze
//! --jsonl` and in the `--zeek-logs` dns.log of the same run.

use std::collections::HashMap;
use std::str::FromStr;

use domain::base::iana::{Class, Rtype};
use domain::base::{MessageBuilder, Name, UnknownRecordData};
use serde_json::Value;

use crate::util::conv::{Conv, CLIENT};
use crate::util::{eth_udp, run, write_file};

const RESOLVER: [u8; 4] = [10, 1, 0, 53];
const PEER: [u8; 4] = [10, 1, 0, 9];
const MDNS: [u8; 4] = [224, 0, 0, 251];
const BROADCAST: [u8; 4] = [10, 1, 0, 255];

fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn rr(rtype: u16, data: Vec<u8>) -> UnknownRecordData<Vec<u8>> {
    UnknownRecordData::from_octets(Rtype::from_int(rtype), data).expect("short rdata")
}

/// The lookup's query: `example.org MX`, RD and AD set.
fn query() -> Vec<u8> {
    let mut b = MessageBuilder::new_vec();
    b.header_mut().set_id(0x1616);
    b.header_mut().set_rd(true);
    b.header_mut().set_ad(true);
    let mut q = b.question();
    q.push((
        Name::<Vec<u8>>::from_str("example.org.").unwrap(),
        Rtype::MX,
    ))
    .unwrap();
    q.finish()
}

/// Its answer: QR AA RD RA AD, MX + TXT + SRV, SOA in authority, OPT.
fn answer() -> Vec<u8> {
    let owner = Name::<Vec<u8>>::from_str("example.org.").unwrap();
    let mut b = MessageBuilder::new_vec();
    let h = b.header_mut();
    h.set_id(0x1616);
    h.set_qr(true);
    h.set_aa(true);
    h.set_rd(true);
    h.set_ra(true);
    h.set_ad(true);
    let mut q = b.question();
    q.push((&owner, Rtype::MX)).unwrap();
    let mut a = q.answer();
    let mx = [&[0u8, 10][..], &wire_name("mx1.example.org")].concat();
    a.push((&owner, 3600, rr(15, mx))).unwrap();
    a.push((&owner, 300, rr(16, b"\x0bv=spf1 -all".to_vec())))
        .unwrap();
    let srv = [
        &[0u8, 0, 0, 5, 0x14, 0x95][..],
        &wire_name("xmpp.example.org"),
    ]
    .concat();
    a.push((&owner, 120, rr(33, srv))).unwrap();
    let mut au = a.authority();
    let soa = [
        wire_name("ns.example.org"),
        wire_name("admin.example.org"),
        [7u32, 3600, 600, 86400, 60]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect(),
    ]
    .concat();
    au.push((&owner, 900, rr(6, soa))).unwrap();
    let mut ad = au.additional();
    let root = Name::<Vec<u8>>::from_str(".").unwrap();
    ad.push((root, Class::from_int(1232), 0u32, rr(41, Vec::new())))
        .unwrap();
    ad.finish()
}

/// An mDNS message: a question (QU bit set) or an answer (id 0, no
/// question, A with the cache-flush bit).
fn mdns_question(name: &str) -> Vec<u8> {
    let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&wire_name(name));
    m.extend_from_slice(&[0, 1, 0x80, 1]);
    m
}

fn mdns_answer(name: &str, addr: [u8; 4]) -> Vec<u8> {
    let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(&wire_name(name));
    m.extend_from_slice(&[0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4]);
    m.extend_from_slice(&addr);
    m
}

/// A NetBIOS name in first-level encoding.
fn nb_name(name: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    raw[..name.len()].copy_from_slice(name.as_bytes());
    raw[15] = suffix;
    let mut out = vec![32u8];
    for b in raw {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    out.push(0);
    out
}

fn capture() -> Vec<u8> {
    let mut conv = Conv::new(40000, 53);
    conv.at(0.000)
        .raw(eth_udp(CLIENT, 53001, RESOLVER, 53, &query()));
    conv.at(0.004)
        .raw(eth_udp(RESOLVER, 53, CLIENT, 53001, &answer()));
    conv.at(0.100).raw(eth_udp(
        CLIENT,
        5353,
        MDNS,
        5353,
        &mdns_question("printer.local"),
    ));
    conv.at(0.103).raw(eth_udp(
        PEER,
        5353,
        MDNS,
        5353,
        &mdns_answer("printer.local", PEER),
    ));
    conv.at(0.200).raw(eth_udp(
        PEER,
        5353,
        MDNS,
        5353,
        &mdns_answer("scanner.local", PEER),
    ));
    let mut nq = vec![0x70, 0x01, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0];
    nq.extend_from_slice(&nb_name("FILESRV", 0x20));
    nq.extend_from_slice(&[0, 0x20, 0, 1]);
    conv.at(0.300)
        .raw(eth_udp(CLIENT, 137, BROADCAST, 137, &nq));
    let mut na = vec![0x70, 0x01, 0x85, 0x00, 0, 0, 0, 1, 0, 0, 0, 0];
    na.extend_from_slice(&nb_name("FILESRV", 0x20));
    na.extend_from_slice(&[0, 0x20, 0, 1, 0, 0, 0x0e, 0x10, 0, 6, 0x60, 0]);
    na.extend_from_slice(&PEER);
    conv.at(0.301).raw(eth_udp(PEER, 137, CLIENT, 137, &na));
    conv.pcap()
}

/// dns.log's rows as field → value maps.
fn dns_log(dir: &std::path::Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("dns.log")).expect("dns.log");
    let fields: Vec<String> = text
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .expect("#fields")
        .split('\t')
        .map(str::to_string)
        .collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            fields
                .iter()
                .cloned()
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn dns_records_carry_flags_rendered_answers_mdns_and_nbns() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = write_file(dir.path(), "records.pcap", &capture());
    let logs = dir.path().join("zeek");
    let (code, out, err) = run(&[
        "analyze",
        "--jsonl",
        "--zeek-logs",
        logs.to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    let dns: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "dns")
        .collect();
    assert_eq!(dns.len(), 4, "{dns:#?}");

    // The lookup: flags, and every answer rendered with its TTL.
    let d = &dns[0];
    assert_eq!(d["protocol"], "dns");
    assert_eq!(d["query_flags"], "0120");
    assert_eq!(d["response_flags"], "85a0");
    let bits: Vec<&Value> = ["aa", "tc", "rd", "ra", "z", "ad", "cd"]
        .iter()
        .map(|f| &d[*f])
        .collect();
    assert_eq!(bits, [true, false, true, true, false, true, false]);
    let answers = d["answers"].as_array().unwrap();
    let rendered: Vec<(&str, &str, u64)> = answers
        .iter()
        .map(|a| {
            (
                a["type"].as_str().unwrap(),
                a["data"].as_str().unwrap(),
                a["ttl"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rendered,
        [
            ("MX", "mx1.example.org", 3600),
            ("TXT", "TXT 11 v=spf1 -all", 300),
            ("SRV", "xmpp.example.org", 120),
        ]
    );
    assert_eq!(answers[0]["rdata"], "10 mx1.example.org");
    assert_eq!(answers[2]["rdata"], "0 5 5269 xmpp.example.org");
    assert_eq!(d["authorities"][0]["type"], "SOA");
    assert_eq!(d["authorities"][0]["data"], "ns.example.org");
    assert_eq!(d["additionals"][0]["type"], "OPT");
    assert_eq!(d["additionals"][0]["data"], "EDNS0 udp=1232");

    // mDNS: the question answered by the peer on the group; the
    // announcement recorded on its own.
    let m = &dns[1];
    assert_eq!(m["protocol"], "mdns");
    assert_eq!(m["qname"], "printer.local");
    assert_eq!(m["server"], "10.1.0.9:5353");
    assert_eq!(m["unicast_response"], true);
    assert_eq!(m["cache_flush"], true);
    assert_eq!(m["answers"][0]["data"], "10.1.0.9");
    assert_eq!(m["timed_out"], false);
    let a = &dns[2];
    assert_eq!(
        (&a["unsolicited"], &a["qname"], &a["query_flags"]),
        (
            &Value::from(true),
            &Value::from("scanner.local"),
            &Value::Null
        )
    );

    // NetBIOS-NS: decoded name, suffix, rcode, NB answer.
    let n = &dns[3];
    assert_eq!(n["protocol"], "nbns");
    assert_eq!(n["qname"], "FILESRV");
    assert_eq!(n["qtype"], "NB");
    assert_eq!(n["netbios_suffix"], 0x20);
    assert_eq!(n["rcode"], "NOERROR");
    assert_eq!(n["server"], "10.1.0.9:137");
    assert_eq!(n["answers"][0]["data"], "10.1.0.9 unique H-node");

    // dns.log: the same rows, Zeek's way.
    let rows = dns_log(&logs);
    assert_eq!(rows.len(), 4);
    let z = &rows[0];
    let cols = |r: &HashMap<String, String>, names: &[&str]| -> Vec<String> {
        names.iter().map(|n| r[*n].clone()).collect()
    };
    assert_eq!(
        cols(z, &["AA", "TC", "RD", "RA", "Z", "rejected"]),
        ["T", "F", "T", "T", "2", "F"]
    );
    assert_eq!(
        cols(z, &["qclass", "qclass_name", "qtype_name"]),
        ["1", "C_INTERNET", "MX"]
    );
    assert_eq!(
        z["answers"],
        "mx1.example.org,TXT 11 v=spf1 -all,xmpp.example.org"
    );
    assert_eq!(z["TTLs"], "3600.000000,300.000000,120.000000");
    let m = &rows[1];
    assert_eq!(
        cols(m, &["qclass", "qclass_name"]),
        ["32769", "qclass-32769"]
    );
    assert_eq!(m["answers"], "10.1.0.9");
    let u = &rows[2];
    assert_eq!(
        cols(u, &["query", "qtype", "answers"]),
        ["scanner.local", "-", "10.1.0.9"]
    );
    let n = &rows[3];
    assert_eq!(
        cols(n, &["query", "qtype", "qtype_name", "Z", "answers"]),
        ["FILESRV", "32", "NIMLOC", "1", "-"]
    );
}
