//! `watch --evidence-dir DIR`: the packets behind each error finding, kept on
//! disk. The last [`EvidenceConfig::window`] of packets stays in memory (a
//! ring bounded in bytes too); when an error finding fires, that window is
//! written as a pcapng named after the finding, and the rest of its
//! conversation is appended as it arrives (for at most
//! [`EvidenceConfig::follow`]), so the packets of a 3 a.m. failure still
//! exist at 9 a.m.
//!
//! Bounded three ways: one file per kind and server in each minute of packet
//! time (the rest are counted), at most [`MAX_FOLLOWING`] conversations
//! followed at once, and the files written stay under
//! [`EvidenceConfig::max_disk`] (the oldest of ours deleted first).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use crate::base::{LinkType, Timestamp};
use crate::decode;
use crate::diagnose::{Finding, Severity};
use crate::source::writer::{CaptureWriter, OutputFormat, Rotation};
use crate::source::Frame;

/// Conversations whose later packets are appended at once.
pub const MAX_FOLLOWING: usize = 16;

/// One file per kind and server in this much packet time.
const PER_KEY_NS: i64 = 60_000_000_000;

/// `--evidence-*` settings.
#[derive(Debug, Clone)]
pub struct EvidenceConfig {
    /// Where the files go.
    pub dir: PathBuf,
    /// Packets kept before a finding.
    pub window: Duration,
    /// How long a conversation is followed after its finding.
    pub follow: Duration,
    /// Most bytes of packets held in memory.
    pub max_memory: usize,
    /// Most bytes of evidence files on disk.
    pub max_disk: u64,
}

/// What a finding asks to be kept.
#[derive(Debug, Clone)]
pub(super) struct Request {
    kind: &'static str,
    time: Timestamp,
    client: Option<SocketAddr>,
    server: Option<SocketAddr>,
}

/// Where `WatchOutput` leaves the requests its findings make.
pub(super) type Requests = Rc<RefCell<Vec<Request>>>;

/// The error findings of a call, as requests.
pub(super) fn request(requests: &Requests, batch: &[Finding]) {
    let mut r = requests.borrow_mut();
    for f in batch.iter().filter(|f| f.severity == Severity::Error) {
        if r.len() < 64 {
            r.push(Request {
                kind: f.kind,
                time: f.time.unwrap_or_default(),
                client: f.client,
                server: f.server,
            });
        }
    }
}

struct Kept {
    number: u64,
    ts: Timestamp,
    orig_len: u32,
    data: Box<[u8]>,
}

struct Following {
    ends: (SocketAddr, SocketAddr),
    until: Timestamp,
    writer: CaptureWriter,
    path: PathBuf,
}

/// The ring, the files being written and the bounds.
pub(super) struct Evidence {
    config: EvidenceConfig,
    link: LinkType,
    snaplen: u32,
    ring: VecDeque<Kept>,
    ring_bytes: usize,
    pub(super) requests: Requests,
    following: Vec<Following>,
    last_file: HashMap<(&'static str, Option<SocketAddr>), Timestamp>,
    written: VecDeque<(PathBuf, u64)>,
    disk: u64,
    /// Files written, and findings that got none (rate limit or an error).
    pub(super) files: u64,
    pub(super) skipped: u64,
    pub(super) error: Option<String>,
}

impl Evidence {
    /// Creates `dir` if needed.
    pub(super) fn new(
        config: EvidenceConfig,
        link: LinkType,
        snaplen: u32,
    ) -> std::io::Result<Evidence> {
        std::fs::create_dir_all(&config.dir)?;
        Ok(Evidence {
            config,
            link,
            snaplen,
            ring: VecDeque::new(),
            ring_bytes: 0,
            requests: Rc::new(RefCell::new(Vec::new())),
            following: Vec::new(),
            last_file: HashMap::new(),
            written: VecDeque::new(),
            disk: 0,
            files: 0,
            skipped: 0,
            error: None,
        })
    }

