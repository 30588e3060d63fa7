//! Issue 16, HTTP records as complete as Zeek's: builder-made captures run
//! through the real binary, checked in the JSON records and in http.log /
//! ssl.log (`--zeek-logs`).

use std::collections::HashMap;

use crate::util::conv::Conv;
use crate::util::zeek::{read_log, write_logs};
use crate::util::{analyze_pcap, write_file};

/// `analyze --zeek-logs` on `pcap`: the rows of `log` as field → value maps.
fn zeek_rows(pcap: &[u8], log: &str) -> Vec<HashMap<String, String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "c.pcap", pcap);
    read_log(&write_logs(&file, dir.path()), log)
}

fn http_records(pcap: &[u8]) -> Vec<serde_json::Value> {
    analyze_pcap(pcap, &[])
        .into_iter()
        .filter(|r| r["type"] == "http")
        .collect()
}

/// A connection to `port` carrying `exchanges` (client bytes, server bytes)
/// in turn, closed by FINs.
fn capture(port: u16, exchanges: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut conv = Conv::new(40100, port);
    conv.at(0.0).handshake(0.001);
    let mut t = 0.01;
    for (c, s) in exchanges {
        if !c.is_empty() {
            conv.at(t).c("P.", c);
        }
        t += 0.01;
        if !s.is_empty() {
            conv.at(t).s("P.", s);
        }
        t += 0.01;
    }
    conv.at(t).c("F.", &[]).s("F.", &[]).c(".", &[]);
    conv.pcap()
}

const REQ1: &[u8] = b"POST /a%20b?x=1 HTTP/1.1\r\nHost: api.example\r\nUser-Agent: curl/8.5.0\r\nReferer: http://ref.example/\r\nOrigin: http://origin.example\r\nAuthorization: Basic dXNlcjpzZWNyZXQ=\r\nVia: 1.1 squid\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";

#[test]
fn http_zeek_fields_in_json_and_http_log() {
    let pcap = capture(
        80,
        &[
            (REQ1, b"HTTP/1.1 100 Continue\r\n\r\n"),
            (
                b"hi",
                b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nServer: t\r\n\r\n",
            ),
            (
                b"GET /two HTTP/1.1\r\nHost: api.example\r\n\r\n",
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ),
        ],
    );
    let h = http_records(&pcap);
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["trans_depth"], 1);
    assert_eq!(h[1]["trans_depth"], 2);
    assert_eq!(h[0]["user_agent"], "curl/8.5.0");
    assert_eq!(h[0]["referrer"], "http://ref.example/");
    assert_eq!(h[0]["origin"], "http://origin.example");
    assert_eq!(h[0]["username"], "user");
    assert_eq!(h[0]["proxied"], serde_json::json!(["VIA -> 1.1 squid"]));
    assert_eq!(h[0]["info_msg"], "Continue");
    assert_eq!(
        h[0]["response_header_names"],
        serde_json::json!(["CONTENT-LENGTH", "SERVER"])
    );
    assert_eq!(h[0]["request_header_names"][0], "HOST");
    let text = serde_json::to_string(&h).expect("json");
    assert!(!text.contains("secret"), "the password leaked: {text}");

    let rows = zeek_rows(&pcap, "http");
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(r["trans_depth"], "1");
    assert_eq!(r["uri"], "/a b?x=1");
    assert_eq!(r["referrer"], "http://ref.example/");
    assert_eq!(r["user_agent"], "curl/8.5.0");
    assert_eq!(r["origin"], "http://origin.example");
    assert_eq!(r["username"], "user");
    assert_eq!(r["password"], "-");
    assert_eq!(r["proxied"], "VIA -> 1.1 squid");
    assert_eq!(
        (r["info_code"].as_str(), r["info_msg"].as_str()),
        ("100", "Continue")
    );
    assert_eq!(r["status_code"], "201");
    assert_eq!(r["request_body_len"], "2");
    assert_eq!(
        r["client_header_names"],
        "HOST,USER-AGENT,REFERER,ORIGIN,AUTHORIZATION,VIA,EXPECT,CONTENT-LENGTH"
    );
    assert_eq!(r["server_header_names"], "CONTENT-LENGTH,SERVER");
    assert_eq!(rows[1]["trans_depth"], "2");
    // Zeek's version is the reply's.
    assert_eq!(rows[1]["version"], "1.0");
    assert_eq!(rows[1]["user_agent"], "-");
    assert_eq!(rows[1]["proxied"], "-");
}

