//! Resolver operations: the lookups one stub resolver made to turn one name
//! into addresses, grouped from the [`DnsRecord`]s of a capture.
//!
//! A resolver seldom sends one query per call. Go and glibc ask A and AAAA in
//! parallel (two sockets, or one) and return when both answered; a search list
//! with `ndots` (Kubernetes' `ndots:5`) turns `api` into
//! `api.svc.cluster.local`, `api.cluster.local`, `api`, each answered NXDOMAIN
//! before the next is asked; Go resends a timed-out query from a new socket
//! with a new id. Passively these are separate lookups (see the tracker's
//! contract); this module puts them back together.
//!
//! Grouping rules, over records in order of first query. A record joins an
//! open operation of the same client address when its query was sent within
//! [`OP_GAP_NS`] of that operation's latest answer (or while it was still
//! waiting; an unanswered query waits [`UNANSWERED_WAIT_NS`]) and:
//! * it asks the same name as a member for a type no member asked (the A/AAAA
//!   pair); or
//! * it asks the same name and type as members that had no answer yet, at
//!   least [`RETRY_MIN_GAP_NS`] after the latest of them (a retry after a
//!   time-out), or over TCP after a truncated answer; or
//! * it asks another name with the same first label as the operation's first
//!   name, no member had a usable answer yet, and a member's negative answer
//!   (NXDOMAIN, or NOERROR without addresses) came at most [`OP_GAP_NS`]
//!   before it (the next name of the search list).
//!
//! Among several candidates a record joins one sent from its own socket
//! first, else the newest. Concurrent lookups of the same name and type from
//! one host never merge: the second query of a type is only a member after
//! the first went unanswered for [`RETRY_MIN_GAP_NS`]. Limitation: a lookup
//! of another name with the same first label (`www.a.example` after
//! `www.b.example` got NXDOMAIN) sent by another program on the same host
//! within [`OP_GAP_NS`] of that answer is taken for the next search name;
//! passively the two cannot be told apart.
//!
//! The DNS phase of a connection ([`phase_ns`]) is the operation that produced
//! its server address, from its first query to its last answer, when that
//! answer came at most [`PHASE_WINDOW_NS`] before the connection's first
//! packet; an older answer means the client's cache served the call (`null`).
//!
//! Bounds: at most [`MAX_OPEN`] operations are open at once (the oldest is
//! closed first); [`phase_ns`] groups at most [`PHASE_LOOKBACK`] records around
//! the lookup it is asked about.

use std::net::IpAddr;

use super::DnsRecord;
use crate::base::Timestamp;

/// How soon after the previous answer of an operation the resolver sends its
/// next query: resolvers send the next search-list name (or the other
/// address family) at once, within a millisecond; 50 ms leaves room for a
/// slow or busy client without merging a later, separate lookup.
pub const OP_GAP_NS: i64 = 50_000_000;
/// How long an unanswered query keeps its operation open: the classic stub
/// resolver time-out (glibc, musl, Go: 5 s), after which the retry comes.
pub const UNANSWERED_WAIT_NS: i64 = 5_000_000_000;
/// The least time before a resolver resends a question it is still waiting
/// for: resolver time-outs are whole seconds (glibc's minimum 1 s, divided
/// over nameservers no lower than 1 s; Go's 5 s), so a second query for the
/// same name and type sooner than this is another client, not a retry.
pub const RETRY_MIN_GAP_NS: i64 = 500_000_000;
/// The longest gap between an operation's last answer and the connection it
/// led to for the lookup to count as that call's DNS phase: a program
/// connects right after its resolver returns (microseconds to a few
/// milliseconds; 1 s allows for a slow start-up or a loaded host). An older
/// answer was served to this call from a cache.
pub const PHASE_WINDOW_NS: i64 = 1_000_000_000;
/// Most operations open at once while grouping.
pub const MAX_OPEN: usize = 256;
/// Most records [`phase_ns`] groups around the lookup it is asked about.
pub const PHASE_LOOKBACK: usize = 128;

