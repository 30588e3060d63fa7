//! Unit tests: hand-written exchanges fed in segments with packet times.

use super::*;
use crate::app::{Endpoints, Origin};
use crate::base::Side;
use crate::base::Timestamp;
use crate::flow::reassembly::StreamEnd;

pub(super) const MS: i64 = 1_000_000;
pub(super) const T0: i64 = 1_700_000_000_000_000_000;

pub(super) fn ep() -> Endpoints {
    Endpoints {
        conn: 7,
        client: "10.0.0.5:51234".parse().unwrap(),
        server: "10.0.0.9:80".parse().unwrap(),
    }
}

/// Feeds segments with increasing frame numbers and stream offsets.
pub(super) struct Feeder {
    pub c: HttpConn,
    pub off: [u64; 2],
    frame: u64,
}

impl Feeder {
    pub fn new() -> Feeder {
        Feeder {
            c: HttpConn::new(ep(), false),
            off: [0, 0],
            frame: 0,
        }
    }

    /// One segment from `side` at `ms` after T0; returns its frame number.
    pub fn seg(&mut self, side: Side, bytes: &[u8], ms: i64) -> u64 {
        self.frame += 1;
        let i = side.index();
        let origin = Origin {
            conn: 7,
            side,
            frame: self.frame,
            ts: Timestamp(T0 + ms * MS),
        };
        self.c.on_data(origin, self.off[i], bytes);
        self.off[i] += bytes.len() as u64;
        self.frame
    }

    /// `bytes` from `side` in segments of `chunk` bytes, all at `ms`.
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

    pub fn end(&mut self, side: Side, how: StreamEnd, ms: i64) {
        self.c.on_end(side, how, Timestamp(T0 + ms * MS));
    }

    pub fn finish(&mut self, ms: i64, by: Option<(Side, &'static str)>) -> Vec<HttpTransaction> {
        self.c.finish(Timestamp(T0 + ms * MS), by)
    }
}

/// The whole exchange: client bytes, then server bytes, in `chunk`-byte segments,
/// then FIN both ways.
pub(super) fn run(client: &[u8], server: &[u8], chunk: usize) -> Vec<HttpTransaction> {
    let mut f = Feeder::new();
    f.chunks(Side::Client, client, chunk, 0);
    f.chunks(Side::Server, server, chunk, 10);
    f.end(Side::Client, StreamEnd::Fin, 20);
    f.end(Side::Server, StreamEnd::Fin, 20);
    let mut out = f.c.take_transactions();
    out.extend(f.finish(20, Some((Side::Client, "fin"))));
    out
}

pub(super) fn all_chunkings(client: &[u8], server: &[u8]) -> Vec<HttpTransaction> {
    let whole = run(client, server, usize::MAX);
    for chunk in [1, 2, 3, 7, 64] {
        let got = run(client, server, chunk);
        assert_eq!(strip(&got), strip(&whole), "chunk size {chunk}");
    }
    whole
}

/// Transactions without frame numbers (which depend on segmentation).
fn strip(ts: &[HttpTransaction]) -> Vec<HttpTransaction> {
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

pub(super) const GET: &[u8] =
    b"GET /v1/orders?id=3 HTTP/1.1\r\nHost: api.internal\r\nAccept: */*\r\n\r\n";
pub(super) const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"orders\":[]}";

#[test]
fn simple_get_with_content_length() {
    let mut f = Feeder::new();
    let f1 = f.seg(Side::Client, GET, 0);
    let (head, body) = OK.split_at(OK.len() - 13);
    let f2 = f.seg(Side::Server, head, 250);
    assert!(f.c.take_transactions().is_empty(), "body still due");
    let f3 = f.seg(Side::Server, body, 262);
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 1);
    let t = &t[0];
    assert_eq!(t.method.as_deref(), Some("GET"));
    assert_eq!(t.path.as_deref(), Some("/v1/orders?id=3"));
    assert_eq!(t.host.as_deref(), Some("api.internal"));
    assert_eq!(t.version, Some("HTTP/1.1"));
    assert_eq!(t.status, Some(200));
    assert_eq!(t.reason.as_deref(), Some("OK"));
    assert_eq!(t.response_content_type.as_deref(), Some("application/json"));
    assert_eq!(t.request_body_bytes, 0);
    assert_eq!(t.response_body_bytes, 13);
    assert!(!t.chunked && t.complete && t.gave_up.is_none() && !t.decrypted);
    assert_eq!(t.request_frames, Some([f1, f1]));
    assert_eq!(t.response_frames, Some([f2, f3]));
    assert_eq!(t.start, Some(Timestamp(T0)));
    assert_eq!(t.phases_ms.send, Some(0.0));
    assert_eq!(t.phases_ms.wait, Some(250.0));
    assert_eq!(t.phases_ms.transfer, Some(12.0));
    assert_eq!(t.phases_ms.total, Some(262.0));
    assert!(t.notes.is_empty(), "{:?}", t.notes);
    assert!(f.finish(300, None).is_empty());
    all_chunkings(GET, OK);
}

#[test]
fn keep_alive_two_transactions() {
    let mut f = Feeder::new();
    f.seg(Side::Client, GET, 0);
    f.seg(Side::Server, OK, 5);
    assert_eq!(f.c.take_transactions().len(), 1);
    f.seg(
        Side::Client,
        b"DELETE /v1/orders/3 HTTP/1.1\r\nHost: a\r\n\r\n",
        100,
    );
    f.seg(
        Side::Server,
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        130,
    );
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].method.as_deref(), Some("DELETE"));
    assert_eq!(t[0].status, Some(404));
    assert_eq!(t[0].phases_ms.wait, Some(30.0));
    assert_eq!(t[0].start, Some(Timestamp(T0 + 100 * MS)));
}

