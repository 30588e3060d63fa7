//! `--expect` rules through the real binary: `analyze` on builder-made captures
//! of JSON APIs (pass, fail, body not captured, scopes, --fail-on, bad syntax),
//! and `probe` against a test server.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::util::conv::Conv;
use crate::util::servers::{http_server, Reply};
use crate::util::{run, write_file};

/// One HTTP/1.1 exchange on its own connection, starting at `t` seconds.
/// `hole` leaves that many bytes out of the middle of the response body (the
/// client's ACK proves they were sent).
fn exchange(conv: &mut Conv, t: f64, request: &[u8], head: &str, body: &[u8], hole: usize) {
    conv.at(t).handshake(0.001);
    conv.at(t + 0.002).c("P.", request);
    let mut response = head.as_bytes().to_vec();
    if hole == 0 {
        response.extend_from_slice(body);
        conv.at(t + 0.050).s("P.", &response);
    } else {
        let half = body.len() / 2;
        response.extend_from_slice(&body[..half]);
        conv.at(t + 0.050).s("P.", &response);
        conv.server.seq = conv.server.seq.wrapping_add(hole as u32);
        conv.at(t + 0.051).s("P.", &body[half + hole..]);
    }
    conv.at(t + 0.052).c(".", &[]);
    conv.at(t + 0.060)
        .c("F.", &[])
        .at(t + 0.061)
        .s("F.", &[])
        .at(t + 0.062)
        .c(".", &[]);
}

fn json_head(status: u16, len: usize) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nX-Request-Id: r-1\r\nContent-Length: {len}\r\n\r\n"
    )
}

const GET_ORDER: &[u8] = b"GET /v1/orders/7?expand=1 HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
const GOOD: &[u8] = br#"{"data":{"id":7,"items":[{"sku":"a-1"}]}}"#;
const BAD: &[u8] = br#"{"error":"order not found"}"#;
/// An error page from a proxy, with terminal escapes in it.
const HTML: &[u8] = b"<html>upstream \x1b[31mnot\x1b[0m reachable</html>";

/// A capture with four calls: a good one, a 404 with a JSON error, one whose
/// body the capture missed part of, and a 502 with an HTML page.
fn capture(dir: &std::path::Path) -> String {
    let mut conv = Conv::new(40200, 80);
    exchange(
        &mut conv,
        0.0,
        GET_ORDER,
        &json_head(200, GOOD.len()),
        GOOD,
        0,
    );
    conv.client.port = 40201;
    exchange(
        &mut conv,
        1.0,
        b"GET /v1/orders/8 HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
        &json_head(404, BAD.len()),
        BAD,
        0,
    );
    conv.client.port = 40202;
    let big = format!("{{\"data\":{{\"id\":9,\"pad\":\"{}\"}}}}", "x".repeat(400));
    exchange(
        &mut conv,
        2.0,
        b"GET /v1/orders/9 HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
        &json_head(200, big.len()),
        big.as_bytes(),
        100,
    );
    conv.client.port = 40203;
    exchange(
        &mut conv,
        3.0,
        b"GET /v1/orders/10 HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
        &format!(
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n",
            HTML.len()
        ),
        HTML,
        0,
    );
    write_file(dir, "api.pcap", &conv.pcap())
        .to_str()
        .unwrap()
        .to_string()
}

fn findings(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "finding")
        .collect()
}

fn of_kind<'a>(f: &'a [Value], kind: &str) -> Vec<&'a Value> {
    f.iter().filter(|f| f["kind"] == kind).collect()
}

