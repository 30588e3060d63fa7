//! `netsleuth goroutines FILE...`: Go goroutine dumps classified, alone.
//!
//! Each dump's goroutines grouped by what they do for the network (dial, DNS,
//! TLS, waiting for a pooled connection or a response, server handlers and
//! where they block); with several dumps of one process, the groups that
//! grew from one to the next. Other pprof profiles (CPU, block, mutex, heap)
//! given among them are summarized by where their value goes
//! (`goruntime::hotspots`).

use std::io::Write;

use super::CommandError;
use crate::base::escape::escape_str;
use crate::base::human_duration;
use crate::base::rfc3339;
use crate::goruntime::hotspots::{hotspots, human_value, Hotspots, Spot};
use crate::goruntime::load::{load_any, DumpSpec, Loaded};
use crate::goruntime::summary::{growing, summarize, Group, Growth};
use crate::goruntime::{Dump, Role, StackFrame};

/// What `goroutines` reads and how it prints.
#[derive(Debug, Clone, Default)]
pub struct GoroutinesConfig {
    /// The dumps, in the order given (taken as one process's, oldest first
    /// after sorting by time, for growth).
    pub dumps: Vec<DumpSpec>,
    /// One JSON document instead of text.
    pub json: bool,
}

/// Prints the classified summary of each dump, then what grew across them.
pub fn run(config: &GoroutinesConfig, out: &mut dyn Write) -> Result<(), CommandError> {
    let mut loaded: Vec<(String, Dump, Vec<Group>)> = Vec::new();
    let mut profiles: Vec<(String, Hotspots)> = Vec::new();
    for spec in &config.dumps {
        let path = spec.path.display().to_string();
        match load_any(spec).map_err(|e| CommandError::Usage(e.to_string()))? {
            Loaded::Dump(dump) => {
                let groups = summarize(&dump);
                loaded.push((path, dump, groups));
            }
            Loaded::Profile(p) => {
                let h = hotspots(&p, TOP).ok_or_else(|| {
                    CommandError::Usage(format!(
                        "{path}: the profile has no sample types: fetch it again from /debug/pprof"
                    ))
                })?;
                profiles.push((path, h));
            }
        }
    }
    // Growth is judged oldest first; dumps without a time keep their place.
    let mut by_time: Vec<&(String, Dump, Vec<Group>)> = loaded.iter().collect();
    by_time.sort_by_key(|(_, d, _)| d.taken_at.map(|t| t.0));
    let series: Vec<Vec<Group>> = by_time.iter().map(|(_, _, g)| g.clone()).collect();
    let grew = growing(&series);
    if config.json {
        write_json(out, &loaded, &grew, &profiles)?;
    } else {
        write_text(out, &loaded, &grew)?;
        for (i, (path, h)) in profiles.iter().enumerate() {
            if i > 0 || !loaded.is_empty() {
                writeln!(out)?;
            }
            write_profile(out, path, h)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// How many places a profile summary lists, by code and by leaf.
const TOP: usize = 8;

/// `cpu.pb.gz: cpu profile (...), 2.95 s of cpu over 3.00 s`, then the
/// places holding most of it.
fn write_profile(out: &mut dyn Write, path: &str, h: &Hotspots) -> Result<(), CommandError> {
    write!(
        out,
        "{}: {} profile ({}), {} of {}",
        escape_str(path),
        escape_str(&h.kind),
        escape_str(&h.sample_types.join(", ")),
        human_value(h.total, &h.unit),
        escape_str(&h.kind)
    )?;
    if let Some(d) = h.duration.filter(|d| !d.is_zero()) {
        let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        write!(out, " over {}", human_duration(ns))?;
        if h.unit == "nanoseconds" && h.kind == "cpu" {
            write!(
                out,
                " ({:.0}% of one core)",
                100.0 * h.total as f64 / ns as f64
            )?;
        }
    }
    if let Some(t) = h.start {
        write!(out, ", from {}", rfc3339(t))?;
    }
    writeln!(out)?;
    let list = |out: &mut dyn Write, title: &str, spots: &[Spot]| -> std::io::Result<()> {
        if spots.is_empty() {
            return Ok(());
        }
        writeln!(out, "  {title}:")?;
        for s in spots {
            writeln!(
                out,
                "    {:>5.1}%  {:>9}  {}",
                100.0 * s.share,
                human_value(s.value, &h.unit),
                short(&s.frame)
            )?;
        }
        Ok(())
    };
    list(out, "by application code", &h.by_code)?;
    list(out, "by innermost function", &h.by_leaf)?;
    Ok(())
}

fn write_text(
    out: &mut dyn Write,
    loaded: &[(String, Dump, Vec<Group>)],
    grew: &[Growth],
) -> Result<(), CommandError> {
    for (i, (path, dump, groups)) in loaded.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write!(
            out,
            "{}: {} goroutines ({})",
            escape_str(path),
            dump.total,
            dump.format.name()
        )?;
        if let Some(t) = dump.taken_at {
            write!(out, ", taken {}", rfc3339(t))?;
        }
        if dump.dropped > 0 {
            write!(
                out,
                ", {} past the first {} not kept",
                dump.dropped,
                dump.goroutines.len()
            )?;
        }
        writeln!(out)?;
        let mut last_role: Option<&Role> = None;
        for g in groups {
            if last_role != Some(&g.role) {
                let n: u64 = groups
                    .iter()
                    .filter(|o| o.role == g.role)
                    .map(|o| o.count)
                    .sum();
                writeln!(out, "  {} ({}): {n}", g.role.describe(), g.role.name())?;
                last_role = Some(&g.role);
            }
            writeln!(out, "    {:>6}  {}", g.count, describe_group(g))?;
        }
    }
    if !grew.is_empty() {
        writeln!(out, "\ngrowing from dump to dump (oldest first):")?;
        for g in grew {
            let counts: Vec<String> = g.counts.iter().map(u64::to_string).collect();
            writeln!(
                out,
                "  {}: {}  {}",
                g.role.describe(),
                counts.join(" → "),
                g.place.as_ref().map(short).unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

/// `main.hang (main.go:129) in select, waiting ≥ 4 min; remote=10.0.0.1:41344`.
pub fn describe_group(g: &Group) -> String {
    let mut s = match g.place() {
        Some(f) => short(f),
        None => "(no frames)".to_string(),
    };
    if let (Some(at), Some(inner)) = (&g.at, &g.blocked_in) {
        if at != inner {
            s.push_str(&format!(", blocked in {}", escape_str(&inner.function)));
        }
    }
    if let Some(state) = &g.state {
        s.push_str(&format!(" [{}", escape_str(state)));
        if let Some(w) = g.max_wait {
            s.push_str(&format!(", waiting ≥ {} min", w.as_secs() / 60));
        }
        s.push(']');
    }
    if !g.labels.is_empty() {
        let shown: Vec<String> = g
            .labels
            .iter()
            .take(3)
            .map(|(set, _)| {
                set.iter()
                    .map(|(k, v)| format!("{}={}", escape_str(k), escape_str(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        s.push_str(&format!("; labels {}", shown.join(" ")));
        if g.labels.len() > 3 {
            s.push_str(&format!(" (+{} more)", g.labels.len() - 3));
        }
    }
    s
}

fn short(f: &StackFrame) -> String {
    escape_str(&f.short())
}

fn frame_json(f: &Option<StackFrame>) -> serde_json::Value {
    match f {
        Some(f) => serde_json::json!({"function": f.function, "file": f.file, "line": f.line}),
        None => serde_json::Value::Null,
    }
}

fn spots_json(spots: &[Spot]) -> Vec<serde_json::Value> {
    spots
        .iter()
        .map(|s| {
            serde_json::json!({
                "function": s.frame.function,
                "file": s.frame.file,
                "line": s.frame.line,
                "value": s.value,
                "share": s.share,
            })
        })
        .collect()
}

fn write_json(
    out: &mut dyn Write,
    loaded: &[(String, Dump, Vec<Group>)],
    grew: &[Growth],
    profiles: &[(String, Hotspots)],
) -> Result<(), CommandError> {
    let profiles: Vec<serde_json::Value> = profiles
        .iter()
        .map(|(path, h)| {
            serde_json::json!({
                "file": path,
                "kind": h.kind,
                "unit": h.unit,
                "sample_types": h.sample_types,
                "total": h.total,
                "start": h.start.map(rfc3339),
                "duration_s": h.duration.map(|d| d.as_secs_f64()),
                "by_code": spots_json(&h.by_code),
                "by_leaf": spots_json(&h.by_leaf),
            })
        })
        .collect();
    let dumps: Vec<serde_json::Value> = loaded
        .iter()
        .map(|(path, dump, groups)| {
            serde_json::json!({
                "file": path,
                "format": dump.format.name(),
                "taken_at": dump.taken_at.map(rfc3339),
                "total": dump.total,
                "dropped": dump.dropped,
                "groups": groups.iter().map(|g| serde_json::json!({
                    "role": g.role.name(),
                    "count": g.count,
                    "at": frame_json(&g.at),
                    "blocked_in": frame_json(&g.blocked_in),
                    "state": g.state,
                    "max_wait_s": g.max_wait.map(|w| w.as_secs()),
                    "ids": g.ids,
                    "labels": g.labels.iter().map(|(set, n)| serde_json::json!({
                        "labels": set.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
                        "count": n,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let growing: Vec<serde_json::Value> = grew
        .iter()
        .map(|g| serde_json::json!({"role": g.role.name(), "at": frame_json(&g.place), "counts": g.counts}))
        .collect();
    serde_json::to_writer_pretty(
        &mut *out,
        &serde_json::json!({"dumps": dumps, "growing": growing, "profiles": profiles}),
    )
    .map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}
