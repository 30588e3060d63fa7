//! Writing captures: pcap or pcapng, with tcpdump-style rotation by size (`-C`),
//! by time (`-G`) and a ring of at most N files (`-W`).
//!
//! Hand-written rather than borrowed: `pcap-parser` only reads, libpcap's
//! `pcap::Savefile` can neither write pcapng nor rotate, and both formats are a handful of
//! fixed-layout fields. Output is always little-endian:
//! * pcap: magic `a1b2c3d4` (microseconds), version 2.4, then per record `ts_sec`,
//!   `ts_usec`, `caplen`, `len`. Timestamps before 1970 or after 2106 are clamped to the
//!   representable range.
//! * pcapng: one Section Header Block (section length -1, `shb_userappl` "netsleuth"), one
//!   Interface Description Block (link type, snap length, `if_tsresol` = 9 so timestamps
//!   keep nanoseconds), then one Enhanced Packet Block per frame, data padded to 32 bits
//!   and the block length repeated at both ends. Each file ends with an Interface
//!   Statistics Block holding the capture's drop counters when the caller gives them
//!   ([`CaptureWriter::set_stats`] before a rotation, [`CaptureWriter::finish`] at the
//!   end; see `isb.rs`); once counters are set, size rotation leaves room for that
//!   block. pcap has no place for them.
//!
//! Frames longer than the snap length are cut to it (a snap length of 0 means 262144);
//! `orig_len` is written as the frame says. Writes go through a 1 MiB `BufWriter`;
//! [`CaptureWriter::flush`] pushes everything out, after which every file on disk is a
//! complete, valid capture. Dropping the writer flushes too, but silently: call `flush`
//! to see errors.
//!
//! File names:
//! * no rotation (`max_bytes` and `max_seconds` both `None`): exactly `path`; `ring` is
//!   ignored.
//! * rotation without a ring: `path`, then `path1`, `path2`, ... (the number is appended to
//!   the whole name, as tcpdump `-C` does: `out.pcap`, `out.pcap1`, ...).
//! * rotation with a ring of N (`-W N`): `path0` ... `path{N-1}`, the number zero-padded to
//!   the width of N-1 (`out.pcap00` ... `out.pcap11` for N = 12), reused in turn and
//!   truncated when reused.
//!
//! Rotation rules: by size, a new file starts before a record would push the current one
//! past `max_bytes` bytes (headers included), but every file holds at least one packet,
//! so a single oversized packet still gets written. By time, a new file starts when a
//! packet's timestamp is `max_seconds` or more after the first packet of the current file
//! (packet time, not wall-clock time, so rewriting a capture gives the same split).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Frame, InterfaceStats, LinkType, SourceError, Timestamp};

pub mod blocks;
mod isb;

/// Write buffer per open file.
const WRITE_BUF: usize = 1 << 20;
/// Snap length used when the caller gives 0.
const DEFAULT_SNAPLEN: u32 = 262_144;
const PCAP_HEADER_LEN: u64 = 24;
const PCAP_RECORD_HEADER: u64 = 16;

/// Output container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Classic pcap, microsecond timestamps.
    #[default]
    Pcap,
    /// pcapng with one interface.
    PcapNg,
}

/// When to start a new file; all `None` means one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    /// Start a new file before one would exceed this many bytes (`-C`, in MB of 1,000,000 bytes).
    pub max_bytes: Option<u64>,
    /// Start a new file when this many seconds of packet time have passed (`-G`).
    pub max_seconds: Option<u64>,
    /// Keep at most this many files, overwriting the oldest (`-W`).
    pub ring: Option<u32>,
}

/// A capture file being written, possibly rotating.
pub struct CaptureWriter {
    base: PathBuf,
    format: OutputFormat,
    link: LinkType,
    snaplen: u32,
    rotation: Rotation,
    out: BufWriter<File>,
    cur_path: PathBuf,
    /// Bytes in the current file, header included.
    cur_bytes: u64,
    cur_packets: u64,
    /// Packet-time second of the current file's first packet.
    period_start: Option<i64>,
    /// Files started so far (the next file's sequence number).
    started: u64,
    files: Vec<PathBuf>,
    /// Counters written at the end of the current file when it rotates.
    stats: Option<InterfaceStats>,
    /// Packet times of the capture's first and latest packet, for the ISB.
    first_ts: Option<Timestamp>,
    last_ts: Option<Timestamp>,
}

