//! What a client sends a server in answer to the server's own questions: the
//! result of a `sampling/createMessage` (text the client's model wrote, which
//! may quote anything in its context), an `elicitation/create` answer (what
//! the user typed), a `roots/list` answer; at 2026-07-28 the same answers ride
//! the retried request as `params.inputResponses`. They leave toward the
//! server like arguments do, so they are read for secrets leaving, on the
//! `tool_arguments` surface (blocked by default). Only secrets: an answer is
//! the client's own text, not data addressed to its model, so injection rules
//! have nothing to protect here.

use super::{Filter, Inspection, Origin, Verdict, redact, secret_texts};
use crate::protocol::jsonrpc::{Kind, Message};
use crate::scan::{Action, Category, Surface};
use serde_json::{Map, Value};

impl Filter<'_> {
    /// Stage 5: a client's answer to a server request (a JSON-RPC response),
    /// or the `inputResponses` of a retried 2026-07-28 request. `base` is the
    /// message as an earlier reading already rewrote it, if it did; a
    /// redaction applies on top of it.
    pub fn answers(
        &self,
        message: &Message,
        base: Option<&Map<String, Value>>,
        origin: Origin<'_>,
    ) -> Option<Inspection> {
        if self.policy.disabled {
            return None;
        }
        let (member, prefix, value) = match message.kind() {
            Kind::Response => ("result", "", message.result()?),
            Kind::Request => (
                "params",
                "/inputResponses",
                message.as_object().get("params")?.get("inputResponses")?,
            ),
            _ => return None,
        };
        let surface = Surface::ToolArguments;
        let mut report = self.scanner.scan_json(surface, value);
        report.findings.retain(|f| f.category == Category::Secret);
        let secrets = secret_texts(value, &report.findings);
        let verdict = match self.decide(surface, &report, origin) {
            Verdict::Rewrite(_) => {
                let mut object = base.cloned().unwrap_or_else(|| message.as_object().clone());
                let mut spans = self.counted(surface, &report, origin, Action::Redact);
                for f in &mut spans {
                    f.json_path = format!("{prefix}{}", f.json_path);
                }
                if let Some(target) = object.get_mut(member) {
                    redact(target, &spans);
                }
                Verdict::Rewrite(object)
            }
            other => other,
        };
        let findings = report
            .findings
            .into_iter()
            .map(|mut f| {
                f.json_path = format!("{prefix}{}", f.json_path);
                f
            })
            .collect();
        Some(Inspection {
            surface,
            findings,
            secrets,
            verdict,
        })
    }
}
