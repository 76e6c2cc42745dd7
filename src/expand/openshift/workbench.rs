//! The `opendatahub` target (docs/openshift.md): Open Data Hub / OpenShift AI workbenches. Pure.
//!
//! Each team is a data science project (a Namespace the ODH dashboard lists), or, in a perMember
//! team, each member is one: `<prefix><team>-<slug>` (`names::member_namespace`), since sharing a
//! project binds `edit` or `admin` on all of it and RBAC cannot keep one member out of another's
//! workbench inside one project. Each server is a workbench: a kubeflow.org/v1 Notebook with the
//! labels and annotations the dashboard and odh-notebook-controller read, and its home claim.
//! Never renders what the ODH controller owns and reconciles — the workbench's ServiceAccount,
//! Service, route (Route or HTTPRoute), auth proxy sidecar (`inject-auth`) and its
//! NetworkPolicies — nor a token: Jupyter keeps its token behind the proxy (defence in depth).

use super::pod::{REQUIRED_SCC, restrict_spec};
use crate::expand::kubernetes::{server, storage, team as plain};
use crate::expand::{data_meta, labels, meta, server_labels};
use crate::model::names;
use crate::model::{Env, Server, Team};
use crate::object::Object;
use crate::object::kubeflow::{Notebook, NotebookSpec, NotebookTemplate};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use std::collections::BTreeMap;

/// The label the ODH dashboard lists data science projects and workbenches by.
pub const DASHBOARD: &str = "opendatahub.io/dashboard";
/// Marks a Notebook as ODH's, reconciled by odh-notebook-controller.
pub const ODH_MANAGED: &str = "opendatahub.io/odh-managed";
/// The member a workbench belongs to, as the dashboard writes it.
pub const USER: &str = "opendatahub.io/user";
/// odh-notebook-controller's webhook injects its kube-rbac-proxy sidecar when this is "true"
/// (`AnnotationInjectAuth`; older controllers read `inject-oauth` and inject oauth-proxy).
pub const INJECT_AUTH: &str = "notebooks.opendatahub.io/inject-auth";
/// The name the dashboard shows, on projects and workbenches.
pub const DISPLAY_NAME: &str = "openshift.io/display-name";
/// The ClusterRole a project's people get: what the dashboard's sharing grants as "Contributor".
/// Not `admin`: with it a member could share their project (bind others) themselves.
pub const PROJECT_ROLE: &str = "edit";

/// One data science project: its namespace, the people bound in it and its servers.
struct Project {
    team: Team,
    display: String,
}

fn projects(team: &Team) -> Vec<Project> {
    let per_member = team.servers.iter().any(|s| s.member.is_some());
    if !per_member {
        return vec![Project {
            team: team.clone(),
            display: team.name.clone(),
        }];
    }
    team.members
        .iter()
        .map(|m| {
            let mut t = team.clone();
            t.namespace = names::member_namespace(&team.namespace, m);
            t.members = vec![m.clone()];
            t.groups = Vec::new();
            t.servers.retain(|s| s.member.as_ref() == Some(m));
            Project {
                team: t,
                display: format!("{} ({m})", team.name),
            }
        })
        .collect()
}

pub fn team_objects(env: &Env, team: &Team) -> Vec<Object> {
    let mut out = Vec::new();
    for p in projects(team) {
        let t = &p.team;
        out.push(namespace(env, t, &p.display));
        out.extend(binding(env, t).map(Object::from));
        out.extend(plain::quota(env, t).map(Object::from));
        out.extend(
            plain::network_policies(env, t)
                .into_iter()
                .map(Object::from),
        );
        // Each project claims the shared volumes itself; its PersistentVolumes, unique in the
        // cluster, are named after the project (`<env>-<team>-<slug>-<volume>`) and labelled,
        // like everything of the project, with the team.
        let pv_key = format!("{}{}", team.name, &t.namespace[team.namespace.len()..]);
        let place = storage::Place {
            namespace: t.namespace.clone(),
            owner: pv_key,
        };
        out.extend(storage::objects_in(env, t, &place));
        for s in &t.servers {
            out.extend(workbench(env, t, s));
        }
    }
    out
}

fn namespace(env: &Env, t: &Team, display: &str) -> Object {
    let mut l = labels(env, t);
    l.insert(DASHBOARD.to_owned(), "true".to_owned());
    let mut ns = Namespace {
        metadata: data_meta(&t.namespace, None, l),
        ..Namespace::default()
    };
    ns.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(DISPLAY_NAME.to_owned(), display.to_owned());
    Object::from(ns)
}

