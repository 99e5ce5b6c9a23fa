//! The request pipeline: the ordered stages every MCP request passes through.
//!
//! ```text
//!  client ──► 1 admit ──► 2 authenticate ──► 3 rate-limit ──► 4 parse ──► 5 scan request
//!                                                                              │ Permit
//!  client ◄── 8 inspect response ◄── upstream ◄── 7 forward ◄── 6 authorize ◄┘
//!                          9 audit runs on every path, refusals included
//! ```
//!
//! Why this order: admission costs nothing and refuses rebinding and malformed
//! framing before any work; identity comes before the body is read, so an
//! anonymous flood is cheap to refuse and rate limits can key on the caller;
//! the body is parsed once, strictly, and every later stage reads that one
//! parse; authorization decides on the parsed body (never on headers alone) and
//! its [`authorize::Permit`] is required to forward; scanning runs on what is
//! allowed, so findings describe real traffic; responses are inspected message by
//! message as they stream.
//!
//! Each request reads one [`Snapshot`] of the compiled configuration, so a reload
//! never changes the rules halfway through a request.

pub mod admit;
pub mod answer_back;
mod asks;
pub mod authenticate;
pub mod authorize;
pub mod body;
pub mod context;
pub mod forward;
pub mod inspect;
pub mod observer;
pub mod parse;
pub mod pinning;
pub mod record;
pub mod respond;
pub mod scanning;
pub mod session;
pub mod shared_tasks;
pub mod sse_body;
pub mod stages;
pub mod tasks;
pub mod traced;

use crate::authn::Authn;
use crate::authn::certificate::ClientCertificate;
use crate::authn::reason::ReasonCounts;
use crate::authn::revocation::RevocationList;
use crate::config::Runtime;
use crate::config::Transport;
use crate::session::Sealer;
use crate::telemetry::metrics::{RequestOutcome, RequestSample};
use crate::telemetry::traces::Stage;
use crate::upstream::HttpUpstream;
use crate::upstream::catalog::Catalog;
use crate::upstream::shared::Connections;
use arc_swap::ArcSwap;
use body::GatewayBody;
use context::RequestContext;
use http::{Request, Response};
use respond::Rejection;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// One compiled configuration and the HTTP clients built from it.
#[derive(Debug)]
pub struct Snapshot {
    /// The compiled configuration.
    pub config: Arc<Runtime>,
    /// One client per upstream reached over HTTP, by upstream index (`None`
    /// for upstreams on a shared connection, see [`Shared::connections`]).
    upstreams: Vec<Option<HttpUpstream>>,
}

/// State shared by every request.
#[derive(Debug)]
pub struct Shared {
    snapshot: ArcSwap<Snapshot>,
    /// Seals session ids when no `sessions.keys` are configured: random per
    /// process, so such sessions do not survive a restart or cross replicas.
    pub ephemeral_sealer: Arc<Sealer>,
    /// Upstreams reached over one shared connection (stdio processes); they
    /// live across reloads while their configuration is unchanged.
    pub connections: Connections,
    /// Server-to-client requests from shared connections awaiting the client's answer.
    pub server_requests: forward::ServerRequests,
    /// What the gateway learnt about the upstreams' tools.
    pub catalog: Catalog,
    /// Token ids revoked at run time (admin endpoint); kept across reloads.
    pub revocations: RevocationList,
    /// Authentication failures by category, since start.
    pub auth_failures: ReasonCounts,
    /// The audit trail; `None` when the configuration disables it.
    pub auditor: Option<Arc<crate::audit::Auditor>>,
    /// Authorization state kept across reloads: learnt tools, flow labels, approvals.
    pub authz: Arc<crate::authz::State>,
    /// Rate limiter state kept across reloads.
    pub limiters: crate::ratelimit::Limiters,
    /// Tool pins (`scan.pins`), kept across reloads while their settings hold.
    pub pinning: arc_swap::ArcSwapOption<pinning::Pinning>,
    /// The trace exporter; `None` when `tracing:` is absent (set at start-up,
    /// kept across reloads).
    pub traces: Option<Arc<crate::telemetry::traces::Traces>>,
    /// Prometheus metrics, kept across reloads (served on the admin listener).
    pub metrics: crate::telemetry::metrics::Metrics,
    /// HTTP upstreams that joined legacy sessions after they opened.
    pub joins: forward::Joins,
    /// Who created each task the gateway saw created.
    pub tasks: tasks::TaskOwners,
    drain: watch::Receiver<bool>,
}