impl CaptureWriter {
    /// Creates the first output file.
    pub fn create(
        path: &Path,
        format: OutputFormat,
        link: LinkType,
        snaplen: u32,
        rotation: Rotation,
    ) -> Result<CaptureWriter, SourceError> {
        let snaplen = if snaplen == 0 {
            DEFAULT_SNAPLEN
        } else {
            snaplen
        };
        let first = file_name(path, &rotation, 0);
        let out = open(&first)?;
        let mut w = CaptureWriter {
            base: path.to_path_buf(),
            format,
            link,
            snaplen,
            rotation,
            out,
            cur_path: first.clone(),
            cur_bytes: 0,
            cur_packets: 0,
            period_start: None,
            started: 1,
            files: vec![first],
            stats: None,
            first_ts: None,
            last_ts: None,
        };
        w.write_header()?;
        Ok(w)
    }

    /// Appends one frame, rotating first when a limit says so.
    pub fn write(&mut self, frame: &Frame<'_>) -> Result<(), SourceError> {
        let caplen = frame.data.len().min(self.snaplen as usize);
        let data = frame.data.get(..caplen).unwrap_or_default();
        let record = self.record_len(frame);
        if self.should_rotate(frame, record) {
            self.rotate()?;
        }
        self.first_ts.get_or_insert(frame.ts);
        self.last_ts = Some(frame.ts);
        let secs = frame.ts.secs();
        self.period_start.get_or_insert(secs);
        let res = match self.format {
            OutputFormat::Pcap => {
                let sec = secs.clamp(0, i64::from(u32::MAX)) as u32;
                let usec = if secs < 0 {
                    0
                } else {
                    frame.ts.subsec_nanos() / 1000
                };
                let mut h = [0u8; 16];
                put(&mut h, 0, sec);
                put(&mut h, 4, usec);
                put(&mut h, 8, caplen as u32);
                put(&mut h, 12, frame.orig_len);
                self.out
                    .write_all(&h)
                    .and_then(|()| self.out.write_all(data))
            }
            OutputFormat::PcapNg => {
                let h = blocks::packet_header(
                    record as u32,
                    0,
                    frame.ts,
                    caplen as u32,
                    frame.orig_len,
                );
                let pad = [0u8; 4];
                let pad = pad
                    .get(..blocks::padded(caplen) - caplen)
                    .unwrap_or_default();
                self.out
                    .write_all(&h)
                    .and_then(|()| self.out.write_all(data))
                    .and_then(|()| self.out.write_all(pad))
                    .and_then(|()| self.out.write_all(&(record as u32).to_le_bytes()))
            }
        };
        res.map_err(|e| write_err(&self.cur_path, &e))?;
        self.cur_bytes += record;
        self.cur_packets += 1;
        Ok(())
    }

    /// True when `frame` will start a new file: a caller holding drop counters
    /// refreshes them with [`CaptureWriter::set_stats`] first, so the file being
    /// closed ends with current ones.
    pub fn rotation_due(&self, frame: &Frame<'_>) -> bool {
        self.should_rotate(frame, self.record_len(frame))
    }

    /// True when the output format can carry drop counters (pcapng).
    pub fn format_keeps_stats(&self) -> bool {
        self.format == OutputFormat::PcapNg
    }

    /// Counters (cumulative since the capture began) written as an Interface
    /// Statistics Block at the end of the current file when it rotates (pcapng only).
    pub fn set_stats(&mut self, stats: InterfaceStats) {
        self.stats = Some(stats);
    }

    /// Ends the capture: writes `stats` (or the last ones set) as an Interface
    /// Statistics Block into the current file (pcapng only), then flushes. Call it
    /// once; later writes would follow the statistics block.
    pub fn finish(&mut self, stats: Option<InterfaceStats>) -> Result<(), SourceError> {
        if let Some(s) = stats {
            self.stats = Some(s);
        }
        self.write_stats()?;
        self.flush()
    }

    /// Bytes `frame` takes in the file, headers included.
    fn record_len(&self, frame: &Frame<'_>) -> u64 {
        let caplen = frame.data.len().min(self.snaplen as usize);
        match self.format {
            OutputFormat::Pcap => PCAP_RECORD_HEADER + caplen as u64,
            OutputFormat::PcapNg => blocks::EPB_OVERHEAD + blocks::padded(caplen) as u64,
        }
    }

