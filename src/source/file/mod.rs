//! Capture files: pcap (both byte orders, micro- and nanosecond), pcapng (several
//! interfaces and link types, EPB/SPB/OPB, unknown blocks skipped), either one
//! gzip-compressed, from a path or from stdin (`-`). The format is detected from the
//! first bytes, never from the file name.
//!
//! Reading streams through `pcap-parser`'s circular buffer (2 MiB, grown on demand up to
//! 256 MiB for a single record), so memory stays bounded on multi-GB files and each frame
//! borrows the buffer (no per-packet allocation or syscall). A `.gz` input is inflated on
//! its own thread (`flate2`'s `MultiGzDecoder`, so concatenated members work) and handed
//! over in 256 KiB chunks through a bounded channel of 8; dropping the source disconnects
//! the channel and the thread exits at its next send.
//!
//! How reading ends:
//! * `Ok(None)`: clean end of input, after the last complete record.
//! * `Err(SourceError::Malformed { .. })`: the file is cut short ("file ends in the middle
//!   of a packet record") or corrupt from `offset` on. Every frame before it has been
//!   delivered; callers usually print it as a warning.
//! * `Err(SourceError::Read { .. })`: an I/O or decompression error.
//!
//! After any error the source is finished and keeps returning `Ok(None)`.
//!
//! Choices for bad lengths: a pcap record whose captured length exceeds both the file's
//! snap length and 256 KiB (libpcap's own maximum) is reported as Malformed rather than
//! guessed at, since after a corrupt length every later record would be garbage. A
//! captured length within those bounds is delivered as is even if above the snap length.

mod blocks;
mod input;

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapError, PcapNGReader};

use self::blocks::{handle_block, Iface};
use self::input::{ErrSlot, StreamReader};
use super::{Frame, FrameSource, InterfaceStats, LinkType, SourceError, Timestamp};

/// Parse buffer for real files. Reading starts with [`SMALL_BUF`] and moves up to this at
/// the first refill, so tiny inputs (tests, fuzzing, short pipes) stay cheap.
const BUF_SIZE: usize = 2 << 20;
/// Initial parse buffer.
const SMALL_BUF: usize = 64 << 10;
/// The largest buffer (and thus the largest single record) we accept.
const MAX_BUF: usize = 256 << 20;
/// The largest pcapng section header block we accept while sniffing.
const MAX_SHB: usize = 1 << 20;
/// libpcap's maximum snap length: pcap records up to this size are always plausible.
const PCAP_MAX_SNAPLEN: u32 = 262_144;
/// Total bytes of decryption secrets kept; further DSBs are counted, not kept.
const MAX_SECRETS: usize = 16 << 20;
/// Interfaces per pcapng section we keep track of.
const MAX_INTERFACES: usize = 1 << 16;
const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const NANOS: u64 = 1_000_000_000;

/// Which container format a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Classic libpcap format.
    Pcap {
        /// Timestamps in nanoseconds (magic 0xa1b23c4d) rather than microseconds.
        nanos: bool,
        /// Written big-endian.
        big_endian: bool,
    },
    /// pcapng.
    PcapNg,
}

/// Where the current frame lies in the parser's buffer, plus its metadata.
#[derive(Debug, Clone, Copy)]
struct Meta {
    ts: Timestamp,
    orig_len: u32,
    link: LinkType,
    interface: u32,
    start: usize,
    len: usize,
}

/// Parse state that outlives single blocks.
struct State {
    format: FileFormat,
    /// pcap: the header's link type and snap length.
    link: LinkType,
    snaplen: u32,
    /// pcapng: byte order of the current section.
    big_endian: bool,
    ifaces: Vec<Iface>,
    first_link: Option<LinkType>,
    last_ts: Timestamp,
    secrets: Vec<(u32, Vec<u8>)>,
    secrets_bytes: usize,
    /// pcapng: sections started so far.
    sections: u32,
    /// pcapng: the latest Interface Statistics Block per (section, interface).
    stats: Vec<InterfaceStats>,
}

/// What one parser step produced, owned so the parser's borrow can end.
enum Step {
    Block(usize, Option<Meta>),
    Bad(String),
    Eof,
    More,
    UnexpectedEof,
    ReadError,
}

