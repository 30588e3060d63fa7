//! `netsleuth analyze FILE... [FILTER]`: the main job. Reads captures, follows
//! every conversation, and reports findings with evidence, then a connection
//! table (text), or the same records as one JSON document or JSON lines.
//!
//! Memory stays bounded: records stream out as flows end (JSON lines, and the
//! `connections` array of the JSON document is written as it grows); the text
//! table keeps only connections with findings (capped) and the busiest healthy ones.

use std::io::Write;

use serde::Serialize;

use super::CommandError;
use crate::decode::{self, ProblemKind};
use crate::diagnose::capture::{diagnose as diagnose_capture, CaptureQuality};
use crate::diagnose::tcp::diagnose as diagnose_tcp;
use crate::diagnose::{Finding, Severity};
use crate::flow::conn::ConnRecord;
use crate::flow::events::TcpEvents;
use crate::flow::table::{FlowConfig, FlowSink, FlowTable, FlowTableStats};
use crate::flow::Side;
use crate::report::analysis_text::{sort_findings, write_connections, write_findings};
use crate::report::conn_json::ConnJson;
use crate::source::file::FileSource;
use crate::source::filter::FrameFilter;
use crate::source::{FrameSource, SourceError};

/// Frames between progress updates (an update costs far more than a frame).
const PROGRESS_EVERY: u64 = 8192;

/// A progress bar on stderr, shown only when stderr is a terminal.
struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(paths: &[String]) -> Progress {
        // The total is the size on disk; for gzip input the position counts
        // decompressed bytes, so the bar becomes a byte counter there.
        let total: u64 = paths
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} analyzing {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}, eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress { bar }
    }

    fn position(&self) -> u64 {
        self.bar.position()
    }

    fn set(&self, position: u64, gzip: bool) {
        if gzip && self.bar.length().is_some() {
            self.bar.unset_length();
        }
        self.bar.set_position(position);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Connections with findings kept for the text table.
const PROBLEM_ROWS: usize = 200;
/// Healthy connections kept for the text table (the busiest).
const HEALTHY_ROWS: usize = 20;

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
    /// Flow table settings.
    pub flow: FlowConfig,
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
    frames: u64,
    connections: u64,
    findings: usize,
    errors: usize,
    warnings: usize,
    truncated_frames: u64,
    malformed_frames: u64,
    flows_evicted: u64,
    flows_timed_out: u64,
    peak_open_flows: usize,
    icmp_matched: u64,
}

struct Collector<'w, W: Write + ?Sized> {
    format: AnalyzeFormat,
    tcp_events: bool,
    out: &'w mut W,
    findings: Vec<Finding>,
    problems: Vec<(ConnRecord, Option<Severity>)>,
    healthy: Vec<(ConnRecord, Option<Severity>)>,
    connections_written: u64,
    error: Option<std::io::Error>,
}

impl<W: Write + ?Sized> Collector<'_, W> {
    fn write_line<T: Serialize>(&mut self, tag: &str, value: &T) {
        if self.error.is_some() {
            return;
        }
        let result = (|| -> std::io::Result<()> {
            match self.format {
                AnalyzeFormat::Jsonl => {
                    let mut v = serde_json::to_value(value)?;
                    if let serde_json::Value::Object(map) = &mut v {
                        map.insert("type".into(), tag.into());
                    }
                    serde_json::to_writer(&mut *self.out, &v)?;
                    self.out.write_all(b"\n")
                }
                AnalyzeFormat::Json => {
                    if self.connections_written > 0 {
                        self.out.write_all(b",\n")?;
                    }
                    serde_json::to_writer(&mut *self.out, value)?;
                    Ok(())
                }
                AnalyzeFormat::Text => Ok(()),
            }
        })();
        if let Err(e) = result {
            self.error = Some(e);
        }
    }
}

impl<W: Write + ?Sized> FlowSink for Collector<'_, W> {
    fn tcp_events(&mut self, conn: u64, frame: u64, side: Side, events: TcpEvents) {
        if !self.tcp_events || self.format != AnalyzeFormat::Jsonl {
            return;
        }
        for kind in events.iter() {
            #[derive(Serialize)]
            struct Ev {
                conn: u64,
                frame: u64,
                side: &'static str,
                kind: &'static str,
            }
            self.write_line(
                "tcp_event",
                &Ev {
                    conn,
                    frame,
                    side: side.as_str(),
                    kind: kind.as_str(),
                },
            );
        }
    }

    fn connection(&mut self, record: ConnRecord) {
        let found = diagnose_tcp(&record);
        let worst = found.iter().map(|f| f.severity).max();
        if self.format != AnalyzeFormat::Text {
            self.write_line("connection", &ConnJson::new(&record));
            self.connections_written += 1;
        } else if worst.is_some_and(|w| w >= Severity::Warning) {
            if self.problems.len() < PROBLEM_ROWS {
                self.problems.push((record, worst));
            }
        } else {
            let total = |c: &ConnRecord| c.client_stats.bytes + c.server_stats.bytes;
            self.healthy.push((record, worst));
            if self.healthy.len() > HEALTHY_ROWS {
                // Keep the busiest; ties keep the earlier connection.
                let smallest = self
                    .healthy
                    .iter()
                    .enumerate()
                    .min_by_key(|(i, (c, _))| (total(c), std::cmp::Reverse(*i)))
                    .map(|(i, _)| i);
                if let Some(i) = smallest {
                    self.healthy.remove(i);
                }
            }
        }
        self.findings.extend(found);
    }
}

