//! Is `out/<env>/` exactly what nbgen renders? Finds stale, hand-edited, missing, unowned and
//! stray files and a disagreeing ownership manifest, and says which command fixes them.
//! Pure: it is handed the render, the files and the manifest; it reads and writes nothing.

use crate::emit::Tree;
use crate::emit::ownership::{self, Listed, MANIFEST, digest};
use crate::object::ObjectId;
use crate::review::snapshot::{Found, Snapshot};
use serde::Serialize;
use std::collections::BTreeMap;

/// What is wrong with one file (or with the directory as a whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// The environment has never been rendered: no file at all.
    NotRendered,
    /// nbgen renders this file; it is not there.
    Missing,
    /// nbgen wrote this file, but renders something else now (the spec or nbgen changed).
    Stale,
    /// The file differs from what nbgen wrote (its digest is not the recorded one).
    HandEdited,
    /// A file nbgen did not write sits where nbgen renders one, with other content:
    /// `nbgen render` refuses to overwrite it.
    NotOwned,
    /// The content is right but the ownership manifest does not record it.
    Unrecorded,
    /// nbgen wrote this file but no longer renders it; `nbgen render` removes it.
    NoLongerRendered,
    /// A manifest file nbgen does not write: Argo CD would apply it unreviewed.
    Stray,
    /// A symbolic link where nbgen writes a file (stray links are `Stray`).
    Link,
    /// `.nbgen-manifest` is missing or lists what is not there.
    Manifest,
    /// `out/<name>/` holds manifests but there is no `environments/<name>.yaml`.
    NoSpec,
    /// Another environment on the same cluster (`cluster.name`) has committed the same object
    /// or the same NodePort: Argo CD would fight over it, the API server refuses it.
    SharedCluster,
}

impl Problem {
    /// Fixed by `nbgen render <env>` (after any `rm` the other problems need).
    fn needs_render(self) -> bool {
        !matches!(
            self,
            Problem::Stray | Problem::NoSpec | Problem::SharedCluster
        )
    }

