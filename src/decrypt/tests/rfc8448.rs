//! RFC 8448 §3 "Simple 1-RTT Handshake": the published secrets and protected
//! records of a whole TLS 1.3 session (TLS_AES_128_GCM_SHA256), decrypted
//! through the key log path a user would take.

use super::util::{arr, hex, records};
use crate::decrypt::{DecryptError, Epoch, KeyLog, Session, SessionParams, Undecryptable, TLS13};

const CLIENT_RANDOM: &str = "cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7";
const SERVER_RANDOM: &str = "a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928";
const C_HS: &str = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";
const S_HS: &str = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
const C_AP: &str = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
const S_AP: &str = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";

/// The server's EncryptedExtensions, Certificate, CertificateVerify, Finished.
const SERVER_FLIGHT: &str = "17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35edf7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13bd9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd610928d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead686945ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b3684596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b659622245317b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d461e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e750edc53370d2b";
/// The client's Finished.
const CLIENT_FINISHED: &str = "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546";
/// The server's NewSessionTicket (its first application-key record).
const SERVER_TICKET: &str = "17030300de3a6b8f90414a97d6959c3487680de5134a2b240e6cffac116e95d41d6af8f6b580dcf3d11d63c758db289a015940252f55713e061dc13e078891a38efbcf5753ad8ef170ad3c7353d16d9da773b9ca7f2b9fa1b6c0d4a3d03f75e09c30ba1e62972ac46f75f7b981be63439b2999ce13064615139891d5e4c5b406f16e3fc181a77ca475840025db2f0a77f81b5ab05b94c01346755f69232c86519d86cbeeac87aac347d143f9605d64f650db4d023e70e952ca49fe5137121c74bc2697687e248746d6df353005f3bce18696129c8153556b3b6c6779b37bf15985684f";
const CLIENT_APP: &str = "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4";
const SERVER_APP: &str = "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d";
const SERVER_ALERT: &str = "1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9";
const CLIENT_ALERT: &str = "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3";

/// Both sides send the bytes 00..31 as application data.
fn app_data() -> Vec<u8> {
    (0u8..50).collect()
}

fn params() -> SessionParams {
    SessionParams {
        version: TLS13,
        cipher_suite: 0x1301,
        client_random: arr(CLIENT_RANDOM),
        server_random: arr(SERVER_RANDOM),
        encrypt_then_mac: false,
    }
}

fn keylog(lines: &[(&str, &str)]) -> KeyLog {
    let text: String = lines
        .iter()
        .map(|(label, secret)| format!("{label} {CLIENT_RANDOM} {secret}\n"))
        .collect();
    let (log, warnings) = KeyLog::parse(&text);
    assert!(warnings.is_empty(), "{warnings:?}");
    log
}

fn full_log() -> KeyLog {
    keylog(&[
        ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", C_HS),
        ("SERVER_HANDSHAKE_TRAFFIC_SECRET", S_HS),
        ("CLIENT_TRAFFIC_SECRET_0", C_AP),
        ("SERVER_TRAFFIC_SECRET_0", S_AP),
    ])
}

fn one(record: &str) -> super::util::Rec {
    let mut r = records(&hex(record));
    assert_eq!(r.len(), 1);
    r.remove(0)
}

