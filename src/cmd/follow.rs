//! `netsleuth follow FILE CONN_ID`: one conversation's bytes, both directions in
//! the order the capture delivered them, escaped for the terminal (like
//! Wireshark's "Follow TCP Stream", with `analyze`'s connection ids).
//!
//! TCP bytes are the reassembled streams (first copy wins, gaps shown); UDP
//! shows each datagram. With `--keylog`, a TLS conversation shows its
//! decrypted application data instead of its records, and ends with the
//! decryption status. `--raw OUT` writes the same bytes, unescaped, to a file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use super::CommandError;
use crate::analysis::keys;
use crate::app::tls::{looks_like_tls, TlsKeys};
use crate::app::AppLayer;
use crate::base::escape::escape_bytes;
use crate::base::Side;
use crate::base::Timestamp;
use crate::decode;
use crate::decrypt::KeyLog;
use crate::flow::conn::ConnRecord;
use crate::flow::key::Protocol;
use crate::flow::reassembly::StreamEnd;
use crate::flow::table::{FlowConfig, FlowSink, FlowTable};
use crate::source::file::FileSource;
use crate::source::filter::FrameFilter;
use crate::source::{FrameSource, SourceError};

/// What `follow` should do.
#[derive(Debug, Clone, Default)]
pub struct FollowConfig {
    /// Capture file.
    pub path: String,
    /// BPF filter (as given to `analyze`, so the ids match).
    pub filter: String,
    /// The connection id, as `analyze` numbers them.
    pub conn: u64,
    /// Write the raw bytes here too.
    pub raw: Option<PathBuf>,
    /// Key logs: a TLS conversation is shown decrypted.
    pub keylogs: Vec<PathBuf>,
}

/// What was followed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowSummary {
    /// Bytes the client sent.
    pub client_bytes: u64,
    /// Bytes the server sent.
    pub server_bytes: u64,
    /// Bytes the capture missed.
    pub missing_bytes: u64,
}

/// Prints the conversation to `out`.
pub fn run<W: Write + ?Sized>(
    config: &FollowConfig,
    out: &mut W,
    status: &mut dyn Write,
) -> Result<FollowSummary, CommandError> {
    let mut source = FileSource::open(&config.path)?;
    let mut filter = FrameFilter::new(&config.filter)?;
    let raw = match &config.raw {
        Some(p) => Some(BufWriter::new(File::create(p).map_err(|e| {
            CommandError::Usage(format!(
                "--raw {}: {e} (give a writable file path)",
                p.display()
            ))
        })?)),
        None => None,
    };
    let mut table = FlowTable::new(FlowConfig::default());
    let mut keys = keys::load_keylogs(&config.keylogs, status)?;
    let decrypting = |keys: &TlsKeys| {
        let mut app = AppLayer::new();
        app.set_keys(keys.clone());
        app.tap(config.conn);
        app
    };
    let mut sink = Follower {
        app: keys.as_ref().map(decrypting),
        tls: None,
        want: config.conn,
        opened: None,
        out,
        raw,
        found: false,
        ended: false,
        last: None,
        line_open: false,
        summary: FollowSummary::default(),
        error: None,
    };
    let mut frames = 0u64;
    let mut secrets_seen = 0;
    while !sink.ended {
        for text in keys::new_secrets(&source, &mut secrets_seen) {
            let k = keys.get_or_insert_with(|| TlsKeys::new(KeyLog::new()));
            if sink.app.is_none() {
                // The first secrets block is read with the first packet: the
                // connection may be open already.
                let mut app = decrypting(k);
                if let Some((protocol, client, server)) = sink.opened {
                    app.opened(config.conn, protocol, client, server);
                }
                sink.app = Some(app);
            }
            let warnings = k.add_text(&text);
            keys::report_warnings("(pcapng decryption secrets)", &warnings, status)?;
        }
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            // A file cut short: follow what is there.
            Err(SourceError::Malformed { .. }) if frames > 0 => break,
            Err(e) => return Err(e.into()),
        };
        frames += 1;
        if let Some(f) = filter.as_mut() {
            if !f.matches(&frame)? {
                continue;
            }
        }
        let packet = decode::decode(frame.link, frame.data);
        table.on_packet(&frame, &packet, &mut sink);
        if let Some(e) = sink.error.take() {
            return Err(e.into());
        }
    }
    if !sink.ended {
        table.finish(&mut sink);
    }
    if let Some(e) = sink.error.take() {
        return Err(e.into());
    }
    if !sink.found {
        return Err(CommandError::Usage(format!(
            "no connection {} in {}: `netsleuth analyze {}` lists the connections and their ids (from 1; with the same filter)",
            config.conn, config.path, config.path
        )));
    }
    sink.close_line()?;
    let summary = sink.summary.clone();
    writeln!(
        sink.out,
        "=== client sent {} bytes, server sent {} bytes{}",
        summary.client_bytes,
        summary.server_bytes,
        if summary.missing_bytes > 0 {
            format!(", {} bytes missing from the capture", summary.missing_bytes)
        } else {
            String::new()
        }
    )?;
    if let Some(mut raw) = sink.raw.take() {
        raw.flush()?;
    }
    Ok(summary)
}

