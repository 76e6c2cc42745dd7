//! The pipeline, stage by stage: the only place their order is written. Pure: no I/O, no clock;
//! `project` reads the files and writes the result.
//!
//! ```text
//! spec text(s) ─ input ─▶ Merged ─ validate (schema, spec, rules) ─▶ model::Env
//!   ─ expand (per cluster.target), team by team ─▶ objects ─ emit ─▶ files of the team   (every core)
//!   ─ expand: templates, environment-wide objects, Argo CD ─▶ objects ─ emit ─▶ Tree
//! ```
//!
//! Expand and emit stay fused per team: objects are dropped once they are text, so memory holds
//! the texts (21 MB at 1,000 teams), never every team's objects at once (80 MB).

use crate::diagnostic::Diagnostic;
use crate::emit::{self, Tree};
use crate::expand::extras::Templates;
use crate::expand::{self, argocd};
use crate::input::layer::{self, Layer, Merged};
use crate::input::yaml::Positions;
use crate::model::{Env, Team};
use crate::object::Object;
use crate::source::SourceFile;
use crate::validate::nodeport::ServerKey;
use crate::validate::{self, Checked};
use std::collections::BTreeMap;

/// A rendered environment: the model, its files, and the warnings found on the way.
#[derive(Debug)]
pub struct Render {
    pub env: Env,
    pub tree: Tree,
    pub warnings: Vec<Diagnostic>,
}

/// The whole pipeline for a spec in one file that extends none and uses no templates: spec text
/// (and the NodePorts already handed out) → files.
pub fn render(
    src: &SourceFile,
    env_name: &str,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Result<Render, Vec<Diagnostic>> {
    let merged = input(src, env_name)?;
    render_merged(&merged, &Templates::new(), previous_ports)
}

/// The whole pipeline: an environment merged from its spec files (`layer::merge`), the texts of
/// the templates it names, and the NodePorts already handed out → files.
pub fn render_merged(
    merged: &Merged,
    templates: &Templates,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Result<Render, Vec<Diagnostic>> {
    let Checked { env, warnings } = validate::validate(merged, previous_ports)?;
    let mut tree = emit::teams(&env, |team| team_objects(&env, team));
    let environment = environment_objects(&env, templates, &merged.positions, &tree)
        .map_err(|errors| [errors, warnings.clone()].concat())?;
    emit::add(&mut tree, &env, &environment);
    Ok(Render {
        env,
        tree,
        warnings,
    })
}

/// Stage 1, for one file: text → the merged value and its positions.
fn input(src: &SourceFile, env_name: &str) -> Result<Merged, Vec<Diagnostic>> {
    let layer = Layer::parse(src.clone(), env_name).map_err(|d| vec![d])?;
    layer::merge(vec![layer])
}

/// One team's objects for the target, with their sync waves when Argo CD deploys them.
fn team_objects(env: &Env, team: &Team) -> Vec<Object> {
    let mut objects = expand::team_objects(env, team);
    if env.argocd.is_some() {
        objects.iter_mut().for_each(argocd::annotate_wave);
    }
    objects
}

/// The objects of no one team: the templates' (checked against the files `tree` holds), the
/// target's environment-wide ones, then Argo CD's AppProject and Application, which admit the
/// kinds of all the others.
fn environment_objects(
    env: &Env,
    templates: &Templates,
    positions: &Positions,
    tree: &Tree,
) -> Result<Vec<Object>, Vec<Diagnostic>> {
    let mut objects =
        expand::extras::render(env, templates, positions, |file| tree.contains_key(file))?;
    objects.extend(expand::environment_objects(env));
    if let Some(argo) = &env.argocd {
        objects.iter_mut().for_each(argocd::annotate_wave);
        let own = argocd::objects(env, argo, &objects);
        objects.extend(own);
    }
    Ok(objects)
}

/// Every object of an environment, as `render_merged` builds them before they become text (for
/// the YAML writer's tests, which compare its text with serde-saphyr's on each).
#[cfg(test)]
pub(crate) fn objects(
    merged: &Merged,
    templates: &Templates,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Vec<Object> {
    let Checked { env, .. } = validate::validate(merged, previous_ports).expect("it validates");
    let tree = emit::teams(&env, |team| team_objects(&env, team));
    let mut objects: Vec<Object> = env
        .teams
        .iter()
        .flat_map(|t| team_objects(&env, t))
        .collect();
    objects.extend(
        environment_objects(&env, templates, &merged.positions, &tree)
            .expect("its templates render"),
    );
    objects
}
