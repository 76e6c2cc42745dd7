//! `cluster.target`: the platform an environment is rendered for, and the rules each target
//! adds to the plain Kubernetes ones (what the platform cannot express, or expresses its own way):
//! `kubeflow.rs`'s and `openshift.rs`'s.

use super::Cx;
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
        match target {
            Target::Kubernetes => {}
            Target::Kubeflow => self.kubeflow(raw, teams, jobs),
            Target::OpenShift | Target::OpenDataHub => self.openshift(raw, target),
        }
        target
    }
}
