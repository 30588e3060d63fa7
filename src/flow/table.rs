//! The flow table: finds the connection of each packet, decides client and
//! server, times idle flows out by packet time, and bounds memory.
//!
//! * Keys are bidirectional ([`FlowKey`]); a new SYN on a closed flow (or one with
//!   another initial sequence number) ends it and starts a new connection.
//! * Roles: the SYN's sender is the client; a SYN-ACK's receiver is the client.
//!   Without a handshake: a port below 1024 facing one at or above it marks the
//!   server; otherwise the first packet's sender is the client.
//! * Idle time-outs by packet time, one per class (half-open, established,
//!   closed, UDP). Each class keeps its flows in a list ordered by last activity,
//!   so expiry is O(1) per packet: only list heads are ever examined.
//! * At most `max_flows` open flows: the least recently active one is evicted,
//!   reported with [`EndReason::Evicted`] and counted.
//!
//! Output order follows packet order (records are emitted when flows end), never
//! hash-map iteration.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use super::conn::{ConnRecord, Connection, EndReason, IcmpNote, PacketLen, RoleSource, TcpPacket};
use super::events::TcpEvents;
use super::key::{FlowKey, Protocol};
use super::reassembly::StreamEnd;
use super::seq_analysis::Segment;
use crate::base::Side;
use crate::base::Timestamp;
use crate::decode::{IcmpMessage, IpHeader, Packet, TcpFlags, Transport};
use crate::source::Frame;

/// Idle time-outs and the table cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// TCP flows whose handshake did not complete (covers Linux's 6 SYN
    /// retries, 63 s, with room to spare).
    pub half_open_timeout_ns: i64,
    /// Established TCP flows. Long, so that an RST after a long silence (a
    /// middlebox idle time-out) still finds its connection.
    pub established_timeout_ns: i64,
    /// TCP flows after FIN both ways or RST (late retransmissions still match).
    pub closed_timeout_ns: i64,
    /// UDP flows.
    pub udp_timeout_ns: i64,
    /// Most flows open at once.
    pub max_flows: usize,
    /// Most TCP flows open at once that are only SYNs nobody answered (a
    /// flood or a scan makes millions): past it the oldest is ended as
    /// unanswered, and counted in [`FlowTableStats::syn_only_ended_early`].
    pub max_syn_only: usize,
}

/// `--memory` when not given: 256 MiB.
pub const DEFAULT_MEMORY: usize = 256 << 20;

/// Memory one open flow costs, all layers included (flow state, the
/// application parser's, the table's index), measured on a SYN flood.
pub const FLOW_BYTES: usize = 3_000;

impl FlowConfig {
    /// The caps that keep open flows within `bytes` of memory: a quarter of
    /// it for flows that are only unanswered SYNs, all of it for the rest.
    pub fn with_memory(self, bytes: usize) -> FlowConfig {
        FlowConfig {
            max_flows: (bytes / FLOW_BYTES).max(1),
            max_syn_only: (bytes / 4 / FLOW_BYTES).max(1),
            ..self
        }
    }

    /// `max_flows` set by hand (`--max-flows`), when given.
    pub fn with_max_flows(self, max_flows: Option<u64>) -> FlowConfig {
        match max_flows {
            Some(n) => FlowConfig {
                max_flows: usize::try_from(n).unwrap_or(usize::MAX).max(1),
                ..self
            },
            None => self,
        }
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        const S: i64 = 1_000_000_000;
        FlowConfig {
            half_open_timeout_ns: 120 * S,
            established_timeout_ns: 3_600 * S,
            closed_timeout_ns: 10 * S,
            udp_timeout_ns: 60 * S,
            max_flows: 1_000_000,
            max_syn_only: 1_000_000,
        }
    }
}

/// Counters of the table itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowTableStats {
    /// Connections created.
    pub connections: u64,
    /// Connections evicted by the cap.
    pub evicted: u64,
    /// Packets that came after their connection was closed and reported
    /// (a resent FIN, a last ACK, more RSTs): counted, not followed.
    pub late_after_close: u64,
    /// Unanswered SYN-only flows ended before their time-out because more
    /// than `max_syn_only` were open (a SYN flood or a scan).
    pub syn_only_ended_early: u64,
    /// Connections ended by idle time-out.
    pub timed_out: u64,
    /// Most flows open at once.
    pub peak_open: usize,
    /// ICMP errors matched to a flow.
    pub icmp_matched: u64,
    /// ICMP errors that quoted no known flow.
    pub icmp_unmatched: u64,
}

