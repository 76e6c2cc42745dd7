//! The environment's admission policy: notebook servers run 0 or 1 replicas. Pure.
//!
//! Members may stop and start their own servers through the StatefulSet's scale subresource
//! (docs/security.md), and RBAC cannot limit the value they write: this ValidatingAdmissionPolicy
//! (GA in Kubernetes 1.30) refuses any other count, so nobody can start a second copy of a GPU
//! server past the reviewed spec. It is the environment's only object outside the teams.

use crate::model::Env;
use crate::model::names::{self, MANAGED_BY, NBGEN, PART_OF};
use crate::object::Object;
use k8s_openapi::api::admissionregistration::v1::{
    MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
    ValidatingAdmissionPolicySpec, Validation,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

pub fn objects(env: &Env) -> Vec<Object> {
    let name = names::admission_policy(&env.name);
    let labels = BTreeMap::from([
        (MANAGED_BY.to_owned(), NBGEN.to_owned()),
        (PART_OF.to_owned(), env.name.clone()),
    ]);
    let meta = ObjectMeta {
        name: Some(name.clone()),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    let policy = ValidatingAdmissionPolicy {
        metadata: meta.clone(),
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".to_owned()),
            match_constraints: Some(MatchResources {
                // The environment's namespaces, by the labels nbgen puts on each.
                namespace_selector: Some(LabelSelector {
                    match_labels: Some(labels),
                    ..LabelSelector::default()
                }),
                resource_rules: Some(vec![NamedRuleWithOperations {
                    api_groups: Some(vec!["apps".to_owned()]),
                    api_versions: Some(vec!["v1".to_owned()]),
                    operations: Some(vec!["CREATE".to_owned(), "UPDATE".to_owned()]),
                    resources: Some(vec![
                        "statefulsets".to_owned(),
                        "statefulsets/scale".to_owned(),
                    ]),
                    ..NamedRuleWithOperations::default()
                }]),
                ..MatchResources::default()
            }),
            validations: Some(vec![Validation {
                // A Scale of 0 replicas omits the field (omitempty): absent means 0.
                expression: "!has(object.spec) || !has(object.spec.replicas) || object.spec.replicas <= 1".to_owned(),
                message: Some(
                    "a notebook server runs 0 or 1 replicas: stop it with `kubectl scale statefulset <server> --replicas=0`, start it with --replicas=1".to_owned(),
                ),
                reason: Some("Invalid".to_owned()),
                ..Validation::default()
            }]),
            ..ValidatingAdmissionPolicySpec::default()
        }),
        ..ValidatingAdmissionPolicy::default()
    };
    let binding = ValidatingAdmissionPolicyBinding {
        metadata: meta,
        spec: Some(ValidatingAdmissionPolicyBindingSpec {
            policy_name: Some(name),
            validation_actions: Some(vec!["Deny".to_owned()]),
            ..ValidatingAdmissionPolicyBindingSpec::default()
        }),
    };
    vec![Object::from(policy), Object::from(binding)]
}
