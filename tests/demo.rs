//! `netsleuth demo`: real loopback traffic, captured and read back.

use crate::util::{can_capture, run};

#[test]
fn demo_captures_and_reads_real_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.pcap");
    let (code, out, err) = run(&["demo", "--packets", "-w", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    if can_capture("demo_captures_and_reads_real_traffic (live part)") {
        assert!(err.contains("captured"), "{err}");
    } else {
        assert!(err.contains("not permitted"), "{err}");
    }
    // The story the demo tells: a request/response, a refused connection, an
    // ICMP port unreachable.
    assert!(out.contains("TCP [S]") && out.contains("TCP [S.]"), "{out}");
    assert!(out.contains("[P.]") && out.contains("[F.]"), "{out}");
    assert!(out.contains("TCP [R.]"), "refused connection: {out}");
    assert!(
        out.contains("ICMP port unreachable for 127.0.0.1:"),
        "{out}"
    );
    assert!(file.exists());
    // Then the analysis: the refused connection is the one error, with evidence.
    assert!(out.contains("ERROR tcp.connect_refused"), "{out}");
    if can_capture("demo lab checks") {
        // The lab's faults, live: a reset mid-response and three DNS exchanges.
        assert!(out.contains("ERROR tcp.reset_by_server"), "{out}");
        assert!(
            out.contains("mid-response: GET /v1/export -> 200: the response was cut after"),
            "{out}"
        );
        assert!(out.contains("CONNECTIONS (14 of 14"), "{out}");
        // Every fault of the lab, as one story each.
        for kind in [
            "dns.servfail",
            "dns.nxdomain",
            "tcp.connect_refused",
            "tls.version_mismatch",
            "tls.cert_expired",
            "http.slow_server",
            "http.server_error",
            "http.no_response",
        ] {
            assert!(out.contains(kind), "{kind} missing from the demo:\n{out}");
        }
        assert!(
            out.contains("the call to expired.demo.test failed at the TLS step"),
            "{out}"
        );
        assert!(out.contains("ClientHello offering TLS 1.2 only"), "{out}");
        // The healthy call gives no warning or error of its own.
        let healthy = out
            .lines()
            .find(|l| l.contains("/v1/health"))
            .expect("healthy row");
        assert!(healthy.contains(" 200 "), "{healthy}");
        assert!(
            !out.contains("/v1/health (host"),
            "no finding names the healthy call: {out}"
        );
        assert!(out.contains("127.83.83.83:53"), "{out}");
        // The HTTPS call is decrypted with the lab client's key log, and its
        // 500 found inside the encryption.
        assert!(
            out.contains("GET https://api.demo.test/v1/checkout"),
            "{out}"
        );
        assert!(
            out.contains("GET /v1/checkout (host api.demo.test) [decrypted HTTPS] -> 500"),
            "{out}"
        );
        assert!(
            out.contains("DECRYPTION: 1 of 1 TLS connections decrypted"),
            "{out}"
        );
    }
    assert!(
        out.contains(" SF "),
        "the healthy request closes normally: {out}"
    );
    assert!(out.contains(" REJ "), "{out}");
}
