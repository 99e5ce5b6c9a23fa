//! The `authorization:` section as written, and its compilation into
//! [`Settings`]. Policy files themselves are compiled by [`super::policies`].
//!
//! Every struct denies unknown fields. Defaults fail closed: enforcement on,
//! tools the gateway has never seen listed are refused, approvals expire.

use crate::config::ConfigError;
use crate::config::units::HumanDuration;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `authorization:`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuthorization {
    /// A folder of `*.cedar` files (and its `*.cedarschema`), or a list of
    /// files and folders. Relative to the configuration file.
    pub policies: RawPaths,
    /// The Cedar schema. Default: the one `*.cedarschema` among `policies`.
    #[serde(default)]
    pub schema: Option<PathBuf>,
    /// `enforce` (default) or `shadow` (PERMISSIVE: would-deny decisions are
    /// logged and the request is forwarded; for trying a new policy set).
    #[serde(default)]
    #[schemars(extend("enum" = ["enforce", "shadow", null]))]
    pub mode: Option<String>,
    /// How a denied `tools/call` is answered, to read exactly like the
    /// upstream's answer to an unknown tool: `spec` (default: `-32602`
    /// `Unknown tool: NAME`, as the MCP specification's example and the demo
    /// server), `rmcp` (`-32602` `tool not found`) or `python-sdk` (a result
    /// with `isError` and `Unknown tool: NAME`).
    #[serde(default)]
    #[schemars(extend("enum" = ["spec", "rmcp", "python-sdk", null]))]
    pub unknown_tool: Option<String>,
    /// What the gateway knows about each upstream, by name (`default` until
    /// federation): its tenants and labels, and its tools' labels and schemas.
    #[serde(default)]
    pub upstreams: HashMap<String, RawUpstreamFacts>,
    /// Input validation of `tools/call` arguments.
    #[serde(default)]
    pub input_validation: RawInputValidation,
    /// Human approval of calls whose permitting policies carry `@approval`.
    #[serde(default)]
    pub approvals: RawApprovals,
    /// Session facts for flow rules.
    #[serde(default)]
    pub flows: RawFlows,
}

/// One path or several.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RawPaths {
    /// One file or folder.
    One(PathBuf),
    /// Several.
    Many(Vec<PathBuf>),
}

/// `authorization.upstreams.NAME`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamFacts {
    /// Tenants the upstream belongs to (`resource.tenants`).
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Labels of the upstream, inherited by its tools, prompts and resources.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Per tool (by the name clients see).
    #[serde(default)]
    pub tools: HashMap<String, RawToolFacts>,
}

/// `authorization.upstreams.NAME.tools.TOOL`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawToolFacts {
    /// Labels (`resource.labels`; remembered per session for flow rules).
    #[serde(default)]
    pub labels: Vec<String>,
    /// A stricter JSON Schema the arguments must also satisfy.
    #[serde(default)]
    pub input_schema: Option<Value>,
}

/// `authorization.input_validation`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInputValidation {
    /// A call to a tool the gateway has not seen in a `tools/list` answer:
    /// `refuse` (default; answered as an unknown tool) or `forward`
    /// (PERMISSIVE: forwarded without validation against the declared schema).
    #[serde(default)]
    #[schemars(extend("enum" = ["refuse", "forward", null]))]
    pub unlisted_tools: Option<String>,
}

/// `authorization.approvals`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApprovals {
    /// `error` (default: answer at once with a JSON-RPC error carrying the
    /// approval id; the client retries the same call once approved) or `hold`
    /// (keep the request open until an approver decides or `hold_timeout`).
    #[serde(default)]
    #[schemars(extend("enum" = ["error", "hold", null]))]
    pub mode: Option<String>,
    /// How long a pending or granted approval stays usable. Default `15m`.
    #[serde(default)]
    pub ttl: Option<HumanDuration>,
    /// How long a held call waits. Default `60s`.
    #[serde(default)]
    pub hold_timeout: Option<HumanDuration>,
    /// The role an approver's token must carry. Default `approver`.
    #[serde(default)]
    pub approver_role: Option<String>,
    /// Most pending and granted approvals kept. Default 10000.
    #[serde(default)]
    pub max_pending: Option<usize>,
    /// Share approvals between replicas through Redis: an approval requested
    /// on one replica is listed and decided on any, and used once by all.
    /// Absent: per process. While Redis cannot answer, calls that need an
    /// approval are refused (fail closed).
    #[serde(default)]
    pub redis: Option<RawRedisStore>,
}

