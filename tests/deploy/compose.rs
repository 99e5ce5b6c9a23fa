//! docker-compose.yml: the services a platform engineer expects, pinned images,
//! what is published on the host and what is not, networks that keep the
//! upstreams behind the gateway, and every mounted file present in the repository.

use super::{check, str_at, yaml};
use crate::support::peers::repo;
use serde_yaml_ng::Value;
use std::collections::BTreeSet;

const SERVICES: &[&str] = &[
    "portcullis",
    "oidc",
    "everything",
    "redis",
    "otel-collector",
    "jaeger",
    "prometheus",
    "grafana",
    "loki",
    "vector",
];

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    let s = &compose["services"][name];
    assert!(s.is_mapping(), "docker-compose.yml: no service `{name}`");
    s
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| panic!("{x:?}"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Host ports published by a service (`"HOST:CONTAINER"` entries).
fn published(svc: &Value) -> Vec<(u16, u16)> {
    strings(&svc["ports"])
        .iter()
        .map(|p| {
            let parts: Vec<&str> = p.split(':').collect();
            assert_eq!(parts.len(), 2, "port `{p}`: write HOST:CONTAINER");
            (parts[0].parse().unwrap(), parts[1].parse().unwrap())
        })
        .collect()
}

#[test]
fn compose_runs_the_whole_stack_on_pinned_images() {
    let compose = yaml("docker-compose.yml");
    let names: BTreeSet<&str> = compose["services"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(names, SERVICES.iter().copied().collect());
    for name in SERVICES {
        let svc = service(&compose, name);
        let image = str_at(svc, &["image"]);
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest",
            "{name}: image `{image}` is not pinned to a version"
        );
    }
    let expected_images = [
        ("otel-collector", "otel/opentelemetry-collector-contrib:"),
        ("jaeger", "jaegertracing/all-in-one:"),
        ("prometheus", "prom/prometheus:"),
        ("grafana", "grafana/grafana:"),
        ("loki", "grafana/loki:"),
        ("vector", "timberio/vector:"),
        ("redis", "redis:"),
    ];
    for (name, prefix) in expected_images {
        let image = str_at(service(&compose, name), &["image"]);
        assert!(image.starts_with(prefix), "{name}: {image}");
    }
}

#[test]
fn compose_builds_the_gateway_image_with_node_for_the_stdio_upstream() {
    let compose = yaml("docker-compose.yml");
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    for name in ["portcullis", "everything"] {
        let svc = service(&compose, name);
        assert_eq!(str_at(svc, &["build", "context"]), ".");
        let target = str_at(svc, &["build", "target"]);
        assert!(
            dockerfile.contains(&format!(" AS {target}\n")),
            "{name}: the Dockerfile has no stage `{target}`"
        );
    }
    assert!(dockerfile.starts_with("# syntax=docker/dockerfile:1"));
    assert!(
        dockerfile.contains("FROM rust:1.95"),
        "builder on rust:1.95"
    );
    // The default target (the last stage) is the small non-root image.
    let last = dockerfile.rsplit("\nFROM ").next().unwrap();
    assert!(
        last.starts_with("gcr.io/distroless/cc-debian12:nonroot AS runtime"),
        "{last}"
    );
    assert!(last.contains("USER 65532:65532"));
    let with_node = dockerfile.split(" AS with-node\n").nth(1).unwrap();
    let with_node = with_node.split("\nFROM ").next().unwrap();
    assert!(with_node.contains("USER node"), "with-node runs as root");
    assert!(
        with_node.contains("server-everything@"),
        "stdio server not pinned"
    );
    for dir in [
        "COPY policies /etc/portcullis/policies",
        "COPY examples /etc/portcullis/examples",
    ] {
        assert!(last.contains(dir) && with_node.contains(dir), "{dir}");
    }
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    for line in ["target/", ".peers/", ".git/"] {
        assert!(
            ignore.lines().any(|l| l == line),
            ".dockerignore lacks {line}"
        );
    }
}

#[test]
fn compose_publishes_the_uis_and_keeps_admin_and_upstreams_private() {
    let compose = yaml("docker-compose.yml");
    let host_ports: BTreeSet<u16> = SERVICES
        .iter()
        .flat_map(|n| published(service(&compose, n)))
        .map(|(host, _)| host)
        .collect();
    // MCP, the token endpoint, Grafana, Prometheus, Jaeger; nothing else.
    assert_eq!(host_ports, BTreeSet::from([8080, 3000, 3001, 9090, 16686]));
    let gateway = service(&compose, "portcullis");
    assert_eq!(published(gateway), [(8080, 8080), (3000, 3000)]);
    assert_eq!(published(service(&compose, "prometheus")), [(9090, 9090)]);
    assert_eq!(published(service(&compose, "grafana")), [(3001, 3000)]);
    // The issuer is on the gateway's loopback: the provider shares its namespace.
    assert_eq!(
        str_at(service(&compose, "oidc"), &["network_mode"]),
        "service:portcullis"
    );
    // Upstream and Redis: only on the internal network, which only the gateway joins.
    assert_eq!(
        compose["networks"]["upstreams"]["internal"],
        Value::Bool(true)
    );
    for name in ["everything", "redis"] {
        assert_eq!(strings(&service(&compose, name)["networks"]), ["upstreams"]);
        assert!(published(service(&compose, name)).is_empty());
    }
    let on_upstreams: Vec<&str> = SERVICES
        .iter()
        .copied()
        .filter(|n| strings(&service(&compose, n)["networks"]).contains(&"upstreams".into()))
        .collect();
    assert_eq!(on_upstreams, ["portcullis", "everything", "redis"]);
}

#[test]
fn every_file_the_compose_stack_mounts_exists_in_the_repository() {
    let compose = yaml("docker-compose.yml");
    let mut mounted = 0;
    for name in SERVICES {
        for volume in strings(&service(&compose, name)["volumes"]) {
            let source = volume.split(':').next().unwrap();
            if !source.starts_with('.') {
                // A named volume, declared at the top level.
                assert!(
                    compose["volumes"][source].is_mapping(),
                    "{name}: volume `{source}` is not declared"
                );
                continue;
            }
            let path = repo().join(source);
            assert!(
                path.exists(),
                "{name} mounts {source}, which does not exist"
            );
            assert!(
                source.starts_with("./deploy/"),
                "{name} mounts {source}: keep mounted files under deploy/"
            );
            mounted += 1;
        }
    }
    assert!(mounted >= 10, "only {mounted} mounted files");
    // The files the provisioning points at inside the containers.
    let prometheus = yaml("deploy/compose/prometheus.yml");
    assert_eq!(
        strings(&prometheus["rule_files"]),
        ["/etc/prometheus/alerts.yml"]
    );
    let prom_volumes = strings(&service(&compose, "prometheus")["volumes"]);
    assert!(
        prom_volumes
            .contains(&"./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro".into())
    );
    let dashboards = yaml("deploy/compose/grafana/provisioning/dashboards/dashboards.yaml");
    assert_eq!(
        str_at(&dashboards["providers"][0], &["options", "path"]),
        "/var/lib/grafana/dashboards"
    );
    assert!(
        strings(&service(&compose, "grafana")["volumes"])
            .contains(&"./deploy/grafana:/var/lib/grafana/dashboards:ro".into())
    );
}

#[test]
fn compose_services_agree_on_addresses() {
    let compose = yaml("docker-compose.yml");
    let gateway = yaml("deploy/compose/portcullis.yaml");
    // Prometheus scrapes the gateway's admin listener.
    let prometheus = yaml("deploy/compose/prometheus.yml");
    let job = &prometheus["scrape_configs"][0];
    assert_eq!(str_at(job, &["metrics_path"]), "/metrics");
    let target = str_at(&job["static_configs"][0]["targets"][0], &[]);
    let admin_port = str_at(&gateway, &["admin", "address"])
        .rsplit(':')
        .next()
        .unwrap();
    assert_eq!(target, format!("portcullis:{admin_port}"));
    // The gateway's upstream is the `everything` service on its PORT.
    let port = str_at(service(&compose, "everything"), &["environment", "PORT"]);
    assert_eq!(
        str_at(&gateway, &["upstreams", "everything", "url"]),
        format!("http://everything:{port}/mcp")
    );
    // Issuer and resource: the provider's environment matches the gateway's.
    let oidc = &service(&compose, "oidc")["environment"];
    assert_eq!(
        str_at(oidc, &["ISSUER"]),
        str_at(&gateway["authentication"]["issuers"][0], &["issuer"])
    );
    assert_eq!(
        str_at(oidc, &["RESOURCE"]),
        str_at(&gateway, &["authentication", "resource"])
    );
    // The audit folder is the volume Vector tails.
    let audit_dir = str_at(&gateway, &["audit", "file", "directory"]);
    assert!(
        strings(&service(&compose, "portcullis")["volumes"])
            .contains(&format!("audit:{audit_dir}"))
    );
    assert!(
        strings(&service(&compose, "vector")["volumes"]).contains(&format!("audit:{audit_dir}:ro"))
    );
    let vector = yaml("deploy/compose/vector.yaml");
    assert_eq!(
        str_at(&vector["sources"]["audit"]["include"][0], &[]),
        format!("{audit_dir}/*.jsonl")
    );
    // Redis, the collector: names of compose services.
    for url in [
        str_at(&gateway, &["rate_limits", "redis", "url"]),
        str_at(&gateway, &["authentication", "revocation", "redis", "url"]),
        str_at(&gateway, &["authorization", "approvals", "redis", "url"]),
    ] {
        assert!(url.starts_with("redis://redis:6379/"), "{url}");
    }
    let otlp = str_at(&gateway, &["audit", "otlp", "endpoint"]);
    assert!(otlp.starts_with("http://otel-collector:4318/"), "{otlp}");
    // Traces over OTLP/gRPC to the collector's gRPC port.
    assert_eq!(str_at(&gateway, &["tracing", "protocol"]), "grpc");
    assert_eq!(
        str_at(&gateway, &["tracing", "endpoint"]),
        "http://otel-collector:4317"
    );
    let collector = yaml("deploy/compose/otel-collector.yaml");
    assert_eq!(
        str_at(
            &collector["receivers"]["otlp"]["protocols"]["grpc"],
            &["endpoint"]
        ),
        "0.0.0.0:4317"
    );
    assert_eq!(
        str_at(&collector["exporters"]["otlp/jaeger"], &["endpoint"]),
        "jaeger:4317"
    );
    let datasources = yaml("deploy/compose/grafana/provisioning/datasources/datasources.yaml");
    let urls: Vec<&str> = datasources["datasources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| str_at(d, &["url"]))
        .collect();
    assert_eq!(
        urls,
        [
            "http://prometheus:9090",
            "http://jaeger:16686",
            "http://loki:3100"
        ]
    );
}

#[test]
fn compose_gateway_configuration_passes_check() {
    // Relative paths resolve against the file's folder, /etc/portcullis in the
    // container, where the image ships policies/: the same layout here.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portcullis.yaml");
    std::fs::copy(repo().join("deploy/compose/portcullis.yaml"), &file).unwrap();
    std::os::unix::fs::symlink(repo().join("policies"), dir.path().join("policies")).unwrap();
    let out = check(&file).unwrap_or_else(|e| panic!("deploy/compose/portcullis.yaml: {e}"));
    assert!(out.contains(": OK"), "{out}");
    assert!(
        out.contains("everything (http://everything:3001/mcp)")
            && out.contains("local (stdio mcp-server-everything)"),
        "{out}"
    );
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_docker_builder_copies_every_file_the_binary_embeds() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let builder = dockerfile
        .split(" AS builder\n")
        .nth(1)
        .and_then(|s| s.split("\nFROM ").next())
        .expect("no builder stage");
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    let embed = regex::Regex::new(r#"include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)"#).unwrap();
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let mut embedded = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Test modules (at the bottom of a file) are not in the release binary.
        let shipped = text.split("#[cfg(test)]").next().unwrap();
        for found in embed.captures_iter(shipped) {
            let target = file.parent().unwrap().join(&found[1]);
            let target = target
                .canonicalize()
                .unwrap_or_else(|e| panic!("{} embeds {}: {e}", file.display(), target.display()));
            let rel = target.strip_prefix(repo()).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_str()
                .unwrap();
            assert!(
                builder.contains(&format!("\nCOPY {top} {top}\n")),
                "the builder stage does not copy {top}/, which {} embeds ({})",
                file.display(),
                rel.display()
            );
            assert!(
                !ignore.lines().any(|l| l.trim_end_matches('/') == top),
                ".dockerignore excludes {top}/, which the binary embeds"
            );
            embedded += 1;
        }
    }
    assert!(embedded >= 5, "found only {embedded} embedded files");
}