    fn write_stats(&mut self) -> Result<(), SourceError> {
        let (OutputFormat::PcapNg, Some(stats)) = (self.format, self.stats) else {
            return Ok(());
        };
        let block = isb::encode(&stats, self.first_ts, self.last_ts);
        self.out
            .write_all(&block)
            .map_err(|e| write_err(&self.cur_path, &e))?;
        self.cur_bytes += block.len() as u64;
        Ok(())
    }

    /// Flushes buffered bytes so the files on disk are complete and valid.
    pub fn flush(&mut self) -> Result<(), SourceError> {
        self.out.flush().map_err(|e| write_err(&self.cur_path, &e))
    }

    /// Every file written so far, in the order they were started.
    ///
    /// With a ring, each file is listed once, however many times it was reused.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn should_rotate(&self, frame: &Frame<'_>, record: u64) -> bool {
        if self.cur_packets == 0 {
            return false;
        }
        // Room for the statistics block that will close the file.
        let reserve = match (self.format, self.stats) {
            (OutputFormat::PcapNg, Some(_)) => isb::MAX_LEN,
            _ => 0,
        };
        let by_size = self
            .rotation
            .max_bytes
            .is_some_and(|max| self.cur_bytes.saturating_add(record + reserve) > max);
        let by_time = match (self.rotation.max_seconds, self.period_start) {
            (Some(max), Some(start)) => {
                frame.ts.secs().saturating_sub(start) >= i64::try_from(max).unwrap_or(i64::MAX)
            }
            _ => false,
        };
        by_size || by_time
    }

    fn rotate(&mut self) -> Result<(), SourceError> {
        self.write_stats()?;
        self.flush()?;
        let next = file_name(&self.base, &self.rotation, self.started);
        self.out = open(&next)?;
        self.started += 1;
        if !self.files.contains(&next) {
            self.files.push(next.clone());
        }
        self.cur_path = next;
        self.cur_bytes = 0;
        self.cur_packets = 0;
        self.period_start = None;
        self.write_header()
    }

    fn write_header(&mut self) -> Result<(), SourceError> {
        let header: Vec<u8> = match self.format {
            OutputFormat::Pcap => {
                let mut h = vec![0u8; PCAP_HEADER_LEN as usize];
                put(&mut h, 0, 0xa1b2_c3d4);
                put(&mut h, 4, 0x0004_0002); // version 2.4
                put(&mut h, 16, self.snaplen);
                put(&mut h, 20, self.link.0);
                h
            }
            OutputFormat::PcapNg => {
                let mut h = blocks::section_header();
                h.extend_from_slice(&blocks::interface(self.link, self.snaplen));
                h
            }
        };
        self.out
            .write_all(&header)
            .map_err(|e| write_err(&self.cur_path, &e))?;
        self.cur_bytes = header.len() as u64;
        Ok(())
    }
}

/// Writes `v` little-endian at `at`; out-of-range writes are dropped (never happens with
/// the fixed layouts above).
fn put(buf: &mut [u8], at: usize, v: u32) {
    if let Some(dst) = buf.get_mut(at..at + 4) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

/// The name of the `index`-th file started (0-based), see the module doc.
pub fn rotated_file_name(base: &Path, rotation: &Rotation, index: u64) -> PathBuf {
    file_name(base, rotation, index)
}

fn file_name(base: &Path, rotation: &Rotation, index: u64) -> PathBuf {
    if rotation.max_bytes.is_none() && rotation.max_seconds.is_none() {
        return base.to_path_buf();
    }
    let mut name = base.as_os_str().to_os_string();
    match rotation.ring {
        Some(n) if n > 0 => {
            let width = (n - 1).to_string().len();
            name.push(format!("{:0width$}", index % u64::from(n)));
        }
        _ if index == 0 => {}
        _ => name.push(index.to_string()),
    }
    PathBuf::from(name)
}

fn open(path: &Path) -> Result<BufWriter<File>, SourceError> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(WRITE_BUF, f))
        .map_err(|e| write_err(path, &e))
}

fn write_err(path: &Path, e: &io::Error) -> SourceError {
    let reason = match e.kind() {
        io::ErrorKind::NotFound => "no such directory; create it or choose another path".into(),
        io::ErrorKind::PermissionDenied => "permission denied; choose a writable path".into(),
        io::ErrorKind::IsADirectory => "it is a directory; give a file name".into(),
        io::ErrorKind::StorageFull => {
            "no space left on the device; free some or write elsewhere".into()
        }
        _ => e.to_string(),
    };
    SourceError::Write {
        path: path.display().to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests;
