//! The [`Analyzer`]: receives what the flow table emits, runs the
//! application layer with the keys, learns DNS names, applies the diagnosis
//! rules and the expect checks, and hands every record to its
//! [`AnalysisOutput`] as it is made. Findings are held for the stories at the
//! end, up to a budget (`overflow.rs`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use serde::Serialize;

use super::overflow::{held_for_memory, Overflowed};
use super::replay::{self, Replays};
use super::syn_loss::SynLoss;
use super::AnalysisOutput;
use crate::app::dns::{ops as dns_ops, DnsRecord};
use crate::app::http::HttpTransaction;
use crate::app::tls::TlsKeys;
use crate::app::{AppLayer, AppRecords};
use crate::base::Side;
use crate::base::Timestamp;
use crate::decrypt::{KeyLog, KeyLogWarning};
use crate::diagnose::capture::{
    annotate_losses, diagnose as diagnose_capture, CaptureHoles, CaptureQuality,
};
use crate::diagnose::group::{Group, Grouper};
use crate::diagnose::story::{self, Story};
use crate::diagnose::tcp::{is_dead_request, TcpRules};
use crate::diagnose::{
    dns as diagnose_dns, expect as diagnose_expect, http as diagnose_http, tcp as diagnose_tcp,
    tls as diagnose_tls,
};
use crate::diagnose::{Finding, Severity};
use crate::expect::Expectations;
use crate::flow::conn::{ConnRecord, IcmpNote};
use crate::flow::events::TcpEvents;
use crate::flow::key::Protocol;
use crate::flow::reassembly::StreamEnd;
use crate::flow::table::FlowSink;
use crate::report::app_json::HttpJson;

/// DNS answers remembered to name later connections by their server address.
const DNS_NAMES: usize = 4096;
/// DNS records kept for the cross-record rules (search lists); beyond it the
/// oldest are diagnosed alone.
const DNS_RECORDS: usize = 100_000;
/// Live: DNS records kept for the DNS phase of later calls (each lookup is
/// diagnosed as it completes).
const DNS_LIVE_RECORDS: usize = 4096;
/// Completed transactions held per open connection; past it the older ones
/// (all but the first, which carries the set-up phases) are written at once,
/// timed with the handshake's round trip, so a long keep-alive connection
/// holds a bounded number.
const HELD_PER_CONN: usize = 64;

/// A name learned from DNS: which client asked, the answer's address, when.
struct LearnedName {
    client: IpAddr,
    address: IpAddr,
    name: String,
    answered: Timestamp,
    /// The lookup's first query frame: its record among `dns_records`.
    query_frame: u64,
}

/// The analysis of one capture (or live stream): a [`FlowSink`] whose
/// records go to `output` as they are made.
pub struct Analyzer<O: AnalysisOutput> {
    /// Where records go.
    pub output: O,
    /// Run the application layer (off with `--no-app`).
    pub app_enabled: bool,
    /// `--expect` rules for HTTP transactions.
    pub expect: Expectations,
    /// Settings of the TCP rules (`--idle-gap`).
    pub tcp_rules: TcpRules,
    /// Hold every finding for the stories (`--all`), not a budget's worth.
    pub all: bool,
    /// Most findings held (`overflow.rs`).
    pub findings_held: usize,
    /// Live input (`watch`): each DNS lookup is diagnosed as it completes,
    /// not with the others at the end, so its findings are told at once.
    pub live: bool,
    app: AppLayer,
    /// The TLS keys, once a key log or a secrets block gave some.
    keys: Option<TlsKeys>,
    /// TLS connections a key log did not decrypt, and why (capped).
    undecrypted: Vec<(u64, String)>,
    findings: Vec<Finding>,
    /// Call names by connection: SNI, Host header or DNS name.
    targets: HashMap<u64, String>,
    dns_records: Vec<DnsRecord>,
    names: VecDeque<LearnedName>,
    counts: AppCounts,
    /// Requests that died on dead pooled connections, waiting for a replay.
    replays: Replays,
    /// Lost SYNs judged against the other connections to their server.
    syn_loss: SynLoss,
    /// Transactions complete before their connection ended (checked, with
    /// rules, and their kept bodies dropped), with their findings, waiting
    /// for their connection's record.
    checked_http: HashMap<u64, Vec<(HttpTransaction, Vec<Finding>)>>,
    /// Connections with holes the capture never saw, for `capture.drops`.
    holes: CaptureHoles,
    /// Groups of the findings not held (the held ones join at the end).
    grouper: Grouper,
    /// Findings past `findings_held`: counted here, grouped, handed out, not held.
    overflowed: Overflowed,
    /// Open connections' round trips from their handshakes.
    handshake_rtts: HashMap<u64, i64>,
    /// Findings on transactions written before their connection ended.
    early_found: HashMap<u64, Vec<Finding>>,
    /// Go goroutine dumps to join to the capture (`--goroutines`).
    go: Option<super::goroutines::GoJoin>,
    /// Where each connection lies in the capture, kept for `--evidence`
    /// (`None`: not asked for).
    spans: Option<HashMap<u64, ConvSpan>>,
}

