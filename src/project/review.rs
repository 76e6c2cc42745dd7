//! The review commands (`diff`, `check`, `graph`) run against a repository: the I/O edge that
//! gathers the render and the committed files (on disk or at a git revision), then hands them
//! to the pure `diff`, `risk`, `check`, `graph` and `report` modules. Never writes a file.

use super::{Failure, Project};
use crate::diagnostic::Diagnostic;
use crate::emit::ownership::MANIFEST;
use crate::output::OutDir;
use crate::report::{CheckReport, DiffReport, EnvCheck, Format, Status};
use crate::review::check::{self, Finding, Problem};
use crate::review::snapshot::{Sides, Snapshot};
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

/// `nbgen diff <env>... [--against REV]`: each environment named (every one with `all`, and
/// with `--against` every one with output at REV), then each built on them.
pub fn diff(
    project: &Project,
    envs: &[String],
    all: bool,
    against: Option<&str>,
    format: Format,
    stat: bool,
    color: bool,
) -> Result<Outcome, Failure> {
    let mut targets = project.targets(envs, all)?;
    // The revision is checked once, before any environment.
    let then = match against {
        Some(rev) => git::dirs_at(&project.root, rev, "out").map_err(git_failure)?,
        None => Vec::new(),
    };
    if all {
        for name in then {
            if super::valid_env_name(&name) && !targets.iter().any(|t| t.env == name) {
                targets.push(super::Target {
                    env: name,
                    base: None,
                });
            }
        }
    }
    let mut outcome = Outcome::default();
    let mut pieces = Vec::new();
    for t in &targets {
        match diff_one(project, &t.env, against, format, stat, color) {
            Ok((piece, diagnostics, code)) => {
                pieces.push(match (&t.base, format) {
                    (_, Format::Json | Format::Markdown) => piece,
                    _ if targets.len() == 1 => piece,
                    (Some(base), _) => format!("out/{} (built on {base}):\n{piece}", t.env),
                    (None, _) => format!("out/{}:\n{piece}", t.env),
                });
                outcome.diagnostics.push(diagnostics);
                outcome.code = outcome.code.max(code);
            }
            Err(e) if targets.len() == 1 => return Err(e),
            Err(Failure::Invalid {
                mut diagnostics,
                sources,
            }) => {
                let why = match &t.base {
                    Some(base) => format!("{} (built on {base}) is invalid", t.env),
                    None => format!("{} is invalid", t.env),
                };
                diagnostics.push(Diagnostic::error(why).help(format!("nbgen validate {}", t.env)));
                outcome.diagnostics.push((diagnostics, sources));
                outcome.code = 2;
            }
            Err(e) => return Err(e),
        }
    }
    outcome.stdout = if format == Format::Json && pieces.len() > 1 {
        format!(
            "[{}]\n",
            pieces
                .iter()
                .map(|p| p.trim_end())
                .collect::<Vec<_>>()
                .join(",\n")
        )
    } else {
        pieces.concat()
    };
    Ok(outcome)
}

type Diagnostics = (Vec<Diagnostic>, Vec<SourceFile>);

