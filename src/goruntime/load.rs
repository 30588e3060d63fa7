//! Dump files named on the command line: `FILE` or `FILE@TIME`, read with a
//! size bound, timed by `@TIME`, else the profile's own time, else the file's
//! modification time.

use super::{is_profile, parse_dump, Dump, DumpError, Profile};
use crate::base::Timestamp;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Files larger than this are refused (a dump of a million goroutines is
/// about 500 MB of text; bigger is not a dump).
pub const MAX_DUMP_BYTES: u64 = 1 << 30;

/// A dump named on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpSpec {
    /// The file.
    pub path: PathBuf,
    /// The time given after `@`, if any.
    pub at: Option<Timestamp>,
}

impl DumpSpec {
    /// Parses `FILE` or `FILE@RFC3339` (`dump.txt@2026-12-03T10:15:00Z`).
    /// A file whose own name holds an `@` is taken whole when what follows
    /// the last `@` is not a time and the whole name exists.
    pub fn parse(arg: &str) -> Result<DumpSpec, String> {
        if let Some((path, time)) = arg.rsplit_once('@') {
            match time.parse::<jiff::Timestamp>() {
                Ok(t) => {
                    return Ok(DumpSpec {
                        path: PathBuf::from(path),
                        at: Some(Timestamp(
                            i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX),
                        )),
                    })
                }
                Err(e) if !Path::new(arg).exists() => {
                    return Err(format!(
                        "{arg:?}: the time after '@' is not RFC 3339 ({e}); write FILE@2026-12-03T10:15:00Z, or FILE alone to use the file's modification time"
                    ))
                }
                Err(_) => {}
            }
        }
        Ok(DumpSpec {
            path: PathBuf::from(arg),
            at: None,
        })
    }
}

/// Why a dump file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_DUMP_BYTES`].
    #[error("{path}: larger than {} MiB, not a goroutine dump", MAX_DUMP_BYTES >> 20)]
    TooLarge {
        /// The file.
        path: String,
    },
    /// The contents do not parse.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The cause.
        source: DumpError,
    },
}

/// The bytes of a file, at most [`MAX_DUMP_BYTES`], and its modification time.
fn read_bounded(file_path: &Path) -> Result<(Vec<u8>, Option<Timestamp>), LoadError> {
    let path = file_path.display().to_string();
    let io = |source| LoadError::Io {
        path: path.clone(),
        source,
    };
    let file = std::fs::File::open(file_path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_DUMP_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_DUMP_BYTES {
        return Err(LoadError::TooLarge { path });
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)));
    Ok((bytes, mtime))
}

/// Reads a pprof protobuf profile (CPU, block, mutex, ...).
pub fn load_profile(path: &Path) -> Result<super::Profile, LoadError> {
    let (bytes, _) = read_bounded(path)?;
    super::profile::parse(&bytes).map_err(|source| LoadError::Parse {
        path: path.display().to_string(),
        source,
    })
}

/// Reads and parses one dump, setting its time.
pub fn load(spec: &DumpSpec) -> Result<Dump, LoadError> {
    match load_any(spec)? {
        Loaded::Dump(dump) => Ok(dump),
        Loaded::Profile(p) => Err(LoadError::Parse {
            path: spec.path.display().to_string(),
            source: DumpError::Profile(p.not_goroutines()),
        }),
    }
}

/// A file named on the command line, read for what it is.
#[derive(Debug)]
pub enum Loaded {
    /// A goroutine dump, in any form.
    Dump(Dump),
    /// Another pprof profile (CPU, block, mutex, heap, ...).
    Profile(Profile),
}

/// Reads one file: a goroutine dump, or any other pprof profile, timed as
/// [`load`] times dumps.
pub fn load_any(spec: &DumpSpec) -> Result<Loaded, LoadError> {
    let path = spec.path.display().to_string();
    let (bytes, mtime) = read_bounded(&spec.path)?;
    let parse_error = |source| LoadError::Parse {
        path: path.clone(),
        source,
    };
    if is_profile(&bytes) {
        let mut p = super::profile::parse(&bytes).map_err(parse_error)?;
        if !p.is_goroutines() {
            p.time = spec.at.or(p.time).or(mtime);
            return Ok(Loaded::Profile(p));
        }
        let mut dump = p.into_dump().map_err(parse_error)?;
        dump.taken_at = spec.at.or(dump.taken_at).or(mtime);
        return Ok(Loaded::Dump(dump));
    }
    let mut dump = parse_dump(&bytes).map_err(parse_error)?;
    dump.taken_at = spec.at.or(dump.taken_at).or(mtime);
    Ok(Loaded::Dump(dump))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_times_parse_and_bad_ones_say_how() {
        let s = DumpSpec::parse("g.txt@2026-12-03T10:15:00Z").unwrap();
        assert_eq!(s.path, PathBuf::from("g.txt"));
        assert_eq!(s.at.unwrap().0, 1_796_292_900_000_000_000);
        assert_eq!(DumpSpec::parse("g.txt").unwrap().at, None);
        let e = DumpSpec::parse("g.txt@yesterday").unwrap_err();
        assert!(e.contains("RFC 3339"), "{e}");
    }
}