/// Where the table sends what it finds. The stream methods are the interface
/// application parsers consume: each TCP direction's bytes in order, with gaps
/// where the capture missed data, then how the stream ended.
pub trait FlowSink {
    /// A new connection: its id, protocol and endpoints (before any of its data).
    fn opened(&mut self, conn: u64, protocol: Protocol, client: SocketAddr, server: SocketAddr) {
        let _ = (conn, protocol, client, server);
    }
    /// The handshake of TCP connection `conn` completed: its path round trip
    /// (SYN to SYN-ACK plus SYN-ACK to ACK), as the record's `path_rtt` will
    /// give it.
    fn handshake_rtt(&mut self, conn: u64, rtt_ns: i64) {
        let _ = (conn, rtt_ns);
    }
    /// Per-segment TCP analysis flags (only called when non-empty).
    fn tcp_events(&mut self, conn: u64, frame: u64, ts: Timestamp, side: Side, events: TcpEvents) {
        let _ = (conn, frame, ts, side, events);
    }
    /// In-order bytes `side` sent on TCP connection `conn`, starting at stream
    /// `offset`, delivered by `frame` at `ts`.
    fn stream_data(
        &mut self,
        conn: u64,
        side: Side,
        offset: u64,
        bytes: &[u8],
        frame: u64,
        ts: Timestamp,
    ) {
        let _ = (conn, side, offset, bytes, frame, ts);
    }
    /// `len` bytes at `offset` that `side` sent but the capture does not hold.
    fn stream_gap(&mut self, conn: u64, side: Side, offset: u64, len: u64) {
        let _ = (conn, side, offset, len);
    }
    /// The end of one direction's stream (called once per direction).
    fn stream_end(&mut self, conn: u64, side: Side, how: StreamEnd) {
        let _ = (conn, side, how);
    }
    /// One UDP datagram's payload (as captured) on connection `conn`.
    fn datagram(&mut self, conn: u64, side: Side, payload: &[u8], frame: u64, ts: Timestamp) {
        let _ = (conn, side, payload, frame, ts);
    }
    /// An ICMP error quoting a packet of connection `conn`, as it arrives (the
    /// connection record lists them too, but only when the flow ends).
    fn icmp_error(&mut self, conn: u64, note: &IcmpNote) {
        let _ = (conn, note);
    }
    /// A connection ended (after both its streams ended).
    fn connection(&mut self, record: ConnRecord);
    /// Time moved on to `ts` without a packet (a quiet live capture):
    /// time-outs that do not wait for packets (DNS) can be decided.
    fn clock(&mut self, ts: Timestamp) {
        let _ = ts;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    HalfOpen = 0,
    Established = 1,
    Closed = 2,
    Udp = 3,
    /// TCP flows that are only SYNs, none answered.
    SynOnly = 4,
}

/// The classes, in the order time-outs are checked.
const CLASSES: [Class; 5] = [
    Class::HalfOpen,
    Class::SynOnly,
    Class::Established,
    Class::Closed,
    Class::Udp,
];

struct Entry {
    conn: Connection,
    class: Class,
    prev: Option<usize>,
    next: Option<usize>,
}

#[derive(Default, Clone, Copy)]
struct List {
    head: Option<usize>,
    tail: Option<usize>,
    len: usize,
}

/// The table of open flows.
pub struct FlowTable {
    config: FlowConfig,
    /// The first frame's time: the capture's start.
    first_ts: Option<Timestamp>,
    index: HashMap<FlowKey, usize, foldhash::fast::RandomState>,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    lists: [List; CLASSES.len()],
    next_id: u64,
    stats: FlowTableStats,
    now: Timestamp,
    /// Connections closed and reported, by key, with when: their late
    /// packets are not mistaken for a new connection (`closed_timeout_ns`).
    tombstones: HashMap<FlowKey, Timestamp, foldhash::fast::RandomState>,
    /// The tombstones in order of closing, for their expiry.
    tomb_order: VecDeque<(Timestamp, FlowKey)>,
}

impl FlowTable {
    /// An empty table.
    pub fn new(config: FlowConfig) -> FlowTable {
        FlowTable {
            config,
            first_ts: None,
            index: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [List::default(); CLASSES.len()],
            next_id: 1,
            stats: FlowTableStats::default(),
            now: Timestamp::default(),
            tombstones: HashMap::default(),
            tomb_order: VecDeque::new(),
        }
    }

