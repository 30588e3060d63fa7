//! Routes flow output to the application parsers and collects their records.
//!
//! Which parser a TCP connection gets is decided by content at the first bytes
//! the client sends (TLS record header, HTTP request line, HTTP/2 preface, a
//! length-prefixed DNS query), or by port 53 for DNS over TCP. A session that
//! may upgrade by STARTTLS (a server greeting, a PostgreSQL SSLRequest, an
//! XMPP stream; `app::starttls::detect`) is followed in plaintext until the
//! server grants TLS, and from there on is a TLS connection like any other,
//! its record naming the protocol it upgraded from. UDP datagrams
//! to or from ports 53, 5353 (mDNS) and 5355 (LLMNR) go to the DNS tracker,
//! and so do those of port 137 (NetBIOS-NS), which it reads as NBNS; a
//! UDP flow on any other port goes there when its first client datagram is a
//! plausible DNS query (`dns::looks_like_dns_query`), decided once per flow;
//! one whose first client datagram is a DTLS ClientHello
//! (`tls::looks_like_dtls`, any port) goes to a DTLS [`TlsConn`] (other UDP
//! flows are forgotten at that datagram). A connection whose first
//! client bytes are none of these is left alone. The first
//! segment almost always carries a whole request line or ClientHello header; a
//! stream that starts with fewer bytes than the check needs is decided on what
//! is there (documented limitation).

use std::collections::HashMap;
use std::net::SocketAddr;

use super::dns::{DnsConfig, DnsRecord, DnsTracker};
use super::http::{
    looks_like_http09_request, looks_like_http_request, BodyBudget, HttpConn, HttpTransaction,
    KeepConfig,
};
use super::http2::{looks_like_h2_preface, H2Conn};
use super::starttls::{self, StartTls};
use super::tls::{looks_like_dtls, looks_like_tls, Decrypted, TlsConn, TlsKeys, TlsRecord};
use super::{Endpoints, Origin};
use crate::base::Side;
use crate::base::Timestamp;
use crate::flow::conn::{ConnRecord, EndReason, IcmpNote};
use crate::flow::key::Protocol;
use crate::flow::reassembly::StreamEnd;

/// The parser a connection got.
enum Parser {
    /// No client bytes yet.
    Undecided,
    /// TLS handshake analysis, and the HTTP inside once decrypted.
    Tls(Box<TlsConn>, Option<Box<Inner>>),
    /// A plaintext session followed until it upgrades to TLS (STARTTLS).
    StartTls(Box<StartTls>),
    /// HTTP/1.x, or HTTP/2 with prior knowledge (h2c: the preface in cleartext).
    Http(Http),
    /// DNS over TCP (handled by the shared tracker).
    DnsTcp,
    /// A UDP flow before its first client datagram.
    UdpUndecided,
    /// DNS over UDP (handled by the shared tracker).
    DnsUdp,
    /// DTLS over UDP.
    Dtls(Box<TlsConn>),
    /// Something else: ignored.
    Other,
}

struct AppConn {
    ep: Endpoints,
    parser: Parser,
    /// Protocols confirmed so far, in order (Zeek's `service`).
    service: Vec<&'static str>,
}

impl AppConn {
    /// Records that `name` was recognised on the connection (once).
    fn confirm(&mut self, name: &'static str) {
        if !self.service.contains(&name) {
            self.service.push(name);
        }
    }
}

/// An HTTP parser of either version; both take the same stream calls and
/// yield the same transactions.
enum Http {
    V1(Box<HttpConn>),
    V2(Box<H2Conn>),
}

impl Http {
    /// The parser for a stream whose client starts with `first_bytes`: a
    /// request line gives HTTP/1.x, the connection preface HTTP/2; `None` for
    /// anything else. It keeps what `keep` asks of responses (for `--expect`).
    fn detect(
        first_bytes: &[u8],
        ep: Endpoints,
        decrypted: bool,
        keep: KeepConfig,
        budget: &BodyBudget,
    ) -> Option<Http> {
        let budget = keep.any().then(|| budget.clone());
        if looks_like_http_request(first_bytes)
            || looks_like_http09_request(first_bytes, ep.server.port())
        {
            Some(Http::V1(Box::new(match budget {
                Some(b) => HttpConn::with_keep(ep, decrypted, keep, Some(b)),
                None => HttpConn::new(ep, decrypted),
            })))
        } else if looks_like_h2_preface(first_bytes) {
            Some(Http::V2(Box::new(match budget {
                Some(b) => H2Conn::with_keep(ep, decrypted, keep, Some(b)),
                None => H2Conn::new(ep, decrypted),
            })))
        } else {
            None
        }
    }

