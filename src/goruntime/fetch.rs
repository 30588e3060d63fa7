//! `capture --pprof URL`: goroutine dumps fetched from a Go process while the
//! capture runs, kept beside it so `analyze` joins them on its own.
//!
//! Each round fetches `?debug=2` (states and wait times) and `?debug=1`
//! (pprof labels) and writes them into the sidecar directory
//! `CAPTURE.goroutines/` as `<time>-debug2.txt` and `<time>-debug1.txt`, the
//! time (UTC, nanoseconds) taken just before the request was sent: the name
//! carries it, so copying the files loses nothing. A round runs at the start,
//! every `--pprof-every`, and once more when the capture stops (Ctrl-C while
//! a call hangs is the moment worth having).
//!
//! The HTTP is a blocking HTTP/1.0 GET by hand: one request, a body read to
//! the connection's close, bounded in size and time. A client crate would
//! bring an async runtime to `capture` for that; pprof listens on plain HTTP,
//! usually on localhost.

use super::load::{DumpSpec, MAX_DUMP_BYTES};
use crate::base::Timestamp;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Connect time-out for one fetch.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Read time-out for one fetch (a dump of many goroutines takes a while).
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a pprof URL cannot be used or a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Not an `http://host:port/...` URL.
    #[error("--pprof {0:?}: expected http://HOST:PORT[/debug/pprof/goroutine] (pprof is served over plain HTTP; for a remote process use a port forward)")]
    Url(String),
    /// The connection or the read failed.
    #[error("{url}: {source}")]
    Io {
        /// The URL fetched.
        url: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The server answered, but not with a dump.
    #[error("{url}: {what}")]
    Response {
        /// The URL fetched.
        url: String,
        /// What came back.
        what: String,
    },
}

/// A parsed pprof endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PprofUrl {
    /// `host:port`.
    pub authority: String,
    /// The goroutine profile's path, `/debug/pprof/goroutine`.
    pub path: String,
}

impl PprofUrl {
    /// Parses `http://host:port`, `.../debug/pprof/` or
    /// `.../debug/pprof/goroutine` (any query is dropped).
    pub fn parse(url: &str) -> Result<PprofUrl, FetchError> {
        let bad = || FetchError::Url(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty()
            || authority.contains('@')
            || authority.contains(char::is_whitespace)
        {
            return Err(bad());
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let path = path
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .trim_end_matches('/');
        let path = if path.ends_with("/debug/pprof/goroutine") {
            path.to_string()
        } else if path.ends_with("/debug/pprof") {
            format!("{path}/goroutine")
        } else {
            format!("{path}/debug/pprof/goroutine")
        };
        Ok(PprofUrl { authority, path })
    }

    /// `http://authority/path?debug=N`.
    pub fn display(&self, debug: u8) -> String {
        format!("http://{}{}?debug={debug}", self.authority, self.path)
    }

    /// One GET of `?debug=N`: the body of a 200 response.
    pub fn fetch(&self, debug: u8) -> Result<Vec<u8>, FetchError> {
        let url = self.display(debug);
        let io = |source| FetchError::Io {
            url: url.clone(),
            source,
        };
        let addr = self
            .authority
            .to_socket_addrs()
            .map_err(io)?
            .next()
            .ok_or_else(|| FetchError::Response {
                url: url.clone(),
                what: "the host name has no address".into(),
            })?;
        let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(io)?;
        stream.set_read_timeout(Some(READ_TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(READ_TIMEOUT)).map_err(io)?;
        let request = format!(
            "GET {}?debug={debug} HTTP/1.0\r\nHost: {}\r\nUser-Agent: netsleuth\r\nAccept-Encoding: identity\r\n\r\n",
            self.path, self.authority
        );
        stream.write_all(request.as_bytes()).map_err(io)?;
        let mut response = Vec::new();
        stream
            .take(MAX_DUMP_BYTES + 64 * 1024)
            .read_to_end(&mut response)
            .map_err(io)?;
        body_of(&response).map_err(|what| FetchError::Response { url, what })
    }
}

/// The body of an HTTP/1.0 response read to its close.
fn body_of(response: &[u8]) -> Result<Vec<u8>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let head = match parsed.parse(response) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("the response ended inside its head".into()),
        Err(e) => return Err(format!("not an HTTP response ({e})")),
    };
    match parsed.code {
        Some(200) => Ok(response[head..].to_vec()),
        Some(404) => Err("404: this process does not serve pprof there (import _ \"net/http/pprof\" and serve http.DefaultServeMux, or give the right port)".into()),
        Some(code) => Err(format!(
            "status {code} {}",
            crate::base::escape::escape_str(parsed.reason.unwrap_or(""))
        )),
        None => Err("no status code".into()),
    }
}

/// The sidecar directory of a capture file: `CAPTURE.goroutines`.
pub fn sidecar_dir(capture: &Path) -> PathBuf {
    let mut name = capture.as_os_str().to_owned();
    name.push(".goroutines");
    PathBuf::from(name)
}

/// A file name's time: `20261203T101500.123456789Z-debug2.txt`.
fn file_name(at: Timestamp, debug: u8) -> String {
    let t =
        jiff::Timestamp::from_nanosecond(i128::from(at.0)).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{}-debug{debug}.txt", t.strftime("%Y%m%dT%H%M%S.%9fZ"))
}

/// The dumps of a sidecar directory, timed by their names: per moment the
/// `debug=1` file when it carries pprof labels (the strongest join), else the
/// `debug=2` one (states and waits). Files not named by [`file_name`] are
/// ignored.
pub fn sidecar_dumps(dir: &Path) -> Vec<DumpSpec> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut moments: std::collections::BTreeMap<String, [Option<PathBuf>; 2]> = Default::default();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let (stamp, slot) = match name.strip_suffix("-debug1.txt") {
            Some(s) => (s, 0),
            None => match name.strip_suffix("-debug2.txt") {
                Some(s) => (s, 1),
                None => continue,
            },
        };
        moments.entry(stamp.to_string()).or_default()[slot] = Some(e.path());
    }
    moments
        .into_iter()
        .filter_map(|(stamp, [d1, d2])| {
            let t = jiff::fmt::strtime::parse("%Y%m%dT%H%M%S%.f", stamp.strip_suffix('Z')?)
                .and_then(|p| p.to_datetime())
                .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC))
                .ok()?
                .timestamp();
            let at = Timestamp(i64::try_from(t.as_nanosecond()).ok()?);
            let labelled = d1.as_ref().is_some_and(|p| {
                std::fs::read(p).is_ok_and(|b| b.windows(9).any(|w| w == b"# labels:"))
            });
            let path = if labelled { d1 } else { d2.or(d1) }?;
            Some(DumpSpec { path, at: Some(at) })
        })
        .collect()
}

