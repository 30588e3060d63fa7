//! TlsConn and the TLS rules over hand-built TLS bytes and openssl-made certificates.

use proptest::prelude::*;

use super::*;
use crate::diagnose::tls::diagnose;

use super::testkit::*;

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
fn tls12_history_letters() {
    let mut t = hello_then(&Hello::default());
    tls12_full(&mut t, &[der(GOOD_DER)]);
    t.send(C, &record(23, &[0; 100]));
    let r = t.rec();
    assert_eq!(
        r.ssl_history, "CsxnGIi",
        "Zeek's letters for a full TLS 1.2 handshake"
    );
    assert!(r.client_cert_chain.is_empty() && r.client_subject.is_none());
}

#[test]
fn mutual_tls12_client_chain_and_history() {
    let mut t = hello_then(&Hello::default());
    let flight = [
        server_hello(0x0303, None, 0xc02f, None, false),
        certificate(&[der(GOOD_DER)]),
        handshake(13, &[1, 1, 0, 0]),
        handshake(14, &[]),
    ]
    .concat();
    t.send(S, &record(22, &flight));
    let client = [
        certificate(&[der(LEAF_DER), der(CA_DER)]),
        handshake(16, &[4; 33]),
        handshake(15, &[0; 8]),
    ]
    .concat();
    t.send(
        C,
        &[
            record(22, &client),
            record(20, &[1]),
            record(22, &[0x55; 40]),
        ]
        .concat(),
    );
    t.send(S, &[record(20, &[1]), record(22, &[0x66; 40])].concat());
    t.send(S, &alert(1, 0));
    let r = t.rec();
    assert_eq!(r.ssl_history, "CsxrnXGYIil");
    assert_eq!(r.client_certificates, Some(2));
    assert_eq!(r.client_cert_chain.len(), 2);
    assert_eq!(r.client_subject.as_deref(), Some("CN=legacy.example.com"));
    assert_eq!(r.client_issuer.as_deref(), Some("CN=Test CA"));
    assert_eq!(r.client_cert_chain[1].subject, "CN=Test CA");
    assert_eq!(r.certificates.len(), 1, "the server's chain is apart");
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["client_subject"], "CN=legacy.example.com");
    assert_eq!(v["client_cert_chain"][0]["issuer"], "CN=Test CA");
}

#[test]
fn tls13_hrr_history_letter() {
    let mut t = hello_then(&Hello::default());
    t.send(
        S,
        &record(22, &server_hello(0x0303, Some(0x0304), 0x1301, None, true)),
    );
    t.send(S, &record(20, &[1]));
    t.send(C, &record(20, &[1]));
    t.send(C, &record(22, &client_hello(&Hello::default())));
    t.send(
        S,
        &record(22, &server_hello(0x0303, Some(0x0304), 0x1301, None, false)),
    );
    assert_eq!(t.rec().ssl_history, "CjiICs");
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
        "server_rejected_client_flight",
        "established",
        "version",
        "cipher",
        "alpn",
        "unanswered_ms",
        "client_gave_up_ms",
        "client_cert_requested",
        "client_certificates",
        "client_cert_chain",
        "client_subject",
        "client_issuer",
        "ssl_history",
        "starttls",
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
