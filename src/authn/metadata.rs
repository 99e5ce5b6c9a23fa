//! The OAuth 2.1 resource-server face of the gateway (pure): the RFC 9728
//! protected resource metadata document, where it is served, and the
//! `WWW-Authenticate` challenges (RFC 6750 §3) that point clients to it.
//!
//! Invariants: `resource` is the gateway's public URL (behind a gateway the
//! upstream's URL would be wrong, MCP.md §1.7); challenges carry an error code
//! and never a description of why a token failed; the document is public and is
//! served without a token at the root and path-inserted well-known URIs.

use http::{HeaderValue, Uri};
use serde_json::{Value, json};

/// The well-known prefix of RFC 9728.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// What the metadata says and where it lives.
#[derive(Debug, Clone)]
pub struct ResourceMetadata {
    /// The canonical resource URI (RFC 8707), e.g. `https://mcp.example.com/mcp`.
    pub resource: String,
    /// The path-inserted metadata URL, advertised in challenges.
    pub url: String,
    /// Paths on the MCP listener that serve the document.
    pub paths: Vec<String>,
    /// The document, serialized once.
    pub document: bytes::Bytes,
    /// The `scope` advertised in challenges (required scopes), if any.
    pub challenge_scope: Option<String>,
}

impl ResourceMetadata {
    /// Builds the metadata of `resource`. `listen_path` is the MCP endpoint path
    /// on the listener (it can differ from the public path behind a proxy).
    pub fn new(
        resource: &Uri,
        listen_path: &str,
        authorization_servers: &[String],
        scopes_supported: &[String],
        required_scopes: &[String],
        resource_name: Option<&str>,
    ) -> ResourceMetadata {
        let path = resource.path().trim_end_matches('/');
        let origin = format!(
            "{}://{}",
            resource.scheme_str().unwrap_or("https"),
            resource.authority().map_or("", |a| a.as_str())
        );
        let resource = resource.to_string();
        // `Uri` prints an empty path as "/"; the canonical form has none.
        let resource = match resource.strip_suffix('/') {
            Some(r) if path.is_empty() => r.to_owned(),
            _ => resource,
        };
        let mut paths = vec![WELL_KNOWN.to_owned(), format!("{WELL_KNOWN}{path}")];
        let listen = format!("{WELL_KNOWN}{}", listen_path.trim_end_matches('/'));
        if !paths.contains(&listen) {
            paths.push(listen);
        }
        paths.dedup();
        let mut document = json!({
            "resource": resource,
            "authorization_servers": authorization_servers,
            "bearer_methods_supported": ["header"],
        });
        if !scopes_supported.is_empty() {
            document["scopes_supported"] = json!(scopes_supported);
        }
        if let Some(name) = resource_name {
            document["resource_name"] = Value::from(name);
        }
        ResourceMetadata {
            url: format!("{origin}{WELL_KNOWN}{path}"),
            resource,
            paths,
            document: bytes::Bytes::from(document.to_string()),
            challenge_scope: (!required_scopes.is_empty()).then(|| required_scopes.join(" ")),
        }
    }

    /// Whether `path` is one of the document's well-known paths.
    pub fn serves(&self, path: &str) -> bool {
        self.paths.iter().any(|p| p == path)
    }

    /// The challenge for a missing token (no `error`, RFC 6750 §3.1), an invalid
    /// one (`invalid_token`), a malformed request (`invalid_request`) or
    /// insufficient scope (`insufficient_scope`).
    pub fn challenge(&self, error: Option<&str>) -> HeaderValue {
        let mut value = String::from("Bearer ");
        if let Some(e) = error {
            value.push_str(&format!("error=\"{e}\", "));
        }
        value.push_str(&format!("resource_metadata=\"{}\"", self.url));
        if let Some(scope) = &self.challenge_scope {
            value.push_str(&format!(", scope=\"{scope}\""));
        }
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md() -> ResourceMetadata {
        ResourceMetadata::new(
            &"https://mcp.example.com/public/mcp".parse().unwrap(),
            "/mcp",
            &["https://idp.example.com".into()],
            &["mcp:tools".into()],
            &["mcp:tools".into()],
            None,
        )
    }

    #[test]
    fn the_document_names_the_gateway_and_its_servers() {
        let m = md();
        let doc: Value = serde_json::from_slice(&m.document).unwrap();
        assert_eq!(doc["resource"], "https://mcp.example.com/public/mcp");
        assert_eq!(doc["authorization_servers"][0], "https://idp.example.com");
        assert_eq!(
            m.url,
            "https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp"
        );
        assert!(m.serves("/.well-known/oauth-protected-resource"));
        assert!(m.serves("/.well-known/oauth-protected-resource/public/mcp"));
        assert!(m.serves("/.well-known/oauth-protected-resource/mcp"));
        assert!(!m.serves("/.well-known/oauth-protected-resource/other"));
    }

    #[test]
    fn challenges_point_to_the_metadata_and_carry_no_detail() {
        let m = md();
        assert_eq!(
            m.challenge(None),
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp\", scope=\"mcp:tools\""
        );
        let invalid = m.challenge(Some("invalid_token"));
        assert!(
            invalid
                .to_str()
                .unwrap()
                .starts_with("Bearer error=\"invalid_token\", resource_metadata=")
        );
    }

    #[test]
    fn a_resource_without_path_has_no_trailing_slash() {
        let m = ResourceMetadata::new(
            &"https://mcp.example.com".parse().unwrap(),
            "/mcp",
            &[],
            &[],
            &[],
            Some("gw"),
        );
        assert_eq!(m.resource, "https://mcp.example.com");
        assert_eq!(
            m.url,
            "https://mcp.example.com/.well-known/oauth-protected-resource"
        );
    }
}