/// What the fetcher did, for the capture's closing lines.
#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    /// Dumps written (each form counts).
    pub written: u64,
    /// Fetches that failed.
    pub failed: u64,
    /// The first failure, to show the user.
    pub first_error: Option<String>,
    /// The sidecar directory.
    pub dir: PathBuf,
}

/// A thread fetching dumps into a sidecar directory until told to finish.
pub struct Fetcher {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<FetchReport>>,
}

impl Fetcher {
    /// Creates `dir` and starts fetching from `url` now and every `every`.
    pub fn start(url: PprofUrl, every: Duration, dir: PathBuf) -> std::io::Result<Fetcher> {
        std::fs::create_dir_all(&dir)?;
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .name("pprof".into())
            .spawn(move || {
                let mut report = FetchReport {
                    dir: dir.clone(),
                    ..FetchReport::default()
                };
                loop {
                    round(&url, &dir, &mut report);
                    let next = Instant::now() + every;
                    while Instant::now() < next && !flag.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    if flag.load(Ordering::Relaxed) {
                        // The last moment of the capture.
                        round(&url, &dir, &mut report);
                        return report;
                    }
                }
            })?;
        Ok(Fetcher {
            done,
            thread: Some(thread),
        })
    }

    /// Takes the last dumps and stops.
    pub fn finish(mut self) -> FetchReport {
        self.done.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

fn round(url: &PprofUrl, dir: &Path, report: &mut FetchReport) {
    // One time for the round: both forms name the same moment, so analyze
    // pairs them (and keeps the labelled one).
    let at = Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
    );
    for debug in [2u8, 1] {
        let result = url.fetch(debug).and_then(|body| {
            std::fs::write(dir.join(file_name(at, debug)), body).map_err(|source| FetchError::Io {
                url: url.display(debug),
                source,
            })
        });
        match result {
            Ok(()) => report.written += 1,
            Err(e) => {
                report.failed += 1;
                report.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_normalise_to_the_goroutine_profile() {
        let p = PprofUrl::parse("http://127.0.0.1:6060").unwrap();
        assert_eq!(
            (p.authority.as_str(), p.path.as_str()),
            ("127.0.0.1:6060", "/debug/pprof/goroutine")
        );
        let p = PprofUrl::parse("http://localhost:6060/debug/pprof/").unwrap();
        assert_eq!(p.path, "/debug/pprof/goroutine");
        let p = PprofUrl::parse("http://h/x/debug/pprof/goroutine?debug=2").unwrap();
        assert_eq!(
            (p.authority.as_str(), p.path.as_str()),
            ("h:80", "/x/debug/pprof/goroutine")
        );
        assert!(PprofUrl::parse("https://h:1").is_err());
        assert!(PprofUrl::parse("http://").is_err());
        assert_eq!(p.display(1), "http://h:80/x/debug/pprof/goroutine?debug=1");
    }

    #[test]
    fn responses_give_their_body_or_say_why_not() {
        assert_eq!(
            body_of(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\ngoroutine 1"),
            Ok(b"goroutine 1".to_vec())
        );
        assert!(body_of(b"HTTP/1.0 404 Not Found\r\n\r\n")
            .unwrap_err()
            .contains("net/http/pprof"));
        assert!(body_of(b"HTTP/1.0 500 Internal Server Error\r\n\r\n")
            .unwrap_err()
            .contains("500 Internal"));
        assert!(body_of(b"HTTP/1.0 200").is_err());
        assert!(body_of(b"SSH-2.0").is_err());
    }

    #[test]
    fn sidecar_names_carry_the_time_and_prefer_labelled_dumps() {
        let dir = tempfile::tempdir().unwrap();
        let t1 = Timestamp(1_796_292_900_123_456_789);
        let t2 = Timestamp(1_796_292_910_000_000_001);
        let write =
            |t, d, body: &str| std::fs::write(dir.path().join(file_name(t, d)), body).unwrap();
        write(t1, 2, "goroutine 1 [running]:\n");
        write(
            t1,
            1,
            "goroutine profile: total 1\n1 @ 0x1\n# labels: {\"a\":\"b\"}\n",
        );
        write(t2, 2, "goroutine 1 [running]:\n");
        write(t2, 1, "goroutine profile: total 1\n1 @ 0x1\n");
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(file_name(t1, 2), "20261203T101500.123456789Z-debug2.txt");
        let specs = sidecar_dumps(dir.path());
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].at, Some(t1));
        assert!(specs[0].path.to_string_lossy().ends_with("-debug1.txt"));
        assert_eq!(specs[1].at, Some(t2));
        assert!(specs[1].path.to_string_lossy().ends_with("-debug2.txt"));
    }
}
