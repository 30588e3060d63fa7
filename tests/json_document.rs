//! `analyze --json` on a capture with many records: the dns/tls/http arrays,
//! spilled to temporary files while the connections stream (bounded memory,
//! src/cmd/analyze/spill.rs), come back whole, in order, in the right arrays,
//! and the same as `--jsonl` says.

use serde_json::Value;

use crate::util::capture_builder::PcapBuilder;
use crate::util::conv::{Conv, BASE_SECS, CLIENT};
use crate::util::{analyze_records, netsleuth, write_file};

const CONNS: u16 = 40;
const PER_CONN: usize = 60;
const TLS_CONNS: u16 = 3;

/// A DNS query (or its A answer) for `name`.
fn dns(id: u16, name: &str, answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&(if answer.is_some() { 0x8180u16 } else { 0x0100 }).to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some(a) = answer {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4]);
        m.extend_from_slice(&a);
    }
    m
}

fn udp(from_client: bool, port: u16, payload: &[u8]) -> Vec<u8> {
    let resolver = [10, 1, 0, 53];
    let (src, dst, sp, dp) = if from_client {
        (CLIENT, resolver, port, 53)
    } else {
        (resolver, CLIENT, 53, port)
    };
    crate::util::eth_udp(src, sp, dst, dp, payload)
}

/// A TLS 1.2 record holding a minimal ClientHello with `sni`.
fn client_hello(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut sni_ext = Vec::new();
    sni_ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sni_ext.push(0);
    sni_ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni_ext.extend_from_slice(name);
    let mut exts = vec![0, 0];
    exts.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
    exts.extend_from_slice(&sni_ext);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0, 0, 2, 0xc0, 0x2f, 1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// Keep-alive HTTP connections after DNS lookups, and TLS connections whose
/// server never answers the ClientHello (findings, so stories and groups too).
pub(crate) fn capture() -> Vec<u8> {
    let mut frames = Vec::new();
    let mut t0 = 0.0;
    for i in 0..CONNS {
        let port = 41_000 + i;
        let host = format!("api{i}.example.com");
        let mut conv = Conv::new(port, 80);
        conv.raw(udp(true, port, &dns(i, &host, None)));
        let answer = udp(false, port, &dns(i, &host, Some(conv.server.addr)));
        conv.at(0.002).raw(answer);
        conv.at(0.003).handshake(0.01);
        let mut t = 0.02;
        for k in 0..PER_CONN {
            let req = format!("GET /v1/orders/{i}?page={k} HTTP/1.1\r\nHost: {host}\r\n\r\n");
            conv.at(t).c("P.", req.as_bytes());
            let body = format!("{{\"page\":{k}}}");
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            conv.at(t + 0.005).s("P.", resp.as_bytes());
            conv.at(t + 0.0051).c(".", &[]);
            t += 0.01;
        }
        conv.at(t).c("F.", &[]).at(t + 0.001).s("F.", &[]);
        conv.at(t + 0.002).c(".", &[]);
        frames.extend(conv.frames().iter().map(|(ft, f)| (t0 + ft, f.clone())));
        t0 += t + 0.01;
    }
    for i in 0..TLS_CONNS {
        let mut conv = Conv::new(42_000 + i, 443);
        conv.handshake(0.01);
        conv.at(0.02)
            .c("P.", &client_hello(&format!("tls{i}.example.com")));
        conv.at(0.03).s(".", &[]);
        conv.at(5.0).c("F.", &[]).at(5.001).s("F.", &[]);
        conv.at(5.002).c(".", &[]);
        frames.extend(conv.frames().iter().map(|(ft, f)| (t0 + ft, f.clone())));
        t0 += 6.0;
    }
    let mut b = PcapBuilder::new(1, 65_535, false, false);
    for (t, f) in &frames {
        let micros = (t * 1e6).round() as u64;
        b.packet(
            BASE_SECS + (micros / 1_000_000) as u32,
            (micros % 1_000_000) as u32,
            f.len() as u32,
            f,
        );
    }
    b.bytes()
}

/// The document's top-level keys in the order written (a parsed `Value`
/// sorts them).
struct TopKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for TopKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TopKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<TopKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    m.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(TopKeys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

fn array<'a>(doc: &'a Value, key: &str) -> &'a Vec<Value> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array"))
}

#[test]
fn json_document_holds_every_record_spilled_while_connections_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "many.pcap", &capture());
    // Spill files go to TMPDIR and are unnamed: nothing is left there.
    let tmp = tempfile::tempdir().unwrap();
    let out = netsleuth()
        .args(["analyze", "--json", path.to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    let doc: Value = serde_json::from_str(&text).expect("one JSON document");

    let keys: TopKeys = serde_json::from_str(&text).unwrap();
    assert_eq!(
        keys.0,
        [
            "connections",
            "dns",
            "tls",
            "http",
            "findings",
            "stories",
            "groups",
            "summary"
        ]
    );

    let tcp = usize::from(CONNS + TLS_CONNS);
    let http = array(&doc, "http");
    assert_eq!(http.len(), usize::from(CONNS) * PER_CONN);
    assert!(http
        .iter()
        .all(|r| r["status"] == 200 && r["method"] == "GET"));
    assert_eq!(http[0]["path"], "/v1/orders/0?page=0");
    assert_eq!(http[PER_CONN + 1]["path"], "/v1/orders/1?page=1");
    let dns = array(&doc, "dns");
    assert_eq!(dns.len(), usize::from(CONNS));
    assert!(dns.iter().all(|r| r["rcode"] == "NOERROR"));
    let tls = array(&doc, "tls");
    assert_eq!(tls.len(), usize::from(TLS_CONNS));
    assert!(tls
        .iter()
        .all(|r| r["sni"].as_str().unwrap().starts_with("tls")));
    assert!(array(&doc, "connections").len() >= tcp);
    assert_eq!(doc["summary"]["http_transactions"], http.len());
    assert_eq!(doc["summary"]["dns_lookups"], dns.len());
    assert_eq!(doc["summary"]["tls_handshakes"], tls.len());

    // The same records, field for field, as --jsonl writes them.
    let lines = analyze_records(&path, &[]);
    for (tag, key) in [
        ("connection", "connections"),
        ("dns", "dns"),
        ("tls", "tls"),
        ("http", "http"),
        ("finding", "findings"),
        ("story", "stories"),
        ("group", "groups"),
    ] {
        let of: Vec<Value> = lines
            .iter()
            .filter(|r| r["type"] == tag)
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("type");
                r
            })
            .collect();
        assert_eq!(&of, array(&doc, key), "{key} differ from --jsonl");
    }
    assert!(
        !array(&doc, "findings").is_empty(),
        "the TLS servers never answered"
    );
}
