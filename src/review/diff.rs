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

    /// `Sides` (unchanged files set apart, unparsed) gives what comparing the whole snapshots
    /// gives, risks included: a stray copy of an unchanged object, an edited file, a removed
    /// and an added one, a link, and unchanged Services, workloads and network policies that
    /// count in totals, NodePorts, access to shared data and isolation.
    #[test]
    fn sides_give_what_whole_snapshots_give() {
        use crate::emit::ownership::Listed;
        use crate::emit::{File, Tree};
        use crate::review::risk;
        use crate::review::snapshot::identity;
        let svc = |name: &str, port: u16| {
            format!(
                "kind: Service\nmetadata:\n  name: {name}\n  namespace: a\nspec:\n  ports:\n  - name: http\n    nodePort: {port}\n"
            )
        };
        let sts = |name: &str, cpu: &str| {
            format!(
                "kind: StatefulSet\nmetadata:\n  labels:\n    nbgen.io/team: a\n  name: {name}\n  namespace: a\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: n\n        resources:\n          requests:\n            cpu: \"{cpu}\"\n            nvidia.com/gpu: \"1\"\n"
            )
        };
        // A default-deny that stays, and an egress policy that goes: pods stay isolated.
        let policy = |name: &str, types: &str| {
            format!(
                "kind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: a\nspec:\n  podSelector: {{}}\n  policyTypes:\n{types}"
            )
        };
        let deny = policy("deny", "  - Egress\n  - Ingress\n");
        let out = policy("out", "  - Egress\n") + "  egress:\n  - ports:\n    - port: 443\n";
        // A server that keeps mounting a shared claim, and a new one mounting it: no new access.
        let mounts = |name: &str| {
            sts(name, "1")
                + "        volumeMounts:\n        - mountPath: /data\n          name: data\n      volumes:\n      - name: data\n        persistentVolumeClaim:\n          claimName: shared\n"
        };
        let rendered = [
            ("a/networkpolicy-deny.yaml", deny.clone()),
            ("a/statefulset-m1.yaml", mounts("m1")),
            ("a/statefulset-m2.yaml", mounts("m2")),
            ("a/service-s1.yaml", svc("s1", 30001)),
            ("a/service-s2.yaml", svc("s2", 30002)),
            ("a/statefulset-s1.yaml", sts("s1", "2")),
            ("a/statefulset-s2.yaml", sts("s2", "4")),
            ("a/configmap-same.yaml", cm("same", "1")),
            ("a/configmap-edit.yaml", cm("edit", "2")),
            ("a/configmap-new.yaml", cm("new", "1")),
        ];
        let on_disk = [
            ("a/networkpolicy-deny.yaml", Some(deny)),
            ("a/networkpolicy-out.yaml", Some(out)),
            ("a/statefulset-m1.yaml", Some(mounts("m1"))),
            ("a/service-s1.yaml", Some(svc("s1", 30001))),
            ("a/service-s2.yaml", Some(svc("s2", 30003))),
            ("a/statefulset-s1.yaml", Some(sts("s1", "2"))),
            ("a/statefulset-s2.yaml", Some(sts("s2", "2"))),
            ("a/configmap-same.yaml", Some(cm("same", "1"))),
            ("a/configmap-edit.yaml", Some(cm("edit", "1"))),
            ("a/configmap-gone.yaml", Some(cm("gone", "1"))),
            ("a/aa-copy.yaml", Some(cm("same", "1"))),
            ("a/zz-copy.yaml", Some(svc("s1", 30002))),
            ("a/link.yaml", None),
        ];
        let tree: Tree = rendered
            .iter()
            .map(|(p, t)| {
                let v = serde_saphyr::from_str(t).unwrap();
                (p.to_string(), File::new(identity(&v).unwrap(), t.clone()))
            })
            .collect();
        let listed = on_disk
            .iter()
            .map(|(p, t)| {
                let l = match t {
                    None => Listed::Link,
                    Some(t) if tree.get(*p).is_some_and(|f| f.text == *t) => Listed::AsRendered,
                    Some(t) => Listed::Text(t.clone()),
                };
                (p.to_string(), l)
            })
            .collect();
        let old = Snapshot::read(
            &on_disk
                .iter()
                .map(|(p, t)| (p.to_string(), t.clone()))
                .collect(),
        );
        let new = Snapshot::read(
            &rendered
                .iter()
                .map(|(p, t)| (p.to_string(), Some(t.clone())))
                .collect(),
        );
        let pools = std::collections::BTreeMap::new();
        let whole = (diff(&old, &new, "out/x"), risk::assess(&old, &new, &pools));

        let sides = Sides::read(listed, &tree);
        let mut same = risk::Same::default();
        for part in sides.fold_same(&tree, &risk::SAME_KINDS, risk::same_keys, |s, id, v| {
            risk::Same::add(s, id, &v, &pools)
        }) {
            same.merge(part);
        }
        let apart = (
            super::sides(&sides, "out/x"),
            risk::assess_with(&sides.old, &sides.new, &same, &pools),
        );
        assert_eq!(format!("{:?}", apart.0), format!("{:?}", whole.0));
        assert_eq!(format!("{:?}", apart.1), format!("{:?}", whole.1));
        // s1's Service and StatefulSet, ConfigMap same: the stray copies of two of them lose to
        // the files at nbgen's paths, and become notes on both ways.
        assert_eq!(whole.0.unchanged, 5);
        assert_eq!(sides.same.len(), 5);
        assert_eq!(apart.0.notes.len(), 3, "two duplicates and a link");
        assert!(!whole.1.node_ports.is_empty() && !whole.1.totals.teams.is_empty());
        assert!(whole.1.network.is_empty() && whole.1.access.is_empty());
    }
}
