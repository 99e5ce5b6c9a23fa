//! The `scan:` section of `portcullis.yaml`: raw serde types and their
//! compiled form. The gateway mounts [`RawScanConfig`] under `scan:` and asks
//! the compiled [`ScanPolicy`] what to do with a [`Report`](super::Report).
//!
//! ```yaml
//! scan:
//!   rules_dir: policies/scan          # default: the packs built into the binary
//!   model: policies/scan/model-v1.bin # default: the built-in weights; `off` disables
//!   max_scan_bytes: 1MiB              # per message
//!   oversize: block                   # block (default, fail closed) | allow (fail open)
//!   min_severity: { default: medium, tool_arguments: high }
//!   model_threshold: { tool_result: 0.9 }
//!   actions:                          # first match wins; then the defaults below
//!     - { surface: tool_result, upstream: docs, tool: search, injection: flag }
//!     - { surface: tool_arguments, secret: block }
//! ```
//!
//! Defaults fail closed: injections are blocked on every surface; secrets are
//! redacted in what servers send and blocked in what clients send.
//! Invariant: once [`RawScanConfig::compile`] returns, every lookup is total.

use super::ScanError;
use super::types::{Category, Severity, Surface};
use crate::config::units::ByteSize;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `scan:` section as written.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScanConfig {
    /// Run without the injection and secret filter (**permissive**: nothing is
    /// scanned, no finding reaches policies or the audit trail; the gateway
    /// warns at start). Excludes every other setting.
    #[serde(default)]
    pub disabled: bool,
    /// Folder of `*.yaml` rule packs. Default: the packs built into the binary.
    #[serde(default)]
    pub rules_dir: Option<PathBuf>,
    /// Weights file. Default: the built-in weights. `off` disables the model
    /// (a permissive choice: rules alone catch less).
    #[serde(default)]
    pub model: Option<String>,
    /// Most bytes of text scanned per message. Default `1MiB`.
    #[serde(default)]
    pub max_scan_bytes: Option<ByteSize>,
    /// What to do with a message larger than `max_scan_bytes`: `block`
    /// (default) or `allow` (fail open: the rest goes unscanned; audited).
    #[serde(default)]
    #[schemars(extend("enum" = ["block", "allow", null]))]
    pub oversize: Option<String>,
    /// Least severity that counts as an injection, per surface name or `default`.
    /// Default `medium`.
    #[serde(default)]
    pub min_severity: BTreeMap<String, Severity>,
    /// Model probability that counts as an injection, per surface name or
    /// `default`. Default: the threshold stored in the weights file.
    #[serde(default)]
    pub model_threshold: BTreeMap<String, f32>,
    /// Ordered action overrides.
    #[serde(default)]
    pub actions: Vec<RawAction>,
    /// Tool pinning (rug-pull defence). Off unless set.
    #[serde(default)]
    pub pins: Option<RawPins>,
}

/// `scan.pins`: where tool pins live and how unknown tools are treated.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPins {
    /// The pins file (JSON, see `portcullis pins`). Created on first use in
    /// `tofu` mode.
    pub file: PathBuf,
    /// `tofu` (default): a tool seen for the first time is pinned as it is;
    /// `enforce`: only tools in the pins file are served (a security team
    /// commits the file). Either way a pinned tool whose definition changes is
    /// hidden and its calls denied until re-approved (`portcullis pins approve`).
    #[serde(default)]
    #[schemars(extend("enum" = ["tofu", "enforce", null]))]
    pub mode: Option<String>,
}

/// Compiled `scan.pins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinSettings {
    /// The pins file.
    pub file: PathBuf,
    /// Whether first-seen tools are pinned (`tofu`) rather than refused.
    pub trust_on_first_use: bool,
}

/// One action override.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    /// Surface name; absent = any.
    #[serde(default)]
    pub surface: Option<String>,
    /// Upstream name; absent or `*` = any.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Tool (or prompt/resource) name; absent or `*` = any.
    #[serde(default)]
    pub tool: Option<String>,
    /// Action for injection findings.
    #[serde(default)]
    pub injection: Option<Action>,
    /// Action for secret findings.
    #[serde(default)]
    pub secret: Option<Action>,
}

