//! What a change does to the cluster that a reviewer must not miss: data at risk, RBAC changes,
//! NodePorts that move, images that change, notebook servers that start differently (command,
//! args, start-up environment), and resource totals before → after. Computed from
//! the old and new objects themselves (parsed YAML), never from the spec, so it also sees
//! hand-made objects. Pure: no I/O.

use crate::model::names::{SYNC_OPTIONS, TEAM};
use crate::model::{GpuPool, Quantity};
use crate::object::ObjectId;
use crate::review::block::Keep;
use crate::review::diff::Change;
use crate::review::snapshot::Snapshot;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Risks {
    pub data: Vec<DataRisk>,
    pub rbac: Vec<RbacChange>,
    pub node_ports: Vec<NodePortMove>,
    pub images: Vec<ImageChange>,
    pub starts: Vec<StartChange>,
    /// The AppProject and Application that decide what Argo CD deploys, where.
    pub gitops: Vec<GitopsChange>,
    pub totals: Totals,
}

impl Risks {
    /// True when there is nothing but (possibly unchanged) totals.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.rbac.is_empty()
            && self.node_ports.is_empty()
            && self.images.is_empty()
            && self.starts.is_empty()
            && self.gitops.is_empty()
    }
}

/// An Argo CD AppProject or Application added, removed or changed: whatever changes in them
/// changes what Argo CD may deploy where, and how it syncs (docs/security.md).
#[derive(Clone, Debug, Serialize)]
pub struct GitopsChange {
    pub object: ObjectId,
    pub change: Change,
    /// The changed fields under `spec` (`spec.destinations`); empty when added or removed.
    pub fields: Vec<String>,
}

impl GitopsChange {
    pub fn message(&self) -> String {
        let why = match self.object.kind.as_str() {
            "AppProject" => {
                "it decides which namespaces, kinds and repositories Argo CD may deploy"
            }
            _ => "it decides what Argo CD syncs, where, and which differences it ignores",
        };
        match self.change {
            Change::Added => format!("{} added: {why}", self.object),
            Change::Removed => format!("{} removed: {why}", self.object),
            Change::Changed => format!(
                "{} changes {}: {why}",
                self.object,
                if self.fields.is_empty() {
                    "its metadata".to_owned()
                } else {
                    self.fields.join(", ")
                }
            ),
        }
    }
}

/// A PersistentVolume, PersistentVolumeClaim or Namespace removed, resized or changed in a way
/// that puts data at risk.
#[derive(Clone, Debug, Serialize)]
pub struct DataRisk {
    pub object: ObjectId,
    pub what: DataRiskKind,
    pub before: Option<String>,
    pub after: Option<String>,
    /// What happens and what to do, for a person.
    pub detail: String,
}

/// What puts a volume's or namespace's data at risk. Serialized as in JSON reports since
/// version 1 (`removed`, `resized`, `reclaim-policy`, `immutable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataRiskKind {
    Removed,
    Resized,
    ReclaimPolicy,
    /// A field Kubernetes will not change in place.
    Immutable,
}

impl DataRiskKind {
    /// The word a report shows: the JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataRiskKind::Removed => "removed",
            DataRiskKind::Resized => "resized",
            DataRiskKind::ReclaimPolicy => "reclaim-policy",
            DataRiskKind::Immutable => "immutable",
        }
    }
}

impl DataRisk {
    /// The whole finding as one sentence, naming the object.
    pub fn message(&self) -> String {
        let (id, d) = (&self.object, &self.detail);
        let b = self.before.as_deref().unwrap_or("unset");
        let a = self.after.as_deref().unwrap_or("unset");
        match self.what {
            DataRiskKind::Removed => match &self.before {
                Some(size) => format!("{id} ({size}) removed: {d}"),
                None => format!("{id} removed: {d}"),
            },
            DataRiskKind::Resized => format!("{id} resized {b} → {a}: {d}"),
            DataRiskKind::ReclaimPolicy => format!("{id} reclaim policy {b} → {a}: {d}"),
            DataRiskKind::Immutable => format!("{id}: {d}"),
        }
    }
}

/// One RBAC subject, rule or role reference added or removed.
#[derive(Clone, Debug, Serialize)]
pub struct RbacChange {
    /// The Role, ClusterRole, RoleBinding or ClusterRoleBinding.
    pub object: ObjectId,
    pub change: Change,
    pub what: RbacWhat,
    /// `User alice@example.com`, `get, list on pods`, `Role notebook-user`.
    pub item: String,
    /// For a subject: the role the binding grants (`Role notebook-user`).
    pub grants: Option<String>,
}

