//! monitoring/ as shipped: the alert rules pass `promtool check rules` and
//! their unit tests, the configs pass `promtool check config` and `amtool
//! check-config`; and end to end (root, in a network namespace of the
//! test's own): `watch --metrics` sees real faults (refusals, 500s, a slow
//! handler, SERVFAIL, TLS 1.2 with a good and an untrusted certificate, a
//! reset, loss made by an iptables rule, a pooled connection conntrack
//! forgot), Prometheus scrapes it, every PromQL
//! expression of the Grafana dashboard returns data, and an alert goes
//! through Alertmanager to a webhook receiver in the test.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rustls::version::TLS12;
use rustls::{ClientConfig, ServerConfig};

use crate::util::can_capture;
use crate::util::live::{
    dns_query, dns_response, http_get_all, http_server, response, udp_dns_server, udp_lookup,
};
use crate::util::prom::{have, metrics_addr, webhook, Alertmanager, Prometheus};
use crate::util::tls::{https_get, https_server, ClientOutcome, Pki};
use crate::watch::{closed_port, start_watch_seen, stop, until};

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring")
}

/// Runs `tool args` in `dir`; panics with its output unless it succeeds.
fn check(dir: &Path, tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e} (scripts/install-deps installs it)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{tool} {args:?}:\n{text}");
    text
}

#[test]
fn shipped_rules_and_configs_pass_promtool_and_amtool() {
    if !have("promtool") || !have("amtool") {
        panic!("this test needs promtool and amtool (scripts/install-deps installs them)");
    }
    let prom = monitoring().join("prometheus");
    let text = check(&prom, "promtool", &["check", "rules", "alerts.yml"]);
    assert!(text.contains("SUCCESS: 10 rules found"), "{text}");
    check(&prom, "promtool", &["test", "rules", "alerts_test.yml"]);
    check(&prom, "promtool", &["check", "config", "prometheus.yml"]);
    check(
        &monitoring().join("alertmanager"),
        "amtool",
        &["check-config", "alertmanager.yml"],
    );
    // Every alert has a unit test that expects it to fire.
    let rules = std::fs::read_to_string(prom.join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(prom.join("alerts_test.yml")).unwrap();
    for line in rules
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"))
    {
        let name = line.split(':').nth(1).unwrap().trim();
        assert!(
            tests.contains(&format!("alertname: {name}")),
            "no unit test for {name}"
        );
    }
}

/// Every PromQL expression of the dashboard, with Grafana's variables set
/// as a user who picked "All" would have them.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = monitoring().join("grafana/dashboards/netsleuth.json");
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for panel in d["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            out.push((
                panel["title"].as_str().unwrap().to_string(),
                expr.replace("$__rate_interval", "1m")
                    .replace("$server", ".*"),
            ));
        }
    }
    out
}

#[test]
fn dashboard_queries_cover_the_families() {
    let all: String = dashboard_queries().iter().map(|(_, e)| e.clone()).collect();
    for family in [
        "netsleuth_findings_total",
        "netsleuth_http_requests_total",
        "netsleuth_http_phase_seconds_bucket",
        "netsleuth_tcp_resets_total",
        "netsleuth_tcp_retransmitted_segments_total",
        "netsleuth_tcp_rtt_seconds_bucket",
        "netsleuth_dns_lookups_total",
        "netsleuth_dns_lookup_seconds_bucket",
        "netsleuth_tls_handshakes_total",
        "netsleuth_tls_certificate_expiry_timestamp_seconds",
        "netsleuth_capture_dropped_packets_total",
        "netsleuth_capture_packets_total",
        "netsleuth_flows_open",
    ] {
        assert!(all.contains(family), "the dashboard never shows {family}");
    }
}

/// Moves this thread (and the threads and processes it starts) into a new
/// network namespace with `lo` up: the faults and the iptables rule stay
/// in it, and it goes away with them.
fn enter_new_netns() {
    // SAFETY: unshare has no memory-safety preconditions; it changes the
    // calling thread's namespace only.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    let ok = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn tls12_server(leaf: &crate::util::tls::Leaf) -> ServerConfig {
    ServerConfig::builder_with_protocol_versions(&[&TLS12])
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), leaf.key())
        .unwrap()
}

fn tls12_client(pki: &Pki) -> ClientConfig {
    ClientConfig::builder_with_protocol_versions(&[&TLS12])
        .with_root_certificates(pki.roots())
        .with_no_client_auth()
}

