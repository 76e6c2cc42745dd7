//! CLI cases kept as data: each directory under tests/cmd/ is one run of the nbgen binary.
//!
//! ```text
//! tests/cmd/<case>/
//!   args     the arguments, one per line (no shell: what you see is what nbgen gets)
//!   setup    optional: a sh script run in the sandbox first ($NBGEN is the binary; git works)
//!   in/      optional: the sandbox's starting tree; without it, a copy of this repository's
//!            environments/, schemas/ and out/ (the shipped examples)
//!   stdout, stderr, code   what nbgen must print and return, exactly
//! ```
//!
//! The sandbox's path appears as `[ROOT]` in expected output. `NBGEN_BLESS=1 cargo test --test
//! cmd` rewrites the expected files from the actual output; review them with `git diff`.
//! `NBGEN_CASE=<substring>` runs only matching cases.
//!
//! Why not trycmd: the cases need the shipped example tree plus a few edits, and git history,
//! which trycmd's fixed input folders cannot express without copying the whole example into
//! every case (and a `.git` cannot be committed inside a case); this runner is one screen.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_nbgen");

#[test]
fn cli_cases() {
    let cases_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd");
    let filter = std::env::var("NBGEN_CASE").unwrap_or_default();
    let bless = std::env::var_os("NBGEN_BLESS").is_some();
    let mut cases: Vec<PathBuf> = fs::read_dir(&cases_dir)
        .expect("tests/cmd exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("args").is_file())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&filter))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases under {}", cases_dir.display());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| run_case(case, bless).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed (NBGEN_BLESS=1 rewrites the expectations):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn run_case(case: &Path, bless: bool) -> Result<(), String> {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let sandbox = tempfile::tempdir().expect("temp dir");
    let root = sandbox.path().join("repo");
    let input = case.join("in");
    if input.is_dir() {
        copy_tree(&input, &root);
    } else {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["environments", "schemas", "templates", "out"] {
            copy_tree(&repo.join(dir), &root.join(dir));
        }
    }
    let home = sandbox.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let env = |c: &mut Command| {
        // Git must only ever see the sandbox. Under `git rebase --exec` or a hook, GIT_DIR and
        // friends point at the developer's repository: a setup's `git init` / `git commit`
        // would then rewrite its config and move its HEAD. Drop every GIT_* variable, and stop
        // repository discovery at the sandbox.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GIT_") {
                c.env_remove(key);
            }
        }
        c.current_dir(&root)
            .env("GIT_CEILING_DIRECTORIES", sandbox.path())
            .env("NBGEN", BIN)
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", home.join("gitconfig"))
            .env("GIT_AUTHOR_NAME", "nbgen tests")
            .env("GIT_AUTHOR_EMAIL", "tests@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_NAME", "nbgen tests")
            .env("GIT_COMMITTER_EMAIL", "tests@example.com")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env_remove("NO_COLOR")
            .env_remove("NBGEN_BLESS");
    };
    if case.join("setup").is_file() {
        let mut c = Command::new("sh");
        c.arg("-eu").arg(case.join("setup"));
        env(&mut c);
        let out = c.output().expect("sh runs");
        if !out.status.success() {
            return Err(format!(
                "--- {name}: setup failed\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let args_text = fs::read_to_string(case.join("args")).unwrap();
    let args: Vec<&str> = args_text.lines().collect();
    let mut c = Command::new(BIN);
    c.args(&args);
    env(&mut c);
    let out = c.output().expect("nbgen runs");
    let shown = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes).replace(&root.display().to_string(), "[ROOT]")
    };
    let actual = [
        ("stdout", shown(&out.stdout)),
        ("stderr", shown(&out.stderr)),
        ("code", format!("{}\n", out.status.code().map_or(-1, |c| c))),
    ];
    let mut problems = String::new();
    for (file, got) in &actual {
        let path = case.join(file);
        if bless {
            fs::write(&path, got).unwrap();
            continue;
        }
        let want = fs::read_to_string(&path).unwrap_or_default();
        if &want != got {
            problems.push_str(&format!(
                "--- {name}/{file} differs:\n{}",
                similar::TextDiff::from_lines(&want, got)
                    .unified_diff()
                    .header("expected", "actual")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{problems}  (args: {args:?})\n"))
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_documented_ci_workflows_are_the_shipped_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = fs::read_to_string(root.join("docs/review.md")).unwrap();
    for file in ["docs/nbgen-review.yml", "docs/nbgen-review-comment.yml"] {
        let workflow = fs::read_to_string(root.join(file)).unwrap();
        assert!(
            doc.contains(&format!("```yaml\n{workflow}```")),
            "docs/review.md must show {file} verbatim"
        );
    }
}