    /// The TLS handshake inside an HTTP/1.x CONNECT tunnel, if any.
    fn tunnel_tls(&mut self, record: &ConnRecord, end: Timestamp) -> Option<TlsRecord> {
        match self {
            Http::V1(h) => h.tunnel_tls(
                end,
                closed_at(record, Side::Client),
                closed_at(record, Side::Server),
            ),
            Http::V2(_) => None,
        }
    }

    fn on_data(&mut self, origin: Origin, offset: u64, bytes: &[u8]) {
        match self {
            Http::V1(h) => h.on_data(origin, offset, bytes),
            Http::V2(h) => h.on_data(origin, offset, bytes),
        }
    }

    fn on_gap(&mut self, side: Side, offset: u64, len: u64) {
        match self {
            Http::V1(h) => h.on_gap(side, offset, len),
            Http::V2(h) => h.on_gap(side, offset, len),
        }
    }

    fn on_end(&mut self, side: Side, how: StreamEnd, ts: Timestamp) {
        match self {
            Http::V1(h) => h.on_end(side, how, ts),
            Http::V2(h) => h.on_end(side, how, ts),
        }
    }

    /// The name of the protocol in Zeek's `service` style.
    fn service(&self) -> &'static str {
        match self {
            Http::V1(_) => "http",
            Http::V2(_) => "http2",
        }
    }

    fn take_transactions(&mut self) -> Vec<HttpTransaction> {
        match self {
            Http::V1(h) => h.take_transactions(),
            Http::V2(h) => h.take_transactions(),
        }
    }

    /// Every transaction not taken yet, at the connection's end.
    fn finish(
        &mut self,
        end: Timestamp,
        ended_by: Option<(Side, &'static str)>,
    ) -> Vec<HttpTransaction> {
        match self {
            Http::V1(h) => {
                let mut http = h.take_transactions();
                http.extend(h.finish(end, ended_by));
                http
            }
            Http::V2(h) => h.finish(end, ended_by),
        }
    }
}

/// The application protocol inside a decrypted TLS connection.
struct Inner {
    /// HTTP/1.x or HTTP/2, decided by the client's first plaintext.
    http: Option<Http>,
    /// Plaintext bytes so far per direction (client, server): stream offsets.
    offsets: [u64; 2],
    /// The first plaintext was something else (another protocol).
    other: bool,
}

/// What the application layer found for one ended connection.
#[derive(Debug, Default)]
pub struct AppRecords {
    /// The TLS handshake, when the connection carried TLS.
    pub tls: Option<TlsRecord>,
    /// HTTP transactions, in request order.
    pub http: Vec<HttpTransaction>,
    /// The protocols recognised on the connection, in order: `dns`, `ssl`,
    /// `http`, `http2` (Zeek's conn.log `service`).
    pub service: Vec<&'static str>,
}

/// The application layer's state for a whole analysis.
pub struct AppLayer {
    conns: HashMap<u64, AppConn>,
    dns: DnsTracker,
    /// The latest packet time seen (stream ends carry no time of their own).
    now: Timestamp,
    /// Keys to decrypt TLS with (`--keylog`, pcapng secrets).
    keys: Option<TlsKeys>,
    /// A connection whose decrypted bytes are copied out (`follow`).
    tap: Option<u64>,
    tapped: Vec<Decrypted>,
    /// What HTTP parsers keep of each response (for `--expect` rules).
    http_keep: KeepConfig,
    /// The allowance for kept response bodies, shared by all HTTP parsers.
    body_budget: BodyBudget,
}

impl Default for AppLayer {
    fn default() -> Self {
        AppLayer::new()
    }
}

impl AppLayer {
    /// An empty application layer.
    pub fn new() -> AppLayer {
        AppLayer {
            conns: HashMap::new(),
            dns: DnsTracker::new(DnsConfig::default()),
            now: Timestamp::default(),
            keys: None,
            tap: None,
            tapped: Vec::new(),
            http_keep: KeepConfig::default(),
            body_budget: BodyBudget::default(),
        }
    }

    /// Decrypts TLS with `keys` from now on.
    pub fn set_keys(&mut self, keys: TlsKeys) {
        self.keys = Some(keys);
    }

