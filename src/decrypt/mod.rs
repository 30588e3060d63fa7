//! TLS record decryption from key logs (`SSLKEYLOGFILE`): sans-IO, one
//! connection at a time, no clock, no panics on any input.
//!
//! # Pieces
//!
//! * [`KeyLog`] ([`keylog`]): secrets by client random, from NSS key log text
//!   (files, or pcapng Decryption Secrets Blocks merged with [`KeyLog::extend`]).
//! * [`Session`]: the two [`DirectionDecryptor`]s of one connection, built
//!   from the key log and what the caller read in the plaintext hellos
//!   ([`SessionParams`]). [`Undecryptable`] says honestly why not.
//! * [`SessionCache`] ([`resume`]): TLS 1.2 session ids and tickets → master
//!   secrets, so an abbreviated handshake whose own client random is not in the
//!   log still decrypts.
//! * [`suites`]: the one table of supported cipher suites.
//!
//! # Contract with the caller (the TLS stream parser)
//!
//! * **Only protected records reach a decryptor**, whole (header parsed by the
//!   caller, `fragment` = the bytes after the 5-byte header), in stream order,
//!   each to the decryptor of the side that sent it.
//!   - TLS 1.2: the records after that side's ChangeCipherSpec. The
//!     ChangeCipherSpec itself, and everything before it (hellos, certificates,
//!     NewSessionTicket, plaintext alerts), is plaintext and is not passed.
//!   - TLS 1.3: every record of type `application_data` (23) after the
//!     ServerHello; that is all TLS 1.3 encrypts. ChangeCipherSpec records
//!     (type 20, middlebox compatibility) are never encrypted: skip them.
//!     Plaintext handshake records (ClientHello, a HelloRetryRequest, the
//!     client's second ClientHello after it, ServerHello) are not passed
//!     either, so HRR changes nothing here: sequence numbers count protected
//!     records only.
//! * **Sequence numbers** are per direction and per epoch, start at 0, and
//!   advance by one per record that decrypts. A record that fails does not
//!   advance them: in TLS 1.3 such a record is most likely 0-RTT data under the
//!   early traffic secret (which we do not use), and the records after it are
//!   still numbered from where we are. A gap in the TCP stream that loses whole
//!   records cannot be recovered from: the caller should stop decrypting that
//!   direction (and report [`Undecryptable::HandshakeNotCaptured`] when the
//!   capture starts after the handshake).
//! * **Epochs (TLS 1.3)**: a direction starts under its handshake traffic
//!   secret when the log has it, else under application traffic secret 0. It
//!   switches to the next epoch after a record containing the sender's
//!   Finished (handshake → application 0) or a KeyUpdate (application n →
//!   n + 1, secret = HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)).
//!   Independently of that parsing, a record that fails under the current key
//!   is tried under the next epoch's key at sequence 0, and if it opens there
//!   the direction switches for good. Only one step ahead is tried, so a run
//!   of bad records costs at most two AEAD passes each, and after
//!   [`MAX_CONSECUTIVE_FAILURES`] failures in a row the direction gives up.
//! * **TLS 1.2** has one epoch per direction (renegotiation, which would start
//!   a second one, is not supported: its records fail as [`DecryptError::AuthFailure`]).
//! * Keys are built once per epoch; [`DirectionDecryptor::decrypt_into`] writes
//!   into a caller buffer and allocates nothing once that buffer has grown. It
//!   reads the fragment and writes the plaintext elsewhere rather than
//!   decrypting in place: the fragment can stay borrowed from the reassembly
//!   buffer (an in-place API would make the caller copy it first), and a
//!   failed attempt leaves the ciphertext intact for the next-epoch trial.
//!   AEAD opens with aws-lc's gather call (one pass, no copy); CBC copies the
//!   ciphertext once into the output and decrypts there.
//! * Key log lines for a connection may arrive after it starts (a pcapng
//!   Decryption Secrets Block later in the file): build the [`Session`] when
//!   the first protected record arrives, not at the ClientHello.

