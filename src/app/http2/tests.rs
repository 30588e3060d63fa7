//! Unit tests: connections built frame by frame (HPACK by `loona-hpack`'s
//! encoder, which indexes new fields, so later blocks use the dynamic table).

use loona_hpack::Encoder;

use super::frame::{build, flags, PREFACE};
use super::*;
use crate::app::http::capture::{BodyBudget, BodyState, KeepConfig};
use crate::app::http::{GaveUpBy, HttpTransaction};
use crate::app::{Endpoints, Origin};
use crate::base::Side;
use crate::base::Timestamp;
use crate::flow::reassembly::StreamEnd;

pub(super) const MS: i64 = 1_000_000;
pub(super) const T0: i64 = 1_700_000_000_000_000_000;

pub(super) const DATA: u8 = 0;
pub(super) const HEADERS: u8 = 1;
pub(super) const RST: u8 = 3;
pub(super) const SETTINGS: u8 = 4;
pub(super) const GOAWAY: u8 = 7;
pub(super) const CONT: u8 = 9;
pub(super) const ES: u8 = flags::END_STREAM;
pub(super) const EH: u8 = flags::END_HEADERS;

pub(super) fn ep() -> Endpoints {
    Endpoints {
        conn: 9,
        client: "10.0.0.5:51234".parse().unwrap(),
        server: "10.0.0.9:443".parse().unwrap(),
    }
}

/// One side's frame writer with its own HPACK encoder.
pub(super) struct Peer(Encoder<'static>);

impl Peer {
    pub fn new() -> Peer {
        Peer(Encoder::new())
    }

    pub fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        self.0
            .encode(fields.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())))
    }

    pub fn headers(&mut self, stream: u32, fields: &[(&str, &str)], fl: u8) -> Vec<u8> {
        let b = self.block(fields);
        build(HEADERS, fl | EH, stream, &b)
    }
}

pub(super) fn get(path: &str) -> Vec<(&'static str, String)> {
    vec![
        (":method", "GET".into()),
        (":scheme", "https".into()),
        (":authority", "api.example".into()),
        (":path", path.into()),
    ]
}

pub(super) fn req(c: &mut Peer, stream: u32, path: &str) -> Vec<u8> {
    let f = get(path);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.headers(stream, &f, ES)
}

pub(super) fn resp(s: &mut Peer, stream: u32, status: &str, fl: u8) -> Vec<u8> {
    s.headers(
        stream,
        &[(":status", status), ("content-type", "application/json")],
        fl,
    )
}

pub(super) fn client_start() -> Vec<u8> {
    let mut v = PREFACE.to_vec();
    v.extend(build(SETTINGS, 0, 0, &[0, 1, 0, 0, 0x10, 0]));
    v
}

pub(super) fn server_start() -> Vec<u8> {
    let mut v = build(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]);
    v.extend(build(SETTINGS, flags::ACK, 0, &[]));
    v
}

/// Feeds segments with increasing frame numbers and stream offsets.
pub(super) struct Feeder {
    pub c: H2Conn,
    off: [u64; 2],
    frame: u64,
}

impl Feeder {
    pub fn new() -> Feeder {
        Feeder::with(H2Conn::new(ep(), true))
    }

    pub fn with(c: H2Conn) -> Feeder {
        Feeder {
            c,
            off: [0, 0],
            frame: 0,
        }
    }

    pub fn seg(&mut self, side: Side, bytes: &[u8], ms: i64) -> u64 {
        self.frame += 1;
        let i = side.index();
        let origin = Origin {
            conn: 9,
            side,
            frame: self.frame,
            ts: Timestamp(T0 + ms * MS),
        };
        self.c.on_data(origin, self.off[i], bytes);
        self.off[i] += bytes.len() as u64;
        self.frame
    }

    pub fn chunks(&mut self, side: Side, bytes: &[u8], chunk: usize, ms: i64) {
        for c in bytes.chunks(chunk.max(1)) {
            self.seg(side, c, ms);
        }
    }

    pub fn gap(&mut self, side: Side, len: u64) {
        let i = side.index();
        self.c.on_gap(side, self.off[i], len);
        self.off[i] += len;
    }