    /// Fixed only by removing the file: render will not touch it.
    fn needs_removal(self) -> bool {
        matches!(self, Problem::NotOwned | Problem::Stray | Problem::Link)
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Relative to `out/<env>/`; empty for the directory itself.
    pub path: String,
    pub problem: Problem,
    /// The object the file holds (or should hold), when known.
    pub object: Option<ObjectId>,
    /// The explanation a person reads.
    pub detail: String,
}

/// Compare the render of one environment with what is in its `out/<env>/`.
///
/// `files`: every `.yaml`/`.yml`/`.json` file there, as `OutDir::manifests_against` lists
/// them; `manifest`: the text of `.nbgen-manifest`, if any.
pub fn check(
    tree: &Tree,
    files: &BTreeMap<String, Listed>,
    manifest: Option<&str>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let find = |path: &str, problem, object: Option<&ObjectId>, detail: String| Finding {
        path: path.to_owned(),
        problem,
        object: object.cloned(),
        detail,
    };
    if files.is_empty() && manifest.is_none() {
        if !tree.is_empty() {
            out.push(find(
                "",
                Problem::NotRendered,
                None,
                format!("has not been rendered ({} files missing)", tree.len()),
            ));
        }
        return out;
    }
    let owned = ownership::entries(manifest.unwrap_or_default());
    // Only files nbgen does not render need reading back (to name what they hold); parsing
    // every file would cost most of the run on a large environment.
    let others: BTreeMap<String, Option<String>> = files
        .iter()
        .filter(|(p, _)| !tree.contains_key(*p))
        .map(|(p, listed)| (p.clone(), listed.text().map(str::to_owned)))
        .collect();
    let snapshot = Snapshot::read(&others);
    let by_id: BTreeMap<&ObjectId, &String> = tree.iter().map(|(p, f)| (&f.id, p)).collect();

    for (path, file) in tree {
        let id = Some(&file.id);
        match files.get(path) {
            None => out.push(find(path, Problem::Missing, id, "missing".to_owned())),
            Some(Listed::Link) => out.push(find(
                path,
                Problem::Link,
                id,
                "is a symbolic link where nbgen writes a file".to_owned(),
            )),
            Some(listed) => {
                let recorded = owned.get(path.as_str()).copied();
                let (same, actual) = match listed {
                    Listed::Text(text) if *text != file.text => (false, digest(text.as_bytes())),
                    _ => (true, file.digest.clone()),
                };
                if same {
                    if manifest.is_some() && recorded != Some(actual.as_str()) {
                        out.push(find(
                            path,
                            Problem::Unrecorded,
                            id,
                            format!("is not recorded in {MANIFEST}"),
                        ));
                    }
                } else if recorded == Some(actual.as_str()) {
                    out.push(find(
                        path,
                        Problem::Stale,
                        id,
                        "is stale: the spec (or nbgen) changed since it was rendered".to_owned(),
                    ));
                } else if recorded.is_some() {
                    out.push(find(
                        path,
                        Problem::HandEdited,
                        id,
                        "was edited by hand: it differs from what nbgen wrote".to_owned(),
                    ));
                } else {
                    out.push(find(
                        path,
                        Problem::NotOwned,
                        id,
                        "was not written by nbgen and differs from what nbgen renders there"
                            .to_owned(),
                    ));
                }
            }
        }
    }

    for (path, listed) in files {
        if tree.contains_key(path) {
            continue;
        }
        let text = listed.text();
        if owned.contains_key(path.as_str()) && text.is_some() {
            let object = snapshot
                .objects
                .iter()
                .find(|(_, f)| &f.path == path)
                .map(|(id, _)| id);
            out.push(find(
                path,
                Problem::NoLongerRendered,
                object,
                "is no longer rendered".to_owned(),
            ));
            continue;
        }
        if text.is_none() {
            out.push(find(
                path,
                Problem::Stray,
                None,
                "is a symbolic link: Argo CD would apply what it points to".to_owned(),
            ));
            continue;
        }
        let object = snapshot
            .objects
            .iter()
            .find(|(_, f)| &f.path == path)
            .map(|(id, _)| id)
            .or_else(|| {
                snapshot.notes.iter().find_map(|n| match n {
                    crate::review::snapshot::Note::Duplicate { path: p, id, .. } if p == path => {
                        Some(id)
                    }
                    _ => None,
                })
            });
        let detail = match object.and_then(|id| by_id.get(id).map(|p| (id, p))) {
            Some((_, canonical)) => format!(
                "is a stray manifest nbgen does not write: a second copy of an object nbgen writes to {canonical}"
            ),
            None => "is a stray manifest nbgen does not write: Argo CD would apply it".to_owned(),
        };
        out.push(find(path, Problem::Stray, object, detail));
    }

    let expected = ownership::text(tree);
    match manifest {
        None => out.push(find(
            MANIFEST,
            Problem::Manifest,
            None,
            "is missing: nbgen cannot tell its files from others".to_owned(),
        )),
        Some(text) if text != expected => {
            let explained: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
            let unexplained: Vec<&str> = owned
                .keys()
                .copied()
                .filter(|p| !tree.contains_key(*p) && !files.contains_key(*p))
                .collect();
            if !unexplained.is_empty() {
                out.push(find(
                    MANIFEST,
                    Problem::Manifest,
                    None,
                    format!("lists files that do not exist: {}", unexplained.join(", ")),
                ));
            } else if explained.is_empty() {
                out.push(find(
                    MANIFEST,
                    Problem::Manifest,
                    None,
                    "differs from the one nbgen writes".to_owned(),
                ));
            }
        }
        Some(_) => {}
    }
    out.sort_by(|a, b| (&a.path, a.problem).cmp(&(&b.path, b.problem)));
    out
}

/// The committed output of environments on one cluster, `(env, snapshot)` in order: every
/// object committed by two of them, and every NodePort two of their Services use, as a finding
/// of the later environment.
pub fn shared_cluster(envs: &[(&str, &Snapshot)]) -> Vec<(String, Finding)> {
    let mut out = Vec::new();
    let mut ports: BTreeMap<u64, (&str, &ObjectId)> = BTreeMap::new();
    for (i, (env, snap)) in envs.iter().enumerate() {
        // An object in a namespace both commit is told once, by the Namespace.
        let shared_ns = |ns: &str| {
            envs[..i].iter().any(|(_, s)| {
                s.objects
                    .keys()
                    .any(|o| o.kind == "Namespace" && o.name == ns && snap.objects.contains_key(o))
            })
        };
        for (id, found) in &snap.objects {
            let told = id.namespace.as_deref().is_some_and(shared_ns);
            if let Some((first, _)) = envs[..i]
                .iter()
                .find(|(_, s)| !told && s.objects.contains_key(id))
            {
                out.push(shared(
                    env,
                    found,
                    id,
                    format!(
                        "is also committed in out/{first}, on the same cluster: Argo CD's two Applications would fight over it"
                    ),
                ));
            }
            if id.kind != "Service" {
                continue;
            }
            let used = found
                .value
                .pointer("/spec/ports")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("nodePort")?.as_u64());
            for port in used {
                match ports.get(&port) {
                    Some((first, _)) if first != env => out.push(shared(
                        env,
                        found,
                        id,
                        format!(
                            "uses NodePort {port}, as out/{first} does, on the same cluster: the API server refuses the second"
                        ),
                    )),
                    Some(_) => {}
                    None => {
                        ports.insert(port, (env, id));
                    }
                }
            }
        }
    }
    out
}

/// A finding of `env`'s file that another environment on its cluster conflicts with.
fn shared(env: &str, found: &Found, id: &ObjectId, detail: String) -> (String, Finding) {
    (
        env.to_owned(),
        Finding {
            path: found.path.clone(),
            problem: Problem::SharedCluster,
            object: Some(id.clone()),
            detail,
        },
    )
}

