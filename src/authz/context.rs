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

// Positions in `ATTRIBUTES`.
const ARGUMENTS: usize = 0;
const URL_HOSTS: usize = 1;
const NOW: usize = 2;
const CLIENT_IP: usize = 3;
const ERA: usize = 4;
const PROTOCOL_VERSION: usize = 5;
const SESSION_LABELS: usize = 6;
const FINDINGS: usize = 7;
const FINDING_CATEGORIES: usize = 8;
const FINDING_SEVERITY: usize = 9;
const LISTING: usize = 10;

/// How many client addresses' `ip(…)` expressions are kept.
const ADDRESSES: usize = 4096;

/// Builds context records for one policy set.
#[derive(Debug)]
pub struct Contexts {
    reads: Reads,
    /// Whether a policy reads each of `ATTRIBUTES`, looked up once (hashing
    /// eleven names per decision was 4% of a warm decision's instructions).
    read: [bool; ATTRIBUTES.len()],
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
            read: ATTRIBUTES.map(|a| reads.wants(a)),
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
        let wants = |at: usize| full || self.read[at];
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
            if wants(ARGUMENTS) {
                pairs.push((ATTRIBUTES[ARGUMENTS].into(), projected));
            }
            if wants(URL_HOSTS) {
                let mut hosts = Vec::new();
                arguments::url_hosts(args, &mut hosts, 0);
                pairs.push((ATTRIBUTES[URL_HOSTS].into(), strings(&hosts)));
            }
        }
        if wants(NOW) {
            pairs.push((ATTRIBUTES[NOW].into(), now(q.now)?));
        }
        if wants(CLIENT_IP) {
            pairs.push((ATTRIBUTES[CLIENT_IP].into(), self.address(q.client_ip)));
        }
        if wants(ERA) {
            pairs.push((
                ATTRIBUTES[ERA].into(),
                RestrictedExpression::new_string(q.era.to_owned()),
            ));
        }
        if wants(PROTOCOL_VERSION) {
            pairs.push((
                ATTRIBUTES[PROTOCOL_VERSION].into(),
                RestrictedExpression::new_string(q.protocol_version.to_owned()),
            ));
        }
        if wants(SESSION_LABELS) {
            pairs.push((ATTRIBUTES[SESSION_LABELS].into(), strings(q.session_labels)));
        }
        if wants(FINDINGS) || wants(FINDING_CATEGORIES) || wants(FINDING_SEVERITY) {
            let (findings, categories, severity) = findings(q.findings)?;
            pairs.push((ATTRIBUTES[FINDINGS].into(), findings));
            pairs.push((ATTRIBUTES[FINDING_CATEGORIES].into(), categories));
            pairs.push((ATTRIBUTES[FINDING_SEVERITY].into(), severity));
        }
        if wants(LISTING) {
            pairs.push((
                ATTRIBUTES[LISTING].into(),
                RestrictedExpression::new_bool(listing),
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_positions_name_their_attributes() {
        let named = [
            (ARGUMENTS, "arguments"),
            (URL_HOSTS, "url_hosts"),
            (NOW, "now"),
            (CLIENT_IP, "client_ip"),
            (ERA, "era"),
            (PROTOCOL_VERSION, "protocol_version"),
            (SESSION_LABELS, "session_labels"),
            (FINDINGS, "findings"),
            (FINDING_CATEGORIES, "finding_categories"),
            (FINDING_SEVERITY, "finding_severity"),
            (LISTING, "listing"),
        ];
        for (at, name) in named {
            assert_eq!(ATTRIBUTES[at], name);
        }
    }
}
