//! TLS findings from [`TlsRecord`]s.
//!
//! Root cause first: one alert explains one failure, so the first alert that reports
//! a failure (fatal, or one of the codes below at any level) yields exactly one
//! finding. A visibly wrong certificate outranks the alert it caused: an expired
//! certificate absorbs alerts 42/43/45/46/48 and a name mismatch absorbs 42/46
//! (clients differ in which they send; see LAB.md).
//!
//! Alert mapping: 70 protocol_version → `tls.version_mismatch`; 40 handshake_failure
//! and 71 insufficient_security before any ServerHello → `tls.no_shared_cipher`
//! (after one: `tls.alert`); 48 unknown_ca → `tls.unknown_ca`; 42 bad_certificate,
//! 43 unsupported_certificate, 44 certificate_revoked and 46 certificate_unknown →
//! `tls.bad_certificate` (all say "the peer rejected this certificate", Go sends 42
//! for every verification failure); 45 → `tls.cert_expired`; 120
//! no_application_protocol → `tls.alpn_mismatch`; any other fatal alert → `tls.alert`.
//!
//! Seen on live loopback traffic (tests/live_tls.rs; OpenSSL 3.0 by hand): no
//! common suite → 40 before any ServerHello (rustls, OpenSSL); untrusted issuer →
//! 48 (rustls); wrong name → 42 (rustls); an unknown critical extension → 46
//! (rustls 0.23's webpki path reports it as `Other`); ALPN refused → 120 in the
//! clear from OpenSSL (1.2 and 1.3) and rustls over 1.2, but rustls over 1.3
//! refuses after its ServerHello, encrypted.
//!
//! Without alerts: validity is checked against the ClientHello's packet time (the
//! capture's clock, never the analyst's); the leaf must match the SNI by a DNS SAN,
//! or the CN when there are no SANs (RFC 6125: a `*` is a whole leftmost label and
//! matches exactly one label); a server version or ALPN the client did not offer is
//! a mismatch. Each is an error when the handshake did not complete, a warning when
//! it did (the client did not check, or checked another name).
//!
//! A server that asked for a client certificate (TLS ≤ 1.2 CertificateRequest),
//! got an empty Certificate and then sent 40, 41, 42 or 116 failed on the missing
//! client certificate: `tls.alert` saying so, never `tls.bad_certificate` (no
//! certificate was there to be bad). Stacks differ: rustls sends
//! certificate_required (116) even in TLS 1.2, OpenSSL handshake_failure (40),
//! Go bad_certificate (42).
//!
//! Thresholds: `tls.handshake_timeout` when the server sent nothing after the
//! ClientHello and either the client closed first after at least
//! [`CLIENT_GIVE_UP_MIN_MS`] (its own time-out fired: seen live with a 1 s
//! client time-out) or TCP stayed up for [`HANDSHAKE_TIMEOUT_MS`]. A close right
//! after a protected record (suspected encrypted alert) is a `tls.alert`
//! warning: only keys can tell what it said.

use super::{Finding, Severity};
use crate::app::tls::{AlertInfo, CertInfo, ClientHelloInfo, TlsRecord};
use crate::base::escape::escape_str;
use crate::base::human_duration;
use crate::base::Side;
use crate::base::Timestamp;

/// A ClientHello unanswered this long (ms) is a handshake time-out: well above any
/// sane server's handshake time, below most clients' time-outs (curl: none; Go 10 s).
pub const HANDSHAKE_TIMEOUT_MS: f64 = 3_000.0;

/// A client that closes (FIN or RST) after waiting at least this long (ms) for any
/// answer to its ClientHello gave up: its handshake time-out fired. Client
/// time-outs are rarely below 1 s; a close sooner than this is an abort (the caller
/// cancelled), not a time-out.
pub const CLIENT_GIVE_UP_MIN_MS: f64 = 500.0;

/// Alert codes that always mean a failure, whatever their level.
fn is_failure_code(code: u8) -> bool {
    matches!(code, 40..=49 | 70 | 71 | 120)
}

