//! One direction of one connection: the current record key, its sequence
//! number, and (TLS 1.3) the epoch it belongs to and the next one.

use std::fmt;

use super::keylog::TrafficSecret;
use super::keys::{next_traffic_secret, tls13_opener, Tls12Opener};
use super::record::{AeadOpener, MAX_FRAGMENT};
use super::suites::Suite;
use super::{DecryptError, Plaintext};

/// After this many records in a row fail, a direction stops trying (each
/// failure costs one or two full AEAD passes) and answers
/// [`DecryptError::GaveUp`]. Generous enough for a client's 0-RTT records,
/// which fail under the handshake key without advancing anything.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 64;

/// TLS content types used by the epoch logic.
const HANDSHAKE: u8 = 22;
/// Handshake message types.
const FINISHED: u8 = 20;
const KEY_UPDATE: u8 = 24;

/// Which keys a direction is using.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Epoch {
    /// TLS 1.3 handshake traffic keys.
    Handshake,
    /// TLS 1.3 application traffic keys; `generation` counts KeyUpdates.
    Application {
        /// 0 for `*_TRAFFIC_SECRET_0`, +1 per KeyUpdate.
        generation: u32,
    },
    /// TLS 1.2: one set of keys from ChangeCipherSpec on.
    Tls12,
    /// No key for this direction (or none any more: the handshake keys ran
    /// out and the log had no application secret).
    None,
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Epoch::Handshake => f.write_str("handshake keys"),
            Epoch::Application { generation } => {
                write!(f, "application keys, generation {generation}")
            }
            Epoch::Tls12 => f.write_str("TLS 1.2 keys"),
            Epoch::None => f.write_str("no keys"),
        }
    }
}

/// A TLS 1.3 key with the secret it came from and its sequence number.
struct Keys {
    epoch: Epoch,
    secret: TrafficSecret,
    opener: AeadOpener,
    seq: u64,
}

impl Keys {
    fn new(suite: &Suite, epoch: Epoch, secret: TrafficSecret) -> Result<Keys, DecryptError> {
        Ok(Keys {
            epoch,
            secret,
            opener: tls13_opener(suite, &secret)?,
            seq: 0,
        })
    }
}

/// Walks handshake messages across records to spot the sender's Finished
/// (end of its handshake epoch) and KeyUpdate (next generation). Messages may
/// span records and several may share one; only headers are read.
#[derive(Default)]
struct HandshakeScanner {
    /// Body bytes of the current message still to skip.
    remaining: usize,
    /// A header split across records.
    header: [u8; 4],
    header_len: usize,
}

impl HandshakeScanner {
    /// Feeds one record's handshake bytes; returns the message types whose
    /// header completed in it, reduced to "saw Finished" / "saw KeyUpdate".
    fn feed(&mut self, mut data: &[u8]) -> (bool, bool) {
        let (mut finished, mut key_update) = (false, false);
        loop {
            if self.remaining > 0 {
                let skip = self.remaining.min(data.len());
                self.remaining -= skip;
                data = data.get(skip..).unwrap_or(&[]);
            }
            let Some((&b, rest)) = data.split_first() else {
                break;
            };
            data = rest;
            if let Some(slot) = self.header.get_mut(self.header_len) {
                *slot = b;
            }
            self.header_len += 1;
            if self.header_len == 4 {
                let [t, a, b, c] = self.header;
                self.header_len = 0;
                self.remaining = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
                finished |= t == FINISHED;
                key_update |= t == KEY_UPDATE;
            }
        }
        (finished, key_update)
    }
}

/// TLS 1.3 state of one direction.
struct Tls13State {
    suite: &'static Suite,
    /// `None` once the keys ran out (no application secret after Finished).
    current: Option<Keys>,
    /// The secret of the epoch after `current`'s, when known: application
    /// secret 0 during the handshake; derived on demand afterwards.
    next_secret: Option<TrafficSecret>,
    /// The next epoch's key, built on the first trial and kept.
    next: Option<Keys>,
    scanner: HandshakeScanner,
}

impl Tls13State {
    fn next_epoch(&self) -> Option<Epoch> {
        match self.current.as_ref()?.epoch {
            Epoch::Handshake => self
                .next_secret
                .map(|_| Epoch::Application { generation: 0 }),
            Epoch::Application { generation } => Some(Epoch::Application {
                generation: generation.checked_add(1)?,
            }),
            Epoch::Tls12 | Epoch::None => None,
        }
    }

