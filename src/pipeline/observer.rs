//! The observer: every message the upstream sends passes through it before it
//! reaches the client, in a JSON body or as an SSE event.
//!
//! For each message it learns what later requests need (negotiated sessions,
//! tool annotations, advertised versions), runs the injection filter on the
//! surfaces the message carries, decides what the client gets (the message as
//! received, a rewritten one, a withheld result, or nothing), and writes the
//! audit records: findings, messages the server sends on its own, and, for a
//! streamed answer, the request's own operation record once its answer passes.

use super::Shared;
use super::answer_back::Refused;
use super::record::{self, Facts};
use super::scanning::{self, Filter, Inspection, Verdict as ScanVerdict};
use crate::audit::{AuditError, AuditRecord, Receipt, RecordKind, Verdict};
use crate::config::Runtime;
use crate::protocol::jsonrpc::{Kind, Message};
use crate::protocol::rpc_error::{self, error_body};
use crate::protocol::{RequestId, Target};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// The response side's view of the request it answers.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The id of the single request the response answers, if any.
    pub request_id: Option<RequestId>,
    /// The method of that request.
    pub method: Option<String>,
    /// The tool, prompt or resource that request acts on.
    pub target: Option<Target>,
    /// The upstream answering.
    pub upstream: String,
    /// Its index in the federation.
    pub index: usize,
    /// Whether several upstreams share the endpoint: server-to-client request
    /// ids then name their upstream, so that the client's answer finds it.
    pub federated: bool,
    /// Drop `notifications/subscriptions/acknowledged` (every upstream but the
    /// first in a merged `subscriptions/listen` acknowledges too).
    pub drop_acks: bool,
    /// The session id the upstream issued on this response (initialize).
    pub new_session: Option<String>,
    /// Whether the stream is not tied to one request (GET, `subscriptions/listen`):
    /// such streams end when the gateway shuts down.
    pub standalone: bool,
    /// Whether the request was a batch (so a batch answer is acceptable).
    pub batch: bool,
    /// Who the request acts for, as the owner of the tasks it creates
    /// ([`super::tasks::owner`]).
    pub owner: Arc<str>,
}

/// What the client gets for one upstream message.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// The bytes as received.
    Forward,
    /// These bytes instead (one JSON-RPC message).
    Replace(Bytes),
    /// Nothing.
    Drop,
}

/// One observed message: what to deliver, and an audit receipt to wait for
/// before delivering it (under `fsync: always`).
#[derive(Debug)]
pub struct Observed {
    /// What the client gets.
    pub delivery: Delivery,
    /// Wait for this before delivering, when it must be waited for.
    pub receipt: Option<Receipt>,
    /// A server-to-client request withheld from the client, which the gateway
    /// answers in its place (see [`super::answer_back`]).
    pub refused: Option<Refused>,
}

/// Watches the upstream's messages for one exchange.
#[derive(Debug)]
pub struct Observer {
    exchange: Exchange,
    shared: Arc<Shared>,
    config: Arc<Runtime>,
    facts: Facts,
    started: Instant,
    /// The request's operation record, written when its answer passes (streams).
    pending: Option<Box<AuditRecord>>,
    answered: bool,
    answer_error: Option<i64>,
    /// What the answer got, and the findings in it (for the operation record).
    answer_verdict: Verdict,
    /// Why the answer was not delivered as sent, when policy says.
    answer_reason: Option<String>,
    answer_findings: Vec<crate::audit::FindingRef>,
    answer_secrets: Vec<String>,
    /// Filters list answers to what the caller may use (authorization on).
    lister: Option<crate::authz::filter::Lister>,
}

impl Observer {
    /// An observer for `exchange`; `pending` is the operation record to complete
    /// with the answer's outcome (streamed responses only).
    pub fn new(
        exchange: Exchange,
        shared: Arc<Shared>,
        config: Arc<Runtime>,
        facts: Facts,
        started: Instant,
        pending: Option<AuditRecord>,
    ) -> Observer {
        Observer {
            exchange,
            shared,
            config,
            facts,
            started,
            pending: pending.map(Box::new),
            answered: false,
            answer_error: None,
            answer_verdict: Verdict::Allowed,
            answer_reason: None,
            answer_findings: Vec::new(),
            answer_secrets: Vec::new(),
            lister: None,
        }
    }

