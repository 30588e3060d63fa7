//! The text report fits on a few screens whatever the capture: a SYN flood,
//! many failing calls to one endpoint and a port scan become grouped lines,
//! the worst calls follow, and `--all` prints every one. JSON keeps every
//! finding and adds the groups.

use serde_json::Value;

use crate::util::conv::{segment, Conv, End, SERVER};
use crate::util::{run, write_file};

/// 2,000 SYNs from distinct sources to one server, 30 calls answered 500 on
/// /v1/orders/N, and 20 ports of another address refused.
fn busy_capture() -> Vec<u8> {
    let mut conv = Conv::new(1, 1);
    let mut t = 0.0;
    for i in 0..2_000u32 {
        let client = End {
            addr: [
                172,
                16 + (i / 65_536) as u8,
                ((i / 256) % 256) as u8,
                (i % 256) as u8,
            ],
            port: 40_000,
            seq: i,
            ttl: 64,
            window: 1024,
        };
        let server = End {
            addr: [192, 168, 0, 1],
            port: 443,
            seq: 0,
            ttl: 64,
            window: 1024,
        };
        t += 0.001;
        conv.at(t).raw(segment(&client, &server, i, 0, "S", &[]));
    }
    for i in 0..30u16 {
        let mut c = Conv::new(50_000 + i, 80);
        c.at(t).handshake(0.001);
        let tt = c.t;
        let req = format!(
            "GET /v1/orders/{} HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
            1000 + i
        );
        c.at(tt + 0.001).c("P.", req.as_bytes());
        c.at(tt + 0.01).s(
            "P.",
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
        );
        c.at(tt + 0.02).c("F.", &[]);
        c.at(tt + 0.03).s("F.", &[]);
        c.at(tt + 0.031).c(".", &[]);
        t = tt + 0.05;
        for (ts, f) in c.frames().to_vec() {
            conv.at(ts).raw(f);
        }
    }
    for p in 0..20u16 {
        let mut c = Conv::new(60_000 + p, 1000 + p);
        c.server.addr = [10, 1, 0, 9];
        c.at(t).c("S", &[]);
        c.at(t + 0.001).s("R.", &[]);
        t += 0.002;
        for (ts, f) in c.frames().to_vec() {
            conv.at(ts).raw(f);
        }
    }
    let _ = SERVER;
    conv.pcap()
}

#[test]
fn a_busy_capture_reads_as_groups_on_a_few_screens() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "busy.pcap", &busy_capture());
    let path = path.to_str().unwrap();
    let (code, out, err) = run(&["analyze", path]);
    assert_eq!(code, 0, "{err}");
    let lines = out.lines().count();
    assert!(lines <= 400, "{lines} lines:\n{out}");
    assert!(out.contains("SUMMARY: 2,050 findings in 3 groups"), "{out}");
    assert!(
        out.contains("2,000 SYNs from 2,000 sources to 192.168.0.1:443, none answered: a SYN flood or a scan"),
        "{out}"
    );
    assert!(
        out.contains("api.example.com  GET /v1/orders/{id}  x30  1 client"),
        "{out}"
    );
    assert!(out.contains("10.1.0.9 (20 ports)"), "{out}");
    assert!(
        out.contains("FINDINGS (the worst 8 of 2,050 calls)"),
        "{out}"
    );
    assert!(
        out.contains("... and 2,042 more calls with findings"),
        "{out}"
    );
    assert!(out.contains("more connections (--all"), "{out}");

    let (code, all, _) = run(&["analyze", "--all", path]);
    assert_eq!(code, 0);
    assert!(!all.contains("SUMMARY:"));
    assert_eq!(
        all.matches("tcp.connect_timeout").count(),
        2_000,
        "every call with --all"
    );

    let (code, jsonl, _) = run(&["analyze", "--jsonl", path]);
    assert_eq!(code, 0);
    let records: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let findings = records.iter().filter(|r| r["type"] == "finding").count();
    assert_eq!(findings, 2_050);
    let groups: Vec<&Value> = records.iter().filter(|r| r["type"] == "group").collect();
    assert_eq!(groups.len(), 3);
    let flood = groups
        .iter()
        .find(|g| g["kind"] == "tcp.connect_timeout")
        .unwrap();
    assert_eq!(flood["count"], 2_000);
    assert_eq!(flood["clients"], 2_000);
    assert_eq!(flood["example_conns"].as_array().unwrap().len(), 3);
}

#[test]
fn a_small_capture_keeps_the_plain_report() {
    let mut conv = Conv::new(40000, 80);
    conv.handshake(0.001);
    conv.at(0.01).c("P.", b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    conv.at(0.02)
        .s("P.", b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "small.pcap", &conv.pcap());
    let (code, out, _) = run(&["analyze", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(!out.contains("SUMMARY:"), "{out}");
    assert!(out.starts_with("FINDINGS\n"), "{out}");
}
