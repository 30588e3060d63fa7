//! Profiles built here by encoding the prost messages, then read back.

use super::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;

/// The top-level `Profile` message, for encoding only (the parser walks it by
/// hand). `mapping` is raw bytes: the parser skips it.
#[derive(Clone, PartialEq, prost::Message)]
struct PbProfile {
    #[prost(message, repeated, tag = "1")]
    sample_type: Vec<wire::ValueType>,
    #[prost(message, repeated, tag = "2")]
    sample: Vec<wire::Sample>,
    #[prost(bytes = "vec", repeated, tag = "3")]
    mapping: Vec<Vec<u8>>,
    #[prost(message, repeated, tag = "4")]
    location: Vec<wire::Location>,
    #[prost(message, repeated, tag = "5")]
    function: Vec<wire::Function>,
    #[prost(string, repeated, tag = "6")]
    string_table: Vec<String>,
    #[prost(int64, tag = "7")]
    drop_frames: i64,
    #[prost(int64, tag = "9")]
    time_nanos: i64,
    #[prost(int64, tag = "10")]
    duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    period_type: Option<wire::ValueType>,
    #[prost(int64, tag = "12")]
    period: i64,
    #[prost(int64, repeated, tag = "13")]
    comment: Vec<i64>,
    #[prost(int64, tag = "14")]
    default_sample_type: i64,
}

struct Builder {
    p: PbProfile,
}

impl Builder {
    fn new(types: &[(&str, &str)]) -> Builder {
        let mut b = Builder {
            p: PbProfile {
                string_table: vec![String::new()],
                ..PbProfile::default()
            },
        };
        for (kind, unit) in types {
            let vt = b.vt(kind, unit);
            b.p.sample_type.push(vt);
        }
        b
    }

    fn s(&mut self, x: &str) -> i64 {
        let t = &mut self.p.string_table;
        let i = t.iter().position(|s| s == x).unwrap_or_else(|| {
            t.push(x.to_string());
            t.len() - 1
        });
        i as i64
    }

    fn vt(&mut self, kind: &str, unit: &str) -> wire::ValueType {
        wire::ValueType {
            r#type: self.s(kind),
            unit: self.s(unit),
        }
    }

    fn function(&mut self, id: u64, name: &str, file: &str) {
        let f = wire::Function {
            id,
            name: self.s(name),
            system_name: self.s(name),
            filename: self.s(file),
            start_line: 1,
        };
        self.p.function.push(f);
    }

    /// A location whose lines are given innermost first.
    fn location(&mut self, id: u64, lines: &[(u64, i64)]) {
        let line = lines
            .iter()
            .map(|&(function_id, line)| wire::Line {
                function_id,
                line,
                column: 0,
            })
            .collect();
        self.p.location.push(wire::Location {
            id,
            mapping_id: 1,
            address: 0x40_0000 + id,
            line,
            is_folded: false,
        });
    }

    fn sample(&mut self, locs: &[u64], values: &[i64], label: Vec<wire::Label>) {
        self.p.sample.push(wire::Sample {
            location_id: locs.to_vec(),
            value: values.to_vec(),
            label,
        });
    }

    fn str_label(&mut self, key: &str, value: &str) -> wire::Label {
        wire::Label {
            key: self.s(key),
            str: self.s(value),
            num: 0,
            num_unit: 0,
        }
    }

    fn num_label(&mut self, key: &str, num: i64, unit: &str) -> wire::Label {
        wire::Label {
            key: self.s(key),
            str: 0,
            num,
            num_unit: self.s(unit),
        }
    }

    fn raw(&self) -> Vec<u8> {
        self.p.encode_to_vec()
    }