    /// The table's counters.
    pub fn stats(&self) -> FlowTableStats {
        self.stats
    }

    /// Flows open now.
    pub fn open_flows(&self) -> usize {
        self.index.len()
    }

    /// Moves the table's clock on to `ts` when no packet came (a live
    /// capture on a quiet wire): flows idle past their time-out end, then the
    /// sink is told the time.
    pub fn advance_to(&mut self, ts: Timestamp, sink: &mut impl FlowSink) {
        if ts > self.now {
            self.now = ts;
            self.expire(sink);
        }
        sink.clock(self.now);
    }

    /// Feeds one decoded packet.
    pub fn on_packet(&mut self, frame: &Frame<'_>, packet: &Packet<'_>, sink: &mut impl FlowSink) {
        self.first_ts.get_or_insert(frame.ts);
        if frame.ts > self.now {
            self.now = frame.ts;
            self.expire(sink);
        }
        let Some(ip) = packet.ip else {
            return;
        };
        let vlan = packet.vlans.ids().first().copied();
        match &packet.transport {
            Transport::Tcp(tcp) => {
                // Options are parsed only where they matter: the window scale on
                // SYNs, SACK blocks on pure ACKs (the receiver reporting a hole).
                let syn = tcp.flags().contains(TcpFlags::SYN);
                let pure_ack = tcp.payload_len() == 0 && tcp.header_len() > 20;
                let (opts, sack) = if syn || pure_ack {
                    let o = tcp.options();
                    (o.window_scale.filter(|_| syn), !o.sack().is_empty())
                } else {
                    (None, false)
                };
                let seg = Segment {
                    seq: tcp.seq(),
                    ack: tcp.ack(),
                    flags: tcp.flags(),
                    len: tcp.payload_len(),
                    window: tcp.window(),
                    window_scale: opts,
                    sack,
                    ts: frame.ts,
                };
                let src = (ip.src, tcp.src_port());
                let dst = (ip.dst, tcp.dst_port());
                let Some((slot, side)) = self.lookup_tcp(src, dst, vlan, &seg, frame, sink) else {
                    return;
                };
                let p = TcpPacket {
                    seg,
                    frame: frame.number,
                    ttl: ip.ttl,
                };
                let Some(entry) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                    return;
                };
                // Analysis first: it measures the quiet time before this packet.
                let events = entry.conn.on_tcp(side, &p, tcp.payload(), sink);
                let len = PacketLen {
                    wire: frame.orig_len,
                    ip: ip.total_len,
                    payload: seg.len,
                };
                entry.conn.count(side, len, ip.ttl, frame.ts, frame.number);
                let id = entry.conn.id;
                if !events.is_empty() {
                    sink.tcp_events(id, frame.number, frame.ts, side, events);
                }
                self.reclassify_and_touch(slot, sink);
            }
            Transport::Udp(udp) => {
                let src = (ip.src, udp.src_port());
                let dst = (ip.dst, udp.dst_port());
                let key = FlowKey::of(Protocol::Udp, src, dst, vlan);
                let slot = match self.index.get(&key) {
                    Some(&slot) => slot,
                    None => {
                        let (client, server, roles) = roles_by_ports(src, dst);
                        let slot = self.insert(key, client, server, roles, frame, sink);
                        if roles == RoleSource::Ports && server == sock(src) {
                            if let Some(entry) = self.slots.get_mut(slot).and_then(Option::as_mut) {
                                entry.conn.flipped_at_start();
                            }
                        }
                        slot
                    }
                };
                let Some(entry) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                    return;
                };
                let side = side_of(&entry.conn, src);
                sink.datagram(entry.conn.id, side, udp.payload(), frame.number, frame.ts);
                let len = PacketLen {
                    wire: frame.orig_len,
                    ip: ip.total_len,
                    payload: u32::from(udp.length().saturating_sub(8)),
                };
                entry.conn.count(side, len, ip.ttl, frame.ts, frame.number);
                self.reclassify_and_touch(slot, sink);
            }
            Transport::Icmp(icmp) => {
                self.icmp_flow(icmp, &ip, vlan, frame, sink);
                self.icmp_error(icmp, &ip, vlan, frame, sink);
            }
            _ => {}
        }
    }

    /// An ICMP error quoting a packet of a TCP or UDP flow: a note on that flow.
    fn icmp_error(
        &mut self,
        icmp: &IcmpMessage<'_>,
        ip: &IpHeader,
        vlan: Option<u16>,
        frame: &Frame<'_>,
        sink: &mut impl FlowSink,
    ) {
        let Some(q) = icmp.quoted() else {
            return;
        };
        let protocol = match q.protocol {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            _ => return,
        };
        let (Some(sp), Some(dp)) = (q.src_port, q.dst_port) else {
            self.stats.icmp_unmatched += 1;
            return;
        };
        let key = FlowKey::of(protocol, (q.src, sp), (q.dst, dp), vlan);
        match self
            .index
            .get(&key)
            .and_then(|&s| self.slots.get_mut(s))
            .and_then(Option::as_mut)
        {
            Some(entry) => {
                self.stats.icmp_matched += 1;
                let note = IcmpNote {
                    frame: frame.number,
                    ts: frame.ts,
                    from: ip.src,
                    description: icmp.kind().to_string(),
                    unreachable: icmp.icmp_type() == if icmp.version() == 6 { 1 } else { 3 },
                    quoted_udp_head: q.udp_payload_head,
                };
                sink.icmp_error(entry.conn.id, &note);
                if entry.conn.icmp.len() < 16 {
                    entry.conn.icmp.push(note);
                }
            }
            None => self.stats.icmp_unmatched += 1,
        }
    }

    /// An ICMP message as a flow of its own, paired as Zeek pairs them: the
    /// sender's port is the message type, the receiver's its counterpart (the
    /// reply's type: echo 8 and reply 0 are one flow), or the code for
    /// one-way messages such as errors.
    fn icmp_flow(
        &mut self,
        icmp: &IcmpMessage<'_>,
        ip: &IpHeader,
        vlan: Option<u16>,
        frame: &Frame<'_>,
        sink: &mut impl FlowSink,
    ) {
        let ty = icmp.icmp_type();
        let src = (ip.src, u16::from(ty));
        let dst = (ip.dst, icmp_counterpart(icmp.version(), ty, icmp.code()));
        let key = FlowKey::of(Protocol::Icmp, src, dst, vlan);
        let slot = match self.index.get(&key) {
            Some(&slot) => slot,
            None => self.insert(
                key,
                sock(src),
                sock(dst),
                RoleSource::FirstPacket,
                frame,
                sink,
            ),
        };
        let Some(entry) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let side = side_of(&entry.conn, src);
        let len = PacketLen {
            wire: frame.orig_len,
            ip: ip.total_len,
            // Zeek counts what follows the 8-byte ICMP header.
            payload: ip.payload_len.saturating_sub(8),
        };
        entry.conn.count(side, len, ip.ttl, frame.ts, frame.number);
        self.reclassify_and_touch(slot, sink);
    }

    /// Ends every open flow (end of input), in order of first packet.
    pub fn finish(&mut self, sink: &mut impl FlowSink) {
        // The capture's last moment, for what was still waiting at its end.
        sink.clock(self.now);
        let mut open: Vec<usize> = self.index.values().copied().collect();
        open.sort_by_key(|&slot| self.slots[slot].as_ref().map_or(0, |e| e.conn.id));
        for slot in open {
            self.end(slot, EndReason::OpenAtEnd, sink);
        }
    }

    fn lookup_tcp(
        &mut self,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        vlan: Option<u16>,
        seg: &Segment,
        frame: &Frame<'_>,
        sink: &mut impl FlowSink,
    ) -> Option<(usize, Side)> {
        let key = FlowKey::of(Protocol::Tcp, src, dst, vlan);
        let syn = seg.flags.contains(TcpFlags::SYN);
        let ack = seg.flags.contains(TcpFlags::ACK);
        if let Some(&slot) = self.index.get(&key) {
            let entry = self.slots.get(slot)?.as_ref()?;
            let side = side_of(&entry.conn, src);
            let reused = syn && !ack && {
                let conn = &entry.conn;
                let isn = conn.tcp.as_ref().and_then(|t| t.client_isn);
                conn.is_closed()
                    || (isn.is_some_and(|isn| isn != seg.seq) && conn.is_established())
                    || (side == Side::Server && conn.is_established())
            };
            if !reused {
                return Some((slot, side));
            }
            let reason = if entry.conn.is_closed() {
                closed_reason(&entry.conn)
            } else {
                EndReason::OpenAtEnd
            };
            self.end(slot, reason, sink);
        } else if self.tombstones.contains_key(&key) {
            if !syn || ack {
                // A late packet of a connection already reported.
                self.stats.late_after_close += 1;
                return None;
            }
            // Port reuse: a new connection on the same four-tuple.
            self.tombstones.remove(&key);
        }
        let (client, server, roles) = if syn && !ack {
            (sock(src), sock(dst), RoleSource::Syn)
        } else if syn && ack {
            (sock(dst), sock(src), RoleSource::SynAck)
        } else {
            roles_by_ports(src, dst)
        };
        let slot = self.insert(key, client, server, roles, frame, sink);
        if roles == RoleSource::Ports && server == sock(src) {
            if let Some(entry) = self.slots.get_mut(slot).and_then(Option::as_mut) {
                entry.conn.flipped_at_start();
            }
        }
        let side = if sock(src) == client {
            Side::Client
        } else {
            Side::Server
        };
        Some((slot, side))
    }

    fn insert(
        &mut self,
        key: FlowKey,
        client: SocketAddr,
        server: SocketAddr,
        roles: RoleSource,
        frame: &Frame<'_>,
        sink: &mut impl FlowSink,
    ) -> usize {
        if self.index.len() >= self.config.max_flows.max(1) {
            if let Some(oldest) = self.least_recent() {
                self.stats.evicted += 1;
                self.end(oldest, EndReason::Evicted, sink);
            }
        }
        let mut conn = Connection::new(
            self.next_id,
            key,
            client,
            server,
            roles,
            frame.ts,
            frame.number,
        );
        // A connection first seen mid-stream was quiet at least since the
        // capture began: a pooled connection's first request after idle.
        if roles != RoleSource::Syn && roles != RoleSource::SynAck {
            conn.quiet_since = self.first_ts.unwrap_or(frame.ts).min(frame.ts);
        }
        sink.opened(conn.id, key.protocol, client, server);
        self.next_id += 1;
        self.stats.connections += 1;
        let class = if key.protocol != Protocol::Tcp {
            Class::Udp
        } else {
            Class::HalfOpen
        };
        let entry = Entry {
            conn,
            class,
            prev: None,
            next: None,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(entry);
                s
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.index.insert(key, slot);
        self.push_back(slot);
        self.stats.peak_open = self.stats.peak_open.max(self.index.len());
        slot
    }

    fn class_of(conn: &Connection) -> Class {
        if conn.key.protocol != Protocol::Tcp {
            Class::Udp
        } else if conn.is_syn_only() {
            Class::SynOnly
        } else if conn.is_closed() {
            Class::Closed
        } else if conn.is_established() {
            Class::Established
        } else {
            Class::HalfOpen
        }
    }

    fn timeout(&self, class: Class) -> i64 {
        match class {
            Class::HalfOpen | Class::SynOnly => self.config.half_open_timeout_ns,
            Class::Established => self.config.established_timeout_ns,
            Class::Closed => self.config.closed_timeout_ns,
            Class::Udp => self.config.udp_timeout_ns,
        }
    }

    /// Moves a flow to the tail of its (possibly new) class list.
    fn reclassify_and_touch(&mut self, slot: usize, sink: &mut impl FlowSink) {
        self.unlink(slot);
        if let Some(entry) = self.slots[slot].as_mut() {
            entry.class = Self::class_of(&entry.conn);
        }
        self.push_back(slot);
        if let Some(entry) = self.slots[slot].as_ref() {
            if entry.class == Class::Closed && entry.conn.is_close_complete() {
                // Reported now, not after the closed time-out: a busy
                // capture closes thousands a second, each holding state.
                let (key, reason) = (entry.conn.key, closed_reason(&entry.conn));
                self.end(slot, reason, sink);
                self.tombstones.insert(key, self.now);
                self.tomb_order.push_back((self.now, key));
                return;
            }
        }
        let syn_only = &self.lists[Class::SynOnly as usize];
        if syn_only.len > self.config.max_syn_only.max(1) {
            if let Some(oldest) = syn_only.head.filter(|&h| h != slot) {
                self.stats.syn_only_ended_early += 1;
                self.end(oldest, EndReason::Evicted, sink);
            }
        }
    }

    fn expire(&mut self, sink: &mut impl FlowSink) {
        while let Some(&(closed, key)) = self.tomb_order.front() {
            if self.now.since(closed) <= self.config.closed_timeout_ns {
                break;
            }
            self.tomb_order.pop_front();
            if self.tombstones.get(&key) == Some(&closed) {
                self.tombstones.remove(&key);
            }
        }
        for class in CLASSES {
            let timeout = self.timeout(class);
            while let Some(head) = self.lists[class as usize].head {
                let Some(entry) = self.slots[head].as_ref() else {
                    break;
                };
                if self.now.since(entry.conn.last.0) <= timeout {
                    break;
                }
                let reason = if class == Class::Closed {
                    closed_reason(&entry.conn)
                } else {
                    self.stats.timed_out += 1;
                    EndReason::Timeout
                };
                self.end(head, reason, sink);
            }
        }
    }

    fn least_recent(&self) -> Option<usize> {
        self.lists.iter().filter_map(|l| l.head).min_by_key(|&s| {
            self.slots[s]
                .as_ref()
                .map_or(Timestamp(i64::MAX), |e| e.conn.last.0)
        })
    }

    fn end(&mut self, slot: usize, reason: EndReason, sink: &mut impl FlowSink) {
        self.unlink(slot);
        if let Some(mut entry) = self.slots[slot].take() {
            self.index.remove(&entry.conn.key);
            self.free.push(slot);
            entry.conn.finish_streams(sink);
            let reason = match reason {
                EndReason::OpenAtEnd | EndReason::Timeout if entry.conn.is_closed() => {
                    closed_reason(&entry.conn)
                }
                other => other,
            };
            sink.connection(entry.conn.into_record(reason));
        }
    }

    fn push_back(&mut self, slot: usize) {
        let Some(class) = self.slots[slot].as_ref().map(|e| e.class) else {
            return;
        };
        let list = &mut self.lists[class as usize];
        list.len += 1;
        let old_tail = list.tail;
        list.tail = Some(slot);
        if list.head.is_none() {
            list.head = Some(slot);
        }
        if let Some(t) = old_tail {
            if let Some(e) = self.slots[t].as_mut() {
                e.next = Some(slot);
            }
        }
        if let Some(e) = self.slots[slot].as_mut() {
            e.prev = old_tail;
            e.next = None;
        }
    }

    fn unlink(&mut self, slot: usize) {
        let Some((class, prev, next)) =
            self.slots[slot].as_ref().map(|e| (e.class, e.prev, e.next))
        else {
            return;
        };
        let list = &mut self.lists[class as usize];
        list.len = list.len.saturating_sub(1);
        match prev {
            Some(p) => {
                if let Some(e) = self.slots[p].as_mut() {
                    e.next = next;
                }
            }
            None => self.lists[class as usize].head = next,
        }
        match next {
            Some(n) => {
                if let Some(e) = self.slots[n].as_mut() {
                    e.prev = prev;
                }
            }
            None => self.lists[class as usize].tail = prev,
        }
        if let Some(e) = self.slots[slot].as_mut() {
            e.prev = None;
            e.next = None;
        }
    }
}

