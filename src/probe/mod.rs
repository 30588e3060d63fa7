//! Active checks: `netsleuth probe URL` does what a person does with dig, nc,
//! openssl s_client and curl -w, in one pass with per-phase timings and a
//! verdict in the finding vocabulary that `analyze` uses.
//!
//! Contract:
//! * One probe is DNS ([`dns`]) → TCP ([`connect`]) → TLS for https ([`tls`])
//!   → one HTTP exchange: HTTP/1.1 ([`http`]), or HTTP/2 ([`http2`]) when the
//!   server picks `h2` by ALPN. Each phase has its own time limit and
//!   the whole probe a deadline it never outlives; a phase that fails ends the
//!   probe, and the verdict names it.
//! * Failures are results, not errors: a [`ProbeRun`] holds what each phase saw
//!   and [`ProbeRun::findings`] turns it into findings (`dns.*`, `tcp.*`,
//!   `tls.*`, `http.*`). [`ProbeError`] is only for a probe that cannot start
//!   (a bad URL or `--cacert`).
//! * This module and `source::live` are the only places that read the clock;
//!   records carry wall-clock [`Timestamp`](crate::base::Timestamp)s.
//! * The runtime is tokio's current-thread scheduler, built per command; the
//!   passive pipeline stays free of it.

pub mod clock;
pub mod connect;
pub mod dns;
pub mod http;
pub mod http2;
pub mod local;
pub mod report;
pub mod stats;
pub mod target;
pub mod tls;

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use self::clock::Clock;
use self::connect::{ConnectOutcome, ConnectPhase};
use self::dns::{DnsLimits, DnsPhase, Family, ResolverConfig};
use self::http::{HttpPhase, RequestSpec};
use self::target::{Scheme, Target, TargetError};
use self::tls::{TlsClient, TlsOptions, TlsPhase, TlsSetupError};
use crate::base::human_duration;
use crate::diagnose::{self, Finding, Severity};
use crate::expect::{Expectations, TxView};

/// Everything one probe needs; built from the command line.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The URL as given.
    pub url: String,
    /// Where lookups go.
    pub resolver: Option<std::net::SocketAddr>,
    /// Address families.
    pub family: Family,
    /// Connect to the addresses staggered (RFC 8305) rather than in order.
    pub happy_eyeballs: bool,
    /// TLS options.
    pub tls: TlsOptions,
    /// The request.
    pub request: RequestSpec,
    /// Per-phase limits and the overall deadline.
    pub limits: Limits,
    /// `--expect` rules checked on the response.
    pub expect: crate::expect::Expectations,
}

/// Time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// DNS attempt time-out and attempts per server.
    pub dns: DnsLimits,
    /// The TCP phase, over all addresses.
    pub connect: Duration,
    /// The TLS handshake.
    pub tls: Duration,
    /// Request sent → first response byte.
    pub ttfb: Duration,
    /// The whole probe.
    pub total: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            dns: DnsLimits::default(),
            connect: Duration::from_secs(5),
            tls: Duration::from_secs(5),
            ttfb: Duration::from_secs(15),
            total: Duration::from_secs(30),
        }
    }
}

/// Why a probe could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The URL.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The TLS set-up (trust store, --cacert).
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The runtime could not start.
    #[error("cannot start the probe's runtime: {0}")]
    Runtime(std::io::Error),
}

/// The phase a probe failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Name resolution.
    Dns,
    /// TCP connect.
    Connect,
    /// TLS handshake.
    Tls,
    /// Waiting for the response.
    Ttfb,
    /// Reading the response.
    Transfer,
}

impl Phase {
    /// Lower-case name, as in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Ttfb => "ttfb",
            Phase::Transfer => "transfer",
        }
    }

    /// The step a person names: `DNS`, `TCP connect`, `TLS`, `HTTP`.
    pub fn step(self) -> &'static str {
        match self {
            Phase::Dns => "DNS",
            Phase::Connect => "TCP connect",
            Phase::Tls => "TLS",
            Phase::Ttfb | Phase::Transfer => "HTTP",
        }
    }

    /// Every phase, in order.
    pub const ALL: [Phase; 5] = [
        Phase::Dns,
        Phase::Connect,
        Phase::Tls,
        Phase::Ttfb,
        Phase::Transfer,
    ];
}

