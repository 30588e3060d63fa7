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
//! * the dead pooled connection: a request sent after [`TcpRules::idle_gap_ns`]
//!   (default 1 s, `--idle-gap`) of quiet, answered only by an RST within about one
//!   round trip of its latest transmission (at most [`QUICK_RST_RTTS`] RTTs plus
//!   [`QUICK_RST_SLACK_NS`]), nothing else from the server in between: the
//!   server's application never saw it, the connection's state was gone
//!   (`tcp.idle_then_reset`, whatever the RST's TTL unless it differs from the
//!   server's: then `tcp.reset_by_middlebox`). When the server had closed its side
//!   (FIN) after at least the same quiet gap, before that request, it is
//!   `http.stale_connection`: the server's keep-alive time-out, measured as the
//!   quiet time before its FIN (a FIN right after a response is a
//!   `Connection: close`, not a time-out). A
//!   request after such a gap sent again and never answered by anything is
//!   `tcp.idle_then_blackhole`. A healthy server answers a request after any idle
//!   gap with data, so the gap threshold can be short.
//! * resent SYN: the connect phase runs from the first SYN to the SYN-ACK the
//!   client acknowledged; what it took beyond one round trip was lost to resends
//!   (`tcp.syn_retransmit`, from [`SYN_LOSS_MIN_NS`], the minimum RTO; an error
//!   from [`SYN_LOSS_ERROR_NS`]). Which way it points: no SYN-ACK before the
//!   resend (the SYN was lost), a SYN-ACK before the client's resend or resent
//!   by the server (the SYN-ACK was lost), or SYN-ACKs resent after the
//!   client's ACK (the server dropped that ACK: a full accept queue).
//! * a resent first data segment (the ClientHello or the request) after at least
//!   [`FIRST_DATA_RESEND_NS`] is reported even below the retransmission rate
//!   thresholds: the call's first phase waited on it.

use std::fmt::Write as _;

use super::{Finding, Severity};
use crate::base::human_duration;
use crate::base::Side;
use crate::flow::conn::{ConnRecord, EndReason, CLOSE_RECORD_GAP_NS, CLOSE_RECORD_MAX};
use crate::flow::events::TcpEventKind;
use crate::flow::key::Protocol;

const RETRANS_MIN_SEGMENTS: u64 = 3;
const RETRANS_WARN_PERCENT: f64 = 2.0;
const RETRANS_ERROR_PERCENT: f64 = 10.0;
const HIGH_RTT_NS: i64 = 150_000_000;
const JITTER_MIN_SAMPLES: u64 = 10;
const JITTER_MIN_NS: i64 = 20_000_000;
const IDLE_RESET_NS: i64 = 30_000_000_000;
/// An RST within this many round trips (plus the slack) of a request's latest
/// transmission answered it at once: no application in between.
pub const QUICK_RST_RTTS: i64 = 4;
/// Slack added to the quick-RST window; also the window when no RTT is known
/// (with 200 ms more).
pub const QUICK_RST_SLACK_NS: i64 = 50_000_000;
/// A connect that took this much beyond one round trip waited on a resend
/// (Linux's minimum RTO is 200 ms; its first SYN resend comes after 1 s).
pub const SYN_LOSS_MIN_NS: i64 = 200_000_000;
/// Resends that cost this much (Linux's third SYN) make the connect an error.
pub const SYN_LOSS_ERROR_NS: i64 = 3_000_000_000;
/// A first data segment resent this long after it was sent waited on a time-out.
pub const FIRST_DATA_RESEND_NS: i64 = 200_000_000;

/// How the summaries of the findings about a request that died on a dead
/// pooled connection begin (`tcp.idle_then_reset` from a request,
/// `tcp.idle_then_blackhole`); the older idle-RST rule's do not.
pub const DEAD_REQUEST: &str = "a request sent after ";

/// True when `f` says a request died on a dead pooled connection.
pub fn is_dead_request(f: &Finding) -> bool {
    f.kind == "http.stale_connection"
        || (matches!(f.kind, "tcp.idle_then_reset" | "tcp.idle_then_blackhole")
            && f.summary.starts_with(DEAD_REQUEST))
}

