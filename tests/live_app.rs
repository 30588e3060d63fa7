//! DNS and HTTP faults made with real sockets on loopback, captured live and read
//! back through `analyze --jsonl`: what a developer would see for each.
//!
//! Every test owns its addresses (DNS servers on 127.84.0.N:53, HTTP servers on
//! 127.84.1.N) so the tests can run in parallel, apart from the demo's
//! 127.83.83.83. They skip, with the reason printed, when not root.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use serde_json::Value;

use crate::util::live::{
    capture_and_analyze, dns_query, dns_response, findings, frames, http_get_all, http_server,
    of_type, problems, response, udp_dns_server, udp_lookup,
};

const A: u16 = 1;

fn dns_server_addr(ip: Ipv4Addr) -> SocketAddr {
    SocketAddr::from((ip, 53))
}

/// The one finding of `kind`, with every finding printed when it is missing.
fn the_finding<'a>(records: &'a [Value], kind: &str) -> &'a Value {
    let found = findings(records, kind);
    assert_eq!(
        found.len(),
        1,
        "want one {kind}; findings: {:#?}",
        of_type(records, "finding")
    );
    found[0]
}

fn summary(f: &Value) -> &str {
    f["summary"].as_str().unwrap_or_default()
}

/// A resolver that answers REFUSED (rcode 5): it will not recurse for this
/// client. The answer itself is the failure, so the finding is `dns.refused`,
/// an error naming the name and the server, with the query and answer frames.
#[test]
fn dns_refused() {
    let ip = Ipv4Addr::new(127, 84, 0, 1);
    let filter = format!("host {ip}");
    let Some(records) = capture_and_analyze("dns_refused", &filter, || {
        let server = udp_dns_server(ip, 1, |q| {
            Some((Duration::ZERO, dns_response(q, 5, false, &[])))
        });
        let answer = udp_lookup(
            dns_server_addr(ip),
            &dns_query(0x5151, "refused.live.test", A),
            1,
            Duration::from_secs(2),
        );
        assert!(answer.is_some(), "the server answers");
        server.join().unwrap();
    }) else {
        return;
    };
    let dns = of_type(&records, "dns");
    assert_eq!(dns.len(), 1, "{dns:#?}");
    assert_eq!(dns[0]["rcode"], "REFUSED");
    let f = the_finding(&records, "dns.refused");
    assert_eq!(f["severity"], "error");
    let s = summary(f);
    assert!(
        s.contains("refused.live.test") && s.contains("127.84.0.1:53"),
        "{s}"
    );
    let query = dns[0]["query_frame"].as_u64().unwrap();
    let answer = dns[0]["response_frame"].as_u64().unwrap();
    assert_eq!(frames(f), [query, answer]);
    assert_eq!(problems(&records).len(), 1, "{:#?}", problems(&records));
}

/// A resolver that reads queries and never answers; the client asks twice with
/// the same id 300 ms apart, like a stub resolver, then gives up. Nothing comes
/// back, so the finding is `dns.timeout` naming the name, the server and the two
/// attempts. The capture stops before netsleuth's own 5 s time-out, so it is a
/// warning that says so; the client's retry proves its own time-out fired.
#[test]
fn dns_timeout_after_a_retry() {
    let ip = Ipv4Addr::new(127, 84, 0, 2);
    let filter = format!("host {ip}");
    let Some(records) = capture_and_analyze("dns_timeout_after_a_retry", &filter, || {
        let server = udp_dns_server(ip, 2, |_| None);
        let answer = udp_lookup(
            dns_server_addr(ip),
            &dns_query(0x7a7a, "silent.live.test", A),
            2,
            Duration::from_millis(300),
        );
        assert!(answer.is_none());
        server.join().unwrap();
    }) else {
        return;
    };
    let dns = of_type(&records, "dns");
    assert_eq!(dns.len(), 1, "{dns:#?}");
    assert_eq!(dns[0]["retries"], 1, "{}", dns[0]);
    assert_eq!(dns[0]["rcode"], Value::Null);
    let f = the_finding(&records, "dns.timeout");
    let s = summary(f);
    assert!(
        s.contains("silent.live.test") && s.contains("127.84.0.2:53") && s.contains("2 queries"),
        "{s}"
    );
    assert_eq!(f["severity"], "warning", "{f}");
    let query = dns[0]["query_frame"].as_u64().unwrap();
    let retry = dns[0]["retry_frames"][0].as_u64().unwrap();
    assert_eq!(frames(f), [query, retry]);
}

