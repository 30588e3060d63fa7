//! DNS rule tests on hand-built records.

use super::*;
use crate::app::dns::{Asked, Transport};
use crate::base::Timestamp;

const T0: i64 = 1_700_000_000_000_000_000;

fn rec(name: &str, rcode: Option<&str>, latency_ms: Option<i64>) -> DnsRecord {
    let server: std::net::SocketAddr = "10.0.0.53:53".parse().unwrap();
    let mut r = DnsRecord::asked(
        Asked {
            conn: 7,
            client: "10.0.0.5:40000".parse().unwrap(),
            server,
            transport: Transport::Udp,
            id: 1,
            qname: name.to_string(),
            qtype: "A".to_string(),
            frame: 1,
            time: Timestamp(T0),
        },
        vec![server],
    );
    r.response_frame = rcode.map(|_| 2);
    r.response_time = latency_ms.map(|ms| Timestamp(T0 + ms * 1_000_000));
    r.latency_ms = latency_ms.map(|ms| ms as f64);
    r.rcode = rcode.map(str::to_string);
    r
}

fn kinds(f: &[Finding]) -> Vec<(&'static str, Severity)> {
    f.iter().map(|f| (f.kind, f.severity)).collect()
}

#[test]
fn rcodes() {
    let f = diagnose(&rec("a.example", Some("NXDOMAIN"), Some(3)));
    assert_eq!(kinds(&f), [("dns.nxdomain", Severity::Warning)]);
    assert!(f[0].summary.contains("a.example") && f[0].summary.contains("10.0.0.53:53"));
    assert_eq!(f[0].frames, [1, 2]);
    let f = diagnose(&rec("a.example", Some("SERVFAIL"), Some(3)));
    assert_eq!(kinds(&f), [("dns.servfail", Severity::Error)]);
    assert!(f[0].next_step.contains("DNSSEC"), "{}", f[0].next_step);
    assert!(f[0].summary.contains("3.0 ms"), "{}", f[0].summary);
    let f = diagnose(&rec("a.example", Some("REFUSED"), Some(3)));
    assert_eq!(kinds(&f), [("dns.refused", Severity::Error)]);
    assert!(diagnose(&rec("a.example", Some("NOERROR"), Some(3))).is_empty());
}

#[test]
fn slow_at_threshold() {
    assert!(diagnose(&rec("a.example", Some("NOERROR"), Some(199))).is_empty());
    let f = diagnose(&rec("a.example", Some("NOERROR"), Some(200)));
    assert_eq!(kinds(&f), [("dns.slow", Severity::Warning)]);
    assert!(f[0].summary.contains("10.0.0.53:53"));
    // SERVFAIL states its own time: no extra slow finding.
    let f = diagnose(&rec("a.example", Some("SERVFAIL"), Some(900)));
    assert_eq!(kinds(&f), [("dns.servfail", Severity::Error)]);
}

#[test]
fn timeout_counts_retries_and_servers() {
    let mut r = rec("a.example", None, None);
    r.timed_out = true;
    r.retries = 2;
    r.retry_frames = vec![5, 9];
    r.servers_tried.push("10.0.0.54:53".parse().unwrap());
    let f = diagnose(&r);
    assert_eq!(kinds(&f), [("dns.timeout", Severity::Error)]);
    assert!(f[0].summary.contains("3 queries"), "{}", f[0].summary);
    assert!(f[0].summary.contains("10.0.0.54:53"), "{}", f[0].summary);
    assert!(f[0]
        .next_step
        .starts_with("check that the resolvers answer on port 53"));
    assert_eq!(f[0].frames, [1, 5, 9]);
    // Unanswered at the end: only worth a finding once the client retried.
    let mut r = rec("a.example", None, None);
    r.unanswered_at_end = true;
    assert!(diagnose(&r).is_empty());
    r.retries = 1;
    r.retry_frames = vec![4];
    assert_eq!(kinds(&diagnose(&r)), [("dns.timeout", Severity::Warning)]);
}

