//! The context record of a request: its arguments, time, address, era,
//! session labels and injection findings, as `policies/mcp.cedarschema`
//! declares them.
//!
//! Cedar evaluates every attribute of a context when the request is built, so
//! only the attributes the policy set reads are built (see [`super::reads`]);
//! schema checks (`policy test`, the tests) ask for the full record.

use super::arguments::{self, ArgType};
use super::engine::{FindingFact, Query, QueryError};
use super::memo::{Keys, Memo};
use super::reads::Reads;
use cedar_policy::{Context, RestrictedExpression};
use serde_json::Value;
use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::Arc;

/// Every attribute of the context record.
const ATTRIBUTES: [&str; 11] = [
    "arguments",
    "url_hosts",
    "now",
    "client_ip",
    "era",
    "protocol_version",
    "session_labels",
    "findings",
    "finding_categories",
    "finding_severity",
    "listing",
];

/// How many client addresses' `ip(…)` expressions are kept.
const ADDRESSES: usize = 4096;

/// Builds context records for one policy set.
#[derive(Debug)]
pub struct Contexts {
    reads: Reads,
    /// How many attributes a record built for a decision holds, at most.
    wanted: usize,
    arguments: ArgType,
    keys: Keys,
    addresses: Memo<(IpAddr, RestrictedExpression)>,
}

impl Contexts {
    /// For a policy set that reads `reads`, with arguments typed by `arguments`.
    pub fn new(reads: Reads, arguments: ArgType) -> Contexts {
        // The three finding attributes are built together.
        let wanted =
            (ATTRIBUTES.iter().filter(|a| reads.wants(a)).count() + 2).min(ATTRIBUTES.len());
        Contexts {
            reads,
            wanted,
            arguments,
            keys: Keys::default(),
            addresses: Memo::new(ADDRESSES),
        }
    }

    /// Whether a policy reads the attribute `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.reads.wants(name)
    }

    /// The context record of `q`, with only the attributes the policies read unless
    /// `full` (schema conformance wants them all). While listing, `arguments`
    /// and `url_hosts` are left out, so policies that read them error (and do
    /// not apply). Arguments are checked against their declared types even
    /// when no policy reads them: an ill-typed argument is refused either way.
    pub fn build(&self, q: &Query<'_>, listing: bool, full: bool) -> Result<Context, QueryError> {
        let wants = |name: &str| full || self.reads.wants(name);
        let capacity = if full { ATTRIBUTES.len() } else { self.wanted };
        let mut pairs: Vec<(String, RestrictedExpression)> = Vec::with_capacity(capacity);
        if !listing {
            let empty = Value::Object(serde_json::Map::new());
            let args = match q.arguments {
                None | Some(Value::Null) => &empty,
                Some(v @ Value::Object(_)) => v,
                Some(_) => {
                    return Err(QueryError::Arguments(
                        "`arguments` must be an object".into(),
                    ));
                }
            };
            let projected =
                arguments::project(args, &self.arguments, "").map_err(QueryError::Arguments)?;
            if wants("arguments") {
                pairs.push(("arguments".into(), projected));
            }
            if wants("url_hosts") {
                let mut hosts = Vec::new();
                arguments::url_hosts(args, &mut hosts, 0);
                pairs.push(("url_hosts".into(), strings(&hosts)));
            }
        }
        if wants("now") {
            pairs.push(("now".into(), now(q.now)?));
        }
        if wants("client_ip") {
            pairs.push(("client_ip".into(), self.address(q.client_ip)));
        }
        if wants("era") {
            pairs.push((
                "era".into(),
                RestrictedExpression::new_string(q.era.to_owned()),
            ));
        }
        if wants("protocol_version") {
            pairs.push((
                "protocol_version".into(),
                RestrictedExpression::new_string(q.protocol_version.to_owned()),
            ));
        }
        if wants("session_labels") {
            pairs.push(("session_labels".into(), strings(q.session_labels)));
        }
        if wants("findings") || wants("finding_categories") || wants("finding_severity") {
            let (findings, categories, severity) = findings(q.findings)?;
            pairs.push(("findings".into(), findings));
            pairs.push(("finding_categories".into(), categories));
            pairs.push(("finding_severity".into(), severity));
        }
        if wants("listing") {
            pairs.push(("listing".into(), RestrictedExpression::new_bool(listing)));
        }
        Context::from_pairs(pairs).map_err(|e| QueryError::Build(e.to_string()))
    }

    /// `ip("…")` for `ip`. Remembered per address: building it parses the
    /// extension function's name, a fifth of a decision's time when built
    /// every time.
    fn address(&self, ip: IpAddr) -> RestrictedExpression {
        let mut h = self.keys.hasher();
        std::hash::Hash::hash(&ip, &mut h);
        let key = h.finish();
        match self.addresses.get(key) {
            Some(known) if known.0 == ip => known.1.clone(),
            _ => {
                let made = RestrictedExpression::new_ip(ip.to_string());
                self.addresses.put(key, Arc::new((ip, made.clone())));
                made
            }
        }
    }
}

fn strings(items: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(
        items
            .iter()
            .map(|s| RestrictedExpression::new_string(s.clone())),
    )
}

/// `now`: the epoch second, the UTC hour and the weekday (0 = Monday).
fn now(epoch: u64) -> Result<RestrictedExpression, QueryError> {
    let (days, secs) = (epoch / 86_400, epoch % 86_400);
    RestrictedExpression::new_record([
        (
            "epoch".to_owned(),
            RestrictedExpression::new_long(i64::try_from(epoch).unwrap_or(i64::MAX)),
        ),
        (
            "hour".to_owned(),
            RestrictedExpression::new_long(i64::try_from(secs / 3600).unwrap_or(0)),
        ),
        // 1970-01-01 was a Thursday (3, Monday = 0).
        (
            "weekday".to_owned(),
            RestrictedExpression::new_long(i64::try_from((days + 3) % 7).unwrap_or(0)),
        ),
    ])
    .map_err(|e| QueryError::Build(e.to_string()))
}

/// `findings`, `finding_categories` and `finding_severity` (0 none, 1 low …
/// 4 critical).
fn findings(
    facts: &[FindingFact],
) -> Result<
    (
        RestrictedExpression,
        RestrictedExpression,
        RestrictedExpression,
    ),
    QueryError,
> {
    let mut findings = Vec::with_capacity(facts.len());
    let mut categories = Vec::new();
    let mut severity = 0;
    for f in facts {
        findings.push(
            RestrictedExpression::new_record([
                (
                    "rule".to_owned(),
                    RestrictedExpression::new_string(f.rule.clone()),
                ),
                (
                    "category".to_owned(),
                    RestrictedExpression::new_string(f.category.clone()),
                ),
                (
                    "severity".to_owned(),
                    RestrictedExpression::new_string(f.severity.clone()),
                ),
            ])
            .map_err(|e| QueryError::Build(e.to_string()))?,
        );
        if !categories.contains(&f.category) {
            categories.push(f.category.clone());
        }
        severity = severity.max(match f.severity.as_str() {
            "low" => 1,
            "medium" => 2,
            "high" => 3,
            "critical" => 4,
            _ => 0,
        });
    }
    Ok((
        RestrictedExpression::new_set(findings),
        strings(&categories),
        RestrictedExpression::new_long(severity),
    ))
}
