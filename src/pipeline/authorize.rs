//! Stage 5, authorize: may this caller do this?
//!
//! Contract: returns a [`Permit`], the only value with which the upstream can be
//! called ([`crate::upstream::HttpUpstream::send`] requires one), or a rejection that
//! reads exactly like an unknown tool/method. A `Permit` cannot be built outside
//! this module. Policy evaluation arrives with the least-privilege issue; until
//! then every well-formed request is permitted.

use super::context::RequestContext;
use super::parse::Inbound;

/// Proof that the authorization stage allowed a request.
#[derive(Debug)]
pub struct Permit {
    _private: (),
}

/// Decides whether the request in `cx` may be forwarded.
pub fn authorize(_cx: &RequestContext, _inbound: &Inbound) -> Permit {
    Permit { _private: () }
}
