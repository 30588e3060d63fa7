//! Every TLS finding kind on real traffic: rustls (and where rustls cannot make
//! the fault, OpenSSL) on both ends of a loopback connection, captured live and
//! read back by `analyze --jsonl`. Each test checks the kind, its severity, its
//! evidence frames and the words a user reads, and that the failed call is not
//! also reported under another TLS kind. Skipped, with the reason printed, when
//! live capture is not possible (not root).

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::aws_lc_rs::{self as provider, cipher_suite};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

use crate::util::tls::{
    capture_exchange, capture_exchange_keyed, drain, findings, https_get, https_get_inner,
    https_server, summary, the_finding, tls_record, ClientOutcome, Leaf, MemKeyLog, Pki,
};

const TLS12_ONLY: &[&SupportedProtocolVersion] = &[&TLS12];
const TLS13_ONLY: &[&SupportedProtocolVersion] = &[&TLS13];

/// The default provider restricted to `suites`.
fn provider_with(suites: &[SupportedCipherSuite]) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: suites.to_vec(),
        ..provider::default_provider()
    })
}

fn server_config(versions: &[&'static SupportedProtocolVersion], leaf: &Leaf) -> ServerConfig {
    ServerConfig::builder_with_protocol_versions(versions)
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), leaf.key())
        .unwrap()
}

fn client_config(versions: &[&'static SupportedProtocolVersion], pki: &Pki) -> ClientConfig {
    ClientConfig::builder_with_protocol_versions(versions)
        .with_root_certificates(pki.roots())
        .with_no_client_auth()
}

/// No finding above `info`: what a healthy call must look like.
fn assert_no_warnings(records: &[serde_json::Value]) {
    let loud: Vec<_> = findings(records)
        .into_iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(loud.is_empty(), "a healthy call got findings: {loud:?}");
}

/// One healthy call over `versions`: trusted certificate, SNI it names, ALPN
/// http/1.1 agreed, a GET and its 200, both sides closing with close_notify.
fn healthy(test: &str, versions: &'static [&'static SupportedProtocolVersion], expect: &str) {
    let pki = Pki::new("netsleuth healthy CA");
    let leaf = pki.leaf(&["api.test"]);
    let mut server = server_config(versions, &leaf);
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut client = client_config(versions, &pki);
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let Some((records, outcome)) = capture_exchange(test, https_server(server), |addr| {
        https_get(addr, client, "api.test")
    }) else {
        return;
    };
    match outcome {
        ClientOutcome::Response(r) => assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}"),
        ClientOutcome::Failed(e) => panic!("healthy call failed: {e}"),
    }
    assert_no_warnings(&records);
    let tls = tls_record(&records);
    assert_eq!(tls["version"], expect, "{tls}");
    assert_eq!(tls["sni"], "api.test", "{tls}");
    // TLS 1.3 moves the server's ALPN choice into encrypted extensions.
    let alpn = if expect == "TLS 1.2" {
        "http/1.1".into()
    } else {
        serde_json::Value::Null
    };
    assert_eq!(tls["alpn"], alpn, "{tls}");
    assert_eq!(tls["client_hello"]["alpn"][0], "http/1.1", "{tls}");
    assert!(tls["established"].is_object(), "handshake completed: {tls}");
}

/// A healthy TLS 1.2 call: the certificate is visible and right, so nothing
/// may be reported about it.
#[test]
fn live_tls_healthy_tls12_has_no_findings() {
    healthy(
        "live_tls_healthy_tls12_has_no_findings",
        TLS12_ONLY,
        "TLS 1.2",
    );
}

/// A healthy TLS 1.3 call: completion is inferred from the client's encrypted
/// Finished, and the closing encrypted close_notify must not look like an alert.
#[test]
fn live_tls_healthy_tls13_has_no_findings() {
    healthy(
        "live_tls_healthy_tls13_has_no_findings",
        TLS13_ONLY,
        "TLS 1.3",
    );
}

