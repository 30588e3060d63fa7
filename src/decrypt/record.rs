//! Opening one protected record with one key: the AEAD and CBC+HMAC record
//! formats of TLS 1.2 and TLS 1.3. No state beyond the key; the caller (the
//! epoch logic in `direction.rs`) owns sequence numbers.
//!
//! Every opener reads the fragment and writes the plaintext into `out`, never
//! touching the fragment: a failed attempt leaves the ciphertext intact for a
//! trial with the next epoch's key, and the caller's reassembly buffer stays
//! borrowed, not copied.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{self, DecryptingKey, DecryptionContext, UnboundCipherKey};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use super::suites::{Bulk, Hash};
use super::DecryptError;

/// AEAD tag length (GCM and Poly1305 alike).
pub(crate) const TAG_LEN: usize = 16;
/// TLS 1.2 GCM explicit nonce length (RFC 5288 §3).
const EXPLICIT_NONCE_LEN: usize = 8;
/// AES block length: the CBC IV and padding unit.
const BLOCK: usize = 16;
/// The largest TLSCiphertext fragment any version allows (RFC 5246 §6.2.3:
/// 2^14 + 2048); longer fragments are refused before any work.
pub(crate) const MAX_FRAGMENT: usize = (1 << 14) + 2048;

/// How the record nonce is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonceStyle {
    /// TLS 1.3, and TLS 1.2 ChaCha20 (RFC 7905): 12-byte IV XOR sequence number.
    XorSeq,
    /// TLS 1.2 GCM (RFC 5288): 4-byte salt + 8-byte explicit nonce from the record.
    SaltExplicit,
}

/// What the AEAD's additional data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AadStyle {
    /// TLS 1.3: the 5-byte record header as sent.
    Header,
    /// TLS 1.2: seq(8) + type + version + plaintext length.
    SeqHeader,
}

/// An AEAD key with its implicit IV.
pub(crate) struct AeadOpener {
    key: LessSafeKey,
    iv: [u8; 12],
    nonce: NonceStyle,
    aad: AadStyle,
}

impl AeadOpener {
    /// A TLS 1.3 record key (RFC 8446 §5.2–5.3).
    pub(crate) fn tls13(bulk: Bulk, key: &[u8], iv: &[u8]) -> Result<Self, DecryptError> {
        Self::new(bulk, key, iv, NonceStyle::XorSeq, AadStyle::Header)
    }

    /// A TLS 1.2 record key: GCM (salt is the 4-byte `iv`) or ChaCha20 (12-byte `iv`).
    pub(crate) fn tls12(bulk: Bulk, key: &[u8], iv: &[u8]) -> Result<Self, DecryptError> {
        let nonce = match bulk {
            Bulk::Chacha20Poly1305 => NonceStyle::XorSeq,
            _ => NonceStyle::SaltExplicit,
        };
        Self::new(bulk, key, iv, nonce, AadStyle::SeqHeader)
    }

    fn new(
        bulk: Bulk,
        key: &[u8],
        iv: &[u8],
        nonce: NonceStyle,
        aad: AadStyle,
    ) -> Result<Self, DecryptError> {
        let alg = match bulk {
            Bulk::Aes128Gcm => &aead::AES_128_GCM,
            Bulk::Aes256Gcm => &aead::AES_256_GCM,
            Bulk::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => return Err(DecryptError::KeySetup),
        };
        let key = UnboundKey::new(alg, key).map_err(|_| DecryptError::KeySetup)?;
        let mut fixed = [0u8; 12];
        fixed
            .get_mut(..iv.len())
            .ok_or(DecryptError::KeySetup)?
            .copy_from_slice(iv);
        Ok(AeadOpener {
            key: LessSafeKey::new(key),
            iv: fixed,
            nonce,
            aad,
        })
    }

