//! Label values with a bound: whatever the traffic, a family has a fixed
//! most number of series. Packet-derived names (Host, SNI, DNS names) are
//! cleaned and cut; servers past the first [`ServerNames::limit`] share the
//! label `other`; methods and status codes map onto short fixed sets.

use std::collections::HashSet;
use std::net::SocketAddr;

/// The label value every server past the limit shares.
pub const OTHER: &str = "other";

/// Longest label value kept from a packet, in characters.
const MAX_LABEL: usize = 96;

/// Server label values: the first `limit` distinct servers as they are
/// named, every later one `other`. First come rather than top-N by traffic:
/// a series never changes its name once scraped, so a rate over it holds.
#[derive(Debug)]
pub struct ServerNames {
    known: HashSet<String>,
    limit: usize,
}

impl ServerNames {
    /// At most `limit` distinct servers get their own label value.
    pub fn new(limit: usize) -> ServerNames {
        ServerNames {
            known: HashSet::new(),
            limit,
        }
    }

    /// The most servers named.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The label value for a server named `name` (SNI, Host) when known,
    /// else by its address.
    pub fn label(&mut self, name: Option<&str>, addr: Option<SocketAddr>) -> String {
        let value = match (name.map(clean).filter(|n| !n.is_empty()), addr) {
            (Some(n), _) => n,
            (None, Some(a)) => a.to_string(),
            (None, None) => return "unknown".to_string(),
        };
        if self.known.contains(&value) {
            return value;
        }
        if self.known.len() < self.limit {
            self.known.insert(value.clone());
            return value;
        }
        OTHER.to_string()
    }
}

/// A packet-derived string as a label value: lower case (names are
/// case-insensitive), printable ASCII only (anything else as `_`), at most
/// [`MAX_LABEL`] characters.
pub fn clean(raw: &str) -> String {
    raw.chars()
        .take(MAX_LABEL)
        .map(|c| match c {
            c if c.is_ascii_graphic() && c != '"' && c != '\\' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect()
}

/// An HTTP method as a label value: the registered methods as they are,
/// every other token `other`.
pub fn method(raw: Option<&str>) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    match raw {
        None => "none",
        Some(m) => KNOWN.iter().find(|k| **k == m).copied().unwrap_or(OTHER),
    }
}

/// An HTTP status as its class (`2xx`), or `none` when no response came.
pub fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "invalid",
        None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn servers_past_the_limit_share_one_label() {
        let mut names = ServerNames::new(2);
        let a: SocketAddr = "10.0.0.1:443".parse().unwrap();
        assert_eq!(names.label(Some("API.example"), Some(a)), "api.example");
        assert_eq!(names.label(None, Some(a)), "10.0.0.1:443");
        assert_eq!(names.label(Some("third.example"), None), OTHER);
        // Known ones keep their names after the limit is reached.
        assert_eq!(names.label(Some("api.example"), None), "api.example");
        assert_eq!(names.label(Some(""), None), "unknown");
    }

    #[test]
    fn methods_and_statuses_map_onto_fixed_sets() {
        assert_eq!(method(Some("GET")), "GET");
        assert_eq!(method(Some("BREW")), OTHER);
        assert_eq!(method(None), "none");
        assert_eq!(status_class(Some(503)), "5xx");
        assert_eq!(status_class(Some(999)), "invalid");
        assert_eq!(status_class(None), "none");
    }

    proptest! {
        #[test]
        fn cleaned_labels_are_short_and_printable(raw in any::<String>()) {
            let c = clean(&raw);
            prop_assert!(c.chars().count() <= MAX_LABEL);
            prop_assert!(c.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\'));
        }

        #[test]
        fn no_more_than_limit_plus_other(names in proptest::collection::vec(any::<String>(), 0..200)) {
            let mut s = ServerNames::new(10);
            let distinct: HashSet<String> = names.iter().map(|n| s.label(Some(n), None)).collect();
            prop_assert!(distinct.len() <= 12, "{distinct:?}"); // 10, other, unknown
        }
    }
}
