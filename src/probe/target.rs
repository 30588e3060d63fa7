//! The URL a probe checks: scheme, host, port and the request target.
//!
//! Written by hand rather than with the `url` crate: a probe needs only
//! `http://` and `https://` with a host, an optional port and a path, and a
//! parser that names what is wrong in each of those ("port 99999 is out of
//! range") is shorter than the glue around a general one.

use std::fmt;
use std::net::IpAddr;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// The port used when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Where the probe goes: a parsed `http(s)://host[:port][/path][?query]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The scheme.
    pub scheme: Scheme,
    /// The host as written (a name, or an address without IPv6 brackets).
    pub host: String,
    /// The host when it is an IP address: no DNS phase then.
    pub ip: Option<IpAddr>,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// The request target: path and query, at least `/`.
    pub path: String,
}

/// Why a URL cannot be probed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Not `http://` or `https://`.
    #[error(
        "'{0}' is not an http:// or https:// URL (example: https://api.example.com/v1/health)"
    )]
    Scheme(String),
    /// Nothing between the scheme and the path.
    #[error("'{0}' has no host (example: https://api.example.com/)")]
    NoHost(String),
    /// The port is not a number from 1 to 65535.
    #[error("port '{port}' in '{url}' is not a number from 1 to 65535")]
    Port {
        /// The URL.
        url: String,
        /// The port text.
        port: String,
    },
    /// A bracketed IPv6 literal that does not parse, or a host with bad characters.
    #[error("host '{host}' in '{url}' is not a valid name or address")]
    Host {
        /// The URL.
        url: String,
        /// The host text.
        host: String,
    },
    /// User information (`user:pass@`) is not supported.
    #[error("'{0}' carries credentials before the host; pass them as a header instead (-H 'Authorization: ...')")]
    Userinfo(String),
}

impl Target {
    /// Parses a URL. A bare `host[:port][/path]` is taken as `https://`.
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
            Some((s, rest)) if s.eq_ignore_ascii_case("http") => (Scheme::Http, rest),
            Some(_) => return Err(TargetError::Scheme(url.to_string())),
            None => (Scheme::Https, url),
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        let path = match tail.split_once('#').map_or(tail, |(p, _)| p) {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        if authority.contains('@') {
            return Err(TargetError::Userinfo(url.to_string()));
        }
        if authority.is_empty() {
            return Err(TargetError::NoHost(url.to_string()));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| TargetError::Host {
            url: url.to_string(),
            host: authority.to_string(),
        })?;
        let port = match port {
            None => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(TargetError::Port {
                        url: url.to_string(),
                        port: p.to_string(),
                    })
                }
            },
        };
        let ip = host.parse::<IpAddr>().ok();
        let valid_name = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if host.is_empty() || (ip.is_none() && !valid_name) {
            return Err(TargetError::Host {
                url: url.to_string(),
                host: host.to_string(),
            });
        }
        Ok(Target {
            scheme,
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            ip,
            port,
            path,
        })
    }

    /// The `Host` header value: the host, bracketed if IPv6, with the port if it
    /// is not the scheme's default.
    pub fn host_header(&self) -> String {
        let host = match self.ip {
            Some(IpAddr::V6(_)) => format!("[{}]", self.host),
            _ => self.host.clone(),
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Splits `host:port`, `[v6]:port`, `[v6]` or `host`.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        return match after {
            "" => Some((host, None)),
            p => Some((host, Some(p.strip_prefix(':')?))),
        };
    }
    match authority.rsplit_once(':') {
        // A bare IPv6 address without brackets: no port.
        Some((host, _)) if host.contains(':') => Some((authority, None)),
        Some((host, port)) => Some((host, Some(port))),
        None => Some((authority, None)),
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}{}", self.host_header(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_urls() {
        let t = Target::parse("https://API.Example.com:8443/v1/x?y=1#frag").unwrap();
        assert_eq!(t.scheme, Scheme::Https);
        assert_eq!(t.host, "api.example.com");
        assert_eq!(t.port, 8443);
        assert_eq!(t.path, "/v1/x?y=1");
        assert_eq!(t.ip, None);
        assert_eq!(t.host_header(), "api.example.com:8443");
        let t = Target::parse("http://127.0.0.1").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        assert!(t.ip.is_some());
        assert_eq!(t.host_header(), "127.0.0.1");
        let t = Target::parse("http://h?q").unwrap();
        assert_eq!(t.path, "/?q");
    }

    #[test]
    fn ipv6_literals() {
        let t = Target::parse("https://[::1]:8443/a").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.port, 8443);
        assert_eq!(t.host_header(), "[::1]:8443");
        assert_eq!(t.to_string(), "https://[::1]:8443/a");
        assert!(Target::parse("https://[::1]").unwrap().ip.is_some());
        assert!(matches!(
            Target::parse("https://[zz]/"),
            Err(TargetError::Host { .. })
        ));
    }

    #[test]
    fn bare_host_is_https() {
        let t = Target::parse("example.com/health").unwrap();
        assert_eq!(t.scheme, Scheme::Https);
        assert_eq!(t.port, 443);
        assert_eq!(t.path, "/health");
    }

    #[test]
    fn errors_name_the_part() {
        assert!(matches!(
            Target::parse("ftp://x/"),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            Target::parse("https:///x"),
            Err(TargetError::NoHost(_))
        ));
        for bad in ["http://h:0/", "http://h:99999/", "http://h:x/"] {
            let e = Target::parse(bad).unwrap_err();
            assert!(e.to_string().contains("1 to 65535"), "{e}");
        }
        assert!(matches!(
            Target::parse("http://u:p@h/"),
            Err(TargetError::Userinfo(_))
        ));
        assert!(matches!(
            Target::parse("http://h\u{1b}[2J/"),
            Err(TargetError::Host { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = Target::parse(&s);
        }
    }
}
