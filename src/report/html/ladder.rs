//! The packets of a failed call as a ladder: one arrow per packet between
//! the client's and the server's lanes, from the frames [`crate::evidence`]
//! chooses (the conversation's start and the frames around each cited one),
//! so the report and `--evidence` show the same packets.
//!
//! A segment is marked resent when it carries no byte beyond what that side
//! had already sent among the frames shown (a SYN sent again, or data at or
//! below the highest sequence number seen): the frames between two windows
//! are not read, so a resend whose original lies outside every window is
//! not marked, and no original is ever marked.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::analysis::ConvSpan;
use crate::decode::{self, TcpFlags, Transport};
use crate::diagnose::Finding;
use crate::evidence::{self, EvidenceError, Scope};

/// At most this many arrows per ladder; past it, the middle is left out
/// (the start and the frames the findings cite are kept).
pub const MAX_ARROWS: usize = 48;

/// One packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrow {
    /// Its frame number.
    pub frame: u64,
    /// Since the ladder's first packet, ms.
    pub at_ms: f64,
    /// Sent by the client (else by the server, or the network for ICMP).
    pub from_client: bool,
    /// `SYN`, `ACK 517 B`, `RST`, `ICMP port unreachable`.
    pub label: String,
    /// Sent again.
    pub resent: bool,
    /// Ends or refuses the connection (RST, FIN, ICMP error).
    pub ends: bool,
    /// A finding cites it.
    pub cited: bool,
    /// Packets of the conversation left out before this one.
    pub gap_before: u64,
}

/// The ladder of one connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    /// The connection.
    pub conn: u64,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// The packets, in capture order.
    pub arrows: Vec<Arrow>,
    /// The conversation's packets, when known (more than the arrows when
    /// some were left out).
    pub packets: Option<u64>,
}

/// The ladders of the connections `conns`, from the capture files `paths`
/// read again. A connection without frames gives no ladder.
pub fn ladders(
    paths: &[String],
    findings: &[Finding],
    spans: &HashMap<u64, ConvSpan>,
    conns: &[u64],
) -> Result<Vec<Ladder>, EvidenceError> {
    if conns.is_empty() {
        return Ok(Vec::new());
    }
    let scope: Vec<Scope> = conns.iter().map(|&c| Scope::Conn(c)).collect();
    let excerpt = evidence::choose(paths, findings, spans, &scope)?;
    let mut out = Vec::new();
    for &conn in conns {
        let cited: Vec<u64> = findings
            .iter()
            .filter(|f| f.conn == Some(conn))
            .flat_map(|f| f.frames.iter().copied())
            .collect();
        let span = spans.get(&conn);
        let finding = findings.iter().find(|f| f.conn == Some(conn));
        let (Some(client), Some(server)) = (
            span.map(|s| s.client).or(finding.and_then(|f| f.client)),
            span.map(|s| s.server).or(finding.and_then(|f| f.server)),
        ) else {
            continue;
        };
        let mut build = Build::new(client, server, &cited);
        for c in &excerpt.frames {
            build.frame(c.frame.number, c.frame.ts.0, c.frame.link, &c.frame.data);
        }
        if build.arrows.is_empty() {
            continue;
        }
        out.push(Ladder {
            conn,
            client,
            server,
            arrows: thin(build.arrows, MAX_ARROWS),
            packets: span.map(|s| s.packets),
        });
    }
    Ok(out)
}

/// Arrows being made for one conversation.
struct Build<'c> {
    client: SocketAddr,
    server: SocketAddr,
    cited: &'c [u64],
    arrows: Vec<Arrow>,
    first_ns: Option<i64>,
    /// Per side (client, server): the highest sequence number sent, and
    /// whether a SYN was seen.
    high: [Option<decode::SeqNum>; 2],
    syn: [bool; 2],
}

impl<'c> Build<'c> {
    fn new(client: SocketAddr, server: SocketAddr, cited: &'c [u64]) -> Self {
        Build {
            client,
            server,
            cited,
            arrows: Vec::new(),
            first_ns: None,
            high: [None; 2],
            syn: [false; 2],
        }
    }