/// Nothing listens on the server's port 53: the kernel answers each query with
/// ICMP port unreachable, and the client gives up after its second attempt.
/// No DNS answer came, but the server's host did say something: the finding is
/// `dns.timeout` (no answer) as an error that names the ICMP port unreachable
/// and its frames, not a silent time-out cut short by the end of the capture.
#[test]
fn dns_port_unreachable() {
    let ip = Ipv4Addr::new(127, 84, 0, 6);
    let filter = format!("host {ip} or icmp");
    let Some(records) = capture_and_analyze("dns_port_unreachable", &filter, || {
        let answer = udp_lookup(
            dns_server_addr(ip),
            &dns_query(0x0d0d, "closed.live.test", A),
            2,
            Duration::from_millis(300),
        );
        assert!(answer.is_none());
    }) else {
        return;
    };
    let dns = of_type(&records, "dns");
    assert_eq!(dns.len(), 1, "{records:#?}");
    let u = &dns[0]["unreachable"];
    assert_eq!(
        (&u["description"], &u["count"]),
        (&Value::from("port unreachable"), &Value::from(2)),
        "{}",
        dns[0]
    );
    let f = the_finding(&records, "dns.timeout");
    assert_eq!(f["severity"], "error", "{f}");
    let s = summary(f);
    assert!(
        s.contains("closed.live.test")
            && s.contains("2 queries to 127.84.0.6:53")
            && s.contains("ICMP port unreachable"),
        "{s}"
    );
    assert!(!s.contains("capture ended"), "{s}");
    assert!(
        f["next_step"]
            .as_str()
            .unwrap()
            .contains("nothing listens on port 53"),
        "{f}"
    );
    // Evidence: both queries and both ICMP errors.
    assert_eq!(frames(f).len(), 4, "{f}");
    assert_eq!(problems(&records).len(), 1, "{:#?}", problems(&records));
}

/// A resolver that answers NOERROR after 400 ms, twice the `dns.slow`
/// threshold (200 ms): answered, but slowly, so the finding is `dns.slow`, a
/// warning with the time it took and the server.
#[test]
fn dns_slow() {
    let ip = Ipv4Addr::new(127, 84, 0, 3);
    let filter = format!("host {ip}");
    let Some(records) = capture_and_analyze("dns_slow", &filter, || {
        let server = udp_dns_server(ip, 1, |q| {
            let a = [Ipv4Addr::new(127, 84, 1, 99)];
            Some((Duration::from_millis(400), dns_response(q, 0, false, &a)))
        });
        let answer = udp_lookup(
            dns_server_addr(ip),
            &dns_query(0x5107, "slow.live.test", A),
            1,
            Duration::from_secs(2),
        );
        assert!(answer.is_some());
        server.join().unwrap();
    }) else {
        return;
    };
    let dns = of_type(&records, "dns");
    assert_eq!(dns.len(), 1, "{dns:#?}");
    let latency = dns[0]["latency_ms"].as_f64().unwrap();
    assert!((400.0..1500.0).contains(&latency), "{latency}");
    let f = the_finding(&records, "dns.slow");
    assert_eq!(f["severity"], "warning");
    let s = summary(f);
    assert!(
        s.contains("slow.live.test") && s.contains("127.84.0.3:53") && s.contains(" ms"),
        "{s}"
    );
    assert_eq!(problems(&records).len(), 1, "{:#?}", problems(&records));
}

