//! `netsleuth probe URL`: run the active check once or `-n` times, print the
//! waterfall and verdict (or JSON), and say whether it failed.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::CommandError;
use crate::diagnose::Severity;
use crate::probe::stats::Summary;
use crate::probe::{self, report, ProbeConfig, ProbeRun, Prober};

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
