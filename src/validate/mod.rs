//! The merged spec → `model::Env`: the schema check, the typed `spec::RawSpec`, then every
//! semantic rule, one file per section of the spec (`storage`, `gpu`, `roles`, `teams`, `jobs`,
//! `images`, `network`, `gitops`) or per cross-section rule (`collisions` of derived names,
//! `ports`, `quantities`, `unused`). This file runs them in order (`Cx::env`). Pure: no I/O. All
//! errors are collected, not just the first; each points at the line where the offending value
//! was written. Never builds an `Env` from a spec with an error.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::input::layer::Merged;
use crate::input::schema::{self, display_path};
use crate::input::yaml::{Positions, escape};
use crate::model::names::{self, MAX_NAME, MAX_SERVER, POD_VOLUME_PREFIX, slug};
use crate::model::*;
use crate::spec::*;
use nodeport::{PortError, ServerKey};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

pub mod clusters;
mod collisions;
mod gitops;
mod gpu;
mod images;
mod integers;
mod jobs;
mod kubeflow;
mod network;
mod openshift;
mod ports;
mod quantities;
mod roles;
mod storage;
mod target;
mod teams;
mod unused;

pub mod nodeport;
pub mod schedule;

use integers::whole_numbers;
use quantities::{MIN_HOME, MIN_MEMORY, Unit, saturating_sum, usage_list};
use roles::ResolvedRole;

pub use gitops::template_path_problem;

/// A valid environment, and the warnings found on the way.
#[derive(Debug)]
pub struct Checked {
    pub env: Env,
    pub warnings: Vec<Diagnostic>,
}

