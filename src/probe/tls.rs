//! The TLS phase: a rustls handshake that records what the server presented and
//! turns each way it can fail into the finding kind `analyze` would use.
//!
//! The certificate verifier is wrapped ([`Recording`]) so the chain and the
//! verifier's verdict are kept even when the handshake fails, and so
//! `--insecure` can go on past a certificate error while still reporting it.
//! With `SSLKEYLOGFILE` set, the session keys are written there (NSS format),
//! so a capture of the probe can be decrypted.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, PeerIncompatible,
    RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::app::tls::CertInfo;

/// The TLS version to offer alone (`--tls-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// What the client offers and trusts.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM file of trusted roots, instead of the system trust store.
    pub cacert: Option<std::path::PathBuf>,
    /// Go on past certificate errors (still reported).
    pub insecure: bool,
    /// Offer only this version; both 1.2 and 1.3 otherwise.
    pub version: Option<TlsVersion>,
    /// ALPN protocols to offer, in order of preference.
    pub alpn: Vec<String>,
}

/// Why the TLS set-up itself (not the server) failed: reported as usage errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The `--cacert` file cannot be read or holds no certificate.
    #[error("--cacert {path}: {why} (give a PEM file with one or more CERTIFICATE blocks)")]
    CaFile {
        /// The file.
        path: String,
        /// What was wrong.
        why: String,
    },
    /// No system trust store was found.
    #[error("cannot load the system's trusted certificates: {0} (install the ca-certificates package, or pass --cacert FILE)")]
    TrustStore(String),
}

/// A client configuration and the verifier that records what it saw.
#[derive(Debug, Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    recorder: Arc<Recording>,
    offered_versions: Vec<String>,
    offered_alpn: Vec<String>,
}

impl TlsClient {
    /// Builds the configuration once; it is reused by every repetition.
    pub fn new(options: &TlsOptions) -> Result<TlsClient, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let inner: Arc<dyn ServerCertVerifier> = match &options.cacert {
            Some(path) => webpki_verifier(path, &provider)?,
            None => Arc::new(
                rustls_platform_verifier::Verifier::new(Arc::clone(&provider))
                    .map_err(|e| TlsSetupError::TrustStore(e.to_string()))?,
            ),
        };
        let pinned = match &options.cacert {
            Some(path) => CertificateDer::pem_file_iter(path)
                .map(|certs| certs.filter_map(Result::ok).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let recorder = Arc::new(Recording {
            inner,
            insecure: options.insecure,
            pinned,
            seen: Mutex::new(Seen::default()),
        });
        let versions: &[&'static rustls::SupportedProtocolVersion] = match options.version {
            Some(TlsVersion::Tls12) => &[&rustls::version::TLS12],
            Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
            None => &[&rustls::version::TLS13, &rustls::version::TLS12],
        };
        let offered_versions = versions.iter().map(|v| version_name(v.version)).collect();
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|e| TlsSetupError::TrustStore(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(&recorder) as Arc<dyn ServerCertVerifier>)
            .with_no_client_auth();
        config.alpn_protocols = options.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        if std::env::var_os("SSLKEYLOGFILE").is_some() {
            config.key_log = Arc::new(rustls::KeyLogFile::new());
        }
        Ok(TlsClient {
            config: Arc::new(config),
            recorder,
            offered_versions,
            offered_alpn: options.alpn.clone(),
        })
    }

    /// Runs the handshake over `tcp` for `host`, within `limit`.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
        limit: Duration,
    ) -> (TlsPhase, Option<TlsStream<TcpStream>>) {
        self.recorder.reset();
        let mut phase = TlsPhase {
            sni: None,
            offered_versions: self.offered_versions.clone(),
            offered_alpn: self.offered_alpn.clone(),
            ..TlsPhase::default()
        };
        let name = match ServerName::try_from(host.to_string()) {
            Ok(n) => n,
            Err(e) => {
                phase.failure = Some(TlsFailure {
                    kind: "tls.bad_certificate",
                    reason: format!("'{host}' cannot be checked against a certificate: {e}"),
                });
                return (phase, None);
            }
        };
        if matches!(name, ServerName::DnsName(_)) {
            phase.sni = Some(host.to_string());
        }
        let start = Instant::now();
        let result = timeout(
            limit,
            TlsConnector::from(Arc::clone(&self.config)).connect(name, tcp),
        )
        .await;
        phase.ms = start.elapsed().as_secs_f64() * 1e3;
        let seen = self.recorder.take();
        phase.certificates = seen
            .chain
            .iter()
            .filter_map(|der| CertInfo::from_der(der))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        phase.days_to_expiry = phase
            .certificates
            .first()
            .map(|leaf| leaf.not_after_unix.saturating_sub(now).div_euclid(86_400));
        phase.certificate_error = seen.error.as_ref().map(|e| certificate_failure(e).reason);
        let stream = match result {
            Err(_) => {
                phase.failure = Some(TlsFailure {
                    kind: "tls.handshake_timeout",
                    reason: format!(
                        "no handshake within {}: the server accepted the connection but did not complete TLS{}",
                        human(limit),
                        if phase.certificates.is_empty() { " (no certificate came back)" } else { "" }
                    ),
                });
                return (phase, None);
            }
            Ok(Err(e)) => {
                let tls_error = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>());
                let f = match tls_error {
                    Some(err) => failure(err, &phase),
                    None => io_failure(&e),
                };
                phase.failure = Some(explain(f, &phase, host));
                return (phase, None);
            }
            Ok(Ok(s)) => s,
        };
        let (_, conn) = stream.get_ref();
        phase.version = conn.protocol_version().map(version_name);
        phase.cipher = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        phase.alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        if let Some(e) = &seen.error {
            // --insecure: the handshake went on; the certificate error stays a finding.
            phase.insecure_failure = Some(explain(certificate_failure(e), &phase, host));
        }
        (phase, Some(stream))
    }
}

