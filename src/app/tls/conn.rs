//! [`TlsConn`]: stream → records → handshake messages, and the record it yields.

use super::history;
use super::parse::{self, Reader};
use super::*;

/// Content types (RFC 8446 §5.1).
pub(super) mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
    /// DTLS 1.3 acknowledgements (RFC 9147 §7).
    pub const ACK: u8 = 26;
}

/// Handshake message types we decode.
mod hs {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
}

fn is_tls13(v: u16) -> bool {
    v == 0x0304 || v == 0xfefc || (0x7f00..=0x7fff).contains(&v)
}

impl TlsConn {
    /// A connection with nothing seen yet.
    pub fn new(ep: Endpoints) -> TlsConn {
        TlsConn {
            ep,
            client: Dir::default(),
            server: Dir::default(),
            hello: None,
            sni: None,
            server_hello: None,
            hrr: false,
            tls13: false,
            certificates: Vec::new(),
            cert_request: None,
            client_certificates: None,
            client_chain: Vec::new(),
            history: Default::default(),
            starttls: None,
            dtls: None,
            resumption: Resumption::default(),
            curve: None,
            alerts: Vec::new(),
            encrypted_alert: None,
            client_first_protected: None,
            client_protected_followed: false,
            client_later_protected: None,
            server_after_client: (0, None),
            notes: Vec::new(),
            dec: Default::default(),
        }
    }

    /// Marks the connection as upgraded by STARTTLS inside `protocol`.
    pub fn set_starttls(&mut self, protocol: &'static str) {
        self.starttls = Some(protocol);
    }

    pub(super) fn dir(&mut self, side: Side) -> &mut Dir {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    pub(super) fn note(&mut self, side: Side, what: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(format!("{}: {what}", side.as_str()));
        }
    }

    /// In-order bytes from `origin.side` starting at stream `offset`. Bytes
    /// already seen are skipped; a jump forward is treated as a gap.
    pub fn on_data(&mut self, origin: Origin, offset: u64, bytes: &[u8]) {
        let side = origin.side;
        let mark = Mark {
            frame: origin.frame,
            ts: origin.ts,
        };
        let d = self.dir(side);
        d.bytes = d.bytes.saturating_add(bytes.len() as u64);
        if d.stopped {
            return;
        }
        let next = *d.next.get_or_insert(offset);
        let mut input = bytes;
        if offset > next {
            self.on_gap(side, next, offset - next);
            return;
        }
        let skip = usize::try_from(next - offset).unwrap_or(usize::MAX);
        input = input.get(skip..).unwrap_or(&[]);
        let d = self.dir(side);
        d.next = Some(next.saturating_add(input.len() as u64));
        let mut buf = std::mem::take(&mut d.buf);
        while !input.is_empty() && !self.dir(side).stopped {
            let want = if buf.len() < HEADER {
                HEADER
            } else {
                HEADER + record_len(&buf)
            };
            let take = want.saturating_sub(buf.len()).min(input.len());
            let (head, tail) = input.split_at(take);
            buf.extend_from_slice(head);
            input = tail;
            if buf.len() == HEADER {
                if let Err(why) = check_header(&buf) {
                    self.note(
                        side,
                        format!("{why} at stream offset {}: not TLS, parsing stopped", next),
                    );
                    self.dir(side).stopped = true;
                    break;
                }
            }
            if buf.len() >= HEADER && buf.len() == HEADER + record_len(&buf) {
                let ty = buf.first().copied().unwrap_or(0);
                let version = u16::from_be_bytes([
                    buf.get(1).copied().unwrap_or(0),
                    buf.get(2).copied().unwrap_or(0),
                ]);
                self.on_record(side, ty, version, buf.get(HEADER..).unwrap_or(&[]), mark);
                buf.clear();
            }
        }
        if self.dir(side).stopped {
            buf = Vec::new();
        }
        self.dir(side).buf = buf;
    }

    /// `len` bytes at `offset` that the capture does not hold: record boundaries
    /// are lost, so parsing of that direction stops.
    pub fn on_gap(&mut self, side: Side, offset: u64, len: u64) {
        if self.dir(side).stopped {
            return;
        }
        self.note(
            side,
            format!("{len} bytes missing at stream offset {offset}: parsing stopped"),
        );
        let d = self.dir(side);
        d.stopped = true;
        d.buf = Vec::new();
        d.hs = Vec::new();
    }

