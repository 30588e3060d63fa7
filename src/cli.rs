//! Command-line flags: plain data parsed by clap, turned into the library's
//! configuration structs by [`Cli::into_command`]. No behaviour lives here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use netsleuth::cmd::analyze::{AnalyzeConfig, AnalyzeFormat};
use netsleuth::cmd::capture::{CaptureConfig, WriteTarget};
use netsleuth::cmd::read::ReadConfig;
use netsleuth::cmd::watch::WatchConfig;
use netsleuth::cmd::CommandError;
use netsleuth::cmd::PacketFormat;
use netsleuth::diagnose::Severity;
use netsleuth::expect::Expectations;
use netsleuth::flow::table::FlowConfig;
use netsleuth::source::live::LiveOptions;
use netsleuth::source::writer::{OutputFormat, Rotation};

/// Tells you why an API call failed or was slow, from the packets.
#[derive(Debug, Parser)]
#[command(name = "netsleuth", version, about, long_about = None)]
#[command(after_help = "Examples:
  netsleuth demo                               capture and read real loopback traffic
  netsleuth analyze capture.pcap               why calls failed or were slow
  netsleuth read capture.pcap                  every packet, one line each
  netsleuth read capture.pcapng.gz tcp port 443
  sudo netsleuth capture -i eth0 -w api.pcap port 8080
  netsleuth interfaces")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments (exiting with clap's message on bad
    /// usage), then records where each `--expect` and `--for` stood, which
    /// decides the scope of each rule.
    pub fn parse_with_positions() -> Cli {
        let matches = Cli::command().get_matches();
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        if let Some((_, sub)) = matches.subcommand() {
            let positions = Positions::of(sub);
            match &mut cli.command {
                Command::Analyze(a) => a.positions = positions,
                Command::Watch(w) => w.positions = positions,
                #[cfg(feature = "probe")]
                Command::Probe(p) => p.positions = positions,
                _ => {}
            }
        }
        cli
    }
}

/// Where the `--expect` and `--for` values stood among the arguments.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    /// One index per `--expect` value, in order.
    pub expect: Vec<usize>,
    /// One index per `--for` value, in order.
    pub scope: Vec<usize>,
}

impl Positions {
    fn of(m: &ArgMatches) -> Positions {
        let at = |id: &str| {
            m.try_get_raw(id)
                .ok()
                .flatten()
                .and_then(|_| m.indices_of(id))
                .map(Iterator::collect)
                .unwrap_or_default()
        };
        Positions {
            expect: at("expect"),
            scope: at("scope"),
        }
    }
}

/// The rules with their scopes; without positions (a config built in code),
/// every `--for` comes before every rule.
fn expectations(
    rules: &[String],
    scopes: &[String],
    at: &Positions,
) -> Result<Expectations, CommandError> {
    let place = |vals: &[String], idx: &[usize], base: usize| -> Vec<(usize, String)> {
        vals.iter()
            .enumerate()
            .map(|(i, v)| (idx.get(i).copied().unwrap_or(base + i), v.clone()))
            .collect()
    };
    let scopes = place(scopes, &at.scope, 0);
    let rules = place(rules, &at.expect, scopes.len());
    Ok(Expectations::bind(&rules, &scopes)?)
}

