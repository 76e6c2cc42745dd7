//! A repository laid out as nbgen expects (`environments/`, `out/`): finds and reads specs and
//! previous output, runs the pipeline on them and writes the result (`review`: the diff, check
//! and graph commands, which gather the render and the committed files). The I/O edge around
//! the pure pipeline.

pub mod review;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::expand::extras::Templates;
use crate::input::layer::{self, Layer, Merged};
use crate::input::yaml::MAX_SPEC_BYTES;
use crate::model::Env;
use crate::output::{Lock, OutDir, OutputError, Summary};
use crate::pipeline::{Render, render_merged};
use crate::source::SourceFile;
use crate::validate::template_path_problem;
use std::fs;
use std::io;
use std::path::PathBuf;

/// Why a command could not do its job.
#[derive(Debug)]
pub enum Failure {
    /// The input is wrong: exit 2. Carries the sources so diagnostics can show lines.
    Invalid {
        diagnostics: Vec<Diagnostic>,
        sources: Vec<SourceFile>,
    },
    /// The output directory could not be written as asked: exit 3.
    Output(OutputError),
}

impl Failure {
    fn invalid(d: Diagnostic) -> Self {
        Failure::Invalid {
            diagnostics: vec![d],
            sources: Vec::new(),
        }
    }
}

/// One environment a command runs on (`Project::targets`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub env: String,
    /// Set when the environment was not named but builds on `base`, which was.
    pub base: Option<String>,
}

pub struct Project {
    pub root: PathBuf,
}

