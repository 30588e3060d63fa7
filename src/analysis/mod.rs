//! The analysis pipeline as a library: frames in; connection, DNS, TLS and
//! HTTP records, findings and stories out.
//!
//! - [`pipeline`] reads capture files through the filter, the decoder and the
//!   flow table (on a second thread when there are two cores, `flow::relay`)
//!   into an [`Analyzer`].
//! - [`Analyzer`] is the flow table's [`FlowSink`](crate::flow::table::FlowSink):
//!   it runs the application parsers with the keys, learns DNS names, applies
//!   the diagnosis rules and `--expect` checks, and hands every record to an
//!   [`AnalysisOutput`] as it is made; at the end, [`Analyzer::conclude`]
//!   gives the findings, stories and groups.
//! - `cmd/` chooses the output (text report, JSON document, JSON lines) and
//!   formats it; nothing here writes a report.

mod analyzer;
pub mod goroutines;
pub mod keys;
mod overflow;
pub mod pipeline;
mod replay;
mod syn_loss;

pub use analyzer::{Analyzer, AppCounts, Conclusion, ConvSpan, MAX_SPANS, MAX_UNDECRYPTED_SHOWN};
pub use overflow::{held_for_memory, Overflowed};

use crate::app::dns::DnsRecord;
use crate::app::tls::TlsRecord;
use std::net::SocketAddr;

use crate::base::{Side, Timestamp};
use crate::diagnose::Finding;
use crate::flow::conn::ConnRecord;
use crate::flow::events::TcpEvents;
use crate::report::app_json::HttpJson;
use crate::source::SourceError;

/// Where an [`Analyzer`] puts its records, in the order it makes them.
pub trait AnalysisOutput {
    /// A TCP or UDP conversation began (its first packet).
    fn opened(&mut self, conn: u64, server: SocketAddr) {
        let _ = (conn, server);
    }
    /// TCP connection `conn` completed its handshake: the path round trip.
    fn handshake_rtt(&mut self, conn: u64, rtt_ns: i64) {
        let _ = (conn, rtt_ns);
    }
    /// A connection ended, with its own findings (given again, with the
    /// call's name, to [`AnalysisOutput::findings`] right after).
    fn connection(&mut self, record: ConnRecord, found: &[Finding]);
    /// A DNS lookup is complete.
    fn dns(&mut self, record: &DnsRecord) {
        let _ = record;
    }
    /// A TLS connection ended.
    fn tls(&mut self, record: &TlsRecord) {
        let _ = record;
    }
    /// An HTTP transaction, timed.
    fn http(&mut self, row: HttpJson);
    /// Per-segment TCP analysis flags (only called when non-empty).
    fn tcp_events(&mut self, conn: u64, frame: u64, ts: Timestamp, side: Side, events: TcpEvents) {
        let _ = (conn, frame, ts, side, events);
    }
    /// The findings of one call (a connection, or a DNS lookup), as soon as
    /// its rules ran, with the call's name (SNI, Host or DNS name) when known.
    /// Rules that look across calls may amend held findings later.
    fn findings(&mut self, batch: &[Finding], target: Option<&str>) {
        let _ = (batch, target);
    }
    /// Findings of one call past those held for stories
    /// ([`held_for_memory`]): counted and grouped already, shown now or never.
    fn overflowed_findings(&mut self, findings: Vec<Finding>) {
        let _ = findings;
    }
}

/// Why an analysis could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// Reading the capture failed (or the filter does not compile).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A `--keylog` file cannot be read.
    #[error("{0}")]
    KeyLog(String),
    /// The second thread could not start or stopped unexpectedly.
    #[error("{0}")]
    Thread(String),
    /// Writing warnings or records failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}
