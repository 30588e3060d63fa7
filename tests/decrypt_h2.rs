//! HTTP/2 inside decrypted TLS on real traffic: curl (nghttp2) makes several
//! requests on one connection to the rustls + `h2` server of
//! `util::servers::h2_server`, captured live on lo; `analyze --keylog` must
//! report each stream as an HTTP/2 transaction, and tshark with the same key
//! log must see the same requests.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::servers::{h2_server, Pki};
use crate::util::{analyze_records, can_capture, capture_lo, tshark};

/// curl over HTTP/2 to `urls` (one connection), its key log in `keylog`.
fn curl_h2(keylog: &Path, urls: &[String]) {
    let mut cmd = Command::new("curl");
    cmd.env("SSLKEYLOGFILE", keylog)
        .args(["-s", "-k", "--http2", "--max-time", "10"]);
    for u in urls {
        cmd.args(["-o", "/dev/null", u]);
    }
    let out = cmd.output().expect("run curl");
    assert!(out.status.success(), "curl: {out:?}");
}

/// Captures curl's requests to a fresh h2 server answering `status` with a
/// body of `body_len` bytes; returns the analysis records and the capture dir.
fn capture(status: u16, body_len: usize, paths: &[&str]) -> (Vec<Value>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let leaf = Pki::new("netsleuth h2 CA").leaf(&["127.0.0.1"], false);
    // Two accepts: the server's runtime (and the first connection) lives
    // until the second accept times out.
    let port = h2_server(&leaf, status, body_len, 2);
    let file = dir.path().join("h2.pcap");
    let keylog = dir.path().join("keys.log");
    let urls: Vec<String> = paths
        .iter()
        .map(|p| format!("https://127.0.0.1:{port}{p}"))
        .collect();
    let port_s = port.to_string();
    capture_lo(&file, &["tcp", "port", &port_s], || curl_h2(&keylog, &urls));
    let records = analyze_records(&file, &["--keylog", keylog.to_str().unwrap()]);
    (records, dir)
}

fn of_type<'a>(records: &'a [Value], t: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

#[test]
fn h2_requests_on_one_connection_are_transactions() {
    if !can_capture("h2_requests_on_one_connection_are_transactions") {
        return;
    }
    let paths = ["/v1/a", "/v1/b?x=1", "/v1/c"];
    let (records, dir) = capture(200, 3000, &paths);
    let tls = of_type(&records, "tls");
    assert_eq!(tls.len(), 1, "one connection: {records:#?}");
    assert_eq!(tls[0]["decryption"]["status"], "decrypted", "{}", tls[0]);
    let http = of_type(&records, "http");
    assert_eq!(http.len(), paths.len(), "{records:#?}");
    for (h, p) in http.iter().zip(paths) {
        assert_eq!(h["version"], "HTTP/2", "{h}");
        assert_eq!(h["decrypted"], true);
        assert_eq!(h["method"], "GET");
        assert_eq!(h["path"], p);
        assert_eq!(h["host"], format!("127.0.0.1:{}", port_of(h)));
        assert_eq!(h["status"], 200);
        assert_eq!(h["response_body_bytes"], 3000, "{h}");
        assert_eq!(h["complete"], true, "{h}");
        assert!(h["phases_ms"]["total"].as_f64().is_some(), "{h}");
    }
    let http_findings: Vec<&Value> = of_type(&records, "finding")
        .into_iter()
        .filter(|f| f["kind"].as_str().is_some_and(|k| k.starts_with("http.")))
        .collect();
    assert!(http_findings.is_empty(), "{http_findings:#?}");
    tshark_agrees(
        &dir.path().join("h2.pcap"),
        &dir.path().join("keys.log"),
        &paths,
    );
}

#[test]
fn h2_server_error_is_a_finding() {
    if !can_capture("h2_server_error_is_a_finding") {
        return;
    }
    let (records, _dir) = capture(500, 10, &["/v1/boom"]);
    let http = of_type(&records, "http");
    assert_eq!(http.len(), 1, "{records:#?}");
    assert_eq!(
        (&http[0]["version"], &http[0]["status"]),
        (&Value::from("HTTP/2"), &Value::from(500))
    );
    let kinds: Vec<&str> = of_type(&records, "finding")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"http.server_error"), "{kinds:?}");
}

fn port_of(h: &Value) -> u64 {
    h["server"]
        .as_str()
        .and_then(|s| s.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// tshark with the same key log sees the same request paths.
fn tshark_agrees(file: &Path, keylog: &Path, paths: &[&str]) {
    if !tshark::available("tshark HTTP/2 cross-check") {
        return;
    }
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keylog.display()))
        .args(["-Y", "http2.headers.method", "-T", "fields"])
        .args(["-e", "http2.headers.path"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut seen: Vec<&str> = text
        .lines()
        .flat_map(|l| l.split(','))
        .filter(|s| !s.is_empty())
        .collect();
    seen.sort_unstable();
    let mut want = paths.to_vec();
    want.sort_unstable();
    assert_eq!(seen, want, "tshark saw: {text}");
}