fn sock(a: (IpAddr, u16)) -> SocketAddr {
    SocketAddr::new(a.0, a.1)
}

fn side_of(conn: &Connection, src: (IpAddr, u16)) -> Side {
    if sock(src) == conn.client {
        Side::Client
    } else {
        Side::Server
    }
}

/// Roles without a handshake: a well-known port (< 1024) facing an unprivileged
/// one marks the server; otherwise the first packet's sender is the client.
/// Zeek's counterpart of an ICMP type (`ICMP4_counterpart`/`ICMP6_counterpart`):
/// the reply's type for a request and the other way round, else the code.
fn icmp_counterpart(version: u8, ty: u8, code: u8) -> u16 {
    let pair = if version == 6 {
        match ty {
            128 => Some(129), // echo
            129 => Some(128),
            133 => Some(134), // router solicitation / advertisement
            134 => Some(133),
            135 => Some(136), // neighbor solicitation / advertisement
            136 => Some(135),
            130 => Some(131), // multicast listener query / report
            131 => Some(130),
            139 => Some(140), // node information query / reply
            140 => Some(139),
            144 => Some(145), // home agent address discovery
            145 => Some(144),
            146 => Some(147), // mobile prefix solicitation / advertisement
            147 => Some(146),
            _ => None,
        }
    } else {
        match ty {
            8 => Some(0), // echo
            0 => Some(8),
            13 => Some(14), // timestamp
            14 => Some(13),
            15 => Some(16), // information
            16 => Some(15),
            10 => Some(9), // router solicitation / advertisement
            9 => Some(10),
            17 => Some(18), // address mask
            18 => Some(17),
            _ => None,
        }
    };
    u16::from(pair.unwrap_or(code))
}

