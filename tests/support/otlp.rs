//! A real OTLP/HTTP receiver: accepts `POST /v1/traces` and `POST /v1/metrics`
//! and decodes each body as an `ExportTraceServiceRequest` or an
//! `ExportMetricsServiceRequest` with the official protobuf definitions (the
//! `opentelemetry-proto` crate's generated types). [`Collector::start_grpc`]
//! receives the same over OTLP/gRPC instead (see `otlp_grpc`).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use prost::Message;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// One received span, flattened.
#[derive(Debug, Clone)]
pub struct Span {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    /// 1 internal, 2 server, 3 client.
    pub kind: i32,
    pub attributes: BTreeMap<String, String>,
    /// 0 unset, 1 ok, 2 error.
    pub status: i32,
    pub service_name: String,
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// One received data point of a sum, a gauge or a histogram, flattened.
#[derive(Debug, Clone)]
pub struct Point {
    pub metric: String,
    pub unit: String,
    pub attributes: BTreeMap<String, String>,
    /// A sum's or a gauge's value, or a histogram's count.
    pub value: f64,
    /// Whether the sum is monotonic (a counter); false for histograms.
    pub monotonic: bool,
    /// A histogram's bucket bounds.
    pub bounds: Vec<f64>,
    pub service_name: String,
}

impl Point {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// The receiver; stops on drop.
pub struct Collector {
    pub addr: SocketAddr,
    /// `protocol:` of the gateway sections pointing here.
    protocol: &'static str,
    spans: Arc<Mutex<Vec<Span>>>,
    points: Arc<Mutex<Vec<Point>>>,
    task: JoinHandle<()>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

pub(super) fn flatten(request: ExportTraceServiceRequest) -> Vec<Span> {
    let mut out = Vec::new();
    for resource in request.resource_spans {
        let service_name = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref()))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                out.push(Span {
                    name: span.name,
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                    kind: span.kind,
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                        .collect(),
                    status: span.status.map(|s| s.code).unwrap_or(0),
                    service_name: service_name.clone(),
                    start: span.start_time_unix_nano,
                    end: span.end_time_unix_nano,
                });
            }
        }
    }
    out
}