/// What part of an RBAC object changed. Serialized as in JSON reports since version 1
/// (`subject`, `rule`, `roleRef`); ordered as a reviewer reads them: who gains or loses access
/// first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RbacWhat {
    /// A binding's subject: who is granted the role.
    Subject,
    /// A binding's role reference.
    RoleRef,
    /// A role's rule: what is granted.
    Rule,
}

/// A Service port whose NodePort moves, or that takes over a port another Service had.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePortMove {
    pub service: ObjectId,
    /// The port's name (or number when unnamed).
    pub port: String,
    pub before: Option<i64>,
    pub after: i64,
    /// The Service that had `after` before this change, if another one did.
    pub previous_owner: Option<ObjectId>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ImageChange {
    pub object: ObjectId,
    pub container: String,
    pub before: String,
    pub after: String,
}

/// A long-running workload (a notebook server) whose container starts differently: its
/// command, its args, or an environment variable Jupyter's start-up reads. The server may no
/// longer become ready, or may come up with other settings.
#[derive(Clone, Debug, Serialize)]
pub struct StartChange {
    pub object: ObjectId,
    pub container: String,
    /// `command`, `args`, or `env <NAME>`.
    pub what: String,
    /// As JSON (a list, or a variable's value or source); `None`: unset.
    pub before: Option<String>,
    pub after: Option<String>,
}

impl StartChange {
    pub fn message(&self) -> String {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unset".to_owned());
        format!(
            "{} container {}: {} {} → {}",
            self.object,
            self.container,
            self.what,
            show(&self.before),
            show(&self.after)
        )
    }
}

/// Environment variables that decide how a notebook server starts (docs/images.md).
pub const START_ENV: [&str; 7] = [
    "HOME",
    "NB_PREFIX",
    "JUPYTER_TOKEN",
    "JUPYTER_RUNTIME_DIR",
    "DOCKER_STACKS_JUPYTER_CMD",
    "NOTEBOOK_ARGS",
    "PYTHONUSERBASE",
];

/// Resource requests summed over every workload, per team and per GPU pool.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub teams: Vec<TeamTotal>,
    pub pools: Vec<PoolTotal>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    pub cpu_millicores: i64,
    pub memory_bytes: i64,
    pub gpus: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TeamTotal {
    pub team: String,
    pub before: Resources,
    pub after: Resources,
}

#[derive(Clone, Debug, Serialize)]
pub struct PoolTotal {
    pub pool: String,
    pub resource: String,
    /// The pool's capacity in the new spec, when the pool is defined there.
    pub capacity: Option<u32>,
    pub before: i64,
    pub after: i64,
}

/// Compute the risks of going from `old` to `new`. `pools` (the new spec's GPU pools) name the
/// pools workloads draw on; a workload matching none is grouped by its GPU resource.
#[cfg(test)]
pub fn assess(old: &Snapshot, new: &Snapshot, pools: &BTreeMap<String, GpuPool>) -> Risks {
    assess_with(old, new, &Same::default(), pools)
}

/// The kinds of an unchanged object that `assess_with` needs to see: Services (the NodePorts
/// they hold) and workloads (the resources they ask for).
pub const SAME_KINDS: [&str; 9] = [
    "Service",
    "Notebook",
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];

/// What `assess_with` reads of an unchanged object (`block::Filter`): its team label, replicas and
/// parallelism, each container's resources, the node selector, each Service port.
pub fn same_keys(key: &str) -> Keep {
    match key {
        "metadata" | "labels" | "spec" | "template" | "jobTemplate" | "containers" => Keep::Walk,
        TEAM | "replicas" | "parallelism" | "nodeSelector" | "resources" | "ports" => Keep::Whole,
        _ => Keep::Drop,
    }
}

/// What the unchanged objects (the same on both sides) add to a review: the NodePorts their
/// Services hold and the resources their workloads ask for. Gathered object by object
/// (`add`), in parts that `merge`, so no object is kept.
#[derive(Clone, Debug, Default)]
pub struct Same {
    ports: BTreeMap<(ObjectId, String), i64>,
    sums: Sums,
}

