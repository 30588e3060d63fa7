//! Which frames of a capture prove a set of findings: the choice made frame
//! by frame as the capture is read again, sans IO.
//!
//! Per cited conversation (its endpoints, and where it lies when the
//! analysis kept that):
//! * a conversation of at most [`WHOLE`] packets is taken whole;
//! * else its first [`HEAD`] frames (the handshake, the TLS hello, the first
//!   request: what Wireshark needs to follow it), counted from its latest
//!   SYN before the first cited frame;
//! * each cited frame with [`AROUND`] frames of the conversation before and
//!   after it (Wireshark's retransmission and ACK analysis needs the
//!   segments around one).
//!
//! Frames cited by a finding without a conversation (an ICMP error, a
//! capture-wide finding) are taken alone. Frames are held until the end (a
//! frame before a cited one is only known to matter once that one comes), at
//! most [`MAX_FRAMES`] and [`MAX_BYTES`] of them; past that the choice stops
//! and says so.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;

use crate::base::{LinkType, Timestamp};

/// A conversation of at most this many packets is taken whole.
pub const WHOLE: u64 = 256;
/// Frames taken from a long conversation's start.
pub const HEAD: usize = 12;
/// Frames taken before and after each cited frame.
pub const AROUND: usize = 6;
/// At most this many frames chosen.
pub const MAX_FRAMES: usize = 200_000;
/// At most this many bytes of frames held.
pub const MAX_BYTES: usize = 256 << 20;

/// One frame as read, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// Its number in the capture analysed.
    pub number: u64,
    /// When it was captured.
    pub ts: Timestamp,
    /// Its length on the wire.
    pub orig_len: u32,
    /// Its link type.
    pub link: LinkType,
    /// Its bytes.
    pub data: Box<[u8]>,
}

/// A conversation to take frames of.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// One end.
    pub a: SocketAddr,
    /// The other end.
    pub b: SocketAddr,
    /// Its first and last frames, when known.
    pub range: Option<(u64, u64)>,
    /// Its packets, when known.
    pub packets: Option<u64>,
    /// The frames its findings cite.
    pub cited: Vec<u64>,
    /// What it is evidence for: `tcp.connect_timeout (conn 3)`.
    pub label: String,
}

#[derive(Debug, Default)]
struct State {
    head: Vec<Held>,
    head_done: bool,
    seen_cited: bool,
    before: VecDeque<Held>,
    after: usize,
}

/// A frame chosen, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    /// The frame.
    pub frame: Held,
    /// The conversations it belongs to (`label`s), for its comment.
    pub context_of: Vec<String>,
}

/// The choice in progress.
#[derive(Debug)]
pub struct Selector {
    wanted: Vec<Wanted>,
    states: Vec<State>,
    by_pair: HashMap<(SocketAddr, SocketAddr), Vec<usize>>,
    cited_alone: std::collections::HashSet<u64>,
    chosen: BTreeMap<u64, Chosen>,
    bytes: usize,
    /// Frames not taken because a bound was reached.
    pub over: u64,
}