/// Found on real traffic: queries answered by ICMP port unreachable are an
/// error naming the ICMP, with its frames as evidence, even when the capture
/// ended before the time-out.
#[test]
fn icmp_unreachable_lookup() {
    let mut r = rec("a.example", None, None);
    r.unanswered_at_end = true;
    r.retries = 1;
    r.retry_frames = vec![3];
    r.unreachable = Some(crate::app::dns::DnsUnreachable {
        from: "10.0.0.53".parse().unwrap(),
        description: "port unreachable".into(),
        frames: vec![2, 4],
        count: 2,
    });
    let f = diagnose(&r);
    assert_eq!(kinds(&f), [("dns.timeout", Severity::Error)]);
    assert_eq!(
        f[0].summary,
        "no answer for a.example (A): 2 queries to 10.0.0.53:53, answered by ICMP port unreachable from 10.0.0.53 (2 times)"
    );
    assert!(f[0]
        .next_step
        .starts_with("nothing listens on port 53 at 10.0.0.53"));
    assert_eq!(f[0].frames, [1, 2, 3, 4]);
    // A single query counts too: the ICMP is the answer.
    r.retries = 0;
    r.retry_frames.clear();
    if let Some(u) = r.unreachable.as_mut() {
        u.description = "host unreachable".into();
        u.count = 1;
    }
    let f = diagnose(&r);
    assert_eq!(kinds(&f), [("dns.timeout", Severity::Error)]);
    assert!(
        f[0].summary
            .ends_with("1 query to 10.0.0.53:53, answered by ICMP host unreachable from 10.0.0.53"),
        "{}",
        f[0].summary
    );
    assert!(f[0].next_step.contains("cannot be reached"));
}

#[test]
fn search_list_nxdomain_is_info() {
    let a = rec(
        "api.example.com.svc.cluster.local",
        Some("NXDOMAIN"),
        Some(1),
    );
    let b = rec("api.example.com", Some("NOERROR"), Some(1));
    let f = diagnose_all(&[a.clone(), b.clone()]);
    assert_eq!(kinds(&f), [("dns.nxdomain", Severity::Info)]);
    // Without the NOERROR for the shorter name it stays a warning.
    assert_eq!(
        kinds(&diagnose_all(std::slice::from_ref(&a))),
        [("dns.nxdomain", Severity::Warning)]
    );
    // Another client's NOERROR does not count.
    let mut other = b.clone();
    other.client = "10.0.0.6:40000".parse().unwrap();
    assert_eq!(
        kinds(&diagnose_all(&[a.clone(), other])),
        [("dns.nxdomain", Severity::Warning)]
    );
    // A name that merely shares a textual suffix is not an expansion.
    let c = rec("xapi.example.com", Some("NOERROR"), Some(1));
    let d = rec("api.example.com.corp", Some("NXDOMAIN"), Some(1));
    let e = rec("i.example.com", Some("NOERROR"), Some(1));
    assert_eq!(
        kinds(&diagnose_all(&[c, d.clone()])),
        [("dns.nxdomain", Severity::Warning)]
    );
    let mut far = b;
    far.query_time = Timestamp(T0 + SEARCH_LIST_WINDOW_NS + 1);
    assert_eq!(
        kinds(&diagnose_all(&[d, far, e])),
        [("dns.nxdomain", Severity::Warning)]
    );
}

/// A lookup from `client` sent at `q` ms, answered `lat` ms later with
/// `rcode` (and `addr` with TTL 30 s when given).
#[allow(clippy::too_many_arguments)]
fn lk(
    client: &str,
    name: &str,
    qtype: &str,
    q: i64,
    lat: i64,
    rcode: &str,
    addr: Option<&str>,
    frame: u64,
) -> DnsRecord {
    let mut r = rec(name, Some(rcode), Some(lat));
    r.client = client.parse().unwrap();
    r.qtype = qtype.to_string();
    r.query_time = Timestamp(T0 + q * 1_000_000);
    r.response_time = Some(Timestamp(T0 + (q + lat) * 1_000_000));
    r.query_frame = frame;
    r.response_frame = Some(frame + 1);
    r.conn = frame;
    if let Some(a) = addr {
        r.answers.push(crate::app::dns::DnsAnswer::Record {
            name: name.to_string(),
            rtype: qtype.to_string(),
            ttl: 30,
            data: a.to_string(),
        });
    }
    r
}

