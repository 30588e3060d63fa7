//! The text report of `analyze`: findings first (by severity, grouped per
//! connection, root cause first), then a connection table with the problems on top.
//!
//! It fits on a few screens whatever the capture: past [`TextLimits::SCREENS`]
//! stories it opens with the findings grouped (kind, server, endpoint), then
//! shows the worst stories, transactions and connections, each section saying
//! how many more there are; `--all` ([`TextLimits::ALL`]) prints everything kept.

use std::io::{self, Write};

use super::app_json::{HttpJson, TimingMs};
use super::conn_json::end_phrase;
use crate::base::escape::{escape_str, sanitize};
use crate::base::human_duration;
use crate::diagnose::group::{self, span, thousands, Group};
use crate::diagnose::story::Story;
use crate::diagnose::{Finding, Severity};
use crate::flow::conn::ConnRecord;

/// Evidence frames printed per finding; the JSON has them all.
const FRAMES_SHOWN: usize = 12;

/// How much of each section the text report prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimits {
    /// Stories printed in full; beyond it the grouped summary comes first.
    pub stories: usize,
    /// Findings printed per story (one connection can carry thousands, e.g.
    /// HTTP/2 streams); beyond it the grouped summary comes first too.
    pub per_story: usize,
    /// Groups in the summary.
    pub groups: usize,
    /// Transactions in the table.
    pub transactions: usize,
    /// Connections in the table.
    pub connections: usize,
}

impl TextLimits {
    /// A few screens: the default.
    pub const SCREENS: TextLimits = TextLimits {
        stories: 8,
        per_story: 6,
        groups: 25,
        transactions: 25,
        connections: 40,
    };
    /// Everything kept (`--all`).
    pub const ALL: TextLimits = TextLimits {
        stories: usize::MAX,
        per_story: usize::MAX,
        groups: 0,
        transactions: usize::MAX,
        connections: usize::MAX,
    };
}

/// `... and 2,042 more calls with findings (--all prints them)`.
fn write_more<W: Write + ?Sized>(
    out: &mut W,
    indent: &str,
    more: u64,
    what: &str,
    hint: &str,
) -> io::Result<()> {
    writeln!(
        out,
        "{indent}... and {} more {what} ({hint})",
        thousands(more)
    )
}

/// Writes the grouped summary when there are more stories than the report
/// shows: one group per line with its count, span, clients and examples.
pub fn write_groups<W: Write + ?Sized>(
    out: &mut W,
    groups: &[Group],
    stories: &[Story],
    calls: u64,
    limits: TextLimits,
) -> io::Result<()> {
    let cut = calls > stories.len() as u64
        || stories.len() > limits.stories
        || stories.iter().any(|s| s.len > limits.per_story);
    if !cut || limits.groups == 0 {
        return Ok(());
    }
    write_group_summary(out, groups, calls, limits)
}

/// The grouped summary itself: a line per (kind, server, endpoint) with its
/// count, clients and time span, at most `limits.groups`.
pub fn write_group_summary<W: Write + ?Sized>(
    out: &mut W,
    groups: &[Group],
    calls: u64,
    limits: TextLimits,
) -> io::Result<()> {
    let findings: u64 = groups.iter().map(|g| g.count).sum();
    writeln!(
        out,
        "SUMMARY: {} findings in {} groups, {} calls with findings",
        thousands(findings),
        thousands(groups.len() as u64),
        thousands(calls)
    )?;
    for g in groups.iter().take(limits.groups) {
        let endpoint = g
            .endpoint
            .as_deref()
            .map(|e| format!("  {}", sanitize(e)))
            .unwrap_or_default();
        writeln!(
            out,
            "{} {:<24} {}{}  x{}  {} client{}  {}",
            severity_label(g.severity),
            g.kind,
            sanitize(&g.server),
            endpoint,
            thousands(g.count),
            group::clients(g),
            if g.clients == 1 { "" } else { "s" },
            span(g)
        )?;
        writeln!(out, "        {}", sanitize(&g.summary))?;
        if !g.example_conns.is_empty() {
            let conns: Vec<String> = g.example_conns.iter().map(u64::to_string).collect();
            let frames: Vec<String> = g.example_frames.iter().map(u64::to_string).collect();
            writeln!(
                out,
                "        e.g. conn {}{}",
                conns.join(", "),
                if frames.is_empty() {
                    String::new()
                } else {
                    format!(" (frames {})", frames.join(", "))
                }
            )?;
        }
    }
    if groups.len() > limits.groups {
        write_more(
            out,
            "",
            (groups.len() - limits.groups) as u64,
            "groups",
            "--all prints every finding",
        )?;
    }
    writeln!(out)
}

