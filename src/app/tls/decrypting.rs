//! Decryption inside a [`TlsConn`]: once the ServerHello names the version and
//! suite, a [`Session`] is built from the key log (or, for a TLS 1.2
//! resumption, from the master secret of the session it resumes), and every
//! protected record is opened. What a record held goes where plaintext would
//! have gone: alerts join the alert list, TLS 1.3's encrypted handshake gives
//! the certificate chain and client-certificate facts, and application data is
//! queued as [`Decrypted`] chunks for the HTTP parser.
//!
//! The status is honest: [`DecryptionInfo`] says decrypted, or why not (no key
//! for this client random, unsupported suite, handshake not captured, a key
//! that fails authentication).

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;

use super::conn::content;
use super::parse::{self, Reader};
use super::*;
use crate::decrypt::{KeyLog, KeyLogWarning, Session, SessionCache, SessionParams, Undecryptable};

/// Handshake message types seen only after decryption.
mod hs {
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const CERTIFICATE: u8 = 11;
    pub const CERTIFICATE_REQUEST: u8 = 13;
}

/// The key log and the TLS 1.2 resumption cache, shared by every connection of
/// one analysis (the pipeline is single-threaded). The log can grow while the
/// analysis runs: pcapng Decryption Secrets Blocks arrive between packets.
#[derive(Debug, Clone)]
pub struct TlsKeys {
    log: Rc<RefCell<KeyLog>>,
    cache: Rc<RefCell<SessionCache>>,
}

impl TlsKeys {
    /// Keys from a parsed key log.
    pub fn new(log: KeyLog) -> TlsKeys {
        TlsKeys {
            log: Rc::new(RefCell::new(log)),
            cache: Rc::new(RefCell::new(SessionCache::new())),
        }
    }

    /// Adds key log text (a pcapng Decryption Secrets Block); returns the
    /// lines that did not parse.
    pub fn add_text(&self, text: &str) -> Vec<KeyLogWarning> {
        self.log.borrow_mut().add_text(text)
    }

    /// Secrets known.
    pub fn len(&self) -> usize {
        self.log.borrow().len()
    }

    /// No secret at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decrypted application bytes of one record, for the layer above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// Who sent them.
    pub side: Side,
    /// The plaintext.
    pub data: Vec<u8>,
    /// The frame that completed the record.
    pub frame: u64,
    /// Its time.
    pub ts: Timestamp,
}

/// Whether a connection was decrypted, for the tls record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecryptionInfo {
    /// `decrypted`, `not_decrypted`, or `nothing_encrypted` (the handshake
    /// ended before any protected record).
    pub status: &'static str,
    /// Why not (or what went wrong part-way), in words.
    pub reason: Option<String>,
    /// Records decrypted (both directions).
    pub records: u64,
    /// Application-data bytes recovered (both directions).
    pub bytes: u64,
}

/// Where decryption of one connection stands.
#[derive(Debug, Default)]
pub(super) enum Decryption {
    /// No key log given: nothing is attempted, nothing reported.
    #[default]
    Off,
    /// Keys available; waiting for the ServerHello.
    Ready(TlsKeys),
    /// Decrypting.
    On(TlsKeys, Box<Session>),
    /// Not possible, and why.
    Failed(Undecryptable),
}

/// What the ClientHello said that decryption needs.
#[derive(Debug, Clone, Default)]
pub(super) struct HelloKeys {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub ticket: Vec<u8>,
}

/// What the ServerHello said, until the first protected record.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    params: SessionParams,
    server_session_id: Vec<u8>,
}

/// Decryption state and counters of one connection.
#[derive(Debug, Default)]
pub(super) struct DecryptState {
    pub state: Decryption,
    pub hello: Option<HelloKeys>,
    pending: Option<Pending>,
    /// The server sent a full TLS ≤ 1.2 handshake (not a resumption).
    full_handshake: bool,
    /// Tickets seen before the session was built.
    tickets: Vec<Vec<u8>>,
    /// Decrypted application data not yet taken by the caller.
    pub out: Vec<Decrypted>,
    /// Reused plaintext buffer.
    buf: Vec<u8>,
    /// Decrypted handshake bytes per direction (client, server), until whole
    /// messages are cut from them.
    hs: [Vec<u8>; 2],
    pub records: u64,
    pub bytes: u64,
    /// A decrypted record held an alert: the alert list is complete.
    pub saw_alert: bool,
    /// A record failed part-way (after others decrypted): said in the status.
    pub trouble: Option<String>,
}

impl TlsConn {
    /// A connection that decrypts with `keys`.
    pub fn with_keys(ep: Endpoints, keys: TlsKeys) -> TlsConn {
        let mut t = TlsConn::new(ep);
        t.dec.state = Decryption::Ready(keys);
        t
    }

    /// Decrypted application data since the last call, in stream order.
    pub fn take_decrypted(&mut self) -> Vec<Decrypted> {
        std::mem::take(&mut self.dec.out)
    }

