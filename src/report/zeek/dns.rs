//! dns.log: one row per DNS lookup, from a [`DnsRecord`].

use domain::base::iana::{Class, Rtype};

use super::format::Row;
use crate::app::dns::{flag, DnsAnswer, DnsProtocol, DnsRecord, Transport};

/// dns.log's `#fields`, as Zeek names them.
pub const FIELDS: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "trans_id",
    "rtt",
    "query",
    "qclass",
    "qclass_name",
    "qtype",
    "qtype_name",
    "rcode",
    "rcode_name",
    "AA",
    "TC",
    "RD",
    "RA",
    "Z",
    "answers",
    "TTLs",
    "rejected",
];

/// dns.log's `#types`, one per field.
pub const TYPES: &[&str] = &[
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "count",
    "interval",
    "string",
    "count",
    "string",
    "count",
    "string",
    "count",
    "string",
    "bool",
    "bool",
    "bool",
    "bool",
    "count",
    "vector[string]",
    "vector[interval]",
    "bool",
];

/// The dns.log row of `d`, filled the way Zeek's DNS scripts fill it:
/// * `RD`, `TC` and `Z` come from the query (Zeek sets them when it sees the
///   request; its `Z` is the three bits under RA, so AD and CD count in it),
///   `AA` and `RA` from the answer, and only when its answer section has a
///   record Zeek reports; all four `F` (and `Z` 0) otherwise, Zeek's defaults;
/// * `answers` lists the answer section's records in Zeek's text (the
///   records' `data`: MX and SRV the target, SOA the mname, TXT
///   `TXT <len> <text>` ...), a type Zeek does not parse as
///   `<unknown type=N>`, and leaves out the types Zeek parses without logging
///   them (HINFO, CAA, SVCB, HTTPS, OPT, TSIG, NetBIOS NB and NBSTAT);
///   `TTLs` their TTLs;
/// * `query` lower-cased (Zeek folds the question's case; a NetBIOS name
///   stays as decoded), `qclass_name`
///   Zeek's (`C_INTERNET`; mDNS's unicast-response bit stays in the number:
///   `qclass-32769`), `qtype_name` `NBSTAT` for type 33 on NetBIOS-NS;
/// * `rejected`: an answer with no record in any section, or an error
///   answer without a question (mDNS, NetBIOS-NS), as Zeek decides it.
///
/// A response seen without its query (`unsolicited`) leaves the question's
/// class and type unset and the query's bits at Zeek's defaults, as Zeek
/// does. Unset otherwise: `rtt` when the answer section has no record Zeek
/// reports, `rcode` when no answer came.
pub fn row(d: &DnsRecord) -> String {
    let mut r = Row::new();
    let nbns = d.protocol == DnsProtocol::Nbns;
    let (qtype, qtype_name) = match d.unsolicited {
        true => (None, None),
        false => {
            let (code, name) = qtype_of(&d.qtype, nbns);
            (code, Some(name))
        }
    };
    let (qclass, qclass_name) = match d.unsolicited {
        true => (None, None),
        false => {
            let (code, name) = qclass_of(&d.qclass, d.unicast_response);
            (code, Some(name))
        }
    };
    let rcode = d.rcode.as_deref().map(rcode);
    let query = d.query_flags.unwrap_or(0);
    let answers: Vec<(String, u32)> = d
        .answers
        .iter()
        .filter_map(|a| zeek_answer(a, nbns))
        .collect();
    let response = d.response_flags.unwrap_or(0);
    // AA and RA: set with the first answer record Zeek reports (WKS's, whose
    // text is empty, included).
    let reported = d.answers.iter().any(|a| reported(a, nbns));
    let answered = d.response_time.is_some();
    let had_question = matches!(d.protocol, DnsProtocol::Dns | DnsProtocol::Llmnr);
    let empty = d.answers.is_empty() && d.authorities.is_empty() && d.additionals.is_empty();
    let rejected = answered
        && ((had_question && empty)
            || (!had_question && d.rcode.as_deref().is_some_and(|c| c != "NOERROR")));
    let shown: Vec<&(String, u32)> = answers.iter().filter(|(t, _)| !t.is_empty()).collect();
    let ttls: Vec<String> = shown
        .iter()
        .map(|(_, ttl)| super::format::seconds(i64::from(*ttl) * 1_000_000_000))
        .collect();
    let any = !shown.is_empty();
    r.time(d.query_time)
        .conn_id(d.conn, d.client, d.server)
        .str(match d.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        })
        .count(Some(u64::from(d.id)))
        // As Zeek: rtt comes with the first answer record it reports, so an
        // answer without one (NXDOMAIN, NODATA) leaves it unset, and so does
        // a zero interval (only the answer was seen).
        .interval(d.latency_ns().filter(|&ns| reported && ns != 0))
        .str(&query_name(d))
        .count(qclass)
        .opt_str(qclass_name.as_deref())
        .count(qtype)
        .opt_str(qtype_name.as_deref())
        .count(rcode.as_ref().and_then(|r| r.0))
        .opt_str(rcode.as_ref().map(|r| r.1.as_str()))
        .bool(Some(reported && response & flag::AA != 0))
        .bool(Some(query & flag::TC != 0))
        .bool(Some(query & flag::RD != 0))
        .bool(Some(reported && response & flag::RA != 0))
        .count(Some(u64::from((query >> 4) & 0x7)))
        .list(any.then(|| shown.iter().map(|(t, _)| t.as_str())))
        .list(any.then(|| ttls.iter().map(String::as_str)))
        .bool(Some(rejected));
    debug_assert_eq!(r.columns(), FIELDS.len());
    r.finish()
}

