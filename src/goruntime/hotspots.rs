//! Where a pprof profile's value goes: the application code and the
//! innermost functions that hold most of a CPU, block, mutex or heap
//! profile (`netsleuth goroutines` on a profile that is not a goroutine
//! dump).
//!
//! A profile's main value is the one `go tool pprof` shows by default: the
//! last sample type (`cpu` of `samples, cpu`, `delay` of `contentions,
//! delay`, `inuse_space` of a heap profile).

use super::classify::first_app_frame;
use super::{Profile, StackFrame};
use crate::base::Timestamp;
use std::collections::HashMap;
use std::time::Duration;

/// One place and what it holds of the profile's main value.
#[derive(Debug, Clone, PartialEq)]
pub struct Spot {
    /// The frame (function, file, line).
    pub frame: StackFrame,
    /// Its value, in the profile's unit.
    pub value: i64,
    /// Its share of the total, 0.0 to 1.0.
    pub share: f64,
}

/// A profile reduced to its largest holders.
#[derive(Debug, Clone, PartialEq)]
pub struct Hotspots {
    /// What the profile measures: `cpu`, `delay`, `inuse_space`, ...
    pub kind: String,
    /// In what unit: `nanoseconds`, `bytes`, `count`.
    pub unit: String,
    /// Every sample type, `kind/unit`, as the profile lists them.
    pub sample_types: Vec<String>,
    /// The sum of the main value, samples dropped by the writer included.
    pub total: i64,
    /// When the profile started, if it says.
    pub start: Option<Timestamp>,
    /// How long it ran, if it says (CPU profiles).
    pub duration: Option<Duration>,
    /// By the first application frame (outside runtime and the standard
    /// library): whose code it is.
    pub by_code: Vec<Spot>,
    /// By the innermost frame: what it was doing there (`sync.(*Mutex).Lock`,
    /// `runtime.selectgo`, `crypto/internal/...`).
    pub by_leaf: Vec<Spot>,
}

/// The `top` largest holders of the profile's main value by code and by
/// leaf; `None` when the profile has no sample types.
pub fn hotspots(p: &Profile, top: usize) -> Option<Hotspots> {
    let main = p.sample_types.last()?;
    let i = p.sample_types.len() - 1;
    let total = p.total(&main.kind);
    // By function, as `go tool pprof -top` lists them; the line shown is the
    // one of the function's largest sample.
    let mut by_code: HashMap<&str, (&StackFrame, i64, i64)> = HashMap::new();
    let mut by_leaf: HashMap<&str, (&StackFrame, i64, i64)> = HashMap::new();
    for s in &p.samples {
        let v = s.values.get(i).copied().unwrap_or(0).max(0);
        for (map, frame) in [
            (&mut by_code, first_app_frame(&s.frames)),
            (&mut by_leaf, s.frames.first()),
        ] {
            if let Some(f) = frame {
                let e = map.entry(f.function.as_str()).or_insert((f, 0, -1));
                e.1 = e.1.saturating_add(v);
                if v > e.2 {
                    (e.0, e.2) = (f, v);
                }
            }
        }
    }
    let ranked = |map: HashMap<&str, (&StackFrame, i64, i64)>| -> Vec<Spot> {
        let mut v: Vec<(&StackFrame, i64)> = map
            .into_values()
            .map(|(f, v, _)| (f, v))
            .filter(|(_, v)| *v > 0)
            .collect();
        v.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| a.0.function.cmp(&b.0.function))
                .then_with(|| a.0.line.cmp(&b.0.line))
        });
        v.into_iter()
            .take(top)
            .map(|(f, value)| Spot {
                frame: f.clone(),
                value,
                share: if total > 0 {
                    (value as f64 / total as f64).clamp(0.0, 1.0)
                } else {
                    0.0
                },
            })
            .collect()
    };
    Some(Hotspots {
        kind: main.kind.clone(),
        unit: main.unit.clone(),
        sample_types: p.sample_types.iter().map(|t| t.to_string()).collect(),
        total,
        start: p.time,
        duration: p.duration,
        by_code: ranked(by_code),
        by_leaf: ranked(by_leaf),
    })
}

/// `1.52 s`, `3.4 MB`, `12`: a value in a profile's unit, for people.
pub fn human_value(value: i64, unit: &str) -> String {
    match unit {
        "nanoseconds" => crate::base::human_duration(value),
        "bytes" => {
            let v = value as f64;
            if v >= 1e9 {
                format!("{:.1} GB", v / 1e9)
            } else if v >= 1e6 {
                format!("{:.1} MB", v / 1e6)
            } else if v >= 1e3 {
                format!("{:.1} KB", v / 1e3)
            } else {
                format!("{value} B")
            }
        }
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goruntime::{Sample, SampleType};

    fn frame(function: &str, file: &str, line: u32) -> StackFrame {
        StackFrame {
            function: function.into(),
            file: file.into(),
            line,
        }
    }

    fn sample(values: Vec<i64>, frames: Vec<StackFrame>) -> Sample {
        Sample {
            values,
            frames,
            labels: Vec::new(),
        }
    }

    #[test]
    fn a_block_profile_names_the_code_and_the_lock() {
        let lock = frame("sync.(*Mutex).Lock", "/go/src/sync/mutex.go", 81);
        let select = frame("runtime.selectgo", "/go/src/runtime/select.go", 327);
        let p = Profile {
            sample_types: vec![
                SampleType {
                    kind: "contentions".into(),
                    unit: "count".into(),
                },
                SampleType {
                    kind: "delay".into(),
                    unit: "nanoseconds".into(),
                },
            ],
            samples: vec![
                sample(
                    vec![3, 3_000_000_000],
                    vec![lock.clone(), frame("main.store", "/app/db.go", 40)],
                ),
                sample(
                    vec![1, 1_000_000_000],
                    vec![select, frame("main.wait", "/app/main.go", 12)],
                ),
            ],
            ..Default::default()
        };
        let h = hotspots(&p, 5).expect("sample types");
        assert_eq!((h.kind.as_str(), h.unit.as_str()), ("delay", "nanoseconds"));
        assert_eq!(h.total, 4_000_000_000);
        assert_eq!(h.by_code[0].frame.function, "main.store");
        assert!((h.by_code[0].share - 0.75).abs() < 1e-9);
        assert_eq!(h.by_leaf[0].frame, lock);
        assert_eq!(human_value(h.total, &h.unit), "4.00 s");
        assert_eq!(human_value(3_400_000, "bytes"), "3.4 MB");
        assert!(hotspots(&Profile::default(), 5).is_none());
    }
}
