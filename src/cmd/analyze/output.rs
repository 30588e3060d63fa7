//! Where `analyze` puts the analysis's records: JSON lines or the JSON
//! document's streamed arrays as they come (serialized on the writer thread,
//! `writer.rs`; the document's dns/tls/http arrays spilled, `spill.rs`), or,
//! for the text report, only what its tables show (bounded).

use std::io::Write;

use super::spill::{Spill, SpillArray};
use super::writer::{Record, RecordWriter, Serialized, TcpEventJson};
use super::AnalyzeFormat;
use crate::analysis::AnalysisOutput;
use crate::app::dns::DnsRecord;
use crate::app::tls::TlsRecord;
use crate::base::{Side, Timestamp};
use crate::diagnose::{Finding, Severity};
use crate::flow::conn::ConnRecord;
use crate::flow::events::TcpEvents;
use crate::report::app_json::HttpJson;
use crate::report::conn_json::ConnJson;
use crate::report::html::HtmlCollector;
use crate::report::zeek::ZeekLogs;

/// Connections with findings kept for the text table.
const PROBLEM_ROWS: usize = 200;
/// Healthy connections kept for the text table (the busiest).
const HEALTHY_ROWS: usize = 20;
/// HTTP transactions kept for the text report's table.
const HTTP_ROWS: usize = 200;

/// The records of one `analyze` run, written or kept by format.
pub(crate) struct ReportOutput<'w, W: Write + ?Sized> {
    format: AnalyzeFormat,
    /// `--tcp-events` (JSON lines only).
    tcp_events: bool,
    /// Keep every connection and transaction for the text report (`--all`).
    all: bool,
    out: &'w mut W,
    /// JSON output: records serialized on a thread of their own.
    writer: Option<RecordWriter>,
    /// Records for the JSON document's dns/tls/http arrays, spilled to
    /// temporary files until the connections are written (`--json` only).
    pub held: Spill,
    /// `--json`: the overflowed findings, after the held ones.
    pub overflow_json: SpillArray,
    connections_written: u64,
    /// Text: connections with findings, and the busiest healthy ones.
    pub problems: Vec<(ConnRecord, Option<Severity>)>,
    pub healthy: Vec<(ConnRecord, Option<Severity>)>,
    /// Text: HTTP transactions, with their full timing.
    pub http_rows: Vec<HttpJson>,
    /// The first write error; later records are dropped.
    pub error: Option<std::io::Error>,
    /// Live (`watch --jsonl`): each call's findings written as its rules
    /// run, not at the end with the stories, and every record written and
    /// flushed at once, not batched on the writer thread.
    pub live: bool,
    /// `--zeek-logs`: every record also written as a Zeek log row.
    pub zeek: Option<ZeekLogs>,
    /// `--html`: what the report keeps of the records.
    pub html: Option<HtmlCollector>,
}

impl<'w, W: Write + ?Sized> ReportOutput<'w, W> {
    pub(crate) fn new(format: AnalyzeFormat, tcp_events: bool, all: bool, out: &'w mut W) -> Self {
        ReportOutput {
            format,
            tcp_events,
            all,
            out,
            writer: None,
            held: Spill::default(),
            overflow_json: SpillArray::default(),
            connections_written: 0,
            problems: Vec::new(),
            healthy: Vec::new(),
            http_rows: Vec::new(),
            error: None,
            live: false,
            zeek: None,
            html: None,
        }
    }

    /// Serializes one record (on the writer thread; started at the first)
    /// and writes what is serialized so far: see [`ReportOutput::write_serialized`].
    fn emit(&mut self, record: Record) {
        if self.error.is_some() || self.format == AnalyzeFormat::Text {
            return;
        }
        if self.live {
            let mut line = Vec::with_capacity(512);
            let written = record
                .write(self.format, &mut line)
                .and_then(|()| self.out.write_all(&line))
                .and_then(|()| self.out.flush());
            if let Err(e) = written {
                self.error = Some(e);
            }
            return;
        }
        let writer = match &mut self.writer {
            Some(w) => w,
            None => match RecordWriter::start(self.format) {
                Ok(w) => self.writer.insert(w),
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            },
        };
        for done in writer.push(record) {
            self.write_serialized(done);
        }
    }

    /// Every record emitted, written: call before the end of the output.
    pub(crate) fn finish_records(&mut self) {
        let Some(mut writer) = self.writer.take() else {
            return;
        };
        for done in writer.finish() {
            self.write_serialized(done);
        }
    }

