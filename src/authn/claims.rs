//! Checking the registered claims of a token whose signature verified (pure: the
//! time is an argument).
//!
//! Closes the permissive defaults of JWT libraries (SECURITY.md §1.2 rows 5–10):
//! `iss`, `aud`, `exp`, `iat` and `sub` are always required; `nbf` is checked
//! when present; `iat` may not be in the future; the leeway is the issuer's
//! (default 30 s); the lifetime `exp - iat` and the age `now - iat` are bounded
//! per issuer, so a correctly signed long-lived token is still refused. Time
//! claims must be JSON numbers: a string is a missing claim, not a lenient parse.

use super::Reason;
use serde_json::{Map, Value};

/// The rules one issuer's tokens must meet.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// The exact `iss`.
    pub issuer: String,
    /// Accepted audiences (the gateway's resource URI by default); the token's
    /// `aud` must contain one of them.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, seconds.
    pub leeway: u64,
    /// Longest accepted `exp - iat`, seconds.
    pub max_lifetime: u64,
    /// Longest accepted `now - iat`, seconds.
    pub max_age: u64,
    /// Further claims that must be present (e.g. `jti`, `client_id`).
    pub required: Vec<String>,
}

/// The validity window of an accepted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `exp`.
    pub expires: u64,
    /// `iat`.
    pub issued: u64,
}

/// Checks `claims` at time `now` (seconds since the epoch).
pub fn check(claims: &Map<String, Value>, rules: &ClaimRules, now: u64) -> Result<Window, Reason> {
    match claims.get("iss") {
        Some(Value::String(iss)) if *iss == rules.issuer => {}
        Some(Value::String(_)) => return Err(Reason::UnknownIssuer),
        _ => return Err(Reason::MissingClaim),
    }
    let exp = time(claims, "exp")?.ok_or(Reason::MissingClaim)?;
    let iat = time(claims, "iat")?.ok_or(Reason::MissingClaim)?;
    if now > exp.saturating_add(rules.leeway) {
        return Err(Reason::Expired);
    }
    if let Some(nbf) = time(claims, "nbf")?
        && nbf > now.saturating_add(rules.leeway)
    {
        return Err(Reason::NotYetValid);
    }
    if iat > now.saturating_add(rules.leeway) {
        return Err(Reason::IssuedInFuture);
    }
    if exp.saturating_sub(iat) > rules.max_lifetime {
        return Err(Reason::LifetimeTooLong);
    }
    if now.saturating_sub(iat) > rules.max_age {
        return Err(Reason::TooOld);
    }
    audience(claims.get("aud"), &rules.audiences)?;
    match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return Err(Reason::MissingClaim),
    }
    if rules
        .required
        .iter()
        .any(|name| claims.get(name).is_none_or(Value::is_null))
    {
        return Err(Reason::MissingClaim);
    }
    Ok(Window {
        expires: exp,
        issued: iat,
    })
}

/// A NumericDate claim: absent, or a non-negative number (fractions truncated).
fn time(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, Reason> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(f)) if f >= 0.0 && f < u64::MAX as f64 => Ok(Some(f as u64)),
            _ => Err(Reason::MissingClaim),
        },
        Some(_) => Err(Reason::MissingClaim),
    }
}

fn audience(aud: Option<&Value>, accepted: &[String]) -> Result<(), Reason> {
    let ours = |a: &Value| a.as_str().is_some_and(|a| accepted.iter().any(|x| x == a));
    match aud {
        None => Err(Reason::MissingClaim),
        Some(Value::Array(list)) if list.iter().any(ours) => Ok(()),
        Some(a @ Value::String(_)) if ours(a) => Ok(()),
        Some(_) => Err(Reason::WrongAudience),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: "https://idp".into(),
            audiences: vec!["https://gw/mcp".into()],
            leeway: 30,
            max_lifetime: 3600,
            max_age: 3600,
            required: vec!["jti".into()],
        }
    }

    fn good() -> Value {
        json!({"iss":"https://idp","aud":"https://gw/mcp","sub":"a","jti":"j",
               "iat":NOW - 10,"exp":NOW + 300})
    }

    fn with(changes: Value) -> Map<String, Value> {
        let mut c = good().as_object().unwrap().clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    }

    fn verdict(changes: Value) -> Result<Window, Reason> {
        check(&with(changes), &rules(), NOW)
    }

    #[test]
    fn a_fresh_token_for_this_audience_passes() {
        assert_eq!(
            verdict(json!({})).unwrap(),
            Window {
                expires: NOW + 300,
                issued: NOW - 10
            }
        );
        assert!(verdict(json!({"aud":["other","https://gw/mcp"]})).is_ok());
        assert!(verdict(json!({"exp": NOW - 20})).is_ok(), "within leeway");
    }

    #[test]
    fn each_violated_rule_has_its_reason() {
        let cases = [
            (json!({"exp": NOW - 31}), Reason::Expired),
            (json!({"nbf": NOW + 60}), Reason::NotYetValid),
            (json!({"iat": NOW + 60}), Reason::IssuedInFuture),
            (
                json!({"iat": NOW - 10, "exp": NOW + 7200}),
                Reason::LifetimeTooLong,
            ),
            (
                json!({"iat": NOW - 4000, "exp": NOW + 10}),
                Reason::LifetimeTooLong,
            ),
            (json!({"aud": "https://other/mcp"}), Reason::WrongAudience),
            (json!({"aud": ["a", "b"]}), Reason::WrongAudience),
            (json!({"aud": null}), Reason::MissingClaim),
            (json!({"iss": "https://evil"}), Reason::UnknownIssuer),
            (json!({"exp": null}), Reason::MissingClaim),
            (json!({"exp": "9999999999"}), Reason::MissingClaim),
            (json!({"iat": null}), Reason::MissingClaim),
            (json!({"sub": null}), Reason::MissingClaim),
            (json!({"jti": null}), Reason::MissingClaim),
        ];
        for (change, reason) in cases {
            assert_eq!(verdict(change.clone()), Err(reason), "{change}");
        }
    }

    #[test]
    fn a_token_older_than_the_max_age_is_refused_even_if_unexpired() {
        let mut r = rules();
        r.max_age = 60;
        let c = with(json!({"iat": NOW - 120, "exp": NOW + 100}));
        assert_eq!(check(&c, &r, NOW), Err(Reason::TooOld));
    }
}
