//! http.log: one row per HTTP request/response pair, from an [`HttpJson`].

use super::format::Row;
use crate::app::http::HeaderNames;
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
    "client_header_names",
    "server_header_names",
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
    "vector[string]",
    "vector[string]",
];

/// The http.log row of `h`, filled as Zeek's `base/protocols/http/main.zeek`
/// fills it: `uri` percent-decoded (Zeek logs the unescaped URI), `version`
/// the response's (`0.9` for a response without a status line, whose
/// `status_code` is then 0 and `status_msg` `<empty>`, as Zeek writes it), a
/// 101 both the status and the `info_code`. `client_header_names` and
/// `server_header_names` are the two columns of Zeek's
/// `policy/protocols/http/header-names.zeek` (with both of its switches on).
/// Unset: `password` (never kept, as Zeek's default) and the file fields;
/// `tags` is empty.
pub fn row(h: &HttpJson) -> String {
    let tx = &h.tx;
    let m = &tx.meta;
    let http09 = m.response_version == Some("HTTP/0.9");
    let (status, reason) = if http09 {
        (Some(0), Some("<empty>"))
    } else {
        (tx.status, tx.reason.as_deref())
    };
    let one_xx = status.filter(|s| (100..200).contains(s));
    let (info_code, info_msg) = match one_xx {
        Some(s) => (Some(s), reason),
        None => (tx.informational.last().copied(), m.info_msg.as_deref()),
    };
    let uri = tx.path.as_deref().map(unescape_uri);
    let mut r = Row::new();
    match tx.start {
        Some(ts) => r.time(ts),
        None => r.unset(),
    };
    r.conn_id(tx.conn, tx.client, tx.server)
        .count(Some(m.trans_depth))
        .opt_str(tx.method.as_deref())
        .opt_str(tx.host.as_deref())
        .opt_str(uri.as_deref())
        .opt_str(m.referrer.as_deref())
        // Zeek writes the version without its `HTTP/`.
        .opt_str(
            m.response_version
                .map(|v| v.strip_prefix("HTTP/").unwrap_or(v)),
        )
        .opt_str(m.user_agent.as_deref())
        .opt_str(m.origin.as_deref())
        .count(Some(tx.request_body_bytes))
        .count(Some(tx.response_body_bytes))
        .count(status.map(u64::from))
        .opt_str(reason)
        // Zeek keeps the last informational response.
        .count(info_code.map(u64::from))
        .opt_str(info_msg)
        .list(Some(std::iter::empty::<&str>()))
        .opt_str(m.username.as_deref())
        .unset()
        .list((!m.proxied.is_empty()).then(|| m.proxied.iter().map(String::as_str)))
        .unset_n(6)
        .list(names(&m.request_header_names))
        .list(names(&m.response_header_names));
    debug_assert_eq!(r.columns(), FIELDS.len());
    r.finish()
}

/// A Zeek `&optional` vector: unset when empty.
fn names(v: &HeaderNames) -> Option<impl Iterator<Item = &str>> {
    (!v.is_empty()).then(|| v.iter())
}

/// `%HH` sequences decoded, as Zeek's `unescape_URI`; a malformed `%` stays.
/// When the decoded bytes are not UTF-8 the raw target is kept.
fn unescape_uri(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('%') {
        return raw.into();
    }
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => s.into(),
        Err(_) => raw.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::unescape_uri;

    #[test]
    fn uri_unescaping() {
        assert_eq!(unescape_uri("/a%20b%2Fc"), "/a b/c");
        assert_eq!(unescape_uri("/100%"), "/100%");
        assert_eq!(unescape_uri("/%zz%4"), "/%zz%4");
        assert_eq!(unescape_uri("/%ff"), "/%ff");
    }
}
