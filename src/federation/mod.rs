//! Federation: several upstream MCP servers behind one endpoint.
//!
//! Pure decisions live here: how names map between the client's view and each
//! upstream's (`naming`), and how answers from several upstreams merge into one
//! (`merge`). The pipeline's forward stage uses them to route each message.

pub mod merge;
pub mod naming;
pub mod route;

pub use naming::Naming;
