//! Server data of which only a part is blocked: the part is left out (or, for
//! a task's result, replaced by the withheld result) and the rest delivered,
//! where an error in place of the whole answer would cost the client more than
//! the part is worth.
//!
//! - Tasks: a tool run as a task answers `tools/call` with a task, and its
//!   progress comes from `tasks/get`, `tasks/list` and `tasks/cancel` answers
//!   and from `notifications/tasks/status` (2025-11-25, experimental) or
//!   `notifications/tasks` (the 2026-07-28 tasks extension), each carrying the
//!   task's state and the server's `statusMessage` text: the tool's output
//!   like its result, so judged on the tool-result surface. A poll answered
//!   with an error would end the client's wait for a result the filter may
//!   well let through: a blocked status message is left out and the task's
//!   state delivered. At 2026-07-28 a finished task carries its tool's `result`
//!   (or the JSON-RPC `error` it failed with) inline, where 2025-11-25 had
//!   `tasks/result`: a blocked one is replaced by the withheld result (or the
//!   filter's own error), as a blocked `tools/call` answer is, and the task
//!   still reads as finished.
//! - Completions (`completion/complete`): each suggested value is text a client
//!   shows its user and may put into a prompt's arguments, judged on the
//!   prompt-messages surface. A blocked value leaves the list (and `total`), as
//!   a poisoned tool leaves `tools/list`.
//!
//! Findings anywhere else in the answer, and an oversize answer, keep the
//! verdict they get in any other message.

use super::{
    Blocked, Filter, Inspection, Origin, Verdict, redact, secret_texts, withheld_reason,
    withheld_result,
};
use crate::protocol::jsonrpc::Message;
use crate::protocol::rpc_error::CONTENT_BLOCKED;
use crate::scan::{Action, Finding, Surface};
use serde_json::{Value, json};

/// What becomes of the part of an answer a blocking finding lies in (JSON
/// pointers relative to the member judged).
#[derive(Debug, PartialEq)]
pub(super) enum Cut {
    /// The member or array element at this pointer leaves.
    Out(String),
    /// The tool result at this pointer is replaced by the withheld result.
    Withheld(String),
    /// The JSON-RPC error at this pointer is replaced by the filter's own.
    WithheldError(String),
}

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
            task_part,
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
            |path| value_index(path).map(|_| Cut::Out(path.to_owned())),
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
    /// blocking finding lies in a part `part` names a [`Cut`] for (by the
    /// finding's JSON pointer), those parts are cut and the rest delivered,
    /// redactions applied.
    pub(super) fn parts(
        &self,
        message: &Message,
        member: &str,
        value: &Value,
        surface: Surface,
        origin: Origin<'_>,
        part: fn(&str) -> Option<Cut>,
    ) -> Inspection {
        let report = self.scanner.scan_json(surface, value);
        let verdict = match self.decide(surface, &report, origin) {
            Verdict::Pass => Verdict::Pass,
            Verdict::Block(blocked) if report.oversize && blocked.rule_id == "oversize" => {
                Verdict::Block(blocked)
            }
            decided => {
                let blocking = self.counted(surface, &report, origin, Action::Block);
                let cuts: Option<Vec<(Cut, &Finding)>> = blocking
                    .iter()
                    .map(|f| part(&f.json_path).map(|cut| (cut, f)))
                    .collect();
                match cuts {
                    None => decided,
                    Some(cuts) => {
                        let mut object = message.as_object().clone();
                        if let Some(target) = object.get_mut(member) {
                            redact(
                                target,
                                &self.counted(surface, &report, origin, Action::Redact),
                            );
                            apply(target, cuts);
                        }
                        Verdict::Rewrite(object)
                    }
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

/// Where a blocking finding at `pointer` in a task's state (at the root, or
/// one of a `tasks/list` answer's `tasks`) lies: in its status message, its
/// inline result or its inline error; `None` anywhere else.
pub(super) fn task_part(pointer: &str) -> Option<Cut> {
    let (task, within) = match pointer.strip_prefix("/tasks/") {
        Some(rest) => {
            let (index, within) = rest.split_once('/')?;
            index.parse::<usize>().ok()?;
            (&pointer[..pointer.len() - within.len() - 1], within)
        }
        None => ("", pointer.strip_prefix('/')?),
    };
    let (head, _) = within.split_once('/').unwrap_or((within, ""));
    match head {
        "statusMessage" if within == head => Some(Cut::Out(pointer.to_owned())),
        "result" => Some(Cut::Withheld(format!("{task}/result"))),
        "error" => Some(Cut::WithheldError(format!("{task}/error"))),
        _ => None,
    }
}

/// Applies the cuts to `value`: replacements first (each part once, for the
/// first finding in it), then removals, the highest array index first so that
/// one removal does not move what another names.
fn apply(value: &mut Value, cuts: Vec<(Cut, &Finding)>) {
    let mut removed = Vec::new();
    let mut replaced: Vec<String> = Vec::new();
    for (cut, finding) in cuts {
        let blocked = || Blocked {
            rule_id: finding.rule_id.to_string(),
            category: finding.category.name(),
        };
        let (pointer, with) = match cut {
            Cut::Out(pointer) => {
                removed.push(pointer);
                continue;
            }
            Cut::Withheld(pointer) => (pointer, withheld_result(&blocked())),
            Cut::WithheldError(pointer) => (
                pointer,
                json!({"code": CONTENT_BLOCKED, "message": withheld_reason(&blocked())}),
            ),
        };
        if replaced.contains(&pointer) {
            continue;
        }
        if let Some(part) = value.pointer_mut(&pointer) {
            *part = with;
        }
        replaced.push(pointer);
    }
    let index = |p: &str| {
        p.rsplit_once('/')
            .and_then(|(_, k)| k.parse::<usize>().ok())
    };
    removed.sort_by(|a, b| index(b).cmp(&index(a)).then(a.cmp(b)));
    removed.dedup();
    for pointer in removed {
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
