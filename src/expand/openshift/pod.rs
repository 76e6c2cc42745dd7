//! Pods as OpenShift's restricted SCCs admit them unchanged. Pure.
//!
//! From the pod pieces every target shares (`expand::pod`), this removes what the SCC assigns
//! itself — `runAsUser`, `runAsGroup`, `fsGroup` — and keeps the rest of the restricted profile
//! (non-root, no privilege escalation, every capability dropped, RuntimeDefault seccomp, a
//! read-only root). The group is the image's: 0 for a UID with no passwd entry, which is why
//! images must keep their writable paths group-0 writable (docs/openshift.md).
//!
//! Which SCC, by the volumes the pod mounts (`Pin`):
//! - **restricted-v3** (OpenShift 4.20+), the default: `hostUsers: false`, a UID of 1000-65534
//!   inside the pod's user namespace. restricted-v2 admits `hostUsers: false` too
//!   (`userNamespaceLevel` unset is AllowHostLevel) but would run the pod with a UID of the
//!   namespace's block, above the 65,536 IDs a user namespace maps, so the pod asks for v3 by
//!   name (`openshift.io/required-scc`).
//! - **restricted-v2** for a pod that mounts an NFS-backed shared volume: in a user namespace
//!   every volume is an ID-mapped mount, which NFS does not support, so such a pod gets no
//!   `hostUsers` and v2's UID from the namespace's block. fsGroup does not reach NFS; the export's
//!   group (`expand::pod::NFS_GROUP`) is added as a supplemental group, which v2 leaves to the pod
//!   (`supplementalGroups: RunAsAny`).
//!
//! Never pins the UID: the SCC assigns it either way.

use crate::expand::pod::NFS_GROUP;
use crate::model::{Env, VolumeBackend, names};
use crate::object::Object;
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The pod annotation that names the one SCC admission may use for the pod.
pub const REQUIRED_SCC: &str = "openshift.io/required-scc";

/// The SCC a pod is pinned to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// In a user namespace: every pod that mounts no NFS.
    V3,
    /// Without a user namespace: a pod that mounts an NFS-backed volume.
    V2,
}

impl Pin {
    pub fn scc(self) -> &'static str {
        match self {
            Pin::V3 => "restricted-v3",
            Pin::V2 => "restricted-v2",
        }
    }
}

/// Make the pod template of a workload (StatefulSet, Job, CronJob) OpenShift's; other objects
/// are left as they are.
pub fn restrict(env: &Env, o: &mut Object) {
    if let Some(t) = o.pod_template_mut() {
        restrict_template(env, t);
    }
}

pub fn restrict_template(env: &Env, t: &mut PodTemplateSpec) {
    let pin = t
        .spec
        .as_mut()
        .map_or(Pin::V3, |spec| restrict_spec(env, spec));
    t.metadata
        .get_or_insert_with(ObjectMeta::default)
        .annotations
        .get_or_insert_with(Default::default)
        .insert(REQUIRED_SCC.to_owned(), pin.scc().to_owned());
}

/// Whether the pod mounts a claim of an NFS-backed shared volume (the pod volume
/// `names::pod_volume(v)` claiming `v`, as `expand::pod` builds it).
fn mounts_nfs(env: &Env, spec: &PodSpec) -> bool {
    spec.volumes.iter().flatten().any(|v| {
        v.persistent_volume_claim.as_ref().is_some_and(|c| {
            v.name == names::pod_volume(&c.claim_name)
                && env
                    .volumes
                    .get(&c.claim_name)
                    .is_some_and(|vol| matches!(vol.backend, VolumeBackend::Nfs { .. }))
        })
    })
}

