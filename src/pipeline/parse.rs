//! Stage 4, parse: the request body becomes an [`Envelope`], and the request gets
//! its protocol era and version.
//!
//! Contract: after this stage, a POST body is a strictly parsed JSON-RPC message
//! (or a batch, only on a 2025-03-26 session), its version is one the gateway
//! knows, and in the 2026-07-28 era its mirrored headers agree with its body.
//! Anything else is refused here and never reaches the upstream. GET and DELETE
//! carry no message; they exist only in the legacy era.

use super::Shared;
use super::body::{RequestBody, read_bounded};
use super::context::RequestContext;
use super::respond::Rejection;
use super::session::{self, Lookup};
use crate::config::Runtime;
use crate::federation::route::{self, FanOut, Rewrite, Route};
use crate::protocol::jsonrpc::{self, Kind, Message};
use crate::protocol::mirrored::{self, MirroredHeaders, Mismatch, Sent};
use crate::protocol::{Envelope, Era, ParseError, RequestId, Target, Version};
use crate::session::SessionState;
use http::request::Parts;
use http::{HeaderMap, Method};

/// The `MCP-Protocol-Version` header, lower-case.
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

/// A parsed request, ready for authorization.
#[derive(Debug)]
pub struct Inbound {
    /// The request head.
    pub parts: Parts,
    /// What the request asks for.
    pub kind: InboundKind,
    /// The body to forward when a stage rewrote it (redaction); `None` forwards
    /// the bytes as received.
    pub forward_body: Option<bytes::Bytes>,
    /// Where the request goes.
    pub route: Route,
    /// The client's legacy session, opened.
    pub session: Option<SessionState>,
}

/// What a request asks for.
#[derive(Debug)]
pub enum InboundKind {
    /// POST: deliver JSON-RPC messages.
    Messages(Envelope),
    /// GET: open the legacy server-to-client stream.
    OpenStream,
    /// DELETE: end a legacy session.
    EndSession,
}

/// Methods the 2026-07-28 revision removed. The gateway answers them itself
/// (404 / -32601, as the revision prescribes) instead of forwarding a request the
/// revision says does not exist.
const REMOVED_IN_2026: [&str; 6] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
    "notifications/roots/list_changed",
];

/// Parses the request and fills the era, version and message facts of `cx`.
pub async fn parse<B: RequestBody>(
    cx: &mut RequestContext,
    parts: Parts,
    body: B,
    rt: &Runtime,
    shared: &Shared,
) -> Result<Inbound, Rejection> {
    let lookup = session::open(cx, rt, shared);
    let negotiated = match &lookup {
        Lookup::Open(state) => Version::parse(&state.version),
        _ => None,
    };
    let header = HeaderVersion::read(&parts.headers);
    let kind = match parts.method {
        Method::POST => {
            let bytes = read_bounded(
                body,
                rt.limits.max_request_body,
                rt.limits.body_read_timeout,
            )
            .await?;
            let envelope = jsonrpc::parse(bytes, &rt.limits.parse)?;
            classify(
                cx,
                &envelope,
                &parts.headers,
                &header,
                negotiated,
                rt,
                shared,
            )?;
            InboundKind::Messages(envelope)
        }
        ref m => {
            let version = header.known(None, shared)?;
            if version.is_some_and(|v| v.era() == Era::Modern) {
                return Err(Rejection::NoStreamsInModernEra(if *m == Method::GET {
                    "GET"
                } else {
                    "DELETE"
                }));
            }
            cx.era = Some(Era::Legacy);
            cx.version = version.or(negotiated);
            if *m == Method::GET {
                InboundKind::OpenStream
            } else {
                InboundKind::EndSession
            }
        }
    };
    // A legacy request naming a session that is not one: 404, the client starts
    // over (a 2026-07-28 request's stray session id is ignored, as the spec says).
    let session = match lookup {
        Lookup::Open(state) if cx.era == Some(Era::Legacy) => Some(state),
        Lookup::Unknown if cx.era == Some(Era::Legacy) => {
            return Err(Rejection::UnknownSession {
                id: cx.rpc_id.clone(),
            });
        }
        _ => None,
    };
    let route = route(cx, &kind, rt, shared)?;
    Ok(Inbound {
        parts,
        kind,
        forward_body: None,
        route,
        session,
    })
}

