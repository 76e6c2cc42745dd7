//! Manifest files read back as Kubernetes objects, matched by identity (kind, namespace, name)
//! rather than by path, so a renamed or hand-made file is still recognised. Pure: it is handed
//! the files' texts (from `out/<env>/` on disk or from a git revision) and never reads anything.
//!
//! `Sides` is what `diff` compares at any scale: a file known to hold exactly its rendered text
//! (`Listed::AsRendered`, found by the reader without keeping the text) is never parsed; its
//! object is the rendered one, the same on both sides. Only the other files, and the rendered
//! files they differ from, become objects, so the work follows what changed.

use crate::emit::Tree;
use crate::emit::ownership::Listed;
use crate::object::ObjectId;
use crate::parallel;
use crate::review::block;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One object found in a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The file, relative to `out/<env>/`.
    pub path: String,
    /// The object's text: the whole file, or the object's own document re-serialised when the
    /// file holds several.
    pub text: String,
    pub value: Value,
}

/// Something about a file that keeps it from being one identifiable object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Not YAML/JSON, or no `kind` / `metadata.name`: not an object nbgen could have written.
    Unidentified { path: String, reason: String },
    /// A second file defining an object already found elsewhere.
    Duplicate {
        path: String,
        id: ObjectId,
        first: String,
    },
    /// A symbolic link: never followed.
    Link { path: String },
    /// An object nbgen does not render, in a file `.nbgen-manifest` does not list: render
    /// leaves it in place (it is no removal), and Argo CD applies it.
    Unowned { path: String, id: ObjectId },
}

impl Note {
    pub fn path(&self) -> &str {
        match self {
            Note::Unidentified { path, .. }
            | Note::Duplicate { path, .. }
            | Note::Link { path }
            | Note::Unowned { path, .. } => path,
        }
    }
}

/// The objects of a set of files, by identity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub objects: BTreeMap<ObjectId, Found>,
    pub notes: Vec<Note>,
}

impl Snapshot {
    /// Read `files` (relative path → text, `None` for a symbolic link). When two files define
    /// the same object, the one at nbgen's own path for it wins and the other becomes a note.
    /// A snapshot of `(path, text)` pairs: for tests that compare small sets of objects.
    #[cfg(test)]
    pub fn from_texts(files: &[(&str, &str)]) -> Snapshot {
        let files: BTreeMap<String, Option<String>> = files
            .iter()
            .map(|(p, t)| (p.to_string(), Some(t.to_string())))
            .collect();
        Snapshot::read(&files)
    }

    pub fn read(files: &BTreeMap<String, Option<String>>) -> Snapshot {
        Snapshot::read_reusing(files, &Snapshot::default())
    }

    /// Like `read`, but a file whose text is the same as an object's in `known` (same path)
    /// reuses its parsed value instead of parsing it again: most files are unchanged.
    pub fn read_reusing(files: &BTreeMap<String, Option<String>>, known: &Snapshot) -> Snapshot {
        let by_path: BTreeMap<&str, (&ObjectId, &Found)> = known
            .objects
            .iter()
            .map(|(id, f)| (f.path.as_str(), (id, f)))
            .collect();
        let mut snap = Snapshot::default();
        for (path, text) in files {
            let Some(text) = text else {
                snap.notes.push(Note::Link { path: path.clone() });
                continue;
            };
            if let Some((id, found)) = by_path.get(path.as_str())
                && found.text == *text
            {
                snap.insert((*id).clone(), (*found).clone());
                continue;
            }
            snap.add(path, text, documents(path, text));
        }
        snap
    }

    /// Add the objects of one file, given its documents as `documents` parsed them.
    fn add(&mut self, path: &str, text: &str, docs: Result<Vec<Value>, String>) {
        let docs = match docs {
            Ok(docs) => docs,
            Err(reason) => {
                self.notes.push(Note::Unidentified {
                    path: path.to_owned(),
                    reason,
                });
                return;
            }
        };
        let single = docs.len() == 1;
        if docs.is_empty() {
            self.notes.push(Note::Unidentified {
                path: path.to_owned(),
                reason: "holds no object".to_owned(),
            });
        }
        for value in docs {
            let Some(id) = identity(&value) else {
                self.notes.push(Note::Unidentified {
                    path: path.to_owned(),
                    reason: "has no `kind` and `metadata.name`".to_owned(),
                });
                continue;
            };
            let text = if single {
                text.to_owned()
            } else {
                serde_saphyr::to_string(&value).unwrap_or_default()
            };
            let found = Found {
                path: path.to_owned(),
                text,
                value,
            };
            self.insert(id, found);
        }
    }

