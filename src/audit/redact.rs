//! Redaction: what must never reach a sink.
//!
//! Three layers, applied on the writer thread before an event is rendered to
//! bytes (so every sink, the hash chain included, sees only redacted text):
//!
//! 1. configured argument paths (`password`, `auth.token`, `items.*.key`) and
//!    values under keys whose name says they hold a credential (`authorization`,
//!    `password`, `api_key`, ...) are replaced by [`MARKER`];
//! 2. every string in the event is scanned for bearer credentials (JWT-shaped
//!    strings, `Bearer ...`/`Basic ...` values), replaced by [`MARKER`];
//! 3. the exact text of secrets that findings reported is removed from every
//!    string in the event.
//!
//! Invariant: redaction only ever shortens or replaces string values; it never
//! changes the shape of the event, so OCSF validity does not depend on it.

use serde_json::Value;

/// What replaces redacted text.
pub const MARKER: &str = "[REDACTED]";

/// Key names whose values are always redacted (compared case-insensitively,
/// with `-` read as `_`).
const SECRET_KEYS: &[&str] = &[
    "authorization",
    "proxy_authorization",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "x_api_key",
    "private_key",
    "cookie",
    "set_cookie",
];

/// A compiled argument path: keys, with `*` matching any key or array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Any,
}

impl ArgPath {
    /// Parses `a.b.*.c`. Fails on an empty path or an empty segment.
    pub fn parse(text: &str) -> Result<ArgPath, String> {
        let text = text.strip_prefix("$.").unwrap_or(text);
        if text.is_empty() {
            return Err("an argument path cannot be empty".into());
        }
        let mut segments = Vec::new();
        for part in text.split('.') {
            match part {
                "" => return Err(format!("`{text}` has an empty segment")),
                "*" => segments.push(Segment::Any),
                key => segments.push(Segment::Key(key.to_owned())),
            }
        }
        Ok(ArgPath(segments))
    }
}

/// Redacts configured paths and credential-named keys inside call arguments.
pub fn redact_arguments(arguments: &mut Value, paths: &[ArgPath]) {
    for path in paths {
        redact_path(arguments, &path.0);
    }
    redact_secret_keys(arguments);
}

fn redact_path(value: &mut Value, path: &[Segment]) {
    let Some((first, rest)) = path.split_first() else {
        *value = Value::String(MARKER.into());
        return;
    };
    match (first, value) {
        (Segment::Key(k), Value::Object(map)) => {
            if let Some(v) = map.get_mut(k) {
                redact_path(v, rest);
            }
        }
        (Segment::Key(k), Value::Array(items)) => {
            if let Some(v) = k.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                redact_path(v, rest);
            }
        }
        (Segment::Any, Value::Object(map)) => map.values_mut().for_each(|v| redact_path(v, rest)),
        (Segment::Any, Value::Array(items)) => items.iter_mut().for_each(|v| redact_path(v, rest)),
        _ => {}
    }
}

fn redact_secret_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret_key(key) {
                    *v = Value::String(MARKER.into());
                } else {
                    redact_secret_keys(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_secret_keys),
        _ => {}
    }
}

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|s| {
        s.len() == key.len()
            && s.bytes().zip(key.bytes()).all(|(a, b)| {
                a == if b == b'-' {
                    b'_'
                } else {
                    b.to_ascii_lowercase()
                }
            })
    })
}

/// Scans every string in `event` for credentials and for the given secrets.
pub fn scrub(event: &mut Value, secrets: &[String]) {
    match event {
        Value::String(s) => {
            if let Some(clean) = scrub_str(s, secrets) {
                *s = clean;
            }
        }
        Value::Object(map) => map.values_mut().for_each(|v| scrub(v, secrets)),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, secrets)),
        _ => {}
    }
}

/// Shortest credential the scan recognises (`Bearer ` and 8 characters).
const MIN_CREDENTIAL: usize = 15;

/// The redacted form of `s`, or `None` when nothing needed redacting.
pub fn scrub_str(s: &str, secrets: &[String]) -> Option<String> {
    if s.len() < MIN_CREDENTIAL && secrets.iter().all(|x| x.len() > s.len() || x.len() < 4) {
        return None;
    }
    let mut out: Option<String> = None;
    for secret in secrets.iter().filter(|x| x.len() >= 4) {
        let cur = out.as_deref().unwrap_or(s);
        if cur.contains(secret.as_str()) {
            out = Some(cur.replace(secret.as_str(), MARKER));
        }
    }
    let cur = out.as_deref().unwrap_or(s);
    let spans = credential_spans(cur);
    if spans.is_empty() {
        return out;
    }
    let mut clean = String::with_capacity(cur.len());
    let mut at = 0;
    for (start, end) in spans {
        clean.push_str(cur.get(at..start).unwrap_or(""));
        clean.push_str(MARKER);
        at = end;
    }
    clean.push_str(cur.get(at..).unwrap_or(""));
    Some(clean)
}

