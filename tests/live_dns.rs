//! Issue 11 on real resolvers: dnsmasq in a server namespace, a client
//! namespace whose resolv.conf (bind-mounted by `ip netns exec` from
//! `/etc/netns/NS/resolv.conf`) has `search svc.cluster.local cluster.local`
//! and `options ndots:5`, and two real stub resolvers: Go's (built from
//! `tests/go/dnsclient/main.go`, its queries dialled to dnsmasq on port 15353)
//! and glibc's (`getent ahosts`, port 53). Captured on the client's veth and
//! read back through `analyze --jsonl`.
//!
//! dnsmasq is authoritative for `cluster.local` and `example` (`--local`), so
//! every search-list name gets NXDOMAIN, and `api.example` has an A record
//! (`--host-record`: NOERROR without data for AAAA) with a 60 s TTL.
//! Skipped, with the reason printed, when not root or without go/dnsmasq.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::util::live::{findings, of_type};
use crate::util::netns::{exec_bounded, NsCapture, Proc, ResolvConf, TwoHosts, CLIENT_IF};
use crate::util::{analyze_records, can_capture};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// The Go DNS client, built once.
fn dns_client() -> PathBuf {
    crate::util::go::program("dnsclient").expect("go build of tests/go/dnsclient")
}

/// The DNS phase of each call on Go's own clock (httptrace DNSStart to
/// DNSDone), from the client's `dns_ms` lines.
fn go_dns_ms(out: &str) -> Vec<f64> {
    out.lines()
        .filter_map(|l| l.strip_prefix("dns_ms "))
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Whether this test can run; prints why not.
fn ready(test: &str, need_go: bool) -> bool {
    if !can_capture(test) {
        return false;
    }
    if !Path::new(DNSMASQ).exists() {
        eprintln!("skipping {test}: {DNSMASQ} is not installed (apt-get install dnsmasq-base)");
        return false;
    }
    if need_go && crate::util::go::toolchain().is_none() {
        eprintln!("skipping {test}: no Go toolchain (apt-get install golang-go)");
        return false;
    }
    true
}

/// The client's resolv.conf: the cluster-style search list, one attempt.
fn cluster_resolv(ns: &str, nameserver: &str) -> ResolvConf {
    ResolvConf::with(
        ns,
        &format!(
            "nameserver {nameserver}\nsearch svc.cluster.local cluster.local\noptions ndots:5 timeout:2 attempts:1\n"
        ),
    )
}

/// The lab: two namespaces, the client's resolv.conf, dnsmasq on `port` at
/// the server's address, and (with `http`) a Python HTTP server on 8080.
struct Lab {
    // Processes first: they stop before their namespaces go.
    _procs: Vec<Proc>,
    _resolv: ResolvConf,
    hosts: TwoHosts,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new(tag: &str, port: u16, http: bool) -> Lab {
        let hosts = TwoHosts::new(tag);
        let dir = tempfile::tempdir().expect("tempdir");
        let resolv = cluster_resolv(&hosts.client.name, &hosts.server_ip);
        let pid = dir.path().join("dnsmasq.pid");
        let mut procs = vec![hosts.server.spawn(&[
            DNSMASQ,
            "--no-daemon",
            "--conf-file=/dev/null",
            &format!("--port={port}"),
            &format!("--listen-address={}", hosts.server_ip),
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--local=/cluster.local/",
            "--local=/example/",
            &format!("--host-record=api.example,{}", hosts.server_ip),
            "--local-ttl=60",
            &format!("--pid-file={}", pid.display()),
        ])];
        if http {
            let mut p = hosts.server.spawn(&[
                "python3",
                "-u",
                "-m",
                "http.server",
                "8080",
                "--bind",
                &hosts.server_ip,
            ]);
            p.wait_for_stdout("Serving HTTP", Duration::from_secs(10));
            procs.push(p);
        }
        // dnsmasq is up once its pid file is written.
        for _ in 0..100 {
            if pid.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100));
        Lab {
            _procs: procs,
            _resolv: resolv,
            hosts,
            dir,
        }
    }

    /// Captures on the client's veth while `traffic` runs in the client
    /// namespace (bounded), and returns (traffic's stdout, records).
    fn capture(&self, traffic: &[&str], limit: Duration) -> (String, Vec<Value>) {
        let file = self.dir.path().join("live.pcap");
        let cap = NsCapture::start(&self.hosts.client.name, CLIENT_IF, &file, "");
        let traffic = crate::util::live::realtime(traffic);
        let (ok, out, err) = exec_bounded(&self.hosts.client.name, &traffic, limit);
        cap.finish();
        assert!(ok, "{traffic:?} failed: {out}\n{err}");
        (out, analyze_records(&file, &[]))
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The number before `word` in `s` ("6 queries" → 6).
fn number_before(s: &str, word: &str) -> f64 {
    let i = s.find(word).unwrap_or_else(|| panic!("no '{word}' in {s}"));
    s[..i]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before '{word}' in {s}"))
}

/// The duration (as `human_duration` writes it: `925 µs`, `1.2 ms`, `2.00 s`)
/// just before `word` in `s`, in milliseconds.
fn ms_before(s: &str, word: &str) -> f64 {
    let i = s.find(word).unwrap_or_else(|| panic!("no '{word}' in {s}"));
    let mut it = s[..i].split_whitespace().rev();
    let (unit, n) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
    let n: f64 = n
        .parse()
        .unwrap_or_else(|_| panic!("no duration before '{word}' in {s}"));
    match unit {
        "µs" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        _ => panic!("unit {unit} before '{word}' in {s}"),
    }
}

/// Issue 11: Go's resolver, search list with ndots:5, dnsmasq on port 15353
/// (DNS recognised by content), three calls without keep-alive: each call
/// walks the list (6 queries, 4 NXDOMAIN), resolves again (no cache), and its
/// HTTP record's DNS phase is the whole walk.
#[test]
fn live_dns_search_walk_go_on_port_15353() {
    if !ready("live_dns_search_walk_go_on_port_15353", true) {
        return;
    }
    let lab = Lab::new("dnsw", 15353, true);
    let client = dns_client();
    let dns = format!("{}:15353", lab.hosts.server_ip);
    let client = client.to_str().expect("utf-8 path");
    let (out, records) = lab.capture(
        &[client, "calls", &dns, "http://api.example:8080/", "3"],
        Duration::from_secs(30),
    );
    let go_ms = go_dns_ms(&out);
    assert_eq!(go_ms.len(), 3, "{out}");

    let lookups = of_type(&records, "dns");
    assert_eq!(lookups.len(), 18, "3 walks of 6 queries: {lookups:#?}");
    assert!(lookups
        .iter()
        .all(|r| r["protocol"] == "dns" && r["server"] == dns.as_str()));
    assert!(lookups
        .iter()
        .all(|r| r["retries"] == 0 && !r["rcode"].is_null()));

    let walk = findings(&records, "dns.search_walk");
    assert_eq!(walk.len(), 1, "{:#?}", of_type(&records, "finding"));
    let s = text(&walk[0]["summary"]);
    assert!(
        s.starts_with("resolving api.example took 6 queries, 4 NXDOMAIN for search-list names before the real one (api.example.svc.cluster.local, api.example.cluster.local), "),
        "{s}"
    );
    assert!(s.contains("; 3 lookups walked the list, "), "{s}");
    let lost = ms_before(s, "lost;");
    assert!(lost > 0.0 && lost < 1000.0, "{s}");

    let repeated = findings(&records, "dns.repeated_lookup");
    assert_eq!(repeated.len(), 1);
    assert!(
        text(&repeated[0]["summary"]).starts_with("api.example was resolved 3 times in "),
        "{}",
        repeated[0]["summary"]
    );
    assert!(text(&repeated[0]["summary"]).contains("(TTL 60 s)"));

    // The DNS phase of each call: the whole walk, as Go's own trace measured it.
    let http = of_type(&records, "http");
    assert_eq!(http.len(), 3);
    for (h, go) in http.iter().zip(&go_ms) {
        let phase = h["timing_ms"]["dns"].as_f64().expect("a DNS phase");
        crate::util::live::assert_close("dns (search walk)", phase, *go);
        assert!(
            phase >= lost.min(*go) * 0.1,
            "passive {phase} ms covers the walk"
        );
    }
    for f in findings(&records, "dns.nxdomain") {
        assert_eq!(f["severity"], "info", "{f}");
    }
    assert!(findings(&records, "dns.timeout").is_empty());
}

/// A DNS responder for one A address: A answered at once, AAAA (NOERROR, no
/// data) after `aaaa_delay` seconds, each on its own thread. Exits after
/// `idle` seconds without a query.
const SLOW_AAAA_PY: &str = r#"
import socket, struct, sys, threading, time
ip, port, addr, delay, idle = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((ip, port)); s.settimeout(idle)
print("ready", flush=True)
def answer(q, peer):
    i = 12
    while q[i]: i += 1 + q[i]
    qtype = struct.unpack("!H", q[i+1:i+3])[0]
    question = q[12:i+5]
    if qtype == 1:
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
        an = 1
    else:
        time.sleep(delay); rr = b""; an = 0
    s.sendto(q[:2] + b"\x85\x80" + struct.pack("!HHHH", 1, an, 0, 0) + question + rr, peer)
while True:
    try: q, peer = s.recvfrom(512)
    except socket.timeout: break
    threading.Thread(target=answer, args=(q, peer)).start()
"#;

/// Issue 11: AAAA answered 300 ms after A (Go waits for both): `dns.slow`
/// names the family and the gap, and the call's DNS phase holds it. Then two
/// calls to a fully qualified name on a healthy resolver: no DNS finding.
#[test]
fn live_dns_slow_aaaa_and_healthy_calls() {
    if !ready("live_dns_slow_aaaa_and_healthy_calls", true) {
        return;
    }
    let lab = Lab::new("dnss", 53, true);
    let client = dns_client();
    let client = client.to_str().expect("utf-8 path");
    let ip = lab.hosts.server_ip.clone();
    let mut slow = lab.hosts.server.spawn(&[
        "python3",
        "-c",
        SLOW_AAAA_PY,
        &ip,
        "15353",
        &ip,
        "0.3",
        "20",
    ]);
    slow.wait_for_stdout("ready", Duration::from_secs(10));
    let dns = format!("{ip}:15353");
    let (out, records) = lab.capture(
        &[client, "calls", &dns, "http://api.example.:8080/", "1"],
        Duration::from_secs(30),
    );
    let go_ms = go_dns_ms(&out);
    assert_eq!(go_ms.len(), 1, "{out}");
    let found = findings(&records, "dns.slow");
    assert_eq!(found.len(), 1, "{:#?}", of_type(&records, "finding"));
    let s = text(&found[0]["summary"]);
    assert!(
        s.starts_with("lookup of api.example waited for AAAA: AAAA answered "),
        "{s}"
    );
    let gap = ms_before(s, "after A");
    assert!((290.0..400.0).contains(&gap), "{s}");
    let phase = of_type(&records, "http")[0]["timing_ms"]["dns"]
        .as_f64()
        .expect("a DNS phase");
    assert!(phase >= gap, "the phase waits for AAAA: {phase} ms");
    crate::util::live::assert_close("dns (slow AAAA)", phase, go_ms[0]);
    drop(slow);

    // Healthy: dnsmasq on 53, a fully qualified name, two calls.
    let dns = format!("{ip}:53");
    let (out, records) = lab.capture(
        &[client, "calls", &dns, "http://api.example.:8080/", "2"],
        Duration::from_secs(30),
    );
    let go_ms = go_dns_ms(&out);
    assert_eq!(of_type(&records, "dns").len(), 4);
    let dns_findings: Vec<&Value> = of_type(&records, "finding")
        .into_iter()
        .filter(|f| text(&f["kind"]).starts_with("dns."))
        .collect();
    assert!(dns_findings.is_empty(), "{dns_findings:#?}");
    let http = of_type(&records, "http");
    assert_eq!((http.len(), go_ms.len()), (2, 2), "{out}");
    for (h, go) in http.iter().zip(&go_ms) {
        let phase = h["timing_ms"]["dns"].as_f64().expect("a DNS phase");
        crate::util::live::assert_close("dns (healthy)", phase, *go);
    }
}

/// glibc with two nameservers, the first at an extra address of the server
/// namespace where nothing answers: `silent` drops its queries, otherwise it
/// answers ICMP port unreachable. Returns the records of `getent ahosts
/// api.example.` and the two servers.
fn glibc_failover(tag: &str, silent: bool) -> (Vec<Value>, String, String) {
    let mut lab = Lab::new(tag, 53, false);
    let ip = lab.hosts.server_ip.clone();
    let dead = format!("{}.3", ip.rsplit_once('.').map_or("", |(net, _)| net));
    let server_ns = lab.hosts.server.name.clone();
    lab.hosts
        .server
        .exec(&["ip", "addr", "add", &format!("{dead}/24"), "dev", "veth-s"]);
    if silent {
        lab.hosts.drop_rule(
            &server_ns,
            "INPUT",
            &format!("-d {dead} -p udp --dport 53 -j DROP"),
        );
    }
    let _resolv = ResolvConf::with(
        &lab.hosts.client.name,
        &format!("nameserver {dead}\nnameserver {ip}\n"),
    );
    let (out, records) = lab.capture(
        &["getent", "ahosts", "api.example."],
        Duration::from_secs(30),
    );
    assert!(out.contains(&ip), "{out}");
    (records, format!("{dead}:53"), format!("{ip}:53"))
}

/// Issue 11: glibc's failover. The first nameserver is silent (its packets
/// dropped); glibc's own 5 s time-out fires and it asks the second with the
/// same ids from a new socket. Each question is one lookup with one retry,
/// both servers tried, answered: no time-out finding.
#[test]
fn live_dns_glibc_failover_after_time_out() {
    if !ready("live_dns_glibc_failover_after_time_out", false) {
        return;
    }
    let (records, first, second) = glibc_failover("dnsf", true);
    let lookups = of_type(&records, "dns");
    assert_eq!(lookups.len(), 2, "A and AAAA: {lookups:#?}");
    for r in &lookups {
        assert_eq!(r["retries"], 1, "{r}");
        assert_eq!(
            r["servers_tried"],
            serde_json::json!([first, second]),
            "{r}"
        );
        assert_eq!(r["timed_out"], false, "{r}");
        assert_eq!(r["server"], second.as_str());
        let ms = r["latency_ms"].as_f64().unwrap_or(0.0);
        assert!((4900.0..7000.0).contains(&ms), "glibc waited its 5 s: {r}");
    }
    assert!(findings(&records, "dns.timeout").is_empty());
    let slow = findings(&records, "dns.slow");
    assert!(
        slow.iter()
            .all(|f| text(&f["summary"]).contains("after 1 retry")),
        "{slow:#?}"
    );
}

/// Issue 11: the first nameserver answers ICMP port unreachable; glibc fails
/// over at once. One lookup per question, answered by the second server and
/// so not `unreachable` (never both), no DNS finding.
#[test]
fn live_dns_glibc_failover_after_icmp() {
    if !ready("live_dns_glibc_failover_after_icmp", false) {
        return;
    }
    let (records, first, second) = glibc_failover("dnsi", false);
    let lookups = of_type(&records, "dns");
    assert_eq!(lookups.len(), 2, "A and AAAA: {lookups:#?}");
    for r in &lookups {
        assert_eq!(
            r["servers_tried"],
            serde_json::json!([first, second]),
            "{r}"
        );
        assert!(r["unreachable"].is_null() && !r["rcode"].is_null(), "{r}");
        assert!(r["latency_ms"].as_f64().unwrap_or(1e9) < 1000.0, "{r}");
    }
    let dns_findings: Vec<&Value> = of_type(&records, "finding")
        .into_iter()
        .filter(|f| text(&f["kind"]).starts_with("dns."))
        .collect();
    assert!(dns_findings.is_empty(), "{dns_findings:#?}");
}

/// Issue 11: 8 goroutines, each lookup on new sockets with new ids (Go's
/// resolver), all for the same name at once: every query is one lookup. The
/// issue's numbers: 4,000 queries (2,000 A + AAAA lookups), ephemeral ports
/// reused across them, must come out as 4,000 records (they were 3,723).
#[test]
fn live_dns_concurrent_go_lookups_are_counted() {
    if !ready("live_dns_concurrent_go_lookups_are_counted", true) {
        return;
    }
    let lab = Lab::new("dnsc", 15353, false);
    let client = dns_client();
    let dns = format!("{}:15353", lab.hosts.server_ip);
    let client = client.to_str().expect("utf-8 path");
    let (out, records) = lab.capture(
        &[client, "concurrent", &dns, "api.example.", "8", "250"],
        Duration::from_secs(60),
    );
    assert!(out.contains("lookups 2000 failed 0"), "{out}");
    let lookups = of_type(&records, "dns");
    // A and AAAA per lookup, a socket and an id each.
    assert_eq!(lookups.len(), 4000);
    assert!(lookups.iter().all(|r| r["retries"] == 0));
    assert_eq!(
        lookups.iter().filter(|r| r["rcode"] == "NOERROR").count(),
        4000
    );
    assert!(findings(&records, "dns.timeout").is_empty());
    assert!(
        findings(&records, "dns.search_walk").is_empty(),
        "a FQDN: no walk"
    );
}

/// Issue 11: glibc's resolver (port 53; A and AAAA on one socket) walks the
/// same search list: one finding with the same numbers.
#[test]
fn live_dns_search_walk_glibc() {
    if !ready("live_dns_search_walk_glibc", false) {
        return;
    }
    let lab = Lab::new("dnsg", 53, false);
    let (out, records) = lab.capture(
        &["getent", "ahosts", "api.example"],
        Duration::from_secs(20),
    );
    assert!(out.contains(&lab.hosts.server_ip), "{out}");
    let walk = findings(&records, "dns.search_walk");
    assert_eq!(walk.len(), 1, "{:#?}", of_type(&records, "dns"));
    let s = text(&walk[0]["summary"]);
    assert!(
        s.starts_with("resolving api.example took 6 queries, 4 NXDOMAIN for search-list names before the real one (api.example.svc.cluster.local, api.example.cluster.local), "),
        "{s}"
    );
    assert_eq!(number_before(s, "queries"), 6.0);
    assert!(
        findings(&records, "dns.repeated_lookup").is_empty(),
        "one lookup"
    );
}
