//! Production verdicts on builder-made captures with exact timing: resent
//! SYNs and SYN-ACKs, dead pooled connections (RST, middlebox, gap
//! threshold), the transfer that ends when its last hole fills, resend rates
//! over data segments, and a resent first segment. The same faults made for
//! real by real clients are in `live_pool.rs`.

use serde_json::Value;

use crate::util::analyze_pcap;
use crate::util::conv::{segment, Conv, End};
use crate::util::live::{findings, of_type};

fn jsonl(conv: &Conv, extra: &[&str]) -> Vec<Value> {
    analyze_pcap(&conv.pcap(), extra)
}

fn kinds(records: &[Value]) -> Vec<String> {
    of_type(records, "finding")
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

fn summary(f: &Value) -> &str {
    f["summary"].as_str().unwrap()
}

/// A server SYN-ACK sent again (the server's ISN, acknowledging the client's SYN).
fn syn_ack_again(conv: &mut Conv) {
    let mut server: End = conv.server;
    server.seq = 900_000;
    let f = segment(&server, &conv.client, 900_000, 1_001, "S.", &[]);
    conv.raw(f);
}

/// A pooled connection's first call: handshake, GET /v1/a answered 200 at
/// 20 ms, the client's ACK at 21 ms; the connection then stays open.
fn first_call(conv: &mut Conv) {
    conv.handshake(0.002);
    conv.at(0.01)
        .c("P.", b"GET /v1/a HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(0.02)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    conv.at(0.021).c(".", &[]);
}

/// A GET and its 200 after the handshake, then FINs.
fn get_and_answer(conv: &mut Conv) {
    let t = conv.t;
    conv.at(t + 0.001)
        .c("P.", b"GET /v1/orders HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(t + 0.030)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    conv.at(t + 0.031).c(".", &[]);
    conv.at(t + 0.040).c("F.", &[]);
    conv.at(t + 0.050).s("F.", &[]);
    conv.at(t + 0.051).c(".", &[]);
}

#[test]
fn a_lost_first_syn_is_inside_the_connect_phase() {
    let mut conv = Conv::new(41000, 80);
    conv.at(0.0).c("S", &[]);
    conv.at(1.0).c_at_seq(1_000, "S", &[]);
    conv.at(1.011).s("S.", &[]);
    conv.at(1.0111).c(".", &[]);
    get_and_answer(&mut conv);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.syn_retransmit");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(s.starts_with("1.00 s lost to a resent SYN"), "{s}");
    assert!(
        s.contains("connect took 1.01 s where one round trip is 11.0 ms"),
        "{s}"
    );
    assert!(
        s.contains("the SYN was lost on the way to the server"),
        "{s}"
    );
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["frames"], serde_json::json!([1, 2, 3]));
    let http = of_type(&records, "http");
    assert_eq!(http[0]["timing_ms"]["connect"], 1011.0);
    let conn = of_type(&records, "connection");
    assert_eq!(conn[0]["handshake"]["connect_ms"], 1011.0);
    assert_eq!(conn[0]["handshake"]["syn_to_syn_ack_ms"], 11.0);
    let story = of_type(&records, "story");
    let headline = story[0]["headline"].as_str().unwrap();
    assert!(
        headline.contains("was slow at the TCP connect step: 1.00 s lost to a resent SYN"),
        "{headline}"
    );
}

#[test]
fn a_lost_syn_ack_points_the_other_way() {
    let mut conv = Conv::new(41001, 80);
    conv.at(0.0).c("S", &[]);
    conv.at(0.010).s("S.", &[]);
    // The client never got it: it resends its SYN, the server answers again.
    conv.at(1.0).c_at_seq(1_000, "S", &[]);
    conv.at(1.010);
    syn_ack_again(&mut conv);
    conv.at(1.0101).c(".", &[]);
    get_and_answer(&mut conv);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.syn_retransmit");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(s.contains("the SYN-ACK did not reach the client (the server sent it 2 times, the first before the client's resend)"), "{s}");
    assert!(
        s.contains("connect took 1.01 s where one round trip is 10.0 ms"),
        "{s}"
    );
    assert_eq!(of_type(&records, "http")[0]["timing_ms"]["connect"], 1010.0);
}

#[test]
fn three_seconds_lost_to_resent_syns_is_an_error() {
    let mut conv = Conv::new(41002, 80);
    conv.at(0.0).c("S", &[]);
    conv.at(1.0).c_at_seq(1_000, "S", &[]);
    conv.at(3.0).c_at_seq(1_000, "S", &[]);
    conv.at(3.002).s("S.", &[]);
    conv.at(3.0021).c(".", &[]);
    get_and_answer(&mut conv);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.syn_retransmit");
    assert_eq!(f[0]["severity"], "error");
    assert!(
        summary(f[0]).starts_with("3.00 s lost to 2 resent SYNs"),
        "{}",
        summary(f[0])
    );
}

#[test]
fn a_prompt_handshake_has_no_syn_finding() {
    let mut conv = Conv::new(41003, 80);
    conv.handshake(0.010);
    get_and_answer(&mut conv);
    let records = jsonl(&conv, &[]);
    assert!(kinds(&records).is_empty(), "{:?}", kinds(&records));
    assert_eq!(of_type(&records, "http")[0]["timing_ms"]["connect"], 10.0);
}

/// A request and its answer, then `idle` seconds of quiet, then a second
/// request answered only by an RST 2 ms later from `rst_ttl`.
fn pooled_then_reset(idle: f64, rst_ttl: u8) -> Conv {
    let mut conv = Conv::new(41010, 80);
    first_call(&mut conv);
    conv.at(0.021 + idle)
        .c("P.", b"GET /v1/b HTTP/1.1\r\nHost: api\r\n\r\n");
    let mut from: End = conv.server;
    from.ttl = rst_ttl;
    let rst = segment(
        &from,
        &conv.client,
        conv.server.seq,
        conv.client.seq,
        "R.",
        &[],
    );
    conv.at(0.023 + idle).raw(rst);
    conv
}

#[test]
fn a_request_after_idle_met_by_an_rst_at_once_is_idle_then_reset() {
    let conv = pooled_then_reset(5.0, 57);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(
        s.starts_with("a request sent after 5.00 s idle was answered by an RST 2.0 ms later"),
        "{s}"
    );
    // Nobody sent it again: the caller saw the error.
    assert!(
        s.contains("GET /v1/b was not sent again (the client did not retry it)"),
        "{s}"
    );
    assert_eq!(f[0]["severity"], "error");
    assert!(!kinds(&records).contains(&"tcp.reset_by_server".to_string()));
}

#[test]
fn below_the_idle_gap_a_reset_is_still_the_servers() {
    // A 5 s gap under `--idle-gap 10s`, and a busy connection (0.2 s) by default.
    for (idle, extra) in [(5.0, &["--idle-gap", "10s"][..]), (0.2, &[][..])] {
        let records = jsonl(&pooled_then_reset(idle, 57), extra);
        assert!(findings(&records, "tcp.idle_then_reset").is_empty());
        let reset = findings(&records, "tcp.reset_by_server");
        assert_eq!(reset.len(), 1, "{idle} s: {:?}", kinds(&records));
    }
}

#[test]
fn an_rst_with_another_ttl_after_idle_is_a_middlebox_that_says_so() {
    let conv = pooled_then_reset(5.0, 250);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.reset_by_middlebox");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    assert!(
        summary(f[0]).contains("it answered a request sent after 5.00 s idle"),
        "{}",
        summary(f[0])
    );
    assert!(findings(&records, "tcp.idle_then_reset").is_empty());
}

#[test]
fn a_replay_on_a_new_connection_is_linked_and_softens_the_verdict() {
    let mut conv = pooled_then_reset(5.0, 57);
    // The client replays the GET on a new connection right after.
    let mut replay = Conv::new(41011, 80);
    replay.at(5.03).handshake(0.002);
    let t = replay.t;
    replay
        .at(t + 0.001)
        .c("P.", b"GET /v1/b HTTP/1.1\r\nHost: api\r\n\r\n");
    replay
        .at(t + 0.010)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    replay.at(t + 0.011).c("F.", &[]);
    replay.at(t + 0.012).s("F.", &[]);
    replay.at(t + 0.013).c(".", &[]);
    let frames = replay_frames(&replay);
    for (ts, f) in frames {
        conv.at(ts).raw(f);
    }
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(
        s.contains("GET /v1/b was replayed on conn 2, answered 200: the caller saw no error"),
        "{s}"
    );
    assert_eq!(f[0]["severity"], "warning");
    let http = of_type(&records, "http");
    let replayed: Vec<_> = http.iter().filter(|h| h["replay_of"] == 1).collect();
    assert_eq!(replayed.len(), 1, "{http:?}");
    assert_eq!(replayed[0]["conn"], 2);
}

/// The frames of a conversation with their times (seconds since its start).
fn replay_frames(conv: &Conv) -> Vec<(f64, Vec<u8>)> {
    conv.frames().to_vec()
}

#[test]
fn the_transfer_ends_when_the_last_hole_fills() {
    let mut conv = Conv::new(41020, 80);
    conv.handshake(0.002);
    conv.at(0.01)
        .c("P.", b"GET /big HTTP/1.1\r\nHost: api\r\n\r\n");
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n";
    let body = vec![b'x'; 2000];
    let mut resp = head.to_vec();
    resp.extend_from_slice(&body);
    let (a, rest) = resp.split_at(1000);
    let (b, c) = rest.split_at(1000);
    let base = conv.server.seq;
    conv.at(0.020).s("P.", a);
    // The second segment is lost before the capture point; the third arrives.
    conv.server.seq = base.wrapping_add(2000);
    conv.at(0.021).s("P.", c);
    conv.at(0.022).c_dup_ack(base.wrapping_add(1000));
    // The hole is filled 300 ms later: only then is the response whole.
    conv.at(0.321).s_at_seq(base.wrapping_add(1000), "P.", b);
    let records = jsonl(&conv, &[]);
    let http = of_type(&records, "http");
    assert_eq!(http.len(), 1);
    let transfer = http[0]["timing_ms"]["transfer"].as_f64().unwrap();
    assert!((300.0..302.0).contains(&transfer), "transfer {transfer} ms");
}

#[test]
fn the_resend_rate_counts_data_segments_only() {
    let mut conv = Conv::new(41030, 80);
    conv.handshake(0.002);
    let mut seqs = Vec::new();
    for i in 0..10 {
        seqs.push(conv.client.seq);
        conv.at(0.01 + f64::from(i) * 0.01).c("P.", &[b'a'; 100]);
        conv.s(".", &[]);
    }
    // Three resends of the first segments, each after a duplicate ACK.
    for (i, seq) in seqs.iter().take(3).enumerate() {
        conv.at(0.3 + i as f64 * 0.3)
            .c_at_seq(*seq, "P.", &[b'a'; 100]);
    }
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.retransmissions");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(
        s.starts_with("3 of 13 data segments from the client were retransmissions (23.1%)"),
        "{s}"
    );
}

#[test]
fn a_resent_first_segment_is_reported_below_the_rate_threshold() {
    let mut conv = Conv::new(41040, 443);
    conv.handshake(0.002);
    let seq = conv.client.seq;
    conv.at(0.01)
        .c("P.", b"GET /v1/x HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(0.31)
        .c_at_seq(seq, "P.", b"GET /v1/x HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(0.32)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    for _ in 0..40 {
        let t = conv.t;
        conv.at(t + 0.01)
            .c("P.", b"GET /v1/y HTTP/1.1\r\nHost: api\r\n\r\n");
        conv.at(t + 0.02)
            .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    }
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.retransmissions");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(
        s.contains(
            "the client's first data segment (frame 4) was sent again 300.0 ms later (frame 5)"
        ),
        "{s}"
    );
    assert_eq!(f[0]["severity"], "warning");
}

#[test]
fn syn_acks_resent_after_the_clients_ack_are_a_full_accept_queue() {
    let mut conv = Conv::new(41050, 80);
    conv.handshake(0.002);
    conv.at(0.003)
        .c("P.", b"GET /v1/q HTTP/1.1\r\nHost: api\r\n\r\n");
    // The server dropped the ACK (and so the request): it resends its SYN-ACK.
    conv.at(1.002);
    syn_ack_again(&mut conv);
    conv.at(1.0021).c_dup_ack(900_001);
    conv.at(3.005);
    syn_ack_again(&mut conv);
    conv.at(3.0051).c_dup_ack(900_001);
    conv.at(3.0055)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.syn_retransmit");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(s.starts_with("3.00 s lost to a full accept queue: the server ignored the client's ACK and resent its SYN-ACK 2 times"), "{s}");
    assert_eq!(f[0]["severity"], "error");
}

#[test]
fn a_lost_syn_says_when_the_server_answered_others_meanwhile() {
    let mut a = Conv::new(41060, 80);
    a.at(0.0).c("S", &[]);
    a.at(1.0).c_at_seq(1_000, "S", &[]);
    a.at(1.002).s("S.", &[]);
    a.at(1.0021).c(".", &[]);
    get_and_answer(&mut a);
    let mut b = Conv::new(41061, 80);
    b.at(0.5).handshake(0.002);
    get_and_answer(&mut b);
    let mut all: Vec<(f64, Vec<u8>)> = a.frames().iter().chain(b.frames()).cloned().collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut merged = Conv::new(1, 1);
    for (t, f) in all {
        merged.at(t).raw(f);
    }
    let records = jsonl(&merged, &[]);
    let f = findings(&records, "tcp.syn_retransmit");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(
        s.contains("while 1 other connection to 10.1.0.2:80 was answered"),
        "{s}"
    );
}

#[test]
fn an_encrypted_dead_connection_names_the_next_connection_as_its_retry() {
    let record = |n: u8| [&[0x17, 0x03, 0x03, 0x00, 0x05][..], &[n; 5]].concat();
    let mut conv = Conv::new(41070, 443);
    conv.handshake(0.002);
    conv.at(0.01).c("P.", &record(1));
    conv.at(0.02).s("P.", &record(2));
    conv.at(0.021).c(".", &[]);
    conv.at(4.0).c("P.", &record(3));
    conv.at(4.002).s("R.", &[]);
    let mut retry = Conv::new(41071, 443);
    retry.at(4.01).handshake(0.002);
    let t = retry.t;
    retry.at(t + 0.001).c("P.", &record(4));
    retry.at(t + 0.01).s("P.", &record(5));
    retry.at(t + 0.02).c("F.", &[]);
    retry.at(t + 0.03).s("F.", &[]);
    retry.at(t + 0.031).c(".", &[]);
    for (ts, f) in retry.frames().to_vec() {
        conv.at(ts).raw(f);
    }
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(s.contains("the client opened conn 2 to the same server 8.0 ms later, likely its retry (the server answered on it"), "{s}");
}

#[test]
fn the_request_a_dead_connection_swallowed_is_not_a_server_abort() {
    let conv = pooled_then_reset(5.0, 57);
    let records = jsonl(&conv, &[]);
    assert_eq!(kinds(&records), vec!["tcp.idle_then_reset".to_string()]);
    let story = of_type(&records, "story");
    assert_eq!(story.len(), 1);
    assert_eq!(
        story[0]["findings"],
        serde_json::json!(["tcp.idle_then_reset"])
    );
}

#[test]
fn a_request_that_waited_on_its_resend_is_not_a_slow_server() {
    let mut conv = Conv::new(41080, 80);
    conv.handshake(0.002);
    let seq = conv.client.seq;
    let req = b"GET /v1/z HTTP/1.1\r\nHost: api\r\n\r\n";
    conv.at(0.01).c("P.", req);
    // Lost after the capture point: resent after 1.2 s, answered at once.
    conv.at(1.21).c_at_seq(seq, "P.", req);
    conv.at(1.215)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    let records = jsonl(&conv, &[]);
    assert!(
        findings(&records, "http.slow_server").is_empty(),
        "{:?}",
        kinds(&records)
    );
    let f = findings(&records, "tcp.retransmissions");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    assert!(
        summary(f[0]).contains("first data segment"),
        "{}",
        summary(f[0])
    );
    let t = &of_type(&records, "http")[0]["timing_ms"];
    assert_eq!(t["wait"], 1205.0, "the wait holds the resend: {t}");
    let think = t["server_think"].as_f64().unwrap();
    assert!(think < 5.0, "{t}");
}

#[test]
fn a_write_after_a_connection_close_response_is_not_a_stale_pool() {
    let mut conv = Conv::new(41090, 80);
    conv.handshake(0.002);
    conv.at(0.01)
        .c("P.", b"GET /v1/a HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(0.02).s(
        "FP.",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    );
    conv.at(0.0201).c("P.", b"\r\n");
    conv.at(0.0202).s("R", &[]);
    let records = jsonl(&conv, &[]);
    assert!(
        findings(&records, "http.stale_connection").is_empty(),
        "{:?}",
        kinds(&records)
    );
}

#[test]
fn a_request_after_the_servers_keep_alive_close_is_a_stale_connection() {
    let mut conv = Conv::new(41091, 80);
    first_call(&mut conv);
    // The server's 5 s keep-alive time-out; the client writes 0.3 s later.
    conv.at(5.021).s("F.", &[]);
    conv.at(5.0211).c(".", &[]);
    conv.at(5.3)
        .c("P.", b"GET /v1/b HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(5.3002).s("R", &[]);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "http.stale_connection");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(
        s.starts_with("the server closed this idle keep-alive connection (FIN after 5.00 s idle"),
        "{s}"
    );
    assert!(
        s.contains("and 279.0 ms later the client sent a request on it, answered by RST"),
        "{s}"
    );
    assert!(f[0]["next_step"].as_str().unwrap().contains("below 5.00 s"));
}

/// A TLS-looking record of `len` bytes (content type 23, application data).
fn record(len: usize, fill: u8) -> Vec<u8> {
    let mut r = vec![0x17, 0x03, 0x03, 0, 0];
    r[3..5].copy_from_slice(&((len - 5) as u16).to_be_bytes());
    r.resize(len, fill);
    r
}

/// One TLS exchange on a fresh connection, then `idle` seconds of quiet.
fn tls_exchange(idle: f64) -> Conv {
    let mut conv = Conv::new(41100, 443);
    conv.handshake(0.002);
    conv.at(0.01).c("P.", &record(300, 1));
    conv.at(0.02).s("P.", &record(900, 2));
    conv.at(0.021).c(".", &[]);
    conv.at(0.021 + idle);
    conv
}

#[test]
fn a_tls_keep_alive_close_is_healthy() {
    // The server's close_notify and FIN after 5 s idle, the client's own
    // close_notify and FIN, and the server's kernel answering with an RST.
    let mut conv = tls_exchange(5.0);
    let t = conv.t;
    conv.at(t).s("P.", &record(31, 3));
    conv.at(t + 0.0001).s("F.", &[]);
    conv.at(t + 0.001).c("P.", &record(31, 4));
    conv.at(t + 0.0011).c("F.", &[]);
    conv.at(t + 0.0012).s("R", &[]);
    let records = jsonl(&conv, &[]);
    assert!(kinds(&records).is_empty(), "{:?}", kinds(&records));
}

#[test]
fn a_request_after_a_tls_keep_alive_close_is_stale_with_the_servers_time_out() {
    let mut conv = tls_exchange(5.0);
    let t = conv.t;
    conv.at(t).s("P.", &record(31, 3));
    conv.at(t + 0.0001).s("F.", &[]);
    conv.at(t + 0.0002).c(".", &[]);
    conv.at(t + 0.4).c("P.", &record(400, 5));
    conv.at(t + 0.4003).s("R", &[]);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "http.stale_connection");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(
        s.starts_with("the server closed this idle keep-alive connection (FIN after 5.00 s idle"),
        "{s}"
    );
}

