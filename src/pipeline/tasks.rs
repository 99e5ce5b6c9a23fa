//! Whose task is it. A tool run as a task (2025-11-25, experimental) is fetched
//! later by its id alone (`tasks/get`, `tasks/result`, `tasks/cancel`), and
//! `tasks/list` lists the tasks the upstream holds. An upstream binds tasks to
//! its own session at best; but a stdio or HTTP+SSE upstream is one session
//! shared by every client of the gateway, and a stateless upstream has none,
//! while the gateway never passes the caller's token on. Without this module a
//! second client listed the first one's tasks and fetched their results
//! (seen with the real TypeScript SDK over stdio).
//!
//! The gateway records who created each task it sees created (the `tools/call`
//! answer carrying `task.taskId`, or at 2026-07-28 a flat `resultType: task`):
//! the authenticated principal, or without authentication the client's
//! session. A task request for a task of another
//! caller, or one this replica did not see created, is refused as an unknown
//! task would be (`-32602`); `tasks/list` answers keep the caller's own tasks;
//! a status notification for another caller's task is dropped.
//!
//! With `sessions.tasks.redis` the owners are shared by the replicas
//! ([`super::shared_tasks`]): a replica records each task it sees created
//! there (in the background: the answer is not held), and one asked about a
//! task it did not see looks it up, waiting up to [`SETTLE`] for a record
//! still on its way. A `tasks/list` request, and a stream as it opens (a GET,
//! a `subscriptions/listen`), first adopt the caller's tasks recorded there;
//! a status notification on a stream is decided with what this replica
//! knows (its own records and those it adopted).

use super::context::RequestContext;
use super::parse::{Inbound, InboundKind};
use super::respond::Rejection;
use super::shared_tasks::{Known, SharedTasks};
use crate::authn::principal::Authenticated;
use crate::protocol::jsonrpc::Message;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most tasks remembered; past it, expired ones are forgotten first, and a
/// task that still finds no room is not recorded (so refused: fail closed).
const MAX_TASKS: usize = 100_000;
/// How long a task whose `ttl` is unlimited (`null`) is remembered.
pub const UNLIMITED: Duration = Duration::from_secs(24 * 3600);
/// How long a replica waits for the record of a task another replica saw
/// created a moment ago (looking again every 50 ms).
pub const SETTLE: Duration = Duration::from_millis(300);
const SETTLE_STEP: Duration = Duration::from_millis(50);

/// The owner of each task the gateway saw created.
#[derive(Debug, Default)]
pub struct TaskOwners {
    tasks: Mutex<HashMap<String, (Arc<str>, Instant)>>,
}

/// Who a request acts for, as far as tasks are concerned.
pub fn owner(cx: &RequestContext) -> Arc<str> {
    match (&cx.principal, &cx.session) {
        (Some(p), _) if p.authenticated != Authenticated::Anonymous => format!(
            "principal {} {}",
            p.issuer.as_deref().unwrap_or(""),
            p.subject
        )
        .into(),
        (_, Some(session)) => format!("session {session}").into(),
        _ => "anonymous".into(),
    }
}

impl TaskOwners {
    /// Records the task a `tools/call` answer created, if it did: a `task`
    /// member (2025-11-25), or a flat result of `resultType: task` (the
    /// 2026-07-28 tasks extension, `ttlMs`); also in `shared`, in the
    /// background (a failure is logged: other replicas then refuse the task).
    pub fn learn(&self, answer: &Message, owner: &Arc<str>, shared: Option<&Arc<SharedTasks>>) {
        let Some(result) = answer.result() else {
            return;
        };
        let task = match result.get("task") {
            Some(task) => task,
            None if result.get("resultType").and_then(Value::as_str) == Some("task") => result,
            None => return,
        };
        let Some(id) = task.get("taskId").and_then(Value::as_str) else {
            return;
        };
        let ttl = task
            .get("ttl")
            .or_else(|| task.get("ttlMs"))
            .and_then(Value::as_u64)
            .map_or(UNLIMITED, |ms| Duration::from_millis(ms).min(UNLIMITED));
        self.adopt(id, owner, ttl);
        let (Some(shared), Ok(runtime)) = (shared, tokio::runtime::Handle::try_current()) else {
            return;
        };
        let (shared, id, owner) = (Arc::clone(shared), id.to_owned(), Arc::clone(owner));
        runtime.spawn(async move {
            if let Err(e) = shared.record(&id, &owner, ttl).await {
                tracing::warn!(error = %e, task = %id, "task owner not shared; other replicas will refuse this task");
            }
        });
    }

