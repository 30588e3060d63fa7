//! `netsleuth watch -i IFACE [FILTER]`: live diagnosis. Packets from a live
//! capture go through the same [`Analyzer`] as `analyze`'s; each failed or
//! slow call is printed as soon as its rules ran (its story's headline and
//! its findings), a few per kind and server in each ten seconds of packet
//! time, the rest counted. Ctrl-C or SIGTERM stops cleanly: packets still
//! queued in the kernel are read, every open flow is ended (and diagnosed),
//! and the grouped summary and the capture's drop counters are printed.
//!
//! `--jsonl FILE` (or `-` for stdout, instead of the text) streams the
//! records `analyze --jsonl` writes, each call's findings as its rules run,
//! and the groups at the end; the file rotates with `-C`/`-G`/`-W` like
//! `capture`'s and SIGHUP reopens it (`report::rotating`).
//!
//! On a terminal, a status line on stderr (packets, rate, open flows, kernel
//! drops, findings) is redrawn about once a second and erased before each
//! finding is printed (`status.rs`).
//!
//! `--evidence-dir DIR` keeps each error finding's packets as a pcapng
//! (`evidence.rs`).
//!
//! `--metrics ADDR` serves the Prometheus families of [`crate::metrics`] on
//! `/metrics` (and `/healthz`), filled from the same records.
//!
//! Time-outs run on packet time, as in `analyze`; on a quiet interface the
//! clock moves on its own (`pipeline::read_live`), so an unanswered lookup is
//! told at its time-out, not at the next packet.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::analyze::output::ReportOutput;
use super::analyze::{write_tagged, AnalyzeFormat};
use super::CommandError;
use crate::analysis::pipeline::{read_live, LiveHooks, LiveTick};
use crate::analysis::{held_for_memory, keys, AnalysisOutput, Analyzer};
use crate::base::escape::sanitize;
use crate::base::Side;
use crate::base::{rfc3339, Timestamp};
use crate::diagnose::story;
use crate::diagnose::tcp::TcpRules;
use crate::diagnose::{Finding, Severity};
use crate::expect::Expectations;
use crate::flow::conn::ConnRecord;
use crate::flow::events::TcpEvents;
use crate::flow::table::FlowConfig;
use crate::metrics::{CaptureCounts, CaptureMeter, Recorder};
use crate::report::analysis_text::{
    severity_label, write_finding, write_group_summary, TextLimits,
};
use crate::report::app_json::HttpJson;
use crate::report::rotating::RotatingFile;
use crate::source::live::{LiveOptions, LiveSource};
use crate::source::writer::Rotation;
use crate::source::Frame;

mod evidence;
mod serving;
mod status;

use evidence::Evidence;
pub use evidence::EvidenceConfig;
use serving::{serve_metrics, Serving};
use status::StatusLine;

/// Calls printed per kind and server in each [`WINDOW_NS`] of packet time.
const LINES_PER_WINDOW: u32 = 3;
/// The rate-limit window.
const WINDOW_NS: i64 = 10_000_000_000;
/// Kind-and-server keys tracked for rate limiting; past it the table starts
/// over (a scan makes a key per server).
const MAX_KEYS: usize = 4096;

/// What `watch` should do.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Interface, filter, snap length.
    pub live: LiveOptions,
    /// Key log files to decrypt TLS with.
    pub keylogs: Vec<std::path::PathBuf>,
    /// `--expect` rules.
    pub expect: Expectations,
    /// Settings of the TCP rules.
    pub tcp_rules: TcpRules,
    /// Flow table settings.
    pub flow: FlowConfig,
    /// `--memory` in bytes (0: the default).
    pub memory: usize,
    /// `--jsonl`: where the JSON lines go (`-`: stdout, instead of the text).
    pub jsonl: Option<std::path::PathBuf>,
    /// `-C`/`-G`/`-W`: how the `--jsonl` file rotates (SIGHUP reopens it).
    pub jsonl_rotation: Rotation,
    /// `--metrics`: where to serve `/metrics` and `/healthz`.
    pub metrics: Option<SocketAddr>,
    /// `--metrics-servers`: servers named in labels before `other`.
    pub metrics_servers: usize,
    /// Keep a status line on stderr (when it is a terminal).
    pub status_line: bool,
    /// `--evidence-dir`: keep the packets of error findings.
    pub evidence: Option<EvidenceConfig>,
}

/// What was seen, for the exit code.
#[derive(Debug, Clone, Default)]
pub struct WatchOutcome {
    /// The worst severity found.
    pub worst: Option<Severity>,
    /// Findings.
    pub findings: u64,
}

