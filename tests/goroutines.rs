//! Go goroutine dumps (issue 14): `netsleuth goroutines` on dumps a real Go
//! process wrote of itself in all three forms, and `analyze --goroutines`
//! joining them to a live capture of the same calls: handlers blocked in
//! `main.hang` (by pprof label and by count), a client whose
//! `MaxConnsPerHost=2` pool was full, response bodies never closed.
//!
//! The lab program is `tests/go/goroutines` (stdlib only): it writes its own
//! dumps (`debug=2`, `debug=1`, protobuf) and prints `dumped N UNIXNANOS`, so
//! the tests know when each was taken. Tests skip, with the reason printed,
//! without Go (and the capture tests when not root).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::live::findings;
use crate::util::netns::{NsCapture, ResolvConf, TwoHosts, CLIENT_IF};
use crate::util::{analyze_records, can_capture, capture_lo, go, run, LiveCapture};

/// The lab program; `None` (reason printed) without Go.
fn program(test: &str) -> Option<PathBuf> {
    let built = go::program("goroutines");
    if built.is_none() {
        eprintln!("skipping {test}: cannot build tests/go/goroutines (install golang-go)");
    }
    built
}

/// A running lab process and its stdout lines.
struct Lab {
    child: Child,
    lines: Receiver<String>,
}

impl Lab {
    fn start(program: &Path, args: &[&str]) -> Lab {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Go lab program");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lab { child, lines }
    }

