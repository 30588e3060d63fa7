//! The per-connection state machine: two directions, each idle → head → body,
//! and a first-in first-out queue of exchanges pairing requests with responses.

use std::collections::VecDeque;

use super::capture::{BodyBudget, KeepConfig};
use super::exchange::{ms, push_note, Exchange, HTTP09};
use super::framing::Body;
use super::head::{
    self, find_head_end, Head, Length, Parsed, RequestHead, ResponseHead, MAX_HEAD_BYTES,
};
use super::resync::{next_message, MAX_RESYNC_SCAN};
use super::tunnel::Tunnel;
use super::{ByteMark, GaveUp, GaveUpBy, HttpStats, HttpTransaction};
use crate::app::tls::TlsRecord;
use crate::app::{Endpoints, Origin, StreamCursor};
use crate::base::Side;
use crate::base::Timestamp;
use crate::flow::reassembly::StreamEnd;

/// Most requests waiting for their responses (pipelining depth) on one connection.
const MAX_PENDING: usize = 1024;
/// Most 1xx codes listed per transaction.
const MAX_INFORMATIONAL: usize = 16;

#[derive(Debug)]
enum Phase {
    /// Between messages (CR/LF tolerated).
    Idle,
    /// Buffering a head.
    Head,
    /// Counting a body.
    Body(Body),
    /// Parsing ended (error, end of stream, or after finish).
    Stopped,
    /// After a gap where a head should be: looking for the next message
    /// (`resync.rs`); `scanned` bytes so far.
    Resync { scanned: u64 },
    /// The connection switched protocols: bytes go to the CONNECT tunnel,
    /// if there is one, else are ignored (101).
    Tunnel,
}

#[derive(Debug)]
struct Dir {
    phase: Phase,
    buf: Vec<u8>,
    scanned: usize,
    head_start: Option<ByteMark>,
    cursor: StreamCursor,
    /// The exchange this direction is writing a body for.
    current: Option<u64>,
    /// Parsing stopped on an error of ours (not on the stream's end).
    lost: bool,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            phase: Phase::Idle,
            buf: Vec::new(),
            scanned: 0,
            head_start: None,
            cursor: StreamCursor::default(),
            current: None,
            lost: false,
        }
    }
}

/// HTTP/1.x parser for one TCP connection (see the module doc).
#[derive(Debug)]
pub struct HttpConn {
    ep: Endpoints,
    decrypted: bool,
    dirs: [Dir; 2],
    exchanges: VecDeque<Exchange>,
    /// Sequence number of `exchanges[0]`.
    base: u64,
    stats: HttpStats,
    notes: Vec<String>,
    finished: bool,
    /// What of each response to keep for `--expect` rules.
    keep: KeepConfig,
    /// The analysis-wide allowance for kept bodies.
    budget: Option<BodyBudget>,
    /// After a 2xx to CONNECT: the tunnel's streams, parsed again.
    tunnel: Option<Box<Tunnel>>,
    /// How many CONNECT tunnels this connection is inside.
    nesting: u8,
    /// Per direction: parsing resumed after a gap (later records are marked).
    resynced: [bool; 2],
}

impl HttpConn {
    /// A parser for the connection `ep`; `decrypted` marks bytes from a decrypted
    /// TLS stream and is copied into every record.
    pub fn new(ep: Endpoints, decrypted: bool) -> HttpConn {
        HttpConn::with_keep(ep, decrypted, KeepConfig::default(), None)
    }

    /// A parser that also keeps what `keep` asks of each final response (header
    /// fields, body prefix; bounded), drawing body bytes from `budget` and giving
    /// them back as records leave.
    pub fn with_keep(
        ep: Endpoints,
        decrypted: bool,
        keep: KeepConfig,
        budget: Option<BodyBudget>,
    ) -> HttpConn {
        HttpConn {
            ep,
            decrypted,
            dirs: [Dir::new(), Dir::new()],
            exchanges: VecDeque::new(),
            base: 0,
            stats: HttpStats::default(),
            notes: Vec::new(),
            finished: false,
            keep,
            budget,
            tunnel: None,
            nesting: 0,
            resynced: [false, false],
        }
    }

    /// Marks this parser as running inside `level` CONNECT tunnels (bounds
    /// the nesting of tunnels).
    pub(crate) fn set_nesting(&mut self, level: u8) {
        self.nesting = level;
    }

