//! Tests for the capture reader, on captures built byte by byte by an independent builder.

use std::io::{Cursor, Read};

use proptest::prelude::*;

use super::*;
use crate::base::{LinkType, Timestamp};
use crate::source::{FrameSource, SourceError};

#[path = "../../../tests/util/capture_builder.rs"]
mod capture_builder;

use capture_builder::{gzip, payload, PcapBuilder, PcapNgBuilder};

/// A frame copied out of the source, for comparisons.
#[derive(Clone, PartialEq, Eq)]
struct Owned {
    number: u64,
    ts: i64,
    orig_len: u32,
    link: u32,
    interface: u32,
    data: Vec<u8>,
}

impl std::fmt::Debug for Owned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = &self.data[..self.data.len().min(4)];
        write!(
            f,
            "#{} ts={} orig={} link={} if={} data[{}]={head:02x?}",
            self.number,
            self.ts,
            self.orig_len,
            self.link,
            self.interface,
            self.data.len()
        )
    }
}

fn owned(number: u64, ts: i64, orig_len: u32, link: u32, interface: u32, data: &[u8]) -> Owned {
    Owned {
        number,
        ts,
        orig_len,
        link,
        interface,
        data: data.to_vec(),
    }
}

fn source(bytes: Vec<u8>) -> Result<FileSource, SourceError> {
    FileSource::from_reader("test.pcap", Box::new(Cursor::new(bytes)))
}

/// Drains a source: the frames, then the error that ended it, if any.
fn drain(src: &mut FileSource) -> (Vec<Owned>, Option<SourceError>) {
    let mut out = Vec::new();
    loop {
        match src.next_frame() {
            Ok(Some(f)) => out.push(owned(
                f.number,
                f.ts.0,
                f.orig_len,
                f.link.0,
                f.interface,
                f.data,
            )),
            Ok(None) => return (out, None),
            Err(e) => {
                assert!(
                    matches!(src.next_frame(), Ok(None)),
                    "a finished source stays finished"
                );
                return (out, Some(e));
            }
        }
    }
}

fn read_all(bytes: Vec<u8>) -> Vec<Owned> {
    let mut src = source(bytes).expect("opens");
    let (frames, err) = drain(&mut src);
    assert!(err.is_none(), "unexpected error {err:?}");
    frames
}

fn sample_pcap(big_endian: bool, nanos: bool) -> (Vec<u8>, Vec<Owned>) {
    let unit = if nanos { 1 } else { 1000 };
    let mut b = PcapBuilder::new(1, 128, big_endian, nanos);
    let p1 = payload(1, 60);
    let p2 = payload(2, 1);
    let p3 = payload(3, 128);
    b.packet(1_700_000_000, 123_456, 60, &p1);
    b.packet(1_700_000_001, 999_999, 1, &p2);
    b.packet(4_000_000_000, 7, 1514, &p3);
    b.packet(0, 0, 0, &[]);
    let ns = |s: i64, f: i64| s * 1_000_000_000 + f * unit;
    let frames = vec![
        owned(1, ns(1_700_000_000, 123_456), 60, 1, 0, &p1),
        owned(2, ns(1_700_000_001, 999_999), 1, 1, 0, &p2),
        owned(3, ns(4_000_000_000, 7), 1514, 1, 0, &p3),
        owned(4, 0, 0, 1, 0, &[]),
    ];
    (b.bytes(), frames)
}

#[test]
fn pcap_all_byte_orders_and_precisions() {
    for big_endian in [false, true] {
        for nanos in [false, true] {
            let (bytes, want) = sample_pcap(big_endian, nanos);
            let len = bytes.len() as u64;
            let mut src = source(bytes).unwrap();
            assert_eq!(src.format(), FileFormat::Pcap { nanos, big_endian });
            assert!(!src.is_gzip());
            assert_eq!(src.link_type(), Some(LinkType::ETHERNET));
            let (got, err) = drain(&mut src);
            assert!(err.is_none());
            assert_eq!(got, want, "be={big_endian} ns={nanos}");
            assert_eq!(src.bytes_consumed(), len);
            assert!(got[2].data.len() < got[2].orig_len as usize);
        }
    }
}

