//! A repository laid out as nbgen expects (`environments/`, `out/`): finds and reads specs and
//! previous output, and runs the pipeline on them. The I/O edge before the pure pipeline.

use crate::diagnostic::Diagnostic;
use crate::output::{OutDir, OutputError, Summary};
use crate::source::SourceFile;
use crate::yaml::MAX_SPEC_BYTES;
use crate::{Render, render_with};
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

    pub fn out_dir(&self, env: &str) -> OutDir {
        OutDir::new(&self.root, env)
    }

    /// Read `environments/<env>.yaml`.
    pub fn read_spec(&self, env: &str) -> Result<SourceFile, Failure> {
        if !valid_env_name(env) {
            return Err(Failure::invalid(
                Diagnostic::error(format!("`{env}` is not an environment name"))
                    .help("name an environment by its file in environments/ without .yaml (lower-case letters, digits and '-'), e.g. `nbgen render prod`"),
            ));
        }
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
        if meta.len() > MAX_SPEC_BYTES as u64 {
            return Err(fail(
                format!("{rel} is {} MiB; nbgen reads specs up to {} MiB", meta.len() >> 20, MAX_SPEC_BYTES >> 20),
                "an environment spec is a few hundred kilobytes even for thousands of teams; check that this is the right file".to_owned(),
            ));
        }
        let bytes = fs::read(&path).map_err(|e| {
            fail(
                format!("cannot read {rel}: {}", io_message(&e)),
                "check the file's permissions".to_owned(),
            )
        })?;
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

    /// Validate and render one environment in memory; nothing is written. The NodePorts of
    /// the current output are read while the spec is validated.
    pub fn render(&self, env: &str) -> Result<(Render, Vec<SourceFile>), Failure> {
        let src = self.read_spec(env)?;
        let out = self.out_dir(env);
        let rendered = std::thread::scope(|s| {
            let previous = s.spawn(|| out.previous_ports());
            render_with(&src, env, || {
                previous.join().expect("reading NodePorts does not panic")
            })
        });
        match rendered {
            Ok(r) => Ok((r, vec![src])),
            Err(diagnostics) => Err(Failure::Invalid {
                diagnostics,
                sources: vec![src],
            }),
        }
    }

    /// Write a render to `out/<env>/`.
    pub fn write(&self, env: &str, r: &Render) -> Result<Summary, Failure> {
        self.out_dir(env).write(&r.tree).map_err(Failure::Output)
    }
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

fn io_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}