#[test]
fn pipelined_requests_pair_in_order() {
    let client = [GET, b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n".as_slice()].concat();
    let server = [
        OK,
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!".as_slice(),
    ]
    .concat();
    let t = all_chunkings(&client, &server);
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].path.as_deref(), t[0].status),
        (Some("/v1/orders?id=3"), Some(200))
    );
    assert_eq!(
        (t[1].path.as_deref(), t[1].status),
        (Some("/second"), Some(500))
    );
    assert_eq!(t[1].response_body_bytes, 5);
    assert!(t.iter().all(|t| t.complete));
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let server: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
        5;name=value;q=\"x\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0;last\r\nX-Checksum: 1\r\nX-More: 2\r\n\r\n";
    let t = all_chunkings(GET, &[server, OK].concat());
    assert_eq!(t.len(), 2, "the next response follows the trailers");
    assert!(t[0].chunked && t[0].complete);
    assert_eq!(t[0].response_body_bytes, 5 + 26);
    assert_eq!(
        (t[1].method.as_deref(), t[1].status),
        (None, Some(200)),
        "one request: the second response is unpaired"
    );
}

#[test]
fn head_response_has_no_body() {
    let client = [b"HEAD /big HTTP/1.1\r\nHost: a\r\n\r\n".as_slice(), GET].concat();
    let server = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".as_slice(),
        OK,
    ]
    .concat();
    let t = all_chunkings(&client, &server);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].response_body_bytes, 0);
    assert!(t[0].complete);
    assert_eq!((t[1].status, t[1].response_body_bytes), (Some(200), 13));
}

#[test]
fn no_body_for_204_and_304() {
    for head in [
        b"HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n".as_slice(),
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"x\"\r\n\r\n".as_slice(),
    ] {
        let client = [GET, GET].concat();
        let server = [head, OK].concat();
        let t = all_chunkings(&client, &server);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].response_body_bytes, 0);
        assert_eq!((t[1].status, t[1].response_body_bytes), (Some(200), 13));
    }
}