/// What the gateway does with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Refuse: a JSON-RPC error for requests, an `isError` result for results.
    Block,
    /// Replace the offending spans with a marker and deliver the rest.
    Redact,
    /// Deliver unchanged and audit (permissive).
    Flag,
}

impl Action {
    /// Block > redact > flag.
    fn strictness(self) -> u8 {
        match self {
            Action::Block => 2,
            Action::Redact => 1,
            Action::Flag => 0,
        }
    }
}

/// What the scanner itself needs.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// Most bytes of text scanned per message.
    pub max_scan_bytes: usize,
    /// Least severity that counts as an injection, per surface.
    pub min_severity: [Severity; 8],
    /// Model threshold overrides, per surface.
    pub model_threshold: [Option<f32>; 8],
    /// Deepest decoding (base64 inside hex inside ...).
    pub max_decode_depth: usize,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            max_scan_bytes: 1 << 20,
            min_severity: [Severity::Medium; 8],
            model_threshold: [None; 8],
            max_decode_depth: 2,
        }
    }
}

impl ScanSettings {
    /// The least severity that counts as an injection on `surface`.
    pub fn min_severity(&self, surface: Surface) -> Severity {
        self.min_severity[surface as usize]
    }
}

/// The compiled `scan:` section.
#[derive(Debug, Clone, Default)]
pub struct ScanPolicy {
    /// `scan: { disabled: true }`: no message is scanned.
    pub disabled: bool,
    /// Scanner settings.
    pub settings: ScanSettings,
    /// Rules folder, if not built in.
    pub rules_dir: Option<PathBuf>,
    /// Weights: `None` = built in, `Some(None)` = off, `Some(Some(path))` = file.
    pub model: Option<Option<PathBuf>>,
    /// Fail open on oversize messages.
    pub oversize_allow: bool,
    /// Tool pinning, when configured.
    pub pins: Option<PinSettings>,
    actions: Vec<CompiledAction>,
}

#[derive(Debug, Clone)]
struct CompiledAction {
    surface: Option<Surface>,
    upstream: Option<String>,
    tool: Option<String>,
    injection: Option<Action>,
    secret: Option<Action>,
}

