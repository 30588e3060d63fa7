//! Packet sources: where frames come from and where they go.
//!
//! Contract: every source yields [`Frame`]s in capture order, each borrowing its bytes
//! from the source's buffer until the next call. Frame numbers start at 1 and count
//! every frame read, before any filter, so they match Wireshark's numbering and stay
//! stable whatever filter is applied.
//!
//! * [`file`]: pcap and pcapng files, gzip-compressed or not, or stdin.
//! * [`live`]: live capture through libpcap.
//! * [`filter`]: BPF filters compiled by libpcap, applied to frames from any source.
//! * [`writer`]: pcap / pcapng output with size and time rotation.
//! * [`stats`]: the capture's own drop counters (pcapng Interface Statistics Blocks).

pub mod file;
pub mod filter;
pub mod live;
pub mod recorder;
pub mod stats;
pub mod writer;

pub use stats::InterfaceStats;

use crate::base::{LinkType, Timestamp};

/// One captured frame, borrowing its bytes from the source.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Frame number, 1-based, counting every frame the source produced.
    pub number: u64,
    /// When the frame was captured.
    pub ts: Timestamp,
    /// Length of the frame on the wire; `data.len()` is less when the snap length cut it.
    pub orig_len: u32,
    /// Link-layer type of `data`.
    pub link: LinkType,
    /// Interface index within the file (pcapng), 0 for pcap and live sources.
    pub interface: u32,
    /// The captured bytes, starting at the link-layer header.
    pub data: &'a [u8],
}

impl Frame<'_> {
    /// True when the capture kept fewer bytes than were on the wire.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
    }
}

/// Anything that yields frames one at a time (a lending iterator).
pub trait FrameSource {
    /// The next frame, `Ok(None)` at the end of input.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, SourceError>;
}

/// Why a source could not deliver frames. Messages name the input and, when
/// there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file does not exist or cannot be opened.
    #[error("cannot open {path}: {reason}")]
    Open {
        /// The path as given.
        path: String,
        /// What the OS said plus what to do.
        reason: String,
    },
    /// The input is not a capture file; `found` says what it looks like instead.
    #[error("{path} is not a pcap or pcapng capture: {found}")]
    NotACapture {
        /// The path as given (`-` for stdin).
        path: String,
        /// What the first bytes look like.
        found: String,
    },
    /// The file is a capture but its structure is broken beyond recovery at `offset`.
    #[error("{path}: malformed capture at byte {offset}: {reason}")]
    Malformed {
        /// The path as given.
        path: String,
        /// Byte offset (in the decompressed stream) where reading stopped.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// Reading failed part-way (I/O or decompression error).
    #[error("{path}: read error: {reason}")]
    Read {
        /// The path as given.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// libpcap refused the capture for lack of privilege.
    #[error("no permission to capture on {interface}: {detail}; run as root, or grant the binary the capability: sudo setcap cap_net_raw,cap_net_admin=eip {binary}")]
    Permission {
        /// Interface name.
        interface: String,
        /// libpcap's own message.
        detail: String,
        /// Path of the running binary, for the setcap hint.
        binary: String,
    },
    /// The interface does not exist.
    #[error("no such interface {interface}; available: {available}")]
    NoSuchInterface {
        /// The name asked for.
        interface: String,
        /// Comma-separated real interface names.
        available: String,
    },
    /// libpcap rejected the BPF filter.
    #[error("bad filter {filter:?}: {message}; see `man pcap-filter` for the syntax")]
    BadFilter {
        /// The filter expression.
        filter: String,
        /// libpcap's message.
        message: String,
    },
    /// Any other libpcap failure.
    #[error("libpcap: {0}")]
    Pcap(String),
    /// Writing a capture file failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The output path.
        path: String,
        /// What went wrong.
        reason: String,
    },
}