/// The `query` column: lower-cased as Zeek folds a question's case, except a
/// NetBIOS name, which Zeek decodes from its (case-free) encoding.
fn query_name(d: &DnsRecord) -> String {
    match d.protocol {
        DnsProtocol::Nbns => d.qname.clone(),
        _ => d.qname.to_ascii_lowercase(),
    }
}

/// Types Zeek's DNS analyzer parses and reports through its `do_reply` hook
/// (its text is the record's `data`; WKS's is empty).
const ZEEK_REPORTED: &[u16] = &[
    1, 2, 5, 6, 11, 12, 15, 16, 28, 29, 33, 35, 38, 43, 44, 46, 47, 48, 50, 51, 99, 65534,
];
/// Types Zeek's analyzer parses but whose events no base script logs.
const ZEEK_SILENT: &[u16] = &[13, 32, 41, 64, 65, 250, 257];
/// Types whose Zeek text is made of names, which Zeek lower-cases.
const ZEEK_NAMES: &[u16] = &[2, 5, 6, 12, 15, 33, 46, 47];

/// The type code of a record's mnemonic (NetBIOS-NS names its own).
fn type_code(mnemonic: &str, nbns: bool) -> Option<u16> {
    match (mnemonic, nbns) {
        ("NB", true) => Some(32),
        ("NBSTAT", true) => Some(33),
        _ => mnemonic.parse::<Rtype>().ok().map(|t| t.to_int()),
    }
}

/// Whether Zeek reports `a` (calls its reply hook for it).
fn reported(a: &DnsAnswer, nbns: bool) -> bool {
    match type_code(a.rtype(), nbns) {
        Some(33) if nbns => false,
        Some(t) => !ZEEK_SILENT.contains(&t),
        None => false,
    }
}

/// Zeek's `answers` text and TTL for one answer record; `None` when Zeek
/// does not report it. An empty text (WKS) is reported but not listed.
fn zeek_answer(a: &DnsAnswer, nbns: bool) -> Option<(String, u32)> {
    let (data, ttl) = (a.data()?, a.ttl()?);
    if !reported(a, nbns) {
        return None;
    }
    let code = type_code(a.rtype(), nbns)?;
    let text = if code == 11 {
        String::new()
    } else if !ZEEK_REPORTED.contains(&code) {
        format!("<unknown type={code}>")
    } else if ZEEK_NAMES.contains(&code) {
        data.to_ascii_lowercase()
    } else {
        data.to_string()
    };
    Some((text, ttl))
}

/// The query type's number and Zeek's name for it (`query-N` for a type
/// without a mnemonic, `NBSTAT` for 33 on NetBIOS-NS, as Zeek writes them).
fn qtype_of(mnemonic: &str, nbns: bool) -> (Option<u64>, String) {
    match type_code(mnemonic, nbns) {
        Some(33) if nbns => (Some(33), "NBSTAT".to_string()),
        Some(32) if nbns => (Some(32), "NIMLOC".to_string()),
        _ => qtype(mnemonic),
    }
}

