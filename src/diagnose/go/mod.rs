//! Rules joining Go goroutine dumps to the capture: `go.handler_blocked`,
//! `go.pool_exhausted` and `go.goroutine_leak`.
//!
//! The input is each dump's classified groups (`goruntime::summary`) beside
//! what the capture had in flight at that dump's time ([`InFlight`], filled by
//! `analysis::goroutines`). The joins, strongest first:
//!
//! * by pprof label: a label whose value is an `ip:port` names the client end
//!   of one connection (`pprof.Do(ctx, pprof.Labels("remote",
//!   r.RemoteAddr), ...)`), so a goroutine is tied to one request;
//! * by count and time: N handler goroutines blocked ⇄ the requests to one
//!   server that had no response at that moment; M calls waiting in
//!   `Transport.getConn` with no dial in progress ⇄ every connection to a
//!   server busy with a request;
//! * across dumps: groups that only grow (`summary::growing`), told beside the
//!   connections the capture shows open;
//! * goroutines in dial or DNS amend the capture's own unanswered-SYN and
//!   DNS findings ([`amend`]).
//!
//! Thresholds are named at the top of each rule's file.

pub mod cpu;
mod handlers;
mod leak;
mod pool;
mod waits;

use super::{Finding, GoroutineEvidence};
use crate::base::Timestamp;
use crate::goruntime::summary::Group;
use crate::goruntime::DumpFormat;
use std::net::SocketAddr;

/// At most this many connections, requests and lookups kept per dump time.
pub const MAX_AT: usize = 4096;

/// At most this many evidence frames cited by one finding.
pub const MAX_FRAMES: usize = 32;

/// One goroutine dump, classified, with the time it was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct GoDump {
    /// The file it was read from.
    pub name: String,
    /// When it was taken.
    pub at: Timestamp,
    /// Its form.
    pub format: DumpFormat,
    /// Its goroutines grouped (`goruntime::summary::summarize`).
    pub groups: Vec<Group>,
}

/// What was in flight on the wire at one dump's time.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    /// TCP connections open at that time.
    pub conns: Vec<ConnAt>,
    /// HTTP requests sent and not answered by then.
    pub requests: Vec<RequestAt>,
    /// DNS lookups sent and not answered by then.
    pub lookups: Vec<LookupAt>,
    /// Entries past [`MAX_AT`], not kept.
    pub dropped: u64,
}

/// A TCP connection open at a dump's time.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnAt {
    /// Connection id.
    pub conn: u64,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// Its first packet.
    pub start: Timestamp,
    /// Its first frame.
    pub frame: u64,
    /// The handshake was complete by then (or the capture began mid-connection).
    pub established: bool,
}

/// An HTTP request waiting for its response at a dump's time.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestAt {
    /// Connection id.
    pub conn: u64,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// `GET /path` (raw; escape before display).
    pub request: String,
    /// When it was sent (its last byte).
    pub sent: Timestamp,
    /// Its first frame.
    pub frame: u64,
    /// When its response began, if it ever did.
    pub answered: Option<Timestamp>,
}

/// A DNS lookup waiting for its answer at a dump's time.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupAt {
    /// The lookup's flow.
    pub conn: u64,
    /// The name asked.
    pub qname: String,
    /// When the query was sent.
    pub sent: Timestamp,
    /// The query's frame.
    pub frame: u64,
    /// When it was answered, if it was.
    pub answered: Option<Timestamp>,
}

/// Every joined finding: per dump, then across dumps.
pub fn diagnose(dumps: &[(&GoDump, &InFlight)]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for (dump, at) in dumps {
        for f in handlers::diagnose(dump, at)
            .into_iter()
            .chain(pool::diagnose(dump, at))
        {
            // Dumps taken every few seconds see one hang many times: the
            // latest (longest wait) stands for it.
            out.retain(|o| (o.kind, o.conn, o.server) != (f.kind, f.conn, f.server));
            out.push(f);
        }
    }
    out.extend(leak::diagnose(dumps));
    out
}

/// Adds to the capture's dial and DNS findings the goroutines that waited
/// on them (see `waits`).
pub fn amend(dumps: &[(&GoDump, &InFlight)], findings: &mut [Finding]) {
    waits::amend(dumps, findings);
}

/// A group as a finding's evidence.
pub fn evidence(dump: &GoDump, g: &Group) -> GoroutineEvidence {
    let place = g.place();
    GoroutineEvidence {
        dump: dump.name.clone(),
        role: g.role.name(),
        count: g.count,
        function: place.map(|f| f.function.clone()).unwrap_or_default(),
        file: place.map(|f| f.file.clone()).unwrap_or_default(),
        line: place.map_or(0, |f| f.line),
        state: g.state.clone(),
        wait_s: g.max_wait.map(|w| w.as_secs()),
        labels: g
            .labels
            .iter()
            .take(8)
            .map(|(set, _)| {
                set.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect(),
    }
}

/// `main.hang (main.go:129) [select, ≥ 4 min]`, escaped for the terminal.
pub fn place_text(g: &Group) -> String {
    let mut s = g
        .place()
        .map(|f| crate::base::escape::escape_str(&f.short()))
        .unwrap_or_else(|| "(no frames)".into());
    match (&g.state, g.max_wait) {
        (Some(state), Some(w)) => s.push_str(&format!(
            " [{}, waiting ≥ {} min]",
            crate::base::escape::escape_str(state),
            w.as_secs() / 60
        )),
        (Some(state), None) => {
            s.push_str(&format!(" [{}]", crate::base::escape::escape_str(state)))
        }
        _ => {}
    }
    s
}

/// The frames to cite: sorted, deduplicated, at most [`MAX_FRAMES`].
fn cite(mut frames: Vec<u64>) -> Vec<u64> {
    frames.sort_unstable();
    frames.dedup();
    frames.truncate(MAX_FRAMES);
    frames
}
