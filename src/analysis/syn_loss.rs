//! Lost SYNs judged across connections: a SYN that went unanswered while the
//! same server answered other connections points at the server's own queues
//! (a full SYN backlog or accept queue drops SYNs) as much as at the path.
//! One connection's record cannot tell; the answered handshakes of the
//! others, kept per server, can. The finding says what was seen, and both
//! readings.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use crate::base::Timestamp;
use crate::diagnose::Finding;
use crate::flow::conn::ConnRecord;

/// Answer times kept per server (the newest).
const PER_SERVER: usize = 4096;
/// Servers followed; later ones are not (the note is then left out).
const SERVERS: usize = 4096;
/// Answer times kept in all (about 16 MB); beyond it no new ones are kept.
const ANSWERS: usize = 1 << 20;
/// Lost SYNs waiting for the end of the input.
const PENDING: usize = 10_000;

struct Pending {
    finding: usize,
    conn: u64,
    server: SocketAddr,
    from: Timestamp,
    to: Timestamp,
}

/// Answered handshakes per server, and the lost SYNs to judge against them.
#[derive(Default)]
pub struct SynLoss {
    answered: HashMap<SocketAddr, VecDeque<(Timestamp, u64)>>,
    /// Answer times kept over all servers.
    kept: usize,
    pending: Vec<Pending>,
}

impl SynLoss {
    /// Notes `c`'s handshake; `finding` is the index of its
    /// `tcp.syn_retransmit` finding when its SYN went unanswered.
    pub fn on_connection(&mut self, c: &ConnRecord, finding: Option<usize>) {
        let (Some(syn), Some(h)) = (&c.syn, c.handshake) else {
            return;
        };
        let room = self.kept < ANSWERS;
        if room && (self.answered.len() < SERVERS || self.answered.contains_key(&c.server)) {
            let times = self.answered.entry(c.server).or_default();
            if times.len() == PER_SERVER {
                times.pop_front();
            } else {
                self.kept += 1;
            }
            times.push_back((Timestamp(syn.first.0.saturating_add(h.connect_ns)), c.id));
        }
        let lost_syn = syn.count > 1 && h.syn_acks == 1 && !h.syn_ack_before_resend;
        if let (Some(finding), true) = (finding, lost_syn) {
            if self.pending.len() < PENDING {
                self.pending.push(Pending {
                    finding,
                    conn: c.id,
                    server: c.server,
                    from: syn.first,
                    to: syn.last,
                });
            }
        }
    }

    /// At the end of the input: says on each lost-SYN finding how many other
    /// connections to its server were answered while it waited.
    pub fn finish(&mut self, findings: &mut [Finding]) {
        for p in self.pending.drain(..) {
            let Some(times) = self.answered.get(&p.server) else {
                continue;
            };
            let others = times
                .iter()
                .filter(|(t, id)| *id != p.conn && *t > p.from && *t < p.to)
                .count();
            if others == 0 {
                continue;
            }
            if let Some(f) = findings.get_mut(p.finding) {
                f.summary = format!(
                    "{}, while {others} other connection{} to {} {} answered: the server was up, so its own queues (a full SYN backlog or accept queue drops SYNs: `nstat -az TcpExtListenOverflows`) or a SYN rate limit are as likely as the path",
                    f.summary,
                    if others == 1 { "" } else { "s" },
                    p.server,
                    if others == 1 { "was" } else { "were" },
                );
            }
        }
    }
}