    /// Remembers that `owner` owns task `id` for `ttl` from now.
    fn adopt(&self, id: &str, owner: &Arc<str>, ttl: Duration) {
        let now = Instant::now();
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if tasks.len() >= MAX_TASKS {
            tasks.retain(|_, (_, until)| *until > now);
        }
        if tasks.len() < MAX_TASKS || tasks.contains_key(id) {
            tasks.insert(id.to_owned(), (Arc::clone(owner), now + ttl));
        }
    }

    /// Whether `owner` created task `id` (and it has not expired).
    pub fn owns(&self, id: &str, owner: &str) -> bool {
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks
            .get(id)
            .is_some_and(|(o, until)| &**o == owner && *until > Instant::now())
    }

    /// Whether some caller created task `id` (and it has not expired).
    fn knows(&self, id: &str) -> bool {
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks
            .get(id)
            .is_some_and(|(_, until)| *until > Instant::now())
    }

    /// Refuses a task request naming a task the caller did not create; with
    /// `shared`, first adopts what the replicas recorded (a `tasks/list`: all
    /// of the caller's tasks; a request naming one: that task).
    pub async fn check(
        &self,
        cx: &RequestContext,
        inbound: &Inbound,
        shared: Option<&SharedTasks>,
    ) -> Result<(), Rejection> {
        let owner = owner(cx);
        let envelope = match (&inbound.kind, shared) {
            (InboundKind::Messages(envelope), _) => envelope,
            // A stream opened (GET): its status notifications are decided here.
            (InboundKind::OpenStream, Some(shared)) => {
                self.adopt_for_stream(shared, &owner).await;
                return Ok(());
            }
            _ => return Ok(()),
        };
        let modern = cx.era == Some(crate::protocol::Era::Modern);
        for m in envelope.messages() {
            // The 2026-07-28 tasks extension has no `tasks/result` (the
            // upstream answers it as an unknown method) and adds `tasks/update`.
            let names_a_task = match m.method() {
                Some("tasks/get" | "tasks/cancel") => true,
                Some("tasks/result") => !modern,
                Some("tasks/update") => modern,
                Some("tasks/list") => {
                    if let Some(shared) = shared {
                        self.adopt_all(shared, &owner, m).await?;
                    }
                    false
                }
                Some("subscriptions/listen") => {
                    if let Some(shared) = shared {
                        self.adopt_for_stream(shared, &owner).await;
                    }
                    false
                }
                _ => false,
            };
            if !names_a_task {
                continue;
            }
            let id = m
                .params()
                .and_then(|p| p.get("taskId"))
                .and_then(Value::as_str);
            let known = match (id, shared) {
                (Some(id), _) if self.owns(id, &owner) => true,
                // Another caller's, as this replica saw it created.
                (Some(id), _) if self.knows(id) => false,
                (Some(id), Some(shared)) => self.look_up(shared, id, &owner, m).await?,
                _ => false,
            };
            if !known {
                return Err(Rejection::InvalidArguments {
                    id: m.id().cloned(),
                    reason: "no such task".into(),
                });
            }
        }
        Ok(())
    }