/// The `--expect` part of a subcommand's help (analyze and probe share it).
macro_rules! expect_help {
    () => {
        "
Expectations (--expect RULE, repeatable; each failure is an http.expectation_failed
error finding, so --fail-on error applies; a rule the data cannot decide is an
http.expectation_unchecked warning saying why):
  status OP CODE | status in LO..HI            OP: == != < <= > >=
  header NAME exists | missing | == TEXT | != TEXT | ~ TEXT | !~ TEXT
  json PATH exists | missing | == JSON | != JSON | OP NUMBER | ~ TEXT | !~ TEXT
  body ~ TEXT | body !~ TEXT
  time < DURATION | ttfb < DURATION            also <= > >=; e.g. 500ms, 2s
  request header|json|body ...                 the same tests on the request sent
  response ...                                 (the default, made explicit)
~ means contains, ASCII case-insensitive. TEXT is a word or \"quoted text\". PATH is
. (the whole body) or .a.b[0].c ([-1]: the last element; [\"odd key\"]); the body is
parsed as JSON after gzip/deflate. time: request to last response byte; ttfb:
request sent to first response byte.
--for 'host H path P method M' (parts optional; * matches anything in H and P)
scopes the --expect rules after it, up to the next --for; rules before the first
--for apply to every transaction. Path is matched without the query string.
A request that got no response is not checked (http.no_response reports it).
"
    };
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose a capture: findings with evidence, then every connection
    #[command(
        after_help = concat!("FILE is pcap or pcapng, gzip-compressed or not, or - for stdin; several
files are read in order (frame numbers continue from one to the next). Words
after the files form a BPF filter. Findings come first, worst first, each with
its evidence frames and a next step; then the connections, problems on top.
", expect_help!(), "
Exit codes: 0 done, 1 when --fail-on's level was reached, 2 bad usage or input.

Examples:
  netsleuth analyze capture.pcap
  netsleuth analyze capture.pcapng.gz host 10.0.0.5 and tcp port 443
  netsleuth analyze --json capture.pcap > report.json
  netsleuth analyze --jsonl --tcp-events capture.pcap | jq 'select(.type==\"finding\")'
  netsleuth analyze --fail-on error nightly.pcap && echo healthy
  SSLKEYLOGFILE=keys.log curl https://api.example.com/ & # while capturing, then:
  netsleuth analyze --keylog keys.log capture.pcap      HTTPS decrypted into the HTTP analysis
  netsleuth analyze cap.pcap --goroutines server-goroutines.txt@2026-12-03T10:15:00Z
                                         Go dumps joined: where handlers blocked, pool waits
  netsleuth analyze big.pcap --evidence ticket.pcapng --evidence-for tls
                                         only the frames proving the TLS findings, commented
  netsleuth analyze cap.pcap --zeek-logs zeek/ && zeek-cut id.resp_h conn_state < zeek/conn.log
  netsleuth analyze cap.pcap --html report.html
                                         one page to hand over: stories, waterfalls, ladders, tables
  netsleuth analyze cap.pcap --expect 'status < 500' \\
      --for 'host api.example.com path /v1/orders/*' --expect 'json .data.id exists' \\
      --expect 'header content-type ~ json' --expect 'ttfb < 300ms' --fail-on error")
    )]
    Analyze(AnalyzeArgs),
    /// Print the packets of a capture file, one line each (like tcpdump -nn -r)
    #[command(
        after_help = "FILE may be pcap or pcapng, gzip-compressed or not, or - for stdin;
the format is detected from the content. FILTER is a libpcap (BPF) expression,
as for tcpdump. Frame numbers are those of the file, before filtering.

Examples:
  netsleuth read capture.pcap
  netsleuth read capture.pcapng.gz host 10.0.0.5 and tcp port 443
  netsleuth read --json capture.pcap udp port 53 | jq .
  zcat capture.pcap.gz | netsleuth read -
  netsleuth read --summary big.pcap            decode every packet, print totals"
    )]
    Read(ReadArgs),
    /// Capture live packets; print them, or write them to pcap/pcapng files
    #[command(after_help = "Needs capture privilege: run as root, or once:
  sudo setcap cap_net_raw,cap_net_admin=eip $(command -v netsleuth)
Ctrl-C (or SIGTERM) stops cleanly: packets still queued in the kernel are read,
files are flushed, and the packet and drop counts are printed.

Examples:
  netsleuth capture -i lo tcp port 8080
  netsleuth capture -i eth0 -w api.pcap -c 1000 host 10.0.0.5
  netsleuth capture -i any -w ring.pcap -C 100 -W 5       five files of 100 MB
  netsleuth capture -i eth0 -w hourly.pcapng --pcapng -G 3600 --duration 1d
  netsleuth capture -i lo -w api.pcap --pprof http://127.0.0.1:6060 port 8080
                     Go goroutine dumps kept in api.pcap.goroutines/, joined by analyze")]
    Capture(CaptureArgs),
    /// Diagnose live traffic: each failed or slow call printed as it happens, a summary at the end
    #[command(after_help = concat!("Needs capture privilege: run as root, or once:
  sudo setcap cap_net_raw,cap_net_admin=eip $(command -v netsleuth)
Each call with findings is printed when its rules ran (a connection when it
ends, a DNS lookup when it is answered or times out): its story's headline and
its findings, at most three per kind and server in ten seconds, the rest
counted. On a terminal a status line shows packets, open flows and drops.
Ctrl-C (or SIGTERM) stops cleanly: queued packets are read, open flows are
ended and diagnosed, and the grouped summary and the kernel's drop counts are
printed. Time-outs run on packet time, as in analyze; on a quiet wire the
clock moves on its own. SIGHUP reopens the --jsonl file (for logrotate).

", expect_help!(), "
Examples:
  sudo netsleuth watch -i eth0 tcp port 443 or udp port 53
  sudo netsleuth watch -i lo port 8080
  sudo netsleuth watch -i any --keylog keys.log host 10.0.0.5
  sudo netsleuth watch -i eth0 --jsonl - port 8080 | jq 'select(.type==\"finding\")'
  sudo netsleuth watch -i eth0 --jsonl records.jsonl -C 100 -W 10 port 8080
  sudo netsleuth watch -i eth0 --metrics 127.0.0.1:9464 port 443     Prometheus on /metrics
  sudo netsleuth watch -i eth0 --evidence-dir /var/lib/netsleuth port 443
  sudo netsleuth watch -i lo port 8080 --expect 'status < 500' --expect 'ttfb < 300ms'"))]
    Watch(WatchArgs),
    /// Make real traffic on loopback (a request, a refused connection, a UDP probe of a closed port), capture it, and analyze it
    #[command(
        after_help = "Needs capture privilege for live traffic (root); without it, the demo
reads a capture it builds in memory instead.

Example:
  sudo netsleuth demo"
    )]
    Demo(DemoArgs),
    /// Print one conversation's bytes, both directions in order, escaped for the terminal
    #[command(
        after_help = "CONN_ID is the id `analyze` gives the connection (run analyze with the
