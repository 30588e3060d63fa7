//! HTTPS decryption on real traffic: `openssl s_server -WWW` serving a JSON
//! file on loopback, curl and `openssl s_client` as clients, every version and
//! cipher family the decryptor supports, captured live, then
//! `analyze --keylog` must recover the request and the response exactly, and
//! tshark with the same key log must see the same request.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{analyze_records, can_capture, capture_lo, run, tshark};

const BODY: &str = "{\"data\":{\"id\":42,\"name\":\"netsleuth\"}}\n";

/// Which key the server's certificate has.
#[derive(Clone, Copy)]
enum Key {
    Rsa,
    Ec,
}

/// An `openssl s_server -WWW` in its own directory, killed (by PID) on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(key: Key, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("data.json"), BODY).unwrap();
        let keyopt: &[&str] = match key {
            Key::Rsa => &["-newkey", "rsa:2048"],
            Key::Ec => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        };
        let ok = Command::new("openssl")
            .current_dir(d)
            .args([
                "req",
                "-x509",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
            ])
            .args(keyopt)
            .args([
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl req failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .current_dir(d)
            .args(["s_server", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-cert", "cert.pem", "-key", "key.pem", "-WWW", "-quiet"])
            .args(["-keylogfile", "server-keys.log"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s_server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/data.json", self.port)
    }

    /// curl with `args`, writing its own key log; returns its output.
    fn curl(&self, args: &[&str]) -> String {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "5", "--cacert"])
            .arg(self.path("cert.pem"))
            .args(args)
            .arg(self.url())
            .env("SSLKEYLOGFILE", self.path("curl-keys.log"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `openssl s_client` sending one request, with `args` (session files...).
    fn s_client(&self, args: &[&str]) {
        let mut child = Command::new("openssl")
            .current_dir(self.dir.path())
            .args(["s_client", "-connect"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-quiet", "-ign_eof", "-CAfile", "cert.pem"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(b"GET /data.json HTTP/1.0\r\n\r\n");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
    }
}

/// Captures the server's port while `traffic` runs; returns the capture path.
fn capture(server: &Server, traffic: impl FnOnce()) -> PathBuf {
    let file = server.path("cap.pcap");
    let port = server.port.to_string();
    capture_lo(&file, &["tcp", "port", &port], traffic);
    file
}

fn analyze(file: &Path, keylog: &Path) -> Vec<Value> {
    analyze_records(file, &["--keylog", keylog.to_str().unwrap()])
}

fn of_type<'a>(records: &'a [Value], t: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

/// Every TLS connection decrypted, every HTTP transaction the request and
/// response sent; returns the tls records.
fn assert_decrypted(records: &[Value], connections: usize) -> Vec<Value> {
    let tls = of_type(records, "tls");
    assert_eq!(tls.len(), connections, "{records:?}");
    for t in &tls {
        assert_eq!(t["decryption"]["status"], "decrypted", "{t}");
    }
    let http = of_type(records, "http");
    assert_eq!(http.len(), connections, "{records:?}");
    for h in &http {
        assert_eq!(h["decrypted"], true);
        assert_eq!(h["method"], "GET");
        assert_eq!(h["path"], "/data.json");
        assert_eq!(h["status"], 200);
        assert_eq!(h["response_body_bytes"], BODY.len(), "{h}");
    }
    tls.into_iter().cloned().collect()
}

/// tshark with the same key log sees the same request.
fn tshark_agrees(file: &Path, keylog: &Path, requests: usize) {
    if !tshark::available("tshark cross-check") {
        return;
    }
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keylog.display()))
        .args([
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-e",
            "http.request.method",
            "-e",
            "http.request.uri",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), requests, "tshark saw: {text}");
    for l in lines {
        assert_eq!(l, "GET\t/data.json");
    }
}

/// One curl request per cipher; `tls13` chooses the flag.
fn cipher_case(key: Key, version: &str, cipher: &str, expect: &str, server_extra: &[&str]) {
    if !can_capture("decrypt_live (needs root to capture)") {
        return;
    }
    let server = Server::start(key, server_extra);
    let args: Vec<&str> = if version == "1.3" {
        vec!["--tlsv1.3", "--tls13-ciphers", cipher]
    } else {
        vec!["--tlsv1.2", "--tls-max", "1.2", "--ciphers", cipher]
    };
    let mut body = String::new();
    let file = capture(&server, || body = server.curl(&args));
    assert_eq!(body, BODY, "curl did not get the file");
    let keylog = server.path("curl-keys.log");
    let tls = assert_decrypted(&analyze(&file, &keylog), 1);
    assert_eq!(tls[0]["version"], format!("TLS {version}"));
    assert_eq!(tls[0]["cipher"], expect);
    if server_extra.contains(&"-groups") {
        assert_eq!(
            tls[0]["server_hello"]["hello_retry_request"], true,
            "{}",
            tls[0]
        );
    }
    if version == "1.3" {
        // The certificate crossed the wire encrypted; decryption shows it.
        assert_eq!(
            tls[0]["certificates"][0]["subject"], "CN=localhost",
            "{}",
            tls[0]
        );
    }
    tshark_agrees(&file, &keylog, 1);
}

#[test]
fn tls13_aes_128_gcm() {
    cipher_case(
        Key::Ec,
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        &[],
    );
}

/// The server accepts only P-256 while curl sends an X25519 key share: a
/// HelloRetryRequest, a second ClientHello, then the encrypted handshake.
#[test]
fn tls13_after_hello_retry_request() {
    cipher_case(
        Key::Ec,
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        &["-groups", "P-256"],
    );
}

#[test]
fn tls13_aes_256_gcm() {
    cipher_case(
        Key::Ec,
        "1.3",
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384",
        &[],
    );
}

#[test]
fn tls13_chacha20() {
    cipher_case(
        Key::Ec,
        "1.3",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
        &[],
    );
}

#[test]
fn tls12_ecdhe_aes_gcm() {
    cipher_case(
        Key::Rsa,
        "1.2",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        &[],
    );
    cipher_case(
        Key::Ec,
        "1.2",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        &[],
    );
}

#[test]
fn tls12_chacha20() {
    cipher_case(
        Key::Ec,
        "1.2",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        &[],
    );
}

/// RSA key exchange with AES-CBC and HMAC-SHA1, SHA256 and SHA384, with
/// encrypt-then-MAC (OpenSSL's default for CBC) and without it.
#[test]
fn tls12_rsa_and_cbc() {
    cipher_case(
        Key::Rsa,
        "1.2",
        "AES128-SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        &[],
    );
    cipher_case(
        Key::Rsa,
        "1.2",
        "AES256-SHA256",
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        &["-no_etm"],
    );
    cipher_case(
        Key::Rsa,
        "1.2",
        "ECDHE-RSA-AES256-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        &[],
    );
}

/// TLS 1.2 resumption by session id and by ticket: the resumed connection's
/// own line is removed from the key log, so only the session it resumes can
/// open it.
#[test]
fn tls12_resumption_without_its_own_key_line() {
    if !can_capture("tls12_resumption (needs root to capture)") {
        return;
    }
    for (what, server_extra) in [("id", vec!["-no_ticket"]), ("ticket", vec![])] {
        let server = Server::start(Key::Ec, &server_extra);
        let common = ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"];
        let file = capture(&server, || {
            let mut first = common.to_vec();
            first.extend(["-sess_out", "sess.pem"]);
            server.s_client(&first);
            let mut second = common.to_vec();
            second.extend(["-sess_in", "sess.pem"]);
            server.s_client(&second);
        });
        let full = std::fs::read_to_string(server.path("server-keys.log")).unwrap();
        let lines: Vec<&str> = full
            .lines()
            .filter(|l| l.starts_with("CLIENT_RANDOM"))
            .collect();
        assert_eq!(lines.len(), 2, "{what}: {full}");
        let first_only = server.path("first-only.log");
        std::fs::write(&first_only, format!("{}\n", lines[0])).unwrap();
        let records = analyze(&file, &first_only);
        let tls = assert_decrypted(&records, 2);
        // Zeek's `resumed`: the second connection, not the first.
        assert_eq!(tls[0]["resumed"], false, "{what}: {}", tls[0]);
        assert_eq!(tls[1]["resumed"], true, "{what}: {}", tls[1]);
    }
}

/// The `(ja3, ja3_string)` or `(ja3s, ja3s_string)` tshark computes for
/// each hello of `file`, in frame order.
fn tshark_ja3(file: &Path, hello: u8, field: &str) -> Vec<(String, String)> {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args([
            "-Y",
            &format!("tls.handshake.type == {hello}"),
            "-T",
            "fields",
        ])
        .args(["-e", &format!("tls.handshake.{field}")])
        .args(["-e", &format!("tls.handshake.{field}_full")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// JA3 and JA3S of curl (TLS 1.3, ALPN) and `openssl s_client` (TLS 1.2,
/// then TLS 1.3 resumed with a pre-shared key) are the ones Wireshark
/// computes; JA4 has its shape; the TLS 1.3 resumption is `resumed`, and
/// the key exchange group is named.
#[test]
fn tls_fingerprints_match_tshark_and_resumption_is_seen() {
    if !can_capture("tls_fingerprints (needs root to capture)")
        || !tshark::available("tls_fingerprints")
    {
        return;
    }
    let server = Server::start(Key::Ec, &[]);
    let file = capture(&server, || {
        server.curl(&["--tlsv1.3"]);
        server.s_client(&["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]);
        server.s_client(&["-tls1_3", "-sess_out", "sess13.pem"]);
        server.s_client(&["-tls1_3", "-sess_in", "sess13.pem"]);
    });
    let records = analyzer_records(&file);
    let tls = of_type(&records, "tls");
    assert_eq!(tls.len(), 4, "{records:?}");
    let ours: Vec<(String, String)> = tls
        .iter()
        .map(|t| {
            let h = &t["client_hello"];
            (
                h["ja3"].as_str().unwrap().into(),
                h["ja3_string"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        ours,
        tshark_ja3(&file, 1, "ja3"),
        "JA3 differs from Wireshark's"
    );
    let ours_s: Vec<(String, String)> = tls
        .iter()
        .map(|t| {
            let h = &t["server_hello"];
            (
                h["ja3s"].as_str().unwrap().into(),
                h["ja3s_string"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        ours_s,
        tshark_ja3(&file, 2, "ja3s"),
        "JA3S differs from Wireshark's"
    );
    // curl and openssl are different clients; the two s_client runs of one
    // version share nothing with curl.
    assert_ne!(ours[0].0, ours[1].0);
    for t in &tls {
        let ja4 = t["client_hello"]["ja4"].as_str().unwrap();
        assert_eq!(ja4.len(), 36, "{ja4}");
        assert!(ja4.starts_with("t1"), "{ja4}");
    }
    assert!(
        tls[0]["client_hello"]["ja4"]
            .as_str()
            .unwrap()
            .starts_with("t13i"),
        "curl to an address: TLS 1.3, no SNI"
    );
    let resumed: Vec<bool> = tls
        .iter()
        .map(|t| t["resumed"].as_bool().unwrap())
        .collect();
    assert_eq!(resumed, [false, false, false, true]);
    for t in &tls {
        assert!(t["curve"].is_string(), "key exchange group named: {t}");
    }
}

fn analyzer_records(file: &Path) -> Vec<Value> {
    analyze_records(file, &[])
}

/// A key log for other connections: "no key"; a corrupted secret: an
/// authentication failure, never garbage.
#[test]
fn wrong_or_missing_keys_are_said_honestly() {
    if !can_capture("wrong_or_missing_keys (needs root to capture)") {
        return;
    }
    let server = Server::start(Key::Ec, &[]);
    let file = capture(&server, || {
        server.curl(&["--tlsv1.3"]);
    });
    let real = std::fs::read_to_string(server.path("curl-keys.log")).unwrap();
    // Another client random entirely.
    let other = server.path("other.log");
    std::fs::write(
        &other,
        format!("CLIENT_RANDOM {} {}\n", "ab".repeat(32), "cd".repeat(48)),
    )
    .unwrap();
    let records = analyze(&file, &other);
    let tls = of_type(&records, "tls");
    assert_eq!(tls[0]["decryption"]["status"], "not_decrypted");
    assert!(tls[0]["decryption"]["reason"]
        .as_str()
        .unwrap()
        .contains("no key"));
    assert!(of_type(&records, "http").is_empty());
    // The right client randoms with flipped secrets.
    let flipped: String = real
        .lines()
        .map(|l| {
            let mut parts: Vec<String> = l.split(' ').map(String::from).collect();
            if let Some(secret) = parts.get_mut(2) {
                let first = if secret.starts_with('0') { "1" } else { "0" };
                secret.replace_range(0..1, first);
            }
            parts.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let wrong = server.path("wrong.log");
    std::fs::write(&wrong, flipped).unwrap();
    let records = analyze(&file, &wrong);
    let tls = of_type(&records, "tls");
    assert_eq!(tls[0]["decryption"]["status"], "not_decrypted");
    assert!(
        tls[0]["decryption"]["reason"]
            .as_str()
            .unwrap()
            .contains("authentication"),
        "{}",
        tls[0]
    );
    assert!(of_type(&records, "http").is_empty());
}

/// TLS 1.3 hides the certificate; with the key log it is seen: curl does not
/// trust the self-signed certificate and says unknown_ca (OpenSSL sends that
/// alert in the clear, before its own encrypted flight), and the decrypted
/// handshake shows which certificate it refused.
#[test]
fn tls13_rejected_certificate_is_seen_through_the_encryption() {
    if !can_capture("tls13_rejected_certificate (needs root to capture)") {
        return;
    }
    let server = Server::start(Key::Ec, &[]);
    let file = capture(&server, || {
        let _ = Command::new("curl")
            .args(["-s", "--max-time", "5", "--tlsv1.3"])
            .arg(server.url())
            .env("SSLKEYLOGFILE", server.path("curl-keys.log"))
            .output();
    });
    // Without keys: the certificate is not visible.
    let (_, plain, _) = run(&["analyze", "--jsonl", file.to_str().unwrap()]);
    assert!(plain.contains("\"certificates\":[]"), "{plain}");
    let records = analyze(&file, &server.path("curl-keys.log"));
    let tls = of_type(&records, "tls");
    assert_eq!(tls[0]["decryption"]["status"], "decrypted", "{}", tls[0]);
    assert_eq!(tls[0]["certificates"][0]["subject"], "CN=localhost");
    let alert = &tls[0]["alerts"][0];
    assert_eq!(alert["from"], "client", "{}", tls[0]);
    assert_eq!(alert["description"], "unknown_ca");
    let findings: Vec<&Value> = of_type(&records, "finding")
        .into_iter()
        .filter(|f| f["kind"].as_str().unwrap().starts_with("tls."))
        .collect();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["kind"], "tls.unknown_ca");
}

/// Secrets embedded in the pcapng (`editcap --inject-secrets`) decrypt without
/// any --keylog, in `analyze` and in `follow`.
#[test]
fn pcapng_decryption_secrets_are_used() {
    if !can_capture("pcapng_decryption_secrets_are_used (needs root to capture)") {
        return;
    }
    let Ok(true) = Command::new("editcap")
        .arg("--help")
        .output()
        .map(|o| o.status.success())
    else {
        eprintln!("skipping pcapng_decryption_secrets_are_used: editcap is not installed");
        return;
    };
    let server = Server::start(Key::Ec, &[]);
    let file = capture(&server, || {
        server.curl(&[]);
    });
    let with_keys = server.path("with-keys.pcapng");
    let ok = Command::new("editcap")
        .arg("--inject-secrets")
        .arg(format!("tls,{}", server.path("curl-keys.log").display()))
        .arg(&file)
        .arg(&with_keys)
        .status()
        .unwrap()
        .success();
    assert!(ok, "editcap failed");
    let records = analyze_records(&with_keys, &[]);
    assert_decrypted(&records, 1);
    // `follow` takes them too.
    let conn = of_type(&records, "tls")[0]["conn"].to_string();
    let (code, out, err) = run(&["follow", with_keys.to_str().unwrap(), &conn]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("GET /data.json HTTP/1.1\\r"), "{out}");
    assert!(out.contains("[TLS decrypted:"), "{out}");
}

/// `--expect` rules check decrypted responses like plaintext ones.
#[test]
fn expectations_hold_on_decrypted_responses() {
    if !can_capture("expectations_hold_on_decrypted_responses (needs root to capture)") {
        return;
    }
    let server = Server::start(Key::Ec, &[]);
    let file = capture(&server, || {
        server.curl(&[]);
    });
    let keylog = server.path("curl-keys.log");
    let k = keylog.to_str().unwrap();
    let pass = analyze_records(&file, &["--keylog", k, "--expect", "json .data.id == 42"]);
    assert!(of_type(&pass, "finding").is_empty(), "{pass:?}");
    let fail = analyze_records(
        &file,
        &["--keylog", k, "--expect", "json .data.name == \"other\""],
    );
    let findings = of_type(&fail, "finding");
    assert_eq!(findings.len(), 1, "{fail:?}");
    assert_eq!(findings[0]["kind"], "http.expectation_failed");
    let summary = findings[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("decrypted HTTPS") && summary.contains("netsleuth"),
        "{summary}"
    );
}

/// `follow --keylog` shows the decrypted request and the JSON body.
#[test]
fn follow_shows_the_decrypted_conversation() {
    if !can_capture("follow_shows_the_decrypted_conversation (needs root to capture)") {
        return;
    }
    let server = Server::start(Key::Ec, &[]);
    let file = capture(&server, || {
        server.curl(&[]);
    });
    let keylog = server.path("curl-keys.log");
    let (code, out, err) = run(&[
        "follow",
        file.to_str().unwrap(),
        "1",
        "--keylog",
        keylog.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("GET /data.json HTTP/1.1\\r"), "{out}");
    assert!(out.contains("\"name\":\"netsleuth\""), "{out}");
    assert!(out.contains("[TLS decrypted:"), "{out}");
}
