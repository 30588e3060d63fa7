//! Regressions found on real loopback traffic (tests/live_tls.rs), pinned here on
//! hand-built bytes.

use super::testkit::*;
use super::*;
use crate::diagnose::tls::diagnose;
use crate::diagnose::Severity;

/// Live: a client with a 1 s handshake time-out closed after a silent server;
/// the 3 s open-connection threshold alone missed it.
#[test]
fn client_giving_up_on_a_silent_server_is_a_handshake_timeout() {
    let mut t = hello_then(&Hello::default());
    t.ns += 1_000_000_000;
    t.end(C, StreamEnd::Fin);
    t.end(S, StreamEnd::Fin);
    let r = t.rec();
    assert_eq!(r.client_gave_up_ms, Some(1_001.0));
    let f = diagnose(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].kind, f[0].severity),
        ("tls.handshake_timeout", Severity::Error)
    );
    assert!(
        f[0].summary
            .contains("ClientHello (SNI api.example.com) never answered")
            && f[0].summary.contains("the client gave up after 1.00 s"),
        "{}",
        f[0].summary
    );
    assert_eq!(f[0].frames, [1]);
}

/// A quick close is an abort, and a server closing first is not the client's
/// time-out: neither is a handshake time-out.
#[test]
fn quick_abort_or_server_close_is_not_a_client_time_out() {
    let mut t = hello_then(&Hello::default());
    t.ns += 100_000_000;
    t.end(C, StreamEnd::Reset);
    assert!(t.kinds().is_empty(), "{:?}", t.kinds());

    let mut t = hello_then(&Hello::default());
    t.ns += 1_000_000_000;
    t.end(S, StreamEnd::Fin);
    t.end(C, StreamEnd::Fin);
    assert_eq!(t.rec().client_gave_up_ms, None);
    assert!(t.kinds().is_empty(), "{:?}", t.kinds());

    // Capture ended while waiting (not a close): the 3 s rule still decides.
    let mut t = hello_then(&Hello::default());
    t.ns += 1_000_000_000;
    t.end(C, StreamEnd::Truncated);
    assert_eq!(t.rec().client_gave_up_ms, None);
}

/// A TLS 1.2 handshake where the server asks for a client certificate and the
/// client answers with an empty Certificate, then the server's `alert`.
fn client_cert_refused(code: u8) -> H {
    let mut t = hello_then(&Hello::default());
    let flight = [
        server_hello(0x0303, None, 0xc02f, None, false),
        certificate(&[der(GOOD_DER)]),
        // CertificateRequest: types [ecdsa_sign], one signature scheme, no CAs.
        handshake(13, &[1, 64, 0, 2, 4, 3, 0, 0]),
        handshake(14, &[]),
    ]
    .concat();
    t.send(S, &record(22, &flight));
    t.send(
        C,
        &[
            record(22, &[certificate(&[]), handshake(16, &[4; 33])].concat()),
            record(20, &[1]),
            record(22, &[0x55; 40]),
        ]
        .concat(),
    );
    t.send(S, &alert(2, code));
    t
}

/// Live: rustls' server sent certificate_required (116) in TLS 1.2; OpenSSL
/// sends handshake_failure (40), Go bad_certificate (42). All mean the client
/// had no certificate: tls.alert saying so, never tls.bad_certificate.
#[test]
fn missing_client_certificate_is_named_whatever_the_alert() {
    for (code, name) in [
        (116, "certificate_required"),
        (40, "handshake_failure"),
        (42, "bad_certificate"),
    ] {
        let t = client_cert_refused(code);
        let r = t.rec();
        assert_eq!(
            (r.client_cert_requested, r.client_certificates),
            (Some(2), Some(0))
        );
        let f = diagnose(&r);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].kind, f[0].severity), ("tls.alert", Severity::Error));
        assert!(
            f[0].summary
                .starts_with(&format!("server sent alert {name} ({code})"))
                && f[0].summary.contains(
                    "it asked for a client certificate (frame 2) and the client sent none"
                ),
            "{}",
            f[0].summary
        );
        assert!(f[0].next_step.contains("client a certificate"));
        assert_eq!(
            f[0].frames,
            [1, 2, 4],
            "ClientHello, ServerHello + request, alert"
        );
    }
}

