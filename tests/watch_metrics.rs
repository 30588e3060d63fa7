//! `watch --metrics` on loopback (root): the real Prometheus from Debian,
//! started here in a temp dir, scrapes `watch` while calls fail (refused
//! connections, 500s, a slow handler, a SERVFAIL lookup), and the series are
//! read back through Prometheus' HTTP API; `/healthz` and a taken port too.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use crate::util::can_capture;
use crate::util::live::{
    dns_query, dns_response, http_get_all, http_server, response, udp_dns_server, udp_lookup,
};
use crate::util::prom::{get, have, metrics_addr, Prometheus};
use crate::watch::{closed_port, start_watch_seen, stop, until};

#[test]
fn prometheus_scrapes_watch_while_calls_fail() {
    if !can_capture("prometheus_scrapes_watch_while_calls_fail") {
        return;
    }
    assert!(
        have("prometheus"),
        "this test needs Debian's prometheus (scripts/install-deps installs it)"
    );
    let refused = closed_port();
    let (server, handle) = http_server(Ipv4Addr::LOCALHOST, |i, _, conn| {
        if i == 0 {
            // A slow handler: 300 ms of server think time.
            std::thread::sleep(Duration::from_millis(300));
            let _ = conn.write_all(response("200 OK", "{}").as_bytes());
        } else {
            let _ = conn.write_all(response("500 Internal Server Error", "{}").as_bytes());
        }
    });
    let resolver = Ipv4Addr::new(127, 84, 7, 55);
    let filter = format!(
        "tcp port {refused} or tcp port {} or host {resolver}",
        server.port()
    );
    let mut args = vec!["--metrics", "127.0.0.1:0"];
    args.extend(filter.split(' '));
    let (mut child, out, _err, status) = start_watch_seen(&args);
    let metrics = metrics_addr(&status);
    let dir = tempfile::tempdir().unwrap();
    let prometheus = Prometheus::start(dir.path(), metrics);

    for _ in 0..4 {
        assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
    }
    assert_eq!(
        http_get_all(server, "api.metrics.test", &["/slow", "/boom", "/boom"]),
        [(200, 2), (500, 2), (500, 2)]
    );
    handle.join().unwrap();
    let dns = udp_dns_server(resolver, 1, |q| {
        Some((Duration::ZERO, dns_response(q, 2, false, &[])))
    });
    assert!(udp_lookup(
        (resolver, 53).into(),
        &dns_query(0x4d45, "broken.metrics.test", 1),
        1,
        Duration::from_secs(2),
    )
    .is_some());
    dns.join().unwrap();
    let mut seen = Vec::new();
    until(&out, "dns.servfail", &mut seen);

    // Read back through Prometheus: it parsed our exposition and kept it.
    assert_eq!(
        prometheus.wait_for("up{job=\"netsleuth\"}", |v| v == 1.0),
        1.0
    );
    let refused_server = format!("127.0.0.1:{refused}");
    assert_eq!(
        prometheus.wait_for(
            &format!(
                "netsleuth_findings_total{{kind=\"tcp.connect_refused\",severity=\"error\",server=\"{refused_server}\"}}"
            ),
            |v| v >= 4.0
        ),
        4.0
    );
    assert_eq!(
        prometheus.wait_for(
            "netsleuth_http_requests_total{server=\"api.metrics.test\",method=\"GET\",status_class=\"5xx\"}",
            |v| v >= 2.0
        ),
        2.0
    );
    assert_eq!(
        prometheus.wait_for(
            "netsleuth_http_requests_total{server=\"api.metrics.test\",status_class=\"2xx\"}",
            |v| v >= 1.0
        ),
        1.0
    );
    assert_eq!(
        prometheus.wait_for(
            "netsleuth_findings_total{kind=\"http.server_error\",server=\"api.metrics.test\"}",
            |v| v >= 2.0
        ),
        2.0
    );
    // The slow handler's think time is in the histogram, and only its.
    let think = prometheus.wait_for(
        "netsleuth_http_phase_seconds_sum{server=\"api.metrics.test\",phase=\"server_think\"}",
        |v| v > 0.0,
    );
    assert!((0.29..0.6).contains(&think), "server think {think}");
    assert_eq!(
        prometheus.value(
            "netsleuth_http_phase_seconds_bucket{server=\"api.metrics.test\",phase=\"server_think\",le=\"0.128\"}"
        ),
        Some(2.0),
        "the two fast 500s under 128 ms"
    );
    assert_eq!(
        prometheus.wait_for(
            &format!("netsleuth_dns_lookups_total{{server=\"{resolver}:53\",rcode=\"SERVFAIL\"}}"),
            |v| v >= 1.0
        ),
        1.0
    );
    assert!(prometheus.wait_for("netsleuth_capture_packets_total", |v| v > 20.0) > 20.0);
    assert_eq!(
        prometheus.value("netsleuth_capture_dropped_packets_total{where=\"kernel\"}"),
        Some(0.0)
    );
    assert!(prometheus.wait_for("netsleuth_tcp_rtt_seconds_count", |v| v >= 1.0) >= 1.0);
    // Refusals are not resets of established connections.
    assert_eq!(prometheus.value("netsleuth_tcp_resets_total"), None);

    let (code, body) = get(metrics, "/healthz");
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    assert_eq!(get(metrics, "/nope").0, 404);
    assert_eq!(stop(&mut child), 0);
}

#[test]
fn watch_metrics_on_a_taken_port_names_the_fix() {
    if !can_capture("watch_metrics_on_a_taken_port_names_the_fix") {
        return;
    }
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = crate::util::netsleuth()
        .args(["watch", "-i", "lo", "--metrics", &addr, "tcp", "port", "9"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(stderr.contains("choose a free address"), "{stderr}");
}