fn pair(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Selector {
    /// A choice for these conversations and these frames cited alone.
    pub fn new(wanted: Vec<Wanted>, cited_alone: impl IntoIterator<Item = u64>) -> Selector {
        let mut by_pair: HashMap<_, Vec<usize>> = HashMap::new();
        for (i, w) in wanted.iter().enumerate() {
            by_pair.entry(pair(w.a, w.b)).or_default().push(i);
        }
        let states = wanted.iter().map(|_| State::default()).collect();
        Selector {
            wanted,
            states,
            by_pair,
            cited_alone: cited_alone.into_iter().collect(),
            chosen: BTreeMap::new(),
            bytes: 0,
            over: 0,
        }
    }

    /// Takes the next frame of the capture: its endpoints (TCP or UDP) and
    /// whether it is a SYN without ACK.
    pub fn frame(&mut self, frame: Held, ends: Option<(SocketAddr, SocketAddr)>, syn: bool) {
        let n = frame.number;
        let convs: Vec<usize> = ends
            .and_then(|(s, d)| self.by_pair.get(&pair(s, d)))
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|&i| {
                        self.wanted
                            .get(i)
                            .and_then(|w| w.range)
                            .is_none_or(|(first, last)| (first..=last).contains(&n))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if self.cited_alone.contains(&n) {
            self.take(&frame, None);
        }
        for i in convs {
            let (Some(w), Some(st)) = (self.wanted.get(i), self.states.get_mut(i)) else {
                continue;
            };
            let label = w.label.clone();
            if w.packets.is_some_and(|p| p <= WHOLE) {
                self.take(&frame, Some(label));
                continue;
            }
            if syn && !st.seen_cited {
                st.head.clear();
                st.head_done = false;
                st.before.clear();
            }
            let cited = w.cited.binary_search(&n).is_ok();
            if cited {
                st.seen_cited = true;
                st.head_done = true;
                let mut earlier: Vec<Held> = std::mem::take(&mut st.head);
                earlier.extend(st.before.drain(..));
                st.after = AROUND;
                for h in earlier {
                    self.take(&h, Some(label.clone()));
                }
                self.take(&frame, Some(label));
            } else if !st.head_done {
                st.head.push(frame.clone());
                if st.head.len() >= HEAD {
                    st.head_done = true;
                }
            } else if st.after > 0 {
                st.after -= 1;
                self.take(&frame, Some(label));
            } else {
                if st.before.len() == AROUND {
                    st.before.pop_front();
                }
                st.before.push_back(frame.clone());
            }
        }
    }

    fn take(&mut self, frame: &Held, context_of: Option<String>) {
        if let Some(c) = self.chosen.get_mut(&frame.number) {
            if let Some(l) = context_of {
                if !c.context_of.contains(&l) {
                    c.context_of.push(l);
                }
            }
            return;
        }
        if self.chosen.len() >= MAX_FRAMES || self.bytes + frame.data.len() > MAX_BYTES {
            self.over += 1;
            return;
        }
        self.bytes += frame.data.len();
        self.chosen.insert(
            frame.number,
            Chosen {
                frame: frame.clone(),
                context_of: context_of.into_iter().collect(),
            },
        );
    }

    /// The frames chosen, in capture order.
    pub fn finish(self) -> Vec<Chosen> {
        self.chosen.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(number: u64) -> Held {
        Held {
            number,
            ts: Timestamp(number as i64),
            orig_len: 60,
            link: LinkType(1),
            data: vec![0u8; 60].into_boxed_slice(),
        }
    }

    const C: &str = "10.0.0.1:40000";
    const S: &str = "10.0.0.2:443";

    fn ends(forward: bool) -> Option<(SocketAddr, SocketAddr)> {
        let (c, s) = (C.parse().unwrap(), S.parse().unwrap());
        Some(if forward { (c, s) } else { (s, c) })
    }

    fn numbers(chosen: &[Chosen]) -> Vec<u64> {
        chosen.iter().map(|c| c.frame.number).collect()
    }

    #[test]
    fn a_long_conversation_gives_its_head_and_the_frames_around_a_cited_one() {
        let wanted = Wanted {
            a: S.parse().unwrap(),
            b: C.parse().unwrap(),
            range: None,
            packets: Some(1000),
            cited: vec![505],
            label: "tcp.reset_by_server (conn 1)".into(),
        };
        let other: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        let mut s = Selector::new(vec![wanted], [7]);
        for n in 1..=1000u64 {
            let e = if n % 10 == 0 {
                Some((other, C.parse().unwrap()))
            } else {
                ends(n % 2 == 1)
            };
            s.frame(held(n), e, n == 1);
        }
        let chosen = s.finish();
        let got = numbers(&chosen);
        // 12 of the head (every tenth frame is another conversation), frame
        // 7 cited alone is among them, then 6 of the conversation before 505
        // and 6 after.
        assert_eq!(&got[..12], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13]);
        assert_eq!(
            &got[12..],
            &[498, 499, 501, 502, 503, 504, 505, 506, 507, 508, 509, 511, 512]
        );
        assert_eq!(chosen[0].context_of, ["tcp.reset_by_server (conn 1)"]);
    }

    #[test]
    fn a_short_conversation_is_taken_whole_within_its_range() {
        let wanted = Wanted {
            a: C.parse().unwrap(),
            b: S.parse().unwrap(),
            range: Some((3, 8)),
            packets: Some(4),
            cited: vec![8],
            label: "x".into(),
        };
        let mut s = Selector::new(vec![wanted], []);
        for n in 1..=20u64 {
            s.frame(held(n), ends(true), false);
        }
        assert_eq!(numbers(&s.finish()), [3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn a_syn_before_the_cited_frame_restarts_the_head() {
        let wanted = Wanted {
            a: C.parse().unwrap(),
            b: S.parse().unwrap(),
            range: None,
            packets: None,
            cited: vec![103],
            label: "x".into(),
        };
        let mut s = Selector::new(vec![wanted], []);
        for n in 1..=110u64 {
            s.frame(held(n), ends(true), n == 1 || n == 100);
        }
        assert_eq!(
            numbers(&s.finish()),
            [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]
        );
    }
}
