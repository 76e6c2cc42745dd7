//! The `openshift` target (docs/openshift.md): the plain target's objects, with pods that
//! OpenShift's restricted SCCs admit as they are (`pod.rs`: restricted-v3 in a user namespace, or
//! restricted-v2 for a pod that mounts NFS), and a Route per server in place of a NodePort
//! (`route.rs`). Pure. Never pins a UID, a group or an fsGroup: the SCC assigns them from the
//! namespace's range (v2) or inside the pod's user namespace (v3).
//!
//! The Open Data Hub workbench mode (`opendatahub`) lives beside it in `workbench.rs`, with the
//! same pods.

mod pod;
mod route;
pub mod workbench;

use crate::expand::kubernetes;
use crate::model::{Env, Team};
use crate::object::Object;

/// The plain target's objects (Namespace, quota, RBAC, NetworkPolicies with the router as the
/// way in, claims, servers, jobs), each pod made OpenShift's, and one Route per server.
pub fn team_objects(env: &Env, team: &Team) -> Vec<Object> {
    let mut out = kubernetes::team_objects(env, team);
    out.iter_mut().for_each(|o| pod::restrict(env, o));
    out.extend(
        team.servers
            .iter()
            .map(|s| Object::from(route::route(env, team, s))),
    );
    out
}

/// The objects of no one team: the replicas admission policy (OpenShift 4.20 is Kubernetes 1.33,
/// which serves ValidatingAdmissionPolicy).
pub fn environment_objects(env: &Env) -> Vec<Object> {
    kubernetes::admission::objects(env)
}
