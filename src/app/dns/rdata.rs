//! One resource record rendered as text: `data` the way Zeek's dns.log
//! `answers` column writes it (so both reports agree), and, where that text
//! leaves fields out, `rdata`: the whole record in presentation format.
//!
//! Zeek's forms (from its DNS analyzer and base scripts): A/AAAA the address;
//! NS, CNAME, PTR the name; MX the exchange; SRV the target; SOA the mname;
//! TXT and SPF `TXT <len> <text>` per string, joined by spaces; DNSKEY
//! `DNSKEY <algorithm>`; RRSIG `RRSIG <type covered> <signer>` (`<Root>` for
//! the root); DS `DS <algorithm> <digest type>`; NSEC `NSEC <owner> <next>`;
//! NSEC3 and NSEC3PARAM their type name; SSHFP `SSHFP: <hex>`; LOC
//! `LOC:  <size> <horiz> <vert>`; NAPTR `NAPTR <order> <pref> <flags>
//! <service> <regexp> <replacement>`; any type Zeek does not parse
//! `<unknown type=N>`. Types Zeek parses but does not write (CAA, HINFO,
//! SVCB, HTTPS, OPT) get their presentation format here, OPT a summary of
//! its EDNS fields (`EDNS0 udp=1232 do ...`).
//!
//! Every string is printable ASCII: names keep `domain`'s presentation
//! escapes (`\DDD`), character strings escape `\` and every byte outside
//! printable ASCII the same way, and a last pass ([`safe`]) guarantees it.

use std::fmt::Write as _;

use domain::base::iana::Rtype;
use domain::base::{ParsedName, ParsedRecord};
use domain::rdata::{
    Aaaa, Cname, Dname, Dnskey, Ds, Https, Mx, Naptr, Ns, Nsec, Nsec3, Nsec3param, Ptr, Rrsig, Soa,
    Srv, Svcb, A,
};

use super::wire::display_name;

/// Longest rdata shown as hex for a type without a rendering (RFC 3597
/// `\# len hex`); past it the hex ends with `...`.
const MAX_HEX: usize = 64;
/// Most EDNS options named in an OPT record's text.
const MAX_OPTIONS: usize = 16;

/// A record's text: Zeek's form, and the full one when Zeek's drops fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rendered {
    pub data: String,
    pub rdata: Option<String>,
}

impl Rendered {
    fn short(data: String) -> Rendered {
        Rendered {
            data: safe(data),
            rdata: None,
        }
    }

    fn full(data: String, rdata: String) -> Rendered {
        Rendered {
            data: safe(data),
            rdata: Some(safe(rdata)),
        }
    }
}

/// The record's rdata did not parse as its type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadRdata;

type Rec<'a, 'b> = ParsedRecord<'a, &'b [u8]>;
type PName<'a> = ParsedName<&'a [u8]>;

/// Typed rdata of `rec`, or [`BadRdata`].
macro_rules! typed {
    ($rec:expr, $t:ty) => {
        match $rec.to_record::<$t>() {
            Ok(Some(r)) => r.into_data(),
            _ => return Err(BadRdata),
        }
    };
}