pub mod keylog;
pub mod resume;
pub mod suites;

mod direction;
mod keys;
mod record;
mod session;

#[cfg(test)]
mod tests;

pub use direction::{DirectionDecryptor, Epoch, MAX_CONSECUTIVE_FAILURES};
pub use keylog::{
    KeyLog, KeyLogError, KeyLogWarning, MasterSecret, Secrets, Tls13Secrets, TrafficSecret,
};
pub use resume::SessionCache;
pub use session::{Session, SessionParams, TLS12, TLS13};

/// A decrypted record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plaintext {
    /// The content type: TLS 1.3's inner type (from the end of the plaintext),
    /// or the record header's type for TLS 1.2.
    pub content_type: u8,
    /// The plaintext, without TLS 1.3 padding or the inner type byte.
    pub data: Vec<u8>,
}

/// Why a connection cannot be decrypted: the status the report shows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Undecryptable {
    /// The key log has no secret for this connection's client random.
    #[error("no key for this connection: the key log has no secret for its client random; capture with SSLKEYLOGFILE set for the client that made this connection")]
    NoKey,
    /// The negotiated cipher suite is not one we decrypt.
    #[error("cipher suite {0} is not supported for decryption")]
    UnsupportedCipher(String),
    /// The negotiated version is not TLS 1.2 or 1.3.
    #[error("TLS version 0x{0:04x} is not supported for decryption (only TLS 1.2 and 1.3)")]
    UnsupportedVersion(u16),
    /// The capture does not show the handshake, so the hello randoms or the
    /// suite are unknown (the caller decides this; the module never returns it).
    #[error("the handshake was not captured, so the connection's keys cannot be identified; start the capture before the connection opens")]
    HandshakeNotCaptured,
    /// A record failed authentication: the key does not belong to this
    /// connection (or the log line is corrupt).
    #[error(
        "decryption failed authentication: the key log's secret does not match this connection"
    )]
    AuthFailure,
    /// The log's TLS 1.3 secret has a length that does not fit the suite's hash.
    #[error("the key log's secret is {got} bytes but {suite} needs {expected}: the log line belongs to another connection or is corrupt")]
    SecretLength {
        /// The suite's name.
        suite: &'static str,
        /// The suite's hash length.
        expected: usize,
        /// The secret's length.
        got: usize,
    },
}

/// Why one record did not decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// This direction has no key (none in the log, or the handshake keys ran
    /// out and the log lacks the application secret).
    #[error("no key for this direction")]
    NoKey,
    /// The AEAD tag or the MAC (or MAC-then-encrypt padding) did not check:
    /// wrong key, or a record that is not the next one in sequence.
    #[error("record failed authentication (wrong key or out of sequence)")]
    AuthFailure,
    /// The record cannot be a protected record of this suite.
    #[error("malformed protected record: {0}")]
    Malformed(&'static str),
    /// The direction stopped trying after this many consecutive failures.
    #[error("gave up after {failures} records in a row failed authentication")]
    GaveUp {
        /// Consecutive failures so far.
        failures: u32,
    },
    /// aws-lc refused a derived key (cannot happen with the suite table; kept
    /// so that it is an error, not a panic).
    #[error("internal error: the crypto library refused a derived key")]
    KeySetup,
}

impl DecryptError {
    /// The connection-level status this record error implies, if any:
    /// authentication failures mean the key is wrong.
    pub fn status(&self) -> Option<Undecryptable> {
        match self {
            DecryptError::NoKey => Some(Undecryptable::NoKey),
            DecryptError::AuthFailure | DecryptError::GaveUp { .. } => {
                Some(Undecryptable::AuthFailure)
            }
            DecryptError::Malformed(_) | DecryptError::KeySetup => None,
        }
    }
}
