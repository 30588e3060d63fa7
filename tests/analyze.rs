//! `netsleuth analyze` on builder-made captures: each finding kind, the JSON
//! contract, exit codes, and the flow table's bookkeeping.

use serde_json::Value;

use crate::util::conv::{segment, Conv, End, CLIENT, SERVER};
use crate::util::{run, write_file};

/// Runs `analyze --jsonl` on a conversation; returns every record.
fn jsonl(conv: &Conv, extra: &[&str]) -> Vec<Value> {
    jsonl_of(&conv.pcap(), extra)
}

/// Runs `analyze --jsonl` on capture bytes; returns every record.
fn jsonl_of(pcap: &[u8], extra: &[&str]) -> Vec<Value> {
    crate::util::analyze_pcap(pcap, extra)
}

fn of_type<'a>(records: &'a [Value], t: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

fn finding<'a>(records: &'a [Value], kind: &str) -> &'a Value {
    of_type(records, "finding")
        .into_iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} finding in {records:#?}"))
}

fn kinds(records: &[Value]) -> Vec<String> {
    of_type(records, "finding")
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A healthy request/response: handshake, request, response, FIN both ways.
fn healthy(conv: &mut Conv) {
    conv.handshake(0.010);
    let t = conv.t;
    conv.at(t + 0.001)
        .c("P.", b"GET /v1/orders HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(t + 0.012).s(".", &[]);
    conv.at(t + 0.050)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    conv.at(t + 0.061).c(".", &[]);
    conv.at(t + 0.070).c("F.", &[]);
    conv.at(t + 0.080).s("F.", &[]);
    conv.at(t + 0.081).c(".", &[]);
}

#[test]
fn healthy_connection_has_no_findings_and_exits_0() {
    let mut conv = Conv::new(40000, 443);
    healthy(&mut conv);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "ok.pcap", &conv.pcap());
    let (code, out, err) = run(&["analyze", "--fail-on", "warning", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No problems found."), "{out}");
    assert!(out.contains("10.1.0.1:40000 -> 10.1.0.2:443"), "{out}");
    assert!(out.contains("FIN (client first)"), "{out}");

    let records = jsonl(&conv, &[]);
    let conns = of_type(&records, "connection");
    assert_eq!(conns.len(), 1);
    let c = conns[0];
    assert_eq!(c["client"], "10.1.0.1:40000");
    assert_eq!(c["server"], "10.1.0.2:443");
    assert_eq!(c["client_packets"], 6);
    assert_eq!(c["server_packets"], 4);
    assert_eq!(c["end"]["how"], "fin");
    assert_eq!(c["state"], "SF");
    assert_eq!(c["history"], "ShADadFf");
    assert_eq!(c["handshake"]["syn_to_syn_ack_ms"], 10.0);
    // Client data is ACKed 11 ms later (capture point to server and back); server
    // data 11 ms later (to the client and back). The path RTT comes from the
    // handshake: 10 ms to the server and back, 0.1 ms to the client and back.
    assert_eq!(c["rtt"]["client_data"]["median_ms"], 11.0, "{c}");
    assert_eq!(c["rtt"]["server_data"]["median_ms"], 11.0, "{c}");
    assert_eq!(c["rtt"]["path_median_ms"], 10.1, "{c}");
    assert!(kinds(&records).is_empty(), "{records:#?}");
    let summary = of_type(&records, "summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["connections"], 1);
}

#[test]
fn refused_connection_is_an_error_and_fail_on_exits_1() {
    let mut conv = Conv::new(40001, 8443);
    conv.c("S", &[]).at(0.0002).s_ack(1001, "R.");
    let records = jsonl(&conv, &[]);
    let f = finding(&records, "tcp.connect_refused");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["frames"], serde_json::json!([1, 2]));
    assert_eq!(f["server"], "10.1.0.2:8443");
    let conn_id = f["conn"].clone();
    let c = of_type(&records, "connection")[0];
    assert_eq!(c["id"], conn_id);
    assert_eq!(
        (c["state"].as_str(), c["history"].as_str()),
        (Some("REJ"), Some("Sr"))
    );

    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "rej.pcap", &conv.pcap());
    let (code, out, _) = run(&["analyze", "--fail-on", "error", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ERROR tcp.connect_refused"), "{out}");
    assert!(out.contains("evidence: frames 1-2"), "{out}");
    let (code, _, _) = run(&["analyze", path.to_str().unwrap()]);
    assert_eq!(code, 0, "without --fail-on the exit code stays 0");
}

#[test]
fn unanswered_syns_are_a_connect_timeout_with_the_backoff() {
    let mut conv = Conv::new(40002, 443);
    for t in [0.0, 1.0, 3.0, 7.0] {
        let seq = conv.client.seq;
        conv.at(t).c_at_seq(seq, "S", &[]);
    }
    let records = jsonl(&conv, &[]);
    let f = finding(&records, "tcp.connect_timeout");
    assert_eq!(f["severity"], "error");
    let summary = f["summary"].as_str().unwrap();
    assert!(summary.contains("4 times over 7.00 s"), "{summary}");
    assert!(
        summary.contains("back-off 1.00 s, 2.00 s, 4.00 s"),
        "{summary}"
    );
    assert_eq!(f["frames"], serde_json::json!([1, 2, 3, 4]));
    let c = of_type(&records, "connection")[0];
    assert_eq!(c["syn_count"], 4);
    assert_eq!(c["state"], "S0");
    assert_eq!(c["tcp_analysis"]["client"]["retransmission"], 3);
}

#[test]
fn icmp_unreachable_is_matched_to_its_connection() {
    let mut conv = Conv::new(40003, 443);
    conv.c("S", &[]);
    // A router answers with host unreachable, quoting the SYN's IP header + 8 bytes.
    let syn = segment(&conv.client, &conv.server, 1000, 0, "S", &[]);
    let quoted = &syn[14..14 + 28];
    let mut icmp = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        .ipv4([10, 1, 0, 254], CLIENT, 64)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Host,
        ))
        .write(&mut icmp, quoted)
        .unwrap();
    conv.at(0.003).raw(icmp);
    let records = jsonl(&conv, &[]);
    let f = finding(&records, "tcp.icmp_unreachable");
    assert_eq!(f["severity"], "error");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("host unreachable from 10.1.0.254"),
        "{f}"
    );
    assert_eq!(f["frames"], serde_json::json!([1, 2]));
    assert!(
        !kinds(&records).contains(&"tcp.connect_timeout".to_string()),
        "the ICMP error explains it"
    );
}

#[test]
fn server_reset_with_a_request_outstanding() {
    let mut conv = Conv::new(40004, 443);
    conv.handshake(0.001);
    conv.at(0.01).c("P.", b"POST /v1/pay HTTP/1.1\r\n\r\n");
    conv.at(0.5).s("R.", &[]);
    let records = jsonl(&conv, &[]);
    let f = finding(&records, "tcp.reset_by_server");
    assert_eq!(f["severity"], "error");
    let s = f["summary"].as_str().unwrap();
    assert!(s.contains("while the client waited for an answer"), "{s}");
    assert_eq!(f["frames"], serde_json::json!([4, 5]));
    let c = of_type(&records, "connection")[0];
    assert_eq!(c["end"]["how"], "reset");
    assert_eq!(c["end"]["by"], "server");
    assert_eq!(c["state"], "RSTR");
}

#[test]
fn reset_after_long_idle_is_the_middlebox_timeout_pattern() {
    let mut conv = Conv::new(40005, 443);
    healthy_request_only(&mut conv);
    conv.at(400.0).s("R.", &[]);
    let records = jsonl(&conv, &[]);
    let f = finding(&records, "tcp.idle_then_reset");
    assert!(f["summary"].as_str().unwrap().contains("after 399."), "{f}");
    assert!(!kinds(&records).contains(&"tcp.reset_by_server".to_string()));
}

fn healthy_request_only(conv: &mut Conv) {
    conv.handshake(0.001);
    conv.at(0.01).c("P.", b"GET / HTTP/1.1\r\n\r\n");
    conv.at(0.02).s("P.", b"HTTP/1.1 204 No Content\r\n\r\n");
    conv.at(0.03).c(".", &[]);
}

#[test]
fn reset_with_another_ttl_is_from_a_middlebox() {
    let mut conv = Conv::new(40006, 443);
    healthy_request_only(&mut conv);
    let mut forged: End = conv.server;
    forged.ttl = 250;
    let rst = segment(
        &forged,
        &conv.client,
        conv.server.seq,
        conv.client.seq,
        "R.",
        &[],
    );
    conv.at(5.0).raw(rst);
    let records = jsonl(&conv, &[]);
    let f = finding(&records, "tcp.reset_by_middlebox");
    assert!(f["summary"].as_str().unwrap().contains("TTL 250"), "{f}");
}

#[test]
fn zero_window_from_a_slow_reader() {
    let mut conv = Conv::new(40007, 443);
    conv.handshake(0.001);
    conv.at(0.01).c("P.", &[7; 1000]);
    conv.server.window = 0;
    let acked = conv.client.seq;
    conv.at(0.02).s_ack(acked, ".");
    let records = jsonl(&conv, &["--tcp-events"]);
    let f = finding(&records, "tcp.zero_window");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("server advertised a zero receive window 1 times"),
        "{f}"
    );
    let events = of_type(&records, "tcp_event");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "zero_window" && e["frame"] == 5 && e["side"] == "server"),
        "{events:?}"
    );
}

