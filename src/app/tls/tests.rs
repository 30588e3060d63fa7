//! TlsConn and the TLS rules over hand-built TLS bytes and openssl-made certificates.

use std::net::SocketAddr;

use proptest::prelude::*;

use super::*;
use crate::diagnose::tls::diagnose;

// --- a tiny TLS builder -------------------------------------------------------

fn v8(b: &[u8]) -> Vec<u8> {
    [&[b.len() as u8][..], b].concat()
}
fn v16(b: &[u8]) -> Vec<u8> {
    [&(b.len() as u16).to_be_bytes()[..], b].concat()
}
fn v24(b: &[u8]) -> Vec<u8> {
    [&(b.len() as u32).to_be_bytes()[1..], b].concat()
}
fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}
fn record(ty: u8, payload: &[u8]) -> Vec<u8> {
    [&[ty, 3, 3][..], &v16(payload)].concat()
}
fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    [&[ty][..], &v24(body)].concat()
}
fn ext(ty: u16, body: &[u8]) -> Vec<u8> {
    [&ty.to_be_bytes()[..], &v16(body)].concat()
}
fn alert(level: u8, code: u8) -> Vec<u8> {
    record(21, &[level, code])
}
fn alpn(protos: &[&str]) -> Vec<u8> {
    v16(&protos
        .iter()
        .flat_map(|p| v8(p.as_bytes()))
        .collect::<Vec<_>>())
}

#[derive(Clone)]
struct Hello {
    versions: Vec<u16>,
    ciphers: Vec<u16>,
    sni: Option<&'static str>,
    alpn: Vec<&'static str>,
    groups: Vec<u16>,
}

impl Default for Hello {
    fn default() -> Self {
        Hello {
            versions: vec![0x0304, 0x0303],
            ciphers: vec![0x1301, 0xc02f],
            sni: Some("api.example.com"),
            alpn: vec!["h2", "http/1.1"],
            groups: vec![29, 23],
        }
    }
}

fn client_hello(h: &Hello) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(sni) = h.sni {
        exts.extend(ext(0, &v16(&[&[0u8][..], &v16(sni.as_bytes())].concat())));
    }
    if !h.groups.is_empty() {
        exts.extend(ext(10, &v16(&u16s(&h.groups))));
        let shares: Vec<u8> = h
            .groups
            .iter()
            .take(1)
            .flat_map(|g| [u16s(&[*g]), v16(&[7; 32])].concat())
            .collect();
        exts.extend(ext(51, &v16(&shares)));
    }
    if !h.alpn.is_empty() {
        exts.extend(ext(16, &alpn(&h.alpn)));
    }
    if !h.versions.is_empty() {
        exts.extend(ext(43, &v8(&u16s(&h.versions))));
    }
    let body = [
        &[3, 3][..],
        &[1; 32],
        &v8(&[9; 32]),
        &v16(&u16s(&h.ciphers)),
        &v8(&[0]),
        &v16(&exts),
    ]
    .concat();
    handshake(1, &body)
}

const HRR: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

fn server_hello(
    legacy: u16,
    selected: Option<u16>,
    cipher: u16,
    proto: Option<&str>,
    hrr: bool,
) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(v) = selected {
        exts.extend(ext(43, &u16s(&[v])));
    }
    if let Some(p) = proto {
        exts.extend(ext(16, &alpn(&[p])));
    }
    let random = if hrr { HRR } else { [2; 32] };
    let body = [
        &legacy.to_be_bytes()[..],
        &random,
        &v8(&[9; 32]),
        &u16s(&[cipher]),
        &[0],
        &v16(&exts),
    ]
    .concat();
    handshake(2, &body)
}

fn certificate(ders: &[Vec<u8>]) -> Vec<u8> {
    handshake(
        11,
        &v24(&ders.iter().flat_map(|d| v24(d)).collect::<Vec<_>>()),
    )
}

