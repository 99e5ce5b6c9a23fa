//! The `rate_limits:` section as written, compiled into [`super::Rules`].
//!
//! ```yaml
//! rate_limits:
//!   redis: { url: "redis://127.0.0.1:6379/0", on_error: local }
//!   rules:
//!     - name: per-caller
//!       per: [principal]
//!       rate: 120/min
//!       burst: 20
//!     - name: destructive-per-tenant
//!       per: [tenant]
//!       labels: [destructive]
//!       rate: 10/hour
//! ```

use super::{Key, Rule, Rules};
use crate::config::ConfigError;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// `rate_limits:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimits {
    /// Share limits between replicas through Redis. Absent: per process.
    #[serde(default)]
    pub redis: Option<RawRedis>,
    /// The rules; a request must pass every rule that applies to it.
    pub rules: Vec<RawRule>,
}

/// `rate_limits.redis`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    /// `redis://host:port/db`.
    pub url: String,
    /// Key prefix. Default `portcullis:rl:`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// When Redis cannot answer: `local` (default: this replica's own limiter
    /// decides, so each replica allows up to the whole limit) or `deny`
    /// (refuse until Redis answers).
    #[serde(default)]
    #[schemars(extend("enum" = ["local", "deny", null]))]
    pub on_error: Option<String>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// A unique name (shown in logs; part of the key).
    pub name: String,
    /// What the limit is per: any of `principal`, `tenant`, `tool`, `client_ip`.
    /// Empty: one limit for everyone.
    #[serde(default)]
    #[schemars(extend("items" = { "type": "string", "enum": ["principal", "tenant", "tool", "client_ip"] }))]
    pub per: Vec<String>,
    /// `N/s`, `N/min`, `N/hour` or `N/day`.
    #[schemars(extend("pattern" = RATE_PATTERN))]
    pub rate: String,
    /// Requests allowed at once. Default 1 (strictly spaced).
    #[serde(default)]
    pub burst: Option<u32>,
    /// Only calls of these tools.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Only calls of tools carrying one of these labels (tool classes), from
    /// `authorization.upstreams`, plus `read_only` and `destructive` from the
    /// tools' annotations.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// Compiles the section.
pub fn compile(raw: &RawRateLimits, file: &Path) -> Result<Rules, ConfigError> {
    let mut rules = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.iter().enumerate() {
        let at = |field: &str| format!("rate_limits.rules[{i}].{field}");
        if rules.iter().any(|x: &Rule| x.name == r.name) {
            return Err(ConfigError::at(
                file,
                &at("name"),
                format!("`{}` is used twice", r.name),
            ));
        }
        let per = r
            .per
            .iter()
            .map(|p| match p.as_str() {
                "principal" => Ok(Key::Principal),
                "tenant" => Ok(Key::Tenant),
                "tool" => Ok(Key::Tool),
                "client_ip" => Ok(Key::ClientIp),
                other => Err(ConfigError::at(
                    file,
                    &at("per"),
                    format!("`{other}` is not one of: principal, tenant, tool, client_ip"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let period = period(&r.rate).map_err(|e| ConfigError::at(file, &at("rate"), e))?;
        let burst = r.burst.unwrap_or(1);
        if burst == 0 {
            return Err(ConfigError::at(file, &at("burst"), "must be at least 1"));
        }
        rules.push(Rule {
            name: r.name.clone(),
            per,
            period,
            burst,
            tools: r.tools.clone(),
            labels: r.labels.clone(),
        });
    }
    let shared = match &raw.redis {
        None => None,
        Some(redis) => {
            let deny = match redis.on_error.as_deref() {
                None | Some("local") => false,
                Some("deny") => true,
                Some(other) => {
                    return Err(ConfigError::at(
                        file,
                        "rate_limits.redis.on_error",
                        format!("`{other}` is not one of: local, deny"),
                    ));
                }
            };
            let prefix = redis
                .prefix
                .clone()
                .unwrap_or_else(|| "portcullis:rl:".into());
            Some(
                super::shared::SharedLimits::new(&redis.url, prefix, deny)
                    .map_err(|e| ConfigError::at(file, "rate_limits.redis.url", e))?,
            )
        }
    };
    Ok(Rules { rules, shared })
}

/// What [`period`] accepts, as an ECMA-262 regex for the schema; a superset
/// only in that `0/s` and counts beyond 32 bits pass it.
const RATE_PATTERN: &str = r"^\s*\+?[0-9]+\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$";

/// `N/unit` as the time one request's cell takes to replenish.
fn period(rate: &str) -> Result<Duration, String> {
    let bad = || format!("`{rate}` is not a rate such as 100/min (units: s, min, hour, day)");
    let (n, unit) = rate.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let unit = match unit.trim() {
        "s" | "sec" | "second" => 1,
        "m" | "min" | "minute" => 60,
        "h" | "hour" => 3600,
        "d" | "day" => 86_400,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(format!("`{rate}`: the count must be at least 1"));
    }
    Ok(Duration::from_secs(unit) / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_rate_pattern_matches_the_parser() {
        let pattern = regex::Regex::new(RATE_PATTERN).unwrap();
        for rate in [
            "120/min",
            "10/hour",
            "1/s",
            " 5 / day ",
            "+5/s",
            "3/sec",
            "2/minute",
            "7/d",
            "5",
            "5/",
            "/s",
            "5/week",
            "5/mins",
            "-1/s",
            "1.5/s",
            "five/s",
            "5/s/s",
        ] {
            assert_eq!(pattern.is_match(rate), period(rate).is_ok(), "`{rate}`");
        }
    }

    #[test]
    fn rates_become_replenish_periods() {
        assert_eq!(period("10/s").unwrap(), Duration::from_millis(100));
        assert_eq!(period("120/min").unwrap(), Duration::from_millis(500));
        assert_eq!(period("24/day").unwrap(), Duration::from_secs(3600));
        assert!(period("0/s").is_err());
        assert!(period("5 per minute").unwrap_err().contains("100/min"));
    }
}
