//! nbgen: one environment spec → validated, secure Kubernetes manifests for a Jupyter notebook
//! platform, written for GitOps.
//!
//! The pipeline (see ARCHITECTURE.md):
//! `spec text → yaml::parse → schema::check → validate → Env → expand → objects → emit → Tree`,
//! all pure; then `output` writes the tree (or a diff compares it).

pub mod check;
pub mod diagnostic;
pub mod diff;
pub mod emit;
pub mod expand;
pub mod git;
pub mod graph;
pub mod manifest;
pub mod model;
pub mod nodeport;
pub mod output;
pub mod project;
pub mod report;
pub mod review;
pub mod risk;
pub mod schedule;
pub mod schema;
pub mod snapshot;
pub mod source;
pub mod spec;
pub mod validate;
pub mod yaml;

use diagnostic::Diagnostic;
use nodeport::ServerKey;
use source::SourceFile;
use std::collections::BTreeMap;

/// A rendered environment: the model, its files, and the warnings found on the way.
#[derive(Debug)]
pub struct Render {
    pub env: model::Env,
    pub tree: emit::Tree,
    pub warnings: Vec<Diagnostic>,
}

/// The whole pure pipeline: spec text (and the NodePorts already handed out) → files.
pub fn render(
    src: &SourceFile,
    env_name: &str,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Result<Render, Vec<Diagnostic>> {
    let checked = validate::validate(src, env_name, previous_ports)?;
    let objects = expand::expand(&checked.env);
    let tree = emit::emit(&checked.env, &objects);
    Ok(Render {
        env: checked.env,
        tree,
        warnings: checked.warnings,
    })
}
