//! Tests for the capture writer: everything written is read back with [`FileSource`].

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::base::{LinkType, Timestamp};
use crate::source::file::{FileFormat, FileSource};
use crate::source::{Frame, FrameSource};

/// (ts, orig_len, data) of every frame in a file, checking numbering and link on the way.
fn read_back(path: &Path, link: LinkType) -> Vec<(i64, u32, Vec<u8>)> {
    let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        assert_eq!(f.number, out.len() as u64 + 1);
        assert_eq!(f.link, link);
        out.push((f.ts.0, f.orig_len, f.data.to_vec()));
    }
    out
}

fn frame(ts: i64, orig_len: u32, data: &[u8]) -> Frame<'_> {
    Frame {
        number: 0,
        ts: Timestamp(ts),
        orig_len,
        link: LinkType::ETHERNET,
        interface: 0,
        data,
    }
}

fn sample() -> Vec<(i64, u32, Vec<u8>)> {
    (0..50u32)
        .map(|i| {
            let data: Vec<u8> = (0..(i * 7 % 61)).map(|b| (b * 3 + i) as u8).collect();
            (
                1_700_000_000_123_456_789 + i64::from(i) * 10_000_001,
                data.len() as u32 + i % 3,
                data,
            )
        })
        .collect()
}

fn write_all(
    path: &Path,
    format: OutputFormat,
    rotation: Rotation,
    frames: &[(i64, u32, Vec<u8>)],
) -> Vec<PathBuf> {
    let mut w = CaptureWriter::create(path, format, LinkType::ETHERNET, 65535, rotation).unwrap();
    for (ts, orig, data) in frames {
        w.write(&frame(*ts, *orig, data)).unwrap();
    }
    w.flush().unwrap();
    w.files().to_vec()
}

fn micros(frames: &[(i64, u32, Vec<u8>)]) -> Vec<(i64, u32, Vec<u8>)> {
    frames
        .iter()
        .map(|(t, o, d)| (t / 1000 * 1000, *o, d.clone()))
        .collect()
}

#[test]
fn round_trip_pcap_and_pcapng() {
    let dir = tempfile::tempdir().unwrap();
    let frames = sample();
    let p = dir.path().join("out.pcap");
    assert_eq!(
        write_all(&p, OutputFormat::Pcap, Rotation::default(), &frames),
        vec![p.clone()]
    );
    assert_eq!(read_back(&p, LinkType::ETHERNET), micros(&frames));
    let src = FileSource::open(p.to_str().unwrap()).unwrap();
    assert_eq!(
        src.format(),
        FileFormat::Pcap {
            nanos: false,
            big_endian: false
        }
    );

    let p = dir.path().join("out.pcapng");
    write_all(&p, OutputFormat::PcapNg, Rotation::default(), &frames);
    assert_eq!(read_back(&p, LinkType::ETHERNET), frames);
    let src = FileSource::open(p.to_str().unwrap()).unwrap();
    assert_eq!(src.format(), FileFormat::PcapNg);
}

#[test]
fn snaplen_cuts_frames() {
    let dir = tempfile::tempdir().unwrap();
    for format in [OutputFormat::Pcap, OutputFormat::PcapNg] {
        let p = dir.path().join("snap");
        let mut w =
            CaptureWriter::create(&p, format, LinkType::RAW, 5, Rotation::default()).unwrap();
        w.write(&frame(1_000, 10, b"0123456789")).unwrap();
        w.flush().unwrap();
        let got = read_back(&p, LinkType::RAW);
        assert_eq!(got, vec![(1_000, 10, b"01234".to_vec())]);
    }
}

#[test]
fn flush_mid_stream_gives_a_readable_file() {
    let dir = tempfile::tempdir().unwrap();
    let frames = sample();
    for format in [OutputFormat::Pcap, OutputFormat::PcapNg] {
        let p = dir.path().join("live");
        let mut w =
            CaptureWriter::create(&p, format, LinkType::ETHERNET, 0, Rotation::default()).unwrap();
        w.flush().unwrap();
        assert!(
            read_back(&p, LinkType::ETHERNET).is_empty(),
            "header alone is valid"
        );
        for (ts, orig, data) in &frames[..10] {
            w.write(&frame(*ts, *orig, data)).unwrap();
        }
        w.flush().unwrap();
        assert_eq!(read_back(&p, LinkType::ETHERNET).len(), 10);
        for (ts, orig, data) in &frames[10..] {
            w.write(&frame(*ts, *orig, data)).unwrap();
        }
        drop(w); // drop flushes
        assert_eq!(read_back(&p, LinkType::ETHERNET).len(), frames.len());
    }
}