fn walk(c: &str, q0: i64, frame: u64) -> Vec<DnsRecord> {
    vec![
        lk(
            c,
            "api.svc.cluster.local",
            "A",
            q0,
            1,
            "NXDOMAIN",
            None,
            frame,
        ),
        lk(
            c,
            "api.svc.cluster.local",
            "AAAA",
            q0,
            2,
            "NXDOMAIN",
            None,
            frame + 2,
        ),
        lk(
            c,
            "api.cluster.local",
            "A",
            q0 + 3,
            1,
            "NXDOMAIN",
            None,
            frame + 4,
        ),
        lk(
            c,
            "api.cluster.local",
            "AAAA",
            q0 + 3,
            1,
            "NXDOMAIN",
            None,
            frame + 6,
        ),
        lk(
            c,
            "api",
            "A",
            q0 + 5,
            1,
            "NOERROR",
            Some("10.0.0.80"),
            frame + 8,
        ),
        lk(c, "api", "AAAA", q0 + 5, 2, "NOERROR", None, frame + 10),
    ]
}

/// Issue 11: a search-list walk is one finding with its numbers; its
/// NXDOMAINs are notes; the story is named after the real name.
#[test]
fn search_walk_has_queries_nxdomains_and_time_lost() {
    let c = "10.0.0.5:40000";
    let recs = walk(c, 0, 1);
    let (f, names) = diagnose_all_named(&recs);
    let walks: Vec<&Finding> = f.iter().filter(|f| f.kind == "dns.search_walk").collect();
    assert_eq!(walks.len(), 1, "{f:#?}");
    assert_eq!(walks[0].severity, Severity::Warning);
    assert_eq!(
        walks[0].summary,
        "resolving api took 6 queries, 4 NXDOMAIN for search-list names before the real one (api.svc.cluster.local, api.cluster.local), 5.0 ms lost"
    );
    assert!(walks[0].next_step.contains("(api.)") && walks[0].next_step.contains("ndots"));
    assert_eq!(walks[0].conn, Some(9));
    assert!(f
        .iter()
        .filter(|f| f.kind == "dns.nxdomain")
        .all(|f| f.severity == Severity::Info));
    assert!(names.contains(&(9, "api".to_string())), "{names:?}");
    // Two walks a minute apart: one finding, counted.
    let mut both = walk(c, 0, 1);
    both.extend(walk(c, 60_000, 101));
    let f = diagnose_all(&both);
    let walks: Vec<&Finding> = f.iter().filter(|f| f.kind == "dns.search_walk").collect();
    assert_eq!(walks.len(), 1);
    assert!(
        walks[0]
            .summary
            .ends_with("; 2 lookups walked the list, 10.0 ms lost in all"),
        "{}",
        walks[0].summary
    );
    // A plain A + AAAA lookup: nothing.
    let plain = [
        lk(c, "api", "A", 0, 1, "NOERROR", Some("10.0.0.80"), 1),
        lk(c, "api", "AAAA", 0, 1, "NOERROR", None, 3),
    ];
    assert!(diagnose_all(&plain).is_empty());
}

