//! Issue 16, connections: Zeek's `service`, history and state of UDP and ICMP
//! flows, the roles flip (`^`), bytes from sequence numbers next to the
//! payload seen, and IP-layer bytes, in the JSON records and in conn.log.

use serde_json::Value;

use crate::util::conv::{Conv, CLIENT, SERVER};
use crate::util::live::{dns_query, dns_response};
use crate::util::zeek::{read_log, write_logs};
use crate::util::{analyze_pcap, eth_udp, write_file};

const RESOLVER: [u8; 4] = [10, 1, 0, 53];
const REQUEST: &[u8] = b"GET /a HTTP/1.1\r\nHost: api.example\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// Ethernet + IPv4 + ICMP echo (`reply` false: the request), 32 bytes of data.
fn ping(src: [u8; 4], dst: [u8; 4], reply: bool, seq: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64);
    let b = if reply {
        b.icmpv4_echo_reply(7, seq)
    } else {
        b.icmpv4_echo_request(7, seq)
    };
    b.write(&mut out, &[0x61; 32]).expect("build ping");
    out
}

/// A capture with one of each: a DNS lookup and its answer; an answer whose
/// query the capture missed (sent from port 53: the flow engine flips the
/// roles); two pings and their replies; an HTTP call; a connection seen
/// mid-stream from the server's port; and a client whose second segment the
/// capture lost.
fn capture() -> Vec<u8> {
    let mut conv = Conv::new(40010, 80);
    let q = dns_query(0x1111, "api.example", 1);
    conv.at(0.0).raw(eth_udp(CLIENT, 53010, RESOLVER, 53, &q));
    let a = dns_response(&q, 0, false, &["10.1.0.2".parse().expect("addr")]);
    conv.at(0.002).raw(eth_udp(RESOLVER, 53, CLIENT, 53010, &a));
    let lone = dns_query(0x2222, "late.example", 1);
    let lone_answer = dns_response(&lone, 0, false, &[]);
    conv.at(0.003)
        .raw(eth_udp(RESOLVER, 53, CLIENT, 53011, &lone_answer));
    for (i, t) in [(1u16, 0.004), (2, 0.005)] {
        conv.at(t).raw(ping(CLIENT, SERVER, false, i));
        conv.at(t + 0.0003).raw(ping(SERVER, CLIENT, true, i));
    }
    conv.at(0.010).handshake(0.001);
    conv.at(0.012).c("P.", REQUEST);
    conv.at(0.020).s("P.", RESPONSE);
    conv.at(0.021).c("F.", &[]).s("F.", &[]).c(".", &[]);

    // Mid-stream: the server (port 443) speaks first, no handshake seen.
    conv.client.port = 40011;
    conv.server.port = 443;
    conv.at(0.030).s("P.", &[0x17, 3, 3, 0, 2, 0, 0]);
    conv.at(0.031).c(".", &[]);

    // The capture lost the client's second 100-byte segment.
    conv.client.port = 40012;
    conv.server.port = 9000;
    conv.at(0.040).handshake(0.001);
    let start = conv.client.seq;
    conv.at(0.042).c_at_seq(start, "P.", &[b'x'; 100]);
    conv.at(0.043).c_at_seq(start + 200, "P.", &[b'z'; 100]);
    conv.at(0.044).s_ack(start + 300, ".");
    conv.pcap()
}

fn connections(records: &[Value]) -> Vec<&Value> {
    records
        .iter()
        .filter(|r| r["type"] == "connection")
        .collect()
}

/// The connection whose client or server endpoint ends in `:port`.
fn by_port<'a>(conns: &[&'a Value], port: u16) -> &'a Value {
    let suffix = format!(":{port}");
    conns
        .iter()
        .find(|c| {
            c["client"].as_str().is_some_and(|a| a.ends_with(&suffix))
                || c["server"].as_str().is_some_and(|a| a.ends_with(&suffix))
        })
        .copied()
        .unwrap_or_else(|| panic!("no connection on port {port}: {conns:#?}"))
}

#[test]
fn service_names_the_protocols_seen() {
    let records = analyze_pcap(&capture(), &[]);
    let conns = connections(&records);
    assert_eq!(
        by_port(&conns, 53010)["service"],
        serde_json::json!(["dns"])
    );
    assert_eq!(
        by_port(&conns, 40010)["service"],
        serde_json::json!(["http"])
    );
    // Nothing recognised: no service at all (the TLS record header alone,
    // sent by the server mid-stream, is not a handshake).
    assert!(by_port(&conns, 40011).get("service").is_none());
    assert!(by_port(&conns, 40012).get("service").is_none());
}

