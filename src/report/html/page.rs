//! The page: what the template shows, built from the analysis's
//! conclusion and the [`HtmlCollector`], each list cut to its bound.

use std::collections::HashMap;

use askama::Template;

use super::collect::{ConnRow, HtmlCollector};
use super::draw::{self, ms_text, Chart, Phase};
use super::ladder::Ladder;
use crate::base::escape::sanitize;
use crate::base::{rfc3339, Timestamp};
use crate::diagnose::group::Group;
use crate::diagnose::story::{Step, Story};
use crate::diagnose::{Finding, Severity};

/// Stories shown (the worst first, as the text report orders them).
pub const MAX_STORIES: usize = 40;
/// Findings shown per story.
const FINDINGS_PER_STORY: usize = 12;
/// Groups shown in the summary.
pub const MAX_GROUPS: usize = 25;
/// Stories whose ladder is shown unfolded (the others fold).
const LADDERS_OPEN: usize = 3;
/// Evidence frame numbers listed per finding.
const FRAMES_LISTED: usize = 12;

/// The page's own style sheet and script, inline (hashed into the
/// Content-Security-Policy, the only style and script it allows).
pub const CSS: &str = include_str!("../../../templates/report.css");
/// The sorting and filtering of the tables.
pub const JS: &str = include_str!("../../../templates/report.js");

#[derive(Template)]
#[template(path = "report.html")]
pub(super) struct Page<'a> {
    pub csp: String,
    pub css: &'a str,
    pub js: &'a str,
    pub title: String,
    pub verdict: String,
    pub verdict_class: &'static str,
    pub counts: String,
    pub notes: Vec<String>,
    pub groups: Vec<GroupView>,
    pub groups_more: usize,
    pub stories: Vec<StoryView>,
    pub stories_more: usize,
    pub charts: Vec<String>,
    pub conns: Vec<ConnView>,
    pub conns_total: u64,
    pub http: Vec<HttpView>,
    pub http_total: u64,
    pub dns: Vec<DnsView>,
    pub dns_total: u64,
    pub tls: Vec<TlsView>,
    pub tls_total: u64,
}

pub(super) struct GroupView {
    pub severity: &'static str,
    pub kind: &'static str,
    pub server: String,
    pub endpoint: String,
    pub count: u64,
    pub clients: String,
    pub when: String,
    pub summary: String,
}

pub(super) struct StoryView {
    pub anchor: String,
    pub severity: &'static str,
    pub headline: String,
    pub step: &'static str,
    pub conn: String,
    pub waterfall: String,
    pub phases: Vec<(&'static str, String, bool)>,
    pub findings: Vec<FindingView>,
    pub findings_more: usize,
    pub ladder: String,
    pub ladder_open: bool,
    pub ladder_note: String,
}

pub(super) struct FindingView {
    pub kind: &'static str,
    pub severity: &'static str,
    pub summary: String,
    pub next_step: String,
    pub frames: String,
}

pub(super) struct ConnView {
    pub severity: &'static str,
    pub id: u64,
    pub protocol: &'static str,
    pub client: String,
    pub server: String,
    pub start: String,
    pub start_ns: i64,
    pub state: String,
    pub history: String,
    pub duration: String,
    pub duration_ms: f64,
    pub packets: String,
    pub packets_n: u64,
    pub payload: String,
    pub payload_n: u64,
    pub rtt: String,
    pub rtt_ms: f64,
    pub resent: u64,
    pub end: String,
}

pub(super) struct HttpView {
    pub class: &'static str,
    pub conn: u64,
    pub start: String,
    pub start_ns: i64,
    pub request: String,
    pub status: String,
    pub total: String,
    pub total_ms: f64,
    pub wait: String,
    pub wait_ms: f64,
    pub think: String,
    pub think_ms: f64,
}

pub(super) struct DnsView {
    pub failed: bool,
    pub conn: u64,
    pub time: String,
    pub time_ns: i64,
    pub name: String,
    pub qtype: String,
    pub server: String,
    pub outcome: String,
    pub latency: String,
    pub latency_ms: f64,
    pub retries: u32,
    pub answers: usize,
}

pub(super) struct TlsView {
    pub failed: bool,
    pub conn: u64,
    pub time: String,
    pub time_ns: i64,
    pub sni: String,
    pub server: String,
    pub version: String,
    pub alpn: String,
    pub handshake: String,
    pub handshake_ms: f64,
    pub outcome: String,
    pub certificate: String,
}

/// What the page is made from.
pub struct Inputs<'a> {
    /// The capture files.
    pub files: &'a [String],
    /// The held findings, in story order.
    pub findings: &'a [Finding],
    /// One per failed call.
    pub stories: &'a [Story],
    /// Every finding by kind, server and endpoint.
    pub groups: &'a [Group],
    /// Calls with findings.
    pub calls: u64,
    /// The one-line count of frames, connections, records and findings.
    pub counts: String,
    /// Notes on the input (evicted connections, a cut file).
    pub notes: Vec<String>,
    /// What the records left for the report.
    pub collected: HtmlCollector,
    /// The ladders of the first failed calls, by connection.
    pub ladders: HashMap<u64, Ladder>,
    /// Why some calls have no ladder, when it is the same for all.
    pub ladder_note: Option<String>,
}

