//! The audit trail: OCSF events, tamper evidence, sinks and delivery guarantees.
//!
//! - `support`: fixtures (one record of every kind), config, helpers, tools.
//! - `schema`: every record kind renders to one OCSF event valid for its class.
//! - `tamper`: `audit verify` finds each kind of tampering and says where.
//! - `redaction`: tokens, secrets and configured paths reach no sink.
//! - `durability`: graceful shutdown, full and read-only disks, fail open.
//! - `crash`: SIGKILL under load, fsync always and group commit.
//! - `syslog`: a real rsyslogd receives events (TCP and TLS, octet counting).
//! - `otlp`: an OTLP/HTTP receiver decodes events with the official protobuf classes.
//!
//! Tests that need an external tool (python with jsonschema and
//! opentelemetry-proto, rsyslogd, openssl, tmpfs mounts) skip loudly when it is
//! missing, unless `CI` is set: then they fail. `scripts/install-peers` installs
//! the tools.

mod crash;
mod durability;
mod gateway;
mod otlp;
mod redaction;
mod schema;
mod support;
mod syslog;
mod tamper;