fn der(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

// --- a connection harness ---------------------------------------------------

/// 2027-01-15: inside every fixture certificate's validity.
const T0: i64 = 1_800_000_000;

struct H {
    c: TlsConn,
    off: [u64; 2],
    frame: u64,
    ns: i64,
}

impl H {
    fn at(secs: i64) -> H {
        let ep = Endpoints {
            conn: 7,
            client: "10.0.0.5:51234".parse::<SocketAddr>().unwrap(),
            server: "10.0.0.1:443".parse::<SocketAddr>().unwrap(),
        };
        H {
            c: TlsConn::new(ep),
            off: [0, 0],
            frame: 0,
            ns: secs * 1_000_000_000,
        }
    }
    fn new() -> H {
        H::at(T0)
    }
    fn send_chunks(&mut self, side: Side, bytes: &[u8], chunk: usize) {
        for piece in bytes.chunks(chunk) {
            self.frame += 1;
            self.ns += 1_000_000;
            let i = usize::from(side == Side::Server);
            let origin = Origin {
                conn: 7,
                side,
                frame: self.frame,
                ts: Timestamp(self.ns),
            };
            self.c.on_data(origin, self.off[i], piece);
            self.off[i] += piece.len() as u64;
        }
    }
    fn send(&mut self, side: Side, bytes: &[u8]) {
        self.send_chunks(side, bytes, bytes.len().max(1));
    }
    fn end(&mut self, side: Side, how: StreamEnd) {
        self.ns += 1_000_000;
        self.c.on_end(side, how, Timestamp(self.ns));
    }
    fn rec(&self) -> TlsRecord {
        self.c
            .record(Timestamp(self.ns))
            .expect("a ClientHello was seen")
    }
    fn kinds(&self) -> Vec<&'static str> {
        diagnose(&self.rec()).into_iter().map(|f| f.kind).collect()
    }
}

use Side::{Client as C, Server as S};

fn hello_then(h: &Hello) -> H {
    let mut t = H::new();
    t.send(C, &record(22, &client_hello(h)));
    t
}

// --- tests --------------------------------------------------------------------