    /// Filters list answers with `lister` (see [`crate::authz::filter`]).
    pub fn with_lister(mut self, lister: Option<crate::authz::filter::Lister>) -> Observer {
        self.lister = lister;
        self
    }

    /// Looks at one upstream message before it is delivered. `Err` means the
    /// audit trail refused a record and fails closed: stop delivering.
    pub fn observe(&mut self, message: &Message) -> Result<Observed, AuditError> {
        self.current_policies();
        let is_answer = matches!(message.kind(), Kind::Response | Kind::ErrorResponse)
            && message.id().is_some()
            && message.id() == self.exchange.request_id.as_ref();
        if is_answer {
            self.answered = true;
            self.answer_error = message.error_code();
            self.learn(message);
            if self.exchange.method.as_deref() == Some("tools/call") {
                self.shared.tasks.learn(
                    message,
                    &self.exchange.owner,
                    self.config.federation.tasks.as_ref(),
                );
            }
        }
        let answering = is_answer
            .then_some(self.exchange.method.as_deref())
            .flatten();
        let filter = Filter {
            scanner: &self.config.scanner,
            policy: &self.config.scan_policy,
        };
        let object = self
            .exchange
            .target
            .as_ref()
            .map(Target::name)
            .unwrap_or_default();
        let origin = scanning::Origin {
            upstream: &self.exchange.upstream,
            object,
        };
        let inspection = filter.upstream(message, answering, origin);
        if let Some(i) = &inspection {
            self.shared.metrics.findings(i);
        }
        let mut refused = None;
        let delivery = match inspection.as_ref().map(|i| &i.verdict) {
            None | Some(ScanVerdict::Pass) => Delivery::Forward,
            Some(ScanVerdict::Rewrite(object)) => serde_json::to_vec(object)
                .map(|b| Delivery::Replace(Bytes::from(b)))
                .unwrap_or(Delivery::Drop),
            Some(ScanVerdict::Block(blocked)) => match (is_answer, message.id()) {
                (true, Some(id))
                    if matches!(answering, Some("tools/call" | "tasks/result"))
                        && message.kind() == Kind::Response =>
                {
                    let mut result = scanning::withheld_result(blocked);
                    // A 2026-07-28 result names its type. The withheld result is
                    // the call's last word, whatever the upstream's was: an
                    // `input_required` result asks nothing once its requests
                    // are withheld.
                    if message.result().and_then(|r| r.get("resultType")).is_some() {
                        result["resultType"] = json!("complete");
                    }
                    let answer = json!({"jsonrpc": "2.0", "id": id.to_json(), "result": result});
                    Delivery::Replace(Bytes::from(answer.to_string()))
                }
                // An error stays an error, its text withheld; one that is not
                // this exchange's answer still answers its own id.
                (answer, id) if answer || message.kind() == Kind::ErrorResponse => {
                    if answer {
                        self.answer_error = Some(rpc_error::CONTENT_BLOCKED);
                    }
                    Delivery::Replace(error_body(
                        id,
                        rpc_error::CONTENT_BLOCKED,
                        &scanning::withheld_reason(blocked),
                        None,
                    ))
                }
                // A server-to-client request or a notification carrying an
                // injection never reaches the client; the request is answered
                // in the client's place.
                (_, id) => {
                    refused = id.filter(|_| message.kind() == Kind::Request).map(|id| Refused {
                        id: id.clone(),
                        reason: format!(
                            "Request withheld from the client by the gateway's injection filter: {} (rule {})",
                            blocked.category, blocked.rule_id
                        ),
                    });
                    Delivery::Drop
                }
            },
        };
        // What the server asks of the client, under policy ([`super::asks`]).
        let mut reason = None;
        let lister = self.lister.as_ref();
        let delivery = match lister.and_then(|l| super::asks::refuse(l, message, answering)) {
            Some(r) => {
                if is_answer && r.error {
                    self.answer_error = Some(rpc_error::CONTENT_BLOCKED);
                }
                refused = r.refused.or(refused);
                reason = Some(r.reason);
                r.delivery
            }
            None => delivery,
        };
        let (delivery, pin_findings) = self.pin_tools(message, answering, delivery);
        let delivery = self.filter_list(message, answering, delivery);
        let delivery = self.own_tasks(message, answering, delivery);
        let (delivery, unreadable) = self.readable_updates(message, delivery);
        let delivery = self.reshape(message, delivery);
        if let Some(auditor) = self.shared.auditor.as_ref() {
            for finding in pin_findings {
                let _receipt = auditor.record(self.facts.finding(finding))?;
            }
        }
        let receipt = self.audit(
            message,
            is_answer,
            inspection.as_ref(),
            &delivery,
            reason.as_deref().or(unreadable),
        )?;
        Ok(Observed {
            delivery,
            receipt,
            refused,
        })
    }