impl Same {
    /// Count one unchanged object (of the `SAME_KINDS`; others add nothing), read with at
    /// least the keys `same_keys` keeps.
    pub fn add(&mut self, id: &ObjectId, value: &Value, pools: &BTreeMap<String, GpuPool>) {
        service_ports(id, value, &mut self.ports);
        add_workload(&mut self.sums, id, value, pools);
    }

    pub fn merge(&mut self, other: Same) {
        self.ports.extend(other.ports);
        self.sums.merge(other.sums);
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
                data(id, o, n, &mut risks.data);
            }
            "Role" | "ClusterRole" => rules(id, o, n, &mut risks.rbac),
            "RoleBinding" | "ClusterRoleBinding" => subjects(id, o, n, &mut risks.rbac),
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
            images(id, o, n, &mut risks.images);
            starts(id, o, n, &mut risks.starts);
        }
    }
    // Who gains or loses access matters most to a reviewer: subjects first.
    risks.rbac.sort_by_key(|c| c.what);
    risks.node_ports = node_ports(old, new, same);
    risks.totals = totals(old, new, same, pools);
    risks
}

// ---- data ---------------------------------------------------------------------------------

fn data(id: &ObjectId, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<DataRisk>) {
    let risk = |what, before: Option<String>, after: Option<String>, detail: String| DataRisk {
        object: id.clone(),
        what,
        before,
        after,
        detail,
    };
    let Some(old) = old else { return };
    let size = |v: &Value| {
        let ptr = match id.kind.as_str() {
            "PersistentVolume" => "/spec/capacity/storage",
            _ => "/spec/resources/requests/storage",
        };
        v.pointer(ptr).and_then(Value::as_str).map(str::to_owned)
    };
    let Some(new) = new else {
        let keeps = old
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(SYNC_OPTIONS))
            .and_then(Value::as_str)
            .is_some_and(|o| o.contains("Prune=false"));
        let what_happens = match id.kind.as_str() {
            "Namespace" => {
                "deleting a namespace deletes every volume claim and home directory in it"
            }
            "Profile" => {
                "deleting a Kubeflow Profile deletes the namespace its controller made for it, with every volume claim and home directory in it"
            }
            "PersistentVolumeClaim" => {
                "servers lose this volume; deleting the claim can delete its data"
            }
            _ => match old
                .pointer("/spec/persistentVolumeReclaimPolicy")
                .and_then(Value::as_str)
            {
                Some("Retain") => {
                    "the data stays on the storage (reclaim policy Retain) but nothing mounts it"
                }
                _ => "deleting the volume deletes its data",
            },
        };
        let argo = if keeps {
            "Argo CD will not prune it (Prune=false): delete it by hand once the data is safe"
        } else {
            "Argo CD prunes it when pruning is on"
        };
        out.push(risk(
            DataRiskKind::Removed,
            size(old),
            None,
            format!("{what_happens}; {argo}"),
        ));
        return;
    };
    let (before, after) = (size(old), size(new));
    if before != after {
        let (b, a) = (
            before.as_deref().map(parse_bytes),
            after.as_deref().map(parse_bytes),
        );
        let why = match (id.kind.as_str(), b, a) {
            ("PersistentVolumeClaim", Some(b), Some(a)) if a < b => {
                "Kubernetes refuses to shrink a claim"
            }
            ("PersistentVolumeClaim", _, _) => {
                "a claim grows only if its storage allows expansion; resize a static (NFS) volume on the server too"
            }
            _ => "a static volume's capacity is a label: resize the storage itself",
        };
        out.push(risk(
            DataRiskKind::Resized,
            before.clone(),
            after.clone(),
            why.to_owned(),
        ));
    }
    if id.kind == "PersistentVolume" {
        let policy = |v: &Value| {
            v.pointer("/spec/persistentVolumeReclaimPolicy")
                .and_then(Value::as_str)
                .unwrap_or("Retain")
                .to_owned()
        };
        let (b, a) = (policy(old), policy(new));
        if b != a && a != "Retain" {
            out.push(risk(
                DataRiskKind::ReclaimPolicy,
                Some(b.clone()),
                Some(a.clone()),
                "deleting its claim will delete the data".to_owned(),
            ));
        }
    }
    // Fields Kubernetes will not change in place: the object must be deleted and recreated.
    let mutable: &[&str] = match id.kind.as_str() {
        "PersistentVolume" => &[
            "capacity",
            "claimRef",
            "persistentVolumeReclaimPolicy",
            "mountOptions",
        ],
        "PersistentVolumeClaim" => &["resources", "volumeAttributesClassName"],
        _ => return,
    };
    let changed = changed_keys(old.get("spec"), new.get("spec"), mutable);
    if !changed.is_empty() {
        out.push(risk(
            DataRiskKind::Immutable,
            None,
            None,
            format!(
                "immutable field{} {} changed: Kubernetes refuses the update, so the object must be deleted and recreated",
                if changed.len() == 1 { "" } else { "s" },
                changed.join(", ")
            ),
        ));
    }
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

