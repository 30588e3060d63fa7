//! A record file that rotates like `capture -C/-G/-W` and can be reopened
//! (after logrotate moved it away, on SIGHUP).
//!
//! Records stay whole: its user calls [`Write::flush`] after each record
//! (`watch`'s JSON lines do), and files change only as the next record
//! begins: a file ends with the record that took it to its size (at most one
//! record over `-C`), never inside one, and a reopen asked for puts that next
//! record in the new file. File names are `capture`'s: `FILE`, then
//! `FILE1`, `FILE2` ...; with a ring of N, `FILE0` .. `FILE{N-1}`, reused.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::source::writer::{rotated_file_name, Rotation};

/// A text file written in whole records, rotated and reopened on request.
#[derive(Debug)]
pub struct RotatingFile {
    base: PathBuf,
    rotation: Rotation,
    index: u64,
    file: BufWriter<File>,
    written: u64,
    opened: Instant,
    reopen: Option<Arc<AtomicBool>>,
    /// Nothing written since the last flush: the next write begins a record.
    at_boundary: bool,
}

impl RotatingFile {
    /// Creates the first file. When `reopen` is set (by a SIGHUP handler),
    /// the current file is closed and opened again by name at the next
    /// record boundary, appending.
    pub fn create(
        base: &Path,
        rotation: Rotation,
        reopen: Option<Arc<AtomicBool>>,
    ) -> io::Result<RotatingFile> {
        let path = rotated_file_name(base, &rotation, 0);
        Ok(RotatingFile {
            base: base.to_path_buf(),
            rotation,
            index: 0,
            file: BufWriter::new(File::create(path)?),
            written: 0,
            opened: Instant::now(),
            reopen,
            at_boundary: true,
        })
    }

    /// The file being written now.
    pub fn current_path(&self) -> PathBuf {
        rotated_file_name(&self.base, &self.rotation, self.index)
    }

    /// As a record begins: the next file when the last one is full or old
    /// (opened only now, so a ring's oldest file is not emptied before a
    /// record replaces it), or the same file reopened by name when asked.
    fn record_begins(&mut self) -> io::Result<()> {
        let full = self
            .rotation
            .max_bytes
            .is_some_and(|max| self.written >= max);
        let old = self
            .rotation
            .max_seconds
            .is_some_and(|s| self.opened.elapsed() >= Duration::from_secs(s));
        if full || old {
            self.file.flush()?;
            self.index += 1;
            self.file = BufWriter::new(File::create(self.current_path())?);
            self.written = 0;
            self.opened = Instant::now();
            // A new file by name: nothing left to reopen.
            if let Some(flag) = &self.reopen {
                flag.store(false, Ordering::Relaxed);
            }
        } else if self
            .reopen
            .as_ref()
            .is_some_and(|flag| flag.swap(false, Ordering::Relaxed))
        {
            self.file.flush()?;
            let path = self.current_path();
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            self.written = file.metadata().map_or(0, |m| m.len());
            self.file = BufWriter::new(file);
        }
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.at_boundary {
            self.record_begins()?;
            self.at_boundary = false;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    /// Writes out what is buffered, then rotates or reopens if due: call
    /// it after each whole record.
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.at_boundary = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn rotates_after_whole_records_in_a_ring() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("r.jsonl");
        let rotation = Rotation {
            max_bytes: Some(20),
            max_seconds: None,
            ring: Some(2),
        };
        let mut f = RotatingFile::create(&base, rotation, None).unwrap();
        for i in 0..5 {
            writeln!(f, "{{\"record\":{i:>10}}}").unwrap(); // 24 bytes: one a file
            f.flush().unwrap();
        }
        drop(f);
        // r.jsonl0 got records 0, 2, 4; r.jsonl1 got 1, 3: the ring reused them.
        assert_eq!(
            lines(&dir.path().join("r.jsonl0")),
            [format!("{{\"record\":{:>10}}}", 4)]
        );
        assert_eq!(
            lines(&dir.path().join("r.jsonl1")),
            [format!("{{\"record\":{:>10}}}", 3)]
        );
        assert!(!base.exists());
    }

    #[test]
    fn reopens_by_name_after_the_file_was_moved() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("r.jsonl");
        let flag = Arc::new(AtomicBool::new(false));
        let mut f =
            RotatingFile::create(&base, Rotation::default(), Some(Arc::clone(&flag))).unwrap();
        writeln!(f, "one").unwrap();
        f.flush().unwrap();
        std::fs::rename(&base, dir.path().join("r.jsonl.1")).unwrap();
        flag.store(true, Ordering::Relaxed);
        writeln!(f, "two").unwrap();
        f.flush().unwrap();
        writeln!(f, "three").unwrap();
        f.flush().unwrap();
        assert_eq!(lines(&dir.path().join("r.jsonl.1")), ["one"]);
        assert_eq!(lines(&base), ["two", "three"]);
    }
}
