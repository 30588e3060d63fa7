//! DNS recognised by content, on any port: a local dnsmasq on 5353 or 15353,
//! CoreDNS on 1053, a sidecar resolver on 8600.
//!
//! A flow is DNS when its first client message is a plausible DNS *query*
//! (RFC 1035 §4.1, RFC 6891 for OPT), checked strictly enough that random
//! bytes, QUIC, SSDP or a game protocol practically never pass:
//! * QR = 0, opcode 0 (QUERY), AA = TC = RA = 0, Z = 0, RCODE = 0 (RD, AD and
//!   CD may be set: `dig` sets AD);
//! * QDCOUNT = 1, ANCOUNT = 0, NSCOUNT = 0, ARCOUNT 0 or 1;
//! * the question's name is plain labels (1..=63 bytes each, no compression
//!   pointer: a query has nothing to point back to), at most 255 bytes, then a
//!   type other than 0 and a class IN, CH, HS, NONE or ANY (the top bit, mDNS's
//!   unicast-response flag, ignored);
//! * the one additional record, when present, is an OPT (root owner, type 41)
//!   whose data ends with the datagram;
//! * the message ends exactly where its sections end.
//!
//! Over TCP the same check runs on the first length-prefixed message, which
//! must be whole in the client's first bytes (a query is a few dozen bytes and
//! travels in one segment; a stream that starts with less is not recognised,
//! a documented limitation).

/// Header length.
const HEADER: usize = 12;
/// Longest name in wire format (RFC 1035 §3.1).
const MAX_NAME: usize = 255;
/// The OPT pseudo-record's type (RFC 6891).
const OPT: u16 = 41;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at.checked_add(2)?) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

/// Whether `msg` is a plausible DNS query (see the module doc). Cheap: reads
/// the header, one name and at most one OPT record.
pub fn looks_like_dns_query(msg: &[u8]) -> bool {
    query_end(msg) == Some(msg.len())
}

/// Whether a TCP client's first bytes start with a length-prefixed plausible
/// DNS query (later pipelined messages may follow it).
pub fn looks_like_dns_tcp(first_bytes: &[u8]) -> bool {
    let Some(len) = be16(first_bytes, 0) else {
        return false;
    };
    first_bytes
        .get(2..2 + usize::from(len))
        .is_some_and(looks_like_dns_query)
}

/// Where a plausible query ends, or `None` when `msg` is not one.
fn query_end(msg: &[u8]) -> Option<usize> {
    let flags = be16(msg, 2)?;
    // QR, opcode (4 bits), AA, TC set; RA, Z set; RCODE not 0.
    if flags & 0xfe00 != 0 || flags & 0x00c0 != 0 || flags & 0x000f != 0 {
        return None;
    }
    let (qd, an, ns, ar) = (be16(msg, 4)?, be16(msg, 6)?, be16(msg, 8)?, be16(msg, 10)?);
    if qd != 1 || an != 0 || ns != 0 || ar > 1 {
        return None;
    }
    let mut at = HEADER;
    let name_start = at;
    loop {
        let len = usize::from(*msg.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
        if at - name_start >= MAX_NAME {
            return None;
        }
    }
    let qtype = be16(msg, at)?;
    let qclass = be16(msg, at + 2)? & 0x7fff;
    if qtype == 0 || !matches!(qclass, 1 | 3 | 4 | 254 | 255) {
        return None;
    }
    at += 4;
    if ar == 1 {
        // OPT: root owner, type 41, class (payload size), TTL (flags), RDLEN.
        if *msg.get(at)? != 0 || be16(msg, at + 1)? != OPT {
            return None;
        }
        let rdlen = usize::from(be16(msg, at + 9)?);
        at += 11 + rdlen;
    }
    (at <= msg.len()).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn query(flags: u16, ar: u16, name: &[&str], qtype: u16) -> Vec<u8> {
        let mut m = Vec::new();
        for v in [0x1234, flags, 1, 0, 0, ar] {
            m.extend_from_slice(&u16::to_be_bytes(v));
        }
        for l in name {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    }

    fn with_opt(mut m: Vec<u8>, rdata: &[u8]) -> Vec<u8> {
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
        m
    }

    #[test]
    fn real_queries_pass() {
        let q = query(0x0100, 0, &["api", "svc", "cluster", "local"], 1);
        assert!(looks_like_dns_query(&q));
        // dig: RD + AD, an OPT record with a cookie option.
        let q = with_opt(
            query(0x0120, 1, &["example", "com"], 28),
            &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8],
        );
        assert!(looks_like_dns_query(&q));
        // The root name, type NS.
        assert!(looks_like_dns_query(&query(0x0100, 0, &[], 2)));
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        assert!(looks_like_dns_tcp(&framed));
        framed.extend_from_slice(&[0, 5, 1]); // a second message starting
        assert!(looks_like_dns_tcp(&framed));
        assert!(!looks_like_dns_tcp(&framed[..framed.len() - 5]));
    }

    #[test]
    fn responses_and_odd_messages_fail() {
        let ok = query(0x0100, 0, &["a", "example"], 1);
        assert!(
            !looks_like_dns_query(&query(0x8180, 0, &["a", "example"], 1)),
            "a response"
        );
        assert!(
            !looks_like_dns_query(&query(0x2800, 0, &["a", "example"], 6)),
            "an UPDATE"
        );
        assert!(
            !looks_like_dns_query(&query(0x0100, 0, &["a", "example"], 0)),
            "type 0"
        );
        let mut trailing = ok.clone();
        trailing.push(0);
        assert!(!looks_like_dns_query(&trailing), "bytes after the question");
        assert!(!looks_like_dns_query(&ok[..ok.len() - 1]), "cut");
        let mut pointer = ok.clone();
        pointer[12] = 0xc0;
        assert!(!looks_like_dns_query(&pointer), "compression in a query");
        let bad_opt = with_opt(query(0x0100, 1, &["a"], 1), &[1, 2]);
        let mut cut_opt = bad_opt.clone();
        cut_opt.pop();
        assert!(looks_like_dns_query(&bad_opt));
        assert!(!looks_like_dns_query(&cut_opt));
        let long: Vec<String> = (0..5).map(|_| "x".repeat(63)).collect();
        let long: Vec<&str> = long.iter().map(String::as_str).collect();
        assert!(
            !looks_like_dns_query(&query(0x0100, 0, &long, 1)),
            "name over 255"
        );
    }

    #[test]
    fn other_udp_protocols_fail() {
        // SSDP discovery.
        let ssdp = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
        assert!(!looks_like_dns_query(ssdp));
        // A QUIC v1 Initial: long header, version 1, connection ids, padding.
        let mut quic = vec![
            0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x44, 0xe6,
        ];
        quic.resize(1200, 0);
        assert!(!looks_like_dns_query(&quic));
        // NTP client request; a STUN binding request.
        let mut ntp = vec![0x23];
        ntp.resize(48, 0);
        assert!(!looks_like_dns_query(&ntp));
        let stun = [
            0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ];
        assert!(!looks_like_dns_query(&stun));
        assert!(!looks_like_dns_query(&[]));
        assert!(!looks_like_dns_tcp(b"GET / HTTP/1.1\r\n\r\n"));
    }

    proptest! {
        /// Random datagrams practically never look like a query: the header
        /// alone pins about 60 bits.
        #[test]
        fn random_bytes_rarely_pass(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert!(!looks_like_dns_query(&data));
            prop_assert!(!looks_like_dns_tcp(&data));
        }
    }
}
