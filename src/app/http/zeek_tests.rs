//! Unit tests for the records' Zeek fields (issue 16): header facts,
//! `trans_depth`, `info_msg`, unusual methods, HTTP/0.9 and CONNECT tunnels.

use super::tests::{all_chunkings, Feeder, GET, OK, T0};
use super::*;
use crate::base::{Side, Timestamp};
use crate::flow::reassembly::StreamEnd;

#[test]
fn zeek_fields_and_trans_depth() {
    let client: &[u8] = b"POST /up HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8.5.0\r\nReferer: http://r/\r\nOrigin: http://o\r\nAuthorization: Basic dXNlcjpzZWNyZXQ=\r\nX-Forwarded-For: 10.1.1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi";
    let second = b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n";
    let client = [client, second].concat();
    let server = [
        &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
        OK,
        b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n",
    ]
    .concat();
    let t = all_chunkings(&client, &server);
    assert_eq!(t.len(), 2);
    let m = &t[0].meta;
    assert_eq!(m.trans_depth, 1);
    assert_eq!(m.user_agent.as_deref(), Some("curl/8.5.0"));
    assert_eq!(m.referrer.as_deref(), Some("http://r/"));
    assert_eq!(m.origin.as_deref(), Some("http://o"));
    assert_eq!(m.username.as_deref(), Some("user"));
    assert_eq!(m.proxied, ["X-FORWARDED-FOR -> 10.1.1.1"]);
    assert_eq!(m.info_msg.as_deref(), Some("Continue"));
    assert_eq!(m.response_version, Some("HTTP/1.1"));
    assert_eq!(m.response_header_names, ["CONTENT-TYPE", "CONTENT-LENGTH"]);
    assert_eq!(m.request_header_names.len(), 8);
    assert_eq!(t[1].meta.trans_depth, 2);
    assert_eq!(t[1].meta.response_header_names, ["SERVER"]);
    // The password is in no field of the record.
    let json = serde_json::to_string(&t[0]).unwrap();
    assert!(!json.contains("secret") && !json.contains("dXNlcjpzZWNyZXQ"));
    assert!(json.contains("\"trans_depth\":1") && json.contains("\"user_agent\""));
}

#[test]
fn unusual_methods_are_requests() {
    let client: &[u8] = b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\nM-SEARCH * HTTP/1.1\r\n\r\n";
    let t = all_chunkings(client, &[OK, OK].concat());
    let methods: Vec<_> = t.iter().map(|t| t.method.as_deref()).collect();
    assert_eq!(methods, [Some("BREW"), Some("M-SEARCH")]);
    for yes in [&b"BREW /pot HTTP/1.1\r\n"[..], b"M-SEARCH * HTTP/1.1\r\n"] {
        assert!(looks_like_http_request(yes));
    }
    // A token alone is not enough: the version must be seen.
    for no in [
        &b"BREW /pot"[..],
        b"HELO mail.example.com\r\n",
        b"\x00\x01 / HTTP/1.1",
    ] {
        assert!(!looks_like_http_request(no));
    }
}

#[test]
fn http09_request_and_raw_response() {
    let body = b"<html>old</html>";
    for chunk in [1, 3, usize::MAX] {
        let mut f = Feeder::new();
        f.chunks(Side::Client, b"GET /old\r\n", chunk, 0);
        f.chunks(Side::Server, b"\r\n", chunk, 5);
        f.chunks(Side::Server, body, chunk, 5);
        f.end(Side::Server, StreamEnd::Fin, 9);
        f.end(Side::Client, StreamEnd::Fin, 9);
        let mut t = f.c.take_transactions();
        t.extend(f.finish(10, Some((Side::Server, "fin"))));
        assert_eq!(t.len(), 1, "chunk {chunk}");
        let t = &t[0];
        assert_eq!(t.method.as_deref(), Some("GET"));
        assert_eq!(t.path.as_deref(), Some("/old"));
        assert_eq!(t.version, Some("HTTP/0.9"));
        assert_eq!(t.meta.response_version, Some("HTTP/0.9"));
        assert_eq!((t.status, t.reason.as_deref()), (None, None));
        assert_eq!(t.response_body_bytes, body.len() as u64 + 2);
        assert!(t.complete, "chunk {chunk}: {:?}", t.notes);
    }
}

