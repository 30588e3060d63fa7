//! Writing captures: pcap or pcapng, with tcpdump-style rotation by size (`-C`),
//! by time (`-G`) and a ring of at most N files (`-W`).

use std::path::{Path, PathBuf};

use super::{Frame, LinkType, SourceError};

/// Output container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Classic pcap, microsecond timestamps.
    #[default]
    Pcap,
    /// pcapng with one interface.
    PcapNg,
}

/// When to start a new file; all `None` means one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    /// Start a new file before one would exceed this many bytes (`-C`, in MB of 1,000,000 bytes).
    pub max_bytes: Option<u64>,
    /// Start a new file when this many seconds of packet time have passed (`-G`).
    pub max_seconds: Option<u64>,
    /// Keep at most this many files, overwriting the oldest (`-W`).
    pub ring: Option<u32>,
}

/// A capture file being written, possibly rotating.
pub struct CaptureWriter {
    _private: (),
}

impl CaptureWriter {
    /// Creates the first output file.
    pub fn create(
        path: &Path,
        format: OutputFormat,
        link: LinkType,
        snaplen: u32,
        rotation: Rotation,
    ) -> Result<CaptureWriter, SourceError> {
        let _ = (format, link, snaplen, rotation);
        Err(SourceError::Write {
            path: path.display().to_string(),
            reason: "not implemented yet".into(),
        })
    }

    /// Appends one frame, rotating first when a limit says so.
    pub fn write(&mut self, frame: &Frame<'_>) -> Result<(), SourceError> {
        let _ = frame;
        Ok(())
    }

    /// Flushes buffered bytes so the files on disk are complete and valid.
    pub fn flush(&mut self) -> Result<(), SourceError> {
        Ok(())
    }

    /// Every file written so far, in the order they were started.
    pub fn files(&self) -> &[PathBuf] {
        &[]
    }
}