    fn insert(&mut self, id: ObjectId, found: Found) {
        match self.objects.get(&id) {
            None => {
                self.objects.insert(id, found);
            }
            Some(first) => {
                let (keep, other) = if found.path == id.file() && first.path != id.file() {
                    (found, first.clone())
                } else {
                    (first.clone(), found)
                };
                self.notes.push(Note::Duplicate {
                    path: other.path,
                    id: id.clone(),
                    first: keep.path.clone(),
                });
                self.objects.insert(id, keep);
            }
        }
    }
}

/// The two sides of a diff with what is known to be equal set apart: `old` and `new` hold only
/// the objects that may differ, each parsed once; `same` the objects whose file holds exactly
/// the text rendered for its path.
#[derive(Clone, Debug, Default)]
pub struct Sides {
    /// What is there (on disk or at a revision), minus the objects in `same`; its notes are
    /// about every file.
    pub old: Snapshot,
    /// What nbgen renders, minus the objects in `same`.
    pub new: Snapshot,
    /// The files of the objects unchanged (relative to `out/<env>/`): each holds exactly the
    /// text nbgen renders for its path, and its object, on either side, is the rendered one.
    pub same: BTreeSet<String>,
}

impl Sides {
    /// Compare `files` (what is there, as `OutDir::manifests_against` or `git::files_against`
    /// lists it against `tree`) with `tree`. Parses only the files that are not as rendered and
    /// the rendered files no unchanged file accounts for, on every core. The result is what
    /// `Snapshot::read` of both whole sides gives, with the unchanged objects moved to `same`.
    pub fn read(files: BTreeMap<String, Listed>, tree: &Tree) -> Sides {
        let texts: Vec<(&String, &String)> = files
            .iter()
            .filter_map(|(p, l)| match l {
                Listed::Text(t) => Some((p, t)),
                _ => None,
            })
            .collect();
        let parsed = parallel::map(&texts, |(p, t)| documents(p, t));
        drop(texts);
        // A file as rendered can only lose its object to another file defining the same one.
        let contested: BTreeSet<ObjectId> = parsed
            .iter()
            .flatten()
            .flat_map(|docs| docs.iter().filter_map(identity))
            .collect();
        let mut parsed = parsed.into_iter();
        let mut old = Snapshot::default();
        let mut same = BTreeSet::new();
        // Same order as `Snapshot::read` (by path), so duplicates are settled the same way; a
        // contested file as rendered stands for the rendered object until the end, unparsed.
        let mut as_rendered = BTreeSet::new();
        for (path, listed) in files {
            match listed {
                Listed::Link => old.notes.push(Note::Link { path }),
                Listed::AsRendered => {
                    let id = &tree
                        .get(&path)
                        .expect("a file as rendered has a rendered file")
                        .id;
                    if !contested.contains(id) {
                        same.insert(path);
                        continue;
                    }
                    as_rendered.insert(path.clone());
                    let found = Found {
                        path: path.clone(),
                        text: String::new(),
                        value: Value::Null,
                    };
                    old.insert(id.clone(), found);
                }
                Listed::Text(text) => {
                    let docs = parsed.next().expect("one parse per text");
                    old.add(&path, &text, docs);
                }
            }
        }
        old.objects.retain(|_, f| {
            let keep = !as_rendered.contains(f.path.as_str());
            if !keep {
                same.insert(f.path.clone());
            }
            keep
        });
        let rendered: Vec<(&String, &String)> = tree
            .iter()
            .filter(|(p, _)| !same.contains(p.as_str()))
            .map(|(p, f)| (p, &f.text))
            .collect();
        let parsed = parallel::map(&rendered, |(p, t)| documents(p, t));
        let mut new = Snapshot::default();
        for ((path, text), docs) in rendered.into_iter().zip(parsed) {
            new.add(path, text, docs);
        }
        Sides { old, new, same }
    }

