//! Issue 16, STARTTLS: builder-made sessions of every protocol that upgrade
//! to TLS (a `tls` record naming the protocol, an ssl.log row with the
//! connection's uid), a refused upgrade (no record, nothing broken) and
//! garbage after the grant.

use serde_json::Value;

use crate::util::conv::Conv;
use crate::util::hello::{client_hello_body, handshake, server_hello_body, tls_record};
use crate::util::zeek::{read_log, write_logs};
use crate::util::{analyze_records, write_file};

/// A plaintext script: (sent by the server, bytes).
type Script<'a> = &'a [(bool, &'a [u8])];

fn client_hello() -> Vec<u8> {
    tls_record(
        22,
        &handshake(1, &client_hello_body(0x0303, "mail.example.com", None)),
    )
}

fn server_flight() -> Vec<u8> {
    let flight = [handshake(2, &server_hello_body(0x0303)), handshake(14, &[])].concat();
    tls_record(22, &flight)
}

/// A session on `port`: the plaintext script (`true` = server), then, when
/// `tls`, a ClientHello and the server's hello flight, then FINs.
fn session(port: u16, script: &[(bool, &[u8])], tls: bool) -> Vec<u8> {
    let mut conv = Conv::new(40100, port);
    conv.at(0.0).handshake(0.001);
    let mut t = 0.01;
    for (server, bytes) in script {
        conv.at(t);
        if *server {
            conv.s("P.", bytes);
        } else {
            conv.c("P.", bytes);
        }
        t += 0.01;
    }
    if tls {
        conv.at(t).c("P.", &client_hello());
        conv.at(t + 0.01).s("P.", &server_flight());
        t += 0.02;
    }
    conv.at(t).c("F.", &[]).s("F.", &[]).c(".", &[]);
    conv.pcap()
}

fn records(pcap: &[u8]) -> (tempfile::TempDir, Vec<Value>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "cap.pcap", pcap);
    let recs = analyze_records(&file, &[]);
    (dir, recs)
}

fn tls_of(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "tls").collect()
}

const SMTP: &[(bool, &[u8])] = &[
    (true, b"220 mail.example.com ESMTP\r\n"),
    (false, b"EHLO client.example.com\r\n"),
    (
        true,
        b"250-mail.example.com\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
    ),
    (false, b"STARTTLS\r\n"),
    (true, b"220 2.0.0 Ready to start TLS\r\n"),
];

#[test]
fn starttls_smtp_upgrade_is_a_tls_record_and_an_ssl_log_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(dir.path(), "cap.pcap", &session(25, SMTP, true));
    let recs = analyze_records(&file, &[]);
    let tls = tls_of(&recs);
    assert_eq!(tls.len(), 1, "{recs:?}");
    assert_eq!(tls[0]["starttls"], "smtp");
    assert_eq!(tls[0]["sni"], "mail.example.com");
    assert_eq!(tls[0]["version"], "TLS 1.2");
    assert_eq!(tls[0]["ssl_history"], "Csn");
    let logs = write_logs(&file, dir.path());
    let rows = |name: &str| read_log(&logs, name);
    let (conn, ssl) = (rows("conn"), rows("ssl"));
    assert_eq!((conn.len(), ssl.len()), (1, 1));
    assert_eq!(conn[0]["uid"], ssl[0]["uid"], "the same uid");
    // conn.log's service: the plaintext protocol, then the TLS it upgraded to.
    assert_eq!(conn[0]["service"], "smtp,ssl");
    assert_eq!(ssl[0]["server_name"], "mail.example.com");
}

#[test]
fn starttls_on_any_port_by_the_greeting() {
    let (_d, recs) = records(&session(10025, SMTP, true));
    assert_eq!(tls_of(&recs)[0]["starttls"], "smtp");
}

#[test]
fn starttls_every_protocol() {
    let pg: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let cases: &[(u16, Script, &str)] = &[
        (
            143,
            &[
                (true, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
                (false, b"a001 STARTTLS\r\n"),
                (true, b"a001 OK Begin TLS negotiation now\r\n"),
            ],
            "imap",
        ),
        (
            110,
            &[(true, b"+OK POP3 ready\r\n"), (false, b"STLS\r\n"), (true, b"+OK Begin TLS\r\n")],
            "pop3",
        ),
        (
            21,
            &[
                (true, b"220 (vsFTPd 3.0.3)\r\n"),
                (false, b"AUTH TLS\r\n"),
                (true, b"234 Proceed with negotiation.\r\n"),
            ],
            "ftp",
        ),
        (
            5222,
            &[
                (false, b"<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"),
                (true, b"<?xml version='1.0'?><stream:stream id='1' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"),
                (false, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
                (true, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
            ],
            "xmpp",
        ),
        (
            6667,
            &[
                (false, b"STARTTLS\r\n"),
                (true, b":irc.example.net 670 * :STARTTLS successful, proceed with TLS handshake\r\n"),
            ],
            "irc",
        ),
        (5432, &[(false, pg), (true, b"S")], "postgresql"),
    ];
    for (port, script, name) in cases {
        let (_d, recs) = records(&session(*port, script, true));
        let tls = tls_of(&recs);
        assert_eq!(tls.len(), 1, "{name}: {recs:?}");
        assert_eq!(tls[0]["starttls"], *name);
        assert_eq!(tls[0]["sni"], "mail.example.com", "{name}");
    }
}

#[test]
fn starttls_refused_gives_no_tls_record() {
    let script: &[(bool, &[u8])] = &[
        (true, b"220 mail.example.com ESMTP\r\n"),
        (false, b"EHLO c\r\n"),
        (true, b"250 mail.example.com\r\n"),
        (false, b"STARTTLS\r\n"),
        (
            true,
            b"454 4.7.0 TLS not available due to local problem\r\n",
        ),
        (false, b"MAIL FROM:<a@example.com>\r\n"),
        (true, b"250 2.1.0 Ok\r\n"),
        (false, b"QUIT\r\n"),
        (true, b"221 2.0.0 Bye\r\n"),
    ];
    let (_d, recs) = records(&session(25, script, false));
    assert!(tls_of(&recs).is_empty(), "{recs:?}");
    let conns: Vec<&Value> = recs.iter().filter(|r| r["type"] == "connection").collect();
    assert_eq!(conns.len(), 1, "the connection is still reported");
}

#[test]
fn starttls_garbage_after_the_grant_does_not_break_anything() {
    let mut script = SMTP.to_vec();
    script.push((false, b"\x16\x03\x01\xff\xff not tls at all\r\n"));
    script.push((true, b"\x00\x01\x02\x1b[31m"));
    let (_d, recs) = records(&session(25, &script, false));
    assert!(tls_of(&recs).is_empty(), "no ClientHello: no record");
    let mut cut = client_hello();
    cut.truncate(20);
    let mut script = SMTP.to_vec();
    script.push((false, &cut));
    let (_d, recs) = records(&session(25, &script, false));
    assert!(tls_of(&recs).is_empty(), "a cut ClientHello: no record");
}