impl Shared {
    /// Records one of the gateway's own events (a reload, a rate limit hit, ...).
    /// The event accompanies something already decided, so a trail that cannot
    /// take it refuses nothing here; the failure is logged (and, under
    /// `fail_closed`, the next request is refused by the trail itself).
    pub fn audit_event(&self, record: crate::audit::AuditRecord) {
        if let Some(auditor) = &self.auditor
            && let Err(e) = auditor.record(record)
        {
            tracing::warn!(target: "portcullis::audit", error = %e, "a gateway event was not recorded");
        }
    }

    /// State for a gateway starting on `runtime`; `drain` turns true on shutdown.
    pub fn new(
        runtime: Runtime,
        auditor: Option<Arc<crate::audit::Auditor>>,
        metrics: crate::telemetry::metrics::Metrics,
        drain: watch::Receiver<bool>,
    ) -> Result<Shared, crate::session::KeyError> {
        let revocations = RevocationList::new(runtime.authentication.max_revocations);
        announce(&runtime);
        let connections = Connections::default();
        let started = connections.reconcile(
            &runtime.federation,
            runtime.limits.parse,
            runtime.limits.max_sse_event,
        );
        audit_health(auditor.as_ref(), started);
        let pins = runtime.scan_policy.pins.clone();
        Ok(Shared {
            pinning: arc_swap::ArcSwapOption::from(
                pins.map(|s| Arc::new(pinning::Pinning::new(s))),
            ),
            snapshot: ArcSwap::from_pointee(Snapshot::of(runtime)),
            ephemeral_sealer: Arc::new(Sealer::ephemeral()?),
            connections,
            server_requests: forward::ServerRequests::default(),
            catalog: Catalog::default(),
            revocations,
            auth_failures: ReasonCounts::default(),
            auditor,
            authz: Arc::default(),
            limiters: crate::ratelimit::Limiters::default(),
            traces: None,
            metrics,
            joins: forward::Joins::default(),
            tasks: tasks::TaskOwners::default(),
            drain,
        })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Replaces the configuration (a reload). Requests in flight keep theirs.
    pub fn install(&self, runtime: Runtime) {
        let current = self.snapshot();
        if let (Authn::Jwt(next), Authn::Jwt(before)) = (
            &runtime.authentication.authn,
            &current.config.authentication.authn,
        ) {
            next.adopt_keys(before);
        }
        announce(&runtime);
        if runtime.tracing != current.config.tracing {
            tracing::warn!(
                "`tracing:` changed: it is read at start-up only and applies after a restart"
            );
        }
        let started = self.connections.reconcile(
            &runtime.federation,
            runtime.limits.parse,
            runtime.limits.max_sse_event,
        );
        audit_health(self.auditor.as_ref(), started);
        let current_pins = self.pinning.load_full();
        match (&runtime.scan_policy.pins, current_pins.as_deref()) {
            (Some(next), Some(now)) if next == now.settings() => {}
            (next, _) => self
                .pinning
                .store(next.clone().map(|s| Arc::new(pinning::Pinning::new(s)))),
        }
        self.snapshot.store(Arc::new(Snapshot::of(runtime)));
    }

    /// Stops every shared connection (their processes exit).
    pub async fn shutdown(&self) {
        self.connections.shutdown().await;
    }

    /// Whether the gateway is shutting down.
    pub fn is_draining(&self) -> bool {
        *self.drain.borrow()
    }

    /// Completes when the gateway starts shutting down.
    pub fn draining(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut drain = self.drain.clone();
        async move {
            let _ = drain.wait_for(|d| *d).await;
        }
    }
}

/// Starts fetching remote keys, and says loudly when nobody is authenticated.
fn announce(runtime: &Runtime) {
    match &runtime.authentication.authn {
        Authn::None => tracing::warn!(
            "authentication is OFF (authentication.mode: none): every caller is anonymous; \
             run this only behind something that authenticates"
        ),
        Authn::Jwt(authenticator) => authenticator.prefetch(),
        Authn::Certificate => {}
    }
    match &runtime.authorization {
        None => tracing::warn!(
            "authorization is OFF (no `authorization:` section): every caller may use every tool"
        ),
        Some(engine) if engine.settings.shadow => tracing::warn!(
            policy.version = %engine.version,
            "authorization is in SHADOW mode: would-deny decisions are logged, not enforced"
        ),
        Some(engine) => {
            tracing::info!(policy.version = %engine.version, policies = engine.len(), "policy set loaded")
        }
    }
}

impl Snapshot {
    fn of(runtime: Runtime) -> Snapshot {
        let upstreams = runtime
            .federation
            .upstreams
            .iter()
            .map(|spec| match &spec.transport {
                Transport::Http(settings) => Some(HttpUpstream::new(settings)),
                // Served through `Shared::connections`.
                Transport::Sse(_) | Transport::Stdio(_) => None,
            })
            .collect();
        Snapshot {
            upstreams,
            config: Arc::new(runtime),
        }
    }

