//! Requests every upstream answers: `initialize` (which also creates the sealed
//! session), `server/discover`, the lists, `logging/setLevel`, client
//! notifications, the streams (`subscriptions/listen`, a legacy GET) and the
//! session's end (DELETE). Each upstream's answer passes the observer (the
//! injection filter, what the catalog learns) before the answers merge. An
//! upstream that fails is left out and logged; only when none answers does the
//! request fail. With one unprefixed upstream, `initialize` delivers the
//! upstream's own answer as received, with the sealed session id.

use super::super::authorize::Permit;
use super::super::body::{GatewayBody, full};
use super::super::context::RequestContext;
use super::super::observer::{Exchange as Watch, Observer};
use super::super::parse::{Inbound, InboundKind};
use super::super::record::Facts;
use super::super::respond::Rejection;
use super::super::session;
use super::super::sse_body::SseBody;
use super::super::{Shared, Snapshot};
use super::http::{SESSION_HEADER, send_with, upstream_session};
use super::streams::Merged;
use super::{accepted, json_response};
use crate::config::Runtime;
use crate::federation::merge::{self, Cursors, ListKind, Part};
use crate::federation::route::FanOut;
use crate::protocol::jsonrpc::Message;
use crate::session::{SessionState, UpstreamSession};
use crate::upstream::headers;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};
use std::sync::Arc;

mod ask;
mod join;
mod listen;
mod open;
use ask::ask;
pub use join::Joins;
pub(super) use join::missing;
use listen::streams;
use open::initialize;

/// What every fan-out step needs.
struct Ctx<'a> {
    permit: &'a Permit,
    inbound: &'a Inbound,
    snapshot: &'a Snapshot,
    shared: &'a Arc<Shared>,
}

/// One upstream's answer.
struct Answer {
    /// Its JSON-RPC message, after the observer.
    message: Option<Value>,
    /// Its session id header (initialize).
    session: Option<String>,
    status: StatusCode,
    headers: HeaderMap,
    /// The body up to and including the answer, as received.
    raw: Bytes,
    /// The observer replaced or dropped the answer: `raw` is not what the
    /// client may see.
    changed: bool,
}

/// Runs a fan-out.
pub async fn run(
    permit: &Permit,
    cx: &mut RequestContext,
    inbound: &Inbound,
    snapshot: &Snapshot,
    shared: &Arc<Shared>,
    fan: FanOut,
) -> Result<Response<GatewayBody>, Rejection> {
    let ctx = Ctx {
        permit,
        inbound,
        snapshot,
        shared,
    };
    match fan {
        FanOut::Initialize => initialize(&ctx, cx).await,
        FanOut::Discover => discover(&ctx, cx).await,
        FanOut::List(kind) => list(&ctx, cx, kind).await,
        FanOut::Empty => empty(&ctx, cx).await,
        FanOut::Notify => notify(&ctx, cx).await,
        FanOut::Listen => streams(&ctx, cx, true).await,
        FanOut::Stream => streams(&ctx, cx, false).await,
        FanOut::End => end(&ctx, cx).await,
    }
}

fn message_of(inbound: &Inbound) -> Option<&Message> {
    match &inbound.kind {
        InboundKind::Messages(envelope) => envelope.single(),
        _ => None,
    }
}

fn body_of(inbound: &Inbound) -> Bytes {
    match &inbound.kind {
        InboundKind::Messages(envelope) => inbound
            .forward_body
            .clone()
            .unwrap_or_else(|| envelope.raw().clone()),
        _ => Bytes::new(),
    }
}

fn names(rt: &Runtime) -> Vec<String> {
    rt.federation
        .upstreams
        .iter()
        .map(|u| u.name.clone())
        .collect()
}

fn server_info() -> Value {
    json!({"name": "portcullis", "version": env!("CARGO_PKG_VERSION")})
}