/// A Redis store shared by the replicas: `authorization.approvals.redis`,
/// `authorization.flows.redis` and `sessions.tasks.redis`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRedisStore {
    /// `redis://host:port/db` (`rediss://` for TLS). Redis 6.2 or later; one
    /// server or a replicated primary, not Redis Cluster.
    pub url: String,
    /// Key prefix. Default `portcullis:approvals:` for approvals,
    /// `portcullis:flows:` for flow labels, `portcullis:tasks:` for tasks.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// `authorization.flows`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlows {
    /// Forget a session's labels after this long without a call. Default `1h`.
    #[serde(default)]
    pub idle_ttl: Option<HumanDuration>,
    /// Most sessions remembered. Default 100000.
    #[serde(default)]
    pub max_sessions: Option<usize>,
    /// Share labels between replicas through Redis: a label recorded on one
    /// replica counts on all. Absent: per process. While Redis cannot
    /// answer, requests are refused (fail closed).
    #[serde(default)]
    pub redis: Option<RawRedisStore>,
}

/// How a denied tool call is phrased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownToolStyle {
    /// `-32602 Unknown tool: NAME`.
    Spec,
    /// `-32602 tool not found`.
    Rmcp,
    /// A tool result with `isError: true` and `Unknown tool: NAME`.
    PythonSdk,
}

/// What the approvals mode does with a call that needs approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalMode {
    /// Answer with an error carrying the approval id.
    Error,
    /// Hold the call until decided.
    Hold,
}

/// Compiled settings (everything but the policies).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Shadow mode: log would-deny, forward anyway.
    pub shadow: bool,
    /// How denied tool calls read.
    pub unknown_tool: UnknownToolStyle,
    /// Facts per upstream.
    pub upstreams: HashMap<String, UpstreamFacts>,
    /// Whether unlisted tools are refused.
    pub refuse_unlisted: bool,
    /// Approvals.
    pub approvals: ApprovalSettings,
    /// Flow labels.
    pub flows: FlowSettings,
}

/// Flow label settings.
#[derive(Debug, Clone)]
pub struct FlowSettings {
    /// A session's labels are forgotten after this long without a labelled call.
    pub idle_ttl: Duration,
    /// Most sessions remembered in this process.
    pub max_sessions: usize,
    /// The labels shared through Redis, if configured.
    pub redis: Option<std::sync::Arc<super::shared_flows::SharedFlows>>,
}

/// Approval settings.
#[derive(Debug, Clone)]
pub struct ApprovalSettings {
    /// Error or hold.
    pub mode: ApprovalMode,
    /// Lifetime of an approval.
    pub ttl: Duration,
    /// Longest hold.
    pub hold_timeout: Duration,
    /// The approver role.
    pub approver_role: String,
    /// Bound on the store.
    pub max_pending: usize,
    /// The store shared through Redis, if configured.
    pub redis: Option<std::sync::Arc<super::shared_approvals::SharedApprovals>>,
}

/// Facts about one upstream.
#[derive(Debug, Clone, Default)]
pub struct UpstreamFacts {
    /// Its tenants.
    pub tenants: Vec<String>,
    /// Its labels.
    pub labels: Vec<String>,
    /// Per tool.
    pub tools: HashMap<String, ToolFacts>,
}

/// Facts about one tool from configuration.
#[derive(Debug, Clone, Default)]
pub struct ToolFacts {
    /// Labels.
    pub labels: Vec<String>,
    /// A compiled stricter schema.
    pub input_schema: Option<std::sync::Arc<jsonschema::Validator>>,
}