#[test]
fn looks_like_tls_by_content() {
    assert!(!looks_like_tls(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(!looks_like_tls(b""));
    let ch = record(22, &client_hello(&Hello::default()));
    assert!(looks_like_tls(&ch));
    assert!(looks_like_tls(&ch[..3]));
    assert!(
        !looks_like_tls(&[0x16, 3, 1, 0xff, 0xff, 1]),
        "length beyond a record"
    );
    assert!(
        !looks_like_tls(&[0x16, 3, 1, 0, 50, 2]),
        "a ServerHello is not a client's first message"
    );
    assert!(!looks_like_tls(&[0x16, 3, 7]));
}

#[test]
fn client_hello_fields() {
    let h = Hello {
        ciphers: vec![0x1301, 0x1a1a, 0x1234],
        versions: vec![0x2a2a, 0x0304, 0x0303],
        ..Hello::default()
    };
    let r = hello_then(&h).rec();
    assert_eq!(r.sni.as_deref(), Some("api.example.com"));
    let ch = &r.client_hello;
    assert_eq!((ch.frame, ch.legacy_version.as_str()), (1, "TLS 1.2"));
    assert_eq!(
        ch.offered_versions,
        ["TLS 1.3", "TLS 1.2"],
        "GREASE dropped"
    );
    assert_eq!(ch.cipher_suites, ["TLS_AES_128_GCM_SHA256", "0x1234"]);
    assert_eq!(ch.alpn, ["h2", "http/1.1"]);
    assert_eq!(ch.groups, ["x25519", "secp256r1"]);
    assert_eq!(ch.key_share_groups, ["x25519"]);
    assert!(!ch.legacy_only);
    assert!(r.server_hello.is_none() && r.established.is_none());
    let old = hello_then(&Hello {
        versions: vec![],
        ..Hello::default()
    })
    .rec();
    assert!(old.client_hello.legacy_only);
    assert_eq!(old.client_hello.offered_versions, ["TLS 1.2"]);
    assert!(old.client_hello.offers(0x0301) && !old.client_hello.offers(0x0304));
}

fn tls12_full(t: &mut H, chain: &[Vec<u8>]) {
    let flight = [
        server_hello(0x0303, None, 0xc02f, Some("h2"), false),
        certificate(chain),
        handshake(14, &[]),
    ]
    .concat();
    t.send(S, &record(22, &flight));
    t.send(
        C,
        &[
            record(22, &handshake(16, &[4; 33])),
            record(20, &[1]),
            record(22, &[0x55; 40]),
        ]
        .concat(),
    );
    t.send(S, &[record(20, &[1]), record(22, &[0x66; 40])].concat());
}

#[test]
fn tls12_handshake_chain_and_completion() {
    let mut t = hello_then(&Hello::default());
    tls12_full(&mut t, &[der(GOOD_DER), der(CA_DER)]);
    t.send(C, &record(23, &[0; 100]));
    let r = t.rec();
    let sh = r.server_hello.as_ref().unwrap();
    assert_eq!(
        (sh.frame, sh.version.as_str(), sh.alpn.as_deref()),
        (2, "TLS 1.2", Some("h2"))
    );
    assert_eq!(
        r.cipher.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    );
    assert_eq!(r.version.as_deref(), Some("TLS 1.2"));
    assert_eq!(r.certificates.len(), 2);
    let leaf = &r.certificates[0];
    assert_eq!(leaf.subject, "CN=api.example.com");
    assert_eq!(
        leaf.sans,
        ["api.example.com", "*.svc.example.com", "10.0.0.1"]
    );
    assert!(
        leaf.self_signed
            && leaf.not_before.starts_with("2026-")
            && leaf.not_after.starts_with("2036-")
    );
    assert_eq!(r.certificates[1].subject, "CN=Test CA");
    let est = r
        .established
        .as_ref()
        .expect("established at the server's Finished");
    assert_eq!(est.frame, 4);
    assert!(
        (est.handshake_ms - 3.0).abs() < 1e-9,
        "{}",
        est.handshake_ms
    );
    assert!(diagnose(&r).is_empty(), "{:?}", diagnose(&r));
}

#[test]
fn ca_signed_leaf_is_not_self_signed_and_cn_matches_without_sans() {
    let mut t = hello_then(&Hello {
        sni: Some("legacy.example.com"),
        ..Hello::default()
    });
    tls12_full(&mut t, &[der(LEAF_DER)]);
    let r = t.rec();
    assert!(!r.certificates[0].self_signed);
    assert_eq!(r.certificates[0].issuer, "CN=Test CA");
    assert!(diagnose(&r).is_empty());
    let mut t = hello_then(&Hello {
        sni: Some("other.example.com"),
        ..Hello::default()
    });
    tls12_full(&mut t, &[der(LEAF_DER)]);
    let f = diagnose(&t.rec());
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].kind, f[0].severity),
        ("tls.sni_mismatch", crate::diagnose::Severity::Warning)
    );
}

#[test]
fn sni_against_wildcard_san() {
    for (sni, ok) in [
        ("x.svc.example.com", true),
        ("a.b.svc.example.com", false),
        ("svc.example.com", false),
    ] {
        let mut t = hello_then(&Hello {
            sni: Some(sni),
            ..Hello::default()
        });
        let flight = [
            server_hello(0x0303, None, 0xc02f, None, false),
            certificate(&[der(GOOD_DER)]),
        ]
        .concat();
        t.send(S, &record(22, &flight));
        t.send(C, &alert(2, 42));
        let kinds = t.kinds();
        if ok {
            assert_eq!(kinds, ["tls.bad_certificate"], "{sni}");
        } else {
            assert_eq!(
                kinds,
                ["tls.sni_mismatch"],
                "{sni}: the mismatch absorbs alert 42"
            );
        }
    }
}

