//! What Zeek's http.log takes from a head beyond framing: User-Agent,
//! Referer, Origin, the Basic-auth user name, the proxy headers, and the
//! header names in order (Zeek's `policy/protocols/http/header-names.zeek`).
//!
//! Rules follow Zeek's `base/protocols/http/main.zeek`:
//! * names are compared and listed upper-cased; for a header sent twice the
//!   last value wins (Zeek assigns on every `http_header` event);
//! * `username` comes from `Authorization` or `Proxy-Authorization` values
//!   starting `Basic ` (any case): the base64 after it, decoded, up to the
//!   first `:`; a value that does not decode to `user:password` gives
//!   `<problem-decoding> (VALUE)` as Zeek writes it. The password is never
//!   kept (Zeek's `default_capture_password` is false);
//! * `proxied`: each header among [`PROXY_HEADERS`] as `NAME -> value`, once.
//!
//! Everything is bounded: strings by the head's own bound, lists by
//! [`MAX_NAMES`] and [`MAX_PROXIED`].

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::Serialize;

use super::head::text;

/// Zeek's `HTTP::proxy_headers`.
pub const PROXY_HEADERS: [&str; 7] = [
    "FORWARDED",
    "X-FORWARDED-FOR",
    "X-FORWARDED-FROM",
    "CLIENT-IP",
    "VIA",
    "XROXY-CONNECTION",
    "PROXY-CONNECTION",
];
/// Most header names listed per message.
pub const MAX_NAMES: usize = 256;
/// Most `proxied` entries per request.
pub const MAX_PROXIED: usize = 16;
/// Longest header name listed, in bytes (longer ones are cut at a character).
const MAX_NAME_CHARS: usize = 128;

/// The request head's facts for the record (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestMeta {
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    pub origin: Option<String>,
    pub username: Option<String>,
    pub proxied: Vec<String>,
    pub header_names: HeaderNames,
}

/// The Zeek http.log fields of one transaction that framing does not give.
/// In JSON, the optional ones are left out when absent (every HTTP record
/// would otherwise carry them as nulls: 28% more bytes on a busy capture).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpMeta {
    /// The 1-based position of this request/response pair on its
    /// connection (Zeek's `trans_depth`); HTTP/2 streams count in the order
    /// their requests were seen.
    pub trans_depth: u64,
    /// User-Agent (raw; escape before display).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Referer (raw).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// Origin (raw).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The user of `Authorization: Basic` (raw); the password is never kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Proxy headers as `NAME -> value`, in order, once each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proxied: Vec<String>,
    /// Reason phrase of the last 1xx response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_msg: Option<String>,
    /// The final response's version (`HTTP/1.1`, `HTTP/0.9` for a response
    /// without a status line); Zeek's http.log `version` is this one.
    pub response_version: Option<&'static str>,
    /// Request header names, upper-cased, in order (Zeek's `client_header_names`).
    pub request_header_names: HeaderNames,
    /// Final response header names, upper-cased, in order (Zeek's `server_header_names`).
    pub response_header_names: HeaderNames,
    /// Parsed after its connection's HTTP parsing resumed past a gap in the
    /// capture: the gap may have held whole messages, so the pairing of
    /// request and response is a best guess (`resync.rs`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resynced: bool,
}

/// A message's header names, upper-cased, in order: one string for all of
/// them (one allocation a head rather than one a name: this runs on every
/// message), listed as a JSON array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderNames {
    /// The names, each followed by a line feed (never part of a name).
    joined: String,
}

impl HeaderNames {
    /// The names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.joined.split_terminator('\n')
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.joined.bytes().filter(|&b| b == b'\n').count()
    }

    /// No names.
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }
}

