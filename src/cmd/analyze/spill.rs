//! Spill files for the `--json` document's `dns`, `tls` and `http` arrays
//! (and the findings past the held limit, `overflow.rs`).
//!
//! Why: bounded memory for the JSON document. The document puts `connections`
//! first, yet DNS, TLS and HTTP records are made while connections are still
//! being written; held in memory until the end they grew with the capture
//! (624 MB RSS on a 961 MB capture). Instead each array's records are
//! serialized, as they are emitted, into a temporary file of their own, and
//! the files are copied into the output in order at the end: the document is
//! the same, and memory stays bounded whatever the capture size.
//!
//! The files are unnamed (`tempfile::tempfile` in `std::env::temp_dir()`:
//! `O_TMPFILE` on Linux, else unlinked as soon as created), so nothing is left
//! behind on an error, Ctrl-C or even a kill; the space is freed when the file
//! is dropped or the process ends.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

/// Write buffer of each spill file.
const BUFFER: usize = 64 * 1024;

/// One JSON array's elements, comma-separated, in a temporary file made at
/// the first element.
#[derive(Default)]
pub struct SpillArray {
    file: Option<BufWriter<File>>,
}

impl SpillArray {
    /// Adds an element already serialized.
    pub fn push_raw(&mut self, json: &[u8]) -> io::Result<()> {
        self.next_element()?.write_all(json)
    }

    /// The file, ready for the next element (a comma written after the
    /// previous one), made at the first.
    fn next_element(&mut self) -> io::Result<&mut BufWriter<File>> {
        if let Some(f) = &mut self.file {
            f.write_all(b",")?;
        } else {
            self.file = Some(BufWriter::with_capacity(BUFFER, temp_file()?));
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("netsleuth bug: no spill file"))
    }

    /// Writes `[`, the elements, `]` to `out`; the file goes with `self`.
    pub fn write_array<W: Write + ?Sized>(self, out: &mut W) -> io::Result<()> {
        out.write_all(b"[")?;
        self.write_elements(out, false)?;
        out.write_all(b"]")
    }

    /// Writes the elements alone, after a comma when `after_others` and
    /// there are any: the tail of an array whose head is already written.
    pub fn write_elements<W: Write + ?Sized>(
        self,
        out: &mut W,
        after_others: bool,
    ) -> io::Result<()> {
        if let Some(file) = self.file {
            let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
            file.seek(SeekFrom::Start(0))?;
            if after_others {
                out.write_all(b",")?;
            }
            io::copy(&mut file, out)?;
        }
        Ok(())
    }
}

/// An unnamed temporary file; the error names the directory and the ways out.
fn temp_file() -> io::Result<File> {
    tempfile::tempfile().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot create a temporary file in {} for the JSON document's records: {e}; set TMPDIR to a writable directory, or use --jsonl",
                std::env::temp_dir().display()
            ),
        )
    })
}

/// The held arrays of the `--json` document, in document order.
#[derive(Default)]
pub struct Spill {
    dns: SpillArray,
    tls: SpillArray,
    http: SpillArray,
}

impl Spill {
    /// Adds a record of type `tag` already serialized.
    pub fn push_raw(&mut self, tag: &str, json: &[u8]) -> io::Result<()> {
        match tag {
            "dns" => self.dns.push_raw(json),
            "tls" => self.tls.push_raw(json),
            "http" => self.http.push_raw(json),
            _ => Err(io::Error::other(format!(
                "netsleuth bug: no JSON array for {tag} records"
            ))),
        }
    }

    /// Writes `,"dns":[...],"tls":[...],"http":[...]`.
    pub fn write_arrays<W: Write + ?Sized>(self, out: &mut W) -> io::Result<()> {
        for (tag, array) in [("dns", self.dns), ("tls", self.tls), ("http", self.http)] {
            write!(out, ",\"{tag}\":")?;
            array.write_array(out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Rec {
        conn: u64,
        name: &'static str,
    }

    fn json(v: &Rec) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    fn written(spill: Spill) -> String {
        let mut out = Vec::new();
        spill.write_arrays(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn empty_arrays_make_no_file_and_valid_json() {
        let spill = Spill::default();
        assert!(spill.dns.file.is_none());
        assert_eq!(written(spill), r#","dns":[],"tls":[],"http":[]"#);
    }

    #[test]
    fn records_land_in_their_array_in_order() {
        let mut spill = Spill::default();
        spill
            .push_raw("http", &json(&Rec { conn: 1, name: "a" }))
            .unwrap();
        spill
            .push_raw("dns", &json(&Rec { conn: 2, name: "b" }))
            .unwrap();
        spill
            .push_raw("http", &json(&Rec { conn: 3, name: "c" }))
            .unwrap();
        assert!(spill.tls.file.is_none());
        assert_eq!(
            written(spill),
            r#","dns":[{"conn":2,"name":"b"}],"tls":[],"http":[{"conn":1,"name":"a"},{"conn":3,"name":"c"}]"#
        );
    }

    #[test]
    fn many_records_pass_the_buffer_and_parse_back() {
        let mut array = SpillArray::default();
        let n = 20_000u64;
        for conn in 0..n {
            array.push_raw(&json(&Rec { conn, name: "x" })).unwrap();
        }
        let mut out = Vec::new();
        array.write_array(&mut out).unwrap();
        assert!(out.len() > BUFFER * 4, "the buffer was flushed to the file");
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(v.len() as u64, n);
        assert!(v.iter().enumerate().all(|(i, r)| r["conn"] == i as u64));
    }

    #[test]
    fn an_unknown_tag_is_an_error_not_a_lost_record() {
        let mut spill = Spill::default();
        assert!(spill.push_raw("connection", b"1").is_err());
    }
}
