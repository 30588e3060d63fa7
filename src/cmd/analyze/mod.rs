//! `netsleuth analyze FILE... [FILTER]`: the main job. Reads captures, follows
//! every conversation, and reports findings with evidence, then a connection
//! table (text), or the same records as one JSON document or JSON lines.
//!
//! Memory stays bounded: records stream out as flows end (JSON lines; in the
//! JSON document the `connections` array is written as it grows and the
//! dns/tls/http records wait in temporary files, `spill.rs`); the text table
//! keeps only connections with findings (capped) and the busiest healthy ones.

use std::io::Write;

use serde::Serialize;

pub(crate) mod output;
mod progress;
mod spill;
mod writer;

use output::ReportOutput;
use progress::Progress;

use super::CommandError;
use crate::analysis::pipeline::{self, ReadConfig, ReadOutcome};
use crate::analysis::{held_for_memory, keys, Analyzer, AppCounts, Conclusion, Overflowed};
use crate::diagnose::capture::{CaptureDrops, CaptureQuality};
use crate::diagnose::group;
use crate::diagnose::{Finding, Severity};
use crate::expect::Expectations;
use crate::flow::table::{FlowConfig, FlowTableStats};
use crate::report::analysis_text::{
    write_connections, write_findings, write_groups, write_transactions, TextLimits,
};
use crate::report::html::{self, HtmlCollector};
use crate::report::zeek::{self, ZeekLogs};
use crate::source::filter::FrameFilter;

/// Output format of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnalyzeFormat {
    /// Findings and a connection table.
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// One JSON record per line, each with a `type`.
    Jsonl,
}

/// What `analyze` should do.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeConfig {
    /// Capture files, read one after the other (frame numbers continue).
    pub paths: Vec<String>,
    /// BPF filter.
    pub filter: String,
    /// Output format.
    pub format: AnalyzeFormat,
    /// Also emit one `tcp_event` record per flagged segment (JSON lines only).
    pub tcp_events: bool,
    /// Skip the application layer (DNS, TLS, HTTP): flow-level findings only.
    pub no_app: bool,
    /// Flow table settings.
    pub flow: FlowConfig,
    /// NSS key log files to decrypt TLS with (`--keylog`); secrets in pcapng
    /// Decryption Secrets Blocks are used too.
    pub keylogs: Vec<std::path::PathBuf>,
    /// `--expect` rules checked on every HTTP transaction in their scope.
    pub expect: Expectations,
    /// Settings of the TCP rules.
    pub tcp_rules: crate::diagnose::tcp::TcpRules,
    /// Text report: every story, transaction and connection kept, not the
    /// grouped summary with the worst few (`--all`).
    pub all: bool,
    /// `--memory` in bytes (0: the default): sets the findings held for
    /// stories (the flow caps are in `flow`).
    pub memory: usize,
    /// `--threads`: 1 runs everything on this thread; otherwise reading and
    /// the flow table run on a second one.
    pub threads: usize,
    /// Go goroutine dumps to join to the capture (`--goroutines`).
    pub goroutines: Vec<crate::goruntime::load::DumpSpec>,
    /// Go CPU profiles over the capture (`--profile`).
    pub profiles: Vec<crate::goruntime::load::DumpSpec>,
    /// Where to write the frames that prove the findings (`--evidence`).
    pub evidence: Option<std::path::PathBuf>,
    /// Which findings the evidence is for (`--evidence-for`; all when empty).
    pub evidence_for: Vec<crate::evidence::Scope>,
    /// Where to write Zeek's conn/dns/ssl/http/x509 logs (`--zeek-logs`).
    pub zeek_logs: Option<std::path::PathBuf>,
    /// Where to write the self-contained HTML report (`--html`).
    pub html: Option<std::path::PathBuf>,
}

/// The result, for the exit code.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOutcome {
    /// The worst severity found.
    pub worst: Option<Severity>,
    /// Findings count.
    pub findings: usize,
    /// Connections seen.
    pub connections: u64,
}

/// The summary record.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    files: &'a [String],
    dns_lookups: u64,
    tls_handshakes: u64,
    http_transactions: u64,
    frames: u64,
    connections: u64,
    findings: usize,
    /// Findings past the held limit: in the groups and the findings list,
    /// without a story (`overflow.rs`).
    findings_without_story: u64,
    errors: usize,
    warnings: usize,
    truncated_frames: u64,
    malformed_frames: u64,
    /// The capture's own counters, when a pcapng carried them.
    #[serde(skip_serializing_if = "Option::is_none")]
    capture_stats: Option<CaptureDrops>,
    flows_evicted: u64,
    syn_only_ended_early: u64,
    late_after_close: u64,
    flows_timed_out: u64,
    peak_open_flows: usize,
    icmp_matched: u64,
}