/// Settings of the TCP rules that come from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRules {
    /// Quiet time before a request from which an RST or silence answering it is
    /// read as a connection whose state was forgotten while idle (`--idle-gap`).
    pub idle_gap_ns: i64,
}

impl Default for TcpRules {
    fn default() -> Self {
        TcpRules {
            idle_gap_ns: 1_000_000_000,
        }
    }
}

/// How long after a request's latest transmission an RST still answered it at
/// once (about one round trip).
fn quick_rst_window(rtt: Option<i64>) -> i64 {
    match rtt {
        Some(r) => r
            .saturating_mul(QUICK_RST_RTTS)
            .saturating_add(QUICK_RST_SLACK_NS),
        None => QUICK_RST_SLACK_NS + 200_000_000,
    }
}

/// Every TCP finding for one ended connection.
pub fn diagnose(c: &ConnRecord, rules: &TcpRules) -> Vec<Finding> {
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
            endpoint: None,
            goroutines: Vec::new(),
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
                    match c.ended {
                        EndReason::OpenAtEnd => {
                            "SYN never answered, and not sent again before the capture ended (it ended within the first resend's 1 s, or the client gave up)"
                                .to_string()
                        }
                        EndReason::Evicted => "SYN never answered while this many unanswered SYNs were open that the oldest were let go (a SYN flood or a scan; see the note on --memory)".to_string(),
                        _ => "SYN never answered and never sent again (the client gave up, or its resends were not captured)".to_string(),
                    },
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

    if let (Some(syn), Some(h)) = (&c.syn, c.handshake) {
        let lost = h.lost_ns();
        if (syn.count > 1 || h.syn_acks > 1) && lost >= SYN_LOSS_MIN_NS {
            let resent = syn.count.saturating_sub(1);
            let way = if syn.count == 1 {
                "the server resent its SYN-ACK: the first SYN-ACK or the client's ACK was lost"
                    .to_string()
            } else if h.syn_acks > 1 || h.syn_ack_before_resend {
                format!(
                    "the SYN-ACK did not reach the client (the server sent it {} time{}{})",
                    h.syn_acks,
                    if h.syn_acks == 1 { "" } else { "s" },
                    if h.syn_ack_before_resend {
                        ", the first before the client's resend"
                    } else {
                        ""
                    }
                )
            } else {
                format!(
                    "the SYN was lost on the way to the server (no SYN-ACK to the first {})",
                    if resent == 1 {
                        "one".to_string()
                    } else {
                        resent.to_string()
                    }
                )
            };
            let what = match (resent, h.syn_acks) {
                (0, _) => "a resent SYN-ACK".to_string(),
                (1, _) => "a resent SYN".to_string(),
                (n, _) => format!("{n} resent SYNs"),
            };
            out.push(finding(
                "tcp.syn_retransmit",
                if lost >= SYN_LOSS_ERROR_NS { Severity::Error } else { Severity::Warning },
                format!(
                    "{} lost to {what} (connect took {} where one round trip is {}; {} SYN{}): {way}",
                    human_duration(lost),
                    human_duration(h.connect_ns),
                    human_duration(h.syn_to_syn_ack_ns),
                    syn.count,
                    if syn.count == 1 { "" } else { "s" },
                ),
                format!("look for SYN loss between client and {server}: a firewall or rate limit, a full SYN backlog or accept queue on the server (`nstat -az TcpExtListenOverflows TcpExtListenDrops`, `ss -lnt` Recv-Q); pooled connections pay the connect once"),
                syn.frames.iter().copied().chain([h.answer_frame]).collect(),
            ));
        }
    }

    // Linux drops the ACK that completes a handshake while the listener's
    // accept queue is full and resends its SYN-ACK: the client believes it is
    // connected, its request waits for the server to accept.
    if let Some(ig) = c.handshake.and_then(|h| h.ignored_ack) {
        out.push(finding(
            "tcp.syn_retransmit",
            if ig.waited_ns >= SYN_LOSS_ERROR_NS { Severity::Error } else { Severity::Warning },
            format!(
                "{} lost to a full accept queue: the server ignored the client's ACK and resent its SYN-ACK {} time{} over {}, so the connection waited for the server to accept it",
                human_duration(ig.waited_ns),
                ig.resends,
                if ig.resends == 1 { "" } else { "s" },
                human_duration(ig.waited_ns),
            ),
            format!("the service at {server} does not accept connections fast enough: raise its listen backlog (and `net.core.somaxconn`), look at its accept loop and load (`nstat -az TcpExtListenOverflows`, `ss -lnt` Recv-Q)"),
            c.syn.iter().flat_map(|s| s.frames.iter().copied()).chain([ig.frame]).collect(),
        ));
    }

    // A small record the client sent just before its own FIN is its closing
    // alert (a TLS close_notify), not a request waiting for an answer.
    let closing_alert = c.request.is_some_and(|r| {
        r.first_len <= CLOSE_RECORD_MAX
            && c.fin[0].is_some_and(|(ts, _)| ts >= r.ts && ts.since(r.ts) <= CLOSE_RECORD_GAP_NS)
    });
    let outstanding = c
        .last_payload
        .filter(|(side, _, _)| *side == Side::Client && !closing_alert);
    // The client's latest request when it came after a long quiet gap and was
    // the last data on the connection.
    let idle_request = c
        .request
        .filter(|r| r.idle_before_ns >= rules.idle_gap_ns && outstanding.is_some());
    let blackhole = idle_request.filter(|r| {
        r.resends > 0 && r.server_packets_after == 0 && c.rst.is_none_or(|x| x.by == Side::Client)
    });
    if let Some(r) = blackhole {
        let sent_for = c.last_resend_or(r).since(r.ts);
        out.push(finding(
            "tcp.idle_then_blackhole",
            Severity::Error,
            format!(
                "{DEAD_REQUEST}{} idle was sent {} times over {} and nothing came back: the connection's state was dropped silently on the path (a NAT, firewall or load balancer idle time-out)",
                human_duration(r.idle_before_ns),
                r.resends + 1,
                human_duration(sent_for),
            ),
            "keep idle pooled connections alive below the middlebox's idle time-out (TCP keep-alives: Go `net.Dialer.KeepAlive`, `net.ipv4.tcp_keepalive_time`; or application pings), or close them sooner (Go `Transport.IdleConnTimeout`); a client time-out bounds what the caller waits".to_string(),
            [r.frame].into_iter().chain(r.last_resend.map(|(_, f)| f)).chain(c.rst.map(|x| x.frame)).collect(),
        ));
    }
    // The server closed its side while idle and the client then wrote on it.
    // Only a FIN after a quiet gap is a keep-alive time-out: one right after
    // a response ("Connection: close") is not.
    let keepalive_close = c.fin_idle_ns[1].is_some_and(|n| n >= rules.idle_gap_ns);
    let stale = c.request.filter(|r| {
        outstanding.is_some()
            && keepalive_close
            && r.after_server_fin
            && r.server_data_after == 0
            && blackhole.is_none()
    });
    if let Some(r) = stale {
        let keepalive = c.fin_idle_ns[1].unwrap_or(0);
        let fin_to_request = c.fin[1].map_or(0, |(ts, _)| r.ts.since(ts));
        let answer = match c.rst {
            Some(x) if x.by == Side::Server => format!(
                ", answered by RST {} later",
                human_duration(x.ts.since(r.ts))
            ),
            _ => String::new(),
        };
        out.push(finding(
            "http.stale_connection",
            Severity::Error,
            format!(
                "the server closed this idle keep-alive connection (FIN after {} idle: its keep-alive time-out) and {} later the client sent a request on it{answer}: the client's pool kept the connection longer than the server does",
                human_duration(keepalive),
                human_duration(fin_to_request),
            ),
            format!(
                "set the client pool's idle time-out below {} (Go: `Transport.IdleConnTimeout`), or raise the server's keep-alive time-out above the client's",
                human_duration(keepalive)
            ),
            c.fin[1].map(|(_, f)| f).into_iter().chain([r.frame]).chain(c.rst.map(|x| x.frame)).collect(),
        ));
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
        } else if established && !after_fins && stale.is_none() && blackhole.is_none() {
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
            // The request met the RST at once, nothing else from the server in
            // between: the server's application never saw it.
            let dead = idle_request.filter(|r| {
                rst.by == Side::Server
                    && r.server_non_rst_after == 0
                    && rst.ts.since(c.last_resend_or(*r)) <= quick_rst_window(c.path_rtt())
            });
            let mut frames = vec![rst.frame];
            frames.extend(outstanding.map(|(_, _, f)| f));
            if let Some(r) = dead {
                frames.push(r.frame);
            }
            if ttl_mismatch {
                let idle = dead.map_or(String::new(), |r| {
                    format!(
                        " (it answered a request sent after {} idle)",
                        human_duration(r.idle_before_ns)
                    )
                });
                out.push(finding(
                    "tcp.reset_by_middlebox",
                    Severity::Error,
                    format!(
                        "RST claiming to come from the {who} has TTL {} where the {who}'s packets had {}: a firewall, NAT or load balancer in the path sent it{idle}",
                        rst.ttl.unwrap_or(0),
                        sender_ttl.unwrap_or(0)
                    ),
                    "look at the devices between client and server (idle time-outs, IPS rules)".to_string(),
                    frames.clone(),
                ));
            } else if let Some(r) = dead {
                out.push(finding(
                    "tcp.idle_then_reset",
                    Severity::Error,
                    format!(
                        "{DEAD_REQUEST}{} idle was answered by an RST {} later, with nothing from the server's application in between: the connection's state was gone (a NAT, firewall, load balancer or conntrack idle time-out, or a restarted server host) while the client's pool still held it",
                        human_duration(r.idle_before_ns),
                        human_duration(rst.ts.since(r.ts)),
                    ),
                    "keep idle pooled connections alive below the path's idle time-out (TCP keep-alives: Go `net.Dialer.KeepAlive`, `net.ipv4.tcp_keepalive_time`; or application pings), or close them sooner (Go `Transport.IdleConnTimeout`); retries of idempotent calls hide it from callers".to_string(),
                    frames,
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
        let data_segments = stats.data_packets.max(1);
        let percent = retrans as f64 * 100.0 / data_segments as f64;
        // The first data segment (ClientHello, request, response) resent after
        // a time-out: the phase it opens waited on the resend.
        let first_resend = c.first_data[i].and_then(|f| {
            let (ts, frame) = f.resent?;
            (ts.since(f.ts) >= FIRST_DATA_RESEND_NS).then(|| {
                (
                    format!(
                        "the {}'s first data segment (frame {}) was sent again {} later (frame {frame}): the phase it opens (TLS handshake, request or response) waited on the resend",
                        side.as_str(),
                        f.frame,
                        human_duration(ts.since(f.ts)),
                    ),
                    [f.frame, frame],
                )
            })
        });
        // The resends of a request sent into a black hole are that finding's.
        let blackholed =
            side == Side::Client && blackhole.is_some_and(|r| retrans <= u64::from(r.resends));
        let rate_fires = retrans >= RETRANS_MIN_SEGMENTS && percent >= RETRANS_WARN_PERCENT;
        if !rate_fires && !blackholed {
            if let Some((summary, frames)) = &first_resend {
                out.push(finding(
                    "tcp.retransmissions",
                    Severity::Warning,
                    summary.clone(),
                    "look for packet loss on the path (interface errors, a congested link, a shaping policy)".to_string(),
                    frames.to_vec(),
                ));
            }
        }
        if rate_fires && !blackholed {
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
            if let Some((_, f)) = &first_resend {
                frames.extend_from_slice(f);
            }
            out.push(finding(
                "tcp.retransmissions",
                if percent >= RETRANS_ERROR_PERCENT { Severity::Error } else { Severity::Warning },
                format!(
                    "{} of {} data segments from the {} were retransmissions ({:.1}%): {}{}",
                    retrans,
                    stats.data_packets,
                    side.as_str(),
                    percent,
                    location,
                    first_resend.as_ref().map_or(String::new(), |(s, _)| format!("; {s}")),
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
