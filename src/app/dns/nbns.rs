//! NetBIOS Name Service (RFC 1001 §15, RFC 1002 §4.2) on UDP port 137: the
//! DNS message layout with NetBIOS names, read by hand into the tracker's
//! [`Msg`] so NBNS queries and answers become records like DNS lookups.
//!
//! A NetBIOS name is 16 bytes (15 characters padded with spaces, then a suffix
//! byte naming the service: 0x00 workstation, 0x20 file server, 0x1d master
//! browser ...). On the wire it is one 32-byte label in "first-level
//! encoding": each half-byte plus `'A'`, so `A`..`P`; a NetBIOS scope, when
//! used, follows as ordinary labels. A name that is not such a label is shown
//! as its raw label bytes, escaped.
//!
//! The header is DNS's: the same id, counts and AA/TC/RD/RA bits; the opcode
//! says query (0), registration (5), release (6), WACK (7) or refresh (8, 9);
//! bit 0x0010 (DNS's CD) is the broadcast flag. Answers: NB records (type 32)
//! hold one or more (flags, IPv4 address) pairs, each an answer of its own
//! (`192.168.1.10 unique B-node`); a node status (NBSTAT, type 33) answer
//! lists the node's names and its MAC address.
//!
//! Like the DNS view, permissive and bounded: a cut section sets `damaged`,
//! names follow at most [`MAX_POINTERS`] compression pointers, every string
//! is printable ASCII.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::rdata::text;
use super::wire::{Msg, QKey, WireError, MAX_ANSWERS, MAX_EXTRA};
use super::DnsAnswer;

/// Header length.
const HEADER: usize = 12;
/// Most compression pointers followed in one name.
const MAX_POINTERS: usize = 8;
/// Longest name in wire format.
const MAX_NAME: usize = 255;
/// The NB (general name service) record type.
pub(super) const NB: u16 = 0x0020;
/// The NBSTAT (node status) record type.
pub(super) const NBSTAT: u16 = 0x0021;
/// Most names listed from a node status answer.
const MAX_STATUS_NAMES: usize = 32;
/// Most answer keys kept to match a response.
const MAX_ANSWER_KEYS: usize = 8;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at.checked_add(2)?) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at.checked_add(4)?) {
        Some(&[a, c, d, e]) => Some(u32::from_be_bytes([a, c, d, e])),
        _ => None,
    }
}

/// A name read from a message: its labels, and where the bytes after it start.
struct WireName {
    labels: Vec<Vec<u8>>,
    end: usize,
}

/// Reads the name at `at`, following compression pointers backwards only.
fn read_name(msg: &[u8], at: usize) -> Option<WireName> {
    let mut labels = Vec::new();
    let mut pos = at;
    let mut end = None;
    let mut total = 0usize;
    for _ in 0..=MAX_POINTERS {
        loop {
            let len = *msg.get(pos)?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    return Some(WireName {
                        labels,
                        end: end.unwrap_or(pos + 1),
                    });
                }
                0x00 => {
                    let label = msg.get(pos + 1..pos + 1 + usize::from(len))?;
                    total += label.len() + 1;
                    if total > MAX_NAME {
                        return None;
                    }
                    labels.push(label.to_vec());
                    pos += 1 + label.len();
                }
                0xc0 => {
                    let target = usize::from(be16(msg, pos)? & 0x3fff);
                    if target >= pos {
                        return None; // forward or self pointer: a loop
                    }
                    end.get_or_insert(pos + 2);
                    pos = target;
                    break;
                }
                _ => return None,
            }
        }
    }
    None
}

/// A decoded NetBIOS name: the 15 characters without padding, the suffix,
/// the scope (`None` suffix when the first label is not a first-level
/// encoding).
struct NbName {
    name: String,
    suffix: Option<u8>,
    scope: String,
}

