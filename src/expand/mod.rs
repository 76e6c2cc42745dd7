//! `model::Env` → objects, per target (`model::Target`; `kubernetes/`, `kubeflow/`), plus what every target
//! adds: user templates (`extras`) and Argo CD's objects and sync waves (`argocd`). Pure: no I/O,
//! no clock; objects are built with typed structs (k8s-openapi), never text.
//!
//! Each team's objects depend only on that team and on environment-wide settings, so a change
//! to one team touches only that team's files.

pub mod argocd;
pub mod extras;
pub mod kubeflow;
pub mod kubernetes;
pub mod openshift;
mod pod;

use crate::model::names::{
    COMPONENT, KEEP_DATA, MANAGED_BY, NBGEN, PART_OF, ROLE, SERVER, SYNC_OPTIONS, TEAM,
};
use crate::model::{Env, Server, Target, Team};
use crate::object::Object;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The objects of one team, for the environment's target (`model::Target`). Every object nbgen
/// renders itself but the environment-wide ones belongs to exactly one team, so these, team by
/// team, are the environment. A target is a folder beside `kubernetes/`, built from what targets
/// share: the pod pieces (`pod.rs`), the start conventions (`model::start`), the names and label
/// keys (`model::names`) and the metadata helpers below.
pub fn team_objects(env: &Env, team: &Team) -> Vec<Object> {
    match env.target {
        Target::Kubernetes => kubernetes::team_objects(env, team),
        Target::Kubeflow => kubeflow::team_objects(env, team),
        Target::OpenShift => openshift::team_objects(env, team),
        Target::OpenDataHub => openshift::workbench::team_objects(env, team),
    }
}

/// The objects of no one team (the plain target's admission policy, which keeps its
/// StatefulSets at 0 or 1 replicas; on Kubeflow the notebook controller owns the StatefulSets).
pub fn environment_objects(env: &Env) -> Vec<Object> {
    match env.target {
        Target::Kubernetes => kubernetes::admission::objects(env),
        Target::OpenShift | Target::OpenDataHub => openshift::environment_objects(env),
        Target::Kubeflow => Vec::new(),
    }
}

/// Labels every object carries.
fn labels(env: &Env, team: &Team) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), NBGEN.to_owned()),
        (PART_OF.to_owned(), env.name.clone()),
        (TEAM.to_owned(), team.name.clone()),
    ])
}

/// Labels of a server's objects (and the pods' labels).
fn server_labels(env: &Env, team: &Team, s: &Server) -> BTreeMap<String, String> {
    let mut l = labels(env, team);
    l.insert(COMPONENT.to_owned(), "notebook".to_owned());
    l.insert(ROLE.to_owned(), s.role.clone());
    l.insert(SERVER.to_owned(), s.name.clone());
    l
}

fn meta(name: &str, namespace: Option<&str>, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// Metadata of an object that holds data: Argo CD may never prune or delete it.
fn data_meta(name: &str, namespace: Option<&str>, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        annotations: Some(BTreeMap::from([(
            SYNC_OPTIONS.to_owned(),
            KEEP_DATA.to_owned(),
        )])),
        ..meta(name, namespace, labels)
    }
}
