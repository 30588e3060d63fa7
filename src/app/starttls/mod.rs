//! STARTTLS: a plaintext protocol session that upgrades to TLS in place.
//!
//! [`detect`] recognises the session from the server's greeting (`220`, `*
//! OK`, `+OK`), the client's first bytes (PostgreSQL's SSLRequest, an XMPP
//! stream header, an IRC registration) or the server's well-known port; a
//! [`StartTls`] then follows the plaintext only as far as the upgrade: it
//! waits for the client's request (`STARTTLS`, `a STARTTLS`, `STLS`, `AUTH
//! TLS`, `<starttls/>`, the SSLRequest) and the server's answer (`220`, `a OK`,
//! `+OK`, `234`, `<proceed/>`, `670`, `S`). When the server grants it,
//! [`StartTls::on_data`] returns the [`Upgrade`]: where each direction's TLS
//! bytes begin and the ones already seen, for the TLS parser.
//!
//! Sans-IO and bounded: at most [`MAX_LINE`] bytes of one line held per
//! direction, [`MAX_PENDING`] client bytes held while the answer is awaited,
//! [`MAX_PLAIN`] plaintext bytes per direction and [`MAX_REFUSALS`] refused
//! requests followed before the session is left alone. A gap stops it: the
//! protocol's framing is lost.

mod rules;
#[cfg(test)]
mod tests;

use rules::Verdict;

use super::StreamCursor;
use crate::base::Side;

/// A line longer than this is skipped (to its end) rather than held.
pub const MAX_LINE: usize = 4096;
/// Client bytes held after its request while the server's answer is awaited.
pub const MAX_PENDING: usize = 64 * 1024;
/// Plaintext followed per direction before the session is left alone.
pub const MAX_PLAIN: u64 = 1024 * 1024;
/// Refused requests followed before the session is left alone.
pub const MAX_REFUSALS: u32 = 4;

/// PostgreSQL's SSLRequest: length 8, then the code 80877103.
const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// The protocols whose STARTTLS is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// SMTP (RFC 3207): `STARTTLS` → `220`.
    Smtp,
    /// IMAP (RFC 3501): `tag STARTTLS` → `tag OK`.
    Imap,
    /// POP3 (RFC 2595): `STLS` → `+OK`.
    Pop3,
    /// FTP (RFC 4217): `AUTH TLS` or `AUTH SSL` → `234`.
    Ftp,
    /// XMPP (RFC 6120): `<starttls/>` → `<proceed/>`.
    Xmpp,
    /// IRC (IRCv3 tls): `STARTTLS` → `670`.
    Irc,
    /// PostgreSQL: SSLRequest → `S`.
    Postgres,
}

impl Protocol {
    /// The name records carry (`smtp`, as Zeek's conn.log `service`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Ftp => "ftp",
            Protocol::Xmpp => "xmpp",
            Protocol::Irc => "irc",
            Protocol::Postgres => "postgresql",
        }
    }

    /// The protocol usually served on `port` (plaintext ports only).
    fn by_port(port: u16) -> Option<Protocol> {
        Some(match port {
            25 | 587 | 2525 => Protocol::Smtp,
            143 => Protocol::Imap,
            110 => Protocol::Pop3,
            21 => Protocol::Ftp,
            5222 | 5269 => Protocol::Xmpp,
            6667 => Protocol::Irc,
            5432 => Protocol::Postgres,
            _ => return None,
        })
    }
}

/// Where TLS begins in both directions, once the server granted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The protocol that upgraded.
    pub protocol: Protocol,
    /// Client stream offset of its first TLS byte.
    pub client_at: u64,
    /// Client TLS bytes already seen (from `client_at`).
    pub client: Vec<u8>,
    /// Server stream offset of its first TLS byte.
    pub server_at: u64,
    /// Server TLS bytes already seen (from `server_at`).
    pub server: Vec<u8>,
}

/// Where the session is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Plaintext; waiting for the client's request.
    Plain,
    /// The client asked; waiting for the server's answer. `tag` is IMAP's.
    Requested {
        protocol: Protocol,
        tag: Vec<u8>,
        client_at: u64,
    },
    /// Not followed any more (gap, bounds, upgraded).
    Stopped,
}

