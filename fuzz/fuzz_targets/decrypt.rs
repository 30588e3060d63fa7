//! Record decryption fuzz target: a fixed key log, a session whose version,
//! suite and EtM flag the first bytes choose, then records cut from the rest
//! (type, version, length-prefixed fragment) fed to both directions. Nothing
//! may panic, and random records must not "decrypt" (AEAD, MAC).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::decrypt::suites::SUITES;
use netsleuth::decrypt::{KeyLog, Session, SessionParams, TLS12, TLS13};

const CR: &str = "0101010101010101010101010101010101010101010101010101010101010101";

fuzz_target!(|data: &[u8]| {
    let (Some(&pick), Some(&flags), Some(mut rest)) = (data.first(), data.get(1), data.get(2..)) else {
        return;
    };
    let suite = &SUITES[usize::from(pick) % SUITES.len()];
    let s32 = "22".repeat(32);
    let s48 = "33".repeat(48);
    let secret = if suite.prf.output_len() == 48 { &s48 } else { &s32 };
    let text = format!(
        "CLIENT_RANDOM {CR} {s48}\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR} {secret}\n\
         SERVER_HANDSHAKE_TRAFFIC_SECRET {CR} {secret}\n\
         CLIENT_TRAFFIC_SECRET_0 {CR} {secret}\n\
         SERVER_TRAFFIC_SECRET_0 {CR} {secret}\n"
    );
    let (log, _) = KeyLog::parse(&text);
    let params = SessionParams {
        version: if suite.id >> 8 == 0x13 { TLS13 } else { TLS12 },
        cipher_suite: suite.id,
        client_random: [1; 32],
        server_random: [2; 32],
        encrypt_then_mac: flags & 1 == 1,
    };
    let Ok(mut session) = Session::new(&log, &params) else {
        return;
    };
    let mut out = Vec::new();
    let mut client = flags & 2 == 2;
    while let (Some(&t), Some(v), Some(len)) = (rest.first(), rest.get(1..3), rest.get(3..5)) {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let Some(frag) = rest.get(5..5 + len.min(rest.len().saturating_sub(5))) else {
            return;
        };
        let version = u16::from_be_bytes([v[0], v[1]]);
        let d = if client { session.client_to_server() } else { session.server_to_client() };
        let r = d.decrypt_into(t, version, frag, &mut out);
        assert!(r.is_err(), "random bytes authenticated");
        client = !client;
        rest = &rest[5 + frag.len()..];
    }
});