fn roles_by_ports(src: (IpAddr, u16), dst: (IpAddr, u16)) -> (SocketAddr, SocketAddr, RoleSource) {
    match (src.1 < 1024, dst.1 < 1024) {
        (true, false) => (sock(dst), sock(src), RoleSource::Ports),
        (false, true) => (sock(src), sock(dst), RoleSource::Ports),
        _ => (sock(src), sock(dst), RoleSource::FirstPacket),
    }
}

fn closed_reason(conn: &Connection) -> EndReason {
    let Some(t) = conn.tcp.as_ref() else {
        return EndReason::Timeout;
    };
    if let Some(r) = t.rst {
        return EndReason::Reset {
            by: r.by,
            frame: r.frame,
            idle_before_ns: r.idle_before_ns,
        };
    }
    match (t.fin[0], t.fin[1]) {
        (Some(c), Some(s)) => EndReason::Fin {
            first: if c.1 <= s.1 {
                Side::Client
            } else {
                Side::Server
            },
        },
        (Some(_), None) => EndReason::HalfClosed { by: Side::Client },
        (None, Some(_)) => EndReason::HalfClosed { by: Side::Server },
        (None, None) => EndReason::Timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::LinkType;
    use crate::decode::decode;

    /// Collects what the table emits.
    #[derive(Default)]
    struct Collect {
        streams: [Vec<u8>; 2],
        gaps: Vec<(Side, u64, u64)>,
        ends: Vec<(Side, StreamEnd)>,
        records: Vec<ConnRecord>,
    }

    impl FlowSink for Collect {
        fn stream_data(
            &mut self,
            _: u64,
            side: Side,
            offset: u64,
            bytes: &[u8],
            _: u64,
            _: Timestamp,
        ) {
            let s = &mut self.streams[side as usize];
            assert_eq!(offset as usize, s.len(), "in order, no holes");
            s.extend_from_slice(bytes);
        }
        fn stream_gap(&mut self, _: u64, side: Side, offset: u64, len: u64) {
            self.gaps.push((side, offset, len));
            self.streams[side as usize].extend(std::iter::repeat_n(b'?', len as usize));
        }
        fn stream_end(&mut self, _: u64, side: Side, how: StreamEnd) {
            self.ends.push((side, how));
        }
        fn connection(&mut self, record: ConnRecord) {
            self.records.push(record);
        }
    }

    fn raw_tcp(client: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
        let (a, b, pa, pb) = if client {
            ([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80)
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000)
        };
        let mut builder = etherparse::PacketBuilder::ipv4(a, b, 64).tcp(pa, pb, seq, 1000);
        for f in flags.chars() {
            builder = match f {
                'S' => builder.syn(),
                'F' => builder.fin(),
                'R' => builder.rst(),
                '.' => builder.ack(ack),
                _ => builder,
            };
        }
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    fn feed(table: &mut FlowTable, sink: &mut Collect, frames: &[Vec<u8>]) {
        for (i, data) in frames.iter().enumerate() {
            let frame = Frame {
                number: i as u64 + 1,
                ts: Timestamp(i as i64 * 1_000_000),
                orig_len: data.len() as u32,
                link: LinkType::RAW,
                interface: 0,
                data,
            };
            table.on_packet(&frame, &decode(frame.link, frame.data), sink);
        }
    }

    #[test]
    fn streams_arrive_in_order_with_gaps_marked() {
        let mut table = FlowTable::new(FlowConfig::default());
        let mut sink = Collect::default();
        let frames = vec![
            raw_tcp(true, 99, 0, "S", &[]),
            raw_tcp(false, 499, 100, "S.", &[]),
            raw_tcp(true, 100, 500, ".", &[]),
            // Client request in three pieces, the last two swapped.
            raw_tcp(true, 100, 500, ".", b"GET / "),
            raw_tcp(true, 115, 500, ".", b"\r\n\r\n"),
            raw_tcp(true, 106, 500, ".", b"HTTP/1.1 "),
            // Server data of which the capture missed the middle: the client ACKs it all.
            raw_tcp(false, 500, 119, ".", b"HTTP/1.1 "),
            raw_tcp(false, 514, 119, ".", b"OK"),
            raw_tcp(true, 119, 516, ".", &[]),
            raw_tcp(true, 119, 516, "F.", &[]),
            raw_tcp(false, 516, 120, "F.", &[]),
        ];
        feed(&mut table, &mut sink, &frames);
        table.finish(&mut sink);
        assert_eq!(sink.streams[0], b"GET / HTTP/1.1 \r\n\r\n");
        assert_eq!(sink.streams[1], b"HTTP/1.1 ?????OK");
        assert_eq!(sink.gaps, [(Side::Server, 9, 5)]);
        assert_eq!(
            sink.ends,
            [
                (Side::Client, StreamEnd::Fin),
                (Side::Server, StreamEnd::Fin)
            ]
        );
        let record = &sink.records[0];
        assert_eq!(record.streams[1].gaps, 1);
        assert!(
            record.history.contains('g'),
            "Zeek's content gap letter: {}",
            record.history
        );
    }

    #[test]
    fn idle_flows_time_out_by_packet_time_and_closed_ones_sooner() {
        let config = FlowConfig {
            established_timeout_ns: 10_000_000,
            closed_timeout_ns: 1_000_000,
            ..FlowConfig::default()
        };
        let mut table = FlowTable::new(config);
        let mut sink = Collect::default();
        let mut frames = vec![
            raw_tcp(true, 99, 0, "S", &[]),
            raw_tcp(false, 499, 100, "S.", &[]),
            raw_tcp(true, 100, 500, ".", &[]),
        ];
        // 20 ms of other traffic later (1 ms per frame), the connection has timed out.
        for i in 0..20u32 {
            frames.push({
                let mut out = Vec::new();
                etherparse::PacketBuilder::ipv4([10, 9, 9, 9], [10, 9, 9, 8], 64)
                    .udp(1000 + i as u16, 53)
                    .write(&mut out, b"x")
                    .unwrap();
                out
            });
        }
        feed(&mut table, &mut sink, &frames);
        let tcp: Vec<_> = sink
            .records
            .iter()
            .filter(|r| r.protocol == Protocol::Tcp)
            .collect();
        assert_eq!(
            tcp.len(),
            1,
            "the idle TCP connection ended before the input did"
        );
        assert_eq!(tcp[0].ended, EndReason::Timeout);
        assert_eq!(table.stats().timed_out, 1);
    }
}
