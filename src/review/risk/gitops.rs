//! Argo CD's AppProject and Application: any change to them changes what Argo CD may deploy
//! where, and how it syncs.

use crate::object::ObjectId;
use crate::review::diff::Change;
use serde::Serialize;

/// An Argo CD AppProject or Application added, removed or changed: whatever changes in them
/// changes what Argo CD may deploy where, and how it syncs (docs/security.md).
#[derive(Clone, Debug, Serialize)]
pub struct GitopsChange {
    pub object: ObjectId,
    pub change: Change,
    /// The changed fields under `spec` (`spec.destinations`); empty when added or removed.
    pub fields: Vec<String>,
}

impl GitopsChange {
    pub fn message(&self) -> String {
        let why = match self.object.kind.as_str() {
            "AppProject" => {
                "it decides which namespaces, kinds and repositories Argo CD may deploy"
            }
            _ => "it decides what Argo CD syncs, where, and which differences it ignores",
        };
        match self.change {
            Change::Added => format!("{} added: {why}", self.object),
            Change::Removed => format!("{} removed: {why}", self.object),
            Change::Changed => format!(
                "{} changes {}: {why}",
                self.object,
                if self.fields.is_empty() {
                    "its metadata".to_owned()
                } else {
                    self.fields.join(", ")
                }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::risk::{assess, snap};
    use std::collections::BTreeMap;

    const PROJECT: &str = "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: notebooks-prod, namespace: argocd}\nspec: {sourceRepos: [r], destinations: [{server: s, namespace: a}], clusterResourceWhitelist: [{group: '', kind: Namespace}]}\n";

    #[test]
    fn any_change_to_the_app_project_or_application_is_a_risk() {
        let widened = PROJECT.replace(
            "kind: Namespace}",
            "kind: Namespace}, {group: rbac.authorization.k8s.io, kind: ClusterRoleBinding}",
        );
        let r = assess(
            &snap(&[("p.yaml", PROJECT)]),
            &snap(&[("p.yaml", &widened)]),
            &BTreeMap::new(),
        );
        assert_eq!(r.gitops.len(), 1);
        assert_eq!(
            r.gitops[0].message(),
            "argocd AppProject/notebooks-prod changes spec.clusterResourceWhitelist: it decides which namespaces, kinds and repositories Argo CD may deploy"
        );
        assert!(!r.is_empty());
        let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: notebooks-prod, namespace: argocd}\nspec: {project: notebooks-prod}\n";
        let r = assess(&snap(&[]), &snap(&[("a.yaml", app)]), &BTreeMap::new());
        assert_eq!(
            r.gitops[0].message(),
            "argocd Application/notebooks-prod added: it decides what Argo CD syncs, where, and which differences it ignores"
        );
        let r = assess(
            &snap(&[("a.yaml", app)]),
            &snap(&[("a.yaml", app)]),
            &BTreeMap::new(),
        );
        assert!(r.gitops.is_empty(), "unchanged: no risk");
    }
}
