//! DNS: queries matched to responses over UDP and TCP, retries folded into the
//! query they repeat, time-outs decided by packet time.
//!
//! Contract:
//! * Input: UDP datagrams of DNS flows (port 53, 5353 or 5355
//!   ([`is_dns_port`]), or any port when the flow's first client datagram is a
//!   plausible DNS query ([`looks_like_dns_query`])) through
//!   [`DnsTracker::on_datagram`], and the reassembled streams of TCP DNS
//!   connections (port 53, or any port by the same check on the first message) through [`DnsTracker::on_tcp_data`] / [`on_tcp_gap`](DnsTracker::on_tcp_gap)
//!   / [`on_tcp_end`](DnsTracker::on_tcp_end). The sender of a query (QR = 0) is the
//!   DNS client, whatever the flow table called it.
//! * Matching: a response matches a pending query with the same client endpoint,
//!   server endpoint, transport and message id, and the same question (name
//!   compared case-insensitively, type, class) when the response carries one.
//! * Lookups: a query is its own lookup unless it provably belongs to one
//!   already pending, the way stub resolvers resend (glibc, musl, Go):
//!   - a *retry*: the same client socket (address and port) sends the same id
//!     and question again;
//!   - a *failover*: the same client address sends the same id and question to
//!     another server (glibc keeps the id and opens one socket per nameserver),
//!     or to the same server from a new socket after an ICMP error closed the
//!     old one, while the lookup is still pending (that is, within the
//!     time-out schedule: `timeout_ns` after its latest attempt).
//!
//!   A query from another socket with another id, even for the same name at the
//!   same moment, is another lookup: eight stub clients on one host asking for
//!   the same name are eight lookups. (Go's resolver retries with a new socket
//!   and id; each of its attempts is therefore a lookup of its own, and
//!   [`ops`] groups them into one resolver operation.) A retry or failover adds
//!   to `retries`/`retry_frames` and `servers_tried`; an answer to any attempt
//!   answers the lookup, and `latency_ms` runs from the first query.
//! * Truncation: a UDP answer with TC set stays open for `timeout_ns`; a TCP query
//!   for the same question from the same client address in that window sets
//!   `tcp_retry` on it (the TCP exchange gets its own record).
//! * ICMP: a destination-unreachable error quoting a UDP query
//!   ([`DnsTracker::on_unreachable`]) is noted on the pending lookups that sent
//!   a query on that socket pair and, when the error quotes the DNS id (the
//!   first payload bytes, as almost every ICMP error does), with that id (the
//!   newest [`UNREACHABLE_SCAN`] open ones: the error comes within a round trip
//!   of its query). The lookup stays pending, since the client may retry or fail
//!   over to another server; an answer (from the next server, say) clears it,
//!   so a lookup is never both `unreachable` and answered, and never marked by
//!   an error about another lookup's query.
//! * Protocol: every record says `dns`, `mdns` (port 5353 with a multicast
//!   address or 5353 on both ends) or `llmnr` (port 5355); see [`DnsProtocol`].
//!   Multicast questions are recorded as asked; answers that come from a
//!   responder's own address (or go to the group) match no question and are
//!   counted as unmatched, a documented limitation: those protocols are named
//!   so they are not mistaken for unicast DNS, not analysed.
//! * Time-outs: a query unanswered for `timeout_ns` after its latest attempt
//!   stops taking answers, and after [`FAILOVER_GRACE_NS`] more without a
//!   failover or retry (which the resolver sends the moment its own time-out
//!   fires) it is finalised by [`DnsTracker::expire`] as `timed_out`. The
//!   expiry queues are ordered by packet time (stale entries are skipped), so
//!   expiry is O(expired).
//!   [`DnsTracker::finish`] finalises the rest: `timed_out` when the capture went
//!   on `timeout_ns` past the latest attempt, `unanswered_at_end` otherwise.
//! * Output: [`DnsTracker::take_records`] yields finished records in the order of
//!   their first query (a record waits for every earlier query to finish, at most
//!   about `timeout_ns` + [`FAILOVER_GRACE_NS`] of packet time).
//! * Bounds: at most `max_pending` open transactions (further queries are counted
//!   in [`DnsStats::pending_cap_hits`] and not tracked), at most
//!   `max_tcp_streams` TCP directions buffered, each holding at most one
//!   incomplete message (≤ 65,537 bytes); answers, retry frames and servers per
//!   record are capped.
//! * Malformed messages (short header, bad labels, compression loops, names too
//!   long, cut answer sections) are counted in [`DnsStats::malformed`], never fatal.
//!   Names are kept in DNS presentation format, in which every byte outside
//!   printable ASCII is a `\DDD` escape, so they are safe to print as they are.

