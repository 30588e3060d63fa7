//! Issue 15, `analyze --zeek-logs DIR`: conn, dns, ssl, http and x509 logs in
//! Zeek's TSV format, on a builder-made capture with a refused connection,
//! an NXDOMAIN lookup and an HTTP call whose strings carry control bytes.

use std::collections::HashMap;
use std::path::Path;

use crate::util::conv::{Conv, CLIENT};
use crate::util::live::{dns_query, dns_response};
use crate::util::{eth_udp, run, write_file};

const RESOLVER: [u8; 4] = [10, 1, 0, 53];
const REQUEST: &[u8] = b"GET /search?q=a\\b HTTP/1.1\r\nHost: api.example\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 O\tK\r\nContent-Length: 2\r\n\r\nok";
const LOGS: [&str; 5] = ["conn", "dns", "ssl", "http", "x509"];

/// One log read back: its header lines and its rows by field name.
struct Log {
    lines: Vec<String>,
    fields: Vec<String>,
    types: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Log {
    fn read(dir: &Path, name: &str) -> Log {
        let text = std::fs::read_to_string(dir.join(format!("{name}.log")))
            .unwrap_or_else(|e| panic!("{name}.log: {e}"));
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let list = |prefix: &str| -> Vec<String> {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("{name}.log has no {prefix} line"))
                .split('\t')
                .map(str::to_string)
                .collect()
        };
        let fields = list("#fields\t");
        let types = list("#types\t");
        let rows = lines
            .iter()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        Log {
            lines,
            fields,
            types,
            rows,
        }
    }

    /// The rows as field → value maps.
    fn records(&self) -> Vec<HashMap<&str, &str>> {
        self.rows
            .iter()
            .map(|r| {
                self.fields
                    .iter()
                    .map(String::as_str)
                    .zip(r.iter().map(String::as_str))
                    .collect()
            })
            .collect()
    }
}

/// The capture: a refused connection (40001 → 8081), an NXDOMAIN lookup
/// (53001 → resolver:53), and an HTTP call (40002 → 80) with a backslash
/// in its URI and a tab in its reason phrase (what HTTP lets through; the
/// other control bytes are unit-tested in `report/zeek/format.rs`).
fn capture() -> Vec<u8> {
    let mut conv = Conv::new(40001, 8081);
    conv.at(0.0).c("S", &[]).at(0.0005).s("R.", &[]);
    let q = dns_query(0x4242, "nope.example", 1);
    conv.at(0.010).raw(eth_udp(CLIENT, 53001, RESOLVER, 53, &q));
    conv.at(0.012).raw(eth_udp(
        RESOLVER,
        53,
        CLIENT,
        53001,
        &dns_response(&q, 3, false, &[]),
    ));
    conv.client.port = 40002;
    conv.server.port = 80;
    conv.at(0.100).handshake(0.001);
    conv.at(0.102).c("P.", REQUEST);
    conv.at(0.110).s("P.", RESPONSE);
    conv.at(0.111).c("F.", &[]).s("F.", &[]).c(".", &[]);
    conv.pcap()
}

/// Runs `analyze --zeek-logs` into a directory that does not exist yet.
fn analyze() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write_file(dir.path(), "cap.pcap", &capture());
    let logs = dir.path().join("zeek").join("out");
    let (code, _out, err) = run(&[
        "analyze",
        pcap.to_str().expect("utf-8 path"),
        "--zeek-logs",
        logs.to_str().expect("utf-8 path"),
    ]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    (dir, logs)
}

#[test]
fn zeek_logs_headers_fields_and_columns() {
    let (_dir, logs) = analyze();
    for name in LOGS {
        let log = Log::read(&logs, name);
        let head: Vec<&str> = log.lines.iter().take(8).map(String::as_str).collect();
        assert_eq!(head[0], "#separator \\x09", "{name}");
        assert_eq!(head[1], "#set_separator\t,", "{name}");
        assert_eq!(head[2], "#empty_field\t(empty)", "{name}");
        assert_eq!(head[3], "#unset_field\t-", "{name}");
        assert_eq!(head[4], format!("#path\t{name}"), "{name}");
        let open = head[5].strip_prefix("#open\t").expect("#open");
        assert!(is_stamp(open), "{name}: #open {open}");
        assert!(head[6].starts_with("#fields\tts\t"), "{name}: {}", head[6]);
        assert!(head[7].starts_with("#types\ttime\t"), "{name}: {}", head[7]);
        let close = log.lines.last().and_then(|l| l.strip_prefix("#close\t"));
        assert!(
            close.is_some_and(is_stamp),
            "{name}: last line {:?}",
            log.lines.last()
        );
        assert_eq!(log.fields.len(), log.types.len(), "{name}");
        for row in &log.rows {
            assert_eq!(row.len(), log.fields.len(), "{name}: {row:?}");
        }
    }
    let count = |name: &str| Log::read(&logs, name).rows.len();
    assert_eq!(count("conn"), 3);
    assert_eq!(count("dns"), 1);
    assert_eq!(count("http"), 1);
    // No TLS in this capture: headers only.
    assert_eq!(count("ssl"), 0);
    assert_eq!(count("x509"), 0);
}

