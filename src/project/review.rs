//! The review commands (`diff`, `check`, `graph`) run against a repository: the I/O edge that
//! gathers the render and the committed files (on disk or at a git revision), then hands them
//! to the pure `diff`, `risk`, `check`, `graph` and `report` modules. Never writes a file.

use super::{Failure, Project};
use crate::diagnostic::Diagnostic;
use crate::emit::ownership::MANIFEST;
use crate::output::OutDir;
use crate::report::{CheckReport, DiffReport, EnvCheck, Format, Status};
use crate::review::check::{self, Finding, Problem};
use crate::review::snapshot::Sides;
use crate::review::{diff, git, graph, risk};
use crate::source::SourceFile;
use std::fs;
use std::path::Path;

/// What a command prints and how it exits.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: String,
    /// Warnings (and, for `check`, errors of specs that did not validate), with their sources.
    pub diagnostics: Vec<(Vec<Diagnostic>, Vec<SourceFile>)>,
    /// 0 same / up to date, 1 differs / out of date, 2 invalid.
    pub code: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

/// `nbgen diff <env> [--against REV]`
pub fn diff(
    project: &Project,
    env: &str,
    against: Option<&str>,
    format: Format,
    stat: bool,
    color: bool,
) -> Result<Outcome, Failure> {
    let (r, sources) = project.render(env)?;
    let dir = format!("out/{env}");
    // Files holding exactly their rendered text are recognised as they are listed (compared
    // on disk, or by git blob id at a revision) and never parsed: the work follows what changed.
    let files = match against {
        None => project
            .out_dir(env)?
            .manifests_against(&r.tree)
            .map_err(Failure::Output)?,
        Some(rev) => git::files_against(&project.root, rev, &dir, &r.tree).map_err(git_failure)?,
    };
    let sides = Sides::read(files, &r.tree);
    let d = diff::sides(&sides, &dir);
    let pools = &r.env.gpu_pools;
    let mut same = risk::Same::default();
    for part in sides.fold_same(&r.tree, &risk::SAME_KINDS, risk::same_keys, |s, id, v| {
        risk::Same::add(s, id, &v, pools)
    }) {
        same.merge(part);
    }
    let risks = risk::assess_with(&sides.old, &sides.new, &same, &r.env.gpu_pools);
    let code = u8::from(!d.is_empty());
    let report = DiffReport {
        env: env.to_owned(),
        against: against.map(str::to_owned),
        dir,
        diff: d,
        risks,
        graph: if format == Format::Markdown {
            graph::mermaid(&r.env)
        } else {
            String::new()
        },
    };
    Ok(Outcome {
        stdout: report.render(format, stat, color),
        diagnostics: vec![(r.warnings, sources)],
        code,
    })
}

fn git_failure(e: git::GitError) -> Failure {
    let help = match &e {
        git::GitError::NotRunnable(_) => {
            "install git, or run nbgen diff without --against".to_owned()
        }
        git::GitError::UnknownRevision { detail, .. } => {
            let why = if detail.starts_with("exit status") {
                String::new()
            } else {
                format!("git says: {detail}; ")
            };
            format!(
                "{why}name a branch, tag or commit; in CI, fetch it first (e.g. `git fetch origin main`, or `fetch-depth: 0` in actions/checkout)"
            )
        }
        git::GitError::NotARepository(_) => {
            "run nbgen in a git clone of the repository (or pass --root to one), or drop --against"
                .to_owned()
        }
        git::GitError::OptionLike(_) => "name a branch, tag or commit, e.g. origin/main".to_owned(),
        git::GitError::Failed { .. } => "check that `git` works in this repository".to_owned(),
    };
    Failure::Invalid {
        diagnostics: vec![Diagnostic::error(e.to_string()).help(help)],
        sources: Vec::new(),
    }
}

