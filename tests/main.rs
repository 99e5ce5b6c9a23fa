//! portcullis integration tests: one binary. Every test starts the gateway
//! in-process on 127.0.0.1:0 and the real peers it needs (installed by
//! `scripts/install-peers`), and stops them when it ends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

/// Harness: the gateway, peers, an HTTP client, a recording upstream.
mod support;

/// The audit trail: OCSF events, tamper evidence, sinks, delivery guarantees.
mod audit;
/// Authentication: tokens from independent libraries, the resource-server face.
mod auth;
/// The token attack corpus, one test per attack.
mod auth_attacks;
/// Mutual TLS: client certificates as principals, certificate-bound tokens.
mod auth_mtls;
/// A real OpenID provider: key rotation, SDK discovery, upstream tokens.
mod auth_oidc;
/// Revocations shared between replicas through a real Redis server.
mod auth_redis;
/// Authorization: Cedar decisions, list filtering, arguments, flows, reload.
mod authz;
/// Approvals bound to the exact call; rate limits, shared through Redis.
mod authz_limits;
/// What a server tells and asks a caller, under policy: resource updates, sampling, elicitation.
mod authz_server;
/// Approvals shared by two gateway processes through a real Redis server.
mod authz_shared_approvals;
/// Flow labels shared by two gateway processes through a real Redis server.
mod authz_shared_flows;
/// The binary and its shipped examples.
mod cli;
/// Real SDK clients through the gateway give the same results as direct.
mod clients;
/// The official conformance suite: verdicts direct vs through the gateway.
mod conformance;
/// Deployment artefacts: Dockerfile, docker-compose, Kubernetes, dashboard, alerts.
mod deploy;
/// Differential: probes straight to an upstream and through the gateway, compared.
mod differential;
/// Faults: upstreams that refuse, hang, reset or never end; slow JWKS; Redis down; SIGTERM.
mod faults;
/// Several upstreams behind one endpoint; replica-safe sealed sessions.
mod federation;
/// Every fuzz target's checks on its seeds and seconds of deterministic mutants.
mod fuzz_smoke;
/// Malformed, oversized and slow input: precise errors, nothing forwarded.
mod hostile;
/// Hostile HTTP/1: obfuscated framing, connection caps, hop-by-hop and spoofed headers.
mod hostile_h1;
/// Hostile HTTP/2 from the Python `h2` library: rapid reset, CONTINUATION flood.
mod hostile_h2;
/// Legacy HTTP+SSE (2024-11-05) clients through `listen.legacy_sse` (issue 3).
mod legacy_clients;
/// Admin endpoints, reload, TLS, HTTP/2, graceful shutdown.
mod lifecycle;
/// Prometheus metrics: exact series after known traffic; a real Prometheus scraping.
mod metrics;
/// `portcullis scan server` against real SDK servers over stdio and HTTP (issue 6).
mod scan_server;
/// The injection filter on every surface, with real clients.
mod scanning;
/// Error messages, log lines, progress messages and completions from an upstream, scanned.
mod scanning_errors;
/// Tools run as tasks: result and status scanned; a task only for the client that created it.
mod scanning_tasks;
/// The legacy HTTP+SSE upstream transport (issue 3): a real server, killed and restarted.
mod sse;
/// HTTP+SSE upstreams misbehaving: a foreign endpoint; which headers are sent.
mod sse_hostile;
/// stdio upstreams: real servers and hostile processes, restarts, shutdown.
mod stdio;
/// OpenTelemetry traces: spans at a real OTLP receiver, context sent upstream.
mod traces;
/// Statuses the gateway produces or preserves; streaming without buffering.
mod wire;