/// Decides where the request goes and names the upstream in the context.
fn route(
    cx: &mut RequestContext,
    kind: &InboundKind,
    rt: &Runtime,
    shared: &Shared,
) -> Result<Route, Rejection> {
    let federation = &rt.federation;
    let identity = federation.naming.is_identity();
    let route = match kind {
        InboundKind::Messages(envelope) => match envelope.single() {
            Some(m) => {
                let owners = Owners {
                    catalog: &shared.catalog,
                    federation,
                };
                route::route(m, &federation.naming, &owners)
            }
            None if identity => Route::One {
                upstream: 0,
                rewrite: Rewrite::None,
            },
            // A batch cannot be split across upstreams with its answers kept together.
            None => return Err(Rejection::BatchNotAllowed),
        },
        _ if identity => Route::One {
            upstream: 0,
            rewrite: Rewrite::None,
        },
        InboundKind::OpenStream => Route::All(FanOut::Stream),
        InboundKind::EndSession => Route::All(FanOut::End),
    };
    if let Route::One { upstream, .. } = &route {
        cx.upstream = federation.upstreams.get(*upstream).map(|u| u.name.clone());
    } else {
        cx.upstream = None;
    }
    Ok(route)
}

/// Resource ownership: what upstreams listed, then configured URI prefixes.
struct Owners<'a> {
    catalog: &'a crate::upstream::catalog::Catalog,
    federation: &'a crate::config::Federation,
}

impl route::ResourceOwners for Owners<'_> {
    fn owner(&self, uri: &str) -> Option<usize> {
        self.catalog.resource_owner(uri).or_else(|| {
            self.federation
                .upstreams
                .iter()
                .enumerate()
                .flat_map(|(i, u)| u.resources.iter().map(move |p| (i, p)))
                .filter(|(_, prefix)| uri.starts_with(prefix.as_str()))
                .max_by_key(|(_, prefix)| prefix.len())
                .map(|(i, _)| i)
        })
    }
}

/// The `MCP-Protocol-Version` header as sent.
enum HeaderVersion<'a> {
    Absent,
    Once(&'a str),
    Repeated,
}

