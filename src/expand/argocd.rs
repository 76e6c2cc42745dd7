//! Argo CD (docs/argocd.md): the AppProject and Application that deploy an environment's
//! `out/<env>/` when `gitops.argocd` is set, and the sync waves that order its objects. Pure.
//! Never lets the Application manage the `_argocd/` objects (it could widen its own project),
//! and never allows the project a namespace the environment does not own or a kind nbgen does
//! not render.

use crate::model::names::{MANAGED_BY, NBGEN, PART_OF};
use crate::model::{ArgoCd, Env, Target};
use crate::object::argocd::{
    AppProject, AppProjectSpec, Application, ApplicationSpec, Automated, Destination, Directory,
    GroupKind, IgnoreDifference, Source, SyncPolicy,
};
use crate::object::{ARGOCD_DIR, Kind, Object, rendered_kinds};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::{BTreeMap, BTreeSet};

/// The annotation that orders a sync: lower waves first, each healthy before the next starts.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

/// The sync wave of a kind. Argo CD applies one wave, waits until all of it is healthy, then
/// applies the next:
///
/// 0. Namespaces, so that everything else has somewhere to go;
/// 1. quotas (and LimitRanges), Kubeflow Profiles (whose controller writes the quota) and
///    admission policies, so that no pod starts before the limits that admit it;
/// 2. RBAC and Istio AuthorizationPolicies, so that people can see their servers as soon as
///    they exist;
/// 3. network policies, so that no notebook pod ever runs without its default-deny;
/// 4. PersistentVolumes, so that each shared claim finds its pre-bound volume;
/// 5. ServiceAccounts and ConfigMaps the pods refer to;
/// 6. claims, StatefulSets, Services, Notebooks, Jobs, CronJobs, and every kind not named above.
///
/// Claims go with the pods, not with the volumes: a home claim whose StorageClass binds on
/// first use (`WaitForFirstConsumer`) stays Pending, which Argo CD counts as not yet healthy,
/// until a pod mounts it; in an earlier wave it would wait forever for the pod of a later one.
pub fn wave(kind: &str) -> i32 {
    match kind {
        "Namespace" => 0,
        // After its namespace, which the profile controller then adopts; before the pods, as
        // it writes the namespace's quota.
        "Profile"
        | "ResourceQuota"
        | "LimitRange"
        | "ValidatingAdmissionPolicy"
        | "ValidatingAdmissionPolicyBinding" => 1,
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" | "AuthorizationPolicy" => 2,
        "NetworkPolicy" => 3,
        "PersistentVolume" => 4,
        "ServiceAccount" | "ConfigMap" => 5,
        _ => 6,
    }
}

/// Give the object its sync wave, unless it already has one (a user template may choose).
pub fn annotate_wave(o: &mut Object) {
    if o.annotation(SYNC_WAVE).is_none() {
        let wave = wave(&o.id().kind).to_string();
        o.annotate(SYNC_WAVE, &wave);
    }
}

/// The AppProject and Application for the environment. The project admits every kind nbgen
/// renders itself and those of `extras`, the objects the environment's templates render.
pub fn objects(env: &Env, argo: &ArgoCd, extras: &[Object]) -> Vec<Object> {
    vec![
        Object::from(project(env, argo, extras)),
        Object::from(application(env, argo)),
    ]
}

/// The file of the AppProject and Application, relative to `out/<env>/`: the Application syncs
/// everything else.
pub fn exclude_pattern() -> String {
    format!("{ARGOCD_DIR}/*")
}

fn metadata(env: &Env, name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(BTreeMap::from([
            (MANAGED_BY.to_owned(), NBGEN.to_owned()),
            (PART_OF.to_owned(), env.name.clone()),
        ])),
        ..ObjectMeta::default()
    }
}

/// The environment's namespaces, sorted.
fn namespaces(env: &Env) -> Vec<String> {
    let set: BTreeSet<String> = env
        .teams
        .iter()
        .flat_map(|t| t.namespaces(env.target))
        .collect();
    set.into_iter().collect()
}

