//! The status line `watch` keeps at the bottom of a terminal: packets, their
//! rate, open flows, the kernel's drops and the findings so far, redrawn
//! about once a second on stderr, and cleared before a finding is printed
//! (the findings go to stdout, often the same terminal).

use std::cell::Cell;
use std::io::Write;
use std::time::Instant;

use crate::analysis::pipeline::LiveTick;

/// Erase the terminal's current line and go back to its start.
const CLEAR: &str = "\r\x1b[2K";

/// The status line, shared by the tick callback and the finding printer.
#[derive(Debug)]
pub(super) struct StatusLine {
    shown: Cell<bool>,
    findings: Cell<u64>,
    last: Cell<Option<(Instant, u64)>>,
}

impl StatusLine {
    pub(super) fn new() -> StatusLine {
        StatusLine {
            shown: Cell::new(false),
            findings: Cell::new(0),
            last: Cell::new(None),
        }
    }

    /// Findings told so far (printed or not).
    pub(super) fn add_findings(&self, n: usize) {
        self.findings.set(self.findings.get() + n as u64);
    }

    /// Redraws the line for `tick`.
    pub(super) fn draw(&self, tick: &LiveTick) {
        let now = Instant::now();
        let rate = match self.last.get() {
            Some((then, frames)) => {
                let secs = now.duration_since(then).as_secs_f64();
                if secs > 0.0 {
                    (tick.frames.saturating_sub(frames) as f64 / secs).round() as u64
                } else {
                    0
                }
            }
            None => 0,
        };
        self.last.set(Some((now, tick.frames)));
        let dropped = tick.capture.map_or(0, |c| c.dropped_by_kernel);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "{CLEAR}netsleuth: {} packets ({rate}/s), {} open flows, kernel dropped {dropped}, {} findings",
            tick.frames,
            tick.open_flows,
            self.findings.get()
        );
        let _ = err.flush();
        self.shown.set(true);
    }

    /// Clears the line if it is showing, so the next output starts clean.
    pub(super) fn clear(&self) {
        if self.shown.replace(false) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{CLEAR}");
            let _ = err.flush();
        }
    }
}
