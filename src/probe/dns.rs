//! The DNS phase: the host's addresses, the way the system would find them,
//! with the time, rcode and attempts of every query.
//!
//! Order, as glibc's default `hosts: files dns`: an address literal needs no
//! lookup; a name in `/etc/hosts` is answered from there; otherwise A and AAAA
//! are asked at once of the first nameserver of `/etc/resolv.conf` (or the one
//! given with `--dns-server`), each attempt over a connected UDP socket (so an
//! ICMP port unreachable comes back as a refusal, not a silent time-out), with
//! the next server tried after a time-out, SERVFAIL or REFUSED, and a truncated
//! answer asked again over TCP. Names are asked as written: the search list of
//! `resolv.conf` is not applied (a probe's URL names the host it means).
//!
//! Our own client rather than `getaddrinfo` or a resolver crate, because those
//! hide what a diagnosis needs: which server, each attempt's time, the raw rcode.
//! Each question becomes the same [`DnsRecord`] that `analyze` makes from
//! packets, so the findings and JSON are the same too.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use domain::base::iana::Class;
use domain::base::{MessageBuilder, Name, Rtype};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout, Instant};

use super::clock::Clock;
use super::local::{self, Call, LocalLimit};
use crate::app::dns::{Asked, DnsRecord, DnsUnreachable, Response, Transport};

/// Which address families to look up and connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// IPv4 and IPv6 (IPv4 addresses first).
    #[default]
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

/// Where lookups go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Servers in order of use.
    pub servers: Vec<SocketAddr>,
    /// Where the servers came from, said in the report.
    pub source: String,
    /// Consult `/etc/hosts` first (not when a server was named explicitly).
    pub use_hosts_file: bool,
}

impl ResolverConfig {
    /// The system's resolver: `/etc/resolv.conf`'s nameservers, or 127.0.0.1
    /// when it names none (glibc's default).
    pub fn system() -> ResolverConfig {
        let path = Path::new("/etc/resolv.conf");
        let servers = std::fs::read_to_string(path)
            .map(|text| nameservers(&text))
            .unwrap_or_default();
        if servers.is_empty() {
            ResolverConfig {
                servers: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 53))],
                source: "127.0.0.1:53 (no nameserver in /etc/resolv.conf)".into(),
                use_hosts_file: true,
            }
        } else {
            ResolverConfig {
                source: format!("{} (from /etc/resolv.conf)", list(&servers)),
                servers,
                use_hosts_file: true,
            }
        }
    }

    /// One server named on the command line.
    pub fn server(addr: SocketAddr) -> ResolverConfig {
        ResolverConfig {
            servers: vec![addr],
            source: format!("{addr} (--dns-server)"),
            use_hosts_file: false,
        }
    }
}

fn list(servers: &[SocketAddr]) -> String {
    servers
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `nameserver` lines of a resolv.conf (at most 3 are used, as glibc does).
pub fn nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            // A zone index (fe80::1%eth0) is not supported by the parse; skip it.
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .take(3)
        .collect()
}

/// The addresses `/etc/hosts`-format text gives for `name`, in file order.
pub fn hosts_lookup(hosts: &str, name: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if words.any(|w| w.trim_end_matches('.').eq_ignore_ascii_case(name)) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// Limits of the DNS phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsLimits {
    /// How long one attempt waits for its answer.
    pub attempt_timeout: Duration,
    /// Attempts per server.
    pub attempts: u32,
}

impl Default for DnsLimits {
    fn default() -> Self {
        // glibc's defaults are 5 s and 2 attempts; a probe wants its answer sooner,
        // and a resolver that needs more than 2 s is already a finding.
        DnsLimits {
            attempt_timeout: Duration::from_secs(2),
            attempts: 2,
        }
    }
}

