//! The merged streams of a federated session: `subscriptions/listen`
//! (2026-07-28) and the legacy GET, one stream per upstream merged into one.

use super::*;
use crate::pipeline::answer_back::AnswerTo;

/// `subscriptions/listen` (`listen`) or a legacy GET: one stream per upstream,
/// merged. GET streams carry event ids prefixed with the upstream's index, so
/// that `Last-Event-ID` resumes the right one.
pub(super) async fn streams(
    ctx: &Ctx<'_>,
    cx: &mut RequestContext,
    listen: bool,
) -> Result<Response<GatewayBody>, Rejection> {
    let rt = &ctx.snapshot.config;
    let last = ctx
        .inbound
        .parts
        .headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(':'))
        .and_then(|(i, id)| Some((i.parse::<usize>().ok()?, id.to_owned())));
    let body = body_of(ctx.inbound);
    let method = if listen { Method::POST } else { Method::GET };
    let mut parts: Vec<GatewayBody> = Vec::new();
    for (index, spec) in rt.federation.upstreams.iter().enumerate() {
        let Some(client) = ctx.snapshot.http(index) else {
            continue;
        };
        let mut headers = headers::request_headers(&ctx.inbound.parts.headers, client.settings());
        upstream_session(&mut headers, ctx.inbound.session.as_ref(), &spec.name, true);
        headers.remove("last-event-id");
        if let Some((_, id)) = last.as_ref().filter(|(i, _)| *i == index)
            && let Ok(v) = HeaderValue::from_str(id)
        {
            headers.insert("last-event-id", v);
        }
        if !listen && !headers.contains_key(SESSION_HEADER) {
            continue;
        }
        let answer_to = AnswerTo::new(
            ctx.permit,
            &ctx.inbound.parts.headers,
            client,
            ctx.inbound.session.as_ref(),
            &spec.name,
            true,
        );
        let response = match send_with(
            ctx.permit,
            cx,
            client,
            method.clone(),
            headers,
            body.clone(),
        )
        .await
        {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tracing::debug!(upstream = %spec.name, status = %r.status(), "no stream from this upstream");
                continue;
            }
            Err(e) => {
                tracing::warn!(upstream = %spec.name, error = %e, "stream not opened");
                continue;
            }
        };
        let mut w = watch(cx, rt, index, true);
        w.drop_acks = listen && !parts.is_empty();
        let sse = SseBody::new(
            response.into_body(),
            observer(ctx, cx, w),
            rt,
            ctx.shared.draining(),
        )
        .with_answer_to(Some(answer_to));
        let sse = if listen {
            sse
        } else {
            sse.with_id_prefix(format!("{index}:"))
        };
        parts.push(sse.boxed());
    }
    if parts.is_empty() {
        return Err(failure(cx, "no upstream opened a stream"));
    }
    let mut response = Response::new(BodyExt::boxed_unsync(Merged::new(parts)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