fn sev(s: Option<Severity>) -> &'static str {
    s.map_or("ok", Severity::as_str)
}

fn step_name(s: Step) -> &'static str {
    match s {
        Step::Dns => "dns",
        Step::Connect => "connect",
        Step::Tls => "tls",
        Step::Transport => "transport",
        Step::Http => "http",
        Step::Runtime => "runtime",
        Step::Capture => "capture",
    }
}

/// `10:15:02.123` of an RFC 3339 time (the date is in the charts' axis).
fn clock(ts: Timestamp) -> String {
    let full = rfc3339(ts);
    match full.split_once('T') {
        Some((_, t)) => {
            let t = t.trim_end_matches('Z');
            // hh:mm:ss.mmm: the fraction cut to milliseconds.
            t.get(..12).unwrap_or(t).to_string()
        }
        None => full,
    }
}

/// A call's phases, from its transaction, its lookup or its connection.
fn phases(story: &Story, c: &HtmlCollector) -> Vec<Phase> {
    let Some(conn) = story.conn else {
        return Vec::new();
    };
    let failing = |name: &str| step_name(story.step) == name;
    if let Some(h) = c.http_by_conn.get(&conn) {
        let t = &h.timing;
        let mut out = Vec::new();
        for (name, v) in [
            ("dns", t.dns),
            ("connect", t.connect),
            ("tls", t.tls),
            ("send", t.send),
            ("wait", t.wait),
            ("transfer", t.transfer),
        ] {
            // A request nobody answered: it waited until one side gave up.
            let v = match v {
                None if name == "wait" => h.gave_up_after_ms,
                v => v,
            };
            if let Some(ms) = v {
                out.push(Phase {
                    name,
                    ms,
                    failed: failing(name) || (name == "wait" && h.failed && failing("http")),
                });
            }
        }
        return out;
    }
    if let Some(d) = c.dns_by_conn.get(&conn) {
        let waited = d
            .latency_ms
            .or_else(|| c.conn_by_id.get(&conn).map(|r| r.duration_ms))
            .unwrap_or(0.0);
        return vec![Phase {
            name: "dns",
            ms: waited,
            failed: d.failed,
        }];
    }
    let Some(r) = c.conn_by_id.get(&conn) else {
        return Vec::new();
    };
    conn_phases(
        r,
        c.tls_by_conn.get(&conn).and_then(|t| t.handshake_ms),
        story,
    )
}

