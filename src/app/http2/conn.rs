//! The per-connection state: two directions reading frames (preface → frame
//! header → payload), one HPACK decoder each, and the streams by id
//! (`streams.rs`: what each frame does to its stream).

mod streams;

use std::collections::{BTreeMap, BTreeSet};

use loona_hpack::Decoder;

use super::fields::Fields;
use super::frame::{self, flags, FrameHeader, Kind, HEADER_LEN, PREFACE};
use super::{H2Stats, MAX_HEADER_BLOCK, MAX_STREAMS};
use crate::app::http::capture::{BodyBudget, KeepConfig, ResponseData};
use crate::app::http::exchange::{ms, push_note, Exchange};
use crate::app::http::head::{Framing, RequestHead, ResponseHead};
use crate::app::http::{ByteMark, GaveUp, GaveUpBy, HttpTransaction};
use crate::app::{Endpoints, Origin, StreamCursor};
use crate::base::Side;
use crate::base::Timestamp;
use crate::flow::reassembly::StreamEnd;
use streams::Stream;

/// The version every HTTP/2 record carries.
const VERSION: &str = "HTTP/2";
/// The HPACK table size before any SETTINGS (RFC 9113 §6.5.2).
const DEFAULT_TABLE_SIZE: usize = 4096;
/// Most 1xx codes listed per stream.
const MAX_INFORMATIONAL: usize = 16;
/// Most decoded name + value bytes looked at per header block: an HPACK block
/// may repeat a large table entry thousands of times.
const MAX_DECODED: usize = 256 * 1024;
/// Padding, pad length and priority bytes a HEADERS frame may add to its block.
const HEADERS_OVERHEAD: usize = 256 + 5;
/// Most SETTINGS bytes looked at (the rest are skipped).
const MAX_SETTINGS: usize = 6 * 64;
/// Most notes on the connection.
const MAX_CONN_NOTES: usize = 32;

/// Where a direction is in its byte stream.
#[derive(Debug)]
enum Read {
    /// The client's connection preface, `have` bytes of it seen.
    Preface { have: usize },
    /// A frame header, `have` bytes of it buffered.
    Header {
        buf: [u8; HEADER_LEN],
        have: usize,
        start: Option<ByteMark>,
    },
    /// A frame's payload, `pos` bytes of it seen; `kept` holds a bounded prefix
    /// (none for DATA, which is counted as it streams).
    Payload {
        hdr: FrameHeader,
        start: ByteMark,
        pos: u32,
        kept: Vec<u8>,
        /// DATA: the pad length, once known (0 when unpadded).
        pad: Option<u8>,
    },
    /// Parsing ended.
    Stopped,
}

/// A header block being assembled from HEADERS or PUSH_PROMISE and CONTINUATIONs.
#[derive(Debug)]
struct Block {
    stream: u32,
    push: bool,
    end_stream: bool,
    bytes: Vec<u8>,
    start: ByteMark,
}

#[derive(Debug)]
struct Dir {
    read: Read,
    block: Option<Block>,
    cursor: StreamCursor,
    last_mark: Option<ByteMark>,
}

impl Dir {
    fn new(side: Side) -> Dir {
        Dir {
            read: match side {
                Side::Client => Read::Preface { have: 0 },
                Side::Server => Read::Header {
                    buf: [0; HEADER_LEN],
                    have: 0,
                    start: None,
                },
            },
            block: None,
            cursor: StreamCursor::default(),
            last_mark: None,
        }
    }
}

