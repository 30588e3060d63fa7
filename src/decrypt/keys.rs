//! Key derivation: TLS 1.3 `HKDF-Expand-Label` (RFC 8446 §7.1) from a traffic
//! secret, and the TLS 1.2 key block (RFC 5246 §6.3) from a master secret.

use aws_lc_rs::hkdf::{self, KeyType, Prk};
use aws_lc_rs::tls_prf;

use super::keylog::{MasterSecret, TrafficSecret};
use super::record::{AeadOpener, CbcOpener};
use super::suites::{Hash, Suite};
use super::DecryptError;

/// The longest output we expand: a 48-byte secret.
const MAX_OUT: usize = 48;

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf_alg(hash: Hash) -> hkdf::Algorithm {
    match hash {
        Hash::Sha384 => hkdf::HKDF_SHA384,
        // TLS 1.3 has no SHA-1 suite; the table never pairs them.
        Hash::Sha256 | Hash::Sha1 => hkdf::HKDF_SHA256,
    }
}

/// `HKDF-Expand-Label(secret, label, "", len)` with the `"tls13 "` prefix.
/// `label` is at most 12 bytes here ("traffic upd"), so the info fits a stack buffer.
pub(crate) fn expand_label(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    out: &mut [u8],
) -> Result<(), DecryptError> {
    if out.len() > MAX_OUT || label.len() > 32 {
        return Err(DecryptError::KeySetup);
    }
    let len = (out.len() as u16).to_be_bytes();
    let full_label_len = [(6 + label.len()) as u8];
    let context_len = [0u8];
    let info: [&[u8]; 5] = [&len, &full_label_len, b"tls13 ", label, &context_len];
    let prk = Prk::new_less_safe(hkdf_alg(hash), secret);
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| DecryptError::KeySetup)
}

/// The record key for a TLS 1.3 traffic secret: `key` and `iv` (RFC 8446 §7.3).
pub(crate) fn tls13_opener(
    suite: &Suite,
    secret: &TrafficSecret,
) -> Result<AeadOpener, DecryptError> {
    let mut key = [0u8; 32];
    let mut iv = [0u8; 12];
    let key = key
        .get_mut(..suite.key_len())
        .ok_or(DecryptError::KeySetup)?;
    expand_label(suite.prf, secret.as_bytes(), b"key", key)?;
    expand_label(suite.prf, secret.as_bytes(), b"iv", &mut iv)?;
    AeadOpener::tls13(suite.bulk, key, &iv)
}

/// The next generation's traffic secret after a KeyUpdate (RFC 8446 §7.2).
pub(crate) fn next_traffic_secret(
    suite: &Suite,
    secret: &TrafficSecret,
) -> Result<TrafficSecret, DecryptError> {
    let mut out = [0u8; MAX_OUT];
    let out = out
        .get_mut(..suite.prf.output_len())
        .ok_or(DecryptError::KeySetup)?;
    expand_label(suite.prf, secret.as_bytes(), b"traffic upd", out)?;
    TrafficSecret::new(out).ok_or(DecryptError::KeySetup)
}

/// One direction's record key from a TLS 1.2 key block.
// The variants differ in size; there is one per direction, boxed by its owner.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Tls12Opener {
    /// GCM or ChaCha20-Poly1305.
    Aead(AeadOpener),
    /// AES-CBC with HMAC.
    Cbc(CbcOpener),
}

/// Both directions' TLS 1.2 record keys, from the master secret by
/// `PRF(master, "key expansion", server_random + client_random)` (RFC 5246 §6.3).
///
/// Extended master secret (RFC 7627) changes only how the master secret itself
/// is derived; the key log hands us the master secret, so nothing differs here.
pub(crate) fn tls12_openers(
    suite: &Suite,
    master: &MasterSecret,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    encrypt_then_mac: bool,
) -> Result<(Tls12Opener, Tls12Opener), DecryptError> {
    let (mac, key, iv) = (suite.mac_len(), suite.key_len(), suite.fixed_iv_len());
    let total = 2 * (mac + key + iv);
    let prf = match suite.prf {
        Hash::Sha384 => &tls_prf::P_SHA384,
        Hash::Sha256 | Hash::Sha1 => &tls_prf::P_SHA256,
    };
    let block = tls_prf::Secret::new(prf, &master.0)
        .and_then(|s| {
            s.derive_with_seed_concatination(b"key expansion", server_random, client_random, total)
        })
        .map_err(|_| DecryptError::KeySetup)?;
    let block = block.as_ref();
    // client_write_MAC_key, server_write_MAC_key, client_write_key,
    // server_write_key, client_write_IV, server_write_IV.
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], DecryptError> {
        let s = block.get(at..at + n).ok_or(DecryptError::KeySetup)?;
        at += n;
        Ok(s)
    };
    let (c_mac, s_mac) = (take(mac)?, take(mac)?);
    let (c_key, s_key) = (take(key)?, take(key)?);
    let (c_iv, s_iv) = (take(iv)?, take(iv)?);
    let make = |k: &[u8], i: &[u8], m: &[u8]| -> Result<Tls12Opener, DecryptError> {
        match suite.mac {
            None => AeadOpener::tls12(suite.bulk, k, i).map(Tls12Opener::Aead),
            Some(h) => CbcOpener::new(suite.bulk, k, h, m, encrypt_then_mac).map(Tls12Opener::Cbc),
        }
    };
    Ok((make(c_key, c_iv, c_mac)?, make(s_key, s_iv, s_mac)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decrypt::keylog::decode_hex;

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        decode_hex(s, &mut out).unwrap();
        out
    }

    /// RFC 8448 §3: server handshake traffic secret → write key and IV.
    #[test]
    fn expand_label_rfc8448_server_handshake() {
        let secret: [u8; 32] =
            hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        expand_label(Hash::Sha256, &secret, b"key", &mut key).unwrap();
        expand_label(Hash::Sha256, &secret, b"iv", &mut iv).unwrap();
        assert_eq!(key, hex::<16>("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(iv, hex::<12>("5d313eb2671276ee13000b30"));
    }

    /// RFC 8448 §3: client handshake traffic secret → write key and IV.
    #[test]
    fn expand_label_rfc8448_client_handshake() {
        let secret: [u8; 32] =
            hex("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21");
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        expand_label(Hash::Sha256, &secret, b"key", &mut key).unwrap();
        expand_label(Hash::Sha256, &secret, b"iv", &mut iv).unwrap();
        assert_eq!(key, hex::<16>("dbfaa693d1762c5b666af5d950258d01"));
        assert_eq!(iv, hex::<12>("5bd3c71b836e0b76bb73265f"));
    }

    #[test]
    fn oversized_outputs_are_refused() {
        let mut big = [0u8; 64];
        assert!(expand_label(Hash::Sha256, &[1; 32], b"key", &mut big).is_err());
    }
}