/// How many TLS connections the keys opened, and why the others stayed shut.
fn write_decryption<W: Write + ?Sized>(
    out: &mut W,
    decrypted: u64,
    not_decrypted: u64,
    undecrypted: &[(u64, String)],
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "DECRYPTION: {decrypted} of {} TLS connections decrypted",
        decrypted + not_decrypted
    )?;
    for (conn, why) in undecrypted {
        writeln!(out, "  conn {conn}: not decrypted: {why}")?;
    }
    if not_decrypted as usize > undecrypted.len() {
        writeln!(
            out,
            "  ... {} more not decrypted (see the tls records' decryption field in --jsonl)",
            not_decrypted as usize - undecrypted.len()
        )?;
    }
    Ok(())
}

/// Runs the analysis, writing the report to `out`; warnings about the input go to `status`.
pub fn run<W: Write + ?Sized>(
    config: &AnalyzeConfig,
    out: &mut W,
    status: &mut dyn Write,
) -> Result<AnalyzeOutcome, CommandError> {
    let filter = FrameFilter::new(&config.filter)?;
    let zeek_logs = match &config.zeek_logs {
        Some(dir) => Some(
            ZeekLogs::create(dir, &zeek::wall_clock_stamp())
                .map_err(|e| CommandError::Usage(e.to_string()))?,
        ),
        None => None,
    };
    if config.format == AnalyzeFormat::Json {
        out.write_all(b"{\"connections\":[\n")?;
    }
    let mut output = ReportOutput::new(config.format, config.tcp_events, config.all, &mut *out);
    output.zeek = zeek_logs;
    if config.html.is_some() {
        output.html = Some(HtmlCollector::default());
    }
    let mut analyzer = Analyzer::new(output);
    analyzer.app_enabled = !config.no_app;
    if let Some(k) = keys::load_keylogs(&config.keylogs, status)? {
        analyzer.set_keys(k);
    }
    // `capture --pprof` keeps its dumps beside the capture: join them too.
    let mut dumps = config.goroutines.clone();
    for path in &config.paths {
        let dir = crate::goruntime::fetch::sidecar_dir(std::path::Path::new(path));
        let found = crate::goruntime::fetch::sidecar_dumps(&dir);
        if !found.is_empty() {
            writeln!(
                status,
                "joining {} goroutine dumps from {}",
                found.len(),
                dir.display()
            )?;
            dumps.extend(found);
        }
    }
    analyzer.set_goroutines(load_goroutines(&dumps)?, load_profiles(&config.profiles)?);
    analyzer.set_http_keep(config.expect.needs());
    analyzer.expect = config.expect.clone();
    analyzer.tcp_rules = config.tcp_rules;
    analyzer.all = config.all;
    if config.memory > 0 {
        analyzer.findings_held = held_for_memory(config.memory);
    }
    if config.evidence.is_some() {
        if config.paths.iter().any(|p| p == "-") {
            return Err(CommandError::Usage(
                crate::evidence::EvidenceError::Stdin.to_string(),
            ));
        }
        analyzer.keep_spans();
    }
    // The HTML report's ladders read the capture again (not standard input).
    let reread = !config.paths.iter().any(|p| p == "-");
    if config.html.is_some() && reread {
        analyzer.keep_spans();
    }
    let progress = Progress::new(&config.paths);
    let read = pipeline::read_into(
        ReadConfig {
            paths: &config.paths,
            flow: config.flow,
            threads: config.threads,
        },
        filter,
        &mut analyzer,
        status,
        &|position, gzip| progress.set(position, gzip),
    );
    progress.finish();
    let ReadOutcome { quality, stats } = read?;
    let (conclusion, mut output) = analyzer.conclude(&quality);
    output.finish_records();
    if let Some(e) = output.error.take() {
        return Err(e.into());
    }
    if let Some(logs) = output.zeek.take() {
        logs.finish(&zeek::wall_clock_stamp())
            .map_err(|e| CommandError::Usage(e.to_string()))?;
    }
    let Conclusion {
        findings,
        stories,
        groups,
        overflowed,
        calls,
        counts,
        undecrypted,
        spans,
    } = conclusion;
    let mut rows = std::mem::take(&mut output.problems);
    let healthy = std::mem::take(&mut output.healthy);
    let http_rows = std::mem::take(&mut output.http_rows);
    let held = std::mem::take(&mut output.held);
    let overflow_json = std::mem::take(&mut output.overflow_json);
    let html = output.html.take();
    drop(output);
    let outcome = AnalyzeOutcome {
        worst: findings
            .iter()
            .map(|f| f.severity)
            .max()
            .max(overflowed.worst),
        findings: findings.len() + overflowed.findings as usize,
        connections: stats.connections,
    };
    let summary = summary(config, &quality, &stats, &findings, overflowed, counts);
    let counts_line = format!(
        "{} frames, {} connections, {} DNS lookups, {} TLS handshakes, {} HTTP transactions; {} findings ({} errors, {} warnings)",
        summary.frames,
        summary.connections,
        counts.dns,
        counts.tls,
        counts.http,
        summary.findings,
        summary.errors,
        summary.warnings
    );
    let mut notes = Vec::new();
    if stats.evicted > 0 {
        notes.push(format!(
            "note: {} connections were evicted: more than {} were open at once (the cap --memory sets); raise --memory or --max-flows for complete results",
            stats.evicted, config.flow.max_flows
        ));
    }
    if stats.syn_only_ended_early > 0 {
        notes.push(format!(
            "note: {} unanswered SYN-only flows were ended before their time-out: more than {} were open at once (a SYN flood or a scan); an answer after that is followed as a new connection; raise --memory to follow more",
            group::thousands(stats.syn_only_ended_early),
            group::thousands(config.flow.max_syn_only as u64)
        ));
    }
    match config.format {
        AnalyzeFormat::Text => {
            let limits = if config.all {
                TextLimits::ALL
            } else {
                TextLimits::SCREENS
            };
            write_groups(out, &groups, &stories, calls, limits)?;
            write_findings(out, &findings, &stories, calls, limits)?;
            write_transactions(out, &http_rows, counts.http, limits)?;
            if !config.keylogs.is_empty() || counts.decrypted + counts.not_decrypted > 0 {
                write_decryption(out, counts.decrypted, counts.not_decrypted, &undecrypted)?;
            }
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
            let mut healthy = healthy;
            healthy.sort_by_key(|(c, _)| c.id);
            rows.extend(healthy);
            write_connections(out, &rows, stats.connections, limits)?;
            writeln!(out, "\n{counts_line}")?;
            for note in &notes {
                writeln!(out, "{note}")?;
            }
        }
        AnalyzeFormat::Json => {
            out.write_all(b"\n]")?;
            held.write_arrays(out)?;
            out.write_all(b",\"findings\":")?;
            // The held findings in story order, then the overflowed ones.
            out.write_all(b"[")?;
            for (i, f) in findings.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, f).map_err(std::io::Error::from)?;
            }
            overflow_json.write_elements(out, !findings.is_empty())?;
            out.write_all(b"]")?;
            out.write_all(b",\"stories\":")?;
            serde_json::to_writer(&mut *out, &stories).map_err(std::io::Error::from)?;
            out.write_all(b",\"groups\":")?;
            serde_json::to_writer(&mut *out, &groups).map_err(std::io::Error::from)?;
            out.write_all(b",\"summary\":")?;
            serde_json::to_writer(&mut *out, &summary).map_err(std::io::Error::from)?;
            out.write_all(b"}\n")?;
        }
        AnalyzeFormat::Jsonl => {
            for f in &findings {
                write_tagged(out, "finding", f)?;
            }
            for st in &stories {
                write_tagged(out, "story", st)?;
            }
            for g in &groups {
                write_tagged(out, "group", g)?;
            }
            write_tagged(out, "summary", &summary)?;
        }
    }
    out.flush()?;
    if let Some(path) = &config.evidence {
        let stats = crate::evidence::write(
            &config.paths,
            &findings,
            &spans,
            &config.evidence_for,
            &config.keylogs,
            path,
        )
        .map_err(|e| CommandError::Usage(e.to_string()))?;
        writeln!(status, "{}", crate::evidence::describe(&stats, path))?;
    }
    if let (Some(path), Some(collected)) = (&config.html, html) {
        let conns = if reread {
            html::ladder_conns(&stories, &spans)
        } else {
            Vec::new()
        };
        let ladders = html::ladders(&config.paths, &findings, &spans, &conns)
            .map_err(|e| CommandError::Usage(e.to_string()))?;
        let drawn = ladders.len();
        let bytes = html::write(
            path,
            html::Inputs {
                files: &config.paths,
                findings: &findings,
                stories: &stories,
                groups: &groups,
                calls,
                counts: counts_line,
                notes,
                collected,
                ladders,
                ladder_note: (!reread).then(|| {
                    "no packet ladders: the capture came from standard input, which cannot be read twice".to_string()
                }),
            },
        )
        .map_err(|e| CommandError::Usage(e.to_string()))?;
        writeln!(
            status,
            "HTML report written to {} ({:.1} KB): {} failed calls shown, {} with their packets",
            path.display(),
            bytes as f64 / 1024.0,
            stories.len().min(html::MAX_SHOWN_STORIES),
            drawn
        )?;
    }
    Ok(outcome)
}

