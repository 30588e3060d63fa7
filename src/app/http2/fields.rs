//! What the rest of the parser needs from one decoded header block: pseudo
//! headers, Host, Content-Type, and (when `--expect` rules ask) the regular
//! fields of the response or the request, all bounded while decoding.

use crate::app::http::capture::{MAX_KEPT_FIELDS, MAX_KEPT_FIELD_BYTES};
use crate::app::http::head::text;

/// The facts of one header block.
#[derive(Debug, Default)]
pub(super) struct Fields {
    pub method: Option<String>,
    pub path: Option<String>,
    pub authority: Option<String>,
    pub host: Option<String>,
    pub status: Option<String>,
    pub content_type: Option<String>,
    /// Regular fields in order (names lower case as HTTP/2 sends them), when kept.
    pub kept: Vec<(String, Vec<u8>)>,
    kept_bytes: usize,
    keep: bool,
}

impl Fields {
    /// An empty set; `keep` also collects regular fields (bounded).
    pub fn new(keep: bool) -> Fields {
        Fields {
            keep,
            ..Fields::default()
        }
    }

    /// One decoded field. The first of each pseudo header wins.
    pub fn add(&mut self, name: &[u8], value: &[u8]) {
        let slot = match name {
            b":method" => &mut self.method,
            b":path" => &mut self.path,
            b":authority" => &mut self.authority,
            b":status" => &mut self.status,
            b"host" => &mut self.host,
            b"content-type" => &mut self.content_type,
            _ => {
                self.keep_field(name, value);
                return;
            }
        };
        if slot.is_none() {
            *slot = Some(text(value));
        }
        // Rules read these too (`request header host exists`).
        if name == b"content-type" || name == b"host" {
            self.keep_field(name, value);
        }
    }

    fn keep_field(&mut self, name: &[u8], value: &[u8]) {
        if !self.keep || name.first() == Some(&b':') {
            return;
        }
        // One past each bound, so `ResponseData::keep_fields` sees the overflow.
        let size = name.len() + value.len();
        if self.kept.len() > MAX_KEPT_FIELDS || self.kept_bytes > MAX_KEPT_FIELD_BYTES {
            return;
        }
        self.kept_bytes += size;
        let value = value
            .get(..value.len().min(MAX_KEPT_FIELD_BYTES + 1))
            .unwrap_or_default();
        self.kept
            .push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
    }

    /// The `:status` code, when it is three digits.
    pub fn status_code(&self) -> Option<u16> {
        let s = self.status.as_deref()?;
        if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_headers_first_wins_and_status_digits() {
        let mut f = Fields::new(true);
        f.add(b":method", b"GET");
        f.add(b":method", b"POST");
        f.add(b":status", b"204");
        f.add(b"content-type", b"text/plain");
        f.add(b"x-a", b"1");
        assert_eq!(f.method.as_deref(), Some("GET"));
        assert_eq!(f.status_code(), Some(204));
        assert_eq!(f.kept.len(), 2);
        for bad in [&b"20"[..], b"2000", b"2a0", b""] {
            let mut f = Fields::new(false);
            f.add(b":status", bad);
            assert_eq!(f.status_code(), None);
            assert!(f.kept.is_empty());
        }
        let mut f = Fields::new(true);
        for _ in 0..10_000 {
            f.add(b"x-many", b"vvvvvvvvvvvvvvvvvvvv");
        }
        assert!(f.kept.len() <= MAX_KEPT_FIELDS + 1);
    }
}