/// One direction's plaintext: the stream position and the line being cut.
#[derive(Debug, Default)]
struct Dir {
    cursor: StreamCursor,
    line: Vec<u8>,
    /// The current line outgrew [`MAX_LINE`]: skipped to its end.
    skipping: bool,
}

/// A STARTTLS session followed up to its upgrade.
#[derive(Debug)]
pub struct StartTls {
    /// What the session may be; the client's request picks one (a `220`
    /// greeting is SMTP's or FTP's).
    candidates: Vec<Protocol>,
    state: State,
    dirs: [Dir; 2],
    /// Client bytes after its request, while the answer is awaited.
    pending: Vec<u8>,
    refusals: u32,
}

/// The STARTTLS session a TCP connection to `server_port` may be, from the
/// first bytes `side` sent: `None` when it is none of them.
pub fn detect(server_port: u16, side: Side, first: &[u8]) -> Option<StartTls> {
    let by_port = Protocol::by_port(server_port);
    // A first delivery shorter than the word is judged on what is there.
    let starts = |p: &[u8]| {
        let n = first.len().min(p.len());
        n > 0
            && first
                .get(..n)
                .zip(p.get(..n))
                .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
    };
    let candidates = match side {
        Side::Server if starts(b"220") => vec![Protocol::Smtp, Protocol::Ftp],
        Side::Server if starts(b"* OK") || starts(b"* PREAUTH") => vec![Protocol::Imap],
        Side::Server if starts(b"+OK") => vec![Protocol::Pop3],
        Side::Server if by_port == Some(Protocol::Irc) && starts(b":") => vec![Protocol::Irc],
        Side::Client if first.starts_with(&PG_SSL_REQUEST) => vec![Protocol::Postgres],
        Side::Client if first.len() < 8 && PG_SSL_REQUEST.starts_with(first) => {
            vec![Protocol::Postgres]
        }
        Side::Client if starts(b"<?xml") || starts(b"<stream:stream") => vec![Protocol::Xmpp],
        Side::Client if starts(b"CAP ") || starts(b"NICK ") || starts(b"STARTTLS") => {
            vec![Protocol::Irc]
        }
        // Anything else on the protocol's own port is given a try: a
        // session that turns out to be something else is dropped at its
        // first unit or ends without an upgrade.
        _ => vec![by_port?],
    };
    Some(StartTls::new(candidates))
}

impl StartTls {
    /// A session that may be any of `candidates` (the first decides the
    /// framing when they differ).
    pub fn new(candidates: Vec<Protocol>) -> StartTls {
        // Both streams start at offset 0 (the session was detected at its
        // first byte): a first delivery past it is a gap.
        let mut dirs: [Dir; 2] = Default::default();
        for d in &mut dirs {
            d.cursor.advance(0, &[]);
        }
        StartTls {
            candidates,
            state: State::Plain,
            dirs,
            pending: Vec::new(),
            refusals: 0,
        }
    }

    /// True once the session is no longer followed (and never will upgrade).
    pub fn stopped(&self) -> bool {
        self.state == State::Stopped
    }

    /// `len` bytes at `offset` of `side` that the capture does not hold.
    pub fn on_gap(&mut self, _side: Side, _offset: u64, _len: u64) {
        self.stop();
    }

    fn stop(&mut self) {
        self.state = State::Stopped;
        self.pending = Vec::new();
        self.dirs = Default::default();
    }

    /// In-order bytes of `side` at stream `offset`; the [`Upgrade`] when the
    /// server's answer in them granted TLS.
    pub fn on_data(&mut self, side: Side, offset: u64, bytes: &[u8]) -> Option<Upgrade> {
        if self.stopped() {
            return None;
        }
        let i = side.index();
        let adv = self.dirs.get_mut(i)?.cursor.advance(offset, bytes);
        if adv.gap.is_some() {
            self.stop();
            return None;
        }
        let mut input = adv.bytes;
        let mut at = offset + (bytes.len() - input.len()) as u64;
        while !input.is_empty() {
            if side == Side::Client {
                if let State::Requested { .. } = self.state {
                    // After its request the client waits; what it sends now
                    // is its ClientHello (or a protocol error): held.
                    if self.pending.len() + input.len() > MAX_PENDING {
                        self.stop();
                        return None;
                    }
                    self.pending.extend_from_slice(input);
                    return None;
                }
            }
            if at >= MAX_PLAIN {
                self.stop();
                return None;
            }
            let (unit, rest) = self.cut(side, input)?;
            at += (input.len() - rest.len()) as u64;
            input = rest;
            if let Some(line) = unit {
                if let Some(up) = self.on_unit(side, &line, at, input) {
                    self.stop();
                    return Some(up);
                }
                if self.stopped() {
                    return None;
                }
            }
        }
        None
    }

