//! Real application traffic on loopback, captured live and analysed: the capture
//! plumbing and the few DNS bytes the tests need.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{analyze_records, can_capture, capture_lo};

/// Captures on `lo` with the BPF `filter` while `traffic` runs, waits 100 ms for
/// the last packets, stops the capture with SIGINT and returns the records of
/// `analyze --jsonl` on the file. `None` (with the reason printed) when this
/// process cannot capture.
pub fn capture_and_analyze(test: &str, filter: &str, traffic: impl FnOnce()) -> Option<Vec<Value>> {
    if !can_capture(test) {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("live.pcap");
    let words: Vec<&str> = filter.split_whitespace().collect();
    capture_lo(&file, &words, traffic);
    Some(analyze_records(&file, &[]))
}

/// The records of one `type`.
pub fn of_type<'a>(records: &'a [Value], t: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

/// The findings of one `kind`.
pub fn findings<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["type"] == "finding" && r["kind"] == kind)
        .collect()
}

/// `kind severity` of every warning or error finding, for failure messages and
/// "nothing wrong" assertions.
pub fn problems(records: &[Value]) -> Vec<String> {
    of_type(records, "finding")
        .into_iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| format!("{} {}: {}", f["kind"], f["severity"], f["summary"]))
        .collect()
}

/// The frame numbers of a finding's evidence.
pub fn frames(f: &Value) -> Vec<u64> {
    f["frames"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// A DNS query: header (RD set), one question of class IN.
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    q
}

/// The response to `query`: its id and question, QR and RA set, `rcode`, TC
/// when `truncated`, and one A record (name by compression pointer) per address.
pub fn dns_response(query: &[u8], rcode: u8, truncated: bool, answers: &[Ipv4Addr]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&query[..2]);
    let tc = if truncated { 0x02 } else { 0 };
    r.push(0x80 | tc | (query[2] & 0x01));
    r.push(0x80 | rcode);
    r.extend_from_slice(&[0, 1]);
    r.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&query[12..]);
    for a in answers {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend_from_slice(&a.octets());
    }
    r
}

/// A UDP DNS server on `addr:53` answering at most `count` queries with what
/// `answer` returns for each (a delay, then the reply; `None` drops the query).
/// Stops after `count` queries or 5 s without one.
pub fn udp_dns_server(
    addr: Ipv4Addr,
    count: usize,
    answer: impl Fn(&[u8]) -> Option<(Duration, Vec<u8>)> + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let sock = UdpSocket::bind((addr, 53)).expect("bind port 53 (needs root)");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        for _ in 0..count {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                return;
            };
            if let Some((delay, reply)) = answer(&buf[..n]) {
                std::thread::sleep(delay);
                let _ = sock.send_to(&reply, from);
            }
        }
    })
}

/// A stub resolver's UDP lookup: the same query (same id, same socket) sent up
/// to `attempts` times, waiting `per_attempt` for an answer each time. Returns
/// the answer, or `None` when it gave up.
pub fn udp_lookup(
    server: SocketAddr,
    query: &[u8],
    attempts: usize,
    per_attempt: Duration,
) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    sock.connect(server).expect("connect");
    sock.set_read_timeout(Some(per_attempt)).expect("timeout");
    let mut buf = [0u8; 4096];
    for _ in 0..attempts {
        if sock.send(query).is_err() {
            return None;
        }
        match sock.recv(&mut buf) {
            Ok(n) => return Some(buf[..n].to_vec()),
            // ICMP port unreachable shows as ECONNREFUSED on a connected
            // socket: the next attempt goes out after the same wait.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::thread::sleep(per_attempt)
            }
            Err(_) => {}
        }
    }
    None
}

/// An HTTP/1.1 server on `ip` (any free port) for one connection: for each
/// request head read, `respond(index, head, conn)` writes the response. Gives
/// up after 5 s without a connection; every read times out after 5 s.
pub fn http_server(
    ip: Ipv4Addr,
    respond: impl Fn(usize, &str, &mut TcpStream) + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind((ip, 0)).expect("bind");
    let addr = listener.local_addr().expect("local addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let server = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => return,
            }
        };
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        for i in 0..16 {
            let Some(head) = read_head(&mut conn) else {
                return;
            };
            respond(i, &head, &mut conn);
        }
    });
    (addr, server)
}

/// One message head, byte by byte (so nothing after it is consumed).
pub fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while head.len() < 16 * 1024 {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
        if head.ends_with(b"\r\n\r\n") {
            return String::from_utf8(head).ok();
        }
    }
    None
}

/// A message head's Content-Length (0 without one).
pub fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// A client sending `paths` as GETs one after another on one keep-alive
/// connection, reading each Content-Length framed response in full before the
/// next request. Returns each response's status and body length.
pub fn http_get_all(server: SocketAddr, host: &str, paths: &[&str]) -> Vec<(u16, usize)> {
    let mut conn = TcpStream::connect_timeout(&server, Duration::from_secs(2)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = Vec::new();
    for path in paths {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n");
        conn.write_all(request.as_bytes()).expect("send request");
        let head = read_head(&mut conn).expect("response head");
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        let length = content_length(&head);
        let mut body = vec![0u8; length];
        conn.read_exact(&mut body).expect("response body");
        out.push((status, length));
    }
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let _ = conn.read(&mut [0u8; 64]);
    out
}

/// A complete response with a body of `body.len()` bytes.
pub fn response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A phase the tool measured against the client's own clock (httptrace,
/// curl -w): within 1 ms + 5% of the client's figure, as issue 11 asks.
/// Prints a `phase-diff` line either way, for the record.
pub fn assert_close(what: &str, tool: f64, client: f64) {
    let diff = (tool - client).abs();
    eprintln!(
        "phase-diff {what}: tool {tool:.3} ms, client clock {client:.3} ms, |diff| {diff:.3} ms"
    );
    assert!(
        diff <= 1.0 + 0.05 * client,
        "{what}: the tool says {tool} ms, the client's own clock {client} ms"
    );
}

/// `cmd` under real-time scheduling (SCHED_FIFO) when `chrt` is there: a
/// client whose own clock is compared with the tool's should measure the
/// network, not how late a loaded test machine woke it (seen: 8 ms on a
/// 60 µs connect while other tests ran).
pub fn realtime<'a>(cmd: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(cmd.len() + 3);
    if std::path::Path::new("/usr/bin/chrt").exists() {
        out.extend(["/usr/bin/chrt", "-f", "20"]);
    }
    out.extend_from_slice(cmd);
    out
}
