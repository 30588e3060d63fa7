//! DNS findings from DNS records.
//!
//! Thresholds and rules (documented here, named below):
//! * `dns.slow`: answered (NOERROR or NXDOMAIN) in [`SLOW_NS`] (200 ms) or more
//!   from the first query: a warning. A resolver answering from cache takes well
//!   under 10 ms and a full recursion typically under 100 ms; 200 ms is already a
//!   visible share of an API call's budget and is often a retry after a lost query.
//!   SERVFAIL and REFUSED findings state their time themselves.
//! * `dns.servfail`, `dns.refused`: errors, the lookup failed.
//! * `dns.timeout`: no answer within the tracker's time-out: an error. When the
//!   capture ended before the time-out but the client had already retried, it is
//!   a warning (the client's own time-out fired at least once); a single query
//!   unanswered at the end of the capture gives no finding.
//! * `dns.nxdomain`: a warning, downgraded to `info` by [`diagnose_all`] when it
//!   is a search-list expansion: the same client address got NOERROR for a shorter
//!   name that this name extends by whole labels (`api.example.com.svc.cluster.local`
//!   NXDOMAIN, `api.example.com` NOERROR) within [`SEARCH_LIST_WINDOW_NS`] (30 s)
//!   either way, or a member of a search walk (below). Stub resolvers with
//!   `ndots` try the search domains first; those NXDOMAINs are not the failure.
//! * Per resolver operation (`app::dns::ops`: the lookups one resolver made
//!   for one name), by [`diagnose_all`]:
//!   - `dns.search_walk` (warning): before the name that answered, the
//!     resolver asked search-list names that got NXDOMAIN. Numbers: N queries
//!     in the operation (retries included), M NXDOMAIN for the other names,
//!     the time lost (first query to the first query of the name that
//!     answered). One finding per client address and name, with how many
//!     operations walked and the time lost in all.
//!   - `dns.repeated_lookup` (warning): one client address resolved the same
//!     name [`REPEAT_MIN`] (3) or more times in a row, each from the network,
//!     each while the previous answer's TTL was still valid: a cache would
//!     have answered (no cache in the client). A TTL of 0 never counts.
//!   - `dns.slow` for one address family: A and AAAA asked together, and one
//!     answered [`SLOW_FAMILY_NS`] (100 ms) or more after the other and took
//!     at least twice as long: the resolver waited for the slow family before
//!     the call could connect ("AAAA answered 480 ms after A"). It replaces
//!     that record's own `dns.slow`. Kept under `dns.slow` (no new kind): it is
//!     a slow answer, and the summary names the family.
//!   - `dns.timeout` for a lookup resent from new sockets: no member of the
//!     operation was answered and one of its questions (name and type) was
//!     asked by two of its records. Go's resolver resends each time-out from
//!     a new socket with a new id, so each record alone is one unanswered
//!     query and says nothing; together they are the resolver's time-outs.
//!     An error when a query waited out the tracker's time-out, else a
//!     warning. It replaces its members' own `dns.timeout`.
//! * mDNS and LLMNR records get no findings: unanswered multicast questions
//!   are how those protocols work.
//! * Story names: each DNS flow's story is named after the lookup whose
//!   finding leads it ([`diagnose_all_named`]), not the flow's first query.

use std::collections::HashMap;
use std::net::IpAddr;

mod operations;

use self::operations::{repeated_lookups, search_walks, slow_families, unanswered_operations};
use super::{Finding, Severity};
use crate::app::dns::ops;
use crate::app::dns::{DnsProtocol, DnsRecord};
use crate::base::human_duration;

/// Latency at or above which an answered lookup is `dns.slow`.
pub const SLOW_NS: i64 = 200_000_000;
/// How far apart a search-list NXDOMAIN and its NOERROR may be.
pub const SEARCH_LIST_WINDOW_NS: i64 = 30_000_000_000;
/// Lookups of one name in a row, each within the previous answer's TTL, that
/// make `dns.repeated_lookup`: two could be a cache's refresh race; three
/// resolved while an answer was valid is a pattern.
pub const REPEAT_MIN: usize = 3;
/// How much later one address family's answer must come than the other's to
/// be named as the slow one.
pub const SLOW_FAMILY_NS: i64 = 100_000_000;
/// Most evidence frames on a finding that spans several lookups.
const MAX_FRAMES: usize = 64;