    /// Builds (once) and returns the next epoch's key.
    fn next_keys(&mut self) -> Option<&mut Keys> {
        if self.next.is_none() {
            let epoch = self.next_epoch()?;
            let secret = match epoch {
                Epoch::Application { generation: 0 } => self.next_secret?,
                _ => next_traffic_secret(self.suite, &self.current.as_ref()?.secret).ok()?,
            };
            self.next = Keys::new(self.suite, epoch, secret).ok();
        }
        self.next.as_mut()
    }

    /// Moves to the next epoch (after a Finished or KeyUpdate, or a record
    /// that only the next key opens).
    fn advance(&mut self) {
        let _ = self.next_keys();
        self.current = self.next.take();
        self.next_secret = None;
        self.scanner = HandshakeScanner::default();
    }

    fn decrypt(
        &mut self,
        content_type: u8,
        version: u16,
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, DecryptError> {
        let cur = self.current.as_mut().ok_or(DecryptError::NoKey)?;
        let opened = cur
            .opener
            .open(cur.seq, content_type, version, fragment, out);
        match opened {
            Ok(()) => cur.seq = cur.seq.saturating_add(1),
            Err(DecryptError::AuthFailure) => {
                // Robust rule: a record only the next epoch's key opens means the
                // switch happened without us seeing why (no handshake secrets in
                // the log, a Finished we could not parse, a KeyUpdate). One step
                // ahead only, so this cannot run away.
                let next = self.next_keys().ok_or(DecryptError::AuthFailure)?;
                next.opener.open(0, content_type, version, fragment, out)?;
                next.seq = 1;
                self.current = self.next.take();
                self.next_secret = None;
                self.scanner = HandshakeScanner::default();
            }
            Err(e) => return Err(e),
        }
        let inner = strip_padding(out)?;
        if inner == HANDSHAKE {
            let (finished, key_update) = self.scanner.feed(out);
            let epoch = self.current.as_ref().map(|k| k.epoch);
            let switch = match epoch {
                Some(Epoch::Handshake) => finished,
                Some(Epoch::Application { .. }) => key_update,
                _ => false,
            };
            if switch {
                self.advance();
            }
        }
        Ok(inner)
    }
}

/// RFC 8446 §5.4: the inner content type is the last non-zero byte; zeros
/// after it are padding. Truncates `out` to the content.
fn strip_padding(out: &mut Vec<u8>) -> Result<u8, DecryptError> {
    let at = out
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(DecryptError::Malformed(
            "TLS 1.3 record with no content type (all padding)",
        ))?;
    let t = out.get(at).copied().unwrap_or(0);
    out.truncate(at);
    Ok(t)
}

struct Tls12State {
    opener: Tls12Opener,
    seq: u64,
}

enum Inner {
    None,
    Tls12(Box<Tls12State>),
    Tls13(Box<Tls13State>),
}

/// Decrypts the protected records one endpoint sent, in order.
///
/// Feed it every protected record of its direction (see the module doc for
/// which those are). On success the sequence number advances; on failure it
/// does not, so a record that is not ours (TLS 1.3 0-RTT data under a key the
/// log lacks) does not throw the following records off.
pub struct DirectionDecryptor {
    inner: Inner,
    failures: u32,
    decrypted: u64,
}

impl fmt::Debug for DirectionDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectionDecryptor")
            .field("epoch", &self.epoch())
            .field("decrypted", &self.decrypted)
            .field("failures", &self.failures)
            .finish()
    }
}

impl DirectionDecryptor {
    /// A direction with no key: every record is [`DecryptError::NoKey`].
    pub(crate) fn none() -> Self {
        Self::with(Inner::None)
    }

    pub(crate) fn tls12(opener: Tls12Opener) -> Self {
        Self::with(Inner::Tls12(Box::new(Tls12State { opener, seq: 0 })))
    }

    /// TLS 1.3: starts with the handshake secret when there is one, else with
    /// application secret 0.
    pub(crate) fn tls13(
        suite: &'static Suite,
        handshake: Option<TrafficSecret>,
        application: Option<TrafficSecret>,
    ) -> Result<Self, DecryptError> {
        let (current, next_secret) = match (handshake, application) {
            (Some(h), app) => (Some(Keys::new(suite, Epoch::Handshake, h)?), app),
            (None, Some(a)) => (
                Some(Keys::new(suite, Epoch::Application { generation: 0 }, a)?),
                None,
            ),
            (None, None) => return Ok(Self::none()),
        };
        Ok(Self::with(Inner::Tls13(Box::new(Tls13State {
            suite,
            current,
            next_secret,
            next: None,
            scanner: HandshakeScanner::default(),
        }))))
    }

