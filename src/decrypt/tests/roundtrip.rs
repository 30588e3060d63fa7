//! Round trips through our own sealer for every suite, KeyUpdate and epoch
//! trials on sealed records, and property tests: random records and random key
//! log text never panic.

use proptest::prelude::*;

use super::seal::{expand_label, Sealer};
use super::util::records;
use crate::decrypt::suites::{Family, SUITES};
use crate::decrypt::{DecryptError, Epoch, KeyLog, Session, SessionParams, TLS12, TLS13};

const CR: [u8; 32] = [0x11; 32];
const SR: [u8; 32] = [0x22; 32];

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn params(suite: u16, etm: bool) -> SessionParams {
    let version = if suite >> 8 == 0x13 { TLS13 } else { TLS12 };
    SessionParams {
        version,
        cipher_suite: suite,
        client_random: CR,
        server_random: SR,
        encrypt_then_mac: etm,
    }
}

/// A session for `suite` plus sealers for (client, server), from made-up
/// secrets written into a key log.
fn setup(suite_id: u16, etm: bool, secret_byte: u8) -> (Session, Sealer, Sealer) {
    let suite = crate::decrypt::suites::lookup(suite_id).unwrap();
    let cr = hexs(&CR);
    match suite.family {
        Family::Tls12 => {
            let master = [secret_byte; 48];
            let (log, w) = KeyLog::parse(&format!("CLIENT_RANDOM {cr} {}\n", hexs(&master)));
            assert!(w.is_empty());
            let (c, s) = Sealer::tls12(suite, &master, &CR, &SR, etm);
            (Session::new(&log, &params(suite_id, etm)).unwrap(), c, s)
        }
        Family::Tls13 => {
            let n = suite.prf.output_len();
            let c_ap = vec![secret_byte; n];
            let s_ap = vec![secret_byte.wrapping_add(1); n];
            let (log, w) = KeyLog::parse(&format!(
                "CLIENT_TRAFFIC_SECRET_0 {cr} {}\nSERVER_TRAFFIC_SECRET_0 {cr} {}\n",
                hexs(&c_ap),
                hexs(&s_ap)
            ));
            assert!(w.is_empty());
            (
                Session::new(&log, &params(suite_id, etm)).unwrap(),
                Sealer::tls13(suite, &c_ap),
                Sealer::tls13(suite, &s_ap),
            )
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever we seal, in sequence, decrypts to the same bytes and type,
    /// for every suite (CBC with and without encrypt-then-MAC).
    #[test]
    fn every_suite_round_trips(
        suite_ix in 0..SUITES.len(),
        etm in any::<bool>(),
        msgs in prop::collection::vec(
            (prop::sample::select(vec![21u8, 22, 23]), prop::collection::vec(any::<u8>(), 0..1500), 0usize..40),
            1..6,
        ),
    ) {
        let suite = &SUITES[suite_ix];
        let (mut session, mut c, mut s) = setup(suite.id, etm, 7);
        let mut out = Vec::new();
        for (i, (t, plain, pad)) in msgs.iter().enumerate() {
            // TLS 1.3 forbids empty non-application records; keep them non-empty.
            let plain = if plain.is_empty() && *t != 23 { &[1u8][..] } else { &plain[..] };
            let (sealer, dir) = if i % 2 == 0 { (&mut c, session.client_to_server()) } else { (&mut s, session.server_to_client()) };
            let rec = sealer.seal(*t, plain, *pad);
            let r = &records(&rec)[0];
            let got = dir.decrypt_into(r.content_type, r.version, &r.fragment, &mut out);
            prop_assert_eq!(got, Ok(*t));
            prop_assert_eq!(&out[..], plain);
        }
    }

    /// Random fragments under every suite: errors, never panics, and a random
    /// fragment never "decrypts".
    #[test]
    fn random_fragments_never_panic(
        suite_ix in 0..SUITES.len(),
        etm in any::<bool>(),
        t in any::<u8>(),
        v in any::<u16>(),
        frags in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..8),
    ) {
        let (mut session, _, _) = setup(SUITES[suite_ix].id, etm, 9);
        for f in &frags {
            let r = session.server_to_client().decrypt(t, v, f);
            prop_assert!(r.is_err());
        }
    }

    /// The key log parser takes any text.
    #[test]
    fn keylog_parser_never_panics(text in ".{0,400}") {
        let (log, warnings) = KeyLog::parse(&text);
        prop_assert!(log.len() <= text.lines().count());
        for w in warnings {
            prop_assert!(w.line >= 1);
        }
    }

    /// Near-miss lines: real labels with random hex-ish fields.
    #[test]
    fn keylog_near_misses(
        label in prop::sample::select(vec!["CLIENT_RANDOM", "SERVER_TRAFFIC_SECRET_0", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "EXPORTER_SECRET", "X"]),
        a in "[0-9a-fA-Fg ]{0,100}",
        b in "[0-9a-f\t]{0,120}",
    ) {
        let line = format!("{label} {a} {b}\r\n");
        let (log, warnings) = KeyLog::parse(&line);
        prop_assert!(log.len() + warnings.len() <= 1);
    }
}

/// A KeyUpdate message (handshake type 24) inside an application record moves
/// the sender to the next generation; so does, without the message, the first
/// record only the next generation opens.
#[test]
fn key_update_by_message_and_by_trial() {
    for suite_id in [0x1301u16, 0x1302, 0x1303] {
        let suite = crate::decrypt::suites::lookup(suite_id).unwrap();
        let (mut session, mut c, _) = setup(suite_id, false, 3);
        let c_ap = vec![3u8; suite.prf.output_len()];
        let gen1 = expand_label(suite.prf, &c_ap, "traffic upd", suite.prf.output_len());
        let gen2 = expand_label(suite.prf, &gen1, "traffic upd", suite.prf.output_len());
        let d = session.client_to_server();
        let mut out = Vec::new();

        let r = &records(&c.seal(23, b"gen0", 0))[0];
        assert_eq!(
            d.decrypt_into(r.content_type, r.version, &r.fragment, &mut out),
            Ok(23)
        );
        // KeyUpdate(update_not_requested) plus a NewSessionTicket-like message before it.
        let r = &records(&c.seal(22, &[4, 0, 0, 2, 9, 9, 24, 0, 0, 1, 0], 3))[0];
        assert_eq!(
            d.decrypt_into(r.content_type, r.version, &r.fragment, &mut out),
            Ok(22)
        );
        assert_eq!(d.epoch(), Epoch::Application { generation: 1 });

        let mut c1 = Sealer::tls13(suite, &gen1);
        let r = &records(&c1.seal(23, b"gen1", 0))[0];
        assert_eq!(
            d.decrypt_into(r.content_type, r.version, &r.fragment, &mut out),
            Ok(23)
        );
        assert_eq!(out, b"gen1");

        // Generation 2 without a visible KeyUpdate: found by trial.
        let mut c2 = Sealer::tls13(suite, &gen2);
        for i in 0..3u8 {
            let r = &records(&c2.seal(23, &[i; 10], 0))[0];
            assert_eq!(
                d.decrypt_into(r.content_type, r.version, &r.fragment, &mut out),
                Ok(23)
            );
            assert_eq!(out, [i; 10]);
        }
        assert_eq!(d.epoch(), Epoch::Application { generation: 2 });
        assert_eq!(d.sequence(), Some(3));

        // Two generations ahead is never tried: bounded.
        let gen4 = expand_label(
            suite.prf,
            &expand_label(suite.prf, &gen2, "traffic upd", suite.prf.output_len()),
            "traffic upd",
            suite.prf.output_len(),
        );
        let r = &records(&Sealer::tls13(suite, &gen4).seal(23, b"x", 0))[0];
        assert_eq!(
            d.decrypt_into(r.content_type, r.version, &r.fragment, &mut out),
            Err(DecryptError::AuthFailure)
        );
        assert!(out.is_empty());
    }
}

/// TLS 1.2 wrong master secret: every suite reports an authentication failure
/// (CBC's bad padding included), never garbage.
#[test]
fn tls12_wrong_key_is_auth_failure() {
    for suite in SUITES.iter().filter(|s| s.family == Family::Tls12) {
        for etm in [false, true] {
            let (_, mut c, _) = setup(suite.id, etm, 1);
            let (mut wrong, _, _) = setup(suite.id, etm, 2);
            for i in 0..20 {
                let r = &records(&c.seal(23, b"GET / HTTP/1.1\r\n\r\n", i))[0];
                let e = wrong
                    .client_to_server()
                    .decrypt(r.content_type, r.version, &r.fragment);
                assert_eq!(
                    e,
                    Err(DecryptError::AuthFailure),
                    "{} etm={etm}",
                    suite.name
                );
            }
        }
    }
}

/// EtM negotiated but the records are MAC-then-encrypt (or the reverse): the
/// caller got the flag wrong, and it shows as a failure, not garbage.
#[test]
fn etm_flag_mismatch_fails() {
    let (_, mut c, _) = setup(0xC013, true, 1);
    let (mut s, _, _) = setup(0xC013, false, 1);
    let r = &records(&c.seal(23, b"hello", 0))[0];
    assert!(s
        .client_to_server()
        .decrypt(r.content_type, r.version, &r.fragment)
        .is_err());
}

/// Maximum-size records (16 KiB plaintext) for each AEAD flavour.
#[test]
fn full_size_records() {
    for id in [
        0x1301u16, 0x1302, 0x1303, 0xC02F, 0xC030, 0xCCA8, 0xC014, 0x003C,
    ] {
        let (mut session, mut c, _) = setup(id, false, 5);
        let plain: Vec<u8> = (0..16384u32).map(|i| (i * 7) as u8).collect();
        let r = &records(&c.seal(23, &plain, 0))[0];
        let p = session
            .client_to_server()
            .decrypt(r.content_type, r.version, &r.fragment)
            .unwrap();
        assert_eq!(p.data, plain, "{id:#06x}");
    }
}
