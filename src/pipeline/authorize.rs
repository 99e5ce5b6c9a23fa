//! Stage 6, authorize: may this caller do this?
//!
//! Contract: returns a [`Permit`], the only value with which the upstream can be
//! called ([`crate::upstream::HttpUpstream::send`] requires one), or a rejection that
//! reads exactly like an unknown tool/method. A `Permit` cannot be built outside
//! this module, except `Permit::gateway_answer` for the gateway's own answer
//! to an upstream's request (an error of the gateway's making). The decision
//! is [`crate::authz::gate`]'s (Cedar policies, input
//! validation, approvals, tool quotas, flow labels); without `authorization:`
//! in the configuration every well-formed request is permitted (logged at
//! start-up).

use super::Shared;
use super::context::RequestContext;
use super::parse::Inbound;
use super::respond::Rejection;
use crate::config::Runtime;

/// Proof that the authorization stage allowed a request.
pub struct Permit {
    /// The caller's validated bearer token, for an upstream whose token is
    /// exchanged for the caller's (RFC 8693); never forwarded as it is.
    subject: Option<std::sync::Arc<str>>,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The caller's token never reaches a log.
        f.debug_struct("Permit")
            .field("subject", &self.subject.as_ref().map(|_| "<token>"))
            .finish()
    }
}

impl Permit {
    /// For the gateway's answer to a server-to-client request it withheld from
    /// the client ([`super::answer_back`]): an error of the gateway's own
    /// making, sent in the session the client's request already opened.
    pub(super) fn gateway_answer(subject: Option<std::sync::Arc<str>>) -> Permit {
        Permit { subject }
    }

    /// The caller's validated bearer token, when a token authenticated it.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The same caller's token, to keep past this request's stages.
    pub fn subject_owned(&self) -> Option<std::sync::Arc<str>> {
        self.subject.clone()
    }
}

/// Decides whether the request in `cx` may be forwarded.
pub async fn authorize(
    cx: &mut RequestContext,
    inbound: &Inbound,
    rt: &Runtime,
    shared: &Shared,
) -> Result<Permit, Rejection> {
    pinned(cx, inbound, rt, shared)?;
    if let Some(engine) = &rt.authorization {
        crate::authz::gate::authorize(cx, inbound, engine, shared).await?;
    }
    crate::ratelimit::charge_tool(cx, rt, shared).await?;
    Ok(Permit {
        subject: subject(cx, inbound, rt),
    })
}

/// The bearer token that authenticated the caller, when an upstream will
/// exchange it; `None` otherwise (nothing else keeps it).
fn subject(cx: &RequestContext, inbound: &Inbound, rt: &Runtime) -> Option<std::sync::Arc<str>> {
    if !rt.federation.exchanges_tokens() {
        return None;
    }
    let by_token = cx
        .principal
        .as_ref()
        .is_some_and(|p| p.authenticated == crate::authn::principal::Authenticated::Token);
    if !by_token {
        return None;
    }
    crate::authn::bearer(&inbound.parts.headers, None, usize::MAX)
        .ok()
        .map(std::sync::Arc::from)
}

/// A call to a tool withheld by pinning reads like a call to an unknown tool
/// (the tool is not listed either).
fn pinned(
    cx: &RequestContext,
    inbound: &Inbound,
    rt: &Runtime,
    shared: &Shared,
) -> Result<(), Rejection> {
    use crate::federation::route::{Rewrite, Route, Unroutable};
    let Some(pinning) = shared.pinning.load_full() else {
        return Ok(());
    };
    let super::parse::InboundKind::Messages(envelope) = &inbound.kind else {
        return Ok(());
    };
    let Route::One { upstream, rewrite } = &inbound.route else {
        return Ok(());
    };
    let Some(spec) = rt.federation.upstreams.get(*upstream) else {
        return Ok(());
    };
    for m in envelope.messages() {
        let Some(crate::protocol::Target::Tool(name)) = m.target() else {
            continue;
        };
        let own = match rewrite {
            Rewrite::Name(inner) => inner.as_str(),
            _ => name,
        };
        if pinning.is_blocked(&spec.name, own) {
            return Err(Rejection::Unroutable {
                id: m.id().cloned().or_else(|| cx.rpc_id.clone()),
                what: Unroutable::Tool(name.to_owned()),
                modern: cx.era == Some(crate::protocol::Era::Modern),
            });
        }
    }
    Ok(())
}