same filter to get the same ids). TCP shows the reassembled streams, with the
bytes the capture missed marked; UDP shows each datagram. Control characters
and invalid UTF-8 are shown as escapes (\\r, \\x1b ...); --raw writes the bytes
as they were.

Examples:
  netsleuth follow capture.pcap 5
  netsleuth follow capture.pcap 5 --raw conversation.bin
  netsleuth follow capture.pcap 3 --keylog keys.log       HTTPS, decrypted
  netsleuth follow capture.pcapng 12 tcp port 8080"
    )]
    Follow(FollowArgs),
    /// Check a URL actively: DNS, TCP connect, TLS and HTTP with per-phase timings and a verdict
    #[cfg(feature = "probe")]
    #[command(
        after_help = concat!("Each phase is timed and each failure named with the finding kinds of
`analyze` (dns.nxdomain, tcp.connect_refused, tls.cert_expired, http.server_error ...).
DNS goes to the system's resolver (/etc/hosts, then /etc/resolv.conf's
nameservers) unless --dns-server names one. SSLKEYLOGFILE, when set, receives the
TLS keys. Ctrl-C during -n stops and prints what ran.
", expect_help!(), "
Exit codes: 0 healthy, 1 a probe failed (or --fail-on's level was reached),
2 bad usage.

Examples:
  netsleuth probe https://api.example.com/v1/health
  netsleuth probe http://127.0.0.1:8080/ready --dns-server 127.0.0.53
  netsleuth probe https://10.0.0.5/ --cacert internal-ca.pem
  netsleuth probe https://api.example.com/ -n 20 --interval 500ms
  netsleuth probe https://api.example.com/orders -X POST -H 'Content-Type: application/json' -d '{}'
  netsleuth probe https://staging.example.com/ --insecure --json | jq .verdict
  netsleuth probe https://api.example.com/v1/me --expect 'status == 200' \\
      --expect 'json .user.id exists' --expect 'time < 500ms'")
    )]
    Probe(ProbeArgs),
    /// List the interfaces you can capture on, with their addresses (like tcpdump -D)
    #[command(after_help = "Example:
  netsleuth interfaces")]
    Interfaces,
    /// Classify Go goroutine dumps: who waits in dial, DNS, TLS, for a pooled connection or a response, and where server handlers block
    #[command(
        after_help = "FILE is what a Go process serves at /debug/pprof/goroutine: ?debug=2
(full stacks with states and wait times), ?debug=1 (counts and pprof labels) or
the default gzip'd protobuf profile. FILE@TIME gives the time the dump was taken
(RFC 3339); without it the profile's own time or the file's modification time
is used. With several dumps of one process, groups that grew from dump to dump
are listed (goroutines leaking, e.g. response bodies never closed).
Other profiles (CPU /debug/pprof/profile, block, mutex, heap) are summarized by
the functions holding most of their value.

