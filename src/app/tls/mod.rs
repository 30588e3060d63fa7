//! TLS on any TCP port, recognised by content ([`looks_like_tls`]), tracked per
//! connection by a [`TlsConn`] that turns both directions' bytes into one
//! [`TlsRecord`]: the hellos, the TLS ≤ 1.2 certificate chain, plaintext alerts,
//! and when (and whether) the handshake completed.
//!
//! Layers: each direction's in-order bytes are cut into records (a record longer
//! than [`MAX_RECORD`] is not TLS: that direction stops, with a note); plaintext
//! handshake records are concatenated and cut into handshake messages (one longer
//! than [`MAX_HANDSHAKE`] stops handshake parsing in that direction); messages are
//! decoded in `parse`. A gap stops a direction: record boundaries are lost.
//!
//! What is visible without keys, and the rules used:
//! * A record is *protected* when it is ApplicationData, an alert whose length is
//!   not 2, or a handshake/heartbeat record after its sender's ChangeCipherSpec
//!   (TLS ≤ 1.2) or after a TLS 1.3 ServerHello.
//! * TLS ≤ 1.2 completion: both sides' ChangeCipherSpec followed by a protected
//!   handshake record (their Finished); complete at the later of the two Finished.
//! * TLS 1.3 completion: the client's first ApplicationData record after the
//!   ServerHello (its Finished, or its Certificate when the server asked for one),
//!   once it is either followed by another record from the client or a later one
//!   from the server, or is at least [`MIN_TLS13_FINISHED`] bytes long (too long
//!   for an alert, which is 19 bytes unpadded).
//!   Not complete after all when the server answers that flight with one
//!   alert-sized record within [`TLS13_REJECT_WINDOW_NS`] (not in answer to the
//!   client's close or close_notify) and closes right after it: it
//!   rejected the client's flight (in practice its certificate, or the lack of
//!   one); `server_rejected_client_flight` says so.
//! * Before completion, a side that closes (FIN or RST) right after a protected
//!   record most likely sent an encrypted alert: recorded as
//!   `encrypted_alert_suspected`; its content is not known without keys.
//! * `unanswered_ms`: the server sent no byte at all after the ClientHello;
//!   `client_gave_up_ms` when, in that case, the client closed (FIN or RST)
//!   before the server did: the client's own handshake time-out.
//! * TLS ≤ 1.2 client authentication is visible: the server's CertificateRequest
//!   and the client's Certificate (an empty one when the client has none).
//!
//! Timing: a record (and the messages in it) is attributed to the frame and
//! time that delivered its last byte, as Wireshark does for reassembled PDUs.

mod conn;
mod decrypting;
mod dtls;
pub(crate) mod fingerprint;
mod history;
mod parse;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_dtls;
#[cfg(test)]
mod tests_live;

use serde::Serialize;

pub use decrypting::{Decrypted, DecryptionInfo, TlsKeys};
pub use dtls::looks_like_dtls;
pub use parse::{alert_name, cipher_name, group_name, version_name};

use super::{Endpoints, Origin};
use crate::base::Side;
use crate::base::Timestamp;
use crate::flow::reassembly::StreamEnd;

/// The largest record accepted: 2^14 bytes of plaintext plus 2048 of expansion
/// (RFC 5246 §6.2.3). A longer length field means the bytes are not TLS.
pub const MAX_RECORD: usize = 16_384 + 2_048;
/// The largest handshake message reassembled (a long certificate chain fits).
pub const MAX_HANDSHAKE: usize = 64 * 1024;
/// A TLS 1.3 protected record this long is not an alert (2 bytes + type + 16-byte tag).
pub const MIN_TLS13_FINISHED: usize = 53;
/// A TLS 1.3 server that answers the client's Finished flight within this long
/// (ns) with one alert-sized record and then closes first rejected that flight
/// (seen live: OpenSSL's encrypted certificate_required when the client had no
/// certificate). An idle close (close_notify) comes much later.
pub const TLS13_REJECT_WINDOW_NS: i64 = 1_000_000_000;
const MAX_ALERTS: usize = 16;
const MAX_NOTES: usize = 8;
const HEADER: usize = 5;

