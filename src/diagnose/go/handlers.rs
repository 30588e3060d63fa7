//! `go.handler_blocked`: server handler goroutines that held requests, joined
//! to the requests the capture shows waiting for their response at the
//! dump's time.

use super::{cite, evidence, place_text, GoDump, InFlight, RequestAt};
use crate::base::escape::escape_str;
use crate::base::human_duration;
use crate::diagnose::{Finding, Severity};
use crate::goruntime::summary::Group;
use crate::goruntime::Role;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

/// A request that had waited at least this long at the dump, while handler
/// goroutines were blocked, is told (shorter is a server at work).
pub const MIN_WAIT_NS: i64 = 1_000_000_000;

/// A handler group the dump itself shows waiting this long is told even when
/// the capture has no request to join it to.
pub const MIN_DUMP_WAIT_S: u64 = 60;

/// Handlers blocked at the dump, joined to waiting requests.
pub fn diagnose(dump: &GoDump, at: &InFlight) -> Vec<Finding> {
    let handlers: Vec<&Group> = dump
        .groups
        .iter()
        .filter(|g| g.role == Role::Handler)
        .collect();
    if handlers.is_empty() {
        return Vec::new();
    }
    let t = dump.at;
    let waiting: Vec<&RequestAt> = at.requests.iter().filter(|r| r.sent <= t).collect();
    let mut out = Vec::new();

    // By label: a label value that is an ip:port names the request's client;
    // each label set joins its own goroutines, the rest of the group is
    // left to the count join.
    let mut used: HashSet<u64> = HashSet::new();
    let mut labelled: BTreeMap<SocketAddr, (Vec<Group>, Vec<&RequestAt>, String)> = BTreeMap::new();
    let mut unlabelled: Vec<Group> = Vec::new();
    for g in &handlers {
        let mut matched_total = 0u64;
        for (set, n) in &g.labels {
            let hit = set.iter().find_map(|(key, value)| {
                let addr = value.parse::<SocketAddr>().ok()?;
                let r = waiting
                    .iter()
                    .find(|r| r.client == addr && !used.contains(&r.conn))?;
                Some((key, *r))
            });
            let Some((key, r)) = hit else { continue };
            used.insert(r.conn);
            matched_total = matched_total.saturating_add(*n);
            let entry = labelled
                .entry(r.server)
                .or_insert_with(|| (Vec::new(), Vec::new(), key.clone()));
            match entry.0.iter_mut().find(|x| same_place(x, g)) {
                Some(x) => x.count = x.count.saturating_add(*n),
                None => entry.0.push(Group {
                    count: *n,
                    ..(*g).clone()
                }),
            }
            entry.1.push(r);
        }
        let rest = g.count.saturating_sub(matched_total);
        if rest > 0 {
            unlabelled.push(Group {
                count: rest,
                ..(*g).clone()
            });
        }
    }
    for (server, (groups, requests, key)) in &labelled {
        let groups: Vec<&Group> = groups.iter().collect();
        if let Some(f) = finding(
            dump,
            *server,
            &groups,
            requests,
            &format!("pprof label {key}"),
            None,
        ) {
            out.push(f);
        }
    }

    // By count and time: servers taken oldest waiting request first while
    // the blocked handlers' count covers their waiting requests (requests
    // this process made downstream start later than the ones it serves).
    let blocked: u64 = unlabelled.iter().map(|g| g.count).sum();
    if blocked == 0 {
        return out;
    }
    let unlabelled: Vec<&Group> = unlabelled.iter().collect();
    let mut by_server: BTreeMap<SocketAddr, Vec<&RequestAt>> = BTreeMap::new();
    for r in waiting.iter().filter(|r| !used.contains(&r.conn)) {
        by_server.entry(r.server).or_default().push(r);
    }
    let mut servers: Vec<(&SocketAddr, &Vec<&RequestAt>)> = by_server.iter().collect();
    servers.sort_by_key(|(addr, rs)| (rs.iter().map(|r| r.sent).min(), **addr));
    let mut left = blocked;
    let mut chosen: Vec<(&SocketAddr, &Vec<&RequestAt>)> = Vec::new();
    for (addr, rs) in &servers {
        if rs.len() as u64 <= left {
            left -= rs.len() as u64;
            chosen.push((addr, rs));
        }
    }
    if chosen.is_empty() {
        chosen.extend(servers.iter().min_by_key(|(_, rs)| {
            let n = rs.len() as u64;
            (n.abs_diff(blocked), std::cmp::Reverse(n))
        }));
    }
    if !chosen.is_empty() {
        // Several servers share the handlers: each is told its own share.
        let shared = chosen.len() > 1;
        for (server, requests) in chosen {
            let share = shared.then_some(requests.len() as u64);
            if let Some(f) = finding(
                dump,
                *server,
                &unlabelled,
                requests,
                "count and time",
                share,
            ) {
                out.push(f);
            }
        }
        return out;
    }
    // No request in the capture to join: the dump alone, when it shows
    // long waits.
    let long: Vec<&Group> = unlabelled
        .iter()
        .copied()
        .filter(|g| g.max_wait.is_some_and(|w| w.as_secs() >= MIN_DUMP_WAIT_S))
        .collect();
    if let Some(first) = long.first() {
        let n: u64 = long.iter().map(|g| g.count).sum();
        out.push(Finding {
            kind: "go.handler_blocked",
            severity: Severity::Warning,
            summary: format!(
                "{n} server handler goroutine{} blocked in {} in {}; no request in the capture was waiting at the dump's time",
                plural(n),
                place_text(first),
                escape_str(&dump.name)
            ),
            next_step: next_step(first),
            frames: Vec::new(),
            conn: None,
            client: None,
            server: None,
            time: Some(dump.at),
            endpoint: None,
            goroutines: long.iter().map(|g| evidence(dump, g)).collect(),
        });
    }
    out
}