impl NbName {
    fn of(labels: &[Vec<u8>]) -> NbName {
        let scope: Vec<String> = labels.iter().skip(1).map(|l| text(l)).collect();
        let scope = scope.join(".");
        let first = labels.first().map(Vec::as_slice).unwrap_or_default();
        match decode(first) {
            Some(raw) => {
                let (chars, suffix) = raw.split_at(15);
                let trimmed = trim_padding(chars);
                NbName {
                    name: text(trimmed),
                    suffix: suffix.first().copied(),
                    scope,
                }
            }
            None => NbName {
                name: text(first),
                suffix: None,
                scope,
            },
        }
    }

    /// The queried name as records show it: `NAME`, or `NAME.scope`.
    fn qname(&self) -> String {
        let name = if self.name.is_empty() && self.suffix.is_some() {
            "*".to_string()
        } else {
            self.name.clone()
        };
        if self.scope.is_empty() {
            name
        } else {
            format!("{name}.{}", self.scope)
        }
    }

    /// The name with its suffix, as Wireshark shows it: `NAME<20>`.
    fn display(&self) -> String {
        match self.suffix {
            Some(s) => {
                let mut out = format!("{}<{s:02x}>", self.qname_part());
                if !self.scope.is_empty() {
                    let _ = write!(out, ".{}", self.scope);
                }
                out
            }
            None => self.qname(),
        }
    }

    fn qname_part(&self) -> String {
        if self.name.is_empty() {
            "*".to_string()
        } else {
            self.name.clone()
        }
    }
}

/// The wildcard name `*` is sent as `*` then fifteen NUL bytes; ordinary
/// names are padded with spaces.
fn trim_padding(chars: &[u8]) -> &[u8] {
    let end = chars
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    &chars[..end]
}

/// First-level decoding: 32 bytes `A`..`P` (either case) to 16 bytes.
pub(super) fn decode(label: &[u8]) -> Option<[u8; 16]> {
    if label.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(label.chunks_exact(2)) {
        let hi = pair.first()?.to_ascii_uppercase().checked_sub(b'A')?;
        let lo = pair.get(1)?.to_ascii_uppercase().checked_sub(b'A')?;
        if hi > 15 || lo > 15 {
            return None;
        }
        *o = (hi << 4) | lo;
    }
    Some(out)
}

/// The NBNS opcode's name (RFC 1002 §4.2.1.1).
fn opcode_name(code: u8) -> String {
    match code {
        0 => "QUERY".to_string(),
        5 => "REGISTRATION".to_string(),
        6 => "RELEASE".to_string(),
        7 => "WACK".to_string(),
        8 | 9 => "REFRESH".to_string(),
        15 => "MULTIHOMED_REGISTRATION".to_string(),
        n => format!("OPCODE{n}"),
    }
}

/// An NBNS record type's name.
pub(super) fn type_name(t: u16) -> String {
    match t {
        NB => "NB".to_string(),
        NBSTAT => "NBSTAT".to_string(),
        0x0001 => "A".to_string(),
        0x0002 => "NS".to_string(),
        0x000a => "NULL".to_string(),
        n => format!("TYPE{n}"),
    }
}

fn class_name(c: u16) -> String {
    match c {
        1 => "IN".to_string(),
        n => format!("CLASS{n}"),
    }
}

/// The key a question or answer name is matched on.
fn key(name: &NbName, qtype: u16, qclass: u16) -> QKey {
    QKey {
        name: name.display().to_ascii_lowercase(),
        qtype,
        qclass,
    }
}