fn webpki_verifier(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, TlsSetupError> {
    let err = |why: String| TlsSetupError::CaFile {
        path: path.display().to_string(),
        why,
    };
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| err(e.to_string()))?;
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("no certificate in it".into()));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map(|v| v as Arc<dyn ServerCertVerifier>)
        .map_err(|e| err(e.to_string()))
}

/// The TLS phase.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TlsPhase {
    /// Milliseconds from the ClientHello to the end of the handshake.
    pub ms: f64,
    /// The server name sent (none for an address).
    pub sni: Option<String>,
    /// Versions offered.
    pub offered_versions: Vec<String>,
    /// ALPN protocols offered.
    pub offered_alpn: Vec<String>,
    /// Negotiated version.
    pub version: Option<String>,
    /// Negotiated cipher suite.
    pub cipher: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// The chain the server presented, leaf first.
    pub certificates: Vec<CertInfo>,
    /// Whole days until the leaf certificate expires (negative: expired).
    pub days_to_expiry: Option<i64>,
    /// What the verifier said about it, when it objected.
    pub certificate_error: Option<String>,
    /// Why the handshake failed.
    pub failure: Option<TlsFailure>,
    /// A certificate error that `--insecure` went past.
    pub insecure_failure: Option<TlsFailure>,
}

/// A handshake failure in the finding vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsFailure {
    /// `tls.*` kind.
    pub kind: &'static str,
    /// What happened, in words.
    pub reason: String,
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        rustls::ProtocolVersion::TLSv1_1 => "TLS 1.1".into(),
        rustls::ProtocolVersion::TLSv1_0 => "TLS 1.0".into(),
        other => format!("{other:?}"),
    }
}

