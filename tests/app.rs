//! The application layer through `analyze`: DNS, HTTP and the story that links
//! a DNS answer, a connection and its HTTP exchange, on builder-made captures.

use serde_json::Value;

use crate::util::conv::{Conv, CLIENT, SERVER};
use crate::util::{analyze_records, run, write_file};

/// A DNS message: header, one question, and an A answer when `answer` is given.
fn dns(id: u16, response: bool, rcode: u8, name: &str, answer: Option<[u8; 4]>) -> Vec<u8> {
    let flags: u16 = if response {
        0x8180 | u16::from(rcode)
    } else {
        0x0100
    };
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
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

/// Ethernet + IPv4 + UDP between the client and a resolver at 10.1.0.53.
fn udp(from_client: bool, payload: &[u8]) -> Vec<u8> {
    let resolver = [10, 1, 0, 53];
    let (src, dst, sp, dp) = if from_client {
        (CLIENT, resolver, 5353, 53)
    } else {
        (resolver, CLIENT, 53, 5353)
    };
    crate::util::eth_udp(src, sp, dst, dp, payload)
}

fn analyze_jsonl(conv: &Conv) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "app.pcap", &conv.pcap());
    analyze_records(&path, &[])
}

fn of_type<'a>(records: &'a [Value], t: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

/// DNS answer, then a slow HTTP server: the story names the host, the HTTP
/// record carries every phase of the timing model.
#[test]
fn resolved_call_to_a_slow_server_is_one_story_with_all_phases() {
    let mut conv = Conv::new(40100, 80);
    conv.raw(udp(true, &dns(7, false, 0, "api.example.com", None)));
    conv.at(0.004).raw(udp(
        false,
        &dns(7, true, 0, "api.example.com", Some(SERVER)),
    ));
    conv.at(0.010).handshake(0.020);
    conv.at(0.040).c(
        "P.",
        b"GET /v1/orders HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
    );
    conv.at(0.060).s(".", &[]);
    conv.at(2.040)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    conv.at(2.060).c(".", &[]);
    conv.at(2.100)
        .c("F.", &[])
        .at(2.120)
        .s("F.", &[])
        .at(2.140)
        .c(".", &[]);
    let records = analyze_jsonl(&conv);

    let lookups = of_type(&records, "dns");
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0]["qname"], "api.example.com");
    assert_eq!(lookups[0]["rcode"], "NOERROR");
    assert_eq!(lookups[0]["latency_ms"], 4.0);

    let http = of_type(&records, "http");
    assert_eq!(http.len(), 1, "{records:#?}");
    let t = &http[0]["timing_ms"];
    assert_eq!(t["dns"], 4.0, "{t}");
    assert_eq!(t["connect"], 20.0, "{t}");
    assert_eq!(t["tls"], Value::Null);
    assert_eq!(t["wait"], 2000.0, "{t}");
    let think = t["server_think"].as_f64().unwrap();
    assert!(
        (1955.0..=1981.0).contains(&think),
        "wait minus the RTT: {t}"
    );
    assert_eq!(http[0]["status"], 200);
    assert_eq!(
        http[0]["conn"],
        of_type(&records, "connection")
            .iter()
            .find(|c| c["proto"] == "tcp")
            .unwrap()["id"]
    );

    let stories = of_type(&records, "story");
    let slow = stories
        .iter()
        .find(|s| s["findings"][0] == "http.slow_server")
        .expect("a story for the slow call");
    assert_eq!(slow["target"], "api.example.com");
    assert_eq!(slow["step"], "http");
    assert!(
        slow["headline"]
            .as_str()
            .unwrap()
            .starts_with("the call to api.example.com was slow in the HTTP exchange"),
        "{slow}"
    );
}

#[test]
fn nxdomain_and_server_errors_are_findings() {
    let mut conv = Conv::new(40101, 80);
    conv.raw(udp(true, &dns(9, false, 0, "missing.example.com", None)));
    conv.at(0.002)
        .raw(udp(false, &dns(9, true, 3, "missing.example.com", None)));
    conv.at(0.1).handshake(0.001);
    conv.at(0.2).c(
        "P.",
        b"POST /v1/pay HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}",
    );
    conv.at(0.25).s(
        "P.",
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
    );
    conv.at(0.26).c(".", &[]);
    let records = analyze_jsonl(&conv);
    let kinds: Vec<&str> = of_type(&records, "finding")
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"dns.nxdomain"), "{kinds:?}");
    assert!(kinds.contains(&"http.server_error"), "{kinds:?}");
    let err = of_type(&records, "finding")
        .into_iter()
        .find(|f| f["kind"] == "http.server_error")
        .unwrap();
    assert_eq!(err["severity"], "error");
    assert!(err["summary"].as_str().unwrap().contains("503"), "{err}");
}

