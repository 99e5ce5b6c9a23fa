//! What a server advertises, page by page: which lists its capabilities
//! promise, and the bounded walk over `nextCursor`.
//!
//! Pure: [`Pager`] takes each page's result and says which cursor comes next.
//! Invariants: at most `max_pages` pages per list and `max_items` items over
//! all lists; a cursor the server already gave (a loop) ends the walk with an
//! error rather than spinning until the page cap.

use serde_json::Value;
use std::collections::HashSet;

/// One of the four lists a server can advertise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `tools/list`.
    Tools,
    /// `prompts/list`.
    Prompts,
    /// `resources/list`.
    Resources,
    /// `resources/templates/list`.
    ResourceTemplates,
}

impl ListKind {
    /// All four, in report order.
    pub const ALL: [ListKind; 4] = [
        ListKind::Tools,
        ListKind::Prompts,
        ListKind::Resources,
        ListKind::ResourceTemplates,
    ];

    /// The list method.
    pub fn method(self) -> &'static str {
        match self {
            ListKind::Tools => "tools/list",
            ListKind::Prompts => "prompts/list",
            ListKind::Resources => "resources/list",
            ListKind::ResourceTemplates => "resources/templates/list",
        }
    }

    /// The result's array field.
    pub fn field(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Prompts => "prompts",
            ListKind::Resources => "resources",
            ListKind::ResourceTemplates => "resourceTemplates",
        }
    }

    /// The kind of one item, as reports name it.
    pub fn item(self) -> &'static str {
        match self {
            ListKind::Tools => "tool",
            ListKind::Prompts => "prompt",
            ListKind::Resources => "resource",
            ListKind::ResourceTemplates => "resource_template",
        }
    }

    /// Whether the server's `capabilities` advertise this list.
    pub fn advertised(self, capabilities: &Value) -> bool {
        let key = match self {
            ListKind::Tools => "tools",
            ListKind::Prompts => "prompts",
            ListKind::Resources | ListKind::ResourceTemplates => "resources",
        };
        capabilities.get(key).is_some_and(|c| !c.is_null())
    }
}

/// Bounds on one scan's listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most pages per list.
    pub max_pages: usize,
    /// Most items over all lists.
    pub max_items: usize,
}

/// Why a listing was cut off or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// More pages than allowed.
    #[error("{method}: more than {max} page(s) (raise --max-pages to allow more)")]
    TooManyPages {
        /// The list method.
        method: &'static str,
        /// The bound.
        max: usize,
    },
    /// More items than allowed.
    #[error("{method}: more than {max} item(s) in all (raise --max-items to allow more)")]
    TooManyItems {
        /// The list method.
        method: &'static str,
        /// The bound.
        max: usize,
    },
    /// The result has no array under the list's field.
    #[error("{method}: bad response: no `{field}` array in the result")]
    NotAList {
        /// The list method.
        method: &'static str,
        /// The expected field.
        field: &'static str,
    },
    /// `nextCursor` is neither absent, null nor a string.
    #[error("{method}: bad response: `nextCursor` is not a string")]
    BadCursor {
        /// The list method.
        method: &'static str,
    },
    /// The server gave a cursor it had given before.
    #[error("{method}: the server repeated cursor `{cursor}` (a pagination loop)")]
    Loop {
        /// The list method.
        method: &'static str,
        /// The repeated cursor.
        cursor: String,
    },
}

/// The walk over one list's pages.
#[derive(Debug)]
pub struct Pager {
    kind: ListKind,
    limits: Limits,
    before: usize,
    pages: usize,
    items: Vec<Value>,
    cursors: HashSet<String>,
}

impl Pager {
    /// Starts listing `kind`; `before` items were already listed by earlier lists.
    pub fn new(kind: ListKind, limits: Limits, before: usize) -> Pager {
        Pager {
            kind,
            limits,
            before,
            pages: 0,
            items: Vec::new(),
            cursors: HashSet::new(),
        }
    }

