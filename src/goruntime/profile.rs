//! Go pprof protobuf profiles: goroutine, CPU, block, mutex and heap.
//!
//! Every `/debug/pprof/...` endpoint of a Go process serves, by default, a
//! gzip'd `profile.proto` message (`perftools.profiles.Profile`). [`parse`]
//! reads one into an owned [`Profile`]: its sample types, and each sample's
//! values, stack (inlined calls expanded, innermost first) and labels, with
//! every string-table index and location or function id resolved. A goroutine
//! profile then becomes a [`Dump`] ([`Profile::into_dump`]); a CPU profile
//! answers "how busy, and where" ([`Profile::share_where`]).
//!
//! The messages are written by hand from the published `profile.proto` field
//! numbers (`wire.rs`) and decoded with prost's derive macros: no protoc, no
//! build.rs. The top-level message alone is walked by hand, keeping each
//! sample, location and function as its bytes until needed, so that samples
//! past the bounds are never decoded. Everything is bounded: the inflated size
//! ([`MAX_INFLATED`]), the tables ([`MAX_TABLE`]), the samples kept
//! ([`MAX_GOROUTINES`]), the frames per sample ([`MAX_FRAMES`]), each string
//! ([`MAX_STRING`]) and the stacks and labels expanded from the shared tables
//! ([`MAX_EXPANDED`]: a few bytes of sample can name a long stack of long
//! names). Malformed input is a [`DumpError::Profile`] naming the field, never
//! a panic.

use super::{Dump, DumpError, DumpFormat, Goroutine, StackFrame, MAX_FRAMES, MAX_GOROUTINES};
use crate::base::Timestamp;
use prost::Message;
use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;
use wire::{Fields, Wire};

/// At most this many bytes of protobuf are read, inflated or not (256 MiB).
pub const MAX_INFLATED: u64 = 256 << 20;

/// At most this many strings, locations or functions in one profile.
pub const MAX_TABLE: usize = 1 << 22;

/// At most this many bytes of frames and labels are expanded from one profile
/// (256 MiB); the samples past it are not kept, as past [`MAX_GOROUTINES`].
pub const MAX_EXPANDED: usize = 256 << 20;

/// Strings (function names, files, labels) are cut to this many bytes.
pub const MAX_STRING: usize = 4096;

mod wire;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One kind of value a profile's samples carry, such as `goroutine/count`,
/// `samples/count`, `cpu/nanoseconds`, `contentions/count` or
/// `delay/nanoseconds`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleType {
    /// What is counted (`goroutine`, `cpu`, `delay`, `inuse_space`, ...).
    pub kind: String,
    /// Its unit (`count`, `nanoseconds`, `bytes`, ...).
    pub unit: String,
}

impl std::fmt::Display for SampleType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.unit)
    }
}

/// One sample: values for a stack and label set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// One value per [`Profile::sample_types`] entry, in the same order.
    pub values: Vec<i64>,
    /// The stack, innermost first, with inlined calls expanded into frames of
    /// their own (at most [`MAX_FRAMES`]).
    pub frames: Vec<StackFrame>,
    /// pprof labels sorted by key (Go writes them in map order; `debug=1`
    /// prints them sorted): string labels as they are, numeric ones as the
    /// number followed by a space and the unit when there is one (`4096
    /// bytes`; Go's heap profiles give `bytes` without a unit).
    pub labels: Vec<(String, String)>,
}

/// A decoded pprof profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// What each sample's values are.
    pub sample_types: Vec<SampleType>,
    /// The samples kept (at most [`MAX_GOROUTINES`]), in profile order.
    pub samples: Vec<Sample>,
    /// When the profile was taken (`time_nanos`), if it says.
    pub time: Option<Timestamp>,
    /// How long it was collected over (`duration_nanos`), if it says.
    pub duration: Option<Duration>,
    /// What [`Profile::period`] counts (CPU profiles: `cpu/nanoseconds`).
    pub period_type: Option<SampleType>,
    /// The sampling period, in [`Profile::period_type`] units.
    pub period: i64,
    /// Samples past [`MAX_GOROUTINES`] or [`MAX_EXPANDED`], not kept.
    pub dropped: u64,
    /// The sums, per sample type, of the values of the samples not kept, so
    /// that [`Profile::total`] is the profile's true total.
    pub dropped_values: Vec<i64>,
    /// Samples kept whose stacks were cut at [`MAX_FRAMES`] frames.
    pub truncated: u64,
}