/// `YYYY-MM-DD-HH-MM-SS`.
fn is_stamp(s: &str) -> bool {
    s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| {
            if [4, 7, 10, 13, 16].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

#[test]
fn zeek_conn_log_refused_connection_is_rej() {
    let (_dir, logs) = analyze();
    let conn = Log::read(&logs, "conn");
    let rows = conn.records();
    let rej = rows
        .iter()
        .find(|r| r["id.orig_p"] == "40001")
        .expect("the refused connection's row");
    assert_eq!(rej["conn_state"], "REJ");
    assert_eq!(rej["id.orig_h"], "10.1.0.1");
    assert_eq!(rej["id.resp_h"], "10.1.0.2");
    assert_eq!(rej["id.resp_p"], "8081");
    assert_eq!(rej["proto"], "tcp");
    assert_eq!(rej["ts"], "1764166000.000000");
    assert_eq!(rej["duration"], "0.000500");
    assert_eq!(rej["orig_pkts"], "1");
    assert_eq!(rej["resp_pkts"], "1");
    assert_eq!(rej["history"], "Sr");
    assert_eq!(rej["service"], "-");
    let uid = rej["uid"];
    assert!(uid.starts_with('C') && uid.len() == 18, "{uid}");
    let uids: std::collections::HashSet<&str> = rows.iter().map(|r| r["uid"]).collect();
    assert_eq!(uids.len(), rows.len(), "one uid per connection");
}

#[test]
fn zeek_dns_log_nxdomain_has_its_connection_uid() {
    let (_dir, logs) = analyze();
    let conn = Log::read(&logs, "conn");
    let dns = Log::read(&logs, "dns");
    let conn_rows = conn.records();
    let dns_rows = dns.records();
    let d = &dns_rows[0];
    assert_eq!(d["query"], "nope.example");
    assert_eq!(d["rcode"], "3");
    assert_eq!(d["rcode_name"], "NXDOMAIN");
    assert_eq!(d["qtype"], "1");
    assert_eq!(d["qtype_name"], "A");
    assert_eq!(d["trans_id"], "16962");
    assert_eq!(d["proto"], "udp");
    // Zeek times a lookup at its first answer record: an NXDOMAIN has none.
    assert_eq!(d["rtt"], "-");
    assert_eq!(d["TC"], "F");
    assert_eq!(d["answers"], "-");
    assert_eq!(d["id.orig_p"], "53001");
    assert_eq!(d["id.resp_p"], "53");
    let udp = conn_rows
        .iter()
        .find(|r| r["proto"] == "udp" && r["id.orig_p"] == "53001")
        .expect("the lookup's conn.log row");
    assert_eq!(d["uid"], udp["uid"]);
}

#[test]
fn zeek_http_log_has_the_transaction_with_its_uid() {
    let (_dir, logs) = analyze();
    let conn = Log::read(&logs, "conn");
    let http = Log::read(&logs, "http");
    let conn_rows = conn.records();
    let http_rows = http.records();
    let h = &http_rows[0];
    assert_eq!(h["method"], "GET");
    assert_eq!(h["host"], "api.example");
    // The backslash is escaped as Zeek escapes it.
    assert_eq!(h["uri"], "/search?q=a\\x5cb");
    assert_eq!(h["version"], "1.1");
    assert_eq!(h["status_code"], "200");
    assert_eq!(h["response_body_len"], "2");
    assert_eq!(h["tags"], "(empty)");
    assert_eq!(h["user_agent"], "-");
    assert_eq!(h["ts"], "1764166000.102000");
    let tcp = conn_rows
        .iter()
        .find(|r| r["id.orig_p"] == "40002")
        .expect("the call's conn.log row");
    assert_eq!(h["uid"], tcp["uid"]);
    assert_eq!(tcp["conn_state"], "SF");
    assert_eq!(tcp["orig_bytes"], REQUEST.len().to_string());
    assert_eq!(tcp["resp_bytes"], RESPONSE.len().to_string());
    assert_eq!(tcp["missed_bytes"], "0");
}

#[test]
fn zeek_logs_escape_control_bytes() {
    let (_dir, logs) = analyze();
    let http = Log::read(&logs, "http");
    let h = &http.records()[0];
    assert_eq!(h["status_msg"], "O\\x09K");
    for name in LOGS {
        let bytes = std::fs::read(logs.join(format!("{name}.log"))).expect("read log");
        let raw = bytes
            .iter()
            .position(|&b| (b < 0x20 && b != b'\t' && b != b'\n') || b == 0x7f);
        assert_eq!(raw, None, "{name}.log has a raw control byte");
    }
}

#[test]
fn zeek_logs_bad_directory_names_path_and_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = write_file(dir.path(), "cap.pcap", &capture());
    let file = write_file(dir.path(), "taken", b"x");
    let (code, out, err) = run(&[
        "analyze",
        pcap.to_str().expect("utf-8"),
        "--zeek-logs",
        file.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains(file.to_str().expect("utf-8")), "{err}");
    assert!(err.contains("not a directory"), "{err}");
    let under = file.join("logs");
    let (code, _, err) = run(&[
        "analyze",
        pcap.to_str().expect("utf-8"),
        "--zeek-logs",
        under.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(under.to_str().expect("utf-8")), "{err}");
    assert!(err.contains("choose a writable directory"), "{err}");
}