#[test]
fn continue_then_final_response_and_send_timing() {
    let mut f = Feeder::new();
    let f1 = f.seg(Side::Client, b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n", 0);
    let f2 = f.seg(Side::Server, b"HTTP/1.1 100 Continue\r\n\r\n", 40);
    f.seg(Side::Client, b"01234", 50);
    let f4 = f.seg(Side::Client, b"56789", 350);
    let f5 = f.seg(
        Side::Server,
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        400,
    );
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 1);
    let t = &t[0];
    assert_eq!(t.informational, vec![100]);
    assert_eq!(t.status, Some(201));
    assert_eq!(t.request_body_bytes, 10);
    assert_eq!(t.request_content_type.as_deref(), Some("text/plain"));
    assert_eq!(t.request_frames, Some([f1, f4]));
    assert_eq!(t.response_frames, Some([f2, f5]));
    assert_eq!(t.phases_ms.send, Some(350.0));
    assert_eq!(
        t.phases_ms.wait,
        Some(50.0),
        "measured to the final response, not the 100"
    );
    assert_eq!(t.phases_ms.total, Some(400.0));
}

#[test]
fn post_chunked_upload_send_phase() {
    let mut f = Feeder::new();
    let f1 = f.seg(
        Side::Client,
        b"POST /v1/files HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        0,
    );
    f.seg(Side::Client, b"4\r\nabcd\r\n", 700);
    let f3 = f.seg(Side::Client, b"0\r\n\r\n", 1500);
    f.seg(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        1520,
    );
    let t = f.c.take_transactions();
    assert_eq!(t.len(), 1);
    assert!(t[0].request_chunked && !t[0].chunked);
    assert_eq!(t[0].request_body_bytes, 4);
    assert_eq!(t[0].request_frames, Some([f1, f3]));
    assert_eq!(t[0].phases_ms.send, Some(1500.0));
    assert_eq!(t[0].phases_ms.wait, Some(20.0));
    assert_eq!(t[0].phases_ms.transfer, Some(0.0));
}

#[test]
fn early_hints_then_final_response() {
    let server: &[u8] = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    let t = all_chunkings(GET, server);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].informational.clone(), t[0].status),
        (vec![103], Some(200))
    );
    assert!(t[0].complete);
}

#[test]
fn close_delimited_body_ends_with_fin_or_not() {
    let server: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>streamed</html>";
    let t = all_chunkings(GET, server);
    assert_eq!(t.len(), 1);
    assert!(t[0].complete);
    assert_eq!(t[0].response_body_bytes, 21);
    assert!(t[0].phases_ms.transfer.is_some());

    let mut f = Feeder::new();
    f.seg(Side::Client, GET, 0);
    f.seg(Side::Server, server, 10);
    assert!(
        f.c.take_transactions().is_empty(),
        "close-delimited: not done before the close"
    );
    f.end(Side::Server, StreamEnd::Reset, 30);
    let t = f.finish(30, Some((Side::Server, "rst")));
    assert_eq!(t.len(), 1);
    assert!(!t[0].complete);
    assert_eq!(t[0].status, Some(200));
    assert_eq!(t[0].gave_up.as_ref().map(|g| g.by), Some(GaveUpBy::Server));
    assert!(
        t[0].notes.iter().any(|n| n.contains("RST")),
        "{:?}",
        t[0].notes
    );
}

#[test]
fn request_without_response_gave_up() {
    let cases = [
        (Some((Side::Client, "fin")), GaveUpBy::Client, Some("fin")),
        (Some((Side::Client, "rst")), GaveUpBy::Client, Some("rst")),
        (Some((Side::Server, "fin")), GaveUpBy::Server, Some("fin")),
        (Some((Side::Server, "rst")), GaveUpBy::Server, Some("rst")),
        (None, GaveUpBy::CaptureEnd, None),
    ];
    for (ended_by, by, how) in cases {
        let mut f = Feeder::new();
        f.seg(Side::Client, GET, 0);
        if let Some((side, h)) = ended_by {
            let end = if h == "rst" {
                StreamEnd::Reset
            } else {
                StreamEnd::Fin
            };
            f.end(side, end, 30_000);
        }
        assert!(f.c.take_transactions().is_empty());
        let t = f.finish(30_000, ended_by);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].status, None);
        assert!(!t[0].complete);
        assert_eq!(t[0].phases_ms.wait, None);
        assert_eq!(
            t[0].gave_up,
            Some(GaveUp {
                by,
                how,
                after_ms: Some(30_000.0)
            })
        );
    }
}

