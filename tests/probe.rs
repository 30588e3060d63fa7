//! `netsleuth probe` against servers these tests start on loopback (and, as
//! root, a black-holed address in a network namespace): each fault gives its
//! finding kind and a verdict naming the failing step; a healthy server gives
//! no warning.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::servers::{dns_server, h2_server, http_server, DnsAnswer, Pki, Reply};
use crate::util::{can_capture, netns, run, write_file};

const FAST: Duration = Duration::ZERO;

/// Runs `probe ARGS --json`; returns the exit code and the parsed document.
fn probe_json(args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["probe", "--json"];
    all.extend_from_slice(args);
    let (code, out, err) = run(&all);
    let doc = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, doc, err)
}

fn kinds(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

fn ca_file(dir: &std::path::Path, pki: &Pki) -> String {
    write_file(dir, "ca.pem", pki.ca_pem().as_bytes())
        .to_str()
        .unwrap()
        .to_string()
}

/// A healthy HTTP server: exit 0, every phase timed, no finding at all.
#[test]
fn healthy_http_has_no_finding() {
    let port = http_server(Reply::Status(200, FAST), 2, None);
    let url = format!("http://127.0.0.1:{port}/v1/health");
    let (code, doc, err) = probe_json(&[&url]);
    assert_eq!(code, 0, "{doc}\n{err}");
    assert_eq!(doc["verdict"]["ok"], true);
    assert!(kinds(&doc).is_empty(), "{doc}");
    assert_eq!(doc["http"]["status"], 200);
    assert_eq!(doc["http"]["body_bytes"], 14);
    // An address literal has no DNS phase; the others are measured.
    assert!(doc["phases_ms"]["dns"].is_null());
    for phase in ["connect", "ttfb", "transfer", "total"] {
        assert!(doc["phases_ms"][phase].as_f64().is_some(), "{phase}: {doc}");
    }
    // The text report: waterfall and verdict.
    let (code, out, _) = run(&["probe", &url]);
    assert_eq!(code, 0);
    assert!(out.contains("OK: http://127.0.0.1:"), "{out}");
    assert!(out.contains("ttfb") && out.contains("|"), "{out}");
    assert!(!out.contains("WARN") && !out.contains("ERROR"), "{out}");
}

/// Nothing listens: the SYN gets an RST.
#[test]
fn closed_port_is_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, doc, _) = probe_json(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["tcp.connect_refused"]);
    assert_eq!(doc["verdict"]["phase"], "connect");
    assert!(doc["verdict"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("FAILED at the TCP connect step"));
}

/// A 500 is an error finding; the probe fails at the HTTP step.
#[test]
fn server_error_fails_the_probe() {
    let port = http_server(Reply::Status(500, FAST), 1, None);
    let (code, doc, _) = probe_json(&[&format!("http://127.0.0.1:{port}/v1/pay")]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["http.server_error"]);
    let summary = doc["findings"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("GET /v1/pay -> 500"), "{summary}");
    assert_eq!(doc["verdict"]["phase"], "ttfb");
}

/// The server thinks 1.2 s: slow server, with the think time, and no other finding.
#[test]
fn slow_server_is_a_warning_with_think_time() {
    let port = http_server(Reply::Status(200, Duration::from_millis(1200)), 1, None);
    let (code, doc, _) = probe_json(&[&format!("http://127.0.0.1:{port}/slow")]);
    assert_eq!(
        code, 0,
        "a warning does not fail the probe by default: {doc}"
    );
    assert_eq!(kinds(&doc), ["http.slow_server"]);
    assert!(doc["phases_ms"]["ttfb"].as_f64().unwrap() >= 1200.0);
    let summary = doc["findings"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("server think time"), "{summary}");
    // --fail-on warning makes it fail.
    let port = http_server(Reply::Status(200, Duration::from_millis(1100)), 1, None);
    let (code, _, _) = run(&[
        "probe",
        "--fail-on",
        "warning",
        &format!("http://127.0.0.1:{port}/slow"),
    ]);
    assert_eq!(code, 1);
}

