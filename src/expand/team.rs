//! Namespace-wide objects of a team: Namespace, ResourceQuota, RBAC, NetworkPolicies.

use super::{COMPONENT, NOTEBOOK_PORT, data_meta, labels, meta};
use crate::manifest::Object;
use crate::model::{Env, Team};
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The Role and RoleBinding that let a team's people work with their servers.
pub const USER_ROLE: &str = "notebook-user";

pub fn objects(env: &Env, team: &Team) -> Vec<Object> {
    let mut out = vec![namespace(env, team), Object::from(role(env, team))];
    out.extend(role_binding(env, team).map(Object::from));
    out.extend(quota(env, team).map(Object::from));
    out.extend(network_policies(env, team).into_iter().map(Object::from));
    out
}

fn namespace(env: &Env, team: &Team) -> Object {
    let mut l = labels(env, team);
    let version = format!("v{}", env.kubernetes_version);
    for mode in ["enforce", "audit", "warn"] {
        l.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            "restricted".to_owned(),
        );
        l.insert(
            format!("pod-security.kubernetes.io/{mode}-version"),
            version.clone(),
        );
    }
    Object::from(Namespace {
        metadata: data_meta(&team.namespace, None, l),
        ..Namespace::default()
    })
}

fn quota(env: &Env, team: &Team) -> Option<ResourceQuota> {
    let q = team.quota.as_ref()?;
    let mut hard = BTreeMap::new();
    if let Some(cpu) = &q.cpu {
        hard.insert("cpu".to_owned(), Quantity(cpu.text.clone()));
    }
    if let Some(memory) = &q.memory {
        hard.insert("memory".to_owned(), Quantity(memory.text.clone()));
    }
    for (resource, cap) in &q.gpu {
        hard.insert(format!("requests.{resource}"), Quantity(cap.to_string()));
    }
    Some(ResourceQuota {
        metadata: meta("notebooks", Some(&team.namespace), labels(env, team)),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    })
}

/// Least privilege: see and debug the team's pods, restart and scale its own servers, read its
/// claims and services. No wildcards, no Secrets, nothing cluster-wide.
fn role(env: &Env, team: &Team) -> Role {
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str], names: Option<Vec<String>>| {
        PolicyRule {
            api_groups: Some(groups.iter().map(|s| (*s).to_owned()).collect()),
            resources: Some(resources.iter().map(|s| (*s).to_owned()).collect()),
            verbs: verbs.iter().map(|s| (*s).to_owned()).collect(),
            resource_names: names,
            ..PolicyRule::default()
        }
    };
    let servers: Vec<String> = team.servers.iter().map(|s| s.name.clone()).collect();
    let read = ["get", "list", "watch"];
    let mut rules = vec![
        rule(
            &[""],
            &[
                "events",
                "persistentvolumeclaims",
                "pods",
                "pods/log",
                "services",
            ],
            &read,
            None,
        ),
        rule(&["apps"], &["deployments", "replicasets"], &read, None),
    ];
    if !servers.is_empty() {
        rules.push(rule(&[""], &["pods/exec"], &["create", "get"], None));
        // `kubectl rollout restart` patches the Deployment; `kubectl scale` updates its scale.
        rules.push(rule(
            &["apps"],
            &["deployments", "deployments/scale"],
            &["get", "patch", "update"],
            Some(servers),
        ));
    }
    // Jobs: see them and their runs; delete a one-off Job so that Argo CD creates it again (a
    // re-run). Creating Jobs stays with the spec: a hand-made Job could mount any claim here.
    let jobs: Vec<&crate::model::Job> = env.jobs.iter().filter(|j| j.team == team.name).collect();
    if !jobs.is_empty() {
        rules.push(rule(&["batch"], &["cronjobs", "jobs"], &read, None));
        let one_off: Vec<String> = jobs
            .iter()
            .filter(|j| j.schedule.is_none())
            .map(|j| j.name.clone())
            .collect();
        if !one_off.is_empty() {
            rules.push(rule(&["batch"], &["jobs"], &["delete"], Some(one_off)));
        }
    }
    Role {
        metadata: meta(USER_ROLE, Some(&team.namespace), labels(env, team)),
        rules: Some(rules),
    }
}

fn role_binding(env: &Env, team: &Team) -> Option<RoleBinding> {
    let subject = |kind: &str, name: &str| Subject {
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace: None,
    };
    let subjects: Vec<Subject> = team
        .groups
        .iter()
        .map(|g| subject("Group", g))
        .chain(team.members.iter().map(|m| subject("User", m)))
        .collect();
    if subjects.is_empty() {
        return None;
    }
    Some(RoleBinding {
        metadata: meta(USER_ROLE, Some(&team.namespace), labels(env, team)),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: USER_ROLE.to_owned(),
        },
        subjects: Some(subjects),
    })
}

/// Default-deny ingress for the namespace, then allow the notebook port to notebook pods.
fn network_policies(env: &Env, team: &Team) -> Vec<NetworkPolicy> {
    let deny = NetworkPolicy {
        metadata: meta(
            "default-deny-ingress",
            Some(&team.namespace),
            labels(env, team),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ..NetworkPolicySpec::default()
        }),
    };
    let allow = NetworkPolicy {
        metadata: meta(
            "allow-notebook-http",
            Some(&team.namespace),
            labels(env, team),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    COMPONENT.to_owned(),
                    "notebook".to_owned(),
                )])),
                ..LabelSelector::default()
            }),
            ingress: Some(vec![NetworkPolicyIngressRule {
                ports: Some(vec![NetworkPolicyPort {
                    protocol: Some("TCP".to_owned()),
                    port: Some(IntOrString::Int(NOTEBOOK_PORT)),
                    ..NetworkPolicyPort::default()
                }]),
                ..NetworkPolicyIngressRule::default()
            }]),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ..NetworkPolicySpec::default()
        }),
    };
    vec![deny, allow]
}
