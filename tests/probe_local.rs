//! `probe` under a tiny open-file limit (`prlimit --nofile`): the socket it
//! cannot open is `local.resource_exhausted` naming the limit, never a refusal
//! or a DNS time-out.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::util::servers::{dns_server, http_server, DnsAnswer, Reply};

/// `prlimit --nofile=N:N netsleuth probe --json URL`: None when the process
/// could not even start its runtime under that limit.
fn probe_limited(n: u32, url: &str, extra: &[&str]) -> Option<(i32, Value)> {
    let out = Command::new("prlimit")
        .arg(format!("--nofile={n}:{n}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_netsleuth"))
        .args(["probe", "--json", url])
        .args(extra)
        .output()
        .expect("run prlimit");
    let doc = serde_json::from_slice(&out.stdout).ok()?;
    Some((out.status.code().unwrap_or(-1), doc))
}

fn kinds(doc: &Value) -> Vec<&str> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect()
}

fn have_prlimit(test: &str) -> bool {
    let ok = Command::new("prlimit").arg("--version").output().is_ok();
    if !ok {
        eprintln!("skipping {test}: prlimit (util-linux) is not installed");
    }
    ok
}

/// Raises the limit one descriptor at a time from where the process can start:
/// the first runs fail locally (with the fix named), and once the limit allows
/// a socket the call succeeds. Checks `url` reaches both.
fn limits_then_success(url: &str, extra: &[&str], phase: &str, next: &str) {
    let mut failed_locally = 0;
    for n in 3..=32 {
        let Some((code, doc)) = probe_limited(n, url, extra) else {
            assert_eq!(failed_locally, 0, "limit {n}: no output after a run");
            continue;
        };
        if doc["verdict"]["ok"] == true {
            assert_eq!(code, 0, "{doc}");
            assert!(failed_locally > 0, "never failed locally before limit {n}");
            return;
        }
        let k = kinds(&doc);
        assert!(k.contains(&"local.resource_exhausted"), "limit {n}: {doc}");
        assert!(
            !k.iter()
                .any(|k| *k == "tcp.connect_refused" || k.starts_with("dns.")),
            "limit {n}: {doc}"
        );
        assert_eq!(code, 1, "{doc}");
        if doc["verdict"]["phase"].is_null() || doc["verdict"]["phase"] != phase {
            // A later phase ran out (the limit let this one through).
            assert!(failed_locally > 0, "limit {n}: {doc}");
            failed_locally += 1;
            continue;
        }
        assert_eq!(doc["verdict"]["phase"], phase, "{doc}");
        let f = &doc["findings"][0];
        assert_eq!(f["severity"], "error");
        assert!(f["next_step"].as_str().unwrap().contains(next), "{f}");
        assert!(
            f["summary"].as_str().unwrap().contains("os error 24"),
            "{f}"
        );
        failed_locally += 1;
    }
    panic!("the probe never succeeded up to 32 descriptors");
}

#[test]
fn probe_out_of_descriptors_at_connect_is_local_resource_exhausted() {
    if !have_prlimit("probe_out_of_descriptors_at_connect_is_local_resource_exhausted") {
        return;
    }
    let port = http_server(Reply::Status(200, Duration::ZERO), 32, None);
    limits_then_success(
        &format!("http://127.0.0.1:{port}/"),
        &[],
        "connect",
        "ulimit -n",
    );
}

#[test]
fn probe_out_of_descriptors_at_lookup_is_local_resource_exhausted() {
    if !have_prlimit("probe_out_of_descriptors_at_lookup_is_local_resource_exhausted") {
        return;
    }
    let port = http_server(Reply::Status(200, Duration::ZERO), 32, None);
    // localhost comes from /etc/hosts, which needs a descriptor too.
    limits_then_success(
        &format!("http://localhost:{port}/"),
        &[],
        "dns",
        "ulimit -n",
    );
}

/// The probe's own DNS client: the UDP socket it cannot open is local too,
/// not a DNS time-out.
#[test]
fn probe_out_of_descriptors_for_its_dns_socket_is_local_resource_exhausted() {
    if !have_prlimit("probe_out_of_descriptors_for_its_dns_socket_is_local_resource_exhausted") {
        return;
    }
    let port = http_server(Reply::Status(200, Duration::ZERO), 32, None);
    let dns = dns_server(vec![("api.limit.test", DnsAnswer::A([127, 0, 0, 1]))], 64);
    let dns = dns.to_string();
    limits_then_success(
        &format!("http://api.limit.test:{port}/"),
        &["--dns-server", &dns, "-4"],
        "dns",
        "ulimit -n",
    );
}
