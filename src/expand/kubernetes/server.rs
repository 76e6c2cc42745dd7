//! One notebook server's objects: ServiceAccount, home claim, StatefulSet, Service. Pure.
//!
//! A StatefulSet, not a Deployment, because its one pod has a stable name (`<server>-0`): RBAC
//! can then grant exec, logs and restart of exactly that pod to the member who owns it
//! (docs/security.md). Deployment pods carry random names, which RBAC cannot name. The
//! container's command line is its image's start convention's (`start.rs`); its token comes
//! from the `<server>-token` Secret through `JUPYTER_TOKEN`, never the command line.

use crate::expand::pod::{self, Workload};
use crate::expand::{data_meta, meta, server_labels};
use crate::model::names::{self, SERVER};
use crate::model::start;
use crate::model::start::NOTEBOOK_PORT;
use crate::model::{Env, Server, Team};
use crate::object::Object;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, SecretKeySelector, Service,
    ServiceAccount, ServicePort, ServiceSpec, Volume, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

pub fn objects(env: &Env, team: &Team, s: &Server) -> Vec<Object> {
    vec![
        Object::from(service_account(env, team, &team.namespace, s)),
        Object::from(home_claim(env, team, &team.namespace, s)),
        Object::from(stateful_set(env, team, s)),
        Object::from(service(env, team, s)),
    ]
}

fn server_meta(env: &Env, team: &Team, s: &Server) -> ObjectMeta {
    meta(&s.name, Some(&team.namespace), server_labels(env, team, s))
}

/// The server's own ServiceAccount, in `namespace`: no token mounted, no rights.
pub fn service_account(env: &Env, team: &Team, namespace: &str, s: &Server) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(&s.name, Some(namespace), server_labels(env, team, s)),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// The server's home claim `<server>-home`, in `namespace`: data, never pruned.
pub fn home_claim(env: &Env, team: &Team, namespace: &str, s: &Server) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: data_meta(
            &names::home_claim(&s.name),
            Some(namespace),
            server_labels(env, team, s),
        ),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(s.home_size.text.clone()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            storage_class_name: env.storage_class.clone(),
            volume_mode: Some("Filesystem".to_owned()),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

fn selector(s: &Server) -> BTreeMap<String, String> {
    BTreeMap::from([(SERVER.to_owned(), s.name.clone())])
}

fn stateful_set(env: &Env, team: &Team, s: &Server) -> StatefulSet {
    let labels = server_labels(env, team, s);
    StatefulSet {
        metadata: server_meta(env, team, s),
        spec: Some(StatefulSetSpec {
            // Stop and start is `kubectl scale --replicas=0|1`; Argo CD ignores this field
            // (docs/argocd.md) and an admission policy keeps it at 0 or 1.
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(selector(s)),
                ..LabelSelector::default()
            },
            service_name: Some(s.name.clone()),
            // The home claim is a claim of its own, not a claim template: it is data, which
            // Argo CD must never prune, and it keeps its name whatever happens to the pod.
            // With one replica, an update deletes the old pod before the new one starts, as a
            // ReadWriteOnce home volume needs.
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(env, team, s)),
            },
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

fn pod_spec(env: &Env, team: &Team, s: &Server) -> PodSpec {
    pod::pod_spec(
        env,
        &Workload::from(s),
        &s.name,
        home_volume(s),
        Vec::new(),
        container(team, s),
    )
}

/// The pod volume `home`: the server's home claim.
pub fn home_volume(s: &Server) -> Volume {
    Volume {
        name: "home".to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: names::home_claim(&s.name),
            read_only: None,
        }),
        ..Volume::default()
    }
}

fn container(team: &Team, s: &Server) -> Container {
    let prefix = names::url_prefix(&team.namespace, &s.name);
    let line = start::server_command(&s.image.start, &format!("{prefix}/"));
    let token = EnvVar {
        name: "JUPYTER_TOKEN".to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: names::token_secret(&s.name),
                key: "token".to_owned(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    pod::jupyter_container(s, "notebook", &prefix, line, "http", vec![token])
}

/// NodePort when the spec exposes servers that way (`cluster.network.nodePort`), with
/// `externalTrafficPolicy: Local` so that the client's address reaches the pod and the network
/// policy can admit only the declared client ranges; ClusterIP (for an Ingress) otherwise.
fn service(env: &Env, team: &Team, s: &Server) -> Service {
    let node_port = s.node_port.filter(|_| env.network.node_ports());
    Service {
        metadata: server_meta(env, team, s),
        spec: Some(ServiceSpec {
            type_: Some(
                if node_port.is_some() {
                    "NodePort"
                } else {
                    "ClusterIP"
                }
                .to_owned(),
            ),
            external_traffic_policy: node_port.map(|_| "Local".to_owned()),
            selector: Some(selector(s)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: NOTEBOOK_PORT,
                target_port: Some(IntOrString::String("http".to_owned())),
                node_port: node_port.map(i32::from),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
