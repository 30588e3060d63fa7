//! A live capture written to a pcap file on its own thread while the caller
//! makes traffic: the demo's lab and `probe --capture` record themselves this
//! way, then analyze the file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::live::{LiveOptions, LiveSource};
use super::writer::{CaptureWriter, OutputFormat, Rotation};
use super::{FrameSource, SourceError};

/// How long the last packets get to reach the capture ring before the stop:
/// a packet sent just before [`Recorder::finish`] is still on its way up.
const SETTLE: Duration = Duration::from_millis(50);

/// A capture running in the background.
#[derive(Debug)]
pub struct Recorder {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<u64, SourceError>>,
    path: PathBuf,
}

impl Recorder {
    /// Opens the capture and starts writing `path`. Returns once the capture is
    /// live, so traffic made after this call is recorded; a missing privilege
    /// or a bad filter comes back here.
    pub fn start(options: LiveOptions, path: &Path) -> Result<Recorder, SourceError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_stop = Arc::clone(&stop);
        let file = path.to_path_buf();
        let thread = thread::spawn(move || {
            let opened = LiveSource::open(&options, thread_stop).and_then(|source| {
                let writer = CaptureWriter::create(
                    &file,
                    OutputFormat::Pcap,
                    source.link_type(),
                    options.snaplen,
                    Rotation::default(),
                )?;
                Ok((source, writer))
            });
            let (mut source, mut writer) = match opened {
                Ok(pair) => {
                    let _ = ready_tx.send(Ok(()));
                    pair
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return Ok(0);
                }
            };
            let mut count = 0;
            while let Some(frame) = source.next_frame()? {
                writer.write(&frame)?;
                count += 1;
            }
            writer.flush()?;
            Ok(count)
        });
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Recorder {
                stop,
                thread,
                path: path.to_path_buf(),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(SourceError::Pcap(
                "the capture thread stopped before it started".into(),
            )),
        }
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the capture (after a short settle time) and returns the number of
    /// packets written.
    pub fn finish(self) -> Result<u64, SourceError> {
        thread::sleep(SETTLE);
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(SourceError::Pcap("the capture thread panicked".into())))
    }
}
