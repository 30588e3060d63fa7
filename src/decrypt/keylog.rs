//! NSS key log files (`SSLKEYLOGFILE`), as curl, Firefox, Chrome, Go's
//! `KeyLogWriter` and rustls' `KeyLogFile` write them.
//!
//! One secret per line: `LABEL <client_random hex, 32 bytes> <secret hex>`. The
//! labels read here are `CLIENT_RANDOM` (the TLS ≤ 1.2 master secret, 48 bytes)
//! and the four TLS 1.3 traffic secrets (32 or 48 bytes, the suite's hash length).
//! Other labels (`EXPORTER_SECRET`, `CLIENT_EARLY_TRAFFIC_SECRET`, the legacy
//! `RSA` lines, …) are skipped without a warning: they are well formed, we just
//! have no use for them. A malformed line becomes a [`KeyLogWarning`] with its
//! line number and is skipped; it never stops the parse.
//!
//! Bounded: at most [`MAX_ENTRIES`] client randoms are kept; lines for further
//! client randoms are counted in [`KeyLog::overflow`].

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The most client randoms one [`KeyLog`] keeps (a million connections); lines
/// for more are counted in [`KeyLog::overflow`], not stored.
pub const MAX_ENTRIES: usize = 1_000_000;

/// The largest TLS 1.3 traffic secret: SHA-384's output.
const MAX_SECRET_LEN: usize = 48;

/// A TLS 1.2 (or earlier) master secret: always 48 bytes (RFC 5246 §8.1).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MasterSecret(pub [u8; 48]);

impl fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSecret(..)")
    }
}

/// A TLS 1.3 traffic secret: 32 bytes (SHA-256 suites) or 48 (SHA-384).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TrafficSecret {
    len: u8,
    bytes: [u8; MAX_SECRET_LEN],
}

impl TrafficSecret {
    /// A secret from its bytes; `None` unless 32 or 48 bytes long.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 && bytes.len() != 48 {
            return None;
        }
        let mut out = [0u8; MAX_SECRET_LEN];
        out.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(TrafficSecret {
            len: bytes.len() as u8,
            bytes: out,
        })
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Debug for TrafficSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrafficSecret({} bytes)", self.len)
    }
}

/// The four TLS 1.3 traffic secrets of one connection, each optional: a log
/// may hold only some of them (a capture tool that wrote only the application
/// secrets, a log cut short).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tls13Secrets {
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<TrafficSecret>,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<TrafficSecret>,
    /// `CLIENT_TRAFFIC_SECRET_0`.
    pub client_application: Option<TrafficSecret>,
    /// `SERVER_TRAFFIC_SECRET_0`.
    pub server_application: Option<TrafficSecret>,
}

/// Everything the log says about one client random.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// `CLIENT_RANDOM`: the TLS ≤ 1.2 master secret.
    pub master: Option<MasterSecret>,
    /// The TLS 1.3 secrets, boxed: most entries in a mixed log are TLS 1.2 or
    /// TLS 1.3, rarely both, and a million entries should stay small.
    pub tls13: Option<Box<Tls13Secrets>>,
}

/// Which secret a line carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    ClientRandom,
    ClientHandshake,
    ServerHandshake,
    ClientApplication,
    ServerApplication,
}

impl Label {
    /// `None` for labels we do not use (the caller tells those from garbage).
    fn parse(s: &str) -> Option<Label> {
        Some(match s {
            "CLIENT_RANDOM" => Label::ClientRandom,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
            "CLIENT_TRAFFIC_SECRET_0" => Label::ClientApplication,
            "SERVER_TRAFFIC_SECRET_0" => Label::ServerApplication,
            _ => return None,
        })
    }
}

/// A key log line that was skipped because it is malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLogWarning {
    /// 1-based line number in the text given to [`KeyLog::parse`].
    pub line: usize,
    /// What is wrong with the line, in plain words.
    pub reason: String,
}

impl fmt::Display for KeyLogWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key log line {}: {}", self.line, self.reason)
    }
}

/// Why a key log file could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyLogError {
    /// The file could not be opened or read.
    #[error("cannot read key log {}: {source}; check the path and that SSLKEYLOGFILE was set for the client that made the traffic", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file is not text.
    #[error("key log {} is not UTF-8 text; pass the file SSLKEYLOGFILE wrote (NSS key log format), not a capture", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
}