fn choice<T: Copy>(
    value: Option<&str>,
    options: &[(&str, T)],
    default: T,
    file: &Path,
    path: &str,
) -> Result<T, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    options
        .iter()
        .find(|(name, _)| *name == v)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            ConfigError::at(
                file,
                path,
                format!("`{v}` is not one of: {}", names.join(", ")),
            )
        })
}

/// Compiles everything but the policy files.
pub fn compile(raw: &RawAuthorization, file: &Path) -> Result<Settings, ConfigError> {
    let shadow = choice(
        raw.mode.as_deref(),
        &[("enforce", false), ("shadow", true)],
        false,
        file,
        "authorization.mode",
    )?;
    let unknown_tool = choice(
        raw.unknown_tool.as_deref(),
        &[
            ("spec", UnknownToolStyle::Spec),
            ("rmcp", UnknownToolStyle::Rmcp),
            ("python-sdk", UnknownToolStyle::PythonSdk),
        ],
        UnknownToolStyle::Spec,
        file,
        "authorization.unknown_tool",
    )?;
    let refuse_unlisted = choice(
        raw.input_validation.unlisted_tools.as_deref(),
        &[("refuse", true), ("forward", false)],
        true,
        file,
        "authorization.input_validation.unlisted_tools",
    )?;
    let a = &raw.approvals;
    let approvals = ApprovalSettings {
        mode: choice(
            a.mode.as_deref(),
            &[("error", ApprovalMode::Error), ("hold", ApprovalMode::Hold)],
            ApprovalMode::Error,
            file,
            "authorization.approvals.mode",
        )?,
        ttl: a.ttl.map_or(Duration::from_secs(900), |d| d.0),
        hold_timeout: a.hold_timeout.map_or(Duration::from_secs(60), |d| d.0),
        approver_role: a.approver_role.clone().unwrap_or_else(|| "approver".into()),
        max_pending: a.max_pending.unwrap_or(10_000).max(1),
        redis: match &a.redis {
            None => None,
            Some(r) => {
                let prefix = r
                    .prefix
                    .clone()
                    .unwrap_or_else(|| "portcullis:approvals:".into());
                Some(std::sync::Arc::new(
                    super::shared_approvals::SharedApprovals::new(&r.url, prefix).map_err(|e| {
                        ConfigError::at(file, "authorization.approvals.redis.url", e)
                    })?,
                ))
            }
        },
    };
    let mut upstreams = HashMap::new();
    for (name, facts) in &raw.upstreams {
        let mut tools = HashMap::new();
        for (tool, t) in &facts.tools {
            let input_schema = match &t.input_schema {
                None => None,
                Some(schema) => Some(std::sync::Arc::new(
                    super::validate::compile_schema(schema).map_err(|e| {
                        ConfigError::at(
                            file,
                            &format!("authorization.upstreams.{name}.tools.{tool}.input_schema"),
                            e,
                        )
                    })?,
                )),
            };
            tools.insert(
                tool.clone(),
                ToolFacts {
                    labels: t.labels.clone(),
                    input_schema,
                },
            );
        }
        upstreams.insert(
            name.clone(),
            UpstreamFacts {
                tenants: facts.tenants.clone(),
                labels: facts.labels.clone(),
                tools,
            },
        );
    }
    Ok(Settings {
        shadow,
        unknown_tool,
        upstreams,
        refuse_unlisted,
        approvals,
        flows: FlowSettings {
            idle_ttl: raw
                .flows
                .idle_ttl
                .map_or(Duration::from_secs(3600), |d| d.0),
            max_sessions: raw.flows.max_sessions.unwrap_or(100_000).max(1),
            redis: match &raw.flows.redis {
                None => None,
                Some(r) => Some(std::sync::Arc::new(
                    super::shared_flows::SharedFlows::new(
                        &r.url,
                        r.prefix
                            .clone()
                            .unwrap_or_else(|| "portcullis:flows:".into()),
                    )
                    .map_err(|e| ConfigError::at(file, "authorization.flows.redis.url", e))?,
                )),
            },
        },
    })
}
