//! `netsleuth demo`: makes real traffic on loopback, captures it with netsleuth's
//! own live source, and analyzes the capture (optionally printing its packets
//! first), so one command shows the whole pipeline working on this machine.
//!
//! The traffic comes from the fault lab (`lab.rs`): DNS answers that fail, a
//! refused connection, an ICMP port unreachable, a slow server, a reset in the
//! middle of a response, and a healthy call; and the TLS lab (`tls_lab.rs`):
//! version and certificate failures, and an HTTPS call whose 500 is found by
//! decrypting it with the client's key log. Where capture is not permitted, the
//! demo says so and analyzes a capture it builds in memory instead
//! (`synthetic.rs`).

mod lab;
mod synthetic;
#[cfg(feature = "tls-lab")]
mod tls_lab;

use lab::Lab;
use synthetic::write_synthetic;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::analyze::{self, AnalyzeConfig};
use super::read::{self, ReadConfig};
use super::CommandError;
use crate::source::live::LiveOptions;
use crate::source::recorder::Recorder;
use crate::source::SourceError;

/// Runs the demo, writing the capture to `capture_path` and the report to `out`;
/// `status` gets progress lines.
pub fn run(
    capture_path: &Path,
    show_packets: bool,
    out: &mut dyn Write,
    status: &mut dyn Write,
) -> Result<(), CommandError> {
    match capture_live(capture_path, status) {
        Ok(count) => writeln!(
            status,
            "captured {count} packets of demo traffic on lo into {}",
            capture_path.display()
        )?,
        Err(SourceError::Permission { .. }) | Err(SourceError::NoSuchInterface { .. }) => {
            writeln!(
                status,
                "live capture is not permitted here (run as root for real traffic); \
                 reading a capture built in memory instead"
            )?;
            write_synthetic(capture_path)?;
        }
        Err(e) => return Err(e.into()),
    }
    status.flush()?;
    let path = capture_path.display().to_string();
    if show_packets {
        read::run(
            &ReadConfig {
                path: path.clone(),
                ..ReadConfig::default()
            },
            out,
        )?;
        writeln!(out)?;
    }
    // The lab's HTTPS client wrote its keys next to the capture.
    let keylog = keylog_path(capture_path);
    let keylogs = if keylog.exists() {
        vec![keylog.clone()]
    } else {
        Vec::new()
    };
    let result = analyze::run(
        &AnalyzeConfig {
            paths: vec![path],
            keylogs,
            ..AnalyzeConfig::default()
        },
        out,
        status,
    );
    let _ = std::fs::remove_file(&keylog);
    result?;
    Ok(())
}

/// Where the lab's HTTPS client writes its key log: beside the capture.
fn keylog_path(capture: &Path) -> PathBuf {
    let mut name = capture.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

/// Default place for the demo capture: the system temp directory.
pub fn default_capture_path() -> PathBuf {
    std::env::temp_dir().join(format!("netsleuth-demo-{}.pcap", std::process::id()))
}

/// Bytes of the demo capture's kernel ring: room for all of the lab's traffic
/// (about 100 packets) even if the recording thread does not run until the
/// lab is done, as on a loaded machine. In immediate mode (TPACKET_V2) each
/// packet takes a slot of the snap length (64 KiB here: `lo`'s packets can be
/// that large), and on `lo` every packet takes two (the outgoing copy is
/// dropped by libpcap only as it reads): libpcap's default of 2 MiB held 16
/// packets, and the packets of a busier moment while the thread was off the
/// CPU were lost (a connection seen from its last packets only, a TLS alert
/// missing). 32 MiB, the `capture` and `watch` default, holds 256.
const CAPTURE_BUFFER: u32 = 32 << 20;

/// A backstop for the demo capture, never what ends it: [`Recorder::finish`]
/// stops the capture once the labs are done. It must not cut a slow run
/// short: at 15 s it did, on a machine starved of CPU, and the TLS lab's
/// calls went missing from the capture.
const CAPTURE_LIMIT: Duration = Duration::from_secs(120);

fn capture_live(path: &Path, status: &mut dyn Write) -> Result<u64, SourceError> {
    let lab = Lab::bind().map_err(io_err)?;
    #[cfg(feature = "tls-lab")]
    let tls = tls_lab::TlsLab::bind(&keylog_path(path)).map_err(io_err)?;
    #[cfg(feature = "tls-lab")]
    let filter = {
        let ports: Vec<String> = tls
            .ports()
            .iter()
            .map(|p| format!("tcp port {p}"))
            .collect();
        format!(
            "({}) or (host 127.0.0.1 and ({}))",
            lab.filter(),
            ports.join(" or ")
        )
    };
    #[cfg(not(feature = "tls-lab"))]
    let filter = lab.filter();
    let options = LiveOptions {
        interface: "lo".into(),
        snaplen: 65_535,
        buffer_size: Some(CAPTURE_BUFFER),
        filter: Some(filter),
        duration: Some(CAPTURE_LIMIT),
        ..LiveOptions::default()
    };
    let recorder = Recorder::start(options, path)?;
    let _ = writeln!(status, "capturing demo traffic on lo (about 2 s) ...");
    lab.run();
    #[cfg(feature = "tls-lab")]
    tls.run();
    recorder.finish()
}

fn io_err(e: std::io::Error) -> SourceError {
    SourceError::Pcap(format!("demo set-up failed: {e}"))
}
