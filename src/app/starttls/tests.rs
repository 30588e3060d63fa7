//! STARTTLS sessions over hand-written plaintext, each protocol's grant and
//! refusal, split deliveries, and bounds under any input.

use proptest::prelude::*;

use super::*;

const CH: &[u8] = &[0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0];

/// A scripted exchange: who sends, what.
type Script<'a> = &'a [(Side, &'a [u8])];

/// Feeds a scripted exchange, one delivery per entry; the upgrade, if any.
fn run(m: &mut StartTls, script: &[(Side, &[u8])]) -> Option<Upgrade> {
    let mut off = [0u64; 2];
    let mut up = None;
    for (side, bytes) in script {
        let i = side.index();
        if let Some(u) = m.on_data(*side, off[i], bytes) {
            assert!(up.is_none(), "one upgrade");
            up = Some(u);
        }
        off[i] += bytes.len() as u64;
    }
    up
}

use Side::{Client as C, Server as S};

#[test]
fn smtp_upgrade_and_where_tls_begins() {
    let greeting = b"220 mail.example.com ESMTP\r\n";
    let mut m = detect(25, S, greeting).expect("a 220 greeting");
    let ehlo = b"EHLO client\r\n";
    let caps = b"250-mail.example.com\r\n250 STARTTLS\r\n";
    let up = run(
        &mut m,
        &[
            (S, greeting),
            (C, ehlo),
            (S, caps),
            (C, b"STARTTLS\r\n"),
            (S, b"220 2.0.0 Ready to start TLS\r\n"),
            (C, CH),
        ],
    )
    .expect("upgraded");
    assert_eq!(up.protocol, Protocol::Smtp);
    assert_eq!(up.protocol.name(), "smtp");
    assert_eq!(up.client_at, (ehlo.len() + 10) as u64);
    assert_eq!(up.server_at, (greeting.len() + caps.len() + 30) as u64);
    assert!(up.client.is_empty() && up.server.is_empty());
}

#[test]
fn smtp_refused_then_granted_and_client_bytes_held() {
    let mut m = detect(2525, S, b"220 x").unwrap();
    let up = run(
        &mut m,
        &[
            (S, b"220 x\r\n"),
            (C, b"STARTTLS\r\n"),
            (S, b"454 4.7.0 TLS not available\r\n"),
            (C, b"starttls\r\n"),
            // The ClientHello before the answer was seen: held.
            (C, CH),
            (S, b"220-wait\r\n220 go ahead\r\n"),
        ],
    )
    .expect("the second request was granted");
    assert_eq!(up.client, CH);
    assert_eq!(up.client_at, 20);
}

#[test]
fn refused_starttls_never_upgrades() {
    let mut m = detect(25, S, b"220 x").unwrap();
    let up = run(
        &mut m,
        &[
            (S, b"220 x\r\n"),
            (C, b"STARTTLS\r\n"),
            (S, b"454 4.7.0 TLS not available\r\n"),
            (C, b"MAIL FROM:<a@b>\r\n"),
            (S, b"250 ok\r\n"),
            (C, CH),
            (S, b"220 not an answer to anything\r\n"),
        ],
    );
    assert!(up.is_none());
}

#[test]
fn each_protocol_grants() {
    let cases: &[(u16, Side, Script, Protocol)] = &[
        (
            143,
            S,
            &[
                (S, b"* OK IMAP4rev1 ready\r\n"),
                (C, b"a1 CAPABILITY\r\n"),
                (S, b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n"),
                (C, b"a2 STARTTLS\r\n"),
                (S, b"* NOTE something\r\na1 OK wrong tag\r\na2 OK Begin TLS\r\n"),
            ],
            Protocol::Imap,
        ),
        (
            110,
            S,
            &[(S, b"+OK POP3 ready\r\n"), (C, b"STLS\r\n"), (S, b"+OK Begin TLS\r\n")],
            Protocol::Pop3,
        ),
        (
            21,
            S,
            &[
                (S, b"220 FTP ready\r\n"),
                (C, b"AUTH TLS\r\n"),
                (S, b"234 AUTH TLS successful\r\n"),
            ],
            Protocol::Ftp,
        ),
        (
            5222,
            C,
            &[
                (C, b"<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"),
                (S, b"<?xml version='1.0'?><stream:stream from='example.com' id='x' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"),
                (C, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
                (S, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
            ],
            Protocol::Xmpp,
        ),
        (
            6667,
            C,
            &[
                (C, b"CAP LS 302\r\n"),
                (S, b":irc.example.net CAP * LS :tls\r\n"),
                (C, b"STARTTLS\r\n"),
                (S, b":irc.example.net 670 * :STARTTLS successful, go ahead\r\n"),
            ],
            Protocol::Irc,
        ),
        (
            5432,
            C,
            &[(C, &PG_SSL_REQUEST), (S, b"S")],
            Protocol::Postgres,
        ),
    ];
    for (port, first_side, script, want) in cases {
        let first = script.iter().find(|(s, _)| s == first_side).unwrap().1;
        let mut m =
            detect(*port, *first_side, first).unwrap_or_else(|| panic!("{want:?} detected"));
        let up = run(&mut m, script).unwrap_or_else(|| panic!("{want:?} upgraded"));
        assert_eq!(up.protocol, *want);
        let client_len: usize = script
            .iter()
            .filter(|(s, _)| *s == C)
            .map(|(_, b)| b.len())
            .sum();
        let server_len: usize = script
            .iter()
            .filter(|(s, _)| *s == S)
            .map(|(_, b)| b.len())
            .sum();
        assert_eq!(up.client_at, client_len as u64, "{want:?}");
        assert_eq!(up.server_at, server_len as u64, "{want:?}");
    }
}

#[test]
fn each_protocol_refuses() {
    let cases: &[(u16, Side, Script)] = &[
        (
            143,
            S,
            &[
                (S, b"* OK\r\n"),
                (C, b"t STARTTLS\r\n"),
                (S, b"t NO no\r\n"),
            ],
        ),
        (
            110,
            S,
            &[(S, b"+OK\r\n"), (C, b"STLS\r\n"), (S, b"-ERR no\r\n")],
        ),
        (
            21,
            S,
            &[
                (S, b"220 FTP\r\n"),
                (C, b"AUTH SSL\r\n"),
                (S, b"534 no\r\n"),
            ],
        ),
        (
            5222,
            C,
            &[
                (C, b"<?xml version='1.0'?>"),
                (C, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
                (S, b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
            ],
        ),
        (
            6667,
            C,
            &[
                (C, b"STARTTLS\r\n"),
                (S, b":irc 691 * :STARTTLS failed\r\n"),
            ],
        ),
        (5432, C, &[(C, &PG_SSL_REQUEST), (S, b"N")]),
    ];
    for (port, first_side, script) in cases {
        let first = script.iter().find(|(s, _)| s == first_side).unwrap().1;
        let mut m = detect(*port, *first_side, first).unwrap();
        let mut script = script.to_vec();
        script.push((C, CH));
        script.push((S, b"220 S +OK 234 670\r\n"));
        assert!(run(&mut m, &script).is_none(), "{script:?}");
    }
}

#[test]
fn byte_by_byte_deliveries_find_the_same_boundary() {
    let script: &[(Side, &[u8])] = &[
        (S, b"220 mail ESMTP\r\n"),
        (C, b"STARTTLS\r\n"),
        (S, b"220 go\r\n"),
    ];
    let mut m = detect(25, S, b"2").unwrap();
    let mut off = [0u64; 2];
    let mut up = None;
    for (side, bytes) in script {
        for b in bytes.chunks(1) {
            let i = side.index();
            up = up.or(m.on_data(*side, off[i], b));
            off[i] += 1;
        }
    }
    let up = up.expect("upgraded");
    assert_eq!((up.client_at, up.server_at), (10, 24));
}

#[test]
fn detection() {
    assert!(detect(80, S, b"HTTP/1.1 200 OK").is_none());
    assert!(detect(443, C, b"GET / HTTP/1.1").is_none());
    assert!(
        detect(9999, C, &PG_SSL_REQUEST[..3]).is_some(),
        "a short SSLRequest prefix"
    );
    assert!(detect(9999, C, &[0, 0, 0, 9]).is_none());
    assert!(detect(6667, S, b":irc NOTICE * :hello").is_some());
    assert!(detect(7000, S, b":irc NOTICE * :hello").is_none());
}

#[test]
fn gap_and_overlong_lines_and_bounds() {
    let mut m = detect(25, S, b"220").unwrap();
    assert!(m.on_data(S, 0, b"220 x\r\n").is_none());
    assert!(m.on_data(C, 5, b"STARTTLS\r\n").is_none(), "a gap");
    assert!(m.stopped());
    let mut m = detect(25, S, b"220").unwrap();
    let long = vec![b'A'; MAX_LINE * 3];
    let up = run(
        &mut m,
        &[(C, &long), (C, b"\r\nSTARTTLS\r\n"), (S, b"220 ok\r\n")],
    )
    .expect("a long line is skipped, not fatal");
    assert_eq!(up.client_at, (long.len() + 12) as u64);
    let mut m = detect(25, S, b"220").unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut off = 0;
    while off < MAX_PLAIN + 1 {
        m.on_data(C, off, &chunk);
        off += chunk.len() as u64;
    }
    assert!(m.stopped(), "plaintext past MAX_PLAIN is left alone");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any bytes, any order of deliveries: no panic, bounded buffers, and an
    /// upgrade's offsets are inside what was delivered.
    #[test]
    fn random_sessions_never_panic(
        port in prop::sample::select(vec![21u16, 25, 110, 143, 5222, 5432, 6667]),
        first_server in any::<bool>(),
        chunks in proptest::collection::vec(
            (any::<bool>(), prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                prop::sample::select(vec![
                    b"STARTTLS\r\n".to_vec(), b"220 ok\r\n".to_vec(), b"a STARTTLS\r\n".to_vec(),
                    b"a OK\r\n".to_vec(), b"STLS\r\n".to_vec(), b"+OK\r\n".to_vec(),
                    b"AUTH TLS\r\n".to_vec(), b"234 ok\r\n".to_vec(), PG_SSL_REQUEST.to_vec(),
                    b"S".to_vec(), b"<starttls/>".to_vec(), b"<proceed/>".to_vec(),
                    b":s 670 x\r\n".to_vec(),
                ]),
            ]),
            0..40),
    ) {
        let first_side = if first_server { S } else { C };
        let first = chunks.iter().find(|(s, _)| *s == first_server).map(|(_, b)| b.clone()).unwrap_or_default();
        let mut m = detect(port, first_side, &first).unwrap_or_else(|| StartTls::new(vec![Protocol::by_port(port).unwrap()]));
        let mut off = [0u64; 2];
        for (server, bytes) in &chunks {
            let side = if *server { S } else { C };
            let i = side.index();
            let up = m.on_data(side, off[i], bytes);
            off[i] += bytes.len() as u64;
            if let Some(up) = up {
                prop_assert!(up.client_at <= off[0] && up.server_at <= off[1]);
                prop_assert!(m.stopped());
            }
            prop_assert!(m.pending.len() <= MAX_PENDING);
            prop_assert!(m.dirs.iter().all(|d| d.line.len() <= MAX_LINE));
        }
    }
}