/// Every DNS finding for one record, without cross-record rules (see
/// [`diagnose_all`]).
pub fn diagnose(r: &DnsRecord) -> Vec<Finding> {
    let mut out = Vec::new();
    if r.protocol != DnsProtocol::Dns {
        return out;
    }
    let mut frames: Vec<u64> = std::iter::once(r.query_frame)
        .chain(r.retry_frames.iter().copied())
        .chain(r.response_frame)
        .chain(r.unreachable.iter().flat_map(|u| u.frames.iter().copied()))
        .collect();
    frames.sort_unstable();
    frames.dedup();
    let finding = |kind, severity, summary: String, next: String| Finding {
        kind,
        severity,
        summary,
        next_step: next,
        frames: frames.clone(),
        conn: Some(r.conn),
        client: Some(r.client),
        server: Some(r.server),
        time: Some(r.query_time),
        endpoint: None,
        goroutines: Vec::new(),
    };
    let name = &r.qname;
    let qtype = &r.qtype;
    let server = r.server;
    let took = r.latency_ns().map(human_duration).unwrap_or_default();
    let retried = match r.retries {
        0 => String::new(),
        1 => " after 1 retry".to_string(),
        n => format!(" after {n} retries"),
    };
    match r.rcode.as_deref() {
        Some("NXDOMAIN") => out.push(finding(
            "dns.nxdomain",
            Severity::Warning,
            format!("{name} ({qtype}) does not exist: NXDOMAIN from {server} in {took}{retried}"),
            format!("check the name for typos and the search domains; the resolver at {server} says {name} is not in DNS"),
        )),
        Some("SERVFAIL") => out.push(finding(
            "dns.servfail",
            Severity::Error,
            format!("lookup of {name} ({qtype}) failed: SERVFAIL from {server} in {took}{retried}"),
            format!("the resolver at {server} could not resolve {name}: check the authoritative servers / DNSSEC"),
        )),
        Some("REFUSED") => out.push(finding(
            "dns.refused",
            Severity::Error,
            format!("lookup of {name} ({qtype}) refused by {server} in {took}{retried}"),
            format!("{server} will not answer this client for {name}: it is not a recursive resolver for it (ACL, wrong server in resolv.conf)"),
        )),
        _ => {}
    }
    let answered_ok = matches!(r.rcode.as_deref(), Some("NOERROR" | "NXDOMAIN"));
    if let (true, Some(lat)) = (answered_ok, r.latency_ns()) {
        if lat >= SLOW_NS {
            out.push(finding(
                "dns.slow",
                Severity::Warning,
                format!(
                    "lookup of {name} ({qtype}) took {}{retried}: answered by {server} (threshold {})",
                    human_duration(lat),
                    human_duration(SLOW_NS)
                ),
                if r.retries > 0 {
                    format!("the first query went unanswered: look for loss on the path to the resolvers or an overloaded resolver; {server} answered the retry")
                } else {
                    format!("the resolver at {server} is slow: check its upstreams, or cache closer to the client")
                },
            ));
        }
    }
    let unanswered = r.rcode.is_none();
    if let (true, Some(u)) = (unanswered, &r.unreachable) {
        let servers: Vec<String> = r.servers_tried.iter().map(|s| s.to_string()).collect();
        let queries = r.retries.saturating_add(1);
        let times = match u.count {
            1 => String::new(),
            n => format!(" ({n} times)"),
        };
        let next = if u.description.contains("port unreachable") {
            format!(
                "nothing listens on port {} at {}: start the DNS server there, or fix the nameserver address (resolv.conf)",
                server.port(),
                server.ip()
            )
        } else {
            format!(
                "the network says {server} cannot be reached ({}): check routes and firewalls on the way to the resolver, or the nameserver address",
                u.description
            )
        };
        out.push(finding(
            "dns.timeout",
            Severity::Error,
            format!(
                "no answer for {name} ({qtype}): {queries} {} to {}, answered by ICMP {} from {}{times}",
                if queries == 1 { "query" } else { "queries" },
                servers.join(", "),
                u.description,
                u.from
            ),
            next,
        ));
    } else if r.timed_out || (r.unanswered_at_end && r.retries > 0) {
        let servers: Vec<String> = r.servers_tried.iter().map(|s| s.to_string()).collect();
        let queries = r.retries.saturating_add(1);
        let (severity, tail) = if r.timed_out {
            (Severity::Error, String::new())
        } else {
            (
                Severity::Warning,
                " (the capture ended before the time-out)".to_string(),
            )
        };
        out.push(finding(
            "dns.timeout",
            severity,
            format!(
                "no answer for {name} ({qtype}): {queries} {} to {}{tail}",
                if queries == 1 { "query" } else { "queries" },
                servers.join(", ")
            ),
            format!(
                "check that {} on port 53 from this client (firewall, UDP blocked, resolver down)",
                if servers.len() == 1 {
                    "the resolver answers"
                } else {
                    "the resolvers answer"
                }
            ),
        ));
    }
    out
}

