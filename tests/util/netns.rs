//! Network-namespace topologies with real faults, for tests that need real TCP
//! behaviour (loss, retransmission, zero window) rather than hand-built frames.
//!
//! Everything shells out to `ip`, `ethtool`, `iptables` and `ip netns exec`, as
//! `/work/shared/LAB.md` describes. Every resource is a guard that undoes itself on
//! drop, on success and on panic alike:
//!
//! - [`Netns`]: a namespace, deleted on drop (its interfaces and iptables rules go
//!   with it);
//! - [`Proc`]: a process started inside a namespace, killed by its PID on drop;
//! - [`DropRule`]: an iptables rule, deleted on drop;
//! - [`NsCapture`]: `netsleuth capture` inside a namespace, killed on drop unless
//!   [`NsCapture::finish`] stopped it cleanly.
//!
//! Topologies ([`TwoHosts`], [`Routed`]) own their namespaces and rules; rules are
//! declared before namespaces so they are removed first. Veth pairs are created
//! directly inside the namespaces, so interface names never touch the host's
//! namespace and parallel tests cannot collide; namespace names carry the process
//! id and a counter.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::LiveCapture;

/// Client-side and server-side interface names (inside their namespaces).
pub const CLIENT_IF: &str = "veth-c";
pub const SERVER_IF: &str = "veth-s";
/// The router's interfaces in [`Routed`]: towards the client and towards the server.
pub const ROUTER_CLIENT_IF: &str = "veth-rc";
pub const ROUTER_SERVER_IF: &str = "veth-rs";
/// The MTU of every veth; frames on the wire are at most `MTU + 14` bytes.
pub const MTU: usize = 1500;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A number unique within this test process, used for names and subnets.
fn next_id() -> u32 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `prog args` on the host, panicking with its stderr when it fails.
pub fn host(prog: &str, args: &[&str]) -> String {
    let out = Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"));
    check(prog, args, out)
}

