//! JSON records serialized on the second core.
//!
//! Why: with `--json`/`--jsonl`, turning records into JSON costs about as much
//! as a third of the analysis (167 MB of JSON for a 961 MB capture). The
//! output hands each record over as an owned value; a thread serializes
//! them in batches, in order, and hands the bytes back; the caller's thread
//! writes them where they go (the output, or a `--json` spill file). One
//! serializing thread and first-in first-out channels: the bytes are exactly
//! what serializing on the caller's thread gave, in the same order.
//!
//! Bounded: at most [`IN_FLIGHT`] batches of [`BATCH`] records wait either
//! way.

use std::io;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};
use serde::Serialize;

use super::AnalyzeFormat;
use crate::app::dns::DnsRecord;
use crate::app::tls::TlsRecord;
use crate::diagnose::Finding;
use crate::report::app_json::HttpJson;
use crate::report::conn_json::ConnJson;

/// Records serialized together.
const BATCH: usize = 256;
/// Batches waiting to be serialized, and serialized batches waiting to be written.
const IN_FLIGHT: usize = 8;

/// One TCP analysis flag on one segment (`--tcp-events`).
#[derive(Debug, Serialize)]
pub struct TcpEventJson {
    pub conn: u64,
    pub frame: u64,
    pub side: &'static str,
    pub kind: &'static str,
}

/// A record of the JSON output, owned so that it can cross threads.
pub enum Record {
    Connection(ConnJson),
    Dns(DnsRecord),
    Tls(TlsRecord),
    Http(HttpJson),
    Finding(Finding),
    TcpEvent(TcpEventJson),
}

impl Record {
    /// The record's `type`.
    pub fn tag(&self) -> &'static str {
        match self {
            Record::Connection(_) => "connection",
            Record::Dns(_) => "dns",
            Record::Tls(_) => "tls",
            Record::Http(_) => "http",
            Record::Finding(_) => "finding",
            Record::TcpEvent(_) => "tcp_event",
        }
    }

    /// Appends the record to `buf`: a tagged line (`--jsonl`) or the bare
    /// object (`--json`).
    pub fn write(&self, format: AnalyzeFormat, buf: &mut Vec<u8>) -> io::Result<()> {
        fn one<T: Serialize>(
            v: &T,
            tag: &str,
            format: AnalyzeFormat,
            buf: &mut Vec<u8>,
        ) -> io::Result<()> {
            if format == AnalyzeFormat::Jsonl {
                super::write_tagged_into(buf, tag, v)
            } else {
                serde_json::to_writer(buf, v).map_err(io::Error::from)
            }
        }
        let tag = self.tag();
        match self {
            Record::Connection(v) => one(v, tag, format, buf),
            Record::Dns(v) => one(v, tag, format, buf),
            Record::Tls(v) => one(v, tag, format, buf),
            Record::Http(v) => one(v, tag, format, buf),
            Record::Finding(v) => one(v, tag, format, buf),
            Record::TcpEvent(v) => one(v, tag, format, buf),
        }
    }
}

