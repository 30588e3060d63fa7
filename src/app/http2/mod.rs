//! Passive HTTP/2 (RFC 9113) over reassembled, usually decrypted, TCP streams:
//! each stream becomes one
//! [`HttpTransaction`](crate::app::http::HttpTransaction), the same record HTTP/1.x gives,
//! so timing, findings, stories and `--expect` checks work unchanged.
//!
//! Input is what `flow::table::FlowSink` (or the TLS decryptor) delivers, one
//! [`H2Conn`] per connection: each direction's bytes in order
//! ([`H2Conn::on_data`]), gaps ([`H2Conn::on_gap`]) and ends ([`H2Conn::on_end`]).
//! Output: [`H2Conn::take_transactions`] as streams complete, in stream-id
//! order within one call, and the rest at [`H2Conn::finish`]. Sans-IO, packet
//! time only, no panics on any input.
//!
//! Rules:
//! * The client stream starts with the connection preface; then both directions
//!   are frames (9-byte header, length below 16 MiB). Unknown frame types are
//!   skipped. DATA payloads are counted as they arrive, never buffered; other
//!   frames keep a bounded prefix (header blocks whole, at most 64 KiB over
//!   HEADERS/PUSH_PROMISE and their CONTINUATIONs).
//! * Header blocks are decoded by `loona-hpack` (the crate `hpack` panics on
//!   malformed input), one decoder per direction whose dynamic table may grow to
//!   what the peer's SETTINGS_HEADER_TABLE_SIZE allows, capped at
//!   [`MAX_TABLE_SIZE`]. Decoded fields are consumed through a callback with
//!   a bound on their total size, so a small block referring to a large table
//!   entry many times costs no memory.
//! * A protocol error (malformed frame, CONTINUATION out of place, oversize
//!   header block) or an HPACK error stops the whole connection's parsing with a
//!   note: the HPACK state can no longer be trusted. So does a gap in the
//!   capture, except one that falls wholly inside a DATA payload (its bytes are
//!   counted as missing).
//! * Streams: odd, client-initiated ids. Request `:method`, `:path` (CONNECT:
//!   `:authority`), `:authority` (else `host`); response `:status`, 1xx listed
//!   in `informational` and the final status awaited; later HEADERS are
//!   trailers. Server pushes are decoded (to keep the HPACK state) and counted.
//!   At most [`MAX_STREAMS`] streams are tracked at once; beyond that streams
//!   are counted and not reported.
//! * RST_STREAM ends a stream; an unanswered one gets `gave_up` by the side that
//!   reset it (`how: "rst_stream"`), the error code in its notes. A server's
//!   GOAWAY gives up every stream above its last stream id (`how: "goaway"`).
//!
//! Timing, exactly as HTTP/1.x defines the phases: the request's first byte is
//! the first byte of its first HEADERS frame, its last byte the end of the
//! client's END_STREAM frame; the response's first byte is the first byte of
//! the final (non-1xx) HEADERS frame, its last byte the end of the server's
//! END_STREAM frame.

mod conn;
mod fields;
pub(crate) mod frame;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use conn::H2Conn;
pub use frame::PREFACE;

/// Most streams tracked at once on one connection.
pub const MAX_STREAMS: usize = 1000;
/// Most bytes of one header block (HEADERS or PUSH_PROMISE and CONTINUATIONs).
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;
/// Largest HPACK dynamic table a decoder allows, whatever SETTINGS say.
pub const MAX_TABLE_SIZE: usize = 64 * 1024;

/// Counters of one connection's HTTP/2 parsing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct H2Stats {
    /// Frames seen (both directions).
    pub frames: u64,
    /// Request header blocks (streams opened by the client).
    pub requests: u64,
    /// Final response header blocks.
    pub responses: u64,
    /// 1xx response header blocks.
    pub informational: u64,
    /// PUSH_PROMISE frames (pushed responses are not reported).
    pub pushes: u64,
    /// RST_STREAM frames.
    pub resets: u64,
    /// GOAWAY frames.
    pub goaways: u64,
    /// Streams not tracked because [`MAX_STREAMS`] were open.
    pub streams_over_limit: u64,
    /// Protocol errors that stopped parsing.
    pub protocol_errors: u64,
    /// HPACK decoding errors that stopped parsing.
    pub hpack_errors: u64,
    /// DATA payload bytes missing from the capture.
    pub missing_body_bytes: u64,
}

/// True when a client's first bytes are (the start of) the HTTP/2 connection
/// preface: HTTP/2 with prior knowledge, or inside TLS after ALPN chose `h2`.
/// At least 4 bytes are needed to decide.
pub fn looks_like_h2_preface(client_first_bytes: &[u8]) -> bool {
    let n = client_first_bytes.len().min(PREFACE.len());
    n >= 4 && client_first_bytes.get(..n) == PREFACE.get(..n)
}