/// Where one connection lies in the capture: its endpoints and its first and
/// last frames (for `--evidence`, which takes its frames again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpan {
    /// Client endpoint.
    pub client: std::net::SocketAddr,
    /// Server endpoint.
    pub server: std::net::SocketAddr,
    /// Its first frame.
    pub first_frame: u64,
    /// Its last frame.
    pub last_frame: u64,
    /// Its packets, both ways.
    pub packets: u64,
}

/// At most this many connection spans kept (about 14 MB with the hash
/// table's slack: an entry is 96 bytes); later connections are found by the
/// endpoints their findings name.
pub const MAX_SPANS: usize = 100_000;

/// What an analysis concluded, at the end of its input.
#[derive(Debug)]
pub struct Conclusion {
    /// The held findings, in story order.
    pub findings: Vec<Finding>,
    /// One story per failed call among the held findings.
    pub stories: Vec<Story>,
    /// Every finding, held or not, by kind, server and endpoint.
    pub groups: Vec<Group>,
    /// The findings not held.
    pub overflowed: Overflowed,
    /// Calls with findings: the stories and the overflowed calls.
    pub calls: u64,
    /// Application records seen.
    pub counts: AppCounts,
    /// TLS connections a key log did not decrypt, and why (the first
    /// [`MAX_UNDECRYPTED_SHOWN`]).
    pub undecrypted: Vec<(u64, String)>,
    /// Where each connection lies, when asked ([`Analyzer::keep_spans`]).
    pub spans: HashMap<u64, ConvSpan>,
}

impl Conclusion {
    /// The worst severity among all findings.
    pub fn worst(&self) -> Option<Severity> {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .max(self.overflowed.worst)
    }

    /// All findings, held or not.
    pub fn total_findings(&self) -> u64 {
        self.findings.len() as u64 + self.overflowed.findings
    }
}

/// How many application records were seen.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AppCounts {
    /// DNS lookups.
    pub dns: u64,
    /// TLS handshakes.
    pub tls: u64,
    /// HTTP transactions.
    pub http: u64,
    /// TLS connections decrypted (with a key log).
    pub decrypted: u64,
    /// TLS connections not decrypted although a key log was given.
    pub not_decrypted: u64,
}

/// Most undecrypted connections listed by id in the text report.
pub const MAX_UNDECRYPTED_SHOWN: usize = 20;

