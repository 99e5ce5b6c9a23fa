//! Stage 6's work: every message of a request is decided by the policy set,
//! tool calls are validated against the tool's input schema, approvals are
//! asked for, tool quotas are charged, and the session's flow labels grow.
//!
//! Order, and why: the decision comes first, so nothing about a tool (its
//! schema, its quota) is revealed to a caller who may not use it; validation
//! comes before approval, so approvers are never asked about a call that would
//! fail anyway; approval comes before quotas, so a call waiting for a human
//! does not spend them; flow labels are recorded last, once the call will be
//! forwarded.

use super::engine::{Decision, Effect, Engine, FindingFact, Query, QueryError};
use super::entities::{Hints, Object};
use super::reply::DeniedCall;
use crate::federation::route::{Rewrite, Route};
use crate::pipeline::Shared;
use crate::pipeline::context::RequestContext;
use crate::pipeline::parse::{Inbound, InboundKind};
use crate::pipeline::respond::Rejection;
use crate::protocol::jsonrpc::Message;
use crate::protocol::{Era, Target};
use std::sync::Arc;
use std::time::Instant;

mod approve;
mod labels;

use approve::approve;
pub use approve::{approval_event, approver_name, audit_expired};

/// What authorization recorded about a request, for audit.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// `allow`, `deny`, `approval` or `shadow-allow`.
    pub effect: &'static str,
    /// The deciding policies.
    pub policies: Vec<String>,
}

/// The key flow labels are kept under: the session, else the principal.
pub fn flow_key(cx: &RequestContext) -> String {
    match (&cx.session, &cx.principal) {
        (Some(s), _) => format!("session {s}"),
        (None, Some(p)) => format!(
            "principal {} {}",
            p.issuer.as_deref().unwrap_or(""),
            p.subject
        ),
        (None, None) => "anonymous".into(),
    }
}

/// Decides every message of the request; `Ok` means it may be forwarded.
pub async fn authorize(
    cx: &mut RequestContext,
    inbound: &Inbound,
    engine: &Arc<Engine>,
    shared: &Shared,
) -> Result<(), Rejection> {
    cx.policy_version = Some(Arc::clone(&engine.version));
    if let Err(e) = labels::refresh(cx, engine, &shared.authz.flows).await {
        flows_unavailable(engine, &e, first_id(inbound))?;
    }
    let InboundKind::Messages(envelope) = &inbound.kind else {
        return decide_bare(cx, engine, "connect");
    };
    let batch = envelope.is_batch();
    // In a federation a prefixed name reaches its upstream under its own name;
    // policies see both (`resource.name`, `resource.upstream_name`).
    let rename = match &inbound.route {
        Route::One {
            rewrite: Rewrite::Name(inner),
            ..
        } if !batch => Some(inner.clone()),
        _ => None,
    };
    for m in envelope.messages() {
        if batch && m.method().is_some_and(|x| x.ends_with("/list")) {
            // Answers to a batch cannot be filtered per entry: refused.
            return Err(denied(cx, engine, m, "", Era::Legacy, shared));
        }
        authorize_message(cx, m, engine, shared, rename.as_deref()).await?;
    }
    Ok(())
}

/// The id of a request's only message.
fn first_id(inbound: &Inbound) -> Option<crate::protocol::jsonrpc::RequestId> {
    match &inbound.kind {
        InboundKind::Messages(envelope) if !envelope.is_batch() => {
            envelope.messages().first().and_then(|m| m.id().cloned())
        }
        _ => None,
    }
}

/// The shared flow labels could not be read or written: refused, or in
/// shadow mode logged and let through.
fn flows_unavailable(
    engine: &Engine,
    error: &crate::redis_link::LinkError,
    id: Option<crate::protocol::jsonrpc::RequestId>,
) -> Result<(), Rejection> {
    if engine.settings.shadow {
        tracing::warn!(target: "portcullis::authz", error = %error, shadow = true, "flow labels store unavailable; this replica's labels used (shadow mode)");
        return Ok(());
    }
    tracing::error!(target: "portcullis::authz", error = %error, "flow labels store unavailable; request refused");
    Err(Rejection::FlowsUnavailable { id })
}

fn bare_denied(engine: &Engine, method: &str) -> Rejection {
    Rejection::Denied(Box::new(DeniedCall {
        id: None,
        method: method.into(),
        name: String::new(),
        style: engine.settings.unknown_tool,
        modern: false,
        meta: None,
    }))
}

