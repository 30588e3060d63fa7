//! `netsleuth capture` and `interfaces` on real loopback traffic.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::util::{can_capture, netsleuth, run, stat, LiveCapture};

/// A short TCP exchange on loopback: connect, 5 bytes each way, close.
/// Returns the server port.
fn short_exchange(listener: TcpListener) {
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(b"world").unwrap();
        let _ = conn.read(&mut buf); // until the client closes
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).unwrap();
    drop(client);
    server.join().unwrap();
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn prints_live_packets_of_a_loopback_exchange() {
    if !can_capture("prints_live_packets_of_a_loopback_exchange") {
        return;
    }
    let (l, port) = listener();
    let cap = LiveCapture::start(&["-i", "lo", "tcp", "port", &port.to_string()]);
    short_exchange(l);
    std::thread::sleep(Duration::from_millis(200));
    cap.signal("INT");
    let (code, out, err) = cap.finish();
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.len() >= 8,
        "expected handshake, data and close:\n{out}"
    );
    assert!(
        lines[0].contains(&format!("-> 127.0.0.1:{port} TCP [S]")),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(&format!("127.0.0.1:{port} -> ")) && lines[1].contains("[S.]"));
    assert!(out.contains("len 5"), "{out}");
    assert!(out.contains("[F.]"), "{out}");
    assert_eq!(stat(&err, "packets captured"), lines.len() as u64);
}

/// The tcpdump failure the issue names: stopped right after a short exchange,
/// tcpdump (no immediate mode) reports packets "received by filter" but captures
/// none. We must write every one of them, in both modes.
#[test]
fn stop_right_after_exchange_loses_nothing() {
    if !can_capture("stop_right_after_exchange_loses_nothing") {
        return;
    }
    // With -w the default is block mode (TPACKET_V3), the case tcpdump gets wrong.
    for mode in [&[][..], &["--immediate"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.pcap");
        let (l, port) = listener();
        let mut args = vec!["-i", "lo", "-w", file.to_str().unwrap()];
        args.extend_from_slice(mode);
        let port_s = port.to_string();
        args.extend_from_slice(&["tcp", "port", &port_s]);
        let cap = LiveCapture::start(&args);
        short_exchange(l);
        cap.signal("INT"); // at once: no grace period
        let (code, _, err) = cap.finish();
        assert_eq!(code, 0, "{mode:?}: {err}");
        let captured = stat(&err, "packets captured");
        let received = stat(&err, "packets received by filter");
        // On lo the kernel counts each packet twice (sent and received copies);
        // libpcap drops the sent copy. Every packet the kernel took is in the file.
        assert_eq!(
            captured * 2,
            received,
            "{mode:?}: packets left in the kernel\n{err}"
        );
        let (code, out, rerr) = run(&["read", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{rerr}");
        assert_eq!(
            out.lines().count() as u64,
            captured,
            "file holds what was counted"
        );
        // And the exchange is whole: handshake, both payloads, both FINs, last ACK.
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].contains("[S]") && lines[1].contains("[S.]"),
            "{out}"
        );
        assert_eq!(out.matches("len 5").count(), 2, "{out}");
        assert_eq!(out.matches("[F.]").count(), 2, "{out}");
        let last = lines[lines.len() - 1];
        assert!(
            last.contains("TCP [.]") && last.contains("len 0"),
            "final ACK missing: {out}"
        );
    }
}

#[test]
fn sigterm_flushes_a_valid_pcapng() {
    if !can_capture("sigterm_flushes_a_valid_pcapng") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.pcapng");
    let (l, port) = listener();
    let cap = LiveCapture::start(&[
        "-i",
        "lo",
        "-w",
        file.to_str().unwrap(),
        "--pcapng",
        "tcp",
        "port",
        &port.to_string(),
    ]);
    short_exchange(l);
    cap.signal("TERM");
    let (code, _, err) = cap.finish();
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0x0a, 0x0d, 0x0d, 0x0a],
        "pcapng section header"
    );
    let (code, out, _) = run(&["read", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count() as u64, stat(&err, "packets captured"));
}