fn watch(cx: &RequestContext, rt: &Runtime, index: usize, standalone: bool) -> Watch {
    Watch {
        request_id: cx.rpc_id.clone(),
        method: cx.rpc_method.clone(),
        target: None,
        upstream: rt
            .federation
            .upstreams
            .get(index)
            .map(|u| u.name.clone())
            .unwrap_or_default(),
        index,
        federated: !rt.federation.naming.is_identity(),
        drop_acks: false,
        new_session: None,
        standalone,
        batch: false,
        owner: super::super::tasks::owner(cx),
    }
}

fn observer(ctx: &Ctx<'_>, cx: &RequestContext, watch: Watch) -> Observer {
    let index = watch.index;
    Observer::new(
        watch,
        Arc::clone(ctx.shared),
        Arc::clone(&ctx.snapshot.config),
        Facts::of(cx),
        cx.started,
        None,
    )
    .with_lister(crate::authz::filter::lister_for(
        cx,
        &ctx.snapshot.config,
        ctx.shared,
        index,
    ))
}

fn failure(cx: &RequestContext, what: &str) -> Rejection {
    Rejection::UpstreamInvalid {
        id: cx.rpc_id.clone(),
        what: what.to_owned(),
    }
}

/// The result of an answer, or why there is none.
fn result_of(answer: &Answer) -> Option<&Value> {
    answer.message.as_ref()?.get("result")
}

/// Asks every upstream, keeping the answers that came back.
async fn ask_all(ctx: &Ctx<'_>, cx: &RequestContext, body: &Bytes) -> Vec<(usize, Value)> {
    let rt = &ctx.snapshot.config;
    let mut out = Vec::new();
    for (index, spec) in rt.federation.upstreams.iter().enumerate() {
        match ask(ctx, cx, index, body.clone()).await {
            Ok(answer) => match result_of(&answer) {
                Some(result) => out.push((index, result.clone())),
                None => {
                    tracing::warn!(upstream = %spec.name, "upstream answered without a result; left out")
                }
            },
            Err(e) => {
                tracing::warn!(upstream = %spec.name, error = %e, "upstream left out of the answer")
            }
        }
    }
    out
}

fn answer(cx: &RequestContext, result: Value) -> Response<GatewayBody> {
    json_response(
        StatusCode::OK,
        &json!({"jsonrpc": "2.0", "id": cx.rpc_id.as_ref().map(|i| i.to_json()), "result": result}),
    )
}

async fn discover(
    ctx: &Ctx<'_>,
    cx: &mut RequestContext,
) -> Result<Response<GatewayBody>, Rejection> {
    let rt = &ctx.snapshot.config;
    let parts = ask_all(ctx, cx, &body_of(ctx.inbound)).await;
    if parts.is_empty() {
        return Err(failure(cx, "no upstream answered server/discover"));
    }
    let refs: Vec<Part<'_>> = parts
        .iter()
        .map(|(index, result)| Part {
            index: *index,
            result,
        })
        .collect();
    let merged = merge::discover(&refs, &names(rt), server_info());
    ctx.shared.catalog.learn_versions(&merged);
    Ok(answer(cx, merged))
}

