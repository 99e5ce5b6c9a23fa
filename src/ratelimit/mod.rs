//! Rate limits and quotas: per principal, tenant, tool and tool class (labels),
//! with bursts, in-process (governor, GCRA) or shared by every replica through
//! Redis (GCRA in a Lua script).
//!
//! Two charge points: [`charge_caller`] in stage 3, before the body is read,
//! for rules that name no tool (a flood costs little); [`charge_tool`] in stage
//! 5, for rules about tools, once the call is allowed (denied calls spend no
//! quota). A request must pass every rule that applies; the refusal carries the
//! exact wait as `Retry-After`.
//!
//! Invariant: limiter state lives in [`Limiters`] (shared state, kept across
//! reloads); a rule whose name, rate and burst are unchanged keeps its counts.

pub mod config;
pub mod local;
pub mod shared;

use crate::authz::entities::Hints;
use crate::config::Runtime;
use crate::pipeline::Shared;
use crate::pipeline::context::RequestContext;
use crate::pipeline::respond::Rejection;
use crate::protocol::Target;
use local::Local;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What a limit is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The caller (issuer and subject).
    Principal,
    /// The caller's tenant.
    Tenant,
    /// The tool called.
    Tool,
    /// The client's IP address.
    ClientIp,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// What it counts per.
    pub per: Vec<Key>,
    /// One request per period…
    pub period: Duration,
    /// …and this many at once.
    pub burst: u32,
    /// Only these tools (empty: any).
    pub tools: Vec<String>,
    /// Only tools with one of these labels (empty: any).
    pub labels: Vec<String>,
}

impl Rule {
    fn about_tools(&self) -> bool {
        !self.tools.is_empty() || !self.labels.is_empty() || self.per.contains(&Key::Tool)
    }

    /// What the rule counts per, for the `scope` label of the rate-limit
    /// metric: `principal`, `tenant`, `tool`, `client_ip`, several joined by
    /// `+`, or `global` for one bucket shared by everyone.
    pub fn scope(&self) -> std::borrow::Cow<'static, str> {
        let name = |k: &Key| match k {
            Key::Principal => "principal",
            Key::Tenant => "tenant",
            Key::Tool => "tool",
            Key::ClientIp => "client_ip",
        };
        match self.per.as_slice() {
            [] => "global".into(),
            [one] => name(one).into(),
            many => many.iter().map(name).collect::<Vec<_>>().join("+").into(),
        }
    }

    fn signature(&self) -> String {
        format!(
            "{}|{:?}|{}|{:?}",
            self.name, self.period, self.burst, self.per
        )
    }
}

/// The compiled `rate_limits:` section.
#[derive(Debug)]
pub struct Rules {
    /// Every rule.
    pub rules: Vec<Rule>,
    /// Redis, when configured.
    pub shared: Option<shared::SharedLimits>,
}

/// In-process limiter state, by rule signature.
#[derive(Debug, Default)]
pub struct Limiters {
    by_rule: RwLock<HashMap<String, Arc<Local>>>,
}

impl Limiters {
    fn get(&self, rule: &Rule) -> Arc<Local> {
        let sig = rule.signature();
        if let Some(l) = self.by_rule.read().ok().and_then(|m| m.get(&sig).cloned()) {
            return l;
        }
        let made = Arc::new(Local::new(rule.period, rule.burst));
        match self.by_rule.write() {
            Ok(mut m) => Arc::clone(m.entry(sig).or_insert(made)),
            Err(_) => made,
        }
    }
}

/// Stage 3: rules about callers, not tools.
pub async fn charge_caller(
    cx: &RequestContext,
    rt: &Runtime,
    shared: &Shared,
) -> Result<(), Rejection> {
    let Some(rules) = &rt.rate_limits else {
        return Ok(());
    };
    for rule in rules.rules.iter().filter(|r| !r.about_tools()) {
        charge(cx, rules, rule, None, shared).await?;
    }
    Ok(())
}

/// Stage 6: rules about tools, for an allowed `tools/call`.
pub async fn charge_tool(
    cx: &RequestContext,
    rt: &Runtime,
    shared: &Shared,
) -> Result<(), Rejection> {
    let Some(rules) = &rt.rate_limits else {
        return Ok(());
    };
    let Some(Target::Tool(tool)) = &cx.target else {
        return Ok(());
    };
    let upstream = cx
        .upstream
        .as_deref()
        .unwrap_or(crate::config::DEFAULT_UPSTREAM);
    let labels = tool_labels(rt, shared, upstream, tool);
    for rule in rules.rules.iter().filter(|r| r.about_tools()) {
        let matches = (rule.tools.is_empty() || rule.tools.iter().any(|t| t == tool))
            && (rule.labels.is_empty() || rule.labels.iter().any(|l| labels.contains(l)));
        if matches {
            charge(cx, rules, rule, Some(tool), shared).await?;
        }
    }
    Ok(())
}