#[test]
fn rotation_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cap.pcap");
    // Header 24 + 3 records of 16 + 100 = 372 bytes fit in 400; a fourth would not.
    let frames: Vec<_> = (0..10)
        .map(|i| (i64::from(i) * 1_000_000_000, 100, vec![i as u8; 100]))
        .collect();
    let rot = Rotation {
        max_bytes: Some(400),
        ..Rotation::default()
    };
    let files = write_all(&p, OutputFormat::Pcap, rot, &frames);
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["cap.pcap", "cap.pcap1", "cap.pcap2", "cap.pcap3"]);
    let mut all = Vec::new();
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() <= 400);
        all.extend(read_back(f, LinkType::ETHERNET));
    }
    assert_eq!(all, frames);
    // A packet larger than the limit still gets written, alone in its file.
    let p = dir.path().join("big.pcapng");
    let frames = vec![(0, 1000, vec![1; 1000]), (1, 1000, vec![2; 1000])];
    let files = write_all(
        &p,
        OutputFormat::PcapNg,
        Rotation {
            max_bytes: Some(100),
            ..Rotation::default()
        },
        &frames,
    );
    assert_eq!(files.len(), 2);
    assert_eq!(
        read_back(&files[1], LinkType::ETHERNET),
        vec![frames[1].clone()]
    );
}

#[test]
fn rotation_by_packet_time() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.pcapng");
    let s = 1_000_000_000i64;
    // Files start at the first packet's second: [100, 109] [110, 119] [125] [200].
    let ts = [
        100 * s,
        105 * s,
        109 * s + 999,
        110 * s,
        119 * s,
        125 * s,
        200 * s,
    ];
    let frames: Vec<_> = ts.iter().map(|t| (*t, 1, vec![0xab])).collect();
    let rot = Rotation {
        max_seconds: Some(10),
        ..Rotation::default()
    };
    let files = write_all(&p, OutputFormat::PcapNg, rot, &frames);
    let counts: Vec<usize> = files
        .iter()
        .map(|f| read_back(f, LinkType::ETHERNET).len())
        .collect();
    assert_eq!(counts, [3, 2, 1, 1]);
    assert_eq!(files[3], dir.path().join("t.pcapng3"));
}

#[test]
fn ring_wraps_and_keeps_n_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ring");
    let frames: Vec<_> = (0..25)
        .map(|i| (i64::from(i) * 1_000_000_000, 4, vec![i as u8; 4]))
        .collect();
    let rot = Rotation {
        max_seconds: Some(1),
        ring: Some(12),
        ..Rotation::default()
    };
    let files = write_all(&p, OutputFormat::Pcap, rot, &frames);
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (0..12).map(|i| format!("ring{i:02}")).collect();
    assert_eq!(names, want);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 12);
    // 25 files were started: ring00 holds the 1st, 13th and finally the 25th.
    assert_eq!(
        read_back(&files[0], LinkType::ETHERNET),
        vec![frames[24].clone()]
    );
    assert_eq!(
        read_back(&files[1], LinkType::ETHERNET),
        vec![frames[13].clone()]
    );
}

#[test]
fn write_errors_name_the_path_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no/such/dir/x.pcap");
    let msg = CaptureWriter::create(
        &p,
        OutputFormat::Pcap,
        LinkType::ETHERNET,
        0,
        Rotation::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        msg.contains("x.pcap") && msg.contains("no such directory"),
        "{msg}"
    );
    let msg = CaptureWriter::create(
        dir.path(),
        OutputFormat::Pcap,
        LinkType::ETHERNET,
        0,
        Rotation::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(msg.starts_with("cannot write"), "{msg}");
}

