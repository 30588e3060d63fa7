//! `netsleuth watch` on loopback (root): calls with findings (refused
//! connections, a 500, a failed DNS lookup) are printed while it runs, a few per kind and server, and Ctrl-C gives the grouped
//! summary with every finding counted, the kernel's drop counts and the
//! `--fail-on` exit code.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::live::{
    dns_query, dns_response, http_get_all, http_server, response, udp_dns_server, udp_lookup,
};
use crate::util::{can_capture, netsleuth};

/// Lines of a child's stream, as they come.
pub fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads lines until one contains `want` (at most 10 s); returns them all.
pub fn until(rx: &mpsc::Receiver<String>, want: &str, seen: &mut Vec<String>) {
    until_within(rx, want, seen, Duration::from_secs(10));
}

/// Reads lines until one contains `want` (at most `limit`).
pub fn until_within(
    rx: &mpsc::Receiver<String>,
    want: &str,
    seen: &mut Vec<String>,
    limit: Duration,
) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let done = line.contains(want);
            seen.push(line);
            if done {
                return;
            }
        }
    }
    panic!(
        "no line with {want:?} within {limit:?}; got:\n{}",
        seen.join("\n")
    );
}

/// Starts `watch -i lo ARGS` and waits until it watches; returns it with its
/// stdout and stderr lines.
pub fn start_watch(args: &[&str]) -> (Child, mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let (child, out, err, _) = start_watch_seen(args);
    (child, out, err)
}

