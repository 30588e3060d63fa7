//! TCP findings from connection records.
//!
//! Thresholds (documented here, named below):
//! * retransmissions: a warning when at least 3 segments and 2% of a side's data
//!   segments were sent again; an error from 10% (a call on such a path usually
//!   times out). Spurious retransmissions count: they cost time too.
//! * high RTT: median of data/ACK samples (or the handshake when there are none)
//!   of 150 ms or more: a warning. Interactive APIs budget a few RTTs per call.
//! * jitter: at least 10 samples and a mean successive difference of 20 ms and
//!   half the median or more.
//! * idle then reset: an RST after 30 s or more of silence on an established
//!   connection: the pattern of a NAT, firewall or load balancer idle time-out.

use std::fmt::Write as _;

use super::{human_duration, Finding, Severity};
use crate::flow::conn::ConnRecord;
use crate::flow::events::TcpEventKind;
use crate::flow::key::Protocol;
use crate::flow::Side;

const RETRANS_MIN_SEGMENTS: u64 = 3;
const RETRANS_WARN_PERCENT: f64 = 2.0;
const RETRANS_ERROR_PERCENT: f64 = 10.0;
const HIGH_RTT_NS: i64 = 150_000_000;
const JITTER_MIN_SAMPLES: u64 = 10;
const JITTER_MIN_NS: i64 = 20_000_000;
const IDLE_RESET_NS: i64 = 30_000_000_000;

