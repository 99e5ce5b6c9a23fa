//! Stage 4, parse: the request body becomes an [`Envelope`], and the request gets
//! its protocol era and version.
//!
//! Contract: after this stage, a POST body is a strictly parsed JSON-RPC message
//! (or a batch, only on a 2025-03-26 session), its version is one the gateway
//! knows, and in the 2026-07-28 era its mirrored headers agree with its body.
//! Anything else is refused here and never reaches the upstream. GET and DELETE
//! carry no message; they exist only in the legacy era.

use super::Shared;
use super::body::read_bounded;
use super::context::RequestContext;
use super::respond::Rejection;
use crate::config::Runtime;
use crate::protocol::jsonrpc::{self, Kind, Message};
use crate::protocol::mirrored::{self, MirroredHeaders, Sent};
use crate::protocol::{Envelope, Era, ParseError, Target, Version};
use http::request::Parts;
use http::{HeaderMap, Method};
use hyper::body::Incoming;

/// The `MCP-Protocol-Version` header, lower-case.
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

/// A parsed request, ready for authorization.
#[derive(Debug)]
pub struct Inbound {
    /// The request head.
    pub parts: Parts,
    /// What the request asks for.
    pub kind: InboundKind,
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

/// Parses the request and fills the era, version and message facts of `cx`.
pub async fn parse(
    cx: &mut RequestContext,
    parts: Parts,
    body: Incoming,
    rt: &Runtime,
    shared: &Shared,
) -> Result<Inbound, Rejection> {
    let header_version = header_version(&parts.headers)?;
    let negotiated = cx
        .session
        .as_deref()
        .and_then(|s| shared.sessions.negotiated(s));
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
                header_version,
                negotiated,
                shared,
            )?;
            InboundKind::Messages(envelope)
        }
        ref m => {
            if header_version.is_some_and(|v| v.era() == Era::Modern) {
                return Err(Rejection::NoStreamsInModernEra(if *m == Method::GET {
                    "GET"
                } else {
                    "DELETE"
                }));
            }
            cx.era = Some(Era::Legacy);
            cx.version = header_version.or(negotiated);
            if *m == Method::GET {
                InboundKind::OpenStream
            } else {
                InboundKind::EndSession
            }
        }
    };
    Ok(Inbound { parts, kind })
}

/// Reads `MCP-Protocol-Version`: absent, or exactly one known version.
fn header_version(headers: &HeaderMap) -> Result<Option<Version>, Rejection> {
    match one(headers, PROTOCOL_VERSION_HEADER) {
        None => Ok(None),
        Some(Sent::Once(v)) => match Version::parse(v.trim()) {
            Some(v) => Ok(Some(v)),
            None => Err(Rejection::UnsupportedVersion {
                id: None,
                requested: v.chars().take(64).collect(),
            }),
        },
        Some(_) => Err(Rejection::HeaderMismatch {
            id: None,
            mismatch: mirrored::Mismatch::Repeated("MCP-Protocol-Version".into()),
        }),
    }
}

fn classify(
    cx: &mut RequestContext,
    envelope: &Envelope,
    headers: &HeaderMap,
    header_version: Option<Version>,
    negotiated: Option<Version>,
    shared: &Shared,
) -> Result<(), Rejection> {
    cx.messages = envelope.messages().len();
    let Some(m) = envelope.single() else {
        // Only 2025-03-26 had batches, and only inside a session that negotiated it.
        let batch_ok = negotiated.is_some_and(Version::allows_batches)
            && header_version.is_none_or(Version::allows_batches)
            && envelope
                .messages()
                .iter()
                .all(|m| m.method() != Some("initialize") && m.meta_protocol_version().is_none());
        if !batch_ok {
            return Err(Rejection::BatchNotAllowed);
        }
        cx.era = Some(Era::Legacy);
        cx.version = negotiated;
        return Ok(());
    };
    cx.rpc_method = m.method().map(str::to_owned);
    cx.rpc_id = m.id().cloned();
    cx.target = m.target().cloned();
    if m.method() == Some("initialize") {
        cx.era = Some(Era::Legacy);
        cx.version = m
            .params()
            .and_then(|p| p.get("protocolVersion"))
            .and_then(|v| v.as_str())
            .and_then(Version::parse);
        return Ok(());
    }
    match m.meta_protocol_version() {
        Some(Err(())) => Err(Rejection::Parse(ParseError::Invalid {
            id: m.id().cloned(),
            reason: "`params._meta[\"io.modelcontextprotocol/protocolVersion\"]` must be a string"
                .into(),
        })),
        Some(Ok(raw)) => match Version::parse(raw) {
            None => Err(Rejection::UnsupportedVersion {
                id: m.id().cloned(),
                requested: raw.chars().take(64).collect(),
            }),
            Some(v) if v.requires_mirrored_headers() => {
                cx.era = Some(Era::Modern);
                cx.version = Some(v);
                check_modern(m, headers, header_version, v, shared)
            }
            Some(v) => {
                cx.era = Some(Era::Legacy);
                cx.version = Some(v);
                Ok(())
            }
        },
        None if header_version.is_some_and(Version::requires_mirrored_headers) => {
            if m.kind() == Kind::Request {
                // A 2026-07-28 request must name its version in `_meta` too; a
                // header that claims an era the body does not is a mismatch.
                return Err(Rejection::HeaderMismatch {
                    id: m.id().cloned(),
                    mismatch: mirrored::Mismatch::Differs("MCP-Protocol-Version".into()),
                });
            }
            cx.era = Some(Era::Modern);
            cx.version = header_version;
            Ok(())
        }
        None => {
            cx.era = Some(Era::Legacy);
            cx.version = header_version.or(negotiated);
            Ok(())
        }
    }
}

/// The 2026-07-28 header/body agreement (SEP-2243).
fn check_modern(
    m: &Message,
    headers: &HeaderMap,
    header_version: Option<Version>,
    version: Version,
    shared: &Shared,
) -> Result<(), Rejection> {
    let mismatch = |mismatch| Rejection::HeaderMismatch {
        id: m.id().cloned(),
        mismatch,
    };
    match header_version {
        Some(h) if h == version => {}
        Some(_) => {
            return Err(mismatch(mirrored::Mismatch::Differs(
                "MCP-Protocol-Version".into(),
            )));
        }
        None => {
            return Err(mismatch(mirrored::Mismatch::Missing(
                "MCP-Protocol-Version".into(),
            )));
        }
    }
    if m.kind() != Kind::Request {
        return Ok(());
    }
    let declared = match m.target() {
        Some(Target::Tool(name)) => shared.catalog.param_headers(name),
        _ => None,
    };
    mirrored::check(m, &mirrored_headers(headers), declared.as_deref()).map_err(mismatch)
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
