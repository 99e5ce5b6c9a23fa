//! Test harness.

pub mod auth;
pub mod gateway;
pub mod http;
pub mod otlp;
pub mod otlp_grpc;
pub mod peers;
pub mod recorder;

pub use gateway::Gateway;
pub use peers::Peer;
pub use recorder::Recorder;
