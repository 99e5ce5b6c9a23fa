//! One request's spans: a server span for the MCP request and a child per stage.
//!
//! The request span's parent is the client's trace context: in the 2026-07-28
//! era `params._meta.traceparent`, which belongs to the message itself, else the
//! `traceparent` header. The body is only parsed at stage 4, so the request span
//! is opened then ([`RequestSpans::begin`], starting at the request's arrival)
//! and the stages that ran before it are kept as timings and emitted as its
//! children when the request ends. The upstream span is opened live, before
//! the request is sent, because its id is the parent the upstream is told
//! about ([`RequestSpans::upstream_traceparent`]): the `traceparent` header of
//! an HTTP upstream, the `params._meta.traceparent` of a stdio upstream's request.

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, Span};
use std::time::{Instant, SystemTime};

/// A stage recorded as a child span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Stage 2: who is calling.
    Authenticate,
    /// Stage 5: the injection filter on the request.
    ScanRequest,
    /// Stage 6: the policy decision.
    Authorize,
    /// Stage 8: the response inspected (its head and, for JSON, its body).
    ScanResponse,
}

impl Stage {
    /// The span name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Authenticate => "authenticate",
            Stage::ScanRequest => "scan request",
            Stage::Authorize => "authorize",
            Stage::ScanResponse => "scan response",
        }
    }
}

#[derive(Debug)]
struct Timed {
    stage: Stage,
    start: Instant,
    end: Instant,
    failed: bool,
}

/// The spans of one request, recorded as it passes the stages.
#[derive(Debug)]
pub struct RequestSpans {
    tracer: SdkTracer,
    started: Instant,
    arrived: SystemTime,
    header_parent: Option<SpanContext>,
    root: Option<Context>,
    stages: Vec<Timed>,
    upstream: Option<Span>,
}

/// Reads a W3C `traceparent` (version 00 layout) as a remote span context.
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let ids = crate::audit::TraceContext::from_traceparent(value)?;
    let flags = value.trim().rsplit('-').next()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(SpanContext::new(
        TraceId::from_bytes(ids.trace_id),
        SpanId::from_bytes(ids.span_id),
        TraceFlags::new(flags & 1),
        true,
        TraceState::default(),
    ))
}

impl RequestSpans {
    pub(super) fn new(tracer: SdkTracer, started: Instant, arrived: SystemTime) -> RequestSpans {
        RequestSpans {
            tracer,
            started,
            arrived,
            header_parent: None,
            root: None,
            stages: Vec::new(),
            upstream: None,
        }
    }

    /// The client's `traceparent` header (ignored when malformed).
    pub fn client_header(&mut self, traceparent: &str) {
        self.header_parent = parse_traceparent(traceparent);
    }

    /// Opens the request span named `name`, parented on `meta` (the message's
    /// `_meta.traceparent`) when valid, else on the client's header. Once only.
    pub fn begin(&mut self, name: &str, meta: Option<&str>) {
        if self.root.is_some() {
            return;
        }
        let parent = match meta
            .and_then(parse_traceparent)
            .or(self.header_parent.clone())
        {
            Some(remote) => Context::new().with_remote_span_context(remote),
            None => Context::new(),
        };
        let span = self
            .tracer
            .span_builder(name.to_owned())
            .with_kind(SpanKind::Server)
            .with_start_time(self.arrived)
            .start_with_context(&self.tracer, &parent);
        self.root = Some(Context::new().with_span(span));
    }

    /// Records `stage`, which began at `start` and ends now.
    pub fn stage(&mut self, stage: Stage, start: Instant, failed: bool) {
        self.stages.push(Timed {
            stage,
            start,
            end: Instant::now(),
            failed,
        });
    }

    /// Opens the upstream (client) span, now.
    pub fn upstream_begin(&mut self, name: &str, attributes: Vec<KeyValue>) {
        let root = self.root_or_default(name);
        let span = self
            .tracer
            .span_builder(format!("upstream {name}"))
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &root);
        self.upstream = Some(span);
    }

    /// Ends the upstream span, now.
    pub fn upstream_end(&mut self, error: Option<&str>) {
        if let Some(mut span) = self.upstream.take() {
            if let Some(error) = error {
                span.set_attribute(KeyValue::new("error.type", error.to_owned()));
                span.set_status(Status::error(error.to_owned()));
            }
            span.end();
        }
    }

    /// The `traceparent` to send upstream while the upstream span is open: the
    /// request's trace id and the upstream span's id.
    pub fn upstream_traceparent(&self) -> Option<String> {
        let context = self.upstream.as_ref()?.span_context();
        Some(traceparent(context))
    }

    /// The trace id and the request span's id, once the request span is open.
    pub fn ids(&self) -> Option<([u8; 16], [u8; 8])> {
        let root = self.root.as_ref()?;
        let span = root.span();
        let context = span.span_context();
        Some((context.trace_id().to_bytes(), context.span_id().to_bytes()))
    }

    /// Ends the request span (and the stages' children) with its final name
    /// and attributes; `error` marks it failed.
    pub fn finish(mut self, name: &str, attributes: Vec<KeyValue>, error: Option<&str>) {
        self.upstream_end(error.map(|_| "request failed"));
        let root = self.root_or_default(name);
        let at = |i: Instant| self.arrived + i.saturating_duration_since(self.started);
        for timed in &self.stages {
            let mut span = self
                .tracer
                .span_builder(timed.stage.name())
                .with_kind(SpanKind::Internal)
                .with_start_time(at(timed.start))
                .start_with_context(&self.tracer, &root);
            if timed.failed {
                span.set_status(Status::error("refused"));
            }
            span.end_with_timestamp(at(timed.end));
        }
        let span = root.span();
        span.update_name(name.to_owned());
        span.set_attributes(attributes);
        if let Some(error) = error {
            span.set_attribute(KeyValue::new("error.type", error.to_owned()));
            span.set_status(Status::error(error.to_owned()));
        }
        span.end();
    }

    fn root_or_default(&mut self, name: &str) -> Context {
        self.begin(name, None);
        self.root.clone().unwrap_or_default()
    }
}

/// `00-<trace id>-<span id>-<flags>`.
pub fn traceparent(context: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        hex::encode(context.trace_id().to_bytes()),
        hex::encode(context.span_id().to_bytes()),
        context.trace_flags().to_u8()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_keeps_its_ids_and_sampled_flag() {
        let c =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert!(c.is_sampled() && c.is_remote());
        assert_eq!(
            traceparent(&c),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        let c =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!c.is_sampled());
        assert!(
            parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none()
        );
        assert!(parse_traceparent("00-4bf9-00f067aa0ba902b7-01").is_none());
        assert!(
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz").is_none()
        );
    }
}
