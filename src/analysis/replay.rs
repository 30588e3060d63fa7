//! Replays: a request that died on a dead pooled connection (an RST, a
//! black hole, a server that had closed it) and went out again on a new
//! connection right after. Go's `Transport` replays idempotent requests this
//! way, and so do many client libraries; the caller then sees only the delay.
//!
//! A replay is the same client address, server endpoint, method and path, on
//! another connection, starting within [`REPLAY_WINDOW_NS`] of the death.
//! What the caller saw decides the severity: a replay that got a non-5xx
//! answer leaves a warning, anything else stays an error. When the request
//! cannot be seen (TLS without keys), the next connection from the same client
//! to the same server within the window is named as the likely retry, and the
//! severity stays: what the caller got is encrypted.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use crate::app::http::HttpTransaction;
use crate::base::human_duration;
use crate::base::Side;
use crate::base::Timestamp;
use crate::diagnose::{Finding, Severity};
use crate::flow::conn::ConnRecord;

/// A replay starts at most this long after the request died (Go replays at
/// once; other clients back off briefly).
pub const REPLAY_WINDOW_NS: i64 = 5_000_000_000;
/// Dead requests remembered while waiting for their replay.
const MAX_DEAD: usize = 1024;

/// A request that died, waiting for its replay.
#[derive(Debug, Clone)]
pub struct Dead {
    /// Its connection.
    pub conn: u64,
    client: IpAddr,
    server: SocketAddr,
    method: String,
    path: String,
    /// When the request was first sent.
    sent: Timestamp,
    /// When the connection gave out (its RST, or its end).
    died: Timestamp,
    /// Index of its finding in the analysis' finding list.
    pub finding: usize,
}

/// What linking needs of a transaction.
#[derive(Debug, Clone)]
pub struct Seen {
    conn: u64,
    client: IpAddr,
    server: SocketAddr,
    method: Option<String>,
    path: Option<String>,
    start: Option<Timestamp>,
    status: Option<u16>,
    complete: bool,
    end: Option<Timestamp>,
}

impl Seen {
    /// The parts of `tx` linking needs.
    pub fn of(tx: &HttpTransaction) -> Seen {
        Seen {
            conn: tx.conn,
            client: tx.client.ip(),
            server: tx.server,
            method: tx.method.clone(),
            path: tx.path.clone(),
            start: tx.start,
            status: tx.status,
            complete: tx.complete,
            end: tx.response_last.map(|m| m.ts),
        }
    }

    /// True when this is `d`'s request sent again on another connection soon
    /// after `d` died.
    fn replays(&self, d: &Dead) -> bool {
        self.conn != d.conn
            && self.client == d.client
            && self.server == d.server
            && self.method.as_deref() == Some(d.method.as_str())
            && self.path.as_deref() == Some(d.path.as_str())
            && self
                .start
                .is_some_and(|s| s >= d.died && s.since(d.died) <= REPLAY_WINDOW_NS)
    }
}

/// Dead requests waiting for a replay, and recent transactions for a dead
/// connection whose record comes after its replay's (a black-holed one ends
/// only when its last resend times out).
#[derive(Debug, Default)]
pub struct Replays {
    dead: VecDeque<Dead>,
    recent: VecDeque<Seen>,
    /// Dead connections whose request could not be read, waiting for the next
    /// connection to the same server.
    opaque: VecDeque<Dead>,
}

impl Replays {
    /// Remembers the unanswered request `tx` (see [`Seen::of`]) whose connection died at `died`;
    /// its finding is `finding` in the finding list. Returns it with its
    /// replay when that was already seen.
    pub fn note_dead(&mut self, tx: Seen, died: Timestamp, finding: usize) -> Option<(Dead, Seen)> {
        let (Some(method), Some(path), Some(sent)) = (tx.method, tx.path, tx.start) else {
            return None;
        };
        let dead = Dead {
            conn: tx.conn,
            client: tx.client,
            server: tx.server,
            method,
            path,
            sent,
            died,
            finding,
        };
        if let Some(pos) = self.recent.iter().position(|s| s.replays(&dead)) {
            let seen = self.recent.remove(pos)?;
            return Some((dead, seen));
        }
        if self.dead.len() == MAX_DEAD {
            self.dead.pop_front();
        }
        self.dead.push_back(dead);
        None
    }