impl<O: AnalysisOutput> Analyzer<O> {
    /// An analysis with the default settings whose records go to `output`.
    pub fn new(output: O) -> Self {
        Analyzer {
            output,
            app_enabled: true,
            expect: Expectations::default(),
            tcp_rules: TcpRules::default(),
            all: false,
            findings_held: held_for_memory(crate::flow::table::DEFAULT_MEMORY),
            live: false,
            app: AppLayer::new(),
            keys: None,
            undecrypted: Vec::new(),
            findings: Vec::new(),
            targets: HashMap::new(),
            dns_records: Vec::new(),
            names: VecDeque::new(),
            counts: AppCounts::default(),
            replays: Replays::default(),
            syn_loss: SynLoss::default(),
            checked_http: HashMap::new(),
            holes: CaptureHoles::default(),
            grouper: Grouper::default(),
            overflowed: Overflowed::default(),
            handshake_rtts: HashMap::new(),
            early_found: HashMap::new(),
            go: None,
            spans: None,
        }
    }

    /// Keeps `record`'s span when asked: a connection with findings while
    /// fewer than [`MAX_SPANS`] are kept, any other (a later finding may
    /// cite it: a lookup timed out after its flow ended) while fewer than
    /// half.
    fn keep_span(&mut self, record: &ConnRecord, has_findings: bool) {
        let Some(spans) = self.spans.as_mut() else {
            return;
        };
        let room = if has_findings {
            MAX_SPANS
        } else {
            MAX_SPANS / 2
        };
        if spans.len() < room {
            spans.insert(
                record.id,
                ConvSpan {
                    client: record.client,
                    server: record.server,
                    first_frame: record.first_frame,
                    last_frame: record.last_frame,
                    packets: record
                        .client_stats
                        .packets
                        .saturating_add(record.server_stats.packets),
                },
            );
        }
    }

    /// Keeps where each connection lies in the capture, for `--evidence`
    /// and the HTML report's ladders.
    pub fn keep_spans(&mut self) {
        self.spans.get_or_insert_with(HashMap::new);
    }

    /// Joins these Go goroutine dumps (`--goroutines`) and CPU profiles
    /// (`--profile`) to the capture.
    pub fn set_goroutines(
        &mut self,
        dumps: Vec<crate::diagnose::go::GoDump>,
        cpu: Vec<crate::diagnose::go::cpu::CpuView>,
    ) {
        if !dumps.is_empty() || !cpu.is_empty() {
            self.go = Some(super::goroutines::GoJoin::new(dumps, cpu));
        }
    }

    /// Decrypts TLS with `keys` (from `keys::load_keylogs`).
    pub fn set_keys(&mut self, keys: TlsKeys) {
        self.app.set_keys(keys.clone());
        self.keys = Some(keys);
    }

    /// Adds the secrets of a key log text (a pcapng Decryption Secrets
    /// Block's); returns its malformed lines.
    pub fn add_secrets(&mut self, text: &str) -> Vec<KeyLogWarning> {
        if self.keys.is_none() {
            self.set_keys(TlsKeys::new(KeyLog::new()));
        }
        self.keys
            .as_ref()
            .map(|k| k.add_text(text))
            .unwrap_or_default()
    }

    /// Keeps the request and response fields and body prefixes the rules
    /// read (see `expect::Expectations::needs`).
    pub fn set_http_keep(&mut self, keep: crate::app::http::KeepConfig) {
        self.app.set_http_keep(keep);
    }

    /// Adds one call's findings: held, unless `findings_held` are held already and
    /// no later rule will amend them (`pinned`); then counted, grouped and
    /// written at once (see `overflow.rs`). True when they were held.
    fn add_findings(&mut self, batch: Vec<Finding>, pinned: bool) -> bool {
        if !batch.is_empty() {
            let target = batch
                .iter()
                .find_map(|f| f.conn)
                .and_then(|c| self.targets.get(&c))
                .cloned();
            self.output.findings(&batch, target.as_deref());
        }
        if pinned || self.all || self.findings.len() < self.findings_held {
            self.findings.extend(batch);
            return true;
        }
        self.overflowed.count(&batch);
        for f in &batch {
            self.grouper.add(f, &self.targets);
        }
        self.output.overflowed_findings(batch);
        false
    }