#[test]
fn tls13_completion_and_hrr() {
    let mut t = hello_then(&Hello::default());
    t.send(
        S,
        &record(22, &server_hello(0x0303, Some(0x0304), 0x1301, None, true)),
    );
    assert_eq!(
        t.rec().version,
        None,
        "a HelloRetryRequest negotiates nothing yet"
    );
    assert!(t.rec().server_hello.unwrap().hello_retry_request);
    t.send(
        C,
        &record(
            22,
            &client_hello(&Hello {
                groups: vec![23],
                ..Hello::default()
            }),
        ),
    );
    t.send(
        S,
        &[
            record(
                22,
                &server_hello(0x0303, Some(0x0304), 0x1302, Some("h2"), false),
            ),
            record(20, &[1]),
            record(23, &[0; 900]),
        ]
        .concat(),
    );
    t.send(C, &[record(20, &[1]), record(23, &[1; 20])].concat());
    assert!(t.rec().established.is_none(), "20 bytes could be an alert");
    t.send(C, &record(23, &[2; 200]));
    let r = t.rec();
    assert_eq!(
        r.client_hello.groups,
        ["x25519", "secp256r1"],
        "the first ClientHello is kept"
    );
    let sh = r.server_hello.as_ref().unwrap();
    assert!(sh.hello_retry_request);
    assert_eq!(
        (r.version.as_deref(), r.cipher.as_deref(), r.alpn.as_deref()),
        (Some("TLS 1.3"), Some("TLS_AES_256_GCM_SHA384"), Some("h2"))
    );
    assert_eq!(r.established.as_ref().map(|e| e.frame), Some(5));
    assert!(diagnose(&r).is_empty());

    let mut t = hello_then(&Hello::default());
    t.send(
        S,
        &record(22, &server_hello(0x0303, Some(0x0304), 0x1301, None, false)),
    );
    t.send(C, &record(23, &[1; 53]));
    assert_eq!(
        t.rec().established.map(|e| e.frame),
        Some(3),
        "a Finished-sized record"
    );
}

#[test]
fn tls13_encrypted_alert_suspected() {
    let mut t = hello_then(&Hello::default());
    t.send(
        S,
        &[
            record(22, &server_hello(0x0303, Some(0x0304), 0x1301, None, false)),
            record(23, &[0; 900]),
        ]
        .concat(),
    );
    t.send(C, &[record(20, &[1]), record(23, &[1; 19])].concat());
    t.end(C, StreamEnd::Fin);
    t.end(S, StreamEnd::Fin);
    let r = t.rec();
    assert_eq!(
        (r.encrypted_alert_suspected, r.encrypted_alert_from),
        (Some(3), Some(C))
    );
    let f = diagnose(&r);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].kind, f[0].severity),
        ("tls.alert", crate::diagnose::Severity::Warning)
    );
    assert!(f[0].next_step.contains("--keylog"));
    assert!(f[0].frames.contains(&3));
}

#[test]
fn client_hello_split_across_records_and_bytes() {
    let ch = client_hello(&Hello::default());
    let (a, b) = ch.split_at(30);
    let bytes = [record(22, a), record(22, b)].concat();
    for chunk in [1, 7, bytes.len()] {
        let mut t = H::new();
        t.send_chunks(C, &bytes, chunk);
        let r = t.rec();
        assert_eq!(r.sni.as_deref(), Some("api.example.com"), "chunk {chunk}");
        assert_eq!(
            r.client_hello.frame, t.frame,
            "attributed to the frame completing it"
        );
        assert!(r.notes.is_empty(), "{:?}", r.notes);
    }
}

