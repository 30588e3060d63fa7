//! Test kit: a tiny TLS byte builder, openssl-made certificates (our own
//! fixtures), and a harness feeding a [`TlsConn`] both directions.

use std::net::SocketAddr;

use super::*;
use crate::diagnose::tls::diagnose;

// --- a tiny TLS builder -------------------------------------------------------

pub(super) fn v8(b: &[u8]) -> Vec<u8> {
    [&[b.len() as u8][..], b].concat()
}
pub(super) fn v16(b: &[u8]) -> Vec<u8> {
    [&(b.len() as u16).to_be_bytes()[..], b].concat()
}
pub(super) fn v24(b: &[u8]) -> Vec<u8> {
    [&(b.len() as u32).to_be_bytes()[1..], b].concat()
}
pub(super) fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}
pub(super) fn record(ty: u8, payload: &[u8]) -> Vec<u8> {
    [&[ty, 3, 3][..], &v16(payload)].concat()
}
pub(super) fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    [&[ty][..], &v24(body)].concat()
}
pub(super) fn ext(ty: u16, body: &[u8]) -> Vec<u8> {
    [&ty.to_be_bytes()[..], &v16(body)].concat()
}
pub(super) fn alert(level: u8, code: u8) -> Vec<u8> {
    record(21, &[level, code])
}
pub(super) fn alpn(protos: &[&str]) -> Vec<u8> {
    v16(&protos
        .iter()
        .flat_map(|p| v8(p.as_bytes()))
        .collect::<Vec<_>>())
}

#[derive(Clone)]
pub(super) struct Hello {
    pub(super) versions: Vec<u16>,
    pub(super) ciphers: Vec<u16>,
    pub(super) sni: Option<&'static str>,
    pub(super) alpn: Vec<&'static str>,
    pub(super) groups: Vec<u16>,
}

impl Default for Hello {
    fn default() -> Self {
        Hello {
            versions: vec![0x0304, 0x0303],
            ciphers: vec![0x1301, 0xc02f],
            sni: Some("api.example.com"),
            alpn: vec!["h2", "http/1.1"],
            groups: vec![29, 23],
        }
    }
}

pub(super) fn client_hello(h: &Hello) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(sni) = h.sni {
        exts.extend(ext(0, &v16(&[&[0u8][..], &v16(sni.as_bytes())].concat())));
    }
    if !h.groups.is_empty() {
        exts.extend(ext(10, &v16(&u16s(&h.groups))));
        let shares: Vec<u8> = h
            .groups
            .iter()
            .take(1)
            .flat_map(|g| [u16s(&[*g]), v16(&[7; 32])].concat())
            .collect();
        exts.extend(ext(51, &v16(&shares)));
    }
    if !h.alpn.is_empty() {
        exts.extend(ext(16, &alpn(&h.alpn)));
    }
    if !h.versions.is_empty() {
        exts.extend(ext(43, &v8(&u16s(&h.versions))));
    }
    let body = [
        &[3, 3][..],
        &[1; 32],
        &v8(&[9; 32]),
        &v16(&u16s(&h.ciphers)),
        &v8(&[0]),
        &v16(&exts),
    ]
    .concat();
    handshake(1, &body)
}

const HRR: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

pub(super) fn server_hello(
    legacy: u16,
    selected: Option<u16>,
    cipher: u16,
    proto: Option<&str>,
    hrr: bool,
) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(v) = selected {
        exts.extend(ext(43, &u16s(&[v])));
    }
    if let Some(p) = proto {
        exts.extend(ext(16, &alpn(&[p])));
    }
    let random = if hrr { HRR } else { [2; 32] };
    let body = [
        &legacy.to_be_bytes()[..],
        &random,
        &v8(&[9; 32]),
        &u16s(&[cipher]),
        &[0],
        &v16(&exts),
    ]
    .concat();
    handshake(2, &body)
}

pub(super) fn certificate(ders: &[Vec<u8>]) -> Vec<u8> {
    handshake(
        11,
        &v24(&ders.iter().flat_map(|d| v24(d)).collect::<Vec<_>>()),
    )
}