    /// A packet arrived (before the analysis sees it): kept in the ring and
    /// appended to the conversations followed.
    pub(super) fn frame(&mut self, frame: &Frame<'_>) {
        let window = i64::try_from(self.config.window.as_nanos()).unwrap_or(i64::MAX);
        while self.ring.front().is_some_and(|k| {
            frame.ts.since(k.ts) > window || self.ring_bytes > self.config.max_memory
        }) {
            if let Some(k) = self.ring.pop_front() {
                self.ring_bytes -= k.data.len();
            }
        }
        self.ring_bytes += frame.data.len();
        self.ring.push_back(Kept {
            number: frame.number,
            ts: frame.ts,
            orig_len: frame.orig_len,
            data: frame.data.into(),
        });
        if self.following.is_empty() {
            return;
        }
        let ends = decode::decode(frame.link, frame.data).endpoints();
        let mut i = 0;
        while i < self.following.len() {
            let f = &mut self.following[i];
            if frame.ts > f.until {
                let done = self.following.swap_remove(i);
                self.close(done);
                continue;
            }
            if ends.is_some_and(|(a, b)| (a, b) == f.ends || (b, a) == f.ends) {
                if let Err(e) = f.writer.write(frame) {
                    self.error.get_or_insert(e.to_string());
                }
            }
            i += 1;
        }
    }

    /// After the analysis saw the packet: the findings it made get their files.
    pub(super) fn settle(&mut self) {
        let requests: Vec<Request> = std::mem::take(&mut *self.requests.borrow_mut());
        for r in requests {
            let key = (r.kind, r.server);
            let due = self
                .last_file
                .get(&key)
                .is_none_or(|&t| r.time.since(t) >= PER_KEY_NS);
            if !due || self.following.len() >= MAX_FOLLOWING {
                self.skipped += 1;
                continue;
            }
            if self.last_file.len() > 4096 {
                self.last_file.clear();
            }
            self.last_file.insert(key, r.time);
            if let Err(e) = self.start_file(&r) {
                self.skipped += 1;
                self.error.get_or_insert(e);
            }
        }
    }

    fn start_file(&mut self, r: &Request) -> Result<(), String> {
        let server = r
            .server
            .map(|s| s.to_string().replace([':', '[', ']'], "_"))
            .unwrap_or_else(|| "unknown".into());
        let stamp = crate::base::rfc3339(r.time).replace(':', "");
        let path = self
            .config
            .dir
            .join(format!("{stamp}-{}-{server}.pcapng", r.kind));
        let mut writer = CaptureWriter::create(
            &path,
            OutputFormat::PcapNg,
            self.link,
            self.snaplen,
            Rotation::default(),
        )
        .map_err(|e| format!("--evidence-dir: {e}"))?;
        let window = i64::try_from(self.config.window.as_nanos()).unwrap_or(i64::MAX);
        for k in self.ring.iter().filter(|k| r.time.since(k.ts) <= window) {
            let frame = Frame {
                number: k.number,
                ts: k.ts,
                orig_len: k.orig_len,
                link: self.link,
                interface: 0,
                data: &k.data,
            };
            writer.write(&frame).map_err(|e| e.to_string())?;
        }
        let follow = i64::try_from(self.config.follow.as_nanos()).unwrap_or(i64::MAX);
        match r.client.zip(r.server) {
            Some(ends) => self.following.push(Following {
                ends,
                until: Timestamp(r.time.0.saturating_add(follow)),
                writer,
                path,
            }),
            None => self.close_file(writer, path),
        }
        self.files += 1;
        Ok(())
    }

    fn close(&mut self, f: Following) {
        self.close_file(f.writer, f.path);
    }

    /// Ends a file and keeps the files under the disk bound.
    fn close_file(&mut self, mut writer: CaptureWriter, path: PathBuf) {
        if let Err(e) = writer.finish(None) {
            self.error.get_or_insert(e.to_string());
        }
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        self.written.push_back((path, size));
        self.disk += size;
        while self.disk > self.config.max_disk {
            let Some((old, size)) = self.written.pop_front() else {
                break;
            };
            let _ = std::fs::remove_file(&old);
            self.disk = self.disk.saturating_sub(size);
        }
    }

    /// At the stop: every file followed is closed; a line for the summary.
    pub(super) fn finish(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        for f in std::mem::take(&mut self.following) {
            self.close(f);
        }
        writeln!(
            out,
            "evidence: {} pcapng files in {} ({} error findings past the one-per-minute limit got none){}",
            self.files,
            self.config.dir.display(),
            self.skipped,
            self.error
                .as_deref()
                .map(|e| format!("; error: {e}"))
                .unwrap_or_default()
        )
    }
}
