//! The commands the binary runs, each over a plain configuration struct built from
//! the command line. They write to the writers they are given, so tests and other
//! front ends can drive them without a process.

pub mod analyze;
pub mod capture;
pub mod demo;
pub mod follow;
pub mod goroutines;
pub mod interfaces;
#[cfg(feature = "probe")]
pub mod probe;
pub mod read;
pub mod watch;

use std::io;

use crate::source::SourceError;

/// Why a command failed. The binary prints it in one line and exits with code 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Reading or capturing packets failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The probe could not start (bad URL, --cacert, runtime).
    #[cfg(feature = "probe")]
    #[error(transparent)]
    Probe(crate::probe::ProbeError),
    /// An `--expect` rule or `--for` scope does not parse; the message shows the
    /// text with a caret under the problem.
    #[error(transparent)]
    Rule(#[from] crate::expect::RuleError),
    /// An argument is invalid; the message names it and the fix.
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed (a closed pipe is handled by the binary).
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
}

/// How packets are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacketFormat {
    /// One text line per packet.
    #[default]
    Text,
    /// One JSON object per line per packet.
    Json,
}

impl From<crate::analysis::AnalysisError> for CommandError {
    fn from(e: crate::analysis::AnalysisError) -> Self {
        use crate::analysis::AnalysisError;
        match e {
            AnalysisError::Source(e) => CommandError::Source(e),
            AnalysisError::Output(e) => CommandError::Output(e),
            AnalysisError::KeyLog(why) | AnalysisError::Thread(why) => CommandError::Usage(why),
        }
    }
}
