//! One Profile namespace's own objects: the Namespace, the Profile, and each contributor's
//! RoleBinding and AuthorizationPolicy. Pure.
//!
//! The Namespace is rendered exactly as kubeflow/dashboard's profile controller sets it (its
//! `owner` annotation, `istio-injection: enabled`, and the labels of Kubeflow 1.10's
//! namespace-labels.yaml), so the controller adopts it — it refuses a namespace whose `owner`
//! is not the Profile's — and finds nothing to change: it only adds labels that are missing, and
//! Argo CD leaves alone what it did not write. Rendering it keeps Argo CD's order (namespaces
//! first), nbgen's restricted Pod Security labels (the controller would add `baseline` only when
//! none is set) and the namespace's data out of reach of a deleted Profile (the controller puts
//! an owner reference only on a namespace it creates).

use super::Space;
use crate::expand::kubernetes::team::{pod_security, quota_hard, subject};
use crate::expand::{data_meta, labels, meta};
use crate::model::names::{self, PART_OF};
use crate::model::{Env, Team};
use crate::object::Object;
use crate::object::kubeflow::{
    AuthorizationPolicy, AuthorizationPolicySpec, Condition, Profile, ProfileSpec, Rule, RuleFrom,
    Source,
};
use k8s_openapi::api::core::v1::{Namespace, ResourceQuotaSpec};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef};
use std::collections::BTreeMap;

/// What Kubeflow's profile controller writes on a Profile's namespace (profile_controller.go):
/// the owner annotation, the sidecar injection label, and the defaults of Kubeflow 1.10's
/// `namespace-labels.yaml` (the PodDefault webhook and Kubeflow's own NetworkPolicies select
/// namespaces by `app.kubernetes.io/part-of: kubeflow-profile`).
pub const OWNER_ANNOTATION: &str = "owner";
const PROFILE_LABELS: [(&str, &str); 5] = [
    ("istio-injection", "enabled"),
    ("katib.kubeflow.org/metrics-collector-injection", "enabled"),
    ("serving.kubeflow.org/inferenceservice", "enabled"),
    ("pipelines.kubeflow.org/enabled", "true"),
    (PART_OF, "kubeflow-profile"),
];

/// The ClusterRole a contributor is bound to, and KFAM's short name for it (its `role`).
const CONTRIBUTOR_ROLE: (&str, &str) = ("kubeflow-edit", "edit");
/// The header Kubeflow's gateway puts the authenticated user in, and the identity of the
/// gateway and of the Pipelines UI, which KFAM lets through with it (kfam/bindings.go).
pub const USERID_HEADER: &str = "kubeflow-userid";
pub const GATEWAY_PRINCIPAL: &str =
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
const PIPELINES_UI_PRINCIPAL: &str = "cluster.local/ns/kubeflow/sa/ml-pipeline-ui";

pub fn objects(env: &Env, team: &Team, space: &Space) -> Vec<Object> {
    let mut out = vec![
        Object::from(namespace(env, team, space)),
        Object::from(profile(env, team, space)),
    ];
    for c in &space.contributors {
        out.push(Object::from(binding(env, team, space, c)));
        out.push(Object::from(authorization_policy(env, team, space, c)));
    }
    out
}

fn namespace(env: &Env, team: &Team, space: &Space) -> Namespace {
    let mut l = labels(env, team);
    l.extend(pod_security(env));
    for (k, v) in PROFILE_LABELS {
        l.insert(k.to_owned(), v.to_owned());
    }
    let mut metadata = data_meta(&space.namespace, None, l);
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(OWNER_ANNOTATION.to_owned(), space.owner.to_owned());
    Namespace {
        metadata,
        ..Namespace::default()
    }
}

/// Deleting a Profile deletes what its controller made in the namespace (and a namespace it
/// made): Argo CD may never prune or delete one, as for a Namespace.
fn profile(env: &Env, team: &Team, space: &Space) -> Profile {
    Profile {
        metadata: data_meta(&space.namespace, None, labels(env, team)),
        spec: ProfileSpec {
            owner: subject("User", space.owner),
            resource_quota_spec: team.quota.as_ref().map(|q| ResourceQuotaSpec {
                hard: Some(quota_hard(q)),
                ..ResourceQuotaSpec::default()
            }),
        },
    }
}

/// KFAM's annotations on a contributor's objects.
fn kfam_annotations(user: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("role".to_owned(), CONTRIBUTOR_ROLE.1.to_owned()),
        ("user".to_owned(), user.to_owned()),
    ])
}

fn binding(env: &Env, team: &Team, space: &Space, user: &str) -> RoleBinding {
    let name = names::kfam_binding(user, CONTRIBUTOR_ROLE.1);
    let mut metadata = meta(&name, Some(&space.namespace), labels(env, team));
    metadata.annotations = Some(kfam_annotations(user));
    RoleBinding {
        metadata,
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: CONTRIBUTOR_ROLE.0.to_owned(),
        },
        subjects: Some(vec![subject("User", user)]),
    }
}

/// Lets the contributor's requests through the namespace's sidecars: those the gateway (or the
/// Pipelines UI) forwards with the contributor in the user-id header, as KFAM writes it.
fn authorization_policy(env: &Env, team: &Team, space: &Space, user: &str) -> AuthorizationPolicy {
    let name = names::kfam_binding(user, CONTRIBUTOR_ROLE.1);
    let mut metadata = meta(&name, Some(&space.namespace), labels(env, team));
    metadata.annotations = Some(kfam_annotations(user));
    AuthorizationPolicy {
        metadata,
        spec: AuthorizationPolicySpec {
            rules: vec![Rule {
                from: vec![RuleFrom {
                    source: Source {
                        principals: vec![
                            GATEWAY_PRINCIPAL.to_owned(),
                            PIPELINES_UI_PRINCIPAL.to_owned(),
                        ],
                    },
                }],
                when: vec![Condition {
                    key: format!("request.headers[{USERID_HEADER}]"),
                    values: vec![user.to_owned()],
                }],
            }],
        },
    }
}
