//! netsleuth: tells a developer why an API call failed or was slow, from the packets.
//!
//! The library is the pipeline of `ARCHITECTURE.md`, one module per stage:
//!
//! * [`base`]: the ground floor: packet time, link types, sides, escaping.
//! * [`source`]: frames from capture files (pcap, pcapng, gzip, stdin) and live
//!   interfaces (libpcap), BPF filtering, and writing captures back out.
//! * [`decode`]: typed, zero-copy views of link, IP, TCP, UDP and ICMP headers.
//! * [`decrypt`]: TLS 1.2/1.3 record decryption from `SSLKEYLOGFILE` key logs
//!   (sans-IO; the TLS stream parser feeds it protected records).
//! * [`analysis`]: the pipeline joined: capture files through the flow table,
//!   the application parsers, keys, diagnosis and expect checks, records and
//!   findings out to an output the command chooses.
//! * [`cmd`]: the commands (`read`, `capture`, `interfaces`) over plain configs.
//! * [`report`]: what the user reads: per-packet lines and JSON, terminal escaping.
//! * [`goruntime`]: Go goroutine dumps and pprof profiles, parsed and classified.
//! * [`expect`]: `--expect` rules (a small language) checked on HTTP transactions.
//!
//! The binary (`src/main.rs`) only parses arguments and wires these together.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod app;
pub mod base;
pub mod cmd;
pub mod decode;
pub mod decrypt;
pub mod diagnose;
pub mod duration;
pub mod evidence;
pub mod expect;
pub mod flow;
pub mod goruntime;
pub mod metrics;
#[cfg(feature = "probe")]
pub mod probe;
pub mod report;
pub mod source;