/// One resolver operation: indexes of its records (in the slice given to
/// [`group`]), in order of first query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The resolver's host.
    pub client: IpAddr,
    /// Its lookups, in order of first query.
    pub members: Vec<usize>,
    /// The first query.
    pub start: Timestamp,
    /// The last answer the resolver waited for (`None`: nothing answered).
    pub end: Option<Timestamp>,
    /// The (lower-cased) name whose answer carried addresses, if any.
    pub answered: Option<String>,
    /// Until when a next query may join (internal).
    open_until: i64,
}

/// A name without its case and trailing dot.
pub fn normal_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The first label of a presentation-format name (up to the first unescaped dot).
fn first_label(name: &str) -> &str {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b.get(i) {
            Some(b'\\') => i += 2,
            Some(b'.') => return name.get(..i).unwrap_or(name),
            _ => i += 1,
        }
    }
    name
}

/// The answer carried addresses.
pub fn is_positive(r: &DnsRecord) -> bool {
    r.rcode.as_deref() == Some("NOERROR") && !r.addresses().is_empty()
}

/// The answer said the name (or its data) does not exist.
pub fn is_negative(r: &DnsRecord) -> bool {
    match r.rcode.as_deref() {
        Some("NXDOMAIN") => true,
        Some("NOERROR") => !r.truncated && r.addresses().is_empty(),
        _ => false,
    }
}

/// Until when a record keeps its operation open.
fn end_of(r: &DnsRecord) -> i64 {
    match r.response_time {
        Some(t) => t.0,
        None => r.query_time.0.saturating_add(UNANSWERED_WAIT_NS),
    }
}

impl Operation {
    fn new(i: usize, r: &DnsRecord) -> Operation {
        let mut op = Operation {
            client: r.client.ip(),
            members: Vec::new(),
            start: r.query_time,
            end: None,
            answered: None,
            open_until: i64::MIN,
        };
        op.add(i, r);
        op
    }

    fn add(&mut self, i: usize, r: &DnsRecord) {
        self.members.push(i);
        self.open_until = self.open_until.max(end_of(r));
        if let Some(t) = r.response_time {
            self.end = Some(self.end.map_or(t, |e| e.max(t)));
        }
        if self.answered.is_none() && is_positive(r) {
            self.answered = Some(normal_name(&r.qname));
        }
    }

    /// Whether `r` (sent after every member; `names[i]` is record `i`'s
    /// normal name) belongs to this operation.
    fn admits(&self, recs: &[&DnsRecord], names: &[String], r: &DnsRecord, name: &str) -> bool {
        let sent = r.query_time.0;
        if self.client != r.client.ip() || sent > self.open_until.saturating_add(OP_GAP_NS) {
            return false;
        }
        let members = || {
            self.members
                .iter()
                .filter_map(|&i| Some((recs.get(i).copied()?, names.get(i)?.as_str())))
        };
        if members().any(|(_, n)| n == name) {
            let same_type = || {
                members()
                    .filter(|(m, n)| *n == name && m.qtype == r.qtype)
                    .map(|(m, _)| m)
            };
            let Some(latest) = same_type().map(|m| m.query_time.0).max() else {
                return true; // the other address family
            };
            let truncated = same_type().any(|m| m.truncated);
            let waiting = same_type().all(|m| m.response_time.is_none_or(|t| t.0 > sent));
            return truncated || (waiting && sent.saturating_sub(latest) >= RETRY_MIN_GAP_NS);
        }
        let Some(first) = self.members.first().and_then(|&i| names.get(i)) else {
            return false;
        };
        if first_label(first) != first_label(name) {
            return false;
        }
        let answered_before =
            members().any(|(m, _)| is_positive(m) && m.response_time.is_some_and(|t| t.0 <= sent));
        !answered_before
            && members().any(|(m, _)| {
                is_negative(m)
                    && m.response_time
                        .is_some_and(|t| t.0 <= sent && sent <= t.0.saturating_add(OP_GAP_NS))
            })
    }

