//! The flow stage: TCP and UDP conversations, their Zeek-style state and history,
//! per-segment TCP analysis, RTT, and per-direction stream reassembly.
//!
//! Contract: sans-IO and packet time only. The stage is fed decoded packets in
//! capture order and emits owned records when a flow ends (or when input ends).
//! Memory is bounded by caps whose hits are counted and reported.

pub mod conn;
pub mod events;
pub mod key;
pub mod reassembly;
pub mod relay;
pub mod rtt;
pub mod seq_analysis;
pub mod table;
pub mod zeek;
