//! http.log: one row per HTTP request/response pair, from an [`HttpJson`].

use super::format::Row;
use crate::report::app_json::HttpJson;

/// http.log's `#fields`, as Zeek names them.
pub const FIELDS: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "trans_depth",
    "method",
    "host",
    "uri",
    "referrer",
    "version",
    "user_agent",
    "origin",
    "request_body_len",
    "response_body_len",
    "status_code",
    "status_msg",
    "info_code",
    "info_msg",
    "tags",
    "username",
    "password",
    "proxied",
    "orig_fuids",
    "orig_filenames",
    "orig_mime_types",
    "resp_fuids",
    "resp_filenames",
    "resp_mime_types",
];

/// http.log's `#types`, one per field.
pub const TYPES: &[&str] = &[
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "count",
    "string",
    "string",
    "string",
    "string",
    "string",
    "string",
    "string",
    "count",
    "count",
    "count",
    "string",
    "count",
    "string",
    "set[enum]",
    "string",
    "string",
    "set[string]",
    "vector[string]",
    "vector[string]",
    "vector[string]",
    "vector[string]",
    "vector[string]",
    "vector[string]",
];

/// The http.log row of `h`. Unset: `trans_depth`, `referrer`, `user_agent`,
/// `origin`, `info_msg`, `username`, `password`, `proxied` and the file
/// fields (the parser keeps none of them); `tags` is empty.
pub fn row(h: &HttpJson) -> String {
    let tx = &h.tx;
    let mut r = Row::new();
    match tx.start {
        Some(ts) => r.time(ts),
        None => r.unset(),
    };
    r.conn_id(tx.conn, tx.client, tx.server)
        .unset()
        .opt_str(tx.method.as_deref())
        .opt_str(tx.host.as_deref())
        .opt_str(tx.path.as_deref())
        .unset()
        // Zeek writes the version without its `HTTP/`.
        .opt_str(tx.version.map(|v| v.strip_prefix("HTTP/").unwrap_or(v)))
        .unset_n(2)
        .count(Some(tx.request_body_bytes))
        .count(Some(tx.response_body_bytes))
        .count(tx.status.map(u64::from))
        .opt_str(tx.reason.as_deref())
        // Zeek keeps the last informational response.
        .count(tx.informational.last().map(|&c| u64::from(c)))
        .unset()
        .list(Some(std::iter::empty::<&str>()))
        .unset_n(9);
    debug_assert_eq!(r.columns(), FIELDS.len());
    r.finish()
}
