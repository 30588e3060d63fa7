//! conn.log: one row per TCP, UDP or ICMP conversation, from a [`ConnRecord`].

use super::format::Row;
use crate::flow::conn::ConnRecord;
use crate::flow::key::Protocol;

/// conn.log's `#fields`, as Zeek names them.
pub const FIELDS: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
];

/// conn.log's `#types`, one per field.
pub const TYPES: &[&str] = &[
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "bool",
    "bool",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
    "set[string]",
];

/// The conn.log row of `c`. Unset: `local_orig`/`local_resp` (no local
/// networks are configured) and `tunnel_parents` (tunnels are not followed).
pub fn row(c: &ConnRecord) -> String {
    let mut r = Row::new();
    let service = c.service.join(",");
    r.time(c.start)
        .conn_id(c.id, c.client, c.server)
        .str(c.protocol.as_str())
        .opt_str(Some(service.as_str()).filter(|s| !s.is_empty()));
    // As Zeek: duration and byte counts only when the connection lasted.
    let lasted = c.duration_ns > 0;
    r.interval(lasted.then_some(c.duration_ns))
        .count(lasted.then_some(c.zeek_bytes[0]))
        .count(lasted.then_some(c.zeek_bytes[1]))
        .opt_str(Some(c.state.as_str()).filter(|s| !s.is_empty()))
        .unset_n(2);
    let missed = match c.protocol {
        Protocol::Tcp => c.streams[0]
            .gap_bytes
            .saturating_add(c.streams[1].gap_bytes),
        Protocol::Udp | Protocol::Icmp => 0,
    };
    r.count(Some(missed))
        .opt_str(Some(c.history.as_str()).filter(|h| !h.is_empty()))
        .count(Some(c.client_stats.packets))
        .count(Some(c.client_stats.ip_bytes))
        .count(Some(c.server_stats.packets))
        .count(Some(c.server_stats.ip_bytes))
        .unset();
    debug_assert_eq!(r.columns(), FIELDS.len());
    r.finish()
}
