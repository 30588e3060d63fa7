//! Command-line flags: plain data parsed by clap, turned into the library's
//! configuration structs by [`Cli::into_command`]. No behaviour lives here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use netsleuth::cmd::analyze::{AnalyzeConfig, AnalyzeFormat};
use netsleuth::cmd::capture::{CaptureConfig, WriteTarget};
use netsleuth::cmd::read::ReadConfig;
use netsleuth::cmd::PacketFormat;
use netsleuth::diagnose::Severity;
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose a capture: findings with evidence, then every connection
    #[command(
        after_help = "FILE is pcap or pcapng, gzip-compressed or not, or - for stdin; several
files are read in order (frame numbers continue from one to the next). Words
after the files form a BPF filter. Findings come first, worst first, each with
its evidence frames and a next step; then the connections, problems on top.

Exit codes: 0 done, 1 when --fail-on's level was reached, 2 bad usage or input.

Examples:
  netsleuth analyze capture.pcap
  netsleuth analyze capture.pcapng.gz host 10.0.0.5 and tcp port 443
  netsleuth analyze --json capture.pcap > report.json
  netsleuth analyze --jsonl --tcp-events capture.pcap | jq 'select(.type==\"finding\")'
  netsleuth analyze --fail-on error nightly.pcap && echo healthy"
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
  netsleuth capture -i eth0 -w hourly.pcapng --pcapng -G 3600 --duration 1d")]
    Capture(CaptureArgs),
    /// Make real traffic on loopback (a request, a refused connection, a UDP probe of a closed port), capture it, and analyze it
    #[command(
        after_help = "Needs capture privilege for live traffic (root); without it, the demo
reads a capture it builds in memory instead.

Example:
  sudo netsleuth demo"
    )]
    Demo(DemoArgs),
    /// List the interfaces you can capture on, with their addresses (like tcpdump -D)
    #[command(after_help = "Example:
  netsleuth interfaces")]
    Interfaces,
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
    /// Exit with code 1 when a finding of this severity or worse was found
    #[arg(long, value_name = "LEVEL", value_parser = ["warning", "error"])]
    pub fail_on: Option<String>,
    /// Most connections tracked at once; the least recently active is evicted beyond it
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_flows: u64,
    /// Idle time-out of established TCP connections
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    pub tcp_idle_timeout: Duration,
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

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Interface to capture on (see `netsleuth interfaces`), or any
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        default_value = "any"
    )]
    pub interface: String,
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
    /// BPF filter expression (libpcap syntax), applied in the kernel
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
}

impl AnalyzeArgs {
    /// The config, and the severity that makes the exit code 1.
    pub fn into_config(self) -> (AnalyzeConfig, Option<Severity>) {
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
                max_flows: usize::try_from(self.max_flows).unwrap_or(usize::MAX),
            },
        };
        let fail_on = match self.fail_on.as_deref() {
            Some("warning") => Some(Severity::Warning),
            Some("error") => Some(Severity::Error),
            _ => None,
        };
        (config, fail_on)
    }
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
    pub fn into_config(self) -> CaptureConfig {
        let snaplen = if self.snaplen == 0 {
            262_144
        } else {
            self.snaplen
        };
        let filter = self.filter.join(" ");
        CaptureConfig {
            live: LiveOptions {
                interface: self.interface,
                snaplen,
                promisc: !self.no_promisc,
                buffer_size: Some(self.buffer_size.saturating_mul(1024)),
                // Printing is watched as it happens; files want throughput. In
                // immediate mode libpcap gives every packet a snaplen-sized slot
                // of the buffer, so a burst of large frames overflows it quickly.
                immediate: if self.immediate {
                    true
                } else if self.no_immediate {
                    false
                } else {
                    self.write.is_none()
                },
                filter: (!filter.trim().is_empty()).then_some(filter),
                duration: self.duration,
            },
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
        }
    }
}

/// Parses `500ms`, `30s`, `5m`, `2h`, `1d`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; use e.g. 30s, 5m, 2h, 500ms"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?}; use ms, s, m, h or d"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{s:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
