//! 2026-07-28 `input_required` results: what would have been server-to-client
//! requests (an elicitation, a sampling request, a roots request) arrives
//! inside the answer to the client's own call, under `inputRequests`, keyed by
//! names the server chose. Each is judged on the surface its method names, as
//! the standalone request would have been, and its findings point into the
//! result (`/inputRequests/<key>/params/...`) so that a redaction lands where
//! the finding is. A task waiting for input carries them too, beside its
//! state ([`Filter::waiting_task`]).

use super::{Filter, Inspection, Origin, Verdict, redact, secret_texts};
use crate::protocol::jsonrpc::Message;
use crate::scan::{Action, Finding, Surface};
use serde_json::{Map, Value};

impl Filter<'_> {
    /// Judges every input request in `requests` (the `inputRequests` of member
    /// `member`: an `input_required` result, or a task waiting for input).
    /// The strongest verdict wins: one blocked request withholds the result.
    pub(super) fn input_requests(
        &self,
        message: &Message,
        member: &str,
        requests: &Value,
        origin: Origin<'_>,
    ) -> Inspection {
        let mut findings = Vec::new();
        let mut redacted = Vec::new();
        let mut secrets = Vec::new();
        let mut verdict = Verdict::Pass;
        let mut judged_on = None;
        for (path, surface, params) in each_request(requests) {
            let report = self.scanner.scan_json(surface, params);
            secrets.extend(secret_texts(params, &report.findings));
            let this = self.decide(surface, &report, origin);
            let stronger = !matches!(
                (&verdict, &this),
                (Verdict::Block(_), _)
                    | (_, Verdict::Pass)
                    | (Verdict::Rewrite(_), Verdict::Rewrite(_))
            );
            if stronger || (judged_on.is_none() && !report.findings.is_empty()) {
                judged_on = Some(surface);
            }
            if stronger {
                verdict = this;
            }
            let at = |f: &Finding| Finding {
                json_path: format!("{path}{}", f.json_path),
                ..f.clone()
            };
            redacted.extend(
                self.counted(surface, &report, origin, Action::Redact)
                    .iter()
                    .map(at),
            );
            findings.extend(report.findings.iter().map(at));
        }
        if let Verdict::Rewrite(_) = verdict {
            let mut object = message.as_object().clone();
            if let Some(target) = object.get_mut(member) {
                redact(target, &redacted);
            }
            verdict = Verdict::Rewrite(object);
        }
        Inspection {
            surface: judged_on.unwrap_or(Surface::SamplingRequest),
            findings,
            secrets,
            verdict,
        }
    }

    /// A task waiting for input (the 2026-07-28 tasks extension: `inputRequests`
    /// in a `tasks/get` answer or a `notifications/tasks`, member `member`):
    /// its requests are judged as the server requests they stand for, and the
    /// rest of it (the server's `statusMessage`) as any task's state, so a
    /// blocked status message is left out and the requests still delivered.
    /// One blocked request withholds the whole message, as in any
    /// `input_required` answer.
    pub(super) fn waiting_task(
        &self,
        message: &Message,
        member: &str,
        task: &Value,
        origin: Origin<'_>,
    ) -> Inspection {
        let requests = task.get("inputRequests").unwrap_or(&Value::Null);
        let asked = self.input_requests(message, member, requests, origin);
        let mut rest = task.clone();
        if let Some(fields) = rest.as_object_mut() {
            fields.remove("inputRequests");
        }
        // The state's findings point into `rest`, whose other members sit
        // where they sit in the task: its cuts land on the message's own.
        let state = self.task_status(message, member, &rest, origin);
        let verdict = match (asked.verdict, state.verdict) {
            (Verdict::Block(b), _) | (_, Verdict::Block(b)) => Verdict::Block(b),
            (Verdict::Pass, v) | (v, Verdict::Pass) => v,
            (Verdict::Rewrite(asked), Verdict::Rewrite(mut state)) => {
                // Each rewrote its own part of a copy: the state's copy takes
                // the requests as the other redacted them.
                let requests = asked.get(member).and_then(|m| m.get("inputRequests"));
                if let (Some(requests), Some(Value::Object(target))) =
                    (requests, state.get_mut(member))
                {
                    target.insert("inputRequests".into(), requests.clone());
                }
                Verdict::Rewrite(state)
            }
        };
        let surface = match asked.findings.is_empty() && !state.findings.is_empty() {
            true => state.surface,
            false => asked.surface,
        };
        let mut findings = asked.findings;
        findings.extend(state.findings);
        let mut secrets = asked.secrets;
        secrets.extend(state.secrets);
        Inspection {
            surface,
            findings,
            secrets,
            verdict,
        }
    }
}

/// Each input request's params with the JSON pointer to them (from the
/// result) and the surface they are read on. A roots request asks the client
/// for something and carries no text for anyone; a method this gateway does
/// not know is read as a sampling request, the strictest reading of server
/// text meant for the client's model. `inputRequests` that is not an object
/// of requests is read whole, so that nothing in it goes unread.
fn each_request(requests: &Value) -> Vec<(String, Surface, &Value)> {
    let Some(map) = requests.as_object() else {
        return vec![("/inputRequests".into(), Surface::SamplingRequest, requests)];
    };
    map.iter()
        .filter_map(|(key, request)| {
            let path = format!("/inputRequests/{}", escape(key));
            let Some(fields) = request.as_object() else {
                return Some((path, Surface::SamplingRequest, request));
            };
            let surface = match fields.get("method").and_then(Value::as_str) {
                Some("roots/list") if only_method_and_params(fields) => return None,
                Some("elicitation/create") => Surface::ElicitationRequest,
                _ => Surface::SamplingRequest,
            };
            Some(match fields.get("params") {
                Some(params) if only_method_and_params(fields) => {
                    (format!("{path}/params"), surface, params)
                }
                _ => (path, surface, request),
            })
        })
        .collect()
}

/// Whether an input request holds nothing besides `method` and `params`.
fn only_method_and_params(fields: &Map<String, Value>) -> bool {
    fields.keys().all(|k| k == "method" || k == "params")
}

/// A key as one JSON Pointer reference token (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_request_is_read_on_its_own_surface_at_its_own_path() {
        let requests = json!({
            "ask/pw": {"method": "elicitation/create", "params": {"message": "m"}},
            "llm": {"method": "sampling/createMessage", "params": {"messages": []}},
            "roots": {"method": "roots/list", "params": {}},
            "odd": {"method": "x/y", "params": {"a": 1}, "extra": "text"},
        });
        let got: Vec<(String, Surface)> = each_request(&requests)
            .into_iter()
            .map(|(p, s, _)| (p, s))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "/inputRequests/ask~1pw/params".into(),
                    Surface::ElicitationRequest
                ),
                ("/inputRequests/llm/params".into(), Surface::SamplingRequest),
                ("/inputRequests/odd".into(), Surface::SamplingRequest),
            ]
        );
        assert_eq!(
            each_request(&json!(["not", "an object"]))[0].0,
            "/inputRequests"
        );
    }
}