/// A UDP answer with TC set (too big for UDP), then the client asks again over
/// TCP port 53 and gets the whole answer. That is DNS working as designed: two
/// records (the truncated UDP one marked as retried over TCP, the TCP one with
/// the addresses) and no warning, above all no `dns.timeout` for the first.
#[test]
fn dns_truncated_then_tcp() {
    let ip = Ipv4Addr::new(127, 84, 0, 4);
    let filter = format!("host {ip}");
    let addresses: Vec<Ipv4Addr> = (1..=40).map(|i| Ipv4Addr::new(10, 84, 0, i)).collect();
    let Some(records) = capture_and_analyze("dns_truncated_then_tcp", &filter, || {
        let listener = TcpListener::bind((ip, 53)).unwrap();
        let udp = udp_dns_server(ip, 1, |q| {
            Some((Duration::ZERO, dns_response(q, 0, true, &[])))
        });
        let full = addresses.clone();
        let tcp = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut len = [0u8; 2];
            conn.read_exact(&mut len).unwrap();
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            conn.read_exact(&mut q).unwrap();
            let r = dns_response(&q, 0, false, &full);
            let mut framed = (r.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&r);
            conn.write_all(&framed).unwrap();
            let _ = conn.read(&mut len); // until the client closes
        });
        let query = dns_query(0x7c7c, "big.live.test", A);
        let first = udp_lookup(dns_server_addr(ip), &query, 1, Duration::from_secs(2)).unwrap();
        assert_eq!(first[2] & 0x02, 0x02, "TC set");
        let mut conn =
            TcpStream::connect_timeout(&dns_server_addr(ip), Duration::from_secs(2)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&query);
        conn.write_all(&framed).unwrap();
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).unwrap();
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        conn.read_exact(&mut answer).unwrap();
        drop(conn);
        udp.join().unwrap();
        tcp.join().unwrap();
    }) else {
        return;
    };
    let dns = of_type(&records, "dns");
    assert_eq!(dns.len(), 2, "{dns:#?}");
    let (u, t) = (dns[0], dns[1]);
    assert_eq!(
        (
            &u["transport"],
            &u["truncated"],
            &u["tcp_retry"],
            &u["timed_out"]
        ),
        (
            &Value::from("udp"),
            &Value::from(true),
            &Value::from(true),
            &Value::from(false)
        ),
        "{u}"
    );
    assert_eq!(
        (&t["transport"], &t["rcode"]),
        (&Value::from("tcp"), &Value::from("NOERROR")),
        "{t}"
    );
    assert_eq!(t["answers"].as_array().unwrap().len(), 40, "{t}");
    assert!(t["answers"][0]["data"] == "10.84.0.1", "{t}");
    assert!(problems(&records).is_empty(), "{:#?}", problems(&records));
    assert!(findings(&records, "dns.timeout").is_empty());
}

/// 404 and 429 to real HTTP/1.1 GETs on two connections. The server rejected
/// the requests as sent, so each is `http.client_error`, a warning that names
/// the method, the path and the status, with advice that fits the status.
#[test]
fn http_client_errors() {
    let ip = Ipv4Addr::new(127, 84, 1, 1);
    let filter = format!("host {ip}");
    let Some(records) = capture_and_analyze("http_client_errors", &filter, || {
        for (status, path) in [
            ("404 Not Found", "/v1/users/42"),
            ("429 Too Many Requests", "/v1/search"),
        ] {
            let (addr, server) = http_server(ip, move |_, _, conn| {
                let _ = conn.write_all(response(status, "{\"error\":true}").as_bytes());
            });
            let got = http_get_all(addr, "api.live.test", &[path]);
            assert_eq!(got.len(), 1);
            server.join().unwrap();
        }
    }) else {
        return;
    };
    let errors = findings(&records, "http.client_error");
    assert_eq!(errors.len(), 2, "{:#?}", of_type(&records, "finding"));
    let s404 = errors
        .iter()
        .find(|f| summary(f).contains("404"))
        .expect("404 finding");
    let s429 = errors
        .iter()
        .find(|f| summary(f).contains("429"))
        .expect("429 finding");
    assert!(
        summary(s404).starts_with("GET /v1/users/42 (host api.live.test) -> 404 Not Found"),
        "{s404}"
    );
    assert!(
        summary(s429).starts_with("GET /v1/search (host api.live.test) -> 429 Too Many Requests"),
        "{s429}"
    );
    assert!(
        s404["next_step"].as_str().unwrap().contains("path"),
        "{s404}"
    );
    assert!(
        s429["next_step"].as_str().unwrap().contains("rate limited"),
        "{s429}"
    );
    for f in [s404, s429] {
        assert_eq!(f["severity"], "warning");
        assert!(frames(f).len() >= 2, "request and response frames: {f}");
    }
    assert_eq!(problems(&records).len(), 2, "{:#?}", problems(&records));
}

