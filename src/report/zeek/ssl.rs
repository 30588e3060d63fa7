//! ssl.log (one row per TLS connection, from a [`TlsRecord`]) and x509.log
//! (one row per certificate of the server's chain, and of the client's in
//! mutual TLS, when TLS ≤ 1.2 or decryption shows them).

use super::format::Row;
use crate::app::tls::{CertInfo, TlsRecord};

/// ssl.log's `#fields`, as Zeek names them.
pub const SSL_FIELDS: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "version",
    "cipher",
    "curve",
    "server_name",
    "resumed",
    "last_alert",
    "next_protocol",
    "established",
    "ssl_history",
    "cert_chain_fps",
    "client_cert_chain_fps",
    "sni_matches_cert",
];

/// ssl.log's `#types`, one per field.
pub const SSL_TYPES: &[&str] = &[
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "string",
    "string",
    "string",
    "string",
    "bool",
    "string",
    "string",
    "bool",
    "string",
    "vector[string]",
    "vector[string]",
    "bool",
];

/// x509.log's `#fields`, as Zeek names them.
pub const X509_FIELDS: &[&str] = &[
    "ts",
    "fingerprint",
    "certificate.version",
    "certificate.serial",
    "certificate.subject",
    "certificate.issuer",
    "certificate.not_valid_before",
    "certificate.not_valid_after",
    "certificate.key_alg",
    "certificate.sig_alg",
    "certificate.key_type",
    "certificate.key_length",
    "certificate.exponent",
    "certificate.curve",
    "san.dns",
    "san.uri",
    "san.email",
    "san.ip",
    "basic_constraints.ca",
    "basic_constraints.path_len",
    "host_cert",
    "client_cert",
];

/// x509.log's `#types`, one per field.
pub const X509_TYPES: &[&str] = &[
    "time",
    "string",
    "count",
    "string",
    "string",
    "string",
    "time",
    "time",
    "string",
    "string",
    "string",
    "count",
    "string",
    "string",
    "vector[string]",
    "vector[string]",
    "vector[string]",
    "vector[addr]",
    "bool",
    "count",
    "bool",
    "bool",
];

/// A certificate's fingerprint as Zeek logs it: SHA-256, lower-case hex.
pub fn fingerprint(c: &CertInfo) -> String {
    c.fingerprint.iter().map(|b| format!("{b:02x}")).collect()
}

/// Zeek's name for a TLS version (`TLSv12`), from ours (`TLS 1.2`).
fn version(v: &str) -> String {
    let known = match v {
        "SSL 3.0" => "SSLv3",
        "TLS 1.0" => "TLSv10",
        "TLS 1.1" => "TLSv11",
        "TLS 1.2" => "TLSv12",
        "TLS 1.3" => "TLSv13",
        "DTLS 1.0" => "DTLSv10",
        "DTLS 1.2" => "DTLSv12",
        "DTLS 1.3" => "DTLSv13",
        _ => {
            return match v
                .strip_prefix("0x")
                .and_then(|h| u16::from_str_radix(h, 16).ok())
            {
                Some(code) => format!("unknown-{code}"),
                None => v.to_string(),
            }
        }
    };
    known.to_string()
}

/// The ssl.log row of `t`. Unset: `curve` when no key exchange was seen,
/// `resumed` without a ServerHello; `cert_chain_fps` and `sni_matches_cert`
/// when no certificate was visible (TLS 1.3 without keys),
/// `client_cert_chain_fps` when the client sent none.
pub fn ssl_row(t: &TlsRecord) -> String {
    let mut r = Row::new();
    let fps: Vec<String> = t.certificates.iter().map(fingerprint).collect();
    let client_fps: Vec<String> = t.client_cert_chain.iter().map(fingerprint).collect();
    let leaf = t.certificates.first();
    r.time(t.client_hello.time)
        .conn_id(t.conn, t.client, t.server)
        .opt_str(t.version.as_deref().map(version).as_deref())
        .opt_str(t.cipher.as_deref())
        .opt_str(t.curve.as_deref())
        .opt_str(t.sni.as_deref())
        .bool(t.server_hello.as_ref().map(|_| t.resumed))
        .opt_str(t.alerts.last().map(|a| a.description))
        .opt_str(t.alpn.as_deref())
        .bool(Some(t.established.is_some()))
        .str(&t.ssl_history)
        .list((!fps.is_empty()).then(|| fps.iter().map(String::as_str)))
        .list((!client_fps.is_empty()).then(|| client_fps.iter().map(String::as_str)))
        .bool(
            leaf.zip(t.sni.as_deref())
                .map(|(c, sni)| crate::diagnose::tls::cert_matches(c, sni)),
        );
    debug_assert_eq!(r.columns(), SSL_FIELDS.len());
    r.finish()
}

