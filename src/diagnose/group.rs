//! Findings grouped for people: one group per (kind, server, endpoint
//! template), with its count, first and last time, distinct clients and a few
//! example connections, so a capture with 34,000 failed calls or a SYN flood
//! reads as a few lines. JSON and JSONL keep every finding and add the groups.
//!
//! The server is the call's name when the capture shows one (SNI, Host, DNS),
//! else its address. Connect failures to one address on many ports (a scan)
//! fold into one group per address once more than [`PORT_FOLD`] ports failed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::distinct::Distinct;
use super::{Finding, Severity};
use crate::base::human_duration;
use crate::base::Timestamp;

/// Example connections kept per group.
const EXAMPLES: usize = 3;
/// Groups of one kind to one address on more ports than this fold into one.
pub const PORT_FOLD: usize = 10;
/// A connect time-out group this large is a flood or a scan, not one failing call.
const FLOOD: u64 = 1_000;

/// One group of findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Finding kind.
    pub kind: &'static str,
    /// The worst severity in the group.
    pub severity: Severity,
    /// The call's name, or the server's address (`ip (N ports)` when folded).
    pub server: String,
    /// `METHOD /path/{id}` for HTTP findings; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Findings in the group.
    pub count: u64,
    /// Distinct client addresses (an estimate when `clients_estimated`).
    pub clients: u64,
    /// More than 100,000 clients: `clients` is estimated (HyperLogLog, about
    /// 1.6% off; `distinct.rs`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub clients_estimated: bool,
    /// The earliest finding's time.
    #[serde(serialize_with = "ser_ts")]
    pub first: Option<Timestamp>,
    /// The latest finding's time.
    #[serde(serialize_with = "ser_ts")]
    pub last: Option<Timestamp>,
    /// A few of its connections.
    pub example_conns: Vec<u64>,
    /// The first evidence frame of each example.
    pub example_frames: Vec<u64>,
    /// One line about the whole group (a flood), else the first finding's summary.
    pub summary: String,
}

fn ser_ts<S: serde::Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(t) => s.serialize_str(&crate::base::rfc3339(*t)),
        None => s.serialize_none(),
    }
}

#[derive(Debug)]
struct Building {
    group: Group,
    clients: Distinct,
    server_addr: Option<SocketAddr>,
    /// The example connections and their first evidence frames, by id.
    examples: Vec<(u64, Option<u64>)>,
}

/// Groups `findings`, worst first, then the largest; `targets` names calls
/// by connection.
pub fn group(findings: &[Finding], targets: &HashMap<u64, String>) -> Vec<Group> {
    let mut grouper = Grouper::default();
    for f in findings {
        grouper.add(f, targets);
    }
    grouper.finish()
}

/// Groups built one finding at a time, so findings need not be held to be
/// counted: memory grows with the groups, not with the findings.
#[derive(Debug, Default)]
pub struct Grouper {
    index: HashMap<(&'static str, String, Option<String>), usize>,
    building: Vec<Building>,
}

impl Grouper {
    /// Counts `f` into its group; `targets` names calls by connection.
    pub fn add(&mut self, f: &Finding, targets: &HashMap<u64, String>) {
        let server = f
            .conn
            .and_then(|c| targets.get(&c).cloned())
            .or_else(|| f.server.map(|s| s.to_string()))
            .unwrap_or_else(|| "-".to_string());
        let key = (f.kind, server, f.endpoint.clone());
        let building = &mut self.building;
        let i = *self.index.entry(key).or_insert_with_key(|key| {
            building.push(Building {
                group: Group {
                    kind: f.kind,
                    severity: f.severity,
                    server: key.1.clone(),
                    endpoint: key.2.clone(),
                    count: 0,
                    clients: 0,
                    clients_estimated: false,
                    first: f.time,
                    last: f.time,
                    example_conns: Vec::new(),
                    example_frames: Vec::new(),
                    summary: f.summary.clone(),
                },
                clients: Distinct::default(),
                server_addr: f.server.filter(|s| targets_miss(f, targets, s)),
                examples: Vec::new(),
            });
            building.len() - 1
        });
        add(&mut building[i], f);
    }

    /// The groups, worst first, then the largest.
    pub fn finish(mut self) -> Vec<Group> {
        for b in &mut self.building {
            b.group.example_conns = b.examples.iter().map(|&(c, _)| c).collect();
            b.group.example_frames = b.examples.iter().filter_map(|&(_, f)| f).collect();
            // Counted once here: an estimate costs a pass over the sketch.
            b.group.clients = b.clients.count();
            b.group.clients_estimated = b.clients.is_estimate();
        }
        let mut groups = fold_ports(self.building);
        for g in &mut groups {
            if g.kind == "tcp.connect_timeout" && g.count >= FLOOD {
                g.summary = format!(
                    "{} SYNs from {} sources to {}, none answered: a SYN flood or a scan",
                    thousands(g.count),
                    clients(g),
                    g.server
                );
            }
        }
        groups.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.count.cmp(&a.count))
                .then(a.first.cmp(&b.first))
        });
        groups
    }
}

