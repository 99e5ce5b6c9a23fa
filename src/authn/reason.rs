//! Why a request was not authenticated: one category per failure, for the access
//! record and the audit trail. The client is never told more than "invalid token"
//! (or "insufficient scope"): the category is for the operator.

/// The category of an authentication failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Reason {
    /// No `Authorization: Bearer` header.
    #[error("missing_token")]
    MissingToken,
    /// An `access_token` in the query string (never accepted, RFC 6750 §2.3 / MCP).
    #[error("token_in_query")]
    TokenInQuery,
    /// Not a bearer credential, several `Authorization` headers, or not a JWS
    /// compact serialization (segments, base64url, JSON).
    #[error("malformed")]
    Malformed,
    /// The token, or one of its parts, exceeds the configured size.
    #[error("oversized")]
    Oversized,
    /// A header or claims object with a duplicated member name.
    #[error("duplicate_member")]
    DuplicateMember,
    /// `alg` not in the issuer's allow-list (including `none`).
    #[error("algorithm_not_allowed")]
    AlgorithmNotAllowed,
    /// A header that would let the token choose its key (`jwk`, `jku`, `x5u`,
    /// `x5c`), or a `crit` extension the gateway does not understand.
    #[error("forbidden_header")]
    ForbiddenHeader,
    /// `typ` is not the required one (RFC 9068 `at+jwt`).
    #[error("wrong_type")]
    WrongType,
    /// `iss` missing or not a configured issuer.
    #[error("unknown_issuer")]
    UnknownIssuer,
    /// No key of the issuer matches the token's `kid` and `alg`.
    #[error("unknown_key")]
    UnknownKey,
    /// The issuer's keys could not be obtained (never fetched, or too stale).
    #[error("keys_unavailable")]
    KeysUnavailable,
    /// The signature does not verify.
    #[error("bad_signature")]
    BadSignature,
    /// `exp` is past (beyond the leeway).
    #[error("expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("not_yet_valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("issued_in_future")]
    IssuedInFuture,
    /// `exp - iat` exceeds the issuer's maximum lifetime.
    #[error("lifetime_too_long")]
    LifetimeTooLong,
    /// `now - iat` exceeds the issuer's maximum age.
    #[error("too_old")]
    TooOld,
    /// `aud` does not name this gateway's resource.
    #[error("wrong_audience")]
    WrongAudience,
    /// A required claim is absent or has the wrong JSON type.
    #[error("missing_claim")]
    MissingClaim,
    /// The token's `jti` is revoked.
    #[error("revoked")]
    Revoked,
    /// The token is valid but lacks a required scope (403).
    #[error("insufficient_scope")]
    InsufficientScope,
    /// A certificate-bound token (RFC 8705) without that client certificate.
    #[error("certificate_mismatch")]
    CertificateMismatch,
    /// `mode: mtls` and no client certificate.
    #[error("missing_certificate")]
    MissingCertificate,
}

impl Reason {
    /// Every category, for counters.
    pub const ALL: [Reason; 23] = [
        Reason::MissingToken,
        Reason::TokenInQuery,
        Reason::Malformed,
        Reason::Oversized,
        Reason::DuplicateMember,
        Reason::AlgorithmNotAllowed,
        Reason::ForbiddenHeader,
        Reason::WrongType,
        Reason::UnknownIssuer,
        Reason::UnknownKey,
        Reason::KeysUnavailable,
        Reason::BadSignature,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::IssuedInFuture,
        Reason::LifetimeTooLong,
        Reason::TooOld,
        Reason::WrongAudience,
        Reason::MissingClaim,
        Reason::Revoked,
        Reason::InsufficientScope,
        Reason::CertificateMismatch,
        Reason::MissingCertificate,
    ];

    /// The category's stable name, as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MissingToken => "missing_token",
            Reason::TokenInQuery => "token_in_query",
            Reason::Malformed => "malformed",
            Reason::Oversized => "oversized",
            Reason::DuplicateMember => "duplicate_member",
            Reason::AlgorithmNotAllowed => "algorithm_not_allowed",
            Reason::ForbiddenHeader => "forbidden_header",
            Reason::WrongType => "wrong_type",
            Reason::UnknownIssuer => "unknown_issuer",
            Reason::UnknownKey => "unknown_key",
            Reason::KeysUnavailable => "keys_unavailable",
            Reason::BadSignature => "bad_signature",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::IssuedInFuture => "issued_in_future",
            Reason::LifetimeTooLong => "lifetime_too_long",
            Reason::TooOld => "too_old",
            Reason::WrongAudience => "wrong_audience",
            Reason::MissingClaim => "missing_claim",
            Reason::Revoked => "revoked",
            Reason::InsufficientScope => "insufficient_scope",
            Reason::CertificateMismatch => "certificate_mismatch",
            Reason::MissingCertificate => "missing_certificate",
        }
    }

    /// Whether the caller presented no credential at all (RFC 6750 §3.1: the
    /// challenge then carries no `error` attribute).
    pub fn is_missing(self) -> bool {
        matches!(self, Reason::MissingToken)
    }
}

/// Counts of failures by category, kept for the gateway's lifetime (across
/// reloads) and shown on the admin listener.
#[derive(Debug, Default)]
pub struct ReasonCounts {
    counts: [std::sync::atomic::AtomicU64; 23],
}

impl ReasonCounts {
    /// Counts one failure.
    pub fn record(&self, reason: Reason) {
        if let Some(i) = Reason::ALL.iter().position(|r| *r == reason)
            && let Some(c) = self.counts.get(i)
        {
            c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Every category with its count, zeros included (for metrics).
    pub fn counts(&self) -> Vec<(Reason, u64)> {
        Reason::ALL
            .iter()
            .zip(&self.counts)
            .map(|(reason, count)| (*reason, count.load(std::sync::atomic::Ordering::Relaxed)))
            .collect()
    }

    /// The non-zero counts as a JSON object `{ "expired": 3, ... }`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (reason, count) in Reason::ALL.iter().zip(&self.counts) {
            let n = count.load(std::sync::atomic::Ordering::Relaxed);
            if n > 0 {
                map.insert(reason.as_str().into(), n.into());
            }
        }
        serde_json::Value::Object(map)
    }
}