/// A client that did send a certificate and had it refused: still
/// tls.bad_certificate, about the client's certificate.
#[test]
fn refused_client_certificate_stays_bad_certificate() {
    let mut t = hello_then(&Hello::default());
    let flight = [
        server_hello(0x0303, None, 0xc02f, None, false),
        certificate(&[der(GOOD_DER)]),
        handshake(13, &[1, 64, 0, 2, 4, 3, 0, 0]),
        handshake(14, &[]),
    ]
    .concat();
    t.send(S, &record(22, &flight));
    t.send(C, &record(22, &certificate(&[der(LEAF_DER)])));
    t.send(S, &alert(2, 42));
    let r = t.rec();
    assert_eq!(r.client_certificates, Some(1));
    let f = diagnose(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, "tls.bad_certificate");
    assert!(
        f[0].summary.contains("rejected the client certificate"),
        "{}",
        f[0].summary
    );
}

/// Live: rustls' TLS 1.3 server refuses ALPN after its ServerHello, with an
/// encrypted alert; the old wording blamed a rejected (server) certificate.
#[test]
fn server_encrypted_alert_does_not_blame_the_server_certificate() {
    let mut t = hello_then(&Hello::default());
    t.send(
        S,
        &[
            record(22, &server_hello(0x0303, Some(0x0304), 0x1301, None, false)),
            record(20, &[1]),
            record(23, &[0; 19]),
        ]
        .concat(),
    );
    t.end(S, StreamEnd::Reset);
    t.end(C, StreamEnd::Fin);
    let f = diagnose(&t.rec());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].kind, f[0].severity), ("tls.alert", Severity::Warning));
    assert!(
        f[0].summary.starts_with(
            "the server closed the connection right after an encrypted record in frame 2"
        ) && f[0].summary.contains("no common ALPN protocol")
            && !f[0].summary.contains("server's certificate"),
        "{}",
        f[0].summary
    );
    assert!(f[0].next_step.contains("server's log"));
}

/// Live: stream ends arrive stamped with the last data time (a bare FIN does not
/// advance the dispatcher's clock), so the client's FIN a second after its
/// ClientHello looked simultaneous with it. The flow's close times win.
#[test]
fn flow_close_times_replace_stale_stream_end_times() {
    let mut t = hello_then(&Hello::default());
    let hello = Timestamp(t.ns);
    t.c.on_end(C, StreamEnd::Fin, hello);
    t.c.on_end(S, StreamEnd::Fin, hello);
    assert_eq!(t.c.record(hello).unwrap().client_gave_up_ms, Some(0.0));
    let client_fin = Timestamp(t.ns + 1_000_000_000);
    let server_fin = Timestamp(t.ns + 1_000_100_000);
    t.c.closed_at(Some(client_fin), Some(server_fin));
    let r = t.c.record(server_fin).unwrap();
    assert_eq!(r.client_gave_up_ms, Some(1_000.0));
    assert_eq!(
        diagnose(&r).iter().map(|f| f.kind).collect::<Vec<_>>(),
        ["tls.handshake_timeout"]
    );
}

/// Live: rustls offers TLS_EMPTY_RENEGOTIATION_INFO_SCSV next to its one TLS 1.2
/// suite; the summary said "2 cipher suites". Signaling values are not suites.
#[test]
fn signaling_values_are_not_counted_as_offered_suites() {
    let mut t = hello_then(&Hello {
        versions: vec![],
        ciphers: vec![0xcca9, 0x00ff],
        ..Hello::default()
    });
    t.send(S, &alert(2, 40));
    let f = diagnose(&t.rec());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, "tls.no_shared_cipher");
    assert!(
        f[0].summary.contains(
            "which offered 1 cipher suite: TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;"
        ) && !f[0].summary.contains("SCSV")
            && f[0]
                .summary
                .contains("the server's own list never crosses the wire"),
        "{}",
        f[0].summary
    );
}

/// A TLS 1.3 handshake whose client sends its (encrypted) Certificate and
/// Finished records; then the server's `reply` records `after_ns` later.
fn tls13_client_flight_then(reply: &[usize], after_ns: i64) -> H {
    let mut t = hello_then(&Hello::default());
    t.send(
        S,
        &[
            record(22, &server_hello(0x0303, Some(0x0304), 0x1302, None, false)),
            record(20, &[1]),
            record(23, &[0; 800]),
        ]
        .concat(),
    );
    t.send(
        C,
        &[record(20, &[1]), record(23, &[1; 25]), record(23, &[2; 69])].concat(),
    );
    t.ns += after_ns;
    for &len in reply {
        t.send(S, &record(23, &vec![3; len]));
    }
    t
}

