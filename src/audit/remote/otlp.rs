//! OTLP sink: events as OTLP log records, POSTed as protobuf
//! (`application/x-protobuf`) to an OTLP/HTTP logs endpoint such as the
//! OpenTelemetry Collector's `:4318/v1/logs`.
//!
//! Each record's body is the event's JSON line (string), its severity follows
//! the event's, its trace and span ids are the request's, and its attributes
//! name the event (`event.name`) and the sink (`portcullis.audit = true`).
//! Failed requests (connection errors, 429, 5xx) are retried with backoff;
//! other 4xx answers mean the collector will never take the batch: it is
//! dropped and counted.

use super::otlp_proto::{
    AnyValue, ExportLogsServiceRequest, InstrumentationScope, LogRecord, Resource, ResourceLogs,
    ScopeLogs, any_value, kv,
};
use super::{Backoff, Outbound};
use crate::audit::Shared;
use crate::audit::config::OtlpSettings;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use tokio::sync::mpsc;

/// Encodes a batch as an `ExportLogsServiceRequest`.
pub fn encode(batch: &[Outbound], gateway_name: &str) -> Vec<u8> {
    let observed = crate::audit::time::epoch_nanos(SystemTime::now());
    let log_records = batch
        .iter()
        .map(|o| {
            let (number, text) = match o.meta.severity {
                0 | 1 => (9, "INFO"),
                2 => (10, "INFO2"),
                3 => (13, "WARN"),
                4 => (17, "ERROR"),
                _ => (21, "FATAL"),
            };
            LogRecord {
                time_unix_nano: crate::audit::time::epoch_nanos(o.meta.time),
                observed_time_unix_nano: observed,
                severity_number: number,
                severity_text: text.into(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(
                        String::from_utf8_lossy(&o.line).into_owned(),
                    )),
                }),
                attributes: vec![
                    kv("event.name", o.meta.name.clone()),
                    kv("portcullis.audit", "true"),
                ],
                flags: u32::from(o.meta.trace.is_some()),
                trace_id: o
                    .meta
                    .trace
                    .map(|t| t.trace_id.to_vec())
                    .unwrap_or_default(),
                span_id: o.meta.trace.map(|t| t.span_id.to_vec()).unwrap_or_default(),
                event_name: "portcullis.audit".into(),
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "portcullis"),
                    kv("service.version", env!("CARGO_PKG_VERSION")),
                    kv("service.instance.id", gateway_name),
                ],
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "portcullis.audit".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                }),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

enum Sent {
    Delivered,
    Rejected(u16),
    Retry(String),
}

async fn post(client: &Client<HttpConnector, Full<Bytes>>, s: &OtlpSettings, body: Bytes) -> Sent {
    let mut builder = http::Request::post(s.endpoint.clone())
        .header(http::header::CONTENT_TYPE, "application/x-protobuf");
    for (k, v) in &s.headers {
        builder = builder.header(k, v);
    }
    let request = match builder.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return Sent::Retry(e.to_string()),
    };
    match tokio::time::timeout(s.timeout, client.request(request)).await {
        Err(_) => Sent::Retry("timed out".into()),
        Ok(Err(e)) => Sent::Retry(e.to_string()),
        Ok(Ok(response)) => {
            let status = response.status();
            let _ = response.into_body().collect().await;
            if status.is_success() {
                Sent::Delivered
            } else if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
                Sent::Retry(format!("collector answered {status}"))
            } else {
                Sent::Rejected(status.as_u16())
            }
        }
    }
}

/// Delivers queued events in batches until the queue closes and drains.
pub async fn run(
    s: OtlpSettings,
    gateway_name: String,
    mut rx: mpsc::Receiver<Outbound>,
    shared: Arc<Shared>,
) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut backoff = Backoff::default();
    let mut batch = Vec::with_capacity(s.batch);
    while let Some(first) = rx.recv().await {
        batch.clear();
        batch.push(first);
        while batch.len() < s.batch {
            let Ok(next) = rx.try_recv() else { break };
            batch.push(next);
        }
        let body = Bytes::from(encode(&batch, &gateway_name));
        let n = batch.len() as u64;
        loop {
            match post(&client, &s, body.clone()).await {
                Sent::Delivered => {
                    shared.remote_sent.fetch_add(n, Ordering::Relaxed);
                    backoff.reset();
                    break;
                }
                Sent::Rejected(status) => {
                    shared.remote_dropped.fetch_add(n, Ordering::Relaxed);
                    tracing::error!(target: "portcullis::audit", status, dropped = n, "OTLP collector refused audit events");
                    break;
                }
                Sent::Retry(why) => {
                    tracing::warn!(target: "portcullis::audit", error = %why, "OTLP export failed; retrying");
                    backoff.wait().await;
                }
            }
        }
    }
}