/// HTTP/2 parser for one connection (see the module doc).
pub struct H2Conn {
    ep: Endpoints,
    decrypted: bool,
    keep: KeepConfig,
    budget: Option<BodyBudget>,
    dirs: [Dir; 2],
    decoders: [Decoder<'static>; 2],
    streams: BTreeMap<u32, Stream>,
    /// Streams that may have completed since the last take (checked there).
    ready: BTreeSet<u32>,
    /// The highest stream id the client opened (or a response named).
    max_stream: u32,
    /// The last stream id of the server's GOAWAY.
    goaway: Option<u32>,
    stats: H2Stats,
    notes: Vec<String>,
    /// Parsing stopped on an error (ours or the capture's).
    lost: bool,
    finished: bool,
}

impl std::fmt::Debug for H2Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Conn")
            .field("ep", &self.ep)
            .field("streams", &self.streams.len())
            .field("stats", &self.stats)
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

fn new_decoder() -> Decoder<'static> {
    let mut d = Decoder::new();
    d.set_max_allowed_table_size(DEFAULT_TABLE_SIZE);
    d
}

impl H2Conn {
    /// A parser for the connection `ep`; `decrypted` is copied into every record.
    pub fn new(ep: Endpoints, decrypted: bool) -> H2Conn {
        H2Conn::with_keep(ep, decrypted, KeepConfig::default(), None)
    }