/// One probe's phases, in milliseconds (`None`: not reached or not applicable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PhaseTimes {
    /// Name resolution.
    pub dns: Option<f64>,
    /// SYN → SYN-ACK (the successful attempt).
    pub connect: Option<f64>,
    /// ClientHello → handshake done.
    pub tls: Option<f64>,
    /// Request sent → first response byte.
    pub ttfb: Option<f64>,
    /// First → last response byte.
    pub transfer: Option<f64>,
    /// Start to end.
    pub total: f64,
}

impl PhaseTimes {
    /// The time of `phase`.
    pub fn get(&self, phase: Phase) -> Option<f64> {
        match phase {
            Phase::Dns => self.dns,
            Phase::Connect => self.connect,
            Phase::Tls => self.tls,
            Phase::Ttfb => self.ttfb,
            Phase::Transfer => self.transfer,
        }
    }
}

/// The verdict: healthy, or the phase that failed and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// True when every phase succeeded and no finding is an error.
    pub ok: bool,
    /// The failing phase.
    pub phase: Option<Phase>,
    /// One line for a person.
    pub summary: String,
}

/// Everything one probe saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeRun {
    /// The URL probed.
    pub url: String,
    /// When it started.
    #[serde(serialize_with = "ser_ts")]
    pub start: crate::base::Timestamp,
    /// Phase times.
    pub phases_ms: PhaseTimes,
    /// DNS.
    pub dns: DnsPhase,
    /// TCP.
    pub connect: Option<ConnectPhase>,
    /// TLS (https only).
    pub tls: Option<TlsPhase>,
    /// HTTP.
    pub http: Option<HttpPhase>,
    /// The deadline cut the probe short.
    pub deadline_hit: bool,
    /// The verdict.
    pub verdict: Verdict,
    /// Findings, worst first.
    pub findings: Vec<Finding>,
    /// What the passive analysis of the probe's own capture (`--capture`)
    /// found on this run's packets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// A finding of the passive analysis of the probe's capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Evidence {
    /// Finding kind.
    pub kind: String,
    /// `info`, `warning` or `error`.
    pub severity: String,
    /// What the packets show.
    pub summary: String,
    /// Frame numbers in the capture file.
    pub frames: Vec<u64>,
}

impl ProbeRun {
    /// This run's local TCP and UDP ports: where its packets are in a capture.
    pub fn local_ports(&self) -> (Vec<u16>, Vec<u16>) {
        let tcp = self
            .connect
            .iter()
            .flat_map(|c| &c.attempts)
            .filter_map(|a| a.local.map(|l| l.port()))
            .filter(|p| *p != 0)
            .collect();
        let udp = self
            .dns
            .queries
            .iter()
            .map(|q| q.client.port())
            .filter(|p| *p != 0)
            .collect();
        (tcp, udp)
    }
}

fn ser_ts<S: serde::Serializer>(ts: &crate::base::Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::base::rfc3339(*ts))
}

/// A prepared probe: the parsed target and the TLS client, reusable across
/// repetitions.
#[derive(Debug)]
pub struct Prober {
    config: ProbeConfig,
    target: Target,
    resolver: ResolverConfig,
    tls: Option<TlsClient>,
    clock: Clock,
}

impl Prober {
    /// Checks the URL and the TLS set-up.
    pub fn new(config: ProbeConfig) -> Result<Prober, ProbeError> {
        let target = Target::parse(&config.url)?;
        let tls = match target.scheme {
            Scheme::Https => Some(TlsClient::new(&config.tls)?),
            Scheme::Http => None,
        };
        let resolver = config
            .resolver
            .map_or_else(ResolverConfig::system, ResolverConfig::server);
        Ok(Prober {
            config,
            target,
            resolver,
            tls,
            clock: Clock::start(),
        })
    }