    pub fn finish(&mut self, ms: i64, by: Option<(Side, &'static str)>) -> Vec<HttpTransaction> {
        let ts = Timestamp(T0 + ms * MS);
        self.c.on_end(Side::Client, StreamEnd::Fin, ts);
        self.c.on_end(Side::Server, StreamEnd::Fin, ts);
        let mut out = self.c.take_transactions();
        out.extend(self.c.finish(ts, by));
        out
    }
}

/// Transactions without frame numbers (which depend on segmentation).
pub(super) fn strip(ts: &[HttpTransaction]) -> Vec<HttpTransaction> {
    ts.iter()
        .map(|t| HttpTransaction {
            request_frames: None,
            response_frames: None,
            request_first: None,
            request_last: None,
            response_first_any: None,
            response_first: None,
            response_last: None,
            ..t.clone()
        })
        .collect()
}

/// Client bytes at 0 ms, then server bytes at 10 ms, in `chunk`-byte segments.
fn run(client: &[u8], server: &[u8], chunk: usize) -> Vec<HttpTransaction> {
    let mut f = Feeder::new();
    f.chunks(Side::Client, client, chunk, 0);
    f.chunks(Side::Server, server, chunk, 10);
    f.finish(20, Some((Side::Client, "fin")))
}

fn all_chunkings(client: &[u8], server: &[u8]) -> Vec<HttpTransaction> {
    let whole = run(client, server, usize::MAX);
    for chunk in [1, 2, 5, 9, 10, 64] {
        assert_eq!(
            strip(&run(client, server, chunk)),
            strip(&whole),
            "chunk {chunk}"
        );
    }
    whole
}

#[test]
fn one_get_with_a_200_and_body() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut f = Feeder::new();
    let mut client = client_start();
    client.extend(req(&mut c, 1, "/v1/orders?id=3"));
    let req_frame = f.seg(Side::Client, &client, 0);
    let mut server = server_start();
    server.extend(resp(&mut s, 1, "200", 0));
    let head_frame = f.seg(Side::Server, &server, 10);
    f.seg(Side::Server, &build(DATA, 0, 1, b"{\"orders\""), 15);
    assert!(f.c.take_transactions().is_empty());
    let last = f.seg(Side::Server, &build(DATA, ES, 1, b":[]}"), 25);
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 1);
    let t = &t[0];
    assert_eq!(t.version, Some("HTTP/2"));
    assert_eq!(t.method.as_deref(), Some("GET"));
    assert_eq!(t.path.as_deref(), Some("/v1/orders?id=3"));
    assert_eq!(t.host.as_deref(), Some("api.example"));
    assert_eq!((t.status, t.reason.as_deref()), (Some(200), None));
    assert_eq!(t.response_content_type.as_deref(), Some("application/json"));
    assert_eq!((t.request_body_bytes, t.response_body_bytes), (0, 13));
    assert!(t.decrypted && t.complete && t.gave_up.is_none());
    assert_eq!(t.request_frames, Some([req_frame, req_frame]));
    assert_eq!(t.response_frames, Some([head_frame, last]));
    assert_eq!(t.phases_ms.send, Some(0.0));
    assert_eq!(t.phases_ms.wait, Some(10.0));
    assert_eq!(t.phases_ms.transfer, Some(15.0));
    assert_eq!(t.phases_ms.total, Some(25.0));
    assert!(f.finish(30, None).is_empty());
    assert_eq!(f.c.stats().requests, 1);
    assert!(f.c.notes().is_empty(), "{:?}", f.c.notes());

    // Any segmentation gives the same record.
    let mut server = server_start();
    server.extend(resp(&mut Peer::new(), 1, "200", 0));
    server.extend(build(DATA, ES, 1, b"{\"orders\":[]}"));
    let mut client = client_start();
    client.extend(req(&mut Peer::new(), 1, "/v1/orders?id=3"));
    let t = all_chunkings(&client, &server);
    assert_eq!((t.len(), t[0].response_body_bytes), (1, 13));
}