// ---- RBAC ---------------------------------------------------------------------------------

fn rules(id: &ObjectId, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<RbacChange>) {
    // A rule naming resources grants each name on its own: compare name by name, so that a new
    // server reads "adds … (prep-dave)" rather than one rule dropped and another added.
    type Grants = BTreeMap<String, BTreeSet<Option<String>>>;
    let grants = |v: Option<&Value>| -> Grants {
        let mut g = Grants::new();
        let rules = v.and_then(|v| v.get("rules")).and_then(Value::as_array);
        for rule in rules.into_iter().flatten() {
            let names = strings(rule, "resourceNames");
            let set = g.entry(rule_text(rule)).or_default();
            if names.is_empty() {
                set.insert(None);
            } else {
                set.extend(names.into_iter().map(Some));
            }
        }
        g
    };
    let (o, n) = (grants(old), grants(new));
    let empty = BTreeSet::new();
    let bases: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    for base in bases {
        let (before, after) = (o.get(base).unwrap_or(&empty), n.get(base).unwrap_or(&empty));
        for (change, names) in [
            (Change::Removed, before.difference(after)),
            (Change::Added, after.difference(before)),
        ] {
            let names: Vec<&Option<String>> = names.collect();
            let mut items = Vec::new();
            if names.contains(&&None) {
                items.push(base.clone());
            }
            let named: Vec<&str> = names.iter().filter_map(|n| n.as_deref()).collect();
            if !named.is_empty() {
                items.push(format!("{base} ({})", named.join(", ")));
            }
            out.extend(items.into_iter().map(|item| RbacChange {
                object: id.clone(),
                change,
                what: RbacWhat::Rule,
                item,
                grants: None,
            }));
        }
    }
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `get, list on pods, pods/log`, `patch on apps deployments/scale`; resource names apart.
fn rule_text(rule: &Value) -> String {
    let list = |key: &str| strings(rule, key);
    let verbs = list("verbs").join(", ");
    let mut text = format!("{verbs} on");
    let groups: Vec<String> = list("apiGroups")
        .into_iter()
        .filter(|g| !g.is_empty())
        .collect();
    if !groups.is_empty() {
        text.push(' ');
        text.push_str(&groups.join(", "));
    }
    let resources = list("resources");
    if !resources.is_empty() {
        text.push(' ');
        text.push_str(&resources.join(", "));
    }
    let urls = list("nonResourceURLs");
    if !urls.is_empty() {
        text.push_str(&format!(" URLs {}", urls.join(", ")));
    }
    text
}

fn subjects(id: &ObjectId, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<RbacChange>) {
    let set = |v: Option<&Value>| -> BTreeSet<String> {
        v.and_then(|v| v.get("subjects"))
            .and_then(Value::as_array)
            .map(|s| s.iter().map(subject_text).collect())
            .unwrap_or_default()
    };
    let role_ref = |v: Option<&Value>| {
        v.and_then(|v| v.get("roleRef")).map(|r| {
            format!(
                "{} {}",
                r.get("kind").and_then(Value::as_str).unwrap_or("?"),
                r.get("name").and_then(Value::as_str).unwrap_or("?")
            )
        })
    };
    let (o, n) = (set(old), set(new));
    let (old_ref, new_ref) = (role_ref(old), role_ref(new));
    let change = |change, item: &String, grants: &Option<String>| RbacChange {
        object: id.clone(),
        change,
        what: RbacWhat::Subject,
        item: item.clone(),
        grants: grants.clone(),
    };
    if old.is_some() && new.is_some() && old_ref != new_ref {
        for (c, r) in [(Change::Removed, &old_ref), (Change::Added, &new_ref)] {
            if let Some(r) = r {
                out.push(RbacChange {
                    object: id.clone(),
                    change: c,
                    what: RbacWhat::RoleRef,
                    item: r.clone(),
                    grants: None,
                });
            }
        }
    }
    out.extend(
        o.difference(&n)
            .map(|s| change(Change::Removed, s, &old_ref)),
    );
    out.extend(n.difference(&o).map(|s| change(Change::Added, s, &new_ref)));
}

/// `User alice@example.com`, `Group ds-team`, `ServiceAccount ci/deployer`.
fn subject_text(s: &Value) -> String {
    let kind = s.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = s.get("name").and_then(Value::as_str).unwrap_or("?");
    match s.get("namespace").and_then(Value::as_str) {
        Some(ns) if kind == "ServiceAccount" => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    }
}

// ---- NodePorts ----------------------------------------------------------------------------

/// The NodePorts a Service holds, by (Service, port name).
fn service_ports(id: &ObjectId, value: &Value, out: &mut BTreeMap<(ObjectId, String), i64>) {
    if id.kind != "Service" {
        return;
    }
    let list = value.pointer("/spec/ports").and_then(Value::as_array);
    for p in list.into_iter().flatten() {
        let Some(node_port) = p.get("nodePort").and_then(Value::as_i64) else {
            continue;
        };
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| p.get("port").map(Value::to_string))
            .unwrap_or_default();
        out.insert((id.clone(), name), node_port);
    }
}

