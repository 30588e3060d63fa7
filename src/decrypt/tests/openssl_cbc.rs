//! TLS 1.2 CBC suites (rustls has none) made by `openssl s_server` and
//! `s_client` on loopback, through a recording TCP proxy in the test: with
//! and without encrypt-then-MAC, and a resumed session whose own client random
//! is not in the key log (session id and ticket resumption).
//!
//! Skips with a printed reason when the `openssl` binary is missing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::util::records;
use crate::decrypt::{KeyLog, Session, SessionCache, SessionParams, TLS12};

const TIMEOUT: Duration = Duration::from_secs(20);

fn openssl_available() -> bool {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            eprintln!("skipping: `openssl` is not installed (apt-get install openssl)");
            false
        }
    }
}

/// Kills a child by its own handle (its PID) when dropped.
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_with_timeout(child: &mut Child) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// An RSA certificate and key made by openssl itself.
fn make_cert(dir: &Path) {
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
}

/// `s_server -www` on a free port, with the suite pinned; returns once it accepts.
fn start_server(dir: &Path, cipher: &str) -> (Killer, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("openssl")
        .args(["s_server", "-www", "-tls1_2", "-cipher", cipher])
        .arg("-accept")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(dir.join("cert.pem"))
        .arg("-key")
        .arg(dir.join("key.pem"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if line.contains("ACCEPT") {
                let _ = tx.send(());
            }
        }
    });
    let killer = Killer(child);
    rx.recv_timeout(TIMEOUT).expect("s_server did not start");
    (killer, port)
}

/// A proxy for one connection: returns its port and a handle yielding the
/// (client→server, server→client) bytes once both sides closed.
type Recording = thread::JoinHandle<(Vec<u8>, Vec<u8>)>;

fn proxy(server_port: u16) -> (u16, Recording) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = thread::spawn(move || {
        let (client, _) = l.accept().unwrap();
        let server = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
        for s in [&client, &server] {
            s.set_read_timeout(Some(TIMEOUT)).unwrap();
        }
        let relay = |mut from: TcpStream, mut to: TcpStream| {
            thread::spawn(move || {
                let mut log = Vec::new();
                let mut buf = [0u8; 16384];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    log.extend_from_slice(&buf[..n]);
                }
                let _ = to.shutdown(Shutdown::Write);
                log
            })
        };
        let a = relay(client.try_clone().unwrap(), server.try_clone().unwrap());
        let b = relay(server, client);
        (a.join().unwrap(), b.join().unwrap())
    });
    (port, h)
}

struct Run {
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    /// What s_client printed: the server's response bytes.
    response: Vec<u8>,
}

const REQUEST: &[u8] = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";

/// One s_client connection through a fresh proxy.
fn client(server_port: u16, cipher: &str, extra: &[&str]) -> Run {
    let (port, recorded) = proxy(server_port);
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-tls1_2", "-cipher", cipher])
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(REQUEST).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let mut k = Killer(child);
    assert!(wait_with_timeout(&mut k.0), "s_client did not finish");
    let response = reader.join().unwrap();
    let (c2s, s2c) = recorded.join().unwrap();
    Run { c2s, s2c, response }
}