/// Parses one NBNS message. `Err` when the header or question is unusable.
pub(super) fn parse(bytes: &[u8]) -> Result<Msg, WireError> {
    let (Some(id), Some(flags)) = (be16(bytes, 0), be16(bytes, 2)) else {
        return Err(WireError::ShortHeader);
    };
    let counts: Vec<u16> = (0..4).filter_map(|i| be16(bytes, 4 + 2 * i)).collect();
    let &[qd, an, ns, ar] = counts.as_slice() else {
        return Err(WireError::ShortHeader);
    };
    let mut out = Msg {
        id,
        flags,
        qr: flags & 0x8000 != 0,
        tc: flags & 0x0200 != 0,
        rcode: (flags & 0x000f) as u8,
        opcode: opcode_name(((flags >> 11) & 0x0f) as u8),
        ..Msg::default()
    };
    let mut at = HEADER;
    if qd > 0 {
        let name = read_name(bytes, at).ok_or(WireError::BadQuestion)?;
        let (Some(qtype), Some(qclass)) = (be16(bytes, name.end), be16(bytes, name.end + 2)) else {
            return Err(WireError::BadQuestion);
        };
        let nb = NbName::of(&name.labels);
        out.key = Some(key(&nb, qtype, qclass));
        out.qname = nb.qname();
        out.netbios_suffix = nb.suffix;
        out.qtype = type_name(qtype);
        out.qclass = class_name(qclass);
        at = name.end + 4;
        // Further questions (never sent in practice) are skipped.
        for _ in 1..qd {
            match read_name(bytes, at) {
                Some(n) if n.end + 4 <= bytes.len() => at = n.end + 4,
                _ => {
                    out.damaged = true;
                    return Ok(out);
                }
            }
        }
    }
    if !out.qr {
        return Ok(out);
    }
    let mut first_name = None;
    for (count, cap, section) in [(an, MAX_ANSWERS, 0), (ns, MAX_EXTRA, 1), (ar, MAX_EXTRA, 2)] {
        for _ in 0..count {
            let Some((next, name, answers)) = record(bytes, at) else {
                out.damaged = true;
                return Ok(finish(out, first_name));
            };
            at = next;
            if section == 0 {
                if out.answer_keys.len() < MAX_ANSWER_KEYS {
                    out.answer_keys.push(key(&name.0, name.1, name.2));
                }
                first_name.get_or_insert(name.0);
            }
            let target = match section {
                0 => &mut out.answers,
                1 => &mut out.authorities,
                _ => &mut out.additionals,
            };
            for a in answers {
                if target.len() < cap {
                    target.push(a);
                }
            }
        }
    }
    Ok(finish(out, first_name))
}

/// A response without a question is named by its first answer.
fn finish(mut out: Msg, first: Option<NbName>) -> Msg {
    if out.key.is_none() {
        if let (Some(name), Some(a)) = (first, out.answers.first()) {
            out.qname = name.qname();
            out.netbios_suffix = name.suffix;
            out.qtype = a.rtype().to_string();
            out.qclass = "IN".to_string();
        }
    }
    out
}

/// The decoded name, type and class of a record.
type RrName = (NbName, u16, u16);

/// One resource record at `at`: where the next starts, its name, and its
/// answers (one per address for NB).
fn record(msg: &[u8], at: usize) -> Option<(usize, RrName, Vec<DnsAnswer>)> {
    let name = read_name(msg, at)?;
    let p = name.end;
    let (rtype, class, ttl, len) = (
        be16(msg, p)?,
        be16(msg, p + 2)?,
        be32(msg, p + 4)?,
        usize::from(be16(msg, p + 8)?),
    );
    let rdata = msg.get(p + 10..p + 10 + len)?;
    let nb = NbName::of(&name.labels);
    let owner = nb.display();
    let rec = |data: String| DnsAnswer::Record {
        name: owner.clone(),
        rtype: type_name(rtype),
        ttl,
        data,
    };
    let answers = match rtype {
        NB => rdata
            .chunks_exact(6)
            .take(MAX_ANSWERS)
            .map(|e| {
                let flags = u16::from_be_bytes([e[0], e[1]]);
                let addr = Ipv4Addr::new(e[2], e[3], e[4], e[5]);
                rec(format!("{addr} {}", nb_flags(flags)))
            })
            .collect(),
        NBSTAT => vec![rec(node_status(rdata))],
        _ => {
            let mut hex = String::new();
            for b in rdata.iter().take(64) {
                let _ = write!(hex, "{b:02x}");
            }
            vec![rec(format!("\\# {} {hex}", rdata.len()))]
        }
    };
    Some((p + 10 + len, (nb, rtype, class), answers))
}

/// NB_FLAGS: group or unique, and the owner node type (B, P, M, H).
fn nb_flags(flags: u16) -> String {
    let group = if flags & 0x8000 != 0 {
        "group"
    } else {
        "unique"
    };
    let node = ["B", "P", "M", "H"][usize::from((flags >> 13) & 0x3)];
    format!("{group} {node}-node")
}

