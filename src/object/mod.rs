//! Rendered Kubernetes objects, their identity, and the one rule that names their files.

/// The traits of a custom resource nbgen renders (k8s-openapi has none of these kinds): `Resource`
/// with its group, version, plural and scope; `Metadata`; and serialization with `apiVersion` and
/// `kind` first, as Kubernetes writes them, then metadata and spec. Defined before the modules
/// that use it (`argocd`, `kubeflow`, `openshift`), which is how they see it.
macro_rules! custom_resource {
    ($ty:ident, $group:expr, $version:literal, $plural:literal, $scope:ty) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = stringify!($ty);
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = $scope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;

            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut o = s.serialize_struct(stringify!($ty), 4)?;
                o.serialize_field("apiVersion", <$ty as k8s_openapi::Resource>::API_VERSION)?;
                o.serialize_field("kind", stringify!($ty))?;
                o.serialize_field("metadata", &self.metadata)?;
                o.serialize_field("spec", &self.spec)?;
                o.end()
            }
        }
    };
}

pub mod argocd;
pub mod kubeflow;
pub mod openshift;

use crate::model::Target;
use argocd::{AppProject, Application};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolume, PersistentVolumeClaim, PodTemplateSpec, ResourceQuota,
    Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubeflow::{AuthorizationPolicy, Notebook, Profile};
