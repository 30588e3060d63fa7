//! Zeek's ASCII log format: the header, one row of tab-separated values, the
//! value forms (time and interval with six decimals, `T`/`F`, `-` unset,
//! `(empty)` for an empty string or container) and the escaping of strings.
//!
//! Escaping follows Zeek's ASCII writer: a backslash and every non-printable
//! byte become `\xHH` (lower-case hex), so a tab or newline from a packet can
//! never split a row; inside a set or vector the set separator `,` is escaped
//! too; a string that reads exactly like a placeholder (`-`, `(empty)`) gets
//! its first byte escaped. Printable UTF-8 is kept as Zeek keeps it, except
//! the C1 control characters (U+0080 to U+009F), escaped byte by byte so no
//! terminal control sequence reaches whoever `cat`s the log.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::base::Timestamp;

/// Between the columns of a row.
pub const SEPARATOR: char = '\t';
/// Between the elements of a set or vector.
pub const SET_SEPARATOR: char = ',';
/// An empty string, set or vector.
pub const EMPTY_FIELD: &str = "(empty)";
/// A field with no value.
pub const UNSET_FIELD: &str = "-";

/// The header lines of one log, up to and including `#types`.
pub fn header(path: &str, open: &str, fields: &[&str], types: &[&str]) -> String {
    let mut h = String::with_capacity(512);
    h.push_str("#separator \\x09\n");
    let _ = writeln!(h, "#set_separator{SEPARATOR}{SET_SEPARATOR}");
    let _ = writeln!(h, "#empty_field{SEPARATOR}{EMPTY_FIELD}");
    let _ = writeln!(h, "#unset_field{SEPARATOR}{UNSET_FIELD}");
    let _ = writeln!(h, "#path{SEPARATOR}{path}");
    let _ = writeln!(h, "#open{SEPARATOR}{open}");
    h.push_str("#fields");
    for f in fields {
        h.push(SEPARATOR);
        h.push_str(f);
    }
    h.push_str("\n#types");
    for t in types {
        h.push(SEPARATOR);
        h.push_str(t);
    }
    h.push('\n');
    h
}

/// The last line of a log.
pub fn footer(close: &str) -> String {
    format!("#close{SEPARATOR}{close}\n")
}

/// Seconds with six decimals from nanoseconds, rounded to the microsecond
/// (Zeek's `time` and `interval`): `1764166000.123456`, `-0.500000`.
pub fn seconds(nanos: i64) -> String {
    let micros = (i128::from(nanos) + if nanos < 0 { -500 } else { 500 }) / 1000;
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    format!("{sign}{}.{:06}", m / 1_000_000, m % 1_000_000)
}

/// Appends `s` escaped as Zeek does (see the module doc); `in_set` also
/// escapes the set separator.
pub fn escape_into(out: &mut String, s: &str, in_set: bool) {
    if s.is_empty() {
        out.push_str(EMPTY_FIELD);
        return;
    }
    let mut rest = s;
    // A value that reads like a placeholder: its first byte escaped.
    if s == UNSET_FIELD || s == EMPTY_FIELD {
        let _ = write!(out, "\\x{:02x}", s.as_bytes()[0]);
        rest = &s[1..];
    }
    for c in rest.chars() {
        let escape = c == '\\' || c.is_control() || (in_set && c == SET_SEPARATOR);
        if escape {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else {
            out.push(c);
        }
    }
}

/// One row being built: values appended in the order of the log's `#fields`.
#[derive(Debug, Default)]
pub struct Row {
    line: String,
    columns: usize,
}

impl Row {
    /// An empty row.
    pub fn new() -> Row {
        Row {
            line: String::with_capacity(256),
            columns: 0,
        }
    }

    fn next(&mut self) -> &mut String {
        if self.columns > 0 {
            self.line.push(SEPARATOR);
        }
        self.columns += 1;
        &mut self.line
    }

    /// A value that needs no escaping (numbers, addresses, enums we name).
    fn raw(&mut self, v: impl std::fmt::Display) -> &mut Row {
        let _ = write!(self.next(), "{v}");
        self
    }

    /// The connection's `uid` and its `id.orig_h`, `id.orig_p`, `id.resp_h`,
    /// `id.resp_p`: the five columns every log but x509 has after `ts`.
    pub fn conn_id(&mut self, conn: u64, client: SocketAddr, server: SocketAddr) -> &mut Row {
        self.str(&uid(conn))
            .addr(client.ip())
            .count(Some(u64::from(client.port())))
            .addr(server.ip())
            .count(Some(u64::from(server.port())))
    }

    /// An unset field (`-`).
    pub fn unset(&mut self) -> &mut Row {
        self.next().push_str(UNSET_FIELD);
        self
    }

    /// `n` unset fields.
    pub fn unset_n(&mut self, n: usize) -> &mut Row {
        for _ in 0..n {
            self.unset();
        }
        self
    }

    /// A string, escaped; `(empty)` when empty.
    pub fn str(&mut self, s: &str) -> &mut Row {
        escape_into(self.next(), s, false);
        self
    }

    /// A string when known.
    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Row {
        match s {
            Some(s) => self.str(s),
            None => self.unset(),
        }
    }

    /// A `time` from packet time.
    pub fn time(&mut self, ts: Timestamp) -> &mut Row {
        self.raw(seconds(ts.0))
    }

    /// An `interval` from nanoseconds, when known.
    pub fn interval(&mut self, nanos: Option<i64>) -> &mut Row {
        match nanos {
            Some(n) => self.raw(seconds(n)),
            None => self.unset(),
        }
    }

    /// A `count` (or `port`), when known.
    pub fn count(&mut self, n: Option<u64>) -> &mut Row {
        match n {
            Some(n) => self.raw(n),
            None => self.unset(),
        }
    }

    /// A `bool` as `T` or `F`, when known.
    pub fn bool(&mut self, b: Option<bool>) -> &mut Row {
        match b {
            Some(b) => self.raw(if b { "T" } else { "F" }),
            None => self.unset(),
        }
    }

    /// An `addr`.
    pub fn addr(&mut self, a: IpAddr) -> &mut Row {
        self.raw(a)
    }

    /// A set or vector of strings: `-` when `None`, `(empty)` when empty.
    pub fn list<'a>(&mut self, items: Option<impl IntoIterator<Item = &'a str>>) -> &mut Row {
        let Some(items) = items else {
            return self.unset();
        };
        let out = self.next();
        let start = out.len();
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(SET_SEPARATOR);
            }
            escape_into(out, item, true);
        }
        if out.len() == start {
            out.push_str(EMPTY_FIELD);
        }
        self
    }

    /// Columns so far.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The finished line, with its newline.
    pub fn finish(mut self) -> String {
        self.line.push('\n');
        self.line
    }
}