/// The server sends the head at once, then 180 KB of body in 4.5 KB pieces every
/// 50 ms (about 90 KB/s, below the 100 KB/s floor): the server answered at
/// once, the bytes moved slowly, so the finding is `http.slow_transfer` with the
/// throughput, and not `http.slow_server`.
#[test]
fn http_slow_transfer() {
    let ip = Ipv4Addr::new(127, 84, 1, 2);
    let filter = format!("host {ip}");
    let Some(records) = capture_and_analyze("http_slow_transfer", &filter, || {
        let (addr, server) = http_server(ip, |_, _, conn| {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 180000\r\n\r\n");
            for _ in 0..40 {
                std::thread::sleep(Duration::from_millis(50));
                let _ = conn.write_all(&[b'x'; 4500]);
            }
        });
        let got = http_get_all(addr, "files.live.test", &["/export.bin"]);
        assert_eq!(got, [(200, 180_000)]);
        server.join().unwrap();
    }) else {
        return;
    };
    let f = the_finding(&records, "http.slow_transfer");
    assert_eq!(f["severity"], "warning", "{f}");
    let s = summary(f);
    assert!(
        s.starts_with("GET /export.bin (host files.live.test): response body of 180.0 KB took "),
        "{s}"
    );
    assert!(s.ends_with(" KB/s)"), "throughput: {s}");
    let next = f["next_step"].as_str().unwrap();
    assert!(next.contains("server wrote the body slowly"), "{next}");
    assert!(
        findings(&records, "http.slow_server").is_empty(),
        "{:#?}",
        problems(&records)
    );
    assert_eq!(problems(&records).len(), 1, "{:#?}", problems(&records));
}

/// Two requests on one keep-alive connection: the first answered at once, the
/// second after 1.2 s of server think time. `http.slow_server` must name the
/// second request and point at its frames, and the first stays clean.
#[test]
fn http_keepalive_second_request_slow() {
    let ip = Ipv4Addr::new(127, 84, 1, 3);
    let filter = format!("host {ip}");
    let Some(records) = capture_and_analyze("http_keepalive_second_request_slow", &filter, || {
        let (addr, server) = http_server(ip, |i, _, conn| {
            if i == 1 {
                std::thread::sleep(Duration::from_millis(1200));
            }
            let _ = conn.write_all(response("200 OK", "{\"ok\":true}").as_bytes());
        });
        let got = http_get_all(addr, "api.live.test", &["/v1/fast", "/v1/slow"]);
        assert_eq!(got.len(), 2);
        server.join().unwrap();
    }) else {
        return;
    };
    let http = of_type(&records, "http");
    assert_eq!(http.len(), 2, "{http:#?}");
    assert_eq!(http[0]["conn"], http[1]["conn"], "one connection");
    let f = the_finding(&records, "http.slow_server");
    let s = summary(f);
    assert!(
        s.starts_with("GET /v1/slow (host api.live.test) -> 200 in "),
        "{s}"
    );
    let second = &http[1];
    assert_eq!(second["path"], "/v1/slow");
    let first_request = http[0]["request_frames"][0].as_u64().unwrap();
    let evidence = frames(f);
    assert!(
        evidence.contains(&second["request_frames"][0].as_u64().unwrap())
            && evidence.contains(&second["response_frames"][1].as_u64().unwrap())
            && !evidence.contains(&first_request),
        "evidence {evidence:?} vs {http:#?}"
    );
    assert_eq!(problems(&records).len(), 1, "{:#?}", problems(&records));
}

/// A fast NOERROR lookup and a fast 200: nothing is wrong, so no warning or
/// error finding at all (the records are there).
#[test]
fn healthy_lookup_and_call() {
    let dns_ip = Ipv4Addr::new(127, 84, 0, 5);
    let http_ip = Ipv4Addr::new(127, 84, 1, 5);
    let filter = format!("host {dns_ip} or host {http_ip}");
    let Some(records) = capture_and_analyze("healthy_lookup_and_call", &filter, || {
        let dns = udp_dns_server(dns_ip, 1, move |q| {
            Some((Duration::ZERO, dns_response(q, 0, false, &[http_ip])))
        });
        let answer = udp_lookup(
            dns_server_addr(dns_ip),
            &dns_query(0x0b0b, "ok.live.test", A),
            1,
            Duration::from_secs(2),
        );
        assert!(answer.is_some());
        dns.join().unwrap();
        let (addr, server) = http_server(http_ip, |_, _, conn| {
            let _ = conn.write_all(response("200 OK", "{\"ok\":true}").as_bytes());
        });
        assert_eq!(
            http_get_all(addr, "ok.live.test", &["/v1/health"]),
            [(200, 11)]
        );
        server.join().unwrap();
    }) else {
        return;
    };
    assert_eq!(of_type(&records, "dns").len(), 1, "{records:#?}");
    let http = of_type(&records, "http");
    assert_eq!(http.len(), 1, "{records:#?}");
    assert_eq!(http[0]["status"], 200);
    assert!(problems(&records).is_empty(), "{:#?}", problems(&records));
}
