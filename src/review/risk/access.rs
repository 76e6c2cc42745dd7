//! Access to shared data: a namespace whose pods newly mount a shared volume (a claim that is
//! not a server's own home, or an NFS share), or mount it read-write where they only read it,
//! and a PersistentVolume handed to another claim. Computed per namespace over every workload,
//! so a second server mounting what the team already mounts is no new access; narrowing is no
//! risk.

use super::{Same, pod_spec};
use crate::model::names::{self, SERVER};
use crate::object::ObjectId;
use crate::review::snapshot::Snapshot;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How a namespace reaches a volume. Serialized as in JSON reports (`bound`, `read-only`,
/// `read-write`); ordered by how much it allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// A claim of the namespace is bound to the volume (a PersistentVolume's claimRef).
    Bound,
    ReadOnly,
    ReadWrite,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Bound => "a claim bound to",
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        }
    }
}

/// A namespace that gains access to shared data, or more of it.
#[derive(Clone, Debug, Serialize)]
pub struct AccessChange {
    pub namespace: String,
    /// `PersistentVolumeClaim models`, `NFS 10.20.0.5:/exports/models`,
    /// `PersistentVolume prod-mlops-models`.
    pub volume: String,
    /// `None`: no access before.
    pub before: Option<Access>,
    pub after: Access,
    /// The workloads (or the PersistentVolume) that give the new access.
    pub through: Vec<ObjectId>,
}

impl AccessChange {
    pub fn message(&self) -> String {
        self.message_with(str::to_owned)
    }

    /// The message with each name passed through `q` (a Markdown code span).
    pub fn message_with(&self, q: impl Fn(&str) -> String) -> String {
        let through: Vec<String> = self.through.iter().map(|t| q(&t.to_string())).collect();
        let was = match self.before {
            Some(b) => format!(" (was {})", b.as_str()),
            None => String::new(),
        };
        let (ns, volume, through) = (q(&self.namespace), q(&self.volume), through.join(", "));
        let (what, who) = match self.after {
            Access::Bound => (
                format!("namespace {ns} gains a claim bound to {volume}{was}, through {through}"),
                "the volume's data now belongs to that namespace; if it should not, give the volume back its claim",
            ),
            a => (
                format!(
                    "namespace {ns} gains {} access to {volume}{was}, through {through}",
                    a.as_str()
                ),
                if a == Access::ReadWrite {
                    "every member of the team can now change or delete this data; if they should not, remove the mount or make it readOnly in the role's mounts"
                } else {
                    "every member of the team can now read this data; if they should not, remove the mount from the role's mounts"
                },
            ),
        };
        format!("{what}: {who}")
    }
}

/// (namespace, volume) → the widest access and the workloads that give it.
pub(super) type Mounts = BTreeMap<(String, String), (Access, BTreeSet<ObjectId>)>;

/// Add the shared volumes a workload mounts (any other object adds nothing).
pub(super) fn add_mounts(id: &ObjectId, value: &Value, out: &mut Mounts) {
    let (Some(ns), Some(spec)) = (&id.namespace, pod_spec(&id.kind, value)) else {
        return;
    };
    // A server's own home (`<server>-home`, or a StatefulSet's claim templates) is not shared.
    let mut own: BTreeSet<String> = value
        .pointer("/metadata/labels")
        .and_then(|l| l.get(SERVER))
        .and_then(Value::as_str)
        .map(names::home_claim)
        .into_iter()
        .collect();
    let templates = value
        .pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array);
    own.extend(
        templates
            .into_iter()
            .flatten()
            .filter_map(|t| t.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_owned),
    );
    // Each pod volume's mounts: read-write if any container mounts it without readOnly.
    let mut mounted: BTreeMap<&str, bool> = BTreeMap::new();
    for c in super::containers(spec) {
        for m in c
            .get("volumeMounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = m.get("name").and_then(Value::as_str) else {
                continue;
            };
            let writes = m.get("readOnly") != Some(&Value::Bool(true));
            *mounted.entry(name).or_default() |= writes;
        }
    }
    for v in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(writes) = v
            .get("name")
            .and_then(Value::as_str)
            .and_then(|n| mounted.get(n))
        else {
            continue;
        };
        let (volume, source) = if let Some(pvc) = v.get("persistentVolumeClaim") {
            let claim = pvc.get("claimName").and_then(Value::as_str).unwrap_or("?");
            if own.contains(claim) {
                continue;
            }
            (format!("PersistentVolumeClaim {claim}"), pvc)
        } else if let Some(nfs) = v.get("nfs") {
            let text = |k: &str| nfs.get(k).and_then(Value::as_str).unwrap_or("?");
            (format!("NFS {}:{}", text("server"), text("path")), nfs)
        } else {
            continue;
        };
        let read_only = source.get("readOnly") == Some(&Value::Bool(true));
        let access = if *writes && !read_only {
            Access::ReadWrite
        } else {
            Access::ReadOnly
        };
        let entry = out
            .entry((ns.clone(), volume))
            .or_insert((access, BTreeSet::new()));
        if access > entry.0 {
            *entry = (access, BTreeSet::new());
        }
        if access == entry.0 {
            entry.1.insert(id.clone());
        }
    }
}

/// Merge `other` into `into`, keeping the widest access.
pub(super) fn merge(into: &mut Mounts, other: Mounts) {
    for (key, (access, ids)) in other {
        let entry = into.entry(key).or_insert((access, BTreeSet::new()));
        if access > entry.0 {
            *entry = (access, ids);
        } else if access == entry.0 {
            entry.1.extend(ids);
        }
    }
}

