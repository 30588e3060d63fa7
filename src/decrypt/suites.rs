//! The cipher suites we decrypt, in one table: code point, IANA name, protocol
//! version, bulk cipher, MAC, PRF hash, and the key block lengths that follow
//! from them. Anything not listed is [`Undecryptable::UnsupportedCipher`](super::Undecryptable)
//! with its IANA name when `tls-parser`'s registry knows it.

/// The bulk cipher of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bulk {
    /// AES-128 in GCM mode (AEAD).
    Aes128Gcm,
    /// AES-256 in GCM mode (AEAD).
    Aes256Gcm,
    /// ChaCha20-Poly1305 (AEAD, RFC 7905 / RFC 8446).
    Chacha20Poly1305,
    /// AES-128 in CBC mode with a separate HMAC (TLS ≤ 1.2).
    Aes128Cbc,
    /// AES-256 in CBC mode with a separate HMAC (TLS ≤ 1.2).
    Aes256Cbc,
}

impl Bulk {
    /// Encryption key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes128Cbc => 16,
            Bulk::Aes256Gcm | Bulk::Aes256Cbc | Bulk::Chacha20Poly1305 => 32,
        }
    }

    /// True for the AEAD ciphers.
    pub const fn is_aead(self) -> bool {
        matches!(
            self,
            Bulk::Aes128Gcm | Bulk::Aes256Gcm | Bulk::Chacha20Poly1305
        )
    }
}

/// A hash function, as a suite's PRF / HKDF hash or its record MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hash {
    /// SHA-1 (record MAC of the `*_SHA` CBC suites only).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl Hash {
    /// Output length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// The TLS version family a suite belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Family {
    /// TLS 1.2 suites (key exchange named in the suite; PRF key expansion).
    Tls12,
    /// TLS 1.3 suites (AEAD + HKDF hash only).
    Tls13,
}

/// One supported cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    /// IANA code point.
    pub id: u16,
    /// IANA name.
    pub name: &'static str,
    /// TLS 1.2 or TLS 1.3.
    pub family: Family,
    /// Bulk cipher.
    pub bulk: Bulk,
    /// Record MAC hash for CBC suites; `None` for AEAD suites.
    pub mac: Option<Hash>,
    /// PRF hash (TLS 1.2) or HKDF hash (TLS 1.3).
    pub prf: Hash,
}

impl Suite {
    /// Encryption key length.
    pub const fn key_len(&self) -> usize {
        self.bulk.key_len()
    }

    /// The implicit IV from the key block (TLS 1.2) or HKDF (TLS 1.3): the
    /// 4-byte GCM salt of TLS 1.2, the 12-byte IV of ChaCha20 and of TLS 1.3, and
    /// nothing for CBC (TLS 1.1+ sends the IV with each record).
    pub const fn fixed_iv_len(&self) -> usize {
        match (self.family, self.bulk) {
            (Family::Tls13, _) | (_, Bulk::Chacha20Poly1305) => 12,
            (Family::Tls12, Bulk::Aes128Gcm | Bulk::Aes256Gcm) => 4,
            (Family::Tls12, Bulk::Aes128Cbc | Bulk::Aes256Cbc) => 0,
        }
    }

    /// Record MAC key (and tag) length; 0 for AEAD suites.
    pub const fn mac_len(&self) -> usize {
        match self.mac {
            Some(h) => h.output_len(),
            None => 0,
        }
    }
}

const fn s12(id: u16, name: &'static str, bulk: Bulk, mac: Option<Hash>, prf: Hash) -> Suite {
    Suite {
        id,
        name,
        family: Family::Tls12,
        bulk,
        mac,
        prf,
    }
}

use Bulk::*;
use Hash::*;

