//! Zeek's `history` and `conn_state` for UDP and ICMP flows.
//!
//! Zeek's UDP analyzer records `D` the first time the originator sends a
//! datagram and `d` the first time the responder does (whatever their payload);
//! a flow whose roles were swapped at its first packet (the sender's port is the
//! likely server) starts with `^`. ICMP records no letters. `conn_state` for UDP
//! is `SF` (both sides sent), `S0` (only the originator), `SHR` (only the
//! responder), else `OTH`; for ICMP always `OTH` (Zeek's `conn_state` in
//! `base/protocols/conn/main.zeek`, read from its source, no code copied).

use super::{ConnState, History};
use crate::base::Side;

/// Seen-once bits, as Zeek's `HIST_ORIG_DATA_PKT` (the responder's is
/// shifted by [`History::check`]).
const DATA_PKT: u32 = 0x1;

/// The Zeek view of one UDP or ICMP flow.
#[derive(Debug, Clone, Default)]
pub struct DatagramTracker {
    history: History,
    /// ICMP: no history letters, state always `OTH`.
    icmp: bool,
}

impl DatagramTracker {
    /// A tracker for a UDP flow (`icmp` false) or an ICMP one.
    pub fn new(icmp: bool) -> DatagramTracker {
        DatagramTracker {
            history: History::default(),
            icmp,
        }
    }

    /// One datagram from `from`.
    pub fn on_packet(&mut self, from: Side) {
        if !self.icmp {
            self.history.check(from, DATA_PKT, 'D');
        }
    }

    /// The flow engine took the first packet's sender for the responder.
    pub fn flipped(&mut self) {
        self.history.add(Side::Client, '^');
    }

    /// The history string (empty: Zeek leaves the field unset).
    pub fn history(&self) -> &str {
        &self.history.text
    }

    /// Zeek's `conn_state`, from the packets each side sent (originator first).
    pub fn state(&self, packets: [u64; 2]) -> ConnState {
        if self.icmp {
            return ConnState::OTH;
        }
        match (packets[0] > 0, packets[1] > 0) {
            (true, true) => ConnState::SF,
            (true, false) => ConnState::S0,
            (false, true) => ConnState::SHR,
            (false, false) => ConnState::OTH,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_query_and_answer_is_dd_sf() {
        let mut t = DatagramTracker::new(false);
        t.on_packet(Side::Client);
        t.on_packet(Side::Client);
        t.on_packet(Side::Server);
        assert_eq!(t.history(), "Dd");
        assert_eq!(t.state([2, 1]).as_str(), "SF");
    }

    #[test]
    fn udp_flipped_answer_only_is_caret_d_shr() {
        let mut t = DatagramTracker::new(false);
        t.flipped();
        t.on_packet(Side::Server);
        assert_eq!(t.history(), "^d");
        assert_eq!(t.state([0, 1]).as_str(), "SHR");
    }

    #[test]
    fn unanswered_udp_is_s0_and_icmp_is_oth_without_letters() {
        let mut t = DatagramTracker::new(false);
        t.on_packet(Side::Client);
        assert_eq!(t.state([1, 0]).as_str(), "S0");
        let mut i = DatagramTracker::new(true);
        i.on_packet(Side::Client);
        i.on_packet(Side::Server);
        assert_eq!(i.history(), "");
        assert_eq!(i.state([1, 1]).as_str(), "OTH");
    }
}