    /// Fold the unchanged objects of the given kinds, read from their rendered text keeping
    /// only the keys `keep` asks for, into one `T` per part of the work (on every core): what a
    /// comparison needs of objects that did not change (totals, NodePorts taken), with no
    /// object kept, so that it holds little whatever their number.
    pub fn fold_same<T: Send + Default>(
        &self,
        tree: &Tree,
        kinds: &[&str],
        keep: block::Filter,
        add: impl Fn(&mut T, &ObjectId, Value) + Sync,
    ) -> Vec<T> {
        let wanted: Vec<(&ObjectId, &String)> = self
            .same
            .iter()
            .map(|path| (&tree[path.as_str()].id, path))
            .filter(|(id, _)| kinds.contains(&id.kind.as_str()))
            .collect();
        let parts: Vec<&[(&ObjectId, &String)]> = wanted.chunks(256).collect();
        parallel::map(&parts, |part| {
            let mut acc = T::default();
            for (id, path) in *part {
                // The text is nbgen's own: read by its known layout, in full only if that fails.
                let text = &tree[path.as_str()].text;
                let value = match block::read_only(text, keep) {
                    Some(value) if !path.ends_with(".json") => Some(value),
                    _ => match documents(path, text) {
                        Ok(mut docs) if docs.len() == 1 => Some(block::prune(docs.remove(0), keep)),
                        _ => None,
                    },
                };
                if let Some(value) = value {
                    add(&mut acc, id, value);
                }
            }
            acc
        })
    }
}

/// The documents of a manifest file, parsed by its extension.
fn documents(path: &str, text: &str) -> Result<Vec<Value>, String> {
    if path.ends_with(".json") {
        return serde_json::from_str::<Value>(text)
            .map(|v| vec![v])
            .map_err(|e| format!("is not valid JSON: {e}"));
    }
    serde_saphyr::from_multiple::<Value>(text)
        .map(|docs| docs.into_iter().filter(|d| !d.is_null()).collect())
        .map_err(|e| {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or_default().to_owned();
            format!("is not valid YAML: {first}")
        })
}

/// An object's identity from its `kind` and `metadata`.
pub fn identity(value: &Value) -> Option<ObjectId> {
    let kind = value.get("kind")?.as_str()?;
    let meta = value.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    if kind.is_empty() || name.is_empty() {
        return None;
    }
    Some(ObjectId {
        kind: kind.to_owned(),
        namespace: meta
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        list.iter()
            .map(|(p, t)| (p.to_string(), t.map(str::to_owned)))
            .collect()
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: a\n";

    #[test]
    fn objects_are_found_by_identity_not_by_path() {
        let snap = Snapshot::read(&files(&[("renamed.yaml", Some(CM))]));
        let id = ObjectId {
            kind: "ConfigMap".into(),
            namespace: Some("a".into()),
            name: "x".into(),
        };
        assert_eq!(snap.objects[&id].path, "renamed.yaml");
        assert_eq!(snap.objects[&id].text, CM);
        assert!(snap.notes.is_empty());
    }

    #[test]
    fn the_copy_at_the_canonical_path_wins_and_the_other_is_noted() {
        let snap = Snapshot::read(&files(&[
            ("a/configmap-x.yaml", Some(CM)),
            ("a/aaa-copy.yaml", Some(CM)),
        ]));
        let (id, found) = snap.objects.iter().next().unwrap();
        assert_eq!(found.path, "a/configmap-x.yaml");
        assert_eq!(
            snap.notes,
            vec![Note::Duplicate {
                path: "a/aaa-copy.yaml".into(),
                id: id.clone(),
                first: "a/configmap-x.yaml".into()
            }]
        );
    }

    #[test]
    fn multi_document_files_json_links_and_junk() {
        let two = format!("{CM}---\nkind: Namespace\nmetadata: {{name: a}}\n");
        let snap = Snapshot::read(&files(&[
            ("both.yaml", Some(&two)),
            (
                "obj.json",
                Some(r#"{"kind":"Namespace","metadata":{"name":"b"}}"#),
            ),
            ("link.yaml", None),
            ("kustomization.yaml", Some("resources: [a.yaml]\n")),
            ("bad.yml", Some("a: [\n")),
            ("empty.yaml", Some("# nothing\n")),
        ]));
        let names: Vec<String> = snap.objects.keys().map(ToString::to_string).collect();
        assert_eq!(names, ["a ConfigMap/x", "Namespace/a", "Namespace/b"]);
        let notes: Vec<&str> = snap.notes.iter().map(Note::path).collect();
        assert_eq!(
            notes,
            ["bad.yml", "empty.yaml", "kustomization.yaml", "link.yaml"]
        );
    }
}