/// Every TLS finding for one connection's record.
pub fn diagnose(r: &TlsRecord) -> Vec<Finding> {
    let ch = &r.client_hello;
    let mut out = Vec::new();
    let failed = r.established.is_none();
    let sh = r.server_hello.as_ref().filter(|s| s.real);
    let base: Vec<u64> = [Some(ch.frame), sh.map(|s| s.frame)]
        .into_iter()
        .flatten()
        .collect();
    let push = |out: &mut Vec<Finding>,
                kind,
                severity,
                summary,
                next: String,
                extra: &[u64],
                time: Timestamp| {
        let mut frames: Vec<u64> = base.iter().chain(extra).copied().collect();
        frames.sort_unstable();
        frames.dedup();
        out.push(Finding {
            kind,
            severity,
            summary,
            next_step: next,
            frames,
            conn: Some(r.conn),
            client: Some(r.client),
            server: Some(r.server),
            time: Some(time),
            endpoint: None,
            goroutines: Vec::new(),
        });
    };
    let cert_sev = if failed {
        Severity::Error
    } else {
        Severity::Warning
    };
    let alert = r
        .alerts
        .iter()
        .find(|a| a.is_fatal() || is_failure_code(a.code));
    let mut alert_explained = false;
    let alert_frames: Vec<u64> = alert.map(|a| a.frame).into_iter().collect();
    let at = alert.map_or(ch.time, |a| a.time);

    // Certificate validity against the capture's clock.
    let now = ch.time.secs();
    let invalid = r
        .certificates
        .iter()
        .find(|c| c.not_after_unix < now || c.not_before_unix > now);
    if let Some(c) = invalid {
        alert_explained |= alert.is_some_and(|a| matches!(a.code, 42 | 43 | 45 | 46 | 48));
        let (summary, next) = if c.not_after_unix < now {
            (
                format!(
                    "certificate {} expired on {}, before this handshake",
                    escape_str(&c.subject),
                    c.not_after
                ),
                format!("renew the certificate (expired on {})", c.not_after),
            )
        } else {
            (
                format!(
                    "certificate {} is not valid before {}, after this handshake",
                    escape_str(&c.subject),
                    c.not_before
                ),
                "check the clock of the host that issued or serves it (or of this capture's host)"
                    .to_string(),
            )
        };
        let frames: Vec<u64> = alert_frames.iter().copied().chain([c.frame]).collect();
        push(
            &mut out,
            "tls.cert_expired",
            cert_sev,
            with_alert(summary, alert, alert_explained),
            next,
            &frames,
            at,
        );
    }

    // The leaf against the name the client asked for.
    if let (Some(sni), Some(leaf)) = (r.sni.as_deref(), r.certificates.first()) {
        if !cert_matches(leaf, sni) {
            let absorbs = !alert_explained && alert.is_some_and(|a| matches!(a.code, 42 | 46));
            alert_explained |= absorbs;
            let names = if leaf.sans.is_empty() {
                leaf.common_name.iter().cloned().collect()
            } else {
                leaf.sans.clone()
            };
            let summary = format!(
                "certificate does not match the requested name {}: it is for {}",
                escape_str(sni),
                escape_str(&names.join(", "))
            );
            let frames: Vec<u64> = alert_frames
                .iter()
                .copied()
                .filter(|_| absorbs)
                .chain([leaf.frame])
                .collect();
            push(
                &mut out,
                "tls.sni_mismatch",
                cert_sev,
                with_alert(summary, alert.filter(|_| absorbs), absorbs),
                format!("serve a certificate with {} in its subjectAltName, or connect with the name it holds", escape_str(sni)),
                &frames,
                at,
            );
        }
    }

    let offered = offered_text(ch);
    if let (Some(a), false) = (alert, alert_explained) {
        let who = a.from.as_str();
        let level = if a.is_fatal() {
            String::new()
        } else {
            format!("{} ", a.level)
        };
        let said = format!("{who} sent {level}alert {} ({})", a.description, a.code);
        let issuer = r
            .certificates
            .first()
            .map(|c| format!(" (issuer {})", escape_str(&c.issuer)))
            .unwrap_or_default();
        let missing_client_cert = a.from == Side::Server
            && r.client_certificates == Some(0)
            && r.client_cert_requested.is_some();
        let client_cert_next =
            "give the client a certificate (and its key) issued by a CA the server trusts for clients";
        let (kind, summary, next) = match a.code {
            40 | 41 | 42 | 116 if missing_client_cert => (
                "tls.alert",
                format!(
                    "{said}: it asked for a client certificate{} and the client sent none",
                    r.client_cert_requested
                        .map(|f| format!(" (frame {f})"))
                        .unwrap_or_default()
                ),
                client_cert_next.to_string(),
            ),
            116 => (
                "tls.alert",
                format!("{said}: it requires a client certificate and got none"),
                client_cert_next.to_string(),
            ),
            70 => (
                "tls.version_mismatch",
                match sh {
                    Some(s) if a.from == Side::Client => format!("{said}: the server chose {}, the ClientHello offered {offered}", s.version),
                    _ => format!("{said} to a ClientHello offering {offered}"),
                },
                version_next(ch),
            ),
            40 | 71 if sh.is_none() => {
                // Signaling values (renegotiation_info and fallback SCSV) ride in
                // the list but are not suites: counting them hid a one-suite offer.
                let suites: Vec<String> = ch
                    .cipher_suites
                    .iter()
                    .filter(|s| !s.ends_with("_SCSV"))
                    .cloned()
                    .collect();
                (
                "tls.no_shared_cipher",
                format!(
                    "{said} right after the ClientHello, which offered {} cipher suite{}: {}; groups: {} (the server's own list never crosses the wire)",
                    suites.len(),
                    if suites.len() == 1 { "" } else { "s" },
                    list(&suites, 8),
                    list(&ch.groups, 6)
                ),
                "enable a cipher suite (and key-exchange group) both sides support; compare the server's configured list with the client's".to_string(),
            )
            }
            48 => (
                "tls.unknown_ca",
                format!("{said}: it does not trust the {} certificate's issuer{issuer}", peer(a.from)),
                "add the issuing CA to the client's trust store, or serve the full chain up to a trusted root".to_string(),
            ),
            42 | 43 | 44 | 46 => (
                "tls.bad_certificate",
                format!("{said}: it rejected the {} certificate{issuer}", peer(a.from)),
                if a.code == 44 { "replace the revoked certificate".to_string() } else { "check the certificate chain, key usage and the hostname the client expects".to_string() },
            ),
            45 => (
                "tls.cert_expired",
                format!("{said}: the {} certificate has expired", peer(a.from)),
                "renew the certificate (check its not_after date)".to_string(),
            ),
            120 => (
                "tls.alpn_mismatch",
                format!("{said}: no common application protocol; the client offered {}", list_or_none(&ch.alpn)),
                "configure a protocol both sides accept (e.g. http/1.1 as well as h2)".to_string(),
            ),
            _ => (
                "tls.alert",
                said.clone(),
                "look at the sender's logs for why it aborted the handshake".to_string(),
            ),
        };
        let mut frames = alert_frames.clone();
        if kind == "tls.alert" {
            frames.extend(r.client_cert_requested.filter(|_| a.from == Side::Server));
        }
        push(
            &mut out,
            kind,
            Severity::Error,
            summary,
            next,
            &frames,
            a.time,
        );
        alert_explained = true;
    }

    if let Some(s) = sh {
        if !ch.offers(s.version_code) && !out.iter().any(|f| f.kind == "tls.version_mismatch") {
            push(
                &mut out,
                "tls.version_mismatch",
                Severity::Error,
                format!(
                    "server chose {}, which the ClientHello (offering {offered}) did not offer",
                    s.version
                ),
                version_next(ch),
                &[],
                s.time,
            );
        }
        if let Some(p) = &s.alpn {
            if !ch.alpn.contains(p) && !out.iter().any(|f| f.kind == "tls.alpn_mismatch") {
                push(
                    &mut out,
                    "tls.alpn_mismatch",
                    Severity::Error,
                    format!(
                        "server chose ALPN {} but the client offered {}",
                        escape_str(p),
                        list_or_none(&ch.alpn)
                    ),
                    "configure a protocol both sides accept".to_string(),
                    &[],
                    s.time,
                );
            }
        }
    }

    let gave_up = r.client_gave_up_ms.filter(|&w| w >= CLIENT_GIVE_UP_MIN_MS);
    let waited = r.unanswered_ms.filter(|&w| w >= HANDSHAKE_TIMEOUT_MS);
    let human_ms = |ms: f64| human_duration((ms * 1e6) as i64);
    let silence = match (gave_up, waited) {
        (Some(g), _) => Some(format!(
            "the server sent nothing, and the client gave up after {}",
            human_ms(g)
        )),
        (None, Some(w)) => Some(format!("the server sent nothing for {}", human_ms(w))),
        (None, None) => None,
    };
    if let Some(silence) = silence {
        let sni = r
            .sni
            .as_deref()
            .map(|s| format!(" (SNI {})", escape_str(s)))
            .unwrap_or_default();
        push(
            &mut out,
            "tls.handshake_timeout",
            Severity::Error,
            format!("ClientHello{sni} never answered: {silence}"),
            "the server accepted TCP but not TLS: check it speaks TLS on this port, or for a proxy or inspection box holding the handshake".to_string(),
            &[],
            ch.time,
        );
    }

    if let (Some(frame), false, true) = (r.encrypted_alert_suspected, alert_explained, failed) {
        let who = r.encrypted_alert_from.map_or("a peer", Side::as_str);
        // Which side aborted says what it can have rejected: a client, the
        // server's certificate; a server, something it could only check after its
        // ServerHello (rustls checks ALPN there in TLS 1.3) or the client's
        // certificate.
        let (guess, next) = match r.encrypted_alert_from {
            Some(Side::Server) if r.server_rejected_client_flight => (
                "the server rejected the client's Finished flight, most often its client certificate (none, or one the server does not trust)",
                "keys (--keylog) would tell more; meanwhile check whether the server requires a client certificate and which CAs it accepts for clients",
            ),
            Some(Side::Server) => (
                "the server rejected the client's offer after its ServerHello, for example no common ALPN protocol or a missing client certificate",
                "keys (--keylog) would tell more; meanwhile check the server's log, the ALPN protocols it accepts and whether it requires a client certificate",
            ),
            Some(Side::Client) => (
                "the client rejected the handshake, most often the server's certificate (untrusted issuer, wrong name, expired)",
                "keys (--keylog) would tell more; meanwhile check the client's error message or trust store",
            ),
            None => (
                "a peer aborted the handshake",
                "keys (--keylog) would tell more; meanwhile check both sides' logs",
            ),
        };
        push(
            &mut out,
            "tls.alert",
            Severity::Warning,
            format!("the {who} closed the connection right after an encrypted record in frame {frame}: most likely an encrypted alert: {guess}; its content is not visible without keys"),
            next.to_string(),
            &[frame],
            ch.time,
        );
    }
    out
}

