//! dns.log: one row per DNS lookup, from a [`DnsRecord`].

use super::format::Row;
use crate::app::dns::{DnsAnswer, DnsRecord, Transport};

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

/// The dns.log row of `d`. Unset: `qclass`/`qclass_name`, `AA`, `RD`, `RA`,
/// `Z` and `rejected` (the record does not keep them); `rtt`, `rcode` and
/// `TC` when no answer came; `answers`/`TTLs` when the answer had no A,
/// AAAA or CNAME record (other types are only counted).
pub fn row(d: &DnsRecord) -> String {
    let mut r = Row::new();
    let (qtype, qtype_name) = qtype(&d.qtype);
    let rcode = d.rcode.as_deref().map(rcode);
    r.time(d.query_time)
        .conn_id(d.conn, d.client, d.server)
        .str(match d.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        })
        .count(Some(u64::from(d.id)))
        .interval(d.latency_ns())
        .str(&d.qname)
        .unset_n(2)
        .count(qtype)
        .str(&qtype_name)
        .count(rcode.as_ref().and_then(|r| r.0))
        .opt_str(rcode.as_ref().map(|r| r.1.as_str()))
        .unset()
        .bool(d.response_time.map(|_| d.truncated))
        .unset_n(3);
    let records: Vec<(&str, u32)> = d
        .answers
        .iter()
        .filter_map(|a| match a {
            DnsAnswer::Record { data, ttl, .. } => Some((data.as_str(), *ttl)),
            DnsAnswer::Summary { .. } => None,
        })
        .collect();
    let ttls: Vec<String> = records
        .iter()
        .map(|(_, ttl)| super::format::seconds(i64::from(*ttl) * 1_000_000_000))
        .collect();
    let any = !records.is_empty();
    r.list(any.then(|| records.iter().map(|(data, _)| *data)))
        .list(any.then(|| ttls.iter().map(String::as_str)))
        .unset();
    debug_assert_eq!(r.columns(), FIELDS.len());
    r.finish()
}

/// The query type's number and Zeek's name for it (`query-N` for a type
/// without a mnemonic, as Zeek writes it).
fn qtype(mnemonic: &str) -> (Option<u64>, String) {
    let code = mnemonic
        .parse::<domain::base::iana::Rtype>()
        .ok()
        .map(|t| u64::from(t.to_int()));
    match (mnemonic.strip_prefix("TYPE"), code) {
        (Some(n), Some(code)) if n.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(code), format!("query-{code}"))
        }
        _ => (code, mnemonic.to_string()),
    }
}

/// The response code's number and Zeek's name (`unknown-N` for a code
/// without a mnemonic).
fn rcode(mnemonic: &str) -> (Option<u64>, String) {
    const NAMES: [&str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ];
    if let Some(i) = NAMES.iter().position(|n| *n == mnemonic) {
        return (Some(i as u64), mnemonic.to_string());
    }
    match mnemonic
        .strip_prefix("RCODE")
        .and_then(|n| n.parse::<u64>().ok())
    {
        Some(n) => (Some(n), format!("unknown-{n}")),
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
        assert_eq!(rcode("RCODE12"), (Some(12), "unknown-12".into()));
    }
}