#[test]
fn whole_session_decrypts_in_capture_order() {
    let mut s = Session::new(&full_log(), &params()).unwrap();

    // Server flight under the server handshake key, seq 0.
    let r = one(SERVER_FLIGHT);
    let p = s
        .server_to_client()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap();
    assert_eq!(p.content_type, 22);
    assert_eq!(p.data.len(), 657);
    assert_eq!(
        &p.data[..4],
        &[0x08, 0x00, 0x00, 0x24],
        "EncryptedExtensions first"
    );
    // Finished (type 20, 32-byte verify_data) is the last message.
    assert_eq!(&p.data[657 - 36..657 - 32], &[0x14, 0x00, 0x00, 0x20]);
    // The Finished switched the server to application keys.
    assert_eq!(
        s.server_to_client().epoch(),
        Epoch::Application { generation: 0 }
    );

    // Client Finished under the client handshake key.
    let r = one(CLIENT_FINISHED);
    let p = s
        .client_to_server()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap();
    assert_eq!(p.content_type, 22);
    assert_eq!(&p.data[..4], &[0x14, 0x00, 0x00, 0x20]);
    assert_eq!(
        s.client_to_server().epoch(),
        Epoch::Application { generation: 0 }
    );

    // NewSessionTicket: server application seq 0.
    let r = one(SERVER_TICKET);
    let p = s
        .server_to_client()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap();
    assert_eq!((p.content_type, p.data[0]), (22, 4));

    // Application data both ways.
    let r = one(CLIENT_APP);
    let p = s
        .client_to_server()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap();
    assert_eq!((p.content_type, p.data), (23, app_data()));
    let r = one(SERVER_APP);
    let p = s
        .server_to_client()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap();
    assert_eq!((p.content_type, p.data), (23, app_data()));

    // close_notify alerts: warning(1), close_notify(0).
    let r = one(SERVER_ALERT);
    let p = s
        .server_to_client()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap();
    assert_eq!((p.content_type, p.data), (21, vec![1, 0]));
    let r = one(CLIENT_ALERT);
    let p = s
        .client_to_server()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap();
    assert_eq!((p.content_type, p.data), (21, vec![1, 0]));

    assert_eq!(s.server_to_client().records_decrypted(), 4);
    assert_eq!(s.client_to_server().records_decrypted(), 3);
}

/// A log with only the application secrets (some tools write only those):
/// the handshake records cannot be read, the application records can.
#[test]
fn application_secrets_only() {
    let log = keylog(&[
        ("CLIENT_TRAFFIC_SECRET_0", C_AP),
        ("SERVER_TRAFFIC_SECRET_0", S_AP),
    ]);
    let mut s = Session::new(&log, &params()).unwrap();
    let r = one(SERVER_FLIGHT);
    let e = s
        .server_to_client()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap_err();
    assert_eq!(e, DecryptError::AuthFailure);
    // The failure did not advance anything: the ticket is still seq 0.
    for rec in [SERVER_TICKET, SERVER_APP] {
        let r = one(rec);
        s.server_to_client()
            .decrypt(r.content_type, r.version, &r.fragment)
            .unwrap();
    }
    let r = one(CLIENT_APP);
    let p = s
        .client_to_server()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap();
    assert_eq!(p.data, app_data());
}

/// The Finished is not seen (say the caller passed the flight nowhere): the
/// first application record fails under the handshake key and opens under
/// application secret 0, and the switch sticks.
#[test]
fn trial_switch_to_application_keys() {
    let mut s = Session::new(&full_log(), &params()).unwrap();
    assert_eq!(s.server_to_client().epoch(), Epoch::Handshake);
    for rec in [SERVER_TICKET, SERVER_APP, SERVER_ALERT] {
        let r = one(rec);
        s.server_to_client()
            .decrypt(r.content_type, r.version, &r.fragment)
            .unwrap();
        assert_eq!(
            s.server_to_client().epoch(),
            Epoch::Application { generation: 0 }
        );
    }
    assert_eq!(s.server_to_client().sequence(), Some(3));
}