impl Profile {
    /// The position of the sample type named `kind` in each sample's values.
    pub fn value_index(&self, kind: &str) -> Option<usize> {
        self.sample_types.iter().position(|t| t.kind == kind)
    }

    /// The sum of the `kind` values over all samples, kept or not (saturating);
    /// 0 when the profile has no such sample type.
    pub fn total(&self, kind: &str) -> i64 {
        let Some(i) = self.value_index(kind) else {
            return 0;
        };
        let dropped = self.dropped_values.get(i).copied().unwrap_or(0);
        dropped.saturating_add(self.sum_where(i, |_| true))
    }

    /// The sum of value `i` over the samples kept whose frames satisfy `pred`.
    fn sum_where(&self, i: usize, pred: impl Fn(&[StackFrame]) -> bool) -> i64 {
        let values = self.samples.iter().filter(|s| pred(&s.frames));
        values.fold(0, |t, s| {
            t.saturating_add(s.values.get(i).map_or(0, |&v| v))
        })
    }

    /// Whether this is a CPU profile (a `cpu/nanoseconds` sample type).
    pub fn is_cpu(&self) -> bool {
        self.sample_types
            .iter()
            .any(|t| t.kind == "cpu" && t.unit == "nanoseconds")
    }

    /// The fraction (0.0 to 1.0) of the total of `kind` in samples whose
    /// frames satisfy `pred`: how much CPU went to TLS handshakes, how many
    /// goroutines wait in DNS. 0.0 when the total is 0 or `kind` is absent.
    pub fn share_where(&self, kind: &str, pred: impl Fn(&[StackFrame]) -> bool) -> f64 {
        let (Some(i), total) = (self.value_index(kind), self.total(kind)) else {
            return 0.0;
        };
        if total <= 0 {
            return 0.0;
        }
        (self.sum_where(i, pred) as f64 / total as f64).clamp(0.0, 1.0)
    }

    /// Whether this is a goroutine profile (a `goroutine/count` sample type).
    pub fn is_goroutines(&self) -> bool {
        self.sample_types
            .iter()
            .any(|t| t.kind == "goroutine" && t.unit == "count")
    }

    /// The goroutine dump this profile is, if it is a goroutine profile (a
    /// `goroutine/count` sample type): one [`Goroutine`] per sample, standing
    /// for `count` goroutines. Other profiles are an error naming what they
    /// are and where the goroutine profile is.
    pub fn into_dump(self) -> Result<Dump, DumpError> {
        let Some(i) = self
            .sample_types
            .iter()
            .position(|t| t.kind == "goroutine" && t.unit == "count")
        else {
            return Err(DumpError::Profile(self.not_goroutines()));
        };
        let count = |v: Option<&i64>| v.map_or(0, |&v| u64::try_from(v).unwrap_or(0));
        let dropped = count(self.dropped_values.get(i));
        let goroutines: Vec<Goroutine> = self
            .samples
            .into_iter()
            .map(|s| Goroutine {
                id: None,
                count: count(s.values.get(i)),
                state: None,
                wait: None,
                frames: s.frames,
                created_by: None,
                labels: s.labels,
            })
            .collect();
        let total = goroutines
            .iter()
            .fold(dropped, |t, g| t.saturating_add(g.count));
        Ok(Dump {
            format: DumpFormat::Protobuf,
            taken_at: self.time,
            goroutines,
            total,
            dropped,
        })
    }

    /// "this is a cpu profile (samples/count, cpu/nanoseconds), not ...".
    pub(crate) fn not_goroutines(&self) -> String {
        let has = |k: &str| self.value_index(k).is_some();
        let what = if self.is_cpu() {
            "a cpu".to_string()
        } else if has("contentions") {
            "a block or mutex".to_string()
        } else if has("inuse_space") || has("alloc_space") {
            "a heap".to_string()
        } else if let Some(t) = self.sample_types.first() {
            format!("a {}", t.kind)
        } else {
            return "this profile has no sample types, so it is not a goroutine dump: \
                    fetch /debug/pprof/goroutine"
                .to_string();
        };
        let types: Vec<String> = self.sample_types.iter().map(|t| t.to_string()).collect();
        format!(
            "this is {what} profile ({}), not a goroutine dump: fetch /debug/pprof/goroutine",
            types.join(", ")
        )
    }
}

