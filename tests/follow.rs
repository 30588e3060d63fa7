//! `netsleuth follow`: one conversation, both directions in order, escaped.

use crate::util::conv::Conv;
use crate::util::{run, write_file};

fn exchange() -> Conv {
    let mut conv = Conv::new(40200, 8080);
    conv.handshake(0.001);
    conv.at(0.002)
        .c("P.", b"GET /v1/x HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(0.010).s(
        "P.",
        b"HTTP/1.1 200 OK\r\nX-Evil: \x1b[2Jgotcha\r\nContent-Length: 2\r\n\r\n",
    );
    conv.at(0.011).s("P.", b"{}");
    conv.at(0.020).c("F.", &[]);
    conv.at(0.021).s("F.", &[]);
    conv
}

/// Both directions in order, one header per turn, byte counts at the end, and
/// a hostile header shown as escapes, never as a raw escape byte.
#[test]
fn prints_both_directions_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "c.pcap", &exchange().pcap());
    let (code, out, err) = run(&["follow", path.to_str().unwrap(), "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('\x1b'), "raw escape byte in output: {out:?}");
    assert!(out.contains("X-Evil: \\u{1b}[2Jgotcha"), "{out}");
    let client = out.find("--> client").expect("client header");
    let server = out.find("<-- server").expect("server header");
    assert!(client < server, "{out}");
    // The body arrived in its own segment but belongs to the same turn.
    assert_eq!(out.matches("<-- server").count(), 1, "{out}");
    assert!(out.contains("GET /v1/x HTTP/1.1\\r\n"), "{out}");
    assert!(
        out.contains("=== client sent 33 bytes, server sent 60 bytes"),
        "{out}"
    );
}

/// --raw keeps the bytes exactly, in delivery order.
#[test]
fn raw_writes_the_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "c.pcap", &exchange().pcap());
    let raw = dir.path().join("conv.bin");
    let (code, _, err) = run(&[
        "follow",
        path.to_str().unwrap(),
        "1",
        "--raw",
        raw.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&raw).unwrap();
    assert!(bytes.starts_with(b"GET /v1/x HTTP/1.1\r\n"));
    assert!(bytes.windows(4).any(|w| w == b"\x1b[2J"));
    assert!(bytes.ends_with(b"\r\n\r\n{}"));
}

/// An id the capture does not have: exit 2, pointing at analyze.
#[test]
fn unknown_connection_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "c.pcap", &exchange().pcap());
    let (code, _, err) = run(&["follow", path.to_str().unwrap(), "7"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no connection 7") && err.contains("analyze"),
        "{err}"
    );
}