/// Writes the findings section: one headline per call (story), then its
/// findings, root cause first; at most `limits.stories` stories, worst first.
pub fn write_findings<W: Write + ?Sized>(
    out: &mut W,
    findings: &[Finding],
    stories: &[Story],
    calls: u64,
    limits: TextLimits,
) -> io::Result<()> {
    if findings.is_empty() && calls == 0 {
        return writeln!(out, "No problems found.");
    }
    let shown = stories.len().min(limits.stories);
    if (stories.len() as u64) < calls {
        // Past the held limit: stories exist for the first calls only.
        writeln!(
            out,
            "FINDINGS (the worst {} of the first {} calls with findings; all {} are counted in the summary above)",
            shown,
            thousands(stories.len() as u64),
            thousands(calls)
        )?;
    } else if (shown as u64) < calls {
        writeln!(
            out,
            "FINDINGS (the worst {} of {} calls)",
            shown,
            thousands(calls)
        )?;
    } else {
        writeln!(out, "FINDINGS")?;
    }
    for story in stories.iter().take(limits.stories) {
        let label = severity_label(story.severity);
        writeln!(out, "{label} {}", sanitize(&story.headline))?;
        let group = findings
            .get(story.first..story.first + story.len)
            .unwrap_or_default();
        for f in group.iter().take(limits.per_story) {
            write_finding(out, f)?;
        }
        if group.len() > limits.per_story {
            write_more(
                out,
                "  ",
                (group.len() - limits.per_story) as u64,
                "findings on this call",
                "in the summary above; --all prints them",
            )?;
        }
    }
    if (shown as u64) < calls {
        write_more(
            out,
            "",
            calls - shown as u64,
            "calls with findings",
            "--all prints them; --json has every finding",
        )?;
    }
    Ok(())
}

/// The fixed-width label of a severity (`ERROR`, `WARN `, `INFO `).
pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERROR",
        Severity::Warning => "WARN ",
        Severity::Info => "INFO ",
    }
}

/// One finding: kind, endpoints, summary, evidence frames and next step.
pub fn write_finding<W: Write + ?Sized>(out: &mut W, f: &Finding) -> io::Result<()> {
    write!(out, "  {} {:<24}", severity_label(f.severity), f.kind)?;
    if let (Some(c), Some(s)) = (f.client, f.server) {
        write!(out, " {c} -> {s}")?;
    }
    if let Some(id) = f.conn {
        write!(out, "  (conn {id})")?;
    }
    writeln!(out)?;
    writeln!(out, "        {}", sanitize(&f.summary))?;
    if !f.frames.is_empty() {
        writeln!(out, "        evidence: frames {}", frame_list(&f.frames))?;
    }
    for g in &f.goroutines {
        let base = g.file.rsplit('/').next().unwrap_or(&g.file);
        write!(
            out,
            "        goroutines: {} {} at {} ({}:{})",
            g.count,
            g.role,
            sanitize(&g.function),
            sanitize(base),
            g.line
        )?;
        if let Some(state) = &g.state {
            write!(out, " [{}]", sanitize(state))?;
        }
        if !g.labels.is_empty() {
            write!(out, " labels {}", sanitize(&g.labels.join(" ")))?;
        }
        writeln!(out, ", in {}", sanitize(&g.dump))?;
    }
    writeln!(out, "        next: {}", sanitize(&f.next_step))
}

/// `1-4, 9, 12-13, ...`: runs collapsed, at most [`FRAMES_SHOWN`] items.
pub fn frame_list(frames: &[u64]) -> String {
    let mut items: Vec<String> = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        let start = frames[i];
        let mut end = start;
        while i + 1 < frames.len() && frames[i + 1] == end + 1 {
            i += 1;
            end = frames[i];
        }
        items.push(if end > start {
            format!("{start}-{end}")
        } else {
            start.to_string()
        });
        i += 1;
    }
    if items.len() > FRAMES_SHOWN {
        let more = items.len() - FRAMES_SHOWN;
        items.truncate(FRAMES_SHOWN);
        items.push(format!("... (+{more})"));
    }
    items.join(", ")
}

/// Width of the text waterfall, in characters.
const WATERFALL: usize = 32;