/// tls.no_shared_cipher: a TLS 1.2 server allowing only
/// ECDHE-ECDSA-AES256-GCM-SHA384 and a client offering only
/// ECDHE-ECDSA-CHACHA20-POLY1305. The server finds no suite in common and sends
/// handshake_failure (40) in place of a ServerHello, which is what names the
/// cause: a failure before any ServerHello is a negotiation failure.
#[test]
fn live_tls_no_shared_cipher() {
    let pki = Pki::new("netsleuth cipher CA");
    let leaf = pki.leaf(&["api.test"]);
    let server = ServerConfig::builder_with_provider(provider_with(&[
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ]))
    .with_protocol_versions(TLS12_ONLY)
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(leaf.chain.clone(), leaf.key())
    .unwrap();
    let client = ClientConfig::builder_with_provider(provider_with(&[
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ]))
    .with_protocol_versions(TLS12_ONLY)
    .unwrap()
    .with_root_certificates(pki.roots())
    .with_no_client_auth();
    let Some((records, outcome)) =
        capture_exchange("live_tls_no_shared_cipher", https_server(server), |addr| {
            https_get(addr, client, "api.test")
        })
    else {
        return;
    };
    assert!(outcome.error().contains("HandshakeFailure"), "{outcome:?}");
    let f = the_finding(&records, "tls.no_shared_cipher", "error");
    let s = summary(f);
    assert!(s.contains("handshake_failure (40)"), "{s}");
    assert!(s.contains("server sent"), "{s}");
    // What the client offered, by name; the server's list never crosses the wire.
    assert!(
        s.contains("offered 1 cipher suite: TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;"),
        "{s}"
    );
    assert!(
        s.contains("the server's own list never crosses the wire"),
        "{s}"
    );
    assert!(!s.contains("AES_256_GCM") && !s.contains("SCSV"), "{s}");
}

/// tls.unknown_ca: a TLS 1.2 server whose chain comes from a CA the client's
/// root store lacks (it trusts another CA). rustls maps UnknownIssuer to alert
/// unknown_ca (48), sent by the client after the server's plaintext Certificate.
#[test]
fn live_tls_unknown_ca() {
    let pki = Pki::new("netsleuth private CA");
    let other = Pki::new("netsleuth other CA");
    let leaf = pki.leaf(&["api.test"]);
    let server = server_config(TLS12_ONLY, &leaf);
    let client = client_config(TLS12_ONLY, &other);
    let Some((records, outcome)) =
        capture_exchange("live_tls_unknown_ca", https_server(server), |addr| {
            https_get(addr, client, "api.test")
        })
    else {
        return;
    };
    assert!(outcome.error().contains("UnknownIssuer"), "{outcome:?}");
    let f = the_finding(&records, "tls.unknown_ca", "error");
    let s = summary(f);
    assert!(s.contains("client sent alert unknown_ca (48)"), "{s}");
    assert!(s.contains("netsleuth private CA"), "names the issuer: {s}");
}

/// tls.bad_certificate: a certificate the client trusts, for the right name and
/// in its validity period, but carrying an unknown extension marked critical.
/// RFC 5280 says a client must reject it. rustls 0.23 maps its own
/// `UnhandledCriticalExtension` to bad_certificate (42), but its webpki verifier
/// reports this case as `Other(UnsupportedCriticalExtension)`, which goes out as
/// certificate_unknown (46): the alert seen live. Both are tls.bad_certificate.
#[test]
fn live_tls_bad_certificate() {
    let pki = Pki::new("netsleuth CA");
    let leaf = pki.leaf_with(&["api.test"], |p| {
        // A private-arc OID no verifier knows, critical.
        let mut ext = rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 55555, 1],
            vec![0x05, 0x00],
        );
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
    });
    // rustls will not load such a certificate with `with_single_cert`: hand it
    // over as a ready CertifiedKey, as a server with a misissued cert would.
    let signing_key = provider::default_provider()
        .key_provider
        .load_private_key(leaf.key())
        .unwrap();
    let served = CertifiedKey::new(leaf.chain.clone(), signing_key);
    let server = ServerConfig::builder_with_protocol_versions(TLS12_ONLY)
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(served)));
    let client = client_config(TLS12_ONLY, &pki);
    let Some((records, outcome)) =
        capture_exchange("live_tls_bad_certificate", https_server(server), |addr| {
            https_get(addr, client, "api.test")
        })
    else {
        return;
    };
    assert!(
        outcome.error().contains("UnsupportedCriticalExtension"),
        "{outcome:?}"
    );
    let f = the_finding(&records, "tls.bad_certificate", "error");
    let s = summary(f);
    assert!(
        s.contains("client sent alert certificate_unknown (46)"),
        "{s}"
    );
    assert!(s.contains("rejected the server certificate"), "{s}");
}

