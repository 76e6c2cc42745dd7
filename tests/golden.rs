//! Golden tests: every `environments/<env>.yaml` of this repository renders, in memory, to
//! exactly the committed `out/<env>/` — the same files, byte for byte, and an ownership manifest
//! that lists exactly them.
//!
//! `NBGEN_BLESS=1 cargo test --test golden` rewrites `out/<env>/` through the real write path
//! (`Project::write`), so a reviewer sees every change to the expected output in the diff.

use nbgen::emit::Tree;
use nbgen::emit::ownership::MANIFEST;
use nbgen::project::{Failure, Project};
use sha2::{Digest, Sha256};
use similar::TextDiff;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> Project {
    Project::new(env!("CARGO_MANIFEST_DIR"))
}

fn blessing() -> bool {
    std::env::var_os("NBGEN_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

#[test]
fn every_environment_renders_to_its_committed_output() {
    let project = repo();
    let envs = project
        .environments()
        .unwrap_or_else(|_| panic!("environments/ of the repository is readable"));
    assert!(
        envs.contains(&"prod".to_owned()) && envs.contains(&"dev".to_owned()),
        "the repository ships the prod and dev examples, found {envs:?}"
    );
    let mut failures = String::new();
    for env in &envs {
        let render = match project.render(env) {
            Ok((render, _)) => render,
            Err(Failure::Invalid {
                diagnostics,
                sources,
            }) => {
                let text: String = diagnostics
                    .iter()
                    .map(|d| d.render(&sources, false))
                    .collect();
                panic!("environments/{env}.yaml does not validate:\n{text}");
            }
            Err(Failure::Output(e)) => panic!("out/{env}: {e}"),
        };
        if blessing() {
            let summary = project
                .write(env, &render)
                .unwrap_or_else(|e| panic!("blessing out/{env}: {e:?}"));
            eprintln!(
                "blessed out/{env}: +{} ~{} -{}",
                summary.added.len(),
                summary.changed.len(),
                summary.removed.len()
            );
        }
        failures.push_str(&compare(
            env,
            &render.tree,
            &project.root.join("out").join(env),
        ));
    }
    assert!(
        failures.is_empty(),
        "committed output differs from a fresh render \
         (run `NBGEN_BLESS=1 cargo test --test golden` to accept the new output):\n{failures}"
    );
}

#[test]
fn every_output_directory_has_an_environment() {
    let project = repo();
    let envs = project.environments().expect("environments/ is readable");
    let stale: Vec<String> = fs::read_dir(project.root.join("out"))
        .expect("out/ is committed")
        .map(|e| {
            e.expect("out/ is listable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| !envs.contains(name))
        .collect();
    assert!(
        stale.is_empty(),
        "out/ holds output of environments that no longer exist: {stale:?}"
    );
}

/// Everything wrong with `dir` as the output of `tree`, as a readable report (empty: all good).
fn compare(env: &str, tree: &Tree, dir: &Path) -> String {
    let mut report = String::new();
    let committed = files_under(dir);
    for (rel, file) in tree {
        match committed.get(rel) {
            None => {
                let _ = writeln!(report, "out/{env}/{rel}: missing from the committed output");
            }
            Some(bytes) if bytes.as_slice() != file.text.as_bytes() => {
                let old = String::from_utf8_lossy(bytes);
                let diff = TextDiff::from_lines(old.as_ref(), file.text.as_str())
                    .unified_diff()
                    .context_radius(3)
                    .header(
                        &format!("committed out/{env}/{rel}"),
                        &format!("rendered out/{env}/{rel}"),
                    )
                    .to_string();
                let _ = writeln!(report, "out/{env}/{rel}: differs\n{diff}");
            }
            Some(_) => {}
        }
    }
    for rel in committed.keys() {
        if rel != MANIFEST && !tree.contains_key(rel) {
            let _ = writeln!(
                report,
                "out/{env}/{rel}: committed, but not rendered (blessing never deletes a file nbgen does not own: remove it by hand)"
            );
        }
    }
    let expected_manifest: String = tree
        .iter()
        .map(|(rel, f)| format!("{}  {rel}\n", sha256_hex(&f.text)))
        .collect();
    match committed.get(MANIFEST) {
        None => {
            let _ = writeln!(report, "out/{env}/{MANIFEST}: missing");
        }
        Some(bytes) if bytes.as_slice() != expected_manifest.as_bytes() => {
            let diff = TextDiff::from_lines(
                String::from_utf8_lossy(bytes).as_ref(),
                expected_manifest.as_str(),
            )
            .unified_diff()
            .header("committed", "expected")
            .to_string();
            let _ = writeln!(
                report,
                "out/{env}/{MANIFEST}: does not list exactly the rendered files and their hashes\n{diff}"
            );
        }
        Some(_) => {}
    }
    report
}

/// Every regular file under `dir`, by `/`-separated relative path.
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.expect("a listable directory");
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let path: PathBuf = e.path();
            if path.is_dir() {
                walk(&path, &rel, out);
            } else {
                out.insert(rel, fs::read(&path).expect("a readable file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Argo CD refuses to sync an object whose namespace its AppProject does not list: every
/// namespaced object of every example is in one of its AppProject's destinations (a target with
/// a namespace per member once listed the team's, which it never renders).
#[test]
fn every_object_lands_in_a_namespace_its_app_project_allows() {
    let project = repo();
    for env in project.environments().expect("environments/ is readable") {
        let (render, _) = project
            .render(&env)
            .unwrap_or_else(|_| panic!("{env} renders"));
        let Some(app_project) = render.tree.values().find(|f| f.id.kind == "AppProject") else {
            continue;
        };
        let v: serde_json::Value = serde_saphyr::from_str(&app_project.text)
            .unwrap_or_else(|e| panic!("{env}'s AppProject is YAML: {e}"));
        let allowed: Vec<&str> = v["spec"]["destinations"]
            .as_array()
            .expect("destinations")
            .iter()
            .filter_map(|d| d["namespace"].as_str())
            .collect();
        for (path, f) in &render.tree {
            if path.starts_with("_argocd/") {
                continue;
            }
            if let Some(ns) = &f.id.namespace {
                assert!(
                    allowed.contains(&ns.as_str()),
                    "{env}: {path} is in namespace {ns}, which its AppProject does not allow ({allowed:?})"
                );
            }
        }
    }
}