/// The server never answers: the probe gives up at --response-timeout and
/// says so; it never outlives --max-time.
#[test]
fn silent_server_is_no_response_within_the_deadline() {
    let port = http_server(Reply::Silent, 2, None);
    let url = format!("http://127.0.0.1:{port}/search");
    let started = Instant::now();
    let (code, doc, _) = probe_json(&["--response-timeout", "500ms", &url]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["http.no_response"]);
    assert!(doc["findings"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("gave up"));
    let started2 = Instant::now();
    let (code, doc, _) = probe_json(&["--max-time", "700ms", &url]);
    assert_eq!(code, 1);
    assert_eq!(doc["deadline_hit"], true, "{doc}");
    assert!(started2.elapsed() < Duration::from_secs(3));
    assert!(started.elapsed() < Duration::from_secs(6));
}

/// HTTPS with a CA given by --cacert: version, cipher, ALPN, the chain, no finding.
#[test]
fn healthy_https_reports_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("netsleuth test CA");
    let leaf = pki.leaf(&["127.0.0.1"], false);
    let port = http_server(
        Reply::Status(200, FAST),
        1,
        Some(leaf.server(&[&rustls::version::TLS13, &rustls::version::TLS12])),
    );
    let ca = ca_file(dir.path(), &pki);
    let (code, doc, err) = probe_json(&["--cacert", &ca, &format!("https://127.0.0.1:{port}/")]);
    assert_eq!(code, 0, "{doc}\n{err}");
    assert!(kinds(&doc).is_empty(), "{doc}");
    assert_eq!(doc["tls"]["version"], "TLS 1.3");
    assert!(doc["tls"]["cipher"].as_str().unwrap().starts_with("TLS13_"));
    assert_eq!(doc["tls"]["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(
        doc["tls"]["certificates"][1]["subject"],
        "CN=netsleuth test CA"
    );
    assert!(doc["phases_ms"]["tls"].as_f64().unwrap() > 0.0);
    // rcgen's default validity runs to 4096.
    assert!(
        doc["tls"]["days_to_expiry"].as_i64().unwrap() > 365 * 50,
        "{doc}"
    );
}

/// A server that speaks only HTTP/2: ALPN picks h2 and the probe follows it.
#[test]
fn http2_is_used_when_alpn_picks_it() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("netsleuth test CA");
    let leaf = pki.leaf(&["127.0.0.1"], false);
    let ca = ca_file(dir.path(), &pki);
    let port = h2_server(&leaf, 200, 100_000, 2);
    let url = format!("https://127.0.0.1:{port}/v2/items");
    let (code, doc, err) = probe_json(&["--cacert", &ca, &url]);
    assert_eq!(code, 0, "{doc}\n{err}");
    assert_eq!(doc["tls"]["alpn"], "h2");
    assert_eq!(doc["http"]["protocol"], "HTTP/2");
    assert_eq!(doc["http"]["status"], 200);
    // 100 kB crosses the 64 KiB initial window: flow control is given back.
    assert_eq!(doc["http"]["body_bytes"], 100_000);
    assert!(kinds(&doc).is_empty(), "{doc}");
}

/// Offering only HTTP/1.1 to a server that accepts only h2: it answers with
/// alert no_application_protocol.
#[test]
fn alpn_without_overlap_is_alpn_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("netsleuth test CA");
    let leaf = pki.leaf(&["127.0.0.1"], false);
    let ca = ca_file(dir.path(), &pki);
    let mut server = leaf.server(&[&rustls::version::TLS13]);
    server.alpn = vec![b"h2".to_vec()];
    let port = http_server(Reply::Status(200, FAST), 1, Some(server));
    let url = format!("https://127.0.0.1:{port}/");
    let (code, doc, _) = probe_json(&["--cacert", &ca, "--alpn", "http/1.1", &url]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["tls.alpn_mismatch"], "{doc}");
    let s = doc["findings"][0]["summary"].as_str().unwrap();
    assert!(
        s.contains("no_application_protocol") && s.contains("http/1.1"),
        "{s}"
    );
}

fn tls_failure(
    leaf_names: &[&str],
    expired: bool,
    server_versions: &[&'static rustls::SupportedProtocolVersion],
    extra: &[&str],
    trust_other_ca: bool,
) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("netsleuth test CA");
    let leaf = pki.leaf(leaf_names, expired);
    let port = http_server(
        Reply::Status(200, FAST),
        1,
        Some(leaf.server(server_versions)),
    );
    let ca = if trust_other_ca {
        ca_file(dir.path(), &Pki::new("some other CA"))
    } else {
        ca_file(dir.path(), &pki)
    };
    let url = format!("https://127.0.0.1:{port}/");
    let mut args = vec!["--cacert", ca.as_str()];
    args.extend_from_slice(extra);
    args.push(&url);
    let (code, doc, _) = probe_json(&args);
    (code, doc)
}