/// The plaintext handshake messages of a stream (those before its CCS).
fn handshake_messages(stream: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut hs = Vec::new();
    for r in records(stream) {
        match r.content_type {
            22 => hs.extend_from_slice(&r.fragment),
            20 => break,
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= hs.len() {
        let len =
            usize::from(hs[at + 1]) << 16 | usize::from(hs[at + 2]) << 8 | usize::from(hs[at + 3]);
        out.push((hs[at], hs[at + 4..at + 4 + len].to_vec()));
        at += 4 + len;
    }
    out
}

/// Hello fields: (random, session id, cipher suite, extensions by type).
type Hello = ([u8; 32], Vec<u8>, u16, Vec<(u16, Vec<u8>)>);

fn hello(body: &[u8], client: bool) -> Hello {
    let random: [u8; 32] = body[2..34].try_into().unwrap();
    let sid_len = usize::from(body[34]);
    let sid = body[35..35 + sid_len].to_vec();
    let mut at = 35 + sid_len;
    let suite;
    if client {
        let n = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        suite = 0;
        at += 2 + n;
        at += 1 + usize::from(body[at]); // compression methods
    } else {
        suite = u16::from_be_bytes([body[at], body[at + 1]]);
        at += 3;
    }
    let mut exts = Vec::new();
    if at + 2 <= body.len() {
        let end = at + 2 + usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        at += 2;
        while at + 4 <= end {
            let t = u16::from_be_bytes([body[at], body[at + 1]]);
            let n = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
            exts.push((t, body[at + 4..at + 4 + n].to_vec()));
            at += 4 + n;
        }
    }
    (random, sid, suite, exts)
}

/// What the caller of the decrypt module reads from a TLS 1.2 handshake.
struct Observed {
    params: SessionParams,
    client_sid: Vec<u8>,
    client_ticket: Option<Vec<u8>>,
    server_sid: Vec<u8>,
    new_ticket: Option<Vec<u8>>,
    abbreviated: bool,
}

fn observe(run: &Run) -> Observed {
    let c = handshake_messages(&run.c2s);
    let s = handshake_messages(&run.s2c);
    assert_eq!((c[0].0, s[0].0), (1, 2), "ClientHello, ServerHello first");
    let (cr, client_sid, _, cexts) = hello(&c[0].1, true);
    let (sr, server_sid, suite, sexts) = hello(&s[0].1, false);
    let client_ticket = cexts
        .iter()
        .find(|(t, v)| *t == 35 && !v.is_empty())
        .map(|(_, v)| v.clone());
    let new_ticket = s.iter().find(|(t, _)| *t == 4).map(|(_, b)| {
        let n = usize::from(u16::from_be_bytes([b[4], b[5]]));
        b[6..6 + n].to_vec()
    });
    let abbreviated = !s.iter().any(|(t, _)| *t == 11);
    Observed {
        params: SessionParams {
            version: TLS12,
            cipher_suite: suite,
            client_random: cr,
            server_random: sr,
            encrypt_then_mac: sexts.iter().any(|(t, _)| *t == 22),
        },
        client_sid,
        client_ticket,
        server_sid,
        new_ticket,
        abbreviated,
    }
}

/// Decrypts both directions; returns (client app data, server app data).
fn decrypt_run(session: &mut Session, run: &Run) -> (Vec<u8>, Vec<u8>) {
    let c = super::rustls_live::protected(&run.c2s, false);
    let s = super::rustls_live::protected(&run.s2c, false);
    let (capp, cother) = super::rustls_live::decrypt_direction(session, true, &c);
    let (sapp, sother) = super::rustls_live::decrypt_direction(session, false, &s);
    assert!(
        cother >= 1 && sother >= 1,
        "the Finished messages decrypt too"
    );
    (capp, sapp)
}

#[test]
fn cbc_suites_with_and_without_encrypt_then_mac() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_cert(dir.path());
    let cases = [
        ("AES128-SHA", 0x002F),
        ("AES256-SHA256", 0x003D),
        ("ECDHE-RSA-AES128-SHA", 0xC013),
        ("ECDHE-RSA-AES128-SHA256", 0xC027),
        ("ECDHE-RSA-AES256-SHA384", 0xC028),
        ("DHE-RSA-AES256-SHA", 0x0039),
    ];
    for (cipher, id) in cases {
        let (_server, port) = start_server(dir.path(), cipher);
        for etm in [true, false] {
            let keylog = dir.path().join(format!("{cipher}-{etm}.log"));
            let mut extra = vec!["-keylogfile", keylog.to_str().unwrap()];
            if !etm {
                extra.push("-no_etm");
            }
            let run = client(port, cipher, &extra);
            let obs = observe(&run);
            assert_eq!(obs.params.cipher_suite, id, "{cipher}");
            assert_eq!(
                obs.params.encrypt_then_mac, etm,
                "{cipher}: EtM negotiated as asked"
            );
            let (log, warnings) = KeyLog::from_file(&keylog).unwrap();
            assert!(warnings.is_empty(), "{warnings:?}");
            let mut session = Session::new(&log, &obs.params).unwrap();
            let (req, resp) = decrypt_run(&mut session, &run);
            assert_eq!(req, REQUEST, "{cipher} etm={etm}");
            assert!(
                resp.starts_with(b"HTTP/1.0 200 ok"),
                "{cipher} etm={etm}: {:?}",
                String::from_utf8_lossy(&resp[..resp.len().min(80)])
            );
            assert_eq!(
                resp, run.response,
                "{cipher} etm={etm}: what s_client printed"
            );
            // The EtM flag matters: the other setting fails.
            let mut wrong = obs.params;
            wrong.encrypt_then_mac = !etm;
            let mut session = Session::new(&log, &wrong).unwrap();
            let r = &super::rustls_live::protected(&run.c2s, false)[0];
            assert!(session
                .client_to_server()
                .decrypt(r.content_type, r.version, &r.fragment)
                .is_err());
        }
    }
}

/// A full handshake, then a resumed one (by ticket, then by session id) whose
/// CLIENT_RANDOM line is removed from the log: the cache bridges the two.
#[test]
fn resumed_sessions_via_cache() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_cert(dir.path());
    let cipher = "ECDHE-RSA-AES128-SHA256";
    let (_server, port) = start_server(dir.path(), cipher);
    for by_ticket in [true, false] {
        let sess = dir.path().join(format!("sess-{by_ticket}.pem"));
        let keylog = dir.path().join(format!("keys-{by_ticket}.log"));
        let sess_s = sess.to_str().unwrap();
        let key_s = keylog.to_str().unwrap();
        let mut first_args = vec!["-keylogfile", key_s, "-sess_out", sess_s];
        if !by_ticket {
            first_args.push("-no_ticket");
        }
        let first = client(port, cipher, &first_args);
        let mut second_args = vec!["-sess_in", sess_s];
        if !by_ticket {
            second_args.push("-no_ticket");
        }
        let second = client(port, cipher, &second_args);

        let (log, _) = KeyLog::from_file(&keylog).unwrap();
        assert_eq!(log.len(), 1, "only the first connection is in the log");
        let o1 = observe(&first);
        let o2 = observe(&second);
        assert!(
            !o1.abbreviated && o2.abbreviated,
            "the second connection resumed"
        );
        assert!(log.master_secret(&o2.params.client_random).is_none());

        // Connection 1: full handshake; remember its id and ticket.
        let mut cache = SessionCache::new();
        let mut s1 = Session::new(&log, &o1.params).unwrap();
        let master = *s1.master_secret().unwrap();
        cache.remember_session_id(&o1.server_sid, &master);
        if let Some(t) = &o1.new_ticket {
            cache.remember_ticket(t, &master);
        }
        assert_eq!(o1.new_ticket.is_some(), by_ticket);
        let (req, _) = decrypt_run(&mut s1, &first);
        assert_eq!(req, REQUEST);

        // Connection 2: not in the log; resolved through the cache.
        assert_eq!(
            Session::new(&log, &o2.params).unwrap_err(),
            crate::decrypt::Undecryptable::NoKey
        );
        if by_ticket {
            assert!(o2.client_ticket.is_some());
            // Ticket alone suffices, whatever the ids say.
            assert!(cache
                .resolve(&[], o2.client_ticket.as_deref(), &[], true)
                .is_some());
        }
        let resumed = cache.resolve(
            &o2.client_sid,
            o2.client_ticket.as_deref(),
            &o2.server_sid,
            o2.abbreviated,
        );
        let mut s2 = Session::new_resumed(&log, &o2.params, resumed.as_ref()).unwrap();
        let (req, resp) = decrypt_run(&mut s2, &second);
        assert_eq!(req, REQUEST, "ticket={by_ticket}");
        assert_eq!(resp, second.response, "ticket={by_ticket}");
    }
}
