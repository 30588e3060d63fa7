//! Handshake message bodies → owned facts: ClientHello, ServerHello (and
//! HelloRetryRequest), the TLS ≤ 1.2 Certificate chain, and the names of wire codes.
//!
//! Hello bodies and their extensions are read with a small bounds-checked [`Reader`]
//! rather than tls-parser's hello parsers, which reject a ServerHello whose
//! legacy_version is not 0x0300..=0x0303 and read `supported_versions` by its length
//! alone; cipher-suite names still come from tls-parser's IANA table. GREASE values
//! (RFC 8701) are dropped from every offered list: they are noise by design.

use std::net::{Ipv4Addr, Ipv6Addr};

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Extension codes we read.
mod ext {
    pub const SERVER_NAME: u16 = 0;
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const EC_POINT_FORMATS: u16 = 11;
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    pub const ALPN: u16 = 16;
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    pub const SESSION_TICKET: u16 = 35;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const KEY_SHARE: u16 = 51;
}

/// SHA-256("HelloRetryRequest"): the ServerHello.random that marks a HelloRetryRequest
/// (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// At most this many certificates are kept from one chain.
const MAX_CHAIN: usize = 10;

/// A bounds-checked big-endian reader: every getter returns `None` past the end.
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Reader(b)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2)
            .map(|b| b.iter().fold(0u16, |a, &x| (a << 8) | u16::from(x)))
    }
    pub(crate) fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| b.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x)))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(n)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn u16s(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| c.iter().fold(0u16, |a, &x| (a << 8) | u16::from(x)))
        .filter(|v| !is_grease(*v))
        .collect()
}

/// RFC 8701 GREASE values: 0x?a?a with both bytes equal.
pub(crate) fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// What a ClientHello says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ClientHello {
    pub legacy_version: u16,
    /// The 32-byte random: the key log's index.
    pub random: [u8; 32],
    /// legacy_session_id (TLS ≤ 1.2 resumption by id).
    pub session_id: Vec<u8>,
    /// The session_ticket extension's ticket (TLS ≤ 1.2 resumption by ticket).
    pub ticket: Vec<u8>,
    pub supported_versions: Vec<u16>,
    pub ciphers: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub groups: Vec<u16>,
    pub key_share_groups: Vec<u16>,
    /// Extension types in the order sent, GREASE dropped (JA3, JA4).
    pub extension_types: Vec<u16>,
    /// ec_point_formats (JA3).
    pub point_formats: Vec<u8>,
    /// signature_algorithms in the order sent, GREASE dropped (JA4).
    pub signature_algorithms: Vec<u16>,
    /// The first ALPN protocol as sent (JA4 reads its bytes).
    pub alpn_first: Option<Vec<u8>>,
}

/// What a ServerHello (or HelloRetryRequest) says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ServerHello {
    pub legacy_version: u16,
    /// The 32-byte random.
    pub random: [u8; 32],
    /// legacy_session_id echo.
    pub session_id: Vec<u8>,
    /// encrypt_then_mac (RFC 7366) was accepted.
    pub encrypt_then_mac: bool,
    /// extended_master_secret (RFC 7627) was accepted.
    pub extended_master_secret: bool,
    pub selected_version: Option<u16>,
    pub cipher: u16,
    pub alpn: Option<String>,
    pub hello_retry_request: bool,
    /// Extension types in the order sent, GREASE dropped (JA3S).
    pub extension_types: Vec<u16>,
    /// The key_share group the server chose (TLS 1.3).
    pub key_share_group: Option<u16>,
    /// pre_shared_key accepted: a TLS 1.3 resumption.
    pub pre_shared_key: bool,
}

impl ServerHello {
    /// The negotiated version: supported_versions when present (TLS 1.3), else legacy.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// Extensions as (type, body) pairs; `None` when the block is malformed.
fn extensions(r: &mut Reader<'_>) -> Option<Vec<(u16, Vec<u8>)>> {
    if r.is_empty() {
        return Some(Vec::new());
    }
    let mut block = Reader::new(r.vec16()?);
    let mut out = Vec::new();
    while !block.is_empty() {
        let ty = block.u16()?;
        let body = block.vec16()?;
        out.push((ty, body.to_vec()));
    }
    Some(out)
}

fn alpn_list(body: &[u8]) -> Option<Vec<String>> {
    let mut list = Reader::new(Reader::new(body).vec16()?);
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(String::from_utf8_lossy(list.vec8()?).into_owned());
    }
    Some(out)
}