Examples:
  curl -s 'localhost:6060/debug/pprof/goroutine?debug=2' > g.txt
  netsleuth goroutines g.txt
  netsleuth goroutines g1.txt@2026-12-03T10:15:00Z g2.txt@2026-12-03T10:16:00Z
  netsleuth goroutines --json goroutine.pb.gz | jq '.dumps[0].groups'
  curl -s 'localhost:6060/debug/pprof/block' > block.pb.gz
  netsleuth goroutines block.pb.gz"
    )]
    Goroutines(GoroutinesArgs),
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files, then optionally a BPF filter expression
    #[arg(required = true, value_name = "FILE... [FILTER]")]
    pub inputs: Vec<String>,
    /// One JSON document: connections, findings, summary
    #[arg(long, conflicts_with = "jsonl")]
    pub json: bool,
    /// One JSON record per line, each with a "type"
    #[arg(long)]
    pub jsonl: bool,
    /// With --jsonl: also one record per TCP analysis flag (retransmission, duplicate_ack, ...)
    #[arg(long, requires = "jsonl")]
    pub tcp_events: bool,
    /// Flow-level analysis only: skip the DNS, TLS and HTTP parsers
    #[arg(long)]
    pub no_app: bool,
    /// Decrypt TLS with this NSS key log (SSLKEYLOGFILE); repeatable. Secrets inside pcapng files are used too
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,
    /// Join this Go goroutine dump (/debug/pprof/goroutine, debug=2, debug=1 or protobuf) to the capture; FILE@RFC3339 gives its time, else its own or the file's mtime (repeatable)
    #[arg(long, value_name = "FILE[@TIME]")]
    pub goroutines: Vec<String>,
    /// A Go CPU profile (/debug/pprof/profile) over the capture: says whether slow server think time computed or waited; @TIME overrides its start (repeatable)
    #[arg(long, value_name = "FILE[@TIME]")]
    pub profile: Vec<String>,
    /// Write the frames that prove the findings (each cited conversation's start, the cited frames and those around them) to this pcapng, each commented with its finding; with --keylog, the cited TLS connections' secrets are embedded
    #[arg(long, value_name = "OUT.pcapng")]
    pub evidence: Option<PathBuf>,
    /// With --evidence: only the findings of this kind (tcp.reset_by_server), family (tls) or connection id (repeatable)
    #[arg(long, value_name = "KIND|CONN", requires = "evidence")]
    pub evidence_for: Vec<String>,
    /// Also write conn.log, dns.log, ssl.log, http.log and x509.log in Zeek's TSV format into DIR (created if missing)
    #[arg(long, value_name = "DIR")]
    pub zeek_logs: Option<PathBuf>,
    /// Also write a self-contained HTML report (opens offline): the summary, each failed call with its waterfall and packet ladder, charts over time, sortable connection, HTTP, DNS and TLS tables
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Check RULE on every HTTP transaction in scope, e.g. 'json .data.id exists' (repeatable; see below)
    #[arg(long = "expect", value_name = "RULE", conflicts_with = "no_app")]
    pub expect: Vec<String>,
    /// Scope the --expect rules that follow: 'host H path P method M' (see below)
    #[arg(long = "for", id = "scope", value_name = "SCOPE", requires = "expect")]
    pub scope: Vec<String>,
    /// Positions of --expect and --for on the command line (filled after parsing).
    #[arg(skip)]
    pub positions: Positions,
    /// Exit with code 1 when a finding of this severity or worse was found
    #[arg(long, value_name = "LEVEL", value_parser = ["warning", "error"])]
    pub fail_on: Option<String>,
    /// Memory for the analysis (e.g. 256M, 1G): sets how many connections are tracked at once (about 3 KB each; a quarter of it for unanswered SYNs, so a SYN flood stays bounded) and how many findings are held for stories (a sixteenth, about 1 KB each)
    #[arg(long, value_name = "SIZE", value_parser = parse_memory, default_value = "256M")]
    pub memory: u64,
    /// Most connections tracked at once (instead of the cap --memory sets); the least recently active is evicted beyond it
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_flows: Option<u64>,
    /// Threads: 1 runs all on one core; 2 (the default where there are two cores) reads packets and follows flows on one while the other parses and reports (the output is the same)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub threads: Option<u8>,
    /// Idle time-out of established TCP connections
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    pub tcp_idle_timeout: Duration,
    /// Text report: print every call with findings, every transaction and connection kept, instead of the grouped summary and the worst few
    #[arg(long)]
    pub all: bool,
    /// A request after this much quiet on its connection that meets an RST or silence is a dead pooled connection (idle_then_reset / idle_then_blackhole)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub idle_gap: Duration,
    /// Idle time-out of TCP connections whose handshake did not complete
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "120s")]
    pub half_open_timeout: Duration,
    /// How long a closed TCP connection is kept for late packets
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub closed_timeout: Duration,
    /// Idle time-out of UDP flows
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub udp_timeout: Duration,
}

#[cfg(feature = "probe")]
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The URL: http:// or https://, with an optional port and path
    pub url: String,
    /// How many probes to run
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: u32,
    /// Pause between probes with -n
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub interval: Duration,
    /// Ask this DNS server directly (ADDR or ADDR:PORT) instead of the system resolver
    #[arg(long, value_name = "ADDR")]
    pub dns_server: Option<String>,
    /// IPv4 only
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6 only
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Connect to the addresses staggered by 250 ms, IPv6 and IPv4 alternating (RFC 8305)
    #[arg(long)]
    pub happy_eyeballs: bool,
    /// Trust the CA certificates in this PEM file instead of the system's
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Go on past certificate errors (they are still reported)
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Offer only this TLS version
    #[arg(long, value_name = "VERSION", value_parser = ["1.2", "1.3"])]
    pub tls_version: Option<String>,
    /// ALPN protocols to offer, comma-separated, most preferred first
    #[arg(long, value_name = "LIST", default_value = "h2,http/1.1")]
    pub alpn: String,
    /// Request method
    #[arg(short = 'X', long, value_name = "METHOD", default_value = "GET")]
    pub method: String,
    /// Extra request header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Request body
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    pub data: Option<String>,
    /// Time-out of each DNS attempt (two attempts per server)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    pub dns_timeout: Duration,
    /// Time-out of the TCP phase over all addresses
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub connect_timeout: Duration,
    /// Time-out of the TLS handshake
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub tls_timeout: Duration,
    /// Time-out for the first byte of the response
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "15s")]
    pub response_timeout: Duration,
    /// Deadline of one whole probe
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub max_time: Duration,
    /// Print JSON instead of the text report
    #[arg(long)]
    pub json: bool,
    /// Record the probe's own packets to this pcap file (needs capture privilege), analyze them, and attach what they show to the verdict
    #[arg(long, value_name = "FILE")]
    pub capture: Option<PathBuf>,
    /// Exit with code 1 when a finding of this severity or worse was found (default: when a probe failed)
    #[arg(long, value_name = "LEVEL", value_parser = ["warning", "error"])]
    pub fail_on: Option<String>,
    /// Check RULE on the response, e.g. 'status == 200' (repeatable; see below)
    #[arg(long = "expect", value_name = "RULE")]
    pub expect: Vec<String>,
    /// Scope the --expect rules that follow: 'host H path P method M' (see below)
    #[arg(long = "for", id = "scope", value_name = "SCOPE", requires = "expect")]
    pub scope: Vec<String>,
    /// Positions of --expect and --for on the command line (filled after parsing).
    #[arg(skip)]
    pub positions: Positions,
}