/// Two TLS 1.2 handshakes to one server: one trusted, one whose client does
/// not know the CA (it answers with the alert unknown_ca).
fn tls_faults() {
    let pki = Pki::new("Monitoring Test CA");
    let leaf = pki.leaf(&["api.tls.test"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = tls12_server(&leaf);
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((tcp, _)) = listener.accept() else {
                return;
            };
            https_server(config.clone())(tcp);
        }
    });
    match https_get(addr, tls12_client(&pki), "api.tls.test") {
        ClientOutcome::Response(r) => assert!(r.contains("200 OK"), "{r}"),
        ClientOutcome::Failed(e) => panic!("trusted call failed: {e}"),
    }
    let stranger = Pki::new("Some Other CA");
    let outcome = https_get(addr, tls12_client(&stranger), "api.tls.test");
    assert!(outcome.error().contains("UnknownIssuer"), "{outcome:?}");
    server.join().unwrap();
}

/// An established connection the server resets (SO_LINGER 0).
fn reset_fault() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = conn.read(&mut buf);
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        use std::os::fd::AsRawFd;
        // SAFETY: a valid socket and a linger struct of the size given.
        let rc = unsafe {
            libc::setsockopt(
                conn.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(conn); // RST
    });
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: reset.test\r\n\r\n")
        .unwrap();
    server.join().unwrap();
    let read = client.read(&mut [0u8; 16]);
    assert!(matches!(read, Err(_) | Ok(0)), "{read:?}");
}

/// 400 KB to a sink whose every third incoming segment the INPUT chain
/// drops: the capture on lo sees each original and its retransmission.
/// Many of those resends follow newer data within the handshake round trip
/// (tens of microseconds on lo), so Wireshark's rule flags them out-of-order,
/// not retransmission; `netsleuth_tcp_retransmitted_segments_total` counts
/// them all the same (bytes the capture already saw, sent again).
fn loss_fault() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rule =
        format!("INPUT -p tcp --dport {port} -m statistic --mode nth --every 3 --packet 1 -j DROP");
    let add = Command::new("iptables")
        .args(["-w", "-A"])
        .args(rule.split(' '))
        .status()
        .unwrap();
    assert!(add.success(), "iptables (scripts/install-deps installs it)");
    let sink = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut total = 0;
        let mut buf = [0u8; 65536];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let data = vec![7u8; 400_000];
    for chunk in data.chunks(8192) {
        client.write_all(chunk).unwrap();
    }
    drop(client);
    assert_eq!(sink.join().unwrap(), data.len());
}

/// A pooled keep-alive connection that conntrack forgets after 2 s idle:
/// the next request on it is answered by an RST the INPUT chain makes
/// (LAB.md's recipe, on this namespace's loopback).
fn conntrack_idle_reset_fault() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for (key, value) in [
        ("net.netfilter.nf_conntrack_tcp_timeout_established", "2"),
        ("net.netfilter.nf_conntrack_tcp_loose", "0"),
    ] {
        let ok = Command::new("sysctl")
            .args(["-qw", &format!("{key}={value}")])
            .status()
            .unwrap();
        assert!(ok.success(), "sysctl {key}");
    }
    let rule = format!(
        "INPUT -p tcp --dport {port} -m conntrack --ctstate INVALID -j REJECT --reject-with tcp-reset"
    );
    let add = Command::new("iptables")
        .args(["-w", "-A"])
        .args(rule.split(' '))
        .status()
        .unwrap();
    assert!(add.success());
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
        let mut buf = [0u8; 1024];
        if conn.read(&mut buf).unwrap_or(0) > 0 {
            let _ = conn.write_all(response("200 OK", "{}").as_bytes());
        }
        // The second request never arrives: the path forgot the connection.
        let _ = conn.read(&mut buf);
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let request = b"GET /pooled HTTP/1.1\r\nHost: pool.test\r\n\r\n";
    client.write_all(request).unwrap();
    let mut buf = [0u8; 1024];
    assert!(client.read(&mut buf).unwrap() > 0);
    std::thread::sleep(Duration::from_secs(3));
    let _ = client.write_all(request);
    let second = client.read(&mut buf);
    assert!(matches!(second, Err(_) | Ok(0)), "{second:?}");
    server.join().unwrap();
}

/// The shipped Prometheus config pointed at this test's watch and
/// Alertmanager, scraping and evaluating every second; the shipped alert
/// rules with `for:` dropped and 15 s windows, so they can fire in a test.
fn test_prometheus_config(dir: &Path, watch: SocketAddr, am: SocketAddr) -> String {
    let rules = std::fs::read_to_string(monitoring().join("prometheus/alerts.yml")).unwrap();
    let fast = rules
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("for:") {
                l.split("for:").next().unwrap().to_string() + "for: 0s"
            } else {
                l.replace("[5m]", "[15s]").replace("[10m]", "[15s]")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("alerts.yml"), fast).unwrap();
    std::fs::read_to_string(monitoring().join("prometheus/prometheus.yml"))
        .unwrap()
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
        .replace("127.0.0.1:9093", &am.to_string())
        .replace("127.0.0.1:9464", &watch.to_string())
}

