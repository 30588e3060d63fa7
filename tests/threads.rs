//! `analyze --threads 2` (the default on two cores: reading and flows on one
//! thread, parsing and output on the other) writes exactly what `--threads 1`
//! writes, in every output mode, on input that exercises every kind of event
//! the flow stage hands over: keep-alive HTTP with findings, DNS, TLS,
//! refused and unanswered connections, data out of order and resent, pcapng
//! decryption secrets (with a malformed line, so a warning in between), two
//! files in one run and a file cut short.

use crate::util::capture_builder::PcapNgBuilder;
use crate::util::conv::{Conv, BASE_SECS};
use crate::util::{run, write_file};

/// TLS key log type of a pcapng Decryption Secrets Block.
const TLS_KEY_LOG: u32 = 0x544c_534b;

/// Odd conversations in a pcapng that carries decryption secrets and is cut
/// in the middle of its last block.
fn odd_capture() -> Vec<u8> {
    let mut frames: Vec<(f64, Vec<u8>)> = Vec::new();
    let mut t0 = 0.0;
    let mut add = |conv: &Conv, span: f64| {
        frames.extend(conv.frames().iter().map(|(t, f)| (t0 + t, f.clone())));
        t0 += span;
    };
    for i in 0..30u16 {
        // Refused.
        let mut refused = Conv::new(50_000 + i, 8081);
        refused.c("S", &[]).at(0.001).s("R.", &[]);
        add(&refused, 0.01);
        // Unanswered, the SYN sent again twice.
        let mut lost = Conv::new(51_000 + i, 8082);
        lost.c_at_seq(1000, "S", &[]).at(1.0);
        lost.c_at_seq(1000, "S", &[])
            .at(3.0)
            .c_at_seq(1000, "S", &[]);
        add(&lost, 0.02);
        // A request in two segments, the second first, then the first resent;
        // the response is slow.
        let mut ooo = Conv::new(52_000 + i, 80);
        ooo.handshake(0.002);
        let req =
            format!("POST /v1/jobs/{i} HTTP/1.1\r\nHost: jobs\r\nContent-Length: 4\r\n\r\nbody");
        let (head, tail) = req.as_bytes().split_at(20);
        let seq = ooo.client.seq;
        ooo.at(0.01)
            .c_at_seq(seq + head.len() as u32, "P.", tail)
            .at(0.2)
            .c_at_seq(seq, "P.", head)
            .at(0.21)
            .c_at_seq(seq, "P.", head);
        ooo.client.seq = seq + req.len() as u32;
        ooo.at(1.7).s(
            "P.",
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
        );
        ooo.at(1.8)
            .c("F.", &[])
            .at(1.81)
            .s("F.", &[])
            .at(1.82)
            .c(".", &[]);
        add(&ooo, 2.0);
    }
    let mut b = PcapNgBuilder::new(false);
    b.idb(1, 65_535, None, None);
    let keys = format!(
        "CLIENT_RANDOM {} {}\nthis line is not a secret\n",
        "07".repeat(32),
        "ab".repeat(48)
    );
    b.dsb(TLS_KEY_LOG, keys.as_bytes());
    for (t, f) in &frames {
        let micros = u64::from(BASE_SECS + 100_000) * 1_000_000 + (t * 1e6).round() as u64;
        b.epb(0, micros, f.len() as u32, f);
    }
    let mut bytes = b.bytes();
    bytes.truncate(bytes.len() - 7);
    bytes
}

#[test]
fn two_threads_write_what_one_thread_writes_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let busy = write_file(dir.path(), "busy.pcap", &crate::json_document::capture());
    let odd = write_file(dir.path(), "odd.pcapng", &odd_capture());
    let (busy, odd) = (busy.to_str().unwrap(), odd.to_str().unwrap());
    for mode in [&["--all"][..], &["--jsonl", "--tcp-events"], &["--json"]] {
        let with = |threads: &str| {
            let mut args = vec!["analyze", "--threads", threads];
            args.extend_from_slice(mode);
            args.extend_from_slice(&[busy, odd]);
            run(&args)
        };
        let (code1, out1, err1) = with("1");
        let (code2, out2, err2) = with("2");
        assert_eq!(code1, 0, "{mode:?}: {err1}");
        // The input held what the relay has to carry in order: findings of
        // every kind, the secrets' warning and the cut file's.
        for kind in [
            "tcp.connect_refused",
            "tcp.connect_timeout",
            "http.server_error",
        ] {
            assert!(out1.contains(kind), "{mode:?}: no {kind} in\n{out1}");
        }
        assert!(err1.contains("line 2"), "{mode:?}: {err1}");
        assert!(err1.contains("ends in the middle"), "{mode:?}: {err1}");
        assert_eq!(code2, code1, "{mode:?}");
        assert!(out2 == out1, "{mode:?}: the outputs differ");
        assert_eq!(err2, err1, "{mode:?}");
    }
}

#[test]
fn threads_is_one_or_two() {
    for bad in ["0", "3", "many"] {
        let (code, _, err) = run(&["analyze", "--threads", bad, "x.pcap"]);
        assert_eq!(code, 2, "--threads {bad}: {err}");
        assert!(err.contains("--threads"), "{err}");
    }
}
