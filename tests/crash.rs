//! Crash safety: `nbgen render` killed (SIGKILL) at many points of a large render leaves every
//! file under `out/<env>/` with its old or its new content, never a mix or a truncation, every
//! file it created owned (listed in the manifest), and the next render — of the same spec or of
//! another — repairs the tree to exactly what a fresh render writes.

mod common;

use common::{Snapshot, large_spec, nbgen};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const TEAMS: usize = 200;
const ENV: &str = "big";
/// Kills spread over the render's writes (by progress, not by time: the machine's speed varies),
/// plus a few before the first write.
const KILLS_WHILE_WRITING: usize = 20;
const KILLS_BEFORE_WRITING: usize = 4;

type Tree = BTreeMap<String, String>;

fn write_spec(root: &Path, variant: u32) {
    fs::create_dir_all(root.join("environments")).unwrap();
    fs::write(
        root.join(format!("environments/{ENV}.yaml")),
        large_spec(TEAMS, variant),
    )
    .unwrap();
}

fn render(root: &Path) -> Duration {
    let start = Instant::now();
    let out = nbgen(root).args(["render", ENV]).output().unwrap();
    assert!(
        out.status.success(),
        "render failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

fn out_tree(root: &Path) -> Tree {
    Snapshot::take(&root.join("out").join(ENV)).texts()
}

/// The tree a fresh render of `variant` writes, in a repository of its own.
fn fresh(variant: u32) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), variant);
    render(dir.path());
    let tree = out_tree(dir.path());
    for (path, text) in &tree {
        if path.ends_with(".yaml") {
            serde_saphyr::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
        }
    }
    tree
}

fn manifest_paths(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(_, p)| p)
        .collect()
}

/// What a killed run left: every file has its content in one of the two variants' trees (which
/// one it had before the run was itself left by earlier kills), and is owned. Returns how many
/// files have the `target`'s content and how many the other's (where the two differ).
fn check_killed(root: &Path, trees: &[Tree; 2], target: usize, when: &str) -> (usize, usize) {
    let now = out_tree(root);
    let manifest = now.get(".nbgen-manifest").map(String::as_str).unwrap_or("");
    let owned = manifest_paths(manifest);
    let (mut at_target, mut at_other) = (0, 0);
    for (path, text) in &now {
        let name = path.rsplit('/').next().unwrap();
        if name.starts_with(".nbgen-tmp-") || path == ".nbgen-manifest" {
            continue; // a temporary the kill left behind is cleaned by the next run
        }
        let is_target = trees[target].get(path) == Some(text);
        let is_other = trees[1 - target].get(path) == Some(text);
        assert!(
            is_target || is_other,
            "killed {when}: {path} is neither its old nor its new content ({} bytes)",
            text.len()
        );
        at_target += usize::from(is_target && !is_other);
        at_other += usize::from(is_other && !is_target);
        assert!(
            owned.contains(&path.as_str()),
            "killed {when}: {path} exists but the manifest does not own it, so no later render \
             would remove it"
        );
    }
    (at_target, at_other)
}

