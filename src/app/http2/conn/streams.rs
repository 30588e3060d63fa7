//! What frames do to streams: header blocks open streams and answer them, DATA
//! counts bodies, RST_STREAM and GOAWAY end them, SETTINGS size the HPACK tables.

use super::*;
use crate::app::http2::MAX_TABLE_SIZE;

/// One stream: the HTTP/1.x exchange record it fills, and how it ended.
#[derive(Debug, Default)]
pub(super) struct Stream {
    pub(super) ex: Exchange,
    /// Ended by RST_STREAM or GOAWAY: nothing more will come.
    pub(super) closed: bool,
}

impl Stream {
    pub(super) fn ready(&self) -> bool {
        self.ex.resp_done && (self.ex.req_done || self.closed)
    }
}

impl H2Conn {
    pub(super) fn on_request(&mut self, block: Block, f: Fields, end: ByteMark) {
        let id = block.stream;
        if id.is_multiple_of(2) {
            return;
        }
        if let Some(s) = self.streams.get_mut(&id) {
            // Trailers.
            s.ex.req_last = Some(end);
            if block.end_stream {
                s.ex.req_done = true;
            }
            return;
        }
        if id <= self.max_stream {
            // A stream already reported (or never tracked).
            return;
        }
        self.max_stream = id;
        self.stats.requests += 1;
        if self.streams.len() >= MAX_STREAMS {
            self.over_limit();
            return;
        }
        let method = f.method.unwrap_or_default();
        let path = match f.path {
            Some(p) => p,
            None if method.eq_ignore_ascii_case("CONNECT") => {
                f.authority.clone().unwrap_or_default()
            }
            None => String::new(),
        };
        let mut ex = Exchange {
            req: Some(RequestHead {
                method,
                path,
                version: VERSION,
                host: f.authority.or(f.host),
                content_type: f.content_type,
                framing: Framing::default(),
                meta: Default::default(),
                kept: None,
            }),
            req_data: self.keep.request_any().then(|| {
                let mut data = ResponseData::new(self.keep.request_body);
                data.keep_fields(f.kept.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
                Box::new(data)
            }),
            req_first: Some(block.start),
            req_last: Some(end),
            req_done: block.end_stream,
            depth: self.stats.requests,
            ..Exchange::default()
        };
        let mut closed = false;
        if let Some(last) = self.goaway.filter(|&l| id > l) {
            give_up_goaway(&mut ex, last, end);
            closed = true;
        }
        self.streams.insert(id, Stream { ex, closed });
    }

    pub(super) fn on_response(&mut self, block: Block, f: Fields, end: ByteMark) {
        let id = block.stream;
        if id.is_multiple_of(2) {
            return;
        }
        if !self.streams.contains_key(&id) {
            if id <= self.max_stream {
                return;
            }
            self.max_stream = id;
            if self.streams.len() >= MAX_STREAMS {
                self.over_limit();
                return;
            }
            let ex = Exchange {
                req_done: true,
                notes: vec![
                    "response without a request in the capture (capture started mid-connection?)"
                        .into(),
                ],
                ..Exchange::default()
            };
            self.streams.insert(id, Stream { ex, closed: false });
        }
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        let ex = &mut s.ex;
        if ex.resp.is_some() {
            // Trailers.
            ex.resp_last = Some(end);
            if block.end_stream {
                ex.resp_done = true;
                ex.resp_complete = true;
            }
            return;
        }
        let Some(status) = f.status_code() else {
            push_note(
                &mut ex.notes,
                "response HEADERS without a valid :status: ignored".into(),
            );
            return;
        };
        ex.resp_first_any.get_or_insert(block.start);
        if (100..200).contains(&status) {
            self.stats.informational += 1;
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
        self.stats.responses += 1;
        ex.resp_first = Some(block.start);
        ex.resp_last = Some(end);
        if self.keep.response_any() {
            let mut data = ResponseData::new(self.keep.body);
            data.keep_fields(f.kept.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
            ex.resp_data = Some(Box::new(data));
        }
        ex.resp = Some(ResponseHead {
            status,
            reason: String::new(),
            version: VERSION,
            content_type: f.content_type,
            framing: Framing::default(),
            header_names: Default::default(),
            kept: None,
        });
        if block.end_stream {
            ex.resp_done = true;
            ex.resp_complete = true;
        }
    }

    /// DATA payload bytes of `stream` from `side`.
    pub(super) fn on_body(&mut self, side: Side, stream: u32, data: &[u8], mark: ByteMark) {
        let Some(ex) = self.streams.get_mut(&stream).map(|s| &mut s.ex) else {
            return;
        };
        let n = data.len() as u64;
        match side {
            Side::Client => {
                ex.req_body += n;
                ex.req_last = Some(mark);
                if self.keep.request_body {
                    if let Some(d) = ex.req_data.as_deref_mut() {
                        d.push_body(data, self.budget.as_ref());
                    }
                }
            }
            Side::Server => {
                ex.resp_body += n;
                ex.resp_last = Some(mark);
                if self.keep.body {
                    if let Some(d) = ex.resp_data.as_deref_mut() {
                        d.push_body(data, self.budget.as_ref());
                    }
                }
            }
        }
    }

    pub(super) fn on_data_end(&mut self, side: Side, hdr: &FrameHeader, end: ByteMark) {
        let Some(s) = self.streams.get_mut(&hdr.stream) else {
            return;
        };
        let ex = &mut s.ex;
        let end_stream = hdr.has(flags::END_STREAM);
        match side {
            Side::Client => {
                ex.req_last = Some(end);
                if end_stream {
                    ex.req_done = true;
                }
            }
            Side::Server => {
                ex.resp_last = Some(end);
                if end_stream && !ex.resp_done {
                    ex.resp_done = true;
                    ex.resp_complete = ex.resp.is_some();
                }
            }
        }
    }

    pub(super) fn on_reset(
        &mut self,
        side: Side,
        hdr: &FrameHeader,
        payload: &[u8],
        end: ByteMark,
    ) {
        self.stats.resets += 1;
        let code = frame::u32_at(payload, 0).unwrap_or(0);
        let Some(s) = self.streams.get_mut(&hdr.stream) else {
            return;
        };
        let ex = &mut s.ex;
        if ex.resp_complete && ex.req_done {
            return;
        }
        s.closed = true;
        push_note(
            &mut ex.notes,
            format!(
                "stream reset by the {}: RST_STREAM {}",
                side.as_str(),
                frame::error_name(code)
            ),
        );
        if ex.resp_complete {
            // The server answered and stopped the upload (RFC 9113 §8.1).
            return;
        }
        ex.resp_done = true;
        let from = ex.req_last.or(ex.req_first).or(ex.resp_first_any);
        ex.cut = Some(GaveUp {
            by: match side {
                Side::Client => GaveUpBy::Client,
                Side::Server => GaveUpBy::Server,
            },
            how: Some("rst_stream"),
            after_ms: from.map(|m| ms(end.ts.since(m.ts))),
        });
    }

    /// SETTINGS from `side`: a header table size bounds the peer's encoder, so
    /// the decoder of the other direction.
    pub(super) fn on_settings(&mut self, side: Side, payload: &[u8]) {
        for entry in payload.chunks_exact(6) {
            let (Some(&[a, b]), Some(value)) = (entry.get(..2), frame::u32_at(entry, 2)) else {
                continue;
            };
            if u16::from_be_bytes([a, b]) == 1 {
                let size = usize::try_from(value)
                    .unwrap_or(usize::MAX)
                    .clamp(DEFAULT_TABLE_SIZE, MAX_TABLE_SIZE);
                let other = side.peer().index();
                if let Some(d) = self.decoders.get_mut(other) {
                    d.set_max_allowed_table_size(size);
                }
            }
        }
    }

    pub(super) fn on_goaway(&mut self, side: Side, payload: &[u8], end: ByteMark) {
        self.stats.goaways += 1;
        let last = frame::u32_at(payload, 0)
            .map(|l| l & 0x7fff_ffff)
            .unwrap_or(0);
        let code = frame::error_name(frame::u32_at(payload, 4).unwrap_or(0));
        self.conn_note(format!(
            "the {} sent GOAWAY {code}, last stream {last}",
            side.as_str()
        ));
        if side != Side::Server {
            return;
        }
        let last = self.goaway.map_or(last, |g| g.min(last));
        self.goaway = Some(last);
        for (&id, s) in self.streams.range_mut(last.saturating_add(1)..) {
            if !s.ex.resp_done {
                give_up_goaway(&mut s.ex, last, end);
                s.closed = true;
                self.ready.insert(id);
            }
        }
    }
}

/// Marks a stream the server's GOAWAY (last stream `last`) says it never processed.
fn give_up_goaway(ex: &mut Exchange, last: u32, end: ByteMark) {
    push_note(
        &mut ex.notes,
        format!("the server's GOAWAY (last stream {last}) says this stream was never processed"),
    );
    ex.resp_done = true;
    let from = ex.req_last.or(ex.req_first);
    ex.cut = Some(GaveUp {
        by: GaveUpBy::Server,
        how: Some("goaway"),
        after_ms: from.map(|m| ms(end.ts.since(m.ts))),
    });
}