/// Whether `head`, the start of an input that is not gzip'd, is a plausible
/// start of a raw (inflated) `profile.proto` message: its first fields are
/// `Profile` fields with the right wire types, and it has the control bytes
/// that protobuf has and text does not. Conservative: a text dump is never
/// taken for a profile. Go writes `period_type` (0x5a) or `time_nanos` (0x48)
/// first, other encoders `sample_type` (0x0a, a newline): so pass the input
/// untrimmed.
pub fn looks_like_raw_profile(head: &[u8]) -> bool {
    wire::plausible_profile(head)
}

/// Reads a pprof profile, gzip'd (as Go serves it, whitespace before it
/// allowed) or raw protobuf.
pub fn parse(bytes: &[u8]) -> Result<Profile, DumpError> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let trimmed = &bytes[start.unwrap_or(bytes.len())..];
    if trimmed.starts_with(&[0x1f, 0x8b]) {
        decode(&inflate(trimmed, MAX_INFLATED)?, MAX_EXPANDED)
    } else {
        decode(bytes, MAX_EXPANDED)
    }
}

fn err(what: String) -> DumpError {
    DumpError::Profile(what)
}

/// The inflated gzip stream (members concatenated), at most `limit` bytes.
fn inflate(gz: &[u8], limit: u64) -> Result<Vec<u8>, DumpError> {
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .take(limit + 1)
        .read_to_end(&mut raw)
        .map_err(|e| err(format!("gzip: {e}")))?;
    if raw.len() as u64 > limit {
        let mib = limit >> 20;
        return Err(err(format!(
            "gzip: inflates past the limit of {mib} MiB; not read"
        )));
    }
    Ok(raw)
}

/// Decodes one message, an error naming `what` if it does not.
fn decode_msg<M: Message + Default>(
    body: &[u8],
    what: impl FnOnce() -> String,
) -> Result<M, DumpError> {
    M::decode(body).map_err(|e| err(format!("{}: {e}", what())))
}