/// One JSON line with a `type` field first.
pub(crate) fn write_tagged<W: Write + ?Sized, T: Serialize>(
    out: &mut W,
    tag: &str,
    value: &T,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    write_tagged_into(&mut buf, tag, value)?;
    out.write_all(&buf)
}

/// Appends one JSON line with a `type` field first to `buf`. The record is
/// serialized once, right after `{"type":TAG`, and its own opening brace
/// becomes the comma: no copy, no `serde_json::Value` tree per record.
fn write_tagged_into<T: Serialize>(buf: &mut Vec<u8>, tag: &str, value: &T) -> std::io::Result<()> {
    buf.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut *buf, tag)?;
    let at = buf.len();
    serde_json::to_writer(&mut *buf, value)?;
    match buf.get(at..) {
        Some(b"{}") => {
            buf.truncate(at);
            buf.push(b'}');
        }
        Some([b'{', ..]) => buf[at] = b',',
        // Not an object: kept whole under `value`.
        _ => {
            let value = buf.split_off(at);
            buf.extend_from_slice(b",\"value\":");
            buf.extend_from_slice(&value);
            buf.push(b'}');
        }
    }
    buf.push(b'\n');
    Ok(())
}

fn summary<'a>(
    config: &'a AnalyzeConfig,
    q: &CaptureQuality,
    stats: &FlowTableStats,
    findings: &[Finding],
    overflowed: Overflowed,
    counts: AppCounts,
) -> Summary<'a> {
    Summary {
        dns_lookups: counts.dns,
        tls_handshakes: counts.tls,
        http_transactions: counts.http,
        files: &config.paths,
        frames: q.frames,
        connections: stats.connections,
        findings: findings.len() + overflowed.findings as usize,
        errors: findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
            + overflowed.errors as usize,
        warnings: findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count()
            + overflowed.warnings as usize,
        findings_without_story: overflowed.findings,
        truncated_frames: q.truncated,
        malformed_frames: q.malformed,
        capture_stats: (q.drops.interfaces > 0).then_some(q.drops),
        flows_evicted: stats.evicted,
        syn_only_ended_early: stats.syn_only_ended_early,
        late_after_close: stats.late_after_close,
        flows_timed_out: stats.timed_out,
        peak_open_flows: stats.peak_open,
        icmp_matched: stats.icmp_matched,
    }
}

