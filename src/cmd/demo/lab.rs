//! The demo's fault lab: small servers on loopback, each making one fault a
//! developer meets, and the client traffic that runs into them.
//!
//! * DNS on 127.83.83.83:53 (a loopback address of its own, so a local resolver on
//!   127.0.0.1:53 is not disturbed): `api.demo.test` resolves, `missing.demo.test`
//!   is NXDOMAIN, `broken.demo.test` is SERVFAIL.
//! * a closed TCP port (refused) and a closed UDP port (ICMP port unreachable);
//! * HTTP servers: healthy, one that thinks for 1.5 s, one that resets mid-response,
//!   one that answers 503, and one that never answers (the client gives up after 1 s).
//!
//! Every server serves one connection and exits; all loops are bounded.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Where the lab's DNS server listens.
pub const DNS_ADDR: Ipv4Addr = Ipv4Addr::new(127, 83, 83, 83);

/// How long the slow server thinks.
pub const THINK: Duration = Duration::from_millis(1500);

/// How long the client waits for the server that never answers.
pub const GIVE_UP: Duration = Duration::from_secs(1);

/// How a lab HTTP server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// 200 after the think time.
    Answer,
    /// Half a response, then an RST.
    Reset,
    /// 503 Service Unavailable.
    Unavailable,
    /// Reads the request and never answers.
    Silent,
}

/// Bound listeners and ports, before any traffic.
pub struct Lab {
    dns: Option<UdpSocket>,
    healthy: TcpListener,
    slow: TcpListener,
    reset: TcpListener,
    unavailable: TcpListener,
    silent: TcpListener,
    closed_tcp: u16,
    closed_udp: u16,
}

impl Lab {
    /// Binds every server. DNS is optional: without it (port 53 needs privilege)
    /// the rest of the lab still runs.
    pub fn bind() -> io::Result<Lab> {
        let dns = UdpSocket::bind((DNS_ADDR, 53)).ok();
        Ok(Lab {
            dns,
            healthy: TcpListener::bind("127.0.0.1:0")?,
            slow: TcpListener::bind("127.0.0.1:0")?,
            reset: TcpListener::bind("127.0.0.1:0")?,
            unavailable: TcpListener::bind("127.0.0.1:0")?,
            silent: TcpListener::bind("127.0.0.1:0")?,
            closed_tcp: closed_port()?,
            closed_udp: closed_port()?,
        })
    }

    /// A BPF filter matching exactly the lab's traffic.
    pub fn filter(&self) -> String {
        let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut ports: Vec<String> = [
            &self.healthy,
            &self.slow,
            &self.reset,
            &self.unavailable,
            &self.silent,
        ]
        .into_iter()
        .map(|l| format!("tcp port {}", port(l)))
        .collect();
        ports.push(format!("tcp port {}", self.closed_tcp));
        ports.push(format!("udp port {}", self.closed_udp));
        format!(
            "(host 127.0.0.1 and ({} or icmp)) or host {}",
            ports.join(" or "),
            DNS_ADDR
        )
    }

    /// Runs the servers and the client traffic to completion (about 2 s).
    pub fn run(self) {
        let mut servers: Vec<JoinHandle<()>> = Vec::new();
        let addr = |l: &TcpListener| l.local_addr().ok();
        let patient = Duration::from_secs(5);
        let calls = [
            (addr(&self.healthy), "/v1/health", patient),
            (addr(&self.slow), "/v1/orders", patient),
            (addr(&self.reset), "/v1/export", patient),
            (addr(&self.unavailable), "/v1/payments", patient),
            (addr(&self.silent), "/v1/search", GIVE_UP),
        ];
        if let Some(sock) = self.dns {
            servers.push(thread::spawn(move || serve_dns(sock, 3)));
        }
        servers.push(serve_http(self.healthy, Duration::ZERO, Behaviour::Answer));
        servers.push(serve_http(self.slow, THINK, Behaviour::Answer));
        servers.push(serve_http(self.reset, Duration::ZERO, Behaviour::Reset));
        servers.push(serve_http(
            self.unavailable,
            Duration::ZERO,
            Behaviour::Unavailable,
        ));
        servers.push(serve_http(self.silent, Duration::ZERO, Behaviour::Silent));

        resolve("api.demo.test");
        resolve("missing.demo.test");
        resolve("broken.demo.test");
        for (server, path, timeout) in calls {
            if let Some(server) = server {
                let _ = http_get(server, path, timeout);
            }
        }
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.closed_tcp)),
            Duration::from_secs(1),
        );
        if let Ok(udp) = UdpSocket::bind("127.0.0.1:0") {
            let _ = udp.send_to(b"ping", ("127.0.0.1", self.closed_udp));
            let _ = udp.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = udp.recv(&mut [0u8; 64]);
        }
        for s in servers {
            let _ = s.join();
        }
    }
}

