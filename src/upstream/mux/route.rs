//! Where each message the upstream sends goes (the rules and their reasons are
//! in the module docs of [`super`]). Decisions are taken under the table's lock;
//! the actions (sending on channels, dropping handles) after it.

use super::exchange::{Event, ServerRequest};
use super::shared::{CANCELLED, Pending, Shared, State};
use super::wire::{restore, restore_value, result_line};
use super::{Frame, MuxError};
use crate::protocol::rpc_error::{INTERNAL_ERROR, error_body};
use crate::protocol::{Era, Kind, RequestId};
use bytes::Bytes;
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

const PROGRESS: &str = "notifications/progress";
const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Where one incoming message goes, decided under the lock.
enum Route {
    Deliver(mpsc::Sender<Event>, Event),
    Respond(
        oneshot::Sender<Result<Frame, MuxError>>,
        Result<Frame, MuxError>,
    ),
    Reply(mpsc::Sender<Bytes>, Bytes),
    Broadcast(Arc<Frame>),
    /// Unexpected: counted and logged (rate-limited).
    Drop(&'static str),
    /// Expected in normal races (progress after completion): debug log only.
    Ignore(&'static str),
}

impl Shared {
    /// Sorts one message from the connection of `generation`.
    pub(super) fn dispatch(self: &Arc<Self>, generation: u64, frame: Frame) {
        let route = {
            let mut state = self.state();
            if state
                .conn
                .as_ref()
                .is_none_or(|c| c.generation != generation)
            {
                return;
            }
            match frame.message().kind() {
                Kind::Response | Kind::ErrorResponse => self.route_response(&mut state, frame),
                Kind::Request => self.route_server_request(&mut state, frame),
                Kind::Notification => self.route_notification(&state, frame),
            }
        };
        self.act(route);
    }

    fn act(&self, route: Route) {
        match route {
            Route::Respond(tx, result) => {
                if self.timeouts.borrow().ne(&0) {
                    self.timeouts.send_replace(0);
                }
                let _ = tx.send(result);
            }
            Route::Deliver(tx, event) => {
                // A full queue drops progress (lossy by nature) rather than stall the
                // reader for every other request; a refused server request is
                // answered upstream by its drop.
                if tx.try_send(event).is_err() {
                    tracing::debug!(upstream = %self.name, "event dropped: exchange queue full or closed");
                }
            }
            Route::Reply(outgoing, line) => {
                if outgoing.try_send(line).is_err() {
                    tracing::warn!(upstream = %self.name, "could not queue a reply to a server request");
                }
            }
            Route::Broadcast(frame) => {
                let _ = self.broadcast.send(frame);
            }
            Route::Drop(why) => self.report_drop(why),
            Route::Ignore(why) => {
                tracing::debug!(upstream = %self.name, why, "upstream message ignored")
            }
        }
    }

    fn route_response(&self, state: &mut State, frame: Frame) -> Route {
        let Some(upstream_id) = frame.message().id().and_then(as_upstream_id) else {
            return Route::Drop("response with an unknown or absent id");
        };
        let Some(pending) = state.pending.remove(&upstream_id) else {
            return Route::Drop("response with an unknown or already-answered id");
        };
        state
            .server_requests
            .retain(|_, owner| *owner != upstream_id);
        let result =
            restore(&frame, &["id"], &pending.client_id, &self.limits).ok_or(MuxError::Protocol {
                upstream: self.name.clone(),
                reason: "its id could not be restored",
            });
        Route::Respond(pending.response, result)
    }

    fn route_server_request(self: &Arc<Self>, state: &mut State, frame: Frame) -> Route {
        let Some(server_id) = frame.message().id().cloned() else {
            return Route::Drop("request without an id");
        };
        let Some(outgoing) = state.conn.as_ref().map(|c| c.outgoing.clone()) else {
            return Route::Drop("no connection");
        };
        if frame.message().method() == Some("ping") {
            return Route::Reply(outgoing, result_line(&server_id, Value::Object(Map::new())));
        }
        let owner = single_scoped(state).filter(|_| {
            state.server_requests.len() < self.limits.max_server_requests
                && !state.server_requests.contains_key(&server_id)
        });
        let Some((upstream_id, events)) = owner else {
            let body = error_body(Some(&server_id), INTERNAL_ERROR, "cannot route", None);
            return Route::Reply(outgoing, body);
        };
        state.server_requests.insert(server_id.clone(), upstream_id);
        let request = ServerRequest::new(frame, server_id, outgoing, Arc::downgrade(self));
        Route::Deliver(events, Event::Request(request))
    }

    fn route_notification(&self, state: &State, frame: Frame) -> Route {
        let message = frame.message();
        let params = message.params();
        let number = |v: Option<&Value>| v.and_then(Value::as_u64);
        let pending = |id: Option<u64>| id.and_then(|id| state.pending.get(&id).map(|p| (id, p)));
        if message.method() == Some(PROGRESS) {
            let token = number(params.and_then(|p| p.get("progressToken")));
            return match pending(token) {
                Some((_, p)) => match &p.progress_token {
                    Some(original) => {
                        self.deliver_restored(p, &frame, &["params", "progressToken"], original)
                    }
                    None => Route::Drop("progress for a request that asked for none"),
                },
                None => Route::Ignore("progress for no request in flight"),
            };
        }
        if message.method() == Some(CANCELLED) {
            let target = params.and_then(|p| p.get("requestId"));
            if let Some((_, p)) = pending(number(target)) {
                let original = p.client_id.to_json();
                return self.deliver_restored(p, &frame, &["params", "requestId"], &original);
            }
            let owner = target
                .and_then(|t| {
                    state
                        .server_requests
                        .iter()
                        .find(|(id, _)| id.to_json() == *t)
                })
                .and_then(|(_, owner)| state.pending.get(owner));
            return match owner {
                Some(p) => Route::Deliver(p.events.clone(), Event::Notification(frame)),
                None => Route::Ignore("cancellation of nothing in flight"),
            };
        }
        let subscription = message.meta().map(|m| m.get(SUBSCRIPTION_ID));
        if let Some(Some(id)) = subscription {
            return match pending(number(Some(id))) {
                Some((_, p)) => {
                    let original = p.client_id.to_json();
                    let path = ["params", "_meta", SUBSCRIPTION_ID];
                    self.deliver_restored(p, &frame, &path, &original)
                }
                None => Route::Ignore("notification for a subscription no longer open"),
            };
        }
        match state.era {
            Era::Legacy => Route::Broadcast(Arc::new(frame)),
            Era::Modern => match single_scoped(state) {
                Some((_, events)) => Route::Deliver(events, Event::Notification(frame)),
                None => {
                    Route::Ignore("request-scoped notification with no single request in flight")
                }
            },
        }
    }

    fn deliver_restored(
        &self,
        p: &Pending,
        frame: &Frame,
        path: &[&str],
        original: &Value,
    ) -> Route {
        match restore_value(frame, path, original, &self.limits) {
            Some(frame) => Route::Deliver(p.events.clone(), Event::Notification(frame)),
            None => Route::Drop("notification whose key could not be restored"),
        }
    }
}

/// The one scoped request in flight, if there is exactly one.
fn single_scoped(state: &State) -> Option<(u64, mpsc::Sender<Event>)> {
    let mut scoped = state.pending.iter().filter(|(_, p)| p.scoped());
    let (id, only) = scoped.next()?;
    scoped.next().is_none().then(|| (*id, only.events.clone()))
}

fn as_upstream_id(id: &RequestId) -> Option<u64> {
    match id {
        RequestId::Number(n) => u64::try_from(*n).ok(),
        RequestId::String(_) => None,
    }
}