/// Two sections (LE then BE), three interfaces with different link types and
/// resolutions, every kind of block.
fn sample_pcapng() -> (Vec<u8>, Vec<Owned>) {
    let mut b = PcapNgBuilder::new(false);
    b.idb(1, 0, None, None) // micro (default)
        .idb(101, 0, Some(9), None) // nano
        .idb(113, 0, Some(0x8a), Some(100)); // 2^-10 s, +100 s
    let (a, c, d, e) = (
        payload(10, 42),
        payload(11, 43),
        payload(12, 1500),
        payload(13, 7),
    );
    b.epb(0, 1_700_000_000_123_456, 42, &a);
    b.nrb();
    b.epb(1, 1_700_000_000_987_654_321, 100, &c);
    b.block(0x1234_5678, b"unknown body");
    b.epb(2, 5 * 1024 + 3, 1500, &d);
    b.isb(0);
    b.dsb(0x544c_534b, b"CLIENT_RANDOM 00 11\n");
    b.block(0x0000_0bad, &[1, 2, 3, 4, 5]); // custom block
    b.spb(7, &e);
    b.opb(1, 2_000_000_000_000_000_001, 7, &e);
    let mut be = PcapNgBuilder::new(true);
    be.idb(276, 4, Some(3), None); // milliseconds, snaplen 4
    be.epb(0, 1_500, 7, &e[..4]);
    be.spb(7, &e); // SPB captured length limited by snaplen 4
    be.dsb(1, b"x");
    b.raw(&be.bytes());
    let f = |sec: i64, nanos: i64| sec * 1_000_000_000 + nanos;
    // 5*1024+3 units of 1/1024 s = 5 s + 3/1024 s = 2_929_687.5 ns, floored.
    let want = vec![
        owned(1, f(1_700_000_000, 123_456_000), 42, 1, 0, &a),
        owned(2, f(1_700_000_000, 987_654_321), 100, 101, 1, &c),
        owned(3, f(105, 2_929_687), 1500, 113, 2, &d),
        owned(4, f(105, 2_929_687), 7, 1, 0, &e),
        owned(5, f(2_000_000_000, 1), 7, 101, 1, &e),
        owned(6, f(1, 500_000_000), 7, 276, 0, &e[..4]),
        owned(7, f(1, 500_000_000), 7, 276, 0, &e[..4]),
    ];
    (b.bytes(), want)
}

#[test]
fn pcapng_sections_interfaces_and_blocks() {
    let (bytes, want) = sample_pcapng();
    let len = bytes.len() as u64;
    let mut src = source(bytes).unwrap();
    assert_eq!(src.format(), FileFormat::PcapNg);
    let (got, err) = drain(&mut src);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, want);
    assert_eq!(src.link_type(), Some(LinkType::ETHERNET));
    assert_eq!(src.bytes_consumed(), len);
    assert_eq!(
        src.decryption_secrets(),
        &[
            (0x544c_534b, b"CLIENT_RANDOM 00 11\n".to_vec()),
            (1, b"x".to_vec())
        ]
    );
}

#[test]
fn pcapng_unknown_interface_is_malformed() {
    let mut b = PcapNgBuilder::new(false);
    b.idb(1, 0, None, None)
        .epb(0, 1, 1, b"a")
        .epb(5, 2, 1, b"b");
    let mut src = source(b.bytes()).unwrap();
    let (got, err) = drain(&mut src);
    assert_eq!(got.len(), 1);
    let msg = err.expect("error").to_string();
    assert!(msg.contains("interface 5"), "{msg}");
    // A new section forgets the interfaces of the previous one.
    let mut b = PcapNgBuilder::new(false);
    b.idb(1, 0, None, None).section().spb(1, b"a");
    let (got, err) = drain(&mut source(b.bytes()).unwrap());
    assert!(got.is_empty());
    assert!(matches!(err, Some(SourceError::Malformed { .. })));
}

