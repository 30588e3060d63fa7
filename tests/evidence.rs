//! `analyze --evidence OUT.pcapng` (issue 15): only the frames the findings
//! cite, with each cited conversation's start and the frames around each
//! cited one, commented; read back with tshark. With `--keylog`, the cited
//! TLS connections' secrets ride along in a Decryption Secrets Block, and
//! tshark and `analyze` open the excerpt decrypted without the key log.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::conv::{Conv, CLIENT};
use crate::util::live::{dns_query, findings};
use crate::util::servers::{http_server, Pki, Reply};
use crate::util::{analyze_records, can_capture, capture_lo, eth_udp, run, tshark, write_file};

/// `frame.number` and `frame.comment` of every frame, via tshark.
fn commented(file: &Path) -> Vec<(u64, String)> {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(["-T", "fields", "-e", "frame.number", "-e", "frame.comment"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (n, c) = l.split_once('\t').unwrap_or((l, ""));
            (n.parse().expect("frame number"), c.to_string())
        })
        .collect()
}

/// The frame numbers of the capture analysed, from the comments.
fn original_numbers(frames: &[(u64, String)]) -> BTreeSet<u64> {
    frames
        .iter()
        .map(|(_, c)| {
            let rest = c
                .split("netsleuth: frame ")
                .nth(1)
                .unwrap_or_else(|| panic!("no original frame number in {c:?}"));
            rest.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a number")
        })
        .collect()
}

