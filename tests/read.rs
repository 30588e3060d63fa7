//! `netsleuth read`: formats, filters, output and the errors a user meets.

use crate::util::capture_builder::{gzip, PcapBuilder, PcapNgBuilder};
use crate::util::{eth_tcp, eth_udp6, netsleuth, raw_udp, run, write_file};

const C: [u8; 4] = [10, 0, 0, 1];
const S: [u8; 4] = [10, 0, 0, 2];
const BASE: u32 = 1_764_166_000;

/// A small handshake + request, Ethernet link, as a pcap.
fn handshake_pcap(big_endian: bool, nanos: bool) -> Vec<u8> {
    let unit = if nanos { 1_000 } else { 1 };
    let mut b = PcapBuilder::new(1, 65_535, big_endian, nanos);
    let frames = [
        eth_tcp(C, 40000, S, 443, 100, "S", &[]),
        eth_tcp(S, 443, C, 40000, 900, "S.", &[]),
        eth_tcp(C, 40000, S, 443, 101, ".", &[]),
        eth_tcp(C, 40000, S, 443, 101, "P.", b"GET / HTTP/1.1\r\n\r\n"),
    ];
    for (i, f) in frames.iter().enumerate() {
        b.packet(BASE, (i as u32) * 1_500 * unit, f.len() as u32, f);
    }
    b.bytes()
}

#[test]
fn reads_pcap_in_every_byte_order_and_precision() {
    let dir = tempfile::tempdir().unwrap();
    for (be, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
        let path = write_file(dir.path(), "t.pcap", &handshake_pcap(be, nanos));
        let (code, out, err) = run(&["read", path.to_str().unwrap()]);
        assert_eq!(code, 0, "be={be} nanos={nanos}: {err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(
            lines[0].starts_with("1 0.000000 10.0.0.1:40000 -> 10.0.0.2:443 TCP [S] seq 100"),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains("10.0.0.2:443 -> 10.0.0.1:40000 TCP [S.] seq 900 ack 1"));
        assert!(lines[3].starts_with("4 0.004500 "), "{}", lines[3]);
        assert!(
            lines[3].contains("TCP [P.]") && lines[3].ends_with("len 18"),
            "{}",
            lines[3]
        );
    }
}

