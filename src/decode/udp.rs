//! UDP header view.

/// A UDP datagram.
#[derive(Debug, Clone)]
pub struct UdpDatagram<'a> {
    payload: &'a [u8],
}
