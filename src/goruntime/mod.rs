//! Go runtime views: goroutine dumps and pprof profiles, parsed and classified.
//!
//! A Go process serves `/debug/pprof/goroutine` in three forms, and this
//! module reads all of them into one owned [`Dump`]:
//!
//! * `debug=2` text ([`text`]): one stanza per goroutine with its id, state,
//!   how long it has waited (`[IO wait, 5 minutes]`) and its full stack;
//! * `debug=1` text ([`counts`]): one stanza per distinct stack with the number
//!   of goroutines on it and their pprof labels;
//! * the gzip'd protobuf profile ([`profile`]), which is also the form of CPU,
//!   block and mutex profiles ([`Profile`]).
//!
//! [`classify`] then says what each goroutine is doing for the network: waiting
//! in dial, in DNS, in a TLS handshake, for a pooled connection, for a
//! response, or serving a request (and where that handler blocks).
//!
//! Parsing is sans-IO and never panics: a truncated or malformed dump is a
//! [`DumpError`] naming the line or field. Everything is bounded
//! ([`MAX_GOROUTINES`], [`MAX_FRAMES`]): a dump of a process with a million
//! goroutines is read in full but the stacks kept are capped and counted.
//!
//! Hand-written: no Rust crate reads Go's text tracebacks, and the protobuf
//! messages are written from the published `profile.proto` for prost (no
//! protoc in the build).

pub mod classify;
pub mod counts;
pub mod fetch;
pub mod hotspots;
pub mod load;
pub mod profile;
pub mod summary;
pub mod text;

use crate::base::Timestamp;
use std::time::Duration;

pub use classify::{classify, Role};
pub use profile::{Profile, Sample, SampleType};

/// At most this many goroutine stanzas kept from one dump; more are counted
/// in [`Dump::dropped`].
pub const MAX_GOROUTINES: usize = 100_000;

/// At most this many frames kept per stack (Go itself prints at most 100).
pub const MAX_FRAMES: usize = 128;

/// One goroutine dump: what every goroutine of a process was doing at a moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dump {
    /// Which of Go's forms the dump was in.
    pub format: DumpFormat,
    /// When the dump was taken, if known (from the caller: `FILE@TIME`, the
    /// file's mtime, or the protobuf profile's own `time_nanos`).
    pub taken_at: Option<Timestamp>,
    /// The goroutines, one entry per goroutine (`debug=2`) or per distinct
    /// stack and label set with its [`Goroutine::count`] (`debug=1`, protobuf).
    pub goroutines: Vec<Goroutine>,
    /// The total the dump states (`goroutine profile: total N`), else the sum
    /// of counts.
    pub total: u64,
    /// Goroutines past [`MAX_GOROUTINES`], not kept.
    pub dropped: u64,
}

/// The form a dump came in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DumpFormat {
    /// `?debug=2`: full stacks with states and wait times.
    #[default]
    Traceback,
    /// `?debug=1`: stacks with counts and labels.
    Counts,
    /// The gzip'd protobuf profile (`?debug=0`, the default).
    Protobuf,
}

impl DumpFormat {
    /// The name used in reports: `debug=2`, `debug=1` or `protobuf`.
    pub fn name(self) -> &'static str {
        match self {
            DumpFormat::Traceback => "debug=2",
            DumpFormat::Counts => "debug=1",
            DumpFormat::Protobuf => "protobuf",
        }
    }
}

/// One goroutine, or a group of goroutines sharing a stack and labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Goroutine {
    /// The goroutine's id (`debug=2` only).
    pub id: Option<u64>,
    /// How many goroutines this entry stands for (1 for `debug=2`).
    pub count: u64,
    /// The scheduler state as Go prints it (`IO wait`, `select`, `chan
    /// receive`, `semacquire`, `running`, ...), `debug=2` only.
    pub state: Option<String>,
    /// How long it has been blocked, as Go prints it (whole minutes; Go only
    /// prints waits of a minute or more). `debug=2` only.
    pub wait: Option<Duration>,
    /// Stack frames, innermost first.
    pub frames: Vec<StackFrame>,
    /// The `go` statement that started it.
    pub created_by: Option<StackFrame>,
    /// pprof labels (`pprof.Do`), in the order the dump gives them.
    pub labels: Vec<(String, String)>,
}

/// One frame of a goroutine's stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackFrame {
    /// The fully qualified function (`net/http.(*conn).serve`).
    pub function: String,
    /// The source file, as the binary recorded it.
    pub file: String,
    /// The line in `file` (0 when unknown).
    pub line: u32,
}

impl StackFrame {
    /// `function (file.go:123)` with the file's base name, for reports.
    pub fn short(&self) -> String {
        let base = self.file.rsplit('/').next().unwrap_or(&self.file);
        if base.is_empty() {
            self.function.clone()
        } else {
            format!("{} ({}:{})", self.function, base, self.line)
        }
    }
}

/// Why a dump or profile could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum DumpError {
    /// The bytes are none of Go's goroutine dump forms.
    #[error("not a Go goroutine dump or pprof profile (expected 'goroutine N [state]:', 'goroutine profile: total N' or a gzip'd profile); fetch it from /debug/pprof/goroutine?debug=2")]
    UnknownFormat,
    /// A text dump line that does not parse.
    #[error("line {line}: {what}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was expected and what was found.
        what: String,
    },
    /// A protobuf profile that does not decode.
    #[error("pprof profile: {0}")]
    Profile(String),
}

/// Whether the bytes are a pprof protobuf profile (gzip'd, as Go serves
/// them, or raw) rather than text.
pub fn is_profile(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(&[0x1f, 0x8b]) || profile::looks_like_raw_profile(bytes)
}

/// Reads a dump in any of Go's forms, told apart by their first bytes.
pub fn parse_dump(bytes: &[u8]) -> Result<Dump, DumpError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let head = &bytes[start..];
    if is_profile(bytes) {
        return profile::parse(bytes)?.into_dump();
    }
    if head.starts_with(b"goroutine profile:") {
        return counts::parse(bytes);
    }
    if head.starts_with(b"goroutine ") {
        return text::parse(bytes);
    }
    // A crash or SIGQUIT dump: a panic message or the signal and registers
    // before the first goroutine.
    if String::from_utf8_lossy(bytes).lines().any(text::is_header) {
        return text::parse(bytes);
    }
    Err(DumpError::UnknownFormat)
}
