//! The demo's TLS faults, with real TLS (rustls) on both ends:
//!
//! * a server that accepts only TLS 1.3, and a client offering only TLS 1.2:
//!   the server refuses with alert `protocol_version` (70);
//! * a server whose certificate expired (generated here with rcgen, valid in
//!   2020 only), spoken to over TLS 1.2 so the certificate crosses the wire in
//!   the clear: the client refuses it with alert `certificate_expired` (45).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};

/// The name the expired certificate is for.
pub const EXPIRED_NAME: &str = "expired.demo.test";

/// The two TLS servers, bound.
pub struct TlsLab {
    tls13_only: TcpListener,
    expired: TcpListener,
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl TlsLab {
    /// Binds both servers and makes the expired certificate.
    pub fn bind() -> io::Result<TlsLab> {
        let (cert, key) = expired_certificate().map_err(io::Error::other)?;
        Ok(TlsLab {
            tls13_only: TcpListener::bind("127.0.0.1:0")?,
            expired: TcpListener::bind("127.0.0.1:0")?,
            cert,
            key,
        })
    }

    /// The servers' ports.
    pub fn ports(&self) -> Vec<u16> {
        [&self.tls13_only, &self.expired]
            .iter()
            .filter_map(|l| l.local_addr().ok().map(|a| a.port()))
            .collect()
    }

    /// Runs both servers and their clients; returns when both exchanges ended.
    pub fn run(self) {
        let a = self.tls13_only.local_addr().ok();
        let b = self.expired.local_addr().ok();
        let servers = [
            serve(
                self.tls13_only,
                &[&rustls::version::TLS13],
                self.cert.clone(),
                self.key.clone_key(),
            ),
            serve(
                self.expired,
                &[&rustls::version::TLS12],
                self.cert.clone(),
                self.key.clone_key(),
            ),
        ];
        if let Some(a) = a {
            let _ = connect(a, &[&rustls::version::TLS12], "api.demo.test", &self.cert);
        }
        if let Some(b) = b {
            let _ = connect(
                b,
                &[&rustls::version::TLS12, &rustls::version::TLS13],
                EXPIRED_NAME,
                &self.cert,
            );
        }
        for s in servers.into_iter().flatten() {
            let _ = s.join();
        }
    }
}

fn expired_certificate(
) -> Result<(CertificateDer<'static>, PrivatePkcs8KeyDer<'static>), rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(vec![EXPIRED_NAME.to_string()])?;
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((
        cert.der().clone(),
        PrivatePkcs8KeyDer::from(key.serialize_der()),
    ))
}

/// One TLS server connection with the given versions; the handshake fails as
/// the lab intends, so every error is expected and ignored.
fn serve(
    listener: TcpListener,
    versions: &[&'static rustls::SupportedProtocolVersion],
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
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
        let _ = tls.conn.complete_io(&mut tls.sock);
    }))
}

/// A client that trusts the lab's certificate and offers only `versions`.
fn connect(
    server: SocketAddr,
    versions: &[&'static rustls::SupportedProtocolVersion],
    name: &str,
    trusted: &CertificateDer<'static>,
) -> io::Result<()> {
    let mut roots = RootCertStore::empty();
    roots.add(trusted.clone()).map_err(io::Error::other)?;
    let config = ClientConfig::builder_with_protocol_versions(versions)
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(name.to_string()).map_err(io::Error::other)?;
    let conn = ClientConnection::new(Arc::new(config), name).map_err(io::Error::other)?;
    let tcp = TcpStream::connect_timeout(&server, Duration::from_secs(2))?;
    tcp.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut tls = StreamOwned::new(conn, tcp);
    let request = b"GET / HTTP/1.1\r\nHost: api.demo.test\r\n\r\n";
    tls.write_all(request)?;
    let mut buf = [0u8; 256];
    let _ = tls.read(&mut buf)?;
    Ok(())
}
