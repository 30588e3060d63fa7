//! Grouping tests on hand-built records.

use super::*;
use crate::app::dns::{Asked, DnsAnswer, Transport};

const T0: i64 = 1_700_000_000_000_000_000;
const MS: i64 = 1_000_000;

/// A record from `client` for `name`/`qtype`, sent at `q` ms, answered at
/// `answer.0` ms with rcode `answer.1` and `answer.2` (an address) when given.
fn rec(
    client: &str,
    name: &str,
    qtype: &str,
    q: i64,
    answer: Option<(i64, &str, Option<&str>)>,
) -> DnsRecord {
    let server = "10.0.0.53:53".parse().unwrap();
    let mut r = DnsRecord::asked(
        Asked {
            conn: 1,
            client: client.parse().unwrap(),
            server,
            transport: Transport::Udp,
            id: 1,
            qname: name.to_string(),
            qtype: qtype.to_string(),
            frame: u64::try_from(q).unwrap() * 10 + u64::from(qtype == "AAAA"),
            time: Timestamp(T0 + q * MS),
        },
        vec![server],
    );
    if let Some((at, rcode, addr)) = answer {
        r.response_time = Some(Timestamp(T0 + at * MS));
        r.rcode = Some(rcode.to_string());
        if let Some(a) = addr {
            r.answers.push(DnsAnswer::Record {
                name: name.to_string(),
                rtype: qtype.to_string(),
                ttl: 30,
                data: a.to_string(),
            });
        }
    }
    r
}

fn sizes(ops: &[Operation]) -> Vec<usize> {
    ops.iter().map(|o| o.members.len()).collect()
}

#[test]
fn parallel_a_and_aaaa_are_one_operation() {
    let recs = [
        rec(
            "10.0.0.5:40000",
            "api.example",
            "A",
            0,
            Some((3, "NOERROR", Some("10.0.0.80"))),
        ),
        rec(
            "10.0.0.5:40001",
            "api.example",
            "AAAA",
            0,
            Some((9, "NOERROR", None)),
        ),
    ];
    let ops = group(&recs);
    assert_eq!(sizes(&ops), [2]);
    assert_eq!(ops[0].answered.as_deref(), Some("api.example"));
    // The phase runs to the later answer, when the connection follows it.
    assert_eq!(ops[0].phase_ns(Timestamp(T0 + 10 * MS)), Some(9 * MS));
    assert_eq!(
        ops[0].phase_ns(Timestamp(T0 + 9 * MS + PHASE_WINDOW_NS)),
        Some(9 * MS)
    );
    assert_eq!(
        ops[0].phase_ns(Timestamp(T0 + 10 * MS + PHASE_WINDOW_NS)),
        None,
        "a cache hit"
    );
    assert_eq!(
        ops[0].phase_ns(Timestamp(T0 + 5 * MS)),
        None,
        "before the last answer"
    );
}

#[test]
fn search_list_walk_is_one_operation() {
    let c = "10.0.0.5:40000";
    let recs = [
        rec(
            c,
            "api.svc.cluster.local",
            "A",
            0,
            Some((1, "NXDOMAIN", None)),
        ),
        rec(
            c,
            "api.svc.cluster.local",
            "AAAA",
            0,
            Some((1, "NXDOMAIN", None)),
        ),
        rec(c, "api.cluster.local", "A", 2, Some((3, "NXDOMAIN", None))),
        rec(
            c,
            "api.cluster.local",
            "AAAA",
            2,
            Some((4, "NXDOMAIN", None)),
        ),
        rec(c, "api", "A", 5, Some((6, "NOERROR", Some("10.0.0.80")))),
        rec(c, "api", "AAAA", 5, Some((7, "NOERROR", None))),
        // A later, separate lookup of another name.
        rec(
            c,
            "db.svc.cluster.local",
            "A",
            8,
            Some((9, "NXDOMAIN", None)),
        ),
        // Too late to be the next search name of anything.
        rec(
            c,
            "api.example",
            "A",
            300,
            Some((301, "NOERROR", Some("10.0.0.81"))),
        ),
    ];
    let ops = group(&recs);
    assert_eq!(sizes(&ops), [6, 1, 1]);
    assert_eq!(ops[0].answered.as_deref(), Some("api"));
    assert_eq!(ops[0].end, Some(Timestamp(T0 + 7 * MS)));
    assert_eq!(
        phase_ns(
            &recs,
            "10.0.0.5".parse().unwrap(),
            50,
            Timestamp(T0 + 8 * MS)
        ),
        Some(7 * MS)
    );
}

