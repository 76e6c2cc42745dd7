//! nbgen: one environment spec → validated, secure Kubernetes manifests for a Jupyter notebook
//! platform, written for GitOps.
//!
//! The pipeline (see ARCHITECTURE.md):
//! `spec text → yaml::parse → schema::check → validate → Env → expand → objects → emit → Tree`,
//! all pure; then `output` writes the tree (or a diff compares it).

pub mod diagnostic;
pub mod emit;
pub mod expand;
pub mod manifest;
pub mod model;
pub mod nodeport;
pub mod output;
pub mod project;
pub mod schema;
pub mod source;
pub mod spec;
pub mod validate;
pub mod yaml;
pub mod yaml_writer;

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
    render_with(src, env_name, || previous_ports.clone())
}

/// `render`, asking for the previous NodePorts only when validation needs them (see
/// `validate::validate_with`).
pub fn render_with(
    src: &SourceFile,
    env_name: &str,
    previous_ports: impl FnOnce() -> BTreeMap<ServerKey, u16>,
) -> Result<Render, Vec<Diagnostic>> {
    let checked = validate::validate_with(src, env_name, previous_ports)?;
    let tree = emit::emit_env(&checked.env);
    Ok(Render {
        env: checked.env,
        tree,
        warnings: checked.warnings,
    })
}
