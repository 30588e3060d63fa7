//! Diagnosis: rules over the records the earlier stages emit, each producing
//! [`Finding`]s in the vocabulary of DESIGN.md, with evidence frames and a next step.
//!
//! One file per area (`tcp.rs`, `capture.rs`); rules are plain functions from a
//! record to findings, so each is testable on a hand-built record. Thresholds are
//! named constants with their reasons, documented where they are defined.

pub mod capture;
pub mod distinct;
pub mod dns;
pub mod expect;
pub mod go;
pub mod group;
pub mod http;
pub mod story;
pub mod tcp;
pub mod tls;

use std::net::SocketAddr;

use serde::Serialize;

use crate::base::Timestamp;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; not a failure.
    Info,
    /// Degraded: slow, lossy, or suspicious.
    Warning,
    /// A call failed.
    Error,
}

impl Severity {
    /// `"info"`, `"warning"` or `"error"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One diagnosed problem with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Kind from the vocabulary, e.g. `tcp.connect_refused`.
    pub kind: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One line saying what happened.
    pub summary: String,
    /// What to do next.
    pub next_step: String,
    /// Evidence frame numbers, ascending.
    pub frames: Vec<u64>,
    /// The connection it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    /// Client endpoint, when the finding has a flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<SocketAddr>,
    /// Server endpoint, when the finding has a flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<SocketAddr>,
    /// When it happened (packet time), RFC 3339 in JSON.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_ts")]
    pub time: Option<Timestamp>,
    /// The endpoint template of an HTTP finding (`GET /v1/orders/{id}`), for
    /// grouping; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Goroutines of Go dumps joined to it (`go.*` kinds); empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub goroutines: Vec<GoroutineEvidence>,
}

/// Goroutines of a Go dump that a finding cites: how many, doing what, where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoroutineEvidence {
    /// The dump file they come from.
    pub dump: String,
    /// Their role (`handler`, `conn_wait`, `read_loop`, ... see
    /// `goruntime::Role::name`).
    pub role: &'static str,
    /// How many goroutines.
    pub count: u64,
    /// Where they are: the first application frame, else the standard
    /// library frame that gave the role.
    pub function: String,
    /// That frame's file.
    pub file: String,
    /// That frame's line.
    pub line: u32,
    /// The scheduler state (`select`, `IO wait`, ...), when the dump has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// How long they had waited, when the dump says (whole minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_s: Option<u64>,
    /// pprof label sets of the first few, `k=v,k=v`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

fn ser_ts<S: serde::Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(t) => s.serialize_str(&crate::base::rfc3339(*t)),
        None => s.serialize_none(),
    }
}