/// A list: the first page asks every upstream; a later page asks each upstream
/// that has more, with its own cursor.
async fn list(
    ctx: &Ctx<'_>,
    cx: &mut RequestContext,
    kind: ListKind,
) -> Result<Response<GatewayBody>, Rejection> {
    let rt = &ctx.snapshot.config;
    let Some(message) = message_of(ctx.inbound) else {
        return Err(failure(cx, "a list without a message"));
    };
    let n = rt.federation.upstreams.len();
    let cursor = message
        .params()
        .and_then(|p| p.get("cursor"))
        .and_then(Value::as_str);
    let targets: Vec<(usize, Option<String>)> = match cursor {
        None => (0..n).map(|i| (i, None)).collect(),
        Some(c) => match Cursors::decode(c, n) {
            Some(cursors) => cursors.0.into_iter().map(|(i, c)| (i, Some(c))).collect(),
            None => {
                return Err(Rejection::Parse(
                    crate::protocol::ParseError::InvalidParams {
                        id: cx.rpc_id.clone(),
                        reason: "`params.cursor` is not a cursor this gateway issued".into(),
                    },
                ));
            }
        },
    };
    let mut parts = Vec::new();
    for (index, upstream_cursor) in targets {
        let mut object: Map<String, Value> = message.as_object().clone();
        let params = object
            .entry("params")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(p) = params.as_object_mut() {
            match &upstream_cursor {
                Some(c) => p.insert("cursor".into(), Value::String(c.clone())),
                None => p.remove("cursor"),
            };
        }
        let body = Bytes::from(Value::Object(object).to_string());
        match ask(ctx, cx, index, body).await {
            Ok(answer) => {
                if let Some(result) = result_of(&answer) {
                    parts.push((index, result.clone()));
                }
            }
            Err(e) => {
                tracing::warn!(upstream = %rt.federation.upstreams[index].name, error = %e, "upstream left out of the list")
            }
        }
    }
    let refs: Vec<Part<'_>> = parts
        .iter()
        .map(|(index, result)| Part {
            index: *index,
            result,
        })
        .collect();
    Ok(answer(cx, merge::list(kind, &rt.federation.naming, &refs)))
}

async fn empty(ctx: &Ctx<'_>, cx: &mut RequestContext) -> Result<Response<GatewayBody>, Rejection> {
    let parts = ask_all(ctx, cx, &body_of(ctx.inbound)).await;
    if parts.is_empty() {
        return Err(failure(cx, "no upstream answered"));
    }
    Ok(answer(cx, json!({})))
}

/// A client notification goes to every upstream; the client gets 202.
async fn notify(
    ctx: &Ctx<'_>,
    cx: &mut RequestContext,
) -> Result<Response<GatewayBody>, Rejection> {
    let rt = &ctx.snapshot.config;
    let body = body_of(ctx.inbound);
    for (index, spec) in rt.federation.upstreams.iter().enumerate() {
        let sent = match ctx.snapshot.http(index) {
            Some(client) => {
                let mut headers =
                    headers::request_headers(&ctx.inbound.parts.headers, client.settings());
                upstream_session(&mut headers, ctx.inbound.session.as_ref(), &spec.name, true);
                send_with(ctx.permit, cx, client, Method::POST, headers, body.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            None => match (
                ctx.shared.connections.get(&spec.name),
                message_of(ctx.inbound),
            ) {
                // The connection's own handshake already told it `initialized`.
                (_, Some(m)) if m.method() == Some("notifications/initialized") => Ok(()),
                (Some(up), Some(m)) => up.notify(m).await.map_err(|e| e.to_string()),
                _ => Err("not running".into()),
            },
        };
        if let Err(e) = sent {
            tracing::warn!(upstream = %spec.name, error = %e, "notification not delivered");
        }
    }
    Ok(accepted())
}

/// A legacy DELETE ends every upstream session.
async fn end(ctx: &Ctx<'_>, cx: &mut RequestContext) -> Result<Response<GatewayBody>, Rejection> {
    let rt = &ctx.snapshot.config;
    for (index, spec) in rt.federation.upstreams.iter().enumerate() {
        let Some(client) = ctx.snapshot.http(index) else {
            continue;
        };
        let mut headers = headers::request_headers(&ctx.inbound.parts.headers, client.settings());
        upstream_session(&mut headers, ctx.inbound.session.as_ref(), &spec.name, true);
        if !headers.contains_key(SESSION_HEADER) {
            continue;
        }
        if let Err(e) = send_with(
            ctx.permit,
            cx,
            client,
            Method::DELETE,
            headers,
            Bytes::new(),
        )
        .await
        {
            tracing::warn!(upstream = %spec.name, error = %e, "upstream session not ended");
        }
    }
    if let Some(client) = &cx.session {
        ctx.shared.joins.end(client);
    }
    let mut response = Response::new(super::super::body::empty());
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}
