//! The TCP phase: connect to the resolved addresses, one after another or
//! staggered (RFC 8305 happy eyeballs), and tell apart how each attempt ended.
//!
//! A connect that returns has seen the SYN-ACK, so its time is one round trip
//! plus the server's accept queue; a refusal is an RST (or an ICMP port
//! unreachable), a time-out is SYNs nobody answered, and "unreachable" is an
//! ICMP host/network unreachable or a missing route. A socket this host could
//! not create or connect for lack of descriptors, ports or buffers is
//! `ResourceExhausted` (see `local.rs`), never a refusal.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};

use super::local::{self, Call, LocalLimit};

/// How one connection attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectOutcome {
    /// The handshake completed.
    Connected,
    /// RST (or ICMP port unreachable): nothing listens there.
    Refused,
    /// No answer to the SYNs within the time allowed.
    TimedOut,
    /// ICMP host or network unreachable, or no route.
    Unreachable(String),
    /// Stopped because another attempt connected first (happy eyeballs).
    Cancelled,
    /// This host ran out of descriptors, ports or buffers: nothing was sent.
    ResourceExhausted(LocalLimit),
    /// Any other socket error.
    Error(String),
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConnectAttempt {
    /// Where to.
    pub addr: SocketAddr,
    /// Our end (bound before the SYN, so known for failed attempts too: a
    /// capture of the probe finds the attempt by it).
    pub local: Option<SocketAddr>,
    /// How it ended.
    pub outcome: ConnectOutcome,
    /// Milliseconds from its start to its end.
    pub ms: f64,
}

/// The TCP phase.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ConnectPhase {
    /// Every attempt, in the order they started.
    pub attempts: Vec<ConnectAttempt>,
    /// The address connected to.
    pub connected: Option<SocketAddr>,
    /// Our end of that connection.
    pub local: Option<SocketAddr>,
    /// Milliseconds of the successful attempt (the SYN → SYN-ACK round trip
    /// plus accept), else of the whole phase.
    pub ms: f64,
}

impl ConnectPhase {
    /// The attempt that decides the verdict: the successful one, else the first
    /// (the preferred address).
    pub fn deciding(&self) -> Option<&ConnectAttempt> {
        self.attempts
            .iter()
            .find(|a| a.outcome == ConnectOutcome::Connected)
            .or_else(|| self.attempts.first())
    }
}

/// How long happy eyeballs waits before starting the next address (RFC 8305's
/// recommended "Connection Attempt Delay").
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Connects to `port` on `addrs` within `budget`.
pub async fn connect(
    addrs: &[IpAddr],
    port: u16,
    budget: Duration,
    happy_eyeballs: bool,
) -> (ConnectPhase, Option<TcpStream>) {
    let targets: Vec<SocketAddr> = if happy_eyeballs {
        interleave(addrs)
    } else {
        addrs.to_vec()
    }
    .into_iter()
    .map(|ip| SocketAddr::new(ip, port))
    .collect();
    if happy_eyeballs {
        staggered(&targets, budget).await
    } else {
        sequential(&targets, budget).await
    }
}