pub(super) fn der(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// openssl-made test certificate `good` (DER, hex).
pub(super) const GOOD_DER: &str = concat!(
    "308201c030820166a003020102021424700c9bf8ca8bf56ecfe059c653f43931649115300a06082a8648ce3d04030230",
    "1a3118301606035504030c0f6170692e6578616d706c652e636f6d301e170d3236313132363135323534315a170d3336",
    "313132333135323534315a301a3118301606035504030c0f6170692e6578616d706c652e636f6d3059301306072a8648",
    "ce3d020106082a8648ce3d0301070342000441f7c209ef3793aa65d4d706035f98794c9e4082ad83a4be311268995ad9",
    "82c2145d5e26c98cd315e423696e5091caf4e6d499c2e3b1aa89cd29bdae47acf73da38189308186301d0603551d0e04",
    "1604142d176aeda557a170fb1ed09648d886fea9767308301f0603551d230418301680142d176aeda557a170fb1ed096",
    "48d886fea9767308300f0603551d130101ff040530030101ff30330603551d11042c302a820f6170692e6578616d706c",
    "652e636f6d82112a2e7376632e6578616d706c652e636f6d87040a000001300a06082a8648ce3d040302034800304502",
    "20738917cce1350215a7553f02f2309bdd4860a4c7d81e38b1b7bfa5caff0f4701022100a5ce26501640e8f691792d8e",
    "f878b5a25531b2bf20ca668b331a223e3ae9ced5",
);

/// openssl-made test certificate `leaf` (DER, hex).
pub(super) const LEAF_DER: &str = concat!(
    "308201293081d00214623573eb79eebe2648c8c1bdcca92ebaf52e3b89300a06082a8648ce3d04030230123110300e06",
    "035504030c0754657374204341301e170d3236313132363135323534345a170d3237313132363135323534345a301d31",
    "1b301906035504030c126c65676163792e6578616d706c652e636f6d3059301306072a8648ce3d020106082a8648ce3d",
    "0301070342000445bd0ebba75da45d8d88ffe1a59296b9428fa2b19d1f45a05ebfcad05d781f47bc3068d95f0faec294",
    "21885652332971909d16736ac3ec391444f4e8c74814c6300a06082a8648ce3d04030203480030450220439708bd01c6",
    "b8a68812f87e2ba9ddfa7c547010d6465685cafffc73b1521a0c022100b5fc8c44a05c4fb34641f7a7d89ff328943971",
    "6f7d40bee4b520f5a1e62a52f4",
);

/// openssl-made test certificate `ca` (DER, hex).
pub(super) const CA_DER: &str = concat!(
    "308201783082011fa003020102021420167b38d7bb3951604930d03a013f405069ec28300a06082a8648ce3d04030230",
    "123110300e06035504030c0754657374204341301e170d3236313132363135323534345a170d33363131323331353235",
    "34345a30123110300e06035504030c07546573742043413059301306072a8648ce3d020106082a8648ce3d0301070342",
    "0004b1b7e985da7fd24e75046e92d85097049808fdaf9e8631ac078b962e79060326fe7fb366e3fa1959bd00defb34d0",
    "eedb6b302f4ec438b5dfb2cf276a51ea6e71a3533051301d0603551d0e0416041499e11330c354833def910a544502d0",
    "c7d3a79944301f0603551d2304183016801499e11330c354833def910a544502d0c7d3a79944300f0603551d130101ff",
    "040530030101ff300a06082a8648ce3d040302034700304402200f4a1e7b64343f07745d904dd3ab77bc19d7bd4a252c",
    "2f46dc3f0b1725b6a630022017589e7b1fc6fa82f9d7afe304b28b15ff77e364ce696af1dae2306d8ac627c1",
);

// --- a connection harness ---------------------------------------------------

/// 2027-01-15: inside every fixture certificate's validity.
pub(super) const T0: i64 = 1_800_000_000;

pub(super) struct H {
    pub(super) c: TlsConn,
    off: [u64; 2],
    pub(super) frame: u64,
    pub(super) ns: i64,
}

impl H {
    pub(super) fn at(secs: i64) -> H {
        let ep = Endpoints {
            conn: 7,
            client: "10.0.0.5:51234".parse::<SocketAddr>().unwrap(),
            server: "10.0.0.1:443".parse::<SocketAddr>().unwrap(),
        };
        H {
            c: TlsConn::new(ep),
            off: [0, 0],
            frame: 0,
            ns: secs * 1_000_000_000,
        }
    }
    pub(super) fn new() -> H {
        H::at(T0)
    }
    pub(super) fn send_chunks(&mut self, side: Side, bytes: &[u8], chunk: usize) {
        for piece in bytes.chunks(chunk) {
            self.frame += 1;
            self.ns += 1_000_000;
            let i = side.index();
            let origin = Origin {
                conn: 7,
                side,
                frame: self.frame,
                ts: Timestamp(self.ns),
            };
            self.c.on_data(origin, self.off[i], piece);
            self.off[i] += piece.len() as u64;
        }
    }
    pub(super) fn send(&mut self, side: Side, bytes: &[u8]) {
        self.send_chunks(side, bytes, bytes.len().max(1));
    }
    pub(super) fn end(&mut self, side: Side, how: StreamEnd) {
        self.ns += 1_000_000;
        self.c.on_end(side, how, Timestamp(self.ns));
    }
    pub(super) fn rec(&self) -> TlsRecord {
        self.c
            .record(Timestamp(self.ns))
            .expect("a ClientHello was seen")
    }
    pub(super) fn kinds(&self) -> Vec<&'static str> {
        diagnose(&self.rec()).into_iter().map(|f| f.kind).collect()
    }
}

pub(super) use Side::{Client as C, Server as S};

pub(super) fn hello_then(h: &Hello) -> H {
    let mut t = H::new();
    t.send(C, &record(22, &client_hello(h)));
    t
}
