//! `go.pool_exhausted`: calls waiting inside a Go client for a connection
//! while every connection it had to the server was busy.
//!
//! `net/http.(*Transport).getConn` waits for an idle pooled connection or
//! for a dial it started. It starts no dial when `MaxConnsPerHost` is
//! reached, so calls waiting there beyond the dials in progress (one
//! `dialConnFor` goroutine each) queued for the pool. The capture
//! shows which server: the one whose every open connection was carrying a
//! request at that moment, with no new connection being opened.

use super::{cite, evidence, place_text, GoDump, InFlight};
use crate::base::escape::escape_str;
use crate::base::human_duration;
use crate::diagnose::{Finding, Severity};
use crate::goruntime::summary::Group;
use crate::goruntime::Role;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

/// Calls queued beyond the dials in progress before the rule speaks.
pub const MIN_QUEUED: u64 = 1;

#[derive(Default)]
struct Server {
    established: Vec<u64>,
    opening: u64,
    busy: Vec<(u64, i64)>,
}

/// Calls queued for the pool at the dump, joined to the busy server.
pub fn diagnose(dump: &GoDump, at: &InFlight) -> Vec<Finding> {
    let count = |role: Role| -> u64 {
        dump.groups
            .iter()
            .filter(|g| g.role == role)
            .map(|g| g.count)
            .sum()
    };
    let waiting = count(Role::ConnWait);
    // One goroutine per Transport dial in progress (`dialConnFor`), whatever
    // it waits on inside: a DNS lookup or a dial races several goroutines of
    // its own, and dials outside the Transport (a database) serve no call.
    let dialing: u64 = dump
        .groups
        .iter()
        .filter(|g| g.transport_dial)
        .map(|g| g.count)
        .sum();
    let queued = waiting.saturating_sub(dialing);
    if queued < MIN_QUEUED {
        return Vec::new();
    }
    let t = dump.at;
    let busy: HashMap<u64, (i64, u64)> = at
        .requests
        .iter()
        .filter(|r| r.sent <= t)
        .map(|r| (r.conn, (t.since(r.sent), r.frame)))
        .collect();
    let mut servers: BTreeMap<SocketAddr, Server> = BTreeMap::new();
    let mut frames_of: HashMap<u64, Vec<u64>> = HashMap::new();
    for c in &at.conns {
        let s = servers.entry(c.server).or_default();
        if !c.established {
            s.opening += 1;
            continue;
        }
        s.established.push(c.conn);
        if let Some(&(age, frame)) = busy.get(&c.conn) {
            s.busy.push((c.conn, age));
            frames_of
                .entry(c.conn)
                .or_default()
                .extend([c.frame, frame]);
        }
    }
    let mut full: Vec<(&SocketAddr, &Server)> = servers
        .iter()
        .filter(|(_, s)| {
            s.opening == 0 && !s.established.is_empty() && s.busy.len() == s.established.len()
        })
        .collect();
    full.sort_by_key(|(addr, s)| (std::cmp::Reverse(s.busy.len()), **addr));
    let groups: Vec<&Group> = dump
        .groups
        .iter()
        .filter(|g| g.role == Role::ConnWait)
        .collect();
    let Some(main) = groups.iter().max_by_key(|g| g.count) else {
        return Vec::new();
    };
    let calls = format!(
        "{queued} call{} waited inside the client for a connection (Transport.getConn, from {}) with no dial in progress",
        if queued == 1 { "" } else { "s" },
        place_text(main)
    );
    let Some((server, s)) = full.first() else {
        return vec![Finding {
            kind: "go.pool_exhausted",
            severity: Severity::Warning,
            summary: format!(
                "{calls} in {}: the client's pool was full (Transport.MaxConnsPerHost); the capture shows no server with every connection busy at the dump's time (was it taken on this host?)",
                escape_str(&dump.name)
            ),
            next_step: NEXT.into(),
            frames: Vec::new(),
            conn: None,
            client: None,
            server: None,
            time: Some(t),
            endpoint: None,
            goroutines: groups.iter().map(|g| evidence(dump, g)).collect(),
        }];
    };
    let k = s.busy.len();
    let oldest = s.busy.iter().map(|(_, age)| *age).max().unwrap_or(0);
    if full.len() > 1 {
        // Which pool is capped is not known: name the candidates, no cap.
        let candidates: Vec<String> = full
            .iter()
            .take(5)
            .map(|(a, s)| format!("{a} ({} busy)", s.busy.len()))
            .collect();
        let first = s.busy.iter().map(|(c, _)| *c).min();
        return vec![Finding {
            kind: "go.pool_exhausted",
            severity: Severity::Warning,
            summary: format!(
                "{calls}, while every connection to each of {} servers was busy carrying a request: {}; the pool of one of them is capped (Transport.MaxConnsPerHost), so these calls queued in the client, not on the network",
                full.len(),
                candidates.join(", ")
            ),
            next_step: NEXT.into(),
            frames: cite(frames_of.into_values().flatten().collect()),
            conn: first,
            client: first.and_then(|c| at.conns.iter().find(|x| x.conn == c).map(|x| x.client)),
            server: Some(**server),
            time: Some(t),
            endpoint: None,
            goroutines: groups.iter().map(|g| evidence(dump, g)).collect(),
        }];
    }
    let first = s.busy.iter().map(|(c, _)| *c).min();
    let client = first.and_then(|c| at.conns.iter().find(|x| x.conn == c).map(|x| x.client));
    vec![Finding {
        kind: "go.pool_exhausted",
        severity: Severity::Warning,
        summary: format!(
            "{calls}, while all {k} connection{} to {server} were busy, each carrying a request (the oldest waiting {}): the client's pool is capped at {k} (Transport.MaxConnsPerHost), so these calls queued in the client, not on the network",
            if k == 1 { "" } else { "s" },
            human_duration(oldest),
        ),
        next_step: format!(
            "Raise Transport.MaxConnsPerHost (it looks like {k}) or shorten what holds the connections (the server's answer time here); the time these calls spent queued is not on the wire, only in the client"
        ),
        frames: cite(frames_of.into_values().flatten().collect()),
        conn: first,
        client,
        server: Some(**server),
        time: Some(t),
        endpoint: None,
        goroutines: groups.iter().map(|g| evidence(dump, g)).collect(),
    }]
}

const NEXT: &str = "Raise Transport.MaxConnsPerHost or lower the calls' concurrency; capture on the client's host at the same time to see which server held the connections";