    /// Takes bytes up to the end of one unit (line or element); the unit when
    /// it is complete, and the bytes after it.
    fn cut<'a>(&mut self, side: Side, input: &'a [u8]) -> Option<(Option<Vec<u8>>, &'a [u8])> {
        let postgres = self.candidates.first() == Some(&Protocol::Postgres);
        let delim = rules::delimiter(self.candidates.first().copied().unwrap_or(Protocol::Smtp));
        let d = self.dirs.get_mut(side.index())?;
        // PostgreSQL is binary: the request is 8 bytes, the answer one.
        let want = match (postgres, side) {
            (true, Side::Client) => Some(PG_SSL_REQUEST.len()),
            (true, Side::Server) => Some(1),
            _ => None,
        };
        let (take, complete) = match want {
            Some(n) => {
                let take = n.saturating_sub(d.line.len()).min(input.len());
                (take, d.line.len() + take == n)
            }
            None => match input.iter().position(|&b| b == delim) {
                Some(p) => (p + 1, true),
                None => (input.len(), false),
            },
        };
        let (head, rest) = input.split_at(take);
        if !d.skipping {
            if d.line.len() + head.len() > MAX_LINE {
                d.skipping = true;
                d.line = Vec::new();
            } else {
                d.line.extend_from_slice(head);
            }
        }
        if !complete {
            return Some((None, rest));
        }
        let skipped = std::mem::take(&mut d.skipping);
        let line = std::mem::take(&mut d.line);
        Some(((!skipped).then_some(line), rest))
    }

    /// One complete unit from `side` ending at stream offset `end`, with the
    /// bytes after it in the same delivery.
    fn on_unit(&mut self, side: Side, unit: &[u8], end: u64, rest: &[u8]) -> Option<Upgrade> {
        match (&self.state, side) {
            (State::Plain, Side::Client) => {
                if self.candidates.first() == Some(&Protocol::Postgres) {
                    if unit != PG_SSL_REQUEST {
                        self.stop();
                        return None;
                    }
                    self.state = State::Requested {
                        protocol: Protocol::Postgres,
                        tag: Vec::new(),
                        client_at: end,
                    };
                    return None;
                }
                let found = self
                    .candidates
                    .iter()
                    .find_map(|&p| rules::request(p, unit).map(|tag| (p, tag)));
                if let Some((protocol, tag)) = found {
                    // The bytes after it (in `rest`) are held as pending
                    // by the caller's loop.
                    self.state = State::Requested {
                        protocol,
                        tag,
                        client_at: end,
                    };
                }
                None
            }
            (
                State::Requested {
                    protocol,
                    tag,
                    client_at,
                },
                Side::Server,
            ) => {
                let verdict = match protocol {
                    Protocol::Postgres if unit == b"S" => Verdict::Accept,
                    Protocol::Postgres => Verdict::Refuse,
                    p => rules::verdict(*p, tag, unit),
                };
                match verdict {
                    Verdict::Accept => Some(Upgrade {
                        protocol: *protocol,
                        client_at: *client_at,
                        client: std::mem::take(&mut self.pending),
                        server_at: end,
                        server: rest.to_vec(),
                    }),
                    Verdict::Refuse => {
                        self.refusals += 1;
                        self.pending.clear();
                        // A refused SSLRequest is followed by the startup
                        // message in the clear: nothing more to follow.
                        if self.refusals >= MAX_REFUSALS || *protocol == Protocol::Postgres {
                            self.stop();
                        } else {
                            self.state = State::Plain;
                        }
                        None
                    }
                    Verdict::Other => None,
                }
            }
            _ => None,
        }
    }
}
