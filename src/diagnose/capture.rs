//! Findings about the evidence itself: frames cut by the snap length, headers
//! that could not be decoded, packets the capture itself dropped.
//!
//! `capture.drops` comes from the counters a pcapng carries about itself
//! (Interface Statistics Blocks: `netsleuth capture --pcapng`, dumpcap, tshark):
//! packets the kernel's buffer or the interface dropped before the capture saw them.
//! Such a drop leaves a hole in a TCP stream that looks like loss. So the finding
//! also counts the connections with holes the capture never saw ([`CaptureHoles`]),
//! and [`annotate_losses`] adds to each `tcp.retransmissions` finding that located
//! loss before the capture point that those holes may be the capture's own.
//!
//! Thresholds:
//! * `capture.drops` is a warning for any drop and an error from
//!   [`DROPS_ERROR_PERCENT`] of the packets the capture should have seen: at that
//!   rate most holes in a busy capture can be the capture's, and loss figures
//!   mean little.

use std::collections::HashSet;

use super::{Finding, Severity};
use crate::flow::conn::ConnRecord;
use crate::source::InterfaceStats;

/// Frames listed as evidence for capture findings.
const EVIDENCE: usize = 20;
/// Drops, as a share of the packets the capture should have seen (received, or
/// read plus dropped when larger), from which `capture.drops` is an error.
pub const DROPS_ERROR_PERCENT: f64 = 1.0;
/// Connection ids with holes remembered for [`annotate_losses`]; beyond it
/// connections are counted only.
const HOLE_CONNS: usize = 100_000;
/// Connection ids named in the `capture.drops` summary.
const HOLE_CONNS_NAMED: usize = 5;

/// Counters of capture quality collected while reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureQuality {
    /// Frames read.
    pub frames: u64,
    /// Frames shorter than on the wire.
    pub truncated: u64,
    /// First truncated frames.
    pub truncated_frames: Vec<u64>,
    /// Frames whose headers could not be decoded.
    pub malformed: u64,
    /// First malformed frames, with the reason of the first one.
    pub malformed_frames: Vec<u64>,
    /// Why the first malformed frame failed.
    pub first_malformed_reason: Option<String>,
    /// The capture's own counters (pcapng Interface Statistics Blocks), summed
    /// over files and interfaces.
    pub drops: CaptureDrops,
    /// A problem that ended the input early (file cut short).
    pub input_cut: Option<String>,
}

/// What the capturing tool said it lost, summed over interfaces and files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureDrops {
    /// Interfaces that reported counters.
    pub interfaces: u64,
    /// Packets the interfaces received (`isb_ifrecv`), where reported.
    pub received: u64,
    /// Dropped by the operating system, its buffer full (`isb_osdrop`).
    pub by_os: u64,
    /// Dropped by the interface or its driver (`isb_ifdrop`; dumpcap counts the
    /// kernel buffer's drops here).
    pub by_interface: u64,
}

impl CaptureDrops {
    /// Every packet the capture lost.
    pub fn total(&self) -> u64 {
        self.by_os.saturating_add(self.by_interface)
    }
}

/// Connections whose streams have holes the capture never saw: bytes a sender
/// proved it sent (acknowledged, or filled later by a resend) that are missing
/// from the capture. Fed one [`ConnRecord`] at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureHoles {
    /// Connections with at least one hole.
    pub conns: u64,
    /// Of those, connections with holes never filled (reassembly gaps).
    pub unfilled_conns: u64,
    /// Bytes in holes never filled.
    pub gap_bytes: u64,
    /// Holes a resend filled later (loss located before the capture point).
    pub filled: u64,
    /// Ids of the connections with holes (bounded).
    ids: Vec<u64>,
    /// Ids of the connections whose holes were filled by resends (bounded).
    filled_ids: HashSet<u64>,
}

impl CaptureHoles {
    /// Notes one finished connection.
    pub fn note(&mut self, c: &ConnRecord) {
        let gaps: u64 = c.streams.iter().map(|s| s.gaps).sum();
        let filled: u64 = c.loss.iter().map(|l| l.upstream).sum();
        if gaps == 0 && filled == 0 {
            return;
        }
        self.conns += 1;
        if gaps > 0 {
            self.unfilled_conns += 1;
            self.gap_bytes += c.streams.iter().map(|s| s.gap_bytes).sum::<u64>();
        }
        self.filled += filled;
        if self.ids.len() < HOLE_CONNS {
            self.ids.push(c.id);
        }
        if filled > 0 && self.filled_ids.len() < HOLE_CONNS {
            self.filled_ids.insert(c.id);
        }
    }
}

