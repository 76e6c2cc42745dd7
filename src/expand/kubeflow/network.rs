//! A Profile namespace's NetworkPolicies: the plain target's closed default (deny all, DNS, the
//! declared egress), with the notebook port open to Kubeflow's Istio ingress gateway and to the
//! notebook controller's culler, and the sidecars' way to istiod. Pure.

use super::Space;
use crate::expand::kubernetes::team::{closed, pods_of, policy, selector, tcp};
use crate::model::names::COMPONENT;
use crate::model::{Env, Peer, Team};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicySpec};
use std::collections::BTreeMap;

/// istiod's port for configuration (xDS) and certificates, which every sidecar dials.
pub const ISTIOD_PORT: i32 = 15012;

fn peer(namespace: &str, labels: &[(&str, &str)]) -> Peer {
    Peer {
        namespace: namespace.to_owned(),
        pod_selector: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// Kubeflow 1.10's ingress gateway (the spec's `network.ingressController` when it names
/// another), which authenticates users and forwards to `/notebook/<namespace>/<server>/`.
fn gateway(env: &Env) -> Peer {
    env.network
        .ingress_controller
        .clone()
        .unwrap_or_else(|| peer("istio-system", &[("istio", "ingressgateway")]))
}

/// The notebook controller, whose culler asks each server for its kernels' activity.
fn culler() -> Peer {
    peer("kubeflow", &[("app", "notebook-controller")])
}

fn istiod() -> Peer {
    peer("istio-system", &[("app", "istiod")])
}

pub fn policies(env: &Env, team: &Team, space: &Space) -> Vec<NetworkPolicy> {
    let sources = vec![pods_of(&gateway(env)), pods_of(&culler())];
    let mut out = closed(
        env,
        team,
        &space.namespace,
        sources,
        !space.servers.is_empty(),
    );
    // Only notebook pods carry a sidecar (jobs run without one).
    if !space.servers.is_empty() {
        out.push(policy(
            env,
            team,
            &space.namespace,
            "allow-istiod",
            NetworkPolicySpec {
                pod_selector: Some(selector(&BTreeMap::from([(
                    COMPONENT.to_owned(),
                    "notebook".to_owned(),
                )]))),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(vec![pods_of(&istiod())]),
                    ports: Some(vec![tcp(ISTIOD_PORT)]),
                }]),
                policy_types: Some(vec!["Egress".to_owned()]),
                ..NetworkPolicySpec::default()
            },
        ));
    }
    out
}