/// How the host's addresses were found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DnsPhase {
    /// `address literal`, `/etc/hosts`, or the servers asked and where they came from.
    pub resolver: String,
    /// One record per question asked (none for a literal or /etc/hosts).
    pub queries: Vec<DnsRecord>,
    /// The addresses to connect to, in order.
    pub addresses: Vec<IpAddr>,
    /// Milliseconds the phase took.
    pub ms: f64,
    /// Why a query attempt failed without an answer (refused by ICMP, socket errors).
    pub notes: Vec<String>,
    /// This host could not open a socket to ask (descriptors, buffers): the
    /// lookup never reached a server, so its queries say nothing about DNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_error: Option<LocalLimit>,
}

/// Finds the addresses of `host` (an IP literal or a name).
pub async fn resolve(
    host: &str,
    literal: Option<IpAddr>,
    config: &ResolverConfig,
    family: Family,
    limits: DnsLimits,
    clock: &Clock,
) -> DnsPhase {
    let start = Instant::now();
    let done = |resolver: String, addresses: Vec<IpAddr>| DnsPhase {
        resolver,
        queries: Vec::new(),
        addresses,
        ms: 0.0,
        notes: Vec::new(),
        local_error: None,
    };
    if let Some(ip) = literal {
        return done("address literal".into(), vec![ip]);
    }
    if config.use_hosts_file {
        let from_file = match std::fs::read_to_string("/etc/hosts") {
            Ok(text) => hosts_lookup(&text, host),
            Err(e) => match local::exhausted(&e, Call::Socket) {
                Some(limit) => {
                    let mut phase = done("/etc/hosts".into(), Vec::new());
                    phase
                        .notes
                        .push(format!("cannot read /etc/hosts: {}", limit.error));
                    phase.local_error = Some(limit);
                    phase.ms = ms(start.elapsed());
                    return phase;
                }
                None => Vec::new(),
            },
        };
        let wanted: Vec<IpAddr> = from_file
            .into_iter()
            .filter(|ip| family_allows(family, ip))
            .collect();
        if !wanted.is_empty() {
            let mut phase = done("/etc/hosts".into(), wanted);
            phase.ms = ms(start.elapsed());
            return phase;
        }
    }
    // Both questions at once, as stub resolvers do.
    let asked = match family {
        Family::Any => {
            let (a, aaaa) = tokio::join!(
                ask(host, Rtype::A, config, limits, clock),
                ask(host, Rtype::AAAA, config, limits, clock)
            );
            vec![a, aaaa]
        }
        Family::V4 => vec![ask(host, Rtype::A, config, limits, clock).await],
        Family::V6 => vec![ask(host, Rtype::AAAA, config, limits, clock).await],
    };
    let mut notes = Vec::new();
    let mut queries = Vec::new();
    let mut local_error = None;
    for (record, mut n, local) in asked {
        queries.push(record);
        notes.append(&mut n);
        local_error = local_error.or(local);
    }
    let mut addresses: Vec<IpAddr> = queries.iter().flat_map(|r| r.addresses()).collect();
    addresses.retain(|ip| family_allows(family, ip));
    let mut seen = Vec::new();
    addresses.retain(|ip| {
        let new = !seen.contains(ip);
        seen.push(*ip);
        new
    });
    DnsPhase {
        resolver: config.source.clone(),
        queries,
        addresses,
        ms: ms(start.elapsed()),
        notes,
        local_error,
    }
}

