//! Issue 16, DTLS: builder-made UDP flows on ports no rule names, found by
//! content, with a HelloVerifyRequest retry and a fragmented Certificate;
//! the `tls` record and ssl.log row (`DTLSv12`, the flow's uid); malformed
//! datagrams change nothing else.

use serde_json::Value;

use crate::util::capture_builder::PcapBuilder;
use crate::util::conv::{BASE_SECS, CLIENT, SERVER};
use crate::util::hello::{client_hello_body, dtls_fragment, dtls_record, server_hello_body};
use crate::util::zeek::{read_log, write_logs};
use crate::util::{analyze_records, eth_udp, run, write_file};

const CPORT: u16 = 50_123;
const SPORT: u16 = 4_433;

/// A DTLS 1.2 handshake: ClientHello, HelloVerifyRequest, ClientHello with
/// the cookie (and a retransmission of it), ServerHello, a Certificate cut
/// in two datagrams, ServerHelloDone, then both sides' CCS and Finished;
/// `junk` datagrams from both sides first.
fn capture(junk: &[&[u8]]) -> Vec<u8> {
    let mut frames: Vec<(bool, Vec<u8>)> = Vec::new();
    let v = 0xfefd;
    let ch0 = client_hello_body(v, "dtls.example.com", Some(&[]));
    let ch1 = client_hello_body(v, "dtls.example.com", Some(&[0xab; 16]));
    let hs = |ty: u8, seq: u16, body: &[u8]| dtls_fragment(ty, seq, body, 0, body.len());
    frames.push((false, dtls_record(22, v, 0, 0, &hs(1, 0, &ch0))));
    for j in junk {
        frames.push((false, j.to_vec()));
        frames.push((true, j.to_vec()));
    }
    let hvr = [&[0xfe, 0xff, 16][..], &[0xab; 16]].concat();
    frames.push((true, dtls_record(22, v, 0, 0, &hs(3, 0, &hvr))));
    frames.push((false, dtls_record(22, v, 0, 1, &hs(1, 1, &ch1))));
    frames.push((false, dtls_record(22, v, 0, 2, &hs(1, 1, &ch1))));
    let cert_body = {
        // A Certificate message of one made-up entry: not X.509, skipped, but
        // framed, so the message is reassembled and counted.
        let entry = [&[0, 0, 200][..], &[0x30; 200]].concat();
        [&[0, 0, 203][..], &entry].concat()
    };
    frames.push((
        true,
        dtls_record(22, v, 0, 1, &hs(2, 1, &server_hello_body(v))),
    ));
    frames.push((
        true,
        dtls_record(22, v, 0, 2, &dtls_fragment(11, 2, &cert_body, 0, 100)),
    ));
    let tail = [
        dtls_fragment(11, 2, &cert_body, 100, cert_body.len()),
        hs(14, 3, &[]),
    ]
    .concat();
    frames.push((true, dtls_record(22, v, 0, 3, &tail)));
    let client_flight = [
        dtls_record(22, v, 0, 3, &hs(16, 2, &[4; 33])),
        dtls_record(20, v, 0, 4, &[1]),
        dtls_record(22, v, 1, 0, &[0x55; 40]),
    ]
    .concat();
    frames.push((false, client_flight));
    frames.push((
        true,
        [
            dtls_record(20, v, 0, 4, &[1]),
            dtls_record(22, v, 1, 0, &[0x66; 40]),
        ]
        .concat(),
    ));
    frames.push((false, dtls_record(23, v, 1, 1, &[0x42; 80])));
    let mut b = PcapBuilder::new(1, 65_535, false, false);
    for (i, (server, payload)) in frames.iter().enumerate() {
        let f = if *server {
            eth_udp(SERVER, SPORT, CLIENT, CPORT, payload)
        } else {
            eth_udp(CLIENT, CPORT, SERVER, SPORT, payload)
        };
        b.packet(BASE_SECS, (i as u32 + 1) * 1_000, f.len() as u32, &f);
    }
    b.bytes()
}

fn tls_of(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "tls").collect()
}

#[test]
fn dtls12_handshake_by_content_with_cookie_and_fragments() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "dtls.pcap", &capture(&[]));
    let recs = analyze_records(&file, &[]);
    let tls = tls_of(&recs);
    assert_eq!(tls.len(), 1, "{recs:?}");
    let t = tls[0];
    assert_eq!(t["version"], "DTLS 1.2");
    assert_eq!(t["sni"], "dtls.example.com");
    assert_eq!(t["cipher"], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    assert_eq!(t["ssl_history"], "CvCsxnGIi");
    assert!(t["established"].is_object(), "{t}");
    assert!(t["client_hello"]["ja4"]
        .as_str()
        .unwrap()
        .starts_with("dd2"));
    let logs = write_logs(&file, dir.path());
    let rows = |name: &str| read_log(&logs, name);
    let (conn, ssl) = (rows("conn"), rows("ssl"));
    assert_eq!((conn.len(), ssl.len()), (1, 1));
    assert_eq!(conn[0]["uid"], ssl[0]["uid"], "the same uid");
    assert_eq!(conn[0]["proto"], "udp");
    assert_eq!(conn[0]["service"], "dtls");
    assert_eq!(ssl[0]["version"], "DTLSv12");
    assert_eq!(ssl[0]["ssl_history"], "CvCsxnGIi");
}

#[test]
fn dtls_malformed_datagrams_do_not_break_the_flow() {
    let junk: &[&[u8]] = &[
        b"",
        &[22, 0xfe, 0xfd],
        &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff],
        &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 3, 1, 0, 0],
        &[0x3f, 0xff],
        &[0x2c, 0, 1, 0xff, 0xff, 1],
        b"\x1b[31mnot dtls\x07",
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "dtls.pcap", &capture(junk));
    let recs = analyze_records(&file, &[]);
    let tls = tls_of(&recs);
    assert_eq!(tls.len(), 1, "{recs:?}");
    assert_eq!(tls[0]["version"], "DTLS 1.2");
    assert_eq!(tls[0]["sni"], "dtls.example.com");
    let (code, out, _) = run(&["analyze", file.to_str().unwrap()]);
    assert!(code == 0 || code == 1);
    assert!(!out.contains('\x1b'), "no raw packet bytes on the terminal");
}
