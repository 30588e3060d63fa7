//! Capture files through the filter, the decoder and the flow table into an
//! [`Analyzer`]: on this thread, or with the flow stage on a second one
//! (`flow::relay`: the same calls in the same order, so the same output).

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{AnalysisError, AnalysisOutput, Analyzer};
use crate::base::Timestamp;
use crate::decode::{self, ProblemKind};
use crate::diagnose::capture::CaptureQuality;
use crate::flow::relay::relay;
use crate::flow::table::{FlowConfig, FlowSink, FlowTable, FlowTableStats};
use crate::source::file::FileSource;
use crate::source::filter::FrameFilter;
use crate::source::live::{CaptureStats, LiveEvent, LiveSource};
use crate::source::{Frame, FrameSource, SourceError};

/// Frames between progress calls (a call costs far more than a frame).
const PROGRESS_EVERY: u64 = 8192;

/// How often [`read_live`] tells how the capture goes.
const LIVE_TICK: Duration = Duration::from_secs(1);

/// How a live capture goes, for a status line and the capture metrics.
#[derive(Debug, Clone, Copy)]
pub struct LiveTick {
    /// Packets read so far.
    pub frames: u64,
    /// Conversations open in the flow table.
    pub open_flows: usize,
    /// libpcap's counters (kernel and interface drops), when it gives them.
    pub capture: Option<CaptureStats>,
}

/// What [`read_live`] tells its caller as it goes.
pub trait LiveHooks {
    /// A packet, before the analysis sees it.
    fn frame(&mut self, frame: &Frame<'_>) {
        let _ = frame;
    }
    /// The analysis has seen the packet (and told its output what it found).
    fn after_frame(&mut self) {}
    /// How the capture goes, about once a second.
    fn tick(&mut self, tick: &LiveTick);
}

/// A live capture without a packet for this long moves the clock itself.
const LIVE_IDLE: Duration = Duration::from_secs(1);

/// How far behind the wall clock a quiet live capture's clock is set: a
/// packet stamped just before a wake-up may still be on its way through the
/// kernel's buffer, and must not arrive after its own time-out.
const LIVE_CLOCK_LAG: Duration = Duration::from_secs(1);

/// How to read.
#[derive(Debug, Clone, Copy)]
pub struct ReadConfig<'a> {
    /// Capture files, read one after the other (frame numbers continue).
    pub paths: &'a [String],
    /// Flow table settings.
    pub flow: FlowConfig,
    /// 1: everything on this thread; otherwise the flow stage on a second.
    pub threads: usize,
}

/// Told now and then how far reading is: bytes of input read so far over all
/// files (decompressed for gzip input), and whether the current file is
/// gzip'd (so its size on disk is no total).
pub type Progress<'a> = &'a (dyn Fn(u64, bool) + Sync);

/// What the reading side knows at the end.
#[derive(Debug)]
pub struct ReadOutcome {
    /// Frames read, truncated, malformed; the capture's own drop counters.
    pub quality: CaptureQuality,
    /// The flow table's counters.
    pub stats: FlowTableStats,
}

/// What the reading side tells the analyzer besides the flow events, in
/// order with them.
enum Note {
    /// The key log text of a pcapng Decryption Secrets Block.
    Secrets(String),
    /// A warning about the input, for `status`.
    Warning(String),
}

/// Reads every file of `config` through `filter` into `analyzer`; warnings
/// about the input go to `status`. Every flow is ended at the end.
pub fn read_into<O: AnalysisOutput>(
    config: ReadConfig<'_>,
    filter: Option<FrameFilter>,
    analyzer: &mut Analyzer<O>,
    status: &mut dyn Write,
    progress: Progress<'_>,
) -> Result<ReadOutcome, AnalysisError> {
    let mut noted = Ok(());
    let mut note = |analyzer: &mut Analyzer<O>, note: Note| {
        if noted.is_ok() {
            noted = take_note(note, analyzer, status);
        }
    };
    let read = if config.threads == 1 {
        read_all(config, filter, analyzer, &mut note, progress)
    } else {
        let (mut relay, receiver) = relay::<Note>();
        std::thread::scope(|scope| {
            // Named so profiles and debuggers tell the two apart.
            let reader = std::thread::Builder::new()
                .name("netsleuth-read".into())
                .spawn_scoped(scope, move || {
                    let mut push =
                        |relay: &mut _, note| crate::flow::relay::RelaySink::push(relay, note);
                    let read = read_all(config, filter, &mut relay, &mut push, progress);
                    relay.flush();
                    read
                })
                .map_err(|e| {
                    AnalysisError::Thread(format!(
                        "cannot start a second thread ({e}); run with --threads 1"
                    ))
                })?;
            while let Some(mut batch) = receiver.recv() {
                batch.replay(analyzer, &mut note);
                receiver.recycle(batch);
            }
            reader.join().unwrap_or_else(|_| {
                Err(AnalysisError::Thread(
                    "the reading thread stopped unexpectedly; run with --threads 1 (and tell us)"
                        .into(),
                ))
            })
        })
    };
    noted?;
    read
}

