//! Memory bounds of `analyze` on captures of the shapes that broke it (issue
//! 12): a SYN flood, many short connections, long keep-alive connections.
//! Peak RSS comes from the OS (`wait4`'s rusage of the one child), outside
//! any timing; the bounds sit far below what the unbounded code took, so a
//! lost bound fails here and not on a user's incident capture.
//!
//! The test process itself stays small (captures are streamed to disk,
//! outputs read line by line): Linux counts the spawning process's peak RSS
//! in a vfork'd child's `ru_maxrss`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::conv::{segment, End, BASE_SECS, SERVER};
use crate::util::live::of_type;

/// Runs the binary with `args`, stdout into `out`; returns the exit code and
/// the child's peak RSS in MB.
// The child is reaped by `wait4` (for its rusage), not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str], out: &Path) -> (i32, u64) {
    let child = Command::new(env!("CARGO_BIN_EXE_netsleuth"))
        .args(args)
        .stdout(File::create(out).expect("create output file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("run netsleuth");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are
    // to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // ru_maxrss is in kilobytes on Linux.
    let mb = usage.ru_maxrss as u64 / 1024;
    eprintln!("netsleuth {}: peak RSS {mb} MB", args.join(" "));
    (code, mb)
}

/// Writes a pcap of `frames` (seconds from the start, Ethernet frame) to
/// `path` as they come.
fn write_pcap(path: &Path, frames: impl Iterator<Item = (f64, Vec<u8>)>) {
    let mut w = BufWriter::new(File::create(path).unwrap());
    // Little-endian microsecond pcap, snaplen 65535, Ethernet.
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    w.write_all(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    w.write_all(&65_535u32.to_le_bytes()).unwrap();
    w.write_all(&1u32.to_le_bytes()).unwrap();
    for (t, f) in frames {
        let micros = (t * 1e6).round() as u64;
        let secs = BASE_SECS + (micros / 1_000_000) as u32;
        for v in [
            secs,
            (micros % 1_000_000) as u32,
            f.len() as u32,
            f.len() as u32,
        ] {
            w.write_all(&v.to_le_bytes()).unwrap();
        }
        w.write_all(&f).unwrap();
    }
    w.flush().unwrap();
}

/// Counts of JSON lines by `type`, and the summary record, read line by line.
fn jsonl_counts(path: &Path) -> (std::collections::HashMap<String, u64>, Value) {
    let mut counts = std::collections::HashMap::new();
    let mut summary = Value::Null;
    for line in BufReader::new(File::open(path).unwrap()).lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let t = v["type"].as_str().unwrap_or("?").to_string();
        if t == "summary" {
            summary = v.clone();
        }
        *counts.entry(t).or_insert(0) += 1;
    }
    (counts, summary)
}

fn end(addr: [u8; 4], port: u16, seq: u32) -> End {
    End {
        addr,
        port,
        seq,
        ttl: 64,
        window: 64_000,
    }
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_syn_flood_stays_within_its_memory_and_reads_as_one_line() {
    // 100,000 SYNs from distinct sources in 0.5 s, none answered: unbounded,
    // each was a whole connection (about 3 KB) and a held finding: ~350 MB.
    const SYNS: u32 = 100_000;
    let server = end(SERVER, 443, 0);
    let frames = (0..SYNS).map(|i| {
        let src = [10, 100 + (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let client = end(src, 1024 + (i % 60_000) as u16, i);
        (
            f64::from(i) * 5e-6,
            segment(&client, &server, i, 0, "S", &[]),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flood.pcap");
    write_pcap(&file, frames);
    let f = file.to_str().unwrap();
    let out = dir.path().join("out");

    let (code, rss) = run_measured(&["analyze", "--memory", "16M", f], &out);
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(rss < 100, "text: peak RSS {rss} MB");
    assert!(
        text.lines().count() <= 400,
        "{} lines",
        text.lines().count()
    );
    assert!(
        text.contains("100,000 SYNs from 100,000 sources to 10.1.0.2:443, none answered"),
        "{text}"
    );
    assert!(
        text.contains("unanswered SYN-only flows were ended before their time-out"),
        "{text}"
    );

    let (code, rss) = run_measured(&["analyze", "--jsonl", "--memory", "16M", f], &out);
    assert_eq!(code, 0);
    assert!(rss < 100, "--jsonl: peak RSS {rss} MB");
    let (counts, summary) = jsonl_counts(&out);
    // Every finding is in the output, held or not.
    assert_eq!(counts["finding"], u64::from(SYNS));
    assert_eq!(counts["connection"], u64::from(SYNS));
    assert_eq!(summary["findings"], SYNS);
    // --memory 16M holds about a thousand findings for stories.
    let without = summary["findings_without_story"].as_u64().unwrap();
    assert!(
        (u64::from(SYNS) - 2_000..u64::from(SYNS)).contains(&without),
        "{summary}"
    );
    assert!(summary["syn_only_ended_early"].as_u64().unwrap() > 95_000);
    assert!(summary["peak_open_flows"].as_u64().unwrap() < 5_000);

    let (code, rss) = run_measured(&["analyze", "--json", "--memory", "16M", f], &out);
    assert_eq!(code, 0);
    assert!(rss < 100, "--json: peak RSS {rss} MB");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), SYNS as usize);
    assert_eq!(doc["groups"][0]["count"], SYNS);
}

#[test]
fn short_connections_are_reported_at_their_close_and_late_packets_are_not_new_ones() {
    // 30,000 connections in 3 s, each closed by FIN both ways: held for the
    // 10 s closed time-out they were all open at once (~100 MB).
    const CONNS: u32 = 30_000;
    let server = end(SERVER, 80, 900_000);
    let req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let client = |i: u32| {
        end(
            [10, 50, (i >> 8) as u8, i as u8],
            2000 + (i % 50_000) as u16,
            1000,
        )
    };
    let (cs, ss) = (1000u32, server.seq);
    let (creq, sresp) = (cs + 1 + req.len() as u32, ss + 1 + resp.len() as u32);
    let frames = (0..CONNS).flat_map(|i| {
        let t = f64::from(i) * 100e-6;
        let c = client(i);
        [
            (0.0, segment(&c, &server, cs, 0, "S", &[])),
            (1e-5, segment(&server, &c, ss, cs + 1, "S.", &[])),
            (2e-5, segment(&c, &server, cs + 1, ss + 1, ".", &[])),
            (2e-5, segment(&c, &server, cs + 1, ss + 1, "P.", req)),
            (3e-5, segment(&server, &c, ss + 1, creq, "P.", resp)),
            (4e-5, segment(&c, &server, creq, sresp, "F.", &[])),
            (5e-5, segment(&server, &c, sresp, creq + 1, "F.", &[])),
            (6e-5, segment(&c, &server, creq + 1, sresp + 1, ".", &[])),
        ]
        .map(|(dt, f)| (t + dt, f))
    });
    // The last connection's FIN again, a second later: late, not a new call.
    let last = client(CONNS - 1);
    let late = (
        f64::from(CONNS) * 100e-6 + 1.0,
        segment(&server, &last, sresp, creq + 1, "F.", &[]),
    );
    let frames = frames.chain(std::iter::once(late));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("short.pcap");
    write_pcap(&file, frames);
    let out = dir.path().join("out");

    let (code, rss) = run_measured(&["analyze", "--jsonl", file.to_str().unwrap()], &out);
    assert_eq!(code, 0);
    assert!(rss < 60, "peak RSS {rss} MB");
    let records = jsonl(&out);
    let summary = of_type(&records, "summary")[0];
    assert_eq!(summary["connections"], CONNS, "{summary}");
    assert_eq!(summary["http_transactions"], CONNS, "{summary}");
    assert_eq!(summary["late_after_close"], 1, "{summary}");
    assert!(
        summary["peak_open_flows"].as_u64().unwrap() < 10,
        "{summary}"
    );
    let conns = of_type(&records, "connection");
    assert_eq!(conns.len(), CONNS as usize);
    // Reported at the close, every packet of the close counted.
    assert!(
        conns
            .iter()
            .all(|c| c["client_packets"] == 5 && c["server_packets"] == 3 && c["state"] == "SF"),
        "{}",
        conns[0]
    );
    assert!(
        of_type(&records, "finding").is_empty(),
        "{:?}",
        of_type(&records, "finding").first()
    );
}

#[test]
fn long_keep_alive_connections_stay_flat_and_the_report_short() {
    // 10 connections of 5,000 requests each, two of every hundred a 503.
    const CONNS: u16 = 10;
    const REQUESTS: u32 = 5_000;
    let server = end(SERVER, 8080, 900_000);
    let client = |k: u16| end([10, 60, 0, 1], 3000 + k, 1000);
    let req = |r: u32| format!("GET /v1/items/{r} HTTP/1.1\r\nHost: api\r\n\r\n");
    let resp = |r: u32| {
        let status = if r % 50 == 7 { "503 Busy" } else { "200 OK" };
        format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok")
    };
    // Sequence numbers before request r: the sum of the earlier lengths.
    let mut seq = vec![(1001u32, server.seq + 1); usize::from(CONNS)];
    let handshakes = (0..CONNS).flat_map(|k| {
        let c = client(k);
        [
            (0.0, segment(&c, &server, 1000, 0, "S", &[])),
            (1e-5, segment(&server, &c, server.seq, 1001, "S.", &[])),
            (2e-5, segment(&c, &server, 1001, server.seq + 1, ".", &[])),
        ]
    });
    let exchanges = (0..REQUESTS).flat_map(move |r| {
        let mut out = Vec::with_capacity(usize::from(CONNS) * 2);
        for k in 0..CONNS {
            let c = client(k);
            let (cs, ss) = seq[usize::from(k)];
            let (q, a) = (req(r), resp(r));
            let t = 0.001 + f64::from(r) * 1e-3 + f64::from(k) * 1e-5;
            out.push((t, segment(&c, &server, cs, ss, "P.", q.as_bytes())));
            let cs = cs + q.len() as u32;
            out.push((t + 5e-6, segment(&server, &c, ss, cs, "P.", a.as_bytes())));
            seq[usize::from(k)] = (cs, ss + a.len() as u32);
        }
        out
    });
    let frames = handshakes.chain(exchanges);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keepalive.pcap");
    write_pcap(&file, frames);
    let f = file.to_str().unwrap();
    let out = dir.path().join("out");

    for mode in ["--text", "--jsonl", "--json"] {
        let args: Vec<&str> = ["analyze", mode, f]
            .into_iter()
            .filter(|a| *a != "--text")
            .collect();
        let (code, rss) = run_measured(&args, &out);
        assert_eq!(code, 0, "{mode}");
        // A connection holds 64 completed transactions at most (the older
        // ones are written as they complete): holding all 50,000 took 54 MB.
        assert!(rss < 40, "{mode}: peak RSS {rss} MB");
        if mode == "--text" {
            let text = std::fs::read_to_string(&out).unwrap();
            assert!(
                text.lines().count() <= 400,
                "{} lines",
                text.lines().count()
            );
            assert!(
                text.contains("http.server_error") && text.contains("GET /v1/items/{id}"),
                "{text}"
            );
        }
    }
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let total = u64::from(CONNS) * u64::from(REQUESTS);
    let http = doc["http"].as_array().unwrap();
    assert_eq!(http.len() as u64, total);
    // Written early or at the close, each is timed with the handshake's
    // round trip (20 µs here) and keeps its own phases.
    assert!(
        http.iter()
            .all(|h| h["rtt_ms"] == 0.02 && h["timing_ms"]["wait"] == 0.005),
        "{}",
        http[100]
    );
    let firsts = http
        .iter()
        .filter(|h| !h["timing_ms"]["connect"].is_null())
        .count();
    assert_eq!(
        firsts,
        usize::from(CONNS),
        "set-up phases on each first transaction only"
    );
    let errors = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == "http.server_error")
        .expect("a server_error group");
    assert_eq!(errors["count"], total / 50);
}
