//! DTLS over hand-built datagrams: the HelloVerifyRequest retry, fragmented
//! and reordered handshake messages, retransmissions, DTLS 1.3, and malformed
//! datagrams.

use proptest::prelude::*;

use super::testkit::*;
use super::*;

/// A DTLS record.
fn rec(ty: u8, epoch: u16, seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![ty, 0xfe, 0xfd];
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend(v16(payload));
    r
}

/// Fragment `body[from..to]` of handshake message `ty` number `seq`.
fn frag(ty: u8, seq: u16, body: &[u8], from: usize, to: usize) -> Vec<u8> {
    let mut h = vec![ty];
    h.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(&(from as u32).to_be_bytes()[1..]);
    h.extend_from_slice(&((to - from) as u32).to_be_bytes()[1..]);
    h.extend_from_slice(&body[from..to]);
    h
}

fn whole(ty: u8, seq: u16, body: &[u8]) -> Vec<u8> {
    frag(ty, seq, body, 0, body.len())
}

/// A ClientHello body as DTLS sends it: version 0xfefd, a cookie after the
/// session id.
fn ch_body(h: &Hello, cookie: &[u8]) -> Vec<u8> {
    let tls = client_hello(h);
    let body = &tls[4..];
    [&[0xfe, 0xfd][..], &body[2..67], &v8(cookie), &body[67..]].concat()
}

fn sh_body(selected: Option<u16>) -> Vec<u8> {
    server_hello(0xfefd, selected, 0xc02f, None, false)[4..].to_vec()
}

struct D {
    c: TlsConn,
    frame: u64,
}

impl D {
    fn new() -> D {
        let ep = Endpoints {
            conn: 9,
            client: "10.0.0.5:40000".parse().unwrap(),
            server: "10.0.0.1:4433".parse().unwrap(),
        };
        D {
            c: TlsConn::new_dtls(ep),
            frame: 0,
        }
    }
    fn send(&mut self, side: Side, datagram: &[u8]) {
        self.frame += 1;
        let origin = Origin {
            conn: 9,
            side,
            frame: self.frame,
            ts: Timestamp(T0 * 1_000_000_000 + self.frame as i64 * 1_000_000),
        };
        self.c.on_datagram(origin, datagram);
    }
    fn rec(&self) -> TlsRecord {
        self.c
            .record(Timestamp(T0 * 1_000_000_000 + 1_000_000_000))
            .expect("a ClientHello")
    }
}

#[test]
fn dtls_by_content() {
    let ch = rec(22, 0, 0, &whole(1, 0, &ch_body(&Hello::default(), &[])));
    assert!(looks_like_dtls(&ch));
    assert!(!looks_like_dtls(&ch[..13]), "no handshake message");
    assert!(
        !looks_like_dtls(&record(22, &client_hello(&Hello::default()))),
        "TLS"
    );
    let mut epoch1 = ch.clone();
    epoch1[4] = 1;
    assert!(!looks_like_dtls(&epoch1));
    assert!(!looks_like_dtls(b"\x16\xfe"));
}

#[test]
fn dtls12_cookie_retry_fragments_and_completion() {
    let mut d = D::new();
    let h = Hello {
        versions: vec![],
        sni: Some("dtls.example.com"),
        ..Hello::default()
    };
    d.send(C, &rec(22, 0, 0, &whole(1, 0, &ch_body(&h, &[]))));
    // The same ClientHello again (the client's timer): skipped.
    d.send(C, &rec(22, 0, 1, &whole(1, 0, &ch_body(&h, &[]))));
    let hvr = [&[0xfe, 0xff][..], &v8(&[0xaa; 20])].concat();
    d.send(S, &rec(22, 0, 0, &whole(3, 0, &hvr)));
    d.send(C, &rec(22, 0, 2, &whole(1, 1, &ch_body(&h, &[0xaa; 20]))));
    let cert = certificate(&[der(GOOD_DER), der(CA_DER)])[4..].to_vec();
    let mid = cert.len() / 2;
    d.send(S, &rec(22, 0, 1, &whole(2, 1, &sh_body(None))));
    // The certificate's second half first, then its first half with the
    // ServerHelloDone in the same record.
    d.send(S, &rec(22, 0, 2, &frag(11, 2, &cert, mid, cert.len())));
    d.send(
        S,
        &rec(
            22,
            0,
            3,
            &[frag(11, 2, &cert, 0, mid), whole(14, 3, &[])].concat(),
        ),
    );
    let client_flight = [
        rec(22, 0, 3, &whole(16, 2, &[4; 33])),
        rec(20, 0, 4, &[1]),
        rec(22, 1, 0, &[0x55; 40]),
    ]
    .concat();
    d.send(C, &client_flight);
    d.send(
        S,
        &[rec(20, 0, 4, &[1]), rec(22, 1, 0, &[0x66; 40])].concat(),
    );
    d.send(C, &rec(23, 1, 1, &[0; 64]));
    let r = d.rec();
    assert_eq!(r.sni.as_deref(), Some("dtls.example.com"));
    assert_eq!(r.client_hello.legacy_version, "DTLS 1.2");
    assert!(
        r.client_hello.ja4.starts_with("dd2"),
        "{}",
        r.client_hello.ja4
    );
    assert_eq!(r.version.as_deref(), Some("DTLS 1.2"));
    assert_eq!(
        r.cipher.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    );
    assert_eq!(r.certificates.len(), 2);
    assert_eq!(r.certificates[0].subject, "CN=api.example.com");
    assert_eq!(r.ssl_history, "CvCsxnGIi");
    assert!(r.established.is_some(), "{r:?}");
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(d.c.dtls_buffered(), 0);
}