/// Issue 11: the same name resolved for every call while its TTL was valid.
#[test]
fn repeated_lookup_counts_lookups_within_the_ttl() {
    let c = "10.0.0.5:40000";
    let recs: Vec<DnsRecord> = (0..5)
        .map(|k| {
            lk(
                c,
                "api.example",
                "A",
                k * 2_000,
                1,
                "NOERROR",
                Some("10.0.0.80"),
                1 + 2 * k as u64,
            )
        })
        .collect();
    let f = diagnose_all(&recs);
    assert_eq!(kinds(&f), [("dns.repeated_lookup", Severity::Warning)]);
    assert_eq!(
        f[0].summary,
        "api.example was resolved 5 times in 8.00 s by 10.0.0.5, each time from the network while the previous answer (TTL 30 s) was still valid: the client does not cache DNS"
    );
    assert_eq!(f[0].frames, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Two lookups, or lookups after the TTL ran out, are fine.
    assert!(diagnose_all(&recs[..2]).is_empty());
    let spaced: Vec<DnsRecord> = (0..5)
        .map(|k| {
            lk(
                c,
                "api.example",
                "A",
                k * 31_000,
                1,
                "NOERROR",
                Some("10.0.0.80"),
                1 + 2 * k as u64,
            )
        })
        .collect();
    assert!(diagnose_all(&spaced).is_empty());
}

/// Issue 11: AAAA answered much later than A is a slow family, named.
#[test]
fn slow_address_family_is_named() {
    let c = "10.0.0.5:40000";
    let recs = [
        lk(c, "api.example", "A", 0, 3, "NOERROR", Some("10.0.0.80"), 1),
        lk(
            "10.0.0.5:40001",
            "api.example",
            "AAAA",
            0,
            483,
            "NOERROR",
            None,
            3,
        ),
    ];
    let f = diagnose_all(&recs);
    assert_eq!(kinds(&f), [("dns.slow", Severity::Warning)], "{f:#?}");
    assert!(
        f[0].summary
            .starts_with("lookup of api.example waited for AAAA: AAAA answered 480.0 ms after A"),
        "{}",
        f[0].summary
    );
    assert_eq!(f[0].frames, [1, 2, 3, 4]);
    // Both slow alike: each its own dns.slow, no family.
    let both = [
        lk(
            c,
            "api.example",
            "A",
            0,
            300,
            "NOERROR",
            Some("10.0.0.80"),
            1,
        ),
        lk(
            "10.0.0.5:40001",
            "api.example",
            "AAAA",
            0,
            450,
            "NOERROR",
            None,
            3,
        ),
    ];
    let f = diagnose_all(&both);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| !f.summary.contains("waited for")));
}

/// Issue 11: a flow carrying several lookups names its story after the
/// failing one, not its first.
#[test]
fn story_named_after_the_failing_lookup() {
    let c = "10.0.0.5:40000";
    let mut ok = lk(
        c,
        "first.example",
        "A",
        0,
        1,
        "NOERROR",
        Some("10.0.0.80"),
        1,
    );
    let mut bad = lk(c, "second.example", "A", 10, 1, "SERVFAIL", None, 3);
    ok.conn = 7;
    bad.conn = 7;
    let (_, names) = diagnose_all_named(&[ok, bad]);
    assert_eq!(names, [(7, "second.example".to_string())]);
}

#[test]
fn mdns_and_llmnr_get_no_findings() {
    let mut r = rec("printer.local", None, None);
    r.timed_out = true;
    r.protocol = DnsProtocol::Mdns;
    assert!(diagnose(&r).is_empty());
}

/// Go's resolver resends each timed-out query from a new socket with a new
/// id: A and AAAA from two sockets, then again a second later from two more.
/// Each record alone is one query unanswered at the end; together they are a
/// lookup that timed out, told once.
#[test]
fn a_lookup_resent_from_new_sockets_is_one_timeout() {
    let query = |qtype: &str, ms: i64, port: u16, frame: u64| {
        let mut r = rec("api.test", None, None);
        r.qtype = qtype.to_string();
        r.client = format!("10.0.0.5:{port}").parse().unwrap();
        r.query_time = Timestamp(T0 + ms * 1_000_000);
        r.query_frame = frame;
        r.conn = frame;
        r.unanswered_at_end = true;
        r
    };
    let records = vec![
        query("A", 0, 40001, 1),
        query("AAAA", 0, 40002, 2),
        query("A", 1000, 40003, 3),
        query("AAAA", 1000, 40004, 4),
    ];
    let f = diagnose_all(&records);
    assert_eq!(kinds(&f), [("dns.timeout", Severity::Warning)], "{f:#?}");
    assert!(
        f[0].summary
            .starts_with("no answer for api.test (A, AAAA): 4 queries to 10.0.0.53:53 over 1.00 s"),
        "{}",
        f[0].summary
    );
    assert_eq!(f[0].frames, [1, 2, 3, 4]);
    assert_eq!(f[0].conn, Some(1));
    // One that waited out the time-out makes it an error, and its own
    // per-record finding is not told a second time.
    let mut records = records;
    records[3].timed_out = true;
    records[3].unanswered_at_end = false;
    assert_eq!(
        kinds(&diagnose_all(&records)),
        [("dns.timeout", Severity::Error)]
    );
    // A and AAAA asked once each, never resent: nothing yet.
    assert!(diagnose_all(&records[..2]).is_empty());
}