fn project(env: &Env, argo: &ArgoCd, extras: &[Object]) -> AppProject {
    let kinds: BTreeSet<Kind> = rendered_kinds(env.target)
        .into_iter()
        .chain(extras.iter().map(Object::kind))
        .collect();
    let whitelist = |cluster: bool| -> Vec<GroupKind> {
        kinds
            .iter()
            .filter(|k| k.cluster_scoped == cluster)
            .map(|k| GroupKind {
                group: k.group.clone(),
                kind: k.kind.clone(),
            })
            .collect()
    };
    AppProject {
        metadata: metadata(env, &argo.project, &argo.namespace),
        spec: AppProjectSpec {
            description: format!(
                "Jupyter notebook platform {}, rendered by nbgen from {}",
                env.name, env.source
            ),
            source_repos: vec![argo.repo_url.clone()],
            destinations: namespaces(env)
                .into_iter()
                .map(|ns| Destination {
                    server: argo.destination.clone(),
                    namespace: Some(ns),
                })
                .collect(),
            cluster_resource_whitelist: whitelist(true),
            namespace_resource_whitelist: whitelist(false),
        },
    }
}

/// What others change on purpose and Argo CD must leave as the cluster has it. Ignoring a field
/// and respecting that at sync (`RespectIgnoreDifferences=true`, Argo CD 2.3+; 2.11+ for
/// argo-cd#17693's fix of how the patch is computed) leaves it to them.
fn ignore_differences(target: Target) -> Vec<IgnoreDifference> {
    match target {
        // Kubeflow's web app stops and starts a server by annotating its Notebook
        // (`kubeflow-resource-stopped`), and the notebook controller's culler records activity
        // and stops idle servers the same way; neither may be undone by a sync. The StatefulSet
        // is the controller's, not in out/.
        Target::Kubeflow => vec![IgnoreDifference {
            group: "kubeflow.org".to_owned(),
            kind: "Notebook".to_owned(),
            json_pointers: [
                "kubeflow-resource-stopped",
                "notebooks.kubeflow.org/last-activity",
                "notebooks.kubeflow.org/last_activity_check_timestamp",
            ]
            .iter()
            .map(|key| format!("/metadata/annotations/{}", key.replace('/', "~1")))
            .collect(),
            ..IgnoreDifference::default()
        }],
        // ODH's webhook adds its auth proxy (a container, volumes, mounts, variables) to a
        // workbench's lists, which Argo CD counts as differences; the StatefulSet is the
        // controller's, not in out/.
        Target::OpenDataHub => vec![IgnoreDifference {
            group: "kubeflow.org".to_owned(),
            kind: "Notebook".to_owned(),
            jq_path_expressions: super::openshift::workbench::ignored_by_argocd(),
            ..IgnoreDifference::default()
        }],
        // Members stop and start their servers with the scale subresource (docs/security.md);
        // self-heal would put `replicas: 1` back within seconds. Ignoring the field and
        // respecting that at sync (Argo CD 2.3+; 2.11+ for argo-cd#17693's fix of how the patch
        // is computed) leaves it to them; an admission policy keeps it at 0 or 1.
        Target::Kubernetes | Target::OpenShift => vec![IgnoreDifference {
            group: "apps".to_owned(),
            kind: "StatefulSet".to_owned(),
            json_pointers: vec!["/spec/replicas".to_owned()],
            ..IgnoreDifference::default()
        }],
    }
}

fn application(env: &Env, argo: &ArgoCd) -> Application {
    Application {
        metadata: metadata(env, &argo.application, &argo.namespace),
        spec: ApplicationSpec {
            project: argo.project.clone(),
            source: Source {
                repo_url: argo.repo_url.clone(),
                target_revision: argo.target_revision.clone(),
                path: format!("out/{}", env.name),
                directory: Directory {
                    recurse: true,
                    exclude: exclude_pattern(),
                },
            },
            // Every object nbgen renders names its namespace; Argo CD still wants the
            // Application's own destination namespace to be one the project permits.
            destination: Destination {
                server: argo.destination.clone(),
                namespace: namespaces(env).into_iter().next(),
            },
            ignore_differences: ignore_differences(env.target),
            sync_policy: SyncPolicy {
                automated: Automated {
                    prune: true,
                    self_heal: true,
                },
                sync_options: vec!["RespectIgnoreDifferences=true".to_owned()],
            },
        },
    }
}
