//! Audit trail integration tests: one binary, modules listed here.
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
//! missing, unless `CI` is set: then they fail. `tests/audit_setup.sh` installs
//! the tools.

// Test code: helpers outside #[test] functions may unwrap, panic and print too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)]

#[path = "audit_cases/crash.rs"]
mod crash;
#[path = "audit_cases/durability.rs"]
mod durability;
#[path = "audit_cases/otlp.rs"]
mod otlp;
#[path = "audit_cases/redaction.rs"]
mod redaction;
#[path = "audit_cases/schema.rs"]
mod schema;
#[path = "audit_cases/support.rs"]
mod support;
#[path = "audit_cases/syslog.rs"]
mod syslog;
#[path = "audit_cases/tamper.rs"]
mod tamper;
