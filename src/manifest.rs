//! Rendered Kubernetes objects, their identity, and the one rule that names their files.

use crate::yaml_writer;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolume, PersistentVolumeClaim, ResourceQuota, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde::Serialize;
use std::fmt;

/// Where an object lives in the cluster: its kind, namespace (none for cluster-scoped) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// The directory for cluster-scoped objects. Not a valid namespace name, so never a collision.
pub const CLUSTER_DIR: &str = "_cluster";

impl ObjectId {
    /// The object's file under `out/<env>/`: `<namespace>/<kind>-<name>.yaml`, cluster-scoped
    /// objects under `_cluster/`. The only place this rule is written down in code.
    pub fn file(&self) -> String {
        let dir = self.namespace.as_deref().unwrap_or(CLUSTER_DIR);
        let mut f = String::with_capacity(dir.len() + self.kind.len() + self.name.len() + 7);
        f.push_str(dir);
        f.push('/');
        f.extend(self.kind.chars().flat_map(char::to_lowercase));
        f.push('-');
        f.push_str(&self.name);
        f.push_str(".yaml");
        f
    }
}

impl fmt::Display for ObjectId {
    /// `ml-engineering Deployment/train`, `PersistentVolume/prod-a-models`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns} {}/{}", self.kind, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Every kind of object nbgen renders, typed (boxed: the objects differ a lot in size).
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Namespace(Box<Namespace>),
    ResourceQuota(Box<ResourceQuota>),
    Role(Box<Role>),
    RoleBinding(Box<RoleBinding>),
    NetworkPolicy(Box<NetworkPolicy>),
    ServiceAccount(Box<ServiceAccount>),
    PersistentVolume(Box<PersistentVolume>),
    PersistentVolumeClaim(Box<PersistentVolumeClaim>),
    Deployment(Box<Deployment>),
    Service(Box<Service>),
}

macro_rules! each_kind {
    ($self:expr, $o:ident => $body:expr) => {
        match $self {
            Object::Namespace($o) => $body,
            Object::ResourceQuota($o) => $body,
            Object::Role($o) => $body,
            Object::RoleBinding($o) => $body,
            Object::NetworkPolicy($o) => $body,
            Object::ServiceAccount($o) => $body,
            Object::PersistentVolume($o) => $body,
            Object::PersistentVolumeClaim($o) => $body,
            Object::Deployment($o) => $body,
            Object::Service($o) => $body,
        }
    };
}

macro_rules! from_kind {
    ($($kind:ident),*) => {
        $(impl From<$kind> for Object {
            fn from(o: $kind) -> Self {
                Object::$kind(Box::new(o))
            }
        })*
    };
}

from_kind!(
    Namespace,
    ResourceQuota,
    Role,
    RoleBinding,
    NetworkPolicy,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    Deployment,
    Service
);

impl Object {
    pub fn id(&self) -> ObjectId {
        each_kind!(self, o => id_of(&**o))
    }

    /// The object as YAML (serde-saphyr quotes strings YAML 1.1 would misread: `on`, `12:30`).
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        self.write_yaml(&mut yaml_writer::Writer::default(), &mut out);
        out
    }

    /// Append the object's YAML to `out`: the same bytes as `to_yaml`, through a writer that
    /// remembers scalar styles across objects (see `yaml_writer`).
    pub fn write_yaml(&self, w: &mut yaml_writer::Writer, out: &mut String) {
        each_kind!(self, o => write_yaml(&**o, w, out))
    }
}

fn id_of<K>(o: &K) -> ObjectId
where
    K: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
{
    let meta = o.metadata();
    ObjectId {
        kind: K::KIND.to_owned(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone().unwrap_or_default(),
    }
}

fn write_yaml<K: Serialize>(o: &K, w: &mut yaml_writer::Writer, out: &mut String) {
    if w.write(o, out).is_err() {
        out.push_str(&serde_saphyr::to_string(o).expect("k8s-openapi objects always serialize"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_namespace_kind_and_name() {
        let id = ObjectId {
            kind: "PersistentVolumeClaim".into(),
            namespace: Some("mlops".into()),
            name: "models".into(),
        };
        assert_eq!(id.file(), "mlops/persistentvolumeclaim-models.yaml");
        assert_eq!(id.to_string(), "mlops PersistentVolumeClaim/models");
        let cluster = ObjectId {
            namespace: None,
            ..id
        };
        assert_eq!(cluster.file(), "_cluster/persistentvolumeclaim-models.yaml");
    }
}