    /// When `tx` replays a request a dead pooled connection swallowed: links
    /// that connection's finding to it and returns the dead connection's id.
    fn link_replay(&mut self, tx: &HttpTransaction) -> Option<u64> {
        let (dead, seen) = self.replays.take_replayed(tx)?;
        if let Some(f) = self.findings.get_mut(dead.finding) {
            replay::link(f, &dead, &seen);
        }
        Some(dead.conn)
    }

    /// DNS records finished so far: emitted, remembered for naming and for the
    /// cross-record rules at the end.
    fn drain_dns(&mut self, records: Vec<DnsRecord>) {
        for r in records {
            self.counts.dns += 1;
            self.output.dns(&r);
            if let Some(go) = &mut self.go {
                go.dns(&r);
            }
            if let Some(answered) = r.response_time {
                for address in r.addresses() {
                    if self.names.len() == DNS_NAMES {
                        self.names.pop_front();
                    }
                    self.names.push_back(LearnedName {
                        client: r.client.ip(),
                        address,
                        name: r.qname.clone(),
                        answered,
                        query_frame: r.query_frame,
                    });
                }
            }
            if self.live {
                // Told now, alone: the rules across lookups need the end.
                self.targets.insert(r.conn, r.qname.clone());
                let found = diagnose_dns::diagnose(&r);
                self.add_findings(found, false);
                if self.dns_records.len() == DNS_LIVE_RECORDS {
                    self.dns_records.remove(0);
                }
            } else if self.dns_records.len() == DNS_RECORDS {
                let old = self.dns_records.remove(0);
                self.add_findings(diagnose_dns::diagnose(&old), false);
            }
            self.dns_records.push(r);
        }
    }

    /// The DNS name a client resolved to this server address before `start`.
    fn learned(&self, c: &ConnRecord) -> Option<&LearnedName> {
        self.names.iter().rev().find(|n| {
            n.address == c.server.ip() && n.client == c.client.ip() && n.answered <= c.start
        })
    }

