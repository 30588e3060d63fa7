//! One DNS message, read with `domain`'s lazy view and copied into a small owned
//! [`Msg`]: the header fields the tracker matches on, the first question, and the
//! answer section (A, AAAA and CNAME in full, other types counted).
//!
//! Permissive like every passive view: a message whose header and question parse
//! is usable even when its answer section is cut short (snap length); the damage is
//! reported in [`Msg::damaged`] so the caller can count it.

use std::net::IpAddr;

use domain::base::iana::{Class, Rtype};
use domain::base::{Message, ParsedName};
use domain::rdata::{Aaaa, Cname, A};

use super::DnsAnswer;

/// Most A/AAAA/CNAME answers kept per response (a response has at most a few
/// dozen; the cap bounds memory against hostile answer counts).
const MAX_ANSWERS: usize = 64;
/// Most distinct "other" record types summarised per response.
const MAX_OTHER_TYPES: usize = 16;

/// The question: a display form (presentation format, so control bytes are
/// `\DDD` escapes) and a lower-cased matching key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct QKey {
    /// Lower-cased presentation-format name (DNS names are case-insensitive).
    pub name: String,
    /// Query type code.
    pub qtype: u16,
    /// Query class code.
    pub qclass: u16,
}

/// What the tracker needs from one message.
#[derive(Debug, Clone)]
pub(super) struct Msg {
    pub id: u16,
    pub qr: bool,
    pub tc: bool,
    pub rcode: u8,
    /// The first question, as displayed (presentation format, escaped).
    pub qname: String,
    /// Its type's mnemonic ("A", "AAAA", "TYPE65534").
    pub qtype: String,
    /// The first question's key.
    pub key: Option<QKey>,
    /// Parsed answers (responses only).
    pub answers: Vec<DnsAnswer>,
    /// Some part after the question failed to parse.
    pub damaged: bool,
}

/// Why a message could not be used at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WireError {
    /// Shorter than the 12-byte header.
    ShortHeader,
    /// The question section does not parse (bad label, compression loop, long name).
    BadQuestion,
}

/// Displays a parsed name in presentation format; `domain` escapes bytes outside
/// printable ASCII as `\DDD`, so the result is safe to print.
fn display_name<O: AsRef<[u8]>>(name: &ParsedName<O>) -> String {
    let s = name.to_string();
    if s.is_empty() {
        ".".to_string()
    } else {
        s
    }
}

/// Parses one message. `Err` when even the header or question is unusable.
pub(super) fn parse(bytes: &[u8]) -> Result<Msg, WireError> {
    let msg = Message::from_octets(bytes).map_err(|_| WireError::ShortHeader)?;
    let h = msg.header();
    let mut out = Msg {
        id: h.id(),
        qr: h.qr(),
        tc: h.tc(),
        rcode: h.rcode().to_int(),
        qname: String::new(),
        qtype: String::new(),
        key: None,
        answers: Vec::new(),
        damaged: false,
    };
    if msg.header_counts().qdcount() > 0 {
        match msg.question().next() {
            Some(Ok(q)) => {
                let qname = display_name(q.qname());
                out.key = Some(QKey {
                    name: qname.to_ascii_lowercase(),
                    qtype: q.qtype().to_int(),
                    qclass: q.qclass().to_int(),
                });
                out.qtype = q.qtype().to_string();
                out.qname = qname;
            }
            Some(Err(_)) | None => return Err(WireError::BadQuestion),
        }
    }
    if !out.qr {
        return Ok(out);
    }
    let section = match msg.answer() {
        Ok(s) => s,
        Err(_) => {
            out.damaged = true;
            return Ok(out);
        }
    };
    let mut others: Vec<(String, u32)> = Vec::new();
    for rec in section {
        let Ok(rec) = rec else {
            out.damaged = true;
            break;
        };
        if rec.class() != Class::IN && rec.rtype() != Rtype::CNAME {
            continue;
        }
        let ttl = rec.ttl().as_secs();
        let kept = out.answers.iter().filter(|a| a.is_record()).count();
        let full = |data: String, name: String, rtype: &str| DnsAnswer::Record {
            name,
            rtype: rtype.to_string(),
            ttl,
            data,
        };
        match rec.rtype() {
            Rtype::A if kept < MAX_ANSWERS => match rec.to_record::<A>() {
                Ok(Some(r)) => out.answers.push(full(
                    r.data().addr().to_string(),
                    display_name(r.owner()),
                    "A",
                )),
                _ => out.damaged = true,
            },
            Rtype::AAAA if kept < MAX_ANSWERS => match rec.to_record::<Aaaa>() {
                Ok(Some(r)) => out.answers.push(full(
                    r.data().addr().to_string(),
                    display_name(r.owner()),
                    "AAAA",
                )),
                _ => out.damaged = true,
            },
            Rtype::CNAME if kept < MAX_ANSWERS => {
                match rec.to_record::<Cname<ParsedName<&[u8]>>>() {
                    Ok(Some(r)) => out.answers.push(full(
                        display_name(r.data().cname()),
                        display_name(r.owner()),
                        "CNAME",
                    )),
                    _ => out.damaged = true,
                }
            }
            other => {
                let name = other.to_string();
                if let Some(entry) = others.iter_mut().find(|(n, _)| *n == name) {
                    entry.1 = entry.1.saturating_add(1);
                } else if others.len() < MAX_OTHER_TYPES {
                    others.push((name, 1));
                }
            }
        }
    }
    out.answers.extend(
        others
            .into_iter()
            .map(|(rtype, count)| DnsAnswer::Summary { rtype, count }),
    );
    Ok(out)
}

/// The addresses among `answers`.
pub(super) fn addresses(answers: &[DnsAnswer]) -> Vec<IpAddr> {
    answers
        .iter()
        .filter_map(|a| match a {
            DnsAnswer::Record { rtype, data, .. } if rtype == "A" || rtype == "AAAA" => {
                data.parse().ok()
            }
            _ => None,
        })
        .collect()
}

/// The mnemonic of a header response code (RFC 1035, 2136, 6895).
pub(super) fn rcode_name(code: u8) -> String {
    let s = match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        n => return format!("RCODE{n}"),
    };
    s.to_string()
}
