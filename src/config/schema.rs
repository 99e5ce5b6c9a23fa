//! The JSON Schema of `portcullis.yaml`, derived from the raw configuration
//! types, for editors (`# yaml-language-server: $schema=...`) and CI linters.
//!
//! It is generated, never written by hand, so it cannot drift from the parser:
//! every raw struct derives `JsonSchema` next to `Deserialize`, its doc comments
//! become descriptions and `deny_unknown_fields` becomes
//! `additionalProperties: false`. The schema checks shape only (as the raw types
//! do); rules that span options (`mode: jwt` needs issuers, a policy file must
//! exist) are checked by `portcullis check`. `docs/portcullis.schema.json` is
//! this output, and a test keeps it equal.

use super::raw::RawConfig;

/// Where the committed copy is published, used as the schema's `$id`.
pub const SCHEMA_ID: &str =
    "https://raw.githubusercontent.com/portcullis-mcp/portcullis/main/docs/portcullis.schema.json";

/// The schema of the whole file (JSON Schema draft 2020-12).
pub fn schema() -> schemars::Schema {
    let generated = schemars::schema_for!(RawConfig);
    // `$schema`, `$id` and `title` first, for a reader opening the file.
    let mut out = serde_json::Map::new();
    if let Some(dialect) = generated.get("$schema") {
        out.insert("$schema".into(), dialect.clone());
    }
    out.insert("$id".into(), SCHEMA_ID.into());
    out.insert("title".into(), "portcullis.yaml".into());
    if let serde_json::Value::Object(rest) = generated.to_value() {
        for (key, value) in rest {
            out.entry(key).or_insert(value);
        }
    }
    schemars::Schema::from(out)
}

/// The schema as pretty-printed JSON with a trailing newline, exactly as
/// `portcullis config schema` prints it and `docs/portcullis.schema.json` holds it.
pub fn schema_json() -> String {
    // Serialising a `serde_json::Value` tree cannot fail; the fallback keeps
    // library code free of `expect`.
    let mut text = serde_json::to_string_pretty(schema().as_value()).unwrap_or_default();
    text.push('\n');
    text
}