    fn gz(&self) -> Vec<u8> {
        gzip(&self.raw())
    }
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

fn frame(function: &str, file: &str, line: u32) -> StackFrame {
    StackFrame {
        function: function.into(),
        file: file.into(),
        line,
    }
}

/// A goroutine profile: one location with an inlined call, ids not dense.
fn goroutines() -> Builder {
    let mut b = Builder::new(&[("goroutine", "count")]);
    b.p.period_type = Some(b.vt("goroutine", "count"));
    b.p.period = 1;
    b.p.time_nanos = 1_700_000_000_123_456_789;
    b.p.mapping.push(vec![0x08, 0x01, 0x28, 0x7f]);
    b.p.comment = vec![0];
    b.function(7, "main.inner", "/src/a.go");
    b.function(1 << 40, "main.outer", "/src/a.go");
    b.function(3, "runtime.gopark", "/go/src/runtime/proc.go");
    b.location(1 << 50, &[(7, 5), (1 << 40, 20)]);
    b.location(9, &[(3, 364)]);
    let labels = vec![
        b.str_label("worker", "1"),
        b.num_label("bytes", 4096, "bytes"),
        b.num_label("n", -7, ""),
    ];
    b.sample(&[9, 1 << 50], &[3], labels);
    b.sample(&[1 << 50], &[2], vec![]);
    b
}

#[test]
fn reads_every_field() {
    let b = goroutines();
    let p = parse(&b.gz()).unwrap();
    assert_eq!(
        p.sample_types,
        vec![SampleType {
            kind: "goroutine".into(),
            unit: "count".into()
        }]
    );
    assert_eq!(p.period_type, Some(p.sample_types[0].clone()));
    assert_eq!(p.period, 1);
    assert_eq!(p.time, Some(Timestamp(1_700_000_000_123_456_789)));
    assert_eq!(p.duration, None);
    assert_eq!((p.dropped, p.truncated), (0, 0));
    assert_eq!(p.dropped_values, vec![0]);
    assert_eq!(p.samples.len(), 2);
    let s = &p.samples[0];
    assert_eq!(s.values, vec![3]);
    assert_eq!(
        s.frames,
        vec![
            frame("runtime.gopark", "/go/src/runtime/proc.go", 364),
            frame("main.inner", "/src/a.go", 5),
            frame("main.outer", "/src/a.go", 20),
        ]
    );
    assert_eq!(
        s.labels,
        vec![
            ("bytes".to_string(), "4096 bytes".to_string()),
            ("n".to_string(), "-7".to_string()),
            ("worker".to_string(), "1".to_string()),
        ]
    );
    assert_eq!(p.samples[1].frames, s.frames[1..]);
    assert!(p.samples[1].labels.is_empty());
    // Raw protobuf, and gzip after whitespace, read the same.
    assert_eq!(parse(&b.raw()).unwrap(), p);
    let mut spaced = b"\n  ".to_vec();
    spaced.extend(b.gz());
    assert_eq!(parse(&spaced).unwrap(), p);
    // Two gzip members are one stream.
    let raw = b.raw();
    let (x, y) = raw.split_at(raw.len() / 2);
    assert_eq!(parse(&[gzip(x), gzip(y)].concat()).unwrap(), p);
}

#[test]
fn into_dump_maps_samples_to_goroutines() {
    let d = parse(&goroutines().gz()).unwrap().into_dump().unwrap();
    assert_eq!(d.format, DumpFormat::Protobuf);
    assert_eq!(d.taken_at, Some(Timestamp(1_700_000_000_123_456_789)));
    assert_eq!((d.total, d.dropped), (5, 0));
    assert_eq!(d.goroutines.len(), 2);
    let g = &d.goroutines[0];
    assert_eq!((g.id, g.count, &g.state, g.wait), (None, 3, &None, None));
    assert_eq!(g.created_by, None);
    assert_eq!(g.frames[0].function, "runtime.gopark");
    assert_eq!(g.labels[2], ("worker".to_string(), "1".to_string()));
    assert_eq!(d.goroutines[1].count, 2);
}

fn cpu() -> Builder {
    let mut b = Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    b.p.period_type = Some(b.vt("cpu", "nanoseconds"));
    b.p.period = 10_000_000;
    b.p.duration_nanos = 300_000_000;
    b.function(1, "crypto/tls.(*Conn).Handshake", "tls.go");
    b.function(2, "runtime.gcBgMarkWorker", "mgc.go");
    b.function(3, "main.spin", "main.go");
    b.location(1, &[(1, 10)]);
    b.location(2, &[(2, 20)]);
    b.location(3, &[(3, 30)]);
    b.sample(&[1, 3], &[3, 30_000_000], vec![]);
    b.sample(&[2], &[1, 10_000_000], vec![]);
    b.sample(&[3], &[6, 60_000_000], vec![]);
    b
}

#[test]
fn cpu_profile_totals_and_shares() {
    let p = parse(&cpu().gz()).unwrap();
    assert!(p.is_cpu());
    assert_eq!(p.duration, Some(Duration::from_millis(300)));
    assert_eq!(p.time, None);
    assert_eq!(p.value_index("cpu"), Some(1));
    assert_eq!(p.value_index("goroutine"), None);
    assert_eq!(p.total("cpu"), 100_000_000);
    assert_eq!(p.total("samples"), 10);
    assert_eq!(p.total("delay"), 0);
    let tls = |f: &[StackFrame]| f.iter().any(|f| f.function.starts_with("crypto/tls."));
    assert!((p.share_where("cpu", tls) - 0.3).abs() < 1e-9);
    assert!((p.share_where("cpu", |_| true) - 1.0).abs() < 1e-9);
    assert_eq!(p.share_where("delay", |_| true), 0.0);
    assert_eq!(
        p.into_dump().unwrap_err().to_string(),
        "pprof profile: this is a cpu profile (samples/count, cpu/nanoseconds), \
         not a goroutine dump: fetch /debug/pprof/goroutine"
    );
    assert!(!parse(&goroutines().gz()).unwrap().is_cpu());
}

#[test]
fn other_profiles_are_named() {
    let msg = |types: &[(&str, &str)]| {
        let p = parse(&Builder::new(types).raw()).unwrap();
        match p.into_dump() {
            Err(DumpError::Profile(m)) => m,
            other => panic!("{other:?}"),
        }
    };
    let m = msg(&[("contentions", "count"), ("delay", "nanoseconds")]);
    assert!(m.starts_with("this is a block or mutex profile (contentions/count, delay"));
    assert!(msg(&[("alloc_objects", "count"), ("alloc_space", "bytes")]).contains("a heap"));
    assert!(msg(&[("threadcreate", "count")]).starts_with("this is a threadcreate profile"));
    assert!(msg(&[]).starts_with("this profile has no sample types"));
    // goroutine with another unit is not a goroutine dump.
    assert!(msg(&[("goroutine", "bytes")]).contains("not a goroutine dump"));
}

fn error_of(b: &Builder) -> String {
    match parse(&b.gz()) {
        Err(DumpError::Profile(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn out_of_range_indices_are_errors() {
    let mut b = goroutines();
    b.p.sample[1].location_id.push(99);
    assert_eq!(error_of(&b), "sample 1: location id 99 not in the profile");

    let mut b = goroutines();
    b.p.location[1].line[0].function_id = 4;
    assert_eq!(error_of(&b), "location 9: function id 4 not in the profile");

    let n = goroutines().p.string_table.len();
    let range = format!("out of range (the string table has {n} entries)");
    let mut b = goroutines();
    b.p.function[0].name = 1000;
    assert_eq!(
        error_of(&b),
        format!("function 7 name: string index 1000 {range}")
    );
    let mut b = goroutines();
    b.p.function[1].filename = -1;
    let want = format!("function 1099511627776 filename: string index -1 {range}");
    assert_eq!(error_of(&b), want);
    let mut b = goroutines();
    b.p.sample[0].label[0].key = n as i64;
    let want = format!("sample 0 label 0 key: string index {n} {range}");
    assert_eq!(error_of(&b), want);
    let mut b = goroutines();
    b.p.sample[0].label[0].str = 500;
    assert!(error_of(&b).starts_with("sample 0 label 0 str: string index 500"));
    let mut b = goroutines();
    b.p.sample[0].label[1].num_unit = 500;
    assert!(error_of(&b).starts_with("sample 0 label 1 num_unit"));
    let mut b = goroutines();
    b.p.sample_type[0].unit = 77;
    assert!(error_of(&b).starts_with("sample_type 0 unit: string index 77"));
    let mut b = goroutines();
    b.p.period_type.as_mut().unwrap().r#type = 78;
    assert!(error_of(&b).starts_with("period_type type: string index 78"));
    let mut b = goroutines();
    b.p.sample[0].value.push(1);
    assert_eq!(error_of(&b), "sample 0: 2 values for 1 sample types");
}

#[test]
fn a_function_without_a_name_uses_its_system_name() {
    let mut b = goroutines();
    b.p.function[0].name = 0;
    b.p.function[0].system_name = b.s("sys_inner");
    let p = parse(&b.raw()).unwrap();
    assert_eq!(p.samples[0].frames[1].function, "sys_inner");
}

#[test]
fn a_location_without_lines_is_its_address() {
    let mut b = goroutines();
    b.location(5, &[]);
    b.sample(&[5], &[1], vec![]);
    let p = parse(&b.raw()).unwrap();
    assert_eq!(p.samples[2].frames, vec![frame("0x400005", "", 0)]);
}

#[test]
fn malformed_wire_is_an_error_naming_the_byte() {
    // sample (field 2) as a varint.
    assert_eq!(
        parse(&[0x10, 0x01]).unwrap_err(),
        DumpError::Profile("byte 0: sample has the wrong wire type".into())
    );
    // A length past the end.
    let e = parse(&[0x0a, 0x05, 0x08]).unwrap_err().to_string();
    assert!(e.contains("byte 0: field runs past the end"), "{e}");
    // Unknown fields are skipped; a group wire type is not.
    assert_eq!(parse(&[0x78, 0x01]).unwrap(), Profile::default());
    assert!(parse(&[0x7b]).is_err());
    // A sample that is not a Sample message.
    assert!(parse(&[0x12, 0x02, 0x0a, 0x05])
        .unwrap_err()
        .to_string()
        .starts_with("pprof profile: sample 0: "));
}

#[test]
fn every_truncation_is_an_error_or_a_profile() {
    let b = goroutines();
    let gz = b.gz();
    for n in 0..gz.len() {
        let r = parse(&gz[..n]);
        assert!(n == 0 || r.is_err(), "gzip cut at {n} read as {r:?}");
    }
    let raw = b.raw();
    for n in 0..raw.len() {
        let _ = parse(&raw[..n]);
    }
}

#[test]
fn inflating_is_bounded() {
    let gz = gzip(&vec![0u8; (1 << 20) + 1]);
    let e = inflate(&gz, 1 << 20).unwrap_err();
    assert_eq!(
        e,
        DumpError::Profile("gzip: inflates past the limit of 1 MiB; not read".into())
    );
    assert_eq!(inflate(&gz, 2 << 20).unwrap().len(), (1 << 20) + 1);
}

#[test]
fn samples_and_frames_are_bounded() {
    let mut b = goroutines();
    let deep: Vec<u64> = std::iter::repeat_n(1 << 50, MAX_FRAMES)
        .chain([9])
        .collect();
    b.sample(&deep, &[1], vec![]);
    let p = parse(&b.raw()).unwrap();
    assert_eq!(p.truncated, 1);
    assert_eq!(p.samples[2].frames.len(), MAX_FRAMES);
    // Locations past the bound are still checked.
    b.p.sample[2].location_id.push(12345);
    assert!(error_of(&b).ends_with("location id 12345 not in the profile"));

    let mut b = goroutines();
    for _ in 0..MAX_GOROUTINES {
        b.sample(&[9], &[1], vec![]);
    }
    let p = parse(&b.gz()).unwrap();
    assert_eq!(p.samples.len(), MAX_GOROUTINES);
    assert_eq!(p.dropped, 2);
    // The two first samples (3 + 2) are kept, two of the ones (1 + 1) not.
    assert_eq!(p.dropped_values, vec![2]);
    assert_eq!(
        p.total("goroutine"),
        3 + 2 + (MAX_GOROUTINES as i64 - 2) + 2
    );
    let d = p.into_dump().unwrap();
    assert_eq!(d.dropped, 2);
    assert_eq!(d.total, MAX_GOROUTINES as u64 + 5);
}

#[test]
fn expansion_is_bounded() {
    // The smallest budget that keeps the first sample of `goroutines()` does
    // not keep the second: it is dropped and counted; one byte less and
    // neither is kept.
    let raw = goroutines().raw();
    let kept = |budget| decode(&raw, budget).unwrap().samples.len();
    let (mut lo, mut hi) = (0, 1 << 20);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if kept(mid) >= 1 {
            hi = mid
        } else {
            lo = mid + 1
        }
    }
    assert!(lo > 0 && kept(lo) == 1);
    let p = decode(&raw, lo).unwrap();
    assert_eq!(p.samples[0], parse(&raw).unwrap().samples[0]);
    assert_eq!((p.dropped, p.dropped_values.clone()), (1, vec![2]));
    assert_eq!(p.total("goroutine"), 5);
    let d = p.into_dump().unwrap();
    assert_eq!((d.total, d.dropped, d.goroutines.len()), (5, 2, 1));
    let p = decode(&raw, lo - 1).unwrap();
    assert_eq!((p.samples.len(), p.dropped), (0, 2));
    assert_eq!(decode(&raw, MAX_EXPANDED).unwrap().samples.len(), 2);
}

#[test]
fn long_strings_are_cut() {
    let mut b = goroutines();
    let long = format!("main.{}é", "x".repeat(MAX_STRING - 6));
    b.p.function[0].name = b.s(&long);
    let p = parse(&b.raw()).unwrap();
    let name = &p.samples[0].frames[1].function;
    assert_eq!(name.len(), MAX_STRING - 1 + '\u{fffd}'.len_utf8());
    assert!(name.ends_with("x\u{fffd}"));
}

#[test]
fn inlined_lines_past_the_frame_bound_are_still_checked() {
    let mut b = goroutines();
    let lines: Vec<(u64, i64)> = (0..MAX_FRAMES as i64 + 1)
        .map(|i| (3, i))
        .chain([(404, 1)])
        .collect();
    b.location(77, &lines);
    b.sample(&[77], &[1], vec![]);
    assert_eq!(
        error_of(&b),
        "location 77: function id 404 not in the profile"
    );
    b.p.location.last_mut().unwrap().line.pop();
    let p = parse(&b.raw()).unwrap();
    assert_eq!(p.samples[2].frames.len(), MAX_FRAMES);
    assert_eq!(p.truncated, 1);
}

#[test]
fn sniffs_raw_profiles_and_not_text() {
    assert!(looks_like_raw_profile(&goroutines().raw()));
    assert!(looks_like_raw_profile(&cpu().raw()));
    // As Go writes them: period_type first (goroutine), time_nanos first (cpu).
    let go_count = [0x5a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x60, 0x01, 0x0a, 0x04];
    assert!(looks_like_raw_profile(&go_count));
    let go_cpu = [
        0x48, 0xd3, 0xac, 0x96, 0xea, 0xc0, 0xac, 0xf5, 0xf6, 0x18, 0x0a, 0x04, 0x08,
    ];
    assert!(looks_like_raw_profile(&go_cpu));
    // A prefix ending inside a field still counts.
    assert!(looks_like_raw_profile(&goroutines().raw()[..20]));
    for text in [
        &b"goroutine 1 [running]:\nmain.main()\n\t/a.go:5 +0x1d\n"[..],
        b"goroutine profile: total 3\n1 @ 0x43af96 0x407e5b\n",
        b"Z\x04hello",
        b"{\"a\": 1}",
        b"",
        b"\x0a",
        b"\x0a\x80",
        b"\x0a\x02\x30\x01",
    ] {
        assert!(!looks_like_raw_profile(text), "{text:?}");
    }
    assert!(!looks_like_raw_profile(&goroutines().gz()));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = looks_like_raw_profile(&bytes);
        let _ = parse(&bytes).map(|p| p.into_dump());
        let _ = parse(&gzip(&bytes));
    }

    #[test]
    fn edited_profiles_never_panic(edits in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..8)) {
        let mut raw = goroutines().raw();
        for (at, byte) in edits {
            let n = raw.len();
            raw[at % n] = byte;
        }
        let _ = looks_like_raw_profile(&raw);
        if let Ok(p) = parse(&raw) {
            let _ = p.share_where("goroutine", |f| f.is_empty());
            let _ = p.into_dump();
        }
    }
}