fn human(d: Duration) -> String {
    crate::base::human_duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The name of an alert as the RFC spells it (`protocol_version`).
pub fn alert_name(a: AlertDescription) -> String {
    let debug = format!("{a:?}");
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    // rustls spells two of them differently from RFC 8446.
    match out.as_str() {
        "unknown_c_a" => "unknown_ca".into(),
        "unknown_p_s_k_identity" => "unknown_psk_identity".into(),
        _ => out,
    }
}

/// Maps a rustls error to the finding kind and a reason.
fn failure(err: &rustls::Error, phase: &TlsPhase) -> TlsFailure {
    let offered = phase.offered_versions.join(" and ");
    let f = |kind, reason: String| TlsFailure { kind, reason };
    match err {
        rustls::Error::AlertReceived(alert) => {
            let name = alert_name(*alert);
            match alert {
                AlertDescription::ProtocolVersion => f(
                    "tls.version_mismatch",
                    format!("the server refused every version offered ({offered}): alert {name}"),
                ),
                AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => f(
                    "tls.no_shared_cipher",
                    format!("the server found nothing acceptable in the ClientHello (usually no cipher suite or group in common): alert {name}"),
                ),
                AlertDescription::NoApplicationProtocol => f(
                    "tls.alpn_mismatch",
                    format!(
                        "the server speaks none of the protocols offered by ALPN ({}): alert {name}",
                        phase.offered_alpn.join(", ")
                    ),
                ),
                AlertDescription::UnrecognisedName => f(
                    "tls.sni_mismatch",
                    format!(
                        "the server has no site named {}: alert {name}",
                        phase.sni.as_deref().unwrap_or("(no SNI sent)")
                    ),
                ),
                AlertDescription::CertificateRequired => f(
                    "tls.alert",
                    format!("the server requires a client certificate: alert {name}"),
                ),
                _ => f("tls.alert", format!("the server ended the handshake with alert {name}")),
            }
        }
        rustls::Error::PeerIncompatible(p) => match p {
            PeerIncompatible::NoCipherSuitesInCommon
            | PeerIncompatible::NoKxGroupsInCommon
            | PeerIncompatible::NoSignatureSchemesInCommon => f(
                "tls.no_shared_cipher",
                format!("the server and netsleuth share no algorithm: {p:?}"),
            ),
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled => f(
                "tls.version_mismatch",
                format!("the server chose a version not offered ({offered}); a server that only speaks TLS 1.1 or older is obsolete and unsupported: {p:?}"),
            ),
            _ => f("tls.alert", format!("the server's handshake is incompatible: {p:?}")),
        },
        rustls::Error::InvalidCertificate(_) => certificate_failure(err),
        rustls::Error::NoCertificatesPresented => f(
            "tls.bad_certificate",
            "the server presented no certificate".into(),
        ),
        rustls::Error::InvalidMessage(m) => f(
            "tls.alert",
            format!("the server's answer is not valid TLS ({m:?}): is this port plain HTTP, or another protocol?"),
        ),
        other => f("tls.alert", format!("the handshake failed: {other}")),
    }
}

/// Says what the chain shows for a certificate failure: the names it is for,
/// when it expired, who issued it.
fn explain(mut f: TlsFailure, phase: &TlsPhase, host: &str) -> TlsFailure {
    let Some(leaf) = phase.certificates.first() else {
        return f;
    };
    let subject = crate::base::escape::escape_str(&leaf.subject);
    match f.kind {
        "tls.sni_mismatch" => {
            let names = if leaf.sans.is_empty() {
                leaf.common_name.clone().unwrap_or_default()
            } else {
                leaf.sans.join(", ")
            };
            f.reason = format!(
                "the certificate ({subject}) is for {}, not {host}",
                crate::base::escape::escape_str(&names)
            );
        }
        "tls.cert_expired" => {
            let days = phase.days_to_expiry.unwrap_or_default();
            f.reason = if days < 0 {
                format!(
                    "the certificate ({subject}) expired on {} ({} days ago)",
                    leaf.not_after, -days
                )
            } else {
                format!(
                    "the certificate ({subject}) is not valid before {}",
                    leaf.not_before
                )
            };
        }
        "tls.unknown_ca" => {
            f.reason = format!(
                "the certificate ({subject}) is issued by {}, which is not trusted{}",
                crate::base::escape::escape_str(&leaf.issuer),
                if leaf.self_signed {
                    " (it is self-signed)"
                } else {
                    ""
                }
            );
        }
        _ => {}
    }
    f
}

/// A certificate rejection in the finding vocabulary.
fn certificate_failure(err: &rustls::Error) -> TlsFailure {
    let f = |kind, reason: String| TlsFailure { kind, reason };
    let rustls::Error::InvalidCertificate(c) = err else {
        return f(
            "tls.bad_certificate",
            format!("certificate rejected: {err}"),
        );
    };
    match c {
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => {
            f("tls.cert_expired", format!("certificate rejected: {err}"))
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            f("tls.sni_mismatch", format!("certificate rejected: {err}"))
        }
        CertificateError::UnknownIssuer => f(
            "tls.unknown_ca",
            "certificate rejected: it is not signed by a trusted authority (unknown issuer)".into(),
        ),
        _ => f(
            "tls.bad_certificate",
            format!("certificate rejected: {err}"),
        ),
    }
}

/// A socket error during the handshake.
fn io_failure(e: &std::io::Error) -> TlsFailure {
    let reason = match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the handshake without an alert (an old TLS-only-1.0/1.1 server, or not a TLS port)".to_string()
        }
        std::io::ErrorKind::ConnectionReset => {
            "the server reset the connection during the handshake (a TLS-inspecting middlebox or a server that rejects the ClientHello)".to_string()
        }
        _ => format!("the handshake failed: {e}"),
    };
    TlsFailure {
        kind: "tls.alert",
        reason,
    }
}

