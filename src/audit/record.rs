//! What the pipeline tells the audit trail: one [`AuditRecord`] per action.
//!
//! The pipeline fills these values from what it already knows (the request
//! context, the principal, the decision, the findings) and hands them to
//! [`crate::audit::Auditor::record`]. Nothing here is rendered or redacted yet:
//! rendering (OCSF or ECS) and redaction happen on the writer thread, so the
//! request path pays for a move into a queue and nothing more.
//!
//! Invariant: one record renders to exactly one event. A request whose outcome is
//! known when it is recorded is one [`Operation`] (request and outcome together);
//! findings and authentication outcomes are separate records because a SIEM
//! queries them as separate classes.

use crate::protocol::Target;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// One action worth an audit event.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// When the action happened (for an operation: when the request arrived).
    pub time: SystemTime,
    /// Who acted. Empty for the gateway's own events.
    pub actor: Actor,
    /// The client's address, when the action came from a connection.
    pub source: Option<SocketAddr>,
    /// The MCP session (`Mcp-Session-Id`), if any.
    pub session: Option<String>,
    /// Protocol era and version, when known.
    pub protocol: Protocol,
    /// The upstream MCP server concerned, by its configured name.
    pub upstream: Option<String>,
    /// W3C trace context of the request, for correlation with traces.
    pub trace: Option<TraceContext>,
    /// Exact texts that must appear in no sink: secrets the injection filter found
    /// in this message. Removed from every string of the event; never rendered.
    pub secrets: Vec<String>,
    /// What happened.
    pub kind: RecordKind,
}

/// Who acted: the authenticated principal, as authentication established it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The token's subject (`sub`), or the client certificate's identity.
    pub subject: Option<String>,
    /// The OAuth client (`azp` / `client_id`): the agent.
    pub client_id: Option<String>,
    /// The tenant, from the configured claim.
    pub tenant: Option<String>,
    /// The delegation chain from the token's `act` claim, outermost actor first.
    pub delegation: Vec<String>,
}

/// The protocol spoken, as the parse stage read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Protocol {
    /// `legacy` or `2026-07-28` ([`crate::protocol::Era::as_str`]).
    pub era: Option<&'static str>,
    /// The revision, e.g. `2025-06-18` ([`crate::protocol::Version::as_str`]).
    pub version: Option<&'static str>,
}

/// W3C trace context ids (`traceparent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The 16-byte trace id.
    pub trace_id: [u8; 16],
    /// The 8-byte id of the gateway's span for this request.
    pub span_id: [u8; 8],
}

/// The four kinds of audit event.
#[derive(Debug, Clone)]
pub enum RecordKind {
    /// A JSON-RPC request or notification crossing the gateway, with its outcome.
    Operation(Operation),
    /// A token (or client certificate) accepted or rejected.
    Authentication(Authentication),
    /// The injection filter or tool pinning found something.
    Finding(Finding),
    /// The gateway's own security-relevant events.
    Gateway(GatewayEvent),
}

/// Which way a message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the MCP client to the MCP server (most requests).
    ClientToServer,
    /// From the MCP server to the client (`sampling/createMessage`,
    /// `elicitation/create`, server notifications).
    ServerToClient,
}

/// A JSON-RPC request or notification and what became of it.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Which way it travelled.
    pub direction: Direction,
    /// The JSON-RPC method, e.g. `tools/call`.
    pub method: String,
    /// The JSON-RPC id as text; `None` for a notification.
    pub rpc_id: Option<String>,
    /// The tool, prompt or resource acted on.
    pub target: Option<Target>,
    /// The call's arguments (`params.arguments`). Whether they reach the sink,
    /// and which paths are redacted, is decided by configuration; their digest is
    /// always recorded.
    pub arguments: Option<Value>,
    /// What the gateway decided, and why.
    pub decision: Decision,
    /// Findings that bore on the decision (full details go in their own records).
    pub findings: Vec<FindingRef>,
    /// How it ended.
    pub outcome: Outcome,
}

/// The gateway's verdict on an action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// Ids of the policies that decided (for a deny, the forbidding ones).
    pub policies: Vec<String>,
    /// The policy set version (a content hash) the decision was made under.
    pub policy_version: Option<String>,
    /// A short, non-secret reason (e.g. `no permit`, `rate limited`).
    pub reason: Option<String>,
}

/// The verdict itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verdict {
    /// Forwarded.
    #[default]
    Allowed,
    /// Refused by policy, authentication, rate limit or the filter.
    Denied,
    /// Forwarded after part of it was redacted.
    Redacted,
    /// Forwarded and flagged for review.
    Flagged,
    /// Held (or refused) until a human approves.
    ApprovalRequired,
    /// Allowed, but the upstream or the gateway failed.
    Error,
}

/// How the action ended, as far as the gateway saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The HTTP status of the response sent to the client.
    pub http_status: Option<u16>,
    /// The JSON-RPC error code, when the answer was an error.
    pub rpc_error: Option<i64>,
    /// Time from arrival to the response head.
    pub latency: Option<Duration>,
}

/// A finding, as referenced from an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRef {
    /// The rule (or model) id.
    pub rule_id: String,
    /// Where in the message (a JSON path such as `$.params.arguments.q`).
    pub json_path: Option<String>,
}