#[test]
fn concurrent_streams_answered_out_of_order() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = client_start();
    for (id, p) in [(1, "/a"), (3, "/b"), (5, "/c")] {
        client.extend(req(&mut c, id, p));
    }
    let mut server = server_start();
    server.extend(resp(&mut s, 5, "404", 0));
    server.extend(resp(&mut s, 1, "200", 0));
    server.extend(build(DATA, 0, 1, b"aaaa"));
    server.extend(build(DATA, ES, 5, b"c"));
    server.extend(resp(&mut s, 3, "500", ES));
    server.extend(build(DATA, ES, 1, b"aa"));
    let t = all_chunkings(&client, &server);
    let got: Vec<_> = t
        .iter()
        .map(|t| (t.path.clone().unwrap(), t.status, t.response_body_bytes))
        .collect();
    assert_eq!(
        got,
        [
            ("/a".to_string(), Some(200), 6),
            ("/b".to_string(), Some(500), 0),
            ("/c".to_string(), Some(404), 1)
        ]
    );
    assert!(t.iter().all(|t| t.complete && t.gave_up.is_none()));

    // As they complete: /c first, then /b, then /a.
    let mut f = Feeder::new();
    f.seg(Side::Client, &client, 0);
    let mut order = Vec::new();
    for part in server.chunks(7) {
        f.seg(Side::Server, part, 10);
        order.extend(f.c.take_transactions().into_iter().map(|t| t.path.unwrap()));
    }
    assert_eq!(order, ["/c", "/b", "/a"]);
}

#[test]
fn continuation_and_padding() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let block = c.block(&[
        (":method", "POST"),
        (":scheme", "https"),
        (":path", "/upload"),
        ("host", "h.example"),
        ("content-type", "text/plain"),
    ]);
    let (a, b) = block.split_at(block.len() / 2);
    let (b1, b2) = b.split_at(1);
    let mut client = client_start();
    // HEADERS padded with priority, then two CONTINUATIONs.
    let mut p = vec![3u8, 0, 0, 0, 0, 16];
    p.extend_from_slice(a);
    p.extend_from_slice(&[0, 0, 0]);
    client.extend(build(HEADERS, flags::PADDED | flags::PRIORITY, 1, &p));
    client.extend(build(CONT, 0, 1, b1));
    client.extend(build(CONT, EH, 1, b2));
    // Padded DATA: 5 payload bytes, 4 of padding.
    client.extend(build(DATA, flags::PADDED | ES, 1, b"\x04helloPPPP"));
    let mut server = server_start();
    server.extend(resp(&mut s, 1, "201", 0));
    server.extend(build(DATA, flags::PADDED | ES, 1, b"\x00ok"));
    let t = all_chunkings(&client, &server);
    assert_eq!(t.len(), 1);
    let t = &t[0];
    assert_eq!(t.method.as_deref(), Some("POST"));
    assert_eq!(t.host.as_deref(), Some("h.example"));
    assert_eq!(t.request_content_type.as_deref(), Some("text/plain"));
    assert_eq!((t.request_body_bytes, t.response_body_bytes), (5, 2));
    assert_eq!(t.status, Some(201));
    assert!(t.complete);
}

#[test]
fn rst_stream_by_client_and_by_server() {
    for (side, code, by) in [
        (Side::Client, 8u32, GaveUpBy::Client),
        (Side::Server, 7, GaveUpBy::Server),
    ] {
        let mut c = Peer::new();
        let mut f = Feeder::new();
        let mut client = client_start();
        client.extend(req(&mut c, 1, "/slow"));
        f.seg(Side::Client, &client, 0);
        f.seg(Side::Server, &server_start(), 1);
        f.seg(side, &build(RST, 0, 1, &code.to_be_bytes()), 500);
        let t = f.c.take_transactions();
        assert_eq!(t.len(), 1, "{side:?}");
        let g = t[0].gave_up.as_ref().unwrap();
        assert_eq!(
            (g.by, g.how, g.after_ms),
            (by, Some("rst_stream"), Some(500.0))
        );
        let name = if code == 8 {
            "CANCEL"
        } else {
            "REFUSED_STREAM"
        };
        assert!(
            t[0].notes.iter().any(|n| n.contains(name)),
            "{:?}",
            t[0].notes
        );
        assert!(!t[0].complete && t[0].status.is_none());
        let found = crate::diagnose::http::diagnose(&t[0], None);
        assert!(found.iter().any(|f| f.kind == "http.no_response"));
    }
}