impl RawScanConfig {
    /// Validates and compiles; relative paths resolve against `base`.
    pub fn compile(&self, base: &std::path::Path) -> Result<ScanPolicy, ScanError> {
        let err = |path: String, message: String| ScanError::Config { path, message };
        if self.disabled {
            let alone = self.rules_dir.is_none()
                && self.model.is_none()
                && self.max_scan_bytes.is_none()
                && self.oversize.is_none()
                && self.min_severity.is_empty()
                && self.model_threshold.is_empty()
                && self.actions.is_empty()
                && self.pins.is_none();
            if !alone {
                return Err(err(
                    "disabled".into(),
                    "`disabled: true` cannot be combined with other scan settings; remove one or the other".into(),
                ));
            }
            return Ok(ScanPolicy {
                disabled: true,
                ..ScanPolicy::default()
            });
        }
        let mut settings = ScanSettings::default();
        if let Some(b) = self.max_scan_bytes {
            if b.0 == 0 || b.0 > (1 << 30) {
                return Err(err(
                    "max_scan_bytes".into(),
                    "must be between 1 byte and 1GiB".into(),
                ));
            }
            settings.max_scan_bytes = b.0 as usize;
        }
        let surface_of = |field: &str, key: &str| -> Result<Option<Surface>, ScanError> {
            if key == "default" {
                return Ok(None);
            }
            Surface::parse(key).map(Some).ok_or_else(|| {
                err(
                    format!("{field}.{key}"),
                    "unknown surface; use `default` or a surface name".into(),
                )
            })
        };
        if let Some(d) = self.min_severity.get("default") {
            settings.min_severity = [*d; 8];
        }
        for (k, v) in &self.min_severity {
            if let Some(s) = surface_of("min_severity", k)? {
                settings.min_severity[s as usize] = *v;
            }
        }
        for (k, v) in &self.model_threshold {
            if !(0.0..=1.0).contains(v) {
                return Err(err(
                    format!("model_threshold.{k}"),
                    "must be between 0 and 1".into(),
                ));
            }
            match surface_of("model_threshold", k)? {
                None => settings.model_threshold = [Some(*v); 8],
                Some(s) => settings.model_threshold[s as usize] = Some(*v),
            }
        }
        let oversize_allow = match self.oversize.as_deref() {
            None | Some("block") => false,
            Some("allow") => true,
            Some(o) => {
                return Err(err(
                    "oversize".into(),
                    format!("`{o}`: expected `block` or `allow`"),
                ));
            }
        };
        let model = self.model.as_deref().map(|m| match m {
            "off" => None,
            path => Some(base.join(path)),
        });
        let mut actions = Vec::new();
        for (i, a) in self.actions.iter().enumerate() {
            let surface = match a.surface.as_deref() {
                None | Some("*") => None,
                Some(name) => Some(Surface::parse(name).ok_or_else(|| {
                    err(
                        format!("actions[{i}].surface"),
                        format!("unknown surface `{name}`"),
                    )
                })?),
            };
            if a.injection.is_none() && a.secret.is_none() {
                return Err(err(
                    format!("actions[{i}]"),
                    "sets neither `injection` nor `secret`".into(),
                ));
            }
            let any = |s: &Option<String>| s.clone().filter(|v| v != "*");
            actions.push(CompiledAction {
                surface,
                upstream: any(&a.upstream),
                tool: any(&a.tool),
                injection: a.injection,
                secret: a.secret,
            });
        }
        let pins = match &self.pins {
            None => None,
            Some(p) => Some(PinSettings {
                file: base.join(&p.file),
                trust_on_first_use: match p.mode.as_deref() {
                    None | Some("tofu") => true,
                    Some("enforce") => false,
                    Some(m) => {
                        return Err(err(
                            "pins.mode".into(),
                            format!("`{m}`: expected `tofu` or `enforce`"),
                        ));
                    }
                },
            }),
        };
        Ok(ScanPolicy {
            disabled: false,
            settings,
            rules_dir: self.rules_dir.as_ref().map(|d| base.join(d)),
            model,
            oversize_allow,
            pins,
            actions,
        })
    }
}

impl ScanPolicy {
    /// The action for findings of `category` on `surface`, from `upstream`'s `tool`.
    ///
    /// An empty `tool` is content the gateway cannot attribute to one tool (a
    /// task's result fetched with `tasks/result`, a notification on the
    /// session's stream, a server's instructions): it gets the strictest action
    /// any tool of `upstream` would get, so that no tool's stricter setting is
    /// escaped by taking its output by another path.
    pub fn action(
        &self,
        surface: Surface,
        upstream: &str,
        tool: &str,
        category: Category,
    ) -> Action {
        if !tool.is_empty() {
            return self.first(surface, upstream, tool, category);
        }
        let named = self.actions.iter().filter_map(|a| a.tool.as_deref());
        std::iter::once("")
            .chain(named)
            .map(|t| self.first(surface, upstream, t, category))
            .max_by_key(|a| a.strictness())
            .unwrap_or(Action::Block)
    }

