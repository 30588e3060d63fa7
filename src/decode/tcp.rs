//! TCP header view.

/// A TCP sequence number with wrap-around ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

/// TCP flag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u16);

/// The TCP options this tool uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
}

/// A TCP segment: header view plus payload.
#[derive(Debug, Clone)]
pub struct TcpSegment<'a> {
    payload: &'a [u8],
}
