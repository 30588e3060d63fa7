//! Byte-stream plumbing under [`super::FileSource`]: opening paths and stdin, sniffing the
//! first bytes (gzip, pcap, pcapng or something else, described for the user), and the
//! inflate thread that feeds decompressed chunks through a bounded channel.
//!
//! Invariants: every `Read` here retries `Interrupted`, returns `Ok(0)` only at the true
//! end of the stream, and records the first I/O error in an [`ErrSlot`] so the parser
//! (which only sees "read error") can report what really happened.

use std::fs::File;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_channel::{bounded, Receiver, Sender};
use flate2::read::MultiGzDecoder;

use super::super::SourceError;

/// Size of one decompressed chunk sent from the inflate thread.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the inflate thread and the parser (bounded memory: 2 MiB).
const CHUNKS_IN_FLIGHT: usize = 8;
/// How long dropping a gzip source waits for its inflate thread to stop.
const EXIT_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
/// Bytes sniffed to recognise a format and describe a non-capture.
pub(super) const SNIFF: usize = 64;

/// The first I/O error seen on a stream, shared between the stream and the parser.
pub(super) type ErrSlot = Arc<Mutex<Option<String>>>;

fn store(slot: &ErrSlot, msg: String) {
    if let Ok(mut g) = slot.lock() {
        if g.is_none() {
            *g = Some(msg);
        }
    }
}

/// Takes the recorded error message, if any.
pub(super) fn take_err(slot: &ErrSlot) -> Option<String> {
    slot.lock().ok().and_then(|mut g| g.take())
}

/// Opens `path` (`-` is stdin) as a byte stream, mapping OS errors to a reason plus a fix.
pub(super) fn open_path(path: &str) -> Result<Box<dyn Read + Send>, SourceError> {
    if path == "-" {
        return Ok(Box::new(io::stdin()));
    }
    let open_err = |reason: String| SourceError::Open {
        path: path.to_string(),
        reason,
    };
    let file = File::open(path).map_err(|e| open_err(os_reason(&e)))?;
    match file.metadata() {
        Ok(m) if m.is_dir() => Err(open_err(
            "it is a directory; give the path of a .pcap or .pcapng file inside it".into(),
        )),
        _ => Ok(Box::new(file)),
    }
}

/// An OS error as a lowercase reason followed by what to do about it.
pub(super) fn os_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory; check the path".into(),
        io::ErrorKind::PermissionDenied => {
            "permission denied; run as a user who can read it, or fix its permissions".into()
        }
        _ => format!("{e}"),
    }
}