#[test]
fn gzip_single_and_multi_member() {
    let (pcap, want) = sample_pcap(false, true);
    let mut src = source(gzip(&pcap)).unwrap();
    assert!(src.is_gzip());
    assert_eq!(drain(&mut src).0, want);
    assert_eq!(src.bytes_consumed(), pcap.len() as u64);

    let (ng, want) = sample_pcapng();
    for split in [1, 4, 30, ng.len() / 2, ng.len() - 1] {
        let mut two = gzip(&ng[..split]);
        two.extend(gzip(&ng[split..]));
        assert_eq!(read_all(two), want, "split at {split}");
    }
}

#[test]
fn gzip_corrupt_or_cut_is_a_read_error() {
    let (pcap, want) = sample_pcap(false, false);
    let mut big = PcapBuilder::new(1, 65535, false, false);
    for i in 0..2000 {
        big.packet(i, 0, 200, &payload(i, 200));
    }
    let gz = gzip(&big.bytes());
    let mut src = source(gz[..gz.len() / 2].to_vec()).unwrap();
    let (got, err) = drain(&mut src);
    assert!(!got.is_empty() && got.len() < 2000);
    assert!(matches!(err, Some(SourceError::Read { .. })), "{err:?}");
    let _ = (pcap, want);
}

#[test]
fn truncated_at_every_offset() {
    let (pcap, pcap_frames) = sample_pcap(true, false);
    let (ng, ng_frames) = sample_pcapng();
    for (full, frames) in [(pcap, pcap_frames), (ng, ng_frames)] {
        for cut in 0..full.len() {
            let Ok(mut src) = source(full[..cut].to_vec()) else {
                continue; // header itself cut: an error from open
            };
            let (got, err) = drain(&mut src);
            assert_eq!(got[..], frames[..got.len()], "cut at {cut}");
            match err {
                None => {}
                Some(SourceError::Malformed { offset, reason, .. }) => {
                    assert!(offset <= cut as u64, "cut {cut} offset {offset}");
                    assert!(
                        reason.contains("file ends in the middle"),
                        "cut {cut}: {reason}"
                    );
                }
                Some(e) => panic!("cut at {cut}: {e}"),
            }
        }
    }
}

#[test]
fn truncation_is_told_apart_from_clean_end() {
    let (pcap, _) = sample_pcap(false, false);
    // Cut exactly after the second record: clean end.
    let clean = 24 + 16 + 60 + 16 + 1;
    let (got, err) = drain(&mut source(pcap[..clean].to_vec()).unwrap());
    assert_eq!((got.len(), err.is_none()), (2, true));
    let (got, err) = drain(&mut source(pcap[..clean + 20].to_vec()).unwrap());
    assert_eq!(got.len(), 2);
    match err {
        Some(SourceError::Malformed { offset, .. }) => assert_eq!(offset, clean as u64),
        other => panic!("{other:?}"),
    }
}

