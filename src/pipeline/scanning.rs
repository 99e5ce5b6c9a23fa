//! What the injection filter's findings mean for one message: which surface a
//! message is, which findings count, and what happens to the message (pass,
//! rewrite with spans redacted or poisoned entries removed, or block).
//!
//! Pure decisions over parsed values; the pipeline's stages apply them (stage 5
//! to requests, stage 8 to everything the upstream sends). A finding counts when
//! it is a secret, or an injection at or above the surface's minimum severity;
//! the strongest action among counted findings wins (block over redact over
//! flag). A message larger than the scan bound is blocked unless the policy
//! fails open, and is recorded either way.

use crate::protocol::jsonrpc::{Kind, Message};
use crate::scan::{Action, Category, Finding, Report, ScanPolicy, Scanner, Surface, redact};
use serde_json::{Map, Value, json};

/// The scanner and its policy, borrowed from the configuration snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// The compiled scanner.
    pub scanner: &'a Scanner,
    /// Thresholds, actions, oversize choice.
    pub policy: &'a ScanPolicy,
}

/// What happens to a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Deliver unchanged (findings, if any, are only recorded).
    Pass,
    /// Deliver this message object instead (redacted, or list entries removed).
    Rewrite(Map<String, Value>),
    /// Do not deliver; answer as `Blocked` says.
    Block(Blocked),
}

/// Why a message was blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// The deciding rule, or `oversize`.
    pub rule_id: String,
    /// Its category name.
    pub category: &'static str,
}

/// A verdict with the findings behind it, for audit and policy.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Where the text crossed.
    pub surface: Surface,
    /// Every finding, counted or not.
    pub findings: Vec<Finding>,
    /// The exact texts of secrets found: kept out of every log and audit sink.
    pub secrets: Vec<String>,
    /// The decision.
    pub verdict: Verdict,
}

/// The exact text of each secret finding in `value`.
fn secret_texts(value: &Value, findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.category == Category::Secret)
        .filter_map(|f| {
            let text = value.pointer(&f.json_path)?.as_str()?;
            let span = f.span.clone()?;
            text.get(span).map(str::to_owned)
        })
        .collect()
}

/// What the gateway does with one entry of a list result.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryFate {
    /// Listed unchanged (its findings, if any, are only recorded).
    Keep,
    /// Listed with the counted spans replaced: the entry as delivered.
    Redact(Value),
    /// Removed from the list, for this reason.
    Drop(Blocked),
}

/// Names the object a message acts on, for per-tool actions.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The upstream's name.
    pub upstream: &'a str,
    /// The tool, prompt or resource, when there is one.
    pub object: &'a str,
}

