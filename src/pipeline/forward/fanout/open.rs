//! Opening a federated session: `initialize` fans out to every upstream and
//! the client gets one sealed session id naming the upstream sessions behind it.

use super::*;
use crate::pipeline::observer::Delivery;
use crate::protocol::era::{Era, Version};

/// `initialize`: every HTTP upstream opens its own session; shared connections
/// take part with the session they opened when they started. The client gets
/// one sealed session id naming them all.
pub(super) async fn initialize(
    ctx: &Ctx<'_>,
    cx: &mut RequestContext,
) -> Result<Response<GatewayBody>, Rejection> {
    let rt = &ctx.snapshot.config;
    let body = body_of(ctx.inbound);
    let requested = message_of(ctx.inbound)
        .and_then(|m| m.params()?.get("protocolVersion")?.as_str())
        .unwrap_or("2025-11-25")
        .to_owned();
    let mut parts: Vec<(usize, Value)> = Vec::new();
    let mut sessions: Vec<UpstreamSession> = Vec::new();
    let mut single: Option<Answer> = None;
    for (index, spec) in rt.federation.upstreams.iter().enumerate() {
        let (result, session) = if ctx.snapshot.http(index).is_some() {
            match ask(ctx, cx, index, body.clone()).await {
                Ok(answer) => {
                    let result = result_of(&answer).cloned();
                    let session = answer.session.clone();
                    if rt.federation.naming.is_identity() {
                        single = Some(answer);
                    }
                    (result, session)
                }
                Err(e) => {
                    tracing::warn!(upstream = %spec.name, error = %e, "upstream left out of the session");
                    (None, None)
                }
            }
        } else {
            match ctx.shared.connections.get(&spec.name) {
                Some(up) => match up.ready().await.ok().and_then(|()| up.session()) {
                    Some(s) => (
                        handshake(
                            ctx,
                            cx,
                            index,
                            json!({"protocolVersion": session_version(s.version, &requested),
                            "capabilities": s.capabilities,
                            "serverInfo": s.server_info, "instructions": s.instructions}),
                        ),
                        None,
                    ),
                    None => (None, None),
                },
                None => (None, None),
            }
        };
        if let Some(result) = result {
            let version = result
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or(&requested)
                .to_owned();
            sessions.push(UpstreamSession {
                upstream: spec.name.clone(),
                session,
                version,
            });
            parts.push((index, result));
        }
    }
    let refs: Vec<Part<'_>> = parts
        .iter()
        .map(|(index, result)| Part {
            index: *index,
            result,
        })
        .collect();
    let merged = merge::initialize(&refs, &names(rt), server_info());
    let version = merged
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or(&requested)
        .to_owned();
    let state = SessionState {
        created: session::now(),
        version,
        principal: cx.principal.as_deref().and_then(session::binding),
        upstreams: sessions,
    };
    let sealed = state
        .seal(&session::sealer(rt, ctx.shared))
        .and_then(|s| HeaderValue::from_str(&s).ok())
        .ok_or_else(|| failure(cx, "the session id could not be sealed"))?;
    let mut response = match single {
        // One unprefixed upstream whose answer the filter changed (its
        // instructions withheld or redacted): the answer as changed.
        Some(Answer {
            changed: true,
            message,
            ..
        }) => match message {
            Some(message) => json_response(StatusCode::OK, &message),
            None => {
                return Err(Rejection::UpstreamInvalid {
                    id: cx.rpc_id.clone(),
                    what: "the upstream's initialize answer was withheld".into(),
                });
            }
        },
        // One unprefixed upstream: its answer exactly as it sent it.
        Some(answer) => {
            let mut r = Response::new(full(answer.raw));
            *r.status_mut() = answer.status;
            *r.headers_mut() = headers::response_headers(&answer.headers);
            r.headers_mut().remove(SESSION_HEADER);
            if !answer.status.is_success() {
                return Ok(r);
            }
            r
        }
        None if refs.is_empty() => {
            return Err(Rejection::UpstreamInvalid {
                id: cx.rpc_id.clone(),
                what: "no upstream answered initialize".into(),
            });
        }
        None => json_response(
            StatusCode::OK,
            &json!({"jsonrpc": "2.0", "id": cx.rpc_id.as_ref().map(|i| i.to_json()), "result": merged}),
        ),
    };
    response.headers_mut().insert(SESSION_HEADER, sealed);
    Ok(response)
}

/// A shared connection's handshake result, passed through the observer as if
/// the upstream had just sent it to this client: its instructions are judged
/// (and audited) like those of an upstream asked over HTTP. `None` when the
/// answer is withheld or the audit trail refuses its record.
fn handshake(ctx: &Ctx<'_>, cx: &RequestContext, index: usize, result: Value) -> Option<Value> {
    let rt = &ctx.snapshot.config;
    let id = cx.rpc_id.as_ref().map(|i| i.to_json());
    let answer = json!({"jsonrpc": "2.0", "id": id, "result": result});
    let message =
        crate::protocol::jsonrpc::parse_message(answer.to_string().as_bytes(), &rt.limits.parse)
            .ok()?;
    let mut observer = observer(ctx, cx, watch(cx, rt, index, false));
    match observer.observe(&message).ok()?.delivery {
        Delivery::Forward => Some(result),
        Delivery::Replace(bytes) => serde_json::from_slice::<Value>(&bytes)
            .ok()?
            .get("result")
            .cloned(),
        Delivery::Drop => None,
    }
}

/// The version a shared connection offers a client opening a session. A
/// 2026-07-28 connection has no session version of its own: the gateway
/// answers the client in its session era and envelopes each of its requests
/// ([`super::super::shared`]), so the client keeps the session-era version it
/// asked for (the newest one when it asked for one the gateway does not know).
/// Answering `2026-07-28` to an `initialize` made the Python SDK's session
/// client refuse the gateway ("Unsupported protocol version").
fn session_version(connection: Version, requested: &str) -> &'static str {
    match Version::parse(requested) {
        _ if connection.era() == Era::Legacy => connection.as_str(),
        Some(v) if v.era() == Era::Legacy => v.as_str(),
        _ => Version::V2025_11_25.as_str(),
    }
}