    /// Opens `fragment` (everything after the 5-byte header) into `out`, which
    /// is resized to the plaintext. For TLS 1.3 the plaintext still ends with
    /// the inner content type and padding.
    pub(crate) fn open(
        &self,
        seq: u64,
        content_type: u8,
        version: u16,
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DecryptError> {
        let explicit = match self.nonce {
            NonceStyle::SaltExplicit => EXPLICIT_NONCE_LEN,
            NonceStyle::XorSeq => 0,
        };
        let body = fragment.get(explicit..).ok_or(DecryptError::Malformed(
            "record shorter than its explicit nonce",
        ))?;
        let ct_len = body
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(DecryptError::Malformed("record shorter than the AEAD tag"))?;
        let (ct, tag) = body.split_at(ct_len);
        let mut nonce = self.iv;
        match self.nonce {
            NonceStyle::XorSeq => xor_seq(&mut nonce, seq),
            NonceStyle::SaltExplicit => {
                if let (Some(dst), Some(src)) = (nonce.get_mut(4..), fragment.get(..8)) {
                    dst.copy_from_slice(src);
                }
            }
        }
        let nonce = Nonce::assume_unique_for_key(nonce);
        let [v0, v1] = version.to_be_bytes();
        resize_for(out, ct_len);
        let result = match self.aad {
            AadStyle::Header => {
                let [l0, l1] = (fragment.len() as u16).to_be_bytes();
                let aad = [content_type, v0, v1, l0, l1];
                self.key
                    .open_separate_gather(nonce, Aad::from(aad), ct, tag, out)
            }
            AadStyle::SeqHeader => {
                let aad = seq_header(seq, content_type, version, ct_len);
                self.key
                    .open_separate_gather(nonce, Aad::from(aad), ct, tag, out)
            }
        };
        result.map_err(|_| DecryptError::AuthFailure)
    }
}

/// A TLS 1.2 AES-CBC key with its HMAC key (RFC 5246 §6.2.3.2; RFC 7366).
pub(crate) struct CbcOpener {
    key: DecryptingKey,
    mac: hmac::Key,
    mac_len: usize,
    encrypt_then_mac: bool,
}

impl CbcOpener {
    pub(crate) fn new(
        bulk: Bulk,
        key: &[u8],
        mac: Hash,
        mac_key: &[u8],
        encrypt_then_mac: bool,
    ) -> Result<Self, DecryptError> {
        let alg = match bulk {
            Bulk::Aes128Cbc => &cipher::AES_128,
            Bulk::Aes256Cbc => &cipher::AES_256,
            _ => return Err(DecryptError::KeySetup),
        };
        // The unpadded CBC key: TLS padding is not PKCS#7, we check it ourselves.
        let key = UnboundCipherKey::new(alg, key).map_err(|_| DecryptError::KeySetup)?;
        let key = DecryptingKey::cbc(key).map_err(|_| DecryptError::KeySetup)?;
        let mac_alg = match mac {
            Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        };
        Ok(CbcOpener {
            key,
            mac: hmac::Key::new(mac_alg, mac_key),
            mac_len: mac.output_len(),
            encrypt_then_mac,
        })
    }

