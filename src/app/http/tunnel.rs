//! The bytes after a successful CONNECT: both streams handed to protocol
//! detection again, as Zeek hands them to its PIA. The client's first tunnel
//! bytes decide: a TLS record header gives a TLS handshake record (and
//! ssl.log row) on the same connection; an HTTP/1.x request line another
//! [`HttpConn`] (whose records join the connection's); anything else, or a
//! server that speaks first, is only counted.
//!
//! TLS inside a tunnel is analysed without keys (the handshake, not the
//! decrypted data). Tunnels inside tunnels are followed up to
//! [`MAX_NESTING`] levels, so crafted input cannot recurse without bound.

use super::capture::{BodyBudget, KeepConfig};
use super::{looks_like_http_request, HttpConn, HttpTransaction};
use crate::app::tls::{looks_like_tls, TlsConn, TlsRecord};
use crate::app::{Endpoints, Origin};
use crate::base::{Side, Timestamp};
use crate::flow::reassembly::StreamEnd;

/// Most CONNECT tunnels followed inside one another.
pub const MAX_NESTING: u8 = 4;

#[derive(Debug)]
enum Inside {
    /// No client byte yet.
    Undecided,
    Tls(Box<TlsConn>),
    Http(Box<HttpConn>),
    /// Another protocol (or too deep): ignored.
    Other,
}

/// One CONNECT tunnel's streams (see the module doc).
#[derive(Debug)]
pub(crate) struct Tunnel {
    ep: Endpoints,
    /// Tunnel bytes seen per direction (client, server): the inner offsets.
    offsets: [u64; 2],
    inside: Inside,
    /// The tunnel's own nesting level (1 for a tunnel in a plain connection).
    level: u8,
    keep: KeepConfig,
    budget: Option<BodyBudget>,
    /// Added to inner HTTP records' `trans_depth`: Zeek counts the
    /// connection's transactions on, across the tunnel.
    depth_base: u64,
}

impl Tunnel {
    /// A tunnel at nesting `level`, opened after `depth_base` transactions.
    pub(crate) fn new(
        ep: Endpoints,
        level: u8,
        keep: KeepConfig,
        budget: Option<BodyBudget>,
        depth_base: u64,
    ) -> Tunnel {
        Tunnel {
            ep,
            offsets: [0, 0],
            inside: if level > MAX_NESTING {
                Inside::Other
            } else {
                Inside::Undecided
            },
            level,
            keep,
            budget,
            depth_base,
        }
    }

    /// Tunnel bytes from `side`, in order.
    pub(crate) fn on_data(&mut self, side: Side, bytes: &[u8], frame: u64, ts: Timestamp) {
        let i = side.index();
        let offset = self.offsets[i];
        self.offsets[i] = offset.saturating_add(bytes.len() as u64);
        if matches!(self.inside, Inside::Undecided) {
            self.inside = if side != Side::Client || offset != 0 {
                Inside::Other
            } else if looks_like_tls(bytes) {
                Inside::Tls(Box::new(TlsConn::new(self.ep)))
            } else if looks_like_http_request(bytes) {
                let mut h = HttpConn::with_keep(self.ep, false, self.keep, self.budget.clone());
                h.set_nesting(self.level);
                Inside::Http(Box::new(h))
            } else {
                Inside::Other
            };
        }
        let origin = Origin {
            conn: self.ep.conn,
            side,
            frame,
            ts,
        };
        match &mut self.inside {
            Inside::Tls(t) => t.on_data(origin, offset, bytes),
            Inside::Http(h) => h.on_data(origin, offset, bytes),
            Inside::Undecided | Inside::Other => {}
        }
    }

    /// `len` tunnel bytes from `side` missing from the capture.
    pub(crate) fn on_gap(&mut self, side: Side, len: u64) {
        let i = side.index();
        let offset = self.offsets[i];
        self.offsets[i] = offset.saturating_add(len);
        match &mut self.inside {
            Inside::Tls(t) => t.on_gap(side, offset, len),
            Inside::Http(h) => h.on_gap(side, offset, len),
            // The start of the tunnel is lost: nothing to decide on.
            Inside::Undecided => self.inside = Inside::Other,
            Inside::Other => {}
        }
    }

    /// `side`'s stream ended.
    pub(crate) fn on_end(&mut self, side: Side, how: StreamEnd, ts: Timestamp) {
        match &mut self.inside {
            Inside::Tls(t) => t.on_end(side, how, ts),
            Inside::Http(h) => h.on_end(side, how, ts),
            Inside::Undecided | Inside::Other => {}
        }
    }

    /// Inner HTTP transactions completed so far.
    pub(crate) fn take_transactions(&mut self) -> Vec<HttpTransaction> {
        let base = self.depth_base;
        match &mut self.inside {
            Inside::Http(h) => renumber(h.take_transactions(), base),
            _ => Vec::new(),
        }
    }

    /// Every remaining inner HTTP transaction (see [`HttpConn::finish`]).
    pub(crate) fn finish(
        &mut self,
        end: Timestamp,
        ended_by: Option<(Side, &'static str)>,
    ) -> Vec<HttpTransaction> {
        let base = self.depth_base;
        match &mut self.inside {
            Inside::Http(h) => {
                let mut all = h.take_transactions();
                all.extend(h.finish(end, ended_by));
                renumber(all, base)
            }
            _ => Vec::new(),
        }
    }

    /// The TLS record of the tunnel (or of one inside it), given when each
    /// side closed.
    pub(crate) fn tls(
        &mut self,
        end: Timestamp,
        client_closed: Option<Timestamp>,
        server_closed: Option<Timestamp>,
    ) -> Option<TlsRecord> {
        match &mut self.inside {
            Inside::Tls(t) => {
                t.closed_at(client_closed, server_closed);
                t.record(end)
            }
            Inside::Http(h) => h.tunnel_tls(end, client_closed, server_closed),
            Inside::Undecided | Inside::Other => None,
        }
    }
}

fn renumber(mut recs: Vec<HttpTransaction>, base: u64) -> Vec<HttpTransaction> {
    for r in &mut recs {
        r.meta.trans_depth = r.meta.trans_depth.saturating_add(base);
    }
    recs
}
