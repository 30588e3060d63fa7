//! `go.goroutine_leak`: goroutine groups that only grew across dumps of one
//! process, told beside the connections the capture shows open at each dump.
//!
//! Not every growth is a leak: the goroutines of calls in flight (handlers,
//! calls waiting for a response or a connection) grow with load and are left
//! to the handler and pool rules; connection readers count only when idle
//! ones (readers beyond the calls waiting for a response) pile up.

use super::{evidence, GoDump, InFlight};
use crate::base::escape::escape_str;
use crate::base::human_duration;
use crate::diagnose::{Finding, Severity};
use crate::goruntime::summary::{growing, Group};
use crate::goruntime::Role;

/// Groups that grew across the dumps (oldest first).
pub fn diagnose(dumps: &[(&GoDump, &InFlight)]) -> Vec<Finding> {
    if dumps.len() < 2 {
        return Vec::new();
    }
    let series: Vec<Vec<Group>> = dumps.iter().map(|(d, _)| d.groups.clone()).collect();
    let open: Vec<usize> = dumps
        .iter()
        .map(|(_, at)| at.conns.iter().filter(|c| c.established).count())
        .collect();
    let (first, last) = (dumps[0].0, dumps[dumps.len() - 1].0);
    let span = human_duration(last.at.since(first.at));
    let arrow = |v: Vec<String>| v.join(" → ");
    let mut out = Vec::new();
    let awaiting: u64 = last
        .groups
        .iter()
        .filter(|g| g.role == Role::AwaitResponse)
        .map(|g| g.count)
        .sum();
    for g in growing(&series) {
        let held = *g.counts.last().unwrap_or(&0);
        match g.role {
            // Goroutines of calls in flight grow with load; their waits are
            // told by the handler and pool rules.
            Role::Handler
            | Role::AwaitResponse
            | Role::ConnWait
            | Role::Dns
            | Role::Dial
            | Role::TlsHandshake
            | Role::ServerIdle
            | Role::Accept => continue,
            // A busy pool has one reader per call in flight: only idle
            // readers piling up are a leak.
            Role::ReadLoop | Role::WriteLoop
                if held.saturating_sub(awaiting) < crate::goruntime::summary::LEAK_MIN_GROWTH =>
            {
                continue
            }
            _ => {}
        }
        let counts = arrow(g.counts.iter().map(u64::to_string).collect());
        let place = g
            .place
            .as_ref()
            .map(|f| escape_str(&f.short()))
            .unwrap_or_else(|| "(no frames)".into());
        let (summary, next_step) = match g.role {
            Role::ReadLoop | Role::WriteLoop => {
                let conns = arrow(open.iter().map(usize::to_string).collect());
                let last_open = *open.last().unwrap_or(&0) as u64;
                let why = if held > last_open.saturating_mul(2) {
                    "far more than the connections on the wire: response bodies are not closed, and each unclosed body keeps its connection's goroutines (and the connection, out of the pool) until it is"
                } else {
                    "and the connections grow with them: each call opens a new connection because the previous ones were never handed back (response bodies not closed)"
                };
                (
                    format!(
                        "{} grew {counts} over {} dumps in {span}, while the capture shows {conns} TCP connections open at those times: {why}",
                        g.role.describe(),
                        g.counts.len()
                    ),
                    "Close every response body (defer resp.Body.Close()) and read it to the end (io.Copy(io.Discard, resp.Body)) so the connection returns to the pool".to_string(),
                )
            }
            _ => (
                format!(
                    "goroutines {} at {place} grew {counts} over {} dumps in {span}: a goroutine leak",
                    g.role.describe(),
                    g.counts.len()
                ),
                format!("Find what keeps them at {place}: a channel nobody sends on or closes, a context never cancelled, a missing time-out; each one holds its stack until the process runs out of memory"),
            ),
        };
        let group = last.groups.iter().find(|x| {
            x.role == g.role
                && x.place().map(|f| (&f.function, f.line))
                    == g.place.as_ref().map(|f| (&f.function, f.line))
        });
        out.push(Finding {
            kind: "go.goroutine_leak",
            severity: Severity::Warning,
            summary,
            next_step,
            frames: Vec::new(),
            conn: None,
            client: None,
            server: None,
            time: Some(last.at),
            endpoint: None,
            goroutines: group.map(|x| evidence(last, x)).into_iter().collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Timestamp;
    use crate::goruntime::{summary::summarize, Dump, DumpFormat, Goroutine, StackFrame};

    fn dump(at: i64, readers: u64, awaiting: u64) -> GoDump {
        let g = |function: &str, count| Goroutine {
            count,
            frames: vec![StackFrame {
                function: function.into(),
                file: "/usr/lib/go/src/net/http/transport.go".into(),
                line: 1,
            }],
            ..Goroutine::default()
        };
        let d = Dump {
            goroutines: vec![
                g("net/http.(*persistConn).readLoop", readers),
                g("net/http.(*persistConn).roundTrip", awaiting),
            ],
            ..Dump::default()
        };
        GoDump {
            name: format!("d{at}"),
            at: Timestamp(at),
            format: DumpFormat::Counts,
            groups: summarize(&d),
        }
    }

    fn run(dumps: &[GoDump]) -> Vec<Finding> {
        let at = InFlight::default();
        let pairs: Vec<(&GoDump, &InFlight)> = dumps.iter().map(|d| (d, &at)).collect();
        diagnose(&pairs)
    }

    #[test]
    fn idle_readers_piling_up_are_a_leak_busy_ones_are_load() {
        let leak = run(&[dump(1, 5, 0), dump(2, 10, 0), dump(3, 20, 0)]);
        assert_eq!(leak.len(), 1);
        assert!(
            leak[0].summary.contains("5 → 10 → 20"),
            "{}",
            leak[0].summary
        );
        let load = run(&[dump(1, 5, 5), dump(2, 10, 10), dump(3, 20, 20)]);
        assert!(
            load.is_empty(),
            "every reader serves a call in flight: {load:?}"
        );
    }
}