/// Connect, TLS and the rest of a connection with no transaction seen.
fn conn_phases(r: &ConnRow, tls_ms: Option<f64>, story: &Story) -> Vec<Phase> {
    let mut out = Vec::new();
    let Some(connect) = r.connect_ms else {
        if r.protocol == "tcp" {
            out.push(Phase {
                name: "connect",
                ms: r.duration_ms,
                failed: true,
            });
        }
        return out;
    };
    out.push(Phase {
        name: "connect",
        ms: connect,
        failed: story.step == Step::Connect,
    });
    let mut used = connect;
    if story.step == Step::Tls || tls_ms.is_some() {
        let ms = tls_ms.unwrap_or((r.duration_ms - used).max(0.0));
        out.push(Phase {
            name: "tls",
            ms,
            failed: story.step == Step::Tls,
        });
        used += ms;
    }
    if r.duration_ms - used > 0.0 {
        out.push(Phase {
            name: "open",
            ms: r.duration_ms - used,
            failed: matches!(story.step, Step::Transport | Step::Http),
        });
    }
    out
}

fn story_view(i: usize, story: &Story, inputs: &Inputs<'_>) -> StoryView {
    let all = inputs
        .findings
        .get(story.first..story.first + story.len)
        .unwrap_or(&[]);
    let findings = all
        .iter()
        .take(FINDINGS_PER_STORY)
        .map(|f| {
            let mut frames: Vec<String> = f
                .frames
                .iter()
                .take(FRAMES_LISTED)
                .map(u64::to_string)
                .collect();
            if f.frames.len() > FRAMES_LISTED {
                frames.push(format!("… {} more", f.frames.len() - FRAMES_LISTED));
            }
            FindingView {
                kind: f.kind,
                severity: f.severity.as_str(),
                summary: sanitize(&f.summary),
                next_step: sanitize(&f.next_step),
                frames: frames.join(", "),
            }
        })
        .collect();
    let phases = phases(story, &inputs.collected);
    let ladder = story
        .conn
        .and_then(|c| inputs.ladders.get(&c))
        .map(draw::ladder)
        .unwrap_or_default();
    let ladder_note = match (story.conn, ladder.is_empty()) {
        (_, false) => String::new(),
        (None, true) => "no connection to draw".to_string(),
        (Some(_), true) => inputs.ladder_note.clone().unwrap_or_else(|| {
            "no ladder for this call (only the first calls get one): \
             `--evidence-for CONN` gives its packets"
                .to_string()
        }),
    };
    StoryView {
        anchor: format!("story-{}", i + 1),
        severity: story.severity.as_str(),
        headline: sanitize(&story.headline),
        step: step_name(story.step),
        conn: story.conn.map(|c| c.to_string()).unwrap_or_default(),
        waterfall: if phases.is_empty() {
            String::new()
        } else {
            draw::waterfall(&phases)
        },
        phases: phases
            .iter()
            .map(|p| (p.name, ms_text(p.ms), p.failed))
            .collect(),
        findings,
        findings_more: all.len().saturating_sub(FINDINGS_PER_STORY),
        ladder,
        ladder_open: i < LADDERS_OPEN,
        ladder_note,
    }
}

fn conn_view(r: &ConnRow) -> ConnView {
    ConnView {
        severity: sev(r.worst),
        id: r.id,
        protocol: r.protocol,
        client: r.client.clone(),
        server: r.server.clone(),
        start: clock(r.start),
        start_ns: r.start.0,
        state: r.state.clone(),
        history: r.history.clone(),
        duration: ms_text(r.duration_ms),
        duration_ms: r.duration_ms,
        packets: format!("{} / {}", r.packets[0], r.packets[1]),
        packets_n: r.packets[0] + r.packets[1],
        payload: format!("{} / {}", r.payload[0], r.payload[1]),
        payload_n: r.payload[0] + r.payload[1],
        rtt: r.rtt_ms.map(ms_text).unwrap_or_else(|| "-".into()),
        rtt_ms: r.rtt_ms.unwrap_or(-1.0),
        resent: r.resent,
        end: r.end.clone(),
    }
}

