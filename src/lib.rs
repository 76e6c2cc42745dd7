//! nbgen: one environment spec → validated, secure Kubernetes manifests for a Jupyter notebook
//! platform, written for GitOps.
//!
//! The pipeline (see ARCHITECTURE.md):
//! `spec texts → yaml::parse → layer::merge → schema::check → validate → Env → expand (+ extras,
//! argocd) → objects → emit → Tree`, all pure; then `output` writes the tree (or a diff compares
//! it).

pub mod diagnostic;
pub mod emit;
pub mod expand;
pub mod input;
pub mod model;
pub mod object;
pub mod output;
pub mod parallel;
pub mod project;
pub mod report;
pub mod review;
pub mod source;
pub mod spec;
pub mod template;
pub mod validate;

use diagnostic::Diagnostic;
use expand::extras::Templates;
use input::layer::{self, Layer, Merged};
use source::SourceFile;
use std::collections::BTreeMap;
use validate::nodeport::ServerKey;

/// A rendered environment: the model, its files, and the warnings found on the way.
#[derive(Debug)]
pub struct Render {
    pub env: model::Env,
    pub tree: emit::Tree,
    pub warnings: Vec<Diagnostic>,
}

/// The whole pure pipeline for a spec in one file that extends none and uses no templates:
/// spec text (and the NodePorts already handed out) → files.
pub fn render(
    src: &SourceFile,
    env_name: &str,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Result<Render, Vec<Diagnostic>> {
    let layer = Layer::parse(src.clone(), env_name).map_err(|d| vec![d])?;
    render_merged(
        &layer::merge(vec![layer])?,
        &Templates::new(),
        previous_ports,
    )
}

/// The whole pure pipeline: an environment merged from its spec files (`layer::merge`), the
/// texts of the templates it names, and the NodePorts already handed out → files.
pub fn render_merged(
    merged: &Merged,
    templates: &Templates,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Result<Render, Vec<Diagnostic>> {
    let checked = validate::validate_merged(merged, previous_ports)?;
    let env = checked.env;
    let argo = env.argocd.as_ref();
    let mut tree = emit::teams(&env, |team| {
        let mut objects = expand::team_objects(&env, team);
        if argo.is_some() {
            objects.iter_mut().for_each(expand::argocd::annotate_wave);
        }
        objects
    });
    let mut extra = expand::extras::render(&env, templates, &merged.positions, |file| {
        tree.contains_key(file)
    })
    .map_err(|errors| [errors, checked.warnings.clone()].concat())?;
    extra.extend(expand::environment_objects(&env));
    if let Some(argo) = argo {
        extra.iter_mut().for_each(expand::argocd::annotate_wave);
        let own = expand::argocd::objects(&env, argo, &extra);
        extra.extend(own);
    }
    emit::add(&mut tree, &env, &extra);
    Ok(Render {
        env,
        tree,
        warnings: checked.warnings,
    })
}