    /// The parsed target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Runs one probe to its end or its deadline.
    pub async fn run_once(&self) -> ProbeRun {
        let start = Instant::now();
        let deadline = start + self.config.limits.total;
        let mut run = ProbeRun {
            url: self.target.to_string(),
            start: self.clock.now(),
            phases_ms: PhaseTimes::default(),
            dns: DnsPhase {
                resolver: String::new(),
                queries: Vec::new(),
                addresses: Vec::new(),
                ms: 0.0,
                notes: Vec::new(),
                local_error: None,
            },
            connect: None,
            tls: None,
            http: None,
            deadline_hit: false,
            verdict: Verdict {
                ok: false,
                phase: None,
                summary: String::new(),
            },
            findings: Vec::new(),
            evidence: Vec::new(),
        };
        let outcome = tokio::time::timeout_at(deadline, self.phases(&mut run)).await;
        // Phases stop themselves at the deadline too, so reaching it counts.
        run.deadline_hit = outcome.is_err() || start.elapsed() >= self.config.limits.total;
        run.phases_ms.total = start.elapsed().as_secs_f64() * 1e3;
        run.findings = findings(&run, &self.config.limits, &self.config.expect);
        // The kept response was for the rules only: runs stay small under -n.
        if let Some(h) = run.http.as_mut() {
            h.response = None;
            h.request = None;
        }
        run.verdict = verdict(&run, &self.target, &self.config.limits);
        run
    }

    async fn phases(&self, run: &mut ProbeRun) {
        let limits = &self.config.limits;
        let deadline = Instant::now() + limits.total;
        run.dns = dns::resolve(
            &self.target.host,
            self.target.ip,
            &self.resolver,
            self.config.family,
            limits.dns,
            &self.clock,
        )
        .await;
        // An address literal has no DNS phase at all.
        run.phases_ms.dns = self.target.ip.is_none().then_some(run.dns.ms);
        if run.dns.addresses.is_empty() {
            return;
        }
        let (connect, stream) = connect::connect(
            &run.dns.addresses,
            self.target.port,
            limits.connect,
            self.config.happy_eyeballs,
        )
        .await;
        run.phases_ms.connect = stream.as_ref().map(|_| connect.ms);
        run.connect = Some(connect);
        let Some(tcp) = stream else { return };
        let _ = tcp.set_nodelay(true);
        let spec = &self.config.request;
        let keep = self.config.expect.needs();
        let http = match &self.tls {
            Some(client) => {
                let (tls, stream) = client.handshake(tcp, &self.target.host, limits.tls).await;
                run.phases_ms.tls = stream.as_ref().map(|_| tls.ms);
                run.tls = Some(tls);
                let Some(mut stream) = stream else { return };
                if run.tls.as_ref().and_then(|t| t.alpn.as_deref()) == Some("h2") {
                    http2::exchange(stream, &self.target, spec, limits.ttfb, deadline, keep).await
                } else {
                    http::exchange(&mut stream, &self.target, spec, limits.ttfb, deadline, keep)
                        .await
                }
            }
            None => {
                let mut tcp = tcp;
                http::exchange(&mut tcp, &self.target, spec, limits.ttfb, deadline, keep).await
            }
        };
        run.phases_ms.ttfb = http.ttfb_ms;
        run.phases_ms.transfer = http.transfer_ms;
        run.http = Some(http);
    }
}

/// Runs `probe` on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ProbeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ProbeError::Runtime)?;
    Ok(rt.block_on(f))
}

fn ns(ms: f64) -> i64 {
    (ms * 1e6) as i64
}

fn finding(kind: &'static str, severity: Severity, summary: String, next: String) -> Finding {
    Finding {
        kind,
        severity,
        summary,
        next_step: next,
        frames: Vec::new(),
        conn: None,
        client: None,
        server: None,
        time: None,
        endpoint: None,
        goroutines: Vec::new(),
    }
}