/// The project's people, bound to `edit` in it and nowhere else.
fn binding(env: &Env, t: &Team) -> Option<RoleBinding> {
    let subject = |kind: &str, name: &str| Subject {
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace: None,
    };
    let subjects: Vec<Subject> = t
        .groups
        .iter()
        .map(|g| subject("Group", g))
        .chain(t.members.iter().map(|m| subject("User", m)))
        .collect();
    (!subjects.is_empty()).then(|| RoleBinding {
        metadata: meta(
            &format!("nbgen-{PROJECT_ROLE}"),
            Some(&t.namespace),
            labels(env, t),
        ),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: PROJECT_ROLE.to_owned(),
        },
        subjects: Some(subjects),
    })
}

/// The server's home claim and its Notebook, whose pod is the plain target's server pod made
/// OpenShift's, with its one container named after the workbench (the ODH webhook finds the
/// notebook container by that name).
fn workbench(env: &Env, t: &Team, s: &Server) -> Vec<Object> {
    let mut out = Vec::new();
    let mut pod = None;
    for o in server::objects(env, t, s) {
        match o {
            Object::PersistentVolumeClaim(_) => out.push(o),
            Object::StatefulSet(sts) => pod = sts.spec.and_then(|spec| spec.template.spec),
            _ => {} // ServiceAccount and Service: the ODH controller's
        }
    }
    let mut pod = pod.expect("a server's StatefulSet has a pod spec");
    let pin = restrict_spec(env, &mut pod);
    // The controller's webhook sets the ServiceAccount (the workbench's own, which it creates),
    // and its auth proxy sidecar needs that account's token to ask the API server who may in.
    pod.service_account_name = None;
    pod.automount_service_account_token = None;
    for c in &mut pod.containers {
        c.name = s.name.clone();
    }
    let mut l = server_labels(env, t, s);
    l.insert("app".to_owned(), s.name.clone());
    l.insert(DASHBOARD.to_owned(), "true".to_owned());
    l.insert(ODH_MANAGED.to_owned(), "true".to_owned());
    let mut annotations = BTreeMap::from([
        (DISPLAY_NAME.to_owned(), s.name.clone()),
        (INJECT_AUTH.to_owned(), "true".to_owned()),
        // Copied onto the pod by the notebook controller (it copies every annotation whose key
        // has neither "kubectl" nor "notebook" in it): see `pod.rs` for which SCC and why.
        (REQUIRED_SCC.to_owned(), pin.scc().to_owned()),
    ]);
    if let Some(m) = &s.member {
        l.insert(USER.to_owned(), names::slug(m));
        annotations.insert("opendatahub.io/username".to_owned(), m.clone());
    }
    let mut metadata = meta(&s.name, Some(&t.namespace), l);
    metadata.annotations = Some(annotations);
    out.push(Object::from(Notebook {
        metadata,
        spec: NotebookSpec {
            template: NotebookTemplate { spec: pod },
        },
    }));
    out
}

/// What odh-notebook-controller's webhook writes into a Notebook nbgen renders, which Argo CD
/// must leave alone. A CRD's lists are replaced whole by a merge, so an element added to one is a
/// difference: the kube-rbac-proxy sidecar and its two volumes, the CA bundle and pipeline
/// volumes and their mounts, the cluster proxy's variables, and the ServiceAccount it sets.
/// Annotations it adds (the reconciliation lock, `update-pending`, the dashboard's stop
/// annotation `kubeflow-resource-stopped`) are keys git does not write: no difference.
pub fn ignored_by_argocd() -> Vec<String> {
    let injected_volumes = [
        "kube-rbac-proxy-config",
        "kube-rbac-proxy-tls-certificates",
        "trusted-ca",
        "runtime-images",
        "elyra-dsp-details",
    ]
    .iter()
    .map(|v| format!(".name == \"{v}\""))
    .collect::<Vec<_>>()
    .join(" or ");
    vec![
        ".spec.template.spec.containers[] | select(.name == \"kube-rbac-proxy\")".to_owned(),
        format!(".spec.template.spec.volumes[] | select({injected_volumes})"),
        format!(".spec.template.spec.containers[].volumeMounts[]? | select({injected_volumes})"),
        ".spec.template.spec.containers[].env[]? | select(.name | test(\"^(HTTPS?_PROXY|NO_PROXY|(KF_)?PIPELINES_SSL_SA_CERTS|PIP_CERT|SSL_CERT_FILE|REQUESTS_CA_BUNDLE)$\"))".to_owned(),
        ".spec.template.spec.serviceAccountName".to_owned(),
    ]
}