impl CaptureQuality {
    /// Adds the counters one file carried (its latest ISB per interface).
    pub fn interface_stats(&mut self, stats: &[InterfaceStats]) {
        for s in stats {
            let d = &mut self.drops;
            d.interfaces += 1;
            d.received = d.received.saturating_add(s.received.unwrap_or(0));
            d.by_os = d.by_os.saturating_add(s.dropped_by_os.unwrap_or(0));
            d.by_interface = d
                .by_interface
                .saturating_add(s.dropped_by_interface.unwrap_or(0));
        }
    }

    /// Notes a truncated frame.
    pub fn truncated(&mut self, frame: u64) {
        self.truncated += 1;
        if self.truncated_frames.len() < EVIDENCE {
            self.truncated_frames.push(frame);
        }
    }

    /// Notes a frame that did not decode, with why.
    pub fn malformed(&mut self, frame: u64, reason: &str) {
        self.malformed += 1;
        if self.malformed_frames.len() < EVIDENCE {
            self.malformed_frames.push(frame);
        }
        if self.first_malformed_reason.is_none() {
            self.first_malformed_reason = Some(reason.to_string());
        }
    }
}

/// Findings about the capture's completeness; `holes` are the connections the
/// drops may explain.
pub fn diagnose(q: &CaptureQuality, holes: &CaptureHoles) -> Vec<Finding> {
    let mut out = Vec::new();
    let base = |kind, severity, summary: String, next: &str, frames: Vec<u64>| Finding {
        kind,
        severity,
        summary,
        next_step: next.to_string(),
        frames,
        conn: None,
        client: None,
        server: None,
        time: None,
        endpoint: None,
        goroutines: Vec::new(),
    };
    if q.truncated > 0 {
        out.push(base(
            "capture.truncated",
            Severity::Info,
            format!(
                "{} of {} frames were cut by the snap length; payload-level analysis may be incomplete",
                q.truncated, q.frames
            ),
            "capture with a larger snap length (-s 0 keeps whole packets)",
            q.truncated_frames.clone(),
        ));
    }
    if q.malformed > 0 {
        out.push(base(
            "capture.malformed",
            Severity::Warning,
            format!(
                "{} frames could not be fully decoded (first: {})",
                q.malformed,
                q.first_malformed_reason.as_deref().unwrap_or("unknown")
            ),
            "check the capture's link type and the capturing tool; the frames are listed for a closer look",
            q.malformed_frames.clone(),
        ));
    }
    if let Some(f) = drops(q, holes) {
        out.push(f);
    }
    if let Some(cut) = &q.input_cut {
        out.push(base(
            "capture.truncated",
            Severity::Warning,
            format!("the capture file ends early: {cut}"),
            "the capture was probably copied while still being written; copy it again after the capture stops",
            Vec::new(),
        ));
    }
    out
}