    /// The first line starting with `prefix`, within 20 s.
    fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => continue,
                Err(_) => panic!("the Go lab program never printed {prefix:?}"),
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dumped N UNIXNANOS` → the RFC 3339 time for `FILE@TIME`.
fn dump_time(line: &str) -> String {
    let nanos: i64 = line
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("nanos");
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000);
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%S"])
        .output()
        .expect("date");
    format!("{}.{sub:09}Z", String::from_utf8_lossy(&out.stdout).trim())
}

/// The server (blocking in main.hang) and a client of it with
/// MaxConnsPerHost 2 and `calls` concurrent calls; both dump themselves
/// into `dir`/server and `dir`/client once the calls are stuck. Returns the
/// processes (kept alive by the caller) and the server's address.
fn hung_calls(
    program: &Path,
    dir: &Path,
    labels: bool,
    calls: usize,
    listen: &str,
) -> (Lab, Lab, String) {
    let (sdir, cdir) = (dir.join("server"), dir.join("client"));
    std::fs::create_dir_all(&sdir).unwrap();
    std::fs::create_dir_all(&cdir).unwrap();
    let mut args = vec![
        "-role",
        "server",
        "-listen",
        listen,
        "-hang",
        "30s",
        "-dump",
        sdir.to_str().unwrap(),
        "-dump-after",
        "1500ms",
    ];
    if labels {
        args.push("-labels");
    }
    let server = Lab::start(program, &args);
    let addr = server
        .wait_for("listening ")
        .trim_start_matches("listening ")
        .to_string();
    let url = format!("http://{addr}/hang");
    let n = calls.to_string();
    let client = Lab::start(
        program,
        &[
            "-role",
            "client",
            "-url",
            &url,
            "-n",
            &n,
            "-max-conns",
            "2",
            "-dump",
            cdir.to_str().unwrap(),
            "-dump-after",
            "1200ms",
        ],
    );
    (server, client, addr)
}

/// A loopback port free a moment ago, so the capture filter can name it.
fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

fn group<'a>(dump: &'a Value, role: &str) -> Vec<&'a Value> {
    dump["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter(|g| g["role"] == role)
        .collect()
}

fn role_count(dump: &Value, role: &str) -> u64 {
    group(dump, role)
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn goroutines_classifies_real_dumps_in_every_form() {
    let test = "goroutines_classifies_real_dumps_in_every_form";
    let Some(program) = program(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (server, client, _) = hung_calls(&program, dir.path(), true, 6, "127.0.0.1:0");
    server.wait_for("dumped 0");
    client.wait_for("dumped 0");
    for form in ["txt2", "txt1", "pb.gz"] {
        let s = dir.path().join(format!("server/goroutine-0.{form}"));
        let c = dir.path().join(format!("client/goroutine-0.{form}"));
        let (code, out, err) = run(&[
            "goroutines",
            "--json",
            s.to_str().unwrap(),
            c.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{form}: {err}");
        let v: Value = serde_json::from_str(&out).expect("one JSON document");
        let (sd, cd) = (&v["dumps"][0], &v["dumps"][1]);
        // Two requests reached the server (the pool's two connections); both
        // handlers wait in main.hang, each labelled with its client's address.
        let handlers = group(sd, "handler");
        assert_eq!(role_count(sd, "handler"), 2, "{form}: {sd}");
        assert_eq!(handlers[0]["at"]["function"], "main.hang", "{form}");
        assert!(handlers[0]["at"]["file"]
            .as_str()
            .unwrap()
            .ends_with("main.go"));
        if form != "txt2" {
            // debug=2 has no labels in Go before 1.27; the other forms do.
            let remotes: Vec<&str> = handlers
                .iter()
                .flat_map(|g| g["labels"].as_array().unwrap())
                .filter_map(|l| l["labels"]["remote"].as_str())
                .collect();
            assert_eq!(remotes.len(), 2, "{form}: {handlers:?}");
            assert!(remotes
                .iter()
                .all(|r| r.parse::<std::net::SocketAddr>().is_ok()));
        } else {
            assert_eq!(handlers[0]["state"], "select");
        }
        // The client: two calls on the wire, four queued for the pool.
        assert_eq!(role_count(cd, "await_response"), 2, "{form}: {cd}");
        assert_eq!(role_count(cd, "conn_wait"), 4, "{form}: {cd}");
        assert_eq!(role_count(cd, "read_loop"), 2, "{form}: {cd}");
        assert_eq!(group(cd, "conn_wait")[0]["at"]["function"], "main.call");
        assert_eq!(
            v["dumps"][0]["format"],
            match form {
                "txt2" => "debug=2",
                "txt1" => "debug=1",
                _ => "protobuf",
            }
        );
    }
    let text = dir.path().join("server/goroutine-0.txt2");
    let (code, out, _) = run(&["goroutines", text.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("server handlers running (handler): 2"),
        "{out}"
    );
    assert!(out.contains("main.hang (main.go:"), "{out}");
}

/// HTTP/2 (HTTPS with ALPN, as Go negotiates it by default): the server's
/// handlers run under `http2serverConn.runHandler` and the client's calls
/// wait in `http2ClientConn.RoundTrip`, with one reader per connection.
#[test]
fn goroutines_classifies_http2_dumps() {
    let Some(program) = program("goroutines_classifies_http2_dumps") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (sdir, cdir) = (dir.path().join("server"), dir.path().join("client"));
    std::fs::create_dir_all(&sdir).unwrap();
    std::fs::create_dir_all(&cdir).unwrap();
    let server = Lab::start(
        &program,
        &[
            "-role",
            "server",
            "-tls",
            "-hang",
            "30s",
            "-dump",
            sdir.to_str().unwrap(),
            "-dump-after",
            "1500ms",
        ],
    );
    let addr = server
        .wait_for("listening ")
        .trim_start_matches("listening ")
        .to_string();
    let url = format!("https://{addr}/hang");
    let client = Lab::start(
        &program,
        &[
            "-role",
            "client",
            "-tls",
            "-url",
            &url,
            "-n",
            "3",
            "-dump",
            cdir.to_str().unwrap(),
            "-dump-after",
            "1200ms",
        ],
    );
    server.wait_for("dumped 0");
    client.wait_for("dumped 0");
    let (code, out, err) = run(&[
        "goroutines",
        "--json",
        sdir.join("goroutine-0.txt2").to_str().unwrap(),
        cdir.join("goroutine-0.txt2").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let (sd, cd) = (&v["dumps"][0], &v["dumps"][1]);
    assert_eq!(role_count(sd, "handler"), 3, "{sd}");
    assert_eq!(group(sd, "handler")[0]["at"]["function"], "main.hang");
    assert!(
        group(sd, "server_idle")
            .iter()
            .any(|g| g["blocked_in"]["function"]
                .as_str()
                .is_some_and(|f| f.contains("http2serverConn).serve"))),
        "{sd}"
    );
    assert_eq!(role_count(cd, "await_response"), 3, "{cd}");
    let waiting = group(cd, "await_response");
    assert_eq!(waiting[0]["at"]["function"], "main.call");
    assert!(
        waiting[0]["blocked_in"]["function"]
            .as_str()
            .is_some_and(|f| f.contains("http2ClientConn).RoundTrip")),
        "{cd}"
    );
    assert_eq!(role_count(cd, "read_loop"), 1, "one connection: {cd}");
    assert_eq!(role_count(cd, "conn_wait"), 0, "{cd}");
}

#[test]
fn goroutines_names_the_line_of_a_cut_dump() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.txt");
    std::fs::write(
        &cut,
        "goroutine 1 [running]:\nmain.main()\n\t/a/main.go:5 +0x1\nmain.f()\n",
    )
    .unwrap();
    let (code, _, err) = run(&["goroutines", cut.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("line 4") && err.contains("cut"), "{err}");
    let other = dir.path().join("other.txt");
    std::fs::write(&other, "hello\n").unwrap();
    let (code, _, err) = run(&["goroutines", other.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("debug=2"), "{err}");
    let (code, _, err) = run(&["goroutines", "g.txt@yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("RFC 3339"), "{err}");
}

/// Captures the hung calls until both dumps are written, then analyses the
/// capture with the dumps given as `dumps(dir, server_dumped, client_dumped)`.
fn capture_hung_calls(
    test: &str,
    labels: bool,
    dumps: impl Fn(&Path, &str, &str) -> Vec<String>,
) -> Option<(Vec<Value>, String)> {
    let program = program(test)?;
    if !can_capture(test) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hung.pcap");
    // Only this test's traffic: other tests capture on lo at the same time.
    let listen = free_port();
    let port = listen.port().to_string();
    let listen = listen.to_string();
    let (labs, addr, sdumped, cdumped) = capture_lo(&file, &["tcp", "port", &port], || {
        let (server, client, addr) = hung_calls(&program, dir.path(), labels, 10, &listen);
        let s = server.wait_for("dumped 0");
        let c = client.wait_for("dumped 0");
        std::thread::sleep(Duration::from_millis(300));
        ((server, client), addr, s, c)
    });
    drop(labs);
    let args = dumps(dir.path(), &sdumped, &cdumped);
    let mut extra: Vec<&str> = Vec::new();
    for a in &args {
        extra.extend(["--goroutines", a.as_str()]);
    }
    Some((analyze_records(&file, &extra), addr))
}

#[test]
fn analyze_joins_labelled_handlers_and_a_full_pool_to_the_capture() {
    let test = "analyze_joins_labelled_handlers_and_a_full_pool_to_the_capture";
    let Some((records, addr)) = capture_hung_calls(test, true, |dir, _, _| {
        vec![
            dir.join("server/goroutine-0.txt1").display().to_string(),
            dir.join("client/goroutine-0.pb.gz").display().to_string(),
        ]
    }) else {
        return;
    };
    let blocked = findings(&records, "go.handler_blocked");
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    let b = blocked[0];
    assert_eq!(
        b["severity"], "error",
        "the requests were never answered: {b}"
    );
    assert_eq!(b["server"], addr.as_str());
    let summary = b["summary"].as_str().unwrap();
    assert!(summary.starts_with("2 requests to "), "{summary}");
    assert!(
        summary.contains("main.hang (main.go:") && summary.contains("pprof label remote"),
        "{summary}"
    );
    assert_eq!(b["goroutines"][0]["function"], "main.hang");
    assert_eq!(b["goroutines"][0]["count"], 2);
    // It names the connection of a request left without a response.
    let unanswered: Vec<u64> = findings(&records, "http.no_response")
        .iter()
        .map(|f| f["conn"].as_u64().unwrap())
        .collect();
    assert_eq!(unanswered.len(), 2);
    assert!(unanswered.contains(&b["conn"].as_u64().unwrap()));

    let pool = findings(&records, "go.pool_exhausted");
    assert_eq!(pool.len(), 1, "{pool:?}");
    let p = pool[0];
    assert_eq!(p["server"], addr.as_str());
    let summary = p["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("8 calls waited inside the client"),
        "{summary}"
    );
    assert!(
        summary.contains("all 2 connections to") && summary.contains("capped at 2"),
        "{summary}"
    );
    assert_eq!(p["goroutines"][0]["role"], "conn_wait");
    assert_eq!(p["goroutines"][0]["function"], "main.call");
}

#[test]
fn analyze_joins_unlabelled_handlers_by_count_and_time() {
    let test = "analyze_joins_unlabelled_handlers_by_count_and_time";
    let Some((records, addr)) = capture_hung_calls(test, false, |dir, sdumped, _| {
        // The @TIME form: the time the server printed, not the file's mtime.
        vec![format!(
            "{}@{}",
            dir.join("server/goroutine-0.txt2").display(),
            dump_time(sdumped)
        )]
    }) else {
        return;
    };
    let blocked = findings(&records, "go.handler_blocked");
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    let b = blocked[0];
    assert_eq!(b["server"], addr.as_str());
    let summary = b["summary"].as_str().unwrap();
    assert!(summary.contains("joined by count and time"), "{summary}");
    assert!(summary.contains("[select]"), "{summary}");
    assert_eq!(b["goroutines"][0]["state"], "select");
    assert!(
        findings(&records, "go.pool_exhausted").is_empty(),
        "no client dump was given"
    );
}

#[test]
fn analyze_joins_dials_and_lookups_to_the_syns_and_queries_nobody_answered() {
    let test = "analyze_joins_dials_and_lookups_to_the_syns_and_queries_nobody_answered";
    let Some(program) = program(test) else {
        return;
    };
    if !can_capture(test) {
        return;
    }
    // The server host answers nothing: its SYNs and DNS queries are dropped
    // on arrival, where LAB.md says an unanswered SYN is made.
    let mut net = TwoHosts::new("godial");
    let server = net.server.name.clone();
    net.drop_rule(&server, "INPUT", "-p tcp --dport 9 -j DROP");
    net.drop_rule(&server, "INPUT", "-p udp --dport 53 -j DROP");
    let _resolv = ResolvConf::with(
        &net.client.name,
        &format!(
            "nameserver {}\noptions timeout:1 attempts:3\n",
            net.server_ip
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("waits.pcap");
    let (dials, lookups) = (dir.path().join("dial"), dir.path().join("dns"));
    std::fs::create_dir_all(&dials).unwrap();
    std::fs::create_dir_all(&lookups).unwrap();
    let capture = NsCapture::start(&net.client.name, CLIENT_IF, &file, "port 9 or port 53");
    let program = program.to_str().unwrap();
    let by_address = format!("http://{}:9/", net.server_ip);
    let mut dialer = net.client.spawn(&[
        program,
        "-role",
        "client",
        "-url",
        &by_address,
        "-n",
        "3",
        "-dump",
        dials.to_str().unwrap(),
        "-dump-after",
        "1500ms",
    ]);
    let nameserver = format!("{}:53", net.server_ip);
    let mut resolver = net.client.spawn(&[
        program,
        "-role",
        "client",
        "-url",
        "http://api.test:9/",
        "-resolver",
        &nameserver,
        "-dump",
        lookups.to_str().unwrap(),
        "-dump-after",
        "1500ms",
    ]);
    dialer.wait_for_stdout("dumped 0", Duration::from_secs(20));
    resolver.wait_for_stdout("dumped 0", Duration::from_secs(20));
    // The SYNs are resent at 1 s and 3 s, the queries each second.
    std::thread::sleep(Duration::from_millis(2000));
    capture.finish();
    drop((dialer, resolver));
    // No @TIME: each dump's time is its file's mtime.
    let records = analyze_records(
        &file,
        &[
            "--goroutines",
            dials.join("goroutine-0.txt2").to_str().unwrap(),
            "--goroutines",
            lookups.join("goroutine-0.txt2").to_str().unwrap(),
        ],
    );
    let timeouts = findings(&records, "tcp.connect_timeout");
    assert_eq!(timeouts.len(), 3, "{timeouts:?}");
    for f in &timeouts {
        let summary = f["summary"].as_str().unwrap();
        assert!(
            summary.contains("3 goroutines were opening a connection")
                && summary.contains("while 3 SYNs were unanswered on the wire"),
            "{summary}"
        );
        assert!(summary.contains("dial/goroutine-0.txt2"), "{summary}");
        let g = &f["goroutines"];
        assert_eq!(g[0]["role"], "dial", "{f}");
        assert_eq!(g[0]["count"], 3, "{f}");
    }
    let dns = findings(&records, "dns.timeout");
    assert!(!dns.is_empty(), "{records:?}");
    for f in &dns {
        let summary = f["summary"].as_str().unwrap();
        assert!(summary.contains("api.test"), "{summary}");
        assert!(
            summary.contains("in a DNS lookup") && summary.contains("dns/goroutine-0.txt2"),
            "{summary}"
        );
        assert!(
            f["goroutines"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["role"] == "dns"),
            "{f}"
        );
    }
    assert!(
        findings(&records, "go.pool_exhausted").is_empty(),
        "every call had its own dial: no pool was full"
    );
}

#[test]
fn analyze_tells_goroutines_growing_with_unclosed_response_bodies() {
    let test = "analyze_tells_goroutines_growing_with_unclosed_response_bodies";
    let Some(program) = program(test) else { return };
    if !can_capture(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leak.pcap");
    let cdir = dir.path().join("client");
    std::fs::create_dir_all(&cdir).unwrap();
    let listen = free_port();
    let port = listen.port().to_string();
    let listen = listen.to_string();
    capture_lo(&file, &["tcp", "port", &port], || {
        let server = Lab::start(&program, &["-role", "server", "-listen", &listen]);
        let addr = server
            .wait_for("listening ")
            .trim_start_matches("listening ")
            .to_string();
        let url = format!("http://{addr}/ok");
        let client = Lab::start(
            &program,
            &[
                "-role",
                "client",
                "-url",
                &url,
                "-n",
                "5",
                "-rounds",
                "4",
                "-gap",
                "600ms",
                "-leak",
                "-linger",
                "5s",
                "-dump",
                cdir.to_str().unwrap(),
                "-dump-after",
                "300ms",
                "-dump-every",
                "600ms",
                "-dumps",
                "4",
            ],
        );
        client.wait_for("dumped 3");
        (server, client)
    });
    let dumps: Vec<String> = (0..4)
        .map(|i| {
            cdir.join(format!("goroutine-{i}.txt2"))
                .display()
                .to_string()
        })
        .collect();
    let mut extra = Vec::new();
    for d in &dumps {
        extra.extend(["--goroutines", d.as_str()]);
    }
    let records = analyze_records(&file, &extra);
    let leaks = findings(&records, "go.goroutine_leak");
    let readers: Vec<&&Value> = leaks
        .iter()
        .filter(|f| f["goroutines"][0]["role"] == "read_loop")
        .collect();
    assert_eq!(readers.len(), 1, "{leaks:?}");
    let summary = readers[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("over 4 dumps") && summary.contains("TCP connections open"),
        "{summary}"
    );
    assert!(
        summary.contains("response bodies not closed")
            || summary.contains("response bodies are not closed"),
        "{summary}"
    );
    assert!(
        readers[0]["goroutines"][0]["count"].as_u64().unwrap() >= 15,
        "{summary}"
    );
}

#[test]
fn capture_pprof_keeps_dumps_beside_the_capture_and_analyze_joins_them() {
    let test = "capture_pprof_keeps_dumps_beside_the_capture_and_analyze_joins_them";
    let Some(program) = program(test) else { return };
    if !can_capture(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.pcap");
    let listen = free_port();
    let server = Lab::start(
        &program,
        &[
            "-role",
            "server",
            "-listen",
            &listen.to_string(),
            "-pprof",
            "127.0.0.1:0",
            "-labels",
            "-hang",
            "30s",
        ],
    );
    let pprof = server
        .wait_for("pprof ")
        .trim_start_matches("pprof ")
        .to_string();
    let url = format!("http://{pprof}");
    let port = listen.port().to_string();
    let cap = LiveCapture::start(&[
        "-i",
        "lo",
        "-w",
        file.to_str().unwrap(),
        "--pprof",
        &url,
        "--pprof-every",
        "500ms",
        "tcp",
        "port",
        &port,
    ]);
    let target = format!("http://{listen}/hang");
    let client = Lab::start(&program, &["-role", "client", "-url", &target, "-n", "3"]);
    std::thread::sleep(Duration::from_millis(2500));
    cap.signal("INT");
    let (code, _, err) = cap.finish();
    drop((client, server));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("fetching goroutine dumps from"), "{err}");
    let sidecar = dir.path().join("api.pcap.goroutines");
    let files = std::fs::read_dir(&sidecar).unwrap().count();
    assert!(
        err.contains(&format!("wrote {files} goroutine dumps")),
        "{err}"
    );
    // At the start, about every 500 ms, and at the stop, each in two forms.
    assert!(files >= 8, "{files} files in {}", sidecar.display());

    // analyze finds the sidecar on its own.
    let (code, out, err) = run(&["analyze", "--jsonl", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("joining ") && err.contains("api.pcap.goroutines"),
        "{err}"
    );
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let blocked = findings(&records, "go.handler_blocked");
    assert_eq!(
        blocked.len(),
        1,
        "one hang, seen in every dump, is one finding: {blocked:?}"
    );
    let summary = blocked[0]["summary"].as_str().unwrap();
    assert!(summary.starts_with("3 requests to "), "{summary}");
    assert!(summary.contains("pprof label remote"), "{summary}");
    assert!(blocked[0]["goroutines"][0]["dump"]
        .as_str()
        .unwrap()
        .ends_with("-debug1.txt"));
}

#[test]
fn analyze_tells_computing_from_waiting_with_a_cpu_profile() {
    let test = "analyze_tells_computing_from_waiting_with_a_cpu_profile";
    let Some(program) = program(test) else { return };
    if !can_capture(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("think.pcap");
    let cpu = dir.path().join("cpu.pb.gz");
    let listen = free_port();
    let port = listen.port().to_string();
    let listen = listen.to_string();
    capture_lo(&file, &["tcp", "port", &port], || {
        let server = Lab::start(
            &program,
            &[
                "-role",
                "server",
                "-listen",
                &listen,
                "-labels",
                "-think",
                "1200ms",
                "-cpuprofile",
                cpu.to_str().unwrap(),
                "-cpu-for",
                "4s",
            ],
        );
        server.wait_for("listening ");
        for path in ["compute", "slow"] {
            let url = format!("http://{listen}/{path}");
            let client = Lab::start(&program, &["-role", "client", "-url", &url]);
            client.wait_for("call 0 ");
        }
        server.wait_for("cpuprofile done");
    });
    let records = analyze_records(&file, &["--profile", cpu.to_str().unwrap()]);
    let slow = findings(&records, "http.slow_server");
    assert_eq!(slow.len(), 2, "{slow:?}");
    let text = |path: &str| {
        slow.iter()
            .map(|f| f["summary"].as_str().unwrap())
            .find(|s| s.contains(&format!("GET /{path}")))
            .unwrap_or_else(|| panic!("no slow_server for /{path}: {slow:?}"))
            .to_string()
    };
    let computed = text("compute");
    assert!(
        computed.contains("it computed") && computed.contains("for this request (label"),
        "{computed}"
    );
    assert!(computed.contains("main.compute (main.go:"), "{computed}");
    let waited = text("slow");
    assert!(waited.contains("it waited"), "{waited}");

    // The profile alone: `goroutines` says where the CPU went.
    let (code, out, err) = run(&["goroutines", cpu.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(": cpu profile (samples/count, cpu/nanoseconds)"),
        "{out}"
    );
    let first = out
        .lines()
        .skip_while(|l| !l.contains("by application code:"))
        .nth(1)
        .unwrap_or_default();
    assert!(first.contains("main.compute (main.go:"), "{out}");
    let share: f64 = first
        .split('%')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("a share");
    assert!(share > 80.0, "the handler burned the CPU: {out}");
}
