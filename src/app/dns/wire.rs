//! One DNS message, read with `domain`'s lazy view and copied into a small owned
//! [`Msg`]: the header fields the tracker matches on, the first question, and
//! a response's three record sections, every record rendered as text
//! (`rdata.rs`).
//!
//! Permissive like every passive view: a message whose header and question parse
//! is usable even when a later section is cut short (snap length); the damage is
//! reported in [`Msg::damaged`] so the caller can count it.
//!
//! mDNS (RFC 6762) reuses the top bit of a class: in a question it asks for a
//! unicast response (§5.4), in a record it says "flush your cache" (§10.2).
//! With `mdns` set both are taken off the class and reported on their own.

use std::net::IpAddr;

use domain::base::iana::Class;
use domain::base::message::RecordSection;
use domain::base::{Message, ParsedName};

use super::rdata;
use super::DnsAnswer;

/// Most records kept from the answer section (a response has at most a few
/// dozen; the cap bounds memory against hostile counts). The rest are counted
/// by type.
pub(super) const MAX_ANSWERS: usize = 64;
/// Most records kept from the authority and from the additional section.
pub(super) const MAX_EXTRA: usize = 16;
/// Most distinct types counted past a section's cap.
const MAX_OTHER_TYPES: usize = 16;
/// Most answer keys kept to match a response without a question.
const MAX_ANSWER_KEYS: usize = 8;
/// The mDNS bit on top of a class.
const MDNS_CLASS_BIT: u16 = 0x8000;

/// The question: a display form (presentation format, so control bytes are
/// `\DDD` escapes) and a lower-cased matching key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct QKey {
    /// Lower-cased presentation-format name (DNS names are case-insensitive).
    pub name: String,
    /// Query type code.
    pub qtype: u16,
    /// Query class code (for mDNS without its top bit).
    pub qclass: u16,
}