/// A keep-alive conversation of 150 calls then a request the server resets,
/// a refused connection, a lookup answered twice by ICMP port unreachable
/// (the ICMP is not in the lookup's conversation, but its finding cites it),
/// and a healthy conversation nobody cites.
fn busy_capture() -> Vec<u8> {
    let mut conv = Conv::new(41000, 80);
    conv.at(0.0).handshake(0.001);
    let mut t = 0.01;
    for _ in 0..150 {
        conv.at(t).c("P.", b"GET /x HTTP/1.1\r\nHost: api\r\n\r\n");
        conv.at(t + 0.002)
            .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        conv.at(t + 0.003).c(".", &[]);
        t += 0.01;
    }
    let mut refused = Conv::new(42000, 81);
    refused.at(0.0).c("S", &[]).s("R.", &[]);
    let mut healthy = Conv::new(43000, 8080);
    healthy
        .at(0.0)
        .handshake(0.001)
        .c("F.", &[])
        .s("F.", &[])
        .c(".", &[]);
    for (_, f) in refused.frames().iter().chain(healthy.frames()) {
        conv.at(t).raw(f.clone());
        t += 0.001;
    }
    conv.at(t)
        .c("P.", b"GET /last HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(t + 0.005).s("R.", &[]);
    t += 0.01;
    let resolver = [10, 1, 0, 54];
    let query = eth_udp(CLIENT, 35353, resolver, 53, &dns_query(7, "api.example", 1));
    for _ in 0..2 {
        let mut icmp = Vec::new();
        etherparse::PacketBuilder::ethernet2([3; 6], [2; 6])
            .ipv4(resolver, CLIENT, 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut icmp, &query[14..14 + 28 + 8])
            .unwrap();
        conv.at(t).raw(query.clone());
        conv.at(t + 0.0003).raw(icmp);
        t += 1.0;
    }
    conv.pcap()
}

#[test]
fn evidence_holds_the_cited_frames_with_their_context_and_nothing_else() {
    if !tshark::available("evidence_holds_the_cited_frames") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = write_file(dir.path(), "busy.pcap", &busy_capture());
    let ev = dir.path().join("ev.pcapng");
    let records = analyze_records(&cap, &["--evidence", ev.to_str().unwrap()]);
    let cited: Vec<&Value> = records.iter().filter(|r| r["type"] == "finding").collect();
    let kinds: Vec<&str> = cited.iter().filter_map(|f| f["kind"].as_str()).collect();
    for k in ["tcp.reset_by_server", "tcp.connect_refused", "dns.timeout"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    let frames = commented(&ev);
    let numbers = original_numbers(&frames);
    // Every frame a finding cites is in the excerpt.
    for f in &cited {
        for n in f["frames"].as_array().unwrap() {
            let n = n.as_u64().unwrap();
            assert!(
                numbers.contains(&n),
                "frame {n} of {f} missing: {numbers:?}"
            );
        }
    }
    // The keep-alive conversation's handshake, and not its 450 quiet frames.
    for n in 1..=3 {
        assert!(numbers.contains(&n), "handshake frame {n}: {numbers:?}");
    }
    assert!(frames.len() < 40, "{} frames: {numbers:?}", frames.len());
    // The healthy conversation is not cited and not there.
    let healthy = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(&ev)
        .args(["-Y", "tcp.port == 43000"])
        .output()
        .unwrap();
    assert!(
        healthy.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&healthy.stdout)
    );
    // The reset carries its finding in a comment.
    let reset = cited
        .iter()
        .find(|f| f["kind"] == "tcp.reset_by_server")
        .unwrap();
    let rst = reset["frames"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_u64()
        .unwrap();
    let comment = &frames
        .iter()
        .find(|(_, c)| c.contains(&format!("netsleuth: frame {rst} ")))
        .unwrap()
        .1;
    assert!(
        comment.contains("netsleuth tcp.reset_by_server (error):"),
        "{comment}"
    );

    // Narrowed to one kind: the refused connection's two frames.
    let narrow = dir.path().join("narrow.pcapng");
    let (code, _, err) = run(&[
        "analyze",
        cap.to_str().unwrap(),
        "--evidence",
        narrow.to_str().unwrap(),
        "--evidence-for",
        "tcp.connect_refused",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("evidence: 2 frames for 1 finding written to"),
        "{err}"
    );
    let frames = commented(&narrow);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(frames
        .iter()
        .all(|(_, c)| c.contains("tcp.connect_refused")));
}

#[test]
fn evidence_from_standard_input_is_refused_with_the_fix() {
    let (code, _, err) = run(&["analyze", "-", "--evidence", "/tmp/never.pcapng"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("give a file, not standard input"), "{err}");
}

/// Two HTTPS servers on loopback, one answering 500: the excerpt of the HTTP
/// findings holds the failing call's connection with its secrets only, and
/// both tshark and `analyze` read it decrypted without the key log.
#[test]
fn evidence_of_a_decrypted_call_carries_its_secrets_and_only_those() {
    let test = "evidence_of_a_decrypted_call_carries_its_secrets_and_only_those";
    if !can_capture(test) || !tshark::available(test) {
        return;
    }
    let pki = Pki::new("evidence test CA");
    let leaf = pki.leaf(&["localhost"], false);
    let versions = [&rustls::version::TLS13];
    let ok = http_server(
        Reply::Status(200, std::time::Duration::ZERO),
        1,
        Some(leaf.server(&versions)),
    );
    let failing = http_server(
        Reply::Status(500, std::time::Duration::ZERO),
        1,
        Some(leaf.server(&versions)),
    );
    let dir = tempfile::tempdir().unwrap();
    let ca = write_file(dir.path(), "ca.pem", pki.ca_pem().as_bytes());
    let keys = dir.path().join("keys.log");
    let cap = dir.path().join("tls.pcap");
    let (p1, p2) = (ok.to_string(), failing.to_string());
    capture_lo(
        &cap,
        &["tcp", "port", &p1, "or", "tcp", "port", &p2],
        || {
            for port in [ok, failing] {
                let status = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "--max-time", "5", "--cacert"])
                    .arg(&ca)
                    .arg(format!("https://localhost:{port}/"))
                    .env("SSLKEYLOGFILE", &keys)
                    .status()
                    .expect("curl");
                assert!(status.success());
            }
        },
    );
    let ev = dir.path().join("ev.pcapng");
    let (code, out, err) = run(&[
        "analyze",
        "--jsonl",
        "--keylog",
        keys.to_str().unwrap(),
        cap.to_str().unwrap(),
        "--evidence",
        ev.to_str().unwrap(),
        // The test servers close with a reset, so both calls have findings:
        // the failing call alone.
        "--evidence-for",
        "http",
    ]);
    assert_eq!(code, 0, "{err}");
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(findings(&records, "http.server_error").len(), 1, "{out}");
    assert!(
        err.contains("TLS secrets for 1 connection embedded"),
        "{err}\n{out}"
    );
    // tshark decrypts it with what the file holds.
    let seen = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(&ev)
        .args([
            "-Y",
            "http.response",
            "-T",
            "fields",
            "-e",
            "http.response.code",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&seen.stdout).trim(), "500");
    // So does analyze, without --keylog.
    let again = analyze_records(&ev, &[]);
    let http: Vec<&Value> = again.iter().filter(|r| r["type"] == "http").collect();
    assert_eq!(http.len(), 1, "{again:?}");
    assert_eq!(http[0]["status"], 500);
    assert_eq!(http[0]["decrypted"], true);
    // Without --keylog no secret is written.
    let bare = dir.path().join("bare.pcapng");
    let (code, _, err) = run(&[
        "analyze",
        cap.to_str().unwrap(),
        "--evidence",
        bare.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("secrets"), "{err}");
    let bytes = std::fs::read(&bare).unwrap();
    assert!(
        !bytes.windows(4).any(|w| w == b"TLSK" || w == b"KSLT"),
        "a secrets block without --keylog"
    );
}