    /// The TLS handshake seen inside this connection's CONNECT tunnel, given
    /// when each side closed (`None` without a tunnel or TLS in it).
    pub fn tunnel_tls(
        &mut self,
        end: Timestamp,
        client_closed: Option<Timestamp>,
        server_closed: Option<Timestamp>,
    ) -> Option<TlsRecord> {
        self.tunnel.as_mut()?.tls(end, client_closed, server_closed)
    }

    /// Gives a leaving record's kept body bytes back to the budget.
    fn release(&self, rec: &HttpTransaction) {
        if let Some(b) = &self.budget {
            for d in [&rec.response_data, &rec.request_data]
                .into_iter()
                .flatten()
            {
                b.give(d.body.len());
            }
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> HttpStats {
        self.stats
    }

    /// Connection-level notes (parse errors that stopped a direction), bounded.
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
        let mark = ByteMark {
            frame: origin.frame,
            ts: origin.ts,
        };
        while !bytes.is_empty() {
            let used = self.step(side, bytes, mark);
            if used == 0 {
                break;
            }
            bytes = bytes.get(used..).unwrap_or_default();
        }
    }

    /// `len` bytes at `offset` that `side` sent are missing from the capture.
    pub fn on_gap(&mut self, side: Side, offset: u64, len: u64) {
        if self.finished || len == 0 {
            return;
        }
        let d = &mut self.dirs[side.index()];
        d.cursor.skip(offset, len);
        let what = side_noun(side);
        match &mut d.phase {
            Phase::Tunnel => {
                if let Some(t) = self.tunnel.as_mut() {
                    t.on_gap(side, len);
                }
            }
            Phase::Stopped => {}
            Phase::Resync { .. } => {}
            Phase::Idle | Phase::Head => {
                self.stats.head_gaps += 1;
                let lost_head = true;
                self.resync(
                    side,
                    format!("{len} bytes of the {what} stream missing at a message head"),
                    lost_head,
                );
            }
            Phase::Body(body) => match body.skip(len) {
                Ok(n) => {
                    let done = body.is_done();
                    self.stats.missing_body_bytes += n;
                    if let Some(ex) = self.current_mut(side) {
                        match side {
                            Side::Client => {
                                ex.req_body += n;
                                ex.req_missing += n;
                                if let Some(d) = ex.req_data.as_deref_mut() {
                                    d.gap(n);
                                }
                            }
                            Side::Server => {
                                ex.resp_body += n;
                                ex.resp_missing += n;
                                if let Some(d) = ex.resp_data.as_deref_mut() {
                                    d.gap(n);
                                }
                            }
                        }
                        push_note(
                            &mut ex.notes,
                            format!("{n} {what} body bytes missing from the capture"),
                        );
                    }
                    if done {
                        self.body_done(side, true);
                    }
                }
                Err(e) => {
                    self.stats.head_gaps += 1;
                    self.resync(side, format!("{len} {what} bytes missing: {e}"), false);
                }
            },
        }
    }

    /// `side`'s stream ended at `ts`: a close-delimited response ends here;
    /// anything else unfinished is noted as cut short.
    pub fn on_end(&mut self, side: Side, how: StreamEnd, ts: Timestamp) {
        if self.finished {
            return;
        }
        let what = side_noun(side);
        let how_s = match how {
            StreamEnd::Fin => "FIN",
            StreamEnd::Reset => "RST",
            StreamEnd::Truncated => "the end of the capture",
        };
        if let Some(t) = self.tunnel.as_mut() {
            t.on_end(side, how, ts);
        }
        let d = &mut self.dirs[side.index()];
        let phase = std::mem::replace(&mut d.phase, Phase::Stopped);
        let had_head_bytes = !d.buf.is_empty();
        d.buf = Vec::new();
        match phase {
            Phase::Body(mut body) if body.is_close_delimited() => {
                body.close();
                self.body_done(side, how == StreamEnd::Fin);
                if how != StreamEnd::Fin {
                    if let Some(ex) = self.exchanges.iter_mut().rev().find(|e| e.resp_done) {
                        push_note(&mut ex.notes, format!("close-delimited response body ended by {how_s}: it may be incomplete"));
                        let from = ex.req_last.or(ex.resp_first_any);
                        ex.cut = Some(GaveUp {
                            by: if how == StreamEnd::Reset {
                                GaveUpBy::Server
                            } else {
                                GaveUpBy::CaptureEnd
                            },
                            how: (how == StreamEnd::Reset).then_some("rst"),
                            after_ms: from.map(|m| ms(ts.since(m.ts))),
                        });
                    }
                }
            }
            Phase::Body(body) => {
                let left = body
                    .fixed_left()
                    .map(|n| format!(" ({n} bytes short)"))
                    .unwrap_or_default();
                if let Some(ex) = self.current_mut(side) {
                    push_note(
                        &mut ex.notes,
                        format!("{what} body cut short by {how_s}{left}"),
                    );
                }
                self.dirs[side.index()].current = None;
            }
            Phase::Head if had_head_bytes => {
                let note = format!("incomplete {what} head at {how_s}");
                if side == Side::Server {
                    if let Some(ex) = self.exchanges.iter_mut().find(|e| !e.resp_done) {
                        push_note(&mut ex.notes, note.clone());
                    }
                }
                self.conn_note(note);
            }
            _ => {}
        }
    }

    /// Completed transactions, in request order (a transaction completes when its
    /// response is done and its request was sent in full or can grow no more).
    pub fn take_transactions(&mut self) -> Vec<HttpTransaction> {
        let mut out = Vec::new();
        while let Some(front) = self.exchanges.front() {
            let writing = self.dirs[0].current == Some(self.base);
            if !front.resp_done || writing {
                break;
            }
            if let Some(ex) = self.exchanges.pop_front() {
                self.base += 1;
                let rec = ex.into_record(&self.ep, self.decrypted, None);
                self.release(&rec);
                out.push(rec);
            }
        }
        if self.exchanges.is_empty() {
            if let Some(t) = self.tunnel.as_mut() {
                out.extend(t.take_transactions());
            }
        }
        out
    }

    /// Ends the connection at `conn_end`, closed by `ended_by` (side and `"fin"` or
    /// `"rst"`; `None` when the capture ended first), and returns every remaining
    /// transaction. A request without a complete response gets `gave_up`.
    pub fn finish(
        &mut self,
        conn_end: Timestamp,
        ended_by: Option<(Side, &'static str)>,
    ) -> Vec<HttpTransaction> {
        let mut out = self.take_transactions();
        self.finished = true;
        for d in &mut self.dirs {
            d.phase = Phase::Stopped;
            d.buf = Vec::new();
            d.current = None;
        }
        let server_lost = self.dirs[1].lost;
        while let Some(ex) = self.exchanges.pop_front() {
            self.base += 1;
            let gave_up = if ex.resp_complete || (server_lost && ex.resp.is_none()) {
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
            let mut rec = ex.into_record(&self.ep, self.decrypted, gave_up);
            self.release(&rec);
            if server_lost && rec.status.is_none() {
                push_note(
                    &mut rec.notes,
                    "response not parsed: the server stream could not be followed".into(),
                );
            }
            out.push(rec);
        }
        if let Some(t) = self.tunnel.as_mut() {
            out.extend(t.finish(conn_end, ended_by));
        }
        out
    }

    /// Consumes bytes from the start of `input` in `side`'s current phase; returns
    /// how many (0 only for empty input).
    fn step(&mut self, side: Side, input: &[u8], mark: ByteMark) -> usize {
        if side == Side::Server && matches!(self.dirs[1].phase, Phase::Idle) && self.awaits_http09()
        {
            self.start_http09_response(mark);
        }
        let d = &mut self.dirs[side.index()];
        match &mut d.phase {
            Phase::Tunnel => {
                if let Some(t) = self.tunnel.as_mut() {
                    t.on_data(side, input, mark.frame, mark.ts);
                }
                input.len()
            }
            Phase::Stopped => input.len(),
            // A delivery's first byte counts as a line start: messages
            // begin segments far more often than bodies hold status lines.
            Phase::Resync { scanned } => match next_message(side, input, true) {
                Some(at) => {
                    d.phase = Phase::Idle;
                    if at == 0 {
                        return self.step(side, input, mark);
                    }
                    at
                }
                None => {
                    *scanned = scanned.saturating_add(input.len() as u64);
                    if *scanned > MAX_RESYNC_SCAN {
                        let what = side_noun(side);
                        self.stop(
                            side,
                            format!(
                                "no {what} line within {} KiB after a gap: {what} parsing stopped",
                                MAX_RESYNC_SCAN / 1024
                            ),
                        );
                    }
                    input.len()
                }
            },
            Phase::Idle => {
                let blank = input
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                if blank < input.len() {
                    d.phase = Phase::Head;
                    d.head_start = Some(mark);
                }
                if blank == input.len() {
                    return blank;
                }
                blank + self.head_step(side, input.get(blank..).unwrap_or_default(), mark)
            }
            Phase::Head => self.head_step(side, input, mark),
            Phase::Body(body) => {
                // Keep the body's payload when asked (and budgeted).
                let wanted = match side {
                    Side::Client => self.keep.request_body,
                    Side::Server => self.keep.body,
                };
                let keeping = if wanted {
                    d.current
                        .and_then(|s| s.checked_sub(self.base))
                        .and_then(|i| self.exchanges.get_mut(usize::try_from(i).ok()?))
                        .and_then(|ex| match side {
                            Side::Client => ex.req_data.as_deref_mut(),
                            Side::Server => ex.resp_data.as_deref_mut(),
                        })
                } else {
                    None
                };
                let fed = match keeping {
                    Some(data) => {
                        let budget = self.budget.as_ref();
                        body.feed_with(input, |p| {
                            data.push_body(p, budget);
                        })
                    }
                    None => body.feed(input),
                };
                let done = body.is_done();
                match fed {
                    Ok(fed) => {
                        if let Some(ex) = self.current_mut(side) {
                            match side {
                                Side::Client => {
                                    ex.req_body += fed.payload;
                                    ex.req_last = Some(mark);
                                }
                                Side::Server => {
                                    ex.resp_body += fed.payload;
                                    ex.resp_last = Some(mark);
                                }
                            }
                        }
                        if done {
                            self.body_done(side, true);
                        }
                        fed.consumed
                    }
                    Err(e) => {
                        self.stats.framing_errors += 1;
                        let what = side_noun(side);
                        self.stop(side, format!("{what} body framing lost: {e}"));
                        input.len()
                    }
                }
            }
        }
    }

    fn head_step(&mut self, side: Side, input: &[u8], mark: ByteMark) -> usize {
        let d = &mut self.dirs[side.index()];
        let old = d.buf.len();
        let what = side_noun(side);
        // The usual case, a whole head in one segment, is parsed where it
        // lies: no copy of the segment (and the body after the head).
        let direct = old == 0 && input.len() <= MAX_HEAD_BYTES && find_head_end(input, 0).is_some();
        let take = input.len().min(MAX_HEAD_BYTES.saturating_sub(old));
        if !direct {
            d.buf
                .extend_from_slice(input.get(..take).unwrap_or_default());
        }
        let bytes = if direct { input } else { &d.buf[..] };
        // A request line without a version (HTTP/0.9) ends the head itself.
        let http09 = match side {
            Side::Client => head::parse_http09_request(bytes),
            Side::Server => None,
        };
        let parsed = match http09 {
            Some((h, n)) => Parsed::Done(Head::Request(h), n),
            None if direct || find_head_end(&d.buf, d.scanned).is_some() => match side {
                Side::Client => head::parse_request_keeping(bytes, self.keep).map(Head::Request),
                Side::Server => head::parse_response_keeping(bytes, self.keep).map(Head::Response),
            },
            None => Parsed::Partial,
        };
        match parsed {
            Parsed::Done(h, n) => {
                let Some(used) = n.checked_sub(old).filter(|&u| u > 0) else {
                    self.stats.malformed_heads += 1;
                    self.stop(side, format!("{what} head ends before the bytes last seen"));
                    return input.len();
                };
                d.buf.clear();
                d.scanned = 0;
                d.phase = Phase::Idle;
                let start = d.head_start.take().unwrap_or(mark);
                match h {
                    Head::Request(r) => self.on_request(r, start, mark),
                    Head::Response(r) => self.on_response(r, start, mark),
                }
                return used;
            }
            Parsed::Invalid(e) => {
                self.stats.malformed_heads += 1;
                self.stop(side, e);
                return input.len();
            }
            Parsed::Partial => {}
        }
        let d = &mut self.dirs[side.index()];
        if direct {
            // Not a whole head after all: buffered as any partial head.
            d.buf
                .extend_from_slice(input.get(..take).unwrap_or_default());
        }
        d.scanned = d.buf.len();
        if d.buf.len() >= MAX_HEAD_BYTES {
            self.stats.oversize_heads += 1;
            self.stop(
                side,
                format!(
                    "{what} head larger than {} KiB: {what} parsing stopped",
                    MAX_HEAD_BYTES / 1024
                ),
            );
            return input.len();
        }
        take
    }

    fn on_request(&mut self, mut r: RequestHead, start: ByteMark, end: ByteMark) {
        self.stats.requests += 1;
        if self.exchanges.len() >= MAX_PENDING {
            self.stop(
                Side::Client,
                format!(
                    "more than {MAX_PENDING} requests without responses: client parsing stopped"
                ),
            );
            return;
        }
        let length = head::request_length(&r.framing);
        let seq = self.base + self.exchanges.len() as u64;
        let cl_note = r.framing.content_length_note;
        let mut ex = Exchange {
            depth: seq + 1,
            http09: r.version == HTTP09,
            resynced: self.resynced[0],
            notes: cl_note
                .map(|n| vec![format!("request {n}")])
                .unwrap_or_default(),
            req_first: Some(start),
            req_last: Some(end),
            req_chunked: length == Ok(Length::Chunked),
            req_data: r.kept.take(),
            req: Some(r),
            ..Exchange::default()
        };
        match length {
            Err(e) => {
                self.stats.framing_errors += 1;
                push_note(&mut ex.notes, e.to_string());
                self.exchanges.push_back(ex);
                self.stop(Side::Client, e.to_string());
            }
            Ok(len) => {
                let body = Body::new(len);
                ex.req_done = body.is_done();
                self.exchanges.push_back(ex);
                if !body.is_done() {
                    let d = &mut self.dirs[0];
                    d.phase = Phase::Body(body);
                    d.current = Some(seq);
                }
            }
        }
    }

    fn on_response(&mut self, mut r: ResponseHead, start: ByteMark, end: ByteMark) {
        let pos = match self.exchanges.iter().position(|e| !e.resp_done) {
            Some(p) => p,
            None => {
                if self.exchanges.len() >= MAX_PENDING {
                    self.stop(
                        Side::Server,
                        "too many unpaired responses: server parsing stopped".into(),
                    );
                    return;
                }
                self.stats.unpaired_responses += 1;
                let depth = self.base + self.exchanges.len() as u64 + 1;
                self.exchanges.push_back(Exchange {
                    depth,
                    req_done: true,
                    notes: vec!["response without a request in the capture (capture started mid-connection?)".into()],
                    ..Exchange::default()
                });
                self.exchanges.len() - 1
            }
        };
        let seq = self.base + pos as u64;
        let status = r.status;
        let informational = (100..200).contains(&status) && status != 101;
        if informational {
            self.stats.informational += 1;
        } else {
            self.stats.responses += 1;
        }
        let Some(ex) = self.exchanges.get_mut(pos) else {
            return;
        };
        ex.resp_first_any.get_or_insert(start);
        if informational {
            ex.info_msg = Some(r.reason);
            if ex.informational.len() < MAX_INFORMATIONAL {
                ex.informational.push(status);
            } else {
                push_note(
                    &mut ex.notes,
                    format!("more than {MAX_INFORMATIONAL} 1xx responses: later ones not listed"),
                );
            }
            return;
        }
        ex.resp_first = Some(start);
        ex.resp_last = Some(end);
        ex.resynced |= self.resynced[1];
        let method = ex.req.as_ref().map(|q| q.method.as_str());
        let tunnel = status == 101
            || (method.is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"))
                && (200..300).contains(&status));
        let (length, note) = head::response_length(method, status, &r.framing);
        ex.resp_data = r.kept.take();
        ex.resp = Some(r);
        if let Some(n) = note {
            push_note(&mut ex.notes, n.to_string());
        }
        if tunnel {
            ex.resp_done = true;
            ex.resp_complete = true;
            let connect = status != 101;
            push_note(
                &mut ex.notes,
                if connect {
                    "CONNECT tunnel: later bytes parsed as their own protocol (TLS, HTTP)"
                } else {
                    "connection switched protocols (101): later bytes not parsed as HTTP/1"
                }
                .into(),
            );
            if connect {
                self.tunnel = Some(Box::new(Tunnel::new(
                    self.ep,
                    self.nesting.saturating_add(1),
                    self.keep,
                    self.budget.clone(),
                    seq + 1,
                )));
            }
            for d in &mut self.dirs {
                d.phase = Phase::Tunnel;
                d.buf = Vec::new();
            }
            self.dirs[0].current = None;
            return;
        }
        ex.resp_chunked = length == Length::Chunked;
        let body = Body::new(length);
        if body.is_done() {
            ex.resp_done = true;
            ex.resp_complete = true;
        } else {
            let d = &mut self.dirs[1];
            d.phase = Phase::Body(body);
            d.current = Some(seq);
        }
    }

    /// A gap fell where `side`'s next head (`lost_head`) or a chunk's framing
    /// should be: the message it hit is noted and ended, and `side` looks for
    /// its next message (`resync.rs`). A lost request head leaves a request
    /// without fields in its place, so the response to it pairs with it; a
    /// lost response head ends the oldest outstanding exchange's response.
    fn resync(&mut self, side: Side, note: String, lost_head: bool) {
        let what = side_noun(side);
        let note = format!("{note}: {what} parsing resumed at the next {what} line");
        match side {
            Side::Client => {
                if let Some(ex) = self.current_mut(side) {
                    ex.req_done = true;
                    ex.resynced = true;
                    push_note(&mut ex.notes, note.clone());
                }
                if lost_head && self.exchanges.len() < MAX_PENDING {
                    let depth = self.base + self.exchanges.len() as u64 + 1;
                    self.exchanges.push_back(Exchange {
                        depth,
                        req_done: true,
                        resynced: true,
                        notes: vec![format!("{note}; the request was lost in the gap")],
                        ..Exchange::default()
                    });
                }
            }
            Side::Server => {
                let current = self.dirs[1].current;
                let base = self.base;
                if let Some(ex) = self
                    .exchanges
                    .iter_mut()
                    .enumerate()
                    .find(|(i, e)| !e.resp_done || current == Some(base + *i as u64))
                    .map(|(_, e)| e)
                {
                    ex.resp_done = true;
                    ex.resynced = true;
                    push_note(&mut ex.notes, note.clone());
                }
            }
        }
        self.conn_note(note);
        self.resynced[side.index()] = true;
        let d = &mut self.dirs[side.index()];
        d.phase = Phase::Resync { scanned: 0 };
        d.buf = Vec::new();
        d.scanned = 0;
        d.head_start = None;
        d.current = None;
    }

    /// True when the oldest request awaiting its response had no version
    /// (HTTP/0.9): the server's next bytes are that response's body.
    fn awaits_http09(&self) -> bool {
        self.exchanges
            .iter()
            .find(|e| !e.resp_done)
            .is_some_and(|e| e.http09 && e.resp.is_none())
    }

    /// The raw response to an HTTP/0.9 request starts at `mark`: no status
    /// line, no headers, the body until the server closes (as Zeek does).
    fn start_http09_response(&mut self, mark: ByteMark) {
        let Some(pos) = self.exchanges.iter().position(|e| !e.resp_done) else {
            return;
        };
        let seq = self.base + pos as u64;
        self.stats.responses += 1;
        let Some(ex) = self.exchanges.get_mut(pos) else {
            return;
        };
        ex.resp_first_any = Some(mark);
        ex.resp_first = Some(mark);
        ex.resp_last = Some(mark);
        ex.resp = Some(head::http09_response());
        let d = &mut self.dirs[1];
        d.phase = Phase::Body(Body::new(Length::Close));
        d.current = Some(seq);
    }

    /// `side`'s current body ended (`complete`: at its framed end).
    fn body_done(&mut self, side: Side, complete: bool) {
        let d = &mut self.dirs[side.index()];
        if matches!(d.phase, Phase::Body(_)) {
            d.phase = Phase::Idle;
        }
        let cur = d.current.take();
        let Some(ex) = cur.and_then(|s| s.checked_sub(self.base)).and_then(|i| {
            self.exchanges
                .get_mut(usize::try_from(i).unwrap_or(usize::MAX))
        }) else {
            return;
        };
        match side {
            Side::Client => ex.req_done = true,
            Side::Server => {
                ex.resp_done = true;
                ex.resp_complete = complete;
            }
        }
    }

    fn current_mut(&mut self, side: Side) -> Option<&mut Exchange> {
        let i = self.dirs[side.index()].current?.checked_sub(self.base)?;
        self.exchanges.get_mut(usize::try_from(i).ok()?)
    }

    /// Stops parsing `side` for a reason of ours, noting why on the affected
    /// exchange and the connection.
    fn stop(&mut self, side: Side, note: String) {
        let target = match side {
            Side::Client => self.current_mut(side).map(|e| &mut e.notes),
            Side::Server => self
                .exchanges
                .iter_mut()
                .find(|e| !e.resp_done)
                .map(|e| &mut e.notes),
        };
        if let Some(notes) = target {
            push_note(notes, note.clone());
        }
        let d = &mut self.dirs[side.index()];
        d.phase = Phase::Stopped;
        d.lost = true;
        d.buf = Vec::new();
        d.current = None;
        self.conn_note(note);
    }

    fn conn_note(&mut self, note: String) {
        push_note(&mut self.notes, note);
    }
}

fn side_noun(side: Side) -> &'static str {
    match side {
        Side::Client => "request",
        Side::Server => "response",
    }
}