/// A node status answer: `NAME<xx>` (`:group` for group names) per name,
/// then `mac=` the unit id that opens the statistics.
fn node_status(d: &[u8]) -> String {
    let Some((&n, rest)) = d.split_first() else {
        return "(empty)".to_string();
    };
    let mut out = Vec::new();
    let mut pos = 0usize;
    for _ in 0..n {
        let Some(entry) = rest.get(pos..pos + 18) else {
            out.push("(cut)".to_string());
            break;
        };
        pos += 18;
        if out.len() == MAX_STATUS_NAMES {
            continue;
        }
        let (name, flags) = entry.split_at(16);
        let suffix = name.get(15).copied().unwrap_or(0);
        let shown = text(trim_padding(name.get(..15).unwrap_or_default()));
        let group = flags.first().is_some_and(|f| f & 0x80 != 0);
        out.push(format!(
            "{shown}<{suffix:02x}>{}",
            if group { ":group" } else { "" }
        ));
    }
    if let Some(mac) = rest.get(pos..pos + 6) {
        let mac: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
        out.push(format!("mac={}", mac.join(":")));
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First-level encoding of a 15-character name and a suffix.
    pub(crate) fn encode(name: &str, suffix: u8) -> Vec<u8> {
        let mut raw = [b' '; 16];
        raw[..name.len()].copy_from_slice(name.as_bytes());
        raw[15] = suffix;
        let mut out = vec![32u8];
        for b in raw {
            out.push(b'A' + (b >> 4));
            out.push(b'A' + (b & 0x0f));
        }
        out.push(0);
        out
    }

    fn query(id: u16, name: &str, suffix: u8) -> Vec<u8> {
        let mut m = Vec::new();
        for v in [id, 0x0110, 1, 0, 0, 0] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m.extend_from_slice(&encode(name, suffix));
        m.extend_from_slice(&[0, 0x20, 0, 1]);
        m
    }

    /// A positive name query response: no question, one NB answer with two
    /// addresses.
    fn response(id: u16, name: &str, suffix: u8) -> Vec<u8> {
        let mut m = Vec::new();
        for v in [id, 0x8500, 0, 1, 0, 0] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m.extend_from_slice(&encode(name, suffix));
        m.extend_from_slice(&[0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 12]);
        m.extend_from_slice(&[0x00, 0x00, 192, 168, 1, 10]);
        m.extend_from_slice(&[0xe0, 0x00, 10, 0, 0, 7]);
        m
    }

    #[test]
    fn first_level_encoding_decodes() {
        // RFC 1001 §14.1's example: "FRED" padded, suffix 0x20.
        let enc = encode("FRED", 0x20);
        assert_eq!(&enc[1..9], b"EGFCEFEE");
        let raw = decode(&enc[1..33]).unwrap();
        assert_eq!(&raw[..4], b"FRED");
        assert_eq!(raw[15], 0x20);
        assert_eq!(decode(b"EGFCEFEE"), None, "too short");
        let mut bad = enc[1..33].to_vec();
        bad[3] = b'Z';
        assert_eq!(decode(&bad), None, "outside A..P");
        let lower: Vec<u8> = enc[1..33].iter().map(u8::to_ascii_lowercase).collect();
        assert_eq!(decode(&lower), decode(&enc[1..33]));
    }

    #[test]
    fn name_query_fields() {
        let m = parse(&query(0x1234, "WORKGROUP", 0x1d)).unwrap();
        assert!(!m.qr);
        assert_eq!(
            (m.id, m.qname.as_str(), m.qtype.as_str(), m.qclass.as_str()),
            (0x1234, "WORKGROUP", "NB", "IN")
        );
        assert_eq!(m.netbios_suffix, Some(0x1d));
        assert_eq!(m.opcode, "QUERY");
        assert_eq!(m.flags & 0x0010, 0x0010, "broadcast bit");
        assert_eq!(m.key.unwrap().name, "workgroup<1d>");
    }

    #[test]
    fn positive_response_has_nb_answers() {
        let m = parse(&response(0x1234, "FILESRV", 0x20)).unwrap();
        assert!(m.qr && !m.damaged);
        assert_eq!(m.rcode, 0);
        assert_eq!(m.qname, "FILESRV");
        assert_eq!(m.netbios_suffix, Some(0x20));
        assert_eq!(m.answer_keys[0].name, "filesrv<20>");
        assert_eq!(
            m.answers,
            vec![
                DnsAnswer::Record {
                    name: "FILESRV<20>".into(),
                    rtype: "NB".into(),
                    ttl: 300_000,
                    data: "192.168.1.10 unique B-node".into()
                },
                DnsAnswer::Record {
                    name: "FILESRV<20>".into(),
                    rtype: "NB".into(),
                    ttl: 300_000,
                    data: "10.0.0.7 group H-node".into()
                },
            ]
        );
    }

    #[test]
    fn negative_response_and_registration_opcode() {
        let mut m = response(7, "NOPE", 0x00);
        m[2] = 0x85;
        m[3] = 0x03; // NXDOMAIN-like "name error"
        let m = parse(&m).unwrap();
        assert_eq!(m.rcode, 3);
        let mut reg = query(9, "HOST", 0x00);
        reg[2] = 0x29; // opcode 5, RD
        assert_eq!(parse(&reg).unwrap().opcode, "REGISTRATION");
    }

    #[test]
    fn node_status_lists_names_and_mac() {
        let mut m = Vec::new();
        for v in [3u16, 0x8400, 0, 1, 0, 0] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        let mut star = vec![32u8];
        for b in [b'*', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] {
            star.push(b'A' + (b >> 4));
            star.push(b'A' + (b & 0x0f));
        }
        star.push(0);
        m.extend_from_slice(&star);
        let mut rd = vec![2u8];
        rd.extend_from_slice(b"HOST           \x20\x04\x00");
        rd.extend_from_slice(b"WORKGROUP      \x00\x84\x00");
        rd.extend_from_slice(&[0x00, 0x0c, 0x29, 0xaa, 0xbb, 0xcc]);
        rd.extend_from_slice(&[0; 40]);
        m.extend_from_slice(&[0, 0x21, 0, 1, 0, 0, 0, 0]);
        m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        m.extend_from_slice(&rd);
        let p = parse(&m).unwrap();
        assert_eq!(p.qname, "*");
        assert_eq!(p.qtype, "NBSTAT");
        assert_eq!(
            p.answers[0].data(),
            Some("HOST<20> WORKGROUP<00>:group mac=00:0c:29:aa:bb:cc")
        );
    }

    #[test]
    fn pointers_scope_and_hostile_names() {
        // An answer whose name points back at the question's, with a scope.
        let mut m = Vec::new();
        for v in [1u16, 0x8500, 1, 1, 0, 0] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        let mut name = encode("PC\x1b[2J", 0x00);
        name.pop();
        name.extend_from_slice(b"\x04corp\x00");
        m.extend_from_slice(&name);
        m.extend_from_slice(&[0, 0x20, 0, 1]);
        m.extend_from_slice(&[0xc0, 12, 0, 0x20, 0, 1, 0, 0, 0, 60, 0, 6, 0, 0, 1, 2, 3, 4]);
        let p = parse(&m).unwrap();
        assert_eq!(p.qname, "PC\\027[2J.corp");
        assert_eq!(p.answers[0].name(), Some("PC\\027[2J<00>.corp"));
        assert_eq!(p.answer_keys[0], p.key.clone().unwrap());
        // A pointer loop and a forward pointer are malformed questions.
        let mut looped = m[..12].to_vec();
        looped.extend_from_slice(&[0xc0, 12, 0, 0x20, 0, 1]);
        assert_eq!(parse(&looped).unwrap_err(), WireError::BadQuestion);
        assert_eq!(parse(&[0, 1, 0]).unwrap_err(), WireError::ShortHeader);
        // A cut answer is damage, not an error.
        let cut = parse(&m[..m.len() - 3]).unwrap();
        assert!(cut.damaged && cut.answers.is_empty());
    }
}