/// A tool's class labels: configured labels plus `read_only`/`destructive`.
fn tool_labels(rt: &Runtime, shared: &Shared, upstream: &str, tool: &str) -> Vec<String> {
    let mut labels = Vec::new();
    if let Some(facts) = rt
        .authorization
        .as_ref()
        .and_then(|e| e.settings.upstreams.get(upstream))
    {
        labels.extend(facts.labels.iter().cloned());
        if let Some(t) = facts.tools.get(tool) {
            labels.extend(t.labels.iter().cloned());
        }
    }
    let hints = shared
        .authz
        .book
        .get(upstream, tool)
        .map_or_else(Hints::default, |e| e.hints);
    if hints.read_only {
        labels.push("read_only".into());
    }
    if hints.destructive {
        labels.push("destructive".into());
    }
    labels
}

/// The key of `rule` for this request.
pub fn key_of(rule: &Rule, cx: &RequestContext, tool: Option<&str>) -> String {
    let mut key = rule.name.clone();
    for k in &rule.per {
        key.push('|');
        match k {
            Key::Principal => {
                if let Some(p) = &cx.principal {
                    key.push_str(p.issuer.as_deref().unwrap_or(""));
                    key.push(' ');
                    key.push_str(&p.subject);
                }
            }
            Key::Tenant => key.push_str(
                cx.principal
                    .as_ref()
                    .and_then(|p| p.tenant.as_deref())
                    .unwrap_or(""),
            ),
            Key::Tool => key.push_str(tool.unwrap_or("")),
            Key::ClientIp => key.push_str(&cx.peer.ip().to_string()),
        }
    }
    key
}

async fn charge(
    cx: &RequestContext,
    rules: &Rules,
    rule: &Rule,
    tool: Option<&str>,
    shared: &Shared,
) -> Result<(), Rejection> {
    let key = key_of(rule, cx, tool);
    let verdict = match &rules.shared {
        None => shared.limiters.get(rule).check(&key),
        Some(redis) => match redis.check(&key, rule.period, rule.burst).await {
            Ok(v) => v,
            Err(e) if redis.deny_on_error => {
                tracing::warn!(target: "portcullis::ratelimit", error = %e, rule = %rule.name, "redis unavailable; refusing");
                Err(Duration::from_secs(1))
            }
            Err(e) => {
                tracing::warn!(target: "portcullis::ratelimit", error = %e, rule = %rule.name, "redis unavailable; limiting locally");
                shared.limiters.get(rule).check(&key)
            }
        },
    };
    verdict.map_err(|retry_after| refuse(cx, shared, &rule.name, &rule.scope(), retry_after))
}

/// The refusal of a request over limit `name` (counted per `scope`): the
/// metric, the log line, the audit event naming the limit, and the 429
/// rejection. Every limit refuses through here, the rules above and the
/// transports' own caps alike (a cap answered with another status records
/// through [`record`]).
pub fn refuse(
    cx: &RequestContext,
    shared: &Shared,
    name: &str,
    scope: &str,
    retry_after: Duration,
) -> Rejection {
    record(cx, shared, name, scope, retry_after);
    Rejection::RateLimited {
        id: cx.rpc_id.clone(),
        rule: name.to_owned(),
        retry_after,
    }
}

/// What every refusal by a limit leaves behind, whatever status answers it
/// (429 from [`refuse`], 503 for a replica's own capacity): the metric under
/// `scope`, the log line, and the audit event naming the limit.
pub fn record(
    cx: &RequestContext,
    shared: &Shared,
    name: &str,
    scope: &str,
    retry_after: Duration,
) {
    shared.metrics.rate_limited(scope);
    tracing::info!(target: "portcullis::ratelimit", rule = %name, retry_after_ms = retry_after.as_millis() as u64, "over limit");
    shared.audit_event(crate::pipeline::record::Facts::of(cx).gateway(
        crate::audit::GatewayEvent::RateLimited {
            limit: name.to_owned(),
            retry_after_secs: retry_after.as_secs_f64().ceil() as u64,
        },
    ));
}
