//! Issue 16 on real clients over loopback: `openssl s_client -starttls`
//! (smtp, imap, pop3, ftp, postgres) against a plaintext server written here
//! that, once it grants TLS, relays the socket to a local `openssl s_server`;
//! DTLS 1.2 between `s_client -dtls1_2` and `s_server -dtls1_2`; and mutual
//! TLS 1.2 (`s_server -Verify 1`). Captured live, analysed, and checked
//! against tshark where it is installed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{analyze_records, can_capture, capture_lo, run, tshark};

/// A child process killed (by its PID) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory with a self-signed certificate for `cn` (`NAME.pem`,
/// `NAME.key`).
fn make_cert(dir: &Path, name: &str, cn: &str) {
    let ok = Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509", "-nodes", "-days", "2", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj"])
        .arg(format!("/CN={cn}"))
        .args([
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl req failed");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `openssl s_server` on `port` with `args`, in `dir`, waited for (TCP).
fn s_server(dir: &Path, port: u16, args: &[&str], udp: bool) -> Proc {
    let child = Command::new("openssl")
        .current_dir(dir)
        .args(["s_server", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-cert", "server.pem", "-key", "server.key", "-quiet"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    if udp {
        std::thread::sleep(Duration::from_millis(300));
    } else {
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s_server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    p
}

/// `openssl s_client` with `args` in `dir`, run to its end (at most 10 s).
fn s_client(dir: &Path, args: &[&str]) {
    let mut child = Command::new("openssl")
        .current_dir(dir)
        .arg("s_client")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
}

/// Copies `from` to `to` until either ends.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// The plaintext part of `proto` on one accepted connection, as s_client
/// speaks it; then the socket is relayed to the TLS server on `tls_port`.
fn serve_one(listener: TcpListener, proto: &'static str, tls_port: u16) {
    let Ok((sock, _)) = listener.accept() else {
        return;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
    let mut w = sock.try_clone().unwrap();
    let mut r = BufReader::new(sock.try_clone().unwrap());
    let greeting: &[u8] = match proto {
        "smtp" => b"220 localhost ESMTP test\r\n",
        "imap" => b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
        "pop3" => b"+OK POP3 ready\r\n",
        "ftp" => b"220 FTP ready\r\n",
        _ => b"",
    };
    let _ = w.write_all(greeting);
    if proto == "postgres" {
        let mut req = [0u8; 8];
        if r.read_exact(&mut req).is_err() {
            return;
        }
        let _ = w.write_all(b"S");
    } else {
        // Bounded: at most 20 commands before the upgrade.
        let mut granted = false;
        for _ in 0..20 {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let cmd = line.trim().to_ascii_uppercase();
            let (reply, grant): (&[u8], bool) = match cmd.as_str() {
                c if c.starts_with("EHLO") || c.starts_with("HELO") => {
                    (b"250-localhost\r\n250 STARTTLS\r\n", false)
                }
                "STARTTLS" => (b"220 2.0.0 Ready to start TLS\r\n", true),
                c if c.ends_with(" CAPABILITY") => {
                    (b"* CAPABILITY IMAP4rev1 STARTTLS\r\n. OK done\r\n", false)
                }
                c if c.ends_with(" STARTTLS") => (b". OK Begin TLS negotiation\r\n", true),
                "CAPA" => (b"+OK\r\nSTLS\r\n.\r\n", false),
                "STLS" => (b"+OK Begin TLS\r\n", true),
                c if c.starts_with("AUTH TLS") => (b"234 Proceed\r\n", true),
                _ => (b"500 ?\r\n", false),
            };
            let _ = w.write_all(reply);
            if grant {
                granted = true;
                break;
            }
        }
        if !granted {
            return;
        }
    }
    let Ok(up) = TcpStream::connect(("127.0.0.1", tls_port)) else {
        return;
    };
    // Nothing is buffered past the STARTTLS line: s_client waits for the answer.
    let (a, b) = (sock.try_clone().unwrap(), up.try_clone().unwrap());
    let t = std::thread::spawn(move || pipe(a, b));
    pipe(up, sock);
    let _ = t.join();
}

/// One `s_client -starttls PROTO` session captured; its records and file.
fn starttls_session(proto: &'static str) -> (tempfile::TempDir, PathBuf, Vec<Value>, u16) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_cert(d, "server", "mail.test");
    let tls_port = free_port();
    let _server = s_server(d, tls_port, &[], false);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let plain = std::thread::spawn(move || serve_one(listener, proto, tls_port));
    let file = d.join("cap.pcap");
    let port_s = port.to_string();
    capture_lo(&file, &["tcp", "port", &port_s], || {
        s_client(
            d,
            &[
                "-starttls",
                proto,
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-servername",
                "mail.test",
                "-brief",
            ],
        );
    });
    let _ = plain.join();
    let recs = analyze_records(&file, &[]);
    (dir, file, recs, port)
}

fn tls_of(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "tls").collect()
}

/// The SNI and the chosen cipher suite's name as tshark reads them, with
/// `decode` (`-d` rules) for a port it does not know.
fn tshark_view(file: &Path, proto: &str, decode: &[&str]) -> (String, String) {
    let out = |args: &[&str]| -> String {
        let o = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(file)
            .args(decode)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let sni = out(&[
        "-Y",
        &format!("{proto}.handshake.type == 1"),
        "-T",
        "fields",
        "-e",
        &format!("{proto}.handshake.extensions_server_name"),
    ]);
    let verbose = out(&[
        "-Y",
        &format!("{proto}.handshake.type == 2"),
        "-O",
        proto,
        "-V",
    ]);
    let cipher = verbose
        .lines()
        .find_map(|l| l.trim().strip_prefix("Cipher Suite: "))
        .and_then(|c| c.split(" (0x").next())
        .unwrap_or_default()
        .to_string();
    (sni.lines().next().unwrap_or_default().to_string(), cipher)
}

fn starttls_case(proto: &'static str, name: &str) {
    if !can_capture("live starttls (needs root to capture)") {
        return;
    }
    let (_dir, file, recs, port) = starttls_session(proto);
    let tls = tls_of(&recs);
    assert_eq!(tls.len(), 1, "{proto}: {recs:?}");
    let t = tls[0];
    assert_eq!(t["starttls"], name, "{t}");
    assert_eq!(t["sni"], "mail.test", "{t}");
    assert!(t["established"].is_object(), "{t}");
    assert_eq!(
        t["certificates"].as_array().map(Vec::len),
        Some(0),
        "TLS 1.3: encrypted"
    );
    if tshark::available("live starttls tshark cross-check") && proto == "smtp" {
        let decode = ["-d".to_string(), format!("tcp.port=={port},smtp")];
        let decode: Vec<&str> = decode.iter().map(String::as_str).collect();
        let (sni, cipher) = tshark_view(&file, "tls", &decode);
        assert_eq!(t["sni"], sni.as_str());
        assert_eq!(t["cipher"], cipher.as_str(), "tshark: {cipher}");
    }
}

#[test]
fn live_starttls_smtp() {
    starttls_case("smtp", "smtp");
}

#[test]
fn live_starttls_imap() {
    starttls_case("imap", "imap");
}

#[test]
fn live_starttls_pop3() {
    starttls_case("pop3", "pop3");
}

#[test]
fn live_starttls_ftp() {
    starttls_case("ftp", "ftp");
}

#[test]
fn live_starttls_postgres() {
    starttls_case("postgres", "postgresql");
}

/// `s_client -dtls1_2` and `s_server -dtls1_2` over loopback UDP.
#[test]
fn live_dtls12_matches_tshark() {
    if !can_capture("live dtls (needs root to capture)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_cert(d, "server", "dtls.test");
    let port = free_udp_port();
    let _server = s_server(d, port, &["-dtls1_2", "-naccept", "1"], true);
    let file = d.join("cap.pcap");
    let port_s = port.to_string();
    capture_lo(&file, &["udp", "port", &port_s], || {
        s_client(
            d,
            &[
                "-dtls1_2",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-servername",
                "dtls.test",
                "-brief",
            ],
        );
    });
    let recs = analyze_records(&file, &[]);
    let tls = tls_of(&recs);
    assert_eq!(tls.len(), 1, "{recs:?}");
    let t = tls[0];
    assert_eq!(t["version"], "DTLS 1.2", "{t}");
    assert_eq!(t["sni"], "dtls.test");
    assert!(t["established"].is_object(), "{t}");
    assert_eq!(t["certificates"][0]["subject"], "CN=dtls.test", "{t}");
    let history = t["ssl_history"].as_str().unwrap();
    assert!(
        history.starts_with("Cs") || history.starts_with("CvCs"),
        "{history}"
    );
    if tshark::available("live dtls tshark cross-check") {
        let decode = format!("udp.port=={port},dtls");
        let (sni, cipher) = tshark_view(&file, "dtls", &["-d", &decode]);
        assert_eq!(sni, "dtls.test");
        assert_eq!(t["cipher"], cipher.as_str(), "tshark: {cipher}");
    }
    let logs = d.join("zeek");
    let (code, _, err) = run(&[
        "analyze",
        file.to_str().unwrap(),
        "--zeek-logs",
        logs.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let ssl = std::fs::read_to_string(logs.join("ssl.log")).unwrap();
    assert!(ssl.contains("\tDTLSv12\t"), "{ssl}");
}

/// Mutual TLS 1.2: the server asks for a certificate, the client sends one;
/// its subject and issuer are recorded, its fingerprint fills ssl.log's
/// `client_cert_chain_fps` and x509.log has it with `client_cert` T.
#[test]
fn live_mutual_tls12_client_certificate() {
    if !can_capture("live mutual tls (needs root to capture)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_cert(d, "server", "server.test");
    make_cert(d, "client", "client.test");
    let port = free_port();
    let _server = s_server(d, port, &["-Verify", "1", "-CAfile", "client.pem"], false);
    let file = d.join("cap.pcap");
    let port_s = port.to_string();
    capture_lo(&file, &["tcp", "port", &port_s], || {
        s_client(
            d,
            &[
                "-tls1_2",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-cert",
                "client.pem",
                "-key",
                "client.key",
                "-brief",
            ],
        );
    });
    let recs = analyze_records(&file, &[]);
    let tls = tls_of(&recs);
    assert_eq!(tls.len(), 1, "{recs:?}");
    let t = tls[0];
    assert_eq!(t["client_subject"], "CN=client.test", "{t}");
    assert_eq!(t["client_issuer"], "CN=client.test");
    assert_eq!(t["client_certificates"], 1);
    let history = t["ssl_history"].as_str().unwrap();
    assert!(
        history.starts_with("Csxkrn") && history.contains("XGYI"),
        "{history}"
    );
    let fp = t["client_cert_chain"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = d.join("zeek");
    let (code, _, err) = run(&[
        "analyze",
        file.to_str().unwrap(),
        "--zeek-logs",
        logs.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let ssl = std::fs::read_to_string(logs.join("ssl.log")).unwrap();
    let row: Vec<&str> = ssl
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .split('\t')
        .collect();
    assert_eq!(row[16], fp, "client_cert_chain_fps");
    assert_eq!(row[14], history, "ssl_history");
    let x509 = std::fs::read_to_string(logs.join("x509.log")).unwrap();
    let client_row: Vec<&str> = x509
        .lines()
        .find(|l| l.contains(&fp))
        .expect("the client's certificate in x509.log")
        .split('\t')
        .collect();
    assert_eq!(client_row.last(), Some(&"T"), "client_cert");
}