    /// Emits the connection's application records and returns their findings,
    /// a description of each response an RST cut short, and the last request
    /// left without a response.
    fn app_records(
        &mut self,
        record: &ConnRecord,
        app: AppRecords,
    ) -> (Vec<Finding>, Vec<String>, Option<replay::Seen>) {
        let mut found = Vec::new();
        let mut cut = Vec::new();
        let mut unanswered = None;
        let learned = self
            .learned(record)
            .map(|n| (n.name.clone(), (n.client, n.query_frame)));
        let mut target = learned.as_ref().map(|(n, _)| n.clone());
        if let Some(tls) = &app.tls {
            self.counts.tls += 1;
            match &tls.decryption {
                Some(d) if d.status == "decrypted" => self.counts.decrypted += 1,
                Some(d) if d.status == "nothing_encrypted" => {}
                Some(d) => {
                    self.counts.not_decrypted += 1;
                    if self.undecrypted.len() < MAX_UNDECRYPTED_SHOWN {
                        self.undecrypted
                            .push((tls.conn, d.reason.clone().unwrap_or_default()));
                    }
                }
                None => {}
            }
            self.output.tls(tls);
            found.extend(diagnose_tls::diagnose(tls));
            if let Some(sni) = &tls.sni {
                target = Some(sni.clone());
            }
        }
        let early = self.checked_http.remove(&record.id).unwrap_or_default();
        let late = app.http.into_iter().map(|tx| (tx, None));
        let all = early.into_iter().map(|(tx, f)| (tx, Some(f))).chain(late);
        for (i, (mut tx, checked)) in all.enumerate() {
            if let (false, Some(g), Some(status)) = (tx.complete, tx.gave_up.as_ref(), tx.status) {
                if matches!(g.how, Some("rst" | "rst_stream")) {
                    cut.push(format!(
                        "{} {} -> {status}: the response was cut after {} body bytes",
                        tx.method.as_deref().unwrap_or("?"),
                        tx.path.as_deref().unwrap_or("?"),
                        tx.response_body_bytes
                    ));
                }
            }
            self.counts.http += 1;
            if let Some(go) = &mut self.go {
                go.http(&tx);
            }
            // The wait holds the network's round trip, and any time the
            // request waited on its own resend: neither is the server's.
            let resend = match (tx.request_first, tx.request_last) {
                (Some(first), Some(last)) => record.request_resend_ns(first.frame, last.ts),
                _ => 0,
            };
            let network = record.path_rtt().map(|r| r + resend);
            let mut http_found = diagnose_http::diagnose(&tx, network);
            if let Some(go) = &self.go {
                go.amend_http(&tx, &mut http_found);
            }
            found.extend(http_found);
            found.extend(checked.unwrap_or_else(|| diagnose_expect::diagnose(&tx, &self.expect)));
            // The kept response is for the rules only: the records stay small.
            tx.response_data = None;
            let replay_of = self.link_replay(&tx);
            if tx.status.is_none() && tx.method.is_some() {
                unanswered = Some(replay::Seen::of(&tx));
            }
            tx.request_data = None;
            if target.is_none() {
                target = tx.host.clone();
            }
            // Set-up phases belong to the connection's first transaction only.
            let first = i == 0;
            // A TLS handshake inside a CONNECT tunnel came after the CONNECT:
            // it is no set-up phase of it.
            let connect = tx.method.as_deref() == Some("CONNECT");
            let mut row = HttpJson::new(
                tx,
                record,
                if first && !connect {
                    app.tls.as_ref()
                } else {
                    None
                },
                if first {
                    // The DNS phase: the resolver operation that produced the address.
                    learned.as_ref().and_then(|(_, (client, frame))| {
                        dns_ops::phase_ns(&self.dns_records, *client, *frame, record.start)
                    })
                } else {
                    None
                },
                first,
            );
            row.replay_of = replay_of;
            self.output.http(row);
        }
        if let Some(t) = target {
            self.targets.insert(record.id, t);
        }
        (found, cut, unanswered)
    }

    /// Takes `conn`'s transactions as they complete, so the parser holds only
    /// those in flight (its pipelining cap counts those); with rules, checks
    /// them and drops their kept responses, so bodies are held only while in
    /// flight.
    fn check_completed_http(&mut self, conn: u64) {
        let done = self.app.take_http(conn);
        if done.is_empty() {
            return;
        }
        let held = self.checked_http.entry(conn).or_default();
        for mut tx in done {
            let found = diagnose_expect::diagnose(&tx, &self.expect);
            tx.response_data = None;
            tx.request_data = None;
            held.push((tx, found));
        }
        let Some(&rtt) = self.handshake_rtts.get(&conn) else {
            return;
        };
        if held.len() <= HELD_PER_CONN {
            return;
        }
        let early: Vec<_> = held.drain(1..held.len() - HELD_PER_CONN / 2).collect();
        for (tx, found) in early {
            self.write_before_close(conn, tx, found, rtt);
        }
    }

    /// Writes a completed transaction of a connection still open (see
    /// [`HELD_PER_CONN`]); its findings wait for the connection's.
    fn write_before_close(
        &mut self,
        conn: u64,
        tx: HttpTransaction,
        mut found: Vec<Finding>,
        rtt: i64,
    ) {
        self.counts.http += 1;
        if let Some(go) = &mut self.go {
            go.http(&tx);
        }
        let mut http_found = diagnose_http::diagnose(&tx, Some(rtt));
        if let Some(go) = &self.go {
            go.amend_http(&tx, &mut http_found);
        }
        found.extend(http_found);
        let replay_of = self.link_replay(&tx);
        let mut row = HttpJson::before_close(tx, rtt);
        row.replay_of = replay_of;
        self.output.http(row);
        if !found.is_empty() {
            self.early_found.entry(conn).or_default().extend(found);
        }
    }