/// What the verifier saw on the latest handshake.
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    error: Option<rustls::Error>,
}

/// Wraps a verifier: records the presented chain and the verdict, and with
/// `insecure` accepts what the inner verifier rejects.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn ServerCertVerifier>,
    insecure: bool,
    /// The `--cacert` certificates: a server presenting one of them as its own
    /// certificate is trusted as it is (a self-signed development certificate
    /// made with `openssl req -x509` carries CA:TRUE, which WebPKI refuses as
    /// an end entity; curl and OpenSSL accept it when it is the trusted one).
    pinned: Vec<CertificateDer<'static>>,
    seen: Mutex<Seen>,
}

impl Recording {
    /// `end_entity` is one of the pinned certificates, valid now and for
    /// `server_name`; `None` when it is not pinned at all.
    fn pinned_verdict(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Option<Result<ServerCertVerified, rustls::Error>> {
        if !self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return None;
        }
        let Some(info) = CertInfo::from_der(end_entity) else {
            return Some(Err(rustls::Error::InvalidCertificate(
                CertificateError::BadEncoding,
            )));
        };
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if now > info.not_after_unix {
            return Some(Err(rustls::Error::InvalidCertificate(
                CertificateError::Expired,
            )));
        }
        if now < info.not_before_unix {
            return Some(Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet,
            )));
        }
        let host = match server_name {
            ServerName::DnsName(d) => d.as_ref().to_string(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            _ => String::new(),
        };
        if !crate::diagnose::tls::cert_matches(&info, &host) {
            return Some(Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName,
            )));
        }
        Some(Ok(ServerCertVerified::assertion()))
    }
}

impl Recording {
    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reset(&self) {
        *self.lock() = Seen::default();
    }

    fn take(&self) -> Seen {
        std::mem::take(&mut *self.lock())
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let result = match result {
            Err(e) => self
                .pinned_verdict(end_entity, server_name, now)
                .unwrap_or(Err(e)),
            ok => ok,
        };
        let mut seen = self.lock();
        seen.chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        seen.error = result.as_ref().err().cloned();
        match result {
            Err(rustls::Error::InvalidCertificate(_)) if self.insecure => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_follow_the_rfc() {
        assert_eq!(
            alert_name(AlertDescription::ProtocolVersion),
            "protocol_version"
        );
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(
            alert_name(AlertDescription::NoApplicationProtocol),
            "no_application_protocol"
        );
    }

    #[test]
    fn certificate_errors_map_to_kinds() {
        let kind = |c| certificate_failure(&rustls::Error::InvalidCertificate(c)).kind;
        assert_eq!(kind(CertificateError::Expired), "tls.cert_expired");
        assert_eq!(kind(CertificateError::NotValidForName), "tls.sni_mismatch");
        assert_eq!(kind(CertificateError::UnknownIssuer), "tls.unknown_ca");
        assert_eq!(kind(CertificateError::BadSignature), "tls.bad_certificate");
    }

    #[test]
    fn alerts_map_to_kinds() {
        let phase = TlsPhase {
            offered_versions: vec!["TLS 1.2".into()],
            offered_alpn: vec!["h2".into()],
            ..TlsPhase::default()
        };
        let kind = |a| failure(&rustls::Error::AlertReceived(a), &phase);
        assert_eq!(
            kind(AlertDescription::ProtocolVersion).kind,
            "tls.version_mismatch"
        );
        assert!(kind(AlertDescription::ProtocolVersion)
            .reason
            .contains("TLS 1.2"));
        assert_eq!(
            kind(AlertDescription::HandshakeFailure).kind,
            "tls.no_shared_cipher"
        );
        assert_eq!(
            kind(AlertDescription::NoApplicationProtocol).kind,
            "tls.alpn_mismatch"
        );
        assert_eq!(kind(AlertDescription::InternalError).kind, "tls.alert");
        assert!(kind(AlertDescription::InternalError)
            .reason
            .contains("internal_error"));
    }

    #[test]
    fn missing_ca_file_names_the_fix() {
        let e = TlsClient::new(&TlsOptions {
            cacert: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("--cacert /nonexistent/ca.pem"),
            "{e}"
        );
    }
}