/// Zeek's uid for connection `id`: `C` and 17 base-62 characters, the same
/// for the same id within a run and different for different ids (the top 64
/// of its 96 bits are a bijective mix of the id), with no table kept.
pub fn uid(id: u64) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let high = splitmix64(id);
    let low = splitmix64(high) >> 32;
    let mut n = (u128::from(high) << 32) | u128::from(low);
    let mut out = [b'0'; 18];
    out[0] = b'C';
    for slot in out[1..].iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// SplitMix64's finalizer: a bijection on `u64` that scatters counters.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str, in_set: bool) -> String {
        let mut out = String::new();
        escape_into(&mut out, s, in_set);
        out
    }

    #[test]
    fn zeek_escapes_control_bytes_and_backslash() {
        assert_eq!(esc("GET /a\tb", false), "GET /a\\x09b");
        assert_eq!(esc("x\ny\r\0", false), "x\\x0ay\\x0d\\x00");
        assert_eq!(esc("a\\b", false), "a\\x5cb");
        assert_eq!(esc("\x1b[31m", false), "\\x1b[31m");
        assert_eq!(esc("\x7f", false), "\\x7f");
        // C1 controls: each UTF-8 byte.
        assert_eq!(esc("a\u{9b}b", false), "a\\xc2\\x9bb");
        // Printable UTF-8 is kept.
        assert_eq!(esc("héllo ü", false), "héllo ü");
    }

    #[test]
    fn zeek_escapes_placeholders_and_set_separator() {
        assert_eq!(esc("", false), "(empty)");
        assert_eq!(esc("-", false), "\\x2d");
        assert_eq!(esc("(empty)", false), "\\x28empty)");
        assert_eq!(esc("--", false), "--");
        assert_eq!(esc("a,b", false), "a,b");
        assert_eq!(esc("a,b", true), "a\\x2cb");
    }

    #[test]
    fn zeek_seconds_have_six_decimals() {
        assert_eq!(seconds(1_764_166_000_123_456_000), "1764166000.123456");
        assert_eq!(seconds(1_764_166_000_123_456_789), "1764166000.123457");
        assert_eq!(seconds(0), "0.000000");
        assert_eq!(seconds(1_500), "0.000002");
        assert_eq!(seconds(999_999_999), "1.000000");
        assert_eq!(seconds(-500_000_000), "-0.500000");
        assert_eq!(seconds(300_000_000_000), "300.000000");
        assert_eq!(seconds(i64::MAX), "9223372036.854776");
        assert_eq!(seconds(i64::MIN), "-9223372036.854776");
    }

    #[test]
    fn zeek_row_values() {
        let mut r = Row::new();
        r.str("a\tb")
            .unset()
            .count(Some(7))
            .bool(Some(true))
            .bool(Some(false))
            .interval(Some(1_000))
            .list(Some(["x,y", "z"]))
            .list(Some(std::iter::empty::<&str>()))
            .list(None::<[&str; 0]>);
        assert_eq!(r.columns(), 9);
        assert_eq!(
            r.finish(),
            "a\\x09b\t-\t7\tT\tF\t0.000001\tx\\x2cy,z\t(empty)\t-\n"
        );
    }

    #[test]
    fn zeek_header_lines_in_order() {
        let h = header(
            "conn",
            "2026-11-26-10-00-00",
            &["ts", "uid"],
            &["time", "string"],
        );
        assert_eq!(
            h,
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
             #path\tconn\n#open\t2026-11-26-10-00-00\n#fields\tts\tuid\n#types\ttime\tstring\n"
        );
        assert_eq!(
            footer("2026-11-26-10-00-01"),
            "#close\t2026-11-26-10-00-01\n"
        );
    }

    #[test]
    fn zeek_uid_is_stable_distinct_and_base62() {
        assert_eq!(uid(1), uid(1));
        let ids: std::collections::HashSet<String> = (0..10_000).map(uid).collect();
        assert_eq!(ids.len(), 10_000);
        for u in [uid(0), uid(1), uid(u64::MAX)] {
            assert_eq!(u.len(), 18);
            assert!(u.starts_with('C'));
            assert!(u[1..].bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }
}
