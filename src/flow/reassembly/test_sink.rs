//! A recording sink that asserts the sink contract, shared by the unit and property
//! tests.

use super::*;

/// One sink call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ev {
    Data(u64, Vec<u8>, u64, Timestamp),
    Gap(u64, u64),
    End(StreamEnd),
}

/// A sink that records every call and asserts the sink contract as it goes: calls
/// tile the stream from 0, no empty calls, `end` exactly once and last.
#[derive(Debug, Default)]
pub(super) struct Rec {
    pub(super) events: Vec<Ev>,
    pos: u64,
}

impl StreamSink for Rec {
    fn data(&mut self, offset: u64, bytes: &[u8], frame: u64, ts: Timestamp) {
        assert!(self.ended().is_none(), "data after end");
        assert_eq!(offset, self.pos, "data not contiguous");
        assert!(!bytes.is_empty(), "empty data call");
        self.pos += bytes.len() as u64;
        self.events
            .push(Ev::Data(offset, bytes.to_vec(), frame, ts));
    }
    fn gap(&mut self, offset: u64, len: u64) {
        assert!(self.ended().is_none(), "gap after end");
        assert_eq!(offset, self.pos, "gap not contiguous");
        assert!(len > 0, "empty gap");
        self.pos += len;
        self.events.push(Ev::Gap(offset, len));
    }
    fn end(&mut self, how: StreamEnd) {
        assert!(self.ended().is_none(), "end called twice");
        self.events.push(Ev::End(how));
    }
}

impl Rec {
    /// Delivered bytes, concatenated.
    pub(super) fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let Ev::Data(_, b, _, _) = e {
                out.extend_from_slice(b);
            }
        }
        out
    }
    /// Gaps as (offset, len), adjacent gaps merged.
    pub(super) fn gaps(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for e in &self.events {
            if let Ev::Gap(o, l) = *e {
                match out.last_mut() {
                    Some(last) if last.0 + last.1 == o => last.1 += l,
                    _ => out.push((o, l)),
                }
            }
        }
        out
    }
    /// How the stream ended, if it did.
    pub(super) fn ended(&self) -> Option<StreamEnd> {
        self.events.iter().find_map(|e| match e {
            Ev::End(h) => Some(*h),
            _ => None,
        })
    }
    /// Offset reached by data and gaps.
    pub(super) fn pos(&self) -> u64 {
        self.pos
    }
    /// (offset, frame) of each data call.
    pub(super) fn frames(&self) -> Vec<(u64, u64)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Data(o, _, f, _) => Some((*o, *f)),
                _ => None,
            })
            .collect()
    }
}