/// A serialized batch: the bytes, and where each record's bytes end.
pub struct Serialized {
    pub bytes: Vec<u8>,
    pub parts: Vec<(&'static str, usize)>,
}

impl Serialized {
    /// Each record's type and bytes, in order.
    pub fn records(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        let mut start = 0;
        self.parts.iter().map(move |&(tag, end)| {
            let part = self.bytes.get(start..end).unwrap_or_default();
            start = end;
            (tag, part)
        })
    }
}

/// The serializing thread and its two channels.
pub struct RecordWriter {
    batch: Vec<Record>,
    to_thread: Option<Sender<Vec<Record>>>,
    from_thread: Receiver<io::Result<Serialized>>,
    thread: Option<JoinHandle<()>>,
}

impl RecordWriter {
    /// Starts the thread for `format`.
    pub fn start(format: AnalyzeFormat) -> io::Result<RecordWriter> {
        let (to_thread, batches) = bounded::<Vec<Record>>(IN_FLIGHT);
        let (done, from_thread) = bounded(IN_FLIGHT);
        let thread = std::thread::Builder::new()
            .name("netsleuth-json".into())
            .spawn(move || {
                for batch in batches {
                    let mut out = Serialized {
                        bytes: Vec::with_capacity(batch.len() * 512),
                        parts: Vec::with_capacity(batch.len()),
                    };
                    let result = batch.iter().try_for_each(|r| {
                        r.write(format, &mut out.bytes)?;
                        out.parts.push((r.tag(), out.bytes.len()));
                        Ok(())
                    });
                    if done.send(result.map(|()| out)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(RecordWriter {
            batch: Vec::with_capacity(BATCH),
            to_thread: Some(to_thread),
            from_thread,
            thread: Some(thread),
        })
    }

    /// Queues `record`; returns the batches serialized so far, for the caller
    /// to write in order. Blocks only while [`IN_FLIGHT`] batches wait.
    pub fn push(&mut self, record: Record) -> Vec<io::Result<Serialized>> {
        self.batch.push(record);
        let mut ready = Vec::new();
        if self.batch.len() >= BATCH {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            if let Some(tx) = &self.to_thread {
                send(tx, &self.from_thread, batch, &mut ready);
            }
        }
        ready.extend(self.from_thread.try_iter());
        ready
    }

    /// Every record not yet returned, serialized, in order; the thread ends.
    pub fn finish(&mut self) -> Vec<io::Result<Serialized>> {
        let mut ready = Vec::new();
        if let Some(tx) = self.to_thread.take() {
            let last = std::mem::take(&mut self.batch);
            if !last.is_empty() {
                send(&tx, &self.from_thread, last, &mut ready);
            }
        }
        ready.extend(self.from_thread.iter());
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                ready.push(Err(io::Error::other("the JSON thread panicked")));
            }
        }
        ready
    }
}

/// Sends `batch` to the thread once there is room, taking its output into
/// `ready` meanwhile: the thread may be waiting for us to take it.
fn send(
    tx: &Sender<Vec<Record>>,
    from_thread: &Receiver<io::Result<Serialized>>,
    batch: Vec<Record>,
    ready: &mut Vec<io::Result<Serialized>>,
) {
    while tx.is_full() {
        match from_thread.recv() {
            Ok(s) => ready.push(s),
            Err(_) => break,
        }
    }
    if tx.send(batch).is_err() {
        ready.push(Err(io::Error::other("the JSON thread stopped")));
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        // Disconnect both ways, so the thread ends whatever it was doing.
        self.to_thread = None;
        let (_, dead) = bounded(0);
        drop(std::mem::replace(&mut self.from_thread, dead));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Severity;

    fn records(n: u64) -> impl Iterator<Item = Record> {
        (0..n).map(|i| {
            if i % 3 == 0 {
                Record::TcpEvent(TcpEventJson {
                    conn: i,
                    frame: i * 7,
                    side: "client",
                    kind: "retransmission",
                })
            } else {
                Record::Finding(Finding {
                    kind: "tcp.connect_timeout",
                    severity: Severity::Warning,
                    summary: format!("finding {i} \"quoted\""),
                    next_step: String::new(),
                    frames: vec![i],
                    conn: Some(i),
                    client: None,
                    server: None,
                    time: None,
                    endpoint: None,
                    goroutines: Vec::new(),
                })
            }
        })
    }

    /// What serializing on the caller's thread gives.
    fn direct(format: AnalyzeFormat, n: u64) -> (Vec<u8>, Vec<&'static str>) {
        let mut bytes = Vec::new();
        let mut tags = Vec::new();
        for r in records(n) {
            r.write(format, &mut bytes).unwrap();
            tags.push(r.tag());
        }
        (bytes, tags)
    }

    #[test]
    fn the_same_bytes_in_the_same_order_as_on_one_thread() {
        for format in [AnalyzeFormat::Jsonl, AnalyzeFormat::Json] {
            // More batches than fit in flight, and a partial last one.
            let n = (BATCH * IN_FLIGHT * 3 + 17) as u64;
            let mut w = RecordWriter::start(format).unwrap();
            let mut done = Vec::new();
            for r in records(n) {
                done.extend(w.push(r));
            }
            done.extend(w.finish());
            let mut bytes = Vec::new();
            let mut tags = Vec::new();
            for s in done {
                let s = s.unwrap();
                tags.extend(s.records().map(|(t, _)| t));
                bytes.extend_from_slice(&s.bytes);
            }
            assert_eq!((bytes, tags), direct(format, n), "{format:?}");
        }
    }

    #[test]
    fn parts_split_the_bytes_per_record() {
        let mut w = RecordWriter::start(AnalyzeFormat::Json).unwrap();
        for r in records(5) {
            assert!(w.push(r).is_empty(), "no batch is full yet");
        }
        let done: Vec<Serialized> = w.finish().into_iter().map(Result::unwrap).collect();
        let parts: Vec<(&str, serde_json::Value)> = done
            .iter()
            .flat_map(|s| {
                s.records()
                    .map(|(t, b)| (t, serde_json::from_slice(b).unwrap()))
            })
            .collect();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0].0, "tcp_event");
        assert_eq!(parts[1].1["summary"], "finding 1 \"quoted\"");
    }

    #[test]
    fn dropping_it_midway_ends_the_thread() {
        let mut w = RecordWriter::start(AnalyzeFormat::Jsonl).unwrap();
        for r in records(BATCH as u64 * 2) {
            let _ = w.push(r);
        }
        drop(w); // joins the thread: a hang here is the failure
    }
}