/// What the tracker needs from one message.
#[derive(Debug, Clone, Default)]
pub(super) struct Msg {
    pub id: u16,
    /// The header's flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
    pub flags: u16,
    pub qr: bool,
    pub tc: bool,
    pub rcode: u8,
    /// The question's display forms, or the first answer's when there is no
    /// question (mDNS and NetBIOS-NS responses carry none).
    pub qname: String,
    /// Its type's mnemonic ("A", "AAAA", "TYPE65534").
    pub qtype: String,
    /// Its class's mnemonic ("IN", "CH", "CLASS5").
    pub qclass: String,
    /// mDNS: the question asked for a unicast response.
    pub unicast_response: bool,
    /// The first question's key.
    pub key: Option<QKey>,
    /// Keys (owner, type, class) of the first answers: what a response
    /// without a question answers.
    pub answer_keys: Vec<QKey>,
    /// The response's sections, rendered.
    pub answers: Vec<DnsAnswer>,
    pub authorities: Vec<DnsAnswer>,
    pub additionals: Vec<DnsAnswer>,
    /// mDNS: an answer carried the cache-flush bit.
    pub cache_flush: bool,
    /// NetBIOS-NS: the queried name's suffix byte.
    pub netbios_suffix: Option<u8>,
    /// The opcode's name.
    pub opcode: String,
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
pub(super) fn display_name<O: AsRef<[u8]>>(name: &ParsedName<O>) -> String {
    let s = name.to_string();
    if s.is_empty() {
        ".".to_string()
    } else {
        rdata::safe(s)
    }
}

/// The DNS opcode's name (RFC 1035, 1996, 2136, 8490).
fn opcode_name(code: u8) -> String {
    match code {
        0 => "QUERY".to_string(),
        1 => "IQUERY".to_string(),
        2 => "STATUS".to_string(),
        4 => "NOTIFY".to_string(),
        5 => "UPDATE".to_string(),
        6 => "DSO".to_string(),
        n => format!("OPCODE{n}"),
    }
}

/// Parses one message (`mdns`: the class bits of RFC 6762 are read as such).
/// `Err` when even the header or question is unusable.
pub(super) fn parse(bytes: &[u8], mdns: bool) -> Result<Msg, WireError> {
    let msg = Message::from_octets(bytes).map_err(|_| WireError::ShortHeader)?;
    let h = msg.header();
    let flags = match bytes {
        [_, _, a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => return Err(WireError::ShortHeader),
    };
    let mut out = Msg {
        id: h.id(),
        flags,
        qr: h.qr(),
        tc: h.tc(),
        rcode: h.rcode().to_int(),
        opcode: opcode_name(h.opcode().to_int()),
        ..Msg::default()
    };
    if msg.header_counts().qdcount() > 0 {
        match msg.question().next() {
            Some(Ok(q)) => {
                let qname = display_name(q.qname());
                let mut qclass = q.qclass().to_int();
                if mdns && qclass & MDNS_CLASS_BIT != 0 {
                    qclass &= !MDNS_CLASS_BIT;
                    out.unicast_response = true;
                }
                out.key = Some(QKey {
                    name: qname.to_ascii_lowercase(),
                    qtype: q.qtype().to_int(),
                    qclass,
                });
                out.qtype = q.qtype().to_string();
                out.qclass = Class::from_int(qclass).to_string();
                out.qname = qname;
            }
            Some(Err(_)) | None => return Err(WireError::BadQuestion),
        }
    }
    if !out.qr {
        return Ok(out);
    }
    let mut section = match msg.answer() {
        Ok(s) => s,
        Err(_) => {
            out.damaged = true;
            return Ok(out);
        }
    };
    // Only a response without a question is matched by its answers.
    let mut keys = out.key.is_none().then_some(&mut out.answer_keys);
    for (i, cap) in [MAX_ANSWERS, MAX_EXTRA, MAX_EXTRA].into_iter().enumerate() {
        let target = match i {
            0 => &mut out.answers,
            1 => &mut out.authorities,
            _ => &mut out.additionals,
        };
        let whole = read_section(
            section,
            cap,
            mdns,
            target,
            keys.take(),
            (&mut out.cache_flush, &mut out.damaged),
        );
        if !whole {
            out.damaged = true;
            break;
        }
        section = match section.next_section() {
            Ok(Some(s)) => s,
            Ok(None) => break,
            Err(_) => {
                out.damaged = true;
                break;
            }
        };
    }
    if out.key.is_none() {
        // No question (mDNS, NetBIOS-NS responses): named by its first answer.
        if let Some(first) = out.answers.first() {
            out.qname = first.name().unwrap_or_default().to_string();
            out.qtype = first.rtype().to_string();
            out.qclass = "IN".to_string();
        }
    }
    Ok(out)
}

/// Renders the records of one section into `out` (at most `cap`, the rest
/// counted by type); `false` when the section is cut or malformed (a record
/// whose data does not parse as its type only sets `damaged`).
fn read_section(
    section: RecordSection<'_, &[u8]>,
    cap: usize,
    mdns: bool,
    out: &mut Vec<DnsAnswer>,
    mut keys: Option<&mut Vec<QKey>>,
    (cache_flush, damaged): (&mut bool, &mut bool),
) -> bool {
    let mut ok = true;
    let mut kept = 0usize;
    let mut others: Vec<(String, u32)> = Vec::new();
    for rec in section {
        let Ok(rec) = rec else {
            ok = false;
            break;
        };
        let rtype = rec.rtype();
        let mut class = rec.class().to_int();
        if mdns && class & MDNS_CLASS_BIT != 0 && rtype != domain::base::Rtype::OPT {
            class &= !MDNS_CLASS_BIT;
            *cache_flush = true;
        }
        if kept >= cap {
            let name = rtype.to_string();
            if let Some(entry) = others.iter_mut().find(|(n, _)| *n == name) {
                entry.1 = entry.1.saturating_add(1);
            } else if others.len() < MAX_OTHER_TYPES {
                others.push((name, 1));
            }
            continue;
        }
        let Ok(r) = rdata::render(&rec) else {
            *damaged = true;
            continue;
        };
        let name = display_name(&rec.owner());
        if let Some(keys) = keys.as_deref_mut() {
            if keys.len() < MAX_ANSWER_KEYS {
                keys.push(QKey {
                    name: name.to_ascii_lowercase(),
                    qtype: rtype.to_int(),
                    qclass: class,
                });
            }
        }
        let rtype = rtype.to_string();
        let ttl = rec.ttl().as_secs();
        kept += 1;
        out.push(match r.rdata {
            None => DnsAnswer::Record {
                name,
                rtype,
                ttl,
                data: r.data,
            },
            Some(rdata) => DnsAnswer::Detailed {
                name,
                rtype,
                ttl,
                data: r.data,
                rdata,
            },
        });
    }
    out.extend(
        others
            .into_iter()
            .map(|(rtype, count)| DnsAnswer::Summary { rtype, count }),
    );
    ok
}

/// The addresses among `answers`.
pub(super) fn addresses(answers: &[DnsAnswer]) -> Vec<IpAddr> {
    answers
        .iter()
        .filter_map(|a| match a {
            DnsAnswer::Record { rtype, data, .. } if rtype == "A" || rtype == "AAAA" => {
                data.parse().ok()
            }
            DnsAnswer::Record { rtype, data, .. } if rtype == "NB" => {
                data.split(' ').next().and_then(|a| a.parse().ok())
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