    /// Copies the decrypted bytes of connection `conn` out, for
    /// [`take_tapped`](Self::take_tapped).
    pub fn tap(&mut self, conn: u64) {
        self.tap = Some(conn);
    }

    /// Decrypted bytes of the tapped connection since the last call.
    pub fn take_tapped(&mut self) -> Vec<Decrypted> {
        std::mem::take(&mut self.tapped)
    }

    /// Makes HTTP parsers of connections opened from now on keep what `keep`
    /// asks of each response (bounded; see `app::http::capture`). Off by default.
    pub fn set_http_keep(&mut self, keep: KeepConfig) {
        self.http_keep = keep;
    }

    /// A connection started.
    pub fn opened(
        &mut self,
        conn: u64,
        protocol: Protocol,
        client: SocketAddr,
        server: SocketAddr,
    ) {
        let ep = Endpoints {
            conn,
            client,
            server,
        };
        let dns_port = |p: u16| super::dns::is_dns_port(p) || super::dns::is_nbns_port(p);
        let parser = match protocol {
            Protocol::Tcp if server.port() == 53 || client.port() == 53 => Parser::DnsTcp,
            Protocol::Tcp => Parser::Undecided,
            Protocol::Udp if dns_port(server.port()) || dns_port(client.port()) => Parser::DnsUdp,
            Protocol::Udp => Parser::UdpUndecided,
            // ICMP carries no application protocol.
            Protocol::Icmp => return,
        };
        self.conns.insert(
            conn,
            AppConn {
                ep,
                parser,
                service: Vec::new(),
            },
        );
    }