/// tls.sni_mismatch: the client asks for `a.test`, the server's (trusted, valid)
/// certificate names only `b.test`. Over TLS 1.2 the certificate is visible, so
/// the mismatch itself is the finding; the alert it caused (rustls:
/// bad_certificate (42) for NotValidForName) is folded into it, not reported as
/// tls.bad_certificate.
#[test]
fn live_tls_sni_mismatch() {
    let pki = Pki::new("netsleuth CA");
    let leaf = pki.leaf(&["b.test"]);
    let server = server_config(TLS12_ONLY, &leaf);
    let client = client_config(TLS12_ONLY, &pki);
    let Some((records, outcome)) =
        capture_exchange("live_tls_sni_mismatch", https_server(server), |addr| {
            https_get(addr, client, "a.test")
        })
    else {
        return;
    };
    assert!(
        outcome.error().contains("not valid for name"),
        "{outcome:?}"
    );
    let f = the_finding(&records, "tls.sni_mismatch", "error");
    let s = summary(f);
    assert!(s.contains("requested name a.test"), "{s}");
    assert!(s.contains("it is for b.test"), "{s}");
    assert!(s.contains("bad_certificate (42)"), "{s}");
}

/// tls.alpn_mismatch: the server speaks only h2, the client offers only
/// http/1.1, over TLS 1.2. The server refuses with no_application_protocol
/// (120) in place of its ServerHello (RFC 7301 §3.2). Over TLS 1.3 rustls checks
/// ALPN only after sending its ServerHello, so its alert is encrypted there
/// (see `live_tls_alpn_mismatch_tls13_rustls`).
#[test]
fn live_tls_alpn_mismatch() {
    let pki = Pki::new("netsleuth CA");
    let leaf = pki.leaf(&["api.test"]);
    let mut server = server_config(TLS12_ONLY, &leaf);
    server.alpn_protocols = vec![b"h2".to_vec()];
    let mut client = client_config(TLS12_ONLY, &pki);
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let Some((records, outcome)) =
        capture_exchange("live_tls_alpn_mismatch", https_server(server), |addr| {
            https_get(addr, client, "api.test")
        })
    else {
        return;
    };
    assert!(
        outcome.error().contains("NoApplicationProtocol"),
        "{outcome:?}"
    );
    let f = the_finding(&records, "tls.alpn_mismatch", "error");
    let s = summary(f);
    assert!(
        s.contains("server sent alert no_application_protocol (120)"),
        "{s}"
    );
    assert!(s.contains("the client offered http/1.1"), "{s}");
}

/// The same ALPN fault over TLS 1.3 with rustls: its server picks ALPN only
/// after sending its ServerHello, so the no_application_protocol alert is
/// encrypted and the server then resets. Without keys the honest report is a
/// `tls.alert` warning that the server aborted after an encrypted record, and it
/// must not blame a certificate (the client never got one). (OpenSSL checks ALPN
/// while reading the ClientHello and sends the alert in the clear.)
#[test]
fn live_tls_alpn_mismatch_tls13_rustls() {
    let pki = Pki::new("netsleuth CA");
    let leaf = pki.leaf(&["api.test"]);
    let mut server = server_config(TLS13_ONLY, &leaf);
    server.alpn_protocols = vec![b"h2".to_vec()];
    let mut client = client_config(TLS13_ONLY, &pki);
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let Some((records, outcome)) = capture_exchange(
        "live_tls_alpn_mismatch_tls13_rustls",
        https_server(server),
        |addr| https_get(addr, client, "api.test"),
    ) else {
        return;
    };
    assert!(
        outcome.error().contains("NoApplicationProtocol"),
        "{outcome:?}"
    );
    let f = the_finding(&records, "tls.alert", "warning");
    let s = summary(f);
    assert!(
        s.starts_with("the server closed the connection right after an encrypted record"),
        "{s}"
    );
    assert!(s.contains("no common ALPN protocol"), "{s}");
    assert!(!s.contains("server's certificate"), "{s}");
}

/// The same fault with the client's key log: the server's encrypted alert is
/// decrypted, so the suspicion becomes the fact: tls.alpn_mismatch, an error.
#[test]
fn live_tls_alpn_mismatch_tls13_decrypted() {
    let pki = Pki::new("netsleuth CA");
    let leaf = pki.leaf(&["api.test"]);
    let mut server = server_config(TLS13_ONLY, &leaf);
    server.alpn_protocols = vec![b"h2".to_vec()];
    let mut client = client_config(TLS13_ONLY, &pki);
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let keys = std::sync::Arc::new(MemKeyLog::default());
    client.key_log = keys.clone();
    let Some((records, _)) = capture_exchange_keyed(
        "live_tls_alpn_mismatch_tls13_decrypted",
        https_server(server),
        |addr| https_get(addr, client, "api.test"),
        Some(keys),
    ) else {
        return;
    };
    let tls = tls_record(&records);
    assert_eq!(tls["decryption"]["status"], "decrypted", "{tls}");
    assert_eq!(
        tls["alerts"][0]["description"], "no_application_protocol",
        "{tls}"
    );
    assert!(tls["encrypted_alert_suspected"].is_null(), "{tls}");
    let f = the_finding(&records, "tls.alpn_mismatch", "error");
    assert!(
        summary(f).contains("no_application_protocol"),
        "{}",
        summary(f)
    );
}