/// Byte spans of JWT-shaped strings and `Bearer`/`Basic` credentials. Only
/// positions where a credential can start (`eyJ`, `B`, `b`) are examined.
fn credential_spans(s: &str) -> Vec<(usize, usize)> {
    static JWT_START: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"eyJ"));
    let bytes = s.as_bytes();
    let mut starts: Vec<usize> = JWT_START.find_iter(bytes).collect();
    starts.extend(memchr::memchr2_iter(b'B', b'b', bytes));
    let mut spans = Vec::new();
    if starts.is_empty() {
        return spans;
    }
    starts.sort_unstable();
    let mut covered = 0;
    for i in starts {
        if i < covered {
            continue;
        }
        if let Some(end) = jwt_at(bytes, i).or_else(|| scheme_at(bytes, i)) {
            spans.push((i, end));
            covered = end;
        }
    }
    spans
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='
}

fn run_end(bytes: &[u8], from: usize, ok: fn(u8) -> bool) -> usize {
    bytes
        .get(from..)
        .map(|rest| from + rest.iter().take_while(|b| ok(**b)).count())
        .unwrap_or(from)
}

/// A JWS compact token starting at `i`: `eyJ` + base64url, `.`, base64url, `.`,
/// optional base64url; header and payload at least 8 characters each.
fn jwt_at(bytes: &[u8], i: usize) -> Option<usize> {
    if !bytes.get(i..)?.starts_with(b"eyJ") || (i > 0 && is_b64url(bytes[i - 1])) {
        return None;
    }
    let h = run_end(bytes, i, is_b64url);
    if h - i < 8 || bytes.get(h) != Some(&b'.') {
        return None;
    }
    let p = run_end(bytes, h + 1, is_b64url);
    if p - h - 1 < 8 || bytes.get(p) != Some(&b'.') {
        return None;
    }
    Some(run_end(bytes, p + 1, is_b64url))
}

/// `Bearer <token>` or `Basic <token>` (any case) starting at `i`.
fn scheme_at(bytes: &[u8], i: usize) -> Option<usize> {
    let rest = bytes.get(i..)?;
    let word = if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"bearer ") {
        7
    } else if rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b"basic ") {
        6
    } else {
        return None;
    };
    if i > 0 && bytes[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    let start = i + word;
    let end = run_end(bytes, start, |b| {
        is_b64url(b) || b == b'.' || b == b'+' || b == b'/' || b == b'~'
    });
    (end - start >= 8).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";

    #[test]
    fn jwt_shaped_strings_are_redacted_wherever_they_appear() {
        let mut v = json!({"note": format!("use {JWT} now"), "list": [JWT]});
        scrub(&mut v, &[]);
        assert_eq!(
            v,
            json!({"note": "use [REDACTED] now", "list": ["[REDACTED]"]})
        );
    }

    #[test]
    fn bearer_and_basic_credentials_are_redacted() {
        let s = "Authorization: Bearer abcdefghijkl.mnop and basic dXNlcjpwYXNzd29yZA==";
        assert_eq!(
            scrub_str(s, &[]).unwrap(),
            "Authorization: [REDACTED] and [REDACTED]"
        );
        assert_eq!(scrub_str("a bearer of good news", &[]), None);
    }

    #[test]
    fn secrets_reported_by_findings_are_removed() {
        let secrets = vec!["AKIAIOSFODNN7EXAMPLE".to_owned()];
        let mut v = json!({"q": "key=AKIAIOSFODNN7EXAMPLE;"});
        scrub(&mut v, &secrets);
        assert_eq!(v, json!({"q": "key=[REDACTED];"}));
    }

    #[test]
    fn configured_paths_and_credential_keys_are_redacted() {
        let paths = vec![
            ArgPath::parse("db.dsn").unwrap(),
            ArgPath::parse("items.*.pin").unwrap(),
        ];
        let mut v = json!({
            "db": {"dsn": "postgres://u:p@h/db", "name": "x"},
            "items": [{"pin": 1234}, {"pin": 99, "ok": true}],
            "headers": {"X-Api-Key": "k", "Authorization": "t"},
            "api-key": "k2"
        });
        redact_arguments(&mut v, &paths);
        assert_eq!(
            v,
            json!({
                "db": {"dsn": MARKER, "name": "x"},
                "items": [{"pin": MARKER}, {"pin": MARKER, "ok": true}],
                "headers": {"X-Api-Key": MARKER, "Authorization": MARKER},
                "api-key": MARKER
            })
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        assert!(ArgPath::parse("").is_err());
        assert!(ArgPath::parse("a..b").is_err());
        assert_eq!(ArgPath::parse("$.a").unwrap(), ArgPath::parse("a").unwrap());
    }
}
