//! Argo CD's AppProject and Application as typed objects (k8s-openapi has none): the few fields
//! nbgen writes, serialized in the order they are declared. Types only; what goes in them is
//! `expand::argocd`'s.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::ser::SerializeStruct;

pub const GROUP: &str = "argoproj.io";
pub const VERSION: &str = "v1alpha1";
pub const API_VERSION: &str = "argoproj.io/v1alpha1";
/// `argoproj.io/v1alpha1` AppProject: what one environment's Application may deploy, where.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppProject {
    pub metadata: ObjectMeta,
    pub spec: AppProjectSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectSpec {
    pub description: String,
    pub source_repos: Vec<String>,
    pub destinations: Vec<Destination>,
    pub cluster_resource_whitelist: Vec<GroupKind>,
    pub namespace_resource_whitelist: Vec<GroupKind>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Destination {
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

/// `argoproj.io/v1alpha1` Application: syncs `out/<env>/` from git into the cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Application {
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub project: String,
    pub source: Source,
    pub destination: Destination,
    pub ignore_differences: Vec<IgnoreDifference>,
    pub sync_policy: SyncPolicy,
}

/// A field Argo CD leaves as the cluster has it: neither shown as a difference nor (with
/// `RespectIgnoreDifferences=true`) put back at a sync.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreDifference {
    pub group: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    /// jq paths (Argo CD 2.1+): for elements of a list, which a JSON pointer cannot select by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    pub path: String,
    pub directory: Directory,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Directory {
    pub recurse: bool,
    pub exclude: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    pub automated: Automated,
    pub sync_options: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    pub prune: bool,
    pub self_heal: bool,
}

/// `apiVersion` and `kind` first, as Kubernetes writes them, then metadata and spec.
macro_rules! resource {
    ($ty:ident, $plural:literal) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = API_VERSION;
            const GROUP: &'static str = GROUP;
            const KIND: &'static str = stringify!($ty);
            const VERSION: &'static str = VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
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
                let mut o = s.serialize_struct(stringify!($ty), 4)?;
                o.serialize_field("apiVersion", API_VERSION)?;
                o.serialize_field("kind", stringify!($ty))?;
                o.serialize_field("metadata", &self.metadata)?;
                o.serialize_field("spec", &self.spec)?;
                o.end()
            }
        }
    };
}

resource!(AppProject, "appprojects");
resource!(Application, "applications");
