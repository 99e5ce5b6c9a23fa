//! deploy/kubernetes: several replicas with no session affinity, probes on the
//! admin listener, a PodDisruptionBudget, hardened pods, the ConfigMap/Secret
//! split, and NetworkPolicies that admit only gateway pods to the upstreams.
//! The manifests are parsed as written (every file of kustomization.yaml), and
//! rendered with `kubectl kustomize` where kubectl is installed.

use super::{check, str_at, yaml};
use crate::support::peers::repo;
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

const DIR: &str = "deploy/kubernetes";

/// Every object of the kustomization's resources.
fn objects() -> Vec<Value> {
    let kustomization = yaml(&format!("{DIR}/kustomization.yaml"));
    let mut all = Vec::new();
    for file in kustomization["resources"].as_sequence().unwrap() {
        let path = repo().join(DIR).join(file.as_str().unwrap());
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc).unwrap();
            if !value.is_null() {
                all.push(value);
            }
        }
    }
    all
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {DIR}"))
}

fn all_of<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// Whether `selector` (a label map) selects a pod with `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_mapping().cloned().unwrap_or_else(Mapping::new);
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn gateway_pod(objects: &[Value]) -> &Value {
    &find(objects, "Deployment", "portcullis")["spec"]["template"]
}

#[test]
fn kubernetes_gateway_runs_several_replicas_without_session_affinity() {
    let objects = objects();
    let deployment = find(&objects, "Deployment", "portcullis");
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
    assert!(replicas >= 2, "replicas: {replicas}");
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );
    let labels = &gateway_pod(&objects)["metadata"]["labels"];
    assert!(selects(
        &deployment["spec"]["selector"]["matchLabels"],
        labels
    ));
    let services = all_of(&objects, "Service");
    assert!(services.len() >= 4, "{} services", services.len());
    for service in services {
        let name = str_at(service, &["metadata", "name"]);
        let affinity = service["spec"]["sessionAffinity"]
            .as_str()
            .unwrap_or("None");
        assert_eq!(
            affinity, "None",
            "Service {name} pins sessions to a replica"
        );
    }
    let front = find(&objects, "Service", "portcullis");
    assert!(selects(&front["spec"]["selector"], labels));
    let ports: Vec<&str> = front["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| str_at(p, &["targetPort"]))
        .collect();
    assert_eq!(
        ports,
        ["mcp"],
        "the client Service exposes only the MCP port"
    );
}

#[test]
fn kubernetes_probes_hit_the_admin_listener_and_pods_are_hardened() {
    let objects = objects();
    let pod = &gateway_pod(&objects)["spec"];
    let container = &pod["containers"][0];
    let config = yaml(&format!("{DIR}/config/portcullis.yaml"));
    let admin_port: u64 = str_at(&config, &["admin", "address"])
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let listen_port: u64 = str_at(&config, &["listen", "address"])
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let port_of = |name: &str| {
        container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("no container port {name}"))
    };
    assert_eq!(port_of("admin"), admin_port);
    assert_eq!(port_of("mcp"), listen_port);
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(str_at(&container[probe], &["httpGet", "path"]), path);
        assert_eq!(str_at(&container[probe], &["httpGet", "port"]), "admin");
    }
    for what in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                !container["resources"][what][resource].is_null(),
                "no {what}.{resource}"
            );
        }
    }
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(pod["securityContext"]["runAsUser"], 0);
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    // Every pod of the deployment is non-root with a read-only root.
    for d in all_of(&objects, "Deployment") {
        let name = str_at(d, &["metadata", "name"]);
        let spec = &d["spec"]["template"]["spec"];
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "{name}");
        for c in spec["containers"].as_sequence().unwrap() {
            assert_eq!(
                c["securityContext"]["readOnlyRootFilesystem"], true,
                "{name}"
            );
            assert!(!c["resources"]["requests"].is_null(), "{name}: no requests");
        }
    }
    // The ConfigMap's file is the one the container is told to load.
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let mount = |volume: &str| {
        container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["name"] == volume)
            .map(|m| str_at(m, &["mountPath"]).to_owned())
            .unwrap_or_else(|| panic!("volume {volume} not mounted"))
    };
    assert_eq!(
        args,
        [
            "serve",
            "--config",
            &format!("{}/portcullis.yaml", mount("config"))
        ]
    );
    let volumes = pod["volumes"].as_sequence().unwrap();
    let volume = |name: &str| volumes.iter().find(|v| v["name"] == name).unwrap();
    assert_eq!(
        str_at(volume("config"), &["configMap", "name"]),
        "portcullis-config"
    );
    assert_eq!(
        str_at(volume("secrets"), &["secret", "secretName"]),
        "portcullis-secrets"
    );
    // Every file the configuration reads from a secret is in that Secret.
    let secret = find(&objects, "Secret", "portcullis-secrets");
    let secrets_dir = mount("secrets");
    let text = std::fs::read_to_string(repo().join(DIR).join("config/portcullis.yaml")).unwrap();
    let mut read = 0;
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix(&format!("file: {secrets_dir}/")) {
            assert!(
                !secret["stringData"][rest].is_null(),
                "the configuration reads {rest}, which the Secret lacks"
            );
            read += 1;
        }
    }
    assert!(read >= 2, "the configuration reads no key from the Secret");
}