    /// The HTTP transactions of `conn` completed so far, in request order (the
    /// rest come with [`AppLayer::connection_ended`]). Taking them early lets
    /// the caller check and drop kept response bodies without waiting for the
    /// connection's end.
    pub fn take_http(&mut self, conn: u64) -> Vec<HttpTransaction> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Vec::new();
        };
        let h = match &mut c.parser {
            Parser::Http(h) => h,
            Parser::Tls(_, Some(inner)) => match inner.http.as_mut() {
                Some(h) => h,
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        let taken = h.take_transactions();
        if !taken.is_empty() {
            let name = h.service();
            if matches!(c.parser, Parser::Tls(..)) {
                // The TLS handshake came first.
                c.confirm("ssl");
            }
            c.confirm(name);
        }
        taken
    }

    /// A UDP datagram.
    pub fn datagram(&mut self, conn: u64, side: Side, payload: &[u8], frame: u64, ts: Timestamp) {
        self.advance(ts);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if matches!(c.parser, Parser::UdpUndecided) {
            if side != Side::Client {
                return; // decided by the client's first datagram
            }
            if looks_like_dtls(payload) {
                c.parser = Parser::Dtls(Box::new(TlsConn::new_dtls(c.ep)));
            } else if super::dns::looks_like_dns_query(payload) {
                c.parser = Parser::DnsUdp;
            } else {
                self.conns.remove(&conn);
                return;
            }
        }
        if let Parser::Dtls(t) = &mut c.parser {
            let origin = Origin {
                conn,
                side,
                frame,
                ts,
            };
            t.on_datagram(origin, payload);
            return;
        }
        if matches!(c.parser, Parser::DnsUdp) {
            let origin = Origin {
                conn,
                side,
                frame,
                ts,
            };
            if self.dns.on_datagram(&c.ep, origin, payload) {
                c.confirm("dns");
            }
        }
    }

    /// In-order TCP bytes.
    pub fn stream_data(
        &mut self,
        conn: u64,
        side: Side,
        offset: u64,
        bytes: &[u8],
        frame: u64,
        ts: Timestamp,
    ) {
        self.advance(ts);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let origin = Origin {
            conn,
            side,
            frame,
            ts,
        };
        if matches!(c.parser, Parser::Undecided) {
            let port = c.ep.server.port();
            c.parser = if offset != 0 {
                // The capture missed the start.
                Parser::Other
            } else if side != Side::Client {
                // The server spoke first: a greeting that may lead to STARTTLS.
                match starttls::detect(port, side, bytes) {
                    Some(s) => Parser::StartTls(Box::new(s)),
                    None => Parser::Other,
                }
            } else if super::dns::looks_like_dns_tcp(bytes) {
                Parser::DnsTcp
            } else if looks_like_tls(bytes) {
                let tls = match &self.keys {
                    Some(keys) => TlsConn::with_keys(c.ep, keys.clone()),
                    None => TlsConn::new(c.ep),
                };
                Parser::Tls(Box::new(tls), None)
            } else {
                match Http::detect(bytes, c.ep, false, self.http_keep, &self.body_budget) {
                    Some(h) => Parser::Http(h),
                    None => match starttls::detect(port, side, bytes) {
                        Some(s) => Parser::StartTls(Box::new(s)),
                        None => Parser::Other,
                    },
                }
            };
        }
        if let Parser::StartTls(s) = &mut c.parser {
            match s.on_data(side, offset, bytes) {
                Some(up) => {
                    // The rest of both streams is TLS, from where each began.
                    let mut tls = match &self.keys {
                        Some(keys) => TlsConn::with_keys(c.ep, keys.clone()),
                        None => TlsConn::new(c.ep),
                    };
                    tls.set_starttls(up.protocol.name());
                    // Zeek's service lists the plaintext protocol, then ssl.
                    c.confirm(up.protocol.name());
                    for (side, at, bytes) in [
                        (Side::Client, up.client_at, &up.client),
                        (Side::Server, up.server_at, &up.server),
                    ] {
                        tls.on_data(Origin { side, ..origin }, at, bytes);
                    }
                    c.parser = Parser::Tls(Box::new(tls), None);
                }
                None if s.stopped() => c.parser = Parser::Other,
                None => {}
            }
            return;
        }
        match &mut c.parser {
            Parser::Tls(t, inner) => {
                t.on_data(origin, offset, bytes);
                let plain = t.take_decrypted();
                if !plain.is_empty() {
                    if self.tap == Some(conn) {
                        self.tapped.extend(plain.iter().cloned());
                    }
                    let inner = inner.get_or_insert_with(|| {
                        Box::new(Inner {
                            http: None,
                            offsets: [0, 0],
                            other: false,
                        })
                    });
                    inner.feed(c.ep, plain, self.http_keep, &self.body_budget);
                }
            }
            Parser::Http(h) => h.on_data(origin, offset, bytes),
            Parser::DnsTcp => {
                if self.dns.on_tcp_data(&c.ep, origin, offset, bytes) {
                    c.confirm("dns");
                }
            }
            Parser::Undecided
            | Parser::Other
            | Parser::UdpUndecided
            | Parser::DnsUdp
            | Parser::Dtls(_)
            | Parser::StartTls(_) => {}
        }
    }

    /// A hole in a TCP stream.
    pub fn stream_gap(&mut self, conn: u64, side: Side, offset: u64, len: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match &mut c.parser {
            Parser::Tls(t, _) => t.on_gap(side, offset, len),
            Parser::Http(h) => h.on_gap(side, offset, len),
            Parser::DnsTcp => self.dns.on_tcp_gap(&c.ep, side, offset, len),
            Parser::StartTls(s) => s.on_gap(side, offset, len),
            Parser::Undecided
            | Parser::Other
            | Parser::UdpUndecided
            | Parser::DnsUdp
            | Parser::Dtls(_) => {}
        }
    }

    /// The end of one TCP direction.
    pub fn stream_end(&mut self, conn: u64, side: Side, how: StreamEnd) {
        let ts = self.now;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match &mut c.parser {
            Parser::Tls(t, inner) => {
                t.on_end(side, how, ts);
                if let Some(h) = inner.as_mut().and_then(|i| i.http.as_mut()) {
                    h.on_end(side, how, ts);
                }
            }
            Parser::Http(h) => h.on_end(side, how, ts),
            Parser::DnsTcp => self.dns.on_tcp_end(&c.ep, side),
            Parser::Undecided
            | Parser::Other
            | Parser::UdpUndecided
            | Parser::DnsUdp
            | Parser::Dtls(_)
            | Parser::StartTls(_) => {}
        }
    }

    /// An ICMP error quoting a packet of `conn`: a DNS server that cannot be
    /// reached is news for the lookups waiting on it.
    pub fn icmp_error(&mut self, conn: u64, note: &IcmpNote) {
        self.advance(note.ts);
        if !note.unreachable {
            return;
        }
        if let Some(c) = self.conns.get(&conn) {
            if matches!(c.parser, Parser::DnsUdp) {
                self.dns.on_unreachable(&c.ep, note);
            }
        }
    }

    /// A connection ended: its application records.
    pub fn connection_ended(&mut self, record: &ConnRecord) -> AppRecords {
        let Some(mut c) = self.conns.remove(&record.id) else {
            return AppRecords::default();
        };
        let end = Timestamp(record.start.0.saturating_add(record.duration_ns));
        // A request still waiting when the capture ended waited until the
        // capture's last packet, not its own connection's.
        let http_end = match record.ended {
            EndReason::OpenAtEnd => end.max(self.now),
            _ => end,
        };
        let ended_by = match record.ended {
            EndReason::Reset { by, .. } => Some((by, "rst")),
            EndReason::Fin { first } => Some((first, "fin")),
            EndReason::HalfClosed { by } => Some((by, "fin")),
            _ => None,
        };
        let parser = std::mem::replace(&mut c.parser, Parser::Other);
        let (tls, http) = match parser {
            Parser::Tls(mut t, inner) => {
                t.closed_at(
                    closed_at(record, Side::Client),
                    closed_at(record, Side::Server),
                );
                let tls = t.record(end);
                if tls.is_some() {
                    c.confirm("ssl");
                }
                let http = match inner.and_then(|i| i.http) {
                    Some(mut h) => {
                        let http = h.finish(http_end, ended_by);
                        if !http.is_empty() {
                            c.confirm(h.service());
                        }
                        http
                    }
                    None => Vec::new(),
                };
                (tls, http)
            }
            Parser::Http(mut h) => {
                let http = h.finish(http_end, ended_by);
                if !http.is_empty() {
                    c.confirm(h.service());
                }
                // TLS inside a CONNECT tunnel: Zeek lists it after http.
                let tls = h.tunnel_tls(record, end);
                if tls.is_some() {
                    c.confirm("ssl");
                }
                (tls, http)
            }
            Parser::Dtls(t) => {
                let tls = t.record(end);
                if tls.is_some() {
                    c.confirm("dtls");
                }
                (tls, Vec::new())
            }
            _ => (None, Vec::new()),
        };
        AppRecords {
            tls,
            http,
            service: c.service,
        }
    }

    /// Moves the clock on to `ts` (packet time): DNS queries unanswered for
    /// longer than their time-out are settled, for [`AppLayer::take_dns`].
    pub fn advance(&mut self, ts: Timestamp) {
        if ts > self.now {
            self.now = ts;
            self.dns.expire(ts);
        }
    }

    /// DNS records finished so far (time-outs are decided by packet time).
    pub fn take_dns(&mut self) -> Vec<DnsRecord> {
        self.dns.take_records()
    }

    /// End of input: every pending DNS query is settled.
    pub fn finish(&mut self) -> Vec<DnsRecord> {
        self.dns.finish();
        self.dns.take_records()
    }
}

