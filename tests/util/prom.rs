//! Prometheus and Alertmanager from Debian, started by a test on loopback in
//! a temp dir and stopped (by PID) when dropped; HTTP helpers to query them.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::live::{content_length, read_head};

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One GET over a fresh connection: (status, body).
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = conn.read_to_string(&mut text);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// The address `watch` printed for its metrics.
pub fn metrics_addr(status: &[String]) -> SocketAddr {
    let line = status
        .iter()
        .find(|l| l.contains("metrics on http://"))
        .unwrap_or_else(|| panic!("no metrics line: {status:?}"));
    let rest = &line[line.find("http://").unwrap() + 7..];
    rest[..rest.find('/').unwrap()].parse().unwrap()
}

pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus on loopback in `dir`, scraping `target` every second;
/// stopped (by its PID) when dropped.
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
}

impl Prometheus {
    pub fn start(dir: &std::path::Path, target: SocketAddr) -> Prometheus {
        Prometheus::start_with_config(
            dir,
            &format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: netsleuth\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
    }

    /// Prometheus with `config` (written as `dir/prometheus.yml`, so rule
    /// files named relative to it are found in `dir`).
    pub fn start_with_config(dir: &std::path::Path, config_text: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_text).unwrap();
        let addr: SocketAddr = (Ipv4Addr::LOCALHOST, free_port()).into();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus (apt-get install prometheus)");
        let p = Prometheus { child, addr };
        wait_ready(addr, &dir.join("prometheus.log"));
        p
    }

    /// Every result of an instant query.
    pub fn results(&self, query: &str) -> Vec<serde_json::Value> {
        let (status, body) = get(
            self.addr,
            &format!("/api/v1/query?query={}", percent_encode(query)),
        );
        assert_eq!(status, 200, "{query}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The value of an instant query's single result, if it has one.
    pub fn value(&self, query: &str) -> Option<f64> {
        self.results(query).first()?["value"][1]
            .as_str()?
            .parse()
            .ok()
    }

    /// Waits (at most 30 s) until `query` gives a value for which `ok` holds.
    pub fn wait_for(&self, query: &str, ok: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = None;
        while Instant::now() < deadline {
            last = self.value(query);
            if last.is_some_and(&ok) {
                return last.unwrap();
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("{query}: last value {last:?}");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits (at most 30 s) until `addr` answers `/-/ready` with 200.
fn wait_ready(addr: SocketAddr, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() && get(addr, "/-/ready").0 == 200 {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "{addr} not ready in 30 s:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Alertmanager from Debian (`prometheus-alertmanager`), clustering off.
pub struct Alertmanager {
    child: Child,
    pub addr: SocketAddr,
}

impl Alertmanager {
    pub fn start(dir: &std::path::Path, config_text: &str) -> Alertmanager {
        let config = dir.join("alertmanager.yml");
        std::fs::write(&config, config_text).unwrap();
        let addr: SocketAddr = (Ipv4Addr::LOCALHOST, free_port()).into();
        let log = dir.join("alertmanager.log");
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start alertmanager (apt-get install prometheus-alertmanager)");
        let a = Alertmanager { child, addr };
        wait_ready(addr, &log);
        a
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook receiver: each POST's body (JSON) through the channel, for at
/// most `limit`.
pub fn webhook(limit: Duration) -> (SocketAddr, std::sync::mpsc::Receiver<serde_json::Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let body = read_head(&mut conn).and_then(|head| {
                let mut body = vec![0u8; content_length(&head)];
                conn.read_exact(&mut body).ok()?;
                String::from_utf8(body).ok()
            });
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Some(v) = body.and_then(|b| serde_json::from_str(&b).ok()) {
                if tx.send(v).is_err() {
                    return;
                }
            }
        }
    });
    (addr, rx)
}