#[test]
fn impossible_lengths_are_malformed() {
    let mut b = PcapBuilder::new(1, 65535, false, false);
    b.packet(1, 0, 4, b"abcd")
        .record(2, 0, 0xffff_fff0, 10, b"xx");
    let (got, err) = drain(&mut source(b.bytes()).unwrap());
    assert_eq!(got.len(), 1);
    match err {
        Some(SourceError::Malformed { offset, reason, .. }) => {
            assert_eq!(offset, 24 + 16 + 4);
            assert!(reason.contains("4294967280"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // pcapng block whose length field is absurd, and an EPB whose caplen exceeds its block.
    let mut b = PcapNgBuilder::new(false);
    b.idb(1, 0, None, None)
        .raw(&[6, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    assert!(matches!(
        drain(&mut source(b.bytes()).unwrap()).1,
        Some(SourceError::Malformed { .. })
    ));
    let mut b = PcapNgBuilder::new(false);
    let mut body = vec![0u8; 20];
    body[12] = 200; // caplen 200 in a 40-byte block
    b.idb(1, 0, None, None).block(6, &body).epb(0, 1, 1, b"z");
    let (got, err) = drain(&mut source(b.bytes()).unwrap());
    assert!(got.is_empty());
    assert!(
        matches!(err, Some(SourceError::Malformed { .. })),
        "{err:?}"
    );
}

/// Found by fuzzing: a Process Information Block claiming 4 bytes made pcap-parser
/// subtract with overflow.
#[test]
fn regression_short_process_information_block() {
    let mut b = PcapNgBuilder::new(false);
    b.raw(&[1, 0, 0, 0x80, 4, 0, 0, 0, 0, 0, 0, 0x80]);
    let (got, err) = drain(&mut source(b.bytes()).unwrap());
    assert!(got.is_empty());
    match err {
        Some(SourceError::Malformed { offset, reason, .. }) => {
            assert_eq!(offset, PcapNgBuilder::new(false).bytes().len() as u64);
            assert!(reason.contains("length of 4"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn records_larger_than_the_initial_buffer() {
    let big = payload(7, 3 << 20);
    let mut b = PcapBuilder::new(1, 8 << 20, false, false);
    b.packet(1, 2, 3 << 20, &big).packet(3, 4, 1, b"x");
    let got = read_all(b.bytes());
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].data, big);
    let mut b = PcapNgBuilder::new(false);
    b.idb(1, 0, None, None)
        .epb(0, 9, 5 << 20, &big)
        .epb(0, 10, 1, b"y");
    let got = read_all(b.bytes());
    assert_eq!(
        (got[0].data == big, got[1].data.as_slice()),
        (true, &b"y"[..])
    );
}

/// A stream that hands out one byte per read, like a slow pipe.
struct Trickle(Cursor<Vec<u8>>);

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn slow_streams_read_the_same() {
    for (bytes, want) in [sample_pcap(false, false), sample_pcapng()] {
        let mut src =
            FileSource::from_reader("-", Box::new(Trickle(Cursor::new(bytes.clone())))).unwrap();
        assert_eq!(drain(&mut src).0, want);
        let gz = gzip(&bytes);
        let mut src = FileSource::from_reader("-", Box::new(Trickle(Cursor::new(gz)))).unwrap();
        assert_eq!(drain(&mut src).0, want);
    }
}

fn not_a_capture(bytes: &[u8]) -> String {
    match source(bytes.to_vec()) {
        Err(SourceError::NotACapture { found, .. }) => found,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("accepted {bytes:?}"),
    }
}

#[test]
fn not_a_capture_descriptions() {
    assert_eq!(not_a_capture(b""), "an empty file");
    assert_eq!(not_a_capture(b"  {\"a\": 1}"), "a JSON document");
    assert_eq!(not_a_capture(b"<!DOCTYPE html><html>"), "an HTML document");
    assert_eq!(
        not_a_capture(b"PK\x03\x04rest"),
        "a zip archive; unzip it first"
    );
    assert_eq!(not_a_capture(b"\x7fELF\x02\x01"), "an ELF executable");
    assert_eq!(
        not_a_capture(b"hello\tworld \"quoted\" and a very long line that goes on\n"),
        "text starting with \"hello\\tworld \\\"quoted\\\" and a very \""
    );
    assert_eq!(
        not_a_capture(&[0x12, 0x34, 0x56, 0x78, 0x00]),
        "a file starting with bytes 12 34 56 78 00"
    );
    assert_eq!(
        not_a_capture(&gzip(b"GET / HTTP/1.1\r\n")),
        "a gzip file whose content is not a capture (the content is text starting with \"GET / HTTP/1.1\\r\\n\")"
    );
    let e = source(b"hi".to_vec()).err().unwrap().to_string();
    assert_eq!(
        e,
        "test.pcap is not a pcap or pcapng capture: text starting with \"hi\""
    );
}

#[test]
fn open_errors_name_the_path_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pcap");
    let msg = FileSource::open(missing.to_str().unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("nope.pcap") && msg.contains("check the path"),
        "{msg}"
    );
    let msg = FileSource::open(dir.path().to_str().unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("directory"), "{msg}");
    let path = dir.path().join("ok.pcap");
    std::fs::write(&path, sample_pcap(false, false).0).unwrap();
    let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
    assert_eq!(drain(&mut src).0.len(), 4);
}

#[test]
fn header_cut_short_is_malformed() {
    let (pcap, _) = sample_pcap(false, false);
    assert!(matches!(
        source(pcap[..10].to_vec()),
        Err(SourceError::Malformed { .. })
    ));
    let (ng, _) = sample_pcapng();
    assert!(matches!(
        source(ng[..10].to_vec()),
        Err(SourceError::Malformed { .. })
    ));
    assert!(matches!(
        source(ng[..30].to_vec()),
        Err(SourceError::Malformed { .. })
    ));
}

#[test]
fn timestamps_from_parts() {
    let i = Iface {
        link: LinkType(1),
        snaplen: 0,
        units: 1 << 10,
        offset: -1,
    };
    assert_eq!(i.ts(1024 + 512), Timestamp(500_000_000));
    let i = Iface {
        units: 1_000_000_000_000,
        offset: 0,
        ..i
    };
    assert_eq!(i.ts(1_000_000_000_001_999), Timestamp(1_000_000_000_001));
}

fn drain_bounded(bytes: Vec<u8>) {
    if let Ok(mut src) = source(bytes) {
        for _ in 0..100_000 {
            match src.next_frame() {
                Ok(Some(f)) => assert!(f.number > 0),
                Ok(None) | Err(_) => return,
            }
        }
        panic!("did not terminate");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        drain_bounded(bytes);
    }

    #[test]
    fn random_bytes_after_headers_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..600),
        kind in 0..4u8,
    ) {
        let mut bytes = match kind {
            0 => PcapBuilder::new(1, 65535, false, false).bytes(),
            1 => PcapBuilder::new(1, 65535, true, true).bytes(),
            2 => PcapNgBuilder::new(false).idb(1, 0, None, None).bytes(),
            _ => PcapNgBuilder::new(true).idb(1, 0, Some(0x89), None).bytes(),
        };
        bytes.extend(tail);
        drain_bounded(bytes.clone());
        drain_bounded(gzip(&bytes));
    }
}

/// Throughput check, not a timed test: writes a ~500 MB pcap and pcapng with
/// `CaptureWriter`, gzips the pcap, reads each back and prints MB/s.
/// Run with `cargo test --release --lib throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    use crate::source::writer::{CaptureWriter, OutputFormat, Rotation};
    use crate::source::Frame;
    use std::time::Instant;

    let dir = std::env::var("NETSLEUTH_BENCH_DIR").unwrap_or_else(|_| "/tmp".into());
    let dir = std::path::Path::new(&dir);
    let target: u64 = 500_000_000;
    let template: Vec<u8> = (0..1514u32).map(|i| (i * 7 % 251) as u8).collect();
    let time = |path: &std::path::Path, label: &str| {
        let start = Instant::now();
        let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
        let (mut n, mut sum) = (0u64, 0u64);
        while let Some(f) = src.next_frame().unwrap() {
            n += 1;
            sum += f.data.len() as u64 + u64::from(f.data.first().copied().unwrap_or(0));
        }
        let secs = start.elapsed().as_secs_f64();
        let size = std::fs::metadata(path).unwrap().len();
        let mb = src.bytes_consumed() as f64 / 1e6;
        println!(
            "{label}: {n} frames, {:.0} MB on disk, {mb:.0} MB parsed in {secs:.2} s = {:.0} MB/s ({:.1} Mpkt/s) [{sum}]",
            size as f64 / 1e6,
            mb / secs,
            n as f64 / secs / 1e6
        );
    };
    for (format, name) in [
        (OutputFormat::Pcap, "big.pcap"),
        (OutputFormat::PcapNg, "big.pcapng"),
    ] {
        let path = dir.join(name);
        let mut w =
            CaptureWriter::create(&path, format, LinkType::ETHERNET, 0, Rotation::default())
                .unwrap();
        let (mut written, mut i) = (0u64, 0u64);
        let start = Instant::now();
        while written < target {
            let len = [60usize, 1514, 590, 66, 1514, 120][(i % 6) as usize];
            let mut data = template[..len].to_vec();
            // Half the bytes pseudo-random, so gzip compresses roughly like real traffic.
            let mut x = (i as u32).wrapping_mul(2_654_435_761) | 1;
            for b in data.iter_mut().take(len / 2) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            let frame = Frame {
                number: 0,
                ts: Timestamp(1_700_000_000_000_000_000 + i as i64 * 1000),
                orig_len: len as u32,
                link: LinkType::ETHERNET,
                interface: 0,
                data: &data,
            };
            w.write(&frame).unwrap();
            written += len as u64 + 16;
            i += 1;
        }
        w.flush().unwrap();
        drop(w);
        println!(
            "write {name}: {:.0} MB/s",
            written as f64 / 1e6 / start.elapsed().as_secs_f64()
        );
        time(&path, name);
        if format == OutputFormat::Pcap {
            let gz = dir.join("big.pcap.gz");
            let mut enc = flate2::write::GzEncoder::new(
                std::io::BufWriter::new(std::fs::File::create(&gz).unwrap()),
                flate2::Compression::fast(),
            );
            std::io::copy(&mut std::fs::File::open(&path).unwrap(), &mut enc).unwrap();
            enc.finish().unwrap();
            time(&gz, "big.pcap.gz");
            std::fs::remove_file(&gz).unwrap();
        }
        std::fs::remove_file(&path).unwrap();
    }
}

/// Interface Statistics Blocks as other tools write them: both byte orders,
/// several sections and interfaces, the last block per interface winning.
#[test]
fn interface_statistics_blocks_last_one_wins_per_interface() {
    let mut b = PcapNgBuilder::new(false);
    b.idb(1, 0, None, None).idb(1, 0, Some(9), None);
    b.epb(0, 1_700_000_000_000_000, 3, &[1, 2, 3]);
    b.isb_counters(0, 1_700_000_000_500_000, &[(4, 10), (5, 1)]);
    b.isb_counters(1, 0, &[(4, 7)]);
    b.isb_counters(0, 1_700_000_001_000_000, &[(4, 20), (5, 4), (7, 2)]);
    let mut be = PcapNgBuilder::new(true);
    be.idb(1, 0, None, None);
    be.isb_counters(0, 5, &[(4, 99), (7, 9), (2, 0)]);
    // An ISB for an interface never described is still counted, without a time.
    be.isb_counters(3, 5, &[(5, 1)]);
    b.raw(&be.bytes());
    let mut src = source(b.bytes()).unwrap();
    let (frames, err) = drain(&mut src);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames.len(), 1);
    let s = src.interface_stats();
    assert_eq!(s.len(), 4, "{s:?}");
    let first = s[0];
    assert_eq!((first.section, first.interface), (0, 0));
    assert_eq!(first.received, Some(20));
    assert_eq!(first.dropped_by_interface, Some(4));
    assert_eq!(first.dropped_by_os, Some(2));
    assert_eq!(first.taken.0, 1_700_000_001_000_000_000);
    assert_eq!(
        (s[1].interface, s[1].received, s[1].dropped()),
        (1, Some(7), 0)
    );
    assert_eq!(
        (s[2].section, s[2].received, s[2].dropped_by_os),
        (1, Some(99), Some(9))
    );
    assert_eq!((s[3].section, s[3].interface, s[3].dropped()), (1, 3, 1));
    assert_eq!(s[3].taken.0, 0);
}

#[test]
fn pcap_files_have_no_interface_statistics() {
    let (bytes, _) = sample_pcap(false, false);
    let mut src = source(bytes).unwrap();
    let _ = drain(&mut src);
    assert!(src.interface_stats().is_empty());
}