    fn with(inner: Inner) -> Self {
        DirectionDecryptor {
            inner,
            failures: 0,
            decrypted: 0,
        }
    }

    /// Decrypts one protected record into a new buffer. `content_type` and
    /// `legacy_version` are the record header's fields as sent; `fragment` is
    /// everything after the 5-byte header.
    pub fn decrypt(
        &mut self,
        content_type: u8,
        legacy_version: u16,
        fragment: &[u8],
    ) -> Result<Plaintext, DecryptError> {
        let mut data = Vec::with_capacity(fragment.len());
        let content_type = self.decrypt_into(content_type, legacy_version, fragment, &mut data)?;
        Ok(Plaintext { content_type, data })
    }

    /// Decrypts one protected record into `out`, reusing its allocation: `out`
    /// holds exactly the plaintext afterwards (its old contents are gone, also
    /// on error). Returns the content type: the inner type for TLS 1.3, the
    /// header's for TLS 1.2. This is the fast path: no allocation once `out`
    /// has grown to a record's size, and the fragment is only read.
    pub fn decrypt_into(
        &mut self,
        content_type: u8,
        legacy_version: u16,
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, DecryptError> {
        if self.failures >= MAX_CONSECUTIVE_FAILURES {
            out.clear();
            return Err(DecryptError::GaveUp {
                failures: self.failures,
            });
        }
        if fragment.len() > MAX_FRAGMENT {
            out.clear();
            return Err(DecryptError::Malformed("record longer than TLS allows"));
        }
        let result = match &mut self.inner {
            Inner::None => Err(DecryptError::NoKey),
            Inner::Tls12(s) => {
                let r = match &s.opener {
                    Tls12Opener::Aead(o) => {
                        o.open(s.seq, content_type, legacy_version, fragment, out)
                    }
                    Tls12Opener::Cbc(o) => {
                        o.open(s.seq, content_type, legacy_version, fragment, out)
                    }
                };
                r.map(|()| {
                    s.seq = s.seq.saturating_add(1);
                    content_type
                })
            }
            Inner::Tls13(s) => s.decrypt(content_type, legacy_version, fragment, out),
        };
        match &result {
            Ok(_) => {
                self.failures = 0;
                self.decrypted += 1;
            }
            Err(DecryptError::AuthFailure) => self.failures += 1,
            Err(_) => {}
        }
        if result.is_err() {
            out.clear();
        }
        result
    }

    /// Which keys the next record is expected under.
    pub fn epoch(&self) -> Epoch {
        match &self.inner {
            Inner::None => Epoch::None,
            Inner::Tls12(_) => Epoch::Tls12,
            Inner::Tls13(s) => s.current.as_ref().map_or(Epoch::None, |k| k.epoch),
        }
    }

    /// The sequence number the next record is expected to carry.
    pub fn sequence(&self) -> Option<u64> {
        match &self.inner {
            Inner::None => None,
            Inner::Tls12(s) => Some(s.seq),
            Inner::Tls13(s) => s.current.as_ref().map(|k| k.seq),
        }
    }

    /// Records decrypted so far.
    pub fn records_decrypted(&self) -> u64 {
        self.decrypted
    }

    /// True when this direction has (or had) a key at all.
    pub fn has_key(&self) -> bool {
        !matches!(self.inner, Inner::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_finds_messages_across_records() {
        let mut s = HandshakeScanner::default();
        // EncryptedExtensions (len 2) + Finished header split over two records.
        assert_eq!(s.feed(&[8, 0, 0, 2, 0, 0, 20, 0]), (false, false));
        assert_eq!(s.feed(&[0, 32]), (true, false));
        assert_eq!(s.remaining, 32);
        assert_eq!(s.feed(&[0; 32]), (false, false));
        assert_eq!(s.feed(&[4, 0, 0, 1, 9, 24, 0, 0, 1, 0]), (false, true));
        assert_eq!(s.feed(&[]), (false, false));
    }

    #[test]
    fn strip_padding_finds_the_type() {
        let mut v = vec![1, 2, 23, 0, 0];
        assert_eq!(strip_padding(&mut v).unwrap(), 23);
        assert_eq!(v, [1, 2]);
        let mut v = vec![0, 0];
        assert!(strip_padding(&mut v).is_err());
        let mut v = vec![];
        assert!(strip_padding(&mut v).is_err());
    }
}
