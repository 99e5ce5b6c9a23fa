//! Protocol revisions and the two eras the gateway serves on one endpoint.
//!
//! Legacy revisions (2024-11-05 to 2025-11-25) negotiate a version once, in
//! `initialize`, and may bind later requests to a session. The 2026-07-28 revision
//! is stateless: every request names its version in `params._meta` and mirrors it in
//! the `MCP-Protocol-Version` header. The gateway knows exactly these revisions and
//! refuses others, because it cannot vouch for the framing rules of a revision it
//! has not read.

use std::fmt;

/// The `_meta` key that carries the protocol version of a 2026-07-28 request.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

/// A protocol revision the gateway understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// The original revision (HTTP+SSE transport).
    V2024_11_05,
    /// Streamable HTTP, batches allowed.
    V2025_03_26,
    /// Batches removed, `MCP-Protocol-Version` header required.
    V2025_06_18,
    /// The last session-based revision.
    V2025_11_25,
    /// The stateless revision.
    V2026_07_28,
}

/// Which family of revisions a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// Session-based revisions with an `initialize` handshake.
    Legacy,
    /// The stateless 2026-07-28 revision.
    Modern,
}

impl Version {
    /// Every revision the gateway accepts, oldest first.
    pub const ALL: [Version; 5] = [
        Version::V2024_11_05,
        Version::V2025_03_26,
        Version::V2025_06_18,
        Version::V2025_11_25,
        Version::V2026_07_28,
    ];

    /// Reads a version string; `None` for anything the gateway does not know.
    pub fn parse(s: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The version as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2024_11_05 => "2024-11-05",
            Version::V2025_03_26 => "2025-03-26",
            Version::V2025_06_18 => "2025-06-18",
            Version::V2025_11_25 => "2025-11-25",
            Version::V2026_07_28 => "2026-07-28",
        }
    }

    /// The era this revision belongs to.
    pub fn era(self) -> Era {
        match self {
            Version::V2026_07_28 => Era::Modern,
            _ => Era::Legacy,
        }
    }

    /// Only 2025-03-26 allowed JSON-RPC batches in a POST body.
    pub fn allows_batches(self) -> bool {
        self == Version::V2025_03_26
    }

    /// Whether the `Mcp-Method` / `Mcp-Name` / `Mcp-Param-*` headers must agree
    /// with the body (SEP-2243, 2026-07-28 and later).
    pub fn requires_mirrored_headers(self) -> bool {
        self >= Version::V2026_07_28
    }

    /// The supported versions as a JSON array, for `-32022` error data.
    pub fn supported_json() -> serde_json::Value {
        serde_json::Value::Array(
            Version::ALL
                .iter()
                .map(|v| serde_json::Value::String(v.as_str().to_owned()))
                .collect(),
        )
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Era {
    /// A short label for logs and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Era::Legacy => "legacy",
            Era::Modern => "2026-07-28",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        for v in Version::ALL {
            assert_eq!(Version::parse(v.as_str()), Some(v));
        }
        assert_eq!(Version::parse("2025-13-01"), None);
        assert_eq!(Version::parse(" 2025-06-18"), None);
        assert!(Version::V2026_07_28.requires_mirrored_headers());
        assert!(!Version::V2025_11_25.requires_mirrored_headers());
        assert!(Version::V2025_03_26.allows_batches());
        assert!(!Version::V2025_06_18.allows_batches());
        assert_eq!(Version::V2025_11_25.era(), Era::Legacy);
    }
}
