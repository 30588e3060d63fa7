//! The ground floor: small types and helpers every layer uses, depending on
//! nothing else in the crate, so that no layer has to reach up or sideways
//! for them: packet time ([`Timestamp`], RFC 3339, durations for people), the
//! link type of frames, which [`Side`] of a conversation sent something, and
//! terminal escaping ([`escape`]).

pub mod escape;
mod link;
mod side;
mod time;

pub use link::LinkType;
pub use side::Side;
pub use time::{human_duration, rfc3339, Timestamp};
