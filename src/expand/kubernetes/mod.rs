//! The plain Kubernetes target: Env → k8s-openapi objects, team by team. Pure: no I/O.

pub(crate) mod admission;
pub(crate) mod job;
pub(crate) mod server;
pub(crate) mod storage;
pub(crate) mod team;

use crate::model::{Env, Team};
use crate::object::Object;

/// The objects of one team: namespace-wide ones, shared-volume claims, each server's, each job's.
/// Every object nbgen renders itself belongs to exactly one team, so these, team by team, are
/// the whole environment.
pub fn team_objects(env: &Env, team: &Team) -> Vec<Object> {
    let mut out = team::objects(env, team);
    out.extend(storage::objects(env, team));
    for s in &team.servers {
        out.extend(server::objects(env, team, s));
    }
    for j in env.jobs.iter().filter(|j| j.team == team.name) {
        out.extend(job::objects(env, team, j));
    }
    out
}