/// Secrets from NSS key log text, by client random.
#[derive(Clone, Debug)]
pub struct KeyLog {
    entries: HashMap<[u8; 32], Secrets>,
    max_entries: usize,
    overflow: u64,
    conflicts: u64,
}

impl Default for KeyLog {
    fn default() -> Self {
        Self::with_max_entries(MAX_ENTRIES)
    }
}

impl KeyLog {
    /// An empty log holding at most [`MAX_ENTRIES`] client randoms.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty log holding at most `max_entries` client randoms.
    pub fn with_max_entries(max_entries: usize) -> Self {
        KeyLog {
            entries: HashMap::new(),
            max_entries,
            overflow: 0,
            conflicts: 0,
        }
    }

    /// Parses key log text. Malformed lines are skipped and returned as
    /// warnings; `#` comments, blank lines and unknown labels are skipped
    /// silently; CRLF line ends are fine.
    pub fn parse(text: &str) -> (KeyLog, Vec<KeyLogWarning>) {
        let mut log = KeyLog::new();
        let warnings = log.add_text(text);
        (log, warnings)
    }

    /// Reads and parses a key log file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<(KeyLog, Vec<KeyLogWarning>), KeyLogError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| KeyLogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| KeyLogError::NotText {
            path: path.to_path_buf(),
        })?;
        Ok(Self::parse(&text))
    }

    /// Parses more key log text into this log (a pcapng Decryption Secrets
    /// Block carries the same text), returning that text's warnings.
    pub fn add_text(&mut self, text: &str) -> Vec<KeyLogWarning> {
        let mut warnings = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if let Err(reason) = self.add_line(line) {
                warnings.push(KeyLogWarning {
                    line: i + 1,
                    reason,
                });
            }
        }
        warnings
    }

    /// Merges another log into this one. Where both have the same secret for a
    /// client random, this log's value is kept; a differing value is counted in
    /// [`KeyLog::conflicts`].
    pub fn extend(&mut self, other: KeyLog) {
        self.overflow += other.overflow;
        self.conflicts += other.conflicts;
        for (random, secrets) in other.entries {
            if let Some(m) = secrets.master {
                self.insert(random, Label::ClientRandom, Secret::Master(m));
            }
            if let Some(t) = secrets.tls13 {
                let pairs = [
                    (Label::ClientHandshake, t.client_handshake),
                    (Label::ServerHandshake, t.server_handshake),
                    (Label::ClientApplication, t.client_application),
                    (Label::ServerApplication, t.server_application),
                ];
                for (label, s) in pairs {
                    if let Some(s) = s {
                        self.insert(random, label, Secret::Traffic(s));
                    }
                }
            }
        }
    }

    /// How many client randoms have at least one secret.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the log holds no usable secret.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lines dropped because the cap on client randoms ([`MAX_ENTRIES`] unless
    /// set with [`KeyLog::with_max_entries`]) was reached.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    /// Secrets given twice for the same client random and label with different
    /// values (the first one is kept).
    pub fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Everything known for a client random.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.entries.get(client_random)
    }

    /// The TLS ≤ 1.2 master secret for a client random.
    pub fn master_secret(&self, client_random: &[u8; 32]) -> Option<&MasterSecret> {
        self.get(client_random)?.master.as_ref()
    }

    /// The TLS 1.3 traffic secrets for a client random.
    pub fn tls13_secrets(&self, client_random: &[u8; 32]) -> Option<&Tls13Secrets> {
        self.get(client_random)?.tls13.as_deref()
    }

    fn add_line(&mut self, line: &str) -> Result<(), String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let mut fields = line.split_ascii_whitespace();
        let (Some(label), Some(random_hex), Some(secret_hex)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err("expected three fields: LABEL CLIENT_RANDOM SECRET".into());
        };
        if fields.next().is_some() {
            return Err("more than three fields; expected LABEL CLIENT_RANDOM SECRET".into());
        }
        let Some(label) = Label::parse(label) else {
            if label
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                return Ok(()); // a label we do not use, e.g. EXPORTER_SECRET
            }
            return Err(format!("{:?} is not a key log label", truncate(label)));
        };
        let mut random = [0u8; 32];
        decode_hex(random_hex, &mut random)
            .map_err(|e| format!("client random: {e}; expected 64 hex digits"))?;
        let secret = match label {
            Label::ClientRandom => {
                let mut m = [0u8; 48];
                decode_hex(secret_hex, &mut m)
                    .map_err(|e| format!("master secret: {e}; expected 96 hex digits"))?;
                Secret::Master(MasterSecret(m))
            }
            _ => {
                let mut buf = [0u8; MAX_SECRET_LEN];
                let n = secret_hex.len() / 2;
                if secret_hex.len() != 64 && secret_hex.len() != 96 {
                    return Err(format!(
                        "traffic secret has {} hex digits; expected 64 or 96",
                        secret_hex.len()
                    ));
                }
                let dst = buf.get_mut(..n).ok_or("traffic secret too long")?;
                decode_hex(secret_hex, dst).map_err(|e| format!("traffic secret: {e}"))?;
                Secret::Traffic(TrafficSecret::new(dst).ok_or("traffic secret length")?)
            }
        };
        self.insert(random, label, secret);
        Ok(())
    }

    fn insert(&mut self, random: [u8; 32], label: Label, secret: Secret) {
        if !self.entries.contains_key(&random) && self.entries.len() >= self.max_entries {
            self.overflow += 1;
            return;
        }
        let entry = self.entries.entry(random).or_default();
        let conflict = match (label, secret) {
            (Label::ClientRandom, Secret::Master(m)) => set_once(&mut entry.master, m),
            (label, Secret::Traffic(t)) => {
                let t13 = entry.tls13.get_or_insert_with(Default::default);
                let slot = match label {
                    Label::ClientHandshake => &mut t13.client_handshake,
                    Label::ServerHandshake => &mut t13.server_handshake,
                    Label::ClientApplication => &mut t13.client_application,
                    Label::ServerApplication | Label::ClientRandom => &mut t13.server_application,
                };
                set_once(slot, t)
            }
            // Not produced by `add_line` or `extend`.
            (_, Secret::Master(_)) => false,
        };
        if conflict {
            self.conflicts += 1;
        }
    }
}