#[derive(Debug, Args)]
pub struct FollowArgs {
    /// Capture file (pcap, pcapng, optionally .gz), or - for stdin
    pub file: String,
    /// The connection's id, as `analyze` lists it
    #[arg(value_name = "CONN_ID")]
    pub conn: u64,
    /// BPF filter expression, as given to `analyze`
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Also write the conversation's bytes, unescaped, to this file
    #[arg(long, value_name = "OUT")]
    pub raw: Option<PathBuf>,
    /// Show a TLS conversation decrypted with this NSS key log (repeatable)
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,
}

impl FollowArgs {
    /// The command's config.
    pub fn into_config(self) -> netsleuth::cmd::follow::FollowConfig {
        netsleuth::cmd::follow::FollowConfig {
            path: self.file,
            filter: self.filter.join(" "),
            conn: self.conn,
            raw: self.raw,
            keylogs: self.keylog,
        }
    }
}

#[derive(Debug, Args)]
pub struct GoroutinesArgs {
    /// Goroutine dumps (debug=2, debug=1 or protobuf), each FILE or FILE@RFC3339
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,
    /// One JSON document instead of text
    #[arg(long)]
    pub json: bool,
}

impl GoroutinesArgs {
    /// The command's config; a bad `@TIME` is a usage error naming the fix.
    pub fn into_config(
        self,
    ) -> Result<netsleuth::cmd::goroutines::GoroutinesConfig, netsleuth::cmd::CommandError> {
        let dumps = self
            .files
            .iter()
            .map(|f| netsleuth::goruntime::load::DumpSpec::parse(f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(netsleuth::cmd::CommandError::Usage)?;
        Ok(netsleuth::cmd::goroutines::GoroutinesConfig {
            dumps,
            json: self.json,
        })
    }
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Capture file (pcap, pcapng, optionally .gz), or - for stdin
    pub file: String,
    /// BPF filter expression (libpcap syntax), e.g. tcp port 443
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
    /// One JSON object per packet instead of text lines
    #[arg(long)]
    pub json: bool,
    /// Decode every packet but print only totals
    #[arg(long, conflicts_with = "json")]
    pub summary: bool,
    /// Stop after COUNT matching packets
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo capture at FILE (default: a file in the temp directory)
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Print the captured packets before the analysis
    #[arg(long)]
    pub packets: bool,
}

/// The live capture flags `capture` and `watch` share.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture on (see `netsleuth interfaces`), or any
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        default_value = "any"
    )]
    pub interface: String,
    /// Bytes to keep of each packet (0 = the default, 262144)
    #[arg(
        short = 's',
        long = "snaplen",
        value_name = "SNAPLEN",
        default_value_t = 262_144
    )]
    pub snaplen: u32,
    /// Do not put the interface into promiscuous mode
    #[arg(short = 'p', long = "no-promisc")]
    pub no_promisc: bool,
    /// Kernel capture buffer size in KiB (default 32768, i.e. 32 MiB)
    #[arg(
        short = 'B',
        long = "buffer-size",
        value_name = "KIB",
        default_value_t = 32_768
    )]
    pub buffer_size: u32,
}