    /// The end of one direction's stream at `ts`.
    pub fn on_end(&mut self, side: Side, how: StreamEnd, ts: Timestamp) {
        let d = self.dir(side);
        if d.end.is_some() {
            return;
        }
        d.end = Some(ts);
        let partial = !d.stopped && !d.buf.is_empty();
        if matches!(how, StreamEnd::Fin | StreamEnd::Reset) {
            d.closed = Some(ts);
            if let Some((true, mark)) = d.last {
                d.closed_after_protected = Some(mark);
            }
        }
        if partial {
            self.note(side, "stream ended inside a record".to_string());
        }
    }

    /// When each side closed (its first FIN or RST), in packet time, from the
    /// connection record. Stream ends reach [`on_end`](Self::on_end) stamped with
    /// the time of the last *data* seen (a bare FIN does not advance the
    /// dispatcher's clock), so a silent server's ClientHello and the client's FIN
    /// a second later would look simultaneous. And a reset ends *both* streams,
    /// though only its sender closed. These times replace what the stream ends
    /// said, `None` included.
    pub fn closed_at(&mut self, client: Option<Timestamp>, server: Option<Timestamp>) {
        for (side, ts) in [(Side::Client, client), (Side::Server, server)] {
            let d = self.dir(side);
            d.closed = ts;
            if ts.is_some() {
                d.end = ts;
            }
        }
    }