    /// Whether a member was sent from `r`'s socket.
    fn shares_socket(&self, recs: &[&DnsRecord], r: &DnsRecord) -> bool {
        self.members
            .iter()
            .filter_map(|&i| recs.get(i))
            .any(|m| m.client == r.client)
    }

    /// The DNS phase for a connection whose first packet was at `syn`, when
    /// this operation ended shortly before it (see the module doc).
    pub fn phase_ns(&self, syn: Timestamp) -> Option<i64> {
        let end = self.end?;
        let before = syn.since(end);
        (0..=PHASE_WINDOW_NS)
            .contains(&before)
            .then(|| end.since(self.start))
    }
}

/// Groups `recs` (in order of first query, as the tracker emits them) into
/// resolver operations, in order of first query.
pub fn group(recs: &[DnsRecord]) -> Vec<Operation> {
    let refs: Vec<&DnsRecord> = recs.iter().collect();
    group_refs(&refs)
}

fn group_refs(recs: &[&DnsRecord]) -> Vec<Operation> {
    let names: Vec<String> = recs.iter().map(|r| normal_name(&r.qname)).collect();
    let mut done: Vec<Operation> = Vec::new();
    let mut open: Vec<Operation> = Vec::new();
    for (i, &r) in recs.iter().enumerate() {
        let sent = r.query_time.0;
        // Close operations no query can join any more.
        let mut k = 0;
        while k < open.len() {
            let closed = open
                .get(k)
                .is_some_and(|op| op.open_until.saturating_add(OP_GAP_NS) < sent);
            if closed {
                done.push(open.remove(k));
            } else {
                k += 1;
            }
        }
        let candidates: Vec<usize> = (0..open.len())
            .rev()
            .filter(|&k| {
                open.get(k).is_some_and(|op| {
                    op.admits(recs, &names, r, names.get(i).map_or("", String::as_str))
                })
            })
            .collect();
        let chosen = candidates
            .iter()
            .copied()
            .find(|&k| open.get(k).is_some_and(|op| op.shares_socket(recs, r)))
            .or(candidates.first().copied());
        match chosen.and_then(|k| open.get_mut(k)) {
            Some(op) => op.add(i, r),
            None => {
                if open.len() >= MAX_OPEN {
                    done.push(open.remove(0));
                }
                open.push(Operation::new(i, r));
            }
        }
    }
    done.extend(open);
    done.sort_by_key(|op| (op.start, op.members.first().copied()));
    done
}

/// The DNS phase of a connection from `client` whose first packet was at
/// `syn`, given the lookup that named its server (`query_frame`, a record
/// among `recs`, which are in order of first query): the first query to the
/// last answer of that lookup's resolver operation, or `None` when the
/// operation ended more than [`PHASE_WINDOW_NS`] before `syn` (a cache hit)
/// or after it.
pub fn phase_ns(
    recs: &[DnsRecord],
    client: IpAddr,
    query_frame: u64,
    syn: Timestamp,
) -> Option<i64> {
    let at = recs
        .iter()
        .rposition(|r| r.query_frame == query_frame && r.client.ip() == client)?;
    let from = at.saturating_sub(PHASE_LOOKBACK / 2);
    let to = recs.len().min(at.saturating_add(PHASE_LOOKBACK / 2));
    let window: Vec<&DnsRecord> = recs
        .get(from..to)?
        .iter()
        .filter(|r| r.client.ip() == client)
        .collect();
    let ops = group_refs(&window);
    let op = ops.iter().find(|op| {
        op.members
            .iter()
            .any(|&i| window.get(i).is_some_and(|r| r.query_frame == query_frame))
    })?;
    op.phase_ns(syn)
}

#[cfg(test)]
mod tests;