/// tls.handshake_timeout: a TCP server that accepts and reads the ClientHello
/// but never answers (a TLS port behind a stuck proxy, or a plain-TCP service);
/// the client gives up after 1 s and closes. The server sent no byte after the
/// ClientHello and the client closed first after waiting: a time-out, whatever
/// the client's own time-out was.
#[test]
fn live_tls_handshake_timeout() {
    let pki = Pki::new("netsleuth CA");
    let client = client_config(TLS13_ONLY, &pki);
    let silent = |mut tcp: TcpStream| {
        // Reads the ClientHello and whatever follows, answers nothing, and
        // closes only after the client did.
        drain(&mut tcp);
    };
    let Some((records, outcome)) = capture_exchange("live_tls_handshake_timeout", silent, |addr| {
        https_get_inner(addr, client, "slow.test", Duration::from_secs(1))
    }) else {
        return;
    };
    assert!(outcome.is_err(), "{outcome:?}");
    let f = the_finding(&records, "tls.handshake_timeout", "error");
    let s = summary(f);
    assert!(
        s.contains("ClientHello (SNI slow.test) never answered"),
        "{s}"
    );
    assert!(s.contains("the client gave up"), "{s}");
}

/// tls.alert: a TLS 1.2 server that requires a client certificate, and a
/// client that has none. rustls' client answers the CertificateRequest with an
/// empty Certificate; rustls' server then sends certificate_required (116)
/// (OpenSSL's server sends handshake_failure (40) for the same fault in TLS
/// 1.2). Neither alert is one with a kind of its own: tls.alert.
#[test]
fn live_tls_alert_client_certificate_required() {
    let pki = Pki::new("netsleuth CA");
    let leaf = pki.leaf(&["api.test"]);
    let verifier = WebPkiClientVerifier::builder(Arc::new(pki.roots()))
        .build()
        .unwrap();
    let server = ServerConfig::builder_with_protocol_versions(TLS12_ONLY)
        .with_client_cert_verifier(verifier)
        .with_single_cert(leaf.chain.clone(), leaf.key())
        .unwrap();
    let client = client_config(TLS12_ONLY, &pki);
    let Some((records, outcome)) = capture_exchange(
        "live_tls_alert_client_certificate_required",
        https_server(server),
        |addr| https_get(addr, client, "api.test"),
    ) else {
        return;
    };
    assert!(
        outcome.error().contains("CertificateRequired"),
        "{outcome:?}"
    );
    let f = the_finding(&records, "tls.alert", "error");
    let s = summary(f);
    assert!(
        s.contains("server sent alert certificate_required (116)"),
        "{s}"
    );
    assert!(s.contains("client certificate"), "{s}");
}

/// The same fault over TLS 1.3: the CertificateRequest, the client's empty
/// Certificate and the server's certificate_required (116) are all encrypted.
/// What stays visible: the client's Finished flight, then one alert-sized
/// record from the server, which closes first. That is not a completed
/// handshake; without keys it is a `tls.alert` warning naming the likely cause.
/// (OpenSSL 3.0's server does the same: encrypted certificate_required.)
#[test]
fn live_tls_alert_client_certificate_required_tls13() {
    let pki = Pki::new("netsleuth CA");
    let leaf = pki.leaf(&["api.test"]);
    let verifier = WebPkiClientVerifier::builder(Arc::new(pki.roots()))
        .build()
        .unwrap();
    let server = ServerConfig::builder_with_protocol_versions(TLS13_ONLY)
        .with_client_cert_verifier(verifier)
        .with_single_cert(leaf.chain.clone(), leaf.key())
        .unwrap();
    let client = client_config(TLS13_ONLY, &pki);
    let Some((records, outcome)) = capture_exchange(
        "live_tls_alert_client_certificate_required_tls13",
        https_server(server),
        |addr| https_get(addr, client, "api.test"),
    ) else {
        return;
    };
    assert!(
        outcome.error().contains("CertificateRequired"),
        "{outcome:?}"
    );
    let f = the_finding(&records, "tls.alert", "warning");
    let s = summary(f);
    assert!(
        s.starts_with("the server closed the connection right after an encrypted record"),
        "{s}"
    );
    assert!(s.contains("client certificate"), "{s}");
    let tls = tls_record(&records);
    assert!(tls["established"].is_null(), "{tls}");
}