    /// Remembers a dead connection whose request could not be read (no HTTP
    /// record: encrypted, or not HTTP).
    pub fn note_opaque(&mut self, c: &ConnRecord, died: Timestamp, finding: usize) {
        if self.opaque.len() == MAX_DEAD {
            self.opaque.pop_front();
        }
        let sent = c.request.map_or(c.start, |r| r.ts);
        self.opaque.push_back(Dead {
            conn: c.id,
            client: c.client.ip(),
            server: c.server,
            method: String::new(),
            path: String::new(),
            sent,
            died,
            finding,
        });
    }

    /// The opaque dead connection that connection `c` likely retries (removed).
    pub fn take_retried(&mut self, c: &ConnRecord) -> Option<Dead> {
        let pos = self.opaque.iter().position(|d| {
            d.conn != c.id
                && d.client == c.client.ip()
                && d.server == c.server
                && c.start >= d.died
                && c.start.since(d.died) <= REPLAY_WINDOW_NS
        })?;
        self.opaque.remove(pos)
    }

    /// The dead request `tx` replays, if any (removed from the waiting list);
    /// otherwise `tx` is remembered for a while.
    pub fn take_replayed(&mut self, tx: &HttpTransaction) -> Option<(Dead, Seen)> {
        let seen = Seen::of(tx);
        if let Some(pos) = self.dead.iter().position(|d| seen.replays(d)) {
            let dead = self.dead.remove(pos)?;
            return Some((dead, seen));
        }
        if seen.method.is_some() && seen.start.is_some() {
            if self.recent.len() == MAX_DEAD {
                self.recent.pop_front();
            }
            self.recent.push_back(seen);
        }
        None
    }

    /// The requests never replayed (at the end of the input).
    pub fn take_unreplayed(&mut self) -> impl Iterator<Item = Dead> + '_ {
        self.dead.drain(..)
    }
}

/// Says on `f` (the dead request's finding) that `replay` sent it again, and
/// sets the severity from what the caller saw.
pub fn link(f: &mut Finding, dead: &Dead, replay: &Seen) {
    let answered = replay.complete && replay.status.is_some_and(|s| s < 500);
    let outcome = match replay.status {
        Some(s) => format!("answered {s}"),
        None => "not answered".to_string(),
    };
    let end = replay.end.or(replay.start).unwrap_or(dead.died);
    let (severity, meaning) = match (answered, is_idempotent(&dead.method)) {
        (true, true) => (
            Severity::Warning,
            format!(
                "the caller saw no error, only the delay ({} from the first attempt to the answer)",
                human_duration(end.since(dead.sent))
            ),
        ),
        // A client library does not replay a POST by itself: the application
        // saw the error and sent it again.
        (true, false) => (
            Severity::Error,
            "the application saw the error and retried".to_string(),
        ),
        (false, _) => (Severity::Error, "the call failed".to_string()),
    };
    let verb = if is_idempotent(&dead.method) {
        "was replayed"
    } else {
        "was sent again"
    };
    f.severity = severity;
    f.summary = format!(
        "{}; {} {} {verb} on conn {}, {outcome}: {meaning}",
        f.summary, dead.method, dead.path, replay.conn,
    );
}

/// Says on `f` (an opaque dead connection's finding) that `retry` followed.
pub fn link_opaque(f: &mut Finding, dead: &Dead, retry: &ConnRecord) {
    let answered =
        retry.server_stats.payload_bytes > 0 && retry.rst.is_none_or(|r| r.by == Side::Client);
    f.summary = format!(
        "{}; the client opened conn {} to the same server {} later, likely its retry ({}; what the caller got is not visible)",
        f.summary,
        retry.id,
        human_duration(retry.start.since(dead.died)),
        if answered {
            "the server answered on it"
        } else {
            "it got no answer either"
        },
    );
}

/// Says on `f` that its request was not sent again: the caller saw the error.
pub fn unreplayed(f: &mut Finding, dead: &Dead) {
    let why = if is_idempotent(&dead.method) {
        "the client did not retry it"
    } else {
        "a client does not replay a non-idempotent request by itself"
    };
    f.summary = format!(
        "{}; {} {} was not sent again ({why}): the caller saw the error",
        f.summary, dead.method, dead.path
    );
}

/// Methods a client may replay on its own (RFC 9110 §9.2.2).
fn is_idempotent(method: &str) -> bool {
    matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}
