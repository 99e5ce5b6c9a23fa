//! Who is calling, as every stage after authentication sees it: policy (Cedar),
//! rate limits and audit read the [`Principal`] from the request context.
//!
//! Invariant: a principal with [`Authenticated::Token`] was built only from
//! claims whose signature and validity the gateway checked; an anonymous one
//! exists only when the configuration says `mode: none`.

use serde_json::{Map, Value};

/// How the principal was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticated {
    /// Not at all: `authentication: { mode: none }`.
    Anonymous,
    /// By a validated bearer token.
    Token,
    /// By a client certificate (`mode: mtls`).
    Certificate,
}

/// One party in a delegation chain (RFC 8693 `act`), outermost (current actor) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The actor's `sub`.
    pub subject: String,
    /// The actor's `iss`, when given.
    pub issuer: Option<String>,
    /// The actor's `client_id`, when given.
    pub client_id: Option<String>,
}

/// The caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// How the principal was established.
    pub authenticated: Authenticated,
    /// Subject identifier (`sub`); `anonymous` without authentication.
    pub subject: String,
    /// The token's issuer.
    pub issuer: Option<String>,
    /// The tenant, from the issuer's configured tenant claim.
    pub tenant: Option<String>,
    /// Roles (configured claim, default `roles`).
    pub roles: Vec<String>,
    /// Groups (configured claim, default `groups`).
    pub groups: Vec<String>,
    /// Scopes granted (`scope`, space-separated, or `scp`).
    pub scopes: Vec<String>,
    /// The OAuth client the token was issued to (`client_id`, else `azp`).
    pub client_id: Option<String>,
    /// The delegation chain from `act`, current actor first.
    pub actors: Vec<Actor>,
    /// The token's `jti`, for audit and revocation.
    pub token_id: Option<String>,
    /// The token's `exp` (seconds since the epoch).
    pub expires_at: Option<u64>,
    /// RFC 8705 `cnf.x5t#S256`: the token is bound to this client certificate.
    pub certificate_binding: Option<String>,
}

impl Principal {
    /// The principal of every request when authentication is off.
    pub fn anonymous() -> Principal {
        Principal {
            authenticated: Authenticated::Anonymous,
            subject: "anonymous".into(),
            issuer: None,
            tenant: None,
            roles: Vec::new(),
            groups: Vec::new(),
            scopes: Vec::new(),
            client_id: None,
            actors: Vec::new(),
            token_id: None,
            expires_at: None,
            certificate_binding: None,
        }
    }

    /// Whether the principal holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Which claims carry the tenant, roles, groups and scopes.
#[derive(Debug, Clone)]
pub struct ClaimNames {
    /// The tenant claim; none by default.
    pub tenant: Option<String>,
    /// The roles claim. Default `roles`.
    pub roles: String,
    /// The groups claim. Default `groups`.
    pub groups: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            tenant: None,
            roles: "roles".into(),
            groups: "groups".into(),
        }
    }
}

/// Deepest `act` nesting read.
const MAX_ACTORS: usize = 8;

/// Builds the principal from claims that have already been validated.
pub fn from_claims(claims: &Map<String, Value>, names: &ClaimNames, exp: u64) -> Principal {
    let string = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut scopes = list(claims.get("scope"));
    if scopes.is_empty() {
        scopes = list(claims.get("scp"));
    }
    Principal {
        authenticated: Authenticated::Token,
        subject: string("sub").unwrap_or_default(),
        issuer: string("iss"),
        tenant: names.tenant.as_deref().and_then(|t| match claims.get(t) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }),
        roles: list(claims.get(&names.roles)),
        groups: list(claims.get(&names.groups)),
        scopes,
        client_id: string("client_id").or_else(|| string("azp")),
        actors: actors(claims.get("act")),
        token_id: string("jti"),
        expires_at: Some(exp),
        certificate_binding: claims
            .get("cnf")
            .and_then(|c| c.get("x5t#S256"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// A claim that is an array of strings or a space-separated string.
fn list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_ascii_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn actors(mut act: Option<&Value>) -> Vec<Actor> {
    let mut chain = Vec::new();
    while let Some(Value::Object(a)) = act {
        if chain.len() == MAX_ACTORS {
            break;
        }
        let string = |name: &str| a.get(name).and_then(Value::as_str).map(str::to_owned);
        chain.push(Actor {
            subject: string("sub").unwrap_or_default(),
            issuer: string("iss"),
            client_id: string("client_id"),
        });
        act = a.get("act");
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_claims_become_the_principal() {
        let claims = json!({
            "iss": "https://idp", "sub": "alice", "tid": "acme", "jti": "j1",
            "roles": ["admin"], "groups": "ops dev", "scope": "mcp:tools mcp:read",
            "azp": "agent-1",
            "act": {"sub": "agent-1", "act": {"sub": "orchestrator", "iss": "https://idp"}}
        });
        let names = ClaimNames {
            tenant: Some("tid".into()),
            ..ClaimNames::default()
        };
        let p = from_claims(claims.as_object().unwrap(), &names, 99);
        assert_eq!(p.subject, "alice");
        assert_eq!(p.tenant.as_deref(), Some("acme"));
        assert_eq!(p.roles, ["admin"]);
        assert_eq!(p.groups, ["ops", "dev"]);
        assert!(p.has_scope("mcp:read"));
        assert_eq!(p.client_id.as_deref(), Some("agent-1"));
        assert_eq!(p.actors.len(), 2);
        assert_eq!(p.actors[1].subject, "orchestrator");
        assert_eq!(p.expires_at, Some(99));
    }

    #[test]
    fn scp_arrays_are_scopes_when_scope_is_absent() {
        let claims = json!({"sub": "a", "scp": ["x", "y"], "client_id": "c", "azp": "z"});
        let p = from_claims(claims.as_object().unwrap(), &ClaimNames::default(), 1);
        assert_eq!(p.scopes, ["x", "y"]);
        assert_eq!(p.client_id.as_deref(), Some("c"));
    }
}
