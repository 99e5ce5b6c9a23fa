//! The session's flow labels, read before its request is decided and grown
//! before a labelled call is forwarded. With `authorization.flows.redis` both
//! go through the replicas' shared store first, and this process's store
//! mirrors it (so that the lists and server requests of the session's open
//! streams here are decided with the labels it read last). Labels are
//! recorded whatever the policies read, so that a policy set loaded later
//! finds them; they are read only while some policy reads them. Redis failing
//! refuses the request, unless the policies are in shadow mode (then it is
//! logged, and this process's labels are used).

use super::flow_key;
use crate::authz::config::FlowSettings;
use crate::authz::engine::Engine;
use crate::authz::flows::Flows;
use crate::pipeline::context::RequestContext;
use crate::redis_link::LinkError;
use std::time::Instant;

/// Copies the session's shared labels into `flows`, if labels are shared
/// and some policy of `engine` reads them (else they cannot change a
/// decision, and Redis is not asked).
pub(super) async fn refresh(
    cx: &RequestContext,
    engine: &Engine,
    flows: &Flows,
) -> Result<(), LinkError> {
    let settings = &engine.settings.flows;
    let Some(redis) = &settings.redis else {
        return Ok(());
    };
    if !engine.reads_context("session_labels") {
        return Ok(());
    }
    let key = flow_key(cx);
    let (labels, left) = redis.labels(&key).await?;
    let (ttl, max) = (settings.idle_ttl, settings.max_sessions);
    flows.replace(&key, labels, left, Instant::now(), ttl, max);
    Ok(())
}

/// Adds `labels` to the session `key`'s, here and, if labels are shared, in
/// Redis: when Redis does not take them the call must not be forwarded.
pub(super) async fn record(
    key: &str,
    labels: &[String],
    settings: &FlowSettings,
    flows: &Flows,
) -> Result<(), LinkError> {
    let (ttl, max) = (settings.idle_ttl, settings.max_sessions);
    flows.record(key, labels, Instant::now(), ttl, max);
    match &settings.redis {
        Some(redis) => redis.record(key, labels, ttl).await,
        None => Ok(()),
    }
}
