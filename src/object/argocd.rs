//! Argo CD's AppProject and Application as typed objects (k8s-openapi has none): the few fields
//! nbgen writes, serialized in the order they are declared. Types only; what goes in them is
//! `expand::argocd`'s.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

pub const GROUP: &str = "argoproj.io";
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

custom_resource!(
    AppProject,
    "argoproj.io",
    "v1alpha1",
    "appprojects",
    k8s_openapi::NamespaceResourceScope
);
custom_resource!(
    Application,
    "argoproj.io",
    "v1alpha1",
    "applications",
    k8s_openapi::NamespaceResourceScope
);
