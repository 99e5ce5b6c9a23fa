use super::*;

fn raw(yaml: &str) -> RawStdioUpstream {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn env(name: &str) -> Option<OsString> {
    match name {
        "GW_TOKEN" => Some("s3cret".into()),
        "PATH" => Some("/usr/bin".into()),
        _ => None,
    }
}

fn compiled(yaml: &str) -> Result<StdioSettings, String> {
    compile_with(
        &raw(yaml),
        Path::new("/etc/pc/p.yaml"),
        "upstreams.files.stdio",
        &env,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn a_minimal_command_gets_safe_defaults_and_an_empty_environment() {
    let s = compiled("command: [node, server.js]").unwrap();
    assert_eq!(s.program, PathBuf::from("node"));
    assert_eq!(s.args, vec!["server.js"]);
    assert_eq!(s.cwd, PathBuf::from("/etc/pc"));
    assert!(s.env.is_empty());
    assert_eq!(s.era, StdioEra::Auto);
    assert_eq!(s.protocol_version, Version::V2025_11_25);
    assert!(s.client_capabilities.is_empty());
    assert_eq!(
        (s.stdin_grace, s.term_grace),
        (Duration::from_secs(2), Duration::from_secs(3))
    );
    assert_eq!(s.ping_interval, Some(Duration::from_secs(30)));
}

#[test]
fn environment_comes_from_the_allow_list_and_explicit_sources() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("db");
    std::fs::write(&secret, "pw\n").unwrap();
    let yaml = format!(
        "command: [./srv]\nenv_allow: [PATH, MISSING]\nenv:\n  API_TOKEN: {{ env: GW_TOKEN }}\n  \
         DB_PASSWORD: {{ file: {} }}\n  LEVEL: {{ value: debug }}\n",
        secret.display()
    );
    let s = compiled(&yaml).unwrap();
    assert_eq!(s.program, PathBuf::from("/etc/pc/./srv"));
    let pairs: Vec<(&str, &OsString)> = s
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("PATH", &OsString::from("/usr/bin")),
            ("API_TOKEN", &OsString::from("s3cret")),
            ("DB_PASSWORD", &OsString::from("pw")),
            ("LEVEL", &OsString::from("debug")),
        ]
    );
    assert_eq!(s.files, vec![secret]);
    assert!(
        !format!("{s:?}").contains("s3cret"),
        "values never show in Debug"
    );
}

#[test]
fn inline_secrets_are_refused_unless_allowed() {
    let err = compiled("command: [x]\nenv:\n  GITHUB_TOKEN: { value: ghp_x }\n").unwrap_err();
    assert!(
        err.starts_with(
            "/etc/pc/p.yaml: upstreams.files.stdio.env.GITHUB_TOKEN: looks like a secret"
        ),
        "{err}"
    );
    compiled("command: [x]\nallow_inline_secrets: true\nenv:\n  GITHUB_TOKEN: { value: ghp_x }\n")
        .unwrap();
}

#[test]
fn mistakes_are_named_with_their_path() {
    let cases = [
        ("command: []", "stdio.command: must list"),
        (
            "command: [x]\nenv:\n  A: { env: NOPE }",
            "stdio.env.A: the gateway's environment has no `NOPE`",
        ),
        (
            "command: [x]\nenv:\n  A: { value: a, env: GW_TOKEN }",
            "stdio.env.A: give exactly one",
        ),
        (
            "command: [x]\nenv:\n  A: { file: /nonexistent/x }",
            "stdio.env.A: cannot read /nonexistent/x",
        ),
        (
            "command: [x]\nenv:\n  A: {}",
            "stdio.env.A: give exactly one",
        ),
        (
            "command: [x]\nenv_allow: [A=B]",
            "stdio.env_allow[0]: `A=B` is not a valid",
        ),
        (
            "command: [x]\nera: modern",
            "stdio.era: `modern` is not an era",
        ),
        (
            "command: [x]\nprotocol_version: 2026-07-28",
            "stdio.protocol_version: `2026-07-28` is not a legacy",
        ),
        (
            "command: [x]\nclient_capabilities: [1]",
            "stdio.client_capabilities: must be a mapping",
        ),
        (
            "command: [x]\nrestart: { initial_backoff: 2s, max_backoff: 1s }",
            "stdio.restart.max_backoff",
        ),
        (
            "command: [x]\nshutdown: { term_grace: 0s }",
            "stdio.shutdown.term_grace: must be longer",
        ),
        (
            "command: [x]\nhealth: { max_consecutive_timeouts: 0 }",
            "stdio.health.max_consecutive_timeouts",
        ),
    ];
    for (yaml, expected) in cases {
        let err = compiled(yaml).unwrap_err();
        assert!(err.contains(expected), "{yaml}: {err}");
    }
}

#[test]
fn unknown_fields_are_refused_by_the_raw_types() {
    let err =
        serde_yaml_ng::from_str::<RawStdioUpstream>("command: [x]\nshell: true\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `shell`"), "{err}");
}

#[test]
fn eras_and_pings_are_configurable() {
    let s = compiled("command: [x]\nera: 2026-07-28\nhealth: { ping_interval: 0s }").unwrap();
    assert_eq!(s.era, StdioEra::Only(Era::Modern));
    assert_eq!(s.ping_interval, None);
    let s = compiled("command: [x]\nera: legacy\nprotocol_version: 2025-06-18").unwrap();
    assert_eq!(
        (s.era, s.protocol_version),
        (StdioEra::Only(Era::Legacy), Version::V2025_06_18)
    );
}

#[test]
fn a_configuration_named_without_a_folder_starts_its_servers_in_the_current_one() {
    // `portcullis serve -c portcullis.yaml`: the file's parent is the empty
    // path, in which no process can be started ("No such file or directory").
    let s = compile_with(
        &raw("command: [node, server.js]"),
        Path::new("portcullis.yaml"),
        "upstreams.files.stdio",
        &env,
    )
    .unwrap();
    assert_eq!(s.cwd, PathBuf::from("."));
    let s = compile_with(
        &raw("command: [node, server.js]\ncwd: srv"),
        Path::new("portcullis.yaml"),
        "upstreams.files.stdio",
        &env,
    )
    .unwrap();
    assert_eq!(s.cwd, PathBuf::from("./srv"));
}