/// The shell commands that fix `findings`, in order: remove what render will not touch, then
/// render. `root` prefixes paths and adds `--root` when nbgen runs on another directory.
pub fn fix(env: &str, findings: &[Finding], root: Option<&str>) -> Vec<String> {
    let base = match root {
        Some(r) => format!("{}/out/{env}", r.trim_end_matches('/')),
        None => format!("out/{env}"),
    };
    let mut commands = Vec::new();
    if findings.iter().any(|f| f.problem == Problem::NoSpec) {
        commands.push(format!("rm -r {}", shell_word(&base)));
    }
    let remove: Vec<String> = findings
        .iter()
        .filter(|f| f.problem.needs_removal())
        .map(|f| shell_word(&format!("{base}/{}", f.path)))
        .collect();
    if !remove.is_empty() {
        commands.push(format!("rm {}", remove.join(" ")));
    }
    if findings.iter().any(|f| f.problem.needs_render()) {
        commands.push(match root {
            Some(r) => format!("nbgen --root {} render {env}", shell_word(r)),
            None => format!("nbgen render {env}"),
        });
    }
    commands
}

/// A word the shell reads back unchanged: quoted only when it has to be.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@%+=:,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::File;

    fn tree(files: &[(&str, &str)]) -> Tree {
        files
            .iter()
            .map(|(p, t)| {
                let id = ObjectId {
                    kind: "ConfigMap".into(),
                    namespace: Some("a".into()),
                    name: p.trim_end_matches(".yaml").into(),
                };
                (p.to_string(), File::new(id, t.to_string()))
            })
            .collect()
    }

    fn disk(files: &[(&str, Option<&str>)]) -> BTreeMap<String, Listed> {
        files
            .iter()
            .map(|(p, t)| {
                let listed = t.map_or(Listed::Link, |t| Listed::Text(t.to_owned()));
                (p.to_string(), listed)
            })
            .collect()
    }

    fn problems(f: &[Finding]) -> Vec<(String, Problem)> {
        f.iter().map(|f| (f.path.clone(), f.problem)).collect()
    }

    #[test]
    fn an_up_to_date_directory_has_no_findings() {
        let t = tree(&[("a.yaml", "x\n"), ("b.yaml", "y\n")]);
        let files = disk(&[("a.yaml", Some("x\n")), ("b.yaml", Some("y\n"))]);
        assert_eq!(check(&t, &files, Some(&ownership::text(&t))), vec![]);
    }

    #[test]
    fn stale_hand_edited_missing_stray_and_removed_are_told_apart() {
        let old = tree(&[
            ("a.yaml", "old\n"),
            ("b.yaml", "y\n"),
            ("c.yaml", "z\n"),
            ("gone.yaml", "g\n"),
        ]);
        let new = tree(&[("a.yaml", "new\n"), ("b.yaml", "y\n"), ("c.yaml", "z\n")]);
        let files = disk(&[
            ("a.yaml", Some("old\n")),        // as nbgen wrote it, spec changed since
            ("b.yaml", Some("edited\n")),     // edited by hand
            ("gone.yaml", Some("g\n")),       // nbgen wrote it, no longer renders it
            ("stray.yml", Some("kind: X\n")), // nobody's
            ("link.json", None),
        ]);
        let found = check(&new, &files, Some(&ownership::text(&old)));
        assert_eq!(
            problems(&found),
            [
                ("a.yaml".into(), Problem::Stale),
                ("b.yaml".into(), Problem::HandEdited),
                ("c.yaml".into(), Problem::Missing),
                ("gone.yaml".into(), Problem::NoLongerRendered),
                ("link.json".into(), Problem::Stray),
                ("stray.yml".into(), Problem::Stray),
            ]
        );
        assert_eq!(
            fix("prod", &found, None),
            [
                "rm out/prod/link.json out/prod/stray.yml",
                "nbgen render prod"
            ]
        );
    }

    #[test]
    fn a_lost_manifest_makes_differing_files_unowned() {
        let t = tree(&[("a.yaml", "new\n"), ("b.yaml", "y\n")]);
        let files = disk(&[("a.yaml", Some("old\n")), ("b.yaml", Some("y\n"))]);
        let found = check(&t, &files, None);
        assert_eq!(
            problems(&found),
            [
                (".nbgen-manifest".into(), Problem::Manifest),
                ("a.yaml".into(), Problem::NotOwned)
            ]
        );
        assert_eq!(
            fix("prod", &found, Some("../my repo")),
            [
                "rm '../my repo/out/prod/a.yaml'",
                "nbgen --root '../my repo' render prod"
            ]
        );
    }

    #[test]
    fn a_never_rendered_environment_is_one_finding() {
        let t = tree(&[("a.yaml", "x\n")]);
        let found = check(&t, &BTreeMap::new(), None);
        assert_eq!(problems(&found), [(String::new(), Problem::NotRendered)]);
    }
}
