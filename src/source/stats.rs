//! Interface counters that a capture carries about itself: what the pcapng
//! Interface Statistics Block (ISB, block type 5) holds, written by
//! [`super::writer`] from libpcap's `pcap_stats` and read by [`super::file`]
//! from any pcapng (ours, dumpcap's, tshark's).
//!
//! Counters are cumulative since the capture started (the pcapng rule), so of
//! several ISBs for one interface the last one is the one that counts.

use super::Timestamp;

/// pcapng option codes inside an ISB.
pub(crate) mod isb_option {
    /// `isb_starttime`: when the counting began (64-bit timestamp, if units).
    pub const START_TIME: u16 = 2;
    /// `isb_endtime`: when the counters were read.
    pub const END_TIME: u16 = 3;
    /// `isb_ifrecv`: packets received from the interface.
    pub const IF_RECV: u16 = 4;
    /// `isb_ifdrop`: packets the interface dropped for lack of resources.
    pub const IF_DROP: u16 = 5;
    /// `isb_filteraccept`: packets the filter accepted.
    pub const FILTER_ACCEPT: u16 = 6;
    /// `isb_osdrop`: packets the operating system dropped (buffer full).
    pub const OS_DROP: u16 = 7;
}

/// The counters one Interface Statistics Block reports for one interface.
///
/// Every counter is optional: tools write only those they know (dumpcap writes
/// `isb_ifrecv` and `isb_ifdrop`, with the kernel's buffer drops in the latter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InterfaceStats {
    /// pcapng section (0-based) the interface belongs to; 0 when writing.
    pub section: u32,
    /// Interface index within its section (0 for our own captures).
    pub interface: u32,
    /// When the counters were read (the block's own timestamp).
    pub taken: Timestamp,
    /// Packets received (`isb_ifrecv`).
    pub received: Option<u64>,
    /// Packets the interface or its driver dropped (`isb_ifdrop`).
    pub dropped_by_interface: Option<u64>,
    /// Packets the operating system dropped because its buffer was full (`isb_osdrop`).
    pub dropped_by_os: Option<u64>,
}

impl InterfaceStats {
    /// Packets the capture itself lost on this interface, whoever dropped them.
    pub fn dropped(&self) -> u64 {
        self.dropped_by_interface
            .unwrap_or(0)
            .saturating_add(self.dropped_by_os.unwrap_or(0))
    }
}