#[test]
fn text_report_has_stories_and_a_waterfall() {
    let mut conv = Conv::new(40102, 80);
    conv.handshake(0.010);
    conv.at(0.020)
        .c("P.", b"GET /slow HTTP/1.1\r\nHost: api\r\n\r\n");
    conv.at(1.520)
        .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "w.pcap", &conv.pcap());
    let (code, out, err) = run(&["analyze", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("WARN  the call to api was slow in the HTTP exchange"),
        "{out}"
    );
    assert!(out.contains("HTTP TRANSACTIONS (1)"), "{out}");
    let row = out
        .lines()
        .find(|l| l.contains("GET api/slow"))
        .expect("transaction row");
    assert!(
        row.contains("|cwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww|")
            || row.contains("|cwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"),
        "{row}"
    );
}

/// An HTTP/2 frame (RFC 9113 §4.1).
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend([kind, flags]);
    v.extend(stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A literal header field without indexing, its name from static table entry `index`.
fn h2_literal(index: u8, value: &str) -> Vec<u8> {
    let mut v = vec![index, value.len() as u8];
    v.extend_from_slice(value.as_bytes());
    v
}

/// HTTP/2 with prior knowledge (h2c) on a cleartext connection: a slow 200,
/// one record with version HTTP/2, the slow-server finding named by host, and
/// `--expect` rules checked on the kept body.
#[test]
fn h2c_prior_knowledge_is_analyzed() {
    let mut conv = Conv::new(40200, 8080);
    conv.handshake(0.010);
    let mut client = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    client.extend(h2_frame(4, 0, 0, &[]));
    // :method GET, :scheme http (static 2, 6), :authority, :path.
    let mut block = vec![0x82, 0x86];
    block.extend(h2_literal(1, "api.example.com"));
    block.extend(h2_literal(4, "/v2/items"));
    client.extend(h2_frame(1, 0x5, 1, &block));
    conv.at(0.040).c("P.", &client);
    conv.at(0.041).s("P.", &h2_frame(4, 0, 0, &[]));
    let mut server = h2_frame(1, 0x4, 1, &h2_literal(8, "200"));
    server.extend(h2_frame(0, 0x1, 1, b"{\"items\":[]}"));
    conv.at(2.040).s("P.", &server);
    conv.at(2.060).c(".", &[]);
    conv.at(2.100)
        .c("F.", &[])
        .at(2.120)
        .s("F.", &[])
        .at(2.140)
        .c(".", &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "h2c.pcap", &conv.pcap());
    let records = analyze_records(
        &path,
        &[
            "--expect",
            "json .items exists",
            "--expect",
            "json .nope exists",
        ],
    );
    let failed: Vec<&str> = of_type(&records, "finding")
        .iter()
        .filter(|f| f["kind"] == "http.expectation_failed")
        .filter_map(|f| f["summary"].as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{records:#?}");
    assert!(failed[0].contains(".nope is missing"), "{failed:?}");
    let (code, text, err) = run(&["analyze", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("GET api.example.com/v2/items"), "{text}");
    let http = of_type(&records, "http");
    assert_eq!(http.len(), 1, "{records:#?}");
    let h = http[0];
    assert_eq!(h["version"], "HTTP/2");
    assert_eq!(h["decrypted"], false);
    assert_eq!(
        (&h["method"], &h["path"]),
        (&Value::from("GET"), &Value::from("/v2/items"))
    );
    assert_eq!(h["host"], "api.example.com");
    assert_eq!(
        (&h["status"], &h["response_body_bytes"]),
        (&Value::from(200), &Value::from(12))
    );
    assert_eq!(h["timing_ms"]["wait"], 2000.0, "{h}");
    let stories = of_type(&records, "story");
    assert!(
        stories.iter().any(|s| s["findings"]
            .as_array()
            .is_some_and(|f| f.contains(&Value::from("http.slow_server")))
            && s["target"] == "api.example.com"),
        "{stories:#?}"
    );
}
