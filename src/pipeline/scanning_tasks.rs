//! Tasks (2025-11-25, experimental): a tool run as a task answers `tools/call`
//! with a task, and its progress comes from `tasks/get`, `tasks/list`,
//! `tasks/cancel` and `notifications/tasks/status`, each carrying the task's
//! state and the server's `statusMessage` text. That text is the tool's output
//! like its result (`tasks/result`, judged as a tool result), so it is judged
//! on the tool-result surface; but a poll answered with an error would end the
//! client's wait for a result the filter may well let through. A blocked
//! status message is therefore left out and the task's state still delivered.

use super::{Filter, Inspection, Origin, Verdict, redact, secret_texts};
use crate::protocol::jsonrpc::Message;
use crate::scan::{Action, Surface};
use serde_json::Value;

impl Filter<'_> {
    /// Judges the task state(s) in `value` (member `member` of `message`: a
    /// task, or `{tasks: [...]}`). Findings outside a `statusMessage`, and an
    /// oversize message, keep the verdict they get anywhere else.
    pub(super) fn task_status(
        &self,
        message: &Message,
        member: &str,
        value: &Value,
        origin: Origin<'_>,
    ) -> Inspection {
        let surface = Surface::ToolResult;
        let report = self.scanner.scan_json(surface, value);
        let verdict = match self.decide(surface, &report, origin) {
            Verdict::Pass => Verdict::Pass,
            Verdict::Block(blocked) if report.oversize && blocked.rule_id == "oversize" => {
                Verdict::Block(blocked)
            }
            decided => {
                let blocking = self.counted(surface, &report, origin, Action::Block);
                if blocking
                    .iter()
                    .any(|f| !f.json_path.ends_with("/statusMessage"))
                {
                    decided
                } else {
                    let mut object = message.as_object().clone();
                    if let Some(target) = object.get_mut(member) {
                        redact(
                            target,
                            &self.counted(surface, &report, origin, Action::Redact),
                        );
                        for f in &blocking {
                            leave_out(target, &f.json_path);
                        }
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

/// Removes the member `pointer` (RFC 6901, relative to `value`) names.
fn leave_out(value: &mut Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    if let Some(Value::Object(object)) = value.pointer_mut(parent) {
        object.remove(key);
    }
}
