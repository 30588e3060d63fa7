//! `netsleuth capture`: live capture, printed as packet lines or written to files.
//!
//! The stop flag is set by the binary's SIGINT/SIGTERM handler; the live source then
//! drains what the kernel still holds, the writer is flushed, and the statistics
//! are printed, so a clean stop loses nothing that was captured.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::{CommandError, PacketFormat};
use crate::base::{LinkType, Timestamp};
use crate::decode;
use crate::report::packet_json::{write_packet_json, PacketRecord};
use crate::report::packet_line::write_packet_line;
use crate::source::live::{CaptureStats, LiveOptions, LiveSource};
use crate::source::writer::{CaptureWriter, OutputFormat, Rotation};
use crate::source::{Frame, FrameSource, InterfaceStats};

/// Where captured packets go when they are written to disk.
#[derive(Debug, Clone)]
pub struct WriteTarget {
    /// First output file.
    pub path: PathBuf,
    /// pcap or pcapng.
    pub format: OutputFormat,
    /// Rotation limits.
    pub rotation: Rotation,
}

/// What `capture` should do.
#[derive(Debug, Clone, Default)]
pub struct CaptureConfig {
    /// Interface, snap length, filter and the rest.
    pub live: LiveOptions,
    /// Write to files instead of printing.
    pub write: Option<WriteTarget>,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Text or JSON lines when printing.
    pub format: PacketFormat,
    /// `--pprof URL` and how often: Go goroutine dumps fetched during the
    /// capture into the sidecar directory beside the (first) file.
    pub pprof: Option<(crate::goruntime::fetch::PprofUrl, std::time::Duration)>,
}

/// What a finished capture reports.
#[derive(Debug, Clone, Default)]
pub struct CaptureOutcome {
    /// Packets taken from libpcap and printed or written.
    pub captured: u64,
    /// libpcap's counters.
    pub stats: CaptureStats,
    /// Files written, in order.
    pub files: Vec<PathBuf>,
}

/// Runs the capture until `stop` is set, the count is reached or the duration ends.
/// `status` receives the "listening on" line and the final statistics.
pub fn run(
    config: &CaptureConfig,
    stop: Arc<AtomicBool>,
    out: &mut dyn Write,
    status: &mut dyn Write,
) -> Result<CaptureOutcome, CommandError> {
    let mut source = LiveSource::open(&config.live, stop)?;
    let mut writer = match &config.write {
        Some(target) => Some(CaptureWriter::create(
            &target.path,
            target.format,
            source.link_type(),
            config.live.snaplen,
            target.rotation,
        )?),
        None => None,
    };
    if let Some(w) = writer.as_mut().filter(|w| w.format_keeps_stats()) {
        // Counters from the start, so size rotation keeps room for them.
        w.set_stats(interface_stats(&source.stats()?));
    }
    writeln!(
        status,
        "listening on {}, link-type {}, snapshot length {} bytes{}",
        config.live.interface,
        source.link_type(),
        config.live.snaplen,
        match &config.write {
            Some(t) => format!(", writing to {}", t.path.display()),
            None => String::new(),
        }
    )?;
    let fetcher = match (&config.pprof, &config.write) {
        (Some((url, every)), Some(target)) => {
            let dir = crate::goruntime::fetch::sidecar_dir(&target.path);
            writeln!(
                status,
                "fetching goroutine dumps from {} every {} into {}",
                url.display(2).trim_end_matches("?debug=2"),
                crate::base::human_duration(i64::try_from(every.as_nanos()).unwrap_or(i64::MAX)),
                dir.display()
            )?;
            Some(
                crate::goruntime::fetch::Fetcher::start(url.clone(), *every, dir.clone())
                    .map_err(|e| CommandError::Usage(format!("{}: {e}", dir.display())))?,
            )
        }
        _ => None,
    };
    status.flush()?;

    let mut captured = 0u64;
    let mut first = None;
    while config.count.is_none_or(|c| captured < c) {
        let Some(frame) = source.next_frame()? else {
            break;
        };
        captured += 1;
        match writer.as_mut() {
            // The file being closed ends with the drop counters as they are now.
            Some(w) if w.format_keeps_stats() && w.rotation_due(&frame) => {
                let owned = OwnedFrame::from(&frame);
                w.set_stats(interface_stats(&source.stats()?));
                w.write(&owned.frame())?;
            }
            Some(w) => w.write(&frame)?,
            None => {
                let first_ts = *first.get_or_insert(frame.ts);
                let packet = decode::decode(frame.link, frame.data);
                match config.format {
                    PacketFormat::Text => write_packet_line(out, &frame, &packet, first_ts)?,
                    PacketFormat::Json => {
                        write_packet_json(out, &PacketRecord::new(&frame, &packet, first_ts))?
                    }
                }
                // Live output is read as it happens, often by another program.
                out.flush()?;
            }
        }
    }
    let stats = source.stats()?;
    let fetched = fetcher.map(crate::goruntime::fetch::Fetcher::finish);
    let files = match writer.as_mut() {
        Some(w) => {
            w.finish(Some(interface_stats(&stats)))?;
            w.files().to_vec()
        }
        None => Vec::new(),
    };
    out.flush()?;
    writeln!(status, "{captured} packets captured")?;
    writeln!(status, "{} packets received by filter", stats.received)?;
    writeln!(
        status,
        "{} packets dropped by kernel",
        stats.dropped_by_kernel
    )?;
    writeln!(
        status,
        "{} packets dropped by interface",
        stats.dropped_by_interface
    )?;
    for file in &files {
        writeln!(status, "wrote {}", file.display())?;
    }
    if let Some(f) = fetched {
        writeln!(
            status,
            "wrote {} goroutine dumps to {}{}",
            f.written,
            f.dir.display(),
            match &f.first_error {
                Some(e) => format!(" ({} fetches failed, the first: {e})", f.failed),
                None => String::new(),
            }
        )?;
    }
    status.flush()?;
    Ok(CaptureOutcome {
        captured,
        stats,
        files,
    })
}

/// libpcap's counters as an Interface Statistics Block carries them, read now
/// (wall-clock time: this is the capture itself). Linux libpcap counts the
/// kernel's buffer drops in `ps_drop` (`isb_osdrop`) and the driver's in
/// `ps_ifdrop` (`isb_ifdrop`).
fn interface_stats(stats: &CaptureStats) -> InterfaceStats {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    InterfaceStats {
        section: 0,
        interface: 0,
        taken: Timestamp(now),
        received: Some(u64::from(stats.received)),
        dropped_by_interface: Some(u64::from(stats.dropped_by_interface)),
        dropped_by_os: Some(u64::from(stats.dropped_by_kernel)),
    }
}

/// A frame copied out of the live source's buffer, so the source can be asked
/// for its counters before the frame is written.
struct OwnedFrame {
    number: u64,
    ts: Timestamp,
    orig_len: u32,
    link: LinkType,
    data: Vec<u8>,
}

impl OwnedFrame {
    fn from(f: &Frame<'_>) -> OwnedFrame {
        OwnedFrame {
            number: f.number,
            ts: f.ts,
            orig_len: f.orig_len,
            link: f.link,
            data: f.data.to_vec(),
        }
    }

    fn frame(&self) -> Frame<'_> {
        Frame {
            number: self.number,
            ts: self.ts,
            orig_len: self.orig_len,
            link: self.link,
            interface: 0,
            data: &self.data,
        }
    }
}