    /// Takes one page's result; returns the cursor to ask for next, or `None`
    /// when the list is complete.
    pub fn take(&mut self, result: &Value) -> Result<Option<String>, ListError> {
        let method = self.kind.method();
        self.pages += 1;
        if self.pages > self.limits.max_pages {
            return Err(ListError::TooManyPages {
                method,
                max: self.limits.max_pages,
            });
        }
        let items = result
            .get(self.kind.field())
            .and_then(Value::as_array)
            .ok_or(ListError::NotAList {
                method,
                field: self.kind.field(),
            })?;
        if self.before + self.items.len() + items.len() > self.limits.max_items {
            return Err(ListError::TooManyItems {
                method,
                max: self.limits.max_items,
            });
        }
        self.items.extend(items.iter().cloned());
        match result.get("nextCursor") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(c)) if !self.cursors.insert(c.clone()) => Err(ListError::Loop {
                method,
                cursor: c.clone(),
            }),
            Some(Value::String(c)) => Ok(Some(c.clone())),
            Some(_) => Err(ListError::BadCursor { method }),
        }
    }

    /// The items listed.
    pub fn finish(self) -> Vec<Value> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: Limits = Limits {
        max_pages: 3,
        max_items: 5,
    };

    #[test]
    fn pages_are_followed_until_no_cursor_and_items_kept_in_order() {
        let mut p = Pager::new(ListKind::Tools, LIMITS, 0);
        let next = p
            .take(&json!({"tools": [{"name": "a"}], "nextCursor": "2"}))
            .unwrap();
        assert_eq!(next.as_deref(), Some("2"));
        assert_eq!(
            p.take(&json!({"tools": [{"name": "b"}], "nextCursor": null}))
                .unwrap(),
            None
        );
        assert_eq!(p.finish(), vec![json!({"name": "a"}), json!({"name": "b"})]);
    }

    #[test]
    fn a_page_past_the_page_cap_is_an_error() {
        let mut p = Pager::new(ListKind::Prompts, LIMITS, 0);
        for i in 0..3 {
            p.take(&json!({"prompts": [], "nextCursor": i.to_string()}))
                .unwrap();
        }
        let e = p
            .take(&json!({"prompts": [], "nextCursor": "x"}))
            .unwrap_err();
        assert_eq!(
            e,
            ListError::TooManyPages {
                method: "prompts/list",
                max: 3
            }
        );
        assert!(e.to_string().contains("--max-pages"));
    }

    #[test]
    fn items_count_across_lists_against_the_item_cap() {
        let mut p = Pager::new(ListKind::Resources, LIMITS, 4);
        assert_eq!(p.take(&json!({"resources": [{}]})).unwrap(), None);
        let mut p = Pager::new(ListKind::Resources, LIMITS, 4);
        assert!(matches!(
            p.take(&json!({"resources": [{}, {}]})),
            Err(ListError::TooManyItems { max: 5, .. })
        ));
    }

    #[test]
    fn a_repeated_cursor_is_a_loop_not_a_spin() {
        let mut p = Pager::new(ListKind::Tools, LIMITS, 0);
        p.take(&json!({"tools": [], "nextCursor": "same"})).unwrap();
        assert!(matches!(
            p.take(&json!({"tools": [], "nextCursor": "same"})),
            Err(ListError::Loop { .. })
        ));
    }

    #[test]
    fn malformed_pages_are_refused() {
        let mut p = Pager::new(ListKind::ResourceTemplates, LIMITS, 0);
        assert!(matches!(
            p.take(&json!({"resources": []})),
            Err(ListError::NotAList {
                field: "resourceTemplates",
                ..
            })
        ));
        let mut p = Pager::new(ListKind::Tools, LIMITS, 0);
        assert!(matches!(
            p.take(&json!({"tools": [], "nextCursor": 7})),
            Err(ListError::BadCursor { .. })
        ));
    }

    #[test]
    fn lists_are_advertised_by_their_capability() {
        let caps = json!({"tools": {}, "resources": {"subscribe": true}});
        assert!(ListKind::Tools.advertised(&caps));
        assert!(!ListKind::Prompts.advertised(&caps));
        assert!(ListKind::ResourceTemplates.advertised(&caps));
    }
}