/// (alert code, whether a ServerHello precedes it, expected finding).
const ALERTS: &[(u8, bool, &str)] = &[
    (70, false, "tls.version_mismatch"),
    (40, false, "tls.no_shared_cipher"),
    (71, false, "tls.no_shared_cipher"),
    (40, true, "tls.alert"),
    (48, true, "tls.unknown_ca"),
    (42, true, "tls.bad_certificate"),
    (43, true, "tls.bad_certificate"),
    (44, true, "tls.bad_certificate"),
    (46, true, "tls.bad_certificate"),
    (45, true, "tls.cert_expired"),
    (120, false, "tls.alpn_mismatch"),
    (80, false, "tls.alert"),
];

#[test]
fn each_alert_maps_to_one_finding() {
    for &(code, after_sh, kind) in ALERTS {
        let mut t = hello_then(&Hello {
            versions: vec![0x0303],
            ..Hello::default()
        });
        let from = if after_sh {
            t.send(
                S,
                &record(22, &server_hello(0x0303, None, 0xc02f, None, false)),
            );
            C
        } else {
            S
        };
        t.send(from, &alert(2, code));
        t.send(if from == C { S } else { C }, &alert(2, 0));
        let r = t.rec();
        assert_eq!(r.alerts.len(), 2);
        let f = diagnose(&r);
        assert_eq!(
            f.iter().map(|f| f.kind).collect::<Vec<_>>(),
            [kind],
            "alert {code}"
        );
        let alert_frame = r.alerts[0].frame;
        assert!(
            f[0].frames.contains(&alert_frame) && f[0].frames.contains(&1),
            "{:?}",
            f[0].frames
        );
        assert_eq!((f[0].conn, f[0].time), (Some(7), Some(r.alerts[0].time)));
        if code == 70 {
            assert_eq!(
                f[0].summary,
                "server sent alert protocol_version (70) to a ClientHello offering TLS 1.2 only"
            );
            assert_eq!(
                f[0].next_step,
                "enable TLS 1.3 on the client or TLS 1.2 on the server"
            );
        }
        if code == 40 && !after_sh {
            assert!(
                f[0].summary.contains("TLS_AES_128_GCM_SHA256"),
                "{}",
                f[0].summary
            );
        }
    }
}

#[test]
fn server_version_or_alpn_not_offered() {
    let mut t = hello_then(&Hello::default());
    t.send(
        S,
        &record(
            22,
            &server_hello(0x0301, None, 0xc02f, Some("spdy/3"), false),
        ),
    );
    let f = diagnose(&t.rec());
    let kinds: Vec<_> = f.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, ["tls.version_mismatch", "tls.alpn_mismatch"]);
    assert!(
        f[0].summary.contains("server chose TLS 1.0"),
        "{}",
        f[0].summary
    );
}

#[test]
fn certificate_validity_against_handshake_time() {
    for (secs, word) in [
        (2_200_000_000, "expired on 2036-"),
        (1_700_000_000, "not valid before 2026-"),
    ] {
        let mut t = H::at(secs);
        t.send(C, &record(22, &client_hello(&Hello::default())));
        t.send(
            S,
            &record(
                22,
                &[
                    server_hello(0x0303, None, 0xc02f, None, false),
                    certificate(&[der(GOOD_DER)]),
                ]
                .concat(),
            ),
        );
        t.send(C, &alert(2, 45));
        let f = diagnose(&t.rec());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, "tls.cert_expired");
        assert!(f[0].summary.contains(word), "{}", f[0].summary);
        assert!(f[0].frames.contains(&2) && f[0].frames.contains(&3));
    }
    let mut t = H::at(2_200_000_000);
    t.send(C, &record(22, &client_hello(&Hello::default())));
    tls12_full(&mut t, &[der(GOOD_DER)]);
    let f = diagnose(&t.rec());
    assert_eq!(
        (f[0].kind, f[0].severity),
        ("tls.cert_expired", crate::diagnose::Severity::Warning)
    );
    assert!(f[0]
        .next_step
        .starts_with("renew the certificate (expired on 2036-"));
}

