//! Collision-free names for tools and prompts of several upstreams.
//!
//! Each upstream has a prefix (its name by default): the client sees
//! `<prefix><separator><name>`, for example `github__search`. A single upstream
//! may have no prefix, in which case names pass unchanged. Prefixes are unique,
//! use only `[A-Za-z0-9_.-]`, and never contain the separator, so that a name
//! maps back to exactly one upstream.

/// The naming scheme of one federation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    prefixes: Vec<Option<String>>,
    separator: String,
}

/// Why a naming scheme is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    /// An empty or unusable separator.
    #[error("the separator must be 1 to 8 characters of `_`, `.`, `-` or `:`")]
    Separator,
    /// A prefix with unusable characters or containing the separator.
    #[error("prefix `{0}` must be letters, digits, `_`, `.` or `-`, without the separator")]
    Prefix(String),
    /// Two upstreams share a prefix.
    #[error("prefix `{0}` is used by two upstreams")]
    Duplicate(String),
    /// An upstream without a prefix next to others.
    #[error("only a single upstream may have no prefix")]
    Unprefixed,
}

impl Naming {
    /// One entry per upstream, in configuration order.
    pub fn new(prefixes: Vec<Option<String>>, separator: &str) -> Result<Naming, NamingError> {
        let sep_ok = (1..=8).contains(&separator.len())
            && separator
                .bytes()
                .all(|b| matches!(b, b'_' | b'.' | b'-' | b':'));
        if !sep_ok {
            return Err(NamingError::Separator);
        }
        let mut seen: Vec<&str> = Vec::new();
        for prefix in &prefixes {
            match prefix {
                None if prefixes.len() > 1 => return Err(NamingError::Unprefixed),
                None => {}
                Some(p) => {
                    let ok = !p.is_empty()
                        && !p.contains(separator)
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
                    if !ok {
                        return Err(NamingError::Prefix(p.clone()));
                    }
                    if seen.contains(&p.as_str()) {
                        return Err(NamingError::Duplicate(p.clone()));
                    }
                    seen.push(p);
                }
            }
        }
        Ok(Naming {
            prefixes,
            separator: separator.to_owned(),
        })
    }

    /// The name a client sees for `name` of upstream `index`.
    pub fn outward(&self, index: usize, name: &str) -> String {
        match self.prefixes.get(index).and_then(Option::as_deref) {
            Some(prefix) => format!("{prefix}{}{name}", self.separator),
            None => name.to_owned(),
        }
    }

    /// Which upstream a client-side name belongs to, and its name there.
    pub fn inward<'a>(&self, name: &'a str) -> Option<(usize, &'a str)> {
        if let [None] = self.prefixes.as_slice() {
            return Some((0, name));
        }
        let (prefix, rest) = name.split_once(self.separator.as_str())?;
        let index = self
            .prefixes
            .iter()
            .position(|p| p.as_deref() == Some(prefix))?;
        Some((index, rest))
    }

    /// Whether names pass unchanged (one upstream, no prefix).
    pub fn is_identity(&self) -> bool {
        matches!(self.prefixes.as_slice(), [None])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn names_round_trip_to_their_upstream() {
        let n = Naming::new(vec![p("github"), p("files")], "__").unwrap();
        assert_eq!(n.outward(1, "read"), "files__read");
        assert_eq!(n.inward("files__read"), Some((1, "read")));
        assert_eq!(n.inward("files__read__deep"), Some((1, "read__deep")));
        assert_eq!(n.inward("other__read"), None);
        assert_eq!(n.inward("read"), None);
        assert!(!n.is_identity());
    }

    #[test]
    fn a_single_unprefixed_upstream_passes_names_unchanged() {
        let n = Naming::new(vec![None], "__").unwrap();
        assert_eq!(n.outward(0, "a__b"), "a__b");
        assert_eq!(n.inward("a__b"), Some((0, "a__b")));
        assert!(n.is_identity());
    }

    #[test]
    fn ambiguous_schemes_are_refused() {
        assert_eq!(
            Naming::new(vec![None, p("x")], "__"),
            Err(NamingError::Unprefixed)
        );
        assert_eq!(
            Naming::new(vec![p("x"), p("x")], "__"),
            Err(NamingError::Duplicate("x".into()))
        );
        assert_eq!(
            Naming::new(vec![p("a__b")], "__"),
            Err(NamingError::Prefix("a__b".into()))
        );
        assert_eq!(
            Naming::new(vec![p("a b")], "__"),
            Err(NamingError::Prefix("a b".into()))
        );
        assert_eq!(Naming::new(vec![p("a")], ""), Err(NamingError::Separator));
    }
}