fn node_ports(old: &Snapshot, new: &Snapshot, same: &Same) -> Vec<NodePortMove> {
    let ports = |snap: &Snapshot| -> BTreeMap<(ObjectId, String), i64> {
        let mut out = same.ports.clone();
        for (id, f) in &snap.objects {
            service_ports(id, &f.value, &mut out);
        }
        out
    };
    let (o, n) = (ports(old), ports(new));
    let owner: BTreeMap<i64, &ObjectId> = o.iter().map(|((id, _), p)| (*p, id)).collect();
    let mut out = Vec::new();
    for ((id, name), &after) in &n {
        let before = o.get(&(id.clone(), name.clone())).copied();
        let previous_owner = owner
            .get(&after)
            .filter(|o| **o != id)
            .map(|o| (*o).clone());
        if before.is_some_and(|b| b != after) || previous_owner.is_some() {
            out.push(NodePortMove {
                service: id.clone(),
                port: name.clone(),
                before,
                after,
                previous_owner,
            });
        }
    }
    out
}

// ---- images -------------------------------------------------------------------------------

/// The pod spec inside a workload, wherever its kind keeps it.
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

fn images(id: &ObjectId, old: &Value, new: &Value, out: &mut Vec<ImageChange>) {
    let map = |v: &Value| -> BTreeMap<String, String> {
        pod_spec(&id.kind, v)
            .map(|s| {
                containers(s)
                    .map(|c| {
                        let get = |k| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                        (get("name"), get("image"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (o, n) = (map(old), map(new));
    for (name, after) in &n {
        if let Some(before) = o.get(name).filter(|b| *b != after) {
            out.push(ImageChange {
                object: id.clone(),
                container: name.clone(),
                before: before.clone(),
                after: after.clone(),
            });
        }
    }
}

// ---- start-up -----------------------------------------------------------------------------

/// Command, args and start-up environment of each container of a long-running workload (not a
/// Job or CronJob: a job's command follows its notebook and changes with it).
fn starts(id: &ObjectId, old: &Value, new: &Value, out: &mut Vec<StartChange>) {
    if !matches!(
        id.kind.as_str(),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Pod" | "Notebook"
    ) {
        return;
    }
    type Settings = BTreeMap<String, Option<String>>;
    let by_container = |v: &Value| -> BTreeMap<String, Settings> {
        let Some(spec) = pod_spec(&id.kind, v) else {
            return BTreeMap::new();
        };
        containers(spec)
            .map(|c| {
                let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                let mut s = Settings::new();
                for key in ["command", "args"] {
                    s.insert(key.to_owned(), c.get(key).map(Value::to_string));
                }
                for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
                    let Some(var) = e.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    if START_ENV.contains(&var) {
                        let value = e
                            .get("value")
                            .or_else(|| e.get("valueFrom"))
                            .map(Value::to_string)
                            .unwrap_or_else(|| "\"\"".to_owned());
                        s.insert(format!("env {var}"), Some(value));
                    }
                }
                (name.to_owned(), s)
            })
            .collect()
    };
    let (o, n) = (by_container(old), by_container(new));
    for (container, after) in &n {
        let Some(before) = o.get(container) else {
            continue;
        };
        let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for key in keys {
            let (b, a) = (
                before.get(key).cloned().flatten(),
                after.get(key).cloned().flatten(),
            );
            if b != a {
                out.push(StartChange {
                    object: id.clone(),
                    container: container.clone(),
                    what: key.clone(),
                    before: b,
                    after: a,
                });
            }
        }
    }
}

// ---- totals -------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Sums {
    teams: BTreeMap<String, Resources>,
    /// (pool name, resource) → GPUs
    pools: BTreeMap<(String, String), i64>,
}

impl Sums {
    fn merge(&mut self, other: Sums) {
        for (team, r) in other.teams {
            let t = self.teams.entry(team).or_default();
            t.cpu_millicores += r.cpu_millicores;
            t.memory_bytes += r.memory_bytes;
            t.gpus += r.gpus;
        }
        for (pool, n) in other.pools {
            *self.pools.entry(pool).or_default() += n;
        }
    }
}

fn sums(snap: &Snapshot, same: &Same, pools: &BTreeMap<String, GpuPool>) -> Sums {
    let mut s = same.sums.clone();
    for (id, f) in &snap.objects {
        add_workload(&mut s, id, &f.value, pools);
    }
    s
}

/// Add a workload's requests to its team and its GPU pools; any other object adds nothing.
fn add_workload(s: &mut Sums, id: &ObjectId, value: &Value, pools: &BTreeMap<String, GpuPool>) {
    {
        let Some(spec) = pod_spec(&id.kind, value) else {
            return;
        };
        // Pods at once; jobs count as if always running, as nbgen's own quota checks do.
        let count = |ptr: &str| value.pointer(ptr).and_then(Value::as_i64).unwrap_or(1);
        let replicas = match id.kind.as_str() {
            "Deployment" | "StatefulSet" | "ReplicaSet" => count("/spec/replicas"),
            "Job" => count("/spec/parallelism"),
            "CronJob" => count("/spec/jobTemplate/spec/parallelism"),
            _ => 1,
        };
        let team = value
            .pointer("/metadata/labels/nbgen.io~1team")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| id.namespace.clone())
            .unwrap_or_else(|| "(cluster)".to_owned());
        let selector: BTreeMap<String, String> = spec
            .get("nodeSelector")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut r = Resources::default();
        for c in spec
            .get("containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let amount = |name: &str| -> Option<&str> {
                ["requests", "limits"].iter().find_map(|which| {
                    c.pointer(&format!("/resources/{which}"))
                        .and_then(|m| m.get(name))
                        .and_then(Value::as_str)
                })
            };
            r.cpu_millicores += amount("cpu").map_or(0, parse_milli);
            r.memory_bytes += amount("memory").map_or(0, parse_bytes);
            let extended: BTreeSet<&String> = ["limits", "requests"]
                .iter()
                .filter_map(|w| {
                    c.pointer(&format!("/resources/{w}"))
                        .and_then(Value::as_object)
                })
                .flat_map(|m| m.keys())
                .filter(|k| k.contains('/'))
                .collect();
            for resource in extended {
                let count = amount(resource).map_or(0, parse_milli) / 1000;
                r.gpus += count;
                let pool = pools
                    .values()
                    .find(|p| {
                        &p.resource == resource
                            && p.node_selector
                                .iter()
                                .all(|(k, v)| selector.get(k) == Some(v))
                    })
                    .map_or_else(|| resource.clone(), |p| p.name.clone());
                *s.pools.entry((pool, resource.clone())).or_default() += count * replicas;
            }
        }
        let t = s.teams.entry(team).or_default();
        t.cpu_millicores += r.cpu_millicores * replicas;
        t.memory_bytes += r.memory_bytes * replicas;
        t.gpus += r.gpus * replicas;
    }
}

fn totals(
    old: &Snapshot,
    new: &Snapshot,
    same: &Same,
    pools: &BTreeMap<String, GpuPool>,
) -> Totals {
    let (o, n) = (sums(old, same, pools), sums(new, same, pools));
    let teams: BTreeSet<&String> = o.teams.keys().chain(n.teams.keys()).collect();
    let keys: BTreeSet<&(String, String)> = o.pools.keys().chain(n.pools.keys()).collect();
    Totals {
        teams: teams
            .into_iter()
            .map(|t| TeamTotal {
                team: t.clone(),
                before: o.teams.get(t).copied().unwrap_or_default(),
                after: n.teams.get(t).copied().unwrap_or_default(),
            })
            .collect(),
        pools: keys
            .into_iter()
            .map(|k| PoolTotal {
                pool: k.0.clone(),
                resource: k.1.clone(),
                capacity: pools.get(&k.0).map(|p| p.capacity),
                before: o.pools.get(k).copied().unwrap_or_default(),
                after: n.pools.get(k).copied().unwrap_or_default(),
            })
            .collect(),
    }
}

/// A Kubernetes quantity in thousandths (millicores for CPU); 0 when it does not parse.
fn parse_milli(text: &str) -> i64 {
    Quantity::milli(text).map_or(0, |v| v.clamp(i64::MIN.into(), i64::MAX.into()) as i64)
}

fn parse_bytes(text: &str) -> i64 {
    parse_milli(text) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn snap(files: &[(&str, &str)]) -> Snapshot {
        Snapshot::from_texts(files)
    }

    const PVC: &str = "kind: PersistentVolumeClaim\nmetadata: {name: models, namespace: mlops, annotations: {argocd.argoproj.io/sync-options: 'Prune=false,Delete=false'}}\nspec: {accessModes: [ReadOnlyMany], resources: {requests: {storage: 100Gi}}}\n";

    const PROJECT: &str = "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: notebooks-prod, namespace: argocd}\nspec: {sourceRepos: [r], destinations: [{server: s, namespace: a}], clusterResourceWhitelist: [{group: '', kind: Namespace}]}\n";

    #[test]
    fn any_change_to_the_app_project_or_application_is_a_risk() {
        let widened = PROJECT.replace(
            "kind: Namespace}",
            "kind: Namespace}, {group: rbac.authorization.k8s.io, kind: ClusterRoleBinding}",
        );
        let r = assess(
            &snap(&[("p.yaml", PROJECT)]),
            &snap(&[("p.yaml", &widened)]),
            &BTreeMap::new(),
        );
        assert_eq!(r.gitops.len(), 1);
        assert_eq!(
            r.gitops[0].message(),
            "argocd AppProject/notebooks-prod changes spec.clusterResourceWhitelist: it decides which namespaces, kinds and repositories Argo CD may deploy"
        );
        assert!(!r.is_empty());
        let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: notebooks-prod, namespace: argocd}\nspec: {project: notebooks-prod}\n";
        let r = assess(&snap(&[]), &snap(&[("a.yaml", app)]), &BTreeMap::new());
        assert_eq!(
            r.gitops[0].message(),
            "argocd Application/notebooks-prod added: it decides what Argo CD syncs, where, and which differences it ignores"
        );
        let r = assess(
            &snap(&[("a.yaml", app)]),
            &snap(&[("a.yaml", app)]),
            &BTreeMap::new(),
        );
        assert!(r.gitops.is_empty(), "unchanged: no risk");
    }

    #[test]
    fn a_removed_claim_is_data_at_risk() {
        let r = assess(&snap(&[("a.yaml", PVC)]), &snap(&[]), &BTreeMap::new());
        assert_eq!(r.data.len(), 1);
        assert_eq!(
            r.data[0].message(),
            "mlops PersistentVolumeClaim/models (100Gi) removed: servers lose this volume; deleting the claim can delete its data; Argo CD will not prune it (Prune=false): delete it by hand once the data is safe"
        );
    }

    #[test]
    fn a_removed_kubeflow_profile_is_data_at_risk() {
        const PROFILE: &str = "apiVersion: kubeflow.org/v1\nkind: Profile\nmetadata: {name: kf-vision, annotations: {argocd.argoproj.io/sync-options: 'Prune=false,Delete=false'}}\nspec: {owner: {kind: User, name: carol@example.com}}\n";
        let r = assess(&snap(&[("p.yaml", PROFILE)]), &snap(&[]), &BTreeMap::new());
        assert_eq!(
            r.data[0].message(),
            "Profile/kf-vision removed: deleting a Kubeflow Profile deletes the namespace its controller made for it, with every volume claim and home directory in it; Argo CD will not prune it (Prune=false): delete it by hand once the data is safe"
        );
    }

    #[test]
    fn a_shrunk_claim_and_a_changed_access_mode_are_data_at_risk() {
        let new = PVC
            .replace("100Gi", "50Gi")
            .replace("ReadOnlyMany", "ReadWriteMany");
        let r = assess(
            &snap(&[("a.yaml", PVC)]),
            &snap(&[("a.yaml", &new)]),
            &BTreeMap::new(),
        );
        let what: Vec<DataRiskKind> = r.data.iter().map(|d| d.what).collect();
        assert_eq!(what, [DataRiskKind::Resized, DataRiskKind::Immutable]);
        assert!(
            r.data[0]
                .message()
                .ends_with("Kubernetes refuses to shrink a claim")
        );
        assert!(r.data[1].message().contains("spec.accessModes"));
    }

    #[test]
    fn subjects_and_rules_added_or_removed() {
        let rb = |users: &str| {
            format!(
                "kind: RoleBinding\nmetadata: {{name: b, namespace: t}}\nroleRef: {{kind: Role, name: r}}\nsubjects: [{users}]\n"
            )
        };
        let r = assess(
            &snap(&[("b.yaml", &rb("{kind: User, name: a}"))]),
            &snap(&[(
                "b.yaml",
                &rb("{kind: User, name: a}, {kind: Group, name: g}"),
            )]),
            &BTreeMap::new(),
        );
        assert_eq!(r.rbac.len(), 1);
        assert_eq!(r.rbac[0].change, Change::Added);
        assert_eq!(r.rbac[0].item, "Group g");
        assert_eq!(r.rbac[0].grants.as_deref(), Some("Role r"));

        let role = |verbs: &str| {
            format!(
                "kind: Role\nmetadata: {{name: r, namespace: t}}\nrules: [{{apiGroups: [''], resources: [pods], verbs: [{verbs}]}}]\n"
            )
        };
        let r = assess(
            &snap(&[("r.yaml", &role("get"))]),
            &snap(&[("r.yaml", &role("get, delete"))]),
            &BTreeMap::new(),
        );
        let items: Vec<String> = r
            .rbac
            .iter()
            .map(|c| format!("{} {}", c.change.mark(), c.item))
            .collect();
        assert_eq!(items, ["- get on pods", "+ get, delete on pods"]);
    }

    #[test]
    fn node_ports_that_move_or_change_hands() {
        let svc = |name: &str, port: u16| {
            format!(
                "kind: Service\nmetadata: {{name: {name}, namespace: t}}\nspec: {{ports: [{{name: http, nodePort: {port}}}]}}\n"
            )
        };
        let r = assess(
            &snap(&[("a.yaml", &svc("a", 30001)), ("b.yaml", &svc("b", 30002))]),
            &snap(&[("a.yaml", &svc("a", 30002)), ("c.yaml", &svc("c", 30003))]),
            &BTreeMap::new(),
        );
        assert_eq!(r.node_ports.len(), 1);
        let m = &r.node_ports[0];
        assert_eq!((m.before, m.after), (Some(30001), 30002));
        assert_eq!(m.previous_owner.as_ref().unwrap().name, "b");
    }

    #[test]
    fn a_server_that_starts_differently_is_a_risk() {
        let deployment = |args: &str, prefix: &str| {
            format!(
                "kind: Deployment\nmetadata: {{name: s, namespace: t}}\nspec: {{template: {{spec: {{containers: [{{name: notebook, args: [{args}], env: [{{name: NB_PREFIX, value: {prefix}}}, {{name: OTHER, value: x}}]}}]}}}}}}\n"
            )
        };
        let r = assess(
            &snap(&[("d.yaml", &deployment("a, b", "/n/t/s"))]),
            &snap(&[("d.yaml", &deployment("a, c", "/n/t/s2"))]),
            &BTreeMap::new(),
        );
        let found: Vec<String> = r.starts.iter().map(StartChange::message).collect();
        assert_eq!(
            found,
            [
                r#"t Deployment/s container notebook: args ["a","b"] → ["a","c"]"#,
                r#"t Deployment/s container notebook: env NB_PREFIX "/n/t/s" → "/n/t/s2""#,
            ]
        );
        assert!(!r.is_empty());
        // A job's command follows its notebook: not a start-up risk.
        let job = deployment("a, b", "/x").replace("kind: Deployment", "kind: Job");
        let job2 = deployment("a, c", "/x").replace("kind: Deployment", "kind: Job");
        let r = assess(
            &snap(&[("j.yaml", &job)]),
            &snap(&[("j.yaml", &job2)]),
            &BTreeMap::new(),
        );
        assert!(r.starts.is_empty());
    }

    #[test]
    fn quantities_parse() {
        assert_eq!(parse_bytes("8Gi"), 8 << 30);
        assert_eq!(parse_milli("500m"), 500);
    }
}
