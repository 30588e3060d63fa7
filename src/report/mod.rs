//! What the user reads: per-packet lines and JSON records, terminal-safe escaping.
//!
//! Invariant: output order follows frame numbers, and no byte that came off the
//! wire reaches the terminal without going through [`escape`].

pub mod analysis_text;
pub mod app_json;
pub mod conn_json;
pub mod html;
pub mod packet_json;
pub mod packet_line;
pub mod rotating;
pub mod zeek;
