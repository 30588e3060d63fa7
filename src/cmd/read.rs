//! `netsleuth read FILE [FILTER]`: print each packet of a capture, or with
//! `--summary` only decode every packet and print totals (the decode-only pass).

use std::io::Write;

use super::{CommandError, PacketFormat};
use crate::base::Timestamp;
use crate::decode::{self, Transport};
use crate::report::packet_json::{write_packet_json, PacketRecord};
use crate::report::packet_line::write_packet_line;
use crate::source::file::FileSource;
use crate::source::filter::FrameFilter;
use crate::source::{FrameSource, SourceError};

/// What `read` should do.
#[derive(Debug, Clone, Default)]
pub struct ReadConfig {
    /// Capture file path, `-` for stdin.
    pub path: String,
    /// BPF filter expression (may be empty).
    pub filter: String,
    /// Text or JSON lines.
    pub format: PacketFormat,
    /// Only decode and count; print a summary instead of packets.
    pub summary_only: bool,
    /// Stop after this many matching packets.
    pub count: Option<u64>,
}

/// Totals of one pass over a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Frames read from the input, before filtering.
    pub frames: u64,
    /// Frames that passed the filter.
    pub matched: u64,
    /// Bytes captured in matching frames.
    pub bytes: u64,
    /// Matching frames by transport: tcp, udp, icmp, other.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// ICMP and ICMPv6 messages.
    pub icmp: u64,
    /// Everything else (non-IP, fragments, other protocols).
    pub other: u64,
    /// Frames cut short by the snap length.
    pub truncated: u64,
    /// Frames whose headers could not be fully decoded.
    pub undecodable: u64,
    /// First and last timestamps of matching frames.
    pub span: Option<(Timestamp, Timestamp)>,
    /// A problem that ended the input early (truncated file), reported, not fatal.
    pub input_warning: Option<String>,
}

/// Reads the capture, writing packets (or the summary) to `out`.
pub fn run<W: Write + ?Sized>(
    config: &ReadConfig,
    out: &mut W,
) -> Result<ReadSummary, CommandError> {
    let mut source = FileSource::open(&config.path)?;
    let mut filter = FrameFilter::new(&config.filter)?;
    let mut summary = ReadSummary::default();
    let mut first: Option<Timestamp> = None;
    loop {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            // A file cut short still gave us every frame before the cut.
            Err(e @ SourceError::Malformed { .. }) if summary.frames > 0 => {
                summary.input_warning = Some(e.to_string());
                break;
            }
            Err(e) => return Err(e.into()),
        };
        summary.frames += 1;
        let first_ts = *first.get_or_insert(frame.ts);
        if let Some(f) = filter.as_mut() {
            if !f.matches(&frame)? {
                continue;
            }
        }
        let packet = decode::decode(frame.link, frame.data);
        summary.count(&frame, &packet);
        if !config.summary_only {
            match config.format {
                PacketFormat::Text => write_packet_line(out, &frame, &packet, first_ts)?,
                PacketFormat::Json => {
                    write_packet_json(out, &PacketRecord::new(&frame, &packet, first_ts))?
                }
            }
        }
        if config.count.is_some_and(|c| summary.matched >= c) {
            break;
        }
    }
    if config.summary_only {
        summary.write_text(out)?;
    }
    out.flush()?;
    Ok(summary)
}

impl ReadSummary {
    fn count(&mut self, frame: &crate::source::Frame<'_>, packet: &decode::Packet<'_>) {
        self.matched += 1;
        self.bytes += frame.data.len() as u64;
        match packet.transport {
            Transport::Tcp(_) => self.tcp += 1,
            Transport::Udp(_) => self.udp += 1,
            Transport::Icmp(_) => self.icmp += 1,
            _ => self.other += 1,
        }
        if frame.is_truncated() {
            self.truncated += 1;
        }
        if packet.problem.is_some() {
            self.undecodable += 1;
        }
        self.span = Some(match self.span {
            None => (frame.ts, frame.ts),
            Some((a, b)) => (a.min(frame.ts), b.max(frame.ts)),
        });
    }

    /// Prints the totals as a few aligned lines.
    pub fn write_text<W: Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        writeln!(out, "frames read:      {}", self.frames)?;
        writeln!(out, "frames matched:   {}", self.matched)?;
        writeln!(out, "bytes captured:   {}", self.bytes)?;
        writeln!(
            out,
            "by protocol:      tcp {} udp {} icmp {} other {}",
            self.tcp, self.udp, self.icmp, self.other
        )?;
        writeln!(out, "truncated frames: {}", self.truncated)?;
        writeln!(out, "undecodable:      {}", self.undecodable)?;
        if let Some((a, b)) = self.span {
            writeln!(out, "time span:        {:.6} s", b.since(a) as f64 / 1e9)?;
        }
        Ok(())
    }
}