/// True when a client's first bytes look like the start of a TLS handshake: a
/// handshake record header (0x16, 0x03, 0x00..=0x04) with a plausible length and,
/// when present, the ClientHello message type.
pub fn looks_like_tls(client_first_bytes: &[u8]) -> bool {
    let b = client_first_bytes;
    let at = |i: usize| b.get(i).copied();
    if at(0) != Some(0x16) || at(1).is_some_and(|v| v != 0x03) || at(2).is_some_and(|v| v > 4) {
        return false;
    }
    if let (Some(hi), Some(lo)) = (at(3), at(4)) {
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if !(4..=MAX_RECORD).contains(&len) {
            return false;
        }
    }
    at(5).is_none_or(|t| t == 1)
}

fn ser_ts<S: serde::Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::base::rfc3339(*ts))
}

fn ser_side<S: serde::Serializer>(side: &Side, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(side.as_str())
}

fn ser_opt_side<S: serde::Serializer>(side: &Option<Side>, s: S) -> Result<S::Ok, S::Error> {
    match side {
        Some(side) => s.serialize_str(side.as_str()),
        None => s.serialize_none(),
    }
}

fn ms(nanos: i64) -> f64 {
    nanos as f64 / 1e6
}

/// One TLS connection's handshake as seen on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TlsRecord {
    /// Connection id (as in connection records).
    pub conn: u64,
    /// Client endpoint.
    pub client: std::net::SocketAddr,
    /// Server endpoint.
    pub server: std::net::SocketAddr,
    /// Server name the client asked for (from the ClientHello), lossy UTF-8.
    pub sni: Option<String>,
    /// The session was resumed: the server echoed the client's session id
    /// or accepted its ticket (TLS ≤ 1.2: no certificate followed), or
    /// accepted a pre-shared key (TLS 1.3).
    pub resumed: bool,
    /// The key exchange group: the server's key share (TLS 1.3) or its
    /// ServerKeyExchange named curve (TLS ≤ 1.2 ECDHE).
    pub curve: Option<String>,
    /// The (first) ClientHello.
    pub client_hello: ClientHelloInfo,
    /// The ServerHello, or the HelloRetryRequest when no ServerHello followed it.
    pub server_hello: Option<ServerHelloInfo>,
    /// The server's certificate chain, leaf first (visible in TLS ≤ 1.2 only).
    pub certificates: Vec<CertInfo>,
    /// Plaintext alerts in stream order (at most 16).
    pub alerts: Vec<AlertInfo>,
    /// Frame of a protected record that most likely was an alert (see module doc).
    pub encrypted_alert_suspected: Option<u64>,
    /// Who sent that record.
    #[serde(serialize_with = "ser_opt_side")]
    pub encrypted_alert_from: Option<Side>,
    /// TLS 1.3: the suspected encrypted alert is the server's answer to the
    /// client's Finished flight (see module doc).
    pub server_rejected_client_flight: bool,
    /// When and where the handshake completed.
    pub established: Option<Established>,
    /// Negotiated version, e.g. `TLS 1.3`.
    pub version: Option<String>,
    /// Negotiated cipher suite.
    pub cipher: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// ClientHello to the connection's end, when the server sent no byte at all.
    pub unanswered_ms: Option<f64>,
    /// ClientHello to the client's FIN or RST, when the server sent no byte at
    /// all and the client closed first: it gave up waiting.
    pub client_gave_up_ms: Option<f64>,
    /// Frame of the server's CertificateRequest (TLS ≤ 1.2; encrypted in 1.3).
    pub client_cert_requested: Option<u64>,
    /// Certificates in the client's Certificate message (TLS ≤ 1.2): 0 when the
    /// client had none to send, `None` when it sent no such message.
    pub client_certificates: Option<usize>,
    /// The client's certificate chain, leaf first (mutual TLS: TLS ≤ 1.2, or
    /// 1.3 decrypted).
    pub client_cert_chain: Vec<CertInfo>,
    /// Subject DN of the client's leaf certificate.
    pub client_subject: Option<String>,
    /// Issuer DN of the client's leaf certificate.
    pub client_issuer: Option<String>,
    /// Zeek's `ssl_history`: a letter per plaintext handshake message and
    /// record type, upper-case from the client (see `history`).
    pub ssl_history: String,
    /// The application protocol this connection upgraded from by STARTTLS
    /// (`smtp`, `imap`, ...), `None` when TLS started the connection.
    pub starttls: Option<&'static str>,
    /// With a key log: whether this connection was decrypted, or why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<DecryptionInfo>,
    /// Why parsing stopped or what was odd (gap, not TLS, oversize ...).
    pub notes: Vec<String>,
}