    pub(super) fn on_record(
        &mut self,
        side: Side,
        ty: u8,
        version: u16,
        payload: &[u8],
        mark: Mark,
    ) {
        let tls13 = self.tls13;
        let d = self.dir(side);
        d.records = d.records.saturating_add(1);
        let protected = match ty {
            content::ALERT => payload.len() != 2,
            content::APPLICATION_DATA => true,
            content::HANDSHAKE | content::HEARTBEAT => d.protected,
            _ => false,
        };
        // TLS 1.3 encrypts into application_data records only (RFC 8446 §5.2).
        // DTLS records have their own nonces and sequence numbers: not decrypted.
        if protected && (!tls13 || ty == content::APPLICATION_DATA) && self.dtls.is_none() {
            self.decrypt_record(side, ty, version, payload, mark);
        }
        match ty {
            content::CHANGE_CIPHER_SPEC => {
                self.history.push(side, history::letter::CHANGE_CIPHER_SPEC)
            }
            content::ALERT if !protected => self.history.push(side, history::letter::ALERT),
            content::HEARTBEAT if !protected => self.history.push(side, history::letter::HEARTBEAT),
            _ => {}
        }
        let hrr = self.hrr;
        let d = self.dir(side);
        d.last = Some((protected, mark));
        match ty {
            // After a HelloRetryRequest the version is TLS 1.3 already: a
            // ChangeCipherSpec then is the middlebox-compatibility one
            // (RFC 8446 §D.4) and the real ServerHello still follows in the clear.
            content::CHANGE_CIPHER_SPEC if !tls13 && !hrr => {
                d.ccs = true;
                d.protected = true;
            }
            content::HANDSHAKE if protected && d.ccs && d.finished.is_none() => {
                d.finished = Some(mark);
            }
            content::HANDSHAKE if protected => {}
            content::HANDSHAKE => self.on_handshake_bytes(side, payload, mark),
            content::ALERT if !protected => {
                if let ([level, code], true) = (payload, self.alerts.len() < MAX_ALERTS) {
                    self.alerts
                        .push(decrypting::alert(side, *level, *code, mark));
                }
            }
            content::ALERT if self.encrypted_alert.is_none() => {
                self.encrypted_alert = Some((side, mark));
            }
            content::APPLICATION_DATA if tls13 => match (side, self.client_first_protected) {
                (Side::Client, None) => self.client_first_protected = Some((mark, payload.len())),
                (Side::Client, Some(_)) => {
                    self.client_protected_followed = true;
                    self.client_later_protected = Some(payload.len());
                }
                (Side::Server, Some((first, _))) if mark.ts >= first.ts => {
                    self.client_protected_followed = true;
                    let (n, first_reply) = &mut self.server_after_client;
                    *n = n.saturating_add(1);
                    let answers_close = self
                        .client_later_protected
                        .is_some_and(|len| len < MIN_TLS13_FINISHED);
                    first_reply.get_or_insert((mark, payload.len(), answers_close));
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn on_handshake_bytes(&mut self, side: Side, payload: &[u8], mark: Mark) {
        if self.dtls.is_some() {
            return self.on_dtls_handshake(side, payload, mark);
        }
        let d = self.dir(side);
        if d.hs_stopped {
            return;
        }
        d.hs.extend_from_slice(payload);
        let mut hs = std::mem::take(&mut d.hs);
        let mut used = 0;
        loop {
            let rest = hs.get(used..).unwrap_or(&[]);
            let mut r = Reader::new(rest.get(1..).unwrap_or(&[]));
            let (Some(&ty), Some(len)) = (rest.first(), r.u24()) else {
                break;
            };
            if len > MAX_HANDSHAKE {
                self.note(side, format!("handshake message of {len} bytes exceeds {MAX_HANDSHAKE}: handshake parsing stopped"));
                self.dir(side).hs_stopped = true;
                hs = Vec::new();
                used = 0;
                break;
            }
            let Some(body) = rest.get(4..4 + len) else {
                break;
            };
            self.on_handshake(side, ty, body, mark);
            used += 4 + len;
            if self.dir(side).protected {
                // The rest of the flight is protected (TLS 1.3 after ServerHello).
                hs.clear();
                used = 0;
                break;
            }
        }
        hs.drain(..used.min(hs.len()));
        self.dir(side).hs = hs;
    }

    pub(super) fn on_handshake(&mut self, side: Side, ty: u8, body: &[u8], mark: Mark) {
        if side == Side::Server {
            self.on_server_handshake_type(ty);
        }
        if ty != hs::SERVER_HELLO {
            self.history
                .push(side, history::handshake_letter(ty, false));
        }
        match (side, ty) {
            (Side::Client, hs::CLIENT_HELLO) if self.hello.is_none() => {
                match parse::client_hello(body, self.dtls.is_some()) {
                    Some(ch) => {
                        self.remember_hello(&ch);
                        self.on_client_hello(ch, mark)
                    }
                    None => self.note(
                        side,
                        format!("malformed ClientHello in frame {}", mark.frame),
                    ),
                }
            }
            (Side::Server, hs::SERVER_HELLO) => match parse::server_hello(body) {
                Some(sh) => {
                    let letter = history::handshake_letter(ty, sh.hello_retry_request);
                    self.history.push(side, letter);
                    self.on_server_hello(sh, mark)
                }
                None => {
                    self.history
                        .push(side, history::handshake_letter(ty, false));
                    self.note(
                        side,
                        format!("malformed ServerHello in frame {}", mark.frame),
                    )
                }
            },
            (Side::Client, hs::SERVER_HELLO) => {
                self.history
                    .push(side, history::handshake_letter(ty, false));
            }
            (Side::Server, hs::CERTIFICATE) if !self.tls13 && self.certificates.is_empty() => {
                match parse::certificate_chain(body) {
                    Some(chain) => {
                        self.certificates = chain
                            .into_iter()
                            .map(|c| cert_info(c, mark.frame, mark.ts))
                            .collect()
                    }
                    None => self.note(
                        side,
                        format!("malformed Certificate in frame {}", mark.frame),
                    ),
                }
            }
            (Side::Server, hs::NEW_SESSION_TICKET) if !self.tls13 => self.remember_ticket(body),
            (Side::Server, hs::SERVER_KEY_EXCHANGE) if !self.tls13 => {
                self.resumption.key_exchange = true;
                // ECDHE: curve_type 3 (named_curve), then the group.
                if body.first() == Some(&3) {
                    if let Some(g) = body.get(1..3) {
                        self.curve = Some(u16::from_be_bytes([g[0], g[1]]));
                    }
                }
            }
            (Side::Server, hs::CERTIFICATE_REQUEST) if !self.tls13 => {
                self.cert_request.get_or_insert(mark.frame);
            }
            (Side::Client, hs::CERTIFICATE)
                if !self.tls13 && self.client_certificates.is_none() =>
            {
                match parse::certificate_chain(body) {
                    Some(chain) => self.set_client_chain(chain, mark),
                    None => self.note(
                        side,
                        format!("malformed Certificate in frame {}", mark.frame),
                    ),
                }
            }
            _ => {}
        }
    }

    /// The client's Certificate message (mutual TLS).
    pub(super) fn set_client_chain(&mut self, chain: Vec<parse::Cert>, mark: Mark) {
        self.client_certificates = Some(chain.len());
        self.client_chain = chain
            .into_iter()
            .map(|c| cert_info(c, mark.frame, mark.ts))
            .collect();
    }

    fn on_client_hello(&mut self, ch: parse::ClientHello, mark: Mark) {
        let has_sv = !ch.supported_versions.is_empty();
        let codes = if has_sv {
            ch.supported_versions.clone()
        } else {
            vec![ch.legacy_version]
        };
        let names = |v: &[u16], f: fn(u16) -> String| v.iter().map(|&x| f(x)).collect::<Vec<_>>();
        self.sni = ch.sni.clone();
        self.resumption.offered_id = ch.session_id.clone();
        self.resumption.offered_ticket = !ch.ticket.is_empty();
        let ja3 = fingerprint::ja3(&ch);
        let ja4 = fingerprint::ja4(&ch, if self.dtls.is_some() { 'd' } else { 't' });
        self.hello = Some(ClientHelloInfo {
            frame: mark.frame,
            time: mark.ts,
            legacy_version: parse::version_name(ch.legacy_version),
            offered_versions: names(&codes, parse::version_name),
            cipher_suites: names(&ch.ciphers, parse::cipher_name),
            alpn: ch.alpn,
            groups: names(&ch.groups, parse::group_name),
            key_share_groups: names(&ch.key_share_groups, parse::group_name),
            legacy_only: !codes.iter().any(|&v| is_tls13(v)),
            ja3: ja3.hash,
            ja3_string: ja3.text,
            ja4: ja4.hash,
            ja4_r: ja4.text,
            version_codes: codes,
            has_supported_versions: has_sv,
        });
    }

    fn on_server_hello(&mut self, sh: parse::ServerHello, mark: Mark) {
        let version = sh.version();
        self.hrr |= sh.hello_retry_request;
        if !sh.hello_retry_request {
            self.resumption.id_echoed = !sh.session_id.is_empty()
                && sh.session_id == self.resumption.offered_id
                && !is_tls13(version);
            self.resumption.psk = sh.pre_shared_key;
            if sh.key_share_group.is_some() {
                self.curve = sh.key_share_group;
            }
        }
        let ja3s = fingerprint::ja3s(&sh);
        self.server_hello = Some(ServerHelloInfo {
            frame: mark.frame,
            time: mark.ts,
            version: parse::version_name(version),
            cipher: parse::cipher_name(sh.cipher),
            alpn: sh.alpn.clone(),
            hello_retry_request: self.hrr,
            ja3s: ja3s.hash,
            ja3s_string: ja3s.text,
            version_code: version,
            real: !sh.hello_retry_request,
        });
        if !sh.hello_retry_request && is_tls13(version) {
            self.tls13 = true;
            self.server.protected = true;
            self.client.protected = true;
        }
        if !sh.hello_retry_request {
            self.start_decryption(&sh);
        }
    }

    fn established(&self) -> Option<Mark> {
        if self.tls13 {
            let (mark, len) = self.client_first_protected?;
            let done = self.client_protected_followed || len >= MIN_TLS13_FINISHED;
            (done && !self.server_rejected_client_flight()).then_some(mark)
        } else {
            let (c, s) = (self.client.finished?, self.server.finished?);
            Some(if c.ts > s.ts { c } else { s })
        }
    }

    /// TLS 1.3: the server answered the client's first protected flight with a
    /// single alert-sized record, soon, and closed right after it; the client
    /// had neither closed nor sent a close_notify-sized record before it.
    fn server_rejected_client_flight(&self) -> bool {
        let (Some((flight, _)), (1, Some((reply, len, answers_close)))) =
            (self.client_first_protected, self.server_after_client)
        else {
            return false;
        };
        // The reply came before the client closed (a reply to the client's
        // close is its close_notify), and the server closed right after it.
        let client_closed_before = self.client.closed.is_some_and(|c| c <= reply.ts);
        self.tls13
            && len < MIN_TLS13_FINISHED
            && !answers_close
            && !client_closed_before
            && reply.ts.since(flight.ts) <= TLS13_REJECT_WINDOW_NS
            && self.server.closed.is_some()
            && self.server.closed_after_protected == Some(reply)
    }

    /// Bytes held in buffers (for the memory-bound tests).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.client.buf.capacity()
            + self.client.hs.capacity()
            + self.server.buf.capacity()
            + self.server.hs.capacity()
    }

    /// Whether the session was resumed (see [`TlsRecord::resumed`]).
    fn resumed(&self, established: bool) -> bool {
        let r = &self.resumption;
        let abbreviated = !self.tls13
            && established
            && self.certificates.is_empty()
            && !r.key_exchange
            && self.server_hello.is_some();
        r.psk || r.id_echoed || (r.offered_ticket && abbreviated)
    }

    /// The record for this connection, `None` when no ClientHello was seen.
    /// `conn_end` is the time of the connection's last packet.
    pub fn record(&self, conn_end: Timestamp) -> Option<TlsRecord> {
        let hello = self.hello.clone()?;
        let established = self.established();
        // A decrypted alert is known, not suspected.
        let suspected = if established.is_some() || self.dec.saw_alert {
            None
        } else {
            // Who closed (FIN or RST sent), not whose stream ended: a reset
            // ends both.
            let server_first = match (self.server.closed, self.client.closed) {
                (Some(s), Some(c)) => s < c,
                (Some(_), None) => true,
                _ => false,
            };
            let closer =
                |d: &Dir, side: Side| d.closed.and(d.closed_after_protected).map(|m| (side, m));
            let client = closer(&self.client, Side::Client);
            let server = closer(&self.server, Side::Server);
            let rejection = self
                .server_after_client
                .1
                .filter(|_| self.server_rejected_client_flight())
                .map(|(m, _, _)| (Side::Server, m));
            self.encrypted_alert.or(rejection).or(if server_first {
                server.or(client)
            } else {
                client.or(server)
            })
        };
        let real_sh = self.server_hello.as_ref().filter(|s| s.real);
        Some(TlsRecord {
            conn: self.ep.conn,
            client: self.ep.client,
            server: self.ep.server,
            sni: self.sni.clone(),
            resumed: self.resumed(established.is_some()),
            curve: self.curve.map(parse::group_name),
            server_hello: self.server_hello.clone(),
            certificates: self.certificates.clone(),
            alerts: self.alerts.clone(),
            server_rejected_client_flight: self.server_rejected_client_flight(),
            encrypted_alert_suspected: suspected.map(|(_, m)| m.frame),
            encrypted_alert_from: suspected.map(|(s, _)| s),
            established: established.map(|m| Established {
                frame: m.frame,
                time: m.ts,
                handshake_ms: ms(m.ts.since(hello.time)),
            }),
            version: real_sh.map(|s| s.version.clone()),
            cipher: real_sh.map(|s| s.cipher.clone()),
            alpn: real_sh.and_then(|s| s.alpn.clone()),
            unanswered_ms: (self.server.bytes == 0).then(|| ms(conn_end.since(hello.time))),
            client_gave_up_ms: match (self.server.bytes, self.client.closed, self.server.closed) {
                (0, Some(c), None) => Some(ms(c.since(hello.time))),
                (0, Some(c), Some(s)) if c <= s => Some(ms(c.since(hello.time))),
                _ => None,
            },
            client_cert_requested: self.cert_request,
            client_certificates: self.client_certificates,
            client_subject: self.client_chain.first().map(|c| c.subject.clone()),
            client_issuer: self.client_chain.first().map(|c| c.issuer.clone()),
            client_cert_chain: self.client_chain.clone(),
            ssl_history: self.history.as_str().to_string(),
            starttls: self.starttls,
            decryption: self.decryption_info(),
            notes: self.notes.clone(),
            client_hello: hello,
        })
    }
}

fn record_len(header: &[u8]) -> usize {
    match (header.get(3), header.get(4)) {
        (Some(&hi), Some(&lo)) => usize::from(u16::from_be_bytes([hi, lo])),
        _ => 0,
    }
}

fn check_header(h: &[u8]) -> Result<(), String> {
    let ty = h.first().copied().unwrap_or(0);
    if !(content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(&ty) {
        return Err(format!("record type 0x{ty:02x}"));
    }
    if h.get(1) != Some(&3) || h.get(2).is_none_or(|&m| m > 4) {
        return Err(format!(
            "record version 0x{:02x}{:02x}",
            h.get(1).copied().unwrap_or(0),
            h.get(2).copied().unwrap_or(0)
        ));
    }
    let len = record_len(h);
    if len > MAX_RECORD {
        return Err(format!("record length {len} exceeds {MAX_RECORD}"));
    }
    Ok(())
}

/// Certificate times have whole seconds: `2021-01-01T00:00:00Z`.
fn rfc3339_secs(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{secs} (Unix seconds, out of range)"))
}

pub(super) fn cert_info(c: parse::Cert, frame: u64, time: Timestamp) -> CertInfo {
    CertInfo {
        frame,
        time,
        fingerprint: c.fingerprint,
        sha1: c.sha1,
        version: c.version,
        serial: c.serial,
        not_before: rfc3339_secs(c.not_before),
        not_after: rfc3339_secs(c.not_after),
        subject: c.subject,
        issuer: c.issuer,
        common_name: c.common_name,
        sans: c.sans,
        self_signed: c.self_signed,
        not_before_unix: c.not_before,
        not_after_unix: c.not_after,
    }
}
