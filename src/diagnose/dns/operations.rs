//! The per-operation DNS rules (`dns.search_walk`, `dns.repeated_lookup`, a
//! slow address family as `dns.slow`, a lookup resent from new sockets and
//! never answered as `dns.timeout`): see the parent module's doc.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Finding, Severity, MAX_FRAMES, REPEAT_MIN, SLOW_FAMILY_NS};
use crate::app::dns::ops::{self, normal_name, Operation};
use crate::app::dns::{DnsAnswer, DnsRecord};
use crate::base::human_duration;

/// The members of an operation, in order.
fn members<'a>(
    records: &'a [DnsRecord],
    op: &'a Operation,
) -> impl Iterator<Item = (usize, &'a DnsRecord)> + 'a {
    op.members
        .iter()
        .filter_map(move |&i| records.get(i).map(|r| (i, r)))
}

/// The first positive lookup of the name an operation resolved.
fn answer_of<'a>(records: &'a [DnsRecord], op: &'a Operation) -> Option<&'a DnsRecord> {
    let name = op.answered.as_ref()?;
    members(records, op)
        .map(|(_, r)| r)
        .find(|r| ops::is_positive(r) && normal_name(&r.qname) == *name)
}

/// A finding about several lookups, located at `lead`.
fn multi(
    lead: &DnsRecord,
    kind: &'static str,
    summary: String,
    next_step: String,
    mut frames: Vec<u64>,
) -> Finding {
    frames.sort_unstable();
    frames.dedup();
    frames.truncate(MAX_FRAMES);
    Finding {
        kind,
        severity: Severity::Warning,
        summary,
        next_step,
        frames,
        conn: Some(lead.conn),
        client: Some(lead.client),
        server: Some(lead.server),
        time: Some(lead.query_time),
        endpoint: None,
        goroutines: Vec::new(),
    }
}

/// All frames of a lookup.
fn frames_of(r: &DnsRecord) -> impl Iterator<Item = u64> + '_ {
    std::iter::once(r.query_frame)
        .chain(r.retry_frames.iter().copied())
        .chain(r.response_frame)
}

/// `dns.search_walk`: one finding per (client address, name that answered).
pub(super) fn search_walks(
    records: &[DnsRecord],
    operations: &[Operation],
    walked: &mut [bool],
) -> Vec<(Finding, String)> {
    struct Walk<'a> {
        lead: &'a DnsRecord,
        name: String,
        queries: u32,
        nxdomain: usize,
        lost_ns: i64,
        names: Vec<String>,
        count: u32,
        total_lost_ns: i64,
        frames: Vec<u64>,
    }
    let mut walks: Vec<Walk> = Vec::new();
    let mut index: HashMap<(IpAddr, String), usize> = HashMap::new();
    for op in operations {
        let (Some(name), Some(lead)) = (op.answered.as_ref(), answer_of(records, op)) else {
            continue;
        };
        let others: Vec<(usize, &DnsRecord)> = members(records, op)
            .filter(|(_, r)| normal_name(&r.qname) != *name)
            .collect();
        let nx = others
            .iter()
            .filter(|(_, r)| r.rcode.as_deref() == Some("NXDOMAIN"))
            .count();
        if nx == 0 {
            continue;
        }
        for (i, _) in &others {
            if let Some(w) = walked.get_mut(*i) {
                *w = true;
            }
        }
        let queries: u32 = members(records, op)
            .map(|(_, r)| r.retries.saturating_add(1))
            .fold(0, u32::saturating_add);
        let real_start = members(records, op)
            .filter(|(_, r)| normal_name(&r.qname) == *name)
            .map(|(_, r)| r.query_time)
            .min()
            .unwrap_or(op.start);
        let lost_ns = real_start.since(op.start).max(0);
        let mut names: Vec<String> = Vec::new();
        for (_, r) in &others {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(&r.qname)) {
                names.push(r.qname.clone());
            }
        }
        let frames = members(records, op).flat_map(|(_, r)| frames_of(r));
        match index
            .get(&(op.client, name.clone()))
            .and_then(|&k| walks.get_mut(k))
        {
            Some(w) => {
                w.count = w.count.saturating_add(1);
                w.total_lost_ns = w.total_lost_ns.saturating_add(lost_ns);
                if w.frames.len() < MAX_FRAMES {
                    w.frames.extend(frames);
                }
            }
            None => {
                index.insert((op.client, name.clone()), walks.len());
                walks.push(Walk {
                    lead,
                    name: lead.qname.clone(),
                    queries,
                    nxdomain: nx,
                    lost_ns,
                    names,
                    count: 1,
                    total_lost_ns: lost_ns,
                    frames: frames.collect(),
                });
            }
        }
    }
    walks
        .into_iter()
        .map(|w| {
            let again = if w.count > 1 {
                format!(
                    "; {} lookups walked the list, {} lost in all",
                    w.count,
                    human_duration(w.total_lost_ns)
                )
            } else {
                String::new()
            };
            let fqdn = format!("{}.", w.name.trim_end_matches('.'));
            let f = multi(
                w.lead,
                "dns.search_walk",
                format!(
                    "resolving {} took {} queries, {} NXDOMAIN for search-list names before the real one ({}), {} lost{again}",
                    w.name,
                    w.queries,
                    w.nxdomain,
                    w.names.join(", "),
                    human_duration(w.lost_ns)
                ),
                format!("use the fully qualified name with a trailing dot ({fqdn}) or lower ndots in resolv.conf (options ndots:1) so the real name is asked first"),
                w.frames,
            );
            (f, w.name)
        })
        .collect()
}

