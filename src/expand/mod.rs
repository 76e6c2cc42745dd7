//! Env → Kubernetes objects, built with k8s-openapi types. Pure: no I/O, no clock.
//!
//! Each team's objects depend only on that team and on environment-wide settings, so a change
//! to one team touches only that team's files.

pub mod argocd;
pub mod extras;
pub mod kubernetes;
mod pod;

pub use kubernetes::admission::objects as environment_objects;
pub use kubernetes::team_objects;

use crate::model::names::{
    COMPONENT, KEEP_DATA, MANAGED_BY, NBGEN, PART_OF, ROLE, SERVER, SYNC_OPTIONS, TEAM,
};
use crate::model::{Env, Server, Team};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

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
