//! SEP-2243 (2026-07-28): routing fields mirrored from the body into HTTP headers.
//!
//! Clients copy the method into `Mcp-Method`, the tool/prompt name or resource URI
//! into `Mcp-Name`, and every tool argument whose schema carries `x-mcp-header: X`
//! into `Mcp-Param-X`. Intermediaries may route on those headers, so a request whose
//! headers say one thing and whose body says another is a smuggling attempt: the
//! gateway answers it with `400` / `-32020` and never forwards it. Policy itself is
//! always decided on the body; the headers are only cross-checked.
//!
//! Values that are not header-safe travel as `=?base64?<standard base64>?=`;
//! anything else is literal. Optional whitespace around a value is not part of it.

use super::jsonrpc::Message;
use base64::Engine as _;
use serde_json::Value;

/// Header names, lower-case as `http::HeaderMap` stores them.
pub const MCP_METHOD: &str = "mcp-method";
/// See [`MCP_METHOD`].
pub const MCP_NAME: &str = "mcp-name";
/// Prefix of the per-argument headers.
pub const MCP_PARAM_PREFIX: &str = "mcp-param-";

/// How one header was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent<'a> {
    /// Once, with a value that is visible ASCII.
    Once(&'a str),
    /// More than once: a repeated routing header is never acceptable.
    Repeated,
    /// Once, with bytes that are not visible ASCII.
    Unreadable,
}

/// The mirrored headers of one request, as raw values.
#[derive(Debug, Default, Clone)]
pub struct MirroredHeaders<'a> {
    /// `Mcp-Method`.
    pub method: Option<Sent<'a>>,
    /// `Mcp-Name`.
    pub name: Option<Sent<'a>>,
    /// Every `Mcp-Param-*` header: (suffix, value), one entry per header line.
    pub params: Vec<(&'a str, Sent<'a>)>,
}

/// One `x-mcp-header` annotation: which argument is mirrored into which header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamHeader {
    /// The header suffix as declared (`Region` for `Mcp-Param-Region`).
    pub suffix: String,
    /// The argument name in `inputSchema.properties`.
    pub argument: String,
}

/// Why the headers and the body disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// A header the revision requires is absent.
    #[error("the {0} header is required and missing")]
    Missing(String),
    /// A header appears more than once.
    #[error("the {0} header appears more than once")]
    Repeated(String),
    /// A header value is not valid text or not valid base64.
    #[error("the {0} header is not validly encoded")]
    BadEncoding(String),
    /// The header names something other than the body.
    #[error("the {0} header does not match the request body")]
    Differs(String),
    /// A mirrored argument is absent from the body, but its header is present.
    #[error("the {0} header is present but its argument is absent from the body")]
    Unexpected(String),
}

/// Reads the `x-mcp-header` annotations of a tool definition from `tools/list`.
pub fn param_headers_of(tool: &Value) -> Vec<ParamHeader> {
    let Some(properties) = tool
        .get("inputSchema")
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    properties
        .iter()
        .filter_map(|(argument, schema)| {
            let suffix = schema.get("x-mcp-header")?.as_str()?;
            Some(ParamHeader {
                suffix: suffix.to_owned(),
                argument: argument.clone(),
            })
        })
        .collect()
}

/// Decodes one header value: trims optional whitespace, then unwraps the base64
/// sentinel when present. The decoded bytes must be UTF-8.
pub fn decode_value(raw: &str) -> Option<String> {
    let v = raw.trim_matches([' ', '\t']);
    match v
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(v.to_owned()),
    }
}

/// Checks a request's mirrored headers against its body. `params` is the tool's
/// `x-mcp-header` map when the gateway knows the tool; without it, `Mcp-Param-*`
/// headers are forwarded unchecked (the spec tells intermediaries to forward
/// headers they do not recognise, and the upstream checks them itself).
pub fn check(
    message: &Message,
    headers: &MirroredHeaders<'_>,
    params: Option<&[ParamHeader]>,
) -> Result<(), Mismatch> {
    let method = message.method().unwrap_or_default();
    match required(&headers.method, "Mcp-Method")? {
        Some(v) if v == method => {}
        Some(_) => return Err(Mismatch::Differs("Mcp-Method".into())),
        None => return Err(Mismatch::Missing("Mcp-Method".into())),
    }
    let body_name = message
        .target()
        .map(|t| t.name())
        .or_else(|| task_id(message));
    let header_name = required(&headers.name, "Mcp-Name")?;
    match (body_name, header_name) {
        (Some(b), Some(h)) if b == h => {}
        (Some(_), None) => return Err(Mismatch::Missing("Mcp-Name".into())),
        (None, None) => {}
        _ => return Err(Mismatch::Differs("Mcp-Name".into())),
    }
    if let (Some(declared), Some(crate::protocol::Target::Tool(_))) = (params, message.target()) {
        check_params(message.arguments(), headers, declared)?;
    }
    Ok(())
}

/// The task a 2026-07-28 tasks-extension request names: its `Mcp-Name` is the
/// `params.taskId` of `tasks/get`, `tasks/update` and `tasks/cancel`.
fn task_id(message: &Message) -> Option<&str> {
    match message.method()? {
        "tasks/get" | "tasks/update" | "tasks/cancel" => message.params()?.get("taskId")?.as_str(),
        _ => None,
    }
}

fn required(value: &Option<Sent<'_>>, name: &str) -> Result<Option<String>, Mismatch> {
    match value {
        None => Ok(None),
        Some(Sent::Repeated) => Err(Mismatch::Repeated(name.into())),
        Some(Sent::Unreadable) => Err(Mismatch::BadEncoding(name.into())),
        Some(Sent::Once(raw)) => decode_value(raw)
            .map(Some)
            .ok_or_else(|| Mismatch::BadEncoding(name.into())),
    }
}

fn check_params(
    arguments: Option<&Value>,
    headers: &MirroredHeaders<'_>,
    declared: &[ParamHeader],
) -> Result<(), Mismatch> {
    for p in declared {
        let header_name = format!("Mcp-Param-{}", p.suffix);
        let mut sent = headers
            .params
            .iter()
            .filter(|(suffix, _)| suffix.eq_ignore_ascii_case(&p.suffix));
        let header = match (sent.next(), sent.next()) {
            (Some(_), Some(_)) | (Some((_, Sent::Repeated)), None) => {
                return Err(Mismatch::Repeated(header_name));
            }
            (Some((_, Sent::Unreadable)), None) => return Err(Mismatch::BadEncoding(header_name)),
            (Some((_, Sent::Once(raw))), None) => {
                Some(decode_value(raw).ok_or_else(|| Mismatch::BadEncoding(header_name.clone()))?)
            }
            (None, _) => None,
        };
        let body = arguments.and_then(|a| a.get(&p.argument));
        let expected = match body {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                // Only primitives may be mirrored; a header for an object or array
                // argument can never be right.
                if header.is_some() {
                    return Err(Mismatch::Differs(header_name));
                }
                None
            }
        };
        match (expected, header) {
            (None, None) => {}
            (Some(_), None) => return Err(Mismatch::Missing(header_name)),
            (None, Some(_)) => return Err(Mismatch::Unexpected(header_name)),
            (Some(e), Some(h)) if e == h => {}
            (Some(_), Some(_)) => return Err(Mismatch::Differs(header_name)),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "mirrored_tests.rs"]
mod tests;