/// Schema-check and validate an environment merged from its files (`layer::merge`). Every
/// diagnostic names the file and line where the offending value was written.
pub fn validate(
    merged: &Merged,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Result<Checked, Vec<Diagnostic>> {
    let schema_errors = schema::check(&merged.value, &merged.positions);
    if !schema_errors.is_empty() {
        return Err(with_semantic_errors(merged, schema_errors, previous_ports));
    }
    let source = merged.positions.primary_file();
    let mut value = merged.value.clone();
    whole_numbers(&mut value);
    let raw = RawSpec::deserialize(&value).map_err(|e| {
        vec![
            Diagnostic::error(format!("the spec does not fit nbgen's model: {e}"))
                .in_file(source)
                .help("this is a bug in nbgen's schema; please report it with the spec"),
        ]
    })?;
    let mut cx = Cx {
        source,
        pos: &merged.positions,
        diags: Vec::new(),
    };
    let env = cx.env(&raw, &merged.env, previous_ports).map(|env| Env {
        bases: merged.bases(),
        ..env
    });
    let (errors, warnings): (Vec<_>, Vec<_>) = cx.diags.into_iter().partition(|d| d.is_error());
    match env {
        Some(env) if errors.is_empty() => Ok(Checked { env, warnings }),
        _ => Err(errors.into_iter().chain(warnings).collect()),
    }
}

/// All errors in one run: after schema errors, the semantic rules still run when the spec's shape
/// allows it — without the unknown keys, which are reported already. A semantic error where a
/// schema error already points is its echo and is dropped; so is the whole semantic pass when the
/// environment's name or cluster settings are wrong, since every derived name depends on them.
fn with_semantic_errors(
    merged: &Merged,
    schema_errors: Vec<Diagnostic>,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Vec<Diagnostic> {
    let failures = schema::failures(&merged.value);
    let misspelt_here: BTreeSet<&str> = failures
        .misspelt
        .iter()
        .map(|(at, _, _)| at.as_str())
        .collect();
    let env_wide = |p: &String| {
        (p.is_empty() || p == "/name" || p.starts_with("/cluster"))
            && !misspelt_here.contains(p.as_str())
    };
    if failures.values.iter().any(env_wide) {
        return schema_errors;
    }
    let mut value = merged.value.clone();
    // A misspelt required key is read as the key meant, so the rules can check its value.
    for (at, written, meant) in &failures.misspelt {
        if let Some(serde_json::Value::Object(map)) = value.pointer_mut(at)
            && let Some(v) = map.remove(written)
        {
            map.insert(meant.clone(), v);
        }
    }
    for pointer in failures.unknown_keys {
        if let Some((parent, key)) = pointer.rsplit_once('/')
            && let Some(serde_json::Value::Object(map)) = value.pointer_mut(parent)
        {
            map.remove(&key.replace("~1", "/").replace("~0", "~"));
        }
    }
    // A scalar of the wrong type (`perMember: yes`) is reported already: the rules go on as if
    // it were not written, when the spec still has its shape without it (an optional key).
    for pointer in &failures.wrong_types {
        if let Some((parent, key)) = pointer.rsplit_once('/')
            && let Some(serde_json::Value::Object(map)) = value.pointer_mut(parent)
        {
            let key = key.replace("~1", "/").replace("~0", "~");
            if map
                .get(&key)
                .is_some_and(|v| !v.is_object() && !v.is_array())
            {
                map.remove(&key);
            }
        }
    }
    whole_numbers(&mut value);
    let Ok(raw) = RawSpec::deserialize(&value) else {
        return schema_errors; // the shape itself is wrong: the schema errors say how
    };
    let mut cx = Cx {
        source: merged.positions.primary_file(),
        pos: &merged.positions,
        diags: Vec::new(),
    };
    let _ = cx.env(&raw, &merged.env, previous_ports);
    let reported: BTreeSet<(Option<String>, Option<usize>)> = schema_errors
        .iter()
        .map(|d| (d.file.clone(), d.span.map(|s| s.line)))
        .collect();
    let echoes = |d: &Diagnostic| reported.contains(&(d.file.clone(), d.span.map(|s| s.line)));
    let semantic: Vec<Diagnostic> = cx
        .diags
        .into_iter()
        .filter(|d| d.is_error() && !echoes(d))
        .collect();
    schema_errors.into_iter().chain(semantic).collect()
}

/// Build a JSON pointer from segments.
fn ptr(segments: &[&str]) -> String {
    segments.iter().map(|s| format!("/{}", escape(s))).collect()
}

struct Cx<'a> {
    /// The environment's own spec file (display name).
    source: &'a str,
    /// Where each value was written, in whichever of the environment's files.
    pos: &'a Positions,
    diags: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn error(&mut self, at: &str, message: impl Into<String>, help: impl Into<String>) {
        let at = self.pos.value_at(at);
        self.diags
            .push(Diagnostic::error(message).at_loc(at).help(help));
    }

    fn error_at_key(&mut self, at: &str, message: impl Into<String>, help: impl Into<String>) {
        let at = self.pos.key_at(at);
        self.diags
            .push(Diagnostic::error(message).at_loc(at).help(help));
    }

    fn warn_at_key(&mut self, at: &str, message: impl Into<String>, help: impl Into<String>) {
        let at = self.pos.key_at(at);
        self.diags
            .push(Diagnostic::warning(message).at_loc(at).help(help));
    }

    fn env(
        &mut self,
        raw: &RawSpec,
        env_name: &str,
        previous_ports: &BTreeMap<ServerKey, u16>,
    ) -> Option<Env> {
        if raw.name != env_name {
            self.error(
                "/name",
                format!(
                    "the environment is named `{}` but its file is `{}`",
                    raw.name, self.source
                ),
                format!(
                    "set `name: {env_name}`, or rename the file to environments/{}.yaml",
                    raw.name
                ),
            );
        }
        let node_ports = self.node_port_range(&raw.cluster.node_port_range);
        let images = self.images(raw);
        let gpu_pools = self.gpu_pools(raw);
        let volumes = self.volumes(raw);
        let roles = self.roles(raw, &images, &gpu_pools, &volumes);
        let jobs = self.jobs(raw, &roles);
        let mut teams = self.teams(raw, &roles, &volumes, &jobs);
        self.check_job_collisions(&jobs, &teams);
        self.check_object_names(raw, &teams, &volumes);
        self.check_gpu_capacity(&teams, &jobs, &gpu_pools);
        self.check_shared_volumes(raw, &teams, &volumes);
        let argocd = self.argocd(raw, &teams);
        let extras = self.extras(raw);
        // Unused-name warnings after an error are mostly its echo (a misspelt reference leaves
        // the intended name "unused"): report them once the errors are fixed.
        if !self.diags.iter().any(Diagnostic::is_error) {
            self.warn_unused(raw, &teams, &jobs);
        }
        let target = self.target(raw, &teams, &jobs);
        let network = self.network(&raw.cluster.network, target);
        let node_ports = node_ports?;
        if network.node_ports() {
            self.assign_ports(raw, &roles, node_ports, &mut teams, previous_ports);
        } else if openshift::is_openshift(target) {
            // Pins were reported by `openshift` with the target's reason.
        } else if let Some((team, _)) = raw.teams.iter().find(|(_, t)| !t.node_ports.is_empty()) {
            let help = match target {
                Target::Kubernetes => {
                    "NodePort exposure is a choice: declare cluster.network.nodePort.clientCIDRs (who may connect), or remove the pins"
                }
                _ => {
                    "remove the pins: this target routes every server through the platform's gateway"
                }
            };
            self.error_at_key(
                &ptr(&["teams", team, "nodePorts"]),
                format!("team `{team}` pins NodePorts, but the environment exposes no NodePorts"),
                help,
            );
        }
        Some(Env {
            name: raw.name.clone(),
            source: self.source.to_owned(),
            cluster_name: raw.cluster.name.clone(),
            kubernetes_version: raw.cluster.kubernetes_version.clone(),
            target,
            node_ports,
            storage_class: raw.cluster.storage_class.clone(),
            gpu_pools,
            volumes,
            teams,
            jobs,
            bases: Vec::new(),
            argocd,
            extras,
            network,
        })
    }

    fn unresolved<'k>(
        &mut self,
        at: &str,
        subject: &str,
        what: &str,
        name: &str,
        defined_names: impl Iterator<Item = &'k String> + Clone,
        section: &str,
    ) {
        let help = match did_you_mean(name, defined_names.clone().map(String::as_str)) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!("define it under `{section}:` ({})", defined(defined_names)),
        };
        self.error(
            at,
            format!("{subject} uses undefined {what} `{name}`"),
            help,
        );
    }
}

fn defined<'k>(names: impl Iterator<Item = &'k String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none are defined yet".to_owned()
    } else {
        format!("defined: {}", names.join(", "))
    }
}
