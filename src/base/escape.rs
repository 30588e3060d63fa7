//! Terminal safety: packet-derived bytes never reach the terminal raw.
//!
//! A hostile HTTP header or DNS name could otherwise carry escape sequences that
//! move the reader's cursor or rewrite earlier lines. Every string that came off
//! the wire goes through [`escape_bytes`] before it is printed.

/// Escapes control bytes and invalid UTF-8 as visible `\xNN`, `\n`, `\t` ... sequences.
///
/// Printable UTF-8 (including non-ASCII text) passes through unchanged, except
/// the backslash, which is doubled so the output stays unambiguous.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() || is_bidi_control(c) => {
                    out.extend(c.escape_unicode());
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Escapes a string that came from packet bytes (see [`escape_bytes`]).
pub fn escape_str(s: &str) -> String {
    escape_bytes(s.as_bytes())
}

/// Makes text that is mostly escaped already (finding summaries, which embed
/// [`escape_str`]ed packet strings) safe for the terminal without escaping it
/// twice: control and bidirectional characters become escapes, everything
/// else, backslashes included, passes unchanged.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || is_bidi_control(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.extend(c.escape_unicode()),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Bidirectional overrides can reorder what the reader sees ("Trojan Source").
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible() {
        let hostile = b"ok\x1b[2J\x1b]0;pwned\x07 done";
        let shown = escape_bytes(hostile);
        assert!(!shown.bytes().any(|b| b < 0x20 || b == 0x7f), "{shown:?}");
        assert!(shown.contains("\\u{1b}[2J"), "{shown}");
    }

    #[test]
    fn sanitize_escapes_controls_once() {
        let already = escape_bytes(b"a\x1b[2J");
        assert_eq!(sanitize(&already), already);
        assert_eq!(sanitize("x\u{1b}y\u{202e}"), "x\\u{1b}y\\u{202e}");
        assert!(!sanitize("a\rb\x07").chars().any(char::is_control));
    }

    #[test]
    fn newlines_and_invalid_utf8() {
        assert_eq!(escape_bytes(b"a\r\nb\xff"), "a\\r\\nb\\xff");
        assert_eq!(escape_bytes(b"back\\slash"), "back\\\\slash");
    }

    #[test]
    fn printable_unicode_is_kept_but_bidi_is_not() {
        assert_eq!(escape_str("caf\u{e9} \u{65e5}"), "caf\u{e9} \u{65e5}");
        assert_eq!(escape_str("a\u{202e}b"), "a\\u{202e}b");
    }
}
