//! TLS keys for decryption: `--keylog` files, loaded once, and what pcapng
//! Decryption Secrets Blocks add while reading ([`Analyzer::add_secrets`](super::Analyzer::add_secrets)).
//! `analyze` and `follow` load them the same way, with the same warnings.

use std::io::Write;
use std::path::PathBuf;

use super::AnalysisError;
use crate::app::tls::TlsKeys;
use crate::decrypt::{KeyLog, KeyLogWarning};
use crate::source::file::FileSource;

/// TLS key log type of a pcapng Decryption Secrets Block ("TLSK").
const DSB_TLS_KEY_LOG: u32 = 0x544c_534b;

/// Malformed key log lines shown one by one; the rest are counted.
const WARNINGS_SHOWN: usize = 5;

/// Reads the key log files; malformed lines are warnings on `status`, an
/// unreadable file is an error. `None` without files.
pub fn load_keylogs(
    paths: &[PathBuf],
    status: &mut dyn Write,
) -> Result<Option<TlsKeys>, AnalysisError> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut all = KeyLog::new();
    for path in paths {
        let (log, warnings) =
            KeyLog::from_file(path).map_err(|e| AnalysisError::KeyLog(e.to_string()))?;
        report_warnings(&path.display().to_string(), &warnings, status)?;
        if log.is_empty() {
            writeln!(
                status,
                "netsleuth: warning: key log {} holds no TLS secrets (lines like CLIENT_RANDOM ... or CLIENT_TRAFFIC_SECRET_0 ...)",
                path.display()
            )?;
        }
        all.extend(log);
    }
    Ok(Some(TlsKeys::new(all)))
}

/// Prints the first malformed lines of a key log from `source`, then how many
/// more there were.
pub fn report_warnings(
    source: &str,
    warnings: &[KeyLogWarning],
    status: &mut dyn Write,
) -> Result<(), AnalysisError> {
    for w in warnings.iter().take(WARNINGS_SHOWN) {
        writeln!(
            status,
            "netsleuth: warning: key log {source} line {}: {} (skipped)",
            w.line, w.reason
        )?;
    }
    if warnings.len() > WARNINGS_SHOWN {
        writeln!(
            status,
            "netsleuth: warning: key log {source}: {} more malformed lines skipped",
            warnings.len() - WARNINGS_SHOWN
        )?;
    }
    Ok(())
}

/// The TLS key logs of the pcapng Decryption Secrets Blocks `source` read
/// since `seen` of them (then `seen` moves on). Call before each frame:
/// secrets blocks come before the packets they serve (editcap writes them
/// first), and a connection picks its keys up at its ServerHello, so seeing
/// them one frame late loses nothing.
pub fn new_secrets(source: &FileSource, seen: &mut usize) -> Vec<String> {
    let secrets = source.decryption_secrets();
    if secrets.len() == *seen {
        return Vec::new();
    }
    let new = secrets.get(*seen..).unwrap_or_default();
    *seen = secrets.len();
    new.iter()
        .filter(|(kind, _)| *kind == DSB_TLS_KEY_LOG)
        .map(|(_, data)| String::from_utf8_lossy(data).into_owned())
        .collect()
}
