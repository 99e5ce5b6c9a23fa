//! Late joins. An HTTP upstream that was unreachable when a legacy session
//! opened is not in its sealed state, and the client's session id cannot
//! change afterwards. So when that upstream is back, the replica serving the
//! session's next request opens a session with it on the client's behalf
//! (`initialize`, then `notifications/initialized`) and remembers it per
//! client session; every later request of that session, on this replica,
//! carries it as if it had joined at `initialize`. Another replica makes its
//! own join. A failed join is tried again at most every [`RETRY`], so an
//! upstream that stays down costs one attempt per session per interval, not
//! one per request.

use super::*;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a failed join is not retried for the same session.
const RETRY: Duration = Duration::from_secs(5);
/// How many joins (and recent failures) a replica remembers.
const REMEMBERED: usize = 16_384;

/// The upstream sessions this replica opened late, per client session and
/// upstream.
#[derive(Debug, Default)]
pub struct Joins(Mutex<HashMap<(String, String), Joined>>);

#[derive(Debug, Clone)]
enum Joined {
    Open(UpstreamSession),
    Failed(Instant),
}

impl Joins {
    fn get(&self, key: &(String, String)) -> Option<Joined> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn put(&self, key: (String, String), joined: Joined) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= REMEMBERED && !map.contains_key(&key) {
            // Bounded: forget one entry (a forgotten join is made again).
            if let Some(old) = map.keys().next().cloned() {
                map.remove(&old);
            }
        }
        map.insert(key, joined);
    }

    /// Forgets the joins of a client session (it ended).
    pub fn end(&self, client_session: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(session, _), _| session != client_session);
    }
}

/// The upstream sessions to add to this request's session state: HTTP
/// upstreams missing from it, joined now or earlier on this replica.
pub(in super::super) async fn missing(
    permit: &Permit,
    cx: &mut RequestContext,
    inbound: &Inbound,
    snapshot: &Snapshot,
    shared: &Arc<Shared>,
) -> Vec<UpstreamSession> {
    let rt = &snapshot.config;
    let Some(state) = &inbound.session else {
        return Vec::new();
    };
    let absent = |(index, spec): &(usize, &crate::config::UpstreamSpec)| {
        snapshot.http(*index).is_some() && state.upstream(&spec.name).is_none()
    };
    if rt.federation.naming.is_identity()
        || !rt
            .federation
            .upstreams
            .iter()
            .enumerate()
            .any(|u| absent(&u))
    {
        return Vec::new();
    }
    let Some(client) = cx.session.clone() else {
        return Vec::new();
    };
    // Streams and the session's end use the joins made so far; only messages
    // make new ones.
    let may_join = matches!(inbound.kind, InboundKind::Messages(_));
    let ctx = Ctx {
        permit,
        inbound,
        snapshot,
        shared,
    };
    let mut joined = Vec::new();
    for (index, spec) in rt.federation.upstreams.iter().enumerate() {
        if !absent(&(index, spec)) {
            continue;
        }
        let key = (client.clone(), spec.name.clone());
        match shared.joins.get(&key) {
            Some(Joined::Open(session)) => joined.push(session),
            Some(Joined::Failed(at)) if at.elapsed() < RETRY => {}
            _ if !may_join => {}
            _ => match join(&ctx, cx, index, &state.version).await {
                Ok(session) => {
                    tracing::info!(upstream = %spec.name, "upstream joined a session opened while it was down");
                    shared.joins.put(key, Joined::Open(session.clone()));
                    joined.push(session);
                }
                Err(e) => {
                    tracing::debug!(upstream = %spec.name, error = %e, "late join failed");
                    shared.joins.put(key, Joined::Failed(Instant::now()));
                }
            },
        }
    }
    joined
}

/// Opens a session with upstream `index` for the client, in `version`.
async fn join(
    ctx: &Ctx<'_>,
    cx: &mut RequestContext,
    index: usize,
    version: &str,
) -> Result<UpstreamSession, String> {
    let rt = &ctx.snapshot.config;
    let spec = &rt.federation.upstreams[index];
    let initialize = json!({"jsonrpc": "2.0", "id": "portcullis-join", "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {},
                   "clientInfo": {"name": "portcullis", "version": env!("CARGO_PKG_VERSION")}}});
    let answer = ask(ctx, cx, index, Bytes::from(initialize.to_string())).await?;
    let result = result_of(&answer).ok_or("no initialize result")?;
    let version = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or(version)
        .to_owned();
    let client = ctx.snapshot.http(index).ok_or("not an HTTP upstream")?;
    let mut headers = headers::request_headers(&ctx.inbound.parts.headers, client.settings());
    headers.remove(SESSION_HEADER);
    if let Some(id) = answer
        .session
        .as_deref()
        .and_then(|s| HeaderValue::from_str(s).ok())
    {
        headers.insert(SESSION_HEADER, id);
    }
    if let Ok(v) = HeaderValue::from_str(&version) {
        headers.insert("mcp-protocol-version", v);
    }
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    send_with(
        ctx.permit,
        cx,
        client,
        Method::POST,
        headers,
        Bytes::from(initialized.to_string()),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(UpstreamSession {
        upstream: spec.name.clone(),
        session: answer.session,
        version,
    })
}