    /// A parser that also keeps what `keep` asks of each final response (as
    /// HTTP/1.x's `HttpConn::with_keep` does), drawing body bytes from `budget`.
    pub fn with_keep(
        ep: Endpoints,
        decrypted: bool,
        keep: KeepConfig,
        budget: Option<BodyBudget>,
    ) -> H2Conn {
        H2Conn {
            ep,
            decrypted,
            keep,
            budget,
            dirs: [Dir::new(Side::Client), Dir::new(Side::Server)],
            decoders: [new_decoder(), new_decoder()],
            streams: BTreeMap::new(),
            ready: BTreeSet::new(),
            max_stream: 0,
            goaway: None,
            stats: H2Stats::default(),
            notes: Vec::new(),
            lost: false,
            finished: false,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> H2Stats {
        self.stats
    }

    /// Connection-level notes (what stopped parsing, GOAWAY, limits), bounded.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// In-order bytes from `origin.side` at stream `offset`. Overlaps with bytes
    /// already seen are skipped; a jump ahead is treated as a gap.
    pub fn on_data(&mut self, origin: Origin, offset: u64, bytes: &[u8]) {
        if self.finished {
            return;
        }
        let side = origin.side;
        let advance = self.dirs[side.index()].cursor.advance(offset, bytes);
        if let Some((at, len)) = advance.gap {
            self.on_gap(side, at, len);
        }
        let mut bytes = advance.bytes;
        let d = &mut self.dirs[side.index()];
        let mark = ByteMark {
            frame: origin.frame,
            ts: origin.ts,
        };
        if !bytes.is_empty() {
            d.last_mark = Some(mark);
        }
        while !bytes.is_empty() {
            let used = self.step(side, bytes, mark);
            if used == 0 {
                break;
            }
            bytes = bytes.get(used..).unwrap_or_default();
        }
    }

    /// `len` bytes at `offset` that `side` sent are missing from the capture.
    /// Only a hole wholly inside a DATA payload can be stepped over.
    pub fn on_gap(&mut self, side: Side, offset: u64, len: u64) {
        if self.finished || len == 0 {
            return;
        }
        let d = &mut self.dirs[side.index()];
        d.cursor.skip(offset, len);
        if let Read::Payload {
            hdr,
            pos,
            pad: Some(pad),
            ..
        } = &mut d.read
        {
            let data_end = u64::from(hdr.len.saturating_sub(u32::from(*pad)));
            if hdr.kind == Kind::Data && u64::from(*pos) + len <= data_end {
                // `pos + len` fits in the 24-bit frame length.
                *pos = pos.saturating_add(u32::try_from(len).unwrap_or(u32::MAX));
                let (stream, done) = (hdr.stream, *pos == hdr.len);
                self.stats.missing_body_bytes += len;
                if let Some(ex) = self.streams.get_mut(&stream).map(|s| &mut s.ex) {
                    if side == Side::Client {
                        ex.req_body += len;
                        ex.req_missing += len;
                        if let Some(d) = ex.req_data.as_deref_mut() {
                            d.gap(len);
                        }
                    } else {
                        ex.resp_body += len;
                        ex.resp_missing += len;
                        if let Some(d) = ex.resp_data.as_deref_mut() {
                            d.gap(len);
                        }
                    }
                    push_note(
                        &mut ex.notes,
                        format!(
                            "{len} {} DATA bytes missing from the capture",
                            side.as_str()
                        ),
                    );
                }
                if done {
                    if let Some(mark) = self.dirs[side.index()].last_mark {
                        self.complete_frame(side, mark);
                    }
                }
                return;
            }
        }
        if matches!(d.read, Read::Stopped) {
            return;
        }
        self.stop(format!(
            "{len} bytes of the {} stream missing from the capture: HTTP/2 frames cannot be followed past them; parsing stopped",
            side.as_str()
        ));
    }

    /// `side`'s stream ended at `ts`; a frame cut short is noted.
    pub fn on_end(&mut self, side: Side, how: StreamEnd, _ts: Timestamp) {
        if self.finished {
            return;
        }
        let how = match how {
            StreamEnd::Fin => "FIN",
            StreamEnd::Reset => "RST",
            StreamEnd::Truncated => "the end of the capture",
        };
        let d = &mut self.dirs[side.index()];
        let partial = match &d.read {
            Read::Header { have, .. } => *have > 0,
            Read::Payload { .. } => true,
            Read::Preface { have } => *have > 0,
            Read::Stopped => false,
        };
        d.read = Read::Stopped;
        if partial {
            let note = format!("incomplete {} HTTP/2 frame at {how}", side.as_str());
            self.conn_note(note);
        }
    }

    /// Streams completed so far, in stream-id order (a stream completes when its
    /// response ended and its request was sent in full, or it was reset).
    pub fn take_transactions(&mut self) -> Vec<HttpTransaction> {
        let mut out = Vec::new();
        for id in std::mem::take(&mut self.ready) {
            if self.streams.get(&id).is_some_and(Stream::ready) {
                if let Some(s) = self.streams.remove(&id) {
                    out.push(self.record(s.ex, None));
                }
            }
        }
        out
    }

    /// Ends the connection at `conn_end`, closed by `ended_by` (side and `"fin"`
    /// or `"rst"`; `None` when the capture ended first), and returns every
    /// remaining stream. One without a complete response gets `gave_up`.
    pub fn finish(
        &mut self,
        conn_end: Timestamp,
        ended_by: Option<(Side, &'static str)>,
    ) -> Vec<HttpTransaction> {
        let mut out = self.take_transactions();
        self.finished = true;
        for d in &mut self.dirs {
            d.read = Read::Stopped;
            d.block = None;
        }
        let streams = std::mem::take(&mut self.streams);
        for (_, s) in streams {
            let ex = s.ex;
            let gave_up = if ex.resp_complete || (self.lost && ex.resp.is_none()) {
                None
            } else {
                let by = match ended_by {
                    Some((Side::Client, _)) => GaveUpBy::Client,
                    Some((Side::Server, _)) => GaveUpBy::Server,
                    None => GaveUpBy::CaptureEnd,
                };
                let from = ex.req_last.or(ex.req_first).or(ex.resp_first_any);
                Some(GaveUp {
                    by,
                    how: ended_by.map(|(_, how)| how),
                    after_ms: from.map(|m| ms(conn_end.since(m.ts))),
                })
            };
            let lost = self.lost && ex.resp.is_none() && ex.cut.is_none();
            let mut rec = self.record(ex, gave_up);
            if lost {
                push_note(
                    &mut rec.notes,
                    "response not parsed: the HTTP/2 connection could not be followed".into(),
                );
            }
            out.push(rec);
        }
        out
    }

    /// The record of a stream, its kept body bytes given back to the budget.
    fn record(&self, ex: Exchange, gave_up: Option<GaveUp>) -> HttpTransaction {
        let mut rec = ex.into_record(&self.ep, self.decrypted, gave_up);
        // HTTP/2 has no reason phrase.
        rec.reason = None;
        if let Some(b) = &self.budget {
            for d in [&rec.response_data, &rec.request_data]
                .into_iter()
                .flatten()
            {
                b.give(d.body.len());
            }
        }
        rec
    }

    /// Consumes bytes from the start of `input`; returns how many (0 only for
    /// empty input).
    fn step(&mut self, side: Side, input: &[u8], mark: ByteMark) -> usize {
        let d = &mut self.dirs[side.index()];
        match &mut d.read {
            Read::Stopped => input.len(),
            Read::Preface { have } => {
                let want = PREFACE.get(*have..).unwrap_or_default();
                let n = want.len().min(input.len());
                if input.get(..n) != want.get(..n) {
                    self.stats.protocol_errors += 1;
                    self.stop("the client did not start with the HTTP/2 connection preface: parsing stopped".into());
                    return input.len();
                }
                *have += n;
                if *have == PREFACE.len() {
                    d.read = Read::Header {
                        buf: [0; HEADER_LEN],
                        have: 0,
                        start: None,
                    };
                }
                n
            }
            Read::Header { buf, have, start } => {
                let n = (HEADER_LEN - *have).min(input.len());
                if let (Some(dst), Some(src)) = (buf.get_mut(*have..*have + n), input.get(..n)) {
                    dst.copy_from_slice(src);
                }
                if *have == 0 {
                    *start = Some(mark);
                }
                *have += n;
                if *have == HEADER_LEN {
                    let start = start.unwrap_or(mark);
                    if let Some(hdr) = FrameHeader::parse(buf) {
                        self.begin_frame(side, hdr, start, mark);
                    }
                }
                n
            }
            Read::Payload {
                hdr,
                pos,
                kept,
                pad,
                ..
            } => {
                let left = usize::try_from(hdr.len.saturating_sub(*pos)).unwrap_or(usize::MAX);
                let n = left.min(input.len());
                let chunk = input.get(..n).unwrap_or_default();
                let hdr = *hdr;
                if hdr.kind == Kind::Data {
                    let mut data = chunk;
                    let mut p = *pos;
                    if pad.is_none() {
                        // PADDED DATA: the first payload byte is the pad length.
                        if let Some((&b, rest)) = data.split_first() {
                            if u32::from(b) >= hdr.len {
                                self.stats.protocol_errors += 1;
                                self.stop(format!(
                                    "{} DATA frame on stream {} has more padding than payload: parsing stopped",
                                    side.as_str(),
                                    hdr.stream
                                ));
                                return input.len();
                            }
                            *pad = Some(b);
                            data = rest;
                            p = 1;
                        }
                    }
                    let data_end = hdr.len.saturating_sub(u32::from(pad.unwrap_or(0)));
                    let take = usize::try_from(data_end.saturating_sub(p))
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    *pos = pos.saturating_add(n as u32);
                    let done = *pos == hdr.len;
                    self.on_body(side, hdr.stream, data.get(..take).unwrap_or_default(), mark);
                    if done {
                        self.complete_frame(side, mark);
                    }
                    return n;
                }
                let room = keep_limit(&hdr).saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(chunk.get(..room).unwrap_or_default());
                *pos = pos.saturating_add(n as u32);
                if *pos == hdr.len {
                    self.complete_frame(side, mark);
                }
                n
            }
        }
    }

    /// A frame header was read: check what can be checked now, then read the payload.
    fn begin_frame(&mut self, side: Side, hdr: FrameHeader, start: ByteMark, mark: ByteMark) {
        self.stats.frames += 1;
        let who = side.as_str();
        let expecting = self.dirs[side.index()].block.as_ref().map(|b| b.stream);
        let problem = match (hdr.kind, expecting) {
            (Kind::Continuation, Some(s)) if s != hdr.stream => Some(format!(
                "{who} CONTINUATION on stream {} while a header block on stream {s} was open",
                hdr.stream
            )),
            (Kind::Continuation, None) => Some(format!(
                "{who} CONTINUATION on stream {} without a HEADERS frame before it",
                hdr.stream
            )),
            (Kind::Continuation, Some(_)) if hdr.len as usize > MAX_HEADER_BLOCK => Some(format!(
                "{who} header block larger than {} KiB",
                MAX_HEADER_BLOCK / 1024
            )),
            (Kind::Continuation, Some(_)) => None,
            (k, Some(s)) => Some(format!(
                "{who} {k:?} frame on stream {} while the header block on stream {s} awaited CONTINUATION",
                hdr.stream
            )),
            (Kind::Data | Kind::Headers | Kind::PushPromise | Kind::RstStream, None)
                if hdr.stream == 0 =>
            {
                Some(format!("{who} {:?} frame on stream 0", hdr.kind))
            }
            (Kind::PushPromise, None) if side == Side::Client => {
                Some("the client sent PUSH_PROMISE".into())
            }
            (Kind::Headers | Kind::PushPromise, None)
                if hdr.len as usize > MAX_HEADER_BLOCK + HEADERS_OVERHEAD =>
            {
                Some(format!(
                    "{who} header block larger than {} KiB",
                    MAX_HEADER_BLOCK / 1024
                ))
            }
            _ => None,
        };
        if let Some(p) = problem {
            self.stats.protocol_errors += 1;
            self.stop(format!("{p}: HTTP/2 parsing stopped"));
            return;
        }
        let unpadded = hdr.kind != Kind::Data || !hdr.has(flags::PADDED);
        self.dirs[side.index()].read = Read::Payload {
            hdr,
            start,
            pos: 0,
            kept: Vec::new(),
            pad: unpadded.then_some(0),
        };
        if hdr.len == 0 {
            self.complete_frame(side, mark);
        }
    }

    /// The current frame's payload was all read; `end` is where its last byte was.
    fn complete_frame(&mut self, side: Side, end: ByteMark) {
        let d = &mut self.dirs[side.index()];
        let read = std::mem::replace(
            &mut d.read,
            Read::Header {
                buf: [0; HEADER_LEN],
                have: 0,
                start: None,
            },
        );
        let Read::Payload {
            hdr,
            start,
            kept,
            pad,
            ..
        } = read
        else {
            d.read = read;
            return;
        };
        if hdr.kind == Kind::Data && pad.is_none() {
            // PADDED with an empty payload: no room for the pad length.
            self.stats.protocol_errors += 1;
            self.stop(format!(
                "{} DATA frame on stream {} is PADDED but empty: parsing stopped",
                side.as_str(),
                hdr.stream
            ));
            return;
        }
        match hdr.kind {
            Kind::Data => self.on_data_end(side, &hdr, end),
            Kind::Headers | Kind::PushPromise => {
                let Some((_, fragment)) = frame::block_fragment(&hdr, &kept) else {
                    self.stats.protocol_errors += 1;
                    self.stop(format!(
                        "{} {:?} frame on stream {} has more padding than payload: parsing stopped",
                        side.as_str(),
                        hdr.kind,
                        hdr.stream
                    ));
                    return;
                };
                if fragment.len() > MAX_HEADER_BLOCK {
                    self.oversize_block(side);
                    return;
                }
                let block = Block {
                    stream: hdr.stream,
                    push: hdr.kind == Kind::PushPromise,
                    end_stream: hdr.kind == Kind::Headers && hdr.has(flags::END_STREAM),
                    bytes: fragment.to_vec(),
                    start,
                };
                if hdr.has(flags::END_HEADERS) {
                    self.end_block(side, block, end);
                } else {
                    self.dirs[side.index()].block = Some(block);
                }
            }
            Kind::Continuation => {
                let Some(mut block) = self.dirs[side.index()].block.take() else {
                    return;
                };
                if block.bytes.len() + kept.len() > MAX_HEADER_BLOCK {
                    self.oversize_block(side);
                    return;
                }
                block.bytes.extend_from_slice(&kept);
                if hdr.has(flags::END_HEADERS) {
                    self.end_block(side, block, end);
                } else {
                    self.dirs[side.index()].block = Some(block);
                }
            }
            Kind::RstStream => self.on_reset(side, &hdr, &kept, end),
            Kind::Settings if !hdr.has(flags::ACK) => self.on_settings(side, &kept),
            Kind::GoAway => self.on_goaway(side, &kept, end),
            _ => {}
        }
        if self.streams.get(&hdr.stream).is_some_and(Stream::ready) {
            self.ready.insert(hdr.stream);
        }
    }

    fn oversize_block(&mut self, side: Side) {
        self.stats.protocol_errors += 1;
        self.stop(format!(
            "{} header block larger than {} KiB: HTTP/2 parsing stopped",
            side.as_str(),
            MAX_HEADER_BLOCK / 1024
        ));
    }

    /// A whole header block: decode it (always, to keep the HPACK table in
    /// step), then apply it to its stream.
    fn end_block(&mut self, side: Side, block: Block, end: ByteMark) {
        let keep = !block.push
            && match side {
                Side::Client => self.keep.request_any(),
                Side::Server => self.keep.response_any(),
            };
        let mut fields = Fields::new(keep);
        let mut seen = 0usize;
        let decoded = self.decoders[side.index()].decode_with_cb(&block.bytes, |name, value| {
            seen = seen.saturating_add(name.len() + value.len());
            if seen <= MAX_DECODED {
                fields.add(&name, &value);
            }
        });
        if let Err(e) = decoded {
            self.stats.hpack_errors += 1;
            self.stop(format!(
                "HPACK decoding of a {} header block on stream {} failed ({e}): HTTP/2 parsing stopped",
                side.as_str(),
                block.stream
            ));
            return;
        }
        let too_big = seen > MAX_DECODED;
        if block.push {
            self.stats.pushes += 1;
            return;
        }
        let id = block.stream;
        match side {
            Side::Client => self.on_request(block, fields, end),
            Side::Server => self.on_response(block, fields, end),
        }
        if too_big {
            if let Some(s) = self.streams.get_mut(&id) {
                push_note(
                    &mut s.ex.notes,
                    format!(
                        "{} header block decoded to more than {} KiB: later fields ignored",
                        side.as_str(),
                        MAX_DECODED / 1024
                    ),
                );
            }
        }
    }

    fn over_limit(&mut self) {
        self.stats.streams_over_limit += 1;
        self.conn_note(format!(
            "more than {MAX_STREAMS} open streams: later streams not reported"
        ));
    }

    /// Stops all parsing (the HPACK state or framing can no longer be trusted),
    /// noting why on the connection and every open stream.
    fn stop(&mut self, note: String) {
        self.lost = true;
        for d in &mut self.dirs {
            d.read = Read::Stopped;
            d.block = None;
        }
        for s in self.streams.values_mut() {
            if !s.ex.resp_done {
                push_note(&mut s.ex.notes, note.clone());
            }
        }
        self.conn_note(note);
    }

    fn conn_note(&mut self, note: String) {
        if self.notes.len() < MAX_CONN_NOTES && !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

/// The bytes of a non-DATA payload worth keeping.
fn keep_limit(hdr: &FrameHeader) -> usize {
    match hdr.kind {
        Kind::Headers | Kind::PushPromise | Kind::Continuation => {
            MAX_HEADER_BLOCK + HEADERS_OVERHEAD
        }
        Kind::Settings => MAX_SETTINGS,
        Kind::RstStream | Kind::GoAway => 8,
        _ => 0,
    }
}