    /// Federation changes on the way out: a server-to-client request's id names
    /// its upstream; redundant subscription acknowledgements are dropped.
    fn reshape(&self, message: &Message, delivery: Delivery) -> Delivery {
        if self.exchange.drop_acks
            && message.method() == Some("notifications/subscriptions/acknowledged")
        {
            return Delivery::Drop;
        }
        if !self.exchange.federated || message.kind() != Kind::Request {
            return delivery;
        }
        let Some(id) = message.id() else {
            return delivery;
        };
        let mut object = match &delivery {
            Delivery::Drop => return delivery,
            Delivery::Forward => message.as_object().clone(),
            Delivery::Replace(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(o)) => o,
                _ => return delivery,
            },
        };
        object.insert(
            "id".into(),
            crate::federation::route::encode_id(self.exchange.index, id),
        );
        Delivery::Replace(Bytes::from(Value::Object(object).to_string()))
    }

    /// A stream outlives policy reloads (a GET or `subscriptions/listen`
    /// stays open for hours): what it carries is decided by the policy set in
    /// force now, not the one it was opened under, which a reload may have
    /// narrowed. A reload that turns authorization off keeps the last set.
    fn current_policies(&mut self) {
        let Some(lister) = &mut self.lister else {
            return;
        };
        if let Some(engine) = &self.shared.snapshot().config.authorization
            && !Arc::ptr_eq(engine, &lister.engine)
        {
            lister.engine = Arc::clone(engine);
        }
    }

    /// Records what this message means for the audit trail; returns the receipt
    /// of the request's operation record when this message is its answer.
    fn audit(
        &mut self,
        message: &Message,
        is_answer: bool,
        inspection: Option<&Inspection>,
        delivery: &Delivery,
        reason: Option<&str>,
    ) -> Result<Option<Receipt>, AuditError> {
        let Some(auditor) = self.shared.auditor.clone() else {
            return Ok(None);
        };
        let verdict = match delivery {
            Delivery::Forward if inspection.is_some_and(|i| !i.findings.is_empty()) => {
                Verdict::Flagged
            }
            Delivery::Forward => Verdict::Allowed,
            Delivery::Replace(_)
                if reason.is_none()
                    && matches!(
                        inspection.map(|i| &i.verdict),
                        Some(ScanVerdict::Rewrite(_))
                    ) =>
            {
                Verdict::Redacted
            }
            Delivery::Replace(_) | Delivery::Drop => Verdict::Denied,
        };
        // These receipts are not awaited: the writer is sequential, so the
        // operation record awaited after them (fsync: always) covers them too.
        if let Some(i) = inspection.filter(|i| !i.findings.is_empty()) {
            for r in record::findings(&self.facts, i, message, self.exchange.target.as_ref()) {
                let _receipt = auditor.record(r)?;
            }
        }
        if let Some(r) = record::server_message(&self.facts, message, verdict, reason) {
            let _receipt = auditor.record(r)?;
        }
        if !is_answer {
            return Ok(None);
        }
        self.answer_verdict = verdict;
        self.answer_reason = reason.map(str::to_owned);
        if let Some(i) = inspection {
            self.answer_findings
                .extend(i.findings.iter().map(|f| crate::audit::FindingRef {
                    rule_id: f.rule_id.to_string(),
                    json_path: Some(f.json_path.clone()),
                }));
            self.answer_secrets.extend(i.secrets.iter().cloned());
        }
        let Some(mut pending) = self.pending.take() else {
            return Ok(None);
        };
        if let RecordKind::Operation(op) = &mut pending.kind {
            op.outcome.rpc_error = self.answer_error;
            op.outcome.latency = Some(self.started.elapsed());
            if verdict != Verdict::Allowed {
                op.decision.verdict = verdict;
            }
            if let Some(reason) = reason {
                op.decision.reason = Some(reason.to_owned());
            }
            if let Some(i) = inspection {
                op.findings
                    .extend(i.findings.iter().map(|f| crate::audit::FindingRef {
                        rule_id: f.rule_id.to_string(),
                        json_path: Some(f.json_path.clone()),
                    }));
                pending.secrets.extend(i.secrets.iter().cloned());
            }
        }
        auditor.record(*pending).map(Some)
    }

    /// Writes the pending operation record when the stream ends without the
    /// answer (the upstream closed early, or the client went away).
    pub fn finish(&mut self) {
        let (Some(mut pending), Some(auditor)) = (self.pending.take(), self.shared.auditor.clone())
        else {
            return;
        };
        if let RecordKind::Operation(op) = &mut pending.kind {
            op.outcome.latency = Some(self.started.elapsed());
            op.decision
                .reason
                .get_or_insert_with(|| "stream ended before the answer".into());
        }
        if let Err(e) = auditor.record(*pending) {
            tracing::error!(error = %e, "audit record of an unanswered stream refused");
        }
    }

    /// What later requests need to know from this answer.
    fn learn(&self, message: &Message) {
        let Some(result) = message.result() else {
            return;
        };
        match self.exchange.method.as_deref() {
            Some("tools/list") => self.shared.catalog.learn_tools(self.exchange.index, result),
            Some("resources/list" | "resources/templates/list") => {
                self.shared
                    .catalog
                    .learn_resources(self.exchange.index, result);
            }
            Some("server/discover") if !self.exchange.federated => {
                self.shared.catalog.learn_versions(result);
            }
            _ => {}
        }
    }

    /// The JSON-RPC error code of the answer, once seen.
    pub fn answer_error(&self) -> Option<i64> {
        self.answer_error
    }

    /// Copies what the answer got into the request's context (JSON answers,
    /// whose operation record stage 9 writes).
    pub fn settle(&mut self, cx: &mut super::context::RequestContext) {
        cx.answer_error = self.answer_error;
        if self.answer_verdict != Verdict::Allowed {
            cx.decision.verdict = self.answer_verdict;
        }
        if let Some(reason) = self.answer_reason.take() {
            cx.decision.reason = Some(reason);
        }
        cx.response_findings.append(&mut self.answer_findings);
        cx.secrets.append(&mut self.answer_secrets);
    }

    /// When a stream must end early: an error answer for the request, if it has
    /// not been answered yet, framed as one SSE event.
    pub fn failure_event(&self) -> Option<Bytes> {
        if self.answered {
            return None;
        }
        let id = self.exchange.request_id.as_ref()?;
        let body = error_body(
            Some(id),
            rpc_error::INTERNAL_ERROR,
            "Upstream MCP server sent an invalid or oversized message",
            None,
        );
        let mut event = Vec::with_capacity(body.len() + 24);
        event.extend_from_slice(b"event: message\ndata: ");
        event.extend_from_slice(&body);
        event.extend_from_slice(b"\n\n");
        Some(Bytes::from(event))
    }

    /// Whether the stream should end when the gateway drains.
    pub fn standalone(&self) -> bool {
        self.exchange.standalone
    }
}

#[path = "observer_views.rs"]
mod views;