/// `dns.slow` for one address family of an operation.
pub(super) fn slow_families(
    records: &[DnsRecord],
    operations: &[Operation],
    replaced: &mut [bool],
) -> Vec<(Finding, String)> {
    let mut out = Vec::new();
    for op in operations {
        let Some(name) = op.answered.as_ref() else {
            continue;
        };
        let answered = |qtype: &str| {
            members(records, op).find(|(_, r)| {
                r.qtype == qtype && normal_name(&r.qname) == *name && r.response_time.is_some()
            })
        };
        let (Some(a), Some(aaaa)) = (answered("A"), answered("AAAA")) else {
            continue;
        };
        let (fast, slow) = if a.1.response_time <= aaaa.1.response_time {
            (a, aaaa)
        } else {
            (aaaa, a)
        };
        let (Some(tf), Some(ts), Some(lf), Some(ls)) = (
            fast.1.response_time,
            slow.1.response_time,
            fast.1.latency_ns(),
            slow.1.latency_ns(),
        ) else {
            continue;
        };
        let gap = ts.since(tf);
        if gap < SLOW_FAMILY_NS || ls < lf.saturating_mul(2) {
            continue;
        }
        if let Some(x) = replaced.get_mut(slow.0) {
            *x = true;
        }
        let r = slow.1;
        let f = Finding {
            kind: "dns.slow",
            severity: Severity::Warning,
            summary: format!(
                "lookup of {} waited for {}: {} answered {} after {} ({} vs {}, from {})",
                r.qname,
                r.qtype,
                r.qtype,
                human_duration(gap),
                fast.1.qtype,
                human_duration(ls),
                human_duration(lf),
                r.server
            ),
            next_step: format!(
                "the resolver returns only when both families answered: find why {} queries are slow at {} (its upstream, a firewall dropping them), or ask only the family the call uses",
                r.qtype, r.server
            ),
            frames: {
                let mut v: Vec<u64> = frames_of(fast.1).chain(frames_of(r)).collect();
                v.sort_unstable();
                v.dedup();
                v
            },
            conn: Some(r.conn),
            client: Some(r.client),
            server: Some(r.server),
            time: Some(r.query_time),
            endpoint: None,
            goroutines: Vec::new(),
        };
        out.push((f, r.qname.clone()));
    }
    out
}