impl LiveArgs {
    /// The capture options, with the command's own choices.
    fn options(
        self,
        immediate: bool,
        filter: &[String],
        duration: Option<Duration>,
    ) -> LiveOptions {
        let filter = filter.join(" ");
        LiveOptions {
            interface: self.interface,
            snaplen: if self.snaplen == 0 {
                262_144
            } else {
                self.snaplen
            },
            promisc: !self.no_promisc,
            buffer_size: Some(self.buffer_size.saturating_mul(1024)),
            immediate,
            filter: (!filter.trim().is_empty()).then_some(filter),
            duration,
        }
    }
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// NSS key log file (SSLKEYLOGFILE) to decrypt TLS with; repeatable
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,
    /// Memory for the analysis (e.g. 256M, 1G), as for analyze
    #[arg(long, value_name = "SIZE", value_parser = parse_memory, default_value = "256M")]
    pub memory: u64,
    /// Exit with code 1 when a finding of this severity or worse was seen
    #[arg(long, value_name = "LEVEL", value_parser = ["warning", "error"])]
    pub fail_on: Option<String>,
    /// Check RULE on every HTTP transaction in scope, as it completes (repeatable; see below)
    #[arg(long = "expect", value_name = "RULE")]
    pub expect: Vec<String>,
    /// Scope the --expect rules that follow: 'host H path P method M' (see below)
    #[arg(long = "for", id = "scope", value_name = "SCOPE", requires = "expect")]
    pub scope: Vec<String>,
    /// Positions of --expect and --for on the command line (filled after parsing).
    #[arg(skip)]
    pub positions: Positions,
    /// Also stream the records as JSON lines to FILE (as analyze --jsonl writes them, each finding when its call ends); - for stdout instead of the text
    #[arg(long, value_name = "FILE")]
    pub jsonl: Option<PathBuf>,
    /// Serve Prometheus metrics on ADDR at /metrics, and /healthz (e.g. 127.0.0.1:9464)
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Servers named in metric labels; later ones are counted as server="other"
    #[arg(long, value_name = "N", default_value_t = netsleuth::metrics::DEFAULT_SERVER_LIMIT, requires = "metrics")]
    pub metrics_servers: usize,
    /// Stop after this long (as Ctrl-C would), e.g. 30s, 5m, 2h
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Keep the packets of each error finding in DIR as a pcapng (one per kind and server a minute)
    #[arg(long, value_name = "DIR")]
    pub evidence_dir: Option<PathBuf>,
    /// Packets kept from before each error finding
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s", requires = "evidence_dir")]
    pub evidence_window: Duration,
    /// How long the finding's conversation is followed after it
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s", requires = "evidence_dir")]
    pub evidence_follow: Duration,
    /// Most disk for the evidence files; the oldest go first (e.g. 1G)
    #[arg(long, value_name = "SIZE", value_parser = parse_memory, default_value = "1G", requires = "evidence_dir")]
    pub evidence_max: u64,
    /// With --jsonl FILE: start a new file once one reaches MB million bytes (fractions allowed)
    #[arg(short = 'C', value_name = "MB", requires = "jsonl", value_parser = parse_positive_mb)]
    pub file_size: Option<u64>,
    /// With --jsonl FILE: start a new file every SECONDS
    #[arg(short = 'G', value_name = "SECONDS", requires = "jsonl", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_seconds: Option<u64>,
    /// With -C or -G: keep at most N files, overwriting the oldest
    #[arg(short = 'W', value_name = "N", requires = "jsonl", value_parser = clap::value_parser!(u32).range(1..))]
    pub ring: Option<u32>,
    /// BPF filter expression (libpcap syntax), applied in the kernel
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
}

impl WatchArgs {
    /// The config, and the severity that makes the exit code 1.
    pub fn into_config(self) -> Result<(WatchConfig, Option<Severity>), CommandError> {
        let expect = expectations(&self.expect, &self.scope, &self.positions)?;
        let memory = usize::try_from(self.memory).unwrap_or(usize::MAX);
        let config = WatchConfig {
            // Each packet as it arrives: the point is to tell failures at once.
            live: self.live.options(true, &self.filter, self.duration),
            keylogs: self.keylog,
            expect,
            tcp_rules: netsleuth::diagnose::tcp::TcpRules::default(),
            flow: FlowConfig::default().with_memory(memory),
            memory,
            jsonl: self.jsonl,
            jsonl_rotation: netsleuth::source::writer::Rotation {
                max_bytes: self.file_size,
                max_seconds: self.rotate_seconds,
                ring: self.ring,
            },
            metrics: self.metrics,
            metrics_servers: self.metrics_servers,
            status_line: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            evidence: self
                .evidence_dir
                .map(|dir| netsleuth::cmd::watch::EvidenceConfig {
                    dir,
                    window: self.evidence_window,
                    follow: self.evidence_follow,
                    max_memory: 64 << 20,
                    max_disk: self.evidence_max,
                }),
        };
        Ok((config, fail_on_level(self.fail_on.as_deref())))
    }
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Write packets to FILE (pcap; pcapng with --pcapng) instead of printing them
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Write pcapng instead of pcap
    #[arg(long, requires = "write")]
    pub pcapng: bool,
    /// Start a new file when the current one would exceed MB million bytes
    #[arg(short = 'C', value_name = "MB", requires = "write", value_parser = clap::value_parser!(u64).range(1..))]
    pub file_size: Option<u64>,
    /// Start a new file every SECONDS of capture time
    #[arg(short = 'G', value_name = "SECONDS", requires = "write", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_seconds: Option<u64>,
    /// Keep at most N files, overwriting the oldest (with -C or -G)
    #[arg(short = 'W', value_name = "N", requires = "write", value_parser = clap::value_parser!(u32).range(1..))]
    pub ring: Option<u32>,
    /// Stop after COUNT packets
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,
    /// Hand over each packet as it arrives (the default when printing)
    #[arg(long, conflicts_with = "no_immediate")]
    pub immediate: bool,
    /// Let the kernel batch packets in blocks: fewer wake-ups, no drops at high rates
    /// (the default with -w; nothing is lost on stop either way)
    #[arg(long)]
    pub no_immediate: bool,
    /// Stop after this long, e.g. 30s, 5m, 2h, 1d, 500ms (a bare number is seconds)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Print one JSON object per packet instead of text lines
    #[arg(long, conflicts_with = "write")]
    pub json: bool,
    /// Fetch goroutine dumps (debug=2 and debug=1) from this Go process's pprof during the capture, kept in FILE.goroutines/ for analyze
    #[arg(long, value_name = "URL", requires = "write")]
    pub pprof: Option<String>,
    /// How often --pprof fetches (also once at the start and once at the stop)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s", requires = "pprof")]
    pub pprof_every: Duration,
    /// BPF filter expression (libpcap syntax), applied in the kernel
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
}