/// The findings of one run, worst first.
fn findings(run: &ProbeRun, limits: &Limits, expect: &Expectations) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    // A lookup that never left this host says nothing about DNS: its queries'
    // records are not diagnosed.
    if let Some(limit) = &run.dns.local_error {
        let mut f = local_finding(limit, "resolve the host name");
        if run.dns.addresses.is_empty() {
            out.push(f);
            return out;
        }
        // One of A/AAAA could not be asked, the other answered: the call went on.
        f.severity = Severity::Warning;
        f.summary
            .push_str(" (for one of its queries; the other answered, so the call went on)");
        out.push(f);
    } else {
        for q in &run.dns.queries {
            for mut f in diagnose::dns::diagnose(q) {
                f.frames.clear();
                f.conn = None;
                out.push(f);
            }
        }
        // One of A/AAAA failing while the other gave addresses is not a failure,
        // but it is worth a warning: an unanswered AAAA query is often where the
        // DNS phase's time went.
        if !run.dns.addresses.is_empty() {
            for f in out.iter_mut().filter(|f| f.kind != "dns.slow") {
                f.severity = f.severity.min(Severity::Warning);
                f.summary
                    .push_str(" (the other address family answered, so the call went on)");
            }
        }
    }
    if let Some(c) = &run.connect {
        let server = c.deciding().map(|a| a.addr);
        if c.connected.is_none() {
            if let Some(a) = c.deciding() {
                let others = c.attempts.len().saturating_sub(1);
                let also = if others > 0 {
                    format!(" ({others} other address(es) failed too)")
                } else {
                    String::new()
                };
                if let ConnectOutcome::ResourceExhausted(limit) = &a.outcome {
                    let mut f = local_finding(limit, &format!("connect to {}", a.addr));
                    f.server = server;
                    out.push(f);
                    return finish(out, run);
                }
                let (kind, summary, next) = match &a.outcome {
                    ConnectOutcome::Refused => (
                        "tcp.connect_refused",
                        format!("connection to {} refused: nothing listens on that port{also}", a.addr),
                        "check that the service runs and listens on this address and port (ss -ltn on the server), and that the URL's port is right".to_string(),
                    ),
                    ConnectOutcome::TimedOut => (
                        "tcp.connect_timeout",
                        format!("no answer to the SYNs sent to {} within {:.0} ms{also}", a.addr, a.ms),
                        "a firewall or security group drops the traffic, or the host is down: check the path with a capture (--capture) or traceroute -T".to_string(),
                    ),
                    ConnectOutcome::Unreachable(why) => (
                        "tcp.icmp_unreachable",
                        format!("{} is unreachable: {why}{also}", a.addr),
                        "check the routing to that address and whether the host exists".to_string(),
                    ),
                    ConnectOutcome::Error(why) => (
                        "tcp.connect_refused",
                        format!("connect to {} failed: {why}{also}", a.addr),
                        "check the local network configuration".to_string(),
                    ),
                    ConnectOutcome::Cancelled
                    | ConnectOutcome::Connected
                    | ConnectOutcome::ResourceExhausted(_) => (
                        "tcp.connect_timeout",
                        format!("no connection to any address within {}", human_duration(i64::try_from(limits.connect.as_nanos()).unwrap_or(i64::MAX))),
                        "check the path to the server".to_string(),
                    ),
                };
                let mut f = finding(kind, Severity::Error, summary, next);
                f.server = server;
                out.push(f);
            }
        }
    }
    if let Some(t) = &run.tls {
        let server = run.connect.as_ref().and_then(|c| c.connected);
        for (fail, severity) in [
            (t.failure.as_ref(), Severity::Error),
            (t.insecure_failure.as_ref(), Severity::Error),
        ] {
            if let Some(fail) = fail {
                let mut f = finding(
                    fail.kind,
                    severity,
                    fail.reason.clone(),
                    tls_next(fail.kind, t),
                );
                f.server = server;
                out.push(f);
            }
        }
    }
    if let Some(h) = &run.http {
        let server = run.connect.as_ref().and_then(|c| c.connected);
        let call = format!(
            "{} {}",
            crate::base::escape::escape_str(&h.method),
            crate::base::escape::escape_str(&h.path)
        );
        if let Some(fail) = &h.failure {
            let mut f = finding(
                fail.kind,
                Severity::Error,
                format!("{call}: {}", fail.reason),
                "the server (or a proxy in front of it) did not finish the response: check its logs and time-outs for this request".into(),
            );
            f.server = server;
            out.push(f);
        }
        if let Some(status) = h.status {
            let reason = crate::base::escape::escape_str(h.reason.as_deref().unwrap_or(""));
            if status >= 500 {
                out.push(finding(
                    "http.server_error",
                    Severity::Error,
                    format!("{call} -> {status} {reason}"),
                    "the server failed to handle the request: check its logs for this request"
                        .into(),
                ));
            } else if status >= 400 {
                out.push(finding(
                    "http.client_error",
                    Severity::Warning,
                    format!("{call} -> {status} {reason}"),
                    "the server rejected the request: check the URL, method, headers and credentials".into(),
                ));
            }
        }
        let rtt = run.phases_ms.connect.unwrap_or(0.0);
        if let Some(ttfb) = h.ttfb_ms {
            let think = (ttfb - rtt).max(0.0);
            if ns(think) >= diagnose::http::SLOW_SERVER_NS {
                out.push(finding(
                    "http.slow_server",
                    Severity::Warning,
                    format!(
                        "{call}: the first byte came after {} (server think time ≈ {}, network round trip {})",
                        human_duration(ns(ttfb)),
                        human_duration(ns(think)),
                        human_duration(ns(rtt))
                    ),
                    "the time is spent in the server: profile the handler, its database and upstream calls".into(),
                ));
            }
        }
        if let Some(transfer) = h.transfer_ms {
            let secs = transfer / 1e3;
            if h.body_bytes >= diagnose::http::SLOW_TRANSFER_MIN_BYTES
                && ns(transfer) >= diagnose::http::SLOW_TRANSFER_NS
                && secs > 0.0
            {
                let rate = h.body_bytes as f64 / secs;
                if rate < diagnose::http::SLOW_TRANSFER_FLOOR_BPS {
                    out.push(finding(
                        "http.slow_transfer",
                        Severity::Warning,
                        format!(
                            "{call}: {} bytes took {} ({:.1} KB/s)",
                            h.body_bytes,
                            human_duration(ns(transfer)),
                            rate / 1e3
                        ),
                        "the bytes moved slowly: look for loss, a small window or a rate limit on the path (a --capture shows which)".into(),
                    ));
                }
            }
        }
    }
    out.extend(expectation_findings(run, expect));
    if run.deadline_hit {
        // The phase that ran out of time already said so; name the deadline there.
        if let Some(f) = out.iter_mut().find(|f| f.severity == Severity::Error) {
            f.summary.push_str(" (the probe's --max-time deadline)");
            f.next_step = "raise --max-time if this server is expected to be this slow".into();
        }
    }
    if run.deadline_hit && !out.iter().any(|f| f.severity == Severity::Error) {
        let phase = failed_phase(run).map_or("probe", Phase::as_str);
        out.push(finding(
            "http.no_response",
            Severity::Error,
            format!(
                "the probe's deadline ({}) passed during the {phase} phase",
                human_duration(i64::try_from(limits.total.as_nanos()).unwrap_or(i64::MAX))
            ),
            "raise --max-time if this server is expected to be this slow".into(),
        ));
    }
    finish(out, run)
}