fn check(prog: &str, args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "`{prog} {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `Command` running `cmd` inside namespace `ns`.
pub fn ns_command(ns: &str, cmd: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(cmd);
    c
}

/// Runs `cmd` inside `ns` and returns its stdout; panics when it fails.
pub fn exec(ns: &str, cmd: &[&str]) -> String {
    let out = ns_command(ns, cmd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip netns exec {ns}: {e}"));
    check(&format!("ip netns exec {ns}"), cmd, out)
}

/// Runs `cmd` inside `ns`, killing it after `limit`. Returns (success, stdout, stderr).
pub fn exec_bounded(ns: &str, cmd: &[&str], limit: Duration) -> (bool, String, String) {
    let mut p = spawn(ns, cmd);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = p.child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (out, err) = p.read_output();
    match status {
        Some(s) => (s.success(), out, err),
        None => (false, out, format!("{err}\n(killed after {limit:?})")),
    }
}

/// A process inside a namespace, killed (by its PID) when dropped.
pub struct Proc {
    pub child: Child,
    what: String,
}

impl Proc {
    /// Waits for a line on stdout containing `marker` (at most `limit`).
    pub fn wait_for_stdout(&mut self, marker: &str, limit: Duration) {
        let stdout = self.child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(marker) => return,
                Ok(_) => {}
                Err(_) => panic!("{}: no '{marker}' on stdout within {limit:?}", self.what),
            }
        }
    }

    /// Kills the process if still running and returns what it wrote.
    fn read_output(&mut self) -> (String, String) {
        use std::io::Read;
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (out, err)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // `ip netns exec` execs the command, so this PID is the command itself.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Starts `cmd` inside `ns` with stdout and stderr piped; killed on drop.
pub fn spawn(ns: &str, cmd: &[&str]) -> Proc {
    let child = ns_command(ns, cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn in {ns}: {e}"));
    Proc {
        child,
        what: format!("{ns}: {}", cmd.first().copied().unwrap_or("")),
    }
}

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates namespace `name` with `lo` up.
    pub fn new(name: String) -> Netns {
        // A namespace left by a killed earlier run of this same PID would be stale.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        host("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn exec(&self, cmd: &[&str]) -> String {
        exec(&self.name, cmd)
    }

    pub fn spawn(&self, cmd: &[&str]) -> Proc {
        spawn(&self.name, cmd)
    }

    /// Adds `iptables -A CHAIN SPEC` here; the rule is deleted when the guard drops.
    pub fn drop_rule(&self, chain: &str, spec: &str) -> DropRule {
        drop_rule(&self.name, chain, spec)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// `/etc/netns/NS/resolv.conf` for namespace `ns` (what `ip netns exec`
/// mounts over `/etc/resolv.conf`), removed on drop.
pub struct ResolvConf {
    dir: PathBuf,
}

impl ResolvConf {
    /// Writes the namespace's resolv.conf with `content`.
    pub fn with(ns: &str, content: &str) -> ResolvConf {
        let dir = PathBuf::from("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir).expect("create /etc/netns/NS");
        let guard = ResolvConf { dir };
        std::fs::write(guard.dir.join("resolv.conf"), content).expect("write resolv.conf");
        guard
    }
}

impl Drop for ResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An iptables rule in a namespace, deleted on drop.
pub struct DropRule {
    ns: String,
    chain: String,
    spec: Vec<String>,
}

/// Appends `iptables -A CHAIN SPEC` in `ns`, e.g. `drop_rule(ns, "INPUT",
/// "-p tcp --dport 80 -m statistic --mode random --probability 0.05 -j DROP")` or
/// `--mode nth --every 7 --packet 3` for deterministic loss.
pub fn drop_rule(ns: &str, chain: &str, spec: &str) -> DropRule {
    let spec: Vec<String> = spec.split_whitespace().map(String::from).collect();
    let mut args = vec!["iptables", "-w", "-A", chain];
    args.extend(spec.iter().map(String::as_str));
    exec(ns, &args);
    DropRule {
        ns: ns.to_string(),
        chain: chain.to_string(),
        spec,
    }
}

impl Drop for DropRule {
    fn drop(&mut self) {
        let mut args = vec![
            "netns",
            "exec",
            &self.ns,
            "iptables",
            "-w",
            "-D",
            &self.chain,
        ];
        args.extend(self.spec.iter().map(String::as_str));
        let _ = Command::new("ip")
            .args(&args)
            .stderr(Stdio::null())
            .status();
    }
}

/// A veth pair from `a:a_if` (address `a_addr`) to `b:b_if` (address `b_addr`),
/// offloads off on both ends.
fn veth(a: &Netns, a_if: &str, a_addr: &str, b: &Netns, b_if: &str, b_addr: &str) {
    host(
        "ip",
        &[
            "link", "add", a_if, "netns", &a.name, "type", "veth", "peer", "name", b_if, "netns",
            &b.name,
        ],
    );
    for (ns, dev, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        ns.exec(&["ip", "addr", "add", addr, "dev", dev]);
        // Without this the capture holds 64 KB super-segments (LAB.md); gso_max_segs 1
        // also stops any segment built above the veth from leaving unsplit.
        ns.exec(&[
            "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off",
        ]);
        ns.exec(&["ip", "link", "set", dev, "gso_max_segs", "1", "up"]);
    }
}

/// Namespace name prefix unique to this process and call: `nst-PID-N`.
fn prefix(tag: &str) -> (String, u32) {
    let n = next_id();
    (format!("nst-{}-{n}-{tag}", std::process::id()), n)
}

/// Client namespace ↔ server namespace over one veth pair (`CLIENT_IF` ↔ `SERVER_IF`).
pub struct TwoHosts {
    /// Rules added through [`TwoHosts::drop_rule`]; removed before the namespaces.
    pub rules: Vec<DropRule>,
    pub client: Netns,
    pub server: Netns,
    pub client_ip: String,
    pub server_ip: String,
}

impl TwoHosts {
    /// `tag` (a few characters) names the namespaces, to tell tests apart.
    pub fn new(tag: &str) -> TwoHosts {
        let (p, n) = prefix(tag);
        let subnet = format!("10.91.{}", n % 250);
        let client = Netns::new(format!("{p}-c"));
        let server = Netns::new(format!("{p}-s"));
        let client_ip = format!("{subnet}.1");
        let server_ip = format!("{subnet}.2");
        veth(
            &client,
            CLIENT_IF,
            &format!("{client_ip}/24"),
            &server,
            SERVER_IF,
            &format!("{server_ip}/24"),
        );
        TwoHosts {
            rules: Vec::new(),
            client,
            server,
            client_ip,
            server_ip,
        }
    }

    /// Adds an iptables rule in `ns` (one of this topology's) owned by the topology.
    pub fn drop_rule(&mut self, ns: &str, chain: &str, spec: &str) {
        self.rules.push(drop_rule(ns, chain, spec));
    }
}

/// Client ↔ router ↔ server, for loss upstream of a capture on the client's veth:
/// drop in the router's FORWARD chain and the client never sees the original.
pub struct Routed {
    pub rules: Vec<DropRule>,
    pub client: Netns,
    pub router: Netns,
    pub server: Netns,
    pub client_ip: String,
    pub server_ip: String,
}

impl Routed {
    pub fn new(tag: &str) -> Routed {
        let (p, n) = prefix(tag);
        let a = format!("10.92.{}", n % 250);
        let b = format!("10.93.{}", n % 250);
        let client = Netns::new(format!("{p}-c"));
        let router = Netns::new(format!("{p}-r"));
        let server = Netns::new(format!("{p}-s"));
        let client_ip = format!("{a}.1");
        let server_ip = format!("{b}.2");
        veth(
            &client,
            CLIENT_IF,
            &format!("{client_ip}/24"),
            &router,
            ROUTER_CLIENT_IF,
            &format!("{a}.254/24"),
        );
        veth(
            &router,
            ROUTER_SERVER_IF,
            &format!("{b}.254/24"),
            &server,
            SERVER_IF,
            &format!("{server_ip}/24"),
        );
        router.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        client.exec(&["ip", "route", "add", "default", "via", &format!("{a}.254")]);
        server.exec(&["ip", "route", "add", "default", "via", &format!("{b}.254")]);
        Routed {
            rules: Vec::new(),
            client,
            router,
            server,
            client_ip,
            server_ip,
        }
    }

    pub fn drop_rule(&mut self, ns: &str, chain: &str, spec: &str) {
        self.rules.push(drop_rule(ns, chain, spec));
    }
}

/// `netsleuth capture` running inside a namespace; killed on drop unless finished.
pub struct NsCapture {
    cap: Option<LiveCapture>,
}

impl NsCapture {
    /// Starts `netsleuth capture -i IFACE -w FILE --immediate FILTER` inside `ns`
    /// and waits until it says it is listening (the namespaced `LiveCapture::start`).
    pub fn start(ns: &str, iface: &str, file: &Path, filter: &str) -> NsCapture {
        let bin = env!("CARGO_BIN_EXE_netsleuth");
        let file = file.to_str().expect("utf-8 path");
        let mut cmd = vec![bin, "capture", "-i", iface, "-w", file, "--immediate"];
        cmd.extend(filter.split_whitespace());
        let mut guard = NsCapture {
            cap: Some(LiveCapture::spawn(ns_command(ns, &cmd))),
        };
        // Inside the guard: a capture that never listens is killed on the panic.
        guard.cap.as_mut().expect("capture").wait_listening();
        guard
    }

    /// Stops the capture with SIGINT (after a short grace period for the last ACKs)
    /// and returns its stderr; panics when it does not exit cleanly.
    pub fn finish(mut self) -> String {
        std::thread::sleep(Duration::from_millis(100));
        let cap = self.cap.take().expect("capture");
        cap.signal("INT");
        let (code, _, err) = cap.finish();
        assert_eq!(code, 0, "capture failed: {err}");
        err
    }
}

impl Drop for NsCapture {
    fn drop(&mut self) {
        if let Some(mut cap) = self.cap.take() {
            let _ = cap.child.kill();
            let _ = cap.child.wait();
        }
    }
}

/// The Python interpreter for traffic: the system one when present.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// A TCP server: each connection carries requests made of `[u32 req_len][u32
/// resp_len]` and `req_len` bytes, each answered with `resp_len` bytes. Reads `chunk` bytes at a time,
/// sleeping `delay` seconds after each read; `rcvbuf` > 0 sets SO_RCVBUF before
/// listen. Exits after `idle` seconds without a connection.
const SERVER_PY: &str = r#"
import socket, struct, sys, time
port, rcvbuf, delay, chunk, idle = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if rcvbuf: ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
ls.bind(("0.0.0.0", port)); ls.listen(8); ls.settimeout(idle)
print("ready", flush=True)
def rd(c, n):
    b = bytearray()
    while len(b) < n:
        d = c.recv(min(chunk, n - len(b)))
        if not d: return None
        b += d
        if delay: time.sleep(delay)
    return bytes(b)
while True:
    try: c, _ = ls.accept()
    except socket.timeout: break
    c.settimeout(idle)
    try:
        while True:
            h = rd(c, 8)
            if h is None: break
            q, r = struct.unpack("!II", h)
            if rd(c, q) is None: break
            c.sendall(b"r" * r)
    except OSError as e: print("server:", e, file=sys.stderr, flush=True)
    c.close()
"#;

/// The matching client: `count` requests of `req` bytes on one connection, each
/// answered with `resp` bytes, then a clean close. Prints "ok".
const CLIENT_PY: &str = r#"
import socket, struct, sys
host, port, q, r, n, to = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
c = socket.create_connection((host, port), timeout=to)
for i in range(n):
    c.sendall(struct.pack("!II", q, r) + b"q" * q)
    got = 0
    while got < r:
        d = c.recv(65536)
        if not d: sys.exit("closed early")
        got += len(d)
c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
print("ok", flush=True)
"#;

/// How the server reads.
#[derive(Clone, Copy, Debug)]
pub struct ServerOpts {
    pub port: u16,
    /// SO_RCVBUF in bytes; 0 keeps the kernel's default.
    pub rcvbuf: u32,
    /// Seconds to sleep after each read.
    pub read_delay: f64,
    /// Bytes per read.
    pub chunk: u32,
}

impl ServerOpts {
    pub fn fast(port: u16) -> ServerOpts {
        ServerOpts {
            port,
            rcvbuf: 0,
            read_delay: 0.0,
            chunk: 65_536,
        }
    }
}

/// Starts the request/response server in `ns` and waits until it listens.
pub fn start_server(ns: &str, opts: ServerOpts) -> Proc {
    let args = [
        opts.port.to_string(),
        opts.rcvbuf.to_string(),
        opts.read_delay.to_string(),
        opts.chunk.to_string(),
        "20".to_string(),
    ];
    let mut cmd = vec![python(), "-c", SERVER_PY];
    cmd.extend(args.iter().map(String::as_str));
    let mut p = spawn(ns, &cmd);
    p.wait_for_stdout("ready", Duration::from_secs(10));
    p
}

/// One client connection from `ns` to `server:port`: `count` requests of `req`
/// bytes, each answered with `resp` bytes; killed after `limit`. Panics unless it
/// completes.
pub fn run_client(
    ns: &str,
    server: &str,
    port: u16,
    req: u32,
    resp: u32,
    count: u32,
    limit: Duration,
) {
    let args = [
        server.to_string(),
        port.to_string(),
        req.to_string(),
        resp.to_string(),
        count.to_string(),
        limit.as_secs_f64().to_string(),
    ];
    let mut cmd = vec![python(), "-c", CLIENT_PY];
    cmd.extend(args.iter().map(String::as_str));
    let (ok, out, err) = exec_bounded(ns, &cmd, limit);
    assert!(
        ok && out.contains("ok"),
        "client failed: stdout {out:?}, stderr {err}"
    );
}