fn decide_bare(cx: &mut RequestContext, engine: &Engine, method: &str) -> Result<(), Rejection> {
    let Some(principal) = cx.principal.clone() else {
        return Err(bare_denied(engine, method));
    };
    let upstream = cx
        .upstream
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_UPSTREAM.into());
    let q = query(
        cx,
        &principal,
        method,
        &upstream,
        Object::Upstream,
        None,
        &[],
    );
    match engine.decide(&q) {
        Ok(d) if d.effect != Effect::Deny => {
            record(cx, &d, method);
            Ok(())
        }
        Ok(d) => {
            record(cx, &d, method);
            Err(bare_denied(engine, method))
        }
        Err(_) => Err(bare_denied(engine, method)),
    }
}

async fn authorize_message(
    cx: &mut RequestContext,
    m: &Message,
    engine: &Arc<Engine>,
    shared: &Shared,
    rename: Option<&str>,
) -> Result<(), Rejection> {
    let method = m.method().unwrap_or("connect").to_owned();
    let era = cx.era.unwrap_or(Era::Legacy);
    let Some(principal) = cx.principal.clone() else {
        return Err(denied(cx, engine, m, "", era, shared));
    };
    let upstream = cx
        .upstream
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_UPSTREAM.into());
    let entry = match m.target() {
        Some(Target::Tool(name)) => shared.authz.book.get(&upstream, rename.unwrap_or(name)),
        _ => None,
    };
    let object = match m.target() {
        Some(Target::Tool(name)) => Object::Tool {
            name,
            upstream_name: rename.unwrap_or(name),
            hints: entry.as_ref().map_or_else(Hints::default, |e| e.hints),
        },
        Some(Target::Prompt(name)) => Object::Prompt {
            name,
            upstream_name: rename.unwrap_or(name),
        },
        Some(Target::Resource(uri)) => Object::Resource { uri },
        None => Object::Upstream,
    };
    let key = flow_key(cx);
    let ttl = engine.settings.flows.idle_ttl;
    let labels = shared.authz.flows.labels(&key, Instant::now(), ttl);
    let findings: Vec<FindingFact> = cx
        .findings
        .iter()
        .map(|f| FindingFact {
            rule: f.rule_id.to_string(),
            category: f.category.name().to_owned(),
            severity: f.severity.to_string(),
        })
        .collect();
    let q = query(
        cx,
        &principal,
        &method,
        &upstream,
        object.clone(),
        m.arguments(),
        &labels,
    );
    let q = Query {
        findings: &findings,
        ..q
    };
    let decision = match engine.decide(&q) {
        Ok(d) => d,
        Err(QueryError::Arguments(reason)) => {
            return Err(Rejection::InvalidArguments {
                id: m.id().cloned(),
                reason,
            });
        }
        Err(e) => {
            tracing::warn!(target: "portcullis::authz", error = %e, "authorization request not built; denied");
            return Err(denied(cx, engine, m, object_name(&object), era, shared));
        }
    };
    record(cx, &decision, &method);
    if decision.effect == Effect::Deny {
        return Err(denied(cx, engine, m, object_name(&object), era, shared));
    }
    if method == "completion/complete" {
        // Its values are suggestions for one prompt or template, which the
        // caller must be allowed to use too ([`completed`]).
        let decided = completed(m, rename).map(|(action, object)| {
            let q = query(cx, &principal, action, &upstream, object, None, &labels);
            (action, engine.decide(&q))
        });
        match decided {
            Some((_, Ok(d))) if d.effect != Effect::Deny => {}
            Some((action, Ok(d))) => {
                record(cx, &d, action);
                return Err(denied(cx, engine, m, "", era, shared));
            }
            _ => return Err(denied(cx, engine, m, "", era, shared)),
        }
    }
    let Object::Tool { name, .. } = object else {
        return Ok(());
    };
    // Validation: the upstream's declared schema, then the stricter one from config.
    match &entry {
        None if engine.settings.refuse_unlisted => {
            tracing::info!(target: "portcullis::authz", tool = name, "call to a tool never listed refused");
            return Err(denied(cx, engine, m, name, era, shared));
        }
        None => {}
        Some(e) => {
            let check = match &e.validator {
                Ok(v) => super::validate::check(v, m.arguments()),
                Err(_) => {
                    Err("the tool's input schema cannot be used to validate arguments".into())
                }
            };
            check.map_err(|reason| Rejection::InvalidArguments {
                id: m.id().cloned(),
                reason,
            })?;
        }
    }
    let facts = engine
        .settings
        .upstreams
        .get(&upstream)
        .and_then(|f| f.tools.get(name));
    if let Some(strict) = facts.and_then(|f| f.input_schema.as_ref()) {
        super::validate::check(strict, m.arguments()).map_err(|reason| {
            Rejection::InvalidArguments {
                id: m.id().cloned(),
                reason,
            }
        })?;
    }
    if let Effect::Approval(reason) = &decision.effect {
        approve(cx, m, engine, shared, &upstream, name, reason).await?;
    }
    let mut labels: Vec<String> = engine
        .settings
        .upstreams
        .get(&upstream)
        .map(|f| f.labels.clone())
        .unwrap_or_default();
    labels.extend(facts.map(|f| f.labels.clone()).unwrap_or_default());
    if !labels.is_empty() {
        let flows = &engine.settings.flows;
        if let Err(e) = labels::record(&key, &labels, flows, &shared.authz.flows).await {
            flows_unavailable(engine, &e, m.id().cloned())?;
        }
    }
    Ok(())
}

