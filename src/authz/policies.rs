//! Loading a policy set: the `*.cedar` files and the `*.cedarschema`, parsed,
//! validated against the schema in strict mode, identified and versioned.
//!
//! Invariants: a set that loads has no parse or validation error; every
//! error names the file, line and column; each policy's id is its `@id`
//! annotation or `FILE:N` (its position in the file), unique across files; the
//! version is the SHA-256 of the schema and the policy files (names and bytes),
//! so the same files always give the same version and any change a new one.

use super::arguments::ArgType;
use cedar_policy::{
    ActionConstraint, Effect, EntityUid, Policy, PolicyId, PolicySet, ResourceConstraint, Schema,
    ValidationMode, Validator,
};
use miette::Diagnostic;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why a policy set did not load. Each names a file and, when known, a position.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file or folder could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A problem located in a file.
    #[error("{}{}: {message}", file.display(), position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    At {
        /// The file.
        file: PathBuf,
        /// 1-based line and column.
        position: Option<(usize, usize)>,
        /// What is wrong.
        message: String,
    },
}

/// What is known about one policy, for explanations and approvals.
#[derive(Debug, Clone)]
pub struct PolicyInfo {
    /// The file it is in.
    pub file: PathBuf,
    /// Its 1-based line.
    pub line: usize,
    /// Permit or forbid.
    pub effect: Effect,
    /// Its `@approval` annotation (the reason shown to approvers), if any.
    pub approval: Option<String>,
    /// Its `@reason` annotation, if any.
    pub reason: Option<String>,
}

/// A loaded, validated policy set.
#[derive(Debug)]
pub struct LoadedPolicies {
    /// Every policy.
    pub set: PolicySet,
    /// The schema.
    pub schema: Schema,
    /// Facts per policy id.
    pub info: HashMap<PolicyId, PolicyInfo>,
    /// `sha256:` and the hex digest of the schema and policy files.
    pub version: String,
    /// The declared `Mcp::Arguments` type.
    pub arguments: ArgType,
    /// Files read, for reload watching.
    pub files: Vec<PathBuf>,
}

/// Loads `paths` (files or folders of `*.cedar`) with `schema` (or the single
/// `*.cedarschema` found among them).
pub fn load(paths: &[PathBuf], schema: Option<&Path>) -> Result<LoadedPolicies, PolicyError> {
    let (mut cedar, mut schemas) = (Vec::new(), Vec::new());
    for path in paths {
        collect(path, &mut cedar, &mut schemas)?;
    }
    let schema_file = match schema {
        Some(s) => s.to_path_buf(),
        None => match schemas.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(PolicyError::At {
                    file: paths.first().cloned().unwrap_or_default(),
                    position: None,
                    message: format!(
                        "expected exactly one *.cedarschema among the policy paths, found {}; \
                         name it with `authorization.schema`",
                        schemas.len()
                    ),
                });
            }
        },
    };
    cedar.sort();
    let sources: Vec<(PathBuf, String)> = std::iter::once(&schema_file)
        .chain(cedar.iter())
        .map(|p| read(p).map(|t| (p.clone(), t)))
        .collect::<Result<_, _>>()?;
    let (schema_text, policy_texts) = match sources.split_first() {
        Some((s, rest)) => (s, rest),
        None => unreachable_empty()?,
    };
    compile(schema_text, policy_texts)
}

fn unreachable_empty<T>() -> Result<T, PolicyError> {
    Err(PolicyError::At {
        file: PathBuf::new(),
        position: None,
        message: "no schema".into(),
    })
}

