//! The raw environment spec: exactly what the user wrote, typed. Nothing here is trusted yet;
//! only `validate` turns it into an `Env`.
//!
//! Maps keyed by name are `BTreeMap`s so that everything downstream iterates in sorted order.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSpec {
    /// `nbgen.io/v1alpha1` and `Environment`: constants the schema checks; read into fields
    /// only so that `deny_unknown_fields` admits them.
    #[expect(dead_code, reason = "the schema checks these constants")]
    pub api_version: String,
    #[expect(dead_code, reason = "the schema checks these constants")]
    pub kind: String,
    pub name: String,
    pub cluster: RawCluster,
    pub images: BTreeMap<String, RawImage>,
    #[serde(default)]
    pub gpu_pools: BTreeMap<String, RawGpuPool>,
    #[serde(default)]
    pub storage: BTreeMap<String, RawVolume>,
    pub roles: BTreeMap<String, RawRole>,
    pub teams: BTreeMap<String, RawTeam>,
    #[serde(default)]
    pub jobs: BTreeMap<String, RawJob>,
    #[serde(default)]
    pub gitops: Option<RawGitops>,
    #[serde(default)]
    pub extras: Vec<RawExtra>,
}

/// An `images` entry: a plain reference (its start convention inferred from it), or a map that
/// says how Jupyter starts in the image (docs/images.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RawImage {
    Reference(String),
    Spec(RawImageSpec),
}

impl RawImage {
    /// The OCI image reference, whichever form it was written in.
    pub fn reference(&self) -> &str {
        match self {
            RawImage::Reference(r) => r,
            RawImage::Spec(s) => &s.image,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImageSpec {
    pub image: String,
    #[serde(default)]
    pub start: Option<Family>,
    /// Handlebars templates (strict): the container's command, replacing the image's.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub args: Option<Vec<String>>,
}

/// A family of notebook images whose start-up nbgen knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Jupyter's docker-stacks (quay.io/jupyter/*): tini, start.sh, start-notebook.py.
    DockerStacks,
    /// Kubeflow's notebook images (kubeflownotebookswg/*): s6-overlay's /init.
    Kubeflow,
}

/// `cluster.target`: the platform the environment is rendered for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawTarget {
    #[default]
    Kubernetes,
    Kubeflow,
    #[serde(rename = "openshift")]
    OpenShift,
    #[serde(rename = "opendatahub")]
    OpenDataHub,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCluster {
    /// The real cluster's identity, shared by environments deployed to it.
    #[serde(default)]
    pub name: Option<String>,
    pub kubernetes_version: String,
    #[serde(default = "default_node_port_range")]
    pub node_port_range: String,
    #[serde(default)]
    pub storage_class: Option<String>,
    #[serde(default)]
    pub namespace_prefix: String,
    /// The platform the environment is rendered for (default: plain Kubernetes).
    #[serde(default)]
    pub target: RawTarget,
    /// Who may reach the notebooks, and what they may reach (docs/security.md).
    #[serde(default)]
    pub network: RawNetwork,
}

/// The cluster's network facts and the access the spec allows. Everything not declared here is
/// denied: default-deny ingress and egress in every team namespace.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNetwork {
    /// Where the cluster's DNS runs (default: kube-system, `k8s-app: kube-dns`).
    #[serde(default)]
    pub dns: Option<RawPeer>,
    /// The pod, service and node ranges: never reached through `internet`.
    #[serde(default, rename = "clusterCIDRs")]
    pub cluster_cidrs: Vec<String>,
    /// Access through Ingress objects: the ingress controller's pods.
    #[serde(default)]
    pub ingress_controller: Option<RawPeer>,
    /// Access through NodePort Services, from these client ranges. Absent: no NodePorts.
    #[serde(default)]
    pub node_port: Option<RawNodePortAccess>,
    /// Destinations notebook pods may reach besides DNS.
    #[serde(default)]
    pub egress: Vec<RawEgress>,
}

/// Pods in a namespace, optionally narrowed by labels.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPeer {
    pub namespace: String,
    #[serde(default)]
    pub pod_selector: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNodePortAccess {
    #[serde(rename = "clientCIDRs")]
    pub client_cidrs: Vec<String>,
}

/// One egress destination: an address range (a proxy, a package mirror), or the internet
/// outside the cluster's ranges.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawEgress {
    #[serde(default)]
    pub cidr: Option<String>,
    #[serde(default)]
    pub internet: Option<bool>,
    /// TCP ports; empty: every port.
    #[serde(default)]
    pub ports: Vec<u32>,
}

fn default_node_port_range() -> String {
    "30000-32767".to_owned()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGpuPool {
    pub resource: String,
    pub capacity: u32,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub tolerations: Vec<RawToleration>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawToleration {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub effect: Option<String>,
    #[serde(default)]
    pub toleration_seconds: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawVolume {
    pub size: RawQuantity,
    #[serde(default)]
    pub nfs: Option<RawNfs>,
    #[serde(default)]
    pub storage_class: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNfs {
    pub server: String,
    pub path: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRole {
    pub image: String,
    pub cpu: RawQuantity,
    pub memory: RawQuantity,
    #[serde(default)]
    pub home_size: Option<RawQuantity>,
    #[serde(default)]
    pub mounts: BTreeMap<String, MountMode>,
    #[serde(default)]
    pub gpu: Option<RawGpuRequest>,
    #[serde(default)]
    pub shm_size: Option<RawQuantity>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MountMode {
    ReadOnly,
    ReadWrite,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGpuRequest {
    pub pool: String,
    pub count: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTeam {
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    #[serde(default)]
    pub per_member: bool,
    #[serde(default)]
    pub quota: Option<RawQuota>,
    #[serde(default)]
    pub node_ports: BTreeMap<String, u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuota {
    #[serde(default)]
    pub cpu: Option<RawQuantity>,
    #[serde(default)]
    pub memory: Option<RawQuantity>,
    #[serde(default)]
    pub gpu: Option<u32>,
}

/// A Kubernetes quantity as written: `"500m"`, `8Gi`, or a bare number such as `2`.
#[derive(Clone, Debug, PartialEq)]
pub struct RawQuantity(pub String);

impl<'de> Deserialize<'de> for RawQuantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            S(String),
            N(serde_json::Number),
        }
        Ok(RawQuantity(match Either::deserialize(d)? {
            Either::S(s) => s,
            Either::N(n) => n.to_string(),
        }))
    }
}

/// A notebook run to completion by papermill, once or on a schedule (docs/jobs.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawJob {
    pub team: String,
    pub role: String,
    pub notebook: String,
    pub output_dir: String,
    /// In the order written; validation sorts it.
    #[serde(default)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub suspend: Option<bool>,
    #[serde(default)]
    pub backoff_limit: Option<u32>,
    #[serde(default)]
    pub active_deadline_seconds: Option<u32>,
    #[serde(default)]
    pub ttl_seconds_after_finished: Option<u32>,
    #[serde(default)]
    pub scratch_size: Option<RawQuantity>,
}

/// How the environment is deployed (docs/argocd.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGitops {
    #[serde(default)]
    pub argocd: Option<RawArgoCd>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawArgoCd {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub destination: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
}

/// A user template and what it is rendered for (docs/templates.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawExtra {
    pub template: String,
    pub each: Each,
    /// Kinds that grant power or are cluster-scoped (RBAC, webhooks, PersistentVolumes…) that
    /// this template may render; every other such kind is refused.
    #[serde(default)]
    pub allow_kinds: Vec<String>,
}

/// What a template is rendered once for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Each {
    Env,
    Team,
    Server,
}
