//! Noticing configuration changes: the watched files' contents are compared with
//! what was last loaded (content, not timestamps, so a touch is not a change and
//! an atomic rename is). The caller decides what to do with a new runtime.

use std::path::PathBuf;

/// The contents of the watched files as last seen.
#[derive(Debug)]
pub struct FileWatch {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl FileWatch {
    /// Starts watching `paths`, remembering their current contents.
    pub fn new(paths: &[PathBuf]) -> FileWatch {
        FileWatch {
            files: paths
                .iter()
                .map(|p| (p.clone(), std::fs::read(p).ok()))
                .collect(),
        }
    }

    /// Re-reads the files; true when any differs from the last call. A file that
    /// changed into something invalid is reported once, not on every poll.
    pub fn changed(&mut self) -> bool {
        let mut changed = false;
        for (path, seen) in &mut self.files {
            let now = std::fs::read(&*path).ok();
            if now != *seen {
                *seen = now;
                changed = true;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_changes_are_noticed_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.yaml");
        std::fs::write(&f, "a").unwrap();
        let mut w = FileWatch::new(std::slice::from_ref(&f));
        assert!(!w.changed());
        std::fs::write(&f, "a").unwrap();
        assert!(!w.changed(), "same content is not a change");
        std::fs::write(&f, "b").unwrap();
        assert!(w.changed());
        assert!(!w.changed());
        std::fs::remove_file(&f).unwrap();
        assert!(w.changed());
    }
}