#[test]
fn analyze_checks_rules_on_json_responses() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let (code, out, err) = run(&[
        "analyze",
        "--jsonl",
        &pcap,
        "--expect",
        "json .data.id exists",
        "--expect",
        "header content-type ~ JSON",
        "--expect",
        "status in 200..299",
        "--expect",
        "ttfb < 1s",
    ]);
    assert_eq!(code, 0, "{err}");
    let all = findings(&out);
    let failed = of_kind(&all, "http.expectation_failed");
    // The 404 and the 502 fail the json rule and the status rule, the 502 the
    // header rule too; the good call fails none.
    assert_eq!(failed.len(), 5, "{all:#?}");
    let json_fail = failed
        .iter()
        .find(|f| f["summary"].as_str().unwrap().contains("/8 (host"))
        .unwrap();
    let summary = json_fail["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("GET /v1/orders/8 (host api.example.com) -> 404: expected 'json .data.id exists', but .data.id is missing; body was {\"error\":\"order not found\"}"),
        "{summary}"
    );
    let html = failed
        .iter()
        .map(|f| f["summary"].as_str().unwrap())
        .find(|s| s.contains("-> 502") && s.contains("json"))
        .unwrap();
    assert!(html.contains("but the body is not JSON ("), "{html}");
    assert!(
        html.ends_with("body was <html>upstream \\u{1b}[31mnot\\u{1b}[0m reachable</html>"),
        "{html}"
    );
    assert_eq!(json_fail["severity"], "error");
    assert_eq!(json_fail["client"], "10.1.0.1:40201");
    assert_eq!(json_fail["server"], "10.1.0.2:80");
    assert!(json_fail["conn"].as_u64().is_some());
    // Evidence: the request's and the response's frames (the first call took
    // frames 1-9, this one's handshake 10-12).
    assert_eq!(
        json_fail["frames"],
        serde_json::json!([13, 14]),
        "{json_fail}"
    );
    assert!(failed.iter().any(|f| f["summary"]
        .as_str()
        .unwrap()
        .contains("but status was 404")));
    // The body with a hole: the json rule cannot be checked, and says why.
    let unchecked = of_kind(&all, "http.expectation_unchecked");
    assert_eq!(unchecked.len(), 1, "{all:#?}");
    let s = unchecked[0]["summary"].as_str().unwrap();
    assert!(
        s.contains("/v1/orders/9")
            && s.contains("could not check 'json .data.id exists'")
            && s.contains("100 bytes of the response body are missing"),
        "{s}"
    );
    assert_eq!(unchecked[0]["severity"], "warning");
    // The failures are part of the story of their call.
    let stories: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "story")
        .collect();
    assert!(stories.iter().any(|s| s["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k == "http.expectation_failed")));
}

#[test]
fn fail_on_error_and_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    // A scope that matches nothing: no finding, exit 0 even with --fail-on.
    let (code, out, err) = run(&[
        "analyze",
        "--jsonl",
        &pcap,
        "--for",
        "host other.example.com",
        "--expect",
        "status == 201",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(of_kind(&findings(&out), "http.expectation_failed").is_empty());
    // Scoped to the first call's path (query ignored): the good call only.
    let (code, out, _) = run(&[
        "analyze",
        "--jsonl",
        &pcap,
        "--expect",
        "header x-request-id == r-1",
        "--for",
        "host API.example.com path /v1/orders/7 method get",
        "--expect",
        "json .data.items[0].sku == \"a-2\"",
        "--fail-on",
        "error",
    ]);
    assert_eq!(code, 1);
    let all = findings(&out);
    let failed: Vec<&str> = of_kind(&all, "http.expectation_failed")
        .iter()
        .map(|f| f["summary"].as_str().unwrap())
        .collect();
    // The unscoped header rule fails on the 502 (no X-Request-Id); the scoped
    // json rule only on /v1/orders/7.
    assert_eq!(failed.len(), 2, "{all:#?}");
    assert!(failed.contains(&"GET /v1/orders/7?expand=1 (host api.example.com) -> 200: expected 'json .data.items[0].sku == \"a-2\"', but .data.items[0].sku was \"a-1\""), "{failed:#?}");
    assert!(failed.contains(&"GET /v1/orders/10 (host api.example.com) -> 502: expected 'header x-request-id == r-1', but header x-request-id is missing"), "{failed:#?}");
    // Rules that hold: no expectation finding.
    let (code, out, err) = run(&[
        "analyze",
        "--jsonl",
        &pcap,
        "--for",
        "path /v1/orders/7",
        "--expect",
        "json .data.items[-1].sku ~ A-",
        "--expect",
        "status == 200",
    ]);
    assert_eq!(code, 0, "{err}");
    let all = findings(&out);
    assert!(all
        .iter()
        .all(|f| !f["kind"].as_str().unwrap().starts_with("http.expectation")));
}

#[test]
fn text_report_names_the_rule_and_escapes_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let (code, out, _) = run(&[
        "analyze",
        &pcap,
        "--expect",
        "body !~ \"not\"",
        "--fail-on",
        "error",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("http.expectation_failed"), "{out}");
    assert!(
        out.contains("expected 'body !~ \"not\"', but the body contains \"not\""),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "raw escape in the report: {out:?}");
}

#[test]
fn gzip_and_chunked_bodies_are_decoded() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(br#"{"ok":true,"n":3}"#).unwrap();
    let gz = gz.finish().unwrap();
    let mut chunked = format!("{:x}\r\n", 5).into_bytes();
    chunked.extend_from_slice(&gz[..5]);
    chunked.extend_from_slice(format!("\r\n{:x}\r\n", gz.len() - 5).as_bytes());
    chunked.extend_from_slice(&gz[5..]);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let mut conv = Conv::new(40300, 8080);
    exchange(
        &mut conv,
        0.0,
        b"GET /health HTTP/1.1\r\nHost: h\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        &chunked,
        0,
    );
    let dir = tempfile::tempdir().unwrap();
    let pcap = write_file(dir.path(), "gz.pcap", &conv.pcap());
    let (code, out, err) = run(&[
        "analyze",
        "--jsonl",
        pcap.to_str().unwrap(),
        "--expect",
        "json .ok == true",
        "--expect",
        "json .n >= 3",
        "--expect",
        "time < 100ms",
        "--fail-on",
        "warning",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn bad_rules_exit_2_with_a_caret() {
    for (args, line, caret) in [
        (
            vec!["--expect", "status = 200"],
            "    status = 200",
            "           ^",
        ),
        (
            vec!["--expect", "json .data..id exists"],
            "    json .data..id exists",
            "               ^",
        ),
        (
            vec!["--for", "hots x", "--expect", "status == 200"],
            "    hots x",
            "    ^",
        ),
    ] {
        let mut all = vec!["analyze", "does-not-matter.pcap"];
        all.extend(args);
        let (code, out, err) = run(&all);
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty());
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines[0].starts_with("netsleuth: error: bad --"), "{err}");
        assert_eq!(lines[1], line, "{err}");
        assert_eq!(lines[2], caret, "{err}");
    }
    // A --for with no rule after it.
    let (code, _, err) = run(&[
        "analyze",
        "x.pcap",
        "--expect",
        "status == 200",
        "--for",
        "host a",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no --expect follows this --for"), "{err}");
    // And the probe, before it makes any traffic.
    let (code, _, err) = run(&["probe", "http://127.0.0.1:9/", "--expect", "ttfb < soon"]);
    assert_eq!(code, 2);
    assert!(err.contains("bad --expect (at character 8)"), "{err}");
}

#[test]
fn probe_checks_its_response() {
    let body: &'static [u8] = br#"{"user":{"id":"u-42","roles":["admin"]}}"#;
    let port = http_server(
        Reply::Body(200, "Content-Type: application/json\r\n", body),
        2,
        None,
    );
    let url = format!("http://127.0.0.1:{port}/v1/me");
    let (code, out, err) = run(&[
        "probe",
        "--json",
        &url,
        "--expect",
        "status == 200",
        "--expect",
        "json .user.roles[0] == \"admin\"",
        "--expect",
        "header content-type ~ json",
        "--expect",
        "time < 5s",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["findings"], serde_json::json!([]), "{doc}");
    assert_eq!(doc["verdict"]["ok"], true);

    let (code, out, err) = run(&[
        "probe",
        "--json",
        &url,
        "--for",
        "path /v1/*",
        "--expect",
        "json .user.id == 42",
        "--for",
        "path /other",
        "--expect",
        "status == 500",
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let f = &doc["findings"];
    assert_eq!(f.as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(f[0]["kind"], "http.expectation_failed");
    assert_eq!(
        f[0]["summary"],
        "GET /v1/me -> 200: expected 'json .user.id == 42', but .user.id was \"u-42\""
    );
    assert_eq!(doc["verdict"]["ok"], false);
    assert!(doc["verdict"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("FAILED at the HTTP step"));
    // The kept body does not leak into the JSON record.
    assert!(doc["http"].get("response").is_none(), "{}", doc["http"]);
    let _ = Duration::ZERO;
}