#[test]
fn retransmissions_are_counted_and_located() {
    let mut conv = Conv::new(40008, 80);
    conv.handshake(0.001);
    let mut t = 0.01;
    // 20 segments of which 4 are sent twice 200 ms later (captured both times:
    // lost after the capture point).
    for i in 0..20 {
        let seq = conv.client.seq;
        conv.at(t).c("P.", &[i as u8; 100]);
        if i % 5 == 0 {
            conv.at(t + 0.2).c_at_seq(seq, "P.", &[i as u8; 100]);
        }
        t += 0.3;
        let acked = conv.client.seq;
        conv.at(t - 0.05).s_ack(acked, ".");
    }
    let records = jsonl(&conv, &["--tcp-events"]);
    let f = finding(&records, "tcp.retransmissions");
    let s = f["summary"].as_str().unwrap();
    assert!(s.contains("4 of 24 data segments from the client"), "{s}");
    assert!(s.contains("lost after the capture point"), "{s}");
    let c = of_type(&records, "connection")[0];
    assert_eq!(c["loss"]["client"]["downstream"], 4, "{c}");
    let events: Vec<_> = of_type(&records, "tcp_event")
        .into_iter()
        .filter(|e| e["kind"] == "retransmission")
        .map(|e| e["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(events.len(), 4, "{events:?}");
}

#[test]
fn hole_filled_later_is_loss_before_the_capture_point() {
    let mut conv = Conv::new(40009, 80);
    conv.handshake(0.001);
    let mut t = 0.01;
    let mut holes = Vec::new();
    for i in 0..10 {
        let seq = conv.client.seq;
        if i % 3 == 1 {
            // Never captured: the sender's copy was lost upstream.
            conv.client.seq += 100;
            holes.push((seq, t));
        } else {
            conv.at(t).c("P.", &[1; 100]);
        }
        t += 0.01;
    }
    for (seq, _) in &holes {
        t += 0.2;
        conv.at(t).c_at_seq(*seq, "P.", &[1; 100]);
    }
    let records = jsonl(&conv, &[]);
    let c = of_type(&records, "connection")[0];
    assert_eq!(c["loss"]["client"]["upstream"], 3, "{c}");
    assert_eq!(c["tcp_analysis"]["client"]["lost_segment"], 3, "{c}");
    let f = finding(&records, "tcp.retransmissions");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("lost before the capture point"),
        "{f}"
    );
}

#[test]
fn port_reuse_starts_a_new_connection() {
    let mut conv = Conv::new(40010, 443);
    healthy(&mut conv);
    conv.client.seq += 50_000;
    conv.at(30.0);
    healthy(&mut conv);
    let records = jsonl(&conv, &[]);
    let conns = of_type(&records, "connection");
    assert_eq!(conns.len(), 2, "{conns:#?}");
    assert_eq!(conns[0]["frames"], serde_json::json!([1, 10]));
    assert_eq!(conns[1]["frames"], serde_json::json!([11, 20]));
}

#[test]
fn flow_cap_evicts_and_says_so() {
    // Two overlapping connections through a table that holds one.
    let mut first = Conv::new(40011, 443);
    first.handshake(0.001);
    let mut second = Conv::new(40012, 443);
    second.at(0.5).handshake(0.001);
    first
        .at(1.0)
        .c("P.", b"late data on the evicted connection");
    let dir = tempfile::tempdir().unwrap();
    let a = write_file(dir.path(), "a.pcap", &first.pcap());
    let b = write_file(dir.path(), "b.pcap", &second.pcap());
    let (code, out, err) = run(&[
        "analyze",
        "--max-flows",
        "1",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("connections were evicted: more than 1 were open at once"),
        "{out}"
    );
    let (_, out, _) = run(&[
        "analyze",
        "--jsonl",
        "--max-flows",
        "1",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = of_type(&records, "summary")[0];
    assert_eq!(summary["flows_evicted"], 1, "{summary}");
    assert_eq!(summary["peak_open_flows"], 1, "{summary}");
    let ends: Vec<&Value> = of_type(&records, "connection")
        .iter()
        .map(|c| &c["end"]["how"])
        .collect();
    assert!(ends.contains(&&Value::from("evicted")), "{ends:?}");
    // Frame numbers continue across files.
    assert_eq!(
        of_type(&records, "connection").last().unwrap()["frames"][1],
        7
    );
}

#[test]
fn json_document_holds_connections_findings_and_summary() {
    let mut conv = Conv::new(40013, 8443);
    conv.c("S", &[]).at(0.0002).s_ack(1001, "R.");
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "rej.pcap", &conv.pcap());
    let (code, out, err) = run(&["analyze", "--json", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["connections"].as_array().unwrap().len(), 1);
    assert_eq!(doc["findings"][0]["kind"], "tcp.connect_refused");
    assert_eq!(doc["findings"][0]["client"], "10.1.0.1:40013");
    assert_eq!(doc["summary"]["errors"], 1);
    let _ = SERVER;
}

#[test]
fn files_then_filter_words() {
    let mut conv = Conv::new(40014, 443);
    healthy(&mut conv);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "f.pcap", &conv.pcap());
    let (code, out, err) = run(&["analyze", path.to_str().unwrap(), "tcp", "port", "9"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 connections"), "{out}");
    let (code, _, err) = run(&["analyze", "/no/such.pcap", "tcp"]);
    assert_eq!(code, 2);
    assert!(err.contains("/no/such.pcap"), "{err}");
}

#[test]
fn slow_path_is_high_rtt_and_varying_rtt_is_jitter() {
    let mut conv = Conv::new(40020, 443);
    conv.handshake(0.300);
    let mut t = 1.0;
    // Round trips alternating 40 ms and 160 ms: median 100 ms-ish, jitter 120 ms.
    for i in 0..12 {
        conv.at(t).c("P.", &[1; 200]);
        let rtt = if i % 2 == 0 { 0.040 } else { 0.160 };
        let acked = conv.client.seq;
        conv.at(t + rtt).s_ack(acked, ".");
        t += 0.5;
    }
    let records = jsonl(&conv, &[]);
    let c = of_type(&records, "connection")[0];
    let client_data = &c["rtt"]["client_data"];
    assert_eq!(client_data["samples"], 12, "{c}");
    assert_eq!(client_data["min_ms"], 40.0);
    assert_eq!(client_data["max_ms"], 160.0);
    assert_eq!(client_data["jitter_ms"], 120.0);
    let f = finding(&records, "tcp.jitter");
    assert!(
        f["summary"].as_str().unwrap().contains("jitter 120.0 ms"),
        "{f}"
    );
    // A steady 300 ms path.
    let mut slow = Conv::new(40021, 443);
    slow.handshake(0.300);
    let mut t = 1.0;
    for _ in 0..5 {
        slow.at(t).c("P.", &[1; 200]);
        let acked = slow.client.seq;
        slow.at(t + 0.3).s_ack(acked, ".");
        t += 1.0;
    }
    let records = jsonl(&slow, &[]);
    let f = finding(&records, "tcp.high_rtt");
    assert!(
        f["summary"].as_str().unwrap().contains("high: 300.1 ms"),
        "{f}"
    );
    assert!(!kinds(&records).contains(&"tcp.jitter".to_string()));
}

#[test]
fn client_abort_is_reset_by_client() {
    let mut conv = Conv::new(40022, 443);
    healthy_request_only(&mut conv);
    conv.at(2.0).c("R.", &[]);
    let records = jsonl(&conv, &[]);
    let f = finding(&records, "tcp.reset_by_client");
    assert_eq!(f["severity"], "warning", "nothing was outstanding: {f}");
    let c = of_type(&records, "connection")[0];
    assert_eq!(c["state"], "RSTO");
    assert_eq!(c["end"]["by"], "client");
}

#[test]
fn midstream_capture_decides_roles_by_port() {
    let mut conv = Conv::new(40023, 443);
    // The capture starts after the handshake, with the server speaking first.
    conv.at(0.0).s("P.", b"HTTP/1.1 200 OK\r\n\r\n");
    conv.at(0.01).c(".", &[]);
    let records = jsonl(&conv, &[]);
    let c = of_type(&records, "connection")[0];
    assert_eq!(c["client"], "10.1.0.1:40023", "{c}");
    assert_eq!(c["roles"], "ports");
    assert_eq!(c["state"], "OTH");
}

#[test]
fn udp_flows_and_vlans_and_ipv6_are_separate_connections() {
    use crate::util::capture_builder::PcapBuilder;
    let mut frames = Vec::new();
    let mut udp = Vec::new();
    etherparse::PacketBuilder::ethernet2([2; 6], [3; 6])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 53], 64)
        .udp(5353, 53)
        .write(&mut udp, b"query")
        .unwrap();
    frames.push(udp.clone());
    let mut reply = Vec::new();
    etherparse::PacketBuilder::ethernet2([3; 6], [2; 6])
        .ipv4([10, 0, 0, 53], [10, 0, 0, 1], 64)
        .udp(53, 5353)
        .write(&mut reply, b"answer")
        .unwrap();
    frames.push(reply);
    // The same datagram on VLAN 7: another flow.
    let mut tagged = udp[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    tagged.extend_from_slice(&udp[12..]);
    frames.push(tagged);
    let mut v6 = Vec::new();
    etherparse::PacketBuilder::ethernet2([2; 6], [3; 6])
        .ipv6(
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .tcp(40000, 443, 7, 1000)
        .syn()
        .write(&mut v6, &[])
        .unwrap();
    frames.push(v6);
    let mut b = PcapBuilder::new(1, 65_535, false, false);
    for (i, f) in frames.iter().enumerate() {
        b.packet(1_764_166_000, i as u32 * 1000, f.len() as u32, f);
    }
    let records = jsonl_of(&b.bytes(), &[]);
    let conns = of_type(&records, "connection");
    assert_eq!(conns.len(), 3, "{conns:#?}");
    let dns = conns
        .iter()
        .find(|c| c["server"] == "10.0.0.53:53" && c.get("vlan").is_none())
        .unwrap();
    assert_eq!(
        (dns["proto"].as_str(), dns["state"].as_str()),
        (Some("udp"), Some("SF"))
    );
    assert_eq!(
        (
            dns["client_packets"].as_u64(),
            dns["server_packets"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let tagged = conns.iter().find(|c| c["vlan"] == 7).unwrap();
    assert_eq!(tagged["state"], "S0");
    let v6 = conns.iter().find(|c| c["proto"] == "tcp").unwrap();
    assert_eq!(v6["server"], "[fd00::2]:443");
}

#[test]
fn data_overtaken_by_its_fin_is_reordering_not_loss() {
    let mut conv = Conv::new(40030, 80);
    conv.handshake(0.001);
    let start = conv.client.seq;
    // The FIN is captured before the last 10 data segments (reordering on a
    // multi-queue path); the data follows within microseconds, no ACK between.
    let fin_seq = start + 20 * 100;
    conv.at(0.01);
    for i in 0..10u32 {
        conv.c_at_seq(start + i * 100, "P.", &[1; 100]);
    }
    conv.at(0.0101).c_at_seq(fin_seq, "F.", &[]);
    for i in 10..20u32 {
        conv.at(0.0101 + f64::from(i) * 0.000_001)
            .c_at_seq(start + i * 100, "P.", &[1; 100]);
    }
    let records = jsonl(&conv, &["--tcp-events"]);
    let c = of_type(&records, "connection")[0];
    assert_eq!(c["loss"]["client"]["reordered"], 10, "{c}");
    assert_eq!(c["loss"]["client"]["upstream"], 0, "{c}");
    assert!(
        !kinds(&records).contains(&"tcp.retransmissions".to_string()),
        "{records:#?}"
    );
    // Wireshark's flags are kept as they are: the late data is flagged.
    assert!(of_type(&records, "tcp_event")
        .iter()
        .any(|e| e["kind"] == "lost_segment"));
}

#[test]
fn incomplete_evidence_is_reported() {
    use crate::util::capture_builder::PcapBuilder;
    let mut conv = Conv::new(40031, 80);
    healthy(&mut conv);
    // Re-pack the same frames with a 60-byte snap length, plus one broken frame.
    let mut b = PcapBuilder::new(1, 60, false, false);
    let full = conv.pcap();
    let mut offset = 24;
    let mut i = 0u32;
    while offset + 16 <= full.len() {
        let caplen = u32::from_le_bytes(full[offset + 8..offset + 12].try_into().unwrap()) as usize;
        let data = &full[offset + 16..offset + 16 + caplen];
        let cut = data.len().min(60);
        b.record(
            1_764_166_000,
            i,
            cut as u32,
            data.len() as u32,
            &data[..cut],
        );
        offset += 16 + caplen;
        i += 1;
    }
    let mut bad = vec![0u8; 14];
    bad[12] = 0x08; // IPv4 ethertype, then an IP header with version 7
    bad.extend_from_slice(&[
        0x75, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    b.packet(1_764_166_001, 0, bad.len() as u32, &bad);
    let records = jsonl_of(&b.bytes(), &[]);
    let truncated = finding(&records, "capture.truncated");
    assert_eq!(truncated["severity"], "info");
    assert!(
        truncated["summary"]
            .as_str()
            .unwrap()
            .starts_with("2 of 11 frames"),
        "{truncated}"
    );
    assert_eq!(
        truncated["frames"],
        serde_json::json!([4, 6]),
        "the request and the response"
    );
    let malformed = finding(&records, "capture.malformed");
    assert_eq!(malformed["frames"], serde_json::json!([11]));
}