/// A TLS 1.3-only server probed with --tls-version 1.2: protocol_version alert.
#[test]
fn tls13_only_server_with_tls12_client_is_version_mismatch() {
    let (code, doc) = tls_failure(
        &["127.0.0.1"],
        false,
        &[&rustls::version::TLS13],
        &["--tls-version", "1.2"],
        false,
    );
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["tls.version_mismatch"]);
    let s = doc["findings"][0]["summary"].as_str().unwrap();
    assert!(
        s.contains("protocol_version") && s.contains("TLS 1.2"),
        "{s}"
    );
    assert_eq!(doc["verdict"]["phase"], "tls");
}

/// A certificate valid in 2020 only.
#[test]
fn expired_certificate() {
    let (code, doc) = tls_failure(&["127.0.0.1"], true, &[&rustls::version::TLS13], &[], false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["tls.cert_expired"]);
    assert!(doc["tls"]["days_to_expiry"].as_i64().unwrap() < -365 * 5);
    // The chain is reported even though the handshake failed.
    assert_eq!(
        doc["tls"]["certificates"][0]["not_after"],
        "2021-01-01T00:00:00Z"
    );
    // --insecure goes on to HTTP and still reports the certificate.
    let (code, doc) = tls_failure(
        &["127.0.0.1"],
        true,
        &[&rustls::version::TLS13],
        &["--insecure"],
        false,
    );
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["http"]["status"], 200);
    assert_eq!(kinds(&doc), ["tls.cert_expired"]);
}

/// The certificate is for another name.
#[test]
fn wrong_name_is_sni_mismatch() {
    let (code, doc) = tls_failure(
        &["other.test"],
        false,
        &[&rustls::version::TLS13],
        &[],
        false,
    );
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["tls.sni_mismatch"]);
    assert_eq!(doc["tls"]["certificates"][0]["sans"][0], "other.test");
}

/// A plain TCP server that never speaks: the ClientHello goes unanswered.
#[test]
fn silent_tls_server_is_handshake_timeout() {
    let port = http_server(Reply::Silent, 1, None);
    let started = Instant::now();
    let (code, doc, _) = probe_json(&[
        "--tls-timeout",
        "500ms",
        &format!("https://127.0.0.1:{port}/"),
    ]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["tls.handshake_timeout"]);
    assert_eq!(doc["verdict"]["phase"], "tls");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Signed by a CA the client does not trust.
#[test]
fn untrusted_issuer_is_unknown_ca() {
    let (code, doc) = tls_failure(&["127.0.0.1"], false, &[&rustls::version::TLS12], &[], true);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["tls.unknown_ca"]);
}

