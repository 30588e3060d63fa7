//! TLS 1.2 session resumption: which master secret an abbreviated handshake
//! reuses.
//!
//! A resumed TLS 1.2 connection runs no key exchange: it derives new keys from
//! the master secret of an earlier full handshake and its own fresh randoms. If
//! the client logged that earlier connection's `CLIENT_RANDOM` but not the
//! resumed one's, the session id or ticket links the two. Everything needed is
//! plaintext in TLS 1.2.
//!
//! # How the caller feeds it
//!
//! 1. A connection whose master secret is known (a [`Session`](super::Session)
//!    was built; take [`Session::master_secret`](super::Session::master_secret)):
//!    * its ServerHello carried a non-empty `session_id` →
//!      [`SessionCache::remember_session_id`]`(session_id, master)`;
//!    * the server sent a NewSessionTicket (plaintext, just before its
//!      ChangeCipherSpec) → [`SessionCache::remember_ticket`]`(ticket, master)`.
//!      This includes tickets renewed on a resumed connection.
//! 2. A new connection: read the ClientHello's `session_id` and its
//!    `SessionTicket` extension (type 35, when non-empty), the ServerHello's
//!    `session_id`, and whether the server went from ServerHello straight to
//!    ChangeCipherSpec (an abbreviated handshake). Call
//!    [`SessionCache::resolve`] before the first protected record; pass the
//!    result to [`Session::new_resumed`](super::Session::new_resumed), which
//!    prefers the key log's own entry when there is one.
//!
//! TLS 1.3 resumption (PSK) needs nothing from here: clients log the resumed
//! connection's traffic secrets under its own client random.
//!
//! Bounded: at most `capacity` ids plus tickets, oldest forgotten first
//! (counted in [`SessionCache::evicted`]). Tickets are keyed by their SHA-256,
//! so a 64 KiB ticket costs 32 bytes.

use std::collections::{HashMap, VecDeque};

use aws_lc_rs::digest;

use super::keylog::MasterSecret;

/// Default bound on remembered ids and tickets together.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The TLS 1.2 session id limit (RFC 5246 §7.4.1.2).
const MAX_SESSION_ID: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum CacheKey {
    /// Length + bytes of a session id.
    Id(u8, [u8; MAX_SESSION_ID]),
    /// SHA-256 of a ticket.
    Ticket([u8; 32]),
}

/// Session ids and tickets → master secrets, for TLS 1.2 resumption.
#[derive(Debug)]
pub struct SessionCache {
    map: HashMap<CacheKey, MasterSecret>,
    order: VecDeque<CacheKey>,
    capacity: usize,
    evicted: u64,
}

impl Default for SessionCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl SessionCache {
    /// A cache holding up to [`DEFAULT_CAPACITY`] ids and tickets.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache holding up to `capacity` ids and tickets.
    pub fn with_capacity(capacity: usize) -> Self {
        SessionCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            evicted: 0,
        }
    }

    /// Remembers the master secret of a session the server named `session_id`
    /// (its ServerHello). Empty or over-long ids are ignored.
    pub fn remember_session_id(&mut self, session_id: &[u8], master: &MasterSecret) {
        if let Some(k) = id_key(session_id) {
            self.insert(k, *master);
        }
    }

    /// Remembers the master secret a NewSessionTicket's ticket stands for.
    /// Empty tickets are ignored.
    pub fn remember_ticket(&mut self, ticket: &[u8], master: &MasterSecret) {
        if let Some(k) = ticket_key(ticket) {
            self.insert(k, *master);
        }
    }

    /// The master secret for a session id, if remembered.
    pub fn by_session_id(&self, session_id: &[u8]) -> Option<&MasterSecret> {
        self.map.get(&id_key(session_id)?)
    }

    /// The master secret for a ticket, if remembered.
    pub fn by_ticket(&self, ticket: &[u8]) -> Option<&MasterSecret> {
        self.map.get(&ticket_key(ticket)?)
    }

    /// The master secret a new connection resumes, if it resumes one we know.
    ///
    /// `abbreviated`: the server's ServerHello was followed by its
    /// ChangeCipherSpec with no Certificate or key exchange in between, i.e.
    /// the server accepted resumption. Then the client's ticket (its
    /// `SessionTicket` extension) is looked up first; failing that, the session
    /// id, which must be the one the server echoed (RFC 5246 §7.4.1.3). A
    /// full handshake resumes nothing: `None`.
    pub fn resolve(
        &self,
        client_session_id: &[u8],
        client_ticket: Option<&[u8]>,
        server_session_id: &[u8],
        abbreviated: bool,
    ) -> Option<MasterSecret> {
        if !abbreviated {
            return None;
        }
        let by_ticket = client_ticket.and_then(|t| self.by_ticket(t));
        let by_id = || {
            (!client_session_id.is_empty() && client_session_id == server_session_id)
                .then(|| self.by_session_id(client_session_id))
                .flatten()
        };
        by_ticket.or_else(by_id).copied()
    }

    /// Ids and tickets remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries forgotten to stay within the capacity.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn insert(&mut self, key: CacheKey, master: MasterSecret) {
        if self.capacity == 0 {
            self.evicted += 1;
            return;
        }
        if self.map.insert(key, master).is_none() {
            self.order.push_back(key);
            while self.map.len() > self.capacity {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if self.map.remove(&old).is_some() {
                    self.evicted += 1;
                }
            }
        }
    }
}

