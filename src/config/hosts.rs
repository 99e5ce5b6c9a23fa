//! Host and Origin allow-lists (DNS-rebinding protection).
//!
//! A reverse proxy rewrites `Host` toward its upstream, so the upstream's own
//! rebinding check no longer sees what the browser sent: the gateway must check the
//! client's `Host` and `Origin` itself. Patterns are `host`, `host:port` or
//! `host:*`; a pattern without a port matches only a Host header without a port.
//! Host names compare case-insensitively.

/// One allowed `Host` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    None,
    Any,
    Exact(u16),
}

/// One allowed `Origin` value: a scheme and a host pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: HostPattern,
}

/// Splits `host[:port]` (IPv6 literals in brackets) into its parts.
fn split_authority(s: &str) -> Option<(&str, Option<&str>)> {
    if s.starts_with('[') {
        let end = s.find(']')?;
        let (host, rest) = s.split_at(end + 1);
        match rest {
            "" => Some((host, None)),
            _ => Some((host, Some(rest.strip_prefix(':')?))),
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => Some((host, Some(port))),
            Some(_) => None,
            None => Some((s, None)),
        }
    }
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
        })
}

impl HostPattern {
    /// Parses `host`, `host:port` or `host:*`.
    pub fn parse(s: &str) -> Result<HostPattern, String> {
        let (host, port) =
            split_authority(s.trim()).ok_or_else(|| format!("`{s}` is not host[:port]"))?;
        if !valid_host(host) {
            return Err(format!("`{s}` does not name a host"));
        }
        let port = match port {
            None => PortPattern::None,
            Some("*") => PortPattern::Any,
            Some(p) => PortPattern::Exact(
                p.parse()
                    .map_err(|_| format!("`{s}`: port must be a number or `*`"))?,
            ),
        };
        Ok(HostPattern {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether a `Host` header value (or HTTP/2 `:authority`) is allowed.
    pub fn matches(&self, authority: &str) -> bool {
        let Some((host, port)) = split_authority(authority) else {
            return false;
        };
        if !host.eq_ignore_ascii_case(&self.host) {
            return false;
        }
        match (&self.port, port) {
            (PortPattern::None, None) => true,
            (PortPattern::Any, None) => true,
            (PortPattern::Any, Some(p)) => p.parse::<u16>().is_ok(),
            (PortPattern::Exact(want), Some(p)) => p.parse::<u16>().ok() == Some(*want),
            _ => false,
        }
    }
}

impl OriginPattern {
    /// Parses `scheme://host[:port|:*]`.
    pub fn parse(s: &str) -> Result<OriginPattern, String> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("`{s}` is not an origin such as https://app.example.com"))?;
        if !matches!(scheme, "http" | "https") {
            return Err(format!("`{s}`: the scheme must be http or https"));
        }
        Ok(OriginPattern {
            scheme: scheme.to_owned(),
            host: HostPattern::parse(rest.trim_end_matches('/'))?,
        })
    }

    /// The `http://` and `https://` origins of a host pattern.
    pub fn both_schemes(host: &HostPattern) -> [OriginPattern; 2] {
        ["http", "https"].map(|scheme| OriginPattern {
            scheme: scheme.to_owned(),
            host: host.clone(),
        })
    }

    /// Whether an `Origin` header value is allowed. `null` never is.
    pub fn matches(&self, origin: &str) -> bool {
        match origin.split_once("://") {
            Some((scheme, rest)) => {
                scheme.eq_ignore_ascii_case(&self.scheme) && self.host.matches(rest)
            }
            None => false,
        }
    }
}

/// The allow-lists the admission stage applies.
#[derive(Debug, Clone)]
pub struct Admission {
    /// Allowed `Host` values.
    pub hosts: Vec<HostPattern>,
    /// Allowed `Origin` values.
    pub origins: Vec<OriginPattern>,
}

impl Admission {
    /// Whether a `Host` value is allowed.
    pub fn host_allowed(&self, host: &str) -> bool {
        self.hosts.iter().any(|p| p.matches(host))
    }

    /// Whether an `Origin` value is allowed.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.iter().any(|p| p.matches(origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_match_ports_as_written() {
        let any = HostPattern::parse("localhost:*").unwrap();
        assert!(any.matches("localhost:8080"));
        assert!(any.matches("LOCALHOST"));
        assert!(!any.matches("localhost.evil.example:80"));
        assert!(!any.matches("localhost:http"));
        let exact = HostPattern::parse("mcp.example.com:443").unwrap();
        assert!(exact.matches("mcp.example.com:443"));
        assert!(!exact.matches("mcp.example.com:444"));
        assert!(!exact.matches("mcp.example.com"));
        let bare = HostPattern::parse("mcp.example.com").unwrap();
        assert!(bare.matches("mcp.example.com"));
        assert!(!bare.matches("mcp.example.com:8080"));
        let v6 = HostPattern::parse("[::1]:*").unwrap();
        assert!(v6.matches("[::1]:3000"));
        assert!(!v6.matches("::1"));
        assert!(HostPattern::parse("exa mple.com").is_err());
        assert!(HostPattern::parse("a:b").is_err());
    }

    #[test]
    fn origins_need_scheme_and_host() {
        let p = OriginPattern::parse("http://localhost:*").unwrap();
        assert!(p.matches("http://localhost:5173"));
        assert!(!p.matches("https://localhost:5173"));
        assert!(!p.matches("null"));
        assert!(!p.matches("http://evil.example"));
        assert!(OriginPattern::parse("ftp://x").is_err());
        assert!(OriginPattern::parse("localhost").is_err());
    }
}