    /// Whether the replicas recorded task `id` as `owner`'s (then adopted),
    /// waiting up to [`SETTLE`] for a record on its way.
    async fn look_up(
        &self,
        shared: &SharedTasks,
        id: &str,
        owner: &Arc<str>,
        m: &Message,
    ) -> Result<bool, Rejection> {
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            match shared.owner(id, owner).await {
                Ok(Known::Owned(ttl)) => {
                    self.adopt(id, owner, ttl);
                    return Ok(true);
                }
                Ok(Known::Other) => return Ok(false),
                Ok(Known::Unknown) if tokio::time::Instant::now() + SETTLE_STEP <= deadline => {
                    tokio::time::sleep(SETTLE_STEP).await;
                }
                Ok(Known::Unknown) => return Ok(false),
                Err(e) => return Err(unavailable(&e, m.id().cloned())),
            }
        }
    }

    /// Adopts every task the replicas recorded as `owner`'s, for the
    /// listing `m` (whose answer would be incomplete without them: refused
    /// when Redis does not answer).
    async fn adopt_all(
        &self,
        shared: &SharedTasks,
        owner: &Arc<str>,
        m: &Message,
    ) -> Result<(), Rejection> {
        let owned = shared
            .owned(owner)
            .await
            .map_err(|e| unavailable(&e, m.id().cloned()))?;
        for (id, ttl) in owned {
            self.adopt(&id, owner, ttl);
        }
        Ok(())
    }

    /// Adopts `owner`'s recorded tasks for a stream about to open. Redis not
    /// answering is logged and the stream opens: the notifications of tasks
    /// this replica does not know are dropped, as without a shared registry.
    async fn adopt_for_stream(&self, shared: &SharedTasks, owner: &Arc<str>) {
        match shared.owned(owner).await {
            Ok(owned) => {
                for (id, ttl) in owned {
                    self.adopt(&id, owner, ttl);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "task registry unavailable; the stream carries only the tasks this replica knows");
            }
        }
    }

    /// A message from the upstream as `owner` may see it: `None` to deliver it
    /// as it is, `Some(None)` to drop it, `Some(Some(object))` to deliver that.
    pub fn visible(
        &self,
        message: &Value,
        answering: Option<&str>,
        owner: &str,
    ) -> Option<Option<Map<String, Value>>> {
        if answering == Some("tasks/list") {
            let tasks = message.pointer("/result/tasks")?.as_array()?;
            let mine: Vec<Value> = tasks
                .iter()
                .filter(|t| {
                    t.get("taskId")
                        .and_then(Value::as_str)
                        .is_some_and(|id| self.owns(id, owner))
                })
                .cloned()
                .collect();
            if mine.len() == tasks.len() {
                return None;
            }
            let mut object = message.as_object()?.clone();
            if let Some(Value::Object(result)) = object.get_mut("result") {
                result.insert("tasks".into(), Value::Array(mine));
            }
            return Some(Some(object));
        }
        let method = message.get("method").and_then(Value::as_str);
        if matches!(
            method,
            Some("notifications/tasks/status" | "notifications/tasks")
        ) {
            let id = message.pointer("/params/taskId").and_then(Value::as_str);
            if !id.is_some_and(|id| self.owns(id, owner)) {
                return Some(None);
            }
        }
        None
    }
}

/// The shared registry did not answer: the request is refused (fail closed).
fn unavailable(
    e: &crate::redis_link::LinkError,
    id: Option<crate::protocol::jsonrpc::RequestId>,
) -> Rejection {
    tracing::error!(error = %e, "task registry unavailable; request refused");
    Rejection::TasksUnavailable { id }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jsonrpc::{ParseLimits, parse_message};
    use serde_json::json;

    fn created(id: &str, ttl: Value) -> Message {
        let answer = json!({"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":id,"status":"working","ttl":ttl}}});
        parse_message(answer.to_string().as_bytes(), &ParseLimits::default()).unwrap()
    }

    #[test]
    fn a_task_belongs_to_its_creator_until_it_expires() {
        let owners = TaskOwners::default();
        let (alice, bob): (Arc<str>, Arc<str>) = ("session a".into(), "session b".into());
        owners.learn(&created("t1", json!(60_000)), &alice, None);
        owners.learn(&created("t2", json!(null)), &bob, None);
        owners.learn(&created("t3", json!(0)), &alice, None);
        let flat = json!({"jsonrpc":"2.0","id":3,"result":{"resultType":"task","taskId":"t4","status":"working","ttlMs":60_000}});
        let flat = parse_message(flat.to_string().as_bytes(), &ParseLimits::default()).unwrap();
        owners.learn(&flat, &bob, None);
        assert!(owners.owns("t4", &bob), "a 2026-07-28 task");
        assert!(owners.owns("t1", &alice) && !owners.owns("t1", &bob));
        assert!(owners.owns("t2", &bob), "no ttl: remembered");
        assert!(!owners.owns("t3", &alice), "expired");
        assert!(!owners.owns("t9", &alice), "never seen");

        let listed =
            json!({"jsonrpc":"2.0","id":2,"result":{"tasks":[{"taskId":"t1"},{"taskId":"t2"}]}});
        let seen = owners
            .visible(&listed, Some("tasks/list"), &alice)
            .unwrap()
            .unwrap();
        assert_eq!(seen["result"]["tasks"], json!([{"taskId":"t1"}]));
        assert!(owners.visible(&listed, Some("tasks/get"), &alice).is_none());
        let status = |id| json!({"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":id,"status":"working"}});
        assert_eq!(owners.visible(&status("t2"), None, &alice), Some(None));
        assert_eq!(owners.visible(&status("t1"), None, &alice), None);
        // The 2026-07-28 extension's notification carries the task's result.
        let finished = json!({"jsonrpc":"2.0","method":"notifications/tasks","params":{"taskId":"t2","status":"completed","result":{"content":[]}}});
        assert_eq!(owners.visible(&finished, None, &alice), Some(None));
        assert_eq!(owners.visible(&finished, None, &bob), None);
    }
}