/// Every suite we decrypt.
pub static SUITES: &[Suite] = &[
    // TLS 1.3 (RFC 8446 §B.4).
    Suite {
        id: 0x1301,
        name: "TLS_AES_128_GCM_SHA256",
        family: Family::Tls13,
        bulk: Aes128Gcm,
        mac: None,
        prf: Sha256,
    },
    Suite {
        id: 0x1302,
        name: "TLS_AES_256_GCM_SHA384",
        family: Family::Tls13,
        bulk: Aes256Gcm,
        mac: None,
        prf: Sha384,
    },
    Suite {
        id: 0x1303,
        name: "TLS_CHACHA20_POLY1305_SHA256",
        family: Family::Tls13,
        bulk: Chacha20Poly1305,
        mac: None,
        prf: Sha256,
    },
    // TLS 1.2 AES-GCM (RFC 5288, RFC 5289).
    s12(
        0x009C,
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        Aes128Gcm,
        None,
        Sha256,
    ),
    s12(
        0x009D,
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        Aes256Gcm,
        None,
        Sha384,
    ),
    s12(
        0x009E,
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        Aes128Gcm,
        None,
        Sha256,
    ),
    s12(
        0x009F,
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        Aes256Gcm,
        None,
        Sha384,
    ),
    s12(
        0xC02B,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Aes128Gcm,
        None,
        Sha256,
    ),
    s12(
        0xC02C,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        Aes256Gcm,
        None,
        Sha384,
    ),
    s12(
        0xC02F,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        Aes128Gcm,
        None,
        Sha256,
    ),
    s12(
        0xC030,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        Aes256Gcm,
        None,
        Sha384,
    ),
    // TLS 1.2 ChaCha20-Poly1305 (RFC 7905).
    s12(
        0xCCA8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Chacha20Poly1305,
        None,
        Sha256,
    ),
    s12(
        0xCCA9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        Chacha20Poly1305,
        None,
        Sha256,
    ),
    s12(
        0xCCAA,
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Chacha20Poly1305,
        None,
        Sha256,
    ),
    // TLS 1.2 AES-CBC + HMAC (RFC 5246, RFC 5289). The `_SHA` suites use the
    // SHA-256 PRF in TLS 1.2; only `_SHA384` suites change the PRF.
    s12(
        0x002F,
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        Aes128Cbc,
        Some(Sha1),
        Sha256,
    ),
    s12(
        0x0035,
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        Aes256Cbc,
        Some(Sha1),
        Sha256,
    ),
    s12(
        0x003C,
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        Aes128Cbc,
        Some(Sha256),
        Sha256,
    ),
    s12(
        0x003D,
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        Aes256Cbc,
        Some(Sha256),
        Sha256,
    ),
    s12(
        0x0033,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        Aes128Cbc,
        Some(Sha1),
        Sha256,
    ),
    s12(
        0x0039,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        Aes256Cbc,
        Some(Sha1),
        Sha256,
    ),
    s12(
        0x0067,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        Aes128Cbc,
        Some(Sha256),
        Sha256,
    ),
    s12(
        0x006B,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        Aes256Cbc,
        Some(Sha256),
        Sha256,
    ),
    s12(
        0xC009,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        Aes128Cbc,
        Some(Sha1),
        Sha256,
    ),
    s12(
        0xC00A,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        Aes256Cbc,
        Some(Sha1),
        Sha256,
    ),
    s12(
        0xC013,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        Aes128Cbc,
        Some(Sha1),
        Sha256,
    ),
    s12(
        0xC014,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        Aes256Cbc,
        Some(Sha1),
        Sha256,
    ),
    s12(
        0xC023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        Aes128Cbc,
        Some(Sha256),
        Sha256,
    ),
    s12(
        0xC024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        Aes256Cbc,
        Some(Sha384),
        Sha384,
    ),
    s12(
        0xC027,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        Aes128Cbc,
        Some(Sha256),
        Sha256,
    ),
    s12(
        0xC028,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        Aes256Cbc,
        Some(Sha384),
        Sha384,
    ),
];

/// The supported suite with this code point.
pub fn lookup(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

/// The IANA name of any suite code point, supported or not; `0x....` when the
/// registry does not know it.
pub fn name(id: u16) -> String {
    if let Some(s) = lookup(id) {
        return s.name.to_string();
    }
    match tls_parser::TlsCipherSuite::from_id(id) {
        Some(s) => s.name.to_string(),
        None => format!("0x{id:04X}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, s) in SUITES.iter().enumerate() {
            assert!(
                SUITES[..i].iter().all(|o| o.id != s.id),
                "duplicate {:#06x}",
                s.id
            );
            assert_eq!(s.bulk.is_aead(), s.mac.is_none(), "{}", s.name);
            assert_eq!(s.family == Family::Tls13, s.id >> 8 == 0x13, "{}", s.name);
            // The name says the key length and the hash.
            let bits = if s.key_len() == 16 { "128" } else { "256" };
            assert!(
                s.name.contains(bits) || s.name.contains("CHACHA20"),
                "{}",
                s.name
            );
            assert_eq!(s.name.ends_with("SHA384"), s.prf == Sha384, "{}", s.name);
            let mac = match s.mac {
                Some(Sha1) => "_SHA",
                Some(Sha256) => "_SHA256",
                Some(Sha384) => "_SHA384",
                None => "_",
            };
            assert!(s.name.ends_with(mac) || s.mac.is_none(), "{}", s.name);
            // Our names agree with tls-parser's registry where it knows them.
            if let Some(t) = tls_parser::TlsCipherSuite::from_id(s.id) {
                assert_eq!(t.name, s.name);
            }
        }
    }

    #[test]
    fn lengths() {
        let gcm = lookup(0xC02F).unwrap();
        assert_eq!(
            (gcm.key_len(), gcm.fixed_iv_len(), gcm.mac_len()),
            (16, 4, 0)
        );
        let cc = lookup(0xCCA8).unwrap();
        assert_eq!((cc.key_len(), cc.fixed_iv_len(), cc.mac_len()), (32, 12, 0));
        let cbc = lookup(0xC028).unwrap();
        assert_eq!(
            (cbc.key_len(), cbc.fixed_iv_len(), cbc.mac_len()),
            (32, 0, 48)
        );
        let t13 = lookup(0x1302).unwrap();
        assert_eq!(
            (t13.key_len(), t13.fixed_iv_len(), t13.prf),
            (32, 12, Sha384)
        );
    }

    #[test]
    fn names_of_unsupported_suites() {
        assert_eq!(name(0x000A), "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
        assert_eq!(name(0xFAFA), "0xFAFA");
    }
}