#[test]
fn unanswered_client_hello() {
    let mut t = hello_then(&Hello::default());
    let r = t.c.record(Timestamp(t.ns + 5_000_000_000)).unwrap();
    assert_eq!(r.unanswered_ms, Some(5_000.0));
    let f = diagnose(&r);
    assert_eq!(
        f.iter().map(|f| f.kind).collect::<Vec<_>>(),
        ["tls.handshake_timeout"]
    );
    assert!(f[0].summary.contains("5.00 s") && f[0].summary.contains("api.example.com"));
    assert!(diagnose(&t.c.record(Timestamp(t.ns + 2_000_000_000)).unwrap()).is_empty());
    t.send(S, &alert(2, 80));
    assert_eq!(
        t.c.record(Timestamp(t.ns + 9_000_000_000))
            .unwrap()
            .unanswered_ms,
        None
    );
}

#[test]
fn gap_garbage_and_oversize_stop_a_direction() {
    let mut t = hello_then(&Hello::default());
    t.c.on_gap(S, 0, 100);
    t.send(S, &alert(2, 70));
    let r = t.rec();
    assert!(r.alerts.is_empty());
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("server: 100 bytes missing")),
        "{:?}",
        r.notes
    );

    let mut t = H::new();
    t.send(
        C,
        &[
            record(22, &client_hello(&Hello::default())),
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        ]
        .concat(),
    );
    t.send(C, &alert(2, 10));
    let r = t.rec();
    assert_eq!(r.sni.as_deref(), Some("api.example.com"));
    assert!(r.alerts.is_empty());
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("record type 0x47") && n.contains("not TLS")),
        "{:?}",
        r.notes
    );

    let mut t = hello_then(&Hello::default());
    t.send(S, &[0x16, 3, 3, 0x48, 0x01]);
    let r = t.rec();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("record length 18433 exceeds")),
        "{:?}",
        r.notes
    );

    let mut t = H::new();
    t.send(C, &record(22, &[1, 0x01, 0, 0]));
    assert!(
        t.c.record(Timestamp(0)).is_none(),
        "no ClientHello: no record"
    );
    assert!(t.c.buffered() < 100);
}

