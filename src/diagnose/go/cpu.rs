//! A Go CPU profile over the capture: was a slow response's server think
//! time computing or waiting?
//!
//! A CPU profile covers a window (`time_nanos`, `duration_nanos`) and has no
//! time per sample, but it keeps pprof labels: when handlers run under
//! `pprof.Do` with the client's `ip:port` as a label, the CPU spent on one
//! request is the samples with that label ([`CpuView::for_client`]), and
//! think time beside it says computing or waiting for that request alone.
//! Without such labels only the process's average over the window is known,
//! and the text says so.

use crate::base::escape::escape_str;
use crate::base::{human_duration, Timestamp};
use crate::goruntime::classify::first_app_frame;
use crate::goruntime::{Profile, StackFrame};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Busy at least this share of the think time (or of a core, for the
/// process): it computed.
pub const COMPUTING: f64 = 0.5;

/// Busy under this share: it waited.
pub const WAITING: f64 = 0.2;

/// The functions of a CPU profile that mean TLS handshakes.
const TLS: &[&str] = &[
    "crypto/tls.(*Conn).Handshake",
    "crypto/tls.(*Conn).HandshakeContext",
    "crypto/tls.(*Conn).handshakeContext",
    "crypto/tls.(*Conn).serverHandshake",
    "crypto/tls.(*Conn).clientHandshake",
];

/// The functions that mean the garbage collector at work.
const GC: &[&str] = &[
    "runtime.gcBgMarkWorker",
    "runtime.gcDrain",
    "runtime.gcAssistAlloc",
    "runtime.bgsweep",
    "runtime.bgscavenge",
    "runtime.markroot",
];

/// What a CPU profile says, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuView {
    /// The file it was read from.
    pub name: String,
    /// The window's start.
    pub start: Timestamp,
    /// The window's end.
    pub end: Timestamp,
    /// CPU time in the window, nanoseconds.
    pub cpu_ns: i64,
    /// Share of the CPU in TLS handshakes.
    pub tls_share: f64,
    /// Share of the CPU in the garbage collector.
    pub gc_share: f64,
    /// The application frames that used the most CPU, with their shares.
    pub top: Vec<(StackFrame, f64)>,
    /// CPU nanoseconds by the value of any label that is an `ip:port`.
    pub by_client: HashMap<SocketAddr, i64>,
}

impl CpuView {
    /// Reduces a CPU profile; `at` overrides its start time. An error names
    /// what is missing.
    pub fn of(name: &str, p: &Profile, at: Option<Timestamp>) -> Result<CpuView, String> {
        if !p.is_cpu() {
            return Err(format!(
                "{name}: not a CPU profile ({}); fetch /debug/pprof/profile?seconds=30",
                p.sample_types
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let start = at.or(p.time).ok_or_else(|| {
            format!("{name}: the profile has no start time; give it as {name}@2026-12-03T10:15:00Z")
        })?;
        let duration = p
            .duration
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("{name}: the profile says nothing of how long it ran"))?;
        let i = p.value_index("cpu").unwrap_or(0);
        let cpu_ns = p.total("cpu");
        let share = |names: &[&str]| {
            p.share_where("cpu", |frames| {
                frames.iter().any(|f| names.contains(&f.function.as_str()))
            })
        };
        let mut by_place: HashMap<(String, u32), (StackFrame, i64)> = HashMap::new();
        let mut by_client: HashMap<SocketAddr, i64> = HashMap::new();
        for s in &p.samples {
            let v = s.values.get(i).copied().unwrap_or(0).max(0);
            if let Some(f) = first_app_frame(&s.frames) {
                let e = by_place
                    .entry((f.function.clone(), f.line))
                    .or_insert_with(|| (f.clone(), 0));
                e.1 = e.1.saturating_add(v);
            }
            for (_, value) in &s.labels {
                if let Ok(addr) = value.parse::<SocketAddr>() {
                    let e = by_client.entry(addr).or_insert(0);
                    *e = e.saturating_add(v);
                }
            }
        }
        let mut top: Vec<(StackFrame, i64)> = by_place.into_values().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.function.cmp(&b.0.function)));
        let top = top
            .into_iter()
            .take(3)
            .map(|(f, v)| {
                (
                    f,
                    if cpu_ns > 0 {
                        v as f64 / cpu_ns as f64
                    } else {
                        0.0
                    },
                )
            })
            .collect();
        Ok(CpuView {
            name: name.to_string(),
            start,
            end: Timestamp(
                start
                    .0
                    .saturating_add(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)),
            ),
            cpu_ns,
            tls_share: share(TLS),
            gc_share: share(GC),
            top,
            by_client,
        })
    }

    /// CPU spent under a label naming this client, when the profile has such
    /// labels at all.
    pub fn for_client(&self, client: SocketAddr) -> Option<i64> {
        (!self.by_client.is_empty()).then(|| self.by_client.get(&client).copied().unwrap_or(0))
    }

    /// Whether the window overlaps `[from, to]`.
    pub fn overlaps(&self, from: Timestamp, to: Timestamp) -> bool {
        from <= self.end && to >= self.start
    }

    /// What the profile says of one slow response whose server think time
    /// ran from `from` to `to`, for a request from `client`.
    pub fn explain(&self, client: SocketAddr, from: Timestamp, to: Timestamp) -> String {
        let think = to.since(from).max(1);
        let file = escape_str(&self.name);
        let mut busy_request = None;
        let mut s = match self.for_client(client) {
            Some(cpu) => {
                let busy = cpu as f64 / think as f64;
                busy_request = Some(busy);
                format!(
                    "; the CPU profile ({file}) has {} of CPU for this request (label {client}), {:.0}% of its think time: {}",
                    human_duration(cpu),
                    busy * 100.0,
                    verdict(busy)
                )
            }
            None => {
                let window = self.end.since(self.start).max(1);
                let busy = self.cpu_ns as f64 / window as f64;
                format!(
                    "; over the CPU profile's {} ({file}) the process was {:.0}% busy (of one core), without labels to single out this request: {}",
                    human_duration(window),
                    busy * 100.0,
                    verdict(busy)
                )
            }
        };
        // Where the process spent its CPU, unless this request provably did
        // not compute (then the process's hot spot is someone else's).
        let relevant = busy_request.is_none_or(|b| b >= WAITING);
        if let Some((f, share)) = self
            .top
            .first()
            .filter(|(_, share)| relevant && *share >= 0.1)
        {
            s.push_str(&format!(
                "; the process's CPU mostly in {} ({:.0}%)",
                escape_str(&f.short()),
                share * 100.0
            ));
        }
        if self.tls_share >= 0.05 || self.gc_share >= 0.05 {
            s.push_str(&format!(
                "; TLS handshakes {:.0}% and GC {:.0}% of the CPU",
                self.tls_share * 100.0,
                self.gc_share * 100.0
            ));
        }
        s
    }
}