#[test]
fn kubernetes_disruption_budget_keeps_gateways_serving() {
    let objects = objects();
    let pdb = find(&objects, "PodDisruptionBudget", "portcullis");
    assert!(selects(
        &pdb["spec"]["selector"]["matchLabels"],
        &gateway_pod(&objects)["metadata"]["labels"]
    ));
    let replicas = find(&objects, "Deployment", "portcullis")["spec"]["replicas"]
        .as_u64()
        .unwrap();
    let min = pdb["spec"]["minAvailable"].as_u64().unwrap();
    assert!(
        min >= 1 && min < replicas,
        "minAvailable {min} of {replicas}"
    );
}

#[test]
fn kubernetes_network_policy_admits_only_gateway_pods_to_upstreams_and_redis() {
    let objects = objects();
    let gateway_labels = &gateway_pod(&objects)["metadata"]["labels"];
    let policies = all_of(&objects, "NetworkPolicy");
    // Every pod that is not the gateway (upstreams, Redis) is covered by a
    // policy whose every ingress peer is a gateway pod selector.
    let others: Vec<&Value> = all_of(&objects, "Deployment")
        .into_iter()
        .filter(|d| d["metadata"]["name"] != "portcullis")
        .collect();
    assert!(others.len() >= 2);
    for other in others {
        let name = str_at(other, &["metadata", "name"]);
        let labels = &other["spec"]["template"]["metadata"]["labels"];
        let covering: Vec<&&Value> = policies
            .iter()
            .filter(|p| selects(&p["spec"]["podSelector"]["matchLabels"], labels))
            .collect();
        assert!(!covering.is_empty(), "no NetworkPolicy selects {name}");
        for policy in covering {
            let pname = str_at(policy, &["metadata", "name"]);
            assert_eq!(policy["spec"]["policyTypes"][0], "Ingress", "{pname}");
            let rules = policy["spec"]["ingress"].as_sequence().unwrap();
            assert!(!rules.is_empty(), "{pname}");
            for rule in rules {
                let peers = rule["from"]
                    .as_sequence()
                    .unwrap_or_else(|| panic!("{pname}: a rule without `from` admits everyone"));
                for peer in peers {
                    let keys: Vec<&str> = peer
                        .as_mapping()
                        .unwrap()
                        .keys()
                        .map(|k| k.as_str().unwrap())
                        .collect();
                    assert_eq!(keys, ["podSelector"], "{pname}: {peer:?}");
                    assert!(
                        selects(&peer["podSelector"]["matchLabels"], gateway_labels),
                        "{pname} admits pods other than the gateway's"
                    );
                }
            }
        }
    }
    // The example upstream carries the label that the upstream policy selects on.
    let upstream = find(&objects, "Deployment", "mcp-everything");
    assert_eq!(
        upstream["spec"]["template"]["metadata"]["labels"]["portcullis.dev/upstream"],
        "true"
    );
}

