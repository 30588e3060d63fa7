//! Goroutines waiting on the network, joined to the capture's own findings:
//! dials ⇄ SYNs unanswered, DNS lookups ⇄ lookups unanswered.
//!
//! These joins add no finding of their own: the capture already says "SYN
//! never answered" or "no answer for api.internal". What the dump adds is
//! that the process was waiting there, how many goroutines, from which code:
//! the time went to the network and not to a queue inside the client (that
//! one is `go.pool_exhausted`). So the wire finding is amended, with the
//! goroutines as its evidence, at the latest dump taken while it was pending
//! (the longest wait).

use super::{evidence, place_text, GoDump, InFlight};
use crate::base::escape::escape_str;
use crate::base::rfc3339;
use crate::diagnose::Finding;
use crate::goruntime::summary::Group;
use crate::goruntime::Role;

/// Capture findings about a connection whose SYN went unanswered.
const DIAL_KINDS: [&str; 2] = ["tcp.connect_timeout", "tcp.syn_retransmit"];

/// Capture findings about a lookup that was slow or never answered.
const DNS_KINDS: [&str; 2] = ["dns.timeout", "dns.slow"];

/// Adds to each dial or DNS finding the goroutines that waited on it.
pub fn amend(dumps: &[(&GoDump, &InFlight)], findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        let Some(conn) = f.conn else { continue };
        if DIAL_KINDS.contains(&f.kind) {
            join(f, dumps, Role::Dial, |at| {
                let pending = at.conns.iter().filter(|c| !c.established);
                let mine = pending.clone().any(|c| c.conn == conn);
                mine.then(|| pending.count())
            });
        } else if DNS_KINDS.contains(&f.kind) {
            join(f, dumps, Role::Dns, |at| {
                let mine = at.lookups.iter().any(|l| l.conn == conn);
                mine.then_some(at.lookups.len())
            });
        }
    }
}