/// The x509.log row of `c`, the leaf of its chain when `host_cert`, sent by
/// the client when `client_cert`. Unset:
/// the key and signature algorithms, key length, exponent, curve, URI and
/// e-mail SANs and the basic constraints (not kept); `san.dns`/`san.ip`
/// when the certificate has no such SAN. Subject and issuer are in
/// x509-parser's order (`C=.., O=.., CN=..`), not OpenSSL's reversed one.
pub fn x509_row(c: &CertInfo, host_cert: bool, client_cert: bool) -> String {
    let (ips, dns): (Vec<&str>, Vec<&str>) = c
        .sans
        .iter()
        .map(String::as_str)
        .partition(|s| s.parse::<std::net::IpAddr>().is_ok());
    let mut r = Row::new();
    r.time(c.time)
        .str(&fingerprint(c))
        .count(Some(u64::from(c.version)))
        .opt_str(Some(c.serial.as_str()).filter(|s| !s.is_empty()))
        .str(&c.subject)
        .str(&c.issuer)
        .time(crate::base::Timestamp(
            c.not_before_unix.saturating_mul(1_000_000_000),
        ))
        .time(crate::base::Timestamp(
            c.not_after_unix.saturating_mul(1_000_000_000),
        ))
        .unset_n(6)
        .list((!dns.is_empty()).then_some(dns))
        .unset_n(2)
        .list((!ips.is_empty()).then_some(ips))
        .unset_n(2)
        .bool(Some(host_cert))
        .bool(Some(client_cert));
    debug_assert_eq!(r.columns(), X509_FIELDS.len());
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tls::{AlertInfo, ClientHelloInfo, Established};
    use crate::base::{Side, Timestamp};

    fn cert() -> CertInfo {
        let mut params =
            rcgen::CertificateParams::new(vec!["api.example.com".to_string(), "10.0.0.5".into()])
                .expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "api.example.com");
        let key = rcgen::KeyPair::generate().expect("key");
        let der = params.self_signed(&key).expect("cert").der().to_vec();
        let mut c = CertInfo::from_der(&der).expect("parses");
        c.time = Timestamp(1_764_166_000_250_000_000);
        c
    }

    fn record(certs: Vec<CertInfo>) -> TlsRecord {
        TlsRecord {
            conn: 7,
            client: "10.0.0.1:40000".parse().expect("addr"),
            server: "10.0.0.5:443".parse().expect("addr"),
            sni: Some("api.example.com".into()),
            resumed: false,
            curve: Some("x25519".into()),
            client_hello: ClientHelloInfo {
                frame: 4,
                time: Timestamp(1_764_166_000_123_456_000),
                legacy_version: "TLS 1.2".into(),
                offered_versions: vec!["TLS 1.2".into()],
                cipher_suites: vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()],
                alpn: vec!["http/1.1".into()],
                groups: vec![],
                key_share_groups: vec![],
                legacy_only: true,
                ja3: String::new(),
                ja3_string: String::new(),
                ja4: String::new(),
                ja4_r: String::new(),
                version_codes: vec![0x0303],
                has_supported_versions: false,
            },
            server_hello: None,
            certificates: certs,
            alerts: vec![AlertInfo {
                from: Side::Server,
                level: "warning".into(),
                description: "close_notify",
                code: 0,
                frame: 20,
                time: Timestamp(1_764_166_001_000_000_000),
            }],
            encrypted_alert_suspected: None,
            encrypted_alert_from: None,
            server_rejected_client_flight: false,
            established: Some(Established {
                frame: 9,
                time: Timestamp(1_764_166_000_300_000_000),
                handshake_ms: 176.5,
            }),
            version: Some("TLS 1.2".into()),
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()),
            alpn: Some("http/1.1".into()),
            unanswered_ms: None,
            client_gave_up_ms: None,
            client_cert_requested: None,
            client_certificates: None,
            client_cert_chain: vec![],
            client_subject: None,
            client_issuer: None,
            ssl_history: "CsxnGIi".into(),
            starttls: None,
            decryption: None,
            notes: vec![],
        }
    }

    #[test]
    fn zeek_ssl_row_from_tls_record() {
        let c = cert();
        let fp = fingerprint(&c);
        assert_eq!(fp.len(), 64);
        let row = ssl_row(&record(vec![c]));
        let cols: Vec<&str> = row.trim_end_matches('\n').split('\t').collect();
        assert_eq!(cols.len(), SSL_FIELDS.len());
        let get = |name: &str| cols[SSL_FIELDS.iter().position(|f| *f == name).expect("field")];
        assert_eq!(get("ts"), "1764166000.123456");
        assert_eq!(get("uid"), super::super::format::uid(7));
        assert_eq!(get("id.resp_p"), "443");
        assert_eq!(get("version"), "TLSv12");
        assert_eq!(get("cipher"), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(get("curve"), "x25519");
        assert_eq!(get("resumed"), "-", "no ServerHello seen");
        assert_eq!(get("server_name"), "api.example.com");
        assert_eq!(get("last_alert"), "close_notify");
        assert_eq!(get("next_protocol"), "http/1.1");
        assert_eq!(get("established"), "T");
        assert_eq!(get("cert_chain_fps"), fp);
        assert_eq!(get("sni_matches_cert"), "T");
        assert_eq!(get("ssl_history"), "CsxnGIi");
        assert_eq!(get("client_cert_chain_fps"), "-");
    }

    #[test]
    fn zeek_ssl_row_with_client_certificates() {
        let server = cert();
        let client = cert();
        let mut t = record(vec![server]);
        t.client_cert_chain = vec![client.clone()];
        let row = ssl_row(&t);
        let cols: Vec<&str> = row.trim_end_matches('\n').split('\t').collect();
        let get = |name: &str| cols[SSL_FIELDS.iter().position(|f| *f == name).expect("field")];
        assert_eq!(get("client_cert_chain_fps"), fingerprint(&client));
        let x = x509_row(&client, true, true);
        let cols: Vec<&str> = x.trim_end_matches('\n').split('\t').collect();
        assert_eq!((cols[20], cols[21]), ("T", "T"));
    }

    #[test]
    fn zeek_ssl_row_without_certificates() {
        let mut t = record(vec![]);
        t.established = None;
        t.version = Some("0x7f17".into());
        let row = ssl_row(&t);
        let cols: Vec<&str> = row.trim_end_matches('\n').split('\t').collect();
        assert_eq!(cols.len(), SSL_FIELDS.len());
        assert_eq!(cols[6], "unknown-32535");
        assert_eq!(cols[13], "F");
        assert_eq!(cols[15], "-");
        assert_eq!(cols[17], "-");
    }

    #[test]
    fn zeek_x509_row_from_certificate() {
        let c = cert();
        let row = x509_row(&c, true, false);
        let cols: Vec<&str> = row.trim_end_matches('\n').split('\t').collect();
        assert_eq!(cols.len(), X509_FIELDS.len());
        let get = |name: &str| cols[X509_FIELDS.iter().position(|f| *f == name).expect("field")];
        assert_eq!(get("ts"), "1764166000.250000");
        assert_eq!(get("fingerprint"), fingerprint(&c));
        assert_eq!(get("certificate.version"), "3");
        assert!(get("certificate.serial")
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        assert!(get("certificate.subject").contains("CN=api.example.com"));
        assert_eq!(
            get("certificate.not_valid_before"),
            format!("{}.000000", c.not_before_unix)
        );
        assert_eq!(get("san.dns"), "api.example.com");
        assert_eq!(get("san.ip"), "10.0.0.5");
        assert_eq!(get("san.uri"), "-");
        assert_eq!(get("host_cert"), "T");
        assert_eq!(get("client_cert"), "F");
        assert_eq!(x509_row(&c, false, false).split('\t').nth(20), Some("F"));
    }
}
