//! Verdicts on a real client's traffic: Go's net/http (tests/go/httpclient,
//! which prints httptrace's own clock for every phase) and Python's
//! http.client against a Go server (tests/go/httpserver), in network
//! namespaces with the production faults of ../shared/LAB.md made for real:
//! a lost first SYN, a pooled connection forgotten by conntrack (RST or
//! silence), a server keep-alive shorter than the client's pool.
//!
//! Every test checks the finding with its numbers, and the phases the tool
//! reports against httptrace: within 1 ms + 5%. Each run prints its
//! `|tool - httptrace|` differences (`phase-diff` lines) for the record.
//! Tests skip, with the reason printed, when not root or without Go.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::util::go;
use crate::util::live::{assert_close, findings, of_type, problems, realtime};
use crate::util::netns::{exec_bounded, NsCapture, Routed, TwoHosts, CLIENT_IF};
use crate::util::{analyze_records, can_capture};

const PORT: u16 = 8080;

/// The Go lab client and server; `None` when Go is missing.
fn go_programs() -> Option<&'static (PathBuf, PathBuf)> {
    static BUILT: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    BUILT
        .get_or_init(|| Some((go::program("httpclient")?, go::program("httpserver")?)))
        .as_ref()
}

/// Copies a capture to `$NETSLEUTH_KEEP_CAPTURES/NAME.pcap` when that is set.
fn keep(file: &Path, name: &str) {
    if let Some(dir) = std::env::var_os("NETSLEUTH_KEEP_CAPTURES") {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::copy(file, Path::new(&dir).join(format!("{name}.pcap")));
    }
}

/// Root and Go, or the reason printed.
fn lab(test: &str) -> Option<&'static (PathBuf, PathBuf)> {
    if !can_capture(test) {
        return None;
    }
    let built = go_programs();
    if built.is_none() {
        eprintln!("skipping {test}: cannot build the Go lab programs (install golang-go)");
    }
    built
}

/// One request as the Go client saw it.
#[derive(Debug)]
struct Trace {
    status: u64,
    error: String,
    connect_ms: f64,
    tls_ms: f64,
    wait_ms: f64,
}

fn traces(stdout: &str) -> Vec<Trace> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| Trace {
            status: v["status"].as_u64().unwrap_or(0),
            error: v["error"].as_str().unwrap_or("").to_string(),
            connect_ms: v["connect_ms"].as_f64().unwrap_or(0.0),
            tls_ms: v["tls_ms"].as_f64().unwrap_or(0.0),
            wait_ms: v["wait_ms"].as_f64().unwrap_or(0.0),
        })
        .collect()
}

/// The HTTP records, in order of their connection and start.
fn http(records: &[Value]) -> Vec<&Value> {
    let mut h = of_type(records, "http");
    h.sort_by(|a, b| {
        (a["conn"].as_u64(), a["start"].as_str()).cmp(&(b["conn"].as_u64(), b["start"].as_str()))
    });
    h
}

fn summary(f: &Value) -> &str {
    f["summary"].as_str().unwrap_or("")
}

/// The phases of `record` (an http record) on the client's clock `trace`,
/// each within 1 ms + 5%: the wait, and on a connection's first call
/// (`first`) the connect and, when the client made one, the TLS handshake.
fn assert_phases(what: &str, record: &Value, trace: &Trace, first: bool) {
    let t = &record["timing_ms"];
    if first {
        let connect = t["connect"].as_f64().expect("a connect phase");
        assert_close(&format!("connect ({what})"), connect, trace.connect_ms);
        if trace.tls_ms > 0.0 {
            let tls = t["tls"].as_f64().expect("a tls phase");
            assert_close(&format!("tls ({what})"), tls, trace.tls_ms);
        }
    }
    let wait = t["wait"].as_f64().expect("a wait phase");
    assert_close(&format!("wait ({what})"), wait, trace.wait_ms);
}

/// The number before `unit` in `text` after `after`, e.g. the "3.00" of
/// "sent after 3.00 s idle".
fn seconds_after(text: &str, after: &str) -> f64 {
    let rest = text
        .split_once(after)
        .unwrap_or_else(|| panic!("no '{after}' in: {text}"))
        .1;
    let mut words = rest.split_whitespace();
    let n: f64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(f64::NAN);
    match words.next() {
        Some("s") => n,
        Some("ms") => n / 1e3,
        _ => f64::NAN,
    }
}