/// Every TCP finding for one ended connection.
pub fn diagnose(c: &ConnRecord) -> Vec<Finding> {
    if c.protocol != Protocol::Tcp {
        return Vec::new();
    }
    let mut out = Vec::new();
    let finding = |kind, severity, summary: String, next: String, mut frames: Vec<u64>| {
        frames.sort_unstable();
        frames.dedup();
        Finding {
            kind,
            severity,
            summary,
            next_step: next,
            frames,
            conn: Some(c.id),
            client: Some(c.client),
            server: Some(c.server),
            time: Some(c.start),
        }
    };
    let server = c.server;

    // ICMP errors quoting the flow explain a failed connect best.
    let unreachable: Vec<_> = c.icmp.iter().filter(|n| n.unreachable).collect();
    if let Some(first) = unreachable.first() {
        out.push(finding(
            "tcp.icmp_unreachable",
            Severity::Error,
            format!(
                "{} from {} for this connection{}",
                first.description,
                first.from,
                if unreachable.len() > 1 { format!(" ({} times)", unreachable.len()) } else { String::new() }
            ),
            format!("the network or host says {server} cannot be reached: check routes, firewalls and that the address is right"),
            unreachable.iter().map(|n| n.frame).chain(c.syn.iter().flat_map(|s| s.frames.iter().copied())).collect(),
        ));
    }

    let server_silent = c.server_stats.packets == 0;
    if let Some(syn) = &c.syn {
        if server_silent && unreachable.is_empty() {
            let span = syn.last.since(syn.first);
            let backoff: Vec<String> = syn
                .times
                .windows(2)
                .map(|w| human_duration(w[1].since(w[0])))
                .collect();
            let (severity, summary) = if syn.count > 1 {
                (
                    Severity::Error,
                    format!(
                        "SYN sent {} times over {} (back-off {}), never answered",
                        syn.count,
                        human_duration(span),
                        backoff.join(", ")
                    ),
                )
            } else {
                (
                    Severity::Warning,
                    format!(
                        "SYN never answered (the capture ended {} after it, before any retransmission)",
                        human_duration(c.duration_ns)
                    ),
                )
            };
            out.push(finding(
                "tcp.connect_timeout",
                severity,
                summary,
                format!("nothing answers at {server}: a firewall dropping SYNs, a wrong address, or a host that is down; try `netsleuth probe` from the same host"),
                syn.frames.clone(),
            ));
        }
    }

    if let Some(rst) = c.rst {
        // REJ in Zeek's terms: the SYN was answered by an RST, not a SYN-ACK.
        let refused = rst.by == Side::Server && c.syn.is_some() && c.handshake.is_none();
        let established = c.handshake.is_some() || c.client_stats.payload_bytes > 0;
        let after_fins = c.fin[0].is_some() && c.fin[1].is_some();
        if refused {
            out.push(finding(
                "tcp.connect_refused",
                Severity::Error,
                format!("SYN answered by RST: nothing accepts connections on port {}", server.port()),
                format!("check that the service runs and listens on {server} (and on this address family)"),
                c.syn.iter().flat_map(|s| s.frames.iter().copied()).chain([rst.frame]).collect(),
            ));
        } else if established && !after_fins {
            let sender_ttl = match rst.by {
                Side::Client => c.client_stats.first_ttl,
                Side::Server => c.server_stats.first_ttl,
            };
            let sender_packets = match rst.by {
                Side::Client => c.client_stats.packets,
                Side::Server => c.server_stats.packets,
            };
            let ttl_mismatch =
                matches!((sender_ttl, rst.ttl), (Some(a), Some(b)) if a != b) && sender_packets > 1;
            // A request is outstanding when the client sent the last data: the
            // server reset instead of answering, or the client gave up waiting.
            let outstanding = c.last_payload.filter(|(side, _, _)| *side == Side::Client);
            let mut summary = String::new();
            let who = rst.by.as_str();
            let _ = write!(summary, "established connection reset by the {who}");
            if let Some((_, ts, _)) = outstanding {
                let waited = human_duration(rst.ts.since(ts));
                let _ = match rst.by {
                    Side::Server => write!(
                        summary,
                        " while the client waited for an answer ({waited} after its request)"
                    ),
                    Side::Client => write!(
                        summary,
                        ": it gave up {waited} after its request, with no answer"
                    ),
                };
            }
            if rst.peer_unacked > 0 {
                let _ = write!(
                    summary,
                    "; {} bytes in flight unacknowledged",
                    rst.peer_unacked
                );
            }
            let mut frames = vec![rst.frame];
            frames.extend(outstanding.map(|(_, _, f)| f));
            if ttl_mismatch {
                out.push(finding(
                    "tcp.reset_by_middlebox",
                    Severity::Error,
                    format!(
                        "RST claiming to come from the {who} has TTL {} where the {who}'s packets had {}: a firewall, NAT or load balancer in the path sent it",
                        rst.ttl.unwrap_or(0),
                        sender_ttl.unwrap_or(0)
                    ),
                    "look at the devices between client and server (idle time-outs, IPS rules)".to_string(),
                    frames.clone(),
                ));
            } else if rst.idle_before_ns >= IDLE_RESET_NS {
                out.push(finding(
                    "tcp.idle_then_reset",
                    Severity::Warning,
                    format!(
                        "RST from the {who} after {} idle: the pattern of a NAT, firewall or load balancer idle time-out",
                        human_duration(rst.idle_before_ns)
                    ),
                    "enable TCP keep-alives (or application pings) shorter than the middlebox idle time-out, or close idle pooled connections sooner".to_string(),
                    frames,
                ));
            } else {
                let kind = match rst.by {
                    Side::Server => "tcp.reset_by_server",
                    Side::Client => "tcp.reset_by_client",
                };
                let severity = if outstanding.is_some() || rst.peer_unacked > 0 {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                let next = match rst.by {
                    Side::Server => "check the server's logs at this time: a crash, a restart, a full accept queue or an abortive close",
                    Side::Client => "the client aborted: a time-out in the client library or a cancelled request",
                };
                out.push(finding(kind, severity, summary, next.to_string(), frames));
            }
        }
    }

    for (i, side) in [Side::Client, Side::Server].into_iter().enumerate() {
        let ev = &c.events[i];
        let stats = if i == 0 {
            &c.client_stats
        } else {
            &c.server_stats
        };
        let loss = c.loss[i];
        let retrans = c.resent(side);
        let data_segments = stats.packets.max(1);
        let percent = retrans as f64 * 100.0 / data_segments as f64;
        if retrans >= RETRANS_MIN_SEGMENTS && percent >= RETRANS_WARN_PERCENT {
            let location = match (loss.upstream > 0, loss.downstream > 0) {
                (true, false) => format!(
                    "lost before the capture point ({} holes the capture never saw were filled)",
                    loss.upstream
                ),
                (false, true) => format!(
                    "lost after the capture point ({} segments captured, then sent again)",
                    loss.downstream
                ),
                (true, true) => format!(
                    "lost on both sides of the capture point ({} before, {} after)",
                    loss.upstream, loss.downstream
                ),
                (false, false) => {
                    "no loss located (retransmissions after time-outs or spurious)".to_string()
                }
            };
            let mut frames: Vec<u64> = Vec::new();
            for k in [
                TcpEventKind::Retransmission,
                TcpEventKind::FastRetransmission,
                TcpEventKind::SpuriousRetransmission,
            ] {
                frames.extend_from_slice(ev.frames(k));
            }
            out.push(finding(
                "tcp.retransmissions",
                if percent >= RETRANS_ERROR_PERCENT { Severity::Error } else { Severity::Warning },
                format!(
                    "{} of {} segments from the {} were retransmissions ({:.1}%): {}",
                    retrans,
                    stats.packets,
                    side.as_str(),
                    percent,
                    location
                ),
                "look for packet loss on the path (interface errors, a congested link, a shaping policy)".to_string(),
                frames,
            ));
        }
        let zero = ev.count(TcpEventKind::ZeroWindow);
        if zero > 0 {
            out.push(finding(
                "tcp.zero_window",
                Severity::Warning,
                format!(
                    "the {} advertised a zero receive window {} times: it stopped reading",
                    side.as_str(),
                    zero
                ),
                format!("the {} application is not reading fast enough (blocked thread, slow consumer, full buffer)", side.as_str()),
                ev.frames(TcpEventKind::ZeroWindow).to_vec(),
            ));
        }
    }

    if let Some(rtt) = c.path_rtt().filter(|m| *m >= HIGH_RTT_NS) {
        out.push(finding(
            "tcp.high_rtt",
            Severity::Warning,
            format!("round-trip time is high: {} (median)", human_duration(rtt)),
            "each request costs at least one RTT: reuse connections, move client and server closer, or check for queueing (bufferbloat)".to_string(),
            Vec::new(),
        ));
    }
    for (r, side) in c.rtt.iter().zip([Side::Client, Side::Server]) {
        let Some(r) = r else {
            continue;
        };
        if r.samples >= JITTER_MIN_SAMPLES && r.jitter >= JITTER_MIN_NS && r.jitter * 2 >= r.median
        {
            out.push(finding(
                "tcp.jitter",
                Severity::Warning,
                format!(
                    "round-trip time of the {}'s data varies a lot: jitter {} around a median of {} (min {}, p95 {})",
                    side.as_str(),
                    human_duration(r.jitter),
                    human_duration(r.median),
                    human_duration(r.min),
                    human_duration(r.p95)
                ),
                "look for queueing on the path (a saturated link, Wi-Fi, a busy middlebox)".to_string(),
                Vec::new(),
            ));
        }
    }
    out
}
