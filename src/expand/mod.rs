//! Env → Kubernetes objects, built with k8s-openapi types. Pure: no I/O, no clock.
//!
//! Each team's objects depend only on that team and on environment-wide settings, so a change
//! to one team touches only that team's files.

pub mod argocd;
pub mod extras;
pub mod kubernetes;
mod pod;

pub use kubernetes::admission::objects as environment_objects;
pub use kubernetes::server::url_prefix;
pub use kubernetes::team_objects;

use crate::model::{Env, Server, Team};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const PART_OF: &str = "app.kubernetes.io/part-of";
pub const COMPONENT: &str = "app.kubernetes.io/component";
pub const TEAM: &str = "nbgen.io/team";
pub const ROLE: &str = "nbgen.io/role";
pub const SERVER: &str = "nbgen.io/server";
pub const VOLUME: &str = "nbgen.io/volume";
/// Argo CD must never prune or delete an object that holds data.
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
pub const KEEP_DATA: &str = "Prune=false,Delete=false";
pub const JOB: &str = "nbgen.io/job";
/// The notebook user's home in Jupyter's docker-stacks images, and every pod's working directory.
pub const HOME: &str = "/home/jovyan";
/// The port Jupyter listens on inside the container, and the Service's port.
pub const NOTEBOOK_PORT: i32 = 8888;

/// Labels every object carries.
fn labels(env: &Env, team: &Team) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), "nbgen".to_owned()),
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