#[test]
fn a_pooled_connection_first_seen_at_its_request_counts_the_quiet_before_the_capture() {
    // The capture starts with other traffic; the pooled connection's first
    // captured packet is its request 3 s later, answered by an RST.
    let mut other = Conv::new(41110, 53);
    other.at(0.0).c(".", &[]);
    let mut conv = Conv::new(41111, 80);
    conv.at(3.0)
        .c("P.", b"GET /v1/a HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(3.0005).s("R", &[]);
    for (ts, f) in conv.frames().to_vec() {
        other.at(ts).raw(f);
    }
    let records = jsonl(&other, &[]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    assert!(
        summary(f[0]).starts_with("a request sent after 3.00 s idle"),
        "{}",
        summary(f[0])
    );
}

#[test]
fn a_two_segment_request_reset_twice_is_still_a_dead_pooled_connection() {
    let mut conv = Conv::new(41120, 80);
    first_call(&mut conv);
    conv.at(4.0).c(
        "P.",
        b"POST /v1/b HTTP/1.1\r\nHost: api\r\nContent-Length: 5\r\n\r\n",
    );
    conv.at(4.0001).c("P.", b"hello");
    conv.at(4.0004).s("R", &[]);
    conv.at(4.0005).s("R", &[]);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    assert_eq!(f[0]["severity"], "error");
    assert!(
        summary(f[0]).contains("POST /v1/b was not sent again"),
        "{}",
        summary(f[0])
    );
}

#[test]
fn a_syn_ack_crossing_the_clients_ack_is_not_a_full_accept_queue() {
    let mut conv = Conv::new(41130, 80);
    conv.at(0.0).c("S", &[]);
    conv.at(1.0).c_at_seq(1_000, "S", &[]);
    conv.at(1.002).s("S.", &[]);
    conv.at(1.0021).c(".", &[]);
    // The server's answer to the resent SYN arrives right after the ACK.
    conv.at(1.0025);
    syn_ack_again(&mut conv);
    get_and_answer(&mut conv);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.syn_retransmit");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    assert!(!summary(f[0]).contains("accept queue"), "{}", summary(f[0]));
}

#[test]
fn a_retry_seen_before_the_black_holed_connection_ends_is_linked() {
    let mut conv = Conv::new(41140, 80);
    first_call(&mut conv);
    let seq = conv.client.seq;
    let req = b"GET /v1/b HTTP/1.1\r\nHost: api\r\n\r\n";
    conv.at(5.0).c("P.", req);
    conv.at(5.3).c_at_seq(seq, "P.", req);
    conv.at(5.9).c_at_seq(seq, "P.", req);
    // The client gives up and closes; its FIN goes into the hole too.
    conv.at(7.0).c("F.", &[]);
    let mut retry = Conv::new(41141, 80);
    retry.at(7.01).handshake(0.002);
    let t = retry.t;
    retry.at(t + 0.001).c("P.", req);
    retry
        .at(t + 0.01)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    retry.at(t + 0.02).c("F.", &[]);
    retry.at(t + 0.03).s("F.", &[]);
    retry.at(t + 0.031).c(".", &[]);
    for (ts, f) in retry.frames().to_vec() {
        conv.at(ts).raw(f);
    }
    let fin_seq = conv.client.seq.wrapping_sub(1);
    conv.at(9.0).c_at_seq(fin_seq, "F.", &[]);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.idle_then_blackhole");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    let s = summary(f[0]);
    assert!(
        s.contains("GET /v1/b was replayed on conn 2, answered 200"),
        "{s}"
    );
    assert_eq!(f[0]["severity"], "warning");
}

#[test]
fn one_byte_keep_alive_probes_are_not_requests() {
    // Windows-style probes (one byte below the next sequence number) while
    // the pooled connection idles; then the real request meets the RST.
    let mut conv = Conv::new(41150, 80);
    first_call(&mut conv);
    let probe_seq = conv.client.seq.wrapping_sub(1);
    conv.at(2.0).c_at_seq(probe_seq, ".", &[0]);
    conv.at(2.001).s(".", &[]);
    conv.at(5.0)
        .c("P.", b"GET /v1/b HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(5.0005).s("R", &[]);
    let records = jsonl(&conv, &[]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", kinds(&records));
    // The probe and its ACK count as traffic: 3 s of quiet, not 5.
    assert!(
        summary(f[0]).starts_with("a request sent after 3.00 s idle"),
        "{}",
        summary(f[0])
    );
    assert!(summary(f[0]).contains("GET /v1/b"), "{}", summary(f[0]));
}