#[test]
fn udp_flows_have_zeeks_history_and_state() {
    let records = analyze_pcap(&capture(), &[]);
    let conns = connections(&records);
    let lookup = by_port(&conns, 53010);
    assert_eq!(lookup["proto"], "udp");
    assert_eq!(
        (&lookup["history"], &lookup["state"]),
        (&"Dd".into(), &"SF".into())
    );
    // The answer alone: the client is the port-53011 side, which never
    // spoke; Zeek flips such a flow and writes SHR.
    let lone = by_port(&conns, 53011);
    assert_eq!(lone["client"], "10.1.0.1:53011");
    assert_eq!(
        (&lone["history"], &lone["state"]),
        (&"^d".into(), &"SHR".into())
    );
}

#[test]
fn pings_are_one_icmp_flow_paired_as_zeek_pairs_them() {
    let records = analyze_pcap(&capture(), &[]);
    let conns = connections(&records);
    let icmp: Vec<&&Value> = conns.iter().filter(|c| c["proto"] == "icmp").collect();
    assert_eq!(
        icmp.len(),
        1,
        "two echo requests and replies are one flow: {icmp:#?}"
    );
    let p = icmp[0];
    // Ports are the type and its counterpart: echo request 8, reply 0.
    assert_eq!(p["client"], "10.1.0.1:8");
    assert_eq!(p["server"], "10.1.0.2:0");
    assert_eq!(p["state"], "OTH");
    assert_eq!(
        (&p["client_packets"], &p["server_packets"]),
        (&2.into(), &2.into())
    );
    // What follows each 8-byte ICMP header: 32 bytes of data per message.
    assert_eq!(
        (&p["client_sent"], &p["server_sent"]),
        (&64.into(), &64.into())
    );
    // IPv4 header 20 + ICMP 8 + 32.
    assert_eq!(p["client_ip_bytes"], 120);
}

#[test]
fn a_flow_seen_first_from_the_server_port_starts_its_history_with_a_flip() {
    let records = analyze_pcap(&capture(), &[]);
    let conns = connections(&records);
    let c = by_port(&conns, 40011);
    assert_eq!(c["client"], "10.1.0.1:40011");
    let history = c["history"].as_str().expect("history");
    assert!(history.starts_with('^'), "{history}");
    // A connection seen from its SYN has no flip.
    let h = by_port(&conns, 40010)["history"].as_str().expect("history");
    assert!(!h.contains('^'), "{h}");
}

#[test]
fn bytes_sent_come_from_sequence_numbers_next_to_the_payload_seen() {
    let records = analyze_pcap(&capture(), &[]);
    let conns = connections(&records);
    let lossy = by_port(&conns, 40012);
    // 300 bytes sent (what the server acknowledged), 200 of them captured.
    assert_eq!(lossy["client_sent"], 300);
    assert_eq!(lossy["client_payload"], 200);
    let http = by_port(&conns, 40010);
    assert_eq!(http["client_sent"], REQUEST.len());
    assert_eq!(http["server_sent"], RESPONSE.len());
    // IP bytes: every packet's IP total length. The client sent SYN, ACK,
    // the request, FIN and the last ACK: five 40-byte headers (IPv4 + TCP
    // without options) and the request.
    assert_eq!(http["client_ip_bytes"], 5 * 40 + REQUEST.len());
}

#[test]
fn conn_log_fills_service_and_ip_bytes_and_has_icmp_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write_file(dir.path(), "c.pcap", &capture());
    let logs = write_logs(&pcap, dir.path());
    let rows = read_log(&logs, "conn");
    let row = |port: &str| {
        rows.iter()
            .find(|r| r["id.orig_p"] == port)
            .unwrap_or_else(|| panic!("no row for orig port {port}"))
    };
    assert_eq!(row("53010")["service"], "dns");
    assert_eq!(row("40010")["service"], "http");
    assert_eq!(row("40011")["service"], "-");
    let lookup = row("53010");
    // IPv4 20 + UDP 8 + the message.
    let q_len = dns_query(0x1111, "api.example", 1).len();
    assert_eq!(lookup["orig_ip_bytes"], (28 + q_len).to_string());
    let icmp = row("8");
    assert_eq!(icmp["proto"], "icmp");
    assert_eq!(icmp["id.resp_p"], "0");
    assert_eq!(icmp["conn_state"], "OTH");
    assert_eq!(icmp["orig_bytes"], "64");
    assert_eq!(icmp["history"], "-");
    assert_eq!(icmp["orig_pkts"], "2");
    assert_eq!(icmp["resp_ip_bytes"], "120");
    // dns.log: the answered lookup is timed at its answer record.
    let dns = std::fs::read_to_string(logs.join("dns.log")).expect("dns.log");
    let answered = dns
        .lines()
        .find(|l| l.contains("api.example"))
        .expect("the lookup's dns.log row");
    assert!(answered.split('\t').any(|f| f == "0.002000"), "{answered}");
}