/// Compiles already-read texts: `(file, text)` of the schema and of each
/// policy file.
pub fn compile(
    schema: &(PathBuf, String),
    policies: &[(PathBuf, String)],
) -> Result<LoadedPolicies, PolicyError> {
    let (schema_file, schema_text) = schema;
    let (parsed, _warnings) = Schema::from_cedarschema_str(schema_text)
        .map_err(|e| located(schema_file, schema_text, &e, e.to_string()))?;
    let fragment = cedar_policy::SchemaFragment::from_cedarschema_str(schema_text)
        .map_err(|e| located(schema_file, schema_text, &e, e.to_string()))?
        .0;
    let arguments = super::arguments::declared(&fragment).map_err(|message| PolicyError::At {
        file: schema_file.clone(),
        position: None,
        message,
    })?;
    let mut set = PolicySet::new();
    let mut info = HashMap::new();
    let mut origin: HashMap<PolicyId, usize> = HashMap::new();
    let mut hash = Sha256::new();
    hash.update(schema_text.as_bytes());
    for (index, (file, text)) in policies.iter().enumerate() {
        hash.update(
            file.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        hash.update([0]);
        hash.update(text.as_bytes());
        let parsed_file: PolicySet = text
            .parse()
            .map_err(|e: cedar_policy::ParseErrors| located(file, text, &e, e.to_string()))?;
        let stem = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let starts = policy_starts(text);
        let mut policies: Vec<(usize, &Policy)> = parsed_file
            .policies()
            .map(|p| (source_index(p), p))
            .collect();
        policies.sort_by_key(|(n, _)| *n);
        for (n, policy) in policies {
            let line = starts.get(n).map_or(1, |s| line_col(text, *s).0);
            let id = PolicyId::new(
                policy
                    .annotation("id")
                    .map_or_else(|| format!("{stem}:{}", n + 1), str::to_owned),
            );
            if info.contains_key(&id) {
                return Err(PolicyError::At {
                    file: file.clone(),
                    position: Some((line, 1)),
                    message: format!("policy id `{id}` is used twice"),
                });
            }
            info.insert(
                id.clone(),
                PolicyInfo {
                    file: file.clone(),
                    line,
                    effect: policy.effect(),
                    approval: policy.annotation("approval").map(str::to_owned),
                    reason: policy.annotation("reason").map(str::to_owned),
                },
            );
            origin.insert(id.clone(), index);
            set.add(policy.new_id(id)).map_err(|e| PolicyError::At {
                file: file.clone(),
                position: Some((line, 1)),
                message: e.to_string(),
            })?;
        }
    }
    let result = Validator::new(parsed.clone()).validate(&set, ValidationMode::Strict);
    if let Some(error) = result.validation_errors().next() {
        let index = origin.get(error.policy_id()).copied().unwrap_or(0);
        let (file, text) = policies
            .get(index)
            .map_or((schema_file, schema_text), |(f, t)| (f, t));
        return Err(located(file, text, error, error.to_string()));
    }
    let mut version = String::from("sha256:");
    for byte in hash.finalize() {
        let _ = write!(version, "{byte:02x}");
    }
    Ok(LoadedPolicies {
        set,
        schema: parsed,
        info,
        version,
        arguments,
        files: std::iter::once(schema_file.clone())
            .chain(policies.iter().map(|(f, _)| f.clone()))
            .collect(),
    })
}

/// Splits `set` by the action each policy applies to: a policy whose scope
/// names actions goes to each of them, one without goes to every one. The
/// evaluator then reads only the policies that can apply.
pub fn by_action(
    set: &PolicySet,
    actions: &[EntityUid],
) -> HashMap<EntityUid, Slices, foldhash::fast::RandomState> {
    let mut general: HashMap<EntityUid, Vec<Policy>> =
        actions.iter().map(|a| (a.clone(), Vec::new())).collect();
    let mut specific: HashMap<EntityUid, HashMap<EntityUid, Vec<Policy>>> = HashMap::new();
    for policy in set.policies() {
        let applies: Vec<&EntityUid> = match policy.action_constraint() {
            ActionConstraint::Any => actions.iter().collect(),
            ActionConstraint::Eq(a) => actions.iter().filter(|x| **x == a).collect(),
            ActionConstraint::In(list) => actions.iter().filter(|x| list.contains(x)).collect(),
        };
        for action in applies {
            match policy.resource_constraint() {
                ResourceConstraint::Eq(resource) => specific
                    .entry(action.clone())
                    .or_default()
                    .entry(resource)
                    .or_default()
                    .push(policy.clone()),
                _ => general
                    .entry(action.clone())
                    .or_default()
                    .push(policy.clone()),
            }
        }
    }
    // Ids are unique in `set`, so adding to a slice cannot clash.
    let set_of = |policies: &[&Policy]| {
        let mut s = PolicySet::new();
        for p in policies {
            let _ = s.add((*p).clone());
        }
        s
    };
    general
        .into_iter()
        .map(|(action, common)| {
            let by_resource = specific
                .remove(&action)
                .unwrap_or_default()
                .into_iter()
                .map(|(resource, own)| {
                    let both: Vec<&Policy> = common.iter().chain(own.iter()).collect();
                    (resource, set_of(&both))
                })
                .collect();
            let common: Vec<&Policy> = common.iter().collect();
            let slices = Slices {
                general: set_of(&common),
                by_resource,
            };
            (action, slices)
        })
        .collect()
}

/// The policies of one action, sliced by resource: a policy whose scope says
/// `resource == X` can only be satisfied by a request for `X`, so a request
/// for any other resource need not evaluate it (the result is the same; with
/// many per-tool policies, evaluation no longer grows with their number).
#[derive(Debug, Clone)]
pub struct Slices {
    general: PolicySet,
    /// Looked up on every decision; keyed by the policies' own scopes, so a
    /// seeded fast hash will do.
    by_resource: HashMap<EntityUid, PolicySet, foldhash::fast::RandomState>,
}

impl Slices {
    /// The policies that can apply to a request for `resource`.
    pub fn for_resource(&self, resource: &EntityUid) -> &PolicySet {
        self.by_resource.get(resource).unwrap_or(&self.general)
    }

    /// The resources some policy scope of this action names.
    pub fn named(&self) -> impl Iterator<Item = &EntityUid> {
        self.by_resource.keys()
    }

    /// Whether `set` is the slice of the resources no policy scope names
    /// (`resource == …`).
    pub fn is_general(&self, set: &PolicySet) -> bool {
        std::ptr::eq(set, &self.general)
    }
}

fn collect(
    path: &Path,
    cedar: &mut Vec<PathBuf>,
    schemas: &mut Vec<PathBuf>,
) -> Result<(), PolicyError> {
    let meta = std::fs::metadata(path).map_err(|source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        match path.extension().and_then(|e| e.to_str()) {
            Some("cedarschema") => schemas.push(path.to_path_buf()),
            _ => cedar.push(path.to_path_buf()),
        }
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let p = entry.path();
        match p.extension().and_then(|e| e.to_str()) {
            Some("cedar") => cedar.push(p),
            Some("cedarschema") => schemas.push(p),
            _ => {}
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The parser names a file's policies `policy0`, `policy1`, … in source order.
fn source_index(policy: &Policy) -> usize {
    policy
        .id()
        .to_string()
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Byte offsets where each policy of a file starts (its first annotation or
/// effect keyword): top-level `;` end policies; comments and strings are skipped.
fn policy_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let (mut starts, mut i, mut open) = (Vec::new(), 0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            c => {
                if !open {
                    starts.push(i);
                    open = true;
                }
                if c == b'"' {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                } else if c == b';' {
                    open = false;
                }
            }
        }
        i += 1;
    }
    starts
}

/// An error at the first labelled offset of a diagnostic, as file:line:column.
fn located(file: &Path, text: &str, diagnostic: &dyn Diagnostic, message: String) -> PolicyError {
    let offset = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| l.offset());
    let message = match diagnostic.help() {
        Some(help) => format!("{message} ({help})"),
        None => message,
    };
    PolicyError::At {
        file: file.to_path_buf(),
        position: offset.map(|o| line_col(text, o)),
        message,
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> (PathBuf, String) {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/mcp.cedarschema"
        ))
        .unwrap();
        ("mcp.cedarschema".into(), text)
    }

    #[test]
    fn a_validation_error_names_file_line_and_column() {
        let text = "permit (principal, action, resource);\n\npermit (principal, action == Mcp::Action::\"tools/call\", resource)\n  when { resource.colour == \"red\" };\n";
        let err = compile(&schema(), &[("p.cedar".into(), text.into())])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.cedar:4:10"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn a_parse_error_names_file_line_and_column() {
        let text = "permit (principal, action, resource)\n  when { resource.name == };\n";
        let err = compile(&schema(), &[("q.cedar".into(), text.into())])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("q.cedar:2:"), "{err}");
    }

    #[test]
    fn policies_are_named_by_id_annotation_or_file_position() {
        let text = "@id(\"readers\")\npermit (principal, action, resource);\nforbid (principal, action, resource) when { false };\n";
        let loaded = compile(&schema(), &[("a.cedar".into(), text.into())]).unwrap();
        let ids: Vec<String> = loaded.set.policies().map(|p| p.id().to_string()).collect();
        assert!(
            ids.contains(&"readers".to_owned()) && ids.contains(&"a.cedar:2".to_owned()),
            "{ids:?}"
        );
        assert_eq!(loaded.info[&PolicyId::new("a.cedar:2")].line, 3);
        assert_eq!(loaded.info[&PolicyId::new("readers")].line, 1);
    }

    #[test]
    fn the_version_changes_with_any_byte_and_only_then() {
        let one = compile(
            &schema(),
            &[(
                "a.cedar".into(),
                "permit (principal, action, resource);".into(),
            )],
        )
        .unwrap();
        let same = compile(
            &schema(),
            &[(
                "a.cedar".into(),
                "permit (principal, action, resource);".into(),
            )],
        )
        .unwrap();
        let other = compile(
            &schema(),
            &[(
                "a.cedar".into(),
                "permit (principal, action, resource); ".into(),
            )],
        )
        .unwrap();
        assert_eq!(one.version, same.version);
        assert_ne!(one.version, other.version);
        assert!(one.version.starts_with("sha256:") && one.version.len() == 71);
    }

    #[test]
    fn duplicate_ids_across_files_are_refused() {
        let p = "@id(\"x\")\npermit (principal, action, resource);";
        let err = compile(
            &schema(),
            &[("a.cedar".into(), p.into()), ("b.cedar".into(), p.into())],
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("b.cedar:1:1: policy id `x`"),
            "{err}"
        );
    }
}