#[test]
fn reads_pcapng_with_two_interfaces_of_different_link_types() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = PcapNgBuilder::new(false);
    b.section()
        .idb(1, 65_535, None, None) // Ethernet, microseconds
        .idb(101, 65_535, Some(9), None); // raw IP, nanoseconds
    let eth = eth_tcp(C, 40000, S, 80, 7, "S", &[]);
    let raw = raw_udp(C, 5353, S, 53, b"query");
    let ts_micro = u64::from(BASE) * 1_000_000;
    b.epb(0, ts_micro, eth.len() as u32, &eth);
    b.nrb(); // unknown-to-us blocks are skipped
    b.block(0x0bad_cafe, &[1, 2, 3, 4]);
    b.epb(
        1,
        (u64::from(BASE) * 1_000_000 + 250) * 1_000 + 7,
        raw.len() as u32,
        &raw,
    );
    let path = write_file(dir.path(), "two.pcapng", &b.bytes());
    let (code, out, err) = run(&["read", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("10.0.0.1:40000 -> 10.0.0.2:80 TCP [S]"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("2 0.000250 10.0.0.1:5353 -> 10.0.0.2:53 UDP len 5"),
        "{}",
        lines[1]
    );
}

#[test]
fn reads_gzip_and_stdin_by_content_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let plain = handshake_pcap(false, false);
    // A gzip file named .pcap and a plain file named .gz: the content decides.
    let gz = write_file(dir.path(), "misleading.pcap", &gzip(&plain));
    let not_gz = write_file(dir.path(), "misleading.gz", &plain);
    let (_, expected, _) = run(&["read", not_gz.to_str().unwrap()]);
    assert_eq!(expected.lines().count(), 4);
    let (code, out, err) = run(&["read", gz.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, expected);

    let output = netsleuth()
        .args(["read", "-"])
        .stdin(std::fs::File::open(&gz).unwrap())
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

#[test]
fn filter_keeps_file_frame_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "t.pcap", &handshake_pcap(false, false));
    let (code, out, err) = run(&[
        "read",
        path.to_str().unwrap(),
        "tcp[tcpflags]",
        "&",
        "tcp-push",
        "!=",
        "0",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("4 "), "frame number must stay 4: {out}");
    let (_, out, _) = run(&["read", path.to_str().unwrap(), "src", "host", "10.0.0.2"]);
    assert_eq!(out.lines().count(), 1);
    assert!(out.starts_with("2 "), "{out}");
}

#[test]
fn json_gives_one_object_per_packet() {
    let dir = tempfile::tempdir().unwrap();
    let v6 = eth_udp6(
        [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        1234,
        [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        53,
        b"abc",
    );
    let mut b = PcapBuilder::new(1, 65_535, false, false);
    b.packet(BASE, 0, v6.len() as u32, &v6);
    let tcp = eth_tcp(C, 1, S, 2, 5, "S", &[]);
    b.packet(BASE, 10, tcp.len() as u32, &tcp);
    let path = write_file(dir.path(), "j.pcap", &b.bytes());
    let (code, out, err) = run(&["read", "--json", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["frame"], 1);
    assert_eq!(records[0]["src"], "fe80::1");
    assert_eq!(records[0]["proto"], "udp");
    assert_eq!(records[0]["dst_port"], 53);
    assert_eq!(records[0]["udp_len"], 3);
    assert_eq!(records[0]["time"], "2025-11-26T14:06:40.000000000Z");
    assert_eq!(records[1]["tcp"]["flags"], "S");
    assert_eq!(records[1]["tcp"]["seq"], 5);
}

#[test]
fn truncated_frames_are_reported_per_frame() {
    let dir = tempfile::tempdir().unwrap();
    let full = eth_tcp(C, 40000, S, 80, 1, "P.", &[0x41; 1000]);
    let mut b = PcapBuilder::new(1, 96, false, false);
    // Snap length cut inside the payload, then a cut inside the TCP header.
    b.record(BASE, 0, 96, full.len() as u32, &full[..96]);
    b.record(BASE, 1, 40, full.len() as u32, &full[..40]);
    let path = write_file(dir.path(), "snap.pcap", &b.bytes());
    let (code, out, err) = run(&["read", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("len 1000"), "{}", lines[0]);
    assert!(
        lines[0].contains(&format!("[captured 96 of {} bytes]", full.len())),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("[truncated:"), "{}", lines[1]);
}

#[test]
fn file_cut_mid_record_keeps_earlier_frames_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = handshake_pcap(false, false);
    let path = write_file(dir.path(), "cut.pcap", &bytes[..bytes.len() - 10]);
    let (code, out, err) = run(&["read", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(err.contains("warning") && err.contains("cut.pcap"), "{err}");
}

#[test]
fn summary_counts_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "t.pcap", &handshake_pcap(false, false));
    let (code, out, err) = run(&["read", "--summary", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("frames read:      4"), "{out}");
    assert!(out.contains("tcp 4 udp 0"), "{out}");
}

#[test]
fn count_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "t.pcap", &handshake_pcap(false, false));
    let (code, out, _) = run(&["read", "-c", "2", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2);
}

#[test]
fn missing_file_exits_2_naming_it() {
    let (code, out, err) = run(&["read", "/nonexistent/dir/x.pcap"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("/nonexistent/dir/x.pcap"), "{err}");
}

#[test]
fn non_capture_file_says_what_it_found() {
    let dir = tempfile::tempdir().unwrap();
    let text = write_file(
        dir.path(),
        "notes.pcap",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let (code, _, err) = run(&["read", text.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("notes.pcap") && err.contains("not a pcap"),
        "{err}"
    );
    assert!(err.contains("text"), "should say it is text: {err}");
    let empty = write_file(dir.path(), "empty.pcap", b"");
    let (code, _, err) = run(&["read", empty.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("empty"), "{err}");
    let (code, _, err) = run(&["read", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("directory"), "{err}");
}

#[test]
fn bad_filter_exits_2_with_libpcaps_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "t.pcap", &handshake_pcap(false, false));
    let (code, out, err) = run(&["read", path.to_str().unwrap(), "tcp", "prot", "80"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("tcp prot 80") && err.contains("syntax error"),
        "{err}"
    );
}

#[test]
fn output_to_a_closed_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = PcapBuilder::new(1, 65_535, false, false);
    let f = eth_tcp(C, 1, S, 2, 5, "S", &[]);
    for i in 0..20_000 {
        b.packet(BASE, i, f.len() as u32, &f);
    }
    let path = write_file(dir.path(), "many.pcap", &b.bytes());
    let mut child = netsleuth()
        .args(["read", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // like `| head -0`
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_has_examples_for_every_command() {
    for cmd in ["read", "capture", "interfaces", "demo"] {
        let (code, out, _) = run(&[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(
            out.contains("Example"),
            "{cmd} --help lacks examples:\n{out}"
        );
    }
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("netsleuth "), "{out}");
}

#[test]
fn unknown_option_is_a_usage_error() {
    let (code, _, err) = run(&["read", "--bogus", "x.pcap"]);
    assert_eq!(code, 2);
    assert!(err.contains("--bogus"), "{err}");
}

#[test]
fn options_may_follow_the_file_and_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "t.pcap", &handshake_pcap(false, false));
    let (code, out, err) = run(&["read", path.to_str().unwrap(), "tcp", "--json", "-c", "1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1);
    assert!(out.starts_with('{'), "{out}");
    let (code, out, err) = run(&["analyze", path.to_str().unwrap(), "tcp", "--jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().all(|l| l.starts_with('{')), "{out}");
}