fn finding(
    dump: &GoDump,
    server: SocketAddr,
    groups: &[&Group],
    requests: &[&RequestAt],
    joined_by: &str,
    share: Option<u64>,
) -> Option<Finding> {
    let t = dump.at;
    let oldest = requests.iter().min_by_key(|r| (r.sent, r.conn))?;
    let waited = t.since(oldest.sent);
    let dump_says_long = groups
        .iter()
        .any(|g| g.max_wait.is_some_and(|w| w.as_secs() >= MIN_DUMP_WAIT_S));
    if waited < MIN_WAIT_NS && !dump_says_long {
        return None;
    }
    let never = requests.iter().filter(|r| r.answered.is_none()).count();
    let handlers: u64 = groups.iter().map(|g| g.count).sum();
    let main = groups.iter().max_by_key(|g| g.count)?;
    let computing = groups
        .iter()
        .all(|g| matches!(g.state.as_deref(), Some("running" | "runnable")));
    let n = requests.len();
    let answer = match never {
        0 => "all answered later".to_string(),
        k if k == n && n == 1 => "it was never answered in the capture".to_string(),
        k if k == n => "none was answered in the capture".to_string(),
        k => format!("{k} never answered in the capture"),
    };
    let places = if groups.len() > 1 {
        format!(
            " (and {} other place{})",
            groups.len() - 1,
            plural(groups.len() as u64 - 1)
        )
    } else {
        String::new()
    };
    let handlers = match share {
        Some(k) => format!("{k} of the {handlers} server handler goroutines"),
        None => format!("{handlers} server handler goroutine{}", plural(handlers)),
    };
    let summary = format!(
        "{n} request{} to {server} had been waiting for a response at the dump (the oldest, {}, for {}; {answer}) ⇄ {handlers} {} {}{places}, joined by {joined_by}: the server's own code held {}, not the network",
        plural(n as u64),
        escape_str(&oldest.request),
        human_duration(waited),
        if computing { "running in" } else { "blocked in" },
        place_text(main),
        if n == 1 { "it" } else { "them" },
    );
    let mut frames: Vec<u64> = requests.iter().map(|r| r.frame).collect();
    frames.push(oldest.frame);
    Some(Finding {
        kind: "go.handler_blocked",
        severity: if never > 0 {
            Severity::Error
        } else {
            Severity::Warning
        },
        summary,
        next_step: next_step(main),
        frames: cite(frames),
        conn: Some(oldest.conn),
        client: Some(oldest.client),
        server: Some(server),
        time: Some(t),
        endpoint: None,
        goroutines: groups.iter().map(|g| evidence(dump, g)).collect(),
    })
}

