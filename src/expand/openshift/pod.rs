//! Pods as OpenShift's restricted SCCs admit them unchanged. Pure.
//!
//! From the pod pieces every target shares (`expand::pod`), this removes what the SCC assigns
//! itself — `runAsUser`, `runAsGroup`, `fsGroup` — and keeps the rest of the restricted profile
//! (non-root, no privilege escalation, every capability dropped, RuntimeDefault seccomp, a
//! read-only root). restricted-v2 gives the pod the first UID and fsGroup of the namespace's
//! block; restricted-v3 (OpenShift 4.20+) requires `hostUsers: false` and gives a UID of
//! 1000-65534 inside the pod's user namespace. restricted-v2 admits `hostUsers: false` too
//! (`userNamespaceLevel` unset is AllowHostLevel), but would run the pod with a UID of the
//! namespace's block, above the 65,536 IDs a user namespace maps, and so the pod asks for
//! restricted-v3 by name (`openshift.io/required-scc`). The group is the image's: 0 for a UID
//! with no passwd entry, which is why images must keep their writable paths group-0 writable
//! (docs/openshift.md).

use crate::object::Object;
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The pod annotation that names the one SCC admission may use for the pod.
pub const REQUIRED_SCC: &str = "openshift.io/required-scc";
/// The SCC whose UID range fits a user namespace.
pub const SCC: &str = "restricted-v3";

/// Make the pod template of a workload (StatefulSet, Job, CronJob) OpenShift's; other objects
/// are left as they are.
pub fn restrict(o: &mut Object) {
    let template = match o {
        Object::StatefulSet(s) => s.spec.as_mut().map(|s| &mut s.template),
        Object::Job(j) => j.spec.as_mut().map(|s| &mut s.template),
        Object::CronJob(c) => c
            .spec
            .as_mut()
            .and_then(|s| s.job_template.spec.as_mut())
            .map(|s| &mut s.template),
        _ => None,
    };
    if let Some(t) = template {
        restrict_template(t);
    }
}

pub fn restrict_template(t: &mut PodTemplateSpec) {
    t.metadata
        .get_or_insert_with(ObjectMeta::default)
        .annotations
        .get_or_insert_with(Default::default)
        .insert(REQUIRED_SCC.to_owned(), SCC.to_owned());
    if let Some(spec) = t.spec.as_mut() {
        restrict_spec(spec);
    }
}

pub fn restrict_spec(spec: &mut PodSpec) {
    spec.host_users = Some(false);
    if let Some(sc) = spec.security_context.as_mut() {
        sc.run_as_user = None;
        sc.run_as_group = None;
        sc.fs_group = None;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSecurityContext, SecurityContext};

    #[test]
    fn leaves_the_ids_to_the_scc_and_keeps_the_restricted_profile() {
        let mut spec = PodSpec {
            containers: vec![Container {
                security_context: Some(SecurityContext {
                    run_as_user: Some(1000),
                    run_as_group: Some(100),
                    run_as_non_root: Some(true),
                    allow_privilege_escalation: Some(false),
                    ..SecurityContext::default()
                }),
                ..Container::default()
            }],
            security_context: Some(PodSecurityContext {
                run_as_user: Some(1000),
                run_as_group: Some(100),
                fs_group: Some(100),
                run_as_non_root: Some(true),
                ..PodSecurityContext::default()
            }),
            ..PodSpec::default()
        };
        restrict_spec(&mut spec);
        let pod = spec.security_context.as_ref().unwrap();
        assert_eq!(
            (pod.run_as_user, pod.run_as_group, pod.fs_group),
            (None, None, None)
        );
        assert_eq!(pod.run_as_non_root, Some(true));
        let c = spec.containers[0].security_context.as_ref().unwrap();
        assert_eq!((c.run_as_user, c.run_as_group), (None, None));
        assert_eq!(
            (c.run_as_non_root, c.allow_privilege_escalation),
            (Some(true), Some(false))
        );
        assert_eq!(spec.host_users, Some(false));
    }
}