/// Runs the analysis, writing the report to `out`; warnings about the input go to `status`.
pub fn run<W: Write + ?Sized>(
    config: &AnalyzeConfig,
    out: &mut W,
    status: &mut dyn Write,
) -> Result<AnalyzeOutcome, CommandError> {
    let mut filter = FrameFilter::new(&config.filter)?;
    let mut table = FlowTable::new(config.flow);
    let mut quality = CaptureQuality::default();
    let mut frame_offset = 0u64;
    if config.format == AnalyzeFormat::Json {
        out.write_all(b"{\"connections\":[\n")?;
    }
    let mut sink = Collector {
        format: config.format,
        tcp_events: config.tcp_events,
        out: &mut *out,
        findings: Vec::new(),
        problems: Vec::new(),
        healthy: Vec::new(),
        connections_written: 0,
        error: None,
    };
    let progress = Progress::new(&config.paths);
    for path in &config.paths {
        let mut source = FileSource::open(path)?;
        let mut last_number = 0;
        let file_start = progress.position();
        loop {
            if last_number % PROGRESS_EVERY == 0 {
                progress.set(file_start + source.bytes_consumed(), source.is_gzip());
            }
            let mut frame = match source.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e @ SourceError::Malformed { .. }) if last_number > 0 => {
                    writeln!(status, "netsleuth: warning: {e}")?;
                    quality.input_cut = Some(e.to_string());
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            last_number = frame.number;
            frame.number += frame_offset;
            quality.frames += 1;
            if let Some(f) = filter.as_mut() {
                if !f.matches(&frame)? {
                    continue;
                }
            }
            if frame.is_truncated() {
                quality.truncated(frame.number);
            }
            let packet = decode::decode(frame.link, frame.data);
            if let Some(p) = &packet.problem {
                // Snap-length cuts are counted above; this is for broken headers.
                if p.kind == ProblemKind::Malformed || !frame.is_truncated() {
                    quality.malformed(frame.number, &p.detail);
                }
            }
            table.on_packet(&frame, &packet, &mut sink);
        }
        frame_offset += last_number;
        progress.set(file_start + source.bytes_consumed(), source.is_gzip());
    }
    progress.finish();
    table.finish(&mut sink);
    if let Some(e) = sink.error.take() {
        return Err(e.into());
    }
    let stats = table.stats();
    let mut findings = std::mem::take(&mut sink.findings);
    findings.extend(diagnose_capture(&quality));
    sort_findings(&mut findings);
    let mut rows = std::mem::take(&mut sink.problems);
    let healthy = std::mem::take(&mut sink.healthy);
    drop(sink);
    let outcome = AnalyzeOutcome {
        worst: findings.iter().map(|f| f.severity).max(),
        findings: findings.len(),
        connections: stats.connections,
    };
    let summary = summary(config, &quality, &stats, &findings);
    match config.format {
        AnalyzeFormat::Text => {
            write_findings(out, &findings)?;
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
            let mut healthy = healthy;
            healthy.sort_by_key(|(c, _)| c.id);
            rows.extend(healthy);
            write_connections(out, &rows, stats.connections)?;
            writeln!(
                out,
                "\n{} frames, {} connections, {} findings ({} errors, {} warnings)",
                summary.frames,
                summary.connections,
                summary.findings,
                summary.errors,
                summary.warnings
            )?;
            if stats.evicted > 0 {
                writeln!(
                    out,
                    "note: {} connections were evicted by --max-flows {}; raise it for complete results",
                    stats.evicted, config.flow.max_flows
                )?;
            }
        }
        AnalyzeFormat::Json => {
            out.write_all(b"\n],\"findings\":")?;
            serde_json::to_writer(&mut *out, &findings).map_err(std::io::Error::from)?;
            out.write_all(b",\"summary\":")?;
            serde_json::to_writer(&mut *out, &summary).map_err(std::io::Error::from)?;
            out.write_all(b"}\n")?;
        }
        AnalyzeFormat::Jsonl => {
            for f in &findings {
                let mut v = serde_json::to_value(f).map_err(std::io::Error::from)?;
                if let serde_json::Value::Object(map) = &mut v {
                    map.insert("type".into(), "finding".into());
                }
                serde_json::to_writer(&mut *out, &v).map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
            }
            let mut v = serde_json::to_value(&summary).map_err(std::io::Error::from)?;
            if let serde_json::Value::Object(map) = &mut v {
                map.insert("type".into(), "summary".into());
            }
            serde_json::to_writer(&mut *out, &v).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(outcome)
}

fn summary<'a>(
    config: &'a AnalyzeConfig,
    q: &CaptureQuality,
    stats: &FlowTableStats,
    findings: &[Finding],
) -> Summary<'a> {
    Summary {
        files: &config.paths,
        frames: q.frames,
        connections: stats.connections,
        findings: findings.len(),
        errors: findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        warnings: findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count(),
        truncated_frames: q.truncated,
        malformed_frames: q.malformed,
        flows_evicted: stats.evicted,
        flows_timed_out: stats.timed_out,
        peak_open_flows: stats.peak_open,
        icmp_matched: stats.icmp_matched,
    }
}
