//! Finding the next message after a gap the capture left where a message
//! head (or the line framing a chunk) should have been.
//!
//! Zeek stops parsing a direction at such a gap (its `Undelivered` skips
//! only gaps inside a body of known length). We look for the next message
//! instead, so one lost segment does not hide the rest of a keep-alive
//! connection: a line start (after a line feed, or the first byte of a
//! delivered segment) where a request line begins (the dispatcher's own check,
//! [`looks_like_http_request`]) or a status line does (`HTTP/1.` and a
//! space). The search is bounded by [`MAX_RESYNC_SCAN`] bytes per gap, after
//! which the direction stops as before. Records parsed after a resync carry
//! `resynced`: the lost bytes may have held whole messages, so their pairing
//! of requests with responses is a best guess.

use super::looks_like_http_request;
use crate::base::Side;

/// Most bytes searched for the next message after one gap.
pub(crate) const MAX_RESYNC_SCAN: u64 = 1 << 20;

/// Where in `input` the next message of `side` starts, if it does;
/// `line_start` says whether `input[0]` begins a line.
pub(crate) fn next_message(side: Side, input: &[u8], line_start: bool) -> Option<usize> {
    let after_lf = input
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .map(|(i, _)| i + 1);
    line_start
        .then_some(0)
        .into_iter()
        .chain(after_lf)
        .filter(|&p| p < input.len())
        .find(|&p| starts_message(side, input.get(p..).unwrap_or_default()))
}

/// True when `rest` begins a request line (client) or a status line (server).
fn starts_message(side: Side, rest: &[u8]) -> bool {
    match side {
        Side::Client => looks_like_http_request(rest),
        Side::Server => {
            const V: &[u8] = b"HTTP/1.";
            match rest.get(..V.len()) {
                Some(v) => v == V && rest.get(V.len() + 1).is_none_or(|&b| b == b' '),
                // A short tail: at least `HTTP/` of a status line.
                None => rest.len() >= 5 && V.starts_with(rest),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_message_lines_only_at_line_starts() {
        let s = b"ody bytes HTTP/1.1 200\r\nmore\r\nHTTP/1.1 200 OK\r\n";
        assert_eq!(next_message(Side::Server, s, true), Some(30));
        assert_eq!(next_message(Side::Server, b"HTTP/1.0 404 x", true), Some(0));
        assert_eq!(next_message(Side::Server, b"HTTP/1.0 404 x", false), None);
        assert_eq!(next_message(Side::Server, b"x\nHTTP/", false), Some(2));
        assert_eq!(next_message(Side::Server, b"x\nHTT", false), None);
        let c = b"xx=1&y=2\r\nGET /next HTTP/1.1\r\n";
        assert_eq!(next_message(Side::Client, c, true), Some(10));
        assert_eq!(next_message(Side::Client, b"\x00\x01\nGETX\n", true), None);
    }
}
