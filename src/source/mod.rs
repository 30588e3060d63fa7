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

use std::fmt;

/// A link-layer header type, as numbered by the tcpdump.org LINKTYPE_ registry.
///
/// Kept open (a plain number inside) so that unknown link types reach the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP, version taken from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL but the family is big-endian.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture, version 1 (16-byte header).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux "cooked" capture, version 2 (20-byte header), what `-i any` gives.
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// Some platforms' DLT_RAW value (12), which pcap files may carry verbatim.
    pub const RAW_DLT12: LinkType = LinkType(12);
    /// Some platforms' DLT_RAW value (14), which pcap files may carry verbatim.
    pub const RAW_DLT14: LinkType = LinkType(14);

    /// A short lowercase name, as `tcpdump` prints it, or `linktype N`.
    pub fn name(self) -> String {
        let known = match self {
            LinkType::NULL => "null",
            LinkType::ETHERNET => "ethernet",
            LinkType::RAW | LinkType::RAW_DLT12 | LinkType::RAW_DLT14 => "raw",
            LinkType::LOOP => "loop",
            LinkType::LINUX_SLL => "linux_sll",
            LinkType::IPV4 => "ipv4",
            LinkType::IPV6 => "ipv6",
            LinkType::LINUX_SLL2 => "linux_sll2",
            other => return format!("linktype {}", other.0),
        };
        known.to_string()
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A point in packet time: nanoseconds since the Unix epoch.
///
/// Packet time, never wall-clock time, drives every later stage, so the same
/// input always gives the same output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From seconds and a sub-second part counted in `units_per_sec` units.
    pub fn from_parts(secs: i64, frac: u64, units_per_sec: u64) -> Timestamp {
        let nanos = if units_per_sec == 0 {
            0
        } else if units_per_sec <= 1_000_000_000 {
            frac.saturating_mul(1_000_000_000 / units_per_sec)
        } else {
            frac / (units_per_sec / 1_000_000_000)
        };
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos.min(i64::MAX as u64) as i64),
        )
    }

    /// Whole seconds since the epoch (rounded towards negative infinity).
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Nanoseconds within the second, 0..1e9.
    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }

    /// Signed duration `self - earlier` in nanoseconds.
    pub fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

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
