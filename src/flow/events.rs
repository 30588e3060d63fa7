//! The per-segment TCP analysis vocabulary, following Wireshark's `tcp.analysis`
//! flags so that people who know Wireshark recognise them.

/// One kind of per-segment TCP analysis flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpEventKind {
    /// Data (or SYN/FIN) sent again: `tcp.analysis.retransmission`.
    Retransmission,
    /// A retransmission right after duplicate ACKs asked for it:
    /// `tcp.analysis.fast_retransmission`.
    FastRetransmission,
    /// A retransmission of data the receiver had already acknowledged:
    /// `tcp.analysis.spurious_retransmission`.
    SpuriousRetransmission,
    /// An ACK repeating the previous one (the receiver saw a hole):
    /// `tcp.analysis.duplicate_ack`.
    DuplicateAck,
    /// A segment older than the newest one sent, arriving soon after it:
    /// `tcp.analysis.out_of_order`.
    OutOfOrder,
    /// The sequence number jumps past data the capture never saw ("previous segment
    /// not captured"): `tcp.analysis.lost_segment`.
    LostSegment,
    /// An ACK for data the capture never saw: `tcp.analysis.ack_lost_segment`.
    AckUnseen,
    /// The sender advertises a zero receive window: `tcp.analysis.zero_window`.
    ZeroWindow,
    /// The segment fills the receiver's advertised window: `tcp.analysis.window_full`.
    WindowFull,
    /// A keep-alive probe: `tcp.analysis.keep_alive`.
    KeepAlive,
}

impl TcpEventKind {
    /// Every kind, in report order.
    pub const ALL: [TcpEventKind; 10] = [
        TcpEventKind::Retransmission,
        TcpEventKind::FastRetransmission,
        TcpEventKind::SpuriousRetransmission,
        TcpEventKind::DuplicateAck,
        TcpEventKind::OutOfOrder,
        TcpEventKind::LostSegment,
        TcpEventKind::AckUnseen,
        TcpEventKind::ZeroWindow,
        TcpEventKind::WindowFull,
        TcpEventKind::KeepAlive,
    ];

    /// The stable snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpEventKind::Retransmission => "retransmission",
            TcpEventKind::FastRetransmission => "fast_retransmission",
            TcpEventKind::SpuriousRetransmission => "spurious_retransmission",
            TcpEventKind::DuplicateAck => "duplicate_ack",
            TcpEventKind::OutOfOrder => "out_of_order",
            TcpEventKind::LostSegment => "lost_segment",
            TcpEventKind::AckUnseen => "ack_unseen",
            TcpEventKind::ZeroWindow => "zero_window",
            TcpEventKind::WindowFull => "window_full",
            TcpEventKind::KeepAlive => "keep_alive",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// True for the three retransmission kinds.
    pub fn is_retransmission(self) -> bool {
        matches!(
            self,
            TcpEventKind::Retransmission
                | TcpEventKind::FastRetransmission
                | TcpEventKind::SpuriousRetransmission
        )
    }
}

/// The set of flags one segment earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpEvents(u16);

impl TcpEvents {
    /// Adds a flag.
    pub fn insert(&mut self, kind: TcpEventKind) {
        self.0 |= kind.bit();
    }

    /// True when the flag is set.
    pub fn contains(self, kind: TcpEventKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// True when no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flags set, in [`TcpEventKind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = TcpEventKind> {
        TcpEventKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }
}

/// How many of each flag one direction earned, and the first frames of each as
/// evidence (bounded). Allocated at the first flag: most connections earn
/// none, and a flow table of a million flows should not pay for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpEventCounts {
    inner: Option<Box<EventTally>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct EventTally {
    counts: [u64; 10],
    evidence: [Vec<u64>; 10],
}

/// Evidence frames kept per kind and direction.
pub const EVIDENCE_FRAMES: usize = 20;

impl TcpEventCounts {
    /// Records the flags of one segment.
    pub fn add(&mut self, events: TcpEvents, frame: u64) {
        if events.iter().next().is_none() {
            return;
        }
        let t = self.inner.get_or_insert_with(Box::default);
        for kind in events.iter() {
            let i = kind as usize;
            t.counts[i] += 1;
            if t.evidence[i].len() < EVIDENCE_FRAMES {
                t.evidence[i].push(frame);
            }
        }
    }

    /// How many segments earned `kind`.
    pub fn count(&self, kind: TcpEventKind) -> u64 {
        self.inner.as_ref().map_or(0, |t| t.counts[kind as usize])
    }

    /// The first frames that earned `kind`.
    pub fn frames(&self, kind: TcpEventKind) -> &[u64] {
        self.inner
            .as_ref()
            .map_or(&[][..], |t| &t.evidence[kind as usize])
    }

    /// All retransmissions, whatever their kind.
    pub fn retransmissions(&self) -> u64 {
        self.count(TcpEventKind::Retransmission)
            + self.count(TcpEventKind::FastRetransmission)
            + self.count(TcpEventKind::SpuriousRetransmission)
    }
}