impl<'a> HeaderVersion<'a> {
    fn read(headers: &'a HeaderMap) -> HeaderVersion<'a> {
        match one(headers, PROTOCOL_VERSION_HEADER) {
            None => HeaderVersion::Absent,
            Some(Sent::Once(v)) => HeaderVersion::Once(v.trim()),
            Some(_) => HeaderVersion::Repeated,
        }
    }

    /// The version the header names: absent, or one the gateway knows.
    fn known(&self, id: Option<&RequestId>, shared: &Shared) -> Result<Option<Version>, Rejection> {
        match self {
            HeaderVersion::Absent => Ok(None),
            HeaderVersion::Once(raw) => Version::parse(raw)
                .map(Some)
                .ok_or_else(|| unsupported(id, raw, shared)),
            HeaderVersion::Repeated => Err(Rejection::HeaderMismatch {
                id: id.cloned(),
                mismatch: Mismatch::Repeated("MCP-Protocol-Version".into()),
            }),
        }
    }
}

fn unsupported(id: Option<&RequestId>, requested: &str, shared: &Shared) -> Rejection {
    Rejection::UnsupportedVersion {
        id: id.cloned(),
        requested: requested.chars().take(64).collect(),
        supported: shared.catalog.supported_versions(),
    }
}

fn classify(
    cx: &mut RequestContext,
    envelope: &Envelope,
    headers: &HeaderMap,
    header: &HeaderVersion<'_>,
    negotiated: Option<Version>,
    rt: &Runtime,
    shared: &Shared,
) -> Result<(), Rejection> {
    cx.messages = envelope.messages().len();
    let Some(m) = envelope.single() else {
        return classify_batch(cx, envelope, header, negotiated, shared);
    };
    cx.rpc_method = m.method().map(str::to_owned);
    cx.rpc_id = m.id().cloned();
    cx.target = m.target().cloned();
    if matches!(m.method(), Some("tools/call" | "prompts/get")) {
        cx.arguments = m.arguments().cloned();
    }
    let id = m.id();
    let (era, version) = if m.method() == Some("initialize") {
        let asked = m
            .params()
            .and_then(|p| p.get("protocolVersion"))
            .and_then(|v| v.as_str())
            .and_then(Version::parse);
        (Era::Legacy, asked)
    } else {
        match m.meta_protocol_version() {
            Some(Err(())) => return Err(invalid_params(m, "must be a string")),
            Some(Ok(meta)) => {
                // Header/body disagreement is reported before the version itself,
                // as the 2026-07-28 transport orders its checks.
                match header {
                    HeaderVersion::Once(h) if *h == meta => {}
                    HeaderVersion::Absent => {
                        return Err(mismatch(id, Mismatch::Missing(VERSION.into())));
                    }
                    HeaderVersion::Repeated => {
                        return Err(mismatch(id, Mismatch::Repeated(VERSION.into())));
                    }
                    HeaderVersion::Once(_) => {
                        return Err(mismatch(id, Mismatch::Differs(VERSION.into())));
                    }
                }
                let v = Version::parse(meta).ok_or_else(|| unsupported(id, meta, shared))?;
                (v.era(), Some(v))
            }
            None => {
                let v = header.known(id, shared)?;
                if v.is_some_and(Version::requires_mirrored_headers) {
                    if m.kind() == Kind::Request {
                        return Err(invalid_params(m, "is required in the 2026-07-28 revision"));
                    }
                    (Era::Modern, v)
                } else {
                    (Era::Legacy, v.or(negotiated))
                }
            }
        }
    };
    cx.era = Some(era);
    cx.version = version;
    if era == Era::Modern {
        if m.method()
            .is_some_and(|method| REMOVED_IN_2026.contains(&method))
        {
            return Err(Rejection::MethodNotFound { id: id.cloned() });
        }
        if m.kind() == Kind::Request && m.meta_protocol_version().is_some() {
            check_mirrored(m, headers, rt, shared)?;
        }
    }
    match m.target_error() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Only 2025-03-26 had batches, and only inside a session that negotiated it.
fn classify_batch(
    cx: &mut RequestContext,
    envelope: &Envelope,
    header: &HeaderVersion<'_>,
    negotiated: Option<Version>,
    shared: &Shared,
) -> Result<(), Rejection> {
    let header = header.known(None, shared)?;
    let allowed = negotiated.is_some_and(Version::allows_batches)
        && header.is_none_or(Version::allows_batches)
        && envelope
            .messages()
            .iter()
            .all(|m| m.method() != Some("initialize") && m.meta_protocol_version().is_none());
    if !allowed {
        return Err(Rejection::BatchNotAllowed);
    }
    if let Some(e) = envelope.messages().iter().find_map(Message::target_error) {
        return Err(e.into());
    }
    cx.era = Some(Era::Legacy);
    cx.version = negotiated;
    Ok(())
}

const VERSION: &str = "MCP-Protocol-Version";

fn mismatch(id: Option<&RequestId>, mismatch: Mismatch) -> Rejection {
    Rejection::HeaderMismatch {
        id: id.cloned(),
        mismatch,
    }
}

fn invalid_params(m: &Message, problem: &str) -> Rejection {
    Rejection::Parse(ParseError::InvalidParams {
        id: m.id().cloned(),
        reason: format!("`params._meta[\"io.modelcontextprotocol/protocolVersion\"]` {problem}"),
    })
}

/// The SEP-2243 method, name and `Mcp-Param-*` agreement.
fn check_mirrored(
    m: &Message,
    headers: &HeaderMap,
    rt: &Runtime,
    shared: &Shared,
) -> Result<(), Rejection> {
    let declared = match m.target() {
        Some(Target::Tool(name)) => rt
            .federation
            .naming
            .inward(name)
            .and_then(|(index, inner)| shared.catalog.param_headers(index, inner)),
        _ => None,
    };
    mirrored::check(m, &mirrored_headers(headers), declared.as_deref())
        .map_err(|e| mismatch(m.id(), e))
}

fn one<'a>(headers: &'a HeaderMap, name: &str) -> Option<Sent<'a>> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => Some(Sent::Repeated),
        (Some(v), None) => Some(v.to_str().map_or(Sent::Unreadable, Sent::Once)),
    }
}

fn mirrored_headers(headers: &HeaderMap) -> MirroredHeaders<'_> {
    MirroredHeaders {
        method: one(headers, mirrored::MCP_METHOD),
        name: one(headers, mirrored::MCP_NAME),
        params: headers
            .iter()
            .filter_map(|(name, value)| {
                let suffix = name.as_str().strip_prefix(mirrored::MCP_PARAM_PREFIX)?;
                Some((suffix, value.to_str().map_or(Sent::Unreadable, Sent::Once)))
            })
            .collect(),
    }
}