#[test]
fn goaway_gives_up_streams_above_the_last_id() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut f = Feeder::new();
    let mut client = client_start();
    client.extend(req(&mut c, 1, "/one"));
    client.extend(req(&mut c, 3, "/three"));
    f.seg(Side::Client, &client, 0);
    let mut server = server_start();
    let mut ga = 1u32.to_be_bytes().to_vec();
    ga.extend(0u32.to_be_bytes());
    server.extend(build(GOAWAY, 0, 0, &ga));
    f.seg(Side::Server, &server, 5);
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].path.as_deref(), Some("/three"));
    let g = t[0].gave_up.as_ref().unwrap();
    assert_eq!((g.by, g.how), (GaveUpBy::Server, Some("goaway")));
    // A stream opened after the GOAWAY is given up at once too.
    f.seg(Side::Client, &req(&mut c, 5, "/five"), 6);
    let t = f.c.take_transactions();
    assert_eq!(t[0].path.as_deref(), Some("/five"));
    assert!(t[0].gave_up.is_some());
    f.seg(Side::Server, &resp(&mut s, 1, "200", ES), 8);
    let t = f.finish(9, Some((Side::Server, "fin")));
    assert_eq!(
        (t.len(), t[0].status, t[0].gave_up.is_none()),
        (1, Some(200), true)
    );
    assert!(f.c.notes().iter().any(|n| n.contains("GOAWAY NO_ERROR")));
}

#[test]
fn informational_then_final() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut f = Feeder::new();
    let mut client = client_start();
    client.extend(req(&mut c, 1, "/"));
    f.seg(Side::Client, &client, 0);
    let mut server = server_start();
    server.extend(s.headers(1, &[(":status", "103"), ("link", "</s.css>")], 0));
    f.seg(Side::Server, &server, 4);
    f.seg(Side::Server, &resp(&mut s, 1, "200", ES), 9);
    let t = f.finish(10, None);
    assert_eq!(t[0].informational, [103]);
    assert_eq!((t[0].status, t[0].phases_ms.wait), (Some(200), Some(9.0)));
    assert_eq!(t[0].phases_ms.transfer, Some(0.0));
    assert_eq!(t[0].response_frames.map(|f| f[0]), Some(2));
}

#[test]
fn hpack_dynamic_table_is_reused_across_requests() {
    let mut c = Peer::new();
    let fields = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "reuse.example"),
        (":path", "/same"),
        ("x-api-key", "k-123456789"),
    ];
    let first = c.headers(1, &fields, ES);
    let second = c.headers(3, &fields, ES);
    // x-api-key went into the dynamic table: the second block names index 62.
    assert!(second.len() < first.len());
    assert!(second[9..].contains(&0xbe), "{second:x?}");
    let mut client = client_start();
    client.extend(first);
    client.extend(second);
    let mut s = Peer::new();
    let mut server = server_start();
    server.extend(resp(&mut s, 1, "200", ES));
    server.extend(resp(&mut s, 3, "200", ES));
    let t = all_chunkings(&client, &server);
    assert_eq!(t.len(), 2);
    for t in &t {
        assert_eq!(
            (t.host.as_deref(), t.path.as_deref()),
            (Some("reuse.example"), Some("/same"))
        );
        assert_eq!(t.response_content_type.as_deref(), Some("application/json"));
    }
}

#[test]
fn table_size_setting_allows_a_larger_table() {
    let mut s = Peer::new();
    // The client allows 8192; the server's block starts with a size update to it.
    let mut client = PREFACE.to_vec();
    client.extend(build(SETTINGS, 0, 0, &[0, 1, 0, 0, 0x20, 0]));
    client.extend(req(&mut Peer::new(), 1, "/"));
    let mut block = vec![0x3f, 0xe1, 0x3f]; // size update to 8192
    block.extend(s.block(&[(":status", "200")]));
    let mut server = server_start();
    server.extend(build(HEADERS, EH | ES, 1, &block));
    let t = run(&client, &server, usize::MAX);
    assert_eq!(t[0].status, Some(200), "{:?}", t[0].notes);
    // Without the setting the same update is an HPACK error.
    let mut client = client_start();
    client.extend(req(&mut Peer::new(), 1, "/"));
    let t = run(&client, &server, usize::MAX);
    assert_eq!(t[0].status, None);
    assert!(t[0].notes.iter().any(|n| n.contains("HPACK")));
}