/// A token (or client certificate) outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    /// Whether the credential was accepted.
    pub accepted: bool,
    /// How the caller authenticated.
    pub method: AuthMethod,
    /// The issuer (`iss`) the token claimed, if it could be read.
    pub issuer: Option<String>,
    /// The token id (`jti`), if any. Never the token itself.
    pub token_id: Option<String>,
    /// Why it was rejected (`expired`, `bad audience`, `unknown kid`, ...).
    pub reason: Option<String>,
    /// The HTTP status returned (401 or 403) on rejection.
    pub http_status: Option<u16>,
}

/// Authentication methods the gateway knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// An OAuth 2.x bearer token (JWT access token).
    BearerToken,
    /// A client certificate on a mutual-TLS listener.
    MutualTls,
    /// No credential was presented.
    None,
}

/// A detection: an injection rule or model hit, a secret, or a changed tool pin.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The rule id (`pi.role-marker`), `model`, or `pin.changed`.
    pub rule_id: String,
    /// The rule's category (`injection`, `secret`, `exfiltration`, `tool_pin`, ...).
    pub category: String,
    /// A short human title, from the rule pack.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// The surface scanned (`tool_arguments`, `tool_result`, `tool_description`, ...).
    pub surface: String,
    /// The JSON path of the string that matched.
    pub json_path: Option<String>,
    /// The matched span, in bytes, within that string.
    pub span: Option<(usize, usize)>,
    /// What the gateway did: `block`, `redact` or `flag`.
    pub action: String,
    /// For tool pins: the previous and the new definition hashes.
    pub pin: Option<(String, String)>,
    /// Model score in percent, when the statistical layer fired.
    pub score_percent: Option<u8>,
    /// The JSON-RPC method and id of the message the finding is about.
    pub method: Option<String>,
    /// The id of that message.
    pub rpc_id: Option<String>,
    /// The tool, prompt or resource concerned.
    pub target: Option<Target>,
}

/// Severity, mapped to OCSF `severity_id` and ECS `event.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// The gateway's own events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    /// Configuration or policy reloaded (or failed to, keeping the old one).
    Reload {
        /// `config`, `policy`, `scan_rules`, `pins`.
        what: String,
        /// Whether the new one is in force.
        ok: bool,
        /// The version now in force (a content hash).
        version: Option<String>,
        /// Why it failed, when it did.
        error: Option<String>,
    },
    /// An upstream became unreachable or came back.
    UpstreamHealth {
        /// Whether it is reachable now.
        up: bool,
        /// Why it is considered down.
        reason: Option<String>,
    },
    /// A rate limit or quota refused a request.
    RateLimited {
        /// The limit's name (`per_principal`, `tenant:acme`, ...).
        limit: String,
        /// Seconds until the caller may retry.
        retry_after_secs: u64,
    },
    /// A human approval changed state.
    Approval {
        /// The approval's id.
        approval_id: String,
        /// The new state.
        state: ApprovalState,
        /// The approver (for granted or rejected).
        approver: Option<String>,
        /// The digest of the arguments the approval is bound to.
        arguments_digest: Option<String>,
    },
    /// The audit trail itself lost events (fail-open mode) and recovered.
    AuditEventsLost {
        /// How many events were not written.
        count: u64,
    },
}

/// Lifecycle of an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalState {
    /// A call is waiting for approval.
    Requested,
    /// An approver allowed it.
    Granted,
    /// An approver refused it.
    Rejected,
    /// Nobody decided in time.
    Expired,
}

impl AuditRecord {
    /// A record of `kind` at the current time with no context filled; the
    /// pipeline sets the fields it knows.
    pub fn now(kind: RecordKind) -> AuditRecord {
        AuditRecord {
            time: SystemTime::now(),
            actor: Actor::default(),
            source: None,
            session: None,
            protocol: Protocol::default(),
            upstream: None,
            trace: None,
            secrets: Vec::new(),
            kind,
        }
    }
}

impl TraceContext {
    /// Reads a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`). `None`
    /// for anything else, including the all-zero ids the spec declares invalid.
    pub fn from_traceparent(header: &str) -> Option<TraceContext> {
        let mut parts = header.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2
            || version == "ff"
            || flags.len() != 2
            || (version == "00" && parts.next().is_some())
        {
            return None;
        }
        let trace_id: [u8; 16] = hex::decode(trace).ok()?.try_into().ok()?;
        let span_id: [u8; 8] = hex::decode(span).ok()?.try_into().ok()?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext { trace_id, span_id })
    }
}

impl Verdict {
    /// The verdict as written in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
            Verdict::Redacted => "redacted",
            Verdict::Flagged => "flagged",
            Verdict::ApprovalRequired => "approval_required",
            Verdict::Error => "error",
        }
    }
}

impl Direction {
    /// The direction as written in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client_to_server",
            Direction::ServerToClient => "server_to_client",
        }
    }
}

impl ApprovalState {
    /// The state as written in events.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Requested => "requested",
            ApprovalState::Granted => "granted",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Expired => "expired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_headers_are_read_and_invalid_ones_refused() {
        let t = TraceContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap();
        assert_eq!(t.trace_id[0], 0x4b);
        assert_eq!(t.span_id[7], 0xb7);
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert!(TraceContext::from_traceparent(bad).is_none(), "{bad}");
        }
    }
}
