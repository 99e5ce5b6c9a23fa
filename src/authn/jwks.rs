//! An issuer's keys fetched over HTTP: from a JWKS URL, or from the `jwks_uri` of
//! its OpenID / RFC 8414 metadata. Rotation-safe.
//!
//! Invariants (SECURITY.md §2):
//! - keys are cached for the `Cache-Control` max-age clamped to
//!   `[min_interval, max_interval]` (`interval` without one) and refreshed in
//!   the background when a request finds them due;
//! - a token with an unknown `kid` triggers one refetch before it is refused,
//!   single-flight (concurrent misses wait for the same fetch) and rate limited
//!   (at most one miss-triggered fetch per `unknown_kid_cooldown`), so a flood
//!   of random `kid`s costs the issuer one request per cooldown;
//! - a failed fetch keeps the last good keys, until `max_stale` after the last
//!   success, when they are dropped and every token is refused (fail closed);
//! - the URLs come from configuration or the issuer's own metadata (whose
//!   `issuer` must match), never from a token.

use super::http::{HttpClient, allowed_url, max_age};
use super::keys::KeySet;
use arc_swap::ArcSwapOption;
use http::Uri;
use jsonwebtoken::Algorithm;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JWKS URL.
    Jwks(Uri),
    /// The issuer's metadata (OpenID discovery, then RFC 8414).
    Discovery(String),
}

/// Refresh timing.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// Cache lifetime when the answer has no max-age.
    pub interval: Duration,
    /// Shortest cache lifetime, whatever the answer says.
    pub min_interval: Duration,
    /// Longest cache lifetime, whatever the answer says.
    pub max_interval: Duration,
    /// Least time between two fetches triggered by unknown `kid`s or failures.
    pub unknown_kid_cooldown: Duration,
    /// How long after the last successful fetch keys are still used.
    pub max_stale: Duration,
}

#[derive(Debug)]
struct Fetched {
    keys: Arc<KeySet>,
    at: Instant,
    fresh_until: Instant,
}

/// A remote key set.
#[derive(Debug)]
pub struct RemoteKeys {
    source: Source,
    allowed: Vec<Algorithm>,
    policy: RefreshPolicy,
    http: HttpClient,
    state: ArcSwapOption<Fetched>,
    jwks_url: Mutex<Option<Uri>>,
    flight: tokio::sync::Mutex<()>,
    attempts: Mutex<Attempts>,
    fetches: AtomicU64,
    failures: AtomicU64,
}

/// When fetches were last tried, for rate limiting.
#[derive(Debug, Default)]
struct Attempts {
    /// The last fetch of any kind, and whether it failed.
    last: Option<(Instant, bool)>,
    /// The last fetch caused by an unknown `kid`.
    last_miss: Option<Instant>,
}

/// What asked for a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The cache lifetime ran out.
    Due,
    /// A token named a key the set does not have.
    UnknownKid,
}