#[test]
fn concurrent_clients_asking_the_same_name_stay_apart() {
    let mut recs = Vec::new();
    for k in 0..8 {
        let c = format!("10.0.0.5:{}", 40000 + k);
        recs.push(rec(
            &c,
            "api.example",
            "A",
            k,
            Some((k + 20, "NOERROR", Some("10.0.0.80"))),
        ));
    }
    let ops = group(&recs);
    assert_eq!(sizes(&ops), [1; 8]);
}

#[test]
fn retry_after_a_time_out_joins_but_a_quick_duplicate_does_not() {
    let recs = [
        rec("10.0.0.5:40000", "api.example", "A", 0, None),
        rec(
            "10.0.0.5:40002",
            "api.example",
            "A",
            100,
            Some((101, "NOERROR", Some("10.0.0.80"))),
        ),
        rec(
            "10.0.0.5:40001",
            "api.example",
            "A",
            5000,
            Some((5002, "NOERROR", Some("10.0.0.80"))),
        ),
    ];
    let ops = group(&recs);
    // The second query came 100 ms after the first: another client. The
    // third came after the first's time-out: its retry.
    assert_eq!(sizes(&ops), [2, 1]);
    assert_eq!(ops[0].members, [0, 2]);
    assert_eq!(ops[0].phase_ns(Timestamp(T0 + 5003 * MS)), Some(5002 * MS));
}

#[test]
fn other_hosts_and_unrelated_names_stay_apart() {
    let recs = [
        rec(
            "10.0.0.5:40000",
            "api.svc.cluster.local",
            "A",
            0,
            Some((1, "NXDOMAIN", None)),
        ),
        rec(
            "10.0.0.6:40000",
            "api.cluster.local",
            "A",
            2,
            Some((3, "NOERROR", Some("10.0.0.80"))),
        ),
        rec(
            "10.0.0.5:40001",
            "web.cluster.local",
            "A",
            2,
            Some((3, "NOERROR", Some("10.0.0.81"))),
        ),
    ];
    assert_eq!(sizes(&group(&recs)), [1, 1, 1]);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 5] = [
        "api.svc.cluster.local",
        "api.cluster.local",
        "api",
        "db",
        "API.",
    ];
    const RCODES: [&str; 3] = ["NOERROR", "NXDOMAIN", "SERVFAIL"];

    proptest! {
        /// Any records: every record lands in exactly one operation, members
        /// in order, phases never negative.
        #[test]
        fn every_record_in_one_operation(
            spec in proptest::collection::vec(
                (0u16..3, 0usize..5, any::<bool>(), 0i64..200, proptest::option::of((0i64..6000, 0usize..3, any::<bool>()))),
                0..60,
            ),
            syn in 0i64..20_000,
        ) {
            let mut t = 0;
            let recs: Vec<DnsRecord> = spec
                .iter()
                .map(|&(c, n, aaaa, gap, answer)| {
                    t += gap;
                    let client = format!("10.0.0.{}:{}", 5 + c % 2, 40000 + c);
                    let answer = answer.map(|(after, rc, addr)| {
                        (t + after, RCODES[rc], addr.then_some("10.0.0.80"))
                    });
                    rec(&client, NAMES[n], if aaaa { "AAAA" } else { "A" }, t, answer)
                })
                .collect();
            let ops = group(&recs);
            let mut seen = vec![0u32; recs.len()];
            for op in &ops {
                prop_assert!(op.members.windows(2).all(|w| w[0] < w[1]));
                for &i in &op.members {
                    seen[i] += 1;
                }
                if let Some(p) = op.phase_ns(Timestamp(T0 + syn * MS)) {
                    prop_assert!(p >= 0);
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
            for r in &recs {
                let _ = phase_ns(&recs, r.client.ip(), r.query_frame, Timestamp(T0 + syn * MS));
            }
        }
    }
}
