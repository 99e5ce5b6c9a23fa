//! Stage 6, authorize: may this caller do this?
//!
//! Contract: returns a [`Permit`], the only value with which the upstream can be
//! called ([`crate::upstream::HttpUpstream::send`] requires one), or a rejection that
//! reads exactly like an unknown tool/method. A `Permit` cannot be built outside
//! this module. The decision is [`crate::authz::gate`]'s (Cedar policies, input
//! validation, approvals, tool quotas, flow labels); without `authorization:`
//! in the configuration every well-formed request is permitted (logged at
//! start-up).

use super::Shared;
use super::context::RequestContext;
use super::parse::Inbound;
use super::respond::Rejection;
use crate::config::Runtime;

/// Proof that the authorization stage allowed a request.
#[derive(Debug)]
pub struct Permit {
    _private: (),
}

/// Decides whether the request in `cx` may be forwarded.
pub async fn authorize(
    cx: &mut RequestContext,
    inbound: &Inbound,
    rt: &Runtime,
    shared: &Shared,
) -> Result<Permit, Rejection> {
    if let Some(engine) = &rt.authorization {
        crate::authz::gate::authorize(cx, inbound, engine, shared).await?;
    }
    crate::ratelimit::charge_tool(cx, rt, shared).await?;
    Ok(Permit { _private: () })
}
