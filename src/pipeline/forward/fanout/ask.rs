//! Asking one upstream of a fan-out: the request sent over HTTP or a shared
//! stdio connection, the answer read from JSON or from an SSE stream up to the
//! answer, bounded in size and time, and passed through the observer.

use super::{Answer, Ctx, observer, watch};
use crate::config::Runtime;
use crate::pipeline::body::read_bounded;
use crate::pipeline::context::RequestContext;
use crate::pipeline::forward::http::{SESSION_HEADER, send_with, upstream_session};
use crate::pipeline::observer::Delivery;
use crate::protocol::jsonrpc::{self, Kind, Message};
use crate::protocol::sse::Decoder;
use crate::upstream::headers;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

/// Sends `body` to upstream `index` and waits for its answer.
pub(super) async fn ask(
    ctx: &Ctx<'_>,
    cx: &RequestContext,
    index: usize,
    body: Bytes,
) -> Result<Answer, String> {
    let rt = &ctx.snapshot.config;
    let spec = rt
        .federation
        .upstreams
        .get(index)
        .ok_or("no such upstream")?;
    let asked = std::time::Instant::now();
    let (status, headers, raw, message) = match ctx.snapshot.http(index) {
        Some(client) => {
            let mut headers =
                headers::request_headers(&ctx.inbound.parts.headers, client.settings());
            upstream_session(
                &mut headers,
                ctx.inbound.session.as_ref(),
                &spec.name,
                !rt.federation.naming.is_identity(),
            );
            let response = send_with(ctx.permit, cx, client, Method::POST, headers, body)
                .await
                .map_err(|e| e.to_string())?;
            let (parts, incoming) = response.into_parts();
            let timeout = client.settings().response_timeout;
            let (raw, message) =
                collect(incoming, &parts.headers, parts.status, rt, timeout).await?;
            (parts.status, parts.headers, raw, message)
        }
        None => {
            let Some(upstream) = ctx.shared.connections.get(&spec.name) else {
                return Err("not running".into());
            };
            let request =
                jsonrpc::parse_message(&body, &rt.limits.parse).map_err(|e| e.to_string())?;
            let request = super::super::shared::for_stdio(cx, ctx.inbound, &upstream, request);
            upstream.ready().await.map_err(|e| e.to_string())?;
            let exchange = upstream
                .request(&request)
                .await
                .map_err(|e| e.to_string())?;
            let frame = exchange.response().await.map_err(|e| e.to_string())?;
            (
                StatusCode::OK,
                HeaderMap::new(),
                frame.raw().clone(),
                Some(frame.message().clone()),
            )
        }
    };
    ctx.shared
        .metrics
        .upstream_time(&spec.name, asked.elapsed());
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (message, changed) = match message {
        None => (None, false),
        Some(m) => {
            let mut observer = observer(ctx, cx, watch(cx, rt, index, false));
            let observed = observer.observe(&m).map_err(|e| e.to_string())?;
            match observed.delivery {
                Delivery::Forward => (Some(Value::Object(m.as_object().clone())), false),
                Delivery::Replace(bytes) => (serde_json::from_slice(&bytes).ok(), true),
                Delivery::Drop => (None, true),
            }
        }
    };
    Ok(Answer {
        message,
        session,
        status,
        headers,
        raw,
        changed,
    })
}

/// Reads an answer body: JSON, or SSE events until the answer (later events of
/// the stream are not read). Bounded by the response limit and `within`.
async fn collect(
    body: Incoming,
    headers: &HeaderMap,
    status: StatusCode,
    rt: &Runtime,
    within: std::time::Duration,
) -> Result<(Bytes, Option<Message>), String> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media.as_deref() != Some("text/event-stream") {
        let raw = read_bounded(body, rt.limits.max_response_body, within)
            .await
            .map_err(|e| e.to_string())?;
        if !status.is_success() || raw.is_empty() {
            return Ok((raw, None));
        }
        let m = jsonrpc::parse_message(&raw, &rt.limits.parse).map_err(|e| e.to_string())?;
        return Ok((raw, Some(m)));
    }
    let read = async {
        let mut body = body;
        let mut decoder = Decoder::new(rt.limits.max_sse_event);
        let mut raw = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() else {
                continue;
            };
            decoder.push(&data);
            while let Some(event) = decoder.next_event().map_err(|e| e.to_string())? {
                raw.extend_from_slice(&event.raw);
                if raw.len() > rt.limits.max_response_body {
                    return Err("answer too large".to_owned());
                }
                if event.data.is_empty() {
                    continue;
                }
                let m = jsonrpc::parse_message(event.data.as_bytes(), &rt.limits.parse)
                    .map_err(|e| e.to_string())?;
                if matches!(m.kind(), Kind::Response | Kind::ErrorResponse) {
                    return Ok((raw.freeze(), Some(m)));
                }
            }
        }
        Ok((raw.freeze(), None))
    };
    tokio::time::timeout(within, read)
        .await
        .map_err(|_| "no answer in time".to_owned())?
}
