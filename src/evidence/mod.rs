//! `analyze --evidence OUT.pcapng`: the frames that prove the findings, in
//! a small pcapng a user attaches to a ticket instead of the whole capture.
//!
//! After the analysis, the capture is read a second time and [`select`]
//! chooses, per cited conversation, its start (handshake, hellos, first
//! request), every cited frame and the frames around each (so Wireshark's
//! own analysis holds on the excerpt), or the whole conversation when it is
//! short. Each frame written carries `opt_comment`s: its number in the
//! capture analysed (the number the findings quote), and the findings that
//! cite it or whose conversation it belongs to. With `--keylog`, the key log
//! lines of the cited TLS connections (matched by the client random of their
//! ClientHello) go in a Decryption Secrets Block, so Wireshark and `analyze`
//! open the excerpt decrypted; without `--keylog` no secret is written.
//!
//! `--evidence-for KIND|CONN` narrows the findings: a kind (`tcp.reset_by_server`),
//! a family (`tls`, `dns.`) or a connection id.

pub mod select;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::analysis::ConvSpan;
use crate::base::escape::escape_str;
use crate::base::LinkType;
use crate::decode::{self, Transport};
use crate::diagnose::Finding;
use crate::source::file::FileSource;
use crate::source::writer::blocks;
use crate::source::{FrameSource, SourceError};
use select::{Held, Selector, Wanted};