#[test]
fn dashboard_and_alerts_work_on_live_faults() {
    if !can_capture("dashboard_and_alerts_work_on_live_faults") {
        return;
    }
    for tool in ["prometheus", "prometheus-alertmanager", "iptables"] {
        assert!(have(tool), "this test needs {tool} (scripts/install-deps)");
    }
    enter_new_netns();
    let dir = tempfile::tempdir().unwrap();

    let (hook, alerts) = webhook(Duration::from_secs(120));
    let am_config = std::fs::read_to_string(monitoring().join("alertmanager/alertmanager.yml"))
        .unwrap()
        .replace(
            "http://127.0.0.1:8060/dingtalk/netsleuth/send",
            &format!("http://{hook}/hook"),
        )
        .replace("group_wait: 30s", "group_wait: 1s");
    let am = Alertmanager::start(dir.path(), &am_config);

    let (mut watch, out, _err, status) = start_watch_seen(&["--metrics", "127.0.0.1:0"]);
    let metrics = metrics_addr(&status);
    let prometheus = Prometheus::start_with_config(
        dir.path(),
        &test_prometheus_config(dir.path(), metrics, am.addr),
    );

    // The faults.
    let refused = closed_port();
    for _ in 0..6 {
        assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
    }
    let (server, handle) = http_server(Ipv4Addr::LOCALHOST, |i, _, conn| {
        if i == 0 {
            std::thread::sleep(Duration::from_millis(200));
            let _ = conn.write_all(response("200 OK", "{}").as_bytes());
        } else {
            let _ = conn.write_all(response("500 Internal Server Error", "{}").as_bytes());
        }
    });
    assert_eq!(
        http_get_all(server, "api.dash.test", &["/slow", "/boom"]),
        [(200, 2), (500, 2)]
    );
    handle.join().unwrap();
    let resolver = Ipv4Addr::new(127, 0, 0, 53);
    let dns = udp_dns_server(resolver, 1, |q| {
        Some((Duration::from_millis(5), dns_response(q, 2, false, &[])))
    });
    assert!(udp_lookup(
        (resolver, 53).into(),
        &dns_query(0x6461, "broken.dash.test", 1),
        1,
        Duration::from_secs(2)
    )
    .is_some());
    dns.join().unwrap();
    tls_faults();
    reset_fault();
    loss_fault();
    conntrack_idle_reset_fault();
    let mut seen = Vec::new();
    until(&out, "dns.servfail", &mut seen);

    // Every panel's every query returns data.
    prometheus.wait_for("netsleuth_tcp_retransmitted_segments_total", |v| v > 0.0);
    prometheus.wait_for(
        "netsleuth_tls_handshakes_total{result=\"unknown_ca\"}",
        |v| v >= 1.0,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut empty: Vec<(String, String)> = dashboard_queries();
    while !empty.is_empty() && Instant::now() < deadline {
        empty.retain(|(_, q)| prometheus.results(q).is_empty());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without data: {empty:#?}"
    );
    let days = prometheus
        .value("(netsleuth_tls_certificate_expiry_timestamp_seconds - time()) / 86400")
        .unwrap();
    assert!(
        days > 300.0,
        "rcgen's default validity runs to 4096: {days}"
    );
    // The reset server and the forgotten pooled connection.
    assert_eq!(
        prometheus.value("sum(netsleuth_tcp_resets_total)"),
        Some(2.0)
    );
    assert_eq!(
        prometheus.wait_for(
            "sum(netsleuth_findings_total{kind=\"tcp.idle_then_reset\"})",
            |v| v >= 1.0
        ),
        1.0
    );

    // An alert reaches the webhook through Alertmanager. Refusals go on (a
    // rate needs the series to move between scrapes, not only to appear).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut fired = Vec::new();
    while Instant::now() < deadline {
        assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
        let Ok(post) = alerts.recv_timeout(Duration::from_millis(250)) else {
            continue;
        };
        for a in post["alerts"].as_array().cloned().unwrap_or_default() {
            fired.push(a);
        }
        if fired.iter().any(|a| {
            a["labels"]["alertname"] == "NetsleuthErrorFindings"
                && a["labels"]["kind"] == "tcp.connect_refused"
        }) {
            break;
        }
    }
    let refusal = fired
        .iter()
        .find(|a| a["labels"]["kind"] == "tcp.connect_refused")
        .unwrap_or_else(|| {
            panic!(
                "no refusal alert reached the webhook: {fired:#?}\nPrometheus: {:?}",
                crate::util::prom::get(prometheus.addr, "/api/v1/alerts")
            )
        });
    assert_eq!(refusal["status"], "firing");
    assert_eq!(refusal["labels"]["server"], format!("127.0.0.1:{refused}"));
    assert_eq!(refusal["labels"]["severity"], "ticket");
    assert!(
        refusal["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("tcp.connect_refused"),
        "{refusal}"
    );
    assert_eq!(stop(&mut watch), 0);
}
