//! `analyze --zeek-logs DIR`: conn.log, dns.log, ssl.log, http.log and
//! x509.log in Zeek's ASCII (TSV) format, so `zeek-cut` and pipelines built
//! on Zeek logs read them.
//!
//! Contract: every row is written as its record arrives (one `BufWriter` per
//! log), so memory does not grow with the capture; the one thing kept across
//! records is the set of certificate fingerprints already logged (Zeek logs a
//! certificate once), capped at [`MAX_KNOWN_CERTS`]. A connection's uid is
//! computed from its id ([`format::uid`]), so its dns/ssl/http rows carry the
//! uid of its conn.log row with no table. Fields our records do not have are
//! written unset (`-`), never guessed; each writer's `row` says which.
//! Every packet-derived string is escaped as Zeek escapes it
//! ([`format::escape_into`]): no raw control byte reaches a log.
//!
//! Zeek's formats are facts taken from its documentation; `format.rs` holds
//! them, one file per log builds the rows.

pub mod conn;
pub mod dns;
pub mod format;
pub mod http;
pub mod ssl;

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::app::dns::DnsRecord;
use crate::app::tls::TlsRecord;
use crate::flow::conn::ConnRecord;
use crate::report::app_json::HttpJson;

/// Certificate fingerprints remembered to log each certificate once; past
/// this many distinct certificates, later ones are logged at every sighting.
pub const MAX_KNOWN_CERTS: usize = 10_000;

/// Why the Zeek logs could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZeekError {
    /// The directory exists as something else.
    #[error("--zeek-logs {}: not a directory; give a directory (it is created if missing)", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The directory could not be created.
    #[error("--zeek-logs {}: cannot create the directory: {source}; choose a writable directory", path.display())]
    CreateDir {
        /// The path given.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A log file could not be created.
    #[error("--zeek-logs: cannot create {}: {source}; choose a writable directory", path.display())]
    Create {
        /// The log's path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Writing a log failed (a full disk, a removed directory).
    #[error("--zeek-logs: writing {}: {source}; free space or choose another directory", path.display())]
    Write {
        /// The log's path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// One open log file.
struct LogFile {
    path: PathBuf,
    out: BufWriter<File>,
}

impl LogFile {
    fn create(
        dir: &Path,
        name: &str,
        open: &str,
        fields: &[&str],
        types: &[&str],
    ) -> Result<LogFile, ZeekError> {
        let path = dir.join(format!("{name}.log"));
        let file = File::create(&path).map_err(|source| ZeekError::Create {
            path: path.clone(),
            source,
        })?;
        let mut log = LogFile {
            path,
            out: BufWriter::with_capacity(64 * 1024, file),
        };
        log.write(&format::header(name, open, fields, types))?;
        Ok(log)
    }

    fn write(&mut self, line: &str) -> Result<(), ZeekError> {
        self.out
            .write_all(line.as_bytes())
            .map_err(|source| ZeekError::Write {
                path: self.path.clone(),
                source,
            })
    }

    fn close(mut self, close: &str) -> Result<(), ZeekError> {
        self.write(&format::footer(close))?;
        self.out.flush().map_err(|source| ZeekError::Write {
            path: self.path,
            source,
        })
    }
}

/// The five logs of one run, written as records arrive.
pub struct ZeekLogs {
    conn: LogFile,
    dns: LogFile,
    ssl: LogFile,
    http: LogFile,
    x509: LogFile,
    /// Fingerprints of the certificates logged so far (bounded).
    known_certs: HashSet<[u8; 32]>,
    /// The first write error; later rows are dropped.
    error: Option<ZeekError>,
}

impl ZeekLogs {
    /// Creates `dir` if missing and the five logs in it (replacing older
    /// ones), each with its header; `open` is the `#open` time
    /// (`YYYY-MM-DD-HH-MM-SS`, see [`wall_clock_stamp`]).
    pub fn create(dir: &Path, open: &str) -> Result<ZeekLogs, ZeekError> {
        if dir.exists() && !dir.is_dir() {
            return Err(ZeekError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| ZeekError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(ZeekLogs {
            conn: LogFile::create(dir, "conn", open, conn::FIELDS, conn::TYPES)?,
            dns: LogFile::create(dir, "dns", open, dns::FIELDS, dns::TYPES)?,
            ssl: LogFile::create(dir, "ssl", open, ssl::SSL_FIELDS, ssl::SSL_TYPES)?,
            http: LogFile::create(dir, "http", open, http::FIELDS, http::TYPES)?,
            x509: LogFile::create(dir, "x509", open, ssl::X509_FIELDS, ssl::X509_TYPES)?,
            known_certs: HashSet::new(),
            error: None,
        })
    }

    fn keep(&mut self, written: Result<(), ZeekError>) {
        if let (Err(e), None) = (written, &self.error) {
            self.error = Some(e);
        }
    }

    /// A connection ended: its conn.log row.
    pub fn connection(&mut self, record: &ConnRecord) {
        if self.error.is_none() {
            let written = self.conn.write(&conn::row(record));
            self.keep(written);
        }
    }

    /// A DNS lookup is complete: its dns.log row.
    pub fn dns(&mut self, record: &DnsRecord) {
        if self.error.is_none() {
            let written = self.dns.write(&dns::row(record));
            self.keep(written);
        }
    }

    /// A TLS connection ended: its ssl.log row, and an x509.log row for each
    /// certificate of its chains (the server's, then the client's) not logged
    /// before.
    pub fn tls(&mut self, record: &TlsRecord) {
        if self.error.is_some() {
            return;
        }
        let mut written = self.ssl.write(&ssl::ssl_row(record));
        let server = record
            .certificates
            .iter()
            .enumerate()
            .map(|(i, c)| (c, i, false));
        let client = record
            .client_cert_chain
            .iter()
            .enumerate()
            .map(|(i, c)| (c, i, true));
        for (cert, i, from_client) in server.chain(client) {
            let known = self.known_certs.contains(&cert.fingerprint);
            if known {
                continue;
            }
            if self.known_certs.len() < MAX_KNOWN_CERTS {
                self.known_certs.insert(cert.fingerprint);
            }
            let row = ssl::x509_row(cert, i == 0, from_client);
            written = written.and_then(|()| self.x509.write(&row));
        }
        self.keep(written);
    }

    /// An HTTP transaction: its http.log row.
    pub fn http(&mut self, row: &HttpJson) {
        if self.error.is_none() {
            let written = self.http.write(&http::row(row));
            self.keep(written);
        }
    }

    /// Writes each log's `#close` line (`close` as `#open`) and flushes;
    /// the first error of the run, if any.
    pub fn finish(self, close: &str) -> Result<(), ZeekError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        for log in [self.conn, self.dns, self.ssl, self.http, self.x509] {
            log.close(close)?;
        }
        Ok(())
    }
}

/// The wall clock in the local time zone as Zeek's `#open`/`#close` lines
/// write it: `2026-11-26-14-03-59`.
pub fn wall_clock_stamp() -> String {
    jiff::Zoned::now().strftime("%Y-%m-%d-%H-%M-%S").to_string()
}
