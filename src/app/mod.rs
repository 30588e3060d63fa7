//! The application layer: DNS, TLS and HTTP/1.x parsed from UDP datagrams and
//! reassembled TCP streams (see `flow::table::FlowSink`), producing per-protocol
//! records that `diagnose` turns into findings.
//!
//! Contract: parsers are sans-IO and use packet time only; every input is
//! untrusted (bounded buffers, no panics); every record names its connection.

pub mod dns;
pub mod http;
pub mod http2;
pub mod tls;

mod dispatch;
pub use dispatch::{AppLayer, AppRecords};

use std::net::SocketAddr;

use crate::flow::Side;
use crate::source::Timestamp;

/// Where a piece of application data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Connection id (as in connection records).
    pub conn: u64,
    /// Who sent it.
    pub side: Side,
    /// The frame that carried it.
    pub frame: u64,
    /// When.
    pub ts: Timestamp,
}

/// A connection's identity, copied into every application record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// Connection id.
    pub conn: u64,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
}