impl Inner {
    /// Decrypted application data, in order: the first client bytes decide the
    /// protocol (HTTP/1.x and HTTP/2 are parsed; others are only counted).
    fn feed(
        &mut self,
        ep: Endpoints,
        plain: Vec<Decrypted>,
        keep: KeepConfig,
        budget: &BodyBudget,
    ) {
        for chunk in plain {
            let i = chunk.side.index();
            let offset = self.offsets.get(i).copied().unwrap_or(0);
            if let Some(o) = self.offsets.get_mut(i) {
                *o = o.saturating_add(chunk.data.len() as u64);
            }
            if self.http.is_none() && !self.other {
                let first = chunk.side == Side::Client && offset == 0;
                self.http = first
                    .then(|| Http::detect(&chunk.data, ep, true, keep, budget))
                    .flatten();
                self.other = self.http.is_none();
            }
            let origin = Origin {
                conn: ep.conn,
                side: chunk.side,
                frame: chunk.frame,
                ts: chunk.ts,
            };
            if let Some(h) = &mut self.http {
                h.on_data(origin, offset, &chunk.data);
            }
        }
    }
}

/// When `side` closed the connection: its first FIN or its RST, whichever came first.
fn closed_at(record: &ConnRecord, side: Side) -> Option<Timestamp> {
    let fin = record.fin[side.index()].map(|(ts, _)| ts);
    let rst = record.rst.as_ref().filter(|r| r.by == side).map(|r| r.ts);
    match (fin, rst) {
        (Some(f), Some(r)) => Some(f.min(r)),
        (f, r) => f.or(r),
    }
}