/// Live (OpenSSL 3.0 server, TLS 1.3, client certificate required, client has
/// none): the client's Finished flight looked like completion, then the server
/// sent one 19-byte record (its encrypted certificate_required) and closed. No
/// finding at all was reported for a failed call.
#[test]
fn tls13_server_rejecting_the_client_flight_is_not_established() {
    let mut t = tls13_client_flight_then(&[19], 100_000);
    t.end(S, StreamEnd::Fin);
    t.end(C, StreamEnd::Fin);
    let r = t.rec();
    assert!(r.established.is_none(), "{:?}", r.established);
    assert!(r.server_rejected_client_flight);
    assert_eq!(
        (r.encrypted_alert_suspected, r.encrypted_alert_from),
        (Some(4), Some(S))
    );
    let f = diagnose(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].kind, f[0].severity), ("tls.alert", Severity::Warning));
    assert!(
        f[0].summary
            .contains("rejected the client's Finished flight")
            && f[0].summary.contains("client certificate"),
        "{}",
        f[0].summary
    );
}

/// Healthy TLS 1.3 look-alikes stay established: a server that sends session
/// tickets, one that closes an idle connection much later, and one answering
/// the client's close_notify or FIN with its own close_notify.
#[test]
fn tls13_tickets_idle_close_or_client_close_stay_established() {
    let mut t = tls13_client_flight_then(&[200, 200], 100_000);
    t.end(S, StreamEnd::Fin);
    assert!(t.rec().established.is_some());

    let mut t = tls13_client_flight_then(&[19], 5_000_000_000);
    t.end(S, StreamEnd::Fin);
    assert!(t.rec().established.is_some());

    // close_notify from the client, the server's close_notify, then the FINs.
    let mut t = tls13_client_flight_then(&[], 0);
    t.send(C, &record(23, &[1; 19]));
    t.send(S, &record(23, &[3; 19]));
    t.end(S, StreamEnd::Fin);
    t.end(C, StreamEnd::Fin);
    let r = t.rec();
    assert!(r.established.is_some() && !r.server_rejected_client_flight);
    assert!(diagnose(&r).is_empty());

    // The client's FIN first, then the server's close_notify and FIN.
    let mut t = tls13_client_flight_then(&[], 0);
    t.end(C, StreamEnd::Fin);
    t.send(S, &record(23, &[3; 19]));
    t.end(S, StreamEnd::Fin);
    assert!(t.rec().established.is_some());
}

/// Live, another ordering: the client sent its request, read the alert and
/// closed (FIN) before the server's reset. Still the server's rejection.
#[test]
fn client_closing_after_the_servers_alert_is_still_a_rejection() {
    let mut t = tls13_client_flight_then(&[19], 100_000);
    t.send(C, &record(23, &[1; 79]));
    t.end(C, StreamEnd::Fin);
    t.end(S, StreamEnd::Reset);
    let r = t.rec();
    assert!(r.established.is_none() && r.server_rejected_client_flight);
    assert_eq!(r.encrypted_alert_from, Some(S));
}

/// A reset ends both streams, but only its sender closed. Seen live with a
/// rustls TLS 1.3 server resetting after its alert (the client's stream end
/// blamed the client); pinned here on a silent server that resets after 1 s,
/// which must not read as the client giving up.
#[test]
fn peer_reset_is_not_a_close_of_the_other_side() {
    let mut t = hello_then(&Hello::default());
    t.ns += 1_000_000_000;
    let rst = Timestamp(t.ns);
    t.end(C, StreamEnd::Reset);
    t.end(S, StreamEnd::Reset);
    assert!(
        t.rec().client_gave_up_ms.is_some(),
        "the client looks closed"
    );
    t.c.closed_at(None, Some(rst));
    let r = t.rec();
    assert_eq!(r.client_gave_up_ms, None);
    assert!(diagnose(&r).is_empty(), "{:?}", diagnose(&r));
}
