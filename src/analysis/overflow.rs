//! Findings past the in-memory limit: counted, grouped and written, not held.
//!
//! Why: a SYN flood or a scan makes one finding per connection, millions of
//! them, and each held finding costs about a kilobyte with its story. The
//! analyzer holds findings (stories are built from them at the end, and later
//! rules amend some of them by index) up to [`held_for_memory`]; past it, a connection's
//! findings join their group (`diagnose::group::Grouper`) and, for JSON
//! output, the record stream (`--jsonl`) or a spill file (`--json`), and are
//! dropped. Findings that a later rule will amend (a lost SYN, a dead pooled
//! connection's request) are always held; so is everything with `--all`.
//!
//! What the user sees: the text report's summary and counts include every
//! finding; stories are told for the held ones; JSON output lists every
//! finding, the overflowed ones after the others, without a story.

use serde::Serialize;

use crate::diagnose::{Finding, Severity};

/// Memory one held finding costs with its story and names (measured on the
/// corpus: 28,000 more findings, 31 MB more peak RSS).
pub const FINDING_BYTES: usize = 1_100;

/// Findings held in memory before the rest overflow: those a sixteenth of
/// `--memory` holds (15,000 of 256M), so a capture three times as long
/// needs no more memory.
pub fn held_for_memory(bytes: usize) -> usize {
    (bytes / 16 / FINDING_BYTES).max(100)
}

/// What overflowed: counts for the summary and the exit code.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Overflowed {
    /// Findings not held.
    pub findings: u64,
    /// Calls (connections, or DNS lookups) whose findings were not held.
    pub calls: u64,
    /// Of the findings, errors.
    pub errors: u64,
    /// Of the findings, warnings.
    pub warnings: u64,
    /// The worst severity among them.
    #[serde(skip)]
    pub worst: Option<Severity>,
}

impl Overflowed {
    /// Counts one call's findings.
    pub fn count(&mut self, batch: &[Finding]) {
        if batch.is_empty() {
            return;
        }
        self.calls += 1;
        for f in batch {
            self.findings += 1;
            match f.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
                Severity::Info => {}
            }
            self.worst = self.worst.max(Some(f.severity));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(severity: Severity) -> Finding {
        Finding {
            kind: "tcp.connect_timeout",
            severity,
            summary: String::new(),
            next_step: String::new(),
            frames: Vec::new(),
            conn: Some(1),
            client: None,
            server: None,
            time: None,
            endpoint: None,
            goroutines: Vec::new(),
        }
    }

    #[test]
    fn counts_calls_findings_and_the_worst() {
        let mut o = Overflowed::default();
        o.count(&[]);
        assert_eq!(o.calls, 0, "a call without findings is not counted");
        o.count(&[f(Severity::Warning), f(Severity::Info)]);
        o.count(&[f(Severity::Error)]);
        assert_eq!((o.calls, o.findings, o.errors, o.warnings), (2, 3, 1, 1));
        assert_eq!(o.worst, Some(Severity::Error));
    }
}