impl Serialize for HeaderNames {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<const N: usize> PartialEq<[&str; N]> for HeaderNames {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

/// Header names upper-cased, in order, bounded.
pub(crate) fn header_names<'h>(names: impl IntoIterator<Item = &'h str>) -> HeaderNames {
    let mut joined = String::with_capacity(128);
    for n in names.into_iter().take(MAX_NAMES) {
        let mut cut = n.len().min(MAX_NAME_CHARS);
        while !n.is_char_boundary(cut) {
            cut -= 1;
        }
        let name = n.get(..cut).unwrap_or_default();
        let start = joined.len();
        if name.contains('\n') {
            joined.push_str(&name.replace('\n', ""));
        } else {
            joined.push_str(name);
        }
        if let Some(added) = joined.get_mut(start..) {
            added.make_ascii_uppercase();
        }
        joined.push('\n');
    }
    HeaderNames { joined }
}

/// The request facts of `headers` (name, raw value), in order.
pub(crate) fn request_meta<'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])> + Clone,
) -> RequestMeta {
    let mut m = RequestMeta {
        header_names: header_names(headers.clone().into_iter().map(|(n, _)| n)),
        ..RequestMeta::default()
    };
    for (name, value) in headers {
        let is = |wanted: &str| name.eq_ignore_ascii_case(wanted);
        if is("user-agent") {
            m.user_agent = Some(text(value));
        } else if is("referer") {
            m.referrer = Some(text(value));
        } else if is("origin") {
            m.origin = Some(text(value));
        } else if is("authorization") || is("proxy-authorization") {
            if let Some(user) = basic_user(value) {
                m.username = Some(user);
            }
        } else if let Some(proxy) = PROXY_HEADERS.iter().find(|p| is(p)) {
            let entry = format!("{proxy} -> {}", text(value));
            if m.proxied.len() < MAX_PROXIED && !m.proxied.contains(&entry) {
                m.proxied.push(entry);
            }
        }
    }
    m
}

/// The user name of a `Basic` credential, as Zeek's script derives it;
/// `None` for other schemes.
fn basic_user(value: &[u8]) -> Option<String> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let encoded = rest.trim_ascii_start();
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded = engine.decode(encoded).unwrap_or_default();
    match decoded.iter().position(|&b| b == b':') {
        Some(colon) => Some(text(decoded.get(..colon).unwrap_or_default())),
        None => Some(format!("<problem-decoding> ({})", text(value))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(headers: &[(&str, &str)]) -> RequestMeta {
        request_meta(headers.iter().map(|(n, v)| (*n, v.as_bytes())))
    }

    #[test]
    fn zeek_fields_from_request_headers() {
        let m = meta(&[
            ("Host", "a"),
            ("User-Agent", "curl/8.5.0"),
            ("referer", "http://r/"),
            ("Origin", "http://o"),
            ("Authorization", "Basic dXNlcjpzZWNyZXQ="),
            ("Via", "1.1 squid"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("Via", "1.1 squid"),
        ]);
        assert_eq!(m.user_agent.as_deref(), Some("curl/8.5.0"));
        assert_eq!(m.referrer.as_deref(), Some("http://r/"));
        assert_eq!(m.origin.as_deref(), Some("http://o"));
        assert_eq!(m.username.as_deref(), Some("user"));
        assert_eq!(
            m.proxied,
            ["VIA -> 1.1 squid", "X-FORWARDED-FOR -> 10.0.0.1"]
        );
        assert_eq!(
            m.header_names,
            [
                "HOST",
                "USER-AGENT",
                "REFERER",
                "ORIGIN",
                "AUTHORIZATION",
                "VIA",
                "X-FORWARDED-FOR",
                "VIA"
            ]
        );
    }

    #[test]
    fn basic_auth_variants() {
        let user = |v: &str| meta(&[("Proxy-Authorization", v)]).username;
        assert_eq!(user("basic   YTpi").as_deref(), Some("a"));
        assert_eq!(
            user("BASIC YTpi:")
                .as_deref()
                .map(|u| u.starts_with("<problem-decoding>")),
            Some(true)
        );
        assert_eq!(
            user("Basic bm9jb2xvbg==").as_deref(),
            Some("<problem-decoding> (Basic bm9jb2xvbg==)")
        );
        assert_eq!(user("Bearer abc"), None);
        assert_eq!(user("Basic"), None);
        // The password never appears.
        assert!(
            !format!("{:?}", meta(&[("Authorization", "Basic dXNlcjpzZWNyZXQ=")]))
                .contains("secret")
        );
    }

    #[test]
    fn lists_are_bounded() {
        let names: Vec<String> = (0..1000).map(|i| format!("x-{i}")).collect();
        let m = request_meta(names.iter().map(|n| (n.as_str(), &b"v"[..])));
        assert_eq!(m.header_names.len(), MAX_NAMES);
        let vias: Vec<String> = (0..100).map(|i| format!("{i}")).collect();
        let m = request_meta(vias.iter().map(|v| ("Via", v.as_bytes())));
        assert_eq!(m.proxied.len(), MAX_PROXIED);
    }
}