/// Every DNS finding for a batch of records (in order of first query), with
/// the cross-record rules (see the module doc).
pub fn diagnose_all(records: &[DnsRecord]) -> Vec<Finding> {
    diagnose_all_named(records).0
}

/// [`diagnose_all`], plus the name each DNS flow's story should carry: the
/// qname of the lookup whose finding leads that flow's story (worst severity,
/// then kind, then first), as `(conn, name)` in order of first appearance.
pub fn diagnose_all_named(records: &[DnsRecord]) -> (Vec<Finding>, Vec<(u64, String)>) {
    // (client address, lower-cased name) -> times of NOERROR answers.
    let mut noerror: HashMap<(IpAddr, String), Vec<i64>> = HashMap::new();
    for r in records {
        if r.rcode.as_deref() == Some("NOERROR") {
            noerror
                .entry((r.client.ip(), r.qname.to_ascii_lowercase()))
                .or_default()
                .push(r.query_time.0);
        }
    }
    let operations = ops::group(records);
    let mut walked = vec![false; records.len()];
    let mut slow_family = vec![false; records.len()];
    let mut resent = vec![false; records.len()];
    let mut named: Vec<(Finding, String)> = Vec::new();
    named.extend(search_walks(records, &operations, &mut walked));
    named.extend(slow_families(records, &operations, &mut slow_family));
    named.extend(repeated_lookups(records, &operations));
    named.extend(unanswered_operations(records, &operations, &mut resent));
    let mut out: Vec<(Finding, String)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let mut found = diagnose(r);
        let expansion = walked.get(i).copied().unwrap_or(false) || is_search_expansion(r, &noerror);
        if r.rcode.as_deref() == Some("NXDOMAIN") && expansion {
            for f in found.iter_mut().filter(|f| f.kind == "dns.nxdomain") {
                f.severity = Severity::Info;
                f.summary
                    .push_str(" (a search-list expansion: the shorter name resolved)");
                f.next_step =
                    "nothing to fix; to save the round trips, use a fully qualified name (trailing dot) or lower ndots".to_string();
            }
        }
        if slow_family.get(i).copied().unwrap_or(false) {
            found.retain(|f| f.kind != "dns.slow");
        }
        if resent.get(i).copied().unwrap_or(false) {
            found.retain(|f| f.kind != "dns.timeout");
        }
        out.extend(found.into_iter().map(|f| (f, r.qname.clone())));
    }
    out.extend(named);
    let mut leaders: Vec<(u64, Severity, &'static str, String)> = Vec::new();
    for (f, name) in &out {
        let Some(conn) = f.conn else { continue };
        match leaders.iter_mut().find(|l| l.0 == conn) {
            Some(l) => {
                if (f.severity, std::cmp::Reverse(f.kind)) > (l.1, std::cmp::Reverse(l.2)) {
                    *l = (conn, f.severity, f.kind, name.clone());
                }
            }
            None => leaders.push((conn, f.severity, f.kind, name.clone())),
        }
    }
    let names = leaders.into_iter().map(|(c, _, _, n)| (c, n)).collect();
    (out.into_iter().map(|(f, _)| f).collect(), names)
}

fn is_search_expansion(r: &DnsRecord, noerror: &HashMap<(IpAddr, String), Vec<i64>>) -> bool {
    let name = r.qname.to_ascii_lowercase();
    let ip = r.client.ip();
    let bytes = name.as_bytes();
    // Every proper parent of `name` cut at an unescaped dot, longest first.
    let mut i = name.len();
    while i > 0 {
        i -= 1;
        let is_dot = bytes.get(i) == Some(&b'.') && (i == 0 || bytes.get(i - 1) != Some(&b'\\'));
        if !is_dot {
            continue;
        }
        let Some(prefix) = name.get(..i) else {
            continue;
        };
        if prefix.is_empty() {
            continue;
        }
        if let Some(times) = noerror.get(&(ip, prefix.to_string())) {
            if times
                .iter()
                .any(|t| t.saturating_sub(r.query_time.0).abs() <= SEARCH_LIST_WINDOW_NS)
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests;
