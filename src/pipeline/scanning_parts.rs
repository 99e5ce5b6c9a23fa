//! Server data of which only a part is blocked: the part is left out and the
//! rest delivered, where an error in place of the whole answer would cost the
//! client more than the part is worth.
//!
//! - Tasks (2025-11-25, experimental): a tool run as a task answers `tools/call`
//!   with a task, and its progress comes from `tasks/get`, `tasks/list`,
//!   `tasks/cancel` and `notifications/tasks/status`, each carrying the task's
//!   state and the server's `statusMessage` text: the tool's output like its
//!   result (`tasks/result`, judged as a tool result), so judged on the
//!   tool-result surface. A poll answered with an error would end the client's
//!   wait for a result the filter may well let through; a blocked status
//!   message is left out and the task's state delivered.
//! - Completions (`completion/complete`): each suggested value is text a client
//!   shows its user and may put into a prompt's arguments, judged on the
//!   prompt-messages surface. A blocked value leaves the list (and `total`), as
//!   a poisoned tool leaves `tools/list`.
//!
//! Findings anywhere else in the answer, and an oversize answer, keep the
//! verdict they get in any other message.

use super::{Filter, Inspection, Origin, Verdict, redact, secret_texts};
use crate::protocol::jsonrpc::Message;
use crate::scan::{Action, Finding, Surface};
use serde_json::Value;

impl Filter<'_> {
    /// Judges the task state(s) in `value` (member `member` of `message`: a
    /// task, or `{tasks: [...]}`).
    pub(super) fn task_status(
        &self,
        message: &Message,
        member: &str,
        value: &Value,
        origin: Origin<'_>,
    ) -> Inspection {
        self.parts(
            message,
            member,
            value,
            Surface::ToolResult,
            origin,
            |path| path.ends_with("/statusMessage"),
        )
    }

    /// Judges a `completion/complete` answer's values.
    pub(super) fn completion(
        &self,
        message: &Message,
        result: &Value,
        origin: Origin<'_>,
    ) -> Inspection {
        let mut inspection = self.parts(
            message,
            "result",
            result,
            Surface::PromptMessages,
            origin,
            |path| value_index(path).is_some(),
        );
        if let Verdict::Rewrite(object) = &mut inspection.verdict {
            let sent = result
                .pointer("/completion/values")
                .and_then(Value::as_array);
            let completion = object
                .get_mut("result")
                .and_then(|r| r.get_mut("completion"))
                .and_then(Value::as_object_mut);
            if let (Some(sent), Some(completion)) = (sent, completion) {
                let kept = completion
                    .get("values")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let left_out = (sent.len() - kept.min(sent.len())) as u64;
                if let Some(total) = completion.get("total").and_then(Value::as_u64) {
                    completion.insert("total".into(), total.saturating_sub(left_out).into());
                }
            }
        }
        inspection
    }

    /// Scans `value` (member `member` of `message`) on `surface`; when every
    /// blocking finding lies in a part `part` accepts (by its JSON pointer),
    /// those parts are left out and the rest delivered, redactions applied.
    pub(super) fn parts(
        &self,
        message: &Message,
        member: &str,
        value: &Value,
        surface: Surface,
        origin: Origin<'_>,
        part: fn(&str) -> bool,
    ) -> Inspection {
        let report = self.scanner.scan_json(surface, value);
        let verdict = match self.decide(surface, &report, origin) {
            Verdict::Pass => Verdict::Pass,
            Verdict::Block(blocked) if report.oversize && blocked.rule_id == "oversize" => {
                Verdict::Block(blocked)
            }
            decided => {
                let blocking = self.counted(surface, &report, origin, Action::Block);
                if blocking.iter().any(|f| !part(&f.json_path)) {
                    decided
                } else {
                    let mut object = message.as_object().clone();
                    if let Some(target) = object.get_mut(member) {
                        redact(
                            target,
                            &self.counted(surface, &report, origin, Action::Redact),
                        );
                        leave_out(target, &blocking);
                    }
                    Verdict::Rewrite(object)
                }
            }
        };
        Inspection {
            surface,
            secrets: secret_texts(value, &report.findings),
            findings: report.findings,
            verdict,
        }
    }
}

/// The index `i` of a pointer `/completion/values/i`.
fn value_index(pointer: &str) -> Option<usize> {
    pointer.strip_prefix("/completion/values/")?.parse().ok()
}

/// Removes what the findings' pointers (RFC 6901, relative to `value`) name:
/// an object's member, or an array's element (the highest index first, so that
/// one removal does not move what another names).
fn leave_out(value: &mut Value, findings: &[Finding]) {
    let index = |p: &str| {
        p.rsplit_once('/')
            .and_then(|(_, k)| k.parse::<usize>().ok())
    };
    let mut pointers: Vec<&str> = findings.iter().map(|f| f.json_path.as_str()).collect();
    pointers.sort_by(|a, b| index(b).cmp(&index(a)).then(a.cmp(b)));
    pointers.dedup();
    for pointer in pointers {
        let Some((parent, key)) = pointer.rsplit_once('/') else {
            continue;
        };
        match value.pointer_mut(parent) {
            Some(Value::Object(object)) => {
                object.remove(key);
            }
            Some(Value::Array(items)) => {
                if let Ok(i) = key.parse::<usize>()
                    && i < items.len()
                {
                    items.remove(i);
                }
            }
            _ => {}
        }
    }
}
