//! Real TLS on loopback for the live TLS tests: an rcgen PKI, rustls servers and
//! clients with bounded time-outs, and one helper that captures an exchange live
//! and returns `analyze --jsonl`'s records.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection, StreamOwned};
use serde_json::Value;

use super::{analyze_records, can_capture, capture_lo};

/// Socket read/write time-out everywhere: no test waits longer on one socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// A test CA and the leaf certificates it issues.
pub struct Pki {
    /// The CA certificate (what a trusting client puts in its root store).
    pub ca: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf certificate chain and its key.
pub struct Leaf {
    /// Leaf first, then the CA.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivatePkcs8KeyDer<'static>,
}

impl Leaf {
    /// The key as rustls wants it.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

impl Pki {
    /// A CA named `cn`.
    pub fn new(cn: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Pki {
            ca: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` (DNS SANs; the first is also the CN), changed by `tweak`.
    pub fn leaf_with(&self, names: &[&str], tweak: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, first);
        }
        tweak(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain: vec![cert.der().clone(), self.ca.clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    /// A plain leaf for `names`.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, |_| {})
    }

    /// A root store holding this CA.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        roots
    }
}

/// Accepts one connection within 5 s (the listener is polled, never blocks for
/// ever) and gives it socket time-outs.
fn accept_one(listener: &TcpListener) -> Option<TcpStream> {
    listener.set_nonblocking(true).ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false).ok()?;
                tcp.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
                tcp.set_write_timeout(Some(IO_TIMEOUT)).ok()?;
                return Some(tcp);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return None,
        }
    }
}

/// Reads a raw socket until EOF (or error/time-out), so closing it sends FIN,
/// not RST for unread bytes.
pub fn drain(tcp: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    for _ in 0..1_000 {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// A TLS server for one connection: handshake, read one HTTP/1.1 request head,
/// answer `200 ok`, close cleanly (close_notify, then wait for the client's
/// close). A failing handshake just ends it: rustls has written its alert.
pub fn https_server(config: rustls::ServerConfig) -> impl FnOnce(TcpStream) + Send + 'static {
    let config = Arc::new(config);
    move |tcp| {
        let Ok(conn) = ServerConnection::new(config) else {
            return;
        };
        let mut tls = StreamOwned::new(conn, tcp);
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
            match tls.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let body = b"ok";
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if tls.write_all(response.as_bytes()).is_err() || tls.write_all(body).is_err() {
            return;
        }
        tls.conn.send_close_notify();
        let _ = tls.flush();
        // The client's close_notify, then its FIN.
        for _ in 0..100 {
            match tls.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        drain(&mut tls.sock);
    }
}

/// What the client saw.
#[derive(Debug)]
pub enum ClientOutcome {
    /// The HTTP response, then a clean close.
    Response(String),
    /// The handshake or exchange failed: rustls' error text.
    Failed(String),
}

impl ClientOutcome {
    /// The error text, panicking (in the test) when the call succeeded.
    pub fn error(&self) -> &str {
        match self {
            ClientOutcome::Failed(e) => e,
            ClientOutcome::Response(r) => panic!("expected the call to fail, got {r:?}"),
        }
    }
}

/// A client GET / over TLS with SNI `name`; returns what the client saw.
pub fn https_get(server: SocketAddr, config: ClientConfig, name: &str) -> ClientOutcome {
    match https_get_inner(server, config, name, IO_TIMEOUT) {
        Ok(r) => ClientOutcome::Response(r),
        Err(e) => ClientOutcome::Failed(e.to_string()),
    }
}

/// As [`https_get`], giving up when the server is silent for `timeout`.
pub fn https_get_inner(
    server: SocketAddr,
    config: ClientConfig,
    name: &str,
    timeout: Duration,
) -> io::Result<String> {
    let sni = ServerName::try_from(name.to_string()).map_err(io::Error::other)?;
    let conn = ClientConnection::new(Arc::new(config), sni).map_err(io::Error::other)?;
    let tcp = TcpStream::connect_timeout(&server, Duration::from_secs(2))?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut tls = StreamOwned::new(conn, tcp);
    // Handshake first, so a silent server costs `timeout`, not more.
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    let request = format!("GET / HTTP/1.1\r\nHost: {name}\r\nUser-Agent: netsleuth-test\r\n\r\n");
    tls.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    // Until the server's close_notify (read returns 0).
    for _ in 0..100 {
        match tls.read(&mut buf)? {
            0 => break,
            n => response.extend_from_slice(&buf[..n]),
        }
    }
    tls.conn.send_close_notify();
    tls.flush()?;
    let _ = tls.sock.shutdown(Shutdown::Write);
    drain(&mut tls.sock);
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// Captures one exchange on loopback and analyzes it: binds a server on
/// 127.0.0.1:0, captures `tcp port P` on lo into a pcap, runs `server` on the
/// accepted connection in a thread and `client` here, stops the capture and
/// returns `analyze --jsonl`'s records with the client's result. `None` (after
/// printing why) when live capture is not possible.
pub fn capture_exchange<T>(
    test: &str,
    server: impl FnOnce(TcpStream) + Send + 'static,
    client: impl FnOnce(SocketAddr) -> T,
) -> Option<(Vec<Value>, T)> {
    capture_exchange_keyed(test, server, client, None)
}

/// Key log lines a rustls client writes, kept in memory.
#[derive(Debug, Default)]
pub struct MemKeyLog(std::sync::Mutex<String>);

impl rustls::KeyLog for MemKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        if let Ok(mut s) = self.0.lock() {
            s.push_str(&format!("{label} {} {}\n", hex(client_random), hex(secret)));
        }
    }
}

/// [`capture_exchange`], analyzing with `--keylog` from what `keys` collected.
pub fn capture_exchange_keyed<T>(
    test: &str,
    server: impl FnOnce(TcpStream) + Send + 'static,
    client: impl FnOnce(SocketAddr) -> T,
    keys: Option<std::sync::Arc<MemKeyLog>>,
) -> Option<(Vec<Value>, T)> {
    if !can_capture(test) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tls.pcap");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port().to_string();
    let outcome = capture_lo(&file, &["tcp", "port", &port], || {
        let server = thread::spawn(move || {
            if let Some(tcp) = accept_one(&listener) {
                server(tcp);
            }
        });
        let outcome = client(addr);
        server.join().expect("server thread");
        outcome
    });
    if let Some(keep) = std::env::var_os("NETSLEUTH_KEEP_PCAP") {
        // Debugging aid: keep the capture of the last test run.
        let _ = std::fs::copy(&file, keep);
    }
    let records = match keys {
        Some(keys) => {
            let path = dir.path().join("keys.log");
            let text = keys.0.lock().map(|s| s.clone()).unwrap_or_default();
            std::fs::write(&path, text).unwrap();
            analyze_records(&file, &["--keylog", path.to_str().unwrap()])
        }
        None => analyze_records(&file, &[]),
    };
    Some((records, outcome))
}

/// Every finding record.
pub fn findings(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["type"] == "finding").collect()
}

/// The kinds of every finding, in output order.
pub fn kinds(records: &[Value]) -> Vec<String> {
    findings(records)
        .iter()
        .map(|f| f["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The one finding of `kind`: asserts there is exactly one, with `severity` and
/// non-empty evidence frames, and that no other `tls.*` kind names this call.
pub fn the_finding<'a>(records: &'a [Value], kind: &str, severity: &str) -> &'a Value {
    let all = kinds(records);
    let of_kind: Vec<&Value> = findings(records)
        .into_iter()
        .filter(|f| f["kind"] == kind)
        .collect();
    assert_eq!(
        of_kind.len(),
        1,
        "one {kind} expected, findings:\n{}",
        described(records)
    );
    let f = of_kind[0];
    assert_eq!(f["severity"], severity, "{f}");
    let frames = f["frames"].as_array().expect("frames");
    assert!(!frames.is_empty(), "{kind} without evidence: {f}");
    assert!(
        frames.iter().all(|n| n.as_u64().is_some_and(|n| n >= 1)),
        "{f}"
    );
    let wrong: Vec<&String> = all
        .iter()
        .filter(|k| k.starts_with("tls.") && *k != kind)
        .collect();
    assert!(
        wrong.is_empty(),
        "{kind} also reported as {wrong:?}:\n{}",
        described(records)
    );
    f
}

/// Every finding as `severity kind: summary [frames]`, one a line, for messages.
pub fn described(records: &[Value]) -> String {
    findings(records)
        .iter()
        .map(|f| {
            format!(
                "{} {}: {} {}",
                f["severity"], f["kind"], f["summary"], f["frames"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The finding's summary text.
pub fn summary(f: &Value) -> &str {
    f["summary"].as_str().unwrap_or("")
}

/// The one tls record.
pub fn tls_record(records: &[Value]) -> &Value {
    let tls: Vec<&Value> = records.iter().filter(|r| r["type"] == "tls").collect();
    assert_eq!(tls.len(), 1, "one tls record expected: {records:?}");
    tls[0]
}