#[test]
fn dtls13_by_supported_versions_and_unified_header() {
    let mut d = D::new();
    let h = Hello {
        versions: vec![0xfefc],
        ..Hello::default()
    };
    d.send(C, &rec(22, 0, 0, &whole(1, 0, &ch_body(&h, &[]))));
    d.send(S, &rec(22, 0, 0, &whole(2, 0, &sh_body(Some(0xfefc)))));
    // Protected: unified headers with a 16-bit sequence number and a length.
    let unified = |n: usize| [&[0x2c, 0, 1][..], &v16(&vec![0x77; n])].concat();
    d.send(S, &[unified(900), unified(300)].concat());
    d.send(C, &unified(80));
    // Without the length bit the record runs to the datagram's end.
    d.send(C, &[&[0x20, 3][..], &[0x11; 40]].concat());
    let r = d.rec();
    assert_eq!(r.version.as_deref(), Some("DTLS 1.3"));
    assert_eq!(r.client_hello.offered_versions, ["DTLS 1.3"]);
    assert!(r.established.is_some(), "{r:?}");
    assert_eq!(r.ssl_history, "Cs");
}

#[test]
fn malformed_datagrams_are_notes() {
    let mut d = D::new();
    d.send(
        C,
        &rec(22, 0, 0, &whole(1, 0, &ch_body(&Hello::default(), &[]))),
    );
    d.send(S, &[22, 0xfe, 0xfd, 0, 0]);
    d.send(S, &rec(22, 0, 0, &[2, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 20]));
    d.send(
        S,
        &rec(22, 0, 1, &[2, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]),
    );
    d.send(S, &rec(22, 0, 2, &[2, 0, 0]));
    d.send(S, &[9, 9, 9]);
    d.send(S, &[0x3f]);
    let mut long = rec(22, 0, 3, &[0; 10]);
    long[12] = 200;
    d.send(S, &long);
    let r = d.rec();
    assert!(r.server_hello.is_none());
    assert!(!r.notes.is_empty() && r.notes.len() <= 8);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any datagrams, after a real ClientHello or not: no panic, one message
    /// at most reassembled per direction.
    #[test]
    fn random_datagrams_never_panic(
        datagrams in proptest::collection::vec(
            (any::<bool>(), prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..400),
                (any::<u8>(), any::<u16>(), 0usize..3000, 0usize..3000, proptest::collection::vec(any::<u8>(), 0..300))
                    .prop_map(|(ty, seq, len, from, bytes)| {
                        let len = len.max(from + bytes.len());
                        let body: Vec<u8> = (0..len).map(|i| bytes.get(i.wrapping_sub(from)).copied().unwrap_or(0)).collect();
                        rec(22, 0, 0, &frag(ty % 20, seq % 4, &body, from, from + bytes.len()))
                    }),
            ]),
            0..40),
        hello in any::<bool>(),
    ) {
        let mut d = D::new();
        if hello {
            d.send(C, &rec(22, 0, 0, &whole(1, 0, &ch_body(&Hello::default(), &[]))));
        }
        for (server, bytes) in &datagrams {
            d.send(if *server { S } else { C }, bytes);
            prop_assert!(d.c.dtls_buffered() <= 2 * (MAX_HANDSHAKE + 64 * 16 * 2));
        }
        if let Some(r) = d.c.record(Timestamp(0)) {
            let _ = crate::diagnose::tls::diagnose(&r);
            prop_assert!(r.notes.len() <= 8);
        }
    }
}