#[test]
fn record_json_fields() {
    let mut t = hello_then(&Hello::default());
    t.send(S, &alert(2, 70));
    let v = serde_json::to_value(t.rec()).unwrap();
    for k in [
        "conn",
        "client",
        "server",
        "sni",
        "client_hello",
        "server_hello",
        "certificates",
        "alerts",
        "encrypted_alert_suspected",
        "established",
        "version",
        "cipher",
        "alpn",
        "unanswered_ms",
        "notes",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
    assert_eq!(v["alerts"][0]["from"], "server");
    assert_eq!(v["alerts"][0]["description"], "protocol_version");
    assert_eq!(v["alerts"][0]["code"], 70);
    assert!(v["client_hello"]["time"]
        .as_str()
        .unwrap()
        .starts_with("2027-01-15T"));
    assert!(v["client_hello"].get("version_codes").is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_bytes_never_panic(
        client in proptest::collection::vec(any::<u8>(), 0..3000),
        server in proptest::collection::vec(any::<u8>(), 0..3000),
        chunk in 1usize..300,
        prefix in any::<bool>(),
    ) {
        let mut t = H::new();
        if prefix {
            t.send(C, &record(22, &client_hello(&Hello::default())));
            t.send(S, &record(22, &server_hello(0x0303, None, 0xc02f, None, false)));
        }
        t.send_chunks(C, &client, chunk);
        t.send_chunks(S, &server, chunk);
        t.end(C, StreamEnd::Reset);
        t.end(S, StreamEnd::Fin);
        prop_assert!(t.c.buffered() <= 2 * (MAX_RECORD + HEADER + MAX_HANDSHAKE + 4 + MAX_RECORD) + 1024);
        if let Some(r) = t.c.record(Timestamp(t.ns)) {
            let _ = diagnose(&r);
            prop_assert!(r.alerts.len() <= 16 && r.notes.len() <= 8);
        }
    }
}

/// openssl-made test certificate `good` (DER, hex).
const GOOD_DER: &str = concat!(
    "308201c030820166a003020102021424700c9bf8ca8bf56ecfe059c653f43931649115300a06082a8648ce3d04030230",
    "1a3118301606035504030c0f6170692e6578616d706c652e636f6d301e170d3236313132363135323534315a170d3336",
    "313132333135323534315a301a3118301606035504030c0f6170692e6578616d706c652e636f6d3059301306072a8648",
    "ce3d020106082a8648ce3d0301070342000441f7c209ef3793aa65d4d706035f98794c9e4082ad83a4be311268995ad9",
    "82c2145d5e26c98cd315e423696e5091caf4e6d499c2e3b1aa89cd29bdae47acf73da38189308186301d0603551d0e04",
    "1604142d176aeda557a170fb1ed09648d886fea9767308301f0603551d230418301680142d176aeda557a170fb1ed096",
    "48d886fea9767308300f0603551d130101ff040530030101ff30330603551d11042c302a820f6170692e6578616d706c",
    "652e636f6d82112a2e7376632e6578616d706c652e636f6d87040a000001300a06082a8648ce3d040302034800304502",
    "20738917cce1350215a7553f02f2309bdd4860a4c7d81e38b1b7bfa5caff0f4701022100a5ce26501640e8f691792d8e",
    "f878b5a25531b2bf20ca668b331a223e3ae9ced5",
);

/// openssl-made test certificate `leaf` (DER, hex).
const LEAF_DER: &str = concat!(
    "308201293081d00214623573eb79eebe2648c8c1bdcca92ebaf52e3b89300a06082a8648ce3d04030230123110300e06",
    "035504030c0754657374204341301e170d3236313132363135323534345a170d3237313132363135323534345a301d31",
    "1b301906035504030c126c65676163792e6578616d706c652e636f6d3059301306072a8648ce3d020106082a8648ce3d",
    "0301070342000445bd0ebba75da45d8d88ffe1a59296b9428fa2b19d1f45a05ebfcad05d781f47bc3068d95f0faec294",
    "21885652332971909d16736ac3ec391444f4e8c74814c6300a06082a8648ce3d04030203480030450220439708bd01c6",
    "b8a68812f87e2ba9ddfa7c547010d6465685cafffc73b1521a0c022100b5fc8c44a05c4fb34641f7a7d89ff328943971",
    "6f7d40bee4b520f5a1e62a52f4",
);

/// openssl-made test certificate `ca` (DER, hex).
const CA_DER: &str = concat!(
    "308201783082011fa003020102021420167b38d7bb3951604930d03a013f405069ec28300a06082a8648ce3d04030230",
    "123110300e06035504030c0754657374204341301e170d3236313132363135323534345a170d33363131323331353235",
    "34345a30123110300e06035504030c07546573742043413059301306072a8648ce3d020106082a8648ce3d0301070342",
    "0004b1b7e985da7fd24e75046e92d85097049808fdaf9e8631ac078b962e79060326fe7fb366e3fa1959bd00defb34d0",
    "eedb6b302f4ec438b5dfb2cf276a51ea6e71a3533051301d0603551d0e0416041499e11330c354833def910a544502d0",
    "c7d3a79944301f0603551d2304183016801499e11330c354833def910a544502d0c7d3a79944300f0603551d130101ff",
    "040530030101ff300a06082a8648ce3d040302034700304402200f4a1e7b64343f07745d904dd3ab77bc19d7bd4a252c",
    "2f46dc3f0b1725b6a630022017589e7b1fc6fa82f9d7afe304b28b15ff77e364ce696af1dae2306d8ac627c1",
);