impl RemoteKeys {
    /// Keys from `source`, usable with `allowed` algorithms. Nothing is fetched yet.
    pub fn new(
        source: Source,
        allowed: Vec<Algorithm>,
        policy: RefreshPolicy,
        http: HttpClient,
    ) -> RemoteKeys {
        RemoteKeys {
            source,
            allowed,
            policy,
            http,
            state: ArcSwapOption::empty(),
            jwks_url: Mutex::new(None),
            flight: tokio::sync::Mutex::new(()),
            attempts: Mutex::new(Attempts::default()),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// The current keys, unless none were ever fetched or they are too stale.
    pub fn keys(&self) -> Option<Arc<KeySet>> {
        let state = self.state.load();
        let fetched = state.as_ref()?;
        (fetched.at.elapsed() <= self.policy.max_stale).then(|| Arc::clone(&fetched.keys))
    }

    /// Takes over the keys `previous` holds when it reads the same source for
    /// the same algorithms (a configuration reload), so that a reload while the
    /// issuer is unreachable keeps the last good keys.
    pub fn adopt(&self, previous: &RemoteKeys) {
        if self.source != previous.source || self.allowed != previous.allowed {
            return;
        }
        self.state.store(previous.state.load_full());
        // The failure count is a metric's counter: it goes on across reloads.
        self.failures
            .store(previous.failures.load(Ordering::Relaxed), Ordering::Relaxed);
        let url = previous
            .jwks_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        *self.jwks_url.lock().unwrap_or_else(|p| p.into_inner()) = url;
    }

    /// How many fetches were attempted (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// How many fetches failed, across reloads that kept this source (metrics).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Starts a background refresh if the keys are due and none is running.
    /// Does nothing outside a tokio runtime.
    pub fn refresh_if_due(self: &Arc<Self>) {
        let due = self
            .state
            .load()
            .as_ref()
            .is_none_or(|f| Instant::now() >= f.fresh_until);
        if !due || self.flight.try_lock().is_err() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let this = Arc::clone(self);
            handle.spawn(async move {
                this.refresh(Trigger::Due).await;
            });
        }
    }

    /// For a token whose `kid` is unknown: one coalesced, rate-limited refetch.
    pub async fn refresh_for_unknown_kid(&self) {
        self.refresh(Trigger::UnknownKid).await;
    }

    /// When no keys are held: a coalesced fetch, retried after a failure only
    /// once the cooldown has passed.
    pub async fn refresh_now(&self) {
        self.refresh(Trigger::Due).await;
    }

    async fn refresh(&self, trigger: Trigger) {
        let asked = Instant::now();
        let _flight = self.flight.lock().await;
        if self.state.load().as_ref().is_some_and(|f| f.at >= asked) {
            return; // another request fetched while this one waited
        }
        let now = Instant::now();
        {
            let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
            let cooled =
                |at: Instant| now.saturating_duration_since(at) >= self.policy.unknown_kid_cooldown;
            // Misses: one fetch per cooldown, whatever else happened. Due
            // refreshes: at once, unless the last fetch failed recently.
            let allowed = match trigger {
                Trigger::UnknownKid => attempts.last_miss.is_none_or(cooled),
                Trigger::Due => attempts
                    .last
                    .is_none_or(|(at, failed)| !failed || cooled(at)),
            };
            if !allowed {
                return;
            }
            if trigger == Trigger::UnknownKid {
                attempts.last_miss = Some(now);
            }
            attempts.last = Some((now, false));
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.fetch().await {
            Ok((keys, ttl)) => {
                for why in &keys.skipped {
                    tracing::warn!(source = ?self.source, %why, "JWKS key skipped");
                }
                let at = Instant::now();
                self.state.store(Some(Arc::new(Fetched {
                    keys: Arc::new(keys),
                    at,
                    fresh_until: at + ttl,
                })));
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
                attempts.last = Some((now, true));
                tracing::warn!(source = ?self.source, error = %e, "JWKS fetch failed; keeping the last good keys");
            }
        }
    }

    async fn fetch(&self) -> Result<(KeySet, Duration), String> {
        let url = self.jwks_url().await?;
        let answer = self.http.get(&url).await.map_err(|e| e.to_string())?;
        let keys = KeySet::from_jwks(&answer.body, &self.allowed)?;
        let p = &self.policy;
        let ttl = max_age(&answer.headers)
            .map_or(p.interval, Duration::from_secs)
            .clamp(p.min_interval, p.max_interval);
        Ok((keys, ttl))
    }

    async fn jwks_url(&self) -> Result<Uri, String> {
        let issuer = match &self.source {
            Source::Jwks(url) => return Ok(url.clone()),
            Source::Discovery(issuer) => issuer,
        };
        if let Some(url) = self
            .jwks_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Ok(url);
        }
        let mut last_error = String::new();
        for candidate in metadata_urls(issuer) {
            let Ok(url) = candidate.parse::<Uri>() else {
                continue;
            };
            match self.http.get(&url).await {
                Ok(answer) => {
                    let jwks = jwks_uri_from_metadata(&answer.body, issuer)?;
                    *self.jwks_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(jwks.clone());
                    return Ok(jwks);
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(format!("no metadata for issuer {issuer}: {last_error}"))
    }
}

/// Where an issuer's metadata may be: OpenID discovery (path appended), then
/// RFC 8414 (path inserted).
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let mut urls = vec![format!("{trimmed}/.well-known/openid-configuration")];
    if let Ok(uri) = issuer.parse::<Uri>()
        && let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority())
    {
        let path = uri.path().trim_end_matches('/');
        urls.push(format!(
            "{scheme}://{authority}/.well-known/oauth-authorization-server{path}"
        ));
    }
    urls
}

/// The `jwks_uri` of a metadata document, which must be the named issuer's.
pub fn jwks_uri_from_metadata(body: &[u8], issuer: &str) -> Result<Uri, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("metadata is not JSON: {e}"))?;
    if doc.get("issuer").and_then(|i| i.as_str()) != Some(issuer) {
        return Err(format!("metadata names another issuer than {issuer}"));
    }
    let url: Uri = doc
        .get("jwks_uri")
        .and_then(|u| u.as_str())
        .ok_or("metadata has no jwks_uri")?
        .parse()
        .map_err(|_| "metadata jwks_uri is not a URL".to_owned())?;
    if !allowed_url(&url) {
        return Err("metadata jwks_uri must be https (or http on loopback)".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_looked_up_at_both_well_known_forms() {
        assert_eq!(
            metadata_urls("https://idp.example.com/tenant1"),
            [
                "https://idp.example.com/tenant1/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server/tenant1"
            ]
        );
    }

    #[test]
    fn metadata_must_name_the_issuer_and_a_fetchable_jwks_uri() {
        let ok = br#"{"issuer":"https://idp","jwks_uri":"https://idp/jwks"}"#;
        assert!(jwks_uri_from_metadata(ok, "https://idp").is_ok());
        assert!(jwks_uri_from_metadata(ok, "https://other").is_err());
        let plain = br#"{"issuer":"https://idp","jwks_uri":"http://evil.example/jwks"}"#;
        assert!(jwks_uri_from_metadata(plain, "https://idp").is_err());
    }
}