#[test]
fn wrong_key_is_auth_failure_and_gives_up() {
    // The client's secrets given as the server's.
    let log = keylog(&[
        ("SERVER_HANDSHAKE_TRAFFIC_SECRET", C_HS),
        ("SERVER_TRAFFIC_SECRET_0", C_AP),
    ]);
    let mut s = Session::new(&log, &params()).unwrap();
    let r = one(SERVER_FLIGHT);
    let d = s.server_to_client();
    let e = d
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap_err();
    assert_eq!(e, DecryptError::AuthFailure);
    assert_eq!(e.status(), Some(Undecryptable::AuthFailure));
    for _ in 1..crate::decrypt::MAX_CONSECUTIVE_FAILURES {
        assert_eq!(
            d.decrypt(r.content_type, r.version, &r.fragment)
                .unwrap_err(),
            DecryptError::AuthFailure
        );
    }
    assert!(matches!(
        d.decrypt(r.content_type, r.version, &r.fragment),
        Err(DecryptError::GaveUp { .. })
    ));
    // No client secrets at all: that side has no key.
    assert_eq!(
        s.client_to_server()
            .decrypt(23, 0x0303, &[0; 40])
            .unwrap_err(),
        DecryptError::NoKey
    );
}

#[test]
fn unknown_client_random_is_no_key() {
    let mut p = params();
    p.client_random[0] ^= 1;
    assert_eq!(
        Session::new(&full_log(), &p).unwrap_err(),
        Undecryptable::NoKey
    );
}

#[test]
fn unsupported_suite_and_version_are_named() {
    let mut p = params();
    p.cipher_suite = 0x1304; // TLS_AES_128_CCM_SHA256
    let e = Session::new(&full_log(), &p).unwrap_err();
    assert!(
        matches!(&e, Undecryptable::UnsupportedCipher(n) if n.contains("CCM")),
        "{e}"
    );
    p.version = 0x0302;
    assert_eq!(
        Session::new(&full_log(), &p).unwrap_err(),
        Undecryptable::UnsupportedVersion(0x0302)
    );
    // A TLS 1.2 suite with TLS 1.3 is refused too.
    let mut p = params();
    p.cipher_suite = 0xC02F;
    assert!(matches!(
        Session::new(&full_log(), &p),
        Err(Undecryptable::UnsupportedCipher(_))
    ));
    // A 48-byte secret for a SHA-256 suite.
    let long = format!("{S_AP}{}", &S_AP[..32]);
    let log = keylog(&[("SERVER_TRAFFIC_SECRET_0", &long)]);
    assert!(matches!(
        Session::new(&log, &params()),
        Err(Undecryptable::SecretLength {
            expected: 32,
            got: 48,
            ..
        })
    ));
}

/// The tampered record fails, and the untampered one still opens afterwards.
#[test]
fn tampering_is_detected_without_losing_sync() {
    let mut s = Session::new(&full_log(), &params()).unwrap();
    let r = one(SERVER_FLIGHT);
    let mut bad = r.fragment.clone();
    bad[100] ^= 0x80;
    let d = s.server_to_client();
    assert_eq!(
        d.decrypt(r.content_type, r.version, &bad).unwrap_err(),
        DecryptError::AuthFailure
    );
    // Header fields are authenticated (TLS 1.3 AAD).
    assert_eq!(
        d.decrypt(r.content_type, 0x0301, &r.fragment).unwrap_err(),
        DecryptError::AuthFailure
    );
    assert!(d.decrypt(r.content_type, r.version, &r.fragment).is_ok());
}

/// Only the handshake secrets: the handshake decrypts, and after the sender's
/// Finished the direction honestly has no key.
#[test]
fn handshake_secrets_only() {
    let log = keylog(&[
        ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", C_HS),
        ("SERVER_HANDSHAKE_TRAFFIC_SECRET", S_HS),
    ]);
    let mut s = Session::new(&log, &params()).unwrap();
    let r = one(SERVER_FLIGHT);
    assert!(s
        .server_to_client()
        .decrypt(r.content_type, r.version, &r.fragment)
        .is_ok());
    assert_eq!(s.server_to_client().epoch(), Epoch::None);
    let r = one(SERVER_APP);
    let e = s
        .server_to_client()
        .decrypt(r.content_type, r.version, &r.fragment)
        .unwrap_err();
    assert_eq!(
        (e, e.status()),
        (DecryptError::NoKey, Some(Undecryptable::NoKey))
    );
}
