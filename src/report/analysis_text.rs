//! The text report of `analyze`: findings first (by severity, grouped per
//! connection, root cause first), then a connection table with the problems on top.

use std::io::{self, Write};

use super::conn_json::end_phrase;
use super::escape::escape_str;
use crate::diagnose::{human_duration, Finding, Severity};
use crate::flow::conn::ConnRecord;

/// Evidence frames printed per finding; the JSON has them all.
const FRAMES_SHOWN: usize = 12;

/// Orders findings: worst connection first, then by connection, then severity.
pub fn sort_findings(findings: &mut [Finding]) {
    use std::collections::HashMap;
    let mut worst: HashMap<Option<u64>, Severity> = HashMap::new();
    for f in findings.iter() {
        let w = worst.entry(f.conn).or_insert(f.severity);
        *w = (*w).max(f.severity);
    }
    findings.sort_by(|a, b| {
        let wa = worst.get(&a.conn).copied().unwrap_or(a.severity);
        let wb = worst.get(&b.conn).copied().unwrap_or(b.severity);
        wb.cmp(&wa)
            .then(a.conn.is_none().cmp(&b.conn.is_none()))
            .then(a.conn.cmp(&b.conn))
            .then(b.severity.cmp(&a.severity))
            .then(a.kind.cmp(b.kind))
    });
}

/// Writes the findings section.
pub fn write_findings<W: Write + ?Sized>(out: &mut W, findings: &[Finding]) -> io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "No problems found.");
    }
    writeln!(out, "FINDINGS")?;
    for f in findings {
        let label = match f.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARN ",
            Severity::Info => "INFO ",
        };
        write!(out, "  {label} {:<24}", f.kind)?;
        if let (Some(c), Some(s)) = (f.client, f.server) {
            write!(out, " {c} -> {s}")?;
        }
        if let Some(id) = f.conn {
            write!(out, "  (conn {id})")?;
        }
        writeln!(out)?;
        writeln!(out, "        {}", escape_str(&f.summary))?;
        if !f.frames.is_empty() {
            writeln!(out, "        evidence: frames {}", frame_list(&f.frames))?;
        }
        writeln!(out, "        next: {}", escape_str(&f.next_step))?;
    }
    Ok(())
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

/// Writes the connection table; `total` is how many connections there were in all.
pub fn write_connections<W: Write + ?Sized>(
    out: &mut W,
    rows: &[(ConnRecord, Option<Severity>)],
    total: u64,
) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
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
        let retx = c.resent(crate::flow::Side::Client) + c.resent(crate::flow::Side::Server);
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