/// Reads and classifies the `--goroutines` dumps; a dump that does not parse
/// or has no time stops the run with the file and the fix.
fn load_goroutines(
    specs: &[crate::goruntime::load::DumpSpec],
) -> Result<Vec<crate::diagnose::go::GoDump>, CommandError> {
    use crate::goruntime::{load, summary};
    specs
        .iter()
        .map(|spec| {
            let dump = load::load(spec).map_err(|e| CommandError::Usage(e.to_string()))?;
            let name = spec.path.display().to_string();
            let at = dump.taken_at.ok_or_else(|| {
                CommandError::Usage(format!(
                    "{name}: no time for this dump; give it as {name}@2026-12-03T10:15:00Z"
                ))
            })?;
            Ok(crate::diagnose::go::GoDump {
                groups: summary::summarize(&dump),
                format: dump.format,
                at,
                name,
            })
        })
        .collect()
}

/// Reads the `--profile` CPU profiles; one that is not a CPU profile or
/// cannot be placed in time stops the run with the fix.
fn load_profiles(
    specs: &[crate::goruntime::load::DumpSpec],
) -> Result<Vec<crate::diagnose::go::cpu::CpuView>, CommandError> {
    specs
        .iter()
        .map(|spec| {
            let name = spec.path.display().to_string();
            let profile = crate::goruntime::load::load_profile(&spec.path)
                .map_err(|e| CommandError::Usage(e.to_string()))?;
            crate::diagnose::go::cpu::CpuView::of(&name, &profile, spec.at)
                .map_err(CommandError::Usage)
        })
        .collect()
}