/// DNS answers from a server named with --dns-server: NXDOMAIN fails at the
/// DNS step; a resolvable name goes on to the HTTP server.
#[test]
fn dns_answers_and_failures() {
    let port = http_server(Reply::Status(200, FAST), 1, None);
    let dns = dns_server(
        vec![
            ("api.probe.test", DnsAnswer::A([127, 0, 0, 1])),
            ("broken.probe.test", DnsAnswer::Rcode(2)),
        ],
        20,
    );
    let server = dns.to_string();
    let (code, doc, _) = probe_json(&[
        "--dns-server",
        &server,
        &format!("http://api.probe.test:{port}/"),
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["dns"]["addresses"][0], "127.0.0.1");
    assert_eq!(doc["dns"]["queries"][0]["rcode"], "NOERROR");
    assert!(doc["dns"]["resolver"]
        .as_str()
        .unwrap()
        .contains("--dns-server"));
    let (code, doc, _) = probe_json(&["--dns-server", &server, "http://missing.probe.test/"]);
    assert_eq!(code, 1);
    assert!(kinds(&doc).contains(&"dns.nxdomain".to_string()), "{doc}");
    assert_eq!(doc["verdict"]["phase"], "dns");
    let (code, doc, _) = probe_json(&["--dns-server", &server, "-4", "http://broken.probe.test/"]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["dns.servfail"]);
}

/// A name with an IPv6 and an IPv4 address, served on IPv4 only: in order,
/// IPv4 comes first and connects; with --happy-eyeballs IPv6 is tried first,
/// is refused, and IPv4 connects at once instead of after the 250 ms delay.
#[test]
fn happy_eyeballs_falls_back_between_families() {
    let port = http_server(Reply::Status(200, FAST), 2, None);
    let mut v6 = [0u8; 16];
    v6[15] = 1;
    let dns = dns_server(
        vec![("dual.probe.test", DnsAnswer::Dual([127, 0, 0, 1], v6))],
        10,
    );
    let url = format!("http://dual.probe.test:{port}/");
    let (code, doc, _) = probe_json(&["--dns-server", &dns.to_string(), &url]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        doc["dns"]["addresses"],
        serde_json::json!(["127.0.0.1", "::1"])
    );
    assert_eq!(doc["connect"]["attempts"].as_array().unwrap().len(), 1);
    let (code, doc, _) = probe_json(&["--dns-server", &dns.to_string(), "--happy-eyeballs", &url]);
    assert_eq!(code, 0, "{doc}");
    let attempts = doc["connect"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{doc}");
    assert_eq!(attempts[0]["addr"], format!("[::1]:{port}"));
    // Refused where ::1 exists; unreachable where IPv6 is off.
    assert_ne!(attempts[0]["outcome"], "connected");
    assert_eq!(attempts[1]["outcome"], "connected");
    assert!(doc["phases_ms"]["connect"].as_f64().unwrap() < 250.0);
}

/// The resolver answers A but drops AAAA: the call goes on with the IPv4
/// address, and the lost AAAA queries (where the DNS time went) are a warning.
#[test]
fn unanswered_aaaa_is_a_warning_not_a_failure() {
    let port = http_server(Reply::Status(200, FAST), 1, None);
    let dns = dns_server(
        vec![("v4only.probe.test", DnsAnswer::ADropAaaa([127, 0, 0, 1]))],
        10,
    );
    let (code, doc, _) = probe_json(&[
        "--dns-server",
        &dns.to_string(),
        "--dns-timeout",
        "150ms",
        &format!("http://v4only.probe.test:{port}/"),
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["http"]["status"], 200);
    assert_eq!(kinds(&doc), ["dns.timeout"]);
    assert_eq!(doc["findings"][0]["severity"], "warning");
    assert!(doc["findings"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("AAAA"));
    assert!(doc["phases_ms"]["dns"].as_f64().unwrap() >= 300.0);
}

/// A resolver that never answers: two attempts, then dns.timeout.
#[test]
fn silent_resolver_times_out() {
    let dns = dns_server(vec![("silent.probe.test", DnsAnswer::Silent)], 10);
    let (code, doc, _) = probe_json(&[
        "--dns-server",
        &dns.to_string(),
        "--dns-timeout",
        "200ms",
        "-4",
        "http://silent.probe.test/",
    ]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["dns.timeout"]);
    let s = doc["findings"][0]["summary"].as_str().unwrap();
    assert!(s.contains("2 queries"), "{s}");
}

/// No DNS server on the port: the ICMP port unreachable is the answer, at once.
#[test]
fn resolver_port_closed_is_unreachable() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let started = Instant::now();
    let (code, doc, _) = probe_json(&["--dns-server", &closed, "-4", "http://x.probe.test/"]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&doc), ["dns.timeout"]);
    let f = &doc["findings"][0];
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("ICMP port unreachable"),
        "{f}"
    );
    assert!(
        f["next_step"]
            .as_str()
            .unwrap()
            .contains("nothing listens on port"),
        "{f}"
    );
    // Refused at once, not after the 2 s attempt time-out.
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A slow resolver answers after 300 ms: dns.slow, and the call still works.
#[test]
fn slow_resolver_is_a_warning() {
    let port = http_server(Reply::Status(200, FAST), 1, None);
    let dns = dns_server(
        vec![(
            "slow.probe.test",
            DnsAnswer::SlowA([127, 0, 0, 1], Duration::from_millis(300)),
        )],
        10,
    );
    let (code, doc, _) = probe_json(&[
        "--dns-server",
        &dns.to_string(),
        "-4",
        &format!("http://slow.probe.test:{port}/"),
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(kinds(&doc), ["dns.slow"]);
    assert!(doc["phases_ms"]["dns"].as_f64().unwrap() >= 300.0);
}

/// Three probes: a table of per-phase statistics, and the same in JSON.
#[test]
fn repetition_summarises_each_phase() {
    let port = http_server(Reply::Status(200, FAST), 6, None);
    let url = format!("http://127.0.0.1:{port}/");
    let (code, doc, _) = probe_json(&["-n", "3", "--interval", "20ms", &url]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["runs"].as_array().unwrap().len(), 3);
    assert_eq!(doc["summary"]["runs"], 3);
    assert_eq!(doc["summary"]["ok"], 3);
    let ttfb = doc["summary"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "ttfb")
        .unwrap();
    assert_eq!(ttfb["samples"], 3);
    assert!(ttfb["min"].as_f64().unwrap() <= ttfb["max"].as_f64().unwrap());
    let (code, out, _) = run(&["probe", "-n", "3", "--interval", "20ms", &url]);
    assert_eq!(code, 0);
    assert!(out.contains("3 probes, 3 ok, 0 failed"), "{out}");
    assert!(
        out.contains("median") && out.contains("p95") && out.contains("jitter"),
        "{out}"
    );
}

/// Usage errors exit 2 with one line naming the fix.
#[test]
fn bad_arguments_exit_2() {
    for (args, expect) in [
        (vec!["probe", "ftp://x/"], "not an http:// or https:// URL"),
        (vec!["probe", "http://h:99999/"], "1 to 65535"),
        (
            vec!["probe", "-H", "no colon", "http://h/"],
            "'Name: value'",
        ),
        (
            vec!["probe", "--dns-server", "resolver", "http://h/"],
            "--dns-server",
        ),
        (
            vec!["probe", "--cacert", "/nonexistent.pem", "https://h/"],
            "--cacert",
        ),
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

/// With SSLKEYLOGFILE set, the probe's own HTTPS capture is analyzed
/// decrypted: the 500 is evidence from the packets too.
#[test]
fn capture_of_https_is_decrypted_with_the_probe_keys() {
    if !can_capture("capture_of_https_is_decrypted_with_the_probe_keys") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("netsleuth test CA");
    let leaf = pki.leaf(&["127.0.0.1"], false);
    let ca = ca_file(dir.path(), &pki);
    let port = http_server(
        Reply::Status(500, FAST),
        1,
        Some(leaf.server(&[&rustls::version::TLS13])),
    );
    let file = dir.path().join("probe.pcap");
    let keys = dir.path().join("keys.log");
    let out = crate::util::netsleuth()
        .args(["probe", "--json", "--cacert", &ca, "--capture"])
        .arg(&file)
        .arg(format!("https://127.0.0.1:{port}/v1/checkout"))
        .env("SSLKEYLOGFILE", &keys)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(kinds(&doc), ["http.server_error"]);
    let (_, read, _) = run(&["read", file.to_str().unwrap()]);
    let keylog = std::fs::read_to_string(&keys).unwrap_or_default();
    let evidence = doc["evidence"].as_array().unwrap_or_else(|| {
        panic!(
            "no evidence: {doc}\nstderr: {}\ncapture:\n{read}\nkeys: {} lines",
            String::from_utf8_lossy(&out.stderr),
            keylog.lines().count()
        )
    });
    assert!(
        evidence.iter().any(|e| e["kind"] == "http.server_error"
            && e["summary"].as_str().unwrap().contains("decrypted HTTPS")),
        "{doc}"
    );
}

/// A black-holed address (a namespace dropping the SYNs): connect time-out
/// within --connect-timeout, not a refusal.
#[test]
fn black_holed_address_times_out() {
    if !can_capture("black_holed_address_times_out (needs root for namespaces)") {
        return;
    }
    let mut hosts = netns::TwoHosts::new("pb");
    let server = hosts.server.name.clone();
    hosts.drop_rule(&server, "INPUT", "-p tcp --dport 8080 -j DROP");
    let url = format!("http://{}:8080/", hosts.server_ip);
    let started = Instant::now();
    let out = netns::ns_command(
        &hosts.client.name,
        &[
            env!("CARGO_BIN_EXE_netsleuth"),
            "probe",
            "--json",
            "--connect-timeout",
            "1s",
            &url,
        ],
    )
    .output()
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(kinds(&doc), ["tcp.connect_timeout"]);
    assert_eq!(doc["connect"]["attempts"][0]["outcome"], "timed_out");

    // With --capture, the packets say why: SYNs sent, none answered.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.pcap");
    let out = netns::ns_command(
        &hosts.client.name,
        &[
            env!("CARGO_BIN_EXE_netsleuth"),
            "probe",
            "--connect-timeout",
            "2500ms",
            "--capture",
            file.to_str().unwrap(),
            &url,
        ],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("evidence from the capture:"), "{text}");
    let evidence = text.split("evidence from the capture:").nth(1).unwrap();
    assert!(evidence.contains("tcp.connect_timeout"), "{text}");
    assert!(file.exists());
}

/// --capture on loopback: the refused connection's SYN and RST are the evidence.
#[test]
fn capture_attaches_packet_evidence() {
    if !can_capture("capture_attaches_packet_evidence") {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.pcap");
    let (code, doc, err) = probe_json(&[
        "--capture",
        file.to_str().unwrap(),
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("captured 2 packets"), "{err}");
    let evidence = doc["evidence"].as_array().expect("evidence");
    assert_eq!(evidence.len(), 1, "{doc}");
    assert_eq!(evidence[0]["kind"], "tcp.connect_refused");
    assert_eq!(evidence[0]["frames"], serde_json::json!([1, 2]));
    // The probe's own finding names both ends.
    assert!(doc["findings"][0]["client"].as_str().is_some(), "{doc}");
}