/// `dns.repeated_lookup`: runs of lookups a cache would have answered.
pub(super) fn repeated_lookups(
    records: &[DnsRecord],
    operations: &[Operation],
) -> Vec<(Finding, String)> {
    struct Lookup<'a> {
        start: crate::base::Timestamp,
        answered: crate::base::Timestamp,
        ttl: u32,
        lead: &'a DnsRecord,
    }
    let mut by_name: Vec<((IpAddr, String), Vec<Lookup>)> = Vec::new();
    let mut index: HashMap<(IpAddr, String), usize> = HashMap::new();
    for op in operations {
        let (Some(name), Some(lead)) = (op.answered.as_ref(), answer_of(records, op)) else {
            continue;
        };
        let Some(answered) = lead.response_time else {
            continue;
        };
        let ttl = members(records, op)
            .filter(|(_, r)| normal_name(&r.qname) == *name)
            .flat_map(|(_, r)| r.answers.iter())
            .filter_map(|a| match a {
                DnsAnswer::Record { rtype, ttl, .. } if rtype == "A" || rtype == "AAAA" => {
                    Some(*ttl)
                }
                _ => None,
            })
            .min()
            .unwrap_or(0);
        let key = (op.client, name.clone());
        let k = *index.entry(key.clone()).or_insert_with(|| {
            by_name.push((key, Vec::new()));
            by_name.len() - 1
        });
        if let Some((_, v)) = by_name.get_mut(k) {
            v.push(Lookup {
                start: op.start,
                answered,
                ttl,
                lead,
            });
        }
    }
    let mut out = Vec::new();
    for ((client, _), lookups) in by_name {
        // The longest run in which each lookup came while the previous answer
        // was still valid.
        let (mut best, mut run_start) = ((0usize, 0usize), 0usize);
        for k in 1..lookups.len() {
            let (Some(prev), Some(cur)) = (lookups.get(k - 1), lookups.get(k)) else {
                continue;
            };
            let valid_until = prev
                .answered
                .0
                .saturating_add(i64::from(prev.ttl) * 1_000_000_000);
            if prev.ttl == 0 || cur.start.0 >= valid_until {
                run_start = k;
            }
            if k - run_start > best.1 - best.0 {
                best = (run_start, k);
            }
        }
        let count = best.1 - best.0 + 1;
        if lookups.len() < REPEAT_MIN || count < REPEAT_MIN {
            continue;
        }
        let Some(run) = lookups.get(best.0..=best.1) else {
            continue;
        };
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            continue;
        };
        let ttl = run.iter().map(|l| l.ttl).min().unwrap_or(0);
        let span = last.start.since(first.start);
        let name = last.lead.qname.clone();
        let f = multi(
            last.lead,
            "dns.repeated_lookup",
            format!(
                "{name} was resolved {count} times in {} by {client}, each time from the network while the previous answer (TTL {ttl} s) was still valid: the client does not cache DNS",
                human_duration(span)
            ),
            "cache DNS answers in the client (a local caching resolver such as systemd-resolved, nscd or dnsmasq, or the HTTP client's resolver cache), or reuse connections so calls do not resolve again".to_string(),
            run.iter().flat_map(|l| frames_of(l.lead)).collect(),
        );
        out.push((f, name));
    }
    out
}

/// `dns.timeout` for an operation that resent a question from a new socket
/// and got no answer at all: Go's resolver resends each time-out from a new
/// socket with a new id, so each record alone is one query unanswered (no
/// finding before its own time-out), while together they are the resolver
/// timing out again and again. Marks its members `covered` (their own
/// `dns.timeout`, if any, is this one).
pub(super) fn unanswered_operations(
    records: &[DnsRecord],
    operations: &[Operation],
    covered: &mut [bool],
) -> Vec<(Finding, String)> {
    let mut out = Vec::new();
    for op in operations {
        let all: Vec<(usize, &DnsRecord)> = members(records, op).collect();
        if all
            .iter()
            .any(|(_, r)| r.response_time.is_some() || r.unreachable.is_some())
        {
            continue;
        }
        let mut asked: Vec<(String, &str, usize)> = Vec::new();
        for (_, r) in &all {
            let key = (normal_name(&r.qname), r.qtype.as_str());
            match asked
                .iter_mut()
                .find(|a| (a.0.as_str(), a.1) == (key.0.as_str(), key.1))
            {
                Some(a) => a.2 += 1,
                None => asked.push((key.0, key.1, 1)),
            }
        }
        if !asked.iter().any(|a| a.2 > 1) {
            continue; // no resend from a new socket: the per-record rule
        }
        let (Some((_, lead)), Some((_, last))) = (all.first(), all.last()) else {
            continue;
        };
        for (i, _) in &all {
            if let Some(c) = covered.get_mut(*i) {
                *c = true;
            }
        }
        let queries: u64 = all.iter().map(|(_, r)| u64::from(r.retries) + 1).sum();
        let mut servers: Vec<std::net::SocketAddr> = Vec::new();
        for s in all.iter().flat_map(|(_, r)| r.servers_tried.iter()) {
            if !servers.contains(s) {
                servers.push(*s);
            }
        }
        let servers: Vec<String> = servers.iter().map(|s| s.to_string()).collect();
        let mut types: Vec<&str> = Vec::new();
        for (_, t, _) in &asked {
            if !types.contains(t) {
                types.push(t);
            }
        }
        let timed_out = all.iter().any(|(_, r)| r.timed_out);
        let tail = if timed_out {
            ""
        } else {
            " (the capture ended before the last query's time-out)"
        };
        let mut f = multi(
            lead,
            "dns.timeout",
            format!(
                "no answer for {} ({}): {queries} queries to {} over {}, resent from {} sockets as the resolver timed out (Go's resolver resends from a new socket){tail}",
                lead.qname,
                types.join(", "),
                servers.join(", "),
                human_duration(last.query_time.since(lead.query_time)),
                all.len(),
            ),
            format!(
                "check that {} on port 53 from this client (firewall, UDP blocked, resolver down)",
                if servers.len() == 1 {
                    "the resolver answers"
                } else {
                    "the resolvers answer"
                }
            ),
            all.iter().flat_map(|(_, r)| frames_of(r)).collect(),
        );
        f.severity = if timed_out {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push((f, lead.qname.clone()));
    }
    out
}