use openshift::Route;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Where an object lives in the cluster: its kind, namespace (none for cluster-scoped) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectId {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// The directory for cluster-scoped objects. Not a valid namespace name, so never a collision.
pub const CLUSTER_DIR: &str = "_cluster";
/// The directory for the Argo CD objects that deploy the environment (docs/argocd.md). Not a
/// namespace name either; the Application excludes it from what it syncs.
pub const ARGOCD_DIR: &str = "_argocd";

impl ObjectId {
    /// The object's file under `out/<env>/`: `<namespace>/<kind>-<name>.yaml`, cluster-scoped
    /// objects under `_cluster/`. The only place this rule is written down in code.
    pub fn file(&self) -> String {
        format!(
            "{}/{}-{}.yaml",
            self.namespace.as_deref().unwrap_or(CLUSTER_DIR),
            self.kind.to_lowercase(),
            self.name
        )
    }

    /// The file of an object that configures Argo CD itself: `_argocd/<kind>-<name>.yaml`.
    pub fn argocd_file(&self) -> String {
        format!(
            "{ARGOCD_DIR}/{}-{}.yaml",
            self.kind.to_lowercase(),
            self.name
        )
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
    StatefulSet(Box<StatefulSet>),
    Service(Box<Service>),
    ConfigMap(Box<ConfigMap>),
    Job(Box<Job>),
    CronJob(Box<CronJob>),
    AppProject(Box<AppProject>),
    Application(Box<Application>),
    ValidatingAdmissionPolicy(Box<ValidatingAdmissionPolicy>),
    ValidatingAdmissionPolicyBinding(Box<ValidatingAdmissionPolicyBinding>),
    Notebook(Box<Notebook>),
    Profile(Box<Profile>),
    AuthorizationPolicy(Box<AuthorizationPolicy>),
    /// OpenShift's (`object::openshift`): rendered by the `openshift` target only.
    Route(Box<Route>),
    /// An object rendered from a user template (`extras`), of any kind.
    Dynamic(Box<Dynamic>),
}

/// An object of a kind nbgen does not model, as a user template wrote it (checked by `extras`:
/// it has an apiVersion, a kind, a name and the right namespace).
#[derive(Clone, Debug, PartialEq)]
pub struct Dynamic {
    pub id: ObjectId,
    /// The API group (`policy`, `networking.k8s.io`; empty for the core group).
    pub group: String,
    pub cluster_scoped: bool,
    /// The template file it was rendered from.
    pub template: String,
    /// The whole object, in the order the template wrote it.
    pub value: Value,
}

/// Apply `$body` to the typed object inside any variant, `$dynamic` to a `Dynamic` one.
macro_rules! each_kind {
    ($self:expr, $o:ident => $body:expr, $d:ident => $dynamic:expr) => {
        match $self {
            Object::Namespace($o) => $body,
            Object::ResourceQuota($o) => $body,
            Object::Role($o) => $body,
            Object::RoleBinding($o) => $body,
            Object::NetworkPolicy($o) => $body,
            Object::ServiceAccount($o) => $body,
            Object::PersistentVolume($o) => $body,
            Object::PersistentVolumeClaim($o) => $body,
            Object::StatefulSet($o) => $body,
            Object::Service($o) => $body,
            Object::ConfigMap($o) => $body,
            Object::Job($o) => $body,
            Object::CronJob($o) => $body,
            Object::AppProject($o) => $body,
            Object::Application($o) => $body,
            Object::ValidatingAdmissionPolicy($o) => $body,
            Object::ValidatingAdmissionPolicyBinding($o) => $body,
            Object::Notebook($o) => $body,
            Object::Profile($o) => $body,
            Object::AuthorizationPolicy($o) => $body,
            Object::Route($o) => $body,
            Object::Dynamic($d) => $dynamic,
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

/// The Kubernetes kinds nbgen renders itself, written once: `$then!(Kind, ..., $extra...)`.
macro_rules! kubernetes_kinds {
    ($then:ident $(, $extra:ident)*) => {
        $then! {
            Namespace,
            ResourceQuota,
            Role,
            RoleBinding,
            NetworkPolicy,
            ServiceAccount,
            PersistentVolume,
            PersistentVolumeClaim,
            StatefulSet,
            Service,
            ConfigMap,
            Job,
            CronJob,
            ValidatingAdmissionPolicy,
            ValidatingAdmissionPolicyBinding
            $(, $extra)*
        }
    };
}

/// Every kind nbgen renders itself: the Kubernetes ones and the custom resources of Argo CD and
/// the targets, handed to `$then` as a list.
macro_rules! every_kind {
    ($then:ident) => {
        kubernetes_kinds! {
            $then,
            AppProject,
            Application,
            Notebook,
            Profile,
            AuthorizationPolicy,
            Route
        }
    };
}

every_kind!(from_kind);

/// Kinds that are cluster-scoped: their objects have no namespace and land in `_cluster/`.
/// Every other kind is taken to be namespaced. The one rule for nbgen's own objects and for
/// templates' (a test checks it against k8s-openapi for every kind nbgen renders).
pub const CLUSTER_SCOPED: [&str; 19] = [
    "APIService",
    "CSIDriver",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "PersistentVolume",
    "PriorityClass",
    "Profile",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
];

/// Whether objects of this kind are cluster-scoped.
pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// A kind of object: its API group (empty for the core group), kind, and whether it is
/// cluster-scoped.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind {
    pub group: String,
    pub kind: String,
    pub cluster_scoped: bool,
}

macro_rules! kinds {
    ($($kind:ident),*) => {
        vec![$(Kind {
            group: <$kind as k8s_openapi::Resource>::GROUP.to_owned(),
            kind: <$kind as k8s_openapi::Resource>::KIND.to_owned(),
            cluster_scoped: cluster_scoped(&$kind::default()),
        }),*]
    };
}

/// Every kind nbgen itself renders into a cluster for `target` (Argo CD's own objects and user
/// templates' aside), whether or not this environment uses it: what the environment's AppProject
/// allows — exactly these, so that adding a team's first job does not need a new AppProject and
/// a target never lets Argo CD deploy a kind it has no use for.
pub fn rendered_kinds(target: Target) -> Vec<Kind> {
    match target {
        Target::Kubernetes => kubernetes_kinds!(kinds),
        // No quota, Role, StatefulSet, Service or admission policy of nbgen's: the Profile's
        // controller writes the quota, Kubeflow's ClusterRoles are bound, the notebook
        // controller makes the StatefulSet and Service.
        Target::Kubeflow => kinds!(
            Namespace,
            Profile,
            RoleBinding,
            AuthorizationPolicy,
            NetworkPolicy,
            ServiceAccount,
            PersistentVolume,
            PersistentVolumeClaim,
            Notebook,
            ConfigMap,
            Job,
            CronJob
        ),
        // A Route per server on top of the plain kinds.
        Target::OpenShift => kubernetes_kinds!(kinds, Route),
        // Workbenches: the ODH controller makes each one's StatefulSet, Service, route,
        // ServiceAccount and its NetworkPolicies; jobs are refused on this target.
        Target::OpenDataHub => kinds!(
            Namespace,
            ResourceQuota,
            RoleBinding,
            NetworkPolicy,
            PersistentVolume,
            PersistentVolumeClaim,
            Notebook,
            ValidatingAdmissionPolicy,
            ValidatingAdmissionPolicyBinding
        ),
    }
}

impl Object {
    /// The pod template of a built-in workload (StatefulSet, Job, CronJob), for a target to
    /// adjust; `None` for every other object.
    pub fn pod_template_mut(&mut self) -> Option<&mut PodTemplateSpec> {
        match self {
            Object::StatefulSet(s) => s.spec.as_mut().map(|s| &mut s.template),
            Object::Job(j) => j.spec.as_mut().map(|s| &mut s.template),
            Object::CronJob(c) => c
                .spec
                .as_mut()
                .and_then(|s| s.job_template.spec.as_mut())
                .map(|s| &mut s.template),
            _ => None,
        }
    }

    /// The object's kind.
    pub fn kind(&self) -> Kind {
        Kind {
            group: self.group().to_owned(),
            kind: self.id().kind,
            cluster_scoped: self.is_cluster_scoped(),
        }
    }

    pub fn id(&self) -> ObjectId {
        each_kind!(self, o => id_of(&**o), d => d.id.clone())
    }

    /// The object's file under `out/<env>/`: Argo CD's own objects under `_argocd/`, every
    /// other object by `ObjectId::file`.
    pub fn file(&self) -> String {
        self.file_of(&self.id())
    }

    /// `file()`, given the object's identity already computed.
    pub fn file_of(&self, id: &ObjectId) -> String {
        match self {
            Object::AppProject(_) | Object::Application(_) => id.argocd_file(),
            _ => id.file(),
        }
    }

    /// The API group (empty for the core group).
    pub fn group(&self) -> &str {
        each_kind!(self, o => group_of(&**o), d => &d.group)
    }

    pub fn is_cluster_scoped(&self) -> bool {
        each_kind!(self, o => cluster_scoped(&**o), d => d.cluster_scoped)
    }

    /// The value of one of the object's annotations.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        each_kind!(
            self,
            o => o.metadata.annotations.as_ref()?.get(key).map(String::as_str),
            d => d.value.pointer("/metadata/annotations")?.get(key)?.as_str()
        )
    }

    /// Set one annotation (replacing any value it had).
    pub fn annotate(&mut self, key: &str, value: &str) {
        each_kind!(
            self,
            o => annotate(&mut o.metadata, key, value),
            d => d.set_metadata_entry("annotations", key, value)
        )
    }
}

/// The object as its own type serializes it: what `emit` writes as YAML.
impl Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        each_kind!(self, o => o.serialize(s), d => d.value.serialize(s))
    }
}

