//! Which upstream a message goes to.
//!
//! Tools and prompts are routed by their prefixed names, resources by who
//! owns the URI (learned from list results, or configured URI prefixes), answers
//! to server-to-client requests by the upstream encoded into the request id the
//! client saw. Lists, `initialize`, `server/discover`, `logging/setLevel`,
//! `subscriptions/listen` and client notifications go to every upstream. With a
//! single unprefixed upstream everything goes to it unchanged, which keeps the
//! gateway transparent.

use super::naming::Naming;
use crate::protocol::jsonrpc::{Kind, Message};
use crate::protocol::{RequestId, Target};
use serde_json::Value;

/// The routing decision for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// One upstream handles it. `rename` is the name or id to use upstream when
    /// it differs from what the client sent.
    One {
        /// The upstream's index.
        upstream: usize,
        /// What to rewrite on the way up.
        rewrite: Rewrite,
    },
    /// Every upstream handles it; the answers are merged.
    All(FanOut),
    /// The gateway answers itself (`ping` in a federation).
    Local,
    /// Nothing is routable: no upstream owns the name, or the method cannot be
    /// federated. The client gets the protocol's "unknown" error.
    Unknown(Unroutable),
}

/// What changes in a message routed to one upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// Nothing: forward the bytes as received.
    None,
    /// `params.name` (or `params.ref.name`) becomes this upstream-side name.
    Name(String),
    /// The message's id becomes this upstream-side id (answers to
    /// server-to-client requests).
    Id(Value),
}

/// What a fan-out merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanOut {
    /// A list method.
    List(super::merge::ListKind),
    /// `initialize`.
    Initialize,
    /// `server/discover`.
    Discover,
    /// A request every upstream answers with `{}` (`logging/setLevel`).
    Empty,
    /// `subscriptions/listen`: the streams are merged.
    Listen,
    /// A client notification: delivered to each, nothing to merge.
    Notify,
    /// A legacy GET: the upstreams' streams are merged.
    Stream,
    /// A legacy DELETE: every upstream session ends.
    End,
}

/// Why a message has no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unroutable {
    /// A tool name no upstream owns.
    Tool(String),
    /// A prompt name no upstream owns.
    Prompt(String),
    /// A resource URI no upstream owns.
    Resource(String),
    /// A method that cannot be spread over several upstreams.
    Method(String),
    /// An answer whose id the gateway did not issue.
    Answer,
}

/// Who owns resource URIs: exact URIs and URI prefixes per upstream.
pub trait ResourceOwners {
    /// The upstream owning `uri`, if known.
    fn owner(&self, uri: &str) -> Option<usize>;
}

/// Routes `message` in a federation of `naming`.
pub fn route(message: &Message, naming: &Naming, owners: &dyn ResourceOwners) -> Route {
    if naming.is_identity() {
        return Route::One {
            upstream: 0,
            rewrite: Rewrite::None,
        };
    }
    match message.kind() {
        Kind::Response | Kind::ErrorResponse => match message.id().and_then(decode_id) {
            Some((upstream, id)) => Route::One {
                upstream,
                rewrite: Rewrite::Id(id),
            },
            None => Route::Unknown(Unroutable::Answer),
        },
        Kind::Notification => Route::All(FanOut::Notify),
        Kind::Request => request(message, naming, owners),
    }
}

fn request(message: &Message, naming: &Naming, owners: &dyn ResourceOwners) -> Route {
    let method = message.method().unwrap_or_default();
    if let Some(kind) = super::merge::ListKind::of(method) {
        return Route::All(FanOut::List(kind));
    }
    match (method, message.target()) {
        ("initialize", _) => Route::All(FanOut::Initialize),
        ("server/discover", _) => Route::All(FanOut::Discover),
        ("logging/setLevel", _) => Route::All(FanOut::Empty),
        ("subscriptions/listen", _) => Route::All(FanOut::Listen),
        ("ping", _) => Route::Local,
        (_, Some(Target::Tool(name))) => by_name(naming, name, Unroutable::Tool),
        (_, Some(Target::Prompt(name))) => by_name(naming, name, Unroutable::Prompt),
        (_, Some(Target::Resource(uri))) => by_uri(owners, uri),
        ("completion/complete", _) => completion(message, naming, owners),
        _ => Route::Unknown(Unroutable::Method(method.to_owned())),
    }
}

fn by_name(naming: &Naming, name: &str, unknown: fn(String) -> Unroutable) -> Route {
    match naming.inward(name) {
        Some((upstream, inner)) => Route::One {
            upstream,
            rewrite: Rewrite::Name(inner.to_owned()),
        },
        None => Route::Unknown(unknown(name.to_owned())),
    }
}

fn by_uri(owners: &dyn ResourceOwners, uri: &str) -> Route {
    match owners.owner(uri) {
        Some(upstream) => Route::One {
            upstream,
            rewrite: Rewrite::None,
        },
        None => Route::Unknown(Unroutable::Resource(uri.to_owned())),
    }
}

fn completion(message: &Message, naming: &Naming, owners: &dyn ResourceOwners) -> Route {
    let reference = message.params().and_then(|p| p.get("ref"));
    let field = |k: &str| reference.and_then(|r| r.get(k)).and_then(Value::as_str);
    match (field("type"), field("name"), field("uri")) {
        (Some("ref/prompt"), Some(name), _) => by_name(naming, name, Unroutable::Prompt),
        (Some("ref/resource"), _, Some(uri)) => by_uri(owners, uri),
        _ => Route::Unknown(Unroutable::Method("completion/complete".into())),
    }
}

/// The id a client sees for a server-to-client request of upstream `index`.
pub fn encode_id(index: usize, id: &RequestId) -> Value {
    Value::String(format!("pc{index}:{}", id.to_json()))
}

/// The upstream and upstream-side id encoded by [`encode_id`].
pub fn decode_id(id: &RequestId) -> Option<(usize, Value)> {
    let RequestId::String(s) = id else {
        return None;
    };
    let (index, original) = s.strip_prefix("pc")?.split_once(':')?;
    let original: Value = serde_json::from_str(original).ok()?;
    matches!(original, Value::String(_) | Value::Number(_))
        .then_some((index.parse().ok()?, original))
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
