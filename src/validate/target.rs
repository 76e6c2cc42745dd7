//! `cluster.target`: the platform an environment is rendered for, and the rules each target
//! adds to the plain Kubernetes ones (what the platform cannot express, or expresses its own way).

use super::{Cx, ptr};
use crate::model::{Job, Target, Team};
use crate::spec::{RawSpec, RawTarget};

impl Cx<'_> {
    pub(super) fn target(&mut self, raw: &RawSpec, teams: &[Team], jobs: &[Job]) -> Target {
        let target = match raw.cluster.target {
            RawTarget::Kubernetes => Target::Kubernetes,
            RawTarget::Kubeflow => Target::Kubeflow,
            RawTarget::OpenShift => Target::OpenShift,
            RawTarget::OpenDataHub => Target::OpenDataHub,
        };
        if target == Target::Kubeflow {
            self.kubeflow(raw, teams, jobs);
        } else if target != Target::Kubernetes {
            self.error(
                &ptr(&["cluster", "target"]),
                format!("target `{}` is not rendered yet", target.as_str()),
                "write `target: kubernetes`, or leave it out",
            );
        }
        target
    }
}
