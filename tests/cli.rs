//! The `nbgen` binary as a user runs it, in a throw-away copy of this repository: exit codes,
//! what goes to stdout and stderr, and exactly what changes under `out/`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// A temporary repository: this project's `environments/` and `schemas/`, optionally its
/// committed `out/`.
struct Repo {
    dir: tempfile::TempDir,
}

/// What one run of nbgen did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A file as found on disk: its bytes, and what changes when it is rewritten.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    bytes: Vec<u8>,
    modified: SystemTime,
    inode: u64,
}

fn project_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create a directory in the temporary repository");
    for e in fs::read_dir(from).expect("read a directory of the project") {
        let e = e.expect("list a directory of the project");
        let target = to.join(e.file_name());
        if e.file_type().expect("a file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).expect("copy a file of the project");
        }
    }
}

impl Repo {
    /// The project's specs, no output yet.
    fn new() -> Repo {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for sub in ["environments", "schemas", "templates"] {
            copy_dir(&project_root().join(sub), &dir.path().join(sub));
        }
        Repo { dir }
    }

    /// The project's specs and its committed output.
    fn with_committed_output() -> Repo {
        let repo = Repo::new();
        copy_dir(&project_root().join("out"), &repo.path("out"));
        repo
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create parents");
        fs::write(path, text).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    }

    /// Replace the one occurrence of `old` in a file.
    fn edit(&self, rel: &str, old: &str, new: &str) {
        let text = self.read(rel);
        assert_eq!(text.matches(old).count(), 1, "{old:?} occurs once in {rel}");
        self.write(rel, &text.replacen(old, new, 1));
    }

    /// Run nbgen with the repository as the working directory.
    fn nbgen(&self, args: &[&str]) -> Run {
        nbgen_in(self.root(), args)
    }

    /// Every file under `rel` (recursively), by path relative to it.
    fn files(&self, rel: &str) -> BTreeMap<String, Seen> {
        files_under(&self.path(rel))
    }
}