fn diff_one(
    project: &Project,
    env: &str,
    against: Option<&str>,
    format: Format,
    stat: bool,
    color: bool,
) -> Result<(String, Diagnostics, u8), Failure> {
    let dir = format!("out/{env}");
    let out = project.out_dir(env)?;
    let spec = project.root.join(format!("environments/{env}.yaml"));
    if fs::symlink_metadata(&spec).is_err() {
        // Nothing is rendered: every file is read, and every object is removed.
        let nothing = crate::emit::Tree::default();
        let files = match against {
            None => out.manifests_against(&nothing).map_err(Failure::Output)?,
            Some(rev) => {
                git::files_against(&project.root, rev, &dir, &nothing).map_err(git_failure)?
            }
        };
        let sides = Sides::read(files, &nothing);
        if sides.old.objects.is_empty() {
            project.render(env)?; // the usual "cannot read" error
        }
        let d = diff::sides(&sides, &dir);
        let mut risks = risk::assess_with(
            &sides.old,
            &sides.new,
            &risk::Same::default(),
            &Default::default(),
        );
        risks.environment_deleted = Some(risk::EnvironmentDeleted {
            environment: env.to_owned(),
            objects: d.count(crate::review::diff::Change::Removed),
        });
        let report = DiffReport {
            env: env.to_owned(),
            against: against.map(str::to_owned),
            dir: dir.clone(),
            diff: d,
            risks,
            graph: String::new(),
        };
        let note = Diagnostic::warning(format!(
            "environments/{env}.yaml does not exist: every object of {dir} is removed"
        ))
        .help("Argo CD prunes them only if the Application still exists; restore the spec if the deletion is a mistake");
        return Ok((
            report.render(format, stat, color),
            (vec![note], Vec::new()),
            1,
        ));
    }
    let (r, sources) = project.render(env)?;
    // Files holding exactly their rendered text are recognised as they are listed (compared
    // on disk, or by git blob id at a revision) and never parsed: the work follows what changed.
    let files = match against {
        None => out.manifests_against(&r.tree).map_err(Failure::Output)?,
        Some(rev) => git::files_against(&project.root, rev, &dir, &r.tree).map_err(git_failure)?,
    };
    let mut sides = Sides::read(files, &r.tree);
    // Objects in files nbgen did not write, that it does not render either: render leaves
    // them, so they are no removal. Which files nbgen wrote is the ownership manifest's, on
    // disk or at REV. Such a file never holds its rendered text, so it is among the files read.
    let mut unowned = Vec::new();
    let manifest = match against {
        None => read_manifest(&out),
        Some(rev) => {
            git::file_at(&project.root, rev, &format!("{dir}/{MANIFEST}")).map_err(git_failure)?
        }
    };
    if let Some(manifest) = manifest {
        let owned = crate::emit::ownership::entries(&manifest);
        let rendered: std::collections::BTreeSet<_> = r.tree.values().map(|f| &f.id).collect();
        sides.old.objects.retain(|id, found| {
            let keep = owned.contains_key(found.path.as_str()) || rendered.contains(id);
            if !keep {
                unowned.push(crate::review::snapshot::Note::Unowned {
                    path: found.path.clone(),
                    id: id.clone(),
                });
            }
            keep
        });
    }
    let mut d = diff::sides(&sides, &dir);
    d.notes.extend(unowned);
    d.notes.sort_by(|a, b| a.path().cmp(b.path()));
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
    Ok((
        report.render(format, stat, color),
        (r.warnings, sources),
        code,
    ))
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
    let envs: Vec<String> = project
        .targets(envs, all)?
        .into_iter()
        .map(|t| t.env)
        .collect();
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
    let mut clusters: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    // A named environment whose spec is gone but whose output is still committed is what
    // `check` without names reports for it: output with no spec, not an unreadable spec.
    let specless: Vec<String> = if all {
        Vec::new()
    } else {
        orphans(project, &[])?
            .into_iter()
            .filter(|name| envs.contains(name) && !project.spec_path(name).exists())
            .collect()
    };
    for env in &envs {
        if specless.contains(env) {
            report.environments.push(no_spec(env, root.as_deref()));
            continue;
        }
        let dir = format!("out/{env}");
        let (r, sources) = match project.render(env) {
            Ok(x) => x,
            Err(Failure::Invalid {
                diagnostics,
                sources,
            }) => {
                outcome
                    .diagnostics
                    .push((naming(env, diagnostics), sources));
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
        outcome
            .diagnostics
            .push((naming(env, r.warnings.clone()), sources));
        clusters
            .entry(r.env.cluster())
            .or_default()
            .push(env.clone());
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
            report.environments.push(no_spec(&name, root.as_deref()));
        }
    }
    // Checking some environments, the others on their clusters count too: their committed
    // output shares the cluster's NodePorts and namespaces (findings are reported only for the
    // environments checked; an environment that does not render has no cluster to compare).
    if !all {
        let others = project.environments().unwrap_or_default();
        for other in others.iter().filter(|o| !envs.contains(o)) {
            if let Ok((r, _)) = project.render(other)
                && let Some(group) = clusters.get_mut(&r.env.cluster())
            {
                group.push(other.clone());
            }
        }
    }
    // Environments on one cluster, as committed: a clean merge of two reviewed changes can
    // still put two Services on one NodePort, or one object in two environments.
    for group in clusters.values().filter(|g| g.len() > 1) {
        // A finding is told of the later environment of a pair: the ones checked come last.
        let mut group = group.clone();
        group.sort_by_key(|env| envs.contains(env));
        let committed: Vec<(String, Snapshot)> = group
            .iter()
            .map(|env| {
                let files = project
                    .out_dir(env)
                    .and_then(|o| o.manifests().map_err(Failure::Output))?;
                Ok((env.clone(), Snapshot::read(&files)))
            })
            .collect::<Result<_, Failure>>()?;
        let refs: Vec<(&str, &Snapshot)> = committed.iter().map(|(e, s)| (e.as_str(), s)).collect();
        for (env, finding) in check::shared_cluster(&refs) {
            if let Some(e) = report
                .environments
                .iter_mut()
                .find(|e| e.environment == env)
            {
                e.findings.push(finding);
                if e.status == Status::UpToDate {
                    e.status = Status::OutOfDate;
                }
            }
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

/// `check` runs several environments: each diagnostic says which one it was found in (a base's
/// warning shows once for each environment built on it).
fn naming(env: &str, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .map(|mut d| {
            d.message = format!("{env}: {}", d.message);
            d
        })
        .collect()
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

/// `out/<name>/` holds manifests but there is no `environments/<name>.yaml`.
fn no_spec(name: &str, root: Option<&str>) -> EnvCheck {
    let findings = vec![Finding {
        path: String::new(),
        problem: Problem::NoSpec,
        object: None,
        detail: format!(
            "holds manifests but there is no environments/{name}.yaml: restore the spec, or remove the directory"
        ),
    }];
    EnvCheck {
        fix: check::fix(name, &findings, root),
        environment: name.to_owned(),
        dir: format!("out/{name}"),
        status: Status::OutOfDate,
        files: 0,
        findings,
    }
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