#[test]
fn malformed_input_stops_with_a_note() {
    let good = {
        let mut v = client_start();
        v.extend(req(&mut Peer::new(), 1, "/x"));
        v
    };
    let cases: Vec<(&str, Vec<u8>, Vec<u8>, &str)> = vec![
        (
            "bad preface",
            b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".to_vec(),
            vec![],
            "preface",
        ),
        (
            "data on stream 0",
            good.clone(),
            build(DATA, 0, 0, b"x"),
            "stream 0",
        ),
        (
            "hpack index out of range",
            good.clone(),
            build(HEADERS, EH, 1, &[0xbe]),
            "HPACK",
        ),
        (
            "hpack 0x3f",
            good.clone(),
            build(HEADERS, EH, 1, &[0x3f]),
            "HPACK",
        ),
        (
            "continuation out of place",
            good.clone(),
            build(CONT, EH, 1, &[0x88]),
            "CONTINUATION",
        ),
        (
            "interrupted header block",
            good.clone(),
            [build(HEADERS, 0, 1, &[0x88]), build(DATA, 0, 1, b"x")].concat(),
            "CONTINUATION",
        ),
        (
            "too much padding",
            good.clone(),
            build(HEADERS, EH | flags::PADDED, 1, &[9, 0x88]),
            "padding",
        ),
        (
            "data padding",
            good.clone(),
            build(DATA, flags::PADDED, 1, &[2, 0]),
            "padding",
        ),
        (
            "padded empty data",
            good.clone(),
            build(DATA, flags::PADDED, 1, &[]),
            "PADDED",
        ),
        (
            "oversize headers",
            good.clone(),
            build(HEADERS, 0, 1, &vec![0; MAX_HEADER_BLOCK + 300]),
            "larger than",
        ),
    ];
    for (name, client, server, want) in cases {
        for chunk in [1, 3, usize::MAX] {
            let t = run(&client, &server, chunk);
            let all: Vec<&String> = t.iter().flat_map(|t| &t.notes).collect();
            let mut f = Feeder::new();
            f.chunks(Side::Client, &client, chunk, 0);
            f.chunks(Side::Server, &server, chunk, 1);
            assert!(
                f.c.notes().iter().any(|n| n.contains(want)),
                "{name}: {:?}",
                f.c.notes()
            );
            assert!(
                t.iter().all(|t| t.status.is_none() && t.gave_up.is_none()),
                "{name}"
            );
            if !t.is_empty() {
                assert!(all.iter().any(|n| n.contains("not parsed")), "{name}");
            }
        }
    }
}

#[test]
fn gaps_inside_data_are_counted_elsewhere_stop() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut f = Feeder::new();
    let mut client = client_start();
    client.extend(req(&mut c, 1, "/big"));
    f.seg(Side::Client, &client, 0);
    let mut server = server_start();
    server.extend(resp(&mut s, 1, "200", 0));
    let data = build(DATA, ES, 1, &[b'z'; 100]);
    server.extend_from_slice(&data[..20]);
    f.seg(Side::Server, &server, 5);
    f.gap(Side::Server, 50);
    f.seg(Side::Server, &data[70..], 8);
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].response_body_bytes, t[0].response_missing_bytes),
        (100, 50)
    );
    assert!(t[0].complete);
    // A gap across a frame header cannot be followed.
    f.seg(Side::Client, &req(&mut c, 3, "/next"), 9);
    f.gap(Side::Server, 5);
    let t = f.finish(10, None);
    assert_eq!(
        (t.len(), t[0].status, t[0].gave_up.is_none()),
        (1, None, true)
    );
    assert!(f.c.notes().iter().any(|n| n.contains("missing")));
}

