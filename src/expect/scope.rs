//! `--for` scopes: which transactions a rule applies to, by host, path and
//! method, with `*` globs (see the module doc of `expect` for the matching rules).

use std::net::IpAddr;

use super::parse::{Cursor, RuleError};
use crate::base::escape::escape_str;

/// The request side of a transaction, as a scope sees it (raw strings from the
/// wire; `None` where the capture did not show the request).
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// Method.
    pub method: Option<&'a str>,
    /// Host header.
    pub host: Option<&'a str>,
    /// Request target.
    pub path: Option<&'a str>,
    /// The server's address (matched by `host` when there is no Host header).
    pub server: Option<IpAddr>,
}

/// Which transactions a rule applies to; empty matches all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    /// The scope as written (empty for the implicit everything-scope).
    pub text: String,
    /// Host pattern, lower-cased.
    pub host: Option<String>,
    /// Path pattern.
    pub path: Option<String>,
    /// Method, upper-cased.
    pub method: Option<String>,
}

impl Scope {
    /// Parses `host H path P method M` (parts optional, any order, each once;
    /// values may be quoted) or `all`.
    pub fn parse(text: &str) -> Result<Scope, RuleError> {
        let mut c = Cursor::new("--for", text);
        let mut scope = Scope {
            text: text.trim().to_string(),
            ..Scope::default()
        };
        if c.at_end() {
            return Err(c.err(
                0,
                "empty scope: write e.g. 'host api.example.com path /v1/*', or 'all'",
            ));
        }
        let mut first = true;
        while !c.at_end() {
            let (at, key) = c.word();
            let slot = match key.to_ascii_lowercase().as_str() {
                "all" if first => {
                    if !c.at_end() {
                        let (at, _) = c.word();
                        return Err(c.err(at, "'all' stands alone"));
                    }
                    return Ok(scope);
                }
                "host" => &mut scope.host,
                "path" => &mut scope.path,
                "method" => &mut scope.method,
                _ => {
                    return Err(c.err(
                        at,
                        format!(
                            "unknown scope part {:?}: use host, path and method (or all)",
                            escape_str(key)
                        ),
                    ))
                }
            };
            if slot.is_some() {
                return Err(c.err(at, format!("{key} given twice in one scope")));
            }
            let value = c.text(&format!("a value after {key}"))?;
            *slot = Some(value);
            first = false;
        }
        scope.host = scope.host.map(|h| h.to_ascii_lowercase());
        scope.method = scope.method.map(|m| m.to_ascii_uppercase());
        Ok(scope)
    }

    /// True when the scope has no conditions.
    pub fn is_all(&self) -> bool {
        self.host.is_none() && self.path.is_none() && self.method.is_none()
    }

    /// Whether `req` is in scope. A condition on a part the capture did not show
    /// does not match.
    pub fn matches(&self, req: &Request<'_>) -> bool {
        if let Some(m) = &self.method {
            if !req.method.is_some_and(|rm| rm.eq_ignore_ascii_case(m)) {
                return false;
            }
        }
        if let Some(pattern) = &self.host {
            let host = match req.host {
                Some(h) => {
                    let h = h.trim().to_ascii_lowercase();
                    if pattern.contains(':') && !pattern.contains('[') {
                        h
                    } else {
                        strip_port(&h).to_string()
                    }
                }
                None => match req.server {
                    Some(ip) => ip.to_string(),
                    None => return false,
                },
            };
            if !glob(pattern, &host) {
                return false;
            }
        }
        if let Some(pattern) = &self.path {
            let Some(target) = req.path else {
                return false;
            };
            let target = origin_form(target);
            let target = if pattern.contains('?') {
                target
            } else {
                target.split('?').next().unwrap_or(target)
            };
            if !glob(pattern, target) {
                return false;
            }
        }
        true
    }
}

/// `host:port` → `host`; `[v6]:port` → `[v6]`; a bare IPv6 address is kept.
fn strip_port(h: &str) -> &str {
    if let Some(end) = h.find(']') {
        return h.get(..=end).unwrap_or(h);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            host
        }
        _ => h,
    }
}

/// An absolute-form target (`http://h/p`) reduced to its path.
fn origin_form(t: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if t.len() > scheme.len()
            && t.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        {
            let rest = t.get(scheme.len()..).unwrap_or_default();
            return rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/");
        }
    }
    t
}

/// `*` matches any run of characters (including none and `/`); everything
/// else matches itself. Iterative with one backtrack point: linear in practice,
/// O(n·m) at worst on bounded inputs.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("/v1/*", "/v1/orders/7"));
        assert!(glob("*", ""));
        assert!(glob("*.example.com", "api.example.com"));
        assert!(!glob("*.example.com", "example.com"));
        assert!(glob("/a*b*c", "/aXbYbZc"));
        assert!(!glob("/a*b", "/a/c"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }

    #[test]
    fn scope_parsing() {
        let s = Scope::parse("host API.example.com path '/v1/*' method get").unwrap();
        assert_eq!(s.host.as_deref(), Some("api.example.com"));
        assert_eq!(s.path.as_deref(), Some("'/v1/*'"));
        assert_eq!(s.method.as_deref(), Some("GET"));
        let s = Scope::parse(r#"path "/a b/*""#).unwrap();
        assert_eq!(s.path.as_deref(), Some("/a b/*"));
        assert!(Scope::parse("all").unwrap().is_all());
        for (bad, pos) in [
            ("", 0),
            ("   ", 0),
            ("host", 4),
            ("hots x", 0),
            ("host a host b", 7),
            ("all host a", 4),
            ("path \"/x", 5),
        ] {
            let e = Scope::parse(bad).unwrap_err();
            assert_eq!(e.pos, pos, "{bad:?}: {e}");
            assert_eq!(e.flag, "--for");
        }
    }

    #[test]
    fn matching() {
        let req = Request {
            method: Some("GET"),
            host: Some("API.example.com:8443"),
            path: Some("/v1/orders?id=7"),
            server: None,
        };
        let m = |s: &str| Scope::parse(s).unwrap().matches(&req);
        assert!(m("host api.example.com"));
        assert!(m("host *.example.com path /v1/* method GET"));
        assert!(m("path /v1/orders"));
        assert!(!m("path /v1/orders?id=8"));
        assert!(m("path /v1/orders?id=*"));
        assert!(!m("method POST"));
        assert!(m("host api.example.com:8443"));
        assert!(!m("host api.example.com:80"));
        let bare = Request {
            server: "10.0.0.2".parse().ok(),
            path: Some("http://proxy.example/v2/x"),
            ..Request::default()
        };
        assert!(Scope::parse("host 10.0.0.2").unwrap().matches(&bare));
        assert!(Scope::parse("path /v2/*").unwrap().matches(&bare));
        assert!(!Scope::parse("method GET").unwrap().matches(&bare));
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("::1"), "::1");
    }
}