    /// Opens a CBC record: `out` becomes the plaintext without MAC or padding.
    pub(crate) fn open(
        &self,
        seq: u64,
        content_type: u8,
        version: u16,
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DecryptError> {
        let (iv, rest) = fragment
            .split_first_chunk::<BLOCK>()
            .ok_or(DecryptError::Malformed("CBC record shorter than its IV"))?;
        if self.encrypt_then_mac {
            // RFC 7366 §3: MAC(seq + type + version + length + IV + ciphertext),
            // where length counts the IV and ciphertext.
            let ct_len = rest
                .len()
                .checked_sub(self.mac_len)
                .ok_or(DecryptError::Malformed("CBC record shorter than its MAC"))?;
            let (ct, tag) = rest.split_at(ct_len);
            if ct.is_empty() || ct.len() % BLOCK != 0 {
                return Err(DecryptError::Malformed("CBC ciphertext not whole blocks"));
            }
            let mut ctx = hmac::Context::with_key(&self.mac);
            ctx.update(&seq_header(seq, content_type, version, BLOCK + ct_len));
            ctx.update(iv);
            ctx.update(ct);
            if !constant_eq(ctx.sign().as_ref(), tag) {
                return Err(DecryptError::AuthFailure);
            }
            self.decrypt(iv, ct, out)?;
            let plain = unpad(out).ok_or(DecryptError::Malformed("bad CBC padding"))?;
            out.truncate(plain);
            Ok(())
        } else {
            // MAC-then-encrypt: decrypt, strip padding, check MAC over the plaintext.
            if rest.is_empty() || rest.len() % BLOCK != 0 {
                return Err(DecryptError::Malformed("CBC ciphertext not whole blocks"));
            }
            self.decrypt(iv, rest, out)?;
            // A wrong key gives bad padding far more often than not: that is an
            // authentication failure, not a malformed record.
            let unpadded = unpad(out).ok_or(DecryptError::AuthFailure)?;
            let plain_len = unpadded
                .checked_sub(self.mac_len)
                .ok_or(DecryptError::AuthFailure)?;
            let (plain, tag) = out
                .get(..unpadded)
                .ok_or(DecryptError::AuthFailure)?
                .split_at(plain_len);
            let mut ctx = hmac::Context::with_key(&self.mac);
            ctx.update(&seq_header(seq, content_type, version, plain_len));
            ctx.update(plain);
            if !constant_eq(ctx.sign().as_ref(), tag) {
                return Err(DecryptError::AuthFailure);
            }
            out.truncate(plain_len);
            Ok(())
        }
    }

    fn decrypt(&self, iv: &[u8; BLOCK], ct: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptError> {
        out.clear();
        out.extend_from_slice(ct);
        let ctx = DecryptionContext::Iv128(FixedLength::from(iv));
        self.key
            .decrypt(out, ctx)
            .map_err(|_| DecryptError::Malformed("CBC decryption refused the record"))?;
        Ok(())
    }
}

/// The length of `buf` without TLS CBC padding: the last byte `p` and the `p`
/// bytes before it all equal `p` (RFC 5246 §6.2.3.2; not PKCS#7).
fn unpad(buf: &[u8]) -> Option<usize> {
    let (&p, rest) = buf.split_last()?;
    let start = rest.len().checked_sub(usize::from(p))?;
    rest.get(start..)?.iter().all(|&b| b == p).then_some(start)
}

/// The TLS 1.2 MAC / AAD prefix: seq(8) + type + version(2) + length(2).
fn seq_header(seq: u64, content_type: u8, version: u16, len: usize) -> [u8; 13] {
    let mut h = [0u8; 13];
    let (s, rest) = h.split_at_mut(8);
    s.copy_from_slice(&seq.to_be_bytes());
    if let [t, v0, v1, l0, l1] = rest {
        *t = content_type;
        [*v0, *v1] = version.to_be_bytes();
        [*l0, *l1] = (len as u16).to_be_bytes();
    }
    h
}

/// RFC 8446 §5.3: the sequence number, big-endian, left-padded to the IV
/// length, XORed into the IV.
pub(crate) fn xor_seq(iv: &mut [u8; 12], seq: u64) {
    for (b, s) in iv.iter_mut().skip(4).zip(seq.to_be_bytes()) {
        *b ^= s;
    }
}

/// Grows or shrinks `out` to `len` bytes, zero-filling only what is new: a
/// buffer reused across records is not cleared each time.
fn resize_for(out: &mut Vec<u8>, len: usize) {
    if out.len() >= len {
        out.truncate(len);
    } else {
        out.resize(len, 0);
    }
}

/// Compares two MACs without an early exit (we are passive, so no oracle to
/// protect, but it costs nothing).
fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpad_rules() {
        assert_eq!(unpad(&[9, 9, 0]), Some(2));
        assert_eq!(unpad(&[9, 2, 2, 2]), Some(1));
        assert_eq!(unpad(&[2, 2]), None);
        assert_eq!(unpad(&[9, 1, 2, 2]), None);
        assert_eq!(unpad(&[]), None);
        assert_eq!(unpad(&[15; 16]), Some(0));
    }

    #[test]
    fn seq_header_layout() {
        assert_eq!(
            seq_header(0x0102, 23, 0x0303, 0x1234),
            [0, 0, 0, 0, 0, 0, 1, 2, 23, 3, 3, 0x12, 0x34]
        );
    }

    #[test]
    fn xor_seq_pads_left() {
        let mut iv = [0xff; 12];
        xor_seq(&mut iv, 1);
        assert_eq!(
            iv,
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
        );
    }

    #[test]
    fn short_records_are_malformed_not_panics() {
        let o = AeadOpener::tls12(Bulk::Aes128Gcm, &[0; 16], &[0; 4]).unwrap();
        let mut out = Vec::new();
        for n in 0..24 {
            let r = o.open(0, 23, 0x0303, &vec![0; n], &mut out);
            assert!(matches!(r, Err(DecryptError::Malformed(_))), "{n}");
        }
        let c = CbcOpener::new(Bulk::Aes128Cbc, &[0; 16], Hash::Sha1, &[0; 20], true).unwrap();
        for n in [0, 15, 16, 17, 36, 37] {
            assert!(c.open(0, 23, 0x0303, &vec![0; n], &mut out).is_err(), "{n}");
        }
    }
}
