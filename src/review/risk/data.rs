//! Data at risk: a PersistentVolume, PersistentVolumeClaim or Namespace removed, resized, its
//! reclaim policy changed, or an immutable field of a volume or claim changed.

use super::{changed_keys, parse_bytes};
use crate::model::names::SYNC_OPTIONS;
use crate::object::ObjectId;
use serde::Serialize;
use serde_json::Value;

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

pub(super) fn data(
    id: &ObjectId,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<DataRisk>,
) {
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
                "immutable field{} {} changed: the API server refuses the update and Argo CD's sync fails; {}",
                if changed.len() == 1 { "" } else { "s" },
                changed.join(", "),
                if id.kind == "PersistentVolume" {
                    "delete the volume (reclaim policy Retain keeps the data on the storage), sync, and check that its claim is Bound again"
                } else {
                    "a claim cannot be recreated without risking its data: make a claim under a new name, copy the data over, then remove this one"
                }
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::risk::{assess, snap};
    use std::collections::BTreeMap;

    const PVC: &str = "kind: PersistentVolumeClaim\nmetadata: {name: models, namespace: mlops, annotations: {argocd.argoproj.io/sync-options: 'Prune=false,Delete=false'}}\nspec: {accessModes: [ReadOnlyMany], resources: {requests: {storage: 100Gi}}}\n";

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
}