    /// The ClientHello's random, session id and ticket.
    pub(super) fn remember_hello(&mut self, ch: &parse::ClientHello) {
        if matches!(self.dec.state, Decryption::Off) || self.dec.hello.is_some() {
            return;
        }
        self.dec.hello = Some(HelloKeys {
            random: ch.random,
            session_id: ch.session_id.clone(),
            ticket: ch.ticket.clone(),
        });
    }

    /// The (real) ServerHello is known: what the session needs is complete.
    /// The session itself is built at the first protected record, so that
    /// key log secrets arriving in between (pcapng blocks) still count.
    pub(super) fn start_decryption(&mut self, sh: &parse::ServerHello) {
        if !matches!(self.dec.state, Decryption::Ready(_)) {
            return;
        }
        let Some(hello) = &self.dec.hello else {
            self.dec.state = Decryption::Failed(Undecryptable::HandshakeNotCaptured);
            return;
        };
        self.dec.pending = Some(Pending {
            params: SessionParams {
                version: sh.version(),
                cipher_suite: sh.cipher,
                client_random: hello.random,
                server_random: sh.random,
                encrypt_then_mac: sh.encrypt_then_mac,
            },
            server_session_id: sh.session_id.clone(),
        });
    }

    /// A server handshake message in the clear: Certificate, ServerKeyExchange,
    /// CertificateRequest or ServerHelloDone mean a full TLS ≤ 1.2 handshake.
    pub(super) fn on_server_handshake_type(&mut self, ty: u8) {
        if matches!(ty, 11..=14) {
            self.dec.full_handshake = true;
        }
    }

    /// Builds the session from what the hellos said, at the first protected
    /// record.
    fn build_session(&mut self) {
        let Decryption::Ready(keys) = &self.dec.state else {
            return;
        };
        let keys = keys.clone();
        let (Some(pending), Some(hello)) = (self.dec.pending.take(), &self.dec.hello) else {
            return;
        };
        let ticket = (!hello.ticket.is_empty()).then_some(hello.ticket.as_slice());
        // TLS ≤ 1.2 resumption: the server went from its hello straight to
        // ChangeCipherSpec.
        let abbreviated = !self.tls13 && !self.dec.full_handshake;
        let resumed = keys.cache.borrow().resolve(
            &hello.session_id,
            ticket,
            &pending.server_session_id,
            abbreviated,
        );
        let session = Session::new_resumed(&keys.log.borrow(), &pending.params, resumed.as_ref());
        self.dec.state = match session {
            Ok(session) => {
                if let Some(master) = session.master_secret() {
                    let mut cache = keys.cache.borrow_mut();
                    if !pending.server_session_id.is_empty() {
                        cache.remember_session_id(&pending.server_session_id, master);
                    }
                    for ticket in self.dec.tickets.drain(..) {
                        cache.remember_ticket(&ticket, master);
                    }
                }
                Decryption::On(keys, Box::new(session))
            }
            Err(why) => Decryption::Failed(why),
        };
    }

    /// A TLS ≤ 1.2 NewSessionTicket (plaintext, before the server's
    /// ChangeCipherSpec): its ticket resumes this session's master secret.
    pub(super) fn remember_ticket(&mut self, body: &[u8]) {
        let Some(ticket) = parse::new_session_ticket(body) else {
            return;
        };
        match &self.dec.state {
            Decryption::On(keys, session) => {
                if let Some(master) = session.master_secret() {
                    keys.cache.borrow_mut().remember_ticket(&ticket, master);
                }
            }
            // A resumed handshake sends its new ticket before any protected record.
            Decryption::Ready(_) if self.dec.tickets.len() < 4 => self.dec.tickets.push(ticket),
            _ => {}
        }
    }

    /// Opens one protected record and routes its content. Does nothing when
    /// this connection is not being decrypted.
    pub(super) fn decrypt_record(
        &mut self,
        side: Side,
        ty: u8,
        version: u16,
        payload: &[u8],
        mark: Mark,
    ) {
        if matches!(self.dec.state, Decryption::Ready(_)) {
            self.build_session();
        }
        let Decryption::On(_, session) = &mut self.dec.state else {
            return;
        };
        let mut buf = std::mem::take(&mut self.dec.buf);
        let result = session
            .sent_by(side)
            .decrypt_into(ty, version, payload, &mut buf);
        match result {
            Ok(inner) => {
                self.dec.records += 1;
                self.on_decrypted(side, inner, &buf, mark);
            }
            Err(e) => {
                let what = format!(
                    "{} record in frame {} did not decrypt: {e}",
                    side.as_str(),
                    mark.frame
                );
                match e.status() {
                    // Nothing decrypted yet: the key is wrong for this connection.
                    Some(status) if self.dec.records == 0 => {
                        self.dec.state = Decryption::Failed(status);
                    }
                    _ => {
                        self.dec.trouble.get_or_insert(what);
                    }
                }
            }
        }
        self.dec.buf = buf;
    }