#[test]
fn unanswered_streams_give_up_at_finish() {
    let mut f = Feeder::new();
    let mut client = client_start();
    client.extend(req(&mut Peer::new(), 1, "/wait"));
    f.seg(Side::Client, &client, 0);
    let t = f.finish(3000, Some((Side::Server, "fin")));
    let g = t[0].gave_up.as_ref().unwrap();
    assert_eq!(
        (g.by, g.how, g.after_ms),
        (GaveUpBy::Server, Some("fin"), Some(3000.0))
    );
    let mut f = Feeder::new();
    f.seg(Side::Client, &client, 0);
    let t = f.finish(10, None);
    assert_eq!(t[0].gave_up.as_ref().unwrap().by, GaveUpBy::CaptureEnd);
}

#[test]
fn kept_headers_and_body_for_expect() {
    let keep = KeepConfig {
        headers: true,
        body: true,
        ..KeepConfig::default()
    };
    let budget = BodyBudget::new(1 << 20);
    let mut f = Feeder::with(H2Conn::with_keep(ep(), true, keep, Some(budget.clone())));
    let mut client = client_start();
    client.extend(req(&mut Peer::new(), 1, "/json"));
    f.seg(Side::Client, &client, 0);
    let mut s = Peer::new();
    let mut server = server_start();
    server.extend(s.headers(
        1,
        &[
            (":status", "200"),
            ("content-type", "application/json"),
            ("x-trace", "abc"),
        ],
        0,
    ));
    server.extend(build(DATA, 0, 1, b"{\"ok\":"));
    server.extend(build(DATA, ES, 1, b"true}"));
    f.seg(Side::Server, &server, 5);
    let t = f.c.take_transactions();
    let d = t[0].response_data.as_deref().unwrap();
    assert_eq!(d.header("X-Trace").collect::<Vec<_>>(), ["abc"]);
    assert_eq!(d.header("content-type").count(), 1);
    assert_eq!(
        (&d.body[..], &d.body_state),
        (&b"{\"ok\":true}"[..], &BodyState::Complete)
    );
    assert_eq!(budget.left(), 1 << 20, "given back as the record left");
}

#[test]
fn preface_detection() {
    assert!(looks_like_h2_preface(PREFACE));
    assert!(looks_like_h2_preface(b"PRI * HT"));
    assert!(!looks_like_h2_preface(b"PRI"));
    assert!(!looks_like_h2_preface(b"GET / HTTP/1.1\r\n"));
    assert!(!looks_like_h2_preface(b"PRI * HTTP/1.1\r\n"));
}

#[test]
fn kept_request_fields_and_body_for_request_rules() {
    let keep = KeepConfig {
        request_headers: true,
        request_body: true,
        ..KeepConfig::default()
    };
    let budget = BodyBudget::new(1 << 20);
    let mut f = Feeder::with(H2Conn::with_keep(ep(), true, keep, Some(budget.clone())));
    let mut client = client_start();
    client.extend(Peer::new().headers(
        1,
        &[
            (":method", "POST"),
            (":path", "/pay"),
            (":scheme", "https"),
            (":authority", "api"),
            ("content-type", "application/json"),
            ("idempotency-key", "k-1"),
        ],
        0,
    ));
    client.extend(build(DATA, 0, 1, b"{\"amount\":"));
    client.extend(build(DATA, ES, 1, b"0}"));
    f.seg(Side::Client, &client, 0);
    let mut server = server_start();
    server.extend(resp(&mut Peer::new(), 1, "201", ES));
    f.seg(Side::Server, &server, 5);
    let t = f.c.take_transactions();
    let d = t[0].request_data.as_deref().unwrap();
    assert_eq!(d.header("Idempotency-Key").collect::<Vec<_>>(), ["k-1"]);
    assert_eq!(
        (&d.body[..], &d.body_state),
        (&b"{\"amount\":0}"[..], &BodyState::Complete)
    );
    assert!(
        t[0].response_data.is_none(),
        "only the request was asked for"
    );
    assert_eq!(budget.left(), 1 << 20, "given back as the record left");
}