fn nbgen_in(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .current_dir(cwd)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run nbgen");
    Run {
        code: out
            .status
            .code()
            .expect("nbgen exits, not killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn files_under(dir: &Path) -> BTreeMap<String, Seen> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Seen>) {
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
            let meta = fs::symlink_metadata(e.path()).expect("metadata");
            if meta.is_dir() {
                walk(&e.path(), &rel, out);
            } else {
                let seen = Seen {
                    bytes: fs::read(e.path()).expect("a readable file"),
                    modified: meta.modified().expect("an mtime"),
                    inode: meta.ino(),
                };
                out.insert(rel, seen);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// The committed `out/<env>/` of this project: the files a fresh render must produce.
fn committed(env: &str) -> BTreeMap<String, Vec<u8>> {
    files_under(&project_root().join("out").join(env))
        .into_iter()
        .map(|(k, v)| (k, v.bytes))
        .collect()
}

fn contents(files: &BTreeMap<String, Seen>) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(k, v)| (k.clone(), v.bytes.clone()))
        .collect()
}

/// The number of files nbgen renders for `env` (the committed ones, less the ownership manifest).
fn rendered_count(env: &str) -> usize {
    committed(env).len() - 1
}

const MANIFEST: &str = ".nbgen-manifest";

// ---- render ----

#[test]
fn render_writes_the_committed_tree_and_prints_a_summary() {
    let repo = Repo::new();
    let run = repo.nbgen(&["render", "prod"]);
    assert_eq!(run.code, 0, "{run:?}");
    let n = rendered_count("prod");
    assert_eq!(run.stdout, format!("out/prod: +{n} ~0 -0 =0\n"));
    assert_eq!(
        run.stderr,
        "note: environments/staging.yaml: valid, and built on prod: render it too if it changed (nbgen render staging)\n",
        "prod renders without warnings; staging, built on it, is validated and named"
    );
    assert_eq!(contents(&repo.files("out/prod")), committed("prod"));
    assert!(repo.files("out/prod").contains_key(MANIFEST));
}

#[test]
fn second_render_reports_all_unchanged_and_rewrites_nothing() {
    let repo = Repo::new();
    assert_eq!(repo.nbgen(&["render", "prod"]).code, 0);
    let before = repo.files("out");
    let run = repo.nbgen(&["render", "prod"]);
    assert_eq!(run.code, 0, "{run:?}");
    let n = rendered_count("prod");
    assert_eq!(run.stdout, format!("out/prod: +0 ~0 -0 ={n}\n"));
    // Same bytes, same modification times, same inodes (no rename over an equal file),
    // the ownership manifest included.
    assert_eq!(repo.files("out"), before);
}

#[test]
fn render_over_the_committed_output_changes_nothing() {
    let repo = Repo::with_committed_output();
    let before = repo.files("out");
    let run = repo.nbgen(&["render", "dev"]);
    assert_eq!(run.code, 0, "{run:?}");
    let n = rendered_count("dev");
    assert_eq!(run.stdout, format!("out/dev: +0 ~0 -0 ={n}\n"));
    assert_eq!(repo.files("out"), before);
}

#[test]
fn render_of_an_invalid_spec_exits_2_and_leaves_out_byte_identical() {
    let repo = Repo::with_committed_output();
    repo.edit(
        "environments/prod.yaml",
        "roles: [infer]",
        "roles: [inferr]",
    );
    let before = repo.files("out");
    let run = repo.nbgen(&["render", "prod"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with("error: team `mlops` uses undefined role `inferr`\n")
            && run.stderr.contains(" --> environments/prod.yaml:")
            && run
                .stderr
                .ends_with("nbgen: prod is invalid: 1 error in environments/prod.yaml; nothing was written\nnbgen: staging (built on prod) is invalid by the errors above; nothing was written\n"),
        "{}",
        run.stderr
    );
    assert_eq!(repo.files("out"), before);
}

#[test]
fn root_flag_renders_another_repository() {
    let repo = Repo::new();
    let elsewhere = tempfile::tempdir().expect("a temporary directory");
    let root = repo.root().to_str().expect("a UTF-8 path");
    let run = nbgen_in(elsewhere.path(), &["--root", root, "render", "dev"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(contents(&repo.files("out/dev")), committed("dev"));
    assert!(
        files_under(elsewhere.path()).is_empty(),
        "nothing is written in the working directory"
    );
    // --root is global: it may come after the subcommand too.
    let run = nbgen_in(elsewhere.path(), &["validate", "dev", "--root", root]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn unknown_environment_exits_2_and_lists_the_environments() {
    let repo = Repo::new();
    let run = repo.nbgen(&["render", "qa"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "error: cannot read environments/qa.yaml: no such file\n \
         --> environments/qa.yaml\n  \
         = help: environments here: dev, kubeflow, opendatahub, openshift, prod, staging\n\n\
         nbgen: 1 error in environments/qa.yaml; nothing was written\n"
    );
    assert!(!repo.path("out").exists());
}

#[test]
fn environment_names_that_are_paths_exit_2_and_touch_nothing() {
    let repo = Repo::new();
    repo.write("x.yaml", &repo.read("environments/dev.yaml"));
    for env in ["../x", "/tmp/x", "dev/../dev", "Dev", ""] {
        let run = repo.nbgen(&["render", env]);
        assert_eq!(run.code, 2, "{env:?}: {run:?}");
        assert!(
            run.stderr
                .starts_with(&format!("error: `{env}` is not an environment name\n")),
            "{env:?}: {}",
            run.stderr
        );
    }
    assert!(!repo.path("out").exists());
    assert!(
        !repo
            .dir
            .path()
            .parent()
            .expect("a parent")
            .join("out/x")
            .exists()
    );
}

#[test]
fn hand_added_readme_survives_renders_that_remove_files() {
    let repo = Repo::with_committed_output();
    repo.write(
        "out/prod/README.md",
        "# prod\nOwned by the platform team.\n",
    );
    repo.write("out/prod/mlops/NOTES.md", "notes\n");
    repo.edit(
        "environments/prod.yaml",
        "  mlops:\n    groups: [mlops]\n    roles: [infer]\n",
        "",
    );
    let run = repo.nbgen(&["render", "prod"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(" -"), "{}", run.stdout);
    assert_eq!(
        repo.read("out/prod/README.md"),
        "# prod\nOwned by the platform team.\n"
    );
    assert_eq!(repo.read("out/prod/mlops/NOTES.md"), "notes\n");
}

#[test]
fn file_nbgen_does_not_own_at_a_rendered_path_exits_2_and_nothing_is_written() {
    let repo = Repo::new();
    repo.write("out/prod/mlops/service-infer.yaml", "# written by hand\n");
    let before = repo.files("out");
    let run = repo.nbgen(&["render", "prod"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "error: out/prod/mlops/service-infer.yaml exists and was not written by nbgen; \
         move it away or delete it, then render again\n"
    );
    assert_eq!(repo.files("out"), before, "no file added, none changed");
}

#[test]
fn owned_file_edited_by_hand_is_restored() {
    let repo = Repo::with_committed_output();
    repo.write("out/prod/mlops/service-infer.yaml", "# edited by hand\n");
    let run = repo.nbgen(&["render", "prod"]);
    assert_eq!(run.code, 0, "{run:?}");
    let n = rendered_count("prod");
    assert_eq!(run.stdout, format!("out/prod: +0 ~1 -0 ={}\n", n - 1));
    assert_eq!(contents(&repo.files("out/prod")), committed("prod"));
}

#[test]
fn removing_a_team_removes_exactly_its_files() {
    let repo = Repo::with_committed_output();
    let before = repo.files("out/prod");
    let team_files: Vec<&String> = before
        .keys()
        .filter(|rel| {
            let text = String::from_utf8_lossy(&before[*rel].bytes);
            text.contains("\n    nbgen.io/team: mlops\n")
        })
        .collect();
    // Its namespace's files and its cluster-scoped ones (Namespace, PersistentVolume).
    assert!(team_files.iter().any(|f| f.starts_with("mlops/")));
    assert!(team_files.contains(&&"_cluster/namespace-mlops.yaml".to_owned()));
    assert!(team_files.contains(&&"_cluster/persistentvolume-prod-mlops-models.yaml".to_owned()));

    repo.edit(
        "environments/prod.yaml",
        "  mlops:\n    groups: [mlops]\n    roles: [infer]\n",
        "",
    );
    let run = repo.nbgen(&["render", "prod"]);
    assert_eq!(run.code, 0, "{run:?}");
    // The one other change: the Argo CD project no longer allows the team's namespace.
    let project = "_argocd/appproject-notebooks-prod.yaml".to_owned();
    let kept = before.len() - 1 - team_files.len() - 1;
    assert_eq!(
        run.stdout,
        format!("out/prod: +0 ~1 -{} ={kept}\n", team_files.len())
    );
    let after = repo.files("out/prod");
    assert!(
        !repo
            .read("out/prod/_argocd/appproject-notebooks-prod.yaml")
            .contains("mlops")
    );
    for (rel, seen) in &before {
        if rel == MANIFEST || *rel == project {
            continue;
        }
        if team_files.contains(&rel) {
            assert!(!after.contains_key(rel), "{rel} is removed");
        } else {
            assert_eq!(after.get(rel), Some(seen), "{rel} is left as it was");
        }
    }
    assert!(
        !repo.path("out/prod/mlops").exists(),
        "the emptied directory is removed"
    );
    assert_eq!(after.len(), kept + 2, "no file added");
    let manifest = repo.read("out/prod/.nbgen-manifest");
    assert!(!manifest.contains("mlops"), "{manifest}");
}

#[test]
fn render_stdout_prints_every_file_as_one_stream_and_writes_nothing() {
    let repo = Repo::new();
    let run = repo.nbgen(&["render", "prod", "--stdout"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "");
    let expected: String = committed("prod")
        .into_iter()
        .filter(|(path, _)| path != MANIFEST && !path.starts_with("_argocd/"))
        .map(|(path, bytes)| {
            format!(
                "---\n# Source: out/prod/{path}\n{}",
                String::from_utf8(bytes).expect("UTF-8")
            )
        })
        .collect();
    assert_eq!(run.stdout, expected);
    assert!(!repo.path("out").exists(), "--stdout wrote out/");
}

#[test]
fn render_stdout_of_an_invalid_spec_prints_nothing_and_exits_2() {
    let repo = Repo::new();
    let spec = repo
        .read("environments/prod.yaml")
        .replace("roles: [train]", "roles: [trian]");
    repo.write("environments/prod.yaml", &spec);
    let run = repo.nbgen(&["render", "prod", "--stdout"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("uses undefined role `trian`"),
        "{run:?}"
    );
}

// ---- validate ----

#[test]
fn validate_exits_0_for_a_valid_spec_and_writes_nothing() {
    let repo = Repo::new();
    let run = repo.nbgen(&["validate", "prod"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "environments/prod.yaml: valid (3 teams, 5 servers, 3 jobs, {} objects, 0 warnings)\n\
             environments/staging.yaml (extends environments/prod.yaml): valid (3 teams, 3 servers, 2 jobs, {} objects, 0 warnings), validated because it is built on prod\n",
            rendered_count("prod"),
            rendered_count("staging")
        )
    );
    assert_eq!(run.stderr, "");
    assert!(!repo.path("out").exists());
}

#[test]
fn validate_exits_2_for_an_invalid_spec() {
    let repo = Repo::new();
    repo.edit("environments/dev.yaml", "cpu: 500m", "cpu: 500 m");
    let run = repo.nbgen(&["validate", "dev"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(
            "error: roles.notebook.cpu: \"500 m\" is not a valid Kubernetes quantity\n  \
             --> environments/dev.yaml:27:10\n"
        ),
        "{}",
        run.stderr
    );
    assert!(!repo.path("out").exists());
}

// ---- streams, colour, help ----

#[test]
fn summary_goes_to_stdout_and_warnings_to_stderr() {
    let repo = Repo::new();
    repo.edit(
        "environments/dev.yaml",
        "teams:\n",
        "  spare:\n    image: notebook\n    cpu: 500m\n    memory: 1Gi\nteams:\n",
    );
    let run = repo.nbgen(&["render", "dev"]);
    assert_eq!(run.code, 0, "{run:?}");
    let n = rendered_count("dev");
    assert_eq!(run.stdout, format!("out/dev: +{n} ~0 -0 =0\n"));
    assert!(
        run.stderr
            .starts_with("warning: role `spare` is not used by any team\n"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("out/dev:"), "{}", run.stderr);
}

#[test]
fn no_colour_when_stderr_is_not_a_terminal() {
    let repo = Repo::new();
    repo.edit(
        "environments/dev.yaml",
        "image: notebook ",
        "image: notbook ",
    );
    let plain = repo.nbgen(&["render", "dev"]);
    assert_eq!(plain.code, 2, "{plain:?}");
    assert!(plain.stderr.contains("error: "), "{}", plain.stderr);
    assert!(!plain.stderr.contains('\x1b'), "{:?}", plain.stderr);
    // The same run, asked for colour, has it: the check above can fail.
    let coloured = repo.nbgen(&["--color", "always", "render", "dev"]);
    assert_eq!(coloured.code, 2, "{coloured:?}");
    assert!(coloured.stderr.contains("\x1b["), "{:?}", coloured.stderr);
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let repo = Repo::new();
    let run = repo.nbgen(&["--help"]);
    assert_eq!(run.code, 0, "{run:?}");
    for needle in [
        "Usage: nbgen",
        "render",
        "validate",
        "--root <DIR>",
        "Examples:",
        "nbgen render prod",
        "nbgen validate prod",
        "Exit codes:",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} in:\n{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains('\x1b'));
}

#[test]
fn missing_environment_argument_is_a_usage_error() {
    let repo = Repo::new();
    let run = repo.nbgen(&["render"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("Usage: nbgen render <ENVS>..."),
        "{}",
        run.stderr
    );
    assert!(!repo.path("out").exists());
}

// ---- NodePorts across renders ----

#[test]
fn pinning_a_port_another_server_holds_moves_that_server_with_a_warning() {
    let repo = Repo::with_committed_output();
    let node_port = |rel: &str| -> u16 {
        repo.read(rel)
            .lines()
            .find_map(|l| l.trim().strip_prefix("nodePort: "))
            .and_then(|p| p.parse().ok())
            .expect("a Service with a nodePort")
    };
    let port = node_port("out/prod/mlops/service-infer.yaml");
    repo.edit(
        "environments/prod.yaml",
        "    roles: [prep]\n",
        &format!("    roles: [prep]\n    nodePorts: {{prep-alice: {port}}}\n"),
    );
    let run = repo.nbgen(&["render", "prod"]);
    assert_eq!(run.code, 0, "{run:?}");
    let n = rendered_count("prod");
    assert_eq!(run.stdout, format!("out/prod: +0 ~2 -0 ={}\n", n - 2));
    assert_eq!(
        node_port("out/prod/data-science/service-prep-alice.yaml"),
        port
    );
    let moved_to = node_port("out/prod/mlops/service-infer.yaml");
    assert_ne!(moved_to, port);
    assert!(
        run.stderr.starts_with(&format!(
            "warning: NodePort of mlops/infer moves from {port} to {moved_to}: \
             {port} is now pinned by data-science/prep-alice\n"
        )),
        "{}",
        run.stderr
    );
}

// ---- resources ----

/// nbgen uses every core, but must not need more than one: where no thread can be started (a
/// container's process limit), it works on the calling thread. Run as `nobody` under
/// RLIMIT_NPROC = 1 with util-linux's `setpriv` and `prlimit`, which only root can arrange;
/// elsewhere the test says so and passes.
#[test]
fn render_works_where_no_thread_can_be_started() {
    use std::os::unix::fs::PermissionsExt as _;
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(["prlimit", "--nproc=1"])
            .arg(env!("CARGO_BIN_EXE_nbgen"))
            .args(args);
        cmd
    };
    let probe = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["prlimit", "--nproc=1", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: needs root, setpriv and prlimit to run nbgen as nobody under a limit");
        return;
    }
    let repo = Repo::new();
    fs::set_permissions(repo.root(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let run = |args: &[&str]| {
        as_nobody(args)
            .current_dir(repo.root())
            .stdin(Stdio::null())
            .output()
            .expect("run nbgen as nobody")
    };
    let stream = run(&["render", "prod", "--stdout"]);
    assert!(stream.status.success(), "{stream:?}");
    let write = run(&["render", "prod", "staging"]);
    assert!(write.status.success(), "{write:?}");
    assert_eq!(contents(&repo.files("out/prod")), committed("prod"));
    let check = run(&["check", "prod"]);
    assert!(check.status.success(), "{check:?}");
}

/// A config management plugin runs `render --stdout`: the Application must not manage itself.
#[test]
fn render_stdout_leaves_out_the_argocd_objects() {
    let repo = Repo::new();
    let run = repo.nbgen(&["render", "--stdout", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("# Source: out/prod/mlops/service-infer.yaml")
    );
    assert!(!run.stdout.contains("_argocd/"), "{}", run.stdout);
    assert!(!run.stdout.contains("kind: Application\n"));
}