enum Secret {
    Master(MasterSecret),
    Traffic(TrafficSecret),
}

/// Stores `value` unless the slot is already set; true if it held a different value.
fn set_once<T: PartialEq>(slot: &mut Option<T>, value: T) -> bool {
    match slot {
        Some(old) => *old != value,
        None => {
            *slot = Some(value);
            false
        }
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// Decodes exactly `out.len()` bytes of hex (either case).
pub(crate) fn decode_hex(s: &str, out: &mut [u8]) -> Result<(), String> {
    if s.len() != out.len() * 2 {
        return Err(format!(
            "{} hex digits where {} were expected",
            s.len(),
            out.len() * 2
        ));
    }
    for (dst, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        let (Some(&h), Some(&l)) = (pair.first(), pair.get(1)) else {
            return Err("odd number of hex digits".into());
        };
        match (nibble(h), nibble(l)) {
            (Some(h), Some(l)) => *dst = h << 4 | l,
            _ => return Err("not a hex digit".into()),
        }
    }
    Ok(())
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R1: &str = "0102030405060708091011121314151617181920212223242526272829303132";
    const R2: &str = "a102030405060708091011121314151617181920212223242526272829303132";
    const M48: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
    const S32: &str = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";

    fn random(s: &str) -> [u8; 32] {
        let mut r = [0u8; 32];
        decode_hex(s, &mut r).unwrap();
        r
    }

    #[test]
    fn parses_every_label_comments_blank_and_crlf() {
        let text = format!(
            "# SSL/TLS secrets log file, generated by NSS\r\n\
             \r\n\
             CLIENT_RANDOM {R1} {M48}\r\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {R2} {S32}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {R2} {S32}\n\
             CLIENT_TRAFFIC_SECRET_0 {R2} {M48}\n\
             SERVER_TRAFFIC_SECRET_0 {R2} {S32}\n\
             EXPORTER_SECRET {R2} {S32}\n\
             CLIENT_EARLY_TRAFFIC_SECRET {R2} {S32}\n"
        );
        let (log, warnings) = KeyLog::parse(&text);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(log.len(), 2);
        let m = log.master_secret(&random(R1)).unwrap();
        assert_eq!(m.0[47], 0x2f);
        let t = log.tls13_secrets(&random(R2)).unwrap();
        assert_eq!(t.client_handshake.unwrap().as_bytes().len(), 32);
        assert_eq!(t.client_application.unwrap().as_bytes().len(), 48);
        assert_eq!(t.server_application.unwrap().as_bytes()[0], 0xb6);
        assert!(log.master_secret(&random(R2)).is_none());
    }

    #[test]
    fn malformed_lines_warn_with_line_numbers_and_are_skipped() {
        let text = format!(
            "CLIENT_RANDOM {R1}\n\
             CLIENT_RANDOM zz{} {M48}\n\
             CLIENT_RANDOM {R1} {}\n\
             SERVER_TRAFFIC_SECRET_0 {R1} abcd\n\
             CLIENT_RANDOM {R1} {M48} extra\n\
             client_random {R1} {M48}\n\
             CLIENT_RANDOM {R1} {M48}\n",
            &R1[2..],
            &M48[2..]
        );
        let (log, warnings) = KeyLog::parse(&text);
        let lines: Vec<usize> = warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5, 6]);
        assert!(
            warnings[1].reason.contains("client random"),
            "{}",
            warnings[1]
        );
        assert!(warnings[2].reason.contains("master secret"));
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn extend_merges_and_counts_conflicts() {
        let (mut a, _) = KeyLog::parse(&format!("CLIENT_RANDOM {R1} {M48}\n"));
        let other_m = M48.replace("2f", "ff");
        let (b, _) = KeyLog::parse(&format!(
            "CLIENT_RANDOM {R1} {other_m}\nSERVER_TRAFFIC_SECRET_0 {R2} {S32}\n"
        ));
        a.extend(b);
        assert_eq!(a.len(), 2);
        assert_eq!(a.conflicts(), 1);
        assert_eq!(a.master_secret(&random(R1)).unwrap().0[47], 0x2f);
        // The same value twice is not a conflict.
        let (c, _) = KeyLog::parse(&format!("CLIENT_RANDOM {R1} {M48}\n"));
        a.extend(c);
        assert_eq!(a.conflicts(), 1);
    }

    #[test]
    fn from_file_names_the_file_and_the_fix() {
        let err = KeyLog::from_file("/nonexistent/keys.log").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/nonexistent/keys.log") && msg.contains("SSLKEYLOGFILE"),
            "{msg}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys");
        std::fs::write(&p, format!("CLIENT_RANDOM {R1} {M48}\n")).unwrap();
        let (log, w) = KeyLog::from_file(&p).unwrap();
        assert_eq!((log.len(), w.len()), (1, 0));
        std::fs::write(&p, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            KeyLog::from_file(&p),
            Err(KeyLogError::NotText { .. })
        ));
    }

    #[test]
    fn cap_counts_overflow() {
        const CAP: usize = 1000;
        let mut log = KeyLog::with_max_entries(CAP);
        for i in 0..CAP as u32 {
            let mut r = [0u8; 32];
            r[..4].copy_from_slice(&i.to_be_bytes());
            log.insert(
                r,
                Label::ClientRandom,
                Secret::Master(MasterSecret([1; 48])),
            );
        }
        assert_eq!(log.len(), CAP);
        let w = log.add_text(&format!("CLIENT_RANDOM {R2} {M48}\n"));
        assert!(w.is_empty());
        assert_eq!((log.len(), log.overflow()), (CAP, 1));
        // A known client random still takes more secrets.
        let mut known = [0u8; 32];
        known[..4].copy_from_slice(&7u32.to_be_bytes());
        log.insert(
            known,
            Label::ServerApplication,
            Secret::Traffic(TrafficSecret::new(&[3; 32]).unwrap()),
        );
        assert_eq!(log.overflow(), 1);
        assert!(log.tls13_secrets(&known).is_some());
    }

    #[test]
    fn hex_decoding() {
        let mut b = [0u8; 2];
        assert!(decode_hex("aBcD", &mut b).is_ok());
        assert_eq!(b, [0xab, 0xcd]);
        assert!(decode_hex("abc", &mut b).is_err());
        assert!(decode_hex("abcg", &mut b).is_err());
        assert!(decode_hex("ab\u{e9}", &mut b).is_err());
    }
}
