//! A test-only record *sealer* for every supported suite, written from the
//! RFCs with aws-lc-rs directly, independent of the module's record code: what
//! it seals, the module must open.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::hkdf;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::tls_prf;

use crate::decrypt::suites::{Bulk, Family, Hash, Suite};

/// One direction's sealing state.
pub struct Sealer {
    suite: &'static Suite,
    kind: Kind,
    pub seq: u64,
}

#[allow(clippy::large_enum_variant)]
enum Kind {
    Aead {
        key: LessSafeKey,
        iv: [u8; 12],
    },
    Cbc {
        key: EncryptingKey,
        mac: hmac::Key,
        etm: bool,
    },
}

fn aead_alg(b: Bulk) -> &'static aead::Algorithm {
    match b {
        Bulk::Aes128Gcm => &aead::AES_128_GCM,
        Bulk::Aes256Gcm => &aead::AES_256_GCM,
        Bulk::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        _ => unreachable!("not AEAD"),
    }
}

struct L(usize);
impl hkdf::KeyType for L {
    fn len(&self) -> usize {
        self.0
    }
}

/// RFC 8446 §7.1 HKDF-Expand-Label with an empty context.
pub fn expand_label(hash: Hash, secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    let alg = if hash == Hash::Sha384 {
        hkdf::HKDF_SHA384
    } else {
        hkdf::HKDF_SHA256
    };
    let full = format!("tls13 {label}");
    let mut info = Vec::new();
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let mut out = vec![0u8; len];
    hkdf::Prk::new_less_safe(alg, secret)
        .expand(&[&info], L(len))
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

impl Sealer {
    /// TLS 1.3 sealer from a traffic secret.
    pub fn tls13(suite: &'static Suite, secret: &[u8]) -> Sealer {
        assert_eq!(suite.family, Family::Tls13);
        let key = expand_label(suite.prf, secret, "key", suite.key_len());
        let iv: [u8; 12] = expand_label(suite.prf, secret, "iv", 12)
            .try_into()
            .unwrap();
        let key = LessSafeKey::new(UnboundKey::new(aead_alg(suite.bulk), &key).unwrap());
        Sealer {
            suite,
            kind: Kind::Aead { key, iv },
            seq: 0,
        }
    }

    /// TLS 1.2 sealers (client, server) from the master secret.
    pub fn tls12(
        suite: &'static Suite,
        master: &[u8; 48],
        cr: &[u8; 32],
        sr: &[u8; 32],
        etm: bool,
    ) -> (Sealer, Sealer) {
        let mac_len = suite.mac.map_or(0, |h| h.output_len());
        let key_len = suite.key_len();
        let iv_len = match suite.bulk {
            Bulk::Chacha20Poly1305 => 12,
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => 4,
            _ => 0,
        };
        let prf = if suite.prf == Hash::Sha384 {
            &tls_prf::P_SHA384
        } else {
            &tls_prf::P_SHA256
        };
        let mut seed = sr.to_vec();
        seed.extend_from_slice(cr);
        let block = tls_prf::Secret::new(prf, master)
            .unwrap()
            .derive(b"key expansion", &seed, 2 * (mac_len + key_len + iv_len))
            .unwrap();
        let b = block.as_ref();
        let (cm, rest) = b.split_at(mac_len);
        let (sm, rest) = rest.split_at(mac_len);
        let (ck, rest) = rest.split_at(key_len);
        let (sk, rest) = rest.split_at(key_len);
        let (ci, si) = rest.split_at(iv_len);
        let make = |k: &[u8], i: &[u8], m: &[u8]| -> Sealer {
            let kind = match suite.mac {
                None => {
                    let mut iv = [0u8; 12];
                    iv[..i.len()].copy_from_slice(i);
                    Kind::Aead {
                        key: LessSafeKey::new(UnboundKey::new(aead_alg(suite.bulk), k).unwrap()),
                        iv,
                    }
                }
                Some(h) => {
                    let alg = if suite.bulk == Bulk::Aes128Cbc {
                        &aws_lc_rs::cipher::AES_128
                    } else {
                        &aws_lc_rs::cipher::AES_256
                    };
                    let mac_alg = match h {
                        Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                        Hash::Sha256 => hmac::HMAC_SHA256,
                        Hash::Sha384 => hmac::HMAC_SHA384,
                    };
                    Kind::Cbc {
                        key: EncryptingKey::cbc(UnboundCipherKey::new(alg, k).unwrap()).unwrap(),
                        mac: hmac::Key::new(mac_alg, m),
                        etm,
                    }
                }
            };
            Sealer {
                suite,
                kind,
                seq: 0,
            }
        };
        (make(ck, ci, cm), make(sk, si, sm))
    }

    /// Seals one record: the whole record with its 5-byte header. `pad` is
    /// TLS 1.3 zero padding (ignored otherwise).
    pub fn seal(&mut self, content_type: u8, plain: &[u8], pad: usize) -> Vec<u8> {
        let seq = self.seq;
        self.seq += 1;
        let tls13 = self.suite.family == Family::Tls13;
        let mut out = Vec::new();
        match &self.kind {
            Kind::Aead { key, iv } => {
                let mut body = plain.to_vec();
                let mut nonce = *iv;
                let (outer_type, explicit): (u8, Vec<u8>) = if tls13 {
                    body.push(content_type);
                    body.extend(std::iter::repeat_n(0, pad));
                    xor(&mut nonce, seq);
                    (23, vec![])
                } else if self.suite.bulk == Bulk::Chacha20Poly1305 {
                    xor(&mut nonce, seq);
                    (content_type, vec![])
                } else {
                    // Any explicit nonce will do; use the seq like most stacks.
                    let e = seq.to_be_bytes().to_vec();
                    nonce[4..].copy_from_slice(&e);
                    (content_type, e)
                };
                let len = explicit.len() + body.len() + 16;
                let aad: Vec<u8> = if tls13 {
                    let mut a = vec![23, 3, 3];
                    a.extend_from_slice(&(len as u16).to_be_bytes());
                    a
                } else {
                    tls12_header(seq, content_type, body.len())
                };
                key.seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut body,
                )
                .unwrap();
                out.push(outer_type);
                out.extend_from_slice(&[3, 3]);
                out.extend_from_slice(&(len as u16).to_be_bytes());
                out.extend_from_slice(&explicit);
                out.extend_from_slice(&body);
            }
            Kind::Cbc { key, mac, etm } => {
                let iv = [seq as u8 ^ 0x5a; 16];
                let mut body = plain.to_vec();
                if !*etm {
                    let mut m = tls12_header(seq, content_type, plain.len());
                    m.extend_from_slice(plain);
                    body.extend_from_slice(hmac::sign(mac, &m).as_ref());
                }
                // Random-ish padding length: up to 255, any whole number of blocks.
                let min = 16 - (body.len() + 1) % 16;
                let min = if min == 16 { 0 } else { min };
                let p = min + 16 * (pad % ((255 - min) / 16 + 1));
                body.extend(std::iter::repeat_n(p as u8, p + 1));
                assert_eq!(body.len() % 16, 0);
                key.less_safe_encrypt(&mut body, EncryptionContext::Iv128(FixedLength::from(iv)))
                    .unwrap();
                let mut frag = iv.to_vec();
                frag.extend_from_slice(&body);
                if *etm {
                    let mut m = tls12_header(seq, content_type, frag.len());
                    m.extend_from_slice(&frag);
                    frag.extend_from_slice(hmac::sign(mac, &m).as_ref());
                }
                out.push(content_type);
                out.extend_from_slice(&[3, 3]);
                out.extend_from_slice(&(frag.len() as u16).to_be_bytes());
                out.extend_from_slice(&frag);
            }
        }
        out
    }
}

fn xor(iv: &mut [u8; 12], seq: u64) {
    for (i, b) in seq.to_be_bytes().iter().enumerate() {
        iv[4 + i] ^= b;
    }
}

fn tls12_header(seq: u64, t: u8, len: usize) -> Vec<u8> {
    let mut h = seq.to_be_bytes().to_vec();
    h.extend_from_slice(&[t, 3, 3]);
    h.extend_from_slice(&(len as u16).to_be_bytes());
    h
}
