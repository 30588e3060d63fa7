//! Real sessions made by rustls in memory: a client and a server joined by
//! byte buffers, every byte each side wrote recorded, the key log collected
//! from rustls' `KeyLog` hook. The recorded streams are cut into records and
//! decrypted; the application bytes must come back exactly.

use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::util::{records, Rec};
use crate::decrypt::{Epoch, KeyLog, Session, SessionParams, TLS12, TLS13};

/// rustls' key log hook writing NSS lines into memory.
#[derive(Debug, Default)]
struct MemKeyLog(Mutex<String>);

impl rustls::KeyLog for MemKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        self.0.lock().unwrap().push_str(&line);
    }
}

/// Everything a session left behind.
pub struct Recorded {
    pub keylog: String,
    pub c2s: Vec<u8>,
    pub s2c: Vec<u8>,
    pub suite: u16,
    pub version: u16,
}

fn provider(suite: rustls::CipherSuite) -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    p.cipher_suites.retain(|s| s.suite() == suite);
    assert_eq!(p.cipher_suites.len(), 1, "{suite:?} not in the provider");
    Arc::new(p)
}

/// Moves pending TLS bytes from `from` to `to`, appending them to `log`, and
/// `to`'s plaintext to `sink` as it arrives (rustls bounds its buffer).
fn pump(from: &mut Connection, to: &mut Connection, log: &mut Vec<u8>, sink: &mut Vec<u8>) -> bool {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    if buf.is_empty() {
        return false;
    }
    log.extend_from_slice(&buf);
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd).unwrap();
        to.process_new_packets().unwrap();
        drain(to, sink);
    }
    true
}

fn drain(conn: &mut Connection, out: &mut Vec<u8>) {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
}

/// What the client and server sent as application data.
pub struct Exchange<'a> {
    /// Client writes, one `write_all` each; between them the server answers.
    pub requests: &'a [&'a [u8]],
    pub responses: &'a [&'a [u8]],
    /// The client sends a KeyUpdate before each later write (the server
    /// answers with one of its own).
    pub key_update: bool,
    /// The server accepts only P-256 key shares, so the client's X25519
    /// share draws a HelloRetryRequest and a second ClientHello.
    pub hello_retry: bool,
}