/// Bytes as lower-case hex.
fn ser_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    use std::fmt::Write;
    let hex = bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut h, b| {
            let _ = write!(h, "{b:02x}");
            h
        });
    s.serialize_str(&hex)
}

/// Resumption as the hellos tell it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Resumption {
    /// The ClientHello's legacy_session_id.
    offered_id: Vec<u8>,
    /// The ClientHello carried a session ticket.
    offered_ticket: bool,
    /// The ServerHello echoed a non-empty offered session id.
    id_echoed: bool,
    /// The ServerHello accepted a pre-shared key.
    psk: bool,
    /// A ServerKeyExchange came (a full TLS ≤ 1.2 handshake).
    key_exchange: bool,
}

/// What the client offered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientHelloInfo {
    /// Frame that completed the ClientHello.
    pub frame: u64,
    /// Its time.
    #[serde(serialize_with = "ser_ts")]
    pub time: Timestamp,
    /// The legacy_version field.
    pub legacy_version: String,
    /// `supported_versions`, or legacy_version alone (meaning "up to") without it.
    pub offered_versions: Vec<String>,
    /// Cipher suites in the client's order.
    pub cipher_suites: Vec<String>,
    /// ALPN protocols offered.
    pub alpn: Vec<String>,
    /// Supported groups.
    pub groups: Vec<String>,
    /// Groups the client sent key shares for.
    pub key_share_groups: Vec<String>,
    /// True when the client offered nothing newer than TLS 1.2.
    pub legacy_only: bool,
    /// JA3 (MD5 hex) of this ClientHello: which TLS library sent it.
    pub ja3: String,
    /// The text JA3 hashes: `version,ciphers,extensions,groups,point_formats`.
    pub ja3_string: String,
    /// JA4 (`t13d1516h2_8daaf6152771_e5627efa2ab1`).
    pub ja4: String,
    /// JA4 before hashing (JA4_r: the sorted code lists).
    pub ja4_r: String,
    /// Offered version codes (as `offered_versions`).
    #[serde(skip)]
    pub version_codes: Vec<u16>,
    /// Whether `supported_versions` was present.
    #[serde(skip)]
    pub has_supported_versions: bool,
}

impl ClientHelloInfo {
    /// Whether the client offered `version`: listed in `supported_versions`, or
    /// at most legacy_version without that extension.
    pub fn offers(&self, version: u16) -> bool {
        if self.has_supported_versions {
            self.version_codes.contains(&version)
        } else {
            self.version_codes
                .iter()
                .any(|&v| (0x0300..=v).contains(&version))
        }
    }
}

/// What the server chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerHelloInfo {
    /// Frame that completed the ServerHello.
    pub frame: u64,
    /// Its time.
    #[serde(serialize_with = "ser_ts")]
    pub time: Timestamp,
    /// Chosen version (supported_versions for TLS 1.3).
    pub version: String,
    /// Chosen cipher suite.
    pub cipher: String,
    /// Chosen ALPN protocol.
    pub alpn: Option<String>,
    /// A HelloRetryRequest was sent (this is it when no ServerHello followed).
    pub hello_retry_request: bool,
    /// JA3S (MD5 hex) of this ServerHello.
    pub ja3s: String,
    /// The text JA3S hashes: `version,cipher,extensions`.
    pub ja3s_string: String,
    /// Chosen version code.
    #[serde(skip)]
    pub version_code: u16,
    /// False while this is the HelloRetryRequest itself (nothing negotiated yet).
    #[serde(skip)]
    pub real: bool,
}

/// One certificate of the server's chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertInfo {
    /// Frame that completed the Certificate message.
    pub frame: u64,
    /// Time of that frame.
    #[serde(skip)]
    pub time: Timestamp,
    /// SHA-256 of the certificate's DER bytes (Zeek's x509 `fingerprint`),
    /// lower-case hex in JSON.
    #[serde(rename = "sha256", serialize_with = "ser_hex")]
    pub fingerprint: [u8; 32],
    /// SHA-1 of the DER bytes, lower-case hex in JSON.
    #[serde(serialize_with = "ser_hex")]
    pub sha1: [u8; 20],
    /// The X.509 version (1 to 3).
    #[serde(skip)]
    pub version: u32,
    /// The serial number, upper-case hex.
    pub serial: String,
    /// Subject DN (RFC 4514 text).
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Subject common name, if any.
    pub common_name: Option<String>,
    /// DNS and IP subject alternative names.
    pub sans: Vec<String>,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// Subject equals issuer.
    pub self_signed: bool,
    /// Start of validity, Unix seconds.
    #[serde(skip)]
    pub not_before_unix: i64,
    /// End of validity, Unix seconds.
    #[serde(skip)]
    pub not_after_unix: i64,
}