/// What a `completion/complete` asks about, as the action its values serve:
/// `prompts/get` of the prompt or `resources/read` of the template. The
/// caller learns nothing of one it may not use (an empty completion, as for a
/// prompt without suggestions); a request without a usable `ref`, the same.
fn completed<'a>(m: &'a Message, rename: Option<&'a str>) -> Option<(&'static str, Object<'a>)> {
    let reference = m.params()?.get("ref")?;
    let field = |k: &str| reference.get(k).and_then(serde_json::Value::as_str);
    match (field("type")?, field("name"), field("uri")) {
        ("ref/prompt", Some(name), _) => Some((
            "prompts/get",
            Object::Prompt {
                name,
                upstream_name: rename.unwrap_or(name),
            },
        )),
        ("ref/resource", _, Some(uri)) => Some(("resources/read", Object::Resource { uri })),
        _ => None,
    }
}

fn object_name<'a>(o: &Object<'a>) -> &'a str {
    match o {
        Object::Tool { name, .. } | Object::Prompt { name, .. } => name,
        Object::Resource { uri } => uri,
        Object::Upstream => "",
    }
}

fn query<'a>(
    cx: &'a RequestContext,
    principal: &'a crate::authn::Principal,
    method: &'a str,
    upstream: &'a str,
    object: Object<'a>,
    arguments: Option<&'a serde_json::Value>,
    labels: &'a [String],
) -> Query<'a> {
    Query {
        principal,
        method,
        upstream,
        object,
        arguments,
        client_ip: cx.peer.ip(),
        now: crate::authn::now(),
        era: cx.era.map_or("legacy", Era::as_str),
        protocol_version: cx.version.map_or("", |v| v.as_str()),
        session_labels: labels,
        findings: &[],
    }
}

fn record(cx: &mut RequestContext, d: &Decision, method: &str) {
    let effect = match (&d.effect, d.shadowed) {
        (_, true) => "shadow-allow",
        (Effect::Allow, _) => "allow",
        (Effect::Deny, _) => "deny",
        (Effect::Approval(_), _) => "approval",
    };
    if d.shadowed {
        tracing::info!(target: "portcullis::authz", shadow = true, method, policy.version = %d.version,
            "would deny (shadow mode): forwarded");
    } else {
        tracing::debug!(target: "portcullis::authz", effect, method, policies = ?d.policies, "decision");
    }
    if !d.errors.is_empty() {
        tracing::debug!(target: "portcullis::authz", errors = ?d.errors, "policies that did not apply");
    }
    cx.decision.policies = d.policies.clone();
    cx.decision.policy_version = Some(d.version.to_string());
    if matches!(d.effect, Effect::Approval(_)) && !d.shadowed {
        cx.decision.verdict = crate::audit::Verdict::ApprovalRequired;
    }
    cx.authorization = Some(DecisionRecord {
        effect,
        policies: d.policies.clone(),
    });
}

fn denied(
    cx: &RequestContext,
    engine: &Engine,
    m: &Message,
    name: &str,
    era: Era,
    shared: &Shared,
) -> Rejection {
    let upstream = cx
        .upstream
        .as_deref()
        .unwrap_or(crate::config::DEFAULT_UPSTREAM);
    Rejection::Denied(Box::new(DeniedCall {
        id: m.id().cloned().or_else(|| cx.rpc_id.clone()),
        method: m.method().unwrap_or_default().to_owned(),
        name: name.to_owned(),
        style: engine.settings.unknown_tool,
        modern: era == Era::Modern,
        meta: shared.authz.book.meta(upstream),
    }))
}