fn verdict(busy: f64) -> &'static str {
    if busy >= COMPUTING {
        "it computed (the handler's own code was on the CPU)"
    } else if busy < WAITING {
        "it waited (a lock, the database, a downstream call), it did not compute"
    } else {
        "partly computing, mostly waiting"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goruntime::{Sample, SampleType};
    use std::time::Duration;

    fn frame(function: &str) -> StackFrame {
        StackFrame {
            function: function.into(),
            file: "/app/main.go".into(),
            line: 9,
        }
    }

    fn profile(samples: Vec<Sample>) -> Profile {
        Profile {
            sample_types: vec![
                SampleType {
                    kind: "samples".into(),
                    unit: "count".into(),
                },
                SampleType {
                    kind: "cpu".into(),
                    unit: "nanoseconds".into(),
                },
            ],
            samples,
            time: Some(Timestamp(10_000_000_000)),
            duration: Some(Duration::from_secs(10)),
            ..Profile::default()
        }
    }

    fn sample(cpu_ms: i64, function: &str, remote: Option<&str>) -> Sample {
        Sample {
            values: vec![cpu_ms / 10, cpu_ms * 1_000_000],
            frames: vec![frame(function), frame("net/http.(*conn).serve")],
            labels: remote
                .map(|r| vec![("remote".into(), r.into())])
                .unwrap_or_default(),
        }
    }

    #[test]
    fn labelled_cpu_says_computing_or_waiting_per_request() {
        let p = profile(vec![
            sample(1400, "main.compute", Some("10.0.0.1:5000")),
            sample(100, "crypto/tls.(*Conn).serverHandshake", None),
        ]);
        let v = CpuView::of("cpu.pb.gz", &p, None).unwrap();
        assert_eq!(v.cpu_ns, 1_500_000_000);
        assert!((v.tls_share - 1.0 / 15.0).abs() < 1e-9);
        let busy = "10.0.0.1:5000".parse().unwrap();
        let idle = "10.0.0.2:5000".parse().unwrap();
        let (a, b) = (Timestamp(11_000_000_000), Timestamp(12_500_000_000));
        let text = v.explain(busy, a, b);
        assert!(
            text.contains("it computed") && text.contains("93% of its think time"),
            "{text}"
        );
        assert!(
            text.contains("mostly in main.compute (main.go:9) (93%)"),
            "{text}"
        );
        assert!(!v.explain(idle, a, b).contains("mostly in"));
        assert!(text.contains("TLS handshakes 7%"), "{text}");
        assert!(v.explain(idle, a, b).contains("it waited"));
        assert!(
            v.overlaps(a, b) && !v.overlaps(Timestamp(21_000_000_000), Timestamp(22_000_000_000))
        );
    }

    #[test]
    fn without_labels_the_process_average_is_told_as_such() {
        let v = CpuView::of("cpu", &profile(vec![sample(200, "main.f", None)]), None).unwrap();
        let text = v.explain(
            "10.0.0.1:1".parse().unwrap(),
            Timestamp(11_000_000_000),
            Timestamp(12_000_000_000),
        );
        assert!(
            text.contains("2% busy")
                && text.contains("without labels")
                && text.contains("it waited"),
            "{text}"
        );
    }

    #[test]
    fn a_profile_that_cannot_be_placed_says_why() {
        let mut p = profile(vec![]);
        p.time = None;
        assert!(CpuView::of("x", &p, None).unwrap_err().contains("x@"));
        assert!(CpuView::of("x", &p, Some(Timestamp(1))).is_ok());
        p.sample_types = vec![SampleType {
            kind: "goroutine".into(),
            unit: "count".into(),
        }];
        assert!(CpuView::of("x", &p, Some(Timestamp(1)))
            .unwrap_err()
            .contains("not a CPU profile"));
    }
}
