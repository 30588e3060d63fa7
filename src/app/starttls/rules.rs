//! The per-protocol table: which client command asks for TLS and which server
//! reply grants or refuses it. Lines arrive without their terminator.

use super::Protocol;

/// What a server line says about a pending STARTTLS request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// TLS starts right after this line.
    Accept,
    /// The server said no: the session goes on in plaintext.
    Refuse,
    /// Not the answer (a continuation line, an unrelated notice).
    Other,
}

/// The byte that ends one unit of the plaintext exchange: XMPP is XML with no
/// line structure, so an element ends at `>`; the rest are line protocols.
pub(super) fn delimiter(protocol: Protocol) -> u8 {
    match protocol {
        Protocol::Xmpp => b'>',
        _ => b'\n',
    }
}

fn trim(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

fn eq_word(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// The words of a line, split on ASCII spaces.
fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ').filter(|w| !w.is_empty())
}

/// Whether the client `line` asks `protocol`'s server for TLS; the IMAP tag
/// the answer will carry is returned (empty for the others).
pub(super) fn request(protocol: Protocol, line: &[u8]) -> Option<Vec<u8>> {
    let line = trim(line);
    let mut w = words(line);
    let first = w.next()?;
    let second = w.next();
    let asks = match protocol {
        Protocol::Smtp | Protocol::Irc => eq_word(first, "STARTTLS") && second.is_none(),
        Protocol::Pop3 => eq_word(first, "STLS") && second.is_none(),
        Protocol::Ftp => {
            eq_word(first, "AUTH")
                && second.is_some_and(|s| {
                    let s = s.to_ascii_uppercase();
                    s.starts_with(b"TLS") || s.starts_with(b"SSL")
                })
        }
        Protocol::Imap => {
            return second
                .filter(|s| eq_word(s, "STARTTLS"))
                .map(|_| first.to_vec());
        }
        Protocol::Xmpp => contains(line, b"<starttls"),
        Protocol::Postgres => false,
    };
    asks.then(Vec::new)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A three-digit reply code and whether the line is the reply's last
/// (`250 ok`, not `250-more`).
fn reply_code(line: &[u8]) -> Option<(&[u8], bool)> {
    let code = line.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((code, line.get(3) != Some(&b'-')))
}

/// What the server `line` says to a request of `protocol` (with IMAP's `tag`).
pub(super) fn verdict(protocol: Protocol, tag: &[u8], line: &[u8]) -> Verdict {
    let line = trim(line);
    let coded = |accept: &[u8]| match reply_code(line) {
        Some((_, false)) | None => Verdict::Other,
        Some((code, true)) if code == accept => Verdict::Accept,
        // A 1xx is preliminary; 2xx to 5xx end the command.
        Some((code, true)) if code.first() == Some(&b'1') => Verdict::Other,
        Some(_) => Verdict::Refuse,
    };
    match protocol {
        Protocol::Smtp => coded(b"220"),
        Protocol::Ftp => coded(b"234"),
        Protocol::Pop3 if line.starts_with(b"+OK") => Verdict::Accept,
        Protocol::Pop3 if line.starts_with(b"-ERR") => Verdict::Refuse,
        Protocol::Imap => {
            let mut w = words(line);
            if w.next() != Some(tag) {
                return Verdict::Other;
            }
            match w.next() {
                Some(s) if eq_word(s, "OK") => Verdict::Accept,
                Some(s) if eq_word(s, "NO") || eq_word(s, "BAD") => Verdict::Refuse,
                _ => Verdict::Other,
            }
        }
        Protocol::Irc => {
            // `:server 670 nick :STARTTLS successful`; 691 is the failure.
            let mut w = words(line);
            let mut cmd = w.next();
            if cmd.is_some_and(|c| c.starts_with(b":")) {
                cmd = w.next();
            }
            match cmd {
                Some(b"670") => Verdict::Accept,
                Some(b"691") => Verdict::Refuse,
                _ => Verdict::Other,
            }
        }
        Protocol::Xmpp if contains(line, b"<proceed") => Verdict::Accept,
        Protocol::Xmpp if contains(line, b"<failure") => Verdict::Refuse,
        _ => Verdict::Other,
    }
}