/// True when the finding is named by its address (no call name), so its
/// group may fold with others to the same address.
fn targets_miss(f: &Finding, targets: &HashMap<u64, String>, _: &SocketAddr) -> bool {
    f.endpoint.is_none() && f.conn.is_none_or(|c| !targets.contains_key(&c))
}

fn add(b: &mut Building, f: &Finding) {
    let g = &mut b.group;
    g.count += 1;
    g.severity = g.severity.max(f.severity);
    if f.time.is_some() && (g.first.is_none() || f.time < g.first) {
        g.first = f.time;
    }
    if f.time > g.last {
        g.last = f.time;
    }
    if let Some(c) = f.client {
        b.clients.add(c.ip());
    }
    // The earliest connections are the examples, whatever order findings
    // arrive in (the held ones join the groups last).
    if let Some(conn) = f.conn {
        let e = &mut b.examples;
        let at = e.partition_point(|&(c, _)| c < conn);
        // One connection with two findings of a kind is one example.
        let known = e.get(at).is_some_and(|&(c, _)| c == conn);
        if !known && (e.len() < EXAMPLES || e.last().is_some_and(|&(c, _)| conn < c)) {
            e.insert(at, (conn, f.frames.first().copied()));
            e.truncate(EXAMPLES);
        }
    }
}

/// Folds the groups of one kind to one address on more than [`PORT_FOLD`]
/// ports into one group per address.
fn fold_ports(building: Vec<Building>) -> Vec<Group> {
    let mut per_addr: HashMap<(&'static str, IpAddr), Vec<usize>> = HashMap::new();
    for (i, b) in building.iter().enumerate() {
        if let Some(s) = b.server_addr {
            per_addr.entry((b.group.kind, s.ip())).or_default().push(i);
        }
    }
    let mut folded_into: HashMap<usize, usize> = HashMap::new();
    for members in per_addr.values().filter(|m| m.len() > PORT_FOLD) {
        for &m in &members[1..] {
            folded_into.insert(m, members[0]);
        }
    }
    let mut out: Vec<Option<Building>> = building.into_iter().map(Some).collect();
    let mut ports: HashMap<usize, usize> = HashMap::new();
    let mut keys: Vec<usize> = folded_into.keys().copied().collect();
    keys.sort_unstable();
    for m in keys {
        let head = folded_into[&m];
        let Some(b) = out[m].take() else { continue };
        *ports.entry(head).or_insert(1) += 1;
        if let Some(h) = out[head].as_mut() {
            let g = &mut h.group;
            g.count += b.group.count;
            g.severity = g.severity.max(b.group.severity);
            g.first = match (g.first, b.group.first) {
                (Some(a), Some(c)) => Some(a.min(c)),
                (a, c) => a.or(c),
            };
            g.last = g.last.max(b.group.last);
            h.clients.merge(b.clients);
        }
    }
    for (head, n) in ports {
        if let Some(h) = out[head].as_mut() {
            // Counted once, after every merge: an estimate costs a pass
            // over the sketch.
            h.group.clients = h.clients.count();
            h.group.clients_estimated = h.clients.is_estimate();
            if let Some(addr) = h.server_addr {
                h.group.server = format!("{} ({n} ports)", addr.ip());
                h.group.summary = format!(
                    "{} findings of this kind to {} ports of {}, e.g.: {}",
                    thousands(h.group.count),
                    n,
                    addr.ip(),
                    h.group.summary
                );
            }
        }
    }
    out.into_iter().flatten().map(|b| b.group).collect()
}

/// A group's distinct clients for people: `1,234`, or `about 2,010,000`
/// (three significant digits) when estimated.
pub fn clients(g: &Group) -> String {
    if !g.clients_estimated {
        return thousands(g.clients);
    }
    let digits = g.clients.checked_ilog10().unwrap_or(0);
    let unit = 10u64.pow(digits.saturating_sub(2));
    format!("about {}", thousands((g.clients + unit / 2) / unit * unit))
}

/// `2000000` as `2,000,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A group's time span for people: `14:06:40.123` or `14:06:40.123 – 14:07:02.001 (21.9 s)`.
pub fn span(g: &Group) -> String {
    let clock = |t: Timestamp| {
        let full = crate::base::rfc3339(t);
        full.get(11..23).unwrap_or(&full).to_string()
    };
    match (g.first, g.last) {
        (Some(a), Some(b)) if b > a => format!(
            "{} – {} ({})",
            clock(a),
            clock(b),
            human_duration(b.since(a))
        ),
        (Some(a), _) => clock(a),
        _ => String::new(),
    }
}

/// The template of a request path for grouping: the query dropped, and each
/// segment that looks like an identifier (digits, a UUID, a long hex or
/// token string) replaced by `{id}`: `/v1/orders/8812?x=1` → `/v1/orders/{id}`.
pub fn path_template(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_identifier(seg) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
    }
    out
}

