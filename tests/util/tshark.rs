//! tshark's TCP analysis flags for a capture file, as sorted frame-number sets: the
//! reference netsleuth's own TCP analysis is compared with.
//!
//! tshark is run as `tshark -n -r FILE` with [`PREFS`].
//! [`flag_frames`] runs one `-Y FLAG -T fields -e frame.number` per flag; [`analyze`]
//! gets all flags (and every frame's length) in a single pass, which is what tests
//! use because tshark takes about half a second to start. The two agree (checked by
//! `tshark_compare::downstream_loss_harness`).
//!
//! # How tshark's flags overlap (tshark 4.0, checked on real captures and in
//! `packet-tcp.c`)
//!
//! - A data segment below the highest sequence seen so far is classified exactly
//!   once, in this order: *spurious* (it lies wholly below what the other side has
//!   already ACKed), *fast* (the other side sent at least two duplicate ACKs for it,
//!   within 20 ms), *out-of-order* (it came less than the handshake's RTT — 3 ms when
//!   there was no handshake — after the highest segment and does not continue it),
//!   otherwise plain *retransmission*.
//! - When displayed, a **fast retransmission is also `tcp.analysis.retransmission`**,
//!   and so is a **spurious retransmission**: `retransmission` = fast ∪ spurious ∪
//!   plain. Observed: every `fast_retransmission` frame is in `retransmission`.
//! - **`out_of_order` never overlaps `retransmission`**. On a veth the handshake RTT
//!   is tens of microseconds, yet SACK-driven retransmissions sent right after new
//!   data are still classified out-of-order: in a 3 MB upload with 3 % loss tshark
//!   flagged 36 retransmissions (23 fast) and 49 out-of-order segments, all of them
//!   resent data. A tool that calls those retransmissions disagrees with tshark by
//!   design; the comparison treats the kinds separately and lists exceptions.
//! - `lost_segment` ("previous segment not captured") marks the first segment after
//!   a gap in what the capture saw: upstream loss. `ack_lost_segment` marks an ACK of
//!   data the capture never saw (loss at the capture point itself). Neither appears
//!   with downstream loss, where the capture holds the original.
//! - `duplicate_ack`, `zero_window`, `window_full`, `keep_alive` are independent
//!   of the retransmission kinds; a frame may carry several (e.g. `window_full` on a
//!   retransmission is possible). `zero_window` is set on the zero-window ACK, not on
//!   probes (`zero_window_probe`, not compared).
//!
//! Preferences: `tcp.analyze_sequence_numbers` must be TRUE (the default, set
//! explicitly). `tcp.desegment_tcp_streams` is set FALSE for speed: with it on, the
//! HTTP dissector (port 8080) reassembles a 1 MB upload looking for the end of the
//! headers and one tshark run takes 3 s instead of 0.5 s. It, like
//! `tcp.relative_sequence_numbers`, `tcp.track_bytes_in_flight`,
//! `tcp.calculate_timestamps` and disabling the HTTP dissector, was checked not to
//! change any flag set on the four scenarios' captures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Every tshark analysis flag the harness knows, in output order.
pub const FLAGS: [&str; 10] = [
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.ack_lost_segment",
    "tcp.analysis.zero_window",
    "tcp.analysis.window_full",
    "tcp.analysis.keep_alive",
];

/// Preferences passed to every tshark run.
pub const PREFS: [&str; 4] = [
    "-o",
    "tcp.analyze_sequence_numbers:TRUE",
    "-o",
    "tcp.desegment_tcp_streams:FALSE",
];

/// True when tshark can run; otherwise prints why `test` skips.
pub fn available(test: &str) -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping {test}: tshark is not installed (scripts/install-deps)");
    }
    ok
}

fn tshark(file: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(PREFS)
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark {args:?} on {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Frames carrying `field` (e.g. `tcp.analysis.retransmission`): one tshark run,
/// `-Y FIELD -T fields -e frame.number`.
pub fn flag_frames(file: &Path, field: &str) -> BTreeSet<u64> {
    tshark(file, &["-Y", field, "-T", "fields", "-e", "frame.number"])
        .lines()
        .map(|l| l.trim().parse().expect("frame number"))
        .collect()
}

/// What tshark says about a capture.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// Number of frames in the file.
    pub frames: u64,
    /// Largest frame length (bytes on the wire, link header included).
    pub max_frame_len: usize,
    /// For each of [`FLAGS`], the frames carrying it (possibly empty).
    pub flags: BTreeMap<&'static str, BTreeSet<u64>>,
}

impl Analysis {
    /// Frames with `flag` (a name from [`FLAGS`], with or without `tcp.analysis.`).
    pub fn get(&self, flag: &str) -> &BTreeSet<u64> {
        let full = if flag.starts_with("tcp.analysis.") {
            flag.to_string()
        } else {
            format!("tcp.analysis.{flag}")
        };
        self.flags
            .get(full.as_str())
            .unwrap_or_else(|| panic!("unknown tshark flag {flag}"))
    }

    pub fn count(&self, flag: &str) -> usize {
        self.get(flag).len()
    }

    /// True when no flag is set on any frame.
    pub fn is_clean(&self) -> bool {
        self.flags.values().all(BTreeSet::is_empty)
    }

    /// One line: `retransmission=36 fast_retransmission=23 ...` (non-empty only).
    pub fn summary(&self) -> String {
        let parts: Vec<String> = FLAGS
            .iter()
            .filter(|f| !self.flags[*f].is_empty())
            .map(|f| format!("{}={}", &f["tcp.analysis.".len()..], self.flags[f].len()))
            .collect();
        format!(
            "{} frames, max {} B: {}",
            self.frames,
            self.max_frame_len,
            {
                if parts.is_empty() {
                    "no flags".to_string()
                } else {
                    parts.join(" ")
                }
            }
        )
    }
}

/// All of [`FLAGS`] and the frame lengths in one tshark pass.
pub fn analyze(file: &Path) -> Analysis {
    let mut args = vec![
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=f",
        "-e",
        "frame.number",
        "-e",
        "frame.len",
    ];
    for f in FLAGS {
        args.extend(["-e", f]);
    }
    let out = tshark(file, &args);
    let mut a = Analysis {
        flags: FLAGS.iter().map(|f| (*f, BTreeSet::new())).collect(),
        ..Analysis::default()
    };
    for line in out.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 2 + FLAGS.len(), "tshark line: {line:?}");
        let frame: u64 = cols[0].parse().expect("frame number");
        let len: usize = cols[1].parse().expect("frame length");
        a.frames += 1;
        a.max_frame_len = a.max_frame_len.max(len);
        for (flag, col) in FLAGS.iter().zip(&cols[2..]) {
            if !col.is_empty() {
                a.flags.get_mut(flag).expect("flag").insert(frame);
            }
        }
    }
    a
}