/// Acts on a [`Note`] on the analyzer's side.
fn take_note<O: AnalysisOutput>(
    note: Note,
    analyzer: &mut Analyzer<O>,
    status: &mut dyn Write,
) -> Result<(), AnalysisError> {
    match note {
        Note::Secrets(data) => {
            let warnings = analyzer.add_secrets(&data);
            super::keys::report_warnings("(pcapng decryption secrets)", &warnings, status)
        }
        Note::Warning(text) => Ok(writeln!(status, "netsleuth: warning: {text}")?),
    }
}

/// Reads every file through the filter, the decoder and the flow table into
/// `sink`, with the input's own notes through `note`; ends every flow at the
/// end.
fn read_all<S: FlowSink>(
    config: ReadConfig<'_>,
    mut filter: Option<FrameFilter>,
    sink: &mut S,
    note: &mut dyn FnMut(&mut S, Note),
    progress: Progress<'_>,
) -> Result<ReadOutcome, AnalysisError> {
    let mut table = FlowTable::new(config.flow);
    let mut quality = CaptureQuality::default();
    let mut frame_offset = 0u64;
    let mut files_done = 0u64;
    for path in config.paths {
        let mut source = FileSource::open(path)?;
        let mut last_number = 0;
        let mut secrets_seen = 0;
        loop {
            for text in super::keys::new_secrets(&source, &mut secrets_seen) {
                note(sink, Note::Secrets(text));
            }
            if last_number % PROGRESS_EVERY == 0 {
                progress(files_done + source.bytes_consumed(), source.is_gzip());
            }
            let mut frame = match source.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e @ SourceError::Malformed { .. }) if last_number > 0 => {
                    note(sink, Note::Warning(e.to_string()));
                    quality.input_cut = Some(e.to_string());
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            last_number = frame.number;
            frame.number += frame_offset;
            quality.frames += 1;
            if let Some(f) = filter.as_mut() {
                if !f.matches(&frame)? {
                    continue;
                }
            }
            feed(&frame, &mut table, &mut quality, sink);
        }
        frame_offset += last_number;
        quality.interface_stats(source.interface_stats());
        files_done += source.bytes_consumed();
        progress(files_done, source.is_gzip());
    }
    table.finish(sink);
    Ok(ReadOutcome {
        quality,
        stats: table.stats(),
    })
}

/// Reads a live capture (`watch`) to its end into `analyzer` on this thread,
/// then ends every flow. When the wire is quiet the clock still moves (the
/// wall clock less [`LIVE_CLOCK_LAG`]), so an unanswered DNS query or an idle
/// flow times out on time rather than at the next packet.
///
/// `hooks` see each packet before and after the analysis, and are told how
/// the capture goes about once a second (busy or quiet) and at the end.
pub fn read_live<O: AnalysisOutput>(
    source: &mut LiveSource,
    flow: FlowConfig,
    analyzer: &mut Analyzer<O>,
    hooks: &mut dyn LiveHooks,
) -> Result<ReadOutcome, AnalysisError> {
    let mut table = FlowTable::new(flow);
    let mut quality = CaptureQuality::default();
    let mut last_tick = Instant::now();
    loop {
        match source.next_event(LIVE_IDLE)? {
            LiveEvent::Frame(frame) => {
                quality.frames += 1;
                hooks.frame(&frame);
                feed(&frame, &mut table, &mut quality, analyzer);
                hooks.after_frame();
                // The clock is read every 64 frames, not every frame.
                if quality.frames % 64 != 0 || last_tick.elapsed() < LIVE_TICK {
                    continue;
                }
            }
            LiveEvent::Idle => table.advance_to(wall_clock_less(LIVE_CLOCK_LAG), analyzer),
            LiveEvent::End => break,
        }
        last_tick = Instant::now();
        hooks.tick(&LiveTick {
            frames: quality.frames,
            open_flows: table.open_flows(),
            capture: source.stats().ok(),
        });
    }
    hooks.tick(&LiveTick {
        frames: quality.frames,
        open_flows: table.open_flows(),
        capture: source.stats().ok(),
    });
    table.finish(analyzer);
    Ok(ReadOutcome {
        quality,
        stats: table.stats(),
    })
}

/// The wall clock less `lag`, as a packet timestamp (libpcap stamps live
/// packets with the same clock).
fn wall_clock_less(lag: Duration) -> Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(lag);
    Timestamp::from_parts(
        i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
        u64::from(now.subsec_nanos()),
        1_000_000_000,
    )
}

/// One frame (past the filter) decoded, counted if cut or broken, and given
/// to the flow table.
fn feed<S: FlowSink>(
    frame: &Frame<'_>,
    table: &mut FlowTable,
    quality: &mut CaptureQuality,
    sink: &mut S,
) {
    if frame.is_truncated() {
        quality.truncated(frame.number);
    }
    let packet = decode::decode(frame.link, frame.data);
    if let Some(p) = &packet.problem {
        // Snap-length cuts are counted above; this is for broken headers.
        if p.kind == ProblemKind::Malformed || !frame.is_truncated() {
            quality.malformed(frame.number, &p.detail);
        }
    }
    table.on_packet(frame, &packet, sink);
}
