//! `netsleuth probe URL`: run the active check once or `-n` times, print the
//! waterfall and verdict (or JSON), and say whether it failed.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::path::{Path, PathBuf};

use super::analyze::{self, AnalyzeConfig, AnalyzeFormat};
use super::CommandError;
use crate::diagnose::Severity;
use crate::probe::stats::Summary;
use crate::probe::Evidence;
use crate::probe::{self, report, ProbeConfig, ProbeRun, Prober};
use crate::source::live::LiveOptions;
use crate::source::recorder::Recorder;
use crate::source::SourceError;

/// How the probe command runs.
#[derive(Debug, Clone)]
pub struct ProbeCommand {
    /// The probe itself.
    pub probe: ProbeConfig,
    /// How many probes.
    pub count: u32,
    /// Pause between probes.
    pub interval: Duration,
    /// Print JSON instead of text.
    pub json: bool,
    /// Record the probe's own packets here and attach what they show.
    pub capture: Option<PathBuf>,
}

/// What the runs found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// The worst finding severity of any run.
    pub worst: Option<Severity>,
    /// Some run's verdict failed.
    pub failed: bool,
}

/// Runs the probes; `stop` (Ctrl-C) ends a repetition early, keeping what ran.
pub fn run(
    cmd: &ProbeCommand,
    stop: Arc<AtomicBool>,
    out: &mut dyn Write,
    status: &mut dyn Write,
) -> Result<ProbeOutcome, CommandError> {
    let prober = Prober::new(cmd.probe.clone()).map_err(CommandError::Probe)?;
    let count = cmd.count.max(1);
    let recorder = match &cmd.capture {
        Some(path) => start_capture(&prober, &cmd.probe, path, status)?,
        None => None,
    };
    let live = std::io::stderr().is_terminal() && count > 1;
    let runs = probe::block_on(async {
        let mut runs: Vec<ProbeRun> = Vec::new();
        for i in 0..count {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if i > 0 {
                interruptible_sleep(cmd.interval, &stop).await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            let run = tokio::select! {
                run = prober.run_once() => run,
                _ = wait_for(&stop) => break,
            };
            if count > 1 {
                let line = format!(
                    "probe {}/{count}: {} in {:.1} ms",
                    i + 1,
                    if run.verdict.ok {
                        "ok"
                    } else {
                        run.verdict.phase.map_or("failed", |p| p.as_str())
                    },
                    run.phases_ms.total
                );
                if live {
                    let _ = write!(status, "\r\x1b[K{line}");
                    let _ = status.flush();
                } else if !cmd.json {
                    let _ = writeln!(status, "{line}");
                }
            }
            runs.push(run);
        }
        if live {
            let _ = writeln!(status);
        }
        runs
    })
    .map_err(CommandError::Probe)?;
    if stop.load(Ordering::Relaxed) {
        let _ = writeln!(status, "stopped after {} of {count} probes", runs.len());
    }
    let mut runs = runs;
    if let Some(recorder) = recorder {
        attach_evidence(recorder, &mut runs, status)?;
    }
    write(cmd, &runs, out)?;
    Ok(ProbeOutcome {
        worst: runs
            .iter()
            .flat_map(|r| &r.findings)
            .map(|f| f.severity)
            .max(),
        failed: runs.iter().any(|r| !r.verdict.ok),
    })
}

fn write(cmd: &ProbeCommand, runs: &[ProbeRun], out: &mut dyn Write) -> Result<(), CommandError> {
    let summary = (runs.len() > 1 || cmd.count > 1).then(|| Summary::of(runs));
    if cmd.json {
        let value = match (&summary, runs) {
            (None, [one]) => serde_json::to_value(one),
            _ => serde_json::to_value(serde_json::json!({ "runs": runs, "summary": summary })),
        }
        .map_err(|e| CommandError::Output(std::io::Error::other(e)))?;
        serde_json::to_writer_pretty(&mut *out, &value)
            .map_err(|e| CommandError::Output(std::io::Error::other(e)))?;
        writeln!(out)?;
        return Ok(());
    }
    // The last run in full (the first failing one when some failed), then the table.
    let shown = runs.iter().find(|r| !r.verdict.ok).or(runs.last());
    if let Some(run) = shown {
        if runs.len() > 1 {
            writeln!(
                out,
                "{} run:",
                if run.verdict.ok {
                    "last"
                } else {
                    "first failing"
                }
            )?;
        }
        report::write_run(out, run)?;
    }
    if let Some(s) = &summary {
        writeln!(out)?;
        report::write_summary(out, s)?;
    }
    Ok(())
}

/// Starts recording the probe's traffic: the target's TCP port and DNS. Without
/// capture privilege the probe runs anyway, and says so.
fn start_capture(
    prober: &Prober,
    config: &probe::ProbeConfig,
    path: &Path,
    status: &mut dyn Write,
) -> Result<Option<Recorder>, CommandError> {
    let target = prober.target();
    let mut filter = format!("tcp port {} or port 53", target.port);
    if let Some(server) = config.resolver.filter(|s| s.port() != 53) {
        filter.push_str(&format!(" or port {}", server.port()));
    }
    // ICMP errors about the probe's packets are evidence too.
    filter.push_str(" or icmp or icmp6");
    // A loopback target is captured on lo: on `any`, libpcap drops one copy
    // of each loopback packet to undo the kernel's duplicates, and under load
    // that has lost packets of ours (a missing TLS record hides a response).
    let loopback = target.ip.is_some_and(|ip| ip.is_loopback()) || target.host == "localhost";
    let options = LiveOptions {
        interface: if loopback { "lo" } else { "any" }.into(),
        filter: Some(filter),
        ..LiveOptions::default()
    };
    match Recorder::start(options, path) {
        Ok(r) => Ok(Some(r)),
        Err(e @ (SourceError::Permission { .. } | SourceError::NoSuchInterface { .. })) => {
            writeln!(
                status,
                "netsleuth: warning: --capture skipped: {e}; probing without a capture"
            )?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Stops the capture, analyzes the runs' own packets in it, and attaches each
/// passive finding to the run whose ports it concerns.
fn attach_evidence(
    recorder: Recorder,
    runs: &mut [ProbeRun],
    status: &mut dyn Write,
) -> Result<(), CommandError> {
    let path = recorder.path().to_path_buf();
    let packets = recorder.finish()?;
    writeln!(status, "captured {packets} packets into {}", path.display())?;
    let mut terms: Vec<String> = Vec::new();
    for run in runs.iter() {
        let (tcp, _) = run.local_ports();
        terms.extend(tcp.iter().map(|p| format!("tcp port {p}")));
        for q in &run.dns.queries {
            for s in &q.servers_tried {
                let term = format!("(host {} and port {})", s.ip(), s.port());
                if !terms.contains(&term) {
                    terms.push(term);
                }
            }
        }
    }
    // A filter of thousands of terms would not compile; analyze everything then.
    let filter = if terms.is_empty() || terms.len() > 500 {
        String::new()
    } else {
        format!("{} or icmp or icmp6", terms.join(" or "))
    };
    // The probe wrote its TLS keys to SSLKEYLOGFILE when set: its own HTTPS
    // capture is then analyzed decrypted.
    let keylogs = std::env::var_os("SSLKEYLOGFILE")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .into_iter()
        .collect();
    let config = AnalyzeConfig {
        paths: vec![path.display().to_string()],
        filter,
        format: AnalyzeFormat::Jsonl,
        keylogs,
        ..AnalyzeConfig::default()
    };
    let mut records = Vec::new();
    analyze::run(&config, &mut records, &mut std::io::sink())?;
    let findings: Vec<(Evidence, Vec<u16>)> = records
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter(|v| v["type"] == "finding")
        .filter_map(|v| {
            let ports = ["client", "server"]
                .iter()
                .filter_map(|k| v[k].as_str()?.parse::<std::net::SocketAddr>().ok())
                .map(|a| a.port())
                .collect();
            Some((serde_json::from_value(v).ok()?, ports))
        })
        .collect();
    for run in runs.iter_mut() {
        let (tcp, udp) = run.local_ports();
        let dns_servers: Vec<u16> = run
            .dns
            .queries
            .iter()
            .flat_map(|q| q.servers_tried.iter().map(|s| s.port()))
            .collect();
        run.evidence = findings
            .iter()
            .filter(|(_, ports)| {
                ports.iter().any(|p| tcp.contains(p) || udp.contains(p))
                    || (!run.dns.queries.is_empty()
                        && ports.iter().any(|p| dns_servers.contains(p)))
            })
            .map(|(e, _)| e.clone())
            .collect();
    }
    Ok(())
}

async fn wait_for(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn interruptible_sleep(d: Duration, stop: &AtomicBool) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = wait_for(stop) => {}
    }
}