    /// End of input: the last records out, then the capture's own findings
    /// (from what reading saw, `quality`), the stories and the groups.
    pub fn conclude(mut self, quality: &CaptureQuality) -> (Conclusion, O) {
        self.finish();
        let mut findings = std::mem::take(&mut self.findings);
        annotate_losses(&mut findings, quality, &self.holes);
        findings.extend(diagnose_capture(quality, &self.holes));
        if let Some(go) = self.go.take() {
            let found = go.conclude(&mut findings);
            if !found.is_empty() {
                self.output.findings(&found, None);
            }
            findings.extend(found);
        }
        let stories = story::build(&mut findings, &self.targets);
        let mut grouper = std::mem::take(&mut self.grouper);
        for f in &findings {
            grouper.add(f, &self.targets);
        }
        let conclusion = Conclusion {
            findings,
            calls: stories.len() as u64 + self.overflowed.calls,
            stories,
            groups: grouper.finish(),
            overflowed: self.overflowed,
            counts: self.counts,
            undecrypted: self.undecrypted,
            spans: self.spans.take().unwrap_or_default(),
        };
        (conclusion, self.output)
    }

    /// The last DNS records and the cross-record DNS rules.
    fn finish(&mut self) {
        let rest = self.app.finish();
        self.drain_dns(rest);
        self.syn_loss.finish(&mut self.findings);
        for dead in self.replays.take_unreplayed() {
            if let Some(f) = self.findings.get_mut(dead.finding) {
                replay::unreplayed(f, &dead);
            }
        }
        let records = std::mem::take(&mut self.dns_records);
        if self.live {
            return; // each lookup was diagnosed as it completed
        }
        let (found, names) = diagnose_dns::diagnose_all_named(&records);
        // A DNS flow's story is named after its leading finding's lookup.
        for (conn, name) in names {
            self.targets.insert(conn, name);
        }
        for r in &records {
            self.targets
                .entry(r.conn)
                .or_insert_with(|| r.qname.clone());
        }
        // One call per DNS flow, as a connection's findings are one call.
        let mut found = found.into_iter().peekable();
        while let Some(first) = found.next() {
            let mut batch = vec![first];
            while let Some(f) = found.next_if(|f| f.conn == batch[0].conn) {
                batch.push(f);
            }
            self.add_findings(batch, false);
        }
    }
}

impl<O: AnalysisOutput> FlowSink for Analyzer<O> {
    fn opened(
        &mut self,
        conn: u64,
        protocol: Protocol,
        client: std::net::SocketAddr,
        server: std::net::SocketAddr,
    ) {
        self.output.opened(conn, server);
        if self.app_enabled {
            self.app.opened(conn, protocol, client, server);
        }
    }

    fn handshake_rtt(&mut self, conn: u64, rtt_ns: i64) {
        self.handshake_rtts.insert(conn, rtt_ns);
        self.output.handshake_rtt(conn, rtt_ns);
    }

    fn tcp_events(&mut self, conn: u64, frame: u64, ts: Timestamp, side: Side, events: TcpEvents) {
        self.output.tcp_events(conn, frame, ts, side, events);
    }

    fn stream_data(
        &mut self,
        conn: u64,
        side: Side,
        offset: u64,
        bytes: &[u8],
        frame: u64,
        ts: Timestamp,
    ) {
        self.app.stream_data(conn, side, offset, bytes, frame, ts);
        self.check_completed_http(conn);
    }

    fn stream_gap(&mut self, conn: u64, side: Side, offset: u64, len: u64) {
        self.app.stream_gap(conn, side, offset, len);
        self.check_completed_http(conn);
    }

    fn stream_end(&mut self, conn: u64, side: Side, how: StreamEnd) {
        self.app.stream_end(conn, side, how);
        self.check_completed_http(conn);
    }