/// Runs the Go client in `ns` with `args`, returning what it printed. It runs
/// under real-time scheduling (SCHED_FIFO) when `chrt` can set it: its clock
/// should hold the network, not the time a loaded test machine took to wake
/// its goroutines (seen: 8 ms on a connect of 60 µs while tests ran beside).
fn go_client(ns: &str, client: &Path, args: &[&str], limit: Duration) -> Vec<Trace> {
    let mut cmd = vec![client.to_str().expect("utf-8 path")];
    cmd.extend_from_slice(args);
    let cmd = realtime(&cmd);
    let (_, out, err) = exec_bounded(ns, &cmd, limit);
    let t = traces(&out);
    assert!(!t.is_empty(), "the Go client printed nothing: {err}");
    t
}

#[test]
fn lost_first_syn_is_a_second_lost_at_connect() {
    let Some((client, server)) = lab("lost_first_syn_is_a_second_lost_at_connect") else {
        return;
    };
    let mut net = Routed::new("syn");
    // The first SYN of each connection dies in the router: real loss the
    // client is not told about; Linux resends it after 1 s.
    let router = net.router.name.clone();
    net.drop_rule(
        &router,
        "FORWARD",
        &format!(
            "-p tcp --dport {PORT} --syn -m statistic --mode nth --every 2 --packet 0 -j DROP"
        ),
    );
    let listen = format!("0.0.0.0:{PORT}");
    let mut srv = net
        .server
        .spawn(&[server.to_str().unwrap(), "-listen", &listen]);
    srv.wait_for_stdout("listening", Duration::from_secs(10));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("syn.pcap");
    let cap = NsCapture::start(&net.client.name, CLIENT_IF, &file, "tcp port 8080");
    let url = format!("http://{}:{PORT}/v1/orders", net.server_ip);
    let t = go_client(
        &net.client.name,
        client,
        &["-url", &url],
        Duration::from_secs(20),
    );
    cap.finish();
    keep(&file, "syn");
    assert_eq!(t[0].status, 200, "{t:?}");
    assert!(t[0].connect_ms > 900.0, "the SYN was not lost: {t:?}");

    let records = analyze_records(&file, &[]);
    let f = findings(&records, "tcp.syn_retransmit");
    assert_eq!(f.len(), 1, "{:?}", problems(&records));
    assert_eq!(f[0]["severity"], "warning");
    let s = summary(f[0]);
    assert!(s.contains("lost to a resent SYN"), "{s}");
    assert!(
        s.contains("the SYN was lost on the way to the server"),
        "{s}"
    );
    let lost = s.split_whitespace().next().unwrap().parse::<f64>().unwrap();
    assert!((0.9..1.2).contains(&lost), "{s}");
    let story = of_type(&records, "story");
    assert!(
        story.iter().any(|st| st["headline"]
            .as_str()
            .unwrap_or("")
            .contains("was slow at the TCP connect step")),
        "{story:?}"
    );
    let h = http(&records);
    assert_eq!(h.len(), 1);
    assert_phases("lost SYN", h[0], &t[0], true);
}

/// A client and a Go server in two namespaces; the server's namespace
/// forgets established connections after 2 s idle (conntrack) and answers
/// what it no longer knows with `verdict` (`REJECT --reject-with tcp-reset`
/// or `DROP`).
fn forgetful_path(tag: &str, verdict: &str, server: &Path) -> (TwoHosts, crate::util::netns::Proc) {
    forgetful_server(tag, verdict, server, &[])
}

/// [`forgetful_path`] with more server flags (`-tls`).
fn forgetful_server(
    tag: &str,
    verdict: &str,
    server: &Path,
    flags: &[&str],
) -> (TwoHosts, crate::util::netns::Proc) {
    let mut net = TwoHosts::new(tag);
    let sns = net.server.name.clone();
    net.drop_rule(
        &sns,
        "INPUT",
        &format!("-p tcp --dport {PORT} -m conntrack --ctstate INVALID -j {verdict}"),
    );
    net.server.exec(&[
        "sysctl",
        "-qw",
        "net.netfilter.nf_conntrack_tcp_timeout_established=2",
    ]);
    net.server
        .exec(&["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0"]);
    let listen = format!("0.0.0.0:{PORT}");
    let mut cmd = vec![server.to_str().unwrap(), "-listen", &listen];
    cmd.extend_from_slice(flags);
    let mut srv = net.server.spawn(&cmd);
    srv.wait_for_stdout("listening", Duration::from_secs(10));
    (net, srv)
}