#[test]
fn many_headers_beyond_the_initial_array() {
    let mut req = b"GET /many HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..300 {
        req.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let t = all_chunkings(&req, OK);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].path.as_deref(), t[0].status),
        (Some("/many"), Some(200))
    );
}

#[test]
fn unpaired_response_and_upgrade() {
    let t = run(b"", OK, 4);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].method.clone(), t[0].status), (None, Some(200)));
    let client: &[u8] =
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello";
    let server: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";
    let t = all_chunkings(client, server);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].status, Some(101));
    assert!(t[0].complete);
}

#[test]
fn json_field_names_are_stable() {
    let t = run(GET, OK, usize::MAX);
    let v = serde_json::to_value(&t[0]).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "conn",
        "client",
        "server",
        "decrypted",
        "method",
        "host",
        "path",
        "version",
        "status",
        "reason",
        "informational",
        "request_content_type",
        "response_content_type",
        "request_body_bytes",
        "response_body_bytes",
        "chunked",
        "request_frames",
        "response_frames",
        "start",
        "phases_ms",
        "complete",
        "gave_up",
        "notes",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }
    assert!(!keys.contains(&"request_first"));
    assert_eq!(v["start"], "2023-11-14T22:13:20.000000000Z");
    assert_eq!(v["phases_ms"]["wait"], 10.0);
    assert!(v["gave_up"].is_null());
}

#[test]
fn connect_tunnel_and_endless_informational() {
    let client: &[u8] = b"CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n\x00\x00\x00\x08binary";
    let server: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n\x4e\x00garbage";
    let t = all_chunkings(client, server);
    assert_eq!(t.len(), 1);
    assert!(t[0].complete && t[0].notes.iter().any(|n| n.contains("CONNECT tunnel")));

    let server = [b"HTTP/1.1 102 Processing\r\n\r\n".repeat(40), OK.to_vec()].concat();
    let t = all_chunkings(GET, &server);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].informational.len(), t[0].status), (16, Some(200)));
    assert!(t[0].notes.iter().any(|n| n.contains("1xx")));
}

#[test]
fn decrypted_flag_is_copied() {
    let mut c = HttpConn::new(ep(), true);
    let o = |side| Origin {
        conn: 7,
        side,
        frame: 1,
        ts: Timestamp(T0),
    };
    c.on_data(o(Side::Client), 0, GET);
    c.on_data(o(Side::Server), 0, OK);
    assert!(c.take_transactions()[0].decrypted);
}

/// A feeder whose parser keeps header fields and bodies.
fn keeping(budget: Option<BodyBudget>) -> Feeder {
    let mut f = Feeder::new();
    f.c = HttpConn::with_keep(
        ep(),
        false,
        KeepConfig {
            headers: true,
            body: true,
            ..KeepConfig::default()
        },
        budget,
    );
    f
}