#[test]
fn count_and_duration_end_the_capture() {
    if !can_capture("count_and_duration_end_the_capture") {
        return;
    }
    let (l, port) = listener();
    let cap = LiveCapture::start(&["-i", "lo", "-c", "3", "tcp", "port", &port.to_string()]);
    short_exchange(l);
    let (code, out, err) = cap.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");

    let started = std::time::Instant::now();
    let cap = LiveCapture::start(&["-i", "lo", "--duration", "300ms", "tcp", "port", "9"]);
    let (code, _, err) = cap.finish();
    assert_eq!(code, 0, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(stat(&err, "packets captured"), 0);
}

#[test]
fn size_rotation_with_a_ring_keeps_n_valid_files() {
    if !can_capture("size_rotation_with_a_ring_keeps_n_valid_files") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("ring.pcap");
    let (l, port) = listener();
    let cap = LiveCapture::start(&[
        "-i",
        "lo",
        "-w",
        base.to_str().unwrap(),
        "-C",
        "1",
        "-W",
        "3",
        "tcp",
        "port",
        &port.to_string(),
    ]);
    // About 5 MB through loopback (64 KB frames): enough to wrap a ring of 3 x 1 MB.
    let server = std::thread::spawn(move || {
        let (mut conn, _) = l.accept().unwrap();
        let mut sink = Vec::new();
        conn.read_to_end(&mut sink).unwrap();
        sink.len()
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let chunk = vec![7u8; 64 * 1024];
    for _ in 0..80 {
        client.write_all(&chunk).unwrap();
    }
    drop(client);
    assert_eq!(server.join().unwrap(), 80 * 64 * 1024);
    std::thread::sleep(Duration::from_millis(200));
    cap.signal("INT");
    let (code, _, err) = cap.finish();
    assert_eq!(code, 0, "{err}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ring.pcap0", "ring.pcap1", "ring.pcap2"], "{err}");
    for name in &names {
        let path = dir.path().join(name);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= 1_000_000 + 70_000, "{name} is {size} bytes");
        let (code, out, rerr) = run(&["read", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {rerr}");
        assert!(out.lines().count() > 0, "{name} is empty");
    }
}

#[test]
fn unknown_interface_lists_the_real_ones() {
    let (code, out, err) = run(&["capture", "-i", "nosuchif0", "-c", "1"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("nosuchif0") && err.contains("lo"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_filter_on_live_capture_exits_2() {
    if !can_capture("bad_filter_on_live_capture_exits_2") {
        return;
    }
    let (code, _, err) = run(&["capture", "-i", "lo", "-c", "1", "tcp", "prot", "80"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("syntax error") && err.contains("tcp prot 80"),
        "{err}"
    );
}

/// Without privilege the error says how to get it. Run as `nobody` when we are
/// root (setpriv drops every capability), so the check is real either way.
#[test]
fn no_privilege_says_how_to_fix_it() {
    let am_root = can_capture("no_privilege_says_how_to_fix_it (as root: dropping to nobody)");
    let output = if am_root {
        std::process::Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(env!("CARGO_BIN_EXE_netsleuth"))
            .args(["capture", "-i", "lo", "-c", "1"])
            .output()
            .expect("setpriv (util-linux)")
    } else {
        netsleuth()
            .args(["capture", "-i", "lo", "-c", "1"])
            .output()
            .unwrap()
    };
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("run as root") && err.contains("setcap cap_net_raw,cap_net_admin=eip"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn interfaces_lists_loopback_with_its_address() {
    let (code, out, err) = run(&["interfaces"]);
    assert_eq!(code, 0, "{err}");
    let lo = out
        .lines()
        .find(|l| {
            l.split_once('.')
                .is_some_and(|(_, rest)| rest.starts_with("lo "))
        })
        .unwrap_or_else(|| panic!("no lo in:\n{out}"));
    assert!(
        lo.contains("Loopback") && lo.contains("127.0.0.1/8"),
        "{lo}"
    );
}

/// `-i any` gives Linux cooked frames (SLL or SLL2 by libpcap version): decoded alike.
#[test]
fn any_interface_decodes_cooked_frames() {
    if !can_capture("any_interface_decodes_cooked_frames") {
        return;
    }
    let (l, port) = listener();
    let cap = LiveCapture::start(&["-i", "any", "-c", "4", "tcp", "port", &port.to_string()]);
    assert!(
        cap.stderr[0].contains("link-type linux_sll"),
        "{:?}",
        cap.stderr
    );
    short_exchange(l);
    let (code, out, err) = cap.finish();
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].contains(&format!("-> 127.0.0.1:{port} TCP [S]")),
        "{out}"
    );
    assert!(
        lines[3].contains("TCP [P.]") && lines[3].contains("len 5"),
        "{out}"
    );
}