impl AnalyzeArgs {
    /// The config, and the severity that makes the exit code 1; a bad rule or
    /// scope is an error that shows where.
    pub fn into_config(self) -> Result<(AnalyzeConfig, Option<Severity>), CommandError> {
        let expect = expectations(&self.expect, &self.scope, &self.positions)?;
        // Leading inputs that name existing files (or stdin) are files; the
        // rest is the filter. The first input is always a file, so a typo in
        // its name is reported as a missing file, not as a filter error.
        let mut paths = Vec::new();
        let mut rest = self.inputs.into_iter().peekable();
        while let Some(candidate) = rest.peek() {
            let is_file =
                paths.is_empty() || candidate == "-" || std::path::Path::new(candidate).exists();
            if !is_file {
                break;
            }
            paths.extend(rest.next());
        }
        let filter: Vec<String> = rest.collect();
        let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let memory = usize::try_from(self.memory).unwrap_or(usize::MAX);
        let config = AnalyzeConfig {
            paths,
            filter: filter.join(" "),
            format: if self.json {
                AnalyzeFormat::Json
            } else if self.jsonl {
                AnalyzeFormat::Jsonl
            } else {
                AnalyzeFormat::Text
            },
            tcp_events: self.tcp_events,
            no_app: self.no_app,
            flow: FlowConfig {
                half_open_timeout_ns: ns(self.half_open_timeout),
                established_timeout_ns: ns(self.tcp_idle_timeout),
                closed_timeout_ns: ns(self.closed_timeout),
                udp_timeout_ns: ns(self.udp_timeout),
                ..FlowConfig::default()
            }
            .with_memory(memory)
            .with_max_flows(self.max_flows),
            keylogs: self.keylog,
            expect,
            tcp_rules: netsleuth::diagnose::tcp::TcpRules {
                idle_gap_ns: ns(self.idle_gap),
            },
            all: self.all,
            memory,
            threads: self.threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
                usize::from,
            ),
            goroutines: self
                .goroutines
                .iter()
                .map(|f| netsleuth::goruntime::load::DumpSpec::parse(f))
                .collect::<Result<_, _>>()
                .map_err(CommandError::Usage)?,
            profiles: self
                .profile
                .iter()
                .map(|f| netsleuth::goruntime::load::DumpSpec::parse(f))
                .collect::<Result<_, _>>()
                .map_err(CommandError::Usage)?,
            evidence: self.evidence,
            evidence_for: self
                .evidence_for
                .iter()
                .map(|s| netsleuth::evidence::Scope::parse(s))
                .collect(),
            zeek_logs: self.zeek_logs,
            html: self.html,
        };
        Ok((config, fail_on_level(self.fail_on.as_deref())))
    }
}

#[cfg(feature = "probe")]
impl ProbeArgs {
    /// The command's config and the severity that makes the exit code 1 (`None`:
    /// a failed probe does).
    pub fn into_config(
        self,
    ) -> Result<(netsleuth::cmd::probe::ProbeCommand, Option<Severity>), CommandError> {
        let expect = expectations(&self.expect, &self.scope, &self.positions)?;
        self.into_config_with(expect).map_err(CommandError::Usage)
    }

    fn into_config_with(
        self,
        expect: Expectations,
    ) -> Result<(netsleuth::cmd::probe::ProbeCommand, Option<Severity>), String> {
        use netsleuth::probe::dns::{DnsLimits, Family};
        use netsleuth::probe::http::RequestSpec;
        use netsleuth::probe::tls::{TlsOptions, TlsVersion};
        use netsleuth::probe::{Limits, ProbeConfig};
        let resolver = self
            .dns_server
            .as_deref()
            .map(parse_dns_server)
            .transpose()?;
        let headers = self
            .headers
            .iter()
            .map(|h| parse_header(h))
            .collect::<Result<Vec<_>, _>>()?;
        let method = self.method.to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Err(format!(
                "-X {:?} is not an HTTP method (GET, POST, PUT, DELETE ...)",
                self.method
            ));
        }
        let alpn: Vec<String> = self
            .alpn
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        // Time limits beyond a day are not limits; capping them also keeps
        // deadline arithmetic far from overflow.
        let day = Duration::from_secs(86_400);
        let probe = ProbeConfig {
            url: self.url,
            resolver,
            family: if self.ipv4 {
                Family::V4
            } else if self.ipv6 {
                Family::V6
            } else {
                Family::Any
            },
            happy_eyeballs: self.happy_eyeballs,
            tls: TlsOptions {
                cacert: self.cacert,
                insecure: self.insecure,
                version: match self.tls_version.as_deref() {
                    Some("1.2") => Some(TlsVersion::Tls12),
                    Some("1.3") => Some(TlsVersion::Tls13),
                    _ => None,
                },
                alpn,
            },
            request: RequestSpec {
                method,
                headers,
                body: self.data.map(String::into_bytes),
            },
            limits: Limits {
                dns: DnsLimits {
                    attempt_timeout: self.dns_timeout.min(day),
                    attempts: 2,
                },
                connect: self.connect_timeout.min(day),
                tls: self.tls_timeout.min(day),
                ttfb: self.response_timeout.min(day),
                total: self.max_time.min(day),
            },
            expect,
        };
        let fail_on = fail_on_level(self.fail_on.as_deref());
        Ok((
            netsleuth::cmd::probe::ProbeCommand {
                probe,
                count: self.count,
                interval: self.interval.min(day),
                json: self.json,
                capture: self.capture,
            },
            fail_on,
        ))
    }
}

