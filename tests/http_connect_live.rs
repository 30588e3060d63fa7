//! Issue 16, CONNECT tunnels on real traffic: curl through a tiny CONNECT
//! proxy (std::net threads, written here, bounded by time-outs) to
//! `openssl s_server` on loopback, captured live on the proxy's port. The
//! CONNECT must be an `http` record and the TLS inside the tunnel a `tls`
//! record (and ssl.log row) with the SNI, on the same connection.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{analyze_records, can_capture, capture_lo, run};

const BODY: &str = "tunnelled\n";
const LIMIT: Duration = Duration::from_secs(10);

/// `openssl s_server -WWW` for `localhost`, killed (by its PID) on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("data.txt"), BODY).expect("body");
        let ok = Command::new("openssl")
            .current_dir(d)
            .args([
                "req",
                "-x509",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
            ])
            .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args(["-keyout", "key.pem", "-out", "cert.pem"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl")
            .success();
        assert!(ok, "openssl req failed");
        let port = free_port();
        let child = Command::new("openssl")
            .current_dir(d)
            .args(["s_server", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-cert", "cert.pem", "-key", "key.pem", "-WWW", "-quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s_server");
        let server = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s_server did not start");
            thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

/// Copies `from` to `to` until end of stream or the time-out, then half-closes `to`.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A CONNECT proxy for one connection on `listener`: whatever the client
/// names, it connects to 127.0.0.1:`upstream` (traffic stays on loopback).
fn proxy_once(listener: TcpListener, upstream: u16) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        listener.set_nonblocking(true).expect("nonblocking");
        let deadline = Instant::now() + LIMIT;
        let client = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Err(_) => return,
            }
        };
        let _ = client.set_nonblocking(false);
        let _ = client.set_read_timeout(Some(LIMIT));
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        let mut reader = &client;
        while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
            match reader.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        assert!(head.starts_with(b"CONNECT "), "not a CONNECT");
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
            return;
        };
        let _ = server.set_read_timeout(Some(LIMIT));
        let mut w = &client;
        if w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .is_err()
        {
            return;
        }
        let (c2, s2) = (
            client.try_clone().expect("clone"),
            server.try_clone().expect("clone"),
        );
        let up = thread::spawn(move || pipe(c2, s2));
        pipe(server, client);
        let _ = up.join();
    })
}

#[test]
fn http_connect_live_curl_through_proxy_gives_tls_in_the_tunnel() {
    if !can_capture("http_connect_live (needs root to capture)") {
        return;
    }
    let server = Server::start();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy_port = listener.local_addr().expect("addr").port();
    let file = server.dir.path().join("cap.pcap");
    let port = proxy_port.to_string();
    let out = capture_lo(&file, &["tcp", "port", &port], || {
        let proxy = proxy_once(listener, server.port);
        let out = Command::new("curl")
            .args(["-s", "--max-time", "8", "--cacert"])
            .arg(server.dir.path().join("cert.pem"))
            .arg("--proxy")
            .arg(format!("http://127.0.0.1:{proxy_port}"))
            .arg(format!("https://localhost:{}/data.txt", server.port))
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .expect("curl");
        let _ = proxy.join();
        out
    });
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        BODY,
        "curl through the proxy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = analyze_records(&file, &[]);
    let http: Vec<_> = records.iter().filter(|r| r["type"] == "http").collect();
    let tls: Vec<_> = records.iter().filter(|r| r["type"] == "tls").collect();
    assert_eq!(http.len(), 1, "{records:?}");
    assert_eq!(http[0]["method"], "CONNECT");
    assert_eq!(http[0]["status"], 200);
    assert_eq!(http[0]["path"], format!("localhost:{}", server.port));
    assert!(http[0]["user_agent"]
        .as_str()
        .is_some_and(|u| u.starts_with("curl/")));
    assert_eq!(tls.len(), 1, "{records:?}");
    assert_eq!(tls[0]["sni"], "localhost");
    assert_eq!(tls[0]["conn"], http[0]["conn"]);
    // The handshake in the tunnel is no set-up phase of the CONNECT.
    assert!(http[0]["timing_ms"]["tls"].is_null(), "{}", http[0]);
    // ssl.log and http.log share the connection's uid.
    let logs = server.dir.path().join("zeek");
    let (code, _, err) = run(&[
        "analyze",
        file.to_str().expect("utf-8"),
        "--zeek-logs",
        logs.to_str().expect("utf-8"),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let uid = |log: &str, field: usize| -> Vec<String> {
        std::fs::read_to_string(logs.join(format!("{log}.log")))
            .expect("log")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').nth(field).unwrap_or_default().to_string())
            .collect()
    };
    let (ssl, http) = (uid("ssl", 1), uid("http", 1));
    assert_eq!(ssl.len(), 1);
    assert_eq!(ssl, http);
}