/// IPv6 and IPv4 alternating, IPv6 first (RFC 8305 §4).
fn interleave(addrs: &[IpAddr]) -> Vec<IpAddr> {
    let (v6, v4): (Vec<IpAddr>, Vec<IpAddr>) = addrs.iter().partition(|a| a.is_ipv6());
    let mut out = Vec::with_capacity(addrs.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => break,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
    out
}

async fn sequential(targets: &[SocketAddr], budget: Duration) -> (ConnectPhase, Option<TcpStream>) {
    let phase_start = Instant::now();
    let mut phase = ConnectPhase::default();
    for (i, &addr) in targets.iter().enumerate() {
        let left = budget.saturating_sub(phase_start.elapsed());
        if left.is_zero() {
            break;
        }
        // Share what is left among the addresses not yet tried, so one
        // black-holed address cannot use up the whole phase.
        let remaining = u32::try_from(targets.len() - i).unwrap_or(u32::MAX).max(1);
        let slice = left / remaining;
        let (attempt, stream) = attempt(addr, slice).await;
        phase.attempts.push(attempt);
        if let Some(stream) = stream {
            phase.local = stream.local_addr().ok();
            phase.connected = Some(addr);
            phase.ms = phase.attempts.last().map_or(0.0, |a| a.ms);
            return (phase, Some(stream));
        }
    }
    phase.ms = ms(phase_start.elapsed());
    (phase, None)
}

async fn staggered(targets: &[SocketAddr], budget: Duration) -> (ConnectPhase, Option<TcpStream>) {
    let phase_start = Instant::now();
    let mut phase = ConnectPhase::default();
    let mut set = JoinSet::new();
    let mut next = 0usize;
    let mut slots: Vec<Option<ConnectAttempt>> = Vec::new();
    loop {
        if set.is_empty() && next < targets.len() {
            spawn(
                &mut set,
                &mut slots,
                targets,
                &mut next,
                phase_start,
                budget,
            );
        }
        if set.is_empty() {
            break;
        }
        let delay = sleep(ATTEMPT_DELAY);
        tokio::select! {
            done = set.join_next() => {
                let Some(Ok((index, attempt, stream))) = done else { continue };
                if let Some(slot) = slots.get_mut(index) {
                    *slot = Some(attempt);
                }
                if let Some(stream) = stream {
                    set.abort_all();
                    phase.local = stream.local_addr().ok();
                    phase.connected = targets.get(index).copied();
                    phase.ms = slots.get(index).and_then(|s| s.as_ref()).map_or(0.0, |a| a.ms);
                    phase.attempts = finish(slots, targets);
                    return (phase, Some(stream));
                }
            }
            _ = delay, if next < targets.len() => {
                spawn(&mut set, &mut slots, targets, &mut next, phase_start, budget);
            }
        }
    }
    phase.attempts = finish(slots, targets);
    phase.ms = ms(phase_start.elapsed());
    (phase, None)
}

type Joined = (usize, ConnectAttempt, Option<TcpStream>);

fn spawn(
    set: &mut JoinSet<Joined>,
    slots: &mut Vec<Option<ConnectAttempt>>,
    targets: &[SocketAddr],
    next: &mut usize,
    phase_start: Instant,
    budget: Duration,
) {
    let Some(&addr) = targets.get(*next) else {
        return;
    };
    let index = *next;
    *next += 1;
    slots.push(None);
    let left = budget.saturating_sub(phase_start.elapsed());
    set.spawn(async move {
        let (a, s) = attempt(addr, left).await;
        (index, a, s)
    });
}

/// Attempts still running when another won are recorded as cancelled.
fn finish(slots: Vec<Option<ConnectAttempt>>, targets: &[SocketAddr]) -> Vec<ConnectAttempt> {
    slots
        .into_iter()
        .zip(targets)
        .map(|(slot, &addr)| {
            slot.unwrap_or(ConnectAttempt {
                addr,
                local: None,
                outcome: ConnectOutcome::Cancelled,
                ms: 0.0,
            })
        })
        .collect()
}

async fn attempt(addr: SocketAddr, limit: Duration) -> (ConnectAttempt, Option<TcpStream>) {
    let start = Instant::now();
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    };
    let wildcard: SocketAddr = if addr.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = socket.and_then(|s| s.bind(wildcard).map(|()| s));
    let (outcome, stream, local) = match socket {
        Err(e) => (classify(&e, Call::Socket), None, None),
        Ok(socket) => {
            let local = socket.local_addr().ok();
            match timeout(limit, socket.connect(addr)).await {
                Ok(Ok(s)) => (ConnectOutcome::Connected, Some(s), local),
                Ok(Err(e)) => (classify(&e, Call::Connect), None, local),
                Err(_) => (ConnectOutcome::TimedOut, None, local),
            }
        }
    };
    let attempt = ConnectAttempt {
        addr,
        local: stream.as_ref().and_then(|s| s.local_addr().ok()).or(local),
        outcome,
        ms: ms(start.elapsed()),
    };
    (attempt, stream)
}

/// The kernel's errno, in the probe's terms.
fn classify(e: &io::Error, call: Call) -> ConnectOutcome {
    if let Some(limit) = local::exhausted(e, call) {
        return ConnectOutcome::ResourceExhausted(limit);
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ConnectOutcome::Refused,
        io::ErrorKind::TimedOut => ConnectOutcome::TimedOut,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            ConnectOutcome::Unreachable(e.to_string())
        }
        _ => ConnectOutcome::Error(e.to_string()),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaves_v6_first() {
        let addrs: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "::1", "::2", "::3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let got: Vec<String> = interleave(&addrs).iter().map(|a| a.to_string()).collect();
        assert_eq!(got, ["::1", "10.0.0.1", "::2", "10.0.0.2", "::3"]);
    }

    #[test]
    fn errors_are_told_apart() {
        let e = |k| io::Error::new(k, "x");
        assert_eq!(
            classify(&e(io::ErrorKind::ConnectionRefused), Call::Connect),
            ConnectOutcome::Refused
        );
        assert!(matches!(
            classify(&e(io::ErrorKind::HostUnreachable), Call::Connect),
            ConnectOutcome::Unreachable(_)
        ));
        assert_eq!(
            classify(&e(io::ErrorKind::TimedOut), Call::Connect),
            ConnectOutcome::TimedOut
        );
        for (errno, call) in [
            (24, Call::Socket),
            (99, Call::Connect),
            (105, Call::Connect),
        ] {
            assert!(
                matches!(
                    classify(&io::Error::from_raw_os_error(errno), call),
                    ConnectOutcome::ResourceExhausted(_)
                ),
                "errno {errno}"
            );
        }
    }
}