#[test]
fn file_names() {
    let r = |b, s, n| Rotation {
        max_bytes: b,
        max_seconds: s,
        ring: n,
    };
    let base = Path::new("/x/out.pcap");
    assert_eq!(file_name(base, &r(None, None, Some(3)), 5), base);
    assert_eq!(file_name(base, &r(Some(1), None, None), 0), base);
    assert_eq!(
        file_name(base, &r(Some(1), None, None), 2),
        Path::new("/x/out.pcap2")
    );
    assert_eq!(
        file_name(base, &r(None, Some(1), Some(10)), 13),
        Path::new("/x/out.pcap3")
    );
    assert_eq!(
        file_name(base, &r(None, Some(1), Some(11)), 3),
        Path::new("/x/out.pcap03")
    );
    assert_eq!(
        file_name(base, &r(None, Some(1), Some(1)), 3),
        Path::new("/x/out.pcap0")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn write_then_read_round_trip(
        frames in proptest::collection::vec(
            (0i64..4_000_000_000_000_000_000, any::<u32>(), proptest::collection::vec(any::<u8>(), 0..300)),
            0..20,
        ),
        ng in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p");
        let format = if ng { OutputFormat::PcapNg } else { OutputFormat::Pcap };
        write_all(&p, format, Rotation::default(), &frames);
        let want = if ng { frames.clone() } else { micros(&frames) };
        prop_assert_eq!(read_back(&p, LinkType::ETHERNET), want);
    }
}

fn counters(received: u64, os: u64, iface: u64) -> InterfaceStats {
    InterfaceStats {
        taken: Timestamp(1_700_000_100_000_000_000),
        received: Some(received),
        dropped_by_os: Some(os),
        dropped_by_interface: Some(iface),
        ..InterfaceStats::default()
    }
}

#[test]
fn pcapng_ends_with_the_drop_counters() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("isb.pcapng");
    let frames = sample();
    let mut w = CaptureWriter::create(
        &p,
        OutputFormat::PcapNg,
        LinkType::ETHERNET,
        65535,
        Rotation::default(),
    )
    .unwrap();
    for (ts, orig, data) in &frames {
        w.write(&frame(*ts, *orig, data)).unwrap();
    }
    w.finish(Some(counters(60, 7, 3))).unwrap();
    let mut src = FileSource::open(p.to_str().unwrap()).unwrap();
    let mut n = 0;
    while src.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, frames.len());
    let stats = src.interface_stats();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0], counters(60, 7, 3));
    assert_eq!(stats[0].dropped(), 10);
}

#[test]
fn pcap_has_no_room_for_counters() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("isb.pcap");
    let mut w = CaptureWriter::create(
        &p,
        OutputFormat::Pcap,
        LinkType::ETHERNET,
        65535,
        Rotation::default(),
    )
    .unwrap();
    w.write(&frame(1, 3, &[1, 2, 3])).unwrap();
    w.finish(Some(counters(1, 1, 1))).unwrap();
    let mut src = FileSource::open(p.to_str().unwrap()).unwrap();
    while src.next_frame().unwrap().is_some() {}
    assert!(src.interface_stats().is_empty());
    assert_eq!(read_back(&p, LinkType::ETHERNET).len(), 1);
}

#[test]
fn every_rotated_file_ends_with_counters_within_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rot.pcapng");
    let frames: Vec<_> = (0..10)
        .map(|i| (i64::from(i) * 1_000_000_000, 100, vec![i as u8; 100]))
        .collect();
    let rotation = Rotation {
        max_bytes: Some(600),
        ..Rotation::default()
    };
    let mut w =
        CaptureWriter::create(&p, OutputFormat::PcapNg, LinkType::ETHERNET, 0, rotation).unwrap();
    w.set_stats(counters(0, 0, 0));
    for (i, (ts, orig, data)) in frames.iter().enumerate() {
        let f = frame(*ts, *orig, data);
        if w.rotation_due(&f) {
            w.set_stats(counters(i as u64, i as u64, 0));
        }
        w.write(&f).unwrap();
    }
    w.finish(Some(counters(10, 10, 0))).unwrap();
    let files = w.files().to_vec();
    assert!(files.len() > 2, "{files:?}");
    let mut all = Vec::new();
    let mut last_drops = Vec::new();
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() <= 600);
        let mut src = FileSource::open(f.to_str().unwrap()).unwrap();
        while let Some(fr) = src.next_frame().unwrap() {
            all.push(fr.ts.0);
        }
        let stats = src.interface_stats();
        assert_eq!(stats.len(), 1, "{f:?}");
        last_drops.push(stats[0].dropped_by_os.unwrap());
        // Each file's counters were read when its last packet had been written.
        assert_eq!(stats[0].dropped_by_os, Some(all.len() as u64));
    }
    assert_eq!(all.len(), frames.len());
    assert_eq!(*last_drops.last().unwrap(), 10);
}