/// The raw protobuf, expanding at most `budget` bytes of frames and labels.
fn decode(raw: &[u8], budget: usize) -> Result<Profile, DumpError> {
    if raw.len() as u64 > MAX_INFLATED {
        return Err(err(format!(
            "larger than {} MiB; not read",
            MAX_INFLATED >> 20
        )));
    }
    let mut t = Tables {
        budget,
        ..Tables::default()
    };
    let mut p = Profile::default();
    let (mut types, mut period_type, mut samples) = (Vec::new(), None, Vec::new());
    let mut fields = Fields { buf: raw };
    loop {
        let at = raw.len() - fields.buf.len();
        let field = fields
            .next_field()
            .map_err(|e| err(format!("byte {at}: {e}")))?;
        let Some((tag, wire)) = field else {
            break;
        };
        let Some((name, delimited)) = wire::profile_field(tag) else {
            continue;
        };
        let full = |n: usize, what: &str| match n >= MAX_TABLE {
            true => Err(err(format!("more than {MAX_TABLE} {what}s; not read"))),
            false => Ok(()),
        };
        match wire {
            Wire::Bytes(body) if delimited => match tag {
                1 => types.push(decode_msg::<wire::ValueType>(body, || {
                    format!("sample_type {}", types.len())
                })?),
                2 if samples.len() < MAX_GOROUTINES => samples.push(body),
                2 => {
                    let i = MAX_GOROUTINES as u64 + p.dropped;
                    drop_sample(&mut p, body, i)?;
                }
                4 | 5 => {
                    let (map, what) = match tag {
                        4 => (&mut t.locations, "location"),
                        _ => (&mut t.functions, "function"),
                    };
                    full(map.len(), what)?;
                    let id = wire::message_id(body)
                        .map_err(|e| err(format!("byte {at}: {what}: {e}")))?;
                    map.entry(id).or_insert(body);
                }
                6 => {
                    full(t.strings.len(), "string")?;
                    t.strings.push(body);
                }
                11 => {
                    period_type = Some(decode_msg::<wire::ValueType>(body, || {
                        "period_type".into()
                    })?)
                }
                _ => {}
            },
            Wire::Varint(v) if !delimited => match tag {
                9 => p.time = (v != 0).then_some(Timestamp(v as i64)),
                10 => {
                    p.duration = i64::try_from(v)
                        .ok()
                        .filter(|&d| d > 0)
                        .map(|d| Duration::from_nanos(d as u64))
                }
                12 => p.period = v as i64,
                _ => {}
            },
            Wire::Bytes(_) if tag == 13 => {} // packed comments
            _ => return Err(err(format!("byte {at}: {name} has the wrong wire type"))),
        }
    }
    let value_type = |v: &wire::ValueType, what: &dyn Fn() -> String| {
        Ok::<_, DumpError>(SampleType {
            kind: t.string(v.r#type, || format!("{} type", what()))?,
            unit: t.string(v.unit, || format!("{} unit", what()))?,
        })
    };
    for (i, v) in types.iter().enumerate() {
        p.sample_types
            .push(value_type(v, &|| format!("sample_type {i}"))?);
    }
    if let Some(v) = &period_type {
        p.period_type = Some(value_type(v, &|| "period_type".to_string())?);
    }
    let mut kept = true;
    for (i, body) in samples.into_iter().enumerate() {
        if kept {
            if let Some((s, cut)) = t.sample(i, body, p.sample_types.len())? {
                p.samples.push(s);
                p.truncated += u64::from(cut);
                continue;
            }
            kept = false;
        }
        drop_sample(&mut p, body, i as u64)?;
    }
    p.dropped_values.resize(p.sample_types.len(), 0);
    Ok(p)
}

/// Counts sample `i` as not kept, adding its values to the dropped sums.
fn drop_sample(p: &mut Profile, body: &[u8], i: u64) -> Result<(), DumpError> {
    let s: wire::Sample = decode_msg(body, || format!("sample {i}"))?;
    p.dropped += 1;
    if p.dropped_values.len() < s.value.len() {
        p.dropped_values.resize(s.value.len(), 0);
    }
    for (sum, v) in p.dropped_values.iter_mut().zip(s.value) {
        *sum = sum.saturating_add(v);
    }
    Ok(())
}

/// The tables samples refer to, kept as their bytes and decoded when first
/// used, and the bytes expanded from them so far against the budget.
#[derive(Default)]
struct Tables<'a> {
    strings: Vec<&'a [u8]>,
    locations: Map<u64, &'a [u8]>,
    functions: Map<u64, &'a [u8]>,
    /// Each location's frames, and whether lines past [`MAX_FRAMES`] were cut.
    location_frames: Map<u64, (Vec<StackFrame>, bool)>,
    function_names: Map<u64, (String, String)>,
    expanded: usize,
    budget: usize,
}

/// What a frame or a label costs the expansion budget.
fn cost(a: &str, b: &str) -> usize {
    size_of::<(String, String)>() + a.len() + b.len()
}

