//! The probe's text report: the phases as a waterfall, what each phase
//! learned, the verdict and the findings; and the table of repeated probes.
//! Everything the server sent is escaped before it reaches the terminal.

use std::io::{self, Write};

use super::stats::Summary;
use super::{Phase, ProbeRun};
use crate::base::escape::{escape_str, sanitize};
use crate::report::analysis_text::{frame_list, write_finding};

/// Width of the waterfall bars, in characters.
const BAR_WIDTH: f64 = 40.0;

/// Writes one probe's report.
pub fn write_run<W: Write + ?Sized>(out: &mut W, run: &ProbeRun) -> io::Result<()> {
    writeln!(out, "probe {}", escape_str(&run.url))?;
    writeln!(out, "  resolver  {}", escape_str(&run.dns.resolver))?;
    if !run.dns.addresses.is_empty() {
        let addrs: Vec<String> = run.dns.addresses.iter().map(|a| a.to_string()).collect();
        writeln!(out, "  addresses {}", addrs.join(", "))?;
    }
    for q in &run.dns.queries {
        writeln!(
            out,
            "  dns {:<5} {} from {} in {}{}",
            q.qtype,
            q.rcode.as_deref().unwrap_or("no answer"),
            q.server,
            q.latency_ms
                .map_or("-".to_string(), |ms| format!("{ms:.1} ms")),
            match q.retries {
                0 => String::new(),
                n => format!(" ({} attempts)", n + 1),
            }
        )?;
    }
    for note in &run.dns.notes {
        writeln!(out, "  dns note  {}", escape_str(note))?;
    }
    if let Some(c) = &run.connect {
        for a in &c.attempts {
            let outcome = match &a.outcome {
                super::connect::ConnectOutcome::Connected => "connected".to_string(),
                super::connect::ConnectOutcome::Refused => "refused".to_string(),
                super::connect::ConnectOutcome::TimedOut => "timed out".to_string(),
                super::connect::ConnectOutcome::Cancelled => {
                    "cancelled (another address won)".to_string()
                }
                super::connect::ConnectOutcome::Unreachable(w)
                | super::connect::ConnectOutcome::Error(w) => w.clone(),
                super::connect::ConnectOutcome::ResourceExhausted(l) => {
                    format!("failed locally: {}", l.error)
                }
            };
            writeln!(out, "  tcp       {} {outcome} in {:.1} ms", a.addr, a.ms)?;
        }
    }
    if let Some(t) = &run.tls {
        if let (Some(v), Some(c)) = (&t.version, &t.cipher) {
            writeln!(
                out,
                "  tls       {v}, {c}{}",
                t.alpn
                    .as_ref()
                    .map(|a| format!(", ALPN {}", escape_str(a)))
                    .unwrap_or_default()
            )?;
        }
        for (i, cert) in t.certificates.iter().enumerate() {
            let role = if i == 0 { "cert" } else { "  issuer" };
            let days = (cert.not_after_unix - run.start.secs()).div_euclid(86_400);
            let expiry = if days < 0 {
                format!("EXPIRED {} days ago", -days)
            } else {
                format!("expires in {days} days")
            };
            writeln!(
                out,
                "  {role:<9} {} (issuer {}){}; {expiry}",
                escape_str(&cert.subject),
                escape_str(&cert.issuer),
                if cert.sans.is_empty() {
                    String::new()
                } else {
                    format!(", names {}", escape_str(&cert.sans.join(" ")))
                }
            )?;
        }
    }
    if let Some(h) = &run.http {
        if let Some(status) = h.status {
            writeln!(
                out,
                "  http      {} {} {} -> {status} {}, {} bytes{}",
                h.protocol,
                escape_str(&h.method),
                escape_str(&h.path),
                escape_str(h.reason.as_deref().unwrap_or("")),
                h.body_bytes,
                h.content_type
                    .as_ref()
                    .map(|c| format!(" ({})", escape_str(c)))
                    .unwrap_or_default()
            )?;
        }
    }
    writeln!(out)?;
    write_waterfall(out, run)?;
    writeln!(out)?;
    writeln!(out, "{}", sanitize(&run.verdict.summary))?;
    for f in &run.findings {
        write_finding(out, f)?;
    }
    if !run.evidence.is_empty() {
        writeln!(out, "evidence from the capture:")?;
        for e in &run.evidence {
            writeln!(
                out,
                "  {:<7} {:<24} {}",
                e.severity,
                escape_str(&e.kind),
                escape_str(&e.summary)
            )?;
            if !e.frames.is_empty() {
                writeln!(out, "          frames {}", frame_list(&e.frames))?;
            }
        }
    }
    Ok(())
}

fn write_waterfall<W: Write + ?Sized>(out: &mut W, run: &ProbeRun) -> io::Result<()> {
    let total = run.phases_ms.total.max(0.001);
    let scale = BAR_WIDTH / total;
    let mut offset = 0.0;
    for p in Phase::ALL {
        let label = p.as_str();
        match run.phases_ms.get(p) {
            Some(ms) => {
                let start = (offset * scale).round() as usize;
                let len = ((ms * scale).round() as usize).max(1);
                writeln!(
                    out,
                    "  {label:<9} {ms:>9.1} ms |{}{}",
                    " ".repeat(start),
                    "#".repeat(len)
                )?;
                offset += ms;
            }
            None if run.verdict.phase == Some(p) => {
                writeln!(
                    out,
                    "  {label:<9} {:>12} |{}x",
                    "failed",
                    " ".repeat((offset * scale).round() as usize)
                )?;
            }
            None => {}
        }
    }
    writeln!(out, "  {:<9} {:>9.1} ms", "total", run.phases_ms.total)
}

/// Writes the summary of repeated probes.
pub fn write_summary<W: Write + ?Sized>(out: &mut W, s: &Summary) -> io::Result<()> {
    writeln!(
        out,
        "{} probes, {} ok, {} failed",
        s.runs,
        s.ok,
        s.runs - s.ok
    )?;
    writeln!(
        out,
        "  {:<9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "phase", "min ms", "median", "p95", "max", "jitter", "failed"
    )?;
    let cell = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
    for p in &s.phases {
        if p.samples == 0 && p.failures == 0 {
            continue;
        }
        writeln!(
            out,
            "  {:<9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7.0}%",
            p.phase,
            cell(p.min),
            cell(p.median),
            cell(p.p95),
            cell(p.max),
            cell(p.jitter),
            p.failure_rate * 100.0
        )?;
    }
    if !s.findings.is_empty() {
        let kinds: Vec<String> = s
            .findings
            .iter()
            .map(|(k, n)| format!("{k} x{n}"))
            .collect();
        writeln!(out, "  findings: {}", kinds.join(", "))?;
    }
    Ok(())
}