#[test]
fn http09_detection_is_narrow() {
    assert!(looks_like_http09_request(b"GET /\r\n", 80));
    assert!(looks_like_http09_request(b"GET /index.html\n", 8080));
    for (no, port) in [
        (&b"GET /\r\n"[..], 443),
        (b"GET /\r\nHost: a\r\n", 80),
        (b"GET /", 80),
        (b"FOO /\r\n", 80),
        (b"GET  \r\n", 80),
        (b"GET HTTP/1.1\r\n", 80),
        (b"\x16\x03\x01\x00\r\n", 80),
    ] {
        assert!(!looks_like_http09_request(no, port), "{no:?} {port}");
    }
}

/// A TLS record holding a ClientHello with `sni`.
fn client_hello(sni: &str) -> Vec<u8> {
    let v16 = |b: &[u8]| [&(b.len() as u16).to_be_bytes()[..], b].concat();
    let name = [&[0u8][..], &v16(sni.as_bytes())].concat();
    let ext = [&0u16.to_be_bytes()[..], &v16(&v16(&name))].concat();
    let body = [
        &[3, 3][..],
        &[1; 32],
        &[0],
        &v16(&[0x13, 0x01]),
        &[1, 0],
        &v16(&ext),
    ]
    .concat();
    let len = (body.len() as u32).to_be_bytes();
    let hs = [&[1u8][..], &len[1..], &body].concat();
    [&[0x16, 3, 1][..], &v16(&hs)].concat()
}

#[test]
fn connect_tunnel_carries_tls() {
    let mut f = Feeder::new();
    f.seg(
        Side::Client,
        b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n",
        0,
    );
    f.seg(
        Side::Server,
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        1,
    );
    let hello = client_hello("api.example.com");
    let (a, b) = hello.split_at(20);
    f.seg(Side::Client, a, 2);
    f.seg(Side::Client, b, 2);
    f.seg(Side::Server, b"\x16\x03\x03\x00\x02\x02\x00", 3);
    f.end(Side::Client, StreamEnd::Fin, 4);
    f.end(Side::Server, StreamEnd::Fin, 4);
    let end = Timestamp(T0 + 5_000_000);
    let t = f.finish(5, Some((Side::Client, "fin")));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].method.as_deref(), Some("CONNECT"));
    assert_eq!(t[0].status, Some(200));
    let tls =
        f.c.tunnel_tls(end, None, None)
            .expect("tls record in the tunnel");
    assert_eq!(tls.sni.as_deref(), Some("api.example.com"));
    assert_eq!(tls.conn, t[0].conn);
}

#[test]
fn connect_tunnel_carries_http_and_101_does_not() {
    let mut f = Feeder::new();
    f.seg(Side::Client, b"CONNECT inner:80 HTTP/1.1\r\n\r\n", 0);
    f.seg(Side::Server, b"HTTP/1.1 200 OK\r\n\r\n", 1);
    f.seg(Side::Client, GET, 2);
    f.seg(Side::Server, OK, 3);
    let mut t = f.c.take_transactions();
    t.extend(f.finish(5, None));
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].path.as_deref(), Some("/v1/orders?id=3"));
    assert_eq!(t[1].status, Some(200));
    assert_eq!(
        t.iter().map(|t| t.meta.trans_depth).collect::<Vec<_>>(),
        [1, 2]
    );
    // A refused CONNECT opens no tunnel; a 101 ends parsing.
    let mut f = Feeder::new();
    f.seg(
        Side::Client,
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        0,
    );
    f.seg(Side::Server, b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 1);
    f.seg(Side::Client, GET, 2);
    let t = f.finish(5, None);
    assert_eq!(t.len(), 1);
    assert!(f.c.tunnel_tls(Timestamp(T0), None, None).is_none());
}

#[test]
fn tunnels_nest_only_so_deep() {
    let mut f = Feeder::new();
    for _ in 0..10 {
        f.seg(Side::Client, b"CONNECT x:1 HTTP/1.1\r\n\r\n", 0);
        f.seg(Side::Server, b"HTTP/1.1 200 OK\r\n\r\n", 1);
    }
    let t = f.finish(5, None);
    assert_eq!(t.len(), usize::from(super::tunnel::MAX_NESTING) + 1);
}