/// Runs a whole session and returns the recording.
pub fn run(
    suite: rustls::CipherSuite,
    version: &'static rustls::SupportedProtocolVersion,
    ex: &Exchange,
) -> Recorded {
    use std::io::Write;
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let mut server_provider = (*provider(suite)).clone();
    if ex.hello_retry {
        server_provider
            .kx_groups
            .retain(|g| g.name() == rustls::NamedGroup::secp256r1);
    }
    let server_cfg = ServerConfig::builder_with_provider(Arc::new(server_provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client_cfg = ClientConfig::builder_with_provider(provider(suite))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let kl = Arc::new(MemKeyLog::default());
    client_cfg.key_log = kl.clone();
    let mut client = Connection::Client(
        ClientConnection::new(
            Arc::new(client_cfg),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap(),
    );
    let mut server = Connection::Server(ServerConnection::new(Arc::new(server_cfg)).unwrap());
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let (mut got_req, mut got_resp) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let a = pump(&mut client, &mut server, &mut c2s, &mut got_req);
        let b = pump(&mut server, &mut client, &mut s2c, &mut got_resp);
        if !a && !b && !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    for (i, (req, resp)) in ex.requests.iter().zip(ex.responses).enumerate() {
        if ex.key_update && i > 0 {
            // KeyUpdate(update_requested): the server answers with its own.
            client.refresh_traffic_keys().unwrap();
        }
        client.writer().write_all(req).unwrap();
        pump(&mut client, &mut server, &mut c2s, &mut got_req);
        server.writer().write_all(resp).unwrap();
        pump(&mut server, &mut client, &mut s2c, &mut got_resp);
        // Let any post-handshake messages (tickets, KeyUpdate replies) settle.
        pump(&mut client, &mut server, &mut c2s, &mut got_req);
        pump(&mut server, &mut client, &mut s2c, &mut got_resp);
    }
    assert_eq!(got_req, ex.requests.concat());
    assert_eq!(got_resp, ex.responses.concat());
    client.send_close_notify();
    pump(&mut client, &mut server, &mut c2s, &mut got_req);
    let suite: u16 = client.negotiated_cipher_suite().unwrap().suite().into();
    let version = u16::from(client.protocol_version().unwrap());
    let keylog = kl.0.lock().unwrap().clone();
    Recorded {
        keylog,
        c2s,
        s2c,
        suite,
        version,
    }
}

/// The hello random of a stream's first record (a ClientHello or ServerHello).
pub fn hello_random(stream: &[u8]) -> [u8; 32] {
    // record header 5, handshake header 4, legacy_version 2, then the random.
    stream[11..43].try_into().unwrap()
}

/// The protected records of one direction: TLS 1.3, every application_data
/// record; TLS 1.2, everything after the ChangeCipherSpec.
pub fn protected(stream: &[u8], tls13: bool) -> Vec<Rec> {
    let mut after_ccs = false;
    records(stream)
        .into_iter()
        .filter(|r| {
            if tls13 {
                return r.content_type == 23;
            }
            let keep = after_ccs;
            after_ccs |= r.content_type == 20;
            keep
        })
        .collect()
}

/// Decrypts one direction; returns the application data and the count of
/// non-application records that decrypted.
pub fn decrypt_direction(session: &mut Session, client: bool, recs: &[Rec]) -> (Vec<u8>, usize) {
    let mut app = Vec::new();
    let mut other = 0;
    let mut buf = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        let d = if client {
            session.client_to_server()
        } else {
            session.server_to_client()
        };
        let t = d
            .decrypt_into(r.content_type, r.version, &r.fragment, &mut buf)
            .unwrap_or_else(|e| panic!("record {i} ({} bytes): {e}", r.fragment.len()));
        if t == 23 {
            app.extend_from_slice(&buf);
        } else {
            other += 1;
        }
    }
    (app, other)
}

pub fn params_of(rec: &Recorded, etm: bool) -> SessionParams {
    SessionParams {
        version: rec.version,
        cipher_suite: rec.suite,
        client_random: hello_random(&rec.c2s),
        server_random: hello_random(&rec.s2c),
        encrypt_then_mac: etm,
    }
}

const REQ: &[u8] = b"GET /v1/orders HTTP/1.1\r\nHost: localhost\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy\n";

fn check(
    suite: rustls::CipherSuite,
    version: &'static rustls::SupportedProtocolVersion,
    key_update: bool,
) {
    let big: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let reqs: [&[u8]; 3] = [REQ, REQ, &big];
    let resps: [&[u8]; 3] = [RESP, &big, RESP];
    let rec = run(
        suite,
        version,
        &Exchange {
            requests: &reqs,
            responses: &resps,
            key_update,
            hello_retry: false,
        },
    );
    let tls13 = rec.version == TLS13;
    assert_eq!(
        rec.version,
        if version == &rustls::version::TLS13 {
            TLS13
        } else {
            TLS12
        }
    );
    let (log, warnings) = KeyLog::parse(&rec.keylog);
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut session = Session::new(&log, &params_of(&rec, false)).unwrap();
    let (c_app, c_other) = decrypt_direction(&mut session, true, &protected(&rec.c2s, tls13));
    let (s_app, s_other) = decrypt_direction(&mut session, false, &protected(&rec.s2c, tls13));
    assert_eq!(c_app, reqs.concat(), "{suite:?} client data");
    assert_eq!(s_app, resps.concat(), "{suite:?} server data");
    // The Finished messages (and close_notify, tickets, KeyUpdates) decrypted too.
    assert!(c_other >= 2 && s_other >= 1, "{c_other} {s_other}");
    if tls13 && key_update {
        assert_eq!(
            session.client_to_server().epoch(),
            Epoch::Application { generation: 2 }
        );
        assert_eq!(
            session.server_to_client().epoch(),
            Epoch::Application { generation: 2 }
        );
    }
}

#[test]
fn tls13_aes128gcm_with_key_updates() {
    check(
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
        &rustls::version::TLS13,
        true,
    );
}

#[test]
fn tls13_aes256gcm() {
    check(
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384,
        &rustls::version::TLS13,
        false,
    );
}

#[test]
fn tls13_aes256gcm_with_key_updates() {
    check(
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384,
        &rustls::version::TLS13,
        true,
    );
}

#[test]
fn tls13_chacha20_with_key_updates() {
    check(
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        &rustls::version::TLS13,
        true,
    );
}

#[test]
fn tls12_ecdhe_aes128gcm() {
    // rcgen's default key is ECDSA P-256.
    check(
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        &rustls::version::TLS12,
        false,
    );
}

#[test]
fn tls12_ecdhe_aes256gcm() {
    check(
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        &rustls::version::TLS12,
        false,
    );
}

#[test]
fn tls12_ecdhe_chacha20() {
    check(
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        &rustls::version::TLS12,
        false,
    );
}

/// TLS 1.3 with only the application secrets in the log (the handshake lines
/// removed): the direction starts on application keys, the encrypted
/// handshake records fail without moving the sequence number, and the
/// application records after them decrypt.
#[test]
fn tls13_without_handshake_secrets() {
    let reqs: [&[u8]; 1] = [REQ];
    let resps: [&[u8]; 1] = [RESP];
    let rec = run(
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
        &rustls::version::TLS13,
        &Exchange {
            requests: &reqs,
            responses: &resps,
            key_update: false,
            hello_retry: false,
        },
    );
    let text: String = rec
        .keylog
        .lines()
        .filter(|l| !l.contains("HANDSHAKE"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (log, _) = KeyLog::parse(&text);
    let mut session = Session::new(&log, &params_of(&rec, false)).unwrap();
    let mut buf = Vec::new();
    let mut app = Vec::new();
    for r in protected(&rec.s2c, true) {
        if let Ok(23) = session.server_to_client().decrypt_into(
            r.content_type,
            r.version,
            &r.fragment,
            &mut buf,
        ) {
            app.extend_from_slice(&buf);
        }
    }
    assert_eq!(app, RESP);
}

/// A wrong TLS 1.2 master secret (another session's) fails authentication.
#[test]
fn tls12_other_sessions_key_is_auth_failure() {
    let reqs: [&[u8]; 1] = [REQ];
    let resps: [&[u8]; 1] = [RESP];
    let ex = Exchange {
        requests: &reqs,
        responses: &resps,
        key_update: false,
        hello_retry: false,
    };
    let suite = rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    let a = run(suite, &rustls::version::TLS12, &ex);
    let b = run(suite, &rustls::version::TLS12, &ex);
    // b's secret filed under a's client random.
    let b_secret = b.keylog.split_whitespace().nth(2).unwrap().to_string();
    let a_random = a.keylog.split_whitespace().nth(1).unwrap().to_string();
    let (log, _) = KeyLog::parse(&format!("CLIENT_RANDOM {a_random} {b_secret}\n"));
    let mut session = Session::new(&log, &params_of(&a, false)).unwrap();
    let r = &protected(&a.c2s, false)[0];
    let e = session
        .client_to_server()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap_err();
    assert_eq!(e, crate::decrypt::DecryptError::AuthFailure);
}

/// HelloRetryRequest: the client sends a second plaintext ClientHello (and a
/// middlebox-compatibility ChangeCipherSpec). Neither reaches the decryptor,
/// so sequence numbers are untouched and everything decrypts.
#[test]
fn tls13_after_hello_retry_request() {
    let reqs: [&[u8]; 2] = [REQ, REQ];
    let resps: [&[u8]; 2] = [RESP, RESP];
    let rec = run(
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
        &rustls::version::TLS13,
        &Exchange {
            requests: &reqs,
            responses: &resps,
            key_update: false,
            hello_retry: true,
        },
    );
    let hellos = records(&rec.c2s)
        .iter()
        .filter(|r| r.content_type == 22 && r.fragment.first() == Some(&1))
        .count();
    assert_eq!(hellos, 2, "the server asked for a second ClientHello");
    // Both ClientHellos carry the same random (RFC 8446 4.1.2), the log's key.
    let (log, _) = KeyLog::parse(&rec.keylog);
    let mut session = Session::new(&log, &params_of(&rec, false)).unwrap();
    let (c_app, _) = decrypt_direction(&mut session, true, &protected(&rec.c2s, true));
    let (s_app, _) = decrypt_direction(&mut session, false, &protected(&rec.s2c, true));
    assert_eq!((c_app, s_app), (reqs.concat(), resps.concat()));
}
