//! Two sets of objects (what is committed, what nbgen renders) → per-object changes with unified
//! diffs. Objects are matched by identity, never by position or path. Pure: no I/O.

use crate::object::ObjectId;
use crate::review::snapshot::{Found, Note, Sides, Snapshot};
use serde::Serialize;
use similar::{ChangeTag, TextDiff};
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Changed,
    Removed,
}

impl Change {
    /// `+`, `~`, `-`: the mark in front of an object's header.
    pub fn mark(self) -> char {
        match self {
            Change::Added => '+',
            Change::Changed => '~',
            Change::Removed => '-',
        }
    }
}

/// One object that differs.
#[derive(Clone, Debug)]
pub struct ObjectDiff {
    pub id: ObjectId,
    pub change: Change,
    /// Where the object is now (relative to `out/<env>/`); `None` when added.
    pub old_path: Option<String>,
    /// Where nbgen writes it; `None` when removed.
    pub new_path: Option<String>,
    /// A unified diff with `a/` and `b/` headers (git style).
    pub unified: String,
    pub lines_added: usize,
    pub lines_removed: usize,
}

impl ObjectDiff {
    /// True when only the path differs: the same text in another file.
    pub fn moved(&self) -> bool {
        self.change == Change::Changed && self.lines_added == 0 && self.lines_removed == 0
    }
}

/// Everything that differs between two snapshots.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    /// Sorted by nbgen's file path for the object (cluster-scoped first, then by namespace).
    pub objects: Vec<ObjectDiff>,
    pub unchanged: usize,
    /// Files on the old side that are not objects nbgen could match: unidentified, duplicates,
    /// links.
    pub notes: Vec<Note>,
}

impl Diff {
    pub fn count(&self, change: Change) -> usize {
        self.objects.iter().filter(|o| o.change == change).count()
    }

    /// Nothing differs and nothing on the old side needs a word.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.notes.is_empty()
    }
}

/// Compare `old` (what is there) with `new` (what nbgen renders). `dir` names both sides in the
/// diff headers, e.g. `out/prod`.
pub fn diff(old: &Snapshot, new: &Snapshot, dir: &str) -> Diff {
    let mut out = Diff {
        notes: old.notes.clone(),
        ..Diff::default()
    };
    for (id, n) in &new.objects {
        match old.objects.get(id) {
            Some(o) if o.text == n.text && o.path == n.path => out.unchanged += 1,
            Some(o) => out
                .objects
                .push(object_diff(id, Change::Changed, Some(o), Some(n), dir)),
            None => out
                .objects
                .push(object_diff(id, Change::Added, None, Some(n), dir)),
        }
    }
    for (id, o) in &old.objects {
        if !new.objects.contains_key(id) {
            out.objects
                .push(object_diff(id, Change::Removed, Some(o), None, dir));
        }
    }
    out.objects.sort_by_cached_key(|o| o.id.file());
    out
}

/// `diff` of two sides read with what is known equal set apart: the same result as comparing
/// both whole snapshots, at the cost of what differs.
pub fn sides(sides: &Sides, dir: &str) -> Diff {
    let mut out = diff(&sides.old, &sides.new, dir);
    out.unchanged += sides.same.len();
    out
}

fn object_diff(
    id: &ObjectId,
    change: Change,
    old: Option<&Found>,
    new: Option<&Found>,
    dir: &str,
) -> ObjectDiff {
    let old_text = old.map_or("", |f| f.text.as_str());
    let new_text = new.map_or("", |f| f.text.as_str());
    let name = |side: &str, f: Option<&Found>| {
        f.map_or_else(
            || "/dev/null".to_owned(),
            |f| format!("{side}/{dir}/{}", f.path),
        )
    };
    let (a, b) = (name("a", old), name("b", new));
    let text_diff = TextDiff::from_lines(old_text, new_text);
    let (mut lines_added, mut lines_removed) = (0, 0);
    for op in text_diff.ops() {
        for c in text_diff.iter_changes(op) {
            match c.tag() {
                ChangeTag::Insert => lines_added += 1,
                ChangeTag::Delete => lines_removed += 1,
                ChangeTag::Equal => {}
            }
        }
    }
    let mut unified = text_diff.unified_diff().header(&a, &b).to_string();
    if unified.is_empty() {
        // Same text, another file: say so, as git does for a pure rename.
        let _ = write!(unified, "--- {a}\n+++ {b}\n");
    }
    ObjectDiff {
        id: id.clone(),
        change,
        old_path: old.map(|f| f.path.clone()),
        new_path: new.map(|f| f.path.clone()),
        unified,
        lines_added,
        lines_removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(files: &[(&str, &str)]) -> Snapshot {
        Snapshot::from_texts(files)
    }

    fn cm(name: &str, data: &str) -> String {
        format!("kind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: a\ndata:\n  k: {data}\n")
    }

    #[test]
    fn added_changed_removed_and_unchanged() {
        let old = snap(&[
            ("a/configmap-same.yaml", &cm("same", "1")),
            ("a/configmap-edit.yaml", &cm("edit", "1")),
            ("a/configmap-gone.yaml", &cm("gone", "1")),
        ]);
        let new = snap(&[
            ("a/configmap-same.yaml", &cm("same", "1")),
            ("a/configmap-edit.yaml", &cm("edit", "2")),
            ("a/configmap-new.yaml", &cm("new", "1")),
        ]);
        let d = diff(&old, &new, "out/x");
        let got: Vec<String> = d
            .objects
            .iter()
            .map(|o| {
                format!(
                    "{} {} +{} -{}",
                    o.change.mark(),
                    o.id,
                    o.lines_added,
                    o.lines_removed
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "~ a ConfigMap/edit +1 -1",
                "- a ConfigMap/gone +0 -6",
                "+ a ConfigMap/new +6 -0"
            ]
        );
        assert_eq!(d.unchanged, 1);
        assert_eq!(
            d.objects[0].unified,
            "--- a/out/x/a/configmap-edit.yaml\n+++ b/out/x/a/configmap-edit.yaml\n@@ -3,4 +3,4 @@\n   name: edit\n   namespace: a\n data:\n-  k: 1\n+  k: 2\n"
        );
        assert!(
            d.objects[2]
                .unified
                .starts_with("--- /dev/null\n+++ b/out/x/a/configmap-new.yaml\n")
        );
    }

    #[test]
    fn a_renamed_file_is_one_moved_object_not_a_delete_and_an_add() {
        let old = snap(&[("a/handmade.yaml", &cm("x", "1"))]);
        let new = snap(&[("a/configmap-x.yaml", &cm("x", "1"))]);
        let d = diff(&old, &new, "out/x");
        assert_eq!(d.objects.len(), 1);
        assert!(d.objects[0].moved());
        assert_eq!(
            d.objects[0].unified,
            "--- a/out/x/a/handmade.yaml\n+++ b/out/x/a/configmap-x.yaml\n"
        );
    }
}