/// `ADDR` or `ADDR:PORT` (IPv6 as `[ADDR]:PORT`); port 53 by default.
#[cfg(feature = "probe")]
fn parse_dns_server(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    s.parse().map_err(|_| {
        format!(
            "--dns-server {s:?} is not an address; use e.g. 10.0.0.2, 10.0.0.2:5353 or [::1]:53"
        )
    })
}

/// `Name: value`, with a token name and no line breaks.
#[cfg(feature = "probe")]
fn parse_header(h: &str) -> Result<(String, String), String> {
    let bad = || format!("-H {h:?} is not a header; use 'Name: value'");
    let (name, value) = h.split_once(':').ok_or_else(bad)?;
    let name = name.trim();
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(tchar) || value.contains(['\r', '\n']) {
        return Err(bad());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

impl ReadArgs {
    pub fn into_config(self) -> ReadConfig {
        ReadConfig {
            path: self.file,
            filter: self.filter.join(" "),
            format: if self.json {
                PacketFormat::Json
            } else {
                PacketFormat::Text
            },
            summary_only: self.summary,
            count: self.count,
        }
    }
}

impl CaptureArgs {
    pub fn into_config(self) -> Result<CaptureConfig, CommandError> {
        let pprof = match &self.pprof {
            Some(url) => Some((
                netsleuth::goruntime::fetch::PprofUrl::parse(url)
                    .map_err(|e| CommandError::Usage(e.to_string()))?,
                self.pprof_every.max(Duration::from_millis(100)),
            )),
            None => None,
        };
        // Printing is watched as it happens; files want throughput. In
        // immediate mode libpcap gives every packet a snaplen-sized slot of
        // the buffer, so a burst of large frames overflows it quickly.
        let immediate = if self.immediate {
            true
        } else if self.no_immediate {
            false
        } else {
            self.write.is_none()
        };
        Ok(CaptureConfig {
            live: self.live.options(immediate, &self.filter, self.duration),
            write: self.write.map(|path| WriteTarget {
                path,
                format: if self.pcapng {
                    OutputFormat::PcapNg
                } else {
                    OutputFormat::Pcap
                },
                rotation: Rotation {
                    max_bytes: self.file_size.map(|mb| mb.saturating_mul(1_000_000)),
                    max_seconds: self.rotate_seconds,
                    ring: self.ring,
                },
            }),
            count: self.count,
            format: if self.json {
                PacketFormat::Json
            } else {
                PacketFormat::Text
            },
            pprof,
        })
    }
}

/// `-C` of `watch`: megabytes (of 1,000,000 bytes), fractions allowed, as bytes.
fn parse_positive_mb(text: &str) -> Result<u64, String> {
    match text.trim().parse::<f64>() {
        Ok(mb) if mb.is_finite() && mb > 0.0 && mb < 1e12 => Ok((mb * 1e6).ceil() as u64),
        _ => Err(format!(
            "{text:?} is not a size in MB greater than 0 (e.g. 100, 0.5)"
        )),
    }
}

/// `256M`, `1G`, `512MB`, `64k`: bytes (powers of 1024); a bare number is megabytes.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let unreadable =
        || format!("cannot read {s:?} as a size: use a number with K, M or G, e.g. 256M");
    let upper = s.trim().to_ascii_uppercase();
    let digits = upper.trim_end_matches(['B', 'I']);
    let (number, unit) = match digits.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => digits.split_at(i),
        None => (digits, "M"),
    };
    let scale: u64 = match unit.trim() {
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(unreadable()),
    };
    let n: u64 = number.parse().map_err(|_| unreadable())?;
    let bytes = n.saturating_mul(scale);
    if bytes < 1 << 20 {
        return Err(format!("--memory {s} is too small: give at least 1M"));
    }
    Ok(bytes)
}

/// Parses `500ms`, `30s`, `5m`, `2h`, `1d`, or a bare number of seconds (the
/// library's one implementation, shared with `--expect` timing rules).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    netsleuth::duration::parse_duration(s)
}

/// `--fail-on`'s level (clap allows only "warning" and "error").
fn fail_on_level(level: Option<&str>) -> Option<Severity> {
    match level {
        Some("warning") => Some(Severity::Warning),
        Some("error") => Some(Severity::Error),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "probe")]
    #[test]
    fn probe_headers_and_servers() {
        assert_eq!(
            parse_header("X-Id:  7 ").unwrap(),
            ("X-Id".to_string(), "7".to_string())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("Bad Name: x").is_err());
        assert!(parse_header("X: a\r\nInjected: 1").is_err());
        assert_eq!(parse_dns_server("10.0.0.2").unwrap().port(), 53);
        assert_eq!(parse_dns_server("[::1]:5353").unwrap().port(), 5353);
        assert!(parse_dns_server("resolver").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