#[test]
fn kubernetes_configmap_carries_the_shipped_policies() {
    let kustomization = yaml(&format!("{DIR}/kustomization.yaml"));
    let generator = &kustomization["configMapGenerator"][0];
    assert_eq!(generator["name"], "portcullis-config");
    let files: Vec<&str> = generator["files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains(&"config/portcullis.yaml"));
    // Kustomize reads only inside its folder, so the policies are copies: they
    // must stay identical to the ones the project tests.
    for (copy, original) in [
        ("config/base.cedar", "policies/examples/base.cedar"),
        (
            "config/read-only.cedar",
            "policies/examples/read-only.cedar",
        ),
        ("config/mcp.cedarschema", "policies/mcp.cedarschema"),
    ] {
        assert!(files.contains(&copy), "{copy} not in the ConfigMap");
        let a = std::fs::read(repo().join(DIR).join(copy)).unwrap();
        let b = std::fs::read(repo().join(original)).unwrap();
        assert!(a == b, "{DIR}/{copy} differs from {original}");
    }
    // No key material in the ConfigMap's files.
    for file in &files {
        let text = std::fs::read_to_string(repo().join(DIR).join(file)).unwrap();
        assert!(
            !text.contains("BEGIN PRIVATE KEY") && !text.contains("value:"),
            "{file}"
        );
    }
}

/// The Kubernetes configuration in a folder laid out like the pod's: the
/// ConfigMap's files, and the Secret's files with the given values.
fn pod_layout(dir: &Path, secrets: &[(&str, &str)]) -> std::path::PathBuf {
    let config = dir.join("config");
    let secret_dir = dir.join("secrets");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::create_dir_all(&secret_dir).unwrap();
    for entry in std::fs::read_dir(repo().join(DIR).join("config")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), config.join(entry.file_name())).unwrap();
    }
    for (name, value) in secrets {
        std::fs::write(secret_dir.join(name), value).unwrap();
    }
    let file = config.join("portcullis.yaml");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "/etc/portcullis/secrets/",
        &format!("{}/", secret_dir.display()),
    );
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn kubernetes_configuration_passes_check_with_real_keys_and_refuses_the_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let key = "q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng=";
    let file = pod_layout(
        dir.path(),
        &[
            ("session-key-1", key),
            ("upstream-everything-token", "t0ken"),
        ],
    );
    let out = check(&file).unwrap_or_else(|e| panic!("{DIR}/config/portcullis.yaml: {e}"));
    assert!(
        out.contains("everything (http://mcp-everything:3001/mcp)"),
        "{out}"
    );
    // The Secret as committed: the gateway refuses to start (fails closed).
    let objects = objects();
    let secret = &find(&objects, "Secret", "portcullis-secrets")["stringData"];
    let placeholder = str_at(secret, &["session-key-1"]);
    let dir = tempfile::tempdir().unwrap();
    let file = pod_layout(
        dir.path(),
        &[
            ("session-key-1", placeholder),
            (
                "upstream-everything-token",
                str_at(secret, &["upstream-everything-token"]),
            ),
        ],
    );
    let err = check(&file).expect_err("the placeholder session key was accepted");
    assert!(err.contains("sessions.keys"), "{err}");
}

#[test]
fn kubernetes_manifests_render_with_kustomize() {
    let Ok(out) = std::process::Command::new("kubectl")
        .args(["kustomize", DIR])
        .current_dir(repo())
        .output()
    else {
        eprintln!(
            "kubectl is not installed: the kustomize rendering is NOT checked (the manifests are still parsed)"
        );
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rendered: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect();
    assert!(
        rendered
            .iter()
            .all(|o| o["metadata"]["namespace"] == "portcullis" || o["kind"] == "Namespace")
    );
    let config_map = rendered
        .iter()
        .find(|o| o["kind"] == "ConfigMap")
        .expect("no ConfigMap rendered");
    let name = str_at(config_map, &["metadata", "name"]);
    let file = std::fs::read_to_string(repo().join(DIR).join("config/portcullis.yaml")).unwrap();
    assert_eq!(str_at(config_map, &["data", "portcullis.yaml"]), file);
    // The Deployment mounts the generated (content-hashed) name.
    let deployment = rendered
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "portcullis")
        .unwrap();
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap();
    assert!(
        volumes.iter().any(|v| v["configMap"]["name"] == name),
        "{name}"
    );
    let image = str_at(
        &deployment["spec"]["template"]["spec"]["containers"][0],
        &["image"],
    );
    assert!(
        image.contains(':') && !image.ends_with(":latest"),
        "{image}"
    );
}