#[test]
fn pooled_connection_forgotten_by_conntrack_is_idle_then_reset_and_replayed() {
    let Some((client, server)) =
        lab("pooled_connection_forgotten_by_conntrack_is_idle_then_reset_and_replayed")
    else {
        return;
    };
    let (net, _srv) = forgetful_path("rst", "REJECT --reject-with tcp-reset", server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rst.pcap");
    let cap = NsCapture::start(&net.client.name, CLIENT_IF, &file, "tcp port 8080");
    let url = format!("http://{}:{PORT}/v1/items", net.server_ip);
    // GET, 3 s idle, GET on the pooled connection: it meets the RST and Go
    // replays it on a new connection; then a POST after 3 s idle, which Go
    // does not replay.
    let get = go_client(
        &net.client.name,
        client,
        &["-url", &url, "-n", "2", "-wait", "3s"],
        Duration::from_secs(20),
    );
    cap.finish();
    keep(&file, "rst");
    assert_eq!(get.len(), 2);
    assert!(get.iter().all(|t| t.status == 200), "{get:?}");

    let records = analyze_records(&file, &[]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", problems(&records));
    let s = summary(f[0]);
    let idle = seconds_after(s, "sent after");
    assert!((2.9..3.3).contains(&idle), "{s}");
    assert!(s.contains("was replayed on conn"), "{s}");
    assert_eq!(
        f[0]["severity"], "warning",
        "a replayed GET that succeeded: {s}"
    );
    assert!(
        findings(&records, "tcp.reset_by_server").is_empty(),
        "{:?}",
        problems(&records)
    );
    let h = http(&records);
    let replay: Vec<_> = h
        .iter()
        .filter(|r| r["replay_of"] == f[0]["conn"])
        .collect();
    assert_eq!(replay.len(), 1, "{h:?}");
    assert_eq!(replay[0]["status"], 200);
    // The first call's phases on the client's own clock.
    let first = h
        .iter()
        .find(|r| !r["timing_ms"]["connect"].is_null())
        .unwrap();
    assert_phases("conntrack", first, &get[0], true);
}

#[test]
fn post_on_a_forgotten_connection_fails_and_is_an_error() {
    let Some((client, server)) = lab("post_on_a_forgotten_connection_fails_and_is_an_error") else {
        return;
    };
    let (net, _srv) = forgetful_path("post", "REJECT --reject-with tcp-reset", server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("post.pcap");
    let cap = NsCapture::start(&net.client.name, CLIENT_IF, &file, "tcp port 8080");
    let url = format!("http://{}:{PORT}/v1/payments", net.server_ip);
    let t = go_client(
        &net.client.name,
        client,
        &[
            "-url",
            &url,
            "-n",
            "2",
            "-wait",
            "3s",
            "-method",
            "POST",
            "-body",
            "{\"amount\":5}",
        ],
        Duration::from_secs(20),
    );
    cap.finish();
    keep(&file, "post");
    assert_eq!(t[0].status, 200, "{t:?}");
    assert!(
        t[1].error.contains("reset"),
        "Go reports the reset to the caller: {t:?}"
    );

    let records = analyze_records(&file, &[]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", problems(&records));
    let s = summary(f[0]);
    assert_eq!(f[0]["severity"], "error", "{s}");
    assert!(s.contains("POST /v1/payments was not sent again"), "{s}");
}

#[test]
fn pooled_connection_dropped_silently_is_idle_then_blackhole() {
    let Some((client, server)) = lab("pooled_connection_dropped_silently_is_idle_then_blackhole")
    else {
        return;
    };
    let (net, _srv) = forgetful_path("bh", "DROP", server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bh.pcap");
    let cap = NsCapture::start(&net.client.name, CLIENT_IF, &file, "tcp port 8080");
    let url = format!("http://{}:{PORT}/v1/items", net.server_ip);
    let t = go_client(
        &net.client.name,
        client,
        &["-url", &url, "-n", "2", "-wait", "3s", "-timeout", "2500ms"],
        Duration::from_secs(20),
    );
    cap.finish();
    keep(&file, "bh");
    assert_eq!(t[0].status, 200, "{t:?}");
    assert!(!t[1].error.is_empty(), "the second call times out: {t:?}");

    let records = analyze_records(&file, &[]);
    let f = findings(&records, "tcp.idle_then_blackhole");
    assert_eq!(f.len(), 1, "{:?}", problems(&records));
    let s = summary(f[0]);
    assert_eq!(f[0]["severity"], "error", "{s}");
    let idle = seconds_after(s, "sent after");
    assert!((2.9..3.3).contains(&idle), "{s}");
    for noise in [
        "tcp.reset_by_client",
        "tcp.retransmissions",
        "tcp.idle_then_reset",
    ] {
        assert!(
            findings(&records, noise).is_empty(),
            "{noise}: {:?}",
            problems(&records)
        );
    }
}

/// Python's http.client writes on a pooled connection without checking it
/// first: after the server's keep-alive time-out closed it, the request
/// meets an RST ("server closed idle connection").
const STALE_CLIENT_PY: &str = r#"
import http.client, sys, time
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=5)
c.request("GET", "/v1/a"); r = c.getresponse(); r.read(); print("first", r.status, flush=True)
time.sleep(float(sys.argv[3]))
try:
    c.request("GET", "/v1/b"); r = c.getresponse(); r.read(); print("second", r.status, flush=True)
except Exception as e:
    print("second failed", type(e).__name__, flush=True)
"#;

#[test]
fn request_on_a_connection_the_server_closed_is_a_stale_connection() {
    let Some((_, server)) = lab("request_on_a_connection_the_server_closed_is_a_stale_connection")
    else {
        return;
    };
    let net = TwoHosts::new("stale");
    let listen = format!("0.0.0.0:{PORT}");
    let mut srv = net
        .server
        .spawn(&[server.to_str().unwrap(), "-listen", &listen, "-idle", "1s"]);
    srv.wait_for_stdout("listening", Duration::from_secs(10));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stale.pcap");
    let cap = NsCapture::start(&net.client.name, CLIENT_IF, &file, "tcp port 8080");
    let port = PORT.to_string();
    let (_, out, err) = exec_bounded(
        &net.client.name,
        &["python3", "-c", STALE_CLIENT_PY, &net.server_ip, &port, "2"],
        Duration::from_secs(15),
    );
    cap.finish();
    keep(&file, "stale");
    assert!(
        out.contains("first 200") && out.contains("second failed"),
        "{out} {err}"
    );

    let records = analyze_records(&file, &[]);
    let f = findings(&records, "http.stale_connection");
    assert_eq!(f.len(), 1, "{:?}", problems(&records));
    let s = summary(f[0]);
    let keepalive = seconds_after(s, "FIN after");
    assert!((0.95..1.3).contains(&keepalive), "{s}");
    assert!(f[0]["next_step"]
        .as_str()
        .unwrap()
        .contains("IdleConnTimeout"));
    assert!(
        findings(&records, "tcp.reset_by_server").is_empty(),
        "{:?}",
        problems(&records)
    );
}

#[test]
fn go_client_healthy_keep_alive_and_server_idle_close_get_no_finding() {
    let Some((client, server)) =
        lab("go_client_healthy_keep_alive_and_server_idle_close_get_no_finding")
    else {
        return;
    };
    let net = TwoHosts::new("ok");
    let listen = format!("0.0.0.0:{PORT}");
    // The server closes idle connections after 1 s; Go's pool notices the FIN
    // and dials again: no request is lost, nothing to report.
    let mut srv = net.server.spawn(&[
        server.to_str().unwrap(),
        "-listen",
        &listen,
        "-idle",
        "1s",
        "-think",
        "20ms",
    ]);
    srv.wait_for_stdout("listening", Duration::from_secs(10));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ok.pcap");
    let cap = NsCapture::start(&net.client.name, CLIENT_IF, &file, "tcp port 8080");
    let url = format!("http://{}:{PORT}/v1/items", net.server_ip);
    let t = go_client(
        &net.client.name,
        client,
        &["-url", &url, "-n", "4", "-wait", "700ms"],
        Duration::from_secs(20),
    );
    cap.finish();
    keep(&file, "ok");
    assert!(t.iter().all(|t| t.status == 200), "{t:?}");

    let records = analyze_records(&file, &[]);
    assert!(problems(&records).is_empty(), "{:?}", problems(&records));
    let h = http(&records);
    assert_eq!(h.len(), 4);
    for (i, (r, tr)) in h.iter().zip(&t).enumerate() {
        assert_phases(&format!("healthy #{i}"), r, tr, i == 0);
    }
}

#[test]
fn https_pooled_connection_forgotten_is_idle_then_reset_with_or_without_keys() {
    let Some((client, server)) =
        lab("https_pooled_connection_forgotten_is_idle_then_reset_with_or_without_keys")
    else {
        return;
    };
    let (net, _srv) = forgetful_server("tls", "REJECT --reject-with tcp-reset", server, &["-tls"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tls.pcap");
    let keys = dir.path().join("keys.log");
    let cap = NsCapture::start(&net.client.name, CLIENT_IF, &file, "tcp port 8080");
    let url = format!("https://{}:{PORT}/v1/items", net.server_ip);
    let t = go_client(
        &net.client.name,
        client,
        &[
            "-url",
            &url,
            "-n",
            "2",
            "-wait",
            "3s",
            "-insecure",
            "-keylog",
            keys.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    cap.finish();
    keep(&file, "tls");
    assert!(
        t.iter().all(|t| t.status == 200),
        "Go replays the GET: {t:?}"
    );

    // Without keys the request is not visible: the next connection is named.
    let records = analyze_records(&file, &[]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", problems(&records));
    let s = summary(f[0]);
    assert!(
        s.contains("likely its retry (the server answered on it"),
        "{s}"
    );
    let tls = of_type(&records, "tls");
    assert!(!tls.is_empty());
    // With Go's key log (tls.Config.KeyLogWriter) the replay is the same GET.
    let records = analyze_records(&file, &["--keylog", keys.to_str().unwrap()]);
    let f = findings(&records, "tcp.idle_then_reset");
    assert_eq!(f.len(), 1, "{:?}", problems(&records));
    let s = summary(f[0]);
    assert!(s.contains("GET /v1/items was replayed on conn"), "{s}");
    assert_eq!(f[0]["severity"], "warning");
    let h = http(&records);
    let first = h
        .iter()
        .find(|r| !r["timing_ms"]["connect"].is_null())
        .unwrap();
    assert_phases("https", first, &t[0], true);
}

#[test]
fn lost_first_syn_with_curl_matches_curls_own_timing() {
    let Some((_, server)) = lab("lost_first_syn_with_curl_matches_curls_own_timing") else {
        return;
    };
    let mut net = Routed::new("curl");
    let router = net.router.name.clone();
    net.drop_rule(
        &router,
        "FORWARD",
        &format!(
            "-p tcp --dport {PORT} --syn -m statistic --mode nth --every 2 --packet 0 -j DROP"
        ),
    );
    let listen = format!("0.0.0.0:{PORT}");
    let mut srv = net.server.spawn(&[
        server.to_str().unwrap(),
        "-listen",
        &listen,
        "-think",
        "30ms",
    ]);
    srv.wait_for_stdout("listening", Duration::from_secs(10));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("curl.pcap");
    let cap = NsCapture::start(&net.client.name, CLIENT_IF, &file, "tcp port 8080");
    let url = format!("http://{}:{PORT}/v1/orders", net.server_ip);
    let cmd = realtime(&[
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{time_connect} %{time_pretransfer} %{time_starttransfer}",
        url.as_str(),
    ]);
    let (ok, out, err) = exec_bounded(&net.client.name, &cmd, Duration::from_secs(20));
    cap.finish();
    keep(&file, "curl");
    assert!(ok, "curl failed: {err}");
    let secs: Vec<f64> = out
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(secs.len(), 3, "{out}");
    let (connect, wait) = (secs[0] * 1e3, (secs[2] - secs[1]) * 1e3);

    let records = analyze_records(&file, &[]);
    let f = findings(&records, "tcp.syn_retransmit");
    assert_eq!(f.len(), 1, "{:?}", problems(&records));
    let h = http(&records);
    assert_eq!(h.len(), 1);
    let timing = &h[0]["timing_ms"];
    assert_close(
        "connect (curl, lost SYN)",
        timing["connect"].as_f64().unwrap(),
        connect,
    );
    assert_close("wait (curl)", timing["wait"].as_f64().unwrap(), wait);
}