fn family_allows(family: Family, ip: &IpAddr) -> bool {
    match family {
        Family::Any => true,
        Family::V4 => ip.is_ipv4(),
        Family::V6 => ip.is_ipv6(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What one attempt got.
enum Attempt {
    Answer(Response),
    /// No answer in time.
    Silent,
    /// The server's host said nothing listens there (ICMP port unreachable).
    Refused,
    /// The socket failed.
    Failed(String),
    /// This host could not open or use a socket for lack of a resource.
    Local(LocalLimit),
}

/// Asks one question of the servers in turn; returns its record, notes and the
/// local resource error that stopped it, if one did.
async fn ask(
    host: &str,
    rtype: Rtype,
    config: &ResolverConfig,
    limits: DnsLimits,
    clock: &Clock,
) -> (DnsRecord, Vec<String>, Option<LocalLimit>) {
    let qtype = rtype.to_string();
    let first_time = clock.now();
    let mut notes = Vec::new();
    let mut servers_tried = Vec::new();
    let mut attempts = 0u32;
    let record = |server: SocketAddr, client: SocketAddr, id: u16| {
        DnsRecord::asked(
            Asked {
                conn: 0,
                client,
                server,
                transport: Transport::Udp,
                id,
                qname: host.to_string(),
                qtype: qtype.clone(),
                frame: 0,
                time: first_time,
            },
            Vec::new(),
        )
    };
    let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
    let mut last: Option<DnsRecord> = None;
    let mut local_error = None;
    'servers: for &server in &config.servers {
        servers_tried.push(server);
        for _ in 0..limits.attempts.max(1) {
            attempts += 1;
            let id = random_id();
            let Some(query) = build_query(host, rtype, id) else {
                notes.push(format!("'{host}' is not a valid DNS name"));
                break 'servers;
            };
            let (client, outcome) = udp_attempt(server, &query, id, rtype, limits).await;
            let mut r = record(server, client.unwrap_or(unspecified), id);
            match outcome {
                Attempt::Silent => {
                    r.timed_out = true;
                    last = Some(r);
                    continue;
                }
                Attempt::Refused => {
                    let mut icmp = last
                        .take()
                        .and_then(|l: DnsRecord| l.unreachable)
                        .unwrap_or(DnsUnreachable {
                            from: server.ip(),
                            description: "port unreachable".into(),
                            frames: Vec::new(),
                            count: 0,
                        });
                    icmp.count += 1;
                    r.unreachable = Some(icmp);
                    r.timed_out = true;
                    last = Some(r);
                    continue;
                }
                Attempt::Local(limit) => {
                    notes.push(format!(
                        "{qtype} query to {server}: cannot open a socket: {}",
                        limit.error
                    ));
                    local_error = Some(limit);
                    last = Some(r);
                    break 'servers;
                }
                Attempt::Failed(why) => {
                    notes.push(format!("{qtype} query to {server}: {why}"));
                    r.timed_out = true;
                    last = Some(r);
                    continue 'servers;
                }
                Attempt::Answer(resp) => {
                    let resp = if resp.truncated {
                        r.truncated = true;
                        match tcp_attempt(server, &query, id, limits).await {
                            Ok(full) => {
                                r.tcp_retry = true;
                                r.transport = Transport::Tcp;
                                full
                            }
                            Err(why) => {
                                notes.push(format!(
                                    "{qtype} answer from {server} was truncated and the TCP retry failed: {why}"
                                ));
                                resp
                            }
                        }
                    } else {
                        resp
                    };
                    let now = clock.now();
                    r.response_time = Some(now);
                    r.latency_ms = Some(now.since(first_time) as f64 / 1e6);
                    r.rcode = Some(resp.rcode.clone());
                    r.answers = resp.answers;
                    let retry_elsewhere = matches!(resp.rcode.as_str(), "SERVFAIL" | "REFUSED");
                    last = Some(r);
                    if !retry_elsewhere {
                        break 'servers;
                    }
                    continue 'servers;
                }
            }
        }
    }
    let mut r = last.unwrap_or_else(|| record(unspecified, unspecified, 0));
    r.retries = attempts.saturating_sub(1);
    r.servers_tried = servers_tried;
    (r, notes, local_error)
}

fn random_id() -> u16 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default(),
    );
    h.finish() as u16
}

/// A recursive query for `name`/`rtype` with message id `id`.
fn build_query(name: &str, rtype: Rtype, id: u16) -> Option<Vec<u8>> {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    let qname: Name<Vec<u8>> = fqdn.parse().ok()?;
    let mut msg = MessageBuilder::new_vec();
    msg.header_mut().set_id(id);
    msg.header_mut().set_rd(true);
    let mut q = msg.question();
    q.push((&qname, rtype, Class::IN)).ok()?;
    Some(q.finish())
}