    fn datagram(&mut self, conn: u64, side: Side, payload: &[u8], frame: u64, ts: Timestamp) {
        self.app.datagram(conn, side, payload, frame, ts);
        let done = self.app.take_dns();
        self.drain_dns(done);
    }

    fn icmp_error(&mut self, conn: u64, note: &IcmpNote) {
        self.app.icmp_error(conn, note);
    }

    fn clock(&mut self, ts: Timestamp) {
        self.app.advance(ts);
        let done = self.app.take_dns();
        self.drain_dns(done);
    }

    fn connection(&mut self, mut record: ConnRecord) {
        self.holes.note(&record);
        if let Some(go) = &mut self.go {
            go.connection(&record);
        }
        let record_is_tcp = record.protocol == Protocol::Tcp;
        let mut app = self.app.connection_ended(&record);
        record.service = std::mem::take(&mut app.service);
        self.handshake_rtts.remove(&record.id);
        let mut found = diagnose_tcp::diagnose(&record, &self.tcp_rules);
        found.extend(self.early_found.remove(&record.id).unwrap_or_default());
        let (app_found, cut, unanswered) = self.app_records(&record, app);
        found.extend(app_found);
        // The request a dead pooled connection swallowed is that finding's
        // evidence, not a server that aborted it.
        if found.iter().any(is_dead_request) {
            found.retain(|f| f.kind != "http.no_response");
        }
        self.keep_span(&record, !found.is_empty());
        let done = self.app.take_dns();
        self.drain_dns(done);
        // Indexes into `self.findings`, which `found` joins at the end.
        let syn_finding = found
            .iter()
            .position(|f| f.kind == "tcp.syn_retransmit")
            .map(|pos| self.findings.len() + pos);
        self.syn_loss.on_connection(&record, syn_finding);
        // A request that died on a dead pooled connection waits for its replay.
        if let Some(retried) = self.replays.take_retried(&record) {
            if let Some(f) = self.findings.get_mut(retried.finding) {
                replay::link_opaque(f, &retried, &record);
            }
        }
        let dead_request = found.iter().position(is_dead_request);
        if let Some(pos) = dead_request {
            // When the connection gave out: its RST, else the client's FIN
            // (it gave up on a black hole), else its last packet.
            let died = record
                .rst
                .map(|r| r.ts)
                .or(record.fin[0].map(|(ts, _)| ts))
                .unwrap_or(Timestamp(record.start.0.saturating_add(record.duration_ns)));
            match unanswered {
                Some(tx) => {
                    if let Some((dead, seen)) =
                        self.replays.note_dead(tx, died, self.findings.len() + pos)
                    {
                        replay::link(&mut found[pos], &dead, &seen);
                    }
                }
                None => self
                    .replays
                    .note_opaque(&record, died, self.findings.len() + pos),
            }
        }
        // A reset that cut a response short failed the call, whatever TCP saw
        // in flight: say which request it was.
        if !cut.is_empty() {
            for f in found.iter_mut().filter(|f| {
                matches!(
                    f.kind,
                    "tcp.reset_by_server" | "tcp.reset_by_client" | "tcp.reset_by_middlebox"
                )
            }) {
                f.severity = Severity::Error;
                f.summary = format!("{} mid-response: {}", f.summary, cut.join("; "));
            }
        }
        // Stories and groups name calls by their findings' connections only:
        // the name of a TCP call without findings is not kept (memory stays
        // bounded by the findings, not the connections). A DNS flow's
        // findings come later, from its records.
        if found.is_empty() && record.protocol == Protocol::Tcp {
            self.targets.remove(&record.id);
        }
        let id = record.id;
        self.output.connection(record, &found);
        let held = self.add_findings(found, syn_finding.is_some() || dead_request.is_some());
        if !held && record_is_tcp {
            // Overflowed: grouped already, so its name is not needed again.
            self.targets.remove(&id);
        }
    }
}