#[test]
fn http_zeek_http09_request_and_unusual_method() {
    let pcap = capture(80, &[(b"GET /old.html\r\n", b"<html>old</html>")]);
    let h = http_records(&pcap);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["version"], "HTTP/0.9");
    assert_eq!(h[0]["path"], "/old.html");
    assert!(h[0]["status"].is_null());
    assert_eq!(h[0]["response_body_bytes"], 16);
    assert_eq!(h[0]["complete"], true);
    let rows = zeek_rows(&pcap, "http");
    assert_eq!(rows[0]["version"], "0.9");
    assert_eq!(rows[0]["status_code"], "0");
    assert_eq!(rows[0]["status_msg"], "<empty>");
    // Not on a port Zeek takes for HTTP: not HTTP.
    let pcap = capture(5000, &[(b"GET /old.html\r\n", b"<html>old</html>")]);
    assert!(http_records(&pcap).is_empty());
    // Any token is a method once the version is seen.
    let pcap = capture(
        8123,
        &[(
            b"PURGE /cache/x HTTP/1.1\r\nHost: c\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        )],
    );
    let h = http_records(&pcap);
    assert_eq!(h[0]["method"], "PURGE");
    // A binary protocol on port 80 stays out.
    let pcap = capture(80, &[(b"\x00\x00\x00\x10GET / \r\n\x01\x02", b"\x00")]);
    assert!(http_records(&pcap).is_empty());
}

#[test]
fn http_zeek_content_length_and_folding_edge_cases() {
    let pcap = capture(
        80,
        &[
            (
                b"GET /1 HTTP/1.1\r\nHost: a\r\nUser-Agent: old\r\n  folded\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n1234567",
            ),
            (
                b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            ),
            (
                b"GET /3 HTTP/1.1\r\nHost: a\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\nuntil close",
            ),
        ],
    );
    let h = http_records(&pcap);
    assert_eq!(h.len(), 3, "{h:?}");
    assert_eq!(h[0]["user_agent"], "old  folded");
    assert_eq!(h[0]["response_body_bytes"], 7);
    assert_eq!(h[1]["response_body_bytes"], 4);
    assert!(h[1]["notes"].to_string().contains("disagree"));
    assert_eq!(h[2]["response_body_bytes"], 11);
    assert_eq!(h[2]["complete"], true);
}

/// A TLS record holding a ClientHello with `sni`.
fn client_hello(sni: &str) -> Vec<u8> {
    let v16 = |b: &[u8]| [&(b.len() as u16).to_be_bytes()[..], b].concat();
    let name = [&[0u8][..], &v16(sni.as_bytes())].concat();
    let ext = [&0u16.to_be_bytes()[..], &v16(&v16(&name))].concat();
    let body = [
        &[3, 3][..],
        &[1; 32],
        &[0],
        &v16(&[0x13, 0x01]),
        &[1, 0],
        &v16(&ext),
    ]
    .concat();
    let len = (body.len() as u32).to_be_bytes();
    let hs = [&[1u8][..], &len[1..], &body].concat();
    [&[0x16, 3, 1][..], &v16(&hs)].concat()
}

#[test]
fn http_zeek_connect_tunnel_gives_tls_on_the_same_uid() {
    let hello = client_hello("inner.example");
    let pcap = capture(
        3128,
        &[
            (
                b"CONNECT inner.example:443 HTTP/1.1\r\nHost: inner.example:443\r\n\r\n",
                b"HTTP/1.1 200 Connection established\r\n\r\n",
            ),
            (&hello, b"\x15\x03\x03\x00\x02\x02\x28"),
        ],
    );
    let records = analyze_pcap(&pcap, &[]);
    let http: Vec<_> = records.iter().filter(|r| r["type"] == "http").collect();
    let tls: Vec<_> = records.iter().filter(|r| r["type"] == "tls").collect();
    assert_eq!(http.len(), 1);
    assert_eq!(http[0]["method"], "CONNECT");
    assert_eq!(tls.len(), 1, "{records:?}");
    assert_eq!(tls[0]["sni"], "inner.example");
    assert_eq!(tls[0]["conn"], http[0]["conn"]);
    assert!(http[0]["timing_ms"]["tls"].is_null(), "{}", http[0]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "c.pcap", &pcap);
    let out = write_logs(&file, dir.path());
    let ssl = read_log(&out, "ssl");
    let http = read_log(&out, "http");
    assert_eq!(ssl.len(), 1);
    assert_eq!(ssl[0]["server_name"], "inner.example");
    assert_eq!(ssl[0]["uid"], http[0]["uid"]);
    // conn.log's service names both, in the order they were seen.
    let conn = read_log(&out, "conn");
    let row = conn
        .iter()
        .find(|r| r["uid"] == http[0]["uid"])
        .expect("the tunnel's conn.log row");
    assert_eq!(row["service"], "http,ssl");
}

#[test]
fn http_zeek_lost_response_resyncs_at_the_next_one() {
    let ok: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let mut conv = Conv::new(40200, 80);
    conv.at(0.0).handshake(0.001);
    conv.at(0.01).c(
        "P.",
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    conv.at(0.02).s("P.", ok);
    // The second response is missing from the capture.
    conv.server.seq = conv.server.seq.wrapping_add(ok.len() as u32);
    conv.at(0.03).s("P.", ok);
    conv.at(0.04).c("F.", &[]).s("F.", &[]).c(".", &[]);
    let h = http_records(&conv.pcap());
    assert_eq!(h.len(), 3, "{h:?}");
    // Before the gap: no `resynced` at all (left out when false).
    assert_eq!(
        (h[0]["status"].as_u64(), h[0].get("resynced")),
        (Some(200), None)
    );
    assert!(h[1]["status"].is_null());
    assert_eq!(h[1]["resynced"], true);
    assert_eq!(h[2]["path"], "/3");
    assert_eq!(
        (h[2]["status"].as_u64(), h[2]["resynced"].as_bool()),
        (Some(200), Some(true))
    );
    assert_eq!(h[2]["complete"], true);
}
