//! One story per failed or degraded call: the findings about one connection (or
//! one DNS lookup) grouped together, root cause first, under a headline that
//! names the call and the step where it went wrong.
//!
//! Root cause first means: worst severity first, then the earliest step in a
//! call's life (DNS, connect, TLS, transport, HTTP). A TLS alert explains the
//! client's reset after it; a reset explains the request that never got an
//! answer.

use std::collections::HashMap;

use serde::Serialize;

use super::{Finding, Severity};

/// The step of a call a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Name resolution.
    Dns,
    /// TCP connection set-up.
    Connect,
    /// TLS handshake.
    Tls,
    /// The TCP connection once established (loss, resets, windows).
    Transport,
    /// The HTTP exchange.
    Http,
    /// Inside a Go process, from its goroutine dumps (a call queued for a
    /// pooled connection, goroutines leaking).
    Runtime,
    /// The capture itself.
    Capture,
}

impl Step {
    /// The step a finding kind belongs to.
    pub fn of(kind: &str) -> Step {
        match kind {
            k if k.starts_with("dns.") => Step::Dns,
            "tcp.connect_timeout"
            | "tcp.connect_refused"
            | "tcp.icmp_unreachable"
            | "tcp.syn_retransmit" => Step::Connect,
            k if k.starts_with("tls.") => Step::Tls,
            // A blocked handler is the server's side of the exchange.
            k if k.starts_with("http.") || k == "go.handler_blocked" => Step::Http,
            k if k.starts_with("go.") => Step::Runtime,
            k if k.starts_with("capture.") => Step::Capture,
            _ => Step::Transport,
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Step::Dns => "at the DNS step",
            Step::Connect => "at the TCP connect step",
            Step::Tls => "at the TLS step",
            Step::Transport => "on the TCP connection",
            Step::Http => "in the HTTP exchange",
            Step::Runtime => "inside the Go process",
            Step::Capture => "in the capture",
        }
    }
}

/// A group of findings about one call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Story {
    /// The connection (for DNS: the DNS exchange's flow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    /// What was being called: a host name when the capture shows one, else the server.
    pub target: String,
    /// Where it went wrong: the root finding's step.
    pub step: Step,
    /// The worst severity in the group.
    pub severity: Severity,
    /// One line: "the call to api.example.com failed at the TLS step: ...".
    pub headline: String,
    /// The group's finding kinds, root cause first.
    pub findings: Vec<&'static str>,
    /// Index of the group's first finding in the report's (reordered) finding list.
    #[serde(skip)]
    pub first: usize,
    /// How many findings the group holds.
    #[serde(skip)]
    pub len: usize,
}

/// Reorders `findings` so each call's findings are together, root cause first,
/// worst calls first; returns one story per group. `targets` names calls by
/// connection (SNI, Host header, DNS name); others are named by their server.
pub fn build(findings: &mut Vec<Finding>, targets: &HashMap<u64, String>) -> Vec<Story> {
    let mut groups: Vec<Vec<Finding>> = Vec::new();
    let mut index: HashMap<Option<u64>, usize> = HashMap::new();
    for f in findings.drain(..) {
        let key = f.conn;
        match index.get(&key) {
            Some(&i) => groups[i].push(f),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![f]);
            }
        }
    }
    for g in &mut groups {
        g.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(Step::of(a.kind).cmp(&Step::of(b.kind)))
                .then(a.kind.cmp(b.kind))
        });
    }
    groups.sort_by(|a, b| {
        let wa = a.first().map(|f| f.severity);
        let wb = b.first().map(|f| f.severity);
        // Connection-less findings (the capture itself) go last.
        let ca = a.first().and_then(|f| f.conn);
        let cb = b.first().and_then(|f| f.conn);
        wb.cmp(&wa)
            .then(ca.is_none().cmp(&cb.is_none()))
            .then(ca.cmp(&cb))
    });
    let mut stories = Vec::new();
    for g in groups {
        let Some(root) = g.first() else {
            continue;
        };
        let step = Step::of(root.kind);
        let target = root
            .conn
            .and_then(|c| targets.get(&c).cloned())
            .or_else(|| root.server.map(|s| s.to_string()))
            .unwrap_or_else(|| "the capture".to_string());
        let verb = match root.severity {
            Severity::Error => "failed",
            Severity::Warning if is_slowness(root.kind) => "was slow",
            Severity::Warning => "was degraded",
            Severity::Info => "had a note",
        };
        let headline = if step == Step::Capture {
            format!("the evidence is incomplete: {}", root.summary)
        } else {
            format!(
                "the call to {target} {verb} {}: {}",
                step.phrase(),
                root.summary
            )
        };
        stories.push(Story {
            conn: root.conn,
            target,
            step,
            severity: root.severity,
            headline,
            findings: g.iter().map(|f| f.kind).collect(),
            first: findings.len(),
            len: g.len(),
        });
        findings.extend(g);
    }
    stories
}

/// Kinds that say a call took longer, not that it went wrong.
fn is_slowness(kind: &str) -> bool {
    matches!(
        kind,
        "tcp.syn_retransmit" | "dns.slow" | "http.slow_server" | "http.slow_transfer"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: &'static str, severity: Severity, conn: Option<u64>) -> Finding {
        Finding {
            kind,
            severity,
            summary: format!("{kind} happened"),
            next_step: String::new(),
            frames: Vec::new(),
            conn,
            client: None,
            server: Some("10.0.0.2:443".parse().unwrap()),
            time: None,
            endpoint: None,
            goroutines: Vec::new(),
        }
    }

    #[test]
    fn root_cause_first_and_worst_call_first() {
        let mut findings = vec![
            f("tcp.high_rtt", Severity::Warning, Some(1)),
            f("tcp.reset_by_client", Severity::Warning, Some(2)),
            f("http.no_response", Severity::Error, Some(2)),
            f("tls.unknown_ca", Severity::Error, Some(2)),
            f("capture.truncated", Severity::Info, None),
        ];
        let targets = HashMap::from([(2, "api.example.com".to_string())]);
        let stories = build(&mut findings, &targets);
        assert_eq!(stories.len(), 3);
        assert_eq!(
            stories[0].findings,
            ["tls.unknown_ca", "http.no_response", "tcp.reset_by_client"]
        );
        assert_eq!(stories[0].step, Step::Tls);
        assert!(stories[0].headline.starts_with(
            "the call to api.example.com failed at the TLS step: tls.unknown_ca happened"
        ));
        assert_eq!(stories[1].target, "10.0.0.2:443");
        assert_eq!(stories[2].conn, None);
        let kinds: Vec<_> = findings.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds[..3],
            ["tls.unknown_ca", "http.no_response", "tcp.reset_by_client"]
        );
        assert_eq!((stories[1].first, stories[1].len), (3, 1));
    }
}