/// One kind-and-server key's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Timestamp,
    printed: u32,
    suppressed: u64,
}

/// Prints calls with findings as they come, rate-limited.
struct LiveOutput<'w, W: Write + ?Sized> {
    out: &'w mut W,
    /// The status line to clear before printing, when there is one.
    status: Option<&'w StatusLine>,
    windows: HashMap<(&'static str, String), Window>,
    connections: u64,
    http: u64,
    error: Option<std::io::Error>,
}

impl<W: Write + ?Sized> LiveOutput<'_, W> {
    /// True when this call's line fits its key's window (and counts it).
    fn admit(&mut self, f: &Finding) -> bool {
        let now = f.time.unwrap_or_default();
        let server = f.server.map(|s| s.to_string()).unwrap_or_default();
        if self.windows.len() >= MAX_KEYS && !self.windows.contains_key(&(f.kind, server.clone())) {
            self.windows.clear();
        }
        let w = self.windows.entry((f.kind, server)).or_insert(Window {
            start: now,
            printed: 0,
            suppressed: 0,
        });
        if now.since(w.start) >= WINDOW_NS {
            let (start, suppressed) = (w.start, w.suppressed);
            *w = Window {
                start: now,
                printed: 0,
                suppressed: 0,
            };
            if suppressed > 0 {
                let server = f.server.map(|s| s.to_string()).unwrap_or_default();
                let r = writeln!(
                    self.out,
                    "  ... {suppressed} more {} at {server} since {} (not shown)",
                    f.kind,
                    rfc3339(start)
                );
                self.keep(r);
            }
            return self.admit(f);
        }
        if w.printed < LINES_PER_WINDOW {
            w.printed += 1;
            true
        } else {
            w.suppressed += 1;
            false
        }
    }

    fn keep(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }

    fn print_call(&mut self, batch: &[Finding], target: Option<&str>) -> std::io::Result<()> {
        if let Some(s) = self.status {
            s.clear();
        }
        let mut findings = batch.to_vec();
        let targets: HashMap<u64, String> = findings
            .iter()
            .find_map(|f| f.conn)
            .zip(target)
            .map(|(c, t)| (c, t.to_string()))
            .into_iter()
            .collect();
        let stories = story::build(&mut findings, &targets);
        let when = findings
            .iter()
            .find_map(|f| f.time)
            .map(rfc3339)
            .unwrap_or_default();
        for s in &stories {
            writeln!(
                self.out,
                "{when} {} {}",
                severity_label(s.severity),
                sanitize(&s.headline)
            )?;
            for f in findings.get(s.first..s.first + s.len).unwrap_or_default() {
                write_finding(self.out, f)?;
            }
        }
        self.out.flush()
    }
}

/// The text lines, the JSON lines, or both.
struct WatchOutput<'w, 'j, W: Write + ?Sized> {
    text: LiveOutput<'w, W>,
    /// Print the text lines (not when the JSON lines go to stdout).
    show_text: bool,
    json: Option<ReportOutput<'j, dyn Write + 'j>>,
    /// `--metrics`: the families the records count into.
    metrics: Option<Recorder>,
    /// `--evidence-dir`: where error findings ask for their packets.
    evidence: Option<evidence::Requests>,
}

impl<W: Write + ?Sized> AnalysisOutput for WatchOutput<'_, '_, W> {
    fn opened(&mut self, conn: u64, server: SocketAddr) {
        if let Some(m) = &mut self.metrics {
            m.opened(conn, server);
        }
    }

    fn handshake_rtt(&mut self, conn: u64, rtt_ns: i64) {
        if let Some(m) = &mut self.metrics {
            m.handshake_rtt(conn, rtt_ns);
        }
    }

    fn tcp_events(
        &mut self,
        conn: u64,
        _frame: u64,
        _ts: Timestamp,
        side: Side,
        events: TcpEvents,
    ) {
        if let Some(m) = &mut self.metrics {
            m.tcp_events(conn, side, events);
        }
    }

    fn connection(&mut self, record: ConnRecord, found: &[Finding]) {
        self.text.connections += 1;
        if let Some(m) = &mut self.metrics {
            m.connection(&record, found);
        }
        if let Some(json) = &mut self.json {
            json.connection(record, found);
        }
    }

    fn dns(&mut self, record: &crate::app::dns::DnsRecord) {
        if let Some(m) = &mut self.metrics {
            m.dns(record);
        }
        if let Some(json) = &mut self.json {
            json.dns(record);
        }
    }