/// A plaintext alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertInfo {
    /// Who sent it.
    #[serde(serialize_with = "ser_side")]
    pub from: Side,
    /// `warning`, `fatal`, or the code as `0x03`.
    pub level: String,
    /// Description name, e.g. `protocol_version`.
    pub description: &'static str,
    /// Description code, e.g. 70.
    pub code: u8,
    /// Frame that carried it.
    pub frame: u64,
    /// Its time.
    #[serde(serialize_with = "ser_ts")]
    pub time: Timestamp,
}

impl AlertInfo {
    /// True for a fatal alert (level 2).
    pub fn is_fatal(&self) -> bool {
        self.level == "fatal"
    }
}

/// Handshake completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Established {
    /// The record that completed it.
    pub frame: u64,
    /// Its time.
    #[serde(serialize_with = "ser_ts")]
    pub time: Timestamp,
    /// ClientHello to completion, milliseconds.
    pub handshake_ms: f64,
}

/// A frame and its time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mark {
    frame: u64,
    ts: Timestamp,
}

/// One direction's parsing state.
#[derive(Debug, Default)]
struct Dir {
    next: Option<u64>,
    buf: Vec<u8>,
    stopped: bool,
    hs: Vec<u8>,
    hs_stopped: bool,
    bytes: u64,
    records: u64,
    ccs: bool,
    protected: bool,
    finished: Option<Mark>,
    last: Option<(bool, Mark)>,
    closed_after_protected: Option<Mark>,
    end: Option<Timestamp>,
    /// When this side closed by FIN or RST (not when the capture ran out).
    closed: Option<Timestamp>,
}

/// TLS state of one TCP connection, fed both directions' in-order bytes.
#[derive(Debug)]
pub struct TlsConn {
    ep: Endpoints,
    client: Dir,
    server: Dir,
    hello: Option<ClientHelloInfo>,
    sni: Option<String>,
    server_hello: Option<ServerHelloInfo>,
    hrr: bool,
    tls13: bool,
    certificates: Vec<CertInfo>,
    cert_request: Option<u64>,
    client_certificates: Option<usize>,
    /// The client's chain (mutual TLS).
    client_chain: Vec<CertInfo>,
    /// Zeek's `ssl_history` so far.
    history: history::History,
    /// Upgraded by STARTTLS inside this protocol.
    starttls: Option<&'static str>,
    /// DTLS handshake reassembly; `None` for TLS over TCP.
    dtls: Option<Box<dtls::Reassembly>>,
    /// What resumption the client offered and the server accepted.
    resumption: Resumption,
    /// The key exchange group, when seen.
    curve: Option<u16>,
    alerts: Vec<AlertInfo>,
    encrypted_alert: Option<(Side, Mark)>,
    client_first_protected: Option<(Mark, usize)>,
    client_protected_followed: bool,
    /// TLS 1.3: the client's latest protected record after its first one (its
    /// length), to tell a close_notify the server may be answering.
    client_later_protected: Option<usize>,
    /// TLS 1.3: the server's protected records after the client's first one: how
    /// many, and the first's mark, length, and whether the client's latest record
    /// before it was alert-sized (a close_notify: the reply answers a close).
    server_after_client: (u32, Option<(Mark, usize, bool)>),
    notes: Vec<String>,
    /// Decryption from a key log, when one was given.
    dec: decrypting::DecryptState,
}

impl CertInfo {
    /// Summarises one DER-encoded certificate (the probe's view of a chain it
    /// was sent); `None` when the bytes are not an X.509 certificate.
    pub fn from_der(der: &[u8]) -> Option<CertInfo> {
        parse::cert(der).map(|c| conn::cert_info(c, 0, Timestamp(0)))
    }
}
