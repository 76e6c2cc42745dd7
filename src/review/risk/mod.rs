//! What a change does to the cluster that a reviewer must not miss: data at risk, RBAC changes,
//! NodePorts that move, images that change, notebook servers that start differently (command,
//! args, start-up environment), and resource totals before → after. Computed from
//! the old and new objects themselves (parsed YAML), never from the spec, so it also sees
//! hand-made objects. Pure: no I/O.

mod access;
mod data;
mod gitops;
mod immutable;
mod network;
mod nodeports;
mod rbac;
mod totals;
mod workload;

pub use access::AccessChange;
pub use data::{DataRisk, DataRiskKind};
pub use gitops::GitopsChange;
pub use immutable::ImmutableChange;
pub use network::NetworkWidening;
pub use nodeports::{NodePortMove, NodePortWhat};
pub use rbac::{RbacChange, RbacWhat};
pub use totals::{Resources, Totals};
pub use workload::{ImageChange, StartChange};

use crate::model::GpuPool;
use crate::model::names::{ROLE, SERVER, TEAM};
use crate::object::ObjectId;
use crate::review::block::Keep;
use crate::review::diff::Change;
use crate::review::snapshot::Snapshot;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use totals::{Sums, parse_bytes};

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Risks {
    /// Set when the environment's spec is gone and every object of its output is removed.
    pub environment_deleted: Option<EnvironmentDeleted>,
    pub data: Vec<DataRisk>,
    pub rbac: Vec<RbacChange>,
    pub node_ports: Vec<NodePortMove>,
    /// Namespaces that gain access to shared data, or more of it.
    pub access: Vec<AccessChange>,
    /// NetworkPolicies that allow more traffic.
    pub network: Vec<NetworkWidening>,
    /// Objects whose update Kubernetes refuses: the sync fails until they are recreated.
    pub immutable: Vec<ImmutableChange>,
    pub images: Vec<ImageChange>,
    pub starts: Vec<StartChange>,
    /// The AppProject and Application that decide what Argo CD deploys, where.
    pub gitops: Vec<GitopsChange>,
    pub totals: Totals,
}

impl Risks {
    /// True when there is nothing but (possibly unchanged) totals.
    pub fn is_empty(&self) -> bool {
        self.environment_deleted.is_none()
            && self.data.is_empty()
            && self.rbac.is_empty()
            && self.node_ports.is_empty()
            && self.immutable.is_empty()
            && self.access.is_empty()
            && self.network.is_empty()
            && self.images.is_empty()
            && self.starts.is_empty()
            && self.gitops.is_empty()
    }
}

/// An environment whose spec is deleted: everything it deployed is to go.
#[derive(Clone, Debug, Serialize)]
pub struct EnvironmentDeleted {
    pub environment: String,
    /// The objects of its output, all removed.
    pub objects: usize,
}

impl EnvironmentDeleted {
    pub fn message(&self) -> String {
        format!(
            "environment {} is deleted (environments/{}.yaml is gone): all {} objects of out/{} are removed, and its servers, jobs and URLs with them; Argo CD prunes them only if its Application still exists, and never what is marked Prune=false (namespaces, volumes): delete those by hand once the data is safe, or restore the spec if the deletion is a mistake",
            self.environment, self.environment, self.objects, self.environment
        )
    }
}

/// Compute the risks of going from `old` to `new`. `pools` (the new spec's GPU pools) name the
/// pools workloads draw on; a workload matching none is grouped by its GPU resource.
#[cfg(test)]
pub fn assess(old: &Snapshot, new: &Snapshot, pools: &BTreeMap<String, GpuPool>) -> Risks {
    assess_with(old, new, &Same::default(), pools)
}

/// The kinds of an unchanged object that `assess_with` needs to see: Services (the NodePorts
/// they hold), NetworkPolicies (the pods they isolate) and workloads (the resources they ask
/// for, the shared volumes they mount).
pub const SAME_KINDS: [&str; 10] = [
    "Service",
    "NetworkPolicy",
    "Notebook",
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];

/// What `assess_with` reads of an unchanged object (`block::Filter`): its team, role and server
/// labels, replicas and parallelism, each container's resources and volume mounts, the pod's
/// volumes and node selector, each Service port, a NetworkPolicy's pod selector and types (and
/// its egress rules, which decide its types when it names none).
pub fn same_keys(key: &str) -> Keep {
    match key {
        "metadata" | "labels" | "spec" | "template" | "jobTemplate" | "initContainers"
        | "containers" => Keep::Walk,
        TEAM
        | ROLE
        | SERVER
        | "replicas"
        | "parallelism"
        | "nodeSelector"
        | "resources"
        | "ports"
        | "volumes"
        | "volumeMounts"
        | "volumeClaimTemplates"
        | "podSelector"
        | "policyTypes"
        | "egress" => Keep::Whole,
        _ => Keep::Drop,
    }
}

