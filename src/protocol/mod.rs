//! The MCP wire protocol as the gateway sees it: JSON-RPC envelopes, MCP targets,
//! protocol versions and eras, the 2026-07-28 mirrored headers, and SSE framing.
//!
//! Everything here is pure: bytes and strings in, values and typed errors out. No
//! sockets, no clocks, no HTTP status codes. That keeps these parsers cheap to test
//! and to fuzz, and lets every later stage (policy, scanning, audit) share one
//! reading of a message with the forwarding code.

pub mod era;
pub mod jsonrpc;
pub mod mcp;
pub mod mirrored;
pub mod rpc_error;
pub mod sse;
pub(crate) mod strict;

pub use era::{Era, Version};
pub use jsonrpc::{Envelope, Kind, Message, ParseError, ParseLimits, Payload, RequestId};
pub use mcp::Target;