/// Charts of calls, lookups and retransmissions over the capture.
fn charts(c: &HtmlCollector) -> Vec<String> {
    if c.timeline.is_empty() {
        return Vec::new();
    }
    let (start, width, b) = c.timeline.buckets();
    let end = Timestamp(start.0.saturating_add(width.saturating_mul(b.len() as i64)));
    let (from, to) = (
        rfc3339(start),
        format!("{} (bars of {})", clock(end), ms_text(width as f64 / 1e6)),
    );
    let count = |v: f64| format!("{v:.0}");
    let mean = |sum: f64, n: u64| if n > 0 { sum / n as f64 } else { 0.0 };
    let mut out = Vec::new();
    let mut add = |title, values: Vec<f64>, overlay: Vec<f64>, ticks, unit: fn(f64) -> String| {
        if values.iter().chain(&overlay).all(|v| *v <= 0.0) {
            return;
        }
        out.push(draw::chart(&Chart {
            title,
            values,
            overlay: Some(overlay),
            ticks,
            unit,
            from: from.clone(),
            to: to.clone(),
        }));
    };
    add(
        "HTTP response time: mean (bar) and slowest (tick)",
        b.iter().map(|x| mean(x.http_sum_ms, x.http)).collect(),
        b.iter().map(|x| x.http_max_ms).collect(),
        true,
        ms_text,
    );
    add(
        "HTTP transactions (failed in red)",
        b.iter().map(|x| x.http as f64).collect(),
        b.iter().map(|x| x.http_failed as f64).collect(),
        false,
        count,
    );
    add(
        "DNS lookup time: mean (bar) and slowest (tick)",
        b.iter()
            .map(|x| mean(x.dns_sum_ms, x.dns_answered))
            .collect(),
        b.iter().map(|x| x.dns_max_ms).collect(),
        true,
        ms_text,
    );
    add(
        "DNS lookups (failed in red)",
        b.iter().map(|x| x.dns as f64).collect(),
        b.iter().map(|x| x.dns_failed as f64).collect(),
        false,
        count,
    );
    add(
        "TCP segments sent again",
        b.iter().map(|x| x.retransmissions as f64).collect(),
        Vec::new(),
        false,
        count,
    );
    out
}

/// The Content-Security-Policy: nothing but the page's own style sheet
/// and script, by hash; no connection, no form, no frame.
fn csp(css: &str, js: &str) -> String {
    use base64::Engine;
    let hash = |s: &str| {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(d.as_ref())
    };
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src data:; base-uri 'none'; form-action 'none'",
        hash(css),
        hash(js)
    )
}

