//! `--expect` rules on the request (`request header|json|body ...`) through
//! `analyze` on builder-made captures (HTTP/1.1 POSTs with JSON bodies) and
//! through `probe` (its own request).

use serde_json::Value;

use crate::util::conv::Conv;
use crate::util::servers::{http_server, Reply};
use crate::util::{run, write_file};

/// One POST with `body` and the extra header `lines` on its own connection at
/// `t` seconds, answered 201.
fn post(conv: &mut Conv, t: f64, lines: &str, body: &[u8]) {
    let mut request = format!(
        "POST /v1/payments HTTP/1.1\r\nHost: pay.example.com\r\nContent-Type: application/json\r\n{lines}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    conv.at(t).handshake(0.001);
    conv.at(t + 0.002).c("P.", &request);
    conv.at(t + 0.030).s(
        "P.",
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\":\"p1\"}",
    );
    conv.at(t + 0.031).c(".", &[]);
    conv.at(t + 0.040)
        .c("F.", &[])
        .at(t + 0.041)
        .s("F.", &[])
        .at(t + 0.042)
        .c(".", &[]);
}

/// Two payments: one for 0 EUR without an Authorization header, one for 25 EUR
/// with it.
fn capture(dir: &std::path::Path) -> String {
    let mut conv = Conv::new(40400, 80);
    post(&mut conv, 0.0, "", br#"{"amount":0,"currency":"EUR"}"#);
    conv.client.port = 40401;
    post(
        &mut conv,
        1.0,
        "Authorization: Bearer t\r\n",
        br#"{"amount":25,"currency":"EUR"}"#,
    );
    write_file(dir, "pay.pcap", &conv.pcap())
        .to_str()
        .unwrap()
        .to_string()
}

fn expectation_findings(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| {
            r["type"] == "finding" && r["kind"].as_str().unwrap().starts_with("http.expectation")
        })
        .collect()
}

fn analyze(pcap: &str, rules: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec!["analyze", "--jsonl", pcap];
    for r in rules {
        args.extend_from_slice(&["--expect", r]);
    }
    let (code, out, err) = run(&args);
    assert!(code == 0 || code == 1, "{err}");
    (code, expectation_findings(&out))
}

#[test]
fn analyze_request_json_rule_fails_on_a_zero_amount() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let (_, f) = analyze(&pcap, &["request json .amount > 0"]);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["kind"], "http.expectation_failed");
    assert_eq!(f[0]["client"], "10.1.0.1:40400");
    let s = f[0]["summary"].as_str().unwrap();
    assert!(
        s.starts_with("POST /v1/payments (host pay.example.com) -> 201: expected 'request json .amount > 0', but .amount was 0"),
        "{s}"
    );
}

#[test]
fn analyze_request_header_rule_names_the_missing_header() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let (code, f) = analyze(&pcap, &["request header authorization exists"]);
    assert_eq!(code, 0, "no --fail-on");
    assert_eq!(f.len(), 1, "{f:#?}");
    let s = f[0]["summary"].as_str().unwrap();
    assert!(s.contains("but header authorization is missing"), "{s}");
    assert_eq!(f[0]["client"], "10.1.0.1:40400");
    // --fail-on error turns it into exit 1.
    let (code, _, _) = run(&[
        "analyze",
        &pcap,
        "--fail-on",
        "error",
        "--expect",
        "request header authorization exists",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn analyze_passing_request_and_response_rules_give_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let (_, f) = analyze(
        &pcap,
        &[
            "request json .currency == \"EUR\"",
            "request header content-type ~ json",
            "request body ~ currency",
            "request json .amount >= 0",
            "response status == 201",
            "response json .id exists",
            "request body !~ password",
        ],
    );
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn analyze_request_rule_that_does_not_parse_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let (code, _, err) = run(&["analyze", &pcap, "--expect", "request status == 200"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("request must be followed by header, json or body"),
        "{err}"
    );
}

#[test]
fn probe_checks_its_own_request() {
    let port = http_server(Reply::Status(200, std::time::Duration::ZERO), 2, None);
    let url = format!("http://127.0.0.1:{port}/v1/payments");
    let (code, out, err) = run(&[
        "probe",
        "--json",
        &url,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"amount":0}"#,
        "--expect",
        "request json .amount > 0",
        "--expect",
        "request header content-type ~ json",
        "--expect",
        "request header user-agent ~ netsleuth",
        "--expect",
        "request header authorization exists",
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let failed: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "http.expectation_failed")
        .map(|f| f["summary"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 2, "{doc:#}");
    assert!(
        failed.iter().any(|s| s.contains(".amount was 0")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|s| s.contains("header authorization is missing")),
        "{failed:?}"
    );
}

/// An HTTP/2 frame (RFC 9113 §4.1).
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend([kind, flags]);
    v.extend(stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A literal header field without indexing, with a literal name (RFC 7541 §6.2.2).
fn h2_field(name: &str, value: &str) -> Vec<u8> {
    let mut v = vec![0, name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v.push(value.len() as u8);
    v.extend_from_slice(value.as_bytes());
    v
}

/// h2c with prior knowledge: a POST whose JSON body is checked by request rules.
#[test]
fn analyze_request_rules_on_http2() {
    let mut conv = Conv::new(40410, 8080);
    conv.handshake(0.001);
    let mut client = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    client.extend(h2_frame(4, 0, 0, &[]));
    // :method POST, :scheme http (static 3, 6), then literal fields.
    let mut block = vec![0x83, 0x86];
    for (k, v) in [
        (":authority", "pay.example.com"),
        (":path", "/v2/payments"),
        ("content-type", "application/json"),
        ("idempotency-key", "k-9"),
    ] {
        block.extend(h2_field(k, v));
    }
    client.extend(h2_frame(1, 0x4, 1, &block));
    client.extend(h2_frame(0, 0x1, 1, br#"{"amount":-5}"#));
    conv.at(0.010).c("P.", &client);
    conv.at(0.011).s("P.", &h2_frame(4, 0, 0, &[]));
    conv.at(0.050)
        .s("P.", &h2_frame(1, 0x5, 1, &h2_field(":status", "201")));
    conv.at(0.060).c(".", &[]);
    conv.at(0.100)
        .c("F.", &[])
        .at(0.101)
        .s("F.", &[])
        .at(0.102)
        .c(".", &[]);
    let dir = tempfile::tempdir().unwrap();
    let pcap = write_file(dir.path(), "h2c.pcap", &conv.pcap());
    let (_, f) = analyze(
        pcap.to_str().unwrap(),
        &[
            "request json .amount > 0",
            "request header idempotency-key == k-9",
            "request header x-trace exists",
            "response status == 201",
        ],
    );
    let summaries: Vec<&str> = f.iter().map(|f| f["summary"].as_str().unwrap()).collect();
    assert_eq!(summaries.len(), 2, "{f:#?}");
    assert!(
        summaries[0].contains("POST /v2/payments") && summaries[0].contains(".amount was -5"),
        "{summaries:?}"
    );
    assert!(
        summaries[1].contains("header x-trace is missing"),
        "{summaries:?}"
    );
}