impl Dynamic {
    /// Set `metadata.<map>.<key>` (labels, annotations), creating the map if needed.
    pub fn set_metadata_entry(&mut self, map: &str, key: &str, value: &str) {
        let Some(metadata) = self
            .value
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
        else {
            return; // `extras` admits no object without metadata
        };
        let entries = metadata
            .entry(map)
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if !entries.is_object() {
            *entries = Value::Object(serde_json::Map::new());
        }
        if let Some(m) = entries.as_object_mut() {
            m.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
}

fn annotate(meta: &mut ObjectMeta, key: &str, value: &str) {
    meta.annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_owned(), value.to_owned());
}

fn group_of<K: k8s_openapi::Resource>(_: &K) -> &'static str {
    K::GROUP
}

fn cluster_scoped<K: k8s_openapi::Resource>(_: &K) -> bool {
    is_cluster_scoped(K::KIND)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The list agrees with k8s-openapi's scope of every kind nbgen renders itself.
    #[test]
    fn cluster_scope_agrees_with_k8s_openapi() {
        fn typed<K: k8s_openapi::Resource + Default>() -> (&'static str, bool)
        where
            K::Scope: 'static,
        {
            let cluster = std::any::TypeId::of::<K::Scope>()
                == std::any::TypeId::of::<k8s_openapi::ClusterResourceScope>();
            (K::KIND, cluster)
        }
        macro_rules! all {
            ($($kind:ident),*) => { vec![$(typed::<$kind>()),*] };
        }
        for (kind, cluster) in every_kind!(all) {
            assert_eq!(is_cluster_scoped(kind), cluster, "{kind}");
        }
    }

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