/// Renders `rec` (see the module doc).
pub(super) fn render(rec: &Rec<'_, '_>) -> Result<Rendered, BadRdata> {
    let rtype = rec.rtype();
    Ok(match rtype {
        Rtype::A => Rendered::short(typed!(rec, A).addr().to_string()),
        Rtype::AAAA => Rendered::short(typed!(rec, Aaaa).addr().to_string()),
        Rtype::CNAME => Rendered::short(display_name(typed!(rec, Cname<PName<'_>>).cname())),
        Rtype::NS => Rendered::short(display_name(typed!(rec, Ns<PName<'_>>).nsdname())),
        Rtype::PTR => Rendered::short(display_name(typed!(rec, Ptr<PName<'_>>).ptrdname())),
        Rtype::DNAME => Rendered::short(display_name(typed!(rec, Dname<PName<'_>>).dname())),
        Rtype::MX => {
            let mx = typed!(rec, Mx<PName<'_>>);
            let exchange = display_name(mx.exchange());
            let full = format!("{} {exchange}", mx.preference());
            Rendered::full(exchange, full)
        }
        Rtype::SRV => {
            let srv = typed!(rec, Srv<PName<'_>>);
            let target = display_name(srv.target());
            let full = format!(
                "{} {} {} {target}",
                srv.priority(),
                srv.weight(),
                srv.port()
            );
            Rendered::full(target, full)
        }
        Rtype::SOA => {
            let soa = typed!(rec, Soa<PName<'_>>);
            let mname = display_name(soa.mname());
            let full = format!(
                "{mname} {} {} {} {} {} {}",
                display_name(soa.rname()),
                soa.serial(),
                soa.refresh().as_secs(),
                soa.retry().as_secs(),
                soa.expire().as_secs(),
                soa.minimum().as_secs()
            );
            Rendered::full(mname, full)
        }
        Rtype::TXT | Rtype::SPF => {
            let label = if rtype == Rtype::TXT { "TXT" } else { "SPF" };
            Rendered::short(txt(label, raw(rec)?)?)
        }
        Rtype::CAA => Rendered::short(caa(raw(rec)?)?),
        Rtype::HINFO => Rendered::short(hinfo(raw(rec)?)?),
        Rtype::DNSKEY => {
            let key = typed!(rec, Dnskey<&[u8]>);
            let short = format!("DNSKEY {}", key.algorithm().to_int());
            let full = format!("{key} ; key_tag={}", key.key_tag());
            Rendered::full(short, full)
        }
        Rtype::RRSIG => {
            let sig = typed!(rec, Rrsig<&[u8], PName<'_>>);
            let signer = match display_name(sig.signer_name()).as_str() {
                "." => "<Root>".to_string(),
                s => s.to_string(),
            };
            let short = format!("RRSIG {} {signer}", sig.type_covered().to_int());
            Rendered::full(short, sig.to_string())
        }
        Rtype::DS => {
            let ds = typed!(rec, Ds<&[u8]>);
            let short = format!(
                "DS {} {}",
                ds.algorithm().to_int(),
                ds.digest_type().to_int()
            );
            Rendered::full(short, ds.to_string())
        }
        Rtype::NSEC => {
            let nsec = typed!(rec, Nsec<&[u8], PName<'_>>);
            let next = display_name(nsec.next_name());
            let short = format!("NSEC {} {next}", display_name(&rec.owner()));
            Rendered::full(short, format!("{next} {}", nsec.types()))
        }
        Rtype::NSEC3 => {
            let n = typed!(rec, Nsec3<&[u8]>);
            Rendered::full("NSEC3".to_string(), n.to_string())
        }
        Rtype::NSEC3PARAM => {
            let n = typed!(rec, Nsec3param<&[u8]>);
            Rendered::full("NSEC3PARAM".to_string(), n.to_string())
        }
        Rtype::SSHFP => {
            let (algorithm, fp_type, fp) = match raw(rec)? {
                [a, t, fp @ ..] => (*a, *t, fp),
                _ => return Err(BadRdata),
            };
            let short = format!("SSHFP: {}", hex(fp, usize::MAX));
            let full = format!("{algorithm} {fp_type} {}", hex(fp, usize::MAX));
            Rendered::full(short, full)
        }
        Rtype::NAPTR => {
            let n = typed!(rec, Naptr<&[u8], PName<'_>>);
            let mut tail = text(n.regexp().as_slice());
            let replacement = display_name(n.replacement());
            if replacement != "." {
                if !tail.is_empty() {
                    tail.push(' ');
                }
                tail.push_str(&replacement);
            }
            Rendered::short(format!(
                "NAPTR {} {} {} {} {tail}",
                n.order(),
                n.preference(),
                text(n.flags().as_slice()),
                text(n.services().as_slice()),
            ))
        }
        Rtype::LOC => {
            let d = raw(rec)?;
            match d {
                [_version, size, horiz, vert, ..] if d.len() >= 16 => {
                    Rendered::short(format!("LOC:  {size} {horiz} {vert}"))
                }
                _ => return Err(BadRdata),
            }
        }
        Rtype::SVCB => Rendered::short(typed!(rec, Svcb<&[u8], PName<'_>>).to_string()),
        Rtype::HTTPS => Rendered::short(typed!(rec, Https<&[u8], PName<'_>>).to_string()),
        Rtype::OPT => Rendered::short(opt(rec, raw(rec)?)),
        t if t.to_int() == 65534 => Rendered::short("BIND9 signing signal".to_string()),
        t => {
            let d = raw(rec)?;
            let generic = format!("\\# {} {}", d.len(), hex(d, MAX_HEX));
            Rendered::full(format!("<unknown type={}>", t.to_int()), generic)
        }
    })
}

/// The raw rdata bytes of `rec`.
fn raw<'b>(rec: &Rec<'_, 'b>) -> Result<&'b [u8], BadRdata> {
    match rec.to_record::<domain::base::UnknownRecordData<&'b [u8]>>() {
        Ok(Some(r)) => Ok(*r.data().data()),
        _ => Err(BadRdata),
    }
}

/// Splits rdata into character strings (a length byte, then that many bytes).
fn char_strings(mut d: &[u8]) -> Result<Vec<&[u8]>, BadRdata> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = d.split_first() {
        let s = rest.get(..usize::from(len)).ok_or(BadRdata)?;
        out.push(s);
        d = &rest[s.len()..];
    }
    Ok(out)
}

/// TXT/SPF as Zeek writes them: `TXT <len> <text>` per string.
fn txt(label: &str, d: &[u8]) -> Result<String, BadRdata> {
    let parts: Vec<String> = char_strings(d)?
        .into_iter()
        .map(|s| format!("{label} {} {}", s.len(), text(s)))
        .collect();
    Ok(parts.join(" "))
}

/// CAA (RFC 8659 presentation): `<flags> <tag> "<value>"`.
fn caa(d: &[u8]) -> Result<String, BadRdata> {
    let (&flags, rest) = d.split_first().ok_or(BadRdata)?;
    let (&tag_len, rest) = rest.split_first().ok_or(BadRdata)?;
    let tag = rest.get(..usize::from(tag_len)).ok_or(BadRdata)?;
    let value = &rest[tag.len()..];
    Ok(format!(
        "{flags} {} \"{}\"",
        text(tag),
        text(value).replace('"', "\\\"")
    ))
}

/// HINFO: `"<cpu>" "<os>"`.
fn hinfo(d: &[u8]) -> Result<String, BadRdata> {
    match char_strings(d)?.as_slice() {
        [cpu, os] => Ok(format!("\"{}\" \"{}\"", text(cpu), text(os))),
        _ => Err(BadRdata),
    }
}

/// An OPT pseudo-record's EDNS fields (RFC 6891): the UDP payload size is
/// its class, the extended rcode, version and DO bit its TTL.
fn opt(rec: &Rec<'_, '_>, mut d: &[u8]) -> String {
    let ttl = rec.ttl().as_secs();
    let version = (ttl >> 16) & 0xff;
    let mut out = format!("EDNS{version} udp={}", rec.class().to_int());
    if ttl & 0x8000 != 0 {
        out.push_str(" do");
    }
    let ext = ttl >> 24;
    if ext != 0 {
        let _ = write!(out, " ext_rcode={ext}");
    }
    let mut shown = 0;
    while d.len() >= 4 {
        let code = u16::from_be_bytes([d[0], d[1]]);
        let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
        let Some(value) = d.get(4..4 + len) else {
            out.push_str(" (cut)");
            break;
        };
        d = &d[4 + len..];
        if shown == MAX_OPTIONS {
            out.push_str(" ...");
            break;
        }
        shown += 1;
        out.push(' ');
        out.push_str(&edns_option(code, value));
    }
    out
}

/// One EDNS option: its name and, for the few worth reading, its value.
fn edns_option(code: u16, v: &[u8]) -> String {
    match code {
        3 => format!("NSID={}", hex(v, MAX_HEX)),
        8 => match ecs(v) {
            Some(s) => format!("ECS={s}"),
            None => "ECS".to_string(),
        },
        9 => "EXPIRE".to_string(),
        10 => "COOKIE".to_string(),
        11 => "KEEPALIVE".to_string(),
        12 => "PADDING".to_string(),
        15 => match v {
            [a, b, rest @ ..] => {
                let info = u16::from_be_bytes([*a, *b]);
                if rest.is_empty() {
                    format!("EDE={info}")
                } else {
                    format!("EDE={info}:\"{}\"", text(rest).replace('"', "\\\""))
                }
            }
            _ => "EDE".to_string(),
        },
        n => format!("OPT{n}"),
    }
}

/// EDNS Client Subnet (RFC 7871): `address/source/scope`.
fn ecs(v: &[u8]) -> Option<String> {
    let family = u16::from_be_bytes([*v.first()?, *v.get(1)?]);
    let (source, scope) = (*v.get(2)?, *v.get(3)?);
    let addr = v.get(4..)?;
    let ip: std::net::IpAddr = match family {
        1 if addr.len() <= 4 => {
            let mut b = [0u8; 4];
            b[..addr.len()].copy_from_slice(addr);
            b.into()
        }
        2 if addr.len() <= 16 => {
            let mut b = [0u8; 16];
            b[..addr.len()].copy_from_slice(addr);
            b.into()
        }
        _ => return None,
    };
    Some(format!("{ip}/{source}/{scope}"))
}

/// Bytes of a character string: printable ASCII as is, `\` doubled, every
/// other byte a `\DDD` escape (DNS presentation format).
pub(super) fn text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out
}

/// Lower-case hex of at most `max` bytes, `...` after a cut.
fn hex(bytes: &[u8], max: usize) -> String {
    let mut out = String::with_capacity(bytes.len().min(max) * 2 + 3);
    for b in bytes.iter().take(max) {
        let _ = write!(out, "{b:02x}");
    }
    if bytes.len() > max {
        out.push_str("...");
    }
    out
}

/// Makes sure a rendered string is printable ASCII (no copy when it is): any other character
/// becomes `\DDD` escapes of its UTF-8 bytes.
pub(super) fn safe(s: String) -> String {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "\\{b:03}");
        }
    }
    out
}