/// The query type's number and Zeek's name for it (`query-N` for a type
/// without a mnemonic, as Zeek writes it).
fn qtype(mnemonic: &str) -> (Option<u64>, String) {
    let code = mnemonic
        .parse::<Rtype>()
        .ok()
        .map(|t| u64::from(t.to_int()));
    match (mnemonic.strip_prefix("TYPE"), code) {
        (Some(n), Some(code)) if n.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(code), format!("query-{code}"))
        }
        (_, Some(23)) => (code, "NSAP-PTR".to_string()),
        (_, Some(255)) => (code, "*".to_string()),
        _ => (code, mnemonic.to_string()),
    }
}

/// The query class's number (the mDNS unicast-response bit put back) and
/// Zeek's name for it.
fn qclass_of(mnemonic: &str, unicast_response: bool) -> (Option<u64>, String) {
    let Ok(class) = mnemonic.parse::<Class>() else {
        return (None, mnemonic.to_string());
    };
    let code = class.to_int() | if unicast_response { 0x8000 } else { 0 };
    let name = match code {
        1 => "C_INTERNET".to_string(),
        2 => "C_CSNET".to_string(),
        3 => "C_CHAOS".to_string(),
        4 => "C_HESIOD".to_string(),
        254 => "C_NONE".to_string(),
        255 => "C_ANY".to_string(),
        n => format!("qclass-{n}"),
    };
    (Some(u64::from(code)), name)
}