/// Writes the HTTP transactions with their phases and a text waterfall:
/// `d` dns, `c` connect, `t` tls, `s` send, `w` wait, `x` transfer, each
/// scaled to the slowest transaction shown.
pub fn write_transactions<W: Write + ?Sized>(
    out: &mut W,
    rows: &[HttpJson],
    total: u64,
    limits: TextLimits,
) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows = rows
        .get(..limits.transactions.min(rows.len()))
        .unwrap_or(rows);
    writeln!(out)?;
    if total > rows.len() as u64 {
        writeln!(
            out,
            "HTTP TRANSACTIONS ({} of {})",
            rows.len(),
            thousands(total)
        )?;
    } else {
        writeln!(out, "HTTP TRANSACTIONS ({})", rows.len())?;
    }
    writeln!(
        out,
        "  {:>5} {:<40} {:>6} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}  waterfall (d c t s w x)",
        "conn", "request", "status", "connect", "tls", "send", "wait", "transfer", "total"
    )?;
    let slowest = rows
        .iter()
        .map(|r| phases(&r.timing_ms).iter().map(|(_, v)| v).sum::<f64>())
        .fold(0.0f64, f64::max);
    for r in rows {
        let t = &r.timing_ms;
        // Decrypted HTTPS reads as such: `GET https://host/path`.
        let request = format!(
            "{} {}{}{}",
            r.tx.method.as_deref().unwrap_or("?"),
            if r.tx.decrypted { "https://" } else { "" },
            r.tx.host.as_deref().unwrap_or(""),
            r.tx.path.as_deref().unwrap_or("")
        );
        let status =
            r.tx.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "none".into());
        let show = |v: Option<f64>| {
            v.map_or_else(|| "-".to_string(), |v| human_duration((v * 1e6) as i64))
        };
        writeln!(
            out,
            "  {:>5} {:<40} {:>6} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}  |{}|",
            r.tx.conn,
            truncate(&escape_str(&request), 40),
            status,
            show(t.connect),
            show(t.tls),
            show(t.send),
            show(t.wait),
            show(t.transfer),
            show(t.total.map(|total| total
                + t.dns.unwrap_or(0.0)
                + t.connect.unwrap_or(0.0)
                + t.tls.unwrap_or(0.0))),
            waterfall(t, slowest)
        )?;
    }
    if total > rows.len() as u64 {
        write_more(
            out,
            "  ",
            total - rows.len() as u64,
            "transactions",
            "--all, or --json for every one",
        )?;
    }
    Ok(())
}

fn phases(t: &TimingMs) -> [(char, f64); 6] {
    [
        ('d', t.dns.unwrap_or(0.0)),
        ('c', t.connect.unwrap_or(0.0)),
        ('t', t.tls.unwrap_or(0.0)),
        ('s', t.send.unwrap_or(0.0)),
        ('w', t.wait.unwrap_or(0.0)),
        ('x', t.transfer.unwrap_or(0.0)),
    ]
}

/// Each phase gets its share of [`WATERFALL`] characters (at least one when it
/// took any time at all), padded to the full width.
fn waterfall(t: &TimingMs, slowest: f64) -> String {
    let mut bar = String::with_capacity(WATERFALL);
    for (c, v) in phases(t) {
        if v <= 0.0 || slowest <= 0.0 {
            continue;
        }
        let n = ((v / slowest) * WATERFALL as f64).round().max(1.0) as usize;
        for _ in 0..n {
            if bar.len() < WATERFALL {
                bar.push(c);
            }
        }
    }
    while bar.len() < WATERFALL {
        bar.push(' ');
    }
    bar
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Writes the connection table; `total` is how many connections there were in all.
pub fn write_connections<W: Write + ?Sized>(
    out: &mut W,
    rows: &[(ConnRecord, Option<Severity>)],
    total: u64,
    limits: TextLimits,
) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows = rows
        .get(..limits.connections.min(rows.len()))
        .unwrap_or(rows);
    writeln!(out)?;
    writeln!(
        out,
        "CONNECTIONS ({} of {}, problems first)",
        rows.len(),
        total
    )?;
    writeln!(
        out,
        "  {:>5} {:<47} {:<4} {:<6} {:<12} {:>9} {:>11} {:>17} {:>9} {:>5}  end",
        "id",
        "client -> server",
        "prot",
        "state",
        "history",
        "duration",
        "pkts c/s",
        "payload c/s",
        "rtt",
        "retx",
    )?;
    for (c, worst) in rows {
        let mark = match worst {
            Some(Severity::Error) => "!",
            Some(Severity::Warning) => "~",
            _ => " ",
        };
        let endpoints = format!("{} -> {}", c.client, c.server);
        let retx = c.resent(crate::base::Side::Client) + c.resent(crate::base::Side::Server);
        let rtt = c
            .path_rtt()
            .map(human_duration)
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{mark} {:>5} {:<47} {:<4} {:<6} {:<12} {:>9} {:>11} {:>17} {:>9} {:>5}  {}",
            c.id,
            endpoints,
            c.protocol.as_str(),
            c.state,
            if c.history.is_empty() {
                "-"
            } else {
                &c.history
            },
            human_duration(c.duration_ns),
            format!("{}/{}", c.client_stats.packets, c.server_stats.packets),
            format!(
                "{}/{}",
                c.client_stats.payload_bytes, c.server_stats.payload_bytes
            ),
            rtt,
            retx,
            end_phrase(c.ended)
        )?;
    }
    if total > rows.len() as u64 {
        write_more(
            out,
            "  ",
            total - rows.len() as u64,
            "connections",
            "--all, or --json for every one",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_runs_collapse() {
        assert_eq!(frame_list(&[1, 2, 3, 7, 9, 10]), "1-3, 7, 9-10");
        let many: Vec<u64> = (0..40).map(|i| i * 2).collect();
        assert!(frame_list(&many).ends_with("... (+28)"));
    }
}
