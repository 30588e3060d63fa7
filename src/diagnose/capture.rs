//! Findings about the evidence itself: frames cut by the snap length, headers
//! that could not be decoded, packets the kernel dropped.

use super::{Finding, Severity};

/// Frames listed as evidence for capture findings.
const EVIDENCE: usize = 20;

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
    /// Packets dropped by the kernel or interface (live capture only).
    pub dropped: u64,
    /// A problem that ended the input early (file cut short).
    pub input_cut: Option<String>,
}

impl CaptureQuality {
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

/// Findings about the capture's completeness.
pub fn diagnose(q: &CaptureQuality) -> Vec<Finding> {
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
    if q.dropped > 0 {
        out.push(base(
            "capture.drops",
            Severity::Warning,
            format!(
                "{} packets were dropped by the capture itself; loss figures may be inflated",
                q.dropped
            ),
            "raise the capture buffer (-B) or narrow the filter",
            Vec::new(),
        ));
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