fn id_key(id: &[u8]) -> Option<CacheKey> {
    if id.is_empty() || id.len() > MAX_SESSION_ID {
        return None;
    }
    let mut b = [0u8; MAX_SESSION_ID];
    b.get_mut(..id.len())?.copy_from_slice(id);
    Some(CacheKey::Id(id.len() as u8, b))
}

fn ticket_key(ticket: &[u8]) -> Option<CacheKey> {
    if ticket.is_empty() {
        return None;
    }
    let d = digest::digest(&digest::SHA256, ticket);
    let mut b = [0u8; 32];
    b.copy_from_slice(d.as_ref().get(..32)?);
    Some(CacheKey::Ticket(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tickets() {
        let mut c = SessionCache::new();
        let m1 = MasterSecret([1; 48]);
        let m2 = MasterSecret([2; 48]);
        c.remember_session_id(&[7; 32], &m1);
        c.remember_ticket(b"ticket-bytes", &m2);
        c.remember_session_id(&[], &m1);
        c.remember_session_id(&[1; 33], &m1);
        c.remember_ticket(&[], &m1);
        assert_eq!(c.len(), 2);
        // Resumption by id: the server echoes it.
        assert_eq!(c.resolve(&[7; 32], None, &[7; 32], true), Some(m1));
        // A full handshake resumes nothing.
        assert_eq!(c.resolve(&[7; 32], None, &[7; 32], false), None);
        // A different server id: not that session.
        assert_eq!(c.resolve(&[7; 32], None, &[8; 32], true), None);
        // A ticket wins over the (made-up) id, and needs no id at all.
        let t: Option<&[u8]> = Some(b"ticket-bytes");
        assert_eq!(c.resolve(&[7; 32], t, &[7; 32], true), Some(m2));
        assert_eq!(c.resolve(&[], t, &[], true), Some(m2));
        // An unknown ticket falls back to the id.
        assert_eq!(
            c.resolve(&[7; 32], Some(b"other"), &[7; 32], true),
            Some(m1)
        );
        // Empty ids never match.
        assert_eq!(c.resolve(&[], None, &[], true), None);
        // A prefix of a known id is a different id.
        assert_eq!(c.by_session_id(&[7; 31]), None);
    }

    #[test]
    fn bounded_oldest_first() {
        let mut c = SessionCache::with_capacity(2);
        let m = MasterSecret([1; 48]);
        c.remember_session_id(&[1], &m);
        c.remember_session_id(&[2], &m);
        c.remember_session_id(&[2], &m);
        c.remember_session_id(&[3], &m);
        assert_eq!((c.len(), c.evicted()), (2, 1));
        assert!(c.by_session_id(&[1]).is_none());
        assert!(c.by_session_id(&[3]).is_some());
        let mut z = SessionCache::with_capacity(0);
        z.remember_ticket(b"t", &m);
        assert_eq!((z.len(), z.evicted()), (0, 1));
    }
}