/// Why the evidence file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// Reading the capture again failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The capture came from standard input, which cannot be read twice.
    #[error("--evidence reads the capture a second time: give a file, not standard input")]
    Stdin,
    /// Writing the evidence file failed.
    #[error("cannot write the evidence file {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Reading a key log failed.
    #[error("cannot read the key log {path}: {reason}")]
    KeyLog {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Which findings the evidence is for (`--evidence-for`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A kind (`tcp.reset_by_server`) or a family (`tcp`, `dns.`).
    Kind(String),
    /// A connection id.
    Conn(u64),
}

impl Scope {
    /// `123` is a connection, anything else a kind or family.
    pub fn parse(arg: &str) -> Scope {
        match arg.parse::<u64>() {
            Ok(n) => Scope::Conn(n),
            Err(_) => Scope::Kind(arg.trim_end_matches('.').to_string()),
        }
    }

    fn matches(&self, f: &Finding) -> bool {
        match self {
            Scope::Conn(n) => f.conn == Some(*n),
            Scope::Kind(k) => {
                f.kind == k
                    || f.kind
                        .strip_prefix(k.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            }
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceStats {
    /// Findings whose frames were taken.
    pub findings: usize,
    /// Frames written.
    pub frames: usize,
    /// Bytes of the file.
    pub bytes: u64,
    /// TLS connections whose secrets were embedded.
    pub secrets_for: usize,
    /// Frames left out because a bound was reached.
    pub over: u64,
}

/// The frames chosen for a set of findings, read from the capture again.
#[derive(Debug, Default)]
pub struct Excerpt {
    /// The frames, in capture order.
    pub frames: Vec<select::Chosen>,
    /// Per cited frame, the findings citing it (`netsleuth KIND (sev): summary`).
    pub comments: BTreeMap<u64, Vec<String>>,
    /// Findings whose frames were taken.
    pub findings: usize,
    /// Frames left out because a bound was reached.
    pub over: u64,
}

/// Writes the evidence for `findings` (narrowed by `scope`, all when
/// empty) from the capture files `paths` (read in order, frame numbers
/// continuing, as the analysis read them) to `out`.
pub fn write(
    paths: &[String],
    findings: &[Finding],
    spans: &std::collections::HashMap<u64, ConvSpan>,
    scope: &[Scope],
    keylogs: &[PathBuf],
    out: &Path,
) -> Result<EvidenceStats, EvidenceError> {
    let Excerpt {
        frames,
        comments,
        findings: chosen,
        over,
    } = choose(paths, findings, spans, scope)?;
    let secrets = if keylogs.is_empty() {
        (Vec::new(), 0)
    } else {
        let randoms: HashSet<String> = frames
            .iter()
            .filter_map(|c| client_random(c.frame.link, &c.frame.data))
            .collect();
        secrets_for(keylogs, &randoms)?
    };
    let bytes = write_excerpt(out, &frames, &comments, &secrets.0)?;
    Ok(EvidenceStats {
        findings: chosen,
        frames: frames.len(),
        bytes,
        secrets_for: secrets.1,
        over,
    })
}

/// Reads the capture files `paths` again and chooses the frames proving
/// `findings` (narrowed by `scope`, all when empty): see [`select`].
pub fn choose(
    paths: &[String],
    findings: &[Finding],
    spans: &std::collections::HashMap<u64, ConvSpan>,
    scope: &[Scope],
) -> Result<Excerpt, EvidenceError> {
    if paths.iter().any(|p| p == "-") {
        return Err(EvidenceError::Stdin);
    }
    let chosen: Vec<&Finding> = findings
        .iter()
        .filter(|f| scope.is_empty() || scope.iter().any(|s| s.matches(f)))
        .collect();
    // Per conversation: its cited frames and what it is evidence for.
    let mut convs: BTreeMap<u64, (Vec<u64>, Vec<&'static str>)> = BTreeMap::new();
    let mut alone: HashSet<u64> = HashSet::new();
    let mut comments: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for f in &chosen {
        // Every cited frame is taken, whatever its endpoints: an ICMP error
        // cited by a lookup's finding is not in the lookup's conversation.
        alone.extend(&f.frames);
        for &n in &f.frames {
            let c = comments.entry(n).or_default();
            if c.len() < 8 {
                c.push(format!(
                    "netsleuth {} ({}): {}",
                    f.kind,
                    f.severity.as_str(),
                    f.summary
                ));
            }
        }
        match f.conn {
            Some(conn)
                if spans.contains_key(&conn) || (f.client.is_some() && f.server.is_some()) =>
            {
                let e = convs.entry(conn).or_default();
                e.0.extend(&f.frames);
                if !e.1.contains(&f.kind) {
                    e.1.push(f.kind);
                }
            }
            _ => {}
        }
    }
    let mut wanted = Vec::new();
    for (conn, (mut cited, kinds)) in convs {
        cited.sort_unstable();
        cited.dedup();
        let span = spans.get(&conn);
        let finding = chosen.iter().find(|f| f.conn == Some(conn));
        let (Some(a), Some(b)) = (
            span.map(|s| s.client).or(finding.and_then(|f| f.client)),
            span.map(|s| s.server).or(finding.and_then(|f| f.server)),
        ) else {
            continue;
        };
        wanted.push(Wanted {
            a,
            b,
            range: span.map(|s| (s.first_frame, s.last_frame)),
            packets: span.map(|s| s.packets),
            cited,
            label: format!("{} (conn {conn})", kinds.join(", ")),
        });
    }
    let mut selector = Selector::new(wanted, alone);
    let mut offset = 0u64;
    for path in paths {
        let mut source = FileSource::open(path)?;
        let mut last = 0;
        loop {
            let frame = match source.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                // A cut file: the analysis warned already; keep what came.
                Err(SourceError::Malformed { .. }) if last > 0 => break,
                Err(e) => return Err(e.into()),
            };
            last = frame.number;
            let p = decode::decode(frame.link, frame.data);
            let syn = match &p.transport {
                Transport::Tcp(t) => {
                    let fl = t.flags();
                    fl.contains(decode::TcpFlags::SYN) && !fl.contains(decode::TcpFlags::ACK)
                }
                _ => false,
            };
            let ends = p.endpoints();
            selector.frame(
                Held {
                    number: frame.number + offset,
                    ts: frame.ts,
                    orig_len: frame.orig_len,
                    link: frame.link,
                    data: frame.data.into(),
                },
                ends,
                syn,
            );
        }
        offset += last;
    }
    let over = selector.over;
    Ok(Excerpt {
        frames: selector.finish(),
        comments,
        findings: chosen.len(),
        over,
    })
}

/// Writes `frames` as a pcapng with their comments, and `secrets` (key log
/// lines) in a Decryption Secrets Block when there are any; returns the
/// bytes written.
fn write_excerpt(
    out: &Path,
    frames: &[select::Chosen],
    comments: &BTreeMap<u64, Vec<String>>,
    secrets: &[u8],
) -> Result<u64, EvidenceError> {
    let write_error = |e: std::io::Error| EvidenceError::Write {
        path: out.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).map_err(write_error)?);
    let mut bytes = 0u64;
    let mut put = |file: &mut std::io::BufWriter<std::fs::File>, b: &[u8]| {
        bytes += b.len() as u64;
        file.write_all(b)
    };
    put(&mut file, &blocks::section_header()).map_err(write_error)?;
    let mut interfaces: Vec<LinkType> = Vec::new();
    for c in frames {
        if !interfaces.contains(&c.frame.link) {
            interfaces.push(c.frame.link);
            put(&mut file, &blocks::interface(c.frame.link, 262_144)).map_err(write_error)?;
        }
    }
    if interfaces.is_empty() {
        put(&mut file, &blocks::interface(LinkType(1), 262_144)).map_err(write_error)?;
    }
    if !secrets.is_empty() {
        put(&mut file, &blocks::secrets(blocks::TLS_KEY_LOG, secrets)).map_err(write_error)?;
    }
    for c in frames {
        let n = c.frame.number;
        let mut notes = vec![format!("netsleuth: frame {n} of the capture analysed")];
        notes.extend(comments.get(&n).cloned().unwrap_or_default());
        if !c.context_of.is_empty() && !comments.contains_key(&n) {
            notes.push(format!(
                "netsleuth: context for {}",
                c.context_of.join("; ")
            ));
        }
        let iface = interfaces
            .iter()
            .position(|l| *l == c.frame.link)
            .unwrap_or(0) as u32;
        put(
            &mut file,
            &blocks::packet(iface, c.frame.ts, c.frame.orig_len, &c.frame.data, &notes),
        )
        .map_err(write_error)?;
    }
    file.flush().map_err(write_error)?;
    Ok(bytes)
}

/// The client random of a TLS ClientHello that starts this frame's TCP
/// payload, in lower-case hex (as key logs write it).
fn client_random(link: LinkType, data: &[u8]) -> Option<String> {
    let p = decode::decode(link, data);
    let Transport::Tcp(t) = &p.transport else {
        return None;
    };
    let payload = t.payload();
    // Record: type 22 (handshake), version, length; handshake: type 1
    // (ClientHello), length, client version; then the 32-byte random.
    if payload.first() != Some(&22) || payload.get(5) != Some(&1) {
        return None;
    }
    let random = payload.get(11..43)?;
    Some(random.iter().map(|b| format!("{b:02x}")).collect())
}

/// The key log lines whose client random is one of `randoms`, and how many
/// randoms they cover.
fn secrets_for(
    keylogs: &[PathBuf],
    randoms: &HashSet<String>,
) -> Result<(Vec<u8>, usize), EvidenceError> {
    let mut out = Vec::new();
    let mut covered: HashSet<String> = HashSet::new();
    for path in keylogs {
        let text = std::fs::read_to_string(path).map_err(|e| EvidenceError::KeyLog {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(_label), Some(random), Some(_secret)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let random = random.to_ascii_lowercase();
            if randoms.contains(&random) {
                out.extend_from_slice(line.trim().as_bytes());
                out.push(b'\n');
                covered.insert(random);
            }
        }
    }
    Ok((out, covered.len()))
}

/// "42 frames of 7 findings written to OUT (38.0 KB)", for the status line.
pub fn describe(stats: &EvidenceStats, out: &Path) -> String {
    let mut s = format!(
        "evidence: {} frames for {} finding{} written to {} ({:.1} KB)",
        stats.frames,
        stats.findings,
        if stats.findings == 1 { "" } else { "s" },
        escape_str(&out.display().to_string()),
        stats.bytes as f64 / 1000.0
    );
    if stats.secrets_for > 0 {
        s.push_str(&format!(
            "; TLS secrets for {} connection{} embedded",
            stats.secrets_for,
            if stats.secrets_for == 1 { "" } else { "s" }
        ));
    }
    if stats.over > 0 {
        s.push_str(&format!(
            "; {} more frames left out (the excerpt is capped at {} frames and {} MB: narrow it with --evidence-for)",
            stats.over,
            select::MAX_FRAMES,
            select::MAX_BYTES >> 20
        ));
    }
    s
}
