//! Go goroutine dumps joined to the capture (`analyze --goroutines`).
//!
//! A dump says what every goroutine of a process was doing at one moment; the
//! capture says what was on the wire then. While the capture streams through
//! the analyzer, [`GoJoin`] keeps, for each dump's time, what was in flight
//! at that moment: the TCP connections open (and whether their handshake was
//! done), the HTTP requests sent and not yet answered, the DNS lookups not
//! yet answered. Each list is bounded ([`MAX_AT`]). At the end the rules of
//! `diagnose::go` join the two.

use crate::app::dns::DnsRecord;
use crate::app::http::HttpTransaction;
use crate::base::Timestamp;
use crate::diagnose::go::cpu::CpuView;
use crate::diagnose::go::{self as rules, ConnAt, GoDump, InFlight, LookupAt, RequestAt, MAX_AT};
use crate::diagnose::Finding;
use crate::flow::conn::ConnRecord;
use crate::flow::key::Protocol;

/// The dumps and what the capture had in flight at each one's time.
#[derive(Debug, Default)]
pub struct GoJoin {
    dumps: Vec<GoDump>,
    at: Vec<InFlight>,
    cpu: Vec<CpuView>,
}

impl GoJoin {
    /// A join of these dumps (each with its time) and CPU profiles to the
    /// capture to come.
    pub fn new(mut dumps: Vec<GoDump>, cpu: Vec<CpuView>) -> GoJoin {
        dumps.sort_by_key(|d| d.at.0);
        let at = vec![InFlight::default(); dumps.len()];
        GoJoin { dumps, at, cpu }
    }

    /// Adds what a CPU profile says to a transaction's `http.slow_server`
    /// finding: computing or waiting, from the CPU spent on that request
    /// (pprof labels) or the process's average over its window.
    pub fn amend_http(&self, tx: &HttpTransaction, found: &mut [Finding]) {
        let (Some(from), Some(to)) = (tx.request_last, tx.response_first) else {
            return;
        };
        let overlapping = || self.cpu.iter().filter(|v| v.overlaps(from.ts, to.ts));
        let view = overlapping()
            .find(|v| v.by_client.contains_key(&tx.client))
            .or_else(|| overlapping().next());
        let Some(view) = view else { return };
        for f in found.iter_mut().filter(|f| f.kind == "http.slow_server") {
            f.summary.push_str(&view.explain(tx.client, from.ts, to.ts));
        }
    }

    /// Notes a connection that ended (or was open at the end).
    pub fn connection(&mut self, r: &ConnRecord) {
        if r.protocol != Protocol::Tcp {
            return;
        }
        let closed = r.rst.map(|x| x.ts).or(match r.fin {
            [Some((a, _)), Some((b, _))] => Some(a.max(b)),
            _ => None,
        });
        let established_at = match (&r.syn, &r.handshake) {
            (Some(syn), Some(h)) => Some(Timestamp(syn.first.0.saturating_add(h.connect_ns))),
            (Some(_), None) => None,
            (None, _) => Some(r.start),
        };
        for (dump, at) in self.dumps.iter().zip(self.at.iter_mut()) {
            let t = dump.at;
            if r.start > t || closed.is_some_and(|c| c < t) {
                continue;
            }
            push(
                &mut at.conns,
                &mut at.dropped,
                ConnAt {
                    conn: r.id,
                    client: r.client,
                    server: r.server,
                    start: r.start,
                    frame: r.first_frame,
                    established: established_at.is_some_and(|e| e <= t),
                },
            );
        }
    }

    /// Notes an HTTP transaction (answered or not).
    pub fn http(&mut self, tx: &HttpTransaction) {
        let Some(last) = tx.request_last.or(tx.request_first) else {
            return;
        };
        let answered = tx.response_first_any.map(|m| m.ts);
        for (dump, at) in self.dumps.iter().zip(self.at.iter_mut()) {
            let t = dump.at;
            if last.ts > t || answered.is_some_and(|a| a <= t) {
                continue;
            }
            let request = format!(
                "{} {}",
                tx.method.as_deref().unwrap_or("?"),
                tx.path.as_deref().unwrap_or("?")
            );
            push(
                &mut at.requests,
                &mut at.dropped,
                RequestAt {
                    conn: tx.conn,
                    client: tx.client,
                    server: tx.server,
                    request,
                    sent: last.ts,
                    frame: tx.request_first.map_or(last.frame, |m| m.frame),
                    answered,
                },
            );
        }
    }

    /// Notes a DNS lookup.
    pub fn dns(&mut self, r: &DnsRecord) {
        for (dump, at) in self.dumps.iter().zip(self.at.iter_mut()) {
            let t = dump.at;
            if r.query_time > t || r.response_time.is_some_and(|a| a <= t) {
                continue;
            }
            push(
                &mut at.lookups,
                &mut at.dropped,
                LookupAt {
                    conn: r.conn,
                    qname: r.qname.clone(),
                    sent: r.query_time,
                    frame: r.query_frame,
                    answered: r.response_time,
                },
            );
        }
    }

    /// The joined findings; the capture's own dial and DNS findings
    /// (`found`) amended with the goroutines that waited on them.
    pub fn conclude(self, found: &mut [Finding]) -> Vec<Finding> {
        let pairs: Vec<(&GoDump, &InFlight)> = self.dumps.iter().zip(self.at.iter()).collect();
        rules::amend(&pairs, found);
        rules::diagnose(&pairs)
    }
}

fn push<T>(list: &mut Vec<T>, dropped: &mut u64, item: T) {
    if list.len() < MAX_AT {
        list.push(item);
    } else {
        *dropped += 1;
    }
}