fn start_render(root: &Path) -> std::process::Child {
    nbgen(root)
        .args(["render", ENV])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// When to kill a run.
enum KillAt {
    /// After a delay: for the pure part of a run, before it writes anything.
    Delay(Duration),
    /// As soon as this file has its new content: in the middle of the writes, wherever the
    /// machine's speed puts them in time. Files are written in path order.
    Written(String),
    /// As soon as this stale file is gone: while stale files are removed.
    Removed(String),
}

/// Run a render and kill it when `at` happens (or let it finish if it finishes first). Returns
/// whether it was killed.
fn render_and_kill(root: &Path, at: &KillAt, target: &Tree) -> bool {
    let out = root.join("out").join(ENV);
    let mut child = start_render(root);
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "render failed on its own: {status}");
            return false;
        }
        let now = match at {
            KillAt::Delay(d) => start.elapsed() >= *d,
            KillAt::Written(p) => {
                fs::read(out.join(p)).ok().as_deref() == Some(target[p].as_bytes())
            }
            KillAt::Removed(p) => fs::symlink_metadata(out.join(p)).is_err(),
        };
        if now {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return true;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "render hangs");
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn killed_renders_leave_old_or_new_files_and_the_next_render_repairs() {
    let trees = [fresh(0), fresh(1)];
    let [old, new] = &trees;
    let changed = new
        .iter()
        .filter(|(p, t)| old.get(*p).is_some_and(|o| o != *t))
        .count();
    assert!(
        changed * 2 > new.len(),
        "the variants should change most files: {changed} of {}",
        new.len()
    );
    assert!(new.keys().any(|p| !old.contains_key(p)) && old.keys().any(|p| !new.contains_key(p)));

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_spec(root, 0);
    render(root);
    // How long the pure part takes: validate runs the same pipeline and writes nothing.
    let start = Instant::now();
    assert!(
        nbgen(root)
            .args(["validate", ENV])
            .status()
            .unwrap()
            .success()
    );
    let compute = start.elapsed();

    // Each run renders the other variant over whatever the previous kill left: a mix of old and
    // new files, stray temporaries, a manifest written ahead of its files.
    let mut mixed = 0;
    let kills = KILLS_BEFORE_WRITING + KILLS_WHILE_WRITING;
    for i in 0..kills {
        let target = (i + 1) % 2;
        write_spec(root, target as u32);
        let before = out_tree(root);
        let pending: Vec<&String> = trees[target]
            .iter()
            .filter(|(p, t)| p.as_str() != ".nbgen-manifest" && before.get(*p) != Some(*t))
            .map(|(p, _)| p)
            .collect();
        let stale: Vec<&String> = before
            .keys()
            .filter(|p| !trees[target].contains_key(*p) && trees[1 - target].contains_key(*p))
            .collect();
        let at = if i < KILLS_BEFORE_WRITING {
            KillAt::Delay(compute.mul_f64(i as f64 / KILLS_BEFORE_WRITING as f64))
        } else if i % 7 == 6 && !stale.is_empty() {
            KillAt::Removed(stale[stale.len() / 2].clone())
        } else if pending.is_empty() {
            KillAt::Delay(Duration::ZERO)
        } else {
            let k = i - KILLS_BEFORE_WRITING;
            let f = (k as f64 + 0.5) / KILLS_WHILE_WRITING as f64;
            KillAt::Written(pending[(f * pending.len() as f64) as usize].clone())
        };
        let killed = render_and_kill(root, &at, &trees[target]);
        let when = match &at {
            KillAt::Delay(d) => format!("#{i} after {d:?}"),
            KillAt::Written(p) => format!("#{i} once {p} was written"),
            KillAt::Removed(p) => format!("#{i} once {p} was removed"),
        };
        let (at_target, at_other) = check_killed(root, &trees, target, &when);
        println!(
            "{when}: {at_target} files rendered for the spec, {at_other} not yet{}",
            if killed {
                ""
            } else {
                " (finished before the kill)"
            }
        );
        if killed && at_target > 0 && at_other > 0 {
            mixed += 1;
        }
    }
    assert!(
        mixed >= KILLS_WHILE_WRITING / 2,
        "only {mixed} kills landed while files were being written; the test did not test much"
    );

    // A normal render after a kill repairs the tree to exactly a fresh render: of the same spec,
    // or of another one (the files the killed run created are owned, so they are removed).
    for (killed, then) in [(1, 0), (1, 1), (0, 1)] {
        write_spec(root, killed as u32);
        let before = out_tree(root);
        let pending: Vec<&String> = trees[killed]
            .iter()
            .filter(|(p, t)| p.as_str() != ".nbgen-manifest" && before.get(*p) != Some(*t))
            .map(|(p, _)| p)
            .collect();
        let middle = KillAt::Written(pending[pending.len() / 2].clone());
        assert!(render_and_kill(root, &middle, &trees[killed]));
        write_spec(root, then as u32);
        render(root);
        assert_eq!(
            out_tree(root),
            trees[then],
            "render of variant {then} after a killed render of variant {killed}"
        );
    }
}
