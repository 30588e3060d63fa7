//! Helpers shared by the integration tests: running the binary, building frames,
//! live-capture plumbing.
#![allow(dead_code)]

pub mod capture_builder;
pub mod conv;
pub mod go;
pub mod hello;
pub mod live;
pub mod netns;
pub mod prom;
pub mod servers;
pub mod tls;
pub mod tshark;
pub mod zeek;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use etherparse::PacketBuilder;

/// A `Command` for the binary under test.
pub fn netsleuth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_netsleuth"))
}

/// Runs the binary with `args`, returning (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = netsleuth().args(args).output().expect("run netsleuth");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// True when live capture is possible; otherwise prints why the caller skips.
pub fn can_capture(test: &str) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !root {
        eprintln!("skipping {test}: live capture needs root (run the suite with sudo)");
    }
    root
}

/// Writes `bytes` to a new file in `dir`.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

/// Ethernet + IPv4 + TCP.
pub fn eth_tcp(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    flags: &str,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 64_240);
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            '.' => b.ack(1),
            _ => b,
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("build frame");
    out
}

/// Ethernet + IPv4 + UDP.
pub fn eth_udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .expect("build frame");
    out
}

/// Ethernet + IPv6 + UDP.
pub fn eth_udp6(src: [u8; 16], sport: u16, dst: [u8; 16], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(src, dst, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .expect("build frame");
    out
}

/// Raw IPv4 + UDP (no link header), for LINKTYPE_RAW.
pub fn raw_udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .expect("build frame");
    out
}

/// A running `netsleuth capture`, stopped by signal.
pub struct LiveCapture {
    pub child: Child,
    stderr_lines: mpsc::Receiver<String>,
    pub stderr: Vec<String>,
}

impl LiveCapture {
    /// Starts `netsleuth capture ARGS` and waits until it says it is listening.
    pub fn start(args: &[&str]) -> LiveCapture {
        let mut cmd = netsleuth();
        cmd.arg("capture").args(args);
        let mut cap = LiveCapture::spawn(cmd);
        cap.wait_listening();
        cap
    }

    /// Spawns a prepared capture command with its stderr read line by line.
    pub fn spawn(mut cmd: Command) -> LiveCapture {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn capture");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LiveCapture {
            child,
            stderr_lines: rx,
            stderr: Vec::new(),
        }
    }

    /// Waits (at most 10 s) for the "listening on" line.
    pub fn wait_listening(&mut self) {
        let line = self
            .stderr_lines
            .recv_timeout(Duration::from_secs(10))
            .expect("capture did not start listening within 10 s");
        assert!(
            line.contains("listening on"),
            "unexpected first line: {line}"
        );
        self.stderr.push(line);
    }

    /// Sends `signal` (e.g. "INT", "TERM") to the capture process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for exit (at most 10 s) and returns (exit code, stdout, stderr).
    pub fn finish(mut self) -> (i32, String, String) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("capture did not exit within 10 s of being stopped");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            use std::io::Read;
            let _ = out.read_to_string(&mut stdout);
        }
        while let Ok(line) = self.stderr_lines.recv_timeout(Duration::from_millis(500)) {
            self.stderr.push(line);
        }
        (status.code().unwrap_or(-1), stdout, self.stderr.join("\n"))
    }
}

/// A number from the "N packets captured" style lines of the capture statistics.
pub fn stat(stderr: &str, what: &str) -> u64 {
    stderr
        .lines()
        .find(|l| l.ends_with(what))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no '{what}' line in:\n{stderr}"))
}

/// `analyze --jsonl EXTRA...` on capture bytes (written to a temporary file).
pub fn analyze_pcap(pcap: &[u8], extra: &[&str]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_file(dir.path(), "c.pcap", pcap);
    analyze_records(&path, extra)
}

/// `analyze --jsonl EXTRA... FILE`, one record per line; fails the test with
/// analyze's stderr when it does not exit 0.
pub fn analyze_records(file: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["analyze", "--jsonl"];
    args.extend_from_slice(extra);
    let path = file.to_str().expect("utf-8 path");
    args.push(path);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "analyze failed: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

/// Captures on `lo` with the BPF `filter` words into `file` while `traffic`
/// runs, waits 100 ms for the last packets (FIN/ACKs), and stops the capture
/// with SIGINT. Needs root: call [`can_capture`] first.
pub fn capture_lo<T>(file: &Path, filter: &[&str], traffic: impl FnOnce() -> T) -> T {
    let mut args = vec!["-i", "lo", "-w", file.to_str().expect("utf-8 path")];
    args.extend_from_slice(filter);
    let cap = LiveCapture::start(&args);
    let result = traffic();
    std::thread::sleep(Duration::from_millis(100));
    cap.signal("INT");
    let (code, _, err) = cap.finish();
    assert_eq!(code, 0, "capture failed: {err}");
    result
}
