//! One connection's decryption state: the key log lookup and key setup, then a
//! [`DirectionDecryptor`] per side.

use crate::base::Side;

use super::direction::DirectionDecryptor;
use super::keylog::{KeyLog, MasterSecret, TrafficSecret};
use super::keys::tls12_openers;
use super::suites::{self, Family, Suite};
use super::{DecryptError, Undecryptable};

/// `ProtocolVersion` of TLS 1.2.
pub const TLS12: u16 = 0x0303;
/// `ProtocolVersion` of TLS 1.3 (from `supported_versions`; the record and
/// hello `legacy_version` fields say 0x0303).
pub const TLS13: u16 = 0x0304;

/// What the caller read from the plaintext hellos.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionParams {
    /// The negotiated version: [`TLS12`] or [`TLS13`] (for TLS 1.3, the
    /// ServerHello's `supported_versions`, not its `legacy_version`).
    pub version: u16,
    /// The ServerHello's cipher suite.
    pub cipher_suite: u16,
    /// The ClientHello's random: the key log's index.
    pub client_random: [u8; 32],
    /// The ServerHello's random (TLS 1.2 key expansion; unused for TLS 1.3).
    pub server_random: [u8; 32],
    /// TLS 1.2: both hellos carried `encrypt_then_mac` (RFC 7366) and the suite
    /// is CBC. Ignored for AEAD suites, where it has no effect by definition.
    pub encrypt_then_mac: bool,
}

/// One connection's decryptors.
#[derive(Debug)]
pub struct Session {
    suite: &'static Suite,
    master: Option<MasterSecret>,
    client: DirectionDecryptor,
    server: DirectionDecryptor,
}

impl Session {
    /// Sets up decryption from the key log. Fails when the log has nothing for
    /// this client random, or the version or suite is not supported.
    pub fn new(keylog: &KeyLog, params: &SessionParams) -> Result<Session, Undecryptable> {
        Self::new_resumed(keylog, params, None)
    }

    /// Like [`Session::new`], with a fallback for TLS 1.2 abbreviated
    /// handshakes: when the log has no master secret for this client random,
    /// `resumed` (from a [`SessionCache`](super::SessionCache) lookup of the
    /// session id or ticket) is used instead. The log wins when it has one:
    /// many clients log resumed connections too.
    pub fn new_resumed(
        keylog: &KeyLog,
        params: &SessionParams,
        resumed: Option<&MasterSecret>,
    ) -> Result<Session, Undecryptable> {
        let suite = check_suite(params)?;
        match suite.family {
            Family::Tls12 => {
                let master = keylog
                    .master_secret(&params.client_random)
                    .or(resumed)
                    .ok_or(Undecryptable::NoKey)?;
                Self::tls12(suite, master, params)
            }
            Family::Tls13 => {
                let s = keylog
                    .tls13_secrets(&params.client_random)
                    .ok_or(Undecryptable::NoKey)?;
                let check =
                    |t: Option<TrafficSecret>| -> Result<Option<TrafficSecret>, Undecryptable> {
                        match t {
                            Some(t) if t.as_bytes().len() != suite.prf.output_len() => {
                                Err(Undecryptable::SecretLength {
                                    suite: suite.name,
                                    expected: suite.prf.output_len(),
                                    got: t.as_bytes().len(),
                                })
                            }
                            t => Ok(t),
                        }
                    };
                let client = DirectionDecryptor::tls13(
                    suite,
                    check(s.client_handshake)?,
                    check(s.client_application)?,
                )
                .map_err(setup)?;
                let server = DirectionDecryptor::tls13(
                    suite,
                    check(s.server_handshake)?,
                    check(s.server_application)?,
                )
                .map_err(setup)?;
                if !client.has_key() && !server.has_key() {
                    return Err(Undecryptable::NoKey);
                }
                Ok(Session {
                    suite,
                    master: None,
                    client,
                    server,
                })
            }
        }
    }

    /// TLS 1.2 from a master secret the caller already has.
    pub fn from_master_secret(
        master: &MasterSecret,
        params: &SessionParams,
    ) -> Result<Session, Undecryptable> {
        let suite = check_suite(params)?;
        if suite.family != Family::Tls12 {
            return Err(Undecryptable::UnsupportedCipher(format!(
                "{} with a TLS 1.2 master secret",
                suite.name
            )));
        }
        Self::tls12(suite, master, params)
    }

    fn tls12(
        suite: &'static Suite,
        master: &MasterSecret,
        params: &SessionParams,
    ) -> Result<Session, Undecryptable> {
        let (c, s) = tls12_openers(
            suite,
            master,
            &params.client_random,
            &params.server_random,
            params.encrypt_then_mac,
        )
        .map_err(setup)?;
        Ok(Session {
            suite,
            master: Some(*master),
            client: DirectionDecryptor::tls12(c),
            server: DirectionDecryptor::tls12(s),
        })
    }

    /// The records the client sent.
    pub fn client_to_server(&mut self) -> &mut DirectionDecryptor {
        &mut self.client
    }

    /// The records the server sent.
    pub fn server_to_client(&mut self) -> &mut DirectionDecryptor {
        &mut self.server
    }

    /// The decryptor for records sent by `side`.
    pub fn sent_by(&mut self, side: Side) -> &mut DirectionDecryptor {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// The negotiated suite.
    pub fn suite(&self) -> &'static Suite {
        self.suite
    }

    /// TLS 1.2: the master secret in use, to remember for resumption
    /// ([`SessionCache::remember_session_id`](super::SessionCache::remember_session_id),
    /// [`SessionCache::remember_ticket`](super::SessionCache::remember_ticket)).
    pub fn master_secret(&self) -> Option<&MasterSecret> {
        self.master.as_ref()
    }
}

fn check_suite(params: &SessionParams) -> Result<&'static Suite, Undecryptable> {
    let family = match params.version {
        TLS12 => Family::Tls12,
        TLS13 => Family::Tls13,
        v => return Err(Undecryptable::UnsupportedVersion(v)),
    };
    match suites::lookup(params.cipher_suite) {
        Some(s) if s.family == family => Ok(s),
        Some(s) => Err(Undecryptable::UnsupportedCipher(format!(
            "{} under TLS 0x{:04x}",
            s.name, params.version
        ))),
        None => Err(Undecryptable::UnsupportedCipher(suites::name(
            params.cipher_suite,
        ))),
    }
}

/// Key setup failing is an internal error; report it as the key not fitting.
fn setup(_: DecryptError) -> Undecryptable {
    Undecryptable::AuthFailure
}