pub(super) fn points(request: ExportMetricsServiceRequest) -> Vec<Point> {
    let mut out = Vec::new();
    for resource in request.resource_metrics {
        let service_name = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref()))
            .unwrap_or_default();
        for metric in resource.scope_metrics.into_iter().flat_map(|s| s.metrics) {
            let attributes = |kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue]| {
                kvs.iter()
                    .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                    .collect()
            };
            let point = |attributes, value, monotonic, bounds| Point {
                metric: metric.name.clone(),
                unit: metric.unit.clone(),
                attributes,
                value,
                monotonic,
                bounds,
                service_name: service_name.clone(),
            };
            let number = |value: Option<Number>| match value {
                Some(Number::AsInt(i)) => i as f64,
                Some(Number::AsDouble(d)) => d,
                None => f64::NAN,
            };
            match &metric.data {
                Some(Data::Sum(sum)) => {
                    for p in &sum.data_points {
                        out.push(point(
                            attributes(&p.attributes),
                            number(p.value),
                            sum.is_monotonic,
                            vec![],
                        ));
                    }
                }
                Some(Data::Gauge(gauge)) => {
                    for p in &gauge.data_points {
                        out.push(point(
                            attributes(&p.attributes),
                            number(p.value),
                            false,
                            vec![],
                        ));
                    }
                }
                Some(Data::Histogram(h)) => {
                    for p in &h.data_points {
                        out.push(point(
                            attributes(&p.attributes),
                            p.count as f64,
                            false,
                            p.explicit_bounds.clone(),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Decodes one export request by its path; `None` when the path, the content
/// type or the body is not OTLP/HTTP protobuf.
fn receive(
    path: &str,
    protobuf: bool,
    body: Bytes,
    spans: &Mutex<Vec<Span>>,
    store: &Mutex<Vec<Point>>,
) -> Option<Vec<u8>> {
    if !protobuf {
        return None;
    }
    match path {
        "/v1/traces" => {
            let request = ExportTraceServiceRequest::decode(body).ok()?;
            spans.lock().unwrap().extend(flatten(request));
            Some(ExportTraceServiceResponse::default().encode_to_vec())
        }
        "/v1/metrics" => {
            let request = ExportMetricsServiceRequest::decode(body).ok()?;
            store.lock().unwrap().extend(points(request));
            Some(ExportMetricsServiceResponse::default().encode_to_vec())
        }
        _ => None,
    }
}

impl Collector {
    pub async fn start() -> Collector {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let points = Arc::new(Mutex::new(Vec::new()));
        let (span_store, point_store) = (Arc::clone(&spans), Arc::clone(&points));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (span_store, point_store) = (Arc::clone(&span_store), Arc::clone(&point_store));
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (span_store, point_store) =
                            (Arc::clone(&span_store), Arc::clone(&point_store));
                        async move {
                            let path = req.uri().path().to_owned();
                            let protobuf = req
                                .headers()
                                .get("content-type")
                                .is_some_and(|v| v == "application/x-protobuf");
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let received =
                                receive(&path, protobuf, body, &span_store, &point_store);
                            let status = match received {
                                Some(_) => StatusCode::OK,
                                None => StatusCode::BAD_REQUEST,
                            };
                            let answer = received.unwrap_or_default();
                            let mut response = Response::new(Full::new(Bytes::from(answer)));
                            *response.status_mut() = status;
                            response
                                .headers_mut()
                                .insert("content-type", "application/x-protobuf".parse().unwrap());
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Collector {
            addr,
            protocol: "http/protobuf",
            spans,
            points,
            task,
        }
    }

    /// The same receiver over OTLP/gRPC (a tonic server with the official
    /// `TraceService` and `MetricsService`); its YAML says `protocol: grpc`.
    pub async fn start_grpc() -> Collector {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let points = Arc::new(Mutex::new(Vec::new()));
        let (addr, task) = super::otlp_grpc::serve(Arc::clone(&spans), Arc::clone(&points)).await;
        Collector {
            addr,
            protocol: "grpc",
            spans,
            points,
            task,
        }
    }

    /// The gateway's `tracing:` section pointing here, exporting every 100 ms.
    pub fn yaml(&self) -> String {
        format!(
            "tracing:\n  endpoint: http://{}\n  protocol: {}\n  export_interval: 100ms\n  service_name: portcullis-test\n",
            self.addr, self.protocol
        )
    }

    /// The gateway's `metrics.otlp` section pointing here, exporting every 100 ms.
    pub fn metrics_yaml(&self) -> String {
        format!(
            "metrics:\n  otlp:\n    endpoint: http://{}\n    protocol: {}\n    export_interval: 100ms\n    service_name: portcullis-test\n",
            self.addr, self.protocol
        )
    }

    /// Every data point received so far (each export repeats the cumulative
    /// values: the last point of a series is its current value).
    pub fn points(&self) -> Vec<Point> {
        self.points.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) for a data point of `metric` for which `accept`
    /// holds, and returns it.
    pub async fn point_where(&self, metric: &str, accept: impl Fn(&Point) -> bool) -> Point {
        for _ in 0..200 {
            if let Some(p) = self
                .points()
                .into_iter()
                .rev()
                .find(|p| p.metric == metric && accept(p))
            {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no matching point of `{metric}` within 10s; received: {:#?}",
            self.points()
        );
    }

    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until the spans of trace `trace_id` include one
    /// named `name`, and returns that trace's spans.
    pub async fn trace_with(&self, trace_id: &str, name: &str) -> Vec<Span> {
        for _ in 0..200 {
            let trace: Vec<Span> = self
                .spans()
                .into_iter()
                .filter(|s| s.trace_id == trace_id)
                .collect();
            if trace.iter().any(|s| s.name == name) {
                return trace;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no span `{name}` in trace {trace_id} within 10s; received: {:#?}",
            self.spans()
        );
    }
}
