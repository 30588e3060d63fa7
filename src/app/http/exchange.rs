//! One request and its response while they are on the wire, and the record they
//! become.

use super::capture::ResponseData;
use super::head::{RequestHead, ResponseHead};
use super::meta::HttpMeta;
use super::{ByteMark, GaveUp, HttpTransaction, PhasesMs};
use crate::app::Endpoints;

/// Most notes kept per exchange or connection.
const MAX_NOTES: usize = 32;

/// A request (absent when the capture missed it) and its response so far.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    /// 1-based position on the connection (Zeek's `trans_depth`).
    pub(crate) depth: u64,
    /// The request had no version (HTTP/0.9): the response is the rest of
    /// the server's stream.
    pub(crate) http09: bool,
    /// Reason phrase of the last 1xx response.
    pub(crate) info_msg: Option<String>,
    /// Parsed after its connection resumed past a gap (pairing a best guess).
    pub(crate) resynced: bool,
    pub(crate) req: Option<RequestHead>,
    pub(crate) req_first: Option<ByteMark>,
    pub(crate) req_last: Option<ByteMark>,
    pub(crate) req_body: u64,
    pub(crate) req_missing: u64,
    pub(crate) req_chunked: bool,
    pub(crate) req_done: bool,
    pub(crate) resp: Option<ResponseHead>,
    pub(crate) informational: Vec<u16>,
    pub(crate) resp_first_any: Option<ByteMark>,
    pub(crate) resp_first: Option<ByteMark>,
    pub(crate) resp_last: Option<ByteMark>,
    pub(crate) resp_body: u64,
    pub(crate) resp_missing: u64,
    pub(crate) resp_chunked: bool,
    /// No more bytes belong to the response.
    pub(crate) resp_done: bool,
    /// The response was framed to its true end.
    pub(crate) resp_complete: bool,
    /// How a response that ended early (close-delimited, ended by RST or the
    /// capture's end) was cut.
    pub(crate) cut: Option<GaveUp>,
    pub(crate) notes: Vec<String>,
    /// Kept header fields and body prefix (only when asked for).
    pub(crate) resp_data: Option<Box<ResponseData>>,
    /// The request's, for `request ...` rules (only when asked for).
    pub(crate) req_data: Option<Box<ResponseData>>,
}

impl Exchange {
    /// The record of this exchange; `gave_up` unless the response was already cut.
    pub(crate) fn into_record(
        self,
        ep: &Endpoints,
        decrypted: bool,
        gave_up: Option<GaveUp>,
    ) -> HttpTransaction {
        let mut ex = self;
        let gave_up = ex.cut.take().or(gave_up);
        let req_done = ex.req.is_none() || ex.req_done;
        let span = |a: Option<ByteMark>, b: Option<ByteMark>| Some(ms(b?.ts.since(a?.ts)));
        let send = if ex.req_done {
            span(ex.req_first, ex.req_last)
        } else {
            None
        };
        let wait = if ex.req_done {
            span(ex.req_last, ex.resp_first)
        } else {
            None
        };
        let (transfer, total) = if ex.resp_complete {
            (
                span(ex.resp_first, ex.resp_last),
                span(ex.req_first, ex.resp_last).filter(|_| ex.req_done),
            )
        } else {
            (None, None)
        };
        let frames = |a: Option<ByteMark>, b: Option<ByteMark>| Some([a?.frame, b?.frame]);
        let (mut req, mut resp) = (ex.req, ex.resp);
        let req_meta = req.as_mut().map(|r| std::mem::take(&mut r.meta));
        let meta = HttpMeta {
            trans_depth: ex.depth,
            resynced: ex.resynced,
            info_msg: ex.info_msg,
            response_version: resp.as_ref().map(|r| r.version),
            response_header_names: resp
                .as_mut()
                .map(|r| std::mem::take(&mut r.header_names))
                .unwrap_or_default(),
            ..req_meta
                .map(|m| HttpMeta {
                    user_agent: m.user_agent,
                    referrer: m.referrer,
                    origin: m.origin,
                    username: m.username,
                    proxied: m.proxied,
                    request_header_names: m.header_names,
                    ..HttpMeta::default()
                })
                .unwrap_or_default()
        };
        // A response without a status line (HTTP/0.9) has no status.
        let status_line = resp.as_ref().is_some_and(|r| r.version != HTTP09);
        let mut request_data = ex.req_data;
        if !ex.req_done {
            if let Some(d) = request_data.as_deref_mut() {
                d.cut();
            }
        }
        let mut response_data = ex.resp_data;
        if !ex.resp_complete {
            if let Some(d) = response_data.as_deref_mut() {
                d.cut();
            }
        }
        HttpTransaction {
            conn: ep.conn,
            client: ep.client,
            server: ep.server,
            decrypted,
            version: req
                .as_ref()
                .map(|r| r.version)
                .or(resp.as_ref().map(|r| r.version)),
            method: req.as_ref().map(|r| r.method.clone()),
            host: req.as_ref().and_then(|r| r.host.clone()),
            path: req.as_ref().map(|r| r.path.clone()),
            request_content_type: req.and_then(|r| r.content_type),
            status: resp.as_ref().filter(|_| status_line).map(|r| r.status),
            reason: resp
                .as_ref()
                .filter(|_| status_line)
                .map(|r| r.reason.clone()),
            response_content_type: resp.and_then(|r| r.content_type),
            informational: ex.informational,
            request_body_bytes: ex.req_body,
            response_body_bytes: ex.resp_body,
            request_missing_bytes: ex.req_missing,
            response_missing_bytes: ex.resp_missing,
            chunked: ex.resp_chunked,
            request_chunked: ex.req_chunked,
            request_frames: frames(ex.req_first, ex.req_last),
            response_frames: frames(ex.resp_first_any, ex.resp_last),
            start: ex.req_first.or(ex.resp_first_any).map(|m| m.ts),
            phases_ms: PhasesMs {
                send,
                wait,
                transfer,
                total,
            },
            complete: req_done && ex.resp_complete,
            gave_up,
            notes: ex.notes,
            request_first: ex.req_first,
            request_last: ex.req_last,
            response_first_any: ex.resp_first_any,
            response_first: ex.resp_first,
            response_last: ex.resp_last,
            response_data,
            request_data,
            meta,
        }
    }
}

/// The version of a request line without one, and of the raw response to it.
pub(crate) const HTTP09: &str = "HTTP/0.9";

/// Milliseconds from nanoseconds.
pub(crate) fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

/// Adds a note once, up to a bound.
pub(crate) fn push_note(notes: &mut Vec<String>, note: String) {
    if notes.len() < MAX_NOTES && !notes.contains(&note) {
        notes.push(note);
    }
}