/// Amends `f` from the latest dump at which `pending` says its operation was
/// in flight (returning how many such operations were) and whose process
/// had goroutines in `role`.
fn join(
    f: &mut Finding,
    dumps: &[(&GoDump, &InFlight)],
    role: Role,
    pending: impl Fn(&InFlight) -> Option<usize>,
) {
    let hit = dumps.iter().rev().find_map(|(dump, at)| {
        let groups: Vec<&Group> = dump.groups.iter().filter(|g| g.role == role).collect();
        if groups.is_empty() {
            return None;
        }
        Some((*dump, groups, pending(at)?))
    });
    let Some((dump, groups, on_wire)) = hit else {
        return;
    };
    let count: u64 = groups.iter().map(|g| g.count).sum();
    let Some(main) = groups.iter().max_by_key(|g| g.count) else {
        return;
    };
    let (doing, what) = match role {
        Role::Dial => (
            "opening a connection",
            if on_wire == 1 {
                "1 SYN was unanswered"
            } else {
                "SYNs were unanswered"
            },
        ),
        _ => (
            "in a DNS lookup",
            if on_wire == 1 {
                "1 lookup was unanswered"
            } else {
                "lookups were unanswered"
            },
        ),
    };
    let on_wire = if on_wire == 1 {
        what.to_string()
    } else {
        format!("{on_wire} {what}")
    };
    f.summary.push_str(&format!(
        "; at the Go dump {} ({}), {count} goroutine{} {} {doing} ({}) while {on_wire} on the wire: the process was waiting on the network, not on itself",
        escape_str(&dump.name),
        rfc3339(dump.at),
        if count == 1 { "" } else { "s" },
        if count == 1 { "was" } else { "were" },
        place_text(main),
    ));
    f.goroutines.extend(
        groups
            .iter()
            .take(super::MAX_FRAMES)
            .map(|g| evidence(dump, g)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Timestamp;
    use crate::diagnose::go::{ConnAt, LookupAt};
    use crate::diagnose::Severity;
    use crate::goruntime::{parse_dump, summary::summarize};

    const DIALING: &str = "goroutine 7 [IO wait]:
internal/poll.runtime_pollWait(0x7f, 0x77)
\t/usr/lib/go/src/runtime/netpoll.go:305 +0x89
net.(*netFD).connect(0xc000)
\t/usr/lib/go/src/net/fd_unix.go:121 +0x1
net.(*sysDialer).doDialTCP(0xc000)
\t/usr/lib/go/src/net/tcpsock_posix.go:74 +0x1
net.(*Dialer).DialContext(0xc000)
\t/usr/lib/go/src/net/dial.go:428 +0x1
main.call()
\t/src/main.go:40 +0x1
created by main.main
\t/src/main.go:20 +0x1
";

    fn dump(text: &str, at: i64) -> GoDump {
        let d = parse_dump(text.as_bytes()).expect("dump");
        GoDump {
            name: "d.txt".into(),
            at: Timestamp(at),
            format: d.format,
            groups: summarize(&d),
        }
    }

    fn finding(kind: &'static str, conn: u64) -> Finding {
        Finding {
            kind,
            severity: Severity::Error,
            summary: "SYN sent 3 times".into(),
            next_step: String::new(),
            frames: vec![1],
            conn: Some(conn),
            client: None,
            server: None,
            time: None,
            endpoint: None,
            goroutines: Vec::new(),
        }
    }

    fn conn_at(conn: u64, established: bool) -> ConnAt {
        ConnAt {
            conn,
            client: "127.0.0.1:5000".parse().unwrap(),
            server: "127.0.0.1:9".parse().unwrap(),
            start: Timestamp(0),
            frame: 1,
            established,
        }
    }

    #[test]
    fn a_dial_joins_the_unanswered_syn_it_waited_on() {
        let d = dump(DIALING, 2_000_000_000);
        let at = InFlight {
            conns: vec![conn_at(1, false), conn_at(2, true)],
            ..Default::default()
        };
        let mut found = vec![finding("tcp.connect_timeout", 1)];
        amend(&[(&d, &at)], &mut found);
        let f = &found[0];
        assert!(
            f.summary
                .contains("1 goroutine was opening a connection (main.call (main.go:40)"),
            "{}",
            f.summary
        );
        assert!(
            f.summary.contains("while 1 SYN was unanswered"),
            "{}",
            f.summary
        );
        assert_eq!(f.goroutines.len(), 1);
        assert_eq!(f.goroutines[0].role, "dial");
    }

    #[test]
    fn an_established_connection_or_other_kind_is_left_alone() {
        let d = dump(DIALING, 2_000_000_000);
        let at = InFlight {
            conns: vec![conn_at(1, true)],
            ..Default::default()
        };
        let mut found = vec![
            finding("tcp.connect_timeout", 1),
            finding("tcp.connect_refused", 1),
        ];
        amend(&[(&d, &at)], &mut found);
        assert!(found.iter().all(|f| f.goroutines.is_empty()));
        assert!(found.iter().all(|f| f.summary == "SYN sent 3 times"));
    }

    #[test]
    fn a_lookup_joins_only_a_dump_with_dns_goroutines() {
        let lookup = LookupAt {
            conn: 4,
            qname: "api.test".into(),
            sent: Timestamp(0),
            frame: 1,
            answered: None,
        };
        let at = InFlight {
            lookups: vec![lookup],
            ..Default::default()
        };
        // A dump with only a dial in it says nothing about the lookup.
        let d = dump(DIALING, 2_000_000_000);
        let mut found = vec![finding("dns.timeout", 4)];
        amend(&[(&d, &at)], &mut found);
        assert!(found[0].goroutines.is_empty());
        let resolving =
            DIALING.replace("net.(*sysDialer).doDialTCP", "net.(*Resolver).lookupIPAddr");
        let d = dump(&resolving, 2_000_000_000);
        amend(&[(&d, &at)], &mut found);
        assert!(
            found[0].summary.contains("1 goroutine was in a DNS lookup"),
            "{}",
            found[0].summary
        );
        assert_eq!(found[0].goroutines[0].role, "dns");
    }
}
