//! `capture.drops`: the drop counters a pcapng carries (Interface Statistics
//! Blocks) reach the verdict, and holes in TCP streams that coincide with them
//! are not blamed on the network. Builder-made captures, plus a live
//! `capture --pcapng` whose file must end with our own ISB.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::util::conv::Conv;
use crate::util::{analyze_records, can_capture, write_file, LiveCapture};

/// One connection whose response has a hole the capture never saw: the client's
/// ACK covers 100 bytes that are not in the capture.
fn conversation_with_a_hole() -> Conv {
    let mut conv = Conv::new(40300, 8080);
    conv.at(0.0).handshake(0.001);
    conv.at(0.002).c("P.", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    conv.at(0.010).s("P.", &[b'x'; 200]);
    conv.server.seq = conv.server.seq.wrapping_add(100);
    conv.at(0.011).s("P.", &[b'y'; 200]);
    conv.at(0.012).c(".", &[]);
    conv.at(0.020)
        .c("F.", &[])
        .at(0.021)
        .s("F.", &[])
        .at(0.022)
        .c(".", &[]);
    conv
}

fn findings<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["type"] == "finding" && r["kind"] == kind)
        .collect()
}

fn summary(records: &[Value]) -> &Value {
    records.iter().find(|r| r["type"] == "summary").unwrap()
}

#[test]
fn capture_drops_from_an_isb_names_the_counts_and_the_holes() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = conversation_with_a_hole().pcapng();
    // isb_ifrecv 20, isb_ifdrop 1, isb_osdrop 3; an earlier ISB is superseded.
    b.isb_counters(0, 0, &[(4, 5), (7, 1)]);
    b.isb_counters(0, 0, &[(4, 20), (5, 1), (7, 3)]);
    let file = write_file(dir.path(), "drops.pcapng", &b.bytes());
    let records = analyze_records(&file, &[]);
    let drops = findings(&records, "capture.drops");
    assert_eq!(drops.len(), 1, "{records:?}");
    let f = drops[0];
    let text = f["summary"].as_str().unwrap();
    assert_eq!(f["severity"], "error", "4 of 20 is far above 1%: {text}");
    assert!(text.contains("lost 4 packets"), "{text}");
    assert!(
        text.contains("3 by the kernel's capture buffer, 1 by the interface"),
        "{text}"
    );
    assert!(text.contains("1 connections (conn "), "{text}");
    assert!(text.contains("100 bytes"), "{text}");
    assert!(text.contains("not the network's"), "{text}");
    let stats = &summary(&records)["capture_stats"];
    assert_eq!(stats["received"], 20);
    assert_eq!(stats["by_os"], 3);
    assert_eq!(stats["by_interface"], 1);
}

#[test]
fn a_small_share_of_drops_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = conversation_with_a_hole().pcapng();
    b.isb_counters(0, 0, &[(4, 10_000), (5, 2)]);
    let file = write_file(dir.path(), "few.pcapng", &b.bytes());
    let records = analyze_records(&file, &[]);
    let drops = findings(&records, "capture.drops");
    assert_eq!(drops.len(), 1);
    assert_eq!(drops[0]["severity"], "warning");
    assert!(drops[0]["summary"]
        .as_str()
        .unwrap()
        .contains("2 by the interface"));
}

#[test]
fn no_drops_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let conv = conversation_with_a_hole();
    let mut b = conv.pcapng();
    b.isb_counters(0, 0, &[(4, 12), (5, 0), (7, 0)]);
    let ng = write_file(dir.path(), "clean.pcapng", &b.bytes());
    let pcap = write_file(dir.path(), "clean.pcap", &conv.pcap());
    for file in [ng, pcap] {
        let records = analyze_records(&file, &[]);
        assert!(
            findings(&records, "capture.drops").is_empty(),
            "{records:?}"
        );
    }
}

/// A live `capture --pcapng` ends its file with an ISB: our reader finds the
/// counters (analyze's summary) and Wireshark's reader counts the block.
#[test]
fn live_pcapng_capture_ends_with_interface_statistics() {
    if !can_capture("live_pcapng_capture_ends_with_interface_statistics") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.pcapng");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let cap = LiveCapture::start(&[
        "-i",
        "lo",
        "--pcapng",
        "-w",
        file.to_str().unwrap(),
        "tcp",
        "port",
        &port,
    ]);
    for _ in 0..3 {
        let _c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _ = listener.accept().unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    cap.signal("INT");
    let (code, _, err) = cap.finish();
    assert_eq!(code, 0, "{err}");
    let records = analyze_records(&file, &[]);
    let s = summary(&records);
    assert!(s["frames"].as_u64().unwrap() >= 9, "{s}");
    let stats = &s["capture_stats"];
    assert_eq!(stats["interfaces"], 1, "{s}");
    assert!(stats["received"].as_u64().unwrap() >= s["frames"].as_u64().unwrap());
    assert_eq!(stats["by_os"], 0);
    assert!(findings(&records, "capture.drops").is_empty());
    match Command::new("capinfos").arg(&file).output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("Number of stat entries = 1"), "{text}");
        }
        _ => eprintln!("capinfos not available: the Wireshark cross-check is skipped"),
    }
}