    fn on_decrypted(&mut self, side: Side, inner: u8, data: &[u8], mark: Mark) {
        match inner {
            content::APPLICATION_DATA if !data.is_empty() => {
                self.dec.bytes += data.len() as u64;
                self.dec.out.push(Decrypted {
                    side,
                    data: data.to_vec(),
                    frame: mark.frame,
                    ts: mark.ts,
                });
            }
            content::ALERT => {
                if let ([level, code], true) = (data, self.alerts.len() < MAX_ALERTS) {
                    self.dec.saw_alert = true;
                    self.alerts.push(alert(side, *level, *code, mark));
                }
            }
            content::HANDSHAKE if self.tls13 => self.on_decrypted_handshake(side, data, mark),
            _ => {}
        }
    }

    /// TLS 1.3's encrypted handshake: whole messages cut from the decrypted
    /// bytes (a message may span records).
    fn on_decrypted_handshake(&mut self, side: Side, data: &[u8], mark: Mark) {
        let i = side.index();
        let Some(buf) = self.dec.hs.get_mut(i) else {
            return;
        };
        if buf.len() + data.len() > MAX_HANDSHAKE * 2 {
            buf.clear();
            return;
        }
        buf.extend_from_slice(data);
        let mut held = std::mem::take(buf);
        let mut used = 0;
        loop {
            let rest = held.get(used..).unwrap_or(&[]);
            let mut r = Reader::new(rest.get(1..).unwrap_or(&[]));
            let (Some(&ty), Some(len)) = (rest.first(), r.u24()) else {
                break;
            };
            let Some(body) = rest.get(4..4 + len) else {
                break;
            };
            self.on_tls13_message(side, ty, body, mark);
            used += 4 + len;
        }
        held.drain(..used.min(held.len()));
        if let Some(buf) = self.dec.hs.get_mut(i) {
            *buf = held;
        }
    }

    fn on_tls13_message(&mut self, side: Side, ty: u8, body: &[u8], mark: Mark) {
        match (side, ty) {
            (Side::Server, hs::CERTIFICATE) if self.certificates.is_empty() => {
                if let Some(chain) = parse::certificate_chain_tls13(body) {
                    self.certificates = chain
                        .into_iter()
                        .map(|c| conn::cert_info(c, mark.frame, mark.ts))
                        .collect();
                }
            }
            (Side::Server, hs::CERTIFICATE_REQUEST) => {
                self.cert_request.get_or_insert(mark.frame);
            }
            (Side::Client, hs::CERTIFICATE) if self.client_certificates.is_none() => {
                if let Some(chain) = parse::certificate_chain_tls13(body) {
                    self.set_client_chain(chain, mark);
                }
            }
            (_, hs::NEW_SESSION_TICKET) => {}
            _ => {}
        }
    }

    /// The status for the record; `None` when no key log was given.
    pub(super) fn decryption_info(&self) -> Option<DecryptionInfo> {
        let (status, reason) = match &self.dec.state {
            Decryption::Off => return None,
            // The handshake ended before the first protected record: there was
            // nothing to decrypt (the TLS findings say why it ended).
            Decryption::Ready(_) if self.dec.hello.is_some() && self.nothing_protected() => (
                "nothing_encrypted",
                Some("the connection ended before any encrypted record".to_string()),
            ),
            Decryption::Ready(_) => (
                "not_decrypted",
                Some(if self.dec.hello.is_none() {
                    Undecryptable::HandshakeNotCaptured.to_string()
                } else {
                    "the ServerHello was not captured, so the session's keys cannot be set up"
                        .to_string()
                }),
            ),
            Decryption::On(..) if self.dec.records > 0 => ("decrypted", self.dec.trouble.clone()),
            Decryption::On(..) => (
                "not_decrypted",
                Some("no encrypted record was captured".to_string()),
            ),
            Decryption::Failed(why) => ("not_decrypted", Some(why.to_string())),
        };
        Some(DecryptionInfo {
            status,
            reason,
            records: self.dec.records,
            bytes: self.dec.bytes,
        })
    }
}

impl TlsConn {
    /// Neither side sent a protected record.
    fn nothing_protected(&self) -> bool {
        [&self.client, &self.server]
            .iter()
            .all(|d| !d.last.is_some_and(|(protected, _)| protected) && d.finished.is_none())
            && self.client_first_protected.is_none()
            && self.encrypted_alert.is_none()
    }
}

/// An alert record's two bytes, as the alert list holds them.
pub(super) fn alert(side: Side, level: u8, code: u8, mark: Mark) -> AlertInfo {
    AlertInfo {
        from: side,
        level: match level {
            1 => "warning".to_string(),
            2 => "fatal".to_string(),
            l => format!("0x{l:02x}"),
        },
        description: parse::alert_name(code),
        code,
        frame: mark.frame,
        time: mark.ts,
    }
}
