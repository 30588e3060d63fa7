//! `decrypt` throughput: full-size (16 KiB plaintext) TLS 1.3 application
//! records, as a large HTTPS download gives, opened in sequence by one
//! direction's decryptor into a reused buffer. Records are sealed up front with
//! aws-lc-rs; key setup (once per session) is outside the timed loop.

use std::hint::black_box;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use netsleuth::decrypt::{KeyLog, Session, SessionParams, TLS13};

const RECORDS: usize = 64;
const PLAIN: usize = 16 * 1024;
const CLIENT_RANDOM: [u8; 32] = [0x42; 32];
const SECRET: [u8; 32] = [0x17; 32];

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// RFC 8446 §7.1 HKDF-Expand-Label, empty context.
fn expand_label(secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    let full = format!("tls13 {label}");
    let mut info = (len as u16).to_be_bytes().to_vec();
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let mut out = vec![0u8; len];
    hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, secret)
        .expand(&[&info], Len(len))
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

/// `RECORDS` sealed application records: (header type, version, fragment).
fn seal(alg: &'static aead::Algorithm) -> Vec<Vec<u8>> {
    let key = expand_label(&SECRET, "key", alg.key_len());
    let iv = expand_label(&SECRET, "iv", 12);
    let key = LessSafeKey::new(UnboundKey::new(alg, &key).unwrap());
    (0..RECORDS as u64)
        .map(|seq| {
            let mut nonce: [u8; 12] = iv.clone().try_into().unwrap();
            for (b, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *b ^= s;
            }
            let mut body: Vec<u8> = (0..PLAIN).map(|i| (i % 253) as u8).collect();
            body.push(23);
            let len = (body.len() + 16) as u16;
            let [l0, l1] = len.to_be_bytes();
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from([23, 3, 3, l0, l1]),
                &mut body,
            )
            .unwrap();
            body
        })
        .collect()
}

fn session(suite: u16) -> Session {
    let hex: String = CLIENT_RANDOM.iter().map(|b| format!("{b:02x}")).collect();
    let secret: String = SECRET.iter().map(|b| format!("{b:02x}")).collect();
    let (log, _) = KeyLog::parse(&format!("SERVER_TRAFFIC_SECRET_0 {hex} {secret}\n"));
    let params = SessionParams {
        version: TLS13,
        cipher_suite: suite,
        client_random: CLIENT_RANDOM,
        server_random: [0; 32],
        encrypt_then_mac: false,
    };
    Session::new(&log, &params).unwrap()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decrypt_tls13_16KiB_records");
    g.throughput(Throughput::Bytes((RECORDS * PLAIN) as u64));
    for (name, suite, alg) in [
        ("aes128gcm", 0x1301u16, &aead::AES_128_GCM),
        ("chacha20poly1305", 0x1303, &aead::CHACHA20_POLY1305),
    ] {
        let records = seal(alg);
        let mut out = Vec::with_capacity(PLAIN + 64);
        g.bench_function(name, |b| {
            b.iter_batched(
                || session(suite),
                |mut s| {
                    let d = s.server_to_client();
                    for r in &records {
                        let t = d.decrypt_into(23, 0x0303, r, &mut out).unwrap();
                        black_box((t, out.len()));
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
