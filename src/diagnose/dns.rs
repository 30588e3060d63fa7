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
//!   either way. Stub resolvers with `ndots` try the search domains first; those
//!   NXDOMAINs are expected noise, not the failure.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{human_duration, Finding, Severity};
use crate::app::dns::DnsRecord;

/// Latency at or above which an answered lookup is `dns.slow`.
pub const SLOW_NS: i64 = 200_000_000;
/// How far apart a search-list NXDOMAIN and its NOERROR may be.
pub const SEARCH_LIST_WINDOW_NS: i64 = 30_000_000_000;

/// Every DNS finding for one record, without cross-record rules (see
/// [`diagnose_all`]).
pub fn diagnose(r: &DnsRecord) -> Vec<Finding> {
    let mut out = Vec::new();
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

/// Every DNS finding for a batch of records, with the cross-record rule: an
/// NXDOMAIN that is a search-list expansion is `info` (see the module doc).
pub fn diagnose_all(records: &[DnsRecord]) -> Vec<Finding> {
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
    let mut out = Vec::new();
    for r in records {
        let mut found = diagnose(r);
        if r.rcode.as_deref() == Some("NXDOMAIN") && is_search_expansion(r, &noerror) {
            for f in found.iter_mut().filter(|f| f.kind == "dns.nxdomain") {
                f.severity = Severity::Info;
                f.summary
                    .push_str(" (a search-list expansion: the shorter name resolved)");
                f.next_step =
                    "nothing to fix; to save the round trips, use a fully qualified name (trailing dot) or lower ndots".to_string();
            }
        }
        out.extend(found);
    }
    out
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
mod tests {
    use super::*;
    use crate::app::dns::{Asked, Transport};
    use crate::source::Timestamp;

    const T0: i64 = 1_700_000_000_000_000_000;

    fn rec(name: &str, rcode: Option<&str>, latency_ms: Option<i64>) -> DnsRecord {
        let server: std::net::SocketAddr = "10.0.0.53:53".parse().unwrap();
        let mut r = DnsRecord::asked(
            Asked {
                conn: 7,
                client: "10.0.0.5:40000".parse().unwrap(),
                server,
                transport: Transport::Udp,
                id: 1,
                qname: name.to_string(),
                qtype: "A".to_string(),
                frame: 1,
                time: Timestamp(T0),
            },
            vec![server],
        );
        r.response_frame = rcode.map(|_| 2);
        r.response_time = latency_ms.map(|ms| Timestamp(T0 + ms * 1_000_000));
        r.latency_ms = latency_ms.map(|ms| ms as f64);
        r.rcode = rcode.map(str::to_string);
        r
    }

    fn kinds(f: &[Finding]) -> Vec<(&'static str, Severity)> {
        f.iter().map(|f| (f.kind, f.severity)).collect()
    }

    #[test]
    fn rcodes() {
        let f = diagnose(&rec("a.example", Some("NXDOMAIN"), Some(3)));
        assert_eq!(kinds(&f), [("dns.nxdomain", Severity::Warning)]);
        assert!(f[0].summary.contains("a.example") && f[0].summary.contains("10.0.0.53:53"));
        assert_eq!(f[0].frames, [1, 2]);
        let f = diagnose(&rec("a.example", Some("SERVFAIL"), Some(3)));
        assert_eq!(kinds(&f), [("dns.servfail", Severity::Error)]);
        assert!(f[0].next_step.contains("DNSSEC"), "{}", f[0].next_step);
        assert!(f[0].summary.contains("3.0 ms"), "{}", f[0].summary);
        let f = diagnose(&rec("a.example", Some("REFUSED"), Some(3)));
        assert_eq!(kinds(&f), [("dns.refused", Severity::Error)]);
        assert!(diagnose(&rec("a.example", Some("NOERROR"), Some(3))).is_empty());
    }

    #[test]
    fn slow_at_threshold() {
        assert!(diagnose(&rec("a.example", Some("NOERROR"), Some(199))).is_empty());
        let f = diagnose(&rec("a.example", Some("NOERROR"), Some(200)));
        assert_eq!(kinds(&f), [("dns.slow", Severity::Warning)]);
        assert!(f[0].summary.contains("10.0.0.53:53"));
        // SERVFAIL states its own time: no extra slow finding.
        let f = diagnose(&rec("a.example", Some("SERVFAIL"), Some(900)));
        assert_eq!(kinds(&f), [("dns.servfail", Severity::Error)]);
    }

    #[test]
    fn timeout_counts_retries_and_servers() {
        let mut r = rec("a.example", None, None);
        r.timed_out = true;
        r.retries = 2;
        r.retry_frames = vec![5, 9];
        r.servers_tried.push("10.0.0.54:53".parse().unwrap());
        let f = diagnose(&r);
        assert_eq!(kinds(&f), [("dns.timeout", Severity::Error)]);
        assert!(f[0].summary.contains("3 queries"), "{}", f[0].summary);
        assert!(f[0].summary.contains("10.0.0.54:53"), "{}", f[0].summary);
        assert!(f[0]
            .next_step
            .starts_with("check that the resolvers answer on port 53"));
        assert_eq!(f[0].frames, [1, 5, 9]);
        // Unanswered at the end: only worth a finding once the client retried.
        let mut r = rec("a.example", None, None);
        r.unanswered_at_end = true;
        assert!(diagnose(&r).is_empty());
        r.retries = 1;
        r.retry_frames = vec![4];
        assert_eq!(kinds(&diagnose(&r)), [("dns.timeout", Severity::Warning)]);
    }

    /// Found on real traffic: queries answered by ICMP port unreachable are an
    /// error naming the ICMP, with its frames as evidence, even when the capture
    /// ended before the time-out.
    #[test]
    fn icmp_unreachable_lookup() {
        let mut r = rec("a.example", None, None);
        r.unanswered_at_end = true;
        r.retries = 1;
        r.retry_frames = vec![3];
        r.unreachable = Some(crate::app::dns::DnsUnreachable {
            from: "10.0.0.53".parse().unwrap(),
            description: "port unreachable".into(),
            frames: vec![2, 4],
            count: 2,
        });
        let f = diagnose(&r);
        assert_eq!(kinds(&f), [("dns.timeout", Severity::Error)]);
        assert_eq!(
            f[0].summary,
            "no answer for a.example (A): 2 queries to 10.0.0.53:53, answered by ICMP port unreachable from 10.0.0.53 (2 times)"
        );
        assert!(f[0]
            .next_step
            .starts_with("nothing listens on port 53 at 10.0.0.53"));
        assert_eq!(f[0].frames, [1, 2, 3, 4]);
        // A single query counts too: the ICMP is the answer.
        r.retries = 0;
        r.retry_frames.clear();
        if let Some(u) = r.unreachable.as_mut() {
            u.description = "host unreachable".into();
            u.count = 1;
        }
        let f = diagnose(&r);
        assert_eq!(kinds(&f), [("dns.timeout", Severity::Error)]);
        assert!(
            f[0].summary.ends_with(
                "1 query to 10.0.0.53:53, answered by ICMP host unreachable from 10.0.0.53"
            ),
            "{}",
            f[0].summary
        );
        assert!(f[0].next_step.contains("cannot be reached"));
    }

    #[test]
    fn search_list_nxdomain_is_info() {
        let a = rec(
            "api.example.com.svc.cluster.local",
            Some("NXDOMAIN"),
            Some(1),
        );
        let b = rec("api.example.com", Some("NOERROR"), Some(1));
        let f = diagnose_all(&[a.clone(), b.clone()]);
        assert_eq!(kinds(&f), [("dns.nxdomain", Severity::Info)]);
        // Without the NOERROR for the shorter name it stays a warning.
        assert_eq!(
            kinds(&diagnose_all(std::slice::from_ref(&a))),
            [("dns.nxdomain", Severity::Warning)]
        );
        // Another client's NOERROR does not count.
        let mut other = b.clone();
        other.client = "10.0.0.6:40000".parse().unwrap();
        assert_eq!(
            kinds(&diagnose_all(&[a.clone(), other])),
            [("dns.nxdomain", Severity::Warning)]
        );
        // A name that merely shares a textual suffix is not an expansion.
        let c = rec("xapi.example.com", Some("NOERROR"), Some(1));
        let d = rec("api.example.com.corp", Some("NXDOMAIN"), Some(1));
        let e = rec("i.example.com", Some("NOERROR"), Some(1));
        assert_eq!(
            kinds(&diagnose_all(&[c, d.clone()])),
            [("dns.nxdomain", Severity::Warning)]
        );
        let mut far = b;
        far.query_time = Timestamp(T0 + SEARCH_LIST_WINDOW_NS + 1);
        assert_eq!(
            kinds(&diagnose_all(&[d, far, e])),
            [("dns.nxdomain", Severity::Warning)]
        );
    }
}
