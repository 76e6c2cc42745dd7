//! Manifest files read back as Kubernetes objects, matched by identity (kind, namespace, name)
//! rather than by path, so a renamed or hand-made file is still recognised. Pure: it is handed
//! the files' texts (from `out/<env>/` on disk or from a git revision) and never reads anything.

use crate::object::ObjectId;
use serde_json::Value;
use std::collections::BTreeMap;

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
            let docs = match documents(path, text) {
                Ok(docs) => docs,
                Err(reason) => {
                    snap.notes.push(Note::Unidentified {
                        path: path.clone(),
                        reason,
                    });
                    continue;
                }
            };
            let single = docs.len() == 1;
            if docs.is_empty() {
                snap.notes.push(Note::Unidentified {
                    path: path.clone(),
                    reason: "holds no object".to_owned(),
                });
            }
            for value in docs {
                let Some(id) = identity(&value) else {
                    snap.notes.push(Note::Unidentified {
                        path: path.clone(),
                        reason: "has no `kind` and `metadata.name`".to_owned(),
                    });
                    continue;
                };
                let text = if single {
                    text.clone()
                } else {
                    serde_saphyr::to_string(&value).unwrap_or_default()
                };
                let found = Found {
                    path: path.clone(),
                    text,
                    value,
                };
                snap.insert(id, found);
            }
        }
        snap
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