mod framing;
mod nbns;
pub mod ops;
mod rdata;
mod record;
mod sniff;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use self::framing::Framer;
pub use self::record::{
    flag, Asked, DnsAnswer, DnsProtocol, DnsRecord, DnsUnreachable, Response, Transport,
};
pub use self::sniff::{looks_like_dns_query, looks_like_dns_tcp};
use self::wire::{Msg, QKey};
use super::{Endpoints, Origin};
use crate::base::Side;
use crate::base::Timestamp;
use crate::flow::conn::IcmpNote;

/// Most retry frames (and per-attempt match keys) kept per record; further
/// retries are still counted in `retries`.
const MAX_RETRY_FRAMES: usize = 32;
/// Most servers listed in `servers_tried`.
const MAX_SERVERS: usize = 16;
/// How long after its time-out a lookup still takes a failover or retry: a
/// stub resolver sends to its next nameserver the moment its own time-out
/// (the same 5 s by default) fires, so that query arrives just after the
/// tracker's deadline; 1 s covers a loaded host. Answers in this window are
/// late (unmatched), and a lookup that gets no failover in it is `timed_out`.
pub const FAILOVER_GRACE_NS: i64 = 1_000_000_000;
/// How many of the newest transactions an ICMP error is matched against.
pub const UNREACHABLE_SCAN: usize = 256;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Whether a UDP port is one whose datagrams are DNS messages whatever their
/// content: DNS (53), mDNS (5353) and LLMNR (5355). Other ports are DNS when
/// their first query looks like one ([`looks_like_dns_query`]).
pub fn is_dns_port(port: u16) -> bool {
    matches!(port, 53 | 5353 | 5355)
}

/// Whether a UDP port is NetBIOS-NS's (137), whose messages the tracker
/// reads as NetBIOS name service messages (`protocol: "nbns"`).
pub fn is_nbns_port(port: u16) -> bool {
    port == 137
}

/// Tracker limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsConfig {
    /// A query unanswered this long (packet time) after its latest attempt is a
    /// time-out. Default 5 s, the classic stub-resolver time-out (glibc, musl).
    pub timeout_ns: i64,
    /// Most transactions open at once (default 100,000); hits are counted.
    pub max_pending: usize,
    /// Most TCP directions with framing state at once (default 10,000); hits
    /// are counted.
    pub max_tcp_streams: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            timeout_ns: 5_000_000_000,
            max_pending: 100_000,
            max_tcp_streams: 10_000,
        }
    }
}

/// Counters of one tracker; plain data the pipeline reads and exports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DnsStats {
    /// Queries seen (retries included).
    pub queries: u64,
    /// Responses seen.
    pub responses: u64,
    /// Messages that did not parse, or parsed only in part.
    pub malformed: u64,
    /// Responses that matched no open query (duplicates, or the query was not
    /// captured).
    pub unmatched_responses: u64,
    /// Queries not tracked because `max_pending` transactions were open.
    pub pending_cap_hits: u64,
    /// TCP directions whose framing was lost to a gap (later messages ignored).
    pub tcp_framing_lost: u64,
    /// TCP directions not followed because `max_tcp_streams` were open.
    pub tcp_stream_cap_hits: u64,
    /// mDNS, LLMNR and NetBIOS-NS responses that answered no query seen,
    /// each recorded on its own (`unsolicited`).
    pub unsolicited_responses: u64,
}

/// One attempt's identity: a response must come back on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ExKey {
    client: SocketAddr,
    server: SocketAddr,
    transport: Transport,
    id: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for an answer.
    Pending,
    /// Unanswered past the time-out: timed out unless a failover or retry
    /// comes within [`FAILOVER_GRACE_NS`].
    Expiring,
    /// Answered with TC over UDP: waiting for a TCP retry.
    AwaitTcp,
    /// Finished; waits in `slots` until every earlier one is finished too.
    Done,
}