/// Parses a ClientHello body (after the handshake header); a DTLS one
/// (`dtls`) has a cookie after the session id.
pub(crate) fn client_hello(body: &[u8], dtls: bool) -> Option<ClientHello> {
    let mut r = Reader::new(body);
    let mut ch = ClientHello {
        legacy_version: r.u16()?,
        ..ClientHello::default()
    };
    ch.random = r.take(32)?.try_into().ok()?;
    ch.session_id = r.vec8()?.to_vec();
    if dtls {
        r.vec8()?;
    }
    ch.ciphers = u16s(r.vec16()?);
    r.vec8()?;
    for (ty, b) in extensions(&mut r)? {
        if !is_grease(ty) {
            ch.extension_types.push(ty);
        }
        match ty {
            ext::SERVER_NAME => {
                let mut list = Reader::new(Reader::new(&b).vec16()?);
                while !list.is_empty() {
                    let kind = list.u8()?;
                    let name = list.vec16()?;
                    if kind == 0 && ch.sni.is_none() {
                        ch.sni = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            ext::SUPPORTED_GROUPS => ch.groups = u16s(Reader::new(&b).vec16()?),
            ext::ALPN => {
                ch.alpn = alpn_list(&b)?;
                let mut list = Reader::new(Reader::new(&b).vec16()?);
                ch.alpn_first = (!list.is_empty())
                    .then(|| list.vec8().map(<[u8]>::to_vec))
                    .flatten();
            }
            ext::EC_POINT_FORMATS => ch.point_formats = Reader::new(&b).vec8()?.to_vec(),
            ext::SIGNATURE_ALGORITHMS => {
                ch.signature_algorithms = u16s(Reader::new(&b).vec16()?);
            }
            ext::SESSION_TICKET => ch.ticket = b,
            ext::SUPPORTED_VERSIONS => ch.supported_versions = u16s(Reader::new(&b).vec8()?),
            ext::KEY_SHARE => {
                let mut list = Reader::new(Reader::new(&b).vec16()?);
                while !list.is_empty() {
                    let g = list.u16()?;
                    list.vec16()?;
                    if !is_grease(g) {
                        ch.key_share_groups.push(g);
                    }
                }
            }
            _ => {}
        }
    }
    Some(ch)
}

/// Parses a ServerHello body; a HelloRetryRequest is a ServerHello with a special random.
pub(crate) fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader::new(body);
    let mut sh = ServerHello {
        legacy_version: r.u16()?,
        ..ServerHello::default()
    };
    sh.random = r.take(32)?.try_into().ok()?;
    sh.hello_retry_request = sh.random == HRR_RANDOM;
    sh.session_id = r.vec8()?.to_vec();
    sh.cipher = r.u16()?;
    r.u8()?;
    for (ty, b) in extensions(&mut r)? {
        if !is_grease(ty) {
            sh.extension_types.push(ty);
        }
        match ty {
            ext::SUPPORTED_VERSIONS => sh.selected_version = Reader::new(&b).u16(),
            // A HelloRetryRequest's key_share is the group alone; a
            // ServerHello's starts with it.
            ext::KEY_SHARE => sh.key_share_group = Reader::new(&b).u16(),
            ext::PRE_SHARED_KEY => sh.pre_shared_key = true,
            ext::ALPN => sh.alpn = alpn_list(&b)?.into_iter().next(),
            ext::ENCRYPT_THEN_MAC => sh.encrypt_then_mac = true,
            ext::EXTENDED_MASTER_SECRET => sh.extended_master_secret = true,
            _ => {}
        }
    }
    Some(sh)
}

/// One certificate of a chain, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cert {
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    pub sans: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub self_signed: bool,
    /// SHA-256 of the DER bytes (Zeek's `fingerprint`).
    pub fingerprint: [u8; 32],
    /// SHA-1 of the DER bytes (what Suricata and many tools print).
    pub sha1: [u8; 20],
    /// The X.509 version (1 to 3).
    pub version: u32,
    /// The serial number, upper-case hex as Zeek logs it.
    pub serial: String,
}

/// Parses a TLS ≤ 1.2 Certificate body (a u24 list of u24 DER entries). Entries
/// that are not X.509 are skipped; `None` when the framing itself is broken.
pub(crate) fn certificate_chain(body: &[u8]) -> Option<Vec<Cert>> {
    let mut list = Reader::new(Reader::new(body).vec24()?);
    let mut out = Vec::new();
    while !list.is_empty() && out.len() < MAX_CHAIN {
        let der = list.vec24()?;
        if let Some(c) = cert(der) {
            out.push(c);
        }
    }
    Some(out)
}

/// Parses a TLS 1.3 Certificate body (RFC 8446 §4.4.2): a request context,
/// then a u24 list of entries, each a u24 DER certificate and u16 extensions.
pub(crate) fn certificate_chain_tls13(body: &[u8]) -> Option<Vec<Cert>> {
    let mut r = Reader::new(body);
    r.vec8()?;
    let mut list = Reader::new(r.vec24()?);
    let mut out = Vec::new();
    while !list.is_empty() && out.len() < MAX_CHAIN {
        let der = list.vec24()?;
        list.vec16()?;
        if let Some(c) = cert(der) {
            out.push(c);
        }
    }
    Some(out)
}

/// The ticket of a TLS ≤ 1.2 NewSessionTicket body (lifetime hint, then the
/// ticket).
pub(crate) fn new_session_ticket(body: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::new(body);
    r.take(4)?;
    Some(r.vec16()?.to_vec())
}

pub(crate) fn cert(der: &[u8]) -> Option<Cert> {
    let (_, x) = X509Certificate::from_der(der).ok()?;
    let mut sans = Vec::new();
    if let Ok(Some(san)) = x.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => sans.push((*d).to_string()),
                GeneralName::IPAddress(ip) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*ip) {
                        sans.push(Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*ip) {
                        sans.push(Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let subject = x.subject().to_string();
    let issuer = x.issuer().to_string();
    let common_name = x
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let mut fingerprint = [0u8; 32];
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    fingerprint.copy_from_slice(digest.as_ref());
    let mut sha1 = [0u8; 20];
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    sha1.copy_from_slice(digest.as_ref());
    let serial = x.raw_serial().iter().map(|b| format!("{b:02X}")).collect();
    Some(Cert {
        fingerprint,
        sha1,
        version: x.version().0.saturating_add(1),
        serial,
        common_name,
        self_signed: subject == issuer,
        subject,
        issuer,
        sans,
        not_before: x.validity().not_before.timestamp(),
        not_after: x.validity().not_after.timestamp(),
    })
}

/// `"TLS 1.2"`, `"SSL 3.0"`, `"DTLS 1.2"`, or the code as `0x7f17`.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        0xfeff => "DTLS 1.0".into(),
        0xfefd => "DTLS 1.2".into(),
        0xfefc => "DTLS 1.3".into(),
        _ => format!("0x{v:04x}"),
    }
}

/// The IANA cipher-suite name from tls-parser's table, or the code as `0x1234`.
pub fn cipher_name(id: u16) -> String {
    match tls_parser::TlsCipherSuite::from_id(id) {
        Some(c) => c.name.to_string(),
        None => format!("0x{id:04x}"),
    }
}

/// The IANA supported-group name, or the code as `0x1234`.
pub fn group_name(g: u16) -> String {
    let name = match g {
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        29 => "x25519",
        30 => "x448",
        256 => "ffdhe2048",
        257 => "ffdhe3072",
        258 => "ffdhe4096",
        259 => "ffdhe6144",
        260 => "ffdhe8192",
        0x11ec => "X25519MLKEM768",
        0x11eb => "SecP256r1MLKEM768",
        0x11ed => "SecP384r1MLKEM1024",
        0x6399 => "X25519Kyber768Draft00",
        _ => return format!("0x{g:04x}"),
    };
    name.to_string()
}

/// The RFC 8446 / IANA name of an alert description, or `unknown`.
pub fn alert_name(code: u8) -> &'static str {
    match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => "unknown",
    }
}