fn next_step(g: &Group) -> String {
    format!(
        "Look at {} and what it waits on there (a lock, a channel, a database or downstream call); give that wait the request context's deadline so a stuck dependency fails the call instead of holding it",
        g.place()
            .map(|f| escape_str(&f.short()))
            .unwrap_or_else(|| "the handler".into())
    )
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn same_place(a: &Group, b: &Group) -> bool {
    a.role == b.role && a.at == b.at && a.blocked_in == b.blocked_in && a.state == b.state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Timestamp;
    use crate::goruntime::{parse_dump, summary::summarize};

    fn handler(id: u32) -> String {
        format!(
            "goroutine {id} [select, 2 minutes]:
main.hang(0xc000)
\t/app/main.go:129 +0x1
net/http.HandlerFunc.ServeHTTP(0xc000)
\t/usr/lib/go/src/net/http/server.go:2109 +0x1
net/http.serverHandler.ServeHTTP(0xc000)
\t/usr/lib/go/src/net/http/server.go:2947 +0x1
net/http.(*conn).serve(0xc000)
\t/usr/lib/go/src/net/http/server.go:1991 +0x1
created by net/http.(*Server).Serve
\t/usr/lib/go/src/net/http/server.go:3102 +0x1

"
        )
    }

    fn request(conn: u64, server: &str, sent_s: i64) -> RequestAt {
        RequestAt {
            conn,
            client: format!("10.0.0.1:{}", 40000 + conn).parse().unwrap(),
            server: server.parse().unwrap(),
            request: "GET /hang".into(),
            sent: Timestamp(sent_s * 1_000_000_000),
            frame: conn,
            answered: None,
        }
    }

    #[test]
    fn handlers_shared_by_two_servers_are_told_by_share() {
        let text: String = (1..=3).map(handler).collect();
        let d = parse_dump(text.as_bytes()).expect("dump");
        let dump = GoDump {
            name: "g.txt".into(),
            at: Timestamp(10_000_000_000),
            format: d.format,
            groups: summarize(&d),
        };
        let at = InFlight {
            requests: vec![
                request(1, "10.0.0.2:8080", 1),
                request(2, "10.0.0.2:8080", 2),
                request(3, "10.0.0.3:9090", 3),
            ],
            ..Default::default()
        };
        let found = diagnose(&dump, &at);
        let summaries: Vec<&str> = found.iter().map(|f| f.summary.as_str()).collect();
        assert_eq!(found.len(), 2, "{summaries:#?}");
        assert!(
            summaries[0].starts_with("2 requests to 10.0.0.2:8080")
                && summaries[0]
                    .contains("⇄ 2 of the 3 server handler goroutines blocked in main.hang"),
            "{summaries:#?}"
        );
        assert!(
            summaries[1].starts_with("1 request to 10.0.0.3:9090")
                && summaries[1].contains("⇄ 1 of the 3 server handler goroutines"),
            "{summaries:#?}"
        );
        // One server alone is told the whole count.
        let at = InFlight {
            requests: at.requests[..2].to_vec(),
            ..Default::default()
        };
        let found = diagnose(&dump, &at);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].summary.contains("⇄ 3 server handler goroutines"),
            "{}",
            found[0].summary
        );
    }
}