struct Txn {
    rec: DnsRecord,
    state: State,
    /// When the current state times out.
    deadline: Timestamp,
    key: QKey,
    client_ip: IpAddr,
    exchanges: Vec<ExKey>,
}

impl Txn {
    /// Whether a query with this lookup's client address, id and question,
    /// sent as `ex`, is a retry or failover of it (see the module doc).
    fn same_operation(&self, ex: &ExKey) -> bool {
        let same_socket = self
            .exchanges
            .iter()
            .any(|e| e.client == ex.client && e.transport == ex.transport);
        let new_server = !self.exchanges.iter().any(|e| e.server == ex.server);
        same_socket || new_server || self.rec.unreachable.is_some()
    }
}

/// Matches DNS queries and responses of one analysis; see the module doc.
pub struct DnsTracker {
    config: DnsConfig,
    stats: DnsStats,
    /// Transactions in order of first query; `slots[i]` has sequence `base + i`.
    slots: VecDeque<Txn>,
    base: u64,
    /// Transactions not yet `Done`.
    open: usize,
    by_exchange: Map<ExKey, Vec<u64>>,
    /// Pending lookups by (client address, id, question): retries and failovers.
    by_attempt: Map<(IpAddr, u16, QKey), u64>,
    /// Lookups answered with TC over UDP, by (client address, question).
    by_question: Map<(IpAddr, QKey), u64>,
    /// (deadline, sequence), in order of packet time.
    queue: VecDeque<(Timestamp, u64)>,
    /// (end of the failover grace, sequence) of `Expiring` lookups, in order.
    grace: VecDeque<(Timestamp, u64)>,
    framers: Map<(u64, Side), Framer>,
    now: Option<Timestamp>,
    /// Exchanges of lookups already finished: an answer on one of them came
    /// late or twice, and is not a lookup of its own.
    finished: Finished,
}

/// A bounded memory of finished exchanges, oldest forgotten first.
#[derive(Debug, Default)]
struct Finished {
    set: std::collections::HashSet<ExKey, foldhash::fast::RandomState>,
    order: VecDeque<ExKey>,
}

impl Finished {
    /// Most exchanges remembered: a late answer comes seconds after its
    /// lookup, not thousands of lookups later.
    const MAX: usize = 8_192;