impl Project {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Project { root: root.into() }
    }

    /// The environments of the repository: the stems of `environments/*.yaml`, sorted.
    pub fn environments(&self) -> Result<Vec<String>, Failure> {
        let dir = self.root.join("environments");
        let entries = fs::read_dir(&dir).map_err(|e| {
            Failure::invalid(
                Diagnostic::error(format!("cannot read {}: {}", dir.display(), io_message(&e)))
                    .help("run nbgen at the root of a repository with an environments/ directory, or pass --root DIR"),
            )
        })?;
        let mut envs: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".yaml"))
                    .map(str::to_owned)
            })
            .filter(|n| valid_env_name(n))
            .collect();
        envs.sort();
        Ok(envs)
    }

    /// `out/<env>/`. The one place an environment name becomes an output path, so only a valid
    /// name does.
    pub fn out_dir(&self, env: &str) -> Result<OutDir, Failure> {
        checked_name(env)?;
        Ok(OutDir::new(&self.root, env))
    }

    /// Where `environments/<env>.yaml` is (`env` already a checked name).
    pub fn spec_path(&self, env: &str) -> PathBuf {
        self.root.join(format!("environments/{env}.yaml"))
    }

    /// Read `environments/<env>.yaml`.
    pub fn read_spec(&self, env: &str) -> Result<SourceFile, Failure> {
        checked_name(env)?;
        let rel = format!("environments/{env}.yaml");
        let path = self.root.join(&rel);
        let fail = |msg: String, help: String| {
            Failure::invalid(Diagnostic::error(msg).in_file(&rel).help(help))
        };
        let meta = fs::metadata(&path).map_err(|e| {
            let known = self
                .environments()
                .map(|v| v.join(", "))
                .unwrap_or_default();
            let help = if e.kind() == io::ErrorKind::NotFound {
                if known.is_empty() {
                    "create it (start from the example in the README), or pass --root DIR"
                        .to_owned()
                } else {
                    format!("environments here: {known}")
                }
            } else {
                "check the file's permissions".to_owned()
            };
            fail(format!("cannot read {rel}: {}", io_message(&e)), help)
        })?;
        if meta.is_dir() {
            return Err(fail(
                format!("{rel} is a directory, not a spec file"),
                "an environment is one YAML file".to_owned(),
            ));
        }
        // A FIFO would block forever, a device such as /dev/zero never ends.
        if !meta.is_file() {
            return Err(fail(
                format!("{rel} is not a regular file"),
                "an environment is one YAML file; check where it points if it is a symbolic link"
                    .to_owned(),
            ));
        }
        if meta.len() > MAX_SPEC_BYTES as u64 {
            return Err(fail(
                format!("{rel} is {} MiB; nbgen reads specs up to {} MiB", meta.len() >> 20, MAX_SPEC_BYTES >> 20),
                "an environment spec is a few hundred kilobytes even for thousands of teams; check that this is the right file".to_owned(),
            ));
        }
        // Read at most one byte past the limit: the file may have grown since it was measured.
        let bytes = read_at_most(&path, MAX_SPEC_BYTES as u64 + 1).map_err(|e| {
            fail(
                format!("cannot read {rel}: {}", io_message(&e)),
                "check the file's permissions".to_owned(),
            )
        })?;
        if bytes.len() > MAX_SPEC_BYTES {
            return Err(fail(
                format!("{rel} is over {} MiB; nbgen reads specs up to {} MiB", MAX_SPEC_BYTES >> 20, MAX_SPEC_BYTES >> 20),
                "an environment spec is a few hundred kilobytes even for thousands of teams; check that this is the right file".to_owned(),
            ));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = good.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            Failure::invalid(
                Diagnostic::error(format!(
                    "{rel} is not UTF-8 text (invalid byte at line {line}, column {col})"
                ))
                .in_file(&rel)
                .help("save the spec as UTF-8; is this the right file?"),
            )
        })?;
        Ok(SourceFile::new(rel, text))
    }

    /// Validate and render one environment in memory; nothing is written. The sources
    /// returned (and carried by a failure) are every file a diagnostic may point into: the
    /// environment's spec, the specs it extends, and its templates.
    pub fn render(&self, env: &str) -> Result<(Render, Vec<SourceFile>), Failure> {
        // The NodePorts handed out so far are read while the spec is parsed.
        let out = self.out_dir(env)?;
        let (previous, merged) =
            crate::parallel::join(|| out.previous_ports(), || self.read_merged(env));
        let merged = merged?;
        let templates = self.read_templates(&merged);
        let mut sources = merged.sources.clone();
        sources.extend(
            templates
                .iter()
                .filter_map(|(path, text)| Some(SourceFile::new(path, text.as_ref().ok()?))),
        );
        match render_merged(&merged, &templates, &previous) {
            Ok(r) => Ok((r, sources)),
            Err(mut diagnostics) => {
                diagnostics.extend(self.base_note(env, &merged));
                Err(Failure::Invalid {
                    diagnostics,
                    sources,
                })
            }
        }
    }

    /// When an environment that others extend fails on its own, say so: a base is often not
    /// meant to be complete, and the environments built on it are what gets rendered.
    fn base_note(&self, env: &str, merged: &Merged) -> Option<Diagnostic> {
        // Only for a file that extends nothing and lacks a key a complete environment has.
        let schema: serde_json::Value = serde_json::from_str(crate::input::schema::SCHEMA).ok()?;
        let required = schema.pointer("/else/required")?.as_array()?;
        let incomplete = required
            .iter()
            .filter_map(serde_json::Value::as_str)
            .any(|key| merged.value.get(key).is_none());
        if merged.sources.len() > 1 || !incomplete {
            return None;
        }
        let extenders: Vec<String> = self
            .environments()
            .ok()?
            .into_iter()
            .filter(|other| other != env)
            .filter(|other| {
                self.read_spec(other)
                    .ok()
                    .and_then(|src| Layer::parse(src, other).ok())
                    .and_then(|l| l.extends())
                    .is_some_and(|(base, _)| base == env)
            })
            .collect();
        let first = extenders.first()?;
        Some(
            Diagnostic::warning(format!(
                "{} is extended by {}",
                merged.sources[0].name,
                extenders.join(", ")
            ))
            .in_file(&merged.sources[0].name)
            .help(format!(
                "a base need not be a complete environment: `nbgen validate {first}` checks it as part of {first}; rendered on its own, it must be complete"
            )),
        )
    }

    /// The environments a command runs on: those named (every environment with `all`), then
    /// every environment built on one of them (`extends`, transitively), each with the named
    /// environment it was added for. A change to a base is a change to what extends it.
    pub fn targets(&self, named: &[String], all: bool) -> Result<Vec<Target>, Failure> {
        for env in named {
            checked_name(env)?;
        }
        // Without `all`, a missing environments/ is the named spec's error, reported later.
        let every = if all {
            self.environments()?
        } else {
            self.environments().unwrap_or_default()
        };
        let named: Vec<String> = if all { every.clone() } else { named.to_vec() };
        let mut out: Vec<Target> = Vec::new();
        for env in &named {
            if !out.iter().any(|t| &t.env == env) {
                out.push(Target {
                    env: env.clone(),
                    base: None,
                });
            }
        }
        for env in &every {
            if out.iter().any(|t| &t.env == env) {
                continue;
            }
            let chain = self.bases_of(env);
            if let Some(base) = chain.iter().find(|b| named.contains(b)) {
                out.push(Target {
                    env: env.clone(),
                    base: Some(base.clone()),
                });
            }
        }
        Ok(out)
    }

    /// The environments `env` builds on, nearest first, as far as they can be read (a cycle or
    /// an unreadable file ends the chain; `read_merged` reports it).
    pub fn bases_of(&self, env: &str) -> Vec<String> {
        let mut chain: Vec<String> = Vec::new();
        let mut next = env.to_owned();
        while let Some((base, _)) = self
            .read_spec(&next)
            .ok()
            .and_then(|src| Layer::parse(src, &next).ok())
            .and_then(|l| l.extends())
        {
            if base == env || chain.contains(&base) || !valid_env_name(&base) {
                break;
            }
            chain.push(base.clone());
            next = base;
        }
        chain
    }

    /// Environments on one cluster must not share a namespace or a NodePort
    /// (`validate::clusters`). `renders` are the validated environments of a command; every
    /// other environment that names one of their clusters is rendered here to compare with.
    /// Only conflicts that involve one of `renders` are reported.
    pub fn cluster_conflicts(&self, renders: &[&Env]) -> Vec<Diagnostic> {
        let names: Vec<&str> = renders
            .iter()
            .filter_map(|e| e.cluster_name.as_deref())
            .collect();
        if names.is_empty() {
            return Vec::new();
        }
        let mut peers: Vec<Render> = Vec::new();
        for other in self.environments().unwrap_or_default() {
            if renders.iter().any(|e| e.name == other) {
                continue;
            }
            let same = self.read_merged(&other).ok().is_some_and(|m| {
                m.value
                    .pointer("/cluster/name")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|n| names.contains(&n))
            });
            if same && let Ok((r, _)) = self.render(&other) {
                peers.push(r);
            }
        }
        let mut all: Vec<&Env> = renders.to_vec();
        all.extend(peers.iter().map(|r| &r.env));
        let ours: Vec<&str> = renders.iter().map(|e| e.name.as_str()).collect();
        crate::validate::clusters::shared(&all, |a, b| ours.contains(&a) || ours.contains(&b))
    }

    /// Read `environments/<env>.yaml` and every file it builds on (`extends`), and merge them.
    /// An `extends` naming no environment file, or closing a cycle, is an error at its line.
    pub fn read_merged(&self, env: &str) -> Result<Merged, Failure> {
        let mut layers: Vec<Layer> = Vec::new();
        let mut next = env.to_owned();
        loop {
            let src = self.read_spec(&next)?;
            // A syntax error points into the file that failed: it is among the sources shown.
            let layer = Layer::parse(src.clone(), &next).map_err(|d| Failure::Invalid {
                diagnostics: vec![d],
                sources: layers.iter().map(|l| l.src.clone()).chain([src]).collect(),
            })?;
            let extends = layer.extends();
            layers.push(layer);
            let Some((base, span)) = extends else { break };
            let here = layers.last().expect("just pushed");
            let error = |message: String, help: String| Failure::Invalid {
                diagnostics: vec![
                    Diagnostic::error(message)
                        .at(&here.src.name, span)
                        .help(help),
                ],
                sources: layers.iter().map(|l| l.src.clone()).collect(),
            };
            if layers.iter().any(|l| l.env == base) {
                let start = layers.iter().position(|l| l.env == base).unwrap_or(0);
                let cycle: Vec<&str> = layers[start..]
                    .iter()
                    .map(|l| l.env.as_str())
                    .chain([base.as_str()])
                    .collect();
                return Err(error(
                    format!("`extends` makes a cycle: {}", cycle.join(" → ")),
                    "an environment cannot build on itself; remove `extends` from one of these files".to_owned(),
                ));
            }
            let known = self.environments().unwrap_or_default();
            if !valid_env_name(&base) || !known.contains(&base) {
                let others = known.iter().filter(|e| **e != here.env);
                let help = match did_you_mean(&base, others.clone().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!(
                        "`extends` names another file in environments/ without .yaml; environments here: {}",
                        others.map(String::as_str).collect::<Vec<_>>().join(", ")
                    ),
                };
                return Err(error(
                    format!(
                        "{} extends `{base}`, but there is no environments/{base}.yaml",
                        here.src.name
                    ),
                    help,
                ));
            }
            next = base;
        }
        let sources: Vec<SourceFile> = layers.iter().map(|l| l.src.clone()).collect();
        layer::merge(layers).map_err(|diagnostics| Failure::Invalid {
            diagnostics,
            sources,
        })
    }

    /// The text of every template the merged spec names, or why it cannot be read. A path that
    /// is not plainly inside the repository is not read at all (validation reports it).
    pub fn read_templates(&self, merged: &Merged) -> Templates {
        let mut out = Templates::new();
        let paths = merged
            .value
            .get("extras")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("template")?.as_str());
        for path in paths {
            if template_path_problem(path).is_none() && !out.contains_key(path) {
                out.insert(path.to_owned(), self.read_template(path));
            }
        }
        out
    }

    /// Read one template: a regular file inside the repository (after following links), UTF-8,
    /// at most `MAX_TEMPLATE_BYTES`.
    fn read_template(&self, rel: &str) -> Result<String, String> {
        let root = fs::canonicalize(&self.root).map_err(|e| io_message(&e))?;
        let path = fs::canonicalize(self.root.join(rel)).map_err(|e| io_message(&e))?;
        if !path.starts_with(&root) {
            return Err("it resolves to a file outside the repository".to_owned());
        }
        let meta = fs::metadata(&path).map_err(|e| io_message(&e))?;
        if !meta.is_file() {
            return Err("it is not a regular file".to_owned());
        }
        if meta.len() > MAX_TEMPLATE_BYTES {
            return Err(format!(
                "it is {} KiB; nbgen reads templates up to {} KiB",
                meta.len() >> 10,
                MAX_TEMPLATE_BYTES >> 10
            ));
        }
        let bytes = fs::read(&path).map_err(|e| io_message(&e))?;
        String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
    }

    /// Write a render to `out/<env>/`.
    pub fn write(&self, env: &str, r: &Render) -> Result<Summary, Failure> {
        self.out_dir(env)?.write(&r.tree).map_err(Failure::Output)
    }

    /// Lock `out/<env>/` (when it exists; nothing is created) before `render`, and hand the
    /// lock to `write_holding`: the NodePorts already handed out are then read, and the files
    /// written, with no other nbgen writing in between.
    pub fn lock(&self, env: &str) -> Result<Option<Lock>, Failure> {
        self.out_dir(env)?.lock_existing().map_err(Failure::Output)
    }

    /// `write`, under the lock `lock` took.
    pub fn write_holding(
        &self,
        env: &str,
        r: &Render,
        lock: Option<Lock>,
    ) -> Result<Summary, Failure> {
        self.out_dir(env)?
            .write_holding(&r.tree, lock)
            .map_err(Failure::Output)
    }
}

/// Largest template nbgen reads: a template is a page of YAML.
pub const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

/// An environment name, or the error that explains why it is not one.
fn checked_name(env: &str) -> Result<(), Failure> {
    if valid_env_name(env) {
        return Ok(());
    }
    Err(Failure::invalid(
        Diagnostic::error(format!("`{env}` is not an environment name"))
            .help("name an environment by its file in environments/ without .yaml (lower-case letters, digits and '-'), e.g. `nbgen render prod`"),
    ))
}

/// Environment names become paths: only DNS labels are accepted, so no name can escape
/// `environments/` or `out/`.
pub fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn read_at_most(path: &std::path::Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    fs::File::open(path)?.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn io_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}
