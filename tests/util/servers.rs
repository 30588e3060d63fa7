//! Small servers for tests on loopback: HTTP/1.1 with a chosen behaviour, the
//! same over TLS (rustls) with certificates made here (rcgen), and a DNS
//! responder answering from a table. Each serves a bounded number of
//! connections or queries and stops at a deadline; none can hang a test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How long any test server lives at most.
const LIFETIME: Duration = Duration::from_secs(20);

/// What an HTTP server does with each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `status` with a small JSON body, after `think`.
    Status(u16, Duration),
    /// Reads the request and never answers (holds the connection for `LIFETIME`).
    Silent,
    /// `status` with these extra header lines (each `Name: value\r\n`) and this
    /// body (Content-Length added).
    Body(u16, &'static str, &'static [u8]),
}

/// A TLS server's identity and versions.
pub struct TlsServerConfig {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivatePkcs8KeyDer<'static>,
    pub versions: Vec<&'static rustls::SupportedProtocolVersion>,
    /// ALPN protocols the server accepts (none: ALPN is ignored).
    pub alpn: Vec<Vec<u8>>,
}

/// Starts an HTTP (or, with `tls`, HTTPS) server on 127.0.0.1 serving up to
/// `connections` connections; returns its port.
pub fn http_server(reply: Reply, connections: usize, tls: Option<TlsServerConfig>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let tls = tls.map(|t| {
        let mut config = rustls::ServerConfig::builder_with_protocol_versions(&t.versions)
            .with_no_client_auth()
            .with_single_cert(t.chain, PrivateKeyDer::Pkcs8(t.key))
            .expect("server config");
        config.alpn_protocols = t.alpn;
        Arc::new(config)
    });
    thread::spawn(move || {
        let _ = listener.set_nonblocking(true);
        let deadline = Instant::now() + LIFETIME;
        let mut served = 0;
        while served < connections && Instant::now() < deadline {
            match listener.accept() {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nonblocking(false);
                    served += 1;
                    let tls = tls.clone();
                    thread::spawn(move || serve_one(tcp, reply, tls));
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    port
}

fn serve_one(tcp: TcpStream, reply: Reply, tls: Option<Arc<rustls::ServerConfig>>) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    match tls {
        Some(config) => {
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            answer(&mut stream, reply);
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
        None => {
            let mut tcp = tcp;
            answer(&mut tcp, reply);
        }
    }
}

fn answer<S: Read + Write>(stream: &mut S, reply: Reply) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65_536 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    match reply {
        Reply::Status(status, think) => {
            thread::sleep(think);
            let body = format!("{{\"status\":{status}}}");
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                reason(status),
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
            let _ = stream.flush();
        }
        Reply::Silent => thread::sleep(LIFETIME),
        Reply::Body(status, headers, body) => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                reason(status),
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
            let _ = stream.flush();
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A CA and the certificates it signs.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivatePkcs8KeyDer<'static>,
}

impl Pki {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let ca =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
        Pki { ca }
    }

    /// The CA certificate as PEM (for `--cacert`).
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A leaf for `names`; `expired` makes it valid in 2020 only.
    pub fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.ca).expect("sign");
        Leaf {
            chain: vec![cert.der().clone(), self.ca.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }
}

impl Leaf {
    /// A server config for this leaf offering `versions`.
    pub fn server(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> TlsServerConfig {
        TlsServerConfig {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            versions: versions.to_vec(),
            alpn: Vec::new(),
        }
    }
}

/// How the test DNS server answers a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsAnswer {
    /// NOERROR with this A record (AAAA questions get NOERROR, no answer).
    A([u8; 4]),
    /// This rcode, no answer.
    Rcode(u8),
    /// No reply at all.
    Silent,
    /// The A record after a delay.
    SlowA([u8; 4], Duration),
    /// An A and an AAAA record.
    Dual([u8; 4], [u8; 16]),
    /// The A record; AAAA questions are dropped (a broken resolver or firewall).
    ADropAaaa([u8; 4]),
}

/// Starts a UDP DNS responder on 127.0.0.1 answering from `table` (names
/// lower-case, without the final dot; others get NXDOMAIN) for at most
/// `queries` queries; returns its address.
pub fn dns_server(table: Vec<(&'static str, DnsAnswer)>, queries: usize) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind dns");
    let addr = sock.local_addr().expect("addr");
    let _ = sock.set_read_timeout(Some(Duration::from_millis(100)));
    thread::spawn(move || {
        let deadline = Instant::now() + LIFETIME;
        let mut seen = 0;
        let mut buf = [0u8; 1500];
        while seen < queries && Instant::now() < deadline {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            seen += 1;
            let Some((name, qtype, question_end)) = question(&buf[..n]) else {
                continue;
            };
            let entry = table
                .iter()
                .find(|(k, _)| *k == name)
                .map_or(DnsAnswer::Rcode(3), |(_, a)| *a);
            let (rcode, a, aaaa, delay) = match entry {
                DnsAnswer::A(ip) => (0, Some(ip), None, Duration::ZERO),
                DnsAnswer::SlowA(ip, d) => (0, Some(ip), None, d),
                DnsAnswer::Dual(v4, v6) => (0, Some(v4), Some(v6), Duration::ZERO),
                DnsAnswer::ADropAaaa(_) if qtype == 28 => continue,
                DnsAnswer::ADropAaaa(ip) => (0, Some(ip), None, Duration::ZERO),
                DnsAnswer::Rcode(r) => (r, None, None, Duration::ZERO),
                DnsAnswer::Silent => continue,
            };
            let a = a.filter(|_| qtype == 1);
            let aaaa = aaaa.filter(|_| qtype == 28);
            let mut out = buf[..question_end].to_vec();
            out[2] = 0x81;
            out[3] = 0x80 | rcode;
            out[6] = 0;
            out[7] = u8::from(a.is_some() || aaaa.is_some());
            out[8..12].fill(0);
            if let Some(ip) = a {
                out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                out.extend_from_slice(&ip);
            }
            if let Some(ip) = aaaa {
                out.extend_from_slice(&[0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
                out.extend_from_slice(&ip);
            }
            let sock = sock.try_clone().expect("clone");
            thread::spawn(move || {
                thread::sleep(delay);
                let _ = sock.send_to(&out, from);
            });
        }
    });
    addr
}

/// The question's name (lower-case, dotted), type, and where the question ends.
fn question(msg: &[u8]) -> Option<(String, u16, usize)> {
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*msg.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(msg.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(i)?, *msg.get(i + 1)?]);
    Some((labels.join("."), qtype, i + 4))
}

/// Starts an HTTPS server speaking HTTP/2 only (ALPN `h2`) on 127.0.0.1 that
/// answers `status` with a body of `body_len` bytes to up to `connections`
/// connections; returns its port.
pub fn h2_server(leaf: &Leaf, status: u16, body_len: usize, connections: usize) -> u16 {
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            leaf.chain.clone(),
            PrivateKeyDer::Pkcs8(leaf.key.clone_key()),
        )
        .expect("server config");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            for _ in 0..connections {
                let accepted = tokio::time::timeout(LIFETIME, listener.accept()).await;
                let Ok(Ok((tcp, _))) = accepted else { return };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut conn) = h2::server::handshake(tls).await else {
                        return;
                    };
                    while let Some(Ok((_request, mut respond))) = conn.accept().await {
                        let response = http::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(())
                            .expect("response");
                        let Ok(mut send) = respond.send_response(response, false) else {
                            return;
                        };
                        let _ = send.send_data(bytes::Bytes::from(vec![b'x'; body_len]), true);
                    }
                });
            }
        });
    });
    port
}