    fn tls(&mut self, record: &crate::app::tls::TlsRecord) {
        if let Some(m) = &mut self.metrics {
            m.tls(record);
        }
        if let Some(json) = &mut self.json {
            json.tls(record);
        }
    }

    fn http(&mut self, row: HttpJson) {
        self.text.http += 1;
        if let Some(m) = &mut self.metrics {
            m.http(&row);
        }
        if let Some(json) = &mut self.json {
            json.http(row);
        }
    }

    fn findings(&mut self, batch: &[Finding], target: Option<&str>) {
        if let Some(s) = self.text.status {
            s.add_findings(batch.len());
        }
        if let Some(r) = &self.evidence {
            evidence::request(r, batch);
        }
        if let Some(m) = &mut self.metrics {
            m.findings(batch, target);
        }
        if self.show_text {
            self.text.findings(batch, target);
        }
        if let Some(json) = &mut self.json {
            json.findings(batch, target);
        }
    }

    fn overflowed_findings(&mut self, findings: Vec<Finding>) {
        // Past the memory kept for stories, still counted.
        if let Some(s) = self.text.status {
            s.add_findings(findings.len());
        }
        if let Some(m) = &mut self.metrics {
            m.findings(&findings, None);
        }
    }
}

impl<W: Write + ?Sized> LiveOutput<'_, W> {
    /// Prints one call's findings, when its kind and server have room.
    fn findings(&mut self, batch: &[Finding], target: Option<&str>) {
        if self.error.is_some() {
            return;
        }
        let Some(lead) = batch.iter().max_by_key(|f| f.severity) else {
            return;
        };
        if lead.severity < Severity::Warning || !self.admit(lead) {
            return;
        }
        let r = self.print_call(batch, target);
        self.keep(r);
    }
}