/// Namespaces that mount a shared volume they did not, or read-write where they read only.
pub(super) fn mounts(old: &Snapshot, new: &Snapshot, same: &Same) -> Vec<AccessChange> {
    let side = |snap: &Snapshot| {
        let mut m = same.mounts.clone();
        let mut changed = Mounts::new();
        for (id, f) in &snap.objects {
            add_mounts(id, &f.value, &mut changed);
        }
        merge(&mut m, changed);
        m
    };
    let (o, n) = (side(old), side(new));
    let mut out = Vec::new();
    for ((namespace, volume), (after, through)) in n {
        let before = o.get(&(namespace.clone(), volume.clone())).map(|(a, _)| *a);
        if before.is_some_and(|b| b >= after) {
            continue;
        }
        out.push(AccessChange {
            namespace,
            volume,
            before,
            after,
            through: through.into_iter().collect(),
        });
    }
    out
}

/// A PersistentVolume whose claimRef names another claim: its data goes to that claim's
/// namespace.
pub(super) fn claim_ref(id: &ObjectId, old: &Value, new: &Value, out: &mut Vec<AccessChange>) {
    let claim = |v: &Value| {
        let r = v.pointer("/spec/claimRef")?;
        let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
        Some((text("namespace")?, text("name")?))
    };
    let (before, after) = (claim(old), claim(new));
    let Some((namespace, name)) = after else {
        return;
    };
    if before.as_ref() == Some(&(namespace.clone(), name.clone())) {
        return;
    }
    out.push(AccessChange {
        volume: format!("PersistentVolume {} (claim {name})", id.name),
        before: before
            .filter(|(ns, _)| *ns == namespace)
            .map(|_| Access::Bound),
        namespace,
        after: Access::Bound,
        through: vec![id.clone()],
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::risk::{assess, snap};
    use std::collections::BTreeMap;

    /// A server of team `t` mounting each (claim, readOnly) given.
    fn server(name: &str, claims: &[(&str, bool)]) -> String {
        let mut volumes =
            format!("{{name: home, persistentVolumeClaim: {{claimName: {name}-home}}}}");
        let mut mounts = "{name: home, mountPath: /home/jovyan}".to_owned();
        for (claim, ro) in claims {
            volumes.push_str(&format!(
                ", {{name: data-{claim}, persistentVolumeClaim: {{claimName: {claim}, readOnly: {ro}}}}}"
            ));
            mounts.push_str(&format!(
                ", {{name: data-{claim}, mountPath: /data/{claim}, readOnly: {ro}}}"
            ));
        }
        format!(
            "kind: StatefulSet\nmetadata: {{name: {name}, namespace: t, labels: {{nbgen.io/server: {name}}}}}\nspec: {{template: {{spec: {{containers: [{{name: c, volumeMounts: [{mounts}]}}], volumes: [{volumes}]}}}}}}\n"
        )
    }

    fn changes(old: &[(&str, String)], new: &[(&str, String)]) -> Vec<String> {
        fn refs<'a>(f: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
            f.iter().map(|(a, b)| (*a, b.as_str())).collect()
        }
        assess(&snap(&refs(old)), &snap(&refs(new)), &BTreeMap::new())
            .access
            .iter()
            .map(AccessChange::message)
            .collect()
    }

    #[test]
    fn a_new_mount_of_a_shared_claim_is_new_access() {
        let r = changes(
            &[("a.yaml", server("a", &[]))],
            &[("a.yaml", server("a", &[("models", true)]))],
        );
        assert_eq!(
            r,
            [
                "namespace t gains read-only access to PersistentVolumeClaim models, through t StatefulSet/a: every member of the team can now read this data; if they should not, remove the mount from the role's mounts"
            ]
        );
    }

    #[test]
    fn read_only_to_read_write_is_widening() {
        let r = changes(
            &[("a.yaml", server("a", &[("models", true)]))],
            &[("a.yaml", server("a", &[("models", false)]))],
        );
        assert_eq!(r.len(), 1);
        assert!(r[0].starts_with("namespace t gains read-write access to PersistentVolumeClaim models (was read-only)"), "{r:?}");
    }

    #[test]
    fn narrowing_unchanged_and_a_second_mount_in_the_team_are_no_risk() {
        let rw = server("a", &[("models", false)]);
        let ro = server("a", &[("models", true)]);
        assert!(changes(&[("a.yaml", rw.clone())], &[("a.yaml", ro.clone())]).is_empty());
        assert!(changes(&[("a.yaml", ro.clone())], &[("a.yaml", ro.clone())]).is_empty());
        // b mounts what a, in the same namespace, already mounts: the team had that access.
        let r = changes(
            &[("a.yaml", rw.clone())],
            &[
                ("a.yaml", rw),
                ("b.yaml", server("b", &[("models", false)])),
            ],
        );
        assert!(r.is_empty(), "{r:?}");
        // A server's own home claim is not shared data.
        assert!(changes(&[], &[("a.yaml", server("a", &[]))]).is_empty());
    }

    #[test]
    fn a_volume_bound_to_another_claim_is_new_access() {
        let pv = |ns: &str| {
            format!(
                "kind: PersistentVolume\nmetadata: {{name: v}}\nspec: {{claimRef: {{namespace: {ns}, name: data}}, nfs: {{server: s, path: /p}}}}\n"
            )
        };
        let r = changes(&[("v.yaml", pv("a"))], &[("v.yaml", pv("b"))]);
        assert_eq!(r.len(), 1);
        assert!(r[0].starts_with("namespace b gains a claim bound to PersistentVolume v (claim data), through PersistentVolume/v"), "{r:?}");
        assert!(changes(&[("v.yaml", pv("a"))], &[("v.yaml", pv("a"))]).is_empty());
    }
}