/// Frames from a capture file or stdin.
pub struct FileSource {
    name: String,
    gzip: bool,
    reader: Box<dyn PcapReaderIterator + Send>,
    err: ErrSlot,
    cap: usize,
    /// Length of the record last returned, consumed at the start of the next call.
    pending: usize,
    number: u64,
    done: bool,
    cur: Meta,
    st: State,
}

impl FileSource {
    /// Opens `path` (`-` for stdin), detecting gzip and the capture format from content.
    pub fn open(path: &str) -> Result<FileSource, SourceError> {
        let reader = input::open_path(path)?;
        Self::from_reader(path, reader)
    }

    /// Reads a capture from any byte stream (`name` is used in messages).
    pub fn from_reader(
        name: &str,
        mut reader: Box<dyn std::io::Read + Send>,
    ) -> Result<FileSource, SourceError> {
        let read_err = |e: std::io::Error| SourceError::Read {
            path: name.to_string(),
            reason: input::os_reason(&e),
        };
        let mut head = Vec::with_capacity(input::SNIFF);
        input::fill_to(&mut *reader, &mut head, input::SNIFF).map_err(read_err)?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let mut stream: Box<dyn std::io::Read + Send> = reader;
        if gzip {
            let raw = StreamReader::new(std::mem::take(&mut head), stream, ErrSlot::default());
            let mut inflated = input::spawn_inflate(raw).map_err(read_err)?;
            input::fill_to(&mut inflated, &mut head, input::SNIFF).map_err(read_err)?;
            stream = Box::new(inflated);
        }
        let malformed = |offset: usize, reason: &str| SourceError::Malformed {
            path: name.to_string(),
            offset: offset as u64,
            reason: reason.to_string(),
        };
        let magic: [u8; 4] = head
            .get(..4)
            .and_then(|m| m.try_into().ok())
            .unwrap_or_default();
        let pcap = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false)),
            [0xa1, 0xb2, 0xc3, 0xd4] => Some((false, true)),
            [0x4d, 0x3c, 0xb2, 0xa1] => Some((true, false)),
            [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true)),
            _ => None,
        };
        let mut st = State {
            format: FileFormat::PcapNg,
            link: LinkType(0),
            snaplen: 0,
            big_endian: false,
            ifaces: Vec::new(),
            first_link: None,
            last_ts: Timestamp::default(),
            secrets: Vec::new(),
            secrets_bytes: 0,
            sections: 0,
            stats: Vec::new(),
        };
        if let Some((nanos, big_endian)) = pcap {
            if head.len() < 24 {
                return Err(malformed(
                    head.len(),
                    "file ends in the middle of the pcap file header",
                ));
            }
            st.format = FileFormat::Pcap { nanos, big_endian };
            st.big_endian = big_endian;
            st.snaplen = read_u32(&head, 16, big_endian).unwrap_or(0);
            st.link = LinkType(read_u32(&head, 20, big_endian).unwrap_or(0) & 0x03ff_ffff);
            st.first_link = Some(st.link);
        } else if magic == SHB_MAGIC {
            let be = match head.get(8..12) {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                Some(_) => {
                    return Err(malformed(
                        8,
                        "pcapng section header has an invalid byte-order magic",
                    ))
                }
                None => {
                    return Err(malformed(
                        head.len(),
                        "file ends in the middle of the pcapng section header",
                    ))
                }
            };
            let len = read_u32(&head, 4, be).unwrap_or(0) as usize;
            if len < 28 || !len.is_multiple_of(4) || len > MAX_SHB {
                return Err(malformed(
                    4,
                    &format!("pcapng section header claims an impossible length of {len} bytes"),
                ));
            }
            input::fill_to(&mut *stream, &mut head, len).map_err(read_err)?;
            if head.len() < len {
                return Err(malformed(
                    head.len(),
                    "file ends in the middle of the pcapng section header",
                ));
            }
        } else {
            let what = input::describe(&head);
            return Err(SourceError::NotACapture {
                path: name.to_string(),
                found: if gzip {
                    format!("a gzip file whose content is not a capture (the content is {what})")
                } else {
                    what
                },
            });
        }
        let err = ErrSlot::default();
        let cap = head.len().next_power_of_two().max(SMALL_BUF);
        let stream = StreamReader::new(head, stream, err.clone());
        let parser_err =
            |e: PcapError<&[u8]>| malformed(0, &format!("unreadable file header ({e:?})"));
        let reader: Box<dyn PcapReaderIterator + Send> = if pcap.is_some() {
            Box::new(LegacyPcapReader::new(cap, stream).map_err(parser_err)?)
        } else {
            Box::new(PcapNGReader::new(cap, stream).map_err(parser_err)?)
        };
        Ok(FileSource {
            name: name.to_string(),
            gzip,
            reader,
            err,
            cap,
            pending: 0,
            number: 0,
            done: false,
            cur: Meta {
                ts: Timestamp(0),
                orig_len: 0,
                link: LinkType(0),
                interface: 0,
                start: 0,
                len: 0,
            },
            st,
        })
    }

    /// The detected container format.
    pub fn format(&self) -> FileFormat {
        self.st.format
    }

    /// True when the input was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Bytes of the (decompressed) stream parsed so far, including the frame last
    /// returned; for progress bars.
    pub fn bytes_consumed(&self) -> u64 {
        (self.reader.consumed() as u64).saturating_add(self.pending as u64)
    }

    /// The file's link type: the pcap header's, or the first pcapng interface's once
    /// seen. Frames carry their own link type, which is what decoding should use.
    pub fn link_type(&self) -> Option<LinkType> {
        self.st.first_link
    }

    /// Payloads of the pcapng Decryption Secrets Blocks read so far, as
    /// (secrets type, data), e.g. `0x544c534b` for a TLS key log. At most 16 MiB in
    /// total are kept; later blocks beyond that are skipped.
    pub fn decryption_secrets(&self) -> &[(u32, Vec<u8>)] {
        &self.st.secrets
    }

    /// The capture's own counters from the pcapng Interface Statistics Blocks read so
    /// far: the latest block per interface (counters are cumulative), in order of
    /// section and interface. Empty for pcap files and pcapng files without ISBs.
    pub fn interface_stats(&self) -> &[InterfaceStats] {
        &self.st.stats
    }

    fn malformed(&self, reason: String) -> SourceError {
        SourceError::Malformed {
            path: self.name.clone(),
            offset: self.reader.consumed() as u64,
            reason,
        }
    }

    /// Length of the next record from its header, if enough is buffered to tell, and
    /// a Malformed error if that length is absurd.
    fn precheck(&self) -> Result<Option<usize>, SourceError> {
        let d = self.reader.data();
        if let FileFormat::Pcap { big_endian, .. } = self.st.format {
            if self.reader.consumed() == 0 {
                return Ok(None); // the parser first hands back the file header
            }
            let Some(caplen) = read_u32(d, 8, big_endian) else {
                return Ok(None);
            };
            let max = self
                .st
                .snaplen
                .max(PCAP_MAX_SNAPLEN)
                .min((MAX_BUF - 16) as u32);
            if caplen > max {
                return Err(self.malformed(format!(
                    "packet record claims {caplen} captured bytes, more than the snap length {} and libpcap's {PCAP_MAX_SNAPLEN}-byte maximum; the file is corrupt from here",
                    self.st.snaplen
                )));
            }
            return Ok(Some(16 + caplen as usize));
        }
        let be = if d.get(..4) == Some(&SHB_MAGIC[..]) {
            match d.get(8..12) {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                Some(_) => false,
                None => return Ok(None),
            }
        } else {
            self.st.big_endian
        };
        let Some(len) = read_u32(d, 4, be) else {
            return Ok(None);
        };
        if len as usize > MAX_BUF {
            return Err(self.malformed(format!(
                "block claims {len} bytes, more than the 256 MiB limit; the file is corrupt from here"
            )));
        }
        // Checked here, not left to pcap-parser: its Process Information Block parser
        // subtracts 12 from lengths it only checked against 4.
        if len < 12 || !len.is_multiple_of(4) {
            return Err(self.malformed(format!(
                "block claims a length of {len} bytes, which is not a multiple of 4 of at least 12; the file is corrupt from here"
            )));
        }
        Ok(Some(len as usize))
    }

    /// Asks the stream for more bytes, growing the buffer when it is full.
    fn more(&mut self, need: Option<usize>) -> Result<(), SourceError> {
        let before = self.reader.data().len();
        if self.reader.refill().is_err() {
            return Err(self.read_error());
        }
        let exhausted = self.reader.reader_exhausted();
        if self.cap < BUF_SIZE && self.reader.data().len() >= self.cap / 2 {
            // A stream that fills the first buffer: move up to the full-size one.
            self.reader.grow(BUF_SIZE);
            self.cap = BUF_SIZE;
        } else if self.reader.data().len() == before && !exhausted {
            if self.cap >= MAX_BUF {
                return Err(self.malformed(
                    "a record is larger than the 256 MiB limit; the file is corrupt from here"
                        .into(),
                ));
            }
            let new = (self.cap * 2).max(need.unwrap_or(0) + 4096).min(MAX_BUF);
            self.reader.grow(new);
            self.cap = new;
        }
        Ok(())
    }

    fn read_error(&self) -> SourceError {
        SourceError::Read {
            path: self.name.clone(),
            reason: input::take_err(&self.err).unwrap_or_else(|| "the read failed".into()),
        }
    }

    /// Parses until a packet is ready in `self.cur` (`true`) or the input ends (`false`).
    fn advance(&mut self) -> Result<bool, SourceError> {
        loop {
            let need = self.precheck()?;
            let base = self.reader.data().as_ptr() as usize;
            let step = match self.reader.next() {
                Ok((len, block)) => match handle_block(block, &mut self.st, base) {
                    Ok(meta) => Step::Block(len, meta),
                    Err(reason) => Step::Bad(reason),
                },
                Err(PcapError::Eof) => Step::Eof,
                Err(PcapError::Incomplete(_) | PcapError::BufferTooSmall) => Step::More,
                Err(PcapError::UnexpectedEof) => Step::UnexpectedEof,
                Err(PcapError::ReadError) => Step::ReadError,
                Err(e) => Step::Bad(format!("unreadable record ({})", describe_err(&e))),
            };
            let have = self.reader.data().len();
            let inconsistent = need.is_some_and(|n| have >= n);
            match step {
                Step::Block(len, Some(meta)) => {
                    self.pending = len;
                    self.cur = meta;
                    return Ok(true);
                }
                Step::Block(len, None) => self.reader.consume_noshift(len),
                Step::Bad(reason) => return Err(self.malformed(reason)),
                Step::Eof => return Ok(false),
                Step::ReadError => return Err(self.read_error()),
                Step::More | Step::UnexpectedEof if inconsistent => {
                    return Err(self.malformed(
                        "a block's contents do not fit its own length; the file is corrupt from here".into(),
                    ))
                }
                Step::UnexpectedEof if have == 0 => return Ok(false),
                Step::UnexpectedEof => {
                    return Err(self.malformed(format!(
                        "file ends in the middle of a packet record ({have} bytes of it present{}); the capture was cut short, the frames before it were read",
                        need.map(|n| format!(" of {n}")).unwrap_or_default()
                    )))
                }
                Step::More => self.more(need)?,
            }
        }
    }
}

fn describe_err(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("{kind:?} check failed")
        }
        PcapError::HeaderNotRecognized => "header not recognized".into(),
        other => format!("{other:?}"),
    }
}

/// A u32 at `at` in the given byte order, if present.
fn read_u32(d: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = d.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

impl FrameSource for FileSource {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, SourceError> {
        if self.done {
            return Ok(None);
        }
        if self.pending > 0 {
            self.reader.consume_noshift(self.pending);
            self.pending = 0;
        }
        match self.advance() {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        }
        self.number += 1;
        let m = self.cur;
        let end = m.start.saturating_add(m.len);
        let data = self.reader.data().get(m.start..end).unwrap_or_default();
        Ok(Some(Frame {
            number: self.number,
            ts: m.ts,
            orig_len: m.orig_len,
            link: m.link,
            interface: m.interface,
            data,
        }))
    }
}

#[cfg(test)]
mod tests;