/// Reads until `buf` holds `want` bytes or the stream ends (`Interrupted` retried).
pub(super) fn fill_to(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let mut tmp = [0u8; 4096];
    while buf.len() < want {
        let n = (want - buf.len()).min(tmp.len());
        let slot = tmp.get_mut(..n).unwrap_or_default();
        match r.read(slot) {
            Ok(0) => break,
            Ok(got) => buf.extend_from_slice(slot.get(..got).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A stream that first replays already-sniffed bytes, then reads the rest, recording errors.
pub(super) struct StreamReader {
    prefix: Vec<u8>,
    pos: usize,
    inner: Box<dyn Read + Send>,
    err: ErrSlot,
}

impl StreamReader {
    pub(super) fn new(prefix: Vec<u8>, inner: Box<dyn Read + Send>, err: ErrSlot) -> Self {
        StreamReader {
            prefix,
            pos: 0,
            inner,
            err,
        }
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(rest) = self.prefix.get(self.pos..).filter(|r| !r.is_empty()) {
            let n = rest.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
                dst.copy_from_slice(src);
            }
            self.pos += n;
            if self.pos >= self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Ok(n);
        }
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    store(&self.err, e.to_string());
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }
}

enum Chunk {
    Data(Vec<u8>),
    Err(io::Error),
}

/// The receiving end of the inflate thread: a `Read` over the decompressed chunks.
///
/// Dropping it disconnects the channel, so the thread stops at its next send.
pub(super) struct ChunkReader {
    rx: Receiver<Chunk>,
    /// Disconnected when the inflate thread exits.
    exited: Receiver<()>,
    recycle: Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(rest) = self.cur.get(self.pos..).filter(|r| !r.is_empty()) {
                let n = rest.len().min(buf.len());
                if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.pos += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            let used = std::mem::take(&mut self.cur);
            if used.capacity() > 0 {
                // Give the buffer back so the thread allocates nothing in steady state.
                let _ = self.recycle.try_send(used);
            }
            self.pos = 0;
            match self.rx.recv() {
                Ok(Chunk::Data(v)) => self.cur = v,
                Ok(Chunk::Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
    }
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        // Disconnect first so a thread blocked on a full channel wakes up and exits, then
        // give it a moment to finish, so no thread outlives the source in the common case.
        // A thread stuck reading a silent stdin is left behind rather than hanging here.
        self.rx = crossbeam_channel::never();
        let _ = self.exited.recv_timeout(EXIT_WAIT);
    }
}

/// Starts the inflate thread over `raw` (a gzip stream, possibly several members) and
/// returns the reading end.
pub(super) fn spawn_inflate(raw: impl Read + Send + 'static) -> io::Result<ChunkReader> {
    let (tx, rx) = bounded::<Chunk>(CHUNKS_IN_FLIGHT);
    let (recycle_tx, recycle_rx) = bounded::<Vec<u8>>(CHUNKS_IN_FLIGHT + 2);
    let (exit_tx, exited) = bounded::<()>(0);
    thread::Builder::new()
        .name("netsleuth-inflate".into())
        .spawn(move || {
            inflate(MultiGzDecoder::new(raw), tx, recycle_rx);
            drop(exit_tx);
        })?;
    Ok(ChunkReader {
        rx,
        exited,
        recycle: recycle_tx,
        cur: Vec::new(),
        pos: 0,
        done: false,
    })
}

/// Takes everything by value so all of it is freed before the exit signal.
fn inflate(mut dec: impl Read, tx: Sender<Chunk>, recycle: Receiver<Vec<u8>>) {
    loop {
        let mut buf = recycle
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        // Only the never-used tail gets zeroed: recycled full chunks keep their length.
        buf.resize(CHUNK, 0);
        let mut filled = 0;
        let mut failure = None;
        while filled < CHUNK {
            match dec.read(buf.get_mut(filled..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let at_end = filled < CHUNK;
        buf.truncate(filled);
        if filled > 0 && tx.send(Chunk::Data(buf)).is_err() {
            return; // the reader was dropped
        }
        if let Some(e) = failure {
            let msg = format!("gzip decompression failed ({e}); the .gz file is corrupt or cut short, gunzip it to check");
            let _ = tx.send(Chunk::Err(io::Error::new(e.kind(), msg)));
            return;
        }
        if at_end {
            return;
        }
    }
}

/// Describes bytes that are not a capture, for [`SourceError::NotACapture`].
pub(super) fn describe(head: &[u8]) -> String {
    let starts = |m: &[u8]| head.starts_with(m);
    if head.is_empty() {
        return "an empty file".into();
    }
    let known = if starts(b"PK\x03\x04") {
        Some("a zip archive; unzip it first")
    } else if starts(b"\x7fELF") {
        Some("an ELF executable")
    } else if starts(b"%PDF") {
        Some("a PDF document")
    } else if starts(b"BZh") {
        Some("a bzip2-compressed file; decompress it first (bunzip2)")
    } else if starts(b"\xfd7zXZ\x00") {
        Some("an xz-compressed file; decompress it first (unxz)")
    } else if starts(b"\x28\xb5\x2f\xfd") {
        Some("a zstd-compressed file; decompress it first (unzstd)")
    } else if starts(&[0xa1, 0xb2, 0xcd, 0x34]) || starts(&[0x34, 0xcd, 0xb2, 0xa1]) {
        Some("a \"modified\" (Kuznetzov) pcap, which is not supported; convert it with editcap")
    } else {
        None
    };
    if let Some(k) = known {
        return k.into();
    }
    let text = match std::str::from_utf8(head) {
        Ok(s) => Some(s),
        // A multi-byte character cut by the sniff window is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(head.get(..e.valid_up_to()).unwrap_or_default()).ok()
        }
        Err(_) => None,
    };
    if let Some(t) = text.filter(|t| t.chars().all(|c| !c.is_control() || c.is_whitespace())) {
        let trimmed = t.trim_start().to_ascii_lowercase();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            return "a JSON document".into();
        }
        if trimmed.starts_with("<!doctype html") || trimmed.starts_with("<html") {
            return "an HTML document".into();
        }
        if trimmed.starts_with("<?xml") {
            return "an XML document".into();
        }
        let shown: String = t.chars().take(32).flat_map(char::escape_default).collect();
        return format!("text starting with \"{shown}\"");
    }
    let bytes: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("a file starting with bytes {}", bytes.join(" "))
}