/// The response code's number and Zeek's name (`unassigned-N` for the
/// header codes 11 to 15, as Zeek names them).
fn rcode(mnemonic: &str) -> (Option<u64>, String) {
    const NAMES: [&str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ];
    if let Some(i) = NAMES.iter().position(|n| *n == mnemonic) {
        let zeek = if i == 8 { "NXRRSet" } else { mnemonic };
        return (Some(i as u64), zeek.to_string());
    }
    match mnemonic
        .strip_prefix("RCODE")
        .and_then(|n| n.parse::<u64>().ok())
    {
        Some(n) if (11..=15).contains(&n) => (Some(n), format!("unassigned-{n}")),
        Some(n) => (Some(n), format!("rcode-{n}")),
        None => (None, mnemonic.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeek_dns_codes() {
        assert_eq!(qtype("A"), (Some(1), "A".into()));
        assert_eq!(qtype("AAAA"), (Some(28), "AAAA".into()));
        assert_eq!(qtype("HTTPS"), (Some(65), "HTTPS".into()));
        assert_eq!(qtype("TYPE65534"), (Some(65534), "query-65534".into()));
        assert_eq!(rcode("NOERROR"), (Some(0), "NOERROR".into()));
        assert_eq!(rcode("NXDOMAIN"), (Some(3), "NXDOMAIN".into()));
        assert_eq!(rcode("RCODE12"), (Some(12), "unassigned-12".into()));
        assert_eq!(rcode("NXRRSET"), (Some(8), "NXRRSet".into()));
        assert_eq!(qtype("ANY"), (Some(255), "*".into()));
        assert_eq!(qtype_of("NBSTAT", true), (Some(33), "NBSTAT".into()));
        assert_eq!(qtype_of("NB", true), (Some(32), "NIMLOC".into()));
        assert_eq!(qclass_of("IN", false), (Some(1), "C_INTERNET".into()));
        assert_eq!(qclass_of("IN", true), (Some(32769), "qclass-32769".into()));
        assert_eq!(qclass_of("CH", false), (Some(3), "C_CHAOS".into()));
    }

    use crate::app::dns::Asked;
    use crate::base::Timestamp;

    fn record(qtype: &str) -> DnsRecord {
        let server = "10.0.0.53:53".parse().unwrap();
        DnsRecord::asked(
            Asked {
                conn: 1,
                client: "10.0.0.5:40000".parse().unwrap(),
                server,
                transport: Transport::Udp,
                id: 7,
                qname: "WWW.Example.com".into(),
                qtype: qtype.into(),
                frame: 1,
                time: Timestamp(1_700_000_000_000_000_000),
            },
            vec![server],
        )
    }

    fn answer(rtype: &str, data: &str, ttl: u32) -> DnsAnswer {
        DnsAnswer::Record {
            name: "www.example.com".into(),
            rtype: rtype.into(),
            ttl,
            data: data.into(),
        }
    }

    fn columns(d: &DnsRecord) -> std::collections::HashMap<&'static str, String> {
        let line = row(d);
        FIELDS
            .iter()
            .copied()
            .zip(line.trim_end().split('\t').map(str::to_string))
            .collect()
    }

    #[test]
    fn zeek_dns_flags_and_answers() {
        let mut d = record("MX");
        d.set_query_flags(0x0130); // RD, AD, CD: Zeek's Z is 3
        d.response_time = Some(Timestamp(1_700_000_000_002_000_000));
        d.rcode = Some("NOERROR".into());
        d.set_response_flags(0x85b0);
        d.answers = vec![
            DnsAnswer::Detailed {
                name: "www.example.com".into(),
                rtype: "MX".into(),
                ttl: 300,
                data: "Mail.Example.com".into(),
                rdata: "10 Mail.Example.com".into(),
            },
            answer("TXT", "TXT 5 Hello", 60),
            answer("CAA", "0 issue \"ca.example\"", 60),
            answer("HTTPS", "1 . alpn=h2", 60),
            answer("OPT", "EDNS0 udp=1232", 0),
            answer("DNAME", "other.example", 30),
            answer("TYPE65280", "<unknown type=65280>", 10),
            DnsAnswer::Summary {
                rtype: "A".into(),
                count: 3,
            },
        ];
        let c = columns(&d);
        assert_eq!(c["query"], "www.example.com");
        assert_eq!(
            (c["qclass"].as_str(), c["qclass_name"].as_str()),
            ("1", "C_INTERNET")
        );
        assert_eq!(
            (c["qtype"].as_str(), c["qtype_name"].as_str()),
            ("15", "MX")
        );
        let flags: Vec<&str> = ["AA", "TC", "RD", "RA", "Z", "rejected"]
            .iter()
            .map(|f| c[f].as_str())
            .collect();
        assert_eq!(flags, ["T", "F", "T", "T", "3", "F"]);
        assert_eq!(
            c["answers"],
            "mail.example.com,TXT 5 Hello,<unknown type=39>,<unknown type=65280>"
        );
        assert_eq!(c["TTLs"], "300.000000,60.000000,30.000000,10.000000");

        // Only records Zeek does not report: AA and RA stay F, as in Zeek.
        d.answers = vec![answer("CAA", "0 issue \"ca.example\"", 60)];
        let c = columns(&d);
        assert_eq!((c["AA"].as_str(), c["RA"].as_str()), ("F", "F"));
        assert_eq!((c["answers"].as_str(), c["TTLs"].as_str()), ("-", "-"));

        // An answer with no record at all is rejected.
        d.answers.clear();
        d.rcode = Some("REFUSED".into());
        assert_eq!(columns(&d)["rejected"], "T");
    }

    #[test]
    fn zeek_dns_unanswered_and_unsolicited() {
        let mut d = record("A");
        d.set_query_flags(0x0100);
        let c = columns(&d);
        let flags: Vec<&str> = ["AA", "TC", "RD", "RA", "Z", "rejected"]
            .iter()
            .map(|f| c[f].as_str())
            .collect();
        assert_eq!(flags, ["F", "F", "T", "F", "0", "F"]);
        assert_eq!((c["rcode"].as_str(), c["rtt"].as_str()), ("-", "-"));

        // A NetBIOS-NS answer seen alone: no query bits, no question columns,
        // NB records left out as Zeek leaves them.
        let mut u = record("NB");
        u.protocol = DnsProtocol::Nbns;
        u.unsolicited = true;
        u.qname = "FILESRV".into();
        u.response_time = Some(u.query_time);
        u.rcode = Some("NOERROR".into());
        u.set_response_flags(0x8500);
        u.answers = vec![answer("NB", "10.0.0.20 unique B-node", 3600)];
        let c = columns(&u);
        assert_eq!(c["query"], "FILESRV");
        assert_eq!((c["qtype"].as_str(), c["qclass"].as_str()), ("-", "-"));
        assert_eq!((c["RD"].as_str(), c["AA"].as_str()), ("F", "F"));
        assert_eq!(c["answers"], "-");
        assert_eq!(qtype_of("NBSTAT", true), (Some(33), "NBSTAT".into()));
    }
}