impl Tables<'_> {
    /// The string at `index` in the string table (cut to [`MAX_STRING`]
    /// bytes), an error naming `field` when it is out of range.
    fn string(&self, index: i64, field: impl FnOnce() -> String) -> Result<String, DumpError> {
        let s = usize::try_from(index)
            .ok()
            .and_then(|i| self.strings.get(i));
        let s = s.ok_or_else(|| {
            let n = self.strings.len();
            err(format!(
                "{}: string index {index} out of range (the string table has {n} entries)",
                field()
            ))
        })?;
        Ok(String::from_utf8_lossy(&s[..s.len().min(MAX_STRING)]).into_owned())
    }

    /// Counts `bytes` as expanded; false once past the budget. (A location
    /// or function cached overshoots it by at most [`MAX_FRAMES`] frames.)
    fn spend(&mut self, bytes: usize) -> bool {
        self.expanded = self.expanded.saturating_add(bytes);
        self.expanded <= self.budget
    }

    /// Sample `i` with its locations and labels resolved, and whether its
    /// stack was cut; `None` when the expansion budget is spent.
    fn sample(
        &mut self,
        i: usize,
        body: &[u8],
        types: usize,
    ) -> Result<Option<(Sample, bool)>, DumpError> {
        let s: wire::Sample = decode_msg(body, || format!("sample {i}"))?;
        if s.value.len() != types {
            let n = s.value.len();
            return Err(err(format!(
                "sample {i}: {n} values for {types} sample types"
            )));
        }
        let mut frames: Vec<StackFrame> = Vec::new();
        let mut cut = false;
        for &id in &s.location_id {
            let missing = || err(format!("sample {i}: location id {id} not in the profile"));
            let room = MAX_FRAMES - frames.len();
            if room == 0 {
                cut = true;
                self.locations.get(&id).ok_or_else(missing)?;
                continue;
            }
            let (loc, cut_here) = self.location(id).transpose().ok_or_else(missing)??;
            cut |= cut_here || loc.len() > room;
            let new = &loc[..loc.len().min(room)];
            frames.extend_from_slice(new);
            let spent = new.iter().map(|f| cost(&f.function, &f.file)).sum();
            if !self.spend(spent) {
                return Ok(None);
            }
        }
        let mut labels = Vec::with_capacity(s.label.len().min(64));
        for (j, l) in s.label.iter().enumerate() {
            let key = self.string(l.key, || format!("sample {i} label {j} key"))?;
            let value = if l.str != 0 {
                self.string(l.str, || format!("sample {i} label {j} str"))?
            } else if l.num != 0 || l.num_unit != 0 {
                let unit = self.string(l.num_unit, || format!("sample {i} label {j} num_unit"))?;
                match unit.is_empty() {
                    true => l.num.to_string(),
                    false => format!("{} {unit}", l.num),
                }
            } else {
                String::new()
            };
            if !self.spend(cost(&key, &value)) {
                return Ok(None);
            }
            labels.push((key, value));
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Some((
            Sample {
                values: s.value,
                frames,
                labels,
            },
            cut,
        )))
    }

    /// The frames of location `id` (at most [`MAX_FRAMES`]) and whether more
    /// were cut, `None` when there is no such location.
    fn location(&mut self, id: u64) -> Result<Option<(&[StackFrame], bool)>, DumpError> {
        if !self.location_frames.contains_key(&id) {
            let Some(&body) = self.locations.get(&id) else {
                return Ok(None);
            };
            let loc: wire::Location = decode_msg(body, || format!("location {id}"))?;
            let mut frames = Vec::with_capacity(loc.line.len().clamp(1, MAX_FRAMES));
            for line in loc.line.iter().take(MAX_FRAMES) {
                let (function, file) = self.function(line.function_id, id)?;
                self.spend(cost(&function, &file));
                let line = u32::try_from(line.line).unwrap_or(0);
                frames.push(StackFrame {
                    function,
                    file,
                    line,
                });
            }
            // Lines past the bound are not kept, but their functions exist.
            for line in loc.line.iter().skip(MAX_FRAMES) {
                let f = line.function_id;
                if !self.functions.contains_key(&f) {
                    return Err(err(format!(
                        "location {id}: function id {f} not in the profile"
                    )));
                }
            }
            if loc.line.is_empty() {
                let function = format!("0x{:x}", loc.address);
                frames.push(StackFrame {
                    function,
                    ..StackFrame::default()
                });
            }
            let cut = loc.line.len() > MAX_FRAMES;
            self.location_frames.insert(id, (frames, cut));
        }
        Ok(self
            .location_frames
            .get(&id)
            .map(|(f, cut)| (f.as_slice(), *cut)))
    }

    /// The name and file of function `id`, named from location `loc`.
    fn function(&mut self, id: u64, loc: u64) -> Result<(String, String), DumpError> {
        if let Some(f) = self.function_names.get(&id) {
            return Ok(f.clone());
        }
        let missing = || {
            err(format!(
                "location {loc}: function id {id} not in the profile"
            ))
        };
        let body = self.functions.get(&id).ok_or_else(missing)?;
        let f: wire::Function = decode_msg(body, || format!("function {id}"))?;
        let mut name = self.string(f.name, || format!("function {id} name"))?;
        if name.is_empty() {
            name = self.string(f.system_name, || format!("function {id} system_name"))?;
        }
        let file = self.string(f.filename, || format!("function {id} filename"))?;
        self.spend(cost(&name, &file));
        self.function_names.insert(id, (name.clone(), file.clone()));
        Ok((name, file))
    }
}

#[cfg(test)]
mod tests;