/// `capture.drops`: how many packets the capture lost, and which holes in TCP
/// streams may be its own rather than the network's.
fn drops(q: &CaptureQuality, holes: &CaptureHoles) -> Option<Finding> {
    let d = q.drops;
    let lost = d.total();
    if lost == 0 {
        return None;
    }
    let expected = d.received.max(q.frames.saturating_add(lost));
    let percent = lost as f64 * 100.0 / expected.max(1) as f64;
    let severity = if percent >= DROPS_ERROR_PERCENT {
        Severity::Error
    } else {
        Severity::Warning
    };
    let by = match (d.by_os, d.by_interface) {
        (0, i) => format!("{i} by the interface"),
        (o, 0) => format!("{o} by the kernel's capture buffer"),
        (o, i) => format!("{o} by the kernel's capture buffer, {i} by the interface"),
    };
    let mut summary = format!(
        "the capture itself lost {lost} packets ({by}), {percent:.2}% of the {expected} it should have seen; "
    );
    if holes.conns == 0 {
        summary.push_str(
            "no TCP stream has a hole the capture never saw, so any loss reported is the network's",
        );
    } else {
        let named: Vec<String> = holes
            .ids
            .iter()
            .take(HOLE_CONNS_NAMED)
            .map(u64::to_string)
            .collect();
        let more = if holes.conns as usize > named.len() {
            ", ..."
        } else {
            ""
        };
        summary.push_str(&format!(
            "{} connections (conn {}{more}) have holes the capture never saw ({} never filled, {} bytes; {} filled by resends): they may be the capture's drops, not the network's",
            holes.conns,
            named.join(", "),
            holes.unfilled_conns,
            holes.gap_bytes,
            holes.filled
        ));
    }
    Some(Finding {
        kind: "capture.drops",
        severity,
        summary,
        next_step: if holes.conns == 0 {
            "capture with a larger buffer (--buffer-size), a narrower filter or a smaller snap length so the capture keeps up"
        } else {
            "capture again with a larger buffer (--buffer-size), a narrower filter or a smaller snap length before blaming the network for loss in those connections"
        }
        .into(),
        frames: Vec::new(),
        conn: None,
        client: None,
        server: None,
        time: None,
        endpoint: None,
        goroutines: Vec::new(),
    })
}

/// When the capture dropped packets, says on each `tcp.retransmissions` finding
/// whose connection had holes filled by resends that the capture may have
/// missed the originals itself: those holes are not proof of loss upstream.
pub fn annotate_losses(findings: &mut [Finding], q: &CaptureQuality, holes: &CaptureHoles) {
    let lost = q.drops.total();
    if lost == 0 {
        return;
    }
    for f in findings.iter_mut().filter(|f| {
        f.kind == "tcp.retransmissions" && f.conn.is_some_and(|c| holes.filled_ids.contains(&c))
    }) {
        f.summary = format!(
            "{}; but the capture itself dropped {lost} packets, so holes counted as lost before the capture point may be the capture's own",
            f.summary
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quality(received: u64, os: u64, iface: u64) -> CaptureQuality {
        let mut q = CaptureQuality {
            frames: 100,
            ..CaptureQuality::default()
        };
        q.interface_stats(&[InterfaceStats {
            received: Some(received),
            dropped_by_os: Some(os),
            dropped_by_interface: Some(iface),
            ..InterfaceStats::default()
        }]);
        q
    }

    fn retrans(conn: u64) -> Finding {
        Finding {
            kind: "tcp.retransmissions",
            severity: Severity::Warning,
            summary: "lost before the capture point".into(),
            next_step: String::new(),
            frames: Vec::new(),
            conn: Some(conn),
            client: None,
            server: None,
            time: None,
            endpoint: None,
            goroutines: Vec::new(),
        }
    }

    #[test]
    fn severity_follows_the_share_of_drops() {
        let holes = CaptureHoles::default();
        let none = diagnose(&quality(1000, 0, 0), &holes);
        assert!(none.iter().all(|f| f.kind != "capture.drops"));
        let few = diagnose(&quality(1000, 5, 0), &holes);
        assert_eq!(few[0].severity, Severity::Warning);
        assert!(few[0].summary.contains("network's"), "{}", few[0].summary);
        let many = diagnose(&quality(1000, 10, 0), &holes);
        assert_eq!(many[0].severity, Severity::Error);
        // Without an ifrecv count, frames read plus drops is the base.
        let no_recv = diagnose(&quality(0, 0, 2), &holes);
        assert_eq!(no_recv[0].severity, Severity::Error);
        assert!(
            no_recv[0].summary.contains("1.96%"),
            "{}",
            no_recv[0].summary
        );
    }

    #[test]
    fn filled_holes_are_not_proof_of_upstream_loss_when_the_capture_dropped() {
        let holes = CaptureHoles {
            conns: 1,
            filled: 2,
            ids: vec![7],
            filled_ids: HashSet::from([7]),
            ..CaptureHoles::default()
        };
        let mut f = vec![retrans(7), retrans(8)];
        annotate_losses(&mut f, &quality(100, 0, 0), &holes);
        assert!(!f[0].summary.contains("capture's own"));
        annotate_losses(&mut f, &quality(100, 1, 0), &holes);
        assert!(f[0].summary.contains("capture's own"), "{}", f[0].summary);
        assert!(!f[1].summary.contains("capture's own"));
    }
}