/// [`start_watch`], also returning the stderr lines up to "watching".
pub fn start_watch_seen(
    args: &[&str],
) -> (
    Child,
    mpsc::Receiver<String>,
    mpsc::Receiver<String>,
    Vec<String>,
) {
    let mut child = netsleuth()
        .args(["watch", "-i", "lo"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    until(&err, "watching lo", &mut seen);
    (child, out, err, seen)
}

/// A loopback port with nothing listening.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn stop(child: &mut Child) -> i32 {
    let status = std::process::Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("watch did not exit within 10 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn watch_prints_calls_as_they_fail_and_sums_up_at_ctrl_c() {
    if !can_capture("watch_prints_calls_as_they_fail_and_sums_up_at_ctrl_c") {
        return;
    }
    let refused = closed_port();
    let (server, handle) = http_server(Ipv4Addr::LOCALHOST, |_, _, conn| {
        use std::io::Write;
        let _ = conn.write_all(response("500 Internal Server Error", "{}").as_bytes());
    });
    let resolver = Ipv4Addr::new(127, 84, 7, 53);
    let filter = format!(
        "tcp port {refused} or tcp port {} or host {resolver}",
        server.port()
    );
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let mut args = vec!["--fail-on", "error", "--jsonl", records.to_str().unwrap()];
    args.extend(filter.split(' '));
    let (mut child, out, _err) = start_watch(&args);

    // Six refused connections in a row: three printed, the rest counted.
    for _ in 0..6 {
        assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
    }
    let mut seen = Vec::new();
    until(&out, "tcp.connect_refused", &mut seen);
    assert!(child.try_wait().unwrap().is_none(), "printed while running");
    assert!(
        seen.iter()
            .any(|l| l.contains("ERROR the call to 127.0.0.1:") && l.contains("TCP connect step")),
        "{seen:?}"
    );
    // A 500 on a connection that then closes: told at its close.
    assert_eq!(http_get_all(server, "api.test", &["/v1/boom"]), [(500, 2)]);
    until(&out, "http.server_error", &mut seen);
    handle.join().unwrap();
    // A lookup answered SERVFAIL: told when the answer comes, not at the end.
    let dns = udp_dns_server(resolver, 1, |q| {
        Some((Duration::ZERO, dns_response(q, 2, false, &[])))
    });
    let answer = udp_lookup(
        (resolver, 53).into(),
        &dns_query(0x5353, "broken.watch.test", 1),
        1,
        Duration::from_secs(2),
    );
    assert!(answer.is_some(), "the resolver answers");
    dns.join().unwrap();
    until(&out, "dns.servfail", &mut seen);
    assert!(
        seen.iter().any(|l| l.contains("broken.watch.test")),
        "{seen:?}"
    );

    let code = stop(&mut child);
    while let Ok(line) = out.recv_timeout(Duration::from_millis(500)) {
        seen.push(line);
    }
    let text = seen.join("\n");
    assert_eq!(code, 1, "--fail-on error met:\n{text}");
    let live_refusals = seen
        .iter()
        .filter(|l| l.trim_start().starts_with("ERROR tcp.connect_refused") && l.contains("(conn "))
        .count();
    assert_eq!(live_refusals, 3, "three a window:\n{text}");
    // The summary counts every one of them.
    assert!(
        seen.iter()
            .any(|l| l.contains("tcp.connect_refused") && l.contains("x6")),
        "{text}"
    );
    assert!(text.contains("8 findings"), "{text}");
    assert!(text.contains("capture: the kernel counted"), "{text}");
    assert!(text.contains("dropped 0"), "{text}");
    // The same calls as JSON lines, every finding among them.
    let json: Vec<serde_json::Value> = std::fs::read_to_string(&records)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |t: &str| json.iter().filter(|r| r["type"] == t).count();
    assert_eq!(count("finding"), 8, "{json:?}");
    assert_eq!(count("connection"), 8, "{json:?}");
    assert_eq!(count("dns"), 1, "{json:?}");
    assert_eq!(count("group"), 3, "{json:?}");
    assert!(json
        .iter()
        .any(|r| r["type"] == "http" && r["status"] == 500));
}

#[test]
fn watch_times_out_an_unanswered_lookup_on_a_quiet_wire() {
    if !can_capture("watch_times_out_an_unanswered_lookup_on_a_quiet_wire") {
        return;
    }
    // A resolver that never answers, and after the one query nothing more on
    // the wire: the time-out must come from the clock, not from a next packet.
    let resolver = Ipv4Addr::new(127, 84, 7, 54);
    let host = resolver.to_string();
    let (mut child, out, _err) = start_watch(&["host", &host]);
    let dns = udp_dns_server(resolver, 1, |_| None);
    let sent = Instant::now();
    let answer = udp_lookup(
        (resolver, 53).into(),
        &dns_query(0x7117, "silent.watch.test", 1),
        1,
        Duration::from_millis(200),
    );
    assert!(answer.is_none());
    let mut seen = Vec::new();
    // 5 s of DNS time-out, then at most 1 s idle and 1 s of clock lag.
    until_within(&out, "dns.timeout", &mut seen, Duration::from_secs(15));
    let after = sent.elapsed();
    assert!(child.try_wait().unwrap().is_none(), "told while running");
    assert!(
        after >= Duration::from_secs(5),
        "not before the time-out: {after:?}"
    );
    assert!(
        seen.iter().any(|l| l.contains("silent.watch.test")),
        "{seen:?}"
    );
    assert_eq!(stop(&mut child), 0);
    dns.join().unwrap();
}

#[test]
fn watch_streams_json_lines_to_stdout_as_calls_fail() {
    if !can_capture("watch_streams_json_lines_to_stdout_as_calls_fail") {
        return;
    }
    let refused = closed_port();
    let port = refused.to_string();
    let (mut child, out, err) = start_watch(&["--jsonl", "-", "tcp", "port", &port]);
    let mut status = Vec::new();
    assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
    let mut seen = Vec::new();
    until(&out, "tcp.connect_refused", &mut seen);
    assert!(child.try_wait().unwrap().is_none(), "written while running");
    assert_eq!(stop(&mut child), 0);
    while let Ok(line) = out.recv_timeout(Duration::from_millis(500)) {
        seen.push(line);
    }
    // Only JSON on stdout; the summary went to stderr.
    let types: Vec<String> = seen
        .iter()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["type"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(types, ["connection", "finding", "group"], "{seen:?}");
    while let Ok(line) = err.recv_timeout(Duration::from_millis(500)) {
        status.push(line);
    }
    assert!(
        status.iter().any(|l| l.contains("1 findings")),
        "{status:?}"
    );
}

#[test]
fn watch_names_the_fix_for_a_missing_interface() {
    let (code, _, err) = crate::util::run(&["watch", "-i", "no-such-if0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no-such-if0"), "{err}");
    assert!(err.contains("available: "), "{err}");
}

#[test]
fn watch_keeps_a_status_line_on_a_terminal_and_clears_it_for_findings() {
    if !can_capture("watch_keeps_a_status_line_on_a_terminal_and_clears_it_for_findings") {
        return;
    }
    // `script` gives watch a terminal (a pty) for stdout and stderr.
    let refused = closed_port();
    let command = format!(
        "{} watch -i lo --duration 3 tcp port {refused}",
        env!("CARGO_BIN_EXE_netsleuth")
    );
    let child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    const CLEAR: &str = "\r\x1b[2K";
    assert!(
        text.contains(&format!("{CLEAR}netsleuth: "))
            && text.contains("open flows, kernel dropped 0"),
        "{text:?}"
    );
    assert!(text.contains(", 1 findings"), "{text:?}");
    // The finding starts on a clean line: the status line was erased first,
    // so between the last erase and the finding is only its timestamp.
    let at = text.find("ERROR the call to").expect("the finding");
    let before = &text[..at];
    let cleared = before.rfind(CLEAR).expect("an erase before the finding");
    let between = &before[cleared + CLEAR.len()..];
    assert!(
        !between.contains("netsleuth:") && between.trim().len() <= 31,
        "drawn over: {between:?}"
    );
}

/// The JSON records of a file, each line parsed (a torn record fails here).
fn records_in(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} in {path:?}")))
        .collect()
}

fn count_type(records: &[serde_json::Value], t: &str) -> usize {
    records.iter().filter(|r| r["type"] == t).count()
}

#[test]
fn watch_jsonl_rotates_in_a_ring_of_whole_records() {
    if !can_capture("watch_jsonl_rotates_in_a_ring_of_whole_records") {
        return;
    }
    let refused = closed_port();
    let port = refused.to_string();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("r.jsonl");
    let (mut child, out, _err) = start_watch(&[
        "--jsonl",
        base.to_str().unwrap(),
        "-C",
        "0.001",
        "-W",
        "3",
        "tcp",
        "port",
        &port,
    ]);
    let mut seen = Vec::new();
    for _ in 0..8 {
        assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
        std::thread::sleep(Duration::from_millis(30));
    }
    until(&out, "tcp.connect_refused", &mut seen);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stop(&mut child), 0);
    // Three files, r.jsonl0 .. r.jsonl2, each a whole number of records and
    // about 1,000 bytes (one record over at most); no fourth.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["r.jsonl0", "r.jsonl1", "r.jsonl2"]);
    let mut total = 0;
    for name in &names {
        let path = dir.path().join(name);
        let records = records_in(&path);
        assert!(!records.is_empty(), "{name} is empty");
        let size = std::fs::metadata(&path).unwrap().len();
        let largest = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| l.len() as u64 + 1)
            .max()
            .unwrap();
        assert!(size < 1_000 + largest, "{name}: {size} bytes");
        total += count_type(&records, "finding");
    }
    // Eight refusals were recorded; the ring kept the latest.
    assert!((1..8).contains(&total), "{total} findings kept");
}

