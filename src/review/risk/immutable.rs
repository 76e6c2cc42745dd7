//! Immutable fields: a change Kubernetes refuses on update ("field is immutable"), so Argo CD's
//! sync of the object fails until it is deleted and created anew. OpenAPI does not mark these
//! fields; the list is the API server's update validation (`pkg/apis/<group>/validation`,
//! `Validate<Kind>Update`), written out with its source in docs/review.md. A
//! PersistentVolume's or claim's immutable fields are data at risk (`data.rs`), not here.

use super::changed_keys;
use crate::object::ObjectId;
use serde::Serialize;
use serde_json::Value;

/// An object whose update Kubernetes will refuse: the fields, and how to get past it.
#[derive(Clone, Debug, Serialize)]
pub struct ImmutableChange {
    pub object: ObjectId,
    /// The fields that change (`spec.template`, `roleRef`).
    pub fields: Vec<String>,
    /// What to do so that the change reaches the cluster, for a person.
    pub fix: String,
}

impl ImmutableChange {
    pub fn message(&self) -> String {
        format!(
            "{}: {} cannot change in place: the API server refuses the update (field is immutable) and Argo CD's sync fails; {}",
            self.object,
            self.fields.join(", "),
            self.fix
        )
    }
}

/// StatefulSet spec fields an update may change (apps/validation `ValidateStatefulSetUpdate`):
/// every other one is immutable.
const STATEFULSET_MUTABLE: [&str; 7] = [
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

/// Job spec fields an update may not change (batch/validation `ValidateJobSpecUpdate`). The
/// template may change only in a suspended Job that never started, which nbgen never renders.
const JOB_IMMUTABLE: [&str; 8] = [
    "template",
    "selector",
    "completions",
    "completionMode",
    "podFailurePolicy",
    "backoffLimitPerIndex",
    "successPolicy",
    "managedBy",
];

/// The immutable fields that change between two versions of an object, if any.
pub(super) fn immutable(id: &ObjectId, old: &Value, new: &Value, out: &mut Vec<ImmutableChange>) {
    let spec = |only: &[&str]| -> Vec<String> {
        only.iter()
            .filter(|k| old.pointer(&format!("/spec/{k}")) != new.pointer(&format!("/spec/{k}")))
            .map(|k| format!("spec.{k}"))
            .collect()
    };
    let ns = id.namespace.as_deref().unwrap_or("default");
    let name = &id.name;
    let recreate =
        "or have Argo CD delete and create it: sync it with the Force and Replace options";
    let (fields, fix) = match id.kind.as_str() {
        "Job" => (
            spec(&JOB_IMMUTABLE),
            format!(
                "delete the Job before syncing (`kubectl -n {ns} delete job {name}`): Argo CD then creates it again and it runs again; {recreate}"
            ),
        ),
        "StatefulSet" => (
            changed_keys(old.get("spec"), new.get("spec"), &STATEFULSET_MUTABLE),
            format!(
                "delete it keeping its pods and claims (`kubectl -n {ns} delete statefulset {name} --cascade=orphan`), sync, then delete its old pods so that they restart under the new one; {recreate} (the server restarts)"
            ),
        ),
        "Deployment" | "ReplicaSet" | "DaemonSet" => (
            spec(&["selector"]),
            format!(
                "delete it before syncing (`kubectl -n {ns} delete {} {name}`; its pods restart); {recreate}",
                id.kind.to_lowercase()
            ),
        ),
        "Service" => {
            // The primary IP family cannot change; a second one may be added or removed.
            let family = |v: &Value| v.pointer("/spec/ipFamilies/0").cloned();
            let mut fields = spec(&["clusterIP", "clusterIPs"]);
            if family(old) != family(new) {
                fields.push("spec.ipFamilies".to_owned());
            }
            (
                fields,
                format!(
                    "delete the Service before syncing (`kubectl -n {ns} delete service {name}`): clients reach it again once Argo CD creates it; {recreate}"
                ),
            )
        }
        "RoleBinding" | "ClusterRoleBinding" => (
            (old.get("roleRef") != new.get("roleRef"))
                .then(|| "roleRef".to_owned())
                .into_iter()
                .collect(),
            format!(
                "delete the binding before syncing (`kubectl{} delete {} {name}`): its subjects lose the role until Argo CD creates it again; {recreate}",
                id.namespace
                    .as_deref()
                    .map(|ns| format!(" -n {ns}"))
                    .unwrap_or_default(),
                id.kind.to_lowercase()
            ),
        ),
        "ConfigMap" | "Secret" if old.get("immutable") == Some(&Value::Bool(true)) => (
            ["immutable", "data", "binaryData", "stringData"]
                .into_iter()
                .filter(|k| old.get(k) != new.get(k))
                .map(str::to_owned)
                .collect(),
            format!(
                "delete it before syncing (`kubectl -n {ns} delete {} {name}`); pods that use it keep the old data until they restart",
                id.kind.to_lowercase()
            ),
        ),
        _ => return,
    };
    if !fields.is_empty() {
        out.push(ImmutableChange {
            object: id.clone(),
            fields,
            fix,
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::review::risk::{assess, snap};
    use std::collections::BTreeMap;

    fn found(kind_old: &str, kind_new: &str) -> Vec<String> {
        assess(
            &snap(&[("a.yaml", kind_old)]),
            &snap(&[("a.yaml", kind_new)]),
            &BTreeMap::new(),
        )
        .immutable
        .iter()
        .map(|c| format!("{} {}", c.object, c.fields.join(",")))
        .collect()
    }

    const JOB: &str = "kind: Job\nmetadata: {name: backfill, namespace: ds}\nspec: {backoffLimit: 2, template: {spec: {containers: [{name: c, resources: {requests: {cpu: '2'}}}]}}}\n";
    const STS: &str = "kind: StatefulSet\nmetadata: {name: s, namespace: t}\nspec: {replicas: 1, serviceName: s, selector: {matchLabels: {a: b}}, template: {spec: {containers: [{name: c, image: i}]}}}\n";

    #[test]
    fn a_jobs_pod_template_is_immutable_its_backoff_limit_is_not() {
        let cpu = JOB.replace("cpu: '2'", "cpu: '4'");
        assert_eq!(found(JOB, &cpu), ["ds Job/backfill spec.template"]);
        let r = assess(
            &snap(&[("a.yaml", JOB)]),
            &snap(&[("a.yaml", &cpu)]),
            &BTreeMap::new(),
        );
        assert!(
            r.immutable[0]
                .message()
                .contains("`kubectl -n ds delete job backfill`")
        );
        assert!(!r.is_empty());
        let backoff = JOB.replace("backoffLimit: 2", "backoffLimit: 3");
        assert!(found(JOB, &backoff).is_empty());
        assert!(found(JOB, JOB).is_empty());
        // A CronJob's job template may change: the next run uses it.
        let cron = |j: &str| {
            format!(
                "kind: CronJob\nmetadata: {{name: n, namespace: ds}}\nspec: {{schedule: '0 2 * * *', jobTemplate: {{spec: {{template: {{spec: {{containers: [{{name: c, image: {j}}}]}}}}}}}}}}\n"
            )
        };
        assert!(found(&cron("a"), &cron("b")).is_empty());
    }

    #[test]
    fn a_statefulsets_service_name_is_immutable_its_template_and_replicas_are_not() {
        let renamed = STS.replace("serviceName: s", "serviceName: s2");
        assert_eq!(found(STS, &renamed), ["t StatefulSet/s spec.serviceName"]);
        let image = STS
            .replace("image: i", "image: j")
            .replace("replicas: 1", "replicas: 0");
        assert!(found(STS, &image).is_empty());
    }

    #[test]
    fn selectors_role_refs_cluster_ips_and_immutable_config_maps() {
        let dep = |sel: &str| {
            format!(
                "kind: Deployment\nmetadata: {{name: d, namespace: t}}\nspec: {{selector: {{matchLabels: {{app: {sel}}}}}}}\n"
            )
        };
        assert_eq!(
            found(&dep("a"), &dep("b")),
            ["t Deployment/d spec.selector"]
        );
        let rb = |role: &str| {
            format!(
                "kind: RoleBinding\nmetadata: {{name: b, namespace: t}}\nroleRef: {{kind: Role, name: {role}}}\nsubjects: [{{kind: User, name: u}}]\n"
            )
        };
        assert_eq!(found(&rb("r"), &rb("r2")), ["t RoleBinding/b roleRef"]);
        let svc = |ip: &str, families: &str| {
            format!(
                "kind: Service\nmetadata: {{name: s, namespace: t}}\nspec: {{clusterIP: {ip}, ipFamilies: [{families}], ports: [{{port: 80}}]}}\n"
            )
        };
        assert_eq!(
            found(&svc("10.0.0.1", "IPv4"), &svc("10.0.0.2", "IPv6")),
            ["t Service/s spec.clusterIP,spec.ipFamilies"]
        );
        // A second family may be added.
        assert!(found(&svc("10.0.0.1", "IPv4"), &svc("10.0.0.1", "IPv4, IPv6")).is_empty());
        let cm = |immutable: bool, v: &str| {
            format!(
                "kind: ConfigMap\nmetadata: {{name: c, namespace: t}}\nimmutable: {immutable}\ndata: {{k: {v}}}\n"
            )
        };
        assert_eq!(
            found(&cm(true, "a"), &cm(true, "b")),
            ["t ConfigMap/c data"]
        );
        assert!(found(&cm(false, "a"), &cm(false, "b")).is_empty());
    }
}