    /// Writes serialized records where they go: a JSON line; an element of
    /// the streamed `connections` array; (other types, `--json`) spilled for
    /// the end.
    fn write_serialized(&mut self, done: std::io::Result<Serialized>) {
        if self.error.is_some() {
            return;
        }
        let result = done.and_then(|s| {
            if self.format == AnalyzeFormat::Jsonl {
                return self.out.write_all(&s.bytes);
            }
            for (tag, json) in s.records() {
                match tag {
                    "connection" => {
                        if self.connections_written > 0 {
                            self.out.write_all(b",\n")?;
                        }
                        self.out.write_all(json)?;
                        self.connections_written += 1;
                    }
                    "finding" => self.overflow_json.push_raw(json)?,
                    _ => self.held.push_raw(tag, json)?,
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    fn keep_for_table(&mut self, record: ConnRecord, worst: Option<Severity>) {
        if worst.is_some_and(|w| w >= Severity::Warning) {
            if self.all || self.problems.len() < PROBLEM_ROWS {
                self.problems.push((record, worst));
            }
            return;
        }
        let total = |c: &ConnRecord| c.client_stats.bytes + c.server_stats.bytes;
        self.healthy.push((record, worst));
        if !self.all && self.healthy.len() > HEALTHY_ROWS {
            // Keep the busiest; ties keep the earlier connection.
            let smallest = self
                .healthy
                .iter()
                .enumerate()
                .min_by_key(|(i, (c, _))| (total(c), std::cmp::Reverse(*i)))
                .map(|(i, _)| i);
            if let Some(i) = smallest {
                self.healthy.remove(i);
            }
        }
    }
}

impl<W: Write + ?Sized> AnalysisOutput for ReportOutput<'_, W> {
    fn connection(&mut self, record: ConnRecord, found: &[Finding]) {
        if let Some(z) = &mut self.zeek {
            z.connection(&record);
        }
        if let Some(h) = &mut self.html {
            h.connection(&record, found);
        }
        if self.format == AnalyzeFormat::Text {
            let worst = found.iter().map(|f| f.severity).max();
            self.keep_for_table(record, worst);
        } else {
            self.emit(Record::Connection(ConnJson::new(&record)));
        }
    }

    fn dns(&mut self, record: &DnsRecord) {
        if let Some(z) = &mut self.zeek {
            z.dns(record);
        }
        if let Some(h) = &mut self.html {
            h.dns(record);
        }
        if self.format != AnalyzeFormat::Text {
            self.emit(Record::Dns(record.clone()));
        }
    }

    fn tls(&mut self, record: &TlsRecord) {
        if let Some(z) = &mut self.zeek {
            z.tls(record);
        }
        if let Some(h) = &mut self.html {
            h.tls(record);
        }
        if self.format != AnalyzeFormat::Text {
            self.emit(Record::Tls(record.clone()));
        }
    }

    fn http(&mut self, row: HttpJson) {
        if let Some(z) = &mut self.zeek {
            z.http(&row);
        }
        if let Some(h) = &mut self.html {
            h.http(&row);
        }
        if self.format != AnalyzeFormat::Text {
            self.emit(Record::Http(row));
        } else if self.all || self.http_rows.len() < HTTP_ROWS {
            self.http_rows.push(row);
        }
    }

    fn tcp_events(&mut self, conn: u64, frame: u64, ts: Timestamp, side: Side, events: TcpEvents) {
        if let Some(h) = &mut self.html {
            if events.iter().any(|k| k.is_retransmission()) {
                h.retransmission(ts);
            }
        }
        if !self.tcp_events || self.format != AnalyzeFormat::Jsonl {
            return;
        }
        for kind in events.iter() {
            self.emit(Record::TcpEvent(TcpEventJson {
                conn,
                frame,
                side: side.as_str(),
                kind: kind.as_str(),
            }));
        }
    }

    fn findings(&mut self, batch: &[Finding], _target: Option<&str>) {
        if self.live {
            for f in batch {
                self.emit(Record::Finding(f.clone()));
            }
        }
    }

    fn overflowed_findings(&mut self, findings: Vec<Finding>) {
        if self.format != AnalyzeFormat::Text && !self.live {
            for f in findings {
                self.emit(Record::Finding(f));
            }
        }
    }
}
