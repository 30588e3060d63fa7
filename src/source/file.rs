//! Capture files: pcap (both byte orders, micro- and nanosecond), pcapng (several
//! interfaces and link types, EPB/SPB/OPB, unknown blocks skipped), either one
//! gzip-compressed, from a path or from stdin (`-`). The format is detected from the
//! first bytes, never from the file name.

use super::{Frame, FrameSource, SourceError};

/// Which container format a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Classic libpcap format.
    Pcap {
        /// Timestamps in nanoseconds (magic 0xa1b23c4d) rather than microseconds.
        nanos: bool,
        /// Written big-endian.
        big_endian: bool,
    },
    /// pcapng.
    PcapNg,
}

/// Frames from a capture file or stdin.
pub struct FileSource {
    _private: (),
}

impl FileSource {
    /// Opens `path` (`-` for stdin), detecting gzip and the capture format from content.
    pub fn open(path: &str) -> Result<FileSource, SourceError> {
        Err(SourceError::Open {
            path: path.to_string(),
            reason: "not implemented yet".into(),
        })
    }

    /// Reads a capture from any byte stream (`name` is used in messages).
    pub fn from_reader(
        name: &str,
        reader: Box<dyn std::io::Read + Send>,
    ) -> Result<FileSource, SourceError> {
        let _ = reader;
        Self::open(name)
    }

    /// The detected container format.
    pub fn format(&self) -> FileFormat {
        FileFormat::PcapNg
    }

    /// True when the input was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        false
    }
}

impl FrameSource for FileSource {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, SourceError> {
        Ok(None)
    }
}
