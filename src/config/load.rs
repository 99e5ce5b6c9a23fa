//! Reading and parsing the file, with errors located by file, line and path.

use super::raw::RawConfig;
use super::{ConfigError, Runtime, compile};
use std::path::Path;

/// Reads, parses and compiles the configuration file at `file`.
pub fn load(file: &Path) -> Result<Runtime, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    load_str(&text, file)
}

/// Parses and compiles configuration text; `file` names it in errors and anchors
/// relative paths.
pub fn load_str(text: &str, file: &Path) -> Result<Runtime, ConfigError> {
    let raw = parse(text, file)?;
    compile::compile(raw, file)
}

/// Parses the text into raw types.
pub fn parse(text: &str, file: &Path) -> Result<RawConfig, ConfigError> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let position = inner.location().map(|l| (l.line(), l.column()));
        let message = strip_location(&inner.to_string());
        // serde_yaml_ng may lead with the path itself; it is reported separately.
        let message = match message.strip_prefix(&format!("{path}: ")) {
            Some(rest) => rest.to_owned(),
            None => message,
        };
        ConfigError::Invalid {
            file: file.to_path_buf(),
            path,
            message,
            position,
        }
    })
}

/// serde_yaml_ng appends " at line L column C" to messages; the position is
/// reported separately, so the suffix is dropped.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: http://127.0.0.1:3000/mcp\nauthentication:\n  mode: none\naudit:\n  disabled: true\n";

    #[test]
    fn a_minimal_file_compiles_with_safe_defaults() {
        let rt = load_str(MINIMAL, Path::new("p.yaml")).unwrap();
        assert_eq!(rt.listen.path, "/mcp");
        assert!(rt.admission.host_allowed("localhost:8080"));
        assert!(!rt.admission.host_allowed("evil.example"));
        assert_eq!(rt.limits.max_request_body, 4 << 20);
    }

    #[test]
    fn an_unknown_field_is_named_with_its_path_and_line() {
        let text = "listen:\n  address: 127.0.0.1:0\n  adress: x\nupstream:\n  url: http://a/\n";
        let err = load_str(text, Path::new("p.yaml")).unwrap_err().to_string();
        assert!(err.starts_with("p.yaml:3:"), "{err}");
        assert!(err.contains("unknown field `adress`"), "{err}");
    }

    #[test]
    fn a_wrong_value_names_the_path_and_what_was_expected() {
        let text = "listen:\n  address: 127.0.0.1:0\nupstream:\n  url: http://a/\nlimits:\n  header_read_timeout: 10\n";
        let err = load_str(text, Path::new("p.yaml")).unwrap_err().to_string();
        assert!(err.contains("limits.header_read_timeout"), "{err}");
        assert!(err.contains("unit"), "{err}");
        let text = "listen:\n  address: nowhere\nupstream:\n  url: http://a/\n";
        let err = load_str(text, Path::new("p.yaml")).unwrap_err().to_string();
        assert_eq!(
            err,
            "p.yaml: listen.address: `nowhere` is not an ip:port socket address"
        );
        let err = load_str(
            "listen: [a]\nupstream:\n  url: http://a/\n",
            Path::new("p.yaml"),
        );
        let err = err.unwrap_err().to_string();
        assert!(
            err.starts_with("p.yaml:1:9: listen: invalid type: sequence"),
            "{err}"
        );
    }

    #[test]
    fn legacy_sse_is_off_by_default_and_its_errors_name_the_option() {
        let rt = load_str(MINIMAL, Path::new("p.yaml")).unwrap();
        assert!(rt.listen.legacy_sse.is_none());
        let with = |section: &str| {
            MINIMAL.replace(
                "listen:\n  address: 127.0.0.1:0\n",
                &format!("listen:\n  address: 127.0.0.1:0\n  legacy_sse:\n{section}"),
            )
        };
        let rt = load_str(&with("    path: /sse\n"), Path::new("p.yaml")).unwrap();
        let legacy = rt.listen.legacy_sse.unwrap();
        assert_eq!(
            (legacy.path.as_str(), legacy.messages_path.as_str()),
            ("/sse", "/messages")
        );
        assert_eq!(
            (
                legacy.max_streams,
                legacy.max_streams_per_principal,
                legacy.max_queued_messages
            ),
            (256, 16, 64)
        );
        let err = |section: &str| {
            load_str(&with(section), Path::new("p.yaml"))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("    path: /mcp\n"),
            "p.yaml: listen.legacy_sse: path, messages_path and listen.path must be three different paths"
        );
        assert_eq!(
            err("    path: sse\n"),
            "p.yaml: listen.legacy_sse.path: must be an absolute path such as /mcp"
        );
        assert_eq!(
            err("    path: /sse\n    max_queued_messages: 0\n"),
            "p.yaml: listen.legacy_sse.max_queued_messages: must be at least 1"
        );
        assert_eq!(
            err("    path: /sse\n    max_streams_per_principal: 0\n"),
            "p.yaml: listen.legacy_sse.max_streams_per_principal: must be at least 1"
        );
    }
}