/// Endpoints on every finding that has a connection, worst first.
fn finish(mut out: Vec<Finding>, run: &ProbeRun) -> Vec<Finding> {
    let client = run
        .connect
        .as_ref()
        .and_then(|c| c.local.or_else(|| c.deciding().and_then(|a| a.local)));
    let server = run.connect.as_ref().and_then(|c| c.connected);
    for f in out.iter_mut().filter(|f| !f.kind.starts_with("dns.")) {
        f.client = f.client.or(client);
        f.server = f.server.or(server);
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// `local.resource_exhausted`: this host could not `what`; names the limit to raise.
fn local_finding(limit: &local::LocalLimit, what: &str) -> Finding {
    finding(
        "local.resource_exhausted",
        Severity::Error,
        format!(
            "this host could not {what}: it ran out of {} ({}); the request never left the machine, so the server and the network are not to blame",
            limit.resource.describe(),
            crate::base::escape::escape_str(&limit.error)
        ),
        limit.resource.next_step().to_string(),
    )
}

/// `--expect` rules on the response. A probe without a response head already
/// has its failure finding; rules are not checked on it.
fn expectation_findings(run: &ProbeRun, expect: &Expectations) -> Vec<Finding> {
    let Some(h) = &run.http else {
        return Vec::new();
    };
    if expect.is_empty() || h.status.is_none() {
        return Vec::new();
    }
    let server = run.connect.as_ref().and_then(|c| c.connected);
    let req = crate::expect::Request {
        method: Some(&h.method),
        host: Some(&h.host),
        path: Some(&h.path),
        server: server.map(|s| s.ip()),
    };
    let dur = |ms: f64| Duration::try_from_secs_f64(ms / 1e3).ok();
    let total = match (h.ttfb_ms, h.transfer_ms) {
        (Some(t), Some(x)) => dur(h.send_ms + t + x),
        _ => None,
    };
    let view = TxView::new(
        h.status,
        h.response.as_deref(),
        total,
        h.ttfb_ms.and_then(dur),
    )
    .with_request(h.request.as_deref(), true);
    let call = format!(
        "{} {}",
        crate::base::escape::escape_str(&h.method),
        crate::base::escape::escape_str(&h.path)
    );
    expect
        .check(&req, &view)
        .iter()
        .map(|c| {
            let (kind, severity, summary, mut next) =
                diagnose::expect::describe(&call, h.status, c);
            if kind == diagnose::expect::UNCHECKED {
                next = "the probe keeps at most 1 MiB of a body (gzip/deflate decoded) and 64 header fields: check a smaller resource or a simpler rule".into();
            }
            finding(kind, severity, summary, next)
        })
        .collect()
}

fn tls_next(kind: &str, t: &TlsPhase) -> String {
    match kind {
        "tls.version_mismatch" => "enable a common TLS version on the server (TLS 1.2 and 1.3 are current), or offer another with --tls-version".into(),
        "tls.no_shared_cipher" => "the server's cipher suites or groups do not overlap with rustls' modern set: update the server's TLS configuration".into(),
        "tls.alpn_mismatch" => format!("offer a protocol the server speaks (--alpn), or enable {} on the server", t.offered_alpn.join(", ")),
        "tls.cert_expired" => "renew the server's certificate (and check the client's clock)".into(),
        "tls.sni_mismatch" => "use the name the certificate is for, or add this name to the certificate's SANs".into(),
        "tls.unknown_ca" => "install the issuing CA in the client's trust store, pass it with --cacert, or have the server send its intermediate certificates".into(),
        "tls.bad_certificate" => "re-issue the server's certificate: the client cannot use it".into(),
        "tls.handshake_timeout" => "the server accepted TCP but never answered the ClientHello: is this a TLS port, or is a middlebox swallowing it?".into(),
        _ => "check the server's TLS configuration and logs".into(),
    }
}

/// The first phase that did not complete.
fn failed_phase(run: &ProbeRun) -> Option<Phase> {
    if run.dns.addresses.is_empty() {
        return Some(Phase::Dns);
    }
    match &run.connect {
        None => return Some(Phase::Connect),
        Some(c) if c.connected.is_none() => return Some(Phase::Connect),
        _ => {}
    }
    if let Some(t) = &run.tls {
        if t.failure.is_some() || run.http.is_none() {
            return Some(Phase::Tls);
        }
    }
    let h = run.http.as_ref()?;
    // A probe asks for a resource that should be there: a 4xx fails it (as
    // curl --fail does), though the finding stays a warning.
    if h.failure.is_some() || run.deadline_hit || h.status.is_some_and(|s| s >= 400) {
        return Some(if h.status.is_some() && h.failure.is_some() {
            Phase::Transfer
        } else {
            Phase::Ttfb
        });
    }
    None
}

fn verdict(run: &ProbeRun, target: &Target, _limits: &Limits) -> Verdict {
    let worst = run.findings.first();
    let phase = failed_phase(run).or_else(|| {
        run.findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .map(|f| phase_of(f.kind))
    });
    let ok = phase.is_none();
    let summary = match (phase, worst) {
        (None, None) => format!("OK: {target} answered {}", status_text(run)),
        (None, Some(w)) => format!(
            "OK with warnings: {target} answered {}; {}",
            status_text(run),
            w.summary
        ),
        (Some(p), Some(w)) => format!("FAILED at the {} step: {}", p.step(), w.summary),
        (Some(p), None) => format!("FAILED at the {} step", p.step()),
    };
    Verdict { ok, phase, summary }
}

fn status_text(run: &ProbeRun) -> String {
    match run.http.as_ref().and_then(|h| h.status) {
        Some(s) => format!("{s}"),
        None => "nothing".into(),
    }
}

/// The phase a finding kind belongs to.
fn phase_of(kind: &str) -> Phase {
    match kind.split('.').next() {
        Some("dns") => Phase::Dns,
        Some("tcp") => Phase::Connect,
        Some("tls") => Phase::Tls,
        _ if kind == "http.slow_transfer" => Phase::Transfer,
        _ => Phase::Ttfb,
    }
}