impl Filter<'_> {
    /// Stage 5: a client request's arguments (`tools/call`, `prompts/get`,
    /// `completion/complete`).
    pub fn request(&self, message: &Message, origin: Origin<'_>) -> Option<Inspection> {
        if self.policy.disabled {
            return None;
        }
        // A completion request carries what the user is typing into a prompt's
        // argument (and the arguments typed so far), keystroke by keystroke:
        // its whole `params` are read.
        let (surface, member) = match message.method()? {
            "tools/call" => (Surface::ToolArguments, Some("arguments")),
            "prompts/get" => (Surface::PromptArguments, Some("arguments")),
            "completion/complete" => (Surface::PromptArguments, None),
            _ => return None,
        };
        let params = message.as_object().get("params")?;
        let arguments = match member {
            Some(m) => params.get(m)?,
            None => params,
        };
        let report = self.scanner.scan_json(surface, arguments);
        let mut verdict = self.decide(surface, &report, origin);
        if let Verdict::Rewrite(_) = verdict {
            let mut object = message.as_object().clone();
            if let Some(args) = object.get_mut("params").and_then(|p| match member {
                Some(m) => p.get_mut(m),
                None => Some(p),
            }) {
                redact(
                    args,
                    &self.counted(surface, &report, origin, Action::Redact),
                );
            }
            verdict = Verdict::Rewrite(object);
        }
        Some(Inspection {
            surface,
            secrets: secret_texts(arguments, &report.findings),
            findings: report.findings,
            verdict,
        })
    }

    /// Stage 8: a message from the upstream. `answering` is the method of the
    /// client request it answers, when it is that request's response.
    pub fn upstream(
        &self,
        message: &Message,
        answering: Option<&str>,
        origin: Origin<'_>,
    ) -> Option<Inspection> {
        if self.policy.disabled {
            return None;
        }
        match message.kind() {
            Kind::Request => {
                let surface = match message.method()? {
                    "sampling/createMessage" => Surface::SamplingRequest,
                    "elicitation/create" => Surface::ElicitationRequest,
                    _ => return None,
                };
                let params = message.as_object().get("params")?;
                Some(self.whole(message, "params", params, surface, origin))
            }
            Kind::Response => {
                let result = message.result()?;
                if let Some(requests) = result.get("inputRequests") {
                    // 2026-07-28 input-required results carry what would have been
                    // server-to-client requests; a task waiting for input, its
                    // state besides.
                    if matches!(answering, Some("tasks/get" | "tasks/cancel")) {
                        return Some(self.waiting_task(message, "result", result, origin));
                    }
                    return Some(self.input_requests(message, "result", requests, origin));
                }
                let surface = match answering? {
                    // A task's result (`tasks/result`) is its tool's result;
                    // its state carries the server's `statusMessage` text.
                    "tools/call" | "tasks/result" => Surface::ToolResult,
                    "tasks/get" | "tasks/list" | "tasks/cancel" => {
                        return Some(self.task_status(message, "result", result, origin));
                    }
                    "resources/read" => Surface::ResourceContents,
                    "prompts/get" => Surface::PromptMessages,
                    "tools/list"
                    | "prompts/list"
                    | "resources/list"
                    | "resources/templates/list" => {
                        return Some(self.list(message, result, origin));
                    }
                    "completion/complete" => {
                        return Some(self.completion(message, result, origin));
                    }
                    "initialize" | "server/discover" => {
                        return self.instructions(message, result, origin);
                    }
                    _ => return None,
                };
                Some(self.whole(message, "result", result, surface, origin))
            }
            // An upstream's error message is text an agent hands its model
            // ("the tool failed: ..."), and a log or progress message is
            // shown or logged: server data like a result.
            Kind::ErrorResponse => {
                let error = message.as_object().get("error")?;
                let surface = match answering {
                    Some("resources/read") => Surface::ResourceContents,
                    Some("prompts/get") => Surface::PromptMessages,
                    _ => Surface::ToolResult,
                };
                Some(self.whole(message, "error", error, surface, origin))
            }
            Kind::Notification => match message.method()? {
                "notifications/tasks/status" | "notifications/tasks" => {
                    let params = message.as_object().get("params")?;
                    if params.get("inputRequests").is_some() {
                        return Some(self.waiting_task(message, "params", params, origin));
                    }
                    Some(self.task_status(message, "params", params, origin))
                }
                "notifications/message" | "notifications/progress" => {
                    let params = message.as_object().get("params")?;
                    Some(self.whole(message, "params", params, Surface::ToolResult, origin))
                }
                _ => None,
            },
        }
    }

    /// Scans one member of the message as a whole: no part of it is left out
    /// on its own ([`Filter::parts`] with no such part).
    fn whole(
        &self,
        message: &Message,
        member: &str,
        value: &Value,
        surface: Surface,
        origin: Origin<'_>,
    ) -> Inspection {
        self.parts(message, member, value, surface, origin, |_| None)
    }

    /// A server's `instructions` (in `initialize` and `server/discover`
    /// results), which clients may add to the model's system prompt: judged
    /// like a tool description ([`Filter::instructions_entry`]). Blocked,
    /// they are left out and the server still answers; redacted, they are
    /// delivered without the spans.
    fn instructions(
        &self,
        message: &Message,
        result: &Value,
        origin: Origin<'_>,
    ) -> Option<Inspection> {
        let text = result.get("instructions")?;
        let (report, fate) = self.instructions_entry(text, origin.upstream);
        let verdict = match fate {
            EntryFate::Keep => Verdict::Pass,
            changed => {
                let mut object = message.as_object().clone();
                if let Some(Value::Object(result)) = object.get_mut("result") {
                    match changed {
                        EntryFate::Redact(text) => {
                            result.insert("instructions".into(), text);
                        }
                        _ => {
                            result.remove("instructions");
                        }
                    }
                }
                Verdict::Rewrite(object)
            }
        };
        Some(Inspection {
            surface: Surface::ToolDescription,
            secrets: secret_texts(text, &report.findings),
            findings: report
                .findings
                .into_iter()
                .map(|mut f| {
                    f.json_path = format!("/instructions{}", f.json_path);
                    f
                })
                .collect(),
            verdict,
        })
    }

    /// Judges a server's instructions on the tool-description surface, as
    /// [`Filter::upstream`] does in `initialize` and `server/discover`
    /// answers; `portcullis scan server` calls it too.
    pub fn instructions_entry(&self, text: &Value, upstream: &str) -> (Report, EntryFate) {
        self.entry(
            text,
            Origin {
                upstream,
                object: "",
            },
        )
    }

    /// List results: each entry is judged on its own; a poisoned entry leaves
    /// the list, a redacted one stays with its spans replaced.
    fn list(&self, message: &Message, result: &Value, origin: Origin<'_>) -> Inspection {
        let surface = Surface::ToolDescription;
        let Some((field, items)) = ["tools", "prompts", "resources", "resourceTemplates"]
            .iter()
            .find_map(|f| Some((*f, result.get(*f)?.as_array()?)))
        else {
            return Inspection {
                surface,
                findings: Vec::new(),
                secrets: Vec::new(),
                verdict: Verdict::Pass,
            };
        };
        let mut findings = Vec::new();
        let mut secrets = Vec::new();
        let mut kept = Vec::with_capacity(items.len());
        let mut changed = false;
        for item in items {
            let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
            let (report, fate) = self.list_entry(item, origin.upstream);
            secrets.extend(secret_texts(item, &report.findings));
            match fate {
                EntryFate::Keep => kept.push(item.clone()),
                EntryFate::Redact(item) => {
                    kept.push(item);
                    changed = true;
                }
                EntryFate::Drop(_) => changed = true,
            }
            findings.extend(report.findings.into_iter().map(|mut f| {
                f.json_path = format!("/{name}{}", f.json_path);
                f
            }));
        }
        let verdict = if changed {
            let mut object = message.as_object().clone();
            if let Some(list) = object.get_mut("result").and_then(|r| r.get_mut(field)) {
                *list = Value::Array(kept);
            }
            Verdict::Rewrite(object)
        } else {
            Verdict::Pass
        };
        Inspection {
            surface,
            findings,
            secrets,
            verdict,
        }
    }

    /// Judges one entry of a list result (a tool, prompt, resource or resource
    /// template) on the tool-description surface, as [`Filter::upstream`] does
    /// for every entry of a list it filters; the report's JSON paths are relative
    /// to the entry. `portcullis scan server` calls it so that its verdicts are
    /// the gateway's.
    pub fn list_entry(&self, item: &Value, upstream: &str) -> (Report, EntryFate) {
        let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
        self.entry(
            item,
            Origin {
                upstream,
                object: name,
            },
        )
    }

    /// Judges `value` on the tool-description surface: kept, redacted (a
    /// copy with the spans replaced) or dropped.
    fn entry(&self, value: &Value, origin: Origin<'_>) -> (Report, EntryFate) {
        let surface = Surface::ToolDescription;
        let report = self.scanner.scan_json(surface, value);
        let fate = match self.decide(surface, &report, origin) {
            Verdict::Pass => EntryFate::Keep,
            Verdict::Rewrite(_) => {
                let mut value = value.clone();
                redact(
                    &mut value,
                    &self.counted(surface, &report, origin, Action::Redact),
                );
                EntryFate::Redact(value)
            }
            Verdict::Block(blocked) => EntryFate::Drop(blocked),
        };
        (report, fate)
    }

    fn counts(&self, surface: Surface, f: &Finding) -> bool {
        f.category == Category::Secret || f.severity >= self.policy.settings.min_severity(surface)
    }

    fn counted(
        &self,
        surface: Surface,
        report: &Report,
        origin: Origin<'_>,
        action: Action,
    ) -> Vec<Finding> {
        report
            .findings
            .iter()
            .filter(|f| self.counts(surface, f))
            .filter(|f| {
                self.policy
                    .action(surface, origin.upstream, origin.object, f.category)
                    == action
            })
            .cloned()
            .collect()
    }

    fn decide(&self, surface: Surface, report: &Report, origin: Origin<'_>) -> Verdict {
        if report.oversize && !self.policy.oversize_allow {
            return Verdict::Block(Blocked {
                rule_id: "oversize".into(),
                category: "oversize",
            });
        }
        let mut redacts = false;
        for f in report.findings.iter().filter(|f| self.counts(surface, f)) {
            match self
                .policy
                .action(surface, origin.upstream, origin.object, f.category)
            {
                Action::Block => {
                    return Verdict::Block(Blocked {
                        rule_id: f.rule_id.to_string(),
                        category: f.category.name(),
                    });
                }
                Action::Redact => redacts = true,
                Action::Flag => {}
            }
        }
        if redacts {
            Verdict::Rewrite(Map::new())
        } else {
            Verdict::Pass
        }
    }
}

/// The message of the `-32001` error that replaces blocked server content
/// where an error stays an error.
pub fn withheld_reason(blocked: &Blocked) -> String {
    format!(
        "Content withheld by the gateway's injection filter: {} (rule {})",
        blocked.category, blocked.rule_id
    )
}

/// The `isError` result that replaces a blocked tool result.
pub fn withheld_result(blocked: &Blocked) -> Value {
    json!({
        "content": [{"type": "text", "text": format!(
            "[portcullis] This tool result was withheld: the gateway's injection filter found {} content (rule {}).",
            blocked.category, blocked.rule_id
        )}],
        "isError": true
    })
}

#[path = "scanning_answers.rs"]
mod answers;
#[path = "scanning_input.rs"]
mod input;
#[path = "scanning_parts.rs"]
mod parts;

#[cfg(test)]
#[path = "scanning_tests.rs"]
mod tests;
