//! The values a scan produces: where text crossed the gateway ([`Surface`]),
//! what was found ([`Finding`], [`Category`], [`Severity`]) and the whole
//! answer for one message ([`Report`]).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Where a text crosses the gateway. The surface picks thresholds and actions:
/// an imperative addressed to the assistant is normal in a user's prompt and
/// suspicious inside a tool result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// `tools/call` arguments, client to server (direct injection, secrets leaving).
    ToolArguments,
    /// `prompts/get` arguments, client to server.
    PromptArguments,
    /// A `tools/call` result, server to client (indirect injection).
    ToolResult,
    /// `resources/read` contents, server to client.
    ResourceContents,
    /// `prompts/get` messages, server to client.
    PromptMessages,
    /// `sampling/createMessage` from a server.
    SamplingRequest,
    /// `elicitation/create` from a server.
    ElicitationRequest,
    /// Tool, prompt and resource descriptions and schemas at list time (tool poisoning).
    ToolDescription,
}

impl Surface {
    /// Every surface, in declaration order.
    pub const ALL: [Surface; 8] = [
        Surface::ToolArguments,
        Surface::PromptArguments,
        Surface::ToolResult,
        Surface::ResourceContents,
        Surface::PromptMessages,
        Surface::SamplingRequest,
        Surface::ElicitationRequest,
        Surface::ToolDescription,
    ];

    /// True when the text comes from the client and travels to a server: there,
    /// instructions to the assistant are expected and secrets are leaving.
    pub fn is_outbound(self) -> bool {
        matches!(self, Surface::ToolArguments | Surface::PromptArguments)
    }

    /// The snake_case name used in configuration and rule packs.
    pub fn name(self) -> &'static str {
        match self {
            Surface::ToolArguments => "tool_arguments",
            Surface::PromptArguments => "prompt_arguments",
            Surface::ToolResult => "tool_result",
            Surface::ResourceContents => "resource_contents",
            Surface::PromptMessages => "prompt_messages",
            Surface::SamplingRequest => "sampling_request",
            Surface::ElicitationRequest => "elicitation_request",
            Surface::ToolDescription => "tool_description",
        }
    }

    /// Parses a snake_case name.
    pub fn parse(name: &str) -> Option<Surface> {
        Surface::ALL.into_iter().find(|s| s.name() == name)
    }

    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// What kind of problem a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// "Ignore previous instructions" and its many phrasings.
    InstructionOverride,
    /// Imperative text addressed to the assistant or model inside data.
    AddressedInstruction,
    /// Fake role or turn markers, chat-template tokens.
    RoleMarker,
    /// Persona and "developer mode" jailbreaks.
    Jailbreak,
    /// Requests to reveal the system prompt or earlier instructions.
    PromptExtraction,
    /// Exfiltration sinks: markdown images or links carrying data, HTML handlers.
    Exfiltration,
    /// Requests to read credentials or configuration files.
    CredentialAccess,
    /// Code whose purpose is hostile: a reverse shell, local secrets sent out,
    /// a keylogger, download-and-run, sabotage.
    HostileCode,
    /// Tool descriptions that hide steps from the user or chain other tools.
    ToolPoisoning,
    /// Invisible, smuggled, encoded or hidden text.
    Obfuscation,
    /// A credential: cloud key, token, private key, JWT.
    Secret,
    /// The statistical layer's verdict.
    Model,
}

impl Category {
    /// The snake_case name used in rule packs.
    pub fn name(self) -> &'static str {
        match self {
            Category::InstructionOverride => "instruction_override",
            Category::AddressedInstruction => "addressed_instruction",
            Category::RoleMarker => "role_marker",
            Category::Jailbreak => "jailbreak",
            Category::PromptExtraction => "prompt_extraction",
            Category::Exfiltration => "exfiltration",
            Category::CredentialAccess => "credential_access",
            Category::HostileCode => "hostile_code",
            Category::ToolPoisoning => "tool_poisoning",
            Category::Obfuscation => "obfuscation",
            Category::Secret => "secret",
            Category::Model => "model",
        }
    }

    /// True for every category except [`Category::Secret`]: what counts as an
    /// injection verdict.
    pub fn is_injection(self) -> bool {
        self != Category::Secret
    }
}

/// How sure and how bad. Thresholds and actions compare against it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Default,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A signal worth auditing, never a verdict by itself (e.g. a zero-width joiner).
    #[default]
    Info,
    /// Weak evidence.
    Low,
    /// Likely an attack.
    Medium,
    /// Almost certainly an attack.
    High,
    /// An attack with a direct harmful effect (exfiltration, credential theft).
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        })
    }
}

/// One thing found in one string leaf.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule id, or `model` / a normalisation signal id such as `obf.zero-width`.
    pub rule_id: Arc<str>,
    /// What kind of problem.
    pub category: Category,
    /// How bad.
    pub severity: Severity,
    /// Where in the JSON value: an RFC 6901 pointer (`""` for plain text).
    pub json_path: String,
    /// Byte range in the original string leaf, when the finding has one.
    pub span: Option<Range<usize>>,
    /// The model's probability, for model findings.
    pub score: Option<f32>,
    /// A human-readable reason: the matched text, or the strongest features.
    pub explanation: String,
}

/// The findings for one message on one surface.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Everything found, in leaf order.
    pub findings: Vec<Finding>,
    /// True when the message was larger than the scan bound: only its first
    /// `max_scan_bytes` were scanned, and the configured oversize choice applies.
    pub oversize: bool,
    /// Bytes of text scanned.
    pub scanned_bytes: usize,
    /// The highest model probability over all leaves, if the model ran.
    pub model_score: Option<f32>,
}

impl Report {
    /// The highest severity among injection findings, if any.
    pub fn max_injection_severity(&self) -> Option<Severity> {
        self.findings
            .iter()
            .filter(|f| f.category.is_injection())
            .map(|f| f.severity)
            .max()
    }

    /// True when some injection finding reaches `threshold`.
    pub fn is_injection(&self, threshold: Severity) -> bool {
        self.max_injection_severity()
            .is_some_and(|s| s >= threshold)
    }

    /// True when a secret was found.
    pub fn has_secret(&self) -> bool {
        self.findings.iter().any(|f| f.category == Category::Secret)
    }
}