struct Follower<'w, W: Write + ?Sized> {
    /// With key logs: the application layer, tapped on the wanted connection.
    app: Option<AppLayer>,
    /// The conversation is TLS being decrypted: its record bytes are not shown.
    tls: Option<bool>,
    want: u64,
    /// The wanted connection's protocol and endpoints, once opened (for an
    /// application layer made later, when a pcapng's secrets arrive).
    opened: Option<(Protocol, SocketAddr, SocketAddr)>,
    out: &'w mut W,
    raw: Option<BufWriter<File>>,
    found: bool,
    ended: bool,
    last: Option<Side>,
    /// The last text line printed has no line break yet.
    line_open: bool,
    summary: FollowSummary,
    error: Option<std::io::Error>,
}

impl<W: Write + ?Sized> Follower<'_, W> {
    fn close_line(&mut self) -> std::io::Result<()> {
        if self.line_open {
            self.line_open = false;
            writeln!(self.out)?;
        }
        Ok(())
    }

    fn chunk(&mut self, side: Side, frame: u64, bytes: &[u8]) -> std::io::Result<()> {
        match side {
            Side::Client => self.summary.client_bytes += bytes.len() as u64,
            Side::Server => self.summary.server_bytes += bytes.len() as u64,
        }
        if let Some(raw) = &mut self.raw {
            raw.write_all(bytes)?;
        }
        if self.last != Some(side) {
            self.close_line()?;
            let arrow = match side {
                Side::Client => "--> client",
                Side::Server => "<-- server",
            };
            writeln!(self.out, "{arrow} (frame {frame})")?;
            self.last = Some(side);
        }
        // Lines stay lines; everything else that is not printable is escaped.
        let mut lines = bytes.split(|b| *b == b'\n').peekable();
        while let Some(line) = lines.next() {
            self.out.write_all(escape_bytes(line).as_bytes())?;
            if lines.peek().is_some() {
                writeln!(self.out)?;
                self.line_open = false;
            } else {
                self.line_open = !line.is_empty();
            }
        }
        Ok(())
    }

    fn note(&mut self, text: String) -> std::io::Result<()> {
        self.close_line()?;
        self.last = None;
        writeln!(self.out, "[{text}]")
    }

    fn keep(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}

impl<W: Write + ?Sized> FlowSink for Follower<'_, W> {
    fn opened(&mut self, conn: u64, protocol: Protocol, client: SocketAddr, server: SocketAddr) {
        if conn != self.want {
            return;
        }
        self.found = true;
        self.opened = Some((protocol, client, server));
        if let Some(app) = &mut self.app {
            app.opened(conn, protocol, client, server);
        }
        let proto = protocol.as_str();
        let r = writeln!(self.out, "=== conn {conn} {proto} {client} -> {server}");
        self.keep(r);
    }

    fn stream_data(
        &mut self,
        conn: u64,
        side: Side,
        _offset: u64,
        bytes: &[u8],
        frame: u64,
        _ts: Timestamp,
    ) {
        if conn != self.want {
            return;
        }
        let Some(app) = &mut self.app else {
            let r = self.chunk(side, frame, bytes);
            self.keep(r);
            return;
        };
        let tls = *self
            .tls
            .get_or_insert_with(|| side == Side::Client && looks_like_tls(bytes));
        app.stream_data(conn, side, _offset, bytes, frame, _ts);
        if !tls {
            let r = self.chunk(side, frame, bytes);
            self.keep(r);
            return;
        }
        for d in app.take_tapped() {
            let r = self.chunk(d.side, d.frame, &d.data);
            self.keep(r);
        }
    }

    fn stream_gap(&mut self, conn: u64, side: Side, offset: u64, len: u64) {
        if conn == self.want {
            self.summary.missing_bytes += len;
            let r = self.note(format!(
                "{len} bytes from the {} at stream offset {offset} are missing from the capture",
                side.as_str()
            ));
            self.keep(r);
        }
    }

    fn stream_end(&mut self, conn: u64, side: Side, how: StreamEnd) {
        if let (Some(app), true) = (&mut self.app, conn == self.want) {
            app.stream_end(conn, side, how);
        }
        if conn == self.want {
            let how = match how {
                StreamEnd::Fin => "closed (FIN)",
                StreamEnd::Reset => "reset (RST)",
                StreamEnd::Truncated => "still open when the capture ended",
            };
            let r = self.note(format!("{} {how}", side.as_str()));
            self.keep(r);
        }
    }

    fn datagram(&mut self, conn: u64, side: Side, payload: &[u8], frame: u64, _ts: Timestamp) {
        if conn == self.want {
            // Each datagram is its own message: always a header.
            self.last = None;
            let r = self
                .chunk(side, frame, payload)
                .and_then(|()| self.close_line());
            self.keep(r);
        }
    }

    fn connection(&mut self, record: ConnRecord) {
        if record.id != self.want {
            return;
        }
        self.ended = true;
        let Some(app) = &mut self.app else { return };
        let status = app
            .connection_ended(&record)
            .tls
            .and_then(|t| t.decryption)
            .map(|d| match d.status {
                "decrypted" => format!("TLS decrypted: {} records", d.records),
                _ => format!("TLS not decrypted: {}", d.reason.unwrap_or_default()),
            });
        if let Some(status) = status {
            let r = self.note(status);
            self.keep(r);
        }
    }
}