    /// The HTTP client for upstream `index`, when it is reached over HTTP.
    pub fn http(&self, index: usize) -> Option<&HttpUpstream> {
        self.upstreams.get(index).and_then(Option::as_ref)
    }
}

/// Handles one HTTP request on the MCP listener. Never fails: every refusal is a
/// response, and the audit stage sees every one.
pub async fn handle<B: body::RequestBody>(
    request: Request<B>,
    peer: SocketAddr,
    client_certificate: Option<Arc<ClientCertificate>>,
    shared: Arc<Shared>,
) -> Response<GatewayBody> {
    let snapshot = shared.snapshot();
    let mut cx = RequestContext::new(peer, request.method().clone(), request.version());
    cx.client_certificate = client_certificate;
    let (response, rpc_error, outcome) = match run(&mut cx, request, &snapshot, &shared).await {
        Ok(response) => (response, None, RequestOutcome::Ok),
        Err(rejection) => {
            if rejection.is_server_side() {
                tracing::warn!(error = %cause_chain(&rejection), rpc.id = ?cx.rpc_id, "server-side failure");
                cx.decision.verdict = crate::audit::Verdict::Error;
            } else {
                tracing::debug!(reason = %rejection, "request refused");
                cx.decision.verdict = match rejection {
                    Rejection::ApprovalRequired { .. } => crate::audit::Verdict::ApprovalRequired,
                    _ => crate::audit::Verdict::Denied,
                };
            }
            cx.decision.reason = Some(rejection.to_string().chars().take(160).collect());
            let (response, code) = respond::reject(&rejection, cx.is_http1());
            (response, Some(code), rejection.outcome())
        }
    };
    traced::finish(&mut cx, &response, rpc_error);
    // 9. audit: on every path, after the response head is decided; the
    //    request metrics are counted on the same path, from the same context.
    let decided = response.status();
    let response = stages::audit(&cx, response, rpc_error, &shared).await;
    // Stage 9 replaces the response only when the audit trail refuses the record.
    let outcome = if response.status() == decided {
        outcome
    } else {
        RequestOutcome::InternalError
    };
    shared.metrics.request(&RequestSample {
        method: cx.rpc_method.as_deref(),
        upstream: cx.upstream.as_deref(),
        outcome,
        verdict: cx.decision.verdict,
        total: cx.started.elapsed(),
        upstream_time: cx.upstream_time,
    });
    response
}

/// Stages 1–8, in order. Each `?` is a refusal the client is told about.
async fn run<B: body::RequestBody>(
    cx: &mut RequestContext,
    request: Request<B>,
    snapshot: &Snapshot,
    shared: &Arc<Shared>,
) -> Result<Response<GatewayBody>, Rejection> {
    let rt = &snapshot.config;
    let (parts, body) = request.into_parts();
    // 0. the protected resource metadata is public: clients need it to get a token.
    if let Some(metadata) = authenticate::metadata(&parts, rt) {
        return Ok(metadata);
    }
    // 1. admit: path, method, Host and Origin (DNS rebinding), framing, media type.
    admit::admit(&parts, rt)?;
    cx.session = parts
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let traceparent = parts
        .headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    cx.trace = traceparent.and_then(crate::audit::TraceContext::from_traceparent);
    traced::start(cx, shared, traceparent);
    // 2. authenticate: who is calling.
    let mark = Instant::now();
    let principal = authenticate::authenticate(cx, &parts, rt, shared).await;
    traced::stage(cx, Stage::Authenticate, mark, principal.is_err());
    cx.principal = Some(principal?);
    // 3. rate-limit: before the body is read (per principal and tenant).
    stages::rate_limit(cx, rt, shared).await?;
    // 4. parse: one strict parse of the body; era, version, header/body agreement.
    let mut inbound = parse::parse(cx, parts, body, rt, shared).await?;
    // The request span opens once the body names its parent (2026-07-28 `_meta`).
    traced::begin(cx, &inbound);
    // 5. scan request: injection and secrets in what is about to leave; the
    //    findings are facts the policies of stage 6 can use (`context.findings`).
    let mark = Instant::now();
    let scanned = stages::scan_request(cx, &mut inbound, rt, shared);
    traced::stage(cx, Stage::ScanRequest, mark, scanned.is_err());
    scanned?;
    // 6. authorize: the Permit is the only key to the upstream.
    let mark = Instant::now();
    let permit = authorize::authorize(cx, &inbound, rt, shared).await;
    traced::stage(cx, Stage::Authorize, mark, permit.is_err());
    let permit = permit?;
    // A task is fetched by its id alone: only its creator may name it.
    shared
        .tasks
        .check(cx, &inbound, rt.federation.tasks.as_deref())
        .await?;
    // Nothing happens upstream that the audit trail could not record.
    if shared.auditor.as_ref().is_some_and(|a| a.refuses()) {
        return Err(Rejection::AuditUnavailable {
            id: cx.rpc_id.clone(),
        });
    }
    // 7. forward: the bytes as received, with filtered headers.
    //    The upstream span is open while the request is sent: its id is the
    //    parent in the `traceparent` the upstream receives (a header over
    //    HTTP, `params._meta.traceparent` over stdio).
    traced::upstream_begin(cx);
    let upstreamed = forward::forward(&permit, cx, &mut inbound, snapshot, shared).await;
    traced::upstream_end(cx, upstreamed.is_err());
    let upstreamed = upstreamed?;
    // 8. inspect response: every upstream message, as it streams.
    let mark = Instant::now();
    let inspected = inspect::response(cx, &inbound, upstreamed, rt, shared).await;
    traced::stage(cx, Stage::ScanResponse, mark, inspected.is_err());
    inspected
}

/// An error and its sources, for logs.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Records each started shared upstream (stdio or HTTP+SSE) going down (and coming back after) in
/// the audit trail, for as long as it runs. The first start is not an event;
/// a stop by the gateway itself (reload, shutdown) is not either.
fn audit_health(
    auditor: Option<&Arc<crate::audit::Auditor>>,
    started: Vec<(String, crate::upstream::shared::Connection)>,
) {
    let (Some(auditor), Ok(runtime)) = (auditor, tokio::runtime::Handle::try_current()) else {
        return;
    };
    for (name, upstream) in started {
        let mut health = upstream.watch_health();
        drop(upstream);
        let auditor = Arc::clone(auditor);
        runtime.spawn(async move {
            use crate::upstream::supervised::Health;
            let mut down = false;
            loop {
                let event = match &*health.borrow_and_update() {
                    Health::Down { reason } if !down && &**reason != "stopped" => {
                        down = true;
                        Some((false, Some(reason.to_string())))
                    }
                    Health::Up if down => {
                        down = false;
                        Some((true, None))
                    }
                    _ => None,
                };
                if let Some((up, reason)) = event {
                    let mut record = crate::audit::AuditRecord::now(crate::audit::RecordKind::Gateway(
                        crate::audit::GatewayEvent::UpstreamHealth { up, reason },
                    ));
                    record.upstream = Some(name.clone());
                    if let Err(e) = auditor.record(record) {
                        tracing::warn!(target: "portcullis::audit", error = %e, "an upstream health event was not recorded");
                    }
                }
                if health.changed().await.is_err() {
                    return;
                }
            }
        });
    }
}