/// Remove the IDs the SCC assigns and set what the pod's SCC needs; returns that SCC.
pub fn restrict_spec(env: &Env, spec: &mut PodSpec) -> Pin {
    let pin = if mounts_nfs(env, spec) {
        Pin::V2
    } else {
        Pin::V3
    };
    spec.host_users = match pin {
        Pin::V3 => Some(false),
        Pin::V2 => None,
    };
    if let Some(sc) = spec.security_context.as_mut() {
        sc.run_as_user = None;
        sc.run_as_group = None;
        sc.fs_group = None;
        if pin == Pin::V2 {
            sc.supplemental_groups = Some(vec![NFS_GROUP]);
        }
    }
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        if let Some(sc) = c.security_context.as_mut() {
            sc.run_as_user = None;
            sc.run_as_group = None;
        }
    }
    pin
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;
    use k8s_openapi::api::core::v1::PodSecurityContext;
    use std::collections::BTreeMap;

    /// One team, two roles: `nfs` mounts an NFS export, `block` a storageClass volume.
    const SPEC: &str = "\
apiVersion: nbgen.io/v1alpha1
kind: Environment
name: t
cluster: {target: openshift, kubernetesVersion: \"1.33\", storageClass: gp3-csi}
images: {scipy: {image: quay.io/jupyter/scipy-notebook:2025-03-17}}
storage:
  shared: {size: 1Gi, nfs: {server: nfs.example.com, path: /exports/shared}}
  scratch: {size: 1Gi, storageClass: gp3-csi}
roles:
  nfs: {image: scipy, cpu: \"1\", memory: 2Gi, mounts: {shared: readWrite}}
  block: {image: scipy, cpu: \"1\", memory: 2Gi, mounts: {scratch: readWrite}}
teams:
  a: {members: [alice@example.com], roles: [nfs, block]}
jobs:
  report: {team: a, role: nfs, notebook: /data/shared/r.ipynb, outputDir: /data/shared/runs}
";

    fn pods() -> BTreeMap<String, (Option<String>, PodSpec)> {
        let src = SourceFile::new("t.yaml", SPEC);
        let r = crate::pipeline::render(&src, "t", &BTreeMap::new()).expect("the spec renders");
        let mut out = BTreeMap::new();
        for o in super::super::team_objects(&r.env, &r.env.teams[0]) {
            let (name, t) = match o {
                Object::StatefulSet(s) => (s.metadata.name.unwrap(), s.spec.unwrap().template),
                Object::Job(j) => (j.metadata.name.unwrap(), j.spec.unwrap().template),
                _ => continue,
            };
            let pin = t
                .metadata
                .and_then(|m| m.annotations)
                .and_then(|a| a.get(REQUIRED_SCC).cloned());
            out.insert(name, (pin, t.spec.unwrap()));
        }
        out
    }

    fn pod_ids(spec: &PodSpec) -> &PodSecurityContext {
        spec.security_context.as_ref().unwrap()
    }

    #[test]
    fn a_pod_without_nfs_runs_in_a_user_namespace_under_restricted_v3() {
        let pods = pods();
        let (pin, spec) = &pods["block"];
        assert_eq!(pin.as_deref(), Some("restricted-v3"));
        assert_eq!(spec.host_users, Some(false));
        let sc = pod_ids(spec);
        assert_eq!(
            (sc.run_as_user, sc.run_as_group, sc.fs_group),
            (None, None, None)
        );
        assert_eq!(sc.supplemental_groups, None);
    }

    #[test]
    fn a_pod_that_mounts_nfs_runs_without_a_user_namespace_under_restricted_v2() {
        let pods = pods();
        for name in ["nfs", "report"] {
            let (pin, spec) = &pods[name];
            assert_eq!(pin.as_deref(), Some("restricted-v2"), "{name}");
            assert_eq!(spec.host_users, None, "{name}");
            let sc = pod_ids(spec);
            assert_eq!(
                (sc.run_as_user, sc.run_as_group, sc.fs_group),
                (None, None, None),
                "{name}"
            );
            assert_eq!(sc.supplemental_groups, Some(vec![NFS_GROUP]), "{name}");
            assert_eq!(sc.run_as_non_root, Some(true), "{name}");
            let c = spec.containers[0].security_context.as_ref().unwrap();
            assert_eq!((c.run_as_user, c.run_as_group), (None, None), "{name}");
            assert_eq!(
                (
                    c.run_as_non_root,
                    c.allow_privilege_escalation,
                    c.read_only_root_filesystem
                ),
                (Some(true), Some(false), Some(true)),
                "{name}"
            );
        }
    }
}