#[test]
fn kept_bodies_are_dechunked_per_transaction_in_any_segmentation() {
    let client = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nHEAD /c HTTP/1.1\r\n\r\n";
    let server = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Id: 1\r\n\r\n4\r\n{\"a\"\r\n3;ext=1\r\n:1}\r\n0\r\nT: x\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n";
    for chunk in [1, 2, 5, 64, usize::MAX] {
        let mut f = keeping(None);
        f.chunks(Side::Client, client, chunk, 0);
        f.chunks(Side::Server, server, chunk, 10);
        let tx = f.finish(20, None);
        assert_eq!(tx.len(), 3);
        let d: Vec<&ResponseData> = tx
            .iter()
            .map(|t| t.response_data.as_deref().unwrap())
            .collect();
        assert_eq!(d[0].body, b"{\"a\":1}", "chunk {chunk}");
        assert_eq!(d[0].body_state, BodyState::Complete);
        assert_eq!(d[0].header("x-id").collect::<Vec<_>>(), ["1"]);
        assert_eq!(d[1].body, b"{}");
        assert_eq!(
            (d[2].body.len(), &d[2].body_state),
            (0, &BodyState::Complete)
        );
    }
    // Not asked: nothing kept.
    let plain = run(client, server, 3);
    assert!(plain.iter().all(|t| t.response_data.is_none()));
}

#[test]
fn kept_bodies_record_gaps_cuts_and_the_budget() {
    let budget = BodyBudget::new(5);
    let mut f = keeping(Some(budget.clone()));
    f.seg(Side::Client, b"GET / HTTP/1.1\r\n\r\n", 0);
    f.seg(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nabc",
        1,
    );
    f.gap(Side::Server, 4);
    f.seg(Side::Server, b"defghijklmn", 2);
    f.end(Side::Server, StreamEnd::Reset, 3);
    assert_eq!(budget.left(), 2);
    let tx = f.finish(3, Some((Side::Server, "rst")));
    let d = tx[0].response_data.as_deref().unwrap();
    assert_eq!(
        (&d.body[..], &d.body_state),
        (&b"abc"[..], &BodyState::Missing { bytes: 4 })
    );
    // The budget came back when the record left.
    assert_eq!(budget.left(), 5);

    let mut f = keeping(Some(budget.clone()));
    f.seg(Side::Client, b"GET / HTTP/1.1\r\n\r\n", 0);
    f.seg(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabcdefg",
        1,
    );
    let tx = f.finish(3, None);
    let d = tx[0].response_data.as_deref().unwrap();
    assert_eq!(
        (&d.body[..], &d.body_state),
        (&b"abcde"[..], &BodyState::OverBudget)
    );

    let mut f = keeping(None);
    f.seg(Side::Client, b"GET / HTTP/1.1\r\n\r\n", 0);
    f.seg(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabc",
        1,
    );
    let tx = f.finish(3, None);
    assert_eq!(
        tx[0].response_data.as_deref().unwrap().body_state,
        BodyState::Cut
    );
}

#[test]
fn kept_request_fields_and_body_with_gaps_and_cuts() {
    let keep = KeepConfig {
        request_headers: true,
        request_body: true,
        ..KeepConfig::default()
    };
    let client = b"POST /pay HTTP/1.1\r\nHost: h\r\nX-Key: k\r\nContent-Length: 12\r\n\r\n{\"amount\":0}GET /b HTTP/1.1\r\n\r\n";
    let server = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for chunk in [1, 7, usize::MAX] {
        let mut f = Feeder::new();
        f.c = HttpConn::with_keep(ep(), false, keep, None);
        f.chunks(Side::Client, client, chunk, 0);
        f.chunks(Side::Server, server, chunk, 10);
        let tx = f.finish(20, None);
        let d = tx[0].request_data.as_deref().unwrap();
        assert_eq!(
            d.header("x-key").collect::<Vec<_>>(),
            ["k"],
            "chunk {chunk}"
        );
        assert_eq!(
            (&d.body[..], &d.body_state),
            (&b"{\"amount\":0}"[..], &BodyState::Complete)
        );
        assert!(tx[1].request_data.as_deref().unwrap().body.is_empty());
        assert!(tx.iter().all(|t| t.response_data.is_none()));
    }
    // A hole in the request body, then a request cut short.
    let mut f = Feeder::new();
    f.c = HttpConn::with_keep(ep(), false, keep, None);
    f.seg(
        Side::Client,
        b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab",
        0,
    );
    f.gap(Side::Client, 3);
    f.seg(Side::Client, b"cd", 1);
    let tx = f.finish(3, None);
    let d = tx[0].request_data.as_deref().unwrap();
    assert_eq!(
        (&d.body[..], &d.body_state),
        (&b"ab"[..], &BodyState::Missing { bytes: 3 })
    );
    let mut f = Feeder::new();
    f.c = HttpConn::with_keep(ep(), false, keep, None);
    f.seg(
        Side::Client,
        b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab",
        0,
    );
    let tx = f.finish(3, None);
    assert_eq!(
        tx[0].request_data.as_deref().unwrap().body_state,
        BodyState::Cut
    );
}