fn with_alert(summary: String, alert: Option<&AlertInfo>, absorbed: bool) -> String {
    match alert {
        Some(a) if absorbed => format!(
            "{summary}; the {} sent alert {} ({})",
            a.from.as_str(),
            a.description,
            a.code
        ),
        _ => summary,
    }
}

fn peer(side: Side) -> &'static str {
    side.peer().as_str()
}

fn version_next(ch: &ClientHelloInfo) -> String {
    if ch.legacy_only {
        "enable TLS 1.3 on the client or TLS 1.2 on the server".to_string()
    } else if ch.version_codes.iter().all(|&v| v == 0x0304) {
        "enable TLS 1.2 on the client or TLS 1.3 on the server".to_string()
    } else {
        "align the TLS versions enabled on client and server".to_string()
    }
}

/// "TLS 1.2 only", "TLS 1.3, TLS 1.2", or "TLS 1.1 and lower" (no supported_versions).
fn offered_text(ch: &ClientHelloInfo) -> String {
    match ch.offered_versions.as_slice() {
        [one] if ch.has_supported_versions => format!("{one} only"),
        [one] => format!("{one} and lower"),
        many => many.join(", "),
    }
}

fn list(items: &[String], max: usize) -> String {
    let shown: Vec<String> = items.iter().take(max).map(|s| escape_str(s)).collect();
    let more = items.len().saturating_sub(max);
    if more > 0 {
        format!("{} (+{more} more)", shown.join(", "))
    } else {
        list_or_none(&shown)
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items
            .iter()
            .map(|s| escape_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The leaf names `host`: by a DNS SAN, or by the CN when there are no SANs.
pub(crate) fn cert_matches(c: &CertInfo, host: &str) -> bool {
    if c.sans.is_empty() {
        c.common_name
            .as_deref()
            .is_some_and(|cn| name_matches(cn, host))
    } else {
        c.sans.iter().any(|p| name_matches(p, host))
    }
}

/// RFC 6125 matching: case-insensitive, trailing dot ignored; `*` only as the whole
/// leftmost label, standing for exactly one non-empty label.
fn name_matches(pattern: &str, host: &str) -> bool {
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let (p, h) = (norm(pattern), norm(host));
    if p.is_empty() || h.is_empty() {
        return false;
    }
    match p.strip_prefix("*.") {
        Some(rest) if !rest.contains('*') && rest.contains('.') => h
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        Some(_) => false,
        None => !p.contains('*') && p == h,
    }
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn wildcards_match_one_label() {
        assert!(name_matches("api.example.com", "API.example.com."));
        assert!(name_matches("*.example.com", "api.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.com", "example.com"));
        assert!(!name_matches("f*.example.com", "foo.example.com"));
        assert!(!name_matches("api.example.com", "api.example.org"));
        assert!(!name_matches("", "x"));
    }
}