    fn insert(&mut self, ex: ExKey) {
        if self.set.insert(ex) {
            self.order.push_back(ex);
            if self.order.len() > Self::MAX {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    fn contains(&self, ex: &ExKey) -> bool {
        self.set.contains(ex)
    }
}

impl DnsTracker {
    /// A tracker with these limits.
    pub fn new(config: DnsConfig) -> Self {
        DnsTracker {
            config,
            stats: DnsStats::default(),
            slots: VecDeque::new(),
            base: 0,
            open: 0,
            by_exchange: Map::default(),
            by_attempt: Map::default(),
            by_question: Map::default(),
            queue: VecDeque::new(),
            grace: VecDeque::new(),
            framers: Map::default(),
            now: None,
            finished: Finished::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> DnsStats {
        self.stats
    }

    /// Transactions open now (pending or waiting for a TCP retry).
    pub fn pending(&self) -> usize {
        self.open
    }

    /// One UDP datagram's payload on a DNS flow.
    ///
    /// True when the datagram parsed as a DNS message.
    pub fn on_datagram(&mut self, ep: &Endpoints, origin: Origin, payload: &[u8]) -> bool {
        self.on_message(ep, origin, Transport::Udp, payload)
    }

    /// In-order TCP bytes `origin.side` sent at stream `offset` on a DNS connection.
    ///
    /// True when a DNS message in them parsed.
    pub fn on_tcp_data(
        &mut self,
        ep: &Endpoints,
        origin: Origin,
        offset: u64,
        bytes: &[u8],
    ) -> bool {
        let key = (ep.conn, origin.side);
        let mut framer = match self.framers.remove(&key) {
            Some(f) => f,
            None if self.framers.len() >= self.config.max_tcp_streams => {
                self.stats.tcp_stream_cap_hits += 1;
                return false;
            }
            None => Framer::default(),
        };
        if framer.is_lost() {
            self.framers.insert(key, framer);
            return false;
        }
        let mut parsed = false;
        let lost = framer.push(offset, bytes, |msg| {
            parsed |= self.on_message(ep, origin, Transport::Tcp, msg);
        });
        if lost {
            self.stats.tcp_framing_lost += 1;
        }
        self.framers.insert(key, framer);
        parsed
    }

    /// `len` bytes at `offset` of `side`'s TCP stream are missing from the
    /// capture: that direction's framing is lost (see the module doc).
    pub fn on_tcp_gap(&mut self, ep: &Endpoints, side: Side, offset: u64, len: u64) {
        if let Some(f) = self.framers.get_mut(&(ep.conn, side)) {
            if f.gap(offset, len) {
                self.stats.tcp_framing_lost += 1;
            }
        } else if len > 0 && self.framers.len() < self.config.max_tcp_streams {
            // A gap before any data: the framing is unknown from the start.
            let mut f = Framer::default();
            if f.gap(offset, len) {
                self.stats.tcp_framing_lost += 1;
            }
            self.framers.insert((ep.conn, side), f);
        }
    }

    /// `side`'s TCP stream ended; an incomplete message left over is malformed.
    pub fn on_tcp_end(&mut self, ep: &Endpoints, side: Side) {
        if let Some(f) = self.framers.remove(&(ep.conn, side)) {
            if f.buffered() > 0 && !f.is_lost() {
                self.stats.malformed += 1;
            }
        }
    }

    /// An ICMP destination-unreachable error `note` quoting a datagram of the
    /// UDP flow `ep`: noted on the pending lookups between its two endpoints.
    pub fn on_unreachable(&mut self, ep: &Endpoints, note: &IcmpNote) {
        self.advance(note.ts);
        let pair = |ex: &ExKey| {
            ex.transport == Transport::Udp
                && ((ex.client == ep.client && ex.server == ep.server)
                    || (ex.client == ep.server && ex.server == ep.client))
                && note.quoted_udp_head.is_none_or(|id| id == ex.id)
        };
        for txn in self.slots.iter_mut().rev().take(UNREACHABLE_SCAN) {
            if txn.state != State::Pending || !txn.exchanges.iter().any(pair) {
                continue;
            }
            let u = txn.rec.unreachable.get_or_insert_with(|| DnsUnreachable {
                from: note.from,
                description: note.description.clone(),
                frames: Vec::new(),
                count: 0,
            });
            u.count = u.count.saturating_add(1);
            if u.frames.len() < MAX_RETRY_FRAMES {
                u.frames.push(note.frame);
            }
        }
    }

    /// Finalises everything whose time-out has passed at packet time `now`.
    pub fn expire(&mut self, now: Timestamp) {
        self.advance(now);
        while let Some(&(deadline, seq)) = self.queue.front() {
            if now.since(deadline) < 0 {
                break;
            }
            self.queue.pop_front();
            let Some(txn) = self.txn(seq) else { continue };
            if txn.deadline != deadline {
                continue; // superseded by a retry or an answer
            }
            match txn.state {
                State::Pending => {
                    let end = Timestamp(deadline.0.saturating_add(FAILOVER_GRACE_NS));
                    txn.state = State::Expiring;
                    txn.deadline = end;
                    self.grace.push_back((end, seq));
                }
                State::AwaitTcp => self.finalise(seq),
                State::Expiring | State::Done => {}
            }
        }
        while let Some(&(end, seq)) = self.grace.front() {
            if now.since(end) < 0 {
                break;
            }
            self.grace.pop_front();
            let Some(txn) = self.txn(seq) else { continue };
            if txn.state == State::Expiring && txn.deadline == end {
                txn.rec.timed_out = true;
                self.finalise(seq);
            }
        }
    }

    /// End of input: finalises every open transaction (see the module doc).
    pub fn finish(&mut self) {
        let end = self.now;
        for i in 0..self.slots.len() {
            let seq = self.base + i as u64;
            let Some(txn) = self.txn(seq) else { continue };
            match txn.state {
                State::Pending => {
                    let waited_out = end.is_some_and(|e| e.since(txn.deadline) >= 0);
                    txn.rec.timed_out = waited_out;
                    txn.rec.unanswered_at_end = !waited_out;
                    self.finalise(seq);
                }
                State::Expiring => {
                    txn.rec.timed_out = true;
                    self.finalise(seq);
                }
                State::AwaitTcp => self.finalise(seq),
                State::Done => {}
            }
        }
        for (_, f) in self.framers.drain() {
            if f.buffered() > 0 && !f.is_lost() {
                self.stats.malformed += 1;
            }
        }
        self.queue.clear();
        self.grace.clear();
    }

    /// Drains the finished records, in order of first query.
    pub fn take_records(&mut self) -> Vec<DnsRecord> {
        let mut out = Vec::new();
        while self.slots.front().is_some_and(|t| t.state == State::Done) {
            if let Some(t) = self.slots.pop_front() {
                self.base += 1;
                out.push(t.rec);
            }
        }
        out
    }

    fn advance(&mut self, ts: Timestamp) {
        if self.now.is_none_or(|n| n.since(ts) < 0) {
            self.now = Some(ts);
        }
    }

    fn txn(&mut self, seq: u64) -> Option<&mut Txn> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.slots.get_mut(i)
    }

    /// One DNS message; false when it did not parse.
    fn on_message(
        &mut self,
        ep: &Endpoints,
        origin: Origin,
        transport: Transport,
        bytes: &[u8],
    ) -> bool {
        self.advance(origin.ts);
        let parsed = match DnsProtocol::of(ep.client, ep.server) {
            DnsProtocol::Nbns => nbns::parse(bytes),
            DnsProtocol::Mdns => wire::parse(bytes, true),
            DnsProtocol::Dns | DnsProtocol::Llmnr => wire::parse(bytes, false),
        };
        let msg = match parsed {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return false;
            }
        };
        if msg.damaged {
            self.stats.malformed += 1;
        }
        // As Zeek confirms DNS: questions and answers read to their end.
        let whole = !msg.damaged;
        let (sender, receiver) = match origin.side {
            Side::Client => (ep.client, ep.server),
            Side::Server => (ep.server, ep.client),
        };
        if msg.qr {
            self.stats.responses += 1;
            let ex = ExKey {
                client: receiver,
                server: sender,
                transport,
                id: msg.id,
            };
            self.on_response(ep, origin, ex, msg);
        } else {
            self.stats.queries += 1;
            let ex = ExKey {
                client: sender,
                server: receiver,
                transport,
                id: msg.id,
            };
            self.on_query(ep, origin, ex, msg);
        }
        whole
    }

    fn on_query(&mut self, ep: &Endpoints, origin: Origin, ex: ExKey, msg: Msg) {
        let Some(key) = msg.key else { return };
        let timeout = self.config.timeout_ns;
        let deadline = Timestamp(origin.ts.0.saturating_add(timeout));
        let client_ip = ex.client.ip();
        if ex.transport == Transport::Tcp {
            // A TCP query after a truncated UDP answer closes that lookup.
            if let Some(&seq) = self.by_question.get(&(client_ip, key.clone())) {
                if let Some(txn) = self.txn(seq) {
                    if txn.state == State::AwaitTcp {
                        txn.rec.tcp_retry = true;
                        self.finalise(seq);
                    }
                }
            }
        }
        let attempt = (client_ip, msg.id, key);
        if let Some(&seq) = self.by_attempt.get(&attempt) {
            if let Some(txn) = self.txn(seq) {
                let open = matches!(txn.state, State::Pending | State::Expiring);
                if open && txn.same_operation(&ex) {
                    txn.state = State::Pending;
                    let r = &mut txn.rec;
                    r.retries = r.retries.saturating_add(1);
                    let mut add_exchange = false;
                    if r.retry_frames.len() < MAX_RETRY_FRAMES {
                        r.retry_frames.push(origin.frame);
                        add_exchange = !txn.exchanges.contains(&ex);
                    }
                    if !r.servers_tried.contains(&ex.server) && r.servers_tried.len() < MAX_SERVERS
                    {
                        r.servers_tried.push(ex.server);
                    }
                    txn.deadline = deadline;
                    if add_exchange {
                        txn.exchanges.push(ex);
                        self.by_exchange.entry(ex).or_default().push(seq);
                    }
                    self.queue.push_back((deadline, seq));
                    return;
                }
            }
        }
        if self.open >= self.config.max_pending {
            self.stats.pending_cap_hits += 1;
            return;
        }
        let (_, _, key) = attempt;
        let seq = self.base + self.slots.len() as u64;
        let mut rec = DnsRecord::asked(
            Asked {
                conn: ep.conn,
                client: ex.client,
                server: ex.server,
                transport: ex.transport,
                id: msg.id,
                qname: msg.qname,
                qtype: msg.qtype,
                frame: origin.frame,
                time: origin.ts,
            },
            vec![ex.server],
        );
        rec.qclass = msg.qclass;
        rec.unicast_response = msg.unicast_response;
        rec.opcode = msg.opcode;
        rec.netbios_suffix = msg.netbios_suffix;
        rec.set_query_flags(msg.flags);
        self.slots.push_back(Txn {
            rec,
            state: State::Pending,
            deadline,
            key: key.clone(),
            client_ip,
            exchanges: vec![ex],
        });
        self.open += 1;
        self.by_attempt.insert((client_ip, msg.id, key), seq);
        self.by_exchange.entry(ex).or_default().push(seq);
        self.queue.push_back((deadline, seq));
    }

    fn on_response(&mut self, ep: &Endpoints, origin: Origin, ex: ExKey, msg: Msg) {
        let candidates = self.by_exchange.get(&ex).cloned().unwrap_or_default();
        // A lookup asked on this exchange (pending, expiring or finished).
        let known = !candidates.is_empty() || self.finished.contains(&ex);
        let base = self.base;
        let found = candidates.into_iter().find(|&seq| {
            let i = usize::try_from(seq.saturating_sub(base)).unwrap_or(usize::MAX);
            self.slots.get(i).is_some_and(|t| {
                t.state == State::Pending && msg.key.as_ref().is_none_or(|k| *k == t.key)
            })
        });
        let protocol = DnsProtocol::of(ex.client, ex.server);
        let seq = match found {
            Some(seq) => seq,
            None if protocol == DnsProtocol::Dns => {
                self.stats.unmatched_responses += 1;
                // An answer to a lookup already finished came late or twice;
                // one to a query the capture never saw is recorded on its
                // own, as Zeek logs an unmatched reply.
                if known {
                    return;
                }
                return self.unsolicited(ep, origin, ex, msg);
            }
            None => match self.multicast_match(protocol, &ex, &msg) {
                Some(seq) => seq,
                None => return self.unsolicited(ep, origin, ex, msg),
            },
        };
        let timeout = self.config.timeout_ns;
        let Some(txn) = self.txn(seq) else { return };
        let r = &mut txn.rec;
        r.conn = ep.conn;
        if !ex.client.ip().is_multicast() {
            r.client = ex.client;
        }
        r.server = ex.server;
        r.transport = ex.transport;
        r.response_frame = Some(origin.frame);
        r.response_time = Some(origin.ts);
        r.latency_ms = Some(origin.ts.since(r.query_time) as f64 / 1e6);
        fill_response(r, msg);
        // Answered: an ICMP error about an earlier attempt (the server it
        // failed over from) is not this lookup's outcome.
        r.unreachable = None;
        let await_tcp = r.truncated && ex.transport == Transport::Udp && found.is_some();
        if await_tcp {
            let deadline = Timestamp(origin.ts.0.saturating_add(timeout));
            txn.state = State::AwaitTcp;
            txn.deadline = deadline;
            let exchanges = std::mem::take(&mut txn.exchanges);
            let attempt = (txn.client_ip, txn.rec.id, txn.key.clone());
            let question = (txn.client_ip, txn.key.clone());
            self.unlink_exchanges(seq, &exchanges);
            for ex in &exchanges {
                self.finished.insert(*ex);
            }
            if self.by_attempt.get(&attempt) == Some(&seq) {
                self.by_attempt.remove(&attempt);
            }
            self.by_question.insert(question, seq);
            self.queue.push_back((deadline, seq));
        } else {
            self.finalise(seq);
        }
    }

    /// A response of mDNS, LLMNR or NetBIOS-NS that matched no exchange: the
    /// question went to a group (or broadcast) address and a responder answers
    /// from its own. It answers the newest pending lookup of that protocol
    /// (among the last [`UNREACHABLE_SCAN`]) that asked the response's
    /// question (or, without one, the name and type of one of its answers;
    /// a question of type ANY takes any type), when:
    /// * the response was sent to the asking socket (LLMNR, NetBIOS-NS, mDNS
    ///   unicast answers), with the query's id except for mDNS, whose ids
    ///   are zero and ignored (RFC 6762 §18.1); or
    /// * mDNS only: it was sent to the group the question was sent to.
    fn multicast_match(&self, protocol: DnsProtocol, ex: &ExKey, msg: &Msg) -> Option<u64> {
        let keys: Vec<&QKey> = match &msg.key {
            Some(k) => vec![k],
            None => msg.answer_keys.iter().collect(),
        };
        let asks = |t: &Txn| {
            keys.iter().any(|k| {
                k.name == t.key.name
                    && k.qclass == t.key.qclass
                    && (k.qtype == t.key.qtype || t.key.qtype == 255)
            })
        };
        let to_group = ex.client.ip().is_multicast();
        let mdns = protocol == DnsProtocol::Mdns;
        let newest = self.slots.len().saturating_sub(UNREACHABLE_SCAN);
        self.slots
            .iter()
            .enumerate()
            .skip(newest)
            .rev()
            .find(|(_, t)| {
                t.state == State::Pending
                    && t.rec.protocol == protocol
                    && (mdns || t.rec.id == msg.id)
                    && asks(t)
                    && t.exchanges.iter().any(|e| {
                        e.transport == ex.transport
                            && if to_group {
                                mdns && e.server == ex.client
                            } else {
                                e.client == ex.client
                            }
                    })
            })
            .map(|(i, _)| self.base + i as u64)
    }

    /// Records a response that answered no query seen (see
    /// [`DnsRecord::unsolicited`]); it is finished at once.
    fn unsolicited(&mut self, ep: &Endpoints, origin: Origin, ex: ExKey, msg: Msg) {
        self.stats.unsolicited_responses += 1;
        if self.slots.len() >= self.config.max_pending {
            self.stats.pending_cap_hits += 1;
            return;
        }
        let key = msg.key.clone().unwrap_or_else(|| QKey {
            name: msg.qname.to_ascii_lowercase(),
            qtype: 0,
            qclass: 0,
        });
        let mut rec = DnsRecord::asked(
            Asked {
                conn: ep.conn,
                client: ex.client,
                server: ex.server,
                transport: ex.transport,
                id: msg.id,
                qname: msg.qname.clone(),
                qtype: msg.qtype.clone(),
                frame: origin.frame,
                time: origin.ts,
            },
            vec![ex.server],
        );
        rec.unsolicited = true;
        rec.qclass = msg.qclass.clone();
        rec.unicast_response = msg.unicast_response;
        rec.opcode = msg.opcode.clone();
        rec.netbios_suffix = msg.netbios_suffix;
        rec.response_frame = Some(origin.frame);
        rec.response_time = Some(origin.ts);
        fill_response(&mut rec, msg);
        self.slots.push_back(Txn {
            rec,
            state: State::Done,
            deadline: origin.ts,
            key,
            client_ip: ex.client.ip(),
            exchanges: Vec::new(),
        });
    }

    fn unlink_exchanges(&mut self, seq: u64, exchanges: &[ExKey]) {
        for ex in exchanges {
            if let Some(v) = self.by_exchange.get_mut(ex) {
                v.retain(|&s| s != seq);
                if v.is_empty() {
                    self.by_exchange.remove(ex);
                }
            }
        }
    }

    /// Marks `seq` done and forgets its index entries.
    fn finalise(&mut self, seq: u64) {
        let Some(txn) = self.txn(seq) else { return };
        if txn.state == State::Done {
            return;
        }
        txn.state = State::Done;
        let exchanges = std::mem::take(&mut txn.exchanges);
        let qk = (txn.client_ip, txn.key.clone());
        let attempt = (txn.client_ip, txn.rec.id, txn.key.clone());
        self.open = self.open.saturating_sub(1);
        for ex in &exchanges {
            self.finished.insert(*ex);
        }
        self.unlink_exchanges(seq, &exchanges);
        if self.by_question.get(&qk) == Some(&seq) {
            self.by_question.remove(&qk);
        }
        if self.by_attempt.get(&attempt) == Some(&seq) {
            self.by_attempt.remove(&attempt);
        }
    }
}

/// Copies what an answer says into the record it answers.
fn fill_response(r: &mut DnsRecord, msg: Msg) {
    r.rcode = Some(wire::rcode_name(msg.rcode));
    r.set_response_flags(msg.flags);
    r.truncated = msg.tc;
    r.answers = msg.answers;
    r.authorities = msg.authorities;
    r.additionals = msg.additionals;
    r.cache_flush = msg.cache_flush;
}

#[cfg(test)]
mod tests;