fn is_identifier(seg: &str) -> bool {
    let b = seg.as_bytes();
    if b.is_empty() {
        return false;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let hex = b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-');
    b.iter().all(u8::is_ascii_digit)
        || (hex && b.len() >= 8 && digits > 0)
        || (b.len() >= 16
            && digits >= 2
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: &'static str, client: &str, server: &str, conn: u64, t: i64) -> Finding {
        Finding {
            kind,
            severity: Severity::Error,
            summary: format!("{kind} at {server}"),
            next_step: String::new(),
            frames: vec![conn * 10],
            conn: Some(conn),
            client: Some(client.parse().unwrap()),
            server: Some(server.parse().unwrap()),
            time: Some(Timestamp(t)),
            endpoint: None,
            goroutines: Vec::new(),
        }
    }

    #[test]
    fn identifiers_become_placeholders() {
        assert_eq!(path_template("/v1/orders/8812?x=1"), "/v1/orders/{id}");
        assert_eq!(
            path_template("/u/3f2a1c9e-77aa-4b1e-9c11-0d5e8f0a1b2c/items"),
            "/u/{id}/items"
        );
        assert_eq!(path_template("/v2/health"), "/v2/health");
        assert_eq!(path_template("/files/deadbeef12"), "/files/{id}");
        assert_eq!(path_template("/"), "/");
        assert_eq!(path_template("/static/application"), "/static/application");
    }

    #[test]
    fn same_kind_and_server_is_one_group_with_its_span_and_clients() {
        let findings: Vec<Finding> = (0..5)
            .map(|i| {
                f(
                    "tcp.connect_timeout",
                    &format!("10.0.0.{i}:4000"),
                    "10.9.9.9:443",
                    i + 1,
                    i as i64 * 1_000,
                )
            })
            .collect();
        let g = group(&findings, &HashMap::new());
        assert_eq!(g.len(), 1);
        assert_eq!((g[0].count, g[0].clients), (5, 5));
        assert_eq!(g[0].example_conns, [1, 2, 3]);
        assert_eq!(g[0].example_frames, [10, 20, 30]);
        assert_eq!(
            (g[0].first, g[0].last),
            (Some(Timestamp(0)), Some(Timestamp(4_000)))
        );
    }

    #[test]
    fn a_flood_is_one_line_and_a_scan_folds_its_ports() {
        let flood: Vec<Finding> = (0..1_500u64)
            .map(|i| {
                f(
                    "tcp.connect_timeout",
                    &format!("10.{}.{}.1:4000", i / 250, i % 250),
                    "192.168.0.1:443",
                    i + 1,
                    0,
                )
            })
            .collect();
        let g = group(&flood, &HashMap::new());
        assert_eq!(g.len(), 1);
        assert_eq!(
            g[0].summary,
            "1,500 SYNs from 1,500 sources to 192.168.0.1:443, none answered: a SYN flood or a scan"
        );
        let scan: Vec<Finding> = (0..50u64)
            .map(|p| {
                f(
                    "tcp.connect_refused",
                    "10.0.0.1:4000",
                    &format!("10.9.9.9:{}", 1000 + p),
                    p + 1,
                    0,
                )
            })
            .collect();
        let g = group(&scan, &HashMap::new());
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0].server, "10.9.9.9 (50 ports)");
        assert_eq!(g[0].count, 50);
    }

    #[test]
    fn named_calls_group_by_name_and_endpoint() {
        let mut a = f("http.slow_server", "10.0.0.1:1", "10.9.9.9:80", 1, 0);
        a.endpoint = Some("GET /v1/orders/{id}".into());
        let mut b = a.clone();
        b.conn = Some(2);
        let mut c = a.clone();
        c.endpoint = Some("GET /v1/users/{id}".into());
        c.conn = Some(3);
        let targets = HashMap::from([
            (1, "api".to_string()),
            (2, "api".to_string()),
            (3, "api".to_string()),
        ]);
        let g = group(&[a, b, c], &targets);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].count, 2);
        assert_eq!(g[0].server, "api");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn two_findings_of_a_kind_on_one_connection_are_one_example() {
        let a = f(
            "http.expectation_failed",
            "10.0.0.1:4000",
            "10.9.9.9:80",
            2,
            0,
        );
        let b = f(
            "http.expectation_failed",
            "10.0.0.1:4001",
            "10.9.9.9:80",
            1,
            0,
        );
        let g = group(&[a.clone(), a, b], &HashMap::new());
        assert_eq!(g[0].count, 3);
        assert_eq!(g[0].example_conns, [1, 2]);
    }
}