/// `nbgen check [<env>...]`: every environment when none is named, and then also any
/// `out/<name>/` with manifests but no spec.
pub fn check(
    project: &Project,
    envs: &[String],
    format: Format,
    color: bool,
) -> Result<Outcome, Failure> {
    let all = envs.is_empty();
    let envs = if all {
        project.environments()?
    } else {
        envs.to_vec()
    };
    if envs.is_empty() {
        return Err(Failure::Invalid {
            diagnostics: vec![
                Diagnostic::error("no environments to check: environments/ has no .yaml file")
                    .help("create environments/<env>.yaml, or pass --root DIR"),
            ],
            sources: Vec::new(),
        });
    }
    let root = (project.root != Path::new(".")).then(|| project.root.display().to_string());
    let mut outcome = Outcome::default();
    let mut report = CheckReport {
        environments: Vec::new(),
    };
    for env in &envs {
        let dir = format!("out/{env}");
        let (r, sources) = match project.render(env) {
            Ok(x) => x,
            Err(Failure::Invalid {
                diagnostics,
                sources,
            }) => {
                outcome.diagnostics.push((diagnostics, sources));
                report.environments.push(EnvCheck {
                    environment: env.clone(),
                    dir,
                    status: Status::Invalid,
                    files: 0,
                    findings: Vec::new(),
                    fix: Vec::new(),
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        outcome.diagnostics.push((r.warnings, sources));
        let out = project.out_dir(env)?;
        let files = out.manifests_against(&r.tree).map_err(Failure::Output)?;
        let manifest = read_manifest(&out);
        let findings = check::check(&r.tree, &files, manifest.as_deref());
        let fix = check::fix(env, &findings, root.as_deref());
        report.environments.push(EnvCheck {
            environment: env.clone(),
            dir,
            status: if findings.is_empty() {
                Status::UpToDate
            } else {
                Status::OutOfDate
            },
            files: r.tree.len(),
            findings,
            fix,
        });
    }
    if all {
        for name in orphans(project, &envs)? {
            let findings = vec![Finding {
                path: String::new(),
                problem: Problem::NoSpec,
                object: None,
                detail: format!(
                    "holds manifests but there is no environments/{name}.yaml: restore the spec, or remove the directory"
                ),
            }];
            report.environments.push(EnvCheck {
                fix: check::fix(&name, &findings, root.as_deref()),
                environment: name.clone(),
                dir: format!("out/{name}"),
                status: Status::OutOfDate,
                files: 0,
                findings,
            });
        }
    }
    let statuses: Vec<Status> = report.environments.iter().map(|e| e.status).collect();
    outcome.code = if statuses.contains(&Status::Invalid) {
        2
    } else {
        u8::from(statuses.contains(&Status::OutOfDate))
    };
    outcome.stdout = report.render(format, color);
    Ok(outcome)
}

/// The ownership manifest's text, if it is a regular file.
fn read_manifest(out: &OutDir) -> Option<String> {
    let path = out.path.join(MANIFEST);
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    fs::read_to_string(path).ok()
}

/// Directories under `out/` that hold manifests but have no spec.
fn orphans(project: &Project, envs: &[String]) -> Result<Vec<String>, Failure> {
    let Ok(entries) = fs::read_dir(project.root.join("out")) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| !envs.contains(n) && !n.starts_with('.'))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let Ok(dir) = project.out_dir(&name) else {
            continue; // not an environment's name: never one nbgen wrote
        };
        if dir.has_manifests().map_err(Failure::Output)? {
            out.push(name);
        }
    }
    Ok(out)
}

/// `nbgen graph <env>`
pub fn graph(project: &Project, env: &str, format: GraphFormat) -> Result<Outcome, Failure> {
    let (r, sources) = project.render(env)?;
    let stdout = match format {
        GraphFormat::Mermaid => graph::mermaid(&r.env),
        GraphFormat::Dot => graph::dot(&r.env),
    };
    Ok(Outcome {
        stdout,
        diagnostics: vec![(r.warnings, sources)],
        code: 0,
    })
}