    fn frame(&mut self, number: u64, ts_ns: i64, link: crate::base::LinkType, data: &[u8]) {
        let p = decode::decode(link, data);
        let cited = self.cited.contains(&number);
        let (from_client, label, resent, ends) = match (&p.transport, p.endpoints()) {
            (Transport::Tcp(t), Some((src, dst)))
                if (src, dst) == (self.client, self.server)
                    || (src, dst) == (self.server, self.client) =>
            {
                let from_client = src == self.client;
                let (label, resent, ends) = self.tcp(from_client, t);
                (from_client, label, resent, ends)
            }
            (Transport::Udp(u), Some((src, dst)))
                if (src, dst) == (self.client, self.server)
                    || (src, dst) == (self.server, self.client) =>
            {
                let from_client = src == self.client;
                (
                    from_client,
                    format!("UDP {} B", u.payload().len()),
                    false,
                    false,
                )
            }
            // An ICMP error the findings cite: from the network, toward the client.
            (Transport::Icmp(i), _) if cited => {
                let what = if i.kind().is_port_unreachable() {
                    "port unreachable".to_string()
                } else {
                    format!("type {} code {}", i.icmp_type(), i.code())
                };
                (false, format!("ICMP {what}"), false, i.is_error())
            }
            _ => return,
        };
        let first = *self.first_ns.get_or_insert(ts_ns);
        self.arrows.push(Arrow {
            frame: number,
            at_ms: (ts_ns - first) as f64 / 1e6,
            from_client,
            label,
            resent,
            ends,
            cited,
            gap_before: 0,
        });
    }

    /// The label of a TCP segment, whether it was sent again, and whether
    /// it ends the connection.
    fn tcp(&mut self, from_client: bool, t: &decode::TcpSegment<'_>) -> (String, bool, bool) {
        let side = usize::from(!from_client);
        let fl = t.flags();
        let len = t.payload_len();
        let mut names = Vec::new();
        for (flag, name) in [
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::ACK, "ACK"),
        ] {
            if fl.contains(flag) {
                names.push(name);
            }
        }
        let mut label = if names.is_empty() {
            "no flags".to_string()
        } else {
            names.join(", ")
        };
        if len > 0 {
            label.push_str(&format!(" {len} B"));
        }
        let syn = fl.contains(TcpFlags::SYN);
        let end = t.seq() + (len + u32::from(syn) + u32::from(fl.contains(TcpFlags::FIN)));
        let resent = if syn {
            std::mem::replace(&mut self.syn[side], true)
        } else {
            len > 0 && self.high[side].is_some_and(|h| end - h <= 0)
        };
        if self.high[side].is_none_or(|h| end - h > 0) {
            self.high[side] = Some(end);
        }
        (
            label,
            resent,
            fl.contains(TcpFlags::RST) || fl.contains(TcpFlags::FIN),
        )
    }
}

/// At most `max` arrows: the first ones, the cited ones and their
/// neighbours, the last ones; each kept arrow counts the ones left out
/// before it.
fn thin(arrows: Vec<Arrow>, max: usize) -> Vec<Arrow> {
    if arrows.len() <= max {
        return arrows;
    }
    let n = arrows.len();
    let mut keep = vec![false; n];
    let head = max / 3;
    let tail = max / 6;
    for k in keep.iter_mut().take(head) {
        *k = true;
    }
    for k in keep.iter_mut().skip(n - tail) {
        *k = true;
    }
    let mut budget = max.saturating_sub(head + tail);
    for (i, a) in arrows.iter().enumerate() {
        if budget == 0 {
            break;
        }
        if a.cited || a.resent || a.ends {
            for k in keep
                .iter_mut()
                .take((i + 2).min(n))
                .skip(i.saturating_sub(1))
            {
                if !*k && budget > 0 {
                    *k = true;
                    budget -= 1;
                }
            }
        }
    }
    let mut out = Vec::with_capacity(max);
    let mut skipped = 0u64;
    for (a, k) in arrows.into_iter().zip(keep) {
        if k {
            out.push(Arrow {
                gap_before: skipped,
                ..a
            });
            skipped = 0;
        } else {
            skipped += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrow(frame: u64, cited: bool) -> Arrow {
        Arrow {
            frame,
            at_ms: frame as f64,
            from_client: frame.is_multiple_of(2),
            label: String::new(),
            resent: false,
            ends: false,
            cited,
            gap_before: 0,
        }
    }

    #[test]
    fn a_long_ladder_keeps_its_start_its_end_and_what_is_cited() {
        let arrows: Vec<Arrow> = (1..=500).map(|i| arrow(i, i == 250)).collect();
        let out = thin(arrows, MAX_ARROWS);
        assert!(out.len() <= MAX_ARROWS);
        assert_eq!(out[0].frame, 1);
        assert_eq!(out.last().unwrap().frame, 500);
        let cited = out.iter().position(|a| a.frame == 250).expect("cited kept");
        assert!(out[cited].gap_before > 0 || out[cited - 1].gap_before > 0);
        let shown = out.len() as u64 + out.iter().map(|a| a.gap_before).sum::<u64>();
        assert_eq!(shown, 500, "every packet is shown or counted");
    }
}