/// One UDP attempt: the local address used and what came back.
async fn udp_attempt(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    rtype: Rtype,
    limits: DnsLimits,
) -> (Option<SocketAddr>, Attempt) {
    let bind = if server.is_ipv6() {
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    };
    let sock = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => {
            let outcome = match local::exhausted(&e, Call::Socket) {
                Some(limit) => Attempt::Local(limit),
                None => Attempt::Failed(format!("cannot open a UDP socket: {e}")),
            };
            return (None, outcome);
        }
    };
    if let Err(e) = sock.connect(server).await {
        let outcome = match local::exhausted(&e, Call::Connect) {
            Some(limit) => Attempt::Local(limit),
            None => Attempt::Failed(io_reason(&e)),
        };
        return (None, outcome);
    }
    let local = sock.local_addr().ok();
    if let Err(e) = sock.send(query).await {
        return (local, Attempt::Failed(io_reason(&e)));
    }
    let deadline = Instant::now() + limits.attempt_timeout;
    let mut buf = vec![0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => return (local, Attempt::Silent),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return (local, Attempt::Refused)
            }
            Ok(Err(e)) => return (local, Attempt::Failed(io_reason(&e))),
            Ok(Ok(n)) => {
                // Answers to other ids or questions (late answers to an earlier
                // attempt, spoofing attempts) are ignored.
                let Some(resp) = buf.get(..n).and_then(Response::parse) else {
                    continue;
                };
                if resp.id == id && resp.qtype.is_none_or(|t| t == rtype.to_int()) {
                    return (local, Attempt::Answer(resp));
                }
            }
        }
    }
}

/// The same query over TCP after a truncated UDP answer.
async fn tcp_attempt(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    limits: DnsLimits,
) -> Result<Response, String> {
    let exchange = async {
        let mut tcp = TcpStream::connect(server).await?;
        let len = u16::try_from(query.len()).map_err(io::Error::other)?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        tcp.write_all(&framed).await?;
        let n = tcp.read_u16().await?;
        let mut msg = vec![0u8; usize::from(n)];
        tcp.read_exact(&mut msg).await?;
        Ok::<_, io::Error>(msg)
    };
    let msg = timeout(limits.attempt_timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {:?}", limits.attempt_timeout))?
        .map_err(|e| io_reason(&e))?;
    match Response::parse(&msg) {
        Some(r) if r.id == id => Ok(r),
        _ => Err("the TCP answer did not match the query".into()),
    }
}

/// A socket error in the words of the report.
fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            "port unreachable (ICMP): no DNS server listens there".into()
        }
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            format!("unreachable: {e}")
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver ::1\n\
                    nameserver fe80::1%eth0\nnameserver bogus\noptions ndots:5\n";
        assert_eq!(
            nameservers(text),
            vec![
                "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        assert!(nameservers("").is_empty());
    }

    #[test]
    fn hosts_file_lookup() {
        let text = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n\
                    10.1.2.3 API.example.com api # comment\n# 10.9.9.9 api.example.com\n";
        assert_eq!(
            hosts_lookup(text, "api.example.com"),
            vec!["10.1.2.3".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(hosts_lookup(text, "localhost").len(), 2);
        assert!(hosts_lookup(text, "missing").is_empty());
    }

    #[test]
    fn queries_are_well_formed() {
        let q = build_query("api.example.com", Rtype::AAAA, 0x1234).unwrap();
        assert_eq!(&q[..2], &[0x12, 0x34]);
        // RD set, one question, type AAAA class IN at the end.
        assert_eq!(q[2] & 0x01, 0x01);
        assert_eq!(&q[4..6], &[0, 1]);
        assert_eq!(&q[q.len() - 4..], &[0, 28, 0, 1]);
        assert!(build_query("bad..name", Rtype::A, 1).is_none());
    }
}