/// Watches until `stop` is set (or the capture ends), printing to `out`;
/// warnings go to `status`.
pub fn run(
    config: &WatchConfig,
    stop: Arc<AtomicBool>,
    out: &mut dyn Write,
    status: &mut dyn Write,
) -> Result<WatchOutcome, CommandError> {
    let to_stdout = config.jsonl.as_deref() == Some(std::path::Path::new("-"));
    if to_stdout && config.jsonl_rotation != Rotation::default() {
        return Err(CommandError::Usage(
            "-C, -G and -W rotate a --jsonl FILE; with --jsonl - there is no file to rotate".into(),
        ));
    }
    let mut source = LiveSource::open(&config.live, stop)?;
    let serving = serve_metrics(config, status)?;
    writeln!(
        status,
        "netsleuth: watching {}{}; Ctrl-C stops and prints the summary",
        config.live.interface,
        config
            .live
            .filter
            .as_deref()
            .map(|f| format!(" ({})", sanitize(f)))
            .unwrap_or_default()
    )?;
    let mut file = match config.jsonl.as_deref() {
        Some(path) if !to_stdout => {
            // SIGHUP (logrotate's signal) reopens the file by its name.
            let reopen = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reopen))?;
            Some(
                RotatingFile::create(path, config.jsonl_rotation, Some(reopen)).map_err(|e| {
                    CommandError::Usage(format!(
                        "--jsonl {}: {e} (give a writable file, or - for stdout)",
                        path.display()
                    ))
                })?,
            )
        }
        _ => None,
    };
    // With `--jsonl -` the JSON lines have stdout; the text goes nowhere
    // while watching and the summary to `status`.
    let mut no_text = std::io::sink();
    let (text_out, json_out): (&mut dyn Write, Option<&mut dyn Write>) = match &mut file {
        Some(f) => (&mut *out, Some(f)),
        None if to_stdout => (&mut no_text, Some(&mut *out)),
        None => (&mut *out, None),
    };
    let status_line = StatusLine::new();
    let status_line = config.status_line.then_some(&status_line);
    let evidence = match &config.evidence {
        Some(c) => Some(
            Evidence::new(c.clone(), source.link_type(), config.live.snaplen).map_err(|e| {
                CommandError::Usage(format!(
                    "--evidence-dir {}: {e} (give a directory you can write to)",
                    c.dir.display()
                ))
            })?,
        ),
        None => None,
    };
    let output = WatchOutput {
        evidence: evidence.as_ref().map(|e| Rc::clone(&e.requests)),
        text: LiveOutput {
            out: text_out,
            status: status_line,
            windows: HashMap::new(),
            connections: 0,
            http: 0,
            error: None,
        },
        show_text: !to_stdout,
        json: json_out.map(|w| {
            let mut json = ReportOutput::new(AnalyzeFormat::Jsonl, false, false, w);
            json.live = true;
            json
        }),
        metrics: serving
            .as_ref()
            .map(|s| Recorder::new(Arc::clone(&s.metrics), config.metrics_servers)),
    };
    let meter = serving
        .as_ref()
        .map(|s| CaptureMeter::new(Arc::clone(&s.metrics)));
    let mut hooks = Hooks {
        serving: serving.as_ref(),
        status_line,
        meter,
        evidence,
    };
    let mut analyzer = Analyzer::new(output);
    analyzer.live = true;
    if let Some(k) = keys::load_keylogs(&config.keylogs, status)? {
        analyzer.set_keys(k);
    }
    analyzer.set_http_keep(config.expect.needs());
    analyzer.expect = config.expect.clone();
    analyzer.tcp_rules = config.tcp_rules;
    if config.memory > 0 {
        analyzer.findings_held = held_for_memory(config.memory);
    }
    let read = read_live(&mut source, config.flow, &mut analyzer, &mut hooks);
    if let Some(s) = status_line {
        s.clear();
    }
    let read = read?;
    let mut evidence = hooks.evidence.take();
    let capture = source.stats()?;
    let (conclusion, output) = analyzer.conclude(&read.quality);
    let WatchOutput { text, json, .. } = output;
    if let Some(e) = text.error {
        return Err(e.into());
    }
    let (connections, http) = (text.connections, text.http);
    if let Some(mut json) = json {
        json.finish_records();
        if let Some(e) = json.error.take() {
            return Err(e.into());
        }
        drop(json);
        let sink: &mut dyn Write = match &mut file {
            Some(f) => f,
            None => &mut *out,
        };
        for g in &conclusion.groups {
            write_tagged(sink, "group", g)?;
        }
        sink.flush()?;
    }
    let out: &mut dyn Write = if to_stdout { status } else { out };
    writeln!(out)?;
    if !conclusion.groups.is_empty() {
        write_group_summary(
            out,
            &conclusion.groups,
            conclusion.calls,
            TextLimits::SCREENS,
        )?;
    }
    writeln!(
        out,
        "{} packets, {connections} connections, {} DNS lookups, {} TLS handshakes, {http} HTTP transactions; {} findings",
        read.quality.frames,
        conclusion.counts.dns,
        conclusion.counts.tls,
        conclusion.total_findings()
    )?;
    writeln!(
        out,
        "capture: the kernel counted {} packets, dropped {} (buffer full), the interface dropped {}",
        capture.received, capture.dropped_by_kernel, capture.dropped_by_interface
    )?;
    if capture.dropped_by_kernel > 0 {
        writeln!(
            out,
            "note: the kernel dropped packets: findings about loss may be the capture's; raise -B or narrow the filter"
        )?;
    }
    if let Some(e) = &mut evidence {
        e.finish(out)?;
    }
    out.flush()?;
    Ok(WatchOutcome {
        worst: conclusion.worst(),
        findings: conclusion.total_findings(),
    })
}

/// What the live loop drives besides the analysis: the health beat, the
/// status line, the capture metrics and the evidence ring.
struct Hooks<'a> {
    serving: Option<&'a Serving>,
    status_line: Option<&'a StatusLine>,
    meter: Option<CaptureMeter>,
    evidence: Option<Evidence>,
}

impl LiveHooks for Hooks<'_> {
    fn frame(&mut self, frame: &Frame<'_>) {
        if let Some(e) = &mut self.evidence {
            e.frame(frame);
        }
    }

    fn after_frame(&mut self) {
        if let Some(e) = &mut self.evidence {
            e.settle();
        }
    }

    fn tick(&mut self, tick: &LiveTick) {
        if let Some(s) = self.serving {
            s.beat();
        }
        if let Some(s) = self.status_line {
            s.draw(tick);
        }
        if let Some(m) = &mut self.meter {
            m.update(CaptureCounts {
                packets: tick.frames,
                kernel_dropped: tick.capture.map_or(0, |c| c.dropped_by_kernel),
                interface_dropped: tick.capture.map_or(0, |c| c.dropped_by_interface),
                flows_open: tick.open_flows,
            });
        }
        // Findings made on a quiet wire (time-outs) get their files too.
        if let Some(e) = &mut self.evidence {
            e.settle();
        }
    }
}