/// A port that nothing listens on (bound, then released).
fn closed_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One HTTP/1.1 exchange, as `behaviour` says.
fn serve_http(listener: TcpListener, think: Duration, behaviour: Behaviour) -> JoinHandle<()> {
    thread::spawn(move || {
        let _ = listener.set_nonblocking(false);
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        if read_head(&mut conn).is_none() {
            return;
        }
        thread::sleep(think);
        let mut sink = [0u8; 256];
        match behaviour {
            Behaviour::Reset => {
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
                let _ = conn.write_all(&[b'x'; 2000]);
                // The client sends a little more; closing with it unread makes the
                // kernel send RST instead of FIN: an abortive close mid-response.
                thread::sleep(Duration::from_millis(150));
                drop(conn);
            }
            Behaviour::Silent => {
                // Wait for the client to give up and close.
                let _ = conn.read(&mut sink);
            }
            Behaviour::Answer | Behaviour::Unavailable => {
                let (status, body) = if behaviour == Behaviour::Answer {
                    ("200 OK", "{\"ok\":true}\n")
                } else {
                    ("503 Service Unavailable", "{\"error\":\"overloaded\"}\n")
                };
                // One write: a response in pieces would read as a slow transfer.
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes());
                let _ = conn.shutdown(std::net::Shutdown::Write);
                let _ = conn.read(&mut sink);
            }
        }
    })
}

/// Reads exactly one request head (byte by byte: the reset server must leave
/// whatever follows unread).
fn read_head(conn: &mut TcpStream) -> Option<usize> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while head.len() < 8192 {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
        if head.ends_with(b"\r\n\r\n") {
            return Some(head.len());
        }
    }
    None
}

/// A GET that gives up after `timeout` without an answer.
fn http_get(server: SocketAddr, path: &str, timeout: Duration) -> io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect_timeout(&server, Duration::from_secs(2))?;
    conn.set_read_timeout(Some(timeout))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: api.demo.test\r\nAccept: application/json\r\n\r\n");
    conn.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let mut sent_extra = false;
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                response.extend_from_slice(&buf[..n]);
                if !sent_extra {
                    // Harmless for the others; for the reset server it is the
                    // unread data that turns its close into an RST.
                    let _ = conn.write_all(b"\r\n");
                    sent_extra = true;
                }
            }
        }
    }
    Ok(response)
}

/// Answers `count` queries: api.* with an A record, missing.* NXDOMAIN, else SERVFAIL.
fn serve_dns(sock: UdpSocket, count: usize) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(3)));
    let mut buf = [0u8; 512];
    for _ in 0..count {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            return;
        };
        if let Some(reply) = dns_reply(&buf[..n]) {
            let _ = sock.send_to(&reply, from);
        }
    }
}

/// Builds the lab's answer to one query (header + question copied).
fn dns_reply(query: &[u8]) -> Option<Vec<u8>> {
    let question_end = 12 + question_len(query.get(12..)?)?;
    let name = query.get(12..question_end)?;
    let (rcode, answer) = if name.windows(3).any(|w| w == b"api") {
        (0u8, true)
    } else if name.windows(7).any(|w| w == b"missing") {
        (3, false)
    } else {
        (2, false)
    };
    let mut r = Vec::with_capacity(question_end + 16);
    r.extend_from_slice(query.get(..2)?);
    r.extend_from_slice(&[0x81, 0x80 | rcode]);
    r.extend_from_slice(&[0, 1, 0, u8::from(answer), 0, 0, 0, 0]);
    r.extend_from_slice(query.get(12..question_end)?);
    if answer {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    }
    Some(r)
}

/// Length of the first question: labels, the root, then type and class.
fn question_len(q: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let len = usize::from(*q.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        i += len;
    }
    (i + 4 <= q.len()).then_some(i + 4)
}

/// Sends one A query to the lab's DNS server and waits briefly for the answer.
fn resolve(name: &str) {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return;
    };
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let _ = sock.set_read_timeout(Some(Duration::from_millis(500)));
    if sock.send_to(&q, (DNS_ADDR, 53)).is_ok() {
        let _ = sock.recv(&mut [0u8; 512]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str) -> Vec<u8> {
        let mut q = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        q
    }

    #[test]
    fn dns_replies_carry_the_lab_rcodes() {
        let ok = dns_reply(&query("api.demo.test")).unwrap();
        assert_eq!((ok[0], ok[1], ok[3] & 0x0f, ok[7]), (0xab, 0xcd, 0, 1));
        assert_eq!(&ok[ok.len() - 4..], &[127, 0, 0, 1]);
        assert_eq!(dns_reply(&query("missing.demo.test")).unwrap()[3] & 0x0f, 3);
        assert_eq!(dns_reply(&query("broken.demo.test")).unwrap()[3] & 0x0f, 2);
        assert!(dns_reply(&[0; 5]).is_none());
    }
}
