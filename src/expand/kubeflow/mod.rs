//! The kubeflow target (docs/kubeflow.md): Env → the objects Kubeflow 1.10's controllers and web
//! apps understand, team by team. Pure: no I/O.
//!
//! A Profile namespace is Kubeflow's unit of isolation: a team gets one, or in a perMember team
//! each member gets one of their own (`model::Team::namespaces`). In each: the Namespace as the
//! profile controller sets it, the Profile, contributors as Kubeflow's access management writes
//! them, NetworkPolicies, shared claims, and a Notebook per server; a team's jobs in its own.

mod network;
mod notebook;
mod profile;

use crate::expand::kubernetes::{job, storage};
use crate::model::names;
use crate::model::{Env, Server, Team};
use crate::object::Object;

/// One Profile namespace: who owns it, who contributes, which servers run there.
struct Space<'a> {
    namespace: String,
    owner: &'a str,
    /// Every member but the owner: edit rights, as KFAM's contributors.
    contributors: Vec<&'a str>,
    servers: Vec<&'a Server>,
    /// Where the shared claims go, and whose name their PersistentVolumes carry.
    place: storage::Place,
}

/// The team's Profile namespaces. A team with no owner (no member) has none: validation
/// refuses it on this target.
fn spaces(team: &Team) -> Vec<Space<'_>> {
    let Some(owner) = team.owner.as_deref() else {
        return Vec::new();
    };
    if !team.per_member {
        return vec![Space {
            namespace: team.namespace.clone(),
            owner,
            contributors: team
                .members
                .iter()
                .map(String::as_str)
                .filter(|m| *m != owner)
                .collect(),
            servers: team.servers.iter().collect(),
            place: storage::Place::team(team),
        }];
    }
    team.members
        .iter()
        .map(|m| Space {
            namespace: names::member_namespace(&team.namespace, m),
            owner: m,
            contributors: Vec::new(),
            servers: team
                .servers
                .iter()
                .filter(|s| s.member.as_ref() == Some(m))
                .collect(),
            place: storage::Place {
                namespace: names::member_namespace(&team.namespace, m),
                owner: names::member_space(&team.name, m),
            },
        })
        .collect()
}

/// The objects of one team.
pub fn team_objects(env: &Env, team: &Team) -> Vec<Object> {
    let mut out = Vec::new();
    for space in spaces(team) {
        out.extend(profile::objects(env, team, &space));
        out.extend(
            network::policies(env, team, &space)
                .into_iter()
                .map(Object::from),
        );
        out.extend(storage::objects_in(env, team, &space.place));
        for s in &space.servers {
            out.extend(notebook::objects(env, team, &space.namespace, s));
        }
    }
    // Validation keeps jobs out of perMember teams here: they have no namespace of their own.
    if !team.per_member {
        for j in env.jobs.iter().filter(|j| j.team == team.name) {
            out.extend(job::objects(env, team, j).into_iter().map(without_sidecar));
        }
    }
    out
}

/// The label that keeps Istio from injecting its sidecar into a pod.
pub const SIDECAR_INJECT: &str = "sidecar.istio.io/inject";

/// A job's pod without Istio's sidecar: a Job is complete when its pod's containers have all
/// exited, and an injected istio-proxy never exits by itself, so the Job would run for ever
/// (docs/kubeflow.md). The job needs nothing from the mesh: it reads and writes volumes.
fn without_sidecar(mut o: Object) -> Object {
    if let Some(t) = o.pod_template_mut() {
        t.metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(SIDECAR_INJECT.to_owned(), "false".to_owned());
    }
    o
}