    /// The first entry's action for `tool` (`""`: a tool no entry names).
    fn first(&self, surface: Surface, upstream: &str, tool: &str, category: Category) -> Action {
        let secret = category == Category::Secret;
        for a in &self.actions {
            let hit = a.surface.is_none_or(|s| s == surface)
                && a.upstream.as_deref().is_none_or(|u| u == upstream)
                && a.tool.as_deref().is_none_or(|t| t == tool);
            let chosen = if secret { a.secret } else { a.injection };
            if let (true, Some(act)) = (hit, chosen) {
                return act;
            }
        }
        match (secret, surface.is_outbound()) {
            (true, true) => Action::Block,
            (true, false) => Action::Redact,
            (false, _) => Action::Block,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(yaml: &str) -> Result<ScanPolicy, ScanError> {
        let raw: RawScanConfig = serde_yaml_ng::from_str(yaml).unwrap();
        raw.compile(Path::new("/etc/portcullis"))
    }

    #[test]
    fn defaults_block_injections_and_treat_secrets_by_direction() {
        let p = parse("{}").unwrap();
        assert!(!p.oversize_allow);
        assert_eq!(
            p.action(Surface::ToolResult, "u", "t", Category::Jailbreak),
            Action::Block
        );
        assert_eq!(
            p.action(Surface::ToolResult, "u", "t", Category::Secret),
            Action::Redact
        );
        assert_eq!(
            p.action(Surface::ToolArguments, "u", "t", Category::Secret),
            Action::Block
        );
    }

    #[test]
    fn disabled_stands_alone() {
        assert!(parse("disabled: true").unwrap().disabled);
        assert!(!parse("disabled: false").unwrap().disabled);
        for other in ["model: off", "oversize: allow", "pins: { file: pins.json }"] {
            let e = parse(&format!("disabled: true\n{other}")).unwrap_err();
            assert!(
                e.to_string().contains("disabled") && e.to_string().contains("cannot be combined"),
                "{other}: {e}"
            );
        }
    }

    #[test]
    fn the_first_matching_override_wins() {
        let p = parse(
            "actions:\n  - { surface: tool_result, upstream: docs, tool: search, injection: flag }\n  - { surface: tool_result, injection: redact }\n",
        )
        .unwrap();
        assert_eq!(
            p.action(Surface::ToolResult, "docs", "search", Category::Model),
            Action::Flag
        );
        assert_eq!(
            p.action(Surface::ToolResult, "docs", "other", Category::Model),
            Action::Redact
        );
        assert_eq!(
            p.action(Surface::ToolResult, "docs", "search", Category::Secret),
            Action::Redact
        );
    }

    #[test]
    fn content_of_no_one_tool_gets_the_strictest_action_of_the_upstreams_tools() {
        let p = parse(
            "actions:\n  - { upstream: docs, tool: search, injection: block }\n  - { upstream: docs, tool: wiki, injection: redact }\n  - { injection: flag }\n",
        )
        .unwrap();
        let unattributed = |upstream| p.action(Surface::ToolResult, upstream, "", Category::Model);
        assert_eq!(unattributed("docs"), Action::Block);
        // Another upstream's tools are not this one's.
        assert_eq!(unattributed("mail"), Action::Flag);
        assert_eq!(
            p.action(Surface::ToolResult, "docs", "wiki", Category::Model),
            Action::Redact
        );
        let lenient = parse("actions:\n  - { tool: search, injection: flag }\n").unwrap();
        assert_eq!(
            lenient.action(Surface::ToolResult, "docs", "", Category::Model),
            Action::Block,
            "the default for tools no entry names still counts"
        );
    }

    #[test]
    fn per_surface_severities_and_thresholds_compile() {
        let p = parse("min_severity: { default: high, tool_result: low }\nmodel_threshold: { tool_result: 0.8 }\noversize: allow\nmodel: 'off'\n").unwrap();
        assert_eq!(p.settings.min_severity(Surface::ToolResult), Severity::Low);
        assert_eq!(
            p.settings.min_severity(Surface::ToolArguments),
            Severity::High
        );
        assert_eq!(
            p.settings.model_threshold[Surface::ToolResult as usize],
            Some(0.8)
        );
        assert!(p.oversize_allow);
        assert_eq!(p.model, Some(None));
    }

    #[test]
    fn an_unknown_surface_is_named_in_the_error() {
        let e = parse("actions:\n  - { surface: tool_reslt, injection: flag }\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "scan.actions[0].surface: unknown surface `tool_reslt`"
        );
        let raw: Result<RawScanConfig, _> = serde_yaml_ng::from_str("oversise: block\n");
        assert!(raw.unwrap_err().to_string().contains("unknown field"));
    }
}
