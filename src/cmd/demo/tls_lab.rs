//! The demo's TLS faults, with real TLS (rustls) on both ends:
//!
//! * a server that accepts only TLS 1.3, and a client offering only TLS 1.2:
//!   the server refuses with alert `protocol_version` (70);
//! * a server whose certificate expired (generated here with rcgen, valid in
//!   2020 only), spoken to over TLS 1.2 so the certificate crosses the wire in
//!   the clear: the client refuses it with alert `certificate_expired` (45);
//! * an HTTPS API over TLS 1.3 that answers 500, with the client writing its
//!   session keys to a key log, so the analysis decrypts the call and finds the
//!   server error inside the encryption.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};

/// The name the expired certificate is for.
pub const EXPIRED_NAME: &str = "expired.demo.test";

/// The name the HTTPS API's certificate is for.
pub const API_NAME: &str = "api.demo.test";

/// The TLS servers, bound.
pub struct TlsLab {
    tls13_only: TcpListener,
    expired: TcpListener,
    https: TcpListener,
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    api_cert: CertificateDer<'static>,
    api_key: PrivatePkcs8KeyDer<'static>,
    keylog: PathBuf,
}

impl TlsLab {
    /// Binds the servers and makes the certificates; the HTTPS client's keys
    /// go to `keylog`.
    pub fn bind(keylog: &Path) -> io::Result<TlsLab> {
        let (cert, key) = certificate(EXPIRED_NAME, true).map_err(io::Error::other)?;
        let (api_cert, api_key) = certificate(API_NAME, false).map_err(io::Error::other)?;
        Ok(TlsLab {
            tls13_only: TcpListener::bind("127.0.0.1:0")?,
            expired: TcpListener::bind("127.0.0.1:0")?,
            https: TcpListener::bind("127.0.0.1:0")?,
            cert,
            key,
            api_cert,
            api_key,
            keylog: keylog.to_path_buf(),
        })
    }

    /// The servers' ports.
    pub fn ports(&self) -> Vec<u16> {
        [&self.tls13_only, &self.expired, &self.https]
            .iter()
            .filter_map(|l| l.local_addr().ok().map(|a| a.port()))
            .collect()
    }

    /// Runs both servers and their clients; returns when both exchanges ended.
    pub fn run(self) {
        let a = self.tls13_only.local_addr().ok();
        let b = self.expired.local_addr().ok();
        let c = self.https.local_addr().ok();
        let servers = [
            serve(
                self.tls13_only,
                &[&rustls::version::TLS13],
                self.cert.clone(),
                self.key.clone_key(),
                None,
            ),
            serve(
                self.expired,
                &[&rustls::version::TLS12],
                self.cert.clone(),
                self.key.clone_key(),
                None,
            ),
            serve(
                self.https,
                &[&rustls::version::TLS13],
                self.api_cert.clone(),
                self.api_key.clone_key(),
                Some(CHECKOUT_ERROR),
            ),
        ];
        let tls12: &[&'static rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
        let both: &[&'static rustls::SupportedProtocolVersion] =
            &[&rustls::version::TLS12, &rustls::version::TLS13];
        if let Some(a) = a {
            let _ = connect(a, tls12, API_NAME, &self.cert, "/v1/health", None);
        }
        if let Some(b) = b {
            let _ = connect(b, both, EXPIRED_NAME, &self.cert, "/v1/health", None);
        }
        if let (Some(c), Ok(file)) = (c, std::fs::File::create(&self.keylog)) {
            let keylog: Arc<dyn rustls::KeyLog> = Arc::new(FileKeyLog(Mutex::new(file)));
            let _ = connect(
                c,
                &[&rustls::version::TLS13],
                API_NAME,
                &self.api_cert,
                "/v1/checkout",
                Some(keylog),
            );
        }
        for s in servers.into_iter().flatten() {
            let _ = s.join();
        }
    }
}

/// A self-signed certificate for `name`; `expired` makes it valid in 2020 only.
fn certificate(
    name: &str,
    expired: bool,
) -> Result<(CertificateDer<'static>, PrivatePkcs8KeyDer<'static>), rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])?;
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((
        cert.der().clone(),
        PrivatePkcs8KeyDer::from(key.serialize_der()),
    ))
}

/// What the HTTPS API answers: a server error the analysis finds only by
/// decrypting.
const CHECKOUT_ERROR: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 32\r\nConnection: close\r\n\r\n{\"error\":\"payment backend down\"}";

/// Writes rustls' session secrets in the NSS key log format.
#[derive(Debug)]
struct FileKeyLog(Mutex<std::fs::File>);

impl rustls::KeyLog for FileKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        if let Ok(mut f) = self.0.lock() {
            let _ = writeln!(f, "{label} {} {}", hex(client_random), hex(secret));
        }
    }
}

/// One TLS server connection with the given versions. With `answer`, the
/// response to the first request; without, the handshake fails as the lab
/// intends, so every error is expected and ignored.
fn serve(
    listener: TcpListener,
    versions: &[&'static rustls::SupportedProtocolVersion],
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    answer: Option<&'static [u8]>,
) -> Option<JoinHandle<()>> {
    let config = ServerConfig::builder_with_protocol_versions(versions)
        .with_no_client_auth()
        .with_single_cert(vec![cert], PrivateKeyDer::Pkcs8(key))
        .ok()?;
    let config = Arc::new(config);
    Some(thread::spawn(move || {
        let Ok((tcp, _)) = listener.accept() else {
            return;
        };
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(3)));
        let Ok(conn) = ServerConnection::new(config) else {
            return;
        };
        let mut tls = StreamOwned::new(conn, tcp);
        let mut buf = [0u8; 256];
        let _ = tls.read(&mut buf);
        if let Some(answer) = answer {
            let _ = tls.write_all(answer);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        let _ = tls.conn.complete_io(&mut tls.sock);
    }))
}

/// A client that trusts the lab's certificate, offers only `versions`, asks
/// for `path`, and logs its keys to `keylog` when given.
fn connect(
    server: SocketAddr,
    versions: &[&'static rustls::SupportedProtocolVersion],
    name: &str,
    trusted: &CertificateDer<'static>,
    path: &str,
    keylog: Option<Arc<dyn rustls::KeyLog>>,
) -> io::Result<()> {
    let mut roots = RootCertStore::empty();
    roots.add(trusted.clone()).map_err(io::Error::other)?;
    let mut config = ClientConfig::builder_with_protocol_versions(versions)
        .with_root_certificates(roots)
        .with_no_client_auth();
    if let Some(keylog) = keylog {
        config.key_log = keylog;
    }
    let server_name = ServerName::try_from(name.to_string()).map_err(io::Error::other)?;
    let conn = ClientConnection::new(Arc::new(config), server_name).map_err(io::Error::other)?;
    let tcp = TcpStream::connect_timeout(&server, Duration::from_secs(2))?;
    tcp.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut tls = StreamOwned::new(conn, tcp);
    let request = format!("GET {path} HTTP/1.1\r\nHost: {name}\r\n\r\n");
    tls.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    // Bounded by the read time-out and the server's close.
    let _ = tls.read_to_end(&mut response);
    Ok(())
}