/// What the unchanged objects (the same on both sides) add to a review: the NodePorts their
/// Services hold and the resources their workloads ask for. Gathered object by object
/// (`add`), in parts that `merge`, so no object is kept.
#[derive(Clone, Debug, Default)]
pub struct Same {
    ports: BTreeMap<(ObjectId, String), nodeports::Held>,
    sums: Sums,
    mounts: access::Mounts,
    isolation: network::Isolation,
}

impl Same {
    /// Count one unchanged object (of the `SAME_KINDS`; others add nothing), read with at
    /// least the keys `same_keys` keeps.
    pub fn add(&mut self, id: &ObjectId, value: &Value, pools: &BTreeMap<String, GpuPool>) {
        nodeports::service_ports(id, value, &mut self.ports);
        totals::add_workload(&mut self.sums, id, value, pools);
        access::add_mounts(id, value, &mut self.mounts);
        network::add_isolation(id, value, &mut self.isolation);
    }

    pub fn merge(&mut self, other: Same) {
        self.ports.extend(other.ports);
        self.sums.merge(other.sums);
        access::merge(&mut self.mounts, other.mounts);
        for (ns, policies) in other.isolation {
            self.isolation.entry(ns).or_default().extend(policies);
        }
    }
}

/// `assess` with the objects that are the same on both sides kept apart: `old` and `new` hold
/// the others, `same` what the unchanged ones add, which count in the NodePorts taken and in
/// the totals on both sides but cannot be a risk themselves. Gives what `assess` gives for the
/// whole sides.
pub fn assess_with(
    old: &Snapshot,
    new: &Snapshot,
    same: &Same,
    pools: &BTreeMap<String, GpuPool>,
) -> Risks {
    let mut risks = Risks::default();
    let ids: BTreeSet<&ObjectId> = old.objects.keys().chain(new.objects.keys()).collect();
    for id in ids {
        let o = old.objects.get(id).map(|f| &f.value);
        let n = new.objects.get(id).map(|f| &f.value);
        if o == n {
            continue;
        }
        match id.kind.as_str() {
            "PersistentVolume" | "PersistentVolumeClaim" | "Namespace" | "Profile" => {
                data::data(id, o, n, &mut risks.data);
            }
            "Role" | "ClusterRole" => rbac::rules(id, o, n, &mut risks.rbac),
            "RoleBinding" | "ClusterRoleBinding" => rbac::subjects(id, o, n, &mut risks.rbac),
            "AppProject" | "Application" => risks.gitops.push(GitopsChange {
                object: id.clone(),
                change: match (o, n) {
                    (None, _) => Change::Added,
                    (_, None) => Change::Removed,
                    _ => Change::Changed,
                },
                fields: match (o, n) {
                    (Some(o), Some(n)) => changed_keys(o.get("spec"), n.get("spec"), &[]),
                    _ => Vec::new(),
                },
            }),
            _ => {}
        }
        if let (Some(o), Some(n)) = (o, n) {
            workload::images(id, o, n, &mut risks.images);
            workload::starts(id, o, n, &mut risks.starts);
            immutable::immutable(id, o, n, &mut risks.immutable);
            if id.kind == "PersistentVolume" {
                access::claim_ref(id, o, n, &mut risks.access);
            }
        }
    }
    // Who gains or loses access matters most to a reviewer: subjects first.
    risks.rbac.sort_by_key(|c| c.what);
    risks.access.extend(access::mounts(old, new, same));
    risks
        .access
        .sort_by(|a, b| (&a.namespace, &a.volume).cmp(&(&b.namespace, &b.volume)));
    risks.network = network::widenings(old, new, same);
    risks.node_ports = nodeports::node_ports(old, new, same);
    risks.totals = totals::totals(old, new, same, pools);
    risks
}

/// The pod spec inside a workload, wherever its kind keeps it (a Kubeflow `Notebook` too). A new
/// workload kind is one arm here and one entry in `SAME_KINDS`: images, access to shared data
/// and totals then all count it (start-up, `workload::starts`, names its long-running kinds).
fn pod_spec<'v>(kind: &str, v: &'v Value) -> Option<&'v Value> {
    match kind {
        "Pod" => v.get("spec"),
        "CronJob" => v.pointer("/spec/jobTemplate/spec/template/spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "Notebook" => {
            v.pointer("/spec/template/spec")
        }
        _ => None,
    }
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .filter_map(|k| spec.get(k).and_then(Value::as_array))
        .flatten()
}

fn changed_keys(old: Option<&Value>, new: Option<&Value>, except: &[&str]) -> Vec<String> {
    let empty = serde_json::Map::new();
    let o = old.and_then(Value::as_object).unwrap_or(&empty);
    let n = new.and_then(Value::as_object).unwrap_or(&empty);
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    keys.into_iter()
        .filter(|k| !except.contains(&k.as_str()) && o.get(*k) != n.get(*k))
        .map(|k| format!("spec.{k}"))
        .collect()
}

#[cfg(test)]
fn snap(files: &[(&str, &str)]) -> Snapshot {
    Snapshot::from_texts(files)
}