#[test]
fn sighup_reopens_the_jsonl_file_that_logrotate_moved() {
    if !can_capture("sighup_reopens_the_jsonl_file_that_logrotate_moved") {
        return;
    }
    let refused = closed_port();
    let port = refused.to_string();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("r.jsonl");
    let moved = dir.path().join("r.jsonl.1");
    let (mut child, out, _err) =
        start_watch(&["--jsonl", base.to_str().unwrap(), "tcp", "port", &port]);
    let mut seen = Vec::new();
    assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
    until(&out, "tcp.connect_refused", &mut seen);
    std::fs::rename(&base, &moved).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP does not stop watch"
    );
    assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
    seen.clear();
    until(&out, "tcp.connect_refused", &mut seen);
    assert_eq!(stop(&mut child), 0);
    let old = records_in(&moved);
    let new = records_in(&base);
    assert_eq!(
        (count_type(&old, "connection"), count_type(&old, "finding")),
        (1, 1),
        "{old:?}"
    );
    assert_eq!(
        (count_type(&new, "connection"), count_type(&new, "finding")),
        (1, 1),
        "{new:?}"
    );
    assert_eq!(count_type(&new, "group"), 1, "groups at the stop: {new:?}");
}

#[test]
fn watch_rotation_needs_a_file() {
    let out = crate::util::netsleuth()
        .args(["watch", "-i", "lo", "--jsonl", "-", "-C", "10"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no file to rotate"), "{stderr}");
}

#[test]
fn watch_checks_expect_rules_on_each_call_as_it_completes() {
    if !can_capture("watch_checks_expect_rules_on_each_call_as_it_completes") {
        return;
    }
    let (server, handle) = http_server(Ipv4Addr::LOCALHOST, |i, _, conn| {
        use std::io::Write;
        let body = if i == 0 {
            r#"{"id":7}"#
        } else {
            r#"{"error":"x"}"#
        };
        let _ = conn.write_all(response("200 OK", body).as_bytes());
    });
    let port = server.port().to_string();
    let (mut child, out, _err) = start_watch(&[
        "--fail-on",
        "error",
        "--for",
        "path /v1/orders/*",
        "--expect",
        "json .id exists",
        "tcp",
        "port",
        &port,
    ]);
    assert_eq!(
        http_get_all(
            server,
            "api.test",
            &["/v1/orders/1", "/v1/orders/2", "/health"]
        ),
        [(200, 8), (200, 13), (200, 13)]
    );
    handle.join().unwrap();
    let mut seen = Vec::new();
    until(&out, "http.expectation_failed", &mut seen);
    assert!(child.try_wait().unwrap().is_none(), "told while running");
    let code = stop(&mut child);
    while let Ok(line) = out.recv_timeout(Duration::from_millis(300)) {
        seen.push(line);
    }
    let text = seen.join("\n");
    assert_eq!(code, 1, "--fail-on error met:\n{text}");
    // Only /v1/orders/2 breaks the rule: /health is out of its scope.
    let failed: Vec<&String> = seen
        .iter()
        .filter(|l| {
            l.trim_start().starts_with("ERROR http.expectation_failed") && l.contains("(conn ")
        })
        .collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(text.contains("GET /v1/orders/2"), "{text}");
    assert!(!text.contains("GET /health (host"), "{text}");
}

#[test]
fn watch_keeps_the_packets_of_error_findings_in_the_evidence_dir() {
    if !can_capture("watch_keeps_the_packets_of_error_findings_in_the_evidence_dir") {
        return;
    }
    let refused = closed_port();
    let resolver = Ipv4Addr::new(127, 84, 7, 57);
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    let filter = format!("tcp port {refused} or host {resolver}");
    let mut args = vec!["--evidence-dir", evidence.to_str().unwrap()];
    args.extend(filter.split(' '));
    let (mut child, out, _err) = start_watch(&args);
    // A healthy lookup first: in the window before the failure.
    let dns = udp_dns_server(resolver, 1, |q| {
        Some((
            Duration::ZERO,
            dns_response(q, 0, false, &[Ipv4Addr::LOCALHOST]),
        ))
    });
    assert!(udp_lookup(
        (resolver, 53).into(),
        &dns_query(0x6576, "api.evidence.test", 1),
        1,
        Duration::from_secs(2)
    )
    .is_some());
    dns.join().unwrap();
    for _ in 0..3 {
        assert!(TcpStream::connect(("127.0.0.1", refused)).is_err());
    }
    let mut seen = Vec::new();
    until(&out, "tcp.connect_refused", &mut seen);
    assert_eq!(stop(&mut child), 0);
    while let Ok(line) = out.recv_timeout(Duration::from_millis(300)) {
        seen.push(line);
    }
    let text = seen.join("\n");
    assert!(
        text.contains("evidence: 1 pcapng files") && text.contains("2 error findings past"),
        "one file a minute per kind and server:\n{text}"
    );
    let files: Vec<_> = std::fs::read_dir(&evidence)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.contains("tcp.connect_refused") && name.ends_with(".pcapng"),
        "{name}"
    );
    // Another tool reads it: the lookup before, the refusal itself.
    let shown = std::process::Command::new("tshark")
        .args(["-n", "-r", files[0].to_str().unwrap()])
        .output()
        .expect("tshark (scripts/install-deps)");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("api.evidence.test"), "{shown}");
    assert!(shown.contains("[RST, ACK]"), "{shown}");
}
