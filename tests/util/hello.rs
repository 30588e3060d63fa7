//! Hand-built TLS and DTLS handshake bytes for builder-made captures.

/// `b` behind its length as `n` big-endian bytes.
pub fn vlen(n: usize, b: &[u8]) -> Vec<u8> {
    let len = (b.len() as u32).to_be_bytes();
    [&len[4 - n..], b].concat()
}

/// A ClientHello body offering `version` (legacy field), with SNI; DTLS
/// hellos carry a `cookie` (empty on the first try).
pub fn client_hello_body(version: u16, sni: &str, cookie: Option<&[u8]>) -> Vec<u8> {
    let name = vlen(2, sni.as_bytes());
    let sni_ext = vlen(2, &[&[0u8][..], &name].concat());
    let exts = [&[0u8, 0][..], &vlen(2, &sni_ext)].concat();
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[7; 32]);
    body.push(0);
    if let Some(c) = cookie {
        body.extend(vlen(1, c));
    }
    body.extend_from_slice(&[0, 2, 0xc0, 0x2f, 1, 0]);
    body.extend(vlen(2, &exts));
    body
}

/// A ServerHello body choosing `version` and TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.
pub fn server_hello_body(version: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[9; 32]);
    body.extend_from_slice(&[0, 0xc0, 0x2f, 0]);
    body
}

/// A TLS handshake message (4-byte header).
pub fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    [&[ty][..], &vlen(3, body)].concat()
}

/// A TLS 1.2 record.
pub fn tls_record(ty: u8, payload: &[u8]) -> Vec<u8> {
    [&[ty, 3, 3][..], &vlen(2, payload)].concat()
}

/// A DTLS record (13-byte header).
pub fn dtls_record(ty: u8, version: u16, epoch: u16, seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![ty];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend(vlen(2, payload));
    r
}

/// A DTLS handshake fragment (12-byte header): `body[from..to]` of a
/// message of `body.len()` bytes.
pub fn dtls_fragment(ty: u8, msg_seq: u16, body: &[u8], from: usize, to: usize) -> Vec<u8> {
    let mut h = vec![ty];
    h.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    h.extend_from_slice(&msg_seq.to_be_bytes());
    h.extend_from_slice(&(from as u32).to_be_bytes()[1..]);
    h.extend_from_slice(&((to - from) as u32).to_be_bytes()[1..]);
    h.extend_from_slice(&body[from..to]);
    h
}
