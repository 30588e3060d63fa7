//! Which TLS library made a call, from its hellos: JA3 and JA4 of the
//! ClientHello, JA3S of the ServerHello. Go's crypto/tls, curl with
//! OpenSSL, Java and browsers each send their own lists, so the same client
//! gives the same fingerprint across connections and servers.
//!
//! - JA3 (Salesforce): `version,ciphers,extensions,groups,point_formats`, the
//!   values in decimal joined by `-`, GREASE dropped, then MD5 in hex.
//!   JA3S: `version,cipher,extensions` of the ServerHello, MD5. Wireshark
//!   computes both (`tls.handshake.ja3`, `ja3s`); `tests/` compares.
//! - JA4 (FoxIO, BSD-3-Clause): `t13d1516h2_<ciphers>_<extensions>`: the
//!   protocol, the highest offered version, SNI or not, the counts of ciphers
//!   and extensions, the first ALPN's first and last characters; then the
//!   first 12 hex digits of the SHA-256 of the sorted cipher codes, and of
//!   the sorted extension codes (SNI and ALPN left out) followed by the
//!   signature algorithms in their order.
//!
//! JA4S and the rest of JA4+ are under FoxIO's own licence, not BSD: they
//! are left out until that licence is accepted.
//!
//! Written here rather than taken from a crate: the inputs are the lists our
//! hello parser already reads (`parse.rs`), and the crates that compute
//! these parse the hello again from bytes.

use std::fmt::Write;

use md5::{Digest, Md5};

use super::parse::{is_grease, ClientHello, ServerHello};

/// A fingerprint and the text it hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The hash (JA3, JA3S) or the fingerprint itself (JA4).
    pub hash: String,
    /// What was hashed: JA3's comma-separated lists, JA4's raw form.
    pub text: String,
}

fn decimal<T: Copy + Into<u32>>(values: &[T]) -> String {
    let mut s = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push('-');
        }
        let _ = write!(s, "{}", (*v).into());
    }
    s
}

fn md5_hex(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    digest.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// JA3 of a ClientHello.
pub fn ja3(ch: &ClientHello) -> Fingerprint {
    let text = format!(
        "{},{},{},{},{}",
        ch.legacy_version,
        decimal(&ch.ciphers),
        decimal(&ch.extension_types),
        decimal(&ch.groups),
        decimal(&ch.point_formats)
    );
    Fingerprint {
        hash: md5_hex(&text),
        text,
    }
}

/// JA3S of a ServerHello.
pub fn ja3s(sh: &ServerHello) -> Fingerprint {
    let text = format!(
        "{},{},{}",
        sh.legacy_version,
        sh.cipher,
        decimal(&sh.extension_types)
    );
    Fingerprint {
        hash: md5_hex(&text),
        text,
    }
}

/// JA4's two-character version.
fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's two ALPN characters: the first and last of the first protocol
/// when both are alphanumeric, else the first and last hex digits of it.
fn ja4_alpn(first: Option<&[u8]>) -> String {
    let Some(p) = first.filter(|p| !p.is_empty()) else {
        return "00".into();
    };
    let (a, z) = (p[0], p[p.len() - 1]);
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return format!("{}{}", a as char, z as char);
    }
    let hex = format!("{a:02x}{z:02x}");
    let b = hex.as_bytes();
    format!("{}{}", b[0] as char, b[3] as char)
}

fn hex_list(values: &[u16]) -> String {
    let mut s = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
    s
}

fn sha256_12(text: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    d.as_ref()
        .iter()
        .take(6)
        .fold(String::with_capacity(12), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// JA4 of a ClientHello sent over TCP (`t`) or in DTLS (`d`).
pub fn ja4(ch: &ClientHello, protocol: char) -> Fingerprint {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max_by_key(|&v| match v {
            // DTLS versions count down: 1.3 (0xfefc) is the highest.
            0xfe00..=0xffff => 0x1_0000 - u32::from(v),
            v => u32::from(v),
        })
        .unwrap_or(ch.legacy_version);
    let sni = if ch.sni.is_some() { 'd' } else { 'i' };
    let a = format!(
        "{protocol}{}{sni}{:02}{:02}{}",
        ja4_version(version),
        ch.ciphers.len().min(99),
        ch.extension_types.len().min(99),
        ja4_alpn(ch.alpn_first.as_deref())
    );
    let mut ciphers = ch.ciphers.clone();
    ciphers.sort_unstable();
    let mut exts: Vec<u16> = ch
        .extension_types
        .iter()
        .copied()
        .filter(|&e| e != 0x0000 && e != 0x0010)
        .collect();
    exts.sort_unstable();
    let b_text = hex_list(&ciphers);
    let mut c_text = hex_list(&exts);
    if !ch.signature_algorithms.is_empty() {
        c_text.push('_');
        c_text.push_str(&hex_list(&ch.signature_algorithms));
    }
    let b = if ciphers.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&b_text)
    };
    let c = if exts.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&c_text)
    };
    Fingerprint {
        hash: format!("{a}_{b}_{c}"),
        text: format!("{a}_{b_text}_{c_text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ClientHello of JA4's published example (FoxIO's JA4.md).
    fn example() -> ClientHello {
        ClientHello {
            legacy_version: 0x0303,
            supported_versions: vec![0x0304, 0x0303],
            ciphers: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            sni: Some("example.com".into()),
            alpn_first: Some(b"h2".to_vec()),
            extension_types: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
                0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
            ],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            ..ClientHello::default()
        }
    }

    #[test]
    fn ja4_of_the_published_example() {
        let f = ja4(&example(), 't');
        assert_eq!(f.hash, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert!(f.text.starts_with("t13d1516h2_002f,0035,009c,009d,1301"));
        let mut no_sigs = example();
        no_sigs.signature_algorithms.clear();
        assert!(ja4(&no_sigs, 't').hash.ends_with("_6d807ffa2a79"));
    }

    #[test]
    fn ja4_edges() {
        let mut ch = example();
        ch.sni = None;
        ch.alpn_first = Some(b"http/1.1".to_vec());
        assert!(ja4(&ch, 't').hash.starts_with("t13i1516h1_"));
        ch.alpn_first = Some(vec![0x30, 0xab, 0xcd, 0x31]);
        assert!(ja4(&ch, 't').hash.starts_with("t13i151601_"));
        ch.alpn_first = Some(vec![0xab]);
        assert!(ja4(&ch, 't').hash.starts_with("t13i1516ab_"));
        ch.alpn_first = None;
        ch.supported_versions.clear();
        ch.ciphers.clear();
        ch.extension_types.clear();
        assert_eq!(ja4(&ch, 't').hash, "t12i000000_000000000000_000000000000");
    }

    #[test]
    fn ja3_lists_in_decimal() {
        let ch = ClientHello {
            legacy_version: 771,
            ciphers: vec![4865, 49195],
            extension_types: vec![0, 11, 10],
            groups: vec![29, 23],
            point_formats: vec![0],
            ..ClientHello::default()
        };
        let f = ja3(&ch);
        assert_eq!(f.text, "771,4865-49195,0-11-10,29-23,0");
        assert_eq!(f.hash.len(), 32);
        // MD5 of the empty string, a fixed point of the definition.
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