pub(super) fn build(inputs: Inputs<'_>) -> Page<'static> {
    let worst = inputs.findings.iter().map(|f| f.severity).max();
    let errors = inputs
        .stories
        .iter()
        .filter(|s| s.severity == Severity::Error)
        .count();
    let verdict = match worst {
        None if inputs.groups.is_empty() => "No problem found.".to_string(),
        _ => format!(
            "{} calls with findings; {} failed with an error.{}",
            inputs.calls,
            errors,
            inputs
                .stories
                .first()
                .map(|s| format!(" Worst: {}", sanitize(&s.headline)))
                .unwrap_or_default()
        ),
    };
    let groups = inputs
        .groups
        .iter()
        .take(MAX_GROUPS)
        .map(|g| GroupView {
            severity: g.severity.as_str(),
            kind: g.kind,
            server: sanitize(&g.server),
            endpoint: g.endpoint.as_deref().map(sanitize).unwrap_or_default(),
            count: g.count,
            clients: format!(
                "{}{}",
                g.clients,
                if g.clients_estimated { " (about)" } else { "" }
            ),
            when: match (g.first, g.last) {
                (Some(a), Some(b)) if a != b => format!("{} – {}", clock(a), clock(b)),
                (Some(a), _) => clock(a),
                _ => String::new(),
            },
            summary: sanitize(&g.summary),
        })
        .collect();
    let stories = super::shown_stories(inputs.stories)
        .into_iter()
        .filter_map(|i| inputs.stories.get(i))
        .enumerate()
        .map(|(i, s)| story_view(i, s, &inputs))
        .collect();
    let c = &inputs.collected;
    let mut conn_rows: Vec<&ConnRow> = c.problem_conns.iter().collect();
    conn_rows.sort_by(|a, b| b.worst.cmp(&a.worst).then(a.id.cmp(&b.id)));
    let mut healthy: Vec<&ConnRow> = c.healthy_conns.iter().collect();
    healthy.sort_by_key(|r| r.id);
    conn_rows.extend(healthy);
    let mut http: Vec<_> = c.http.iter().collect();
    http.sort_by(|a, b| {
        (b.failed, b.rejected).cmp(&(a.failed, a.rejected)).then(
            b.timing
                .total
                .unwrap_or(0.0)
                .total_cmp(&a.timing.total.unwrap_or(0.0)),
        )
    });
    let mut dns: Vec<_> = c.dns.iter().collect();
    dns.sort_by(|a, b| {
        b.failed.cmp(&a.failed).then(
            b.latency_ms
                .unwrap_or(0.0)
                .total_cmp(&a.latency_ms.unwrap_or(0.0)),
        )
    });
    let mut tls: Vec<_> = c.tls.iter().collect();
    tls.sort_by(|a, b| b.failed.cmp(&a.failed).then(a.conn.cmp(&b.conn)));
    let opt = |v: Option<f64>| v.map(ms_text).unwrap_or_else(|| "-".into());
    Page {
        csp: csp(CSS, JS),
        css: CSS,
        js: JS,
        title: inputs.files.join(", "),
        verdict,
        verdict_class: sev(worst),
        counts: inputs.counts.clone(),
        notes: inputs.notes.clone(),
        groups_more: inputs.groups.len().saturating_sub(MAX_GROUPS),
        groups,
        stories_more: inputs.stories.len().saturating_sub(MAX_STORIES),
        stories,
        charts: charts(c),
        conns: conn_rows.into_iter().map(conn_view).collect(),
        conns_total: c.totals.conns,
        http: http
            .into_iter()
            .map(|h| HttpView {
                class: if h.failed {
                    "sev-error"
                } else if h.rejected {
                    "sev-warning"
                } else {
                    "sev-ok"
                },
                conn: h.conn,
                start: h.start.map(clock).unwrap_or_default(),
                start_ns: h.start.map_or(0, |t| t.0),
                request: h.request.clone(),
                status: h.status.clone(),
                total: opt(h.timing.total),
                total_ms: h.timing.total.unwrap_or(-1.0),
                wait: opt(h.timing.wait),
                wait_ms: h.timing.wait.unwrap_or(-1.0),
                think: opt(h.timing.server_think),
                think_ms: h.timing.server_think.unwrap_or(-1.0),
            })
            .collect(),
        http_total: c.totals.http,
        dns: dns
            .into_iter()
            .map(|d| DnsView {
                failed: d.failed,
                conn: d.conn,
                time: clock(d.time),
                time_ns: d.time.0,
                name: d.name.clone(),
                qtype: d.qtype.clone(),
                server: d.server.clone(),
                outcome: d.outcome.clone(),
                latency: opt(d.latency_ms),
                latency_ms: d.latency_ms.unwrap_or(-1.0),
                retries: d.retries,
                answers: d.answers,
            })
            .collect(),
        dns_total: c.totals.dns,
        tls: tls
            .into_iter()
            .map(|t| TlsView {
                failed: t.failed,
                conn: t.conn,
                time: clock(t.time),
                time_ns: t.time.0,
                sni: t.sni.clone(),
                server: t.server.clone(),
                version: t.version.clone(),
                alpn: t.alpn.clone(),
                handshake: opt(t.handshake_ms),
                handshake_ms: t.handshake_ms.unwrap_or(-1.0),
                outcome: t.outcome.clone(),
                certificate: t.certificate.clone(),
            })
            .collect(),
        tls_total: c.totals.tls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_hashes_the_style_sheet_and_script_the_page_carries() {
        let p = csp("a", "b");
        // sha256("a") and sha256("b"), base64.
        assert!(p.contains("style-src 'sha256-ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs='"));
        assert!(p.contains("script-src 'sha256-PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0='"));
        assert!(p.starts_with("default-src 'none'"));
    }
}
