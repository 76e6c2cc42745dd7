//! `gitops.argocd` and `extras` → `model::ArgoCd` and `model::Extra`s (docs/argocd.md,
//! docs/templates.md). Pure. Never admits a template path that could leave the repository, or
//! an Argo CD namespace that is also a team's.

use super::{Cx, ptr};
use crate::model::names::{self, DEFAULT_ARGOCD_NAMESPACE};
use crate::model::{ArgoCd, Extra, Team};
use crate::spec::RawSpec;

/// The cluster Argo CD runs in, as Argo CD names it.
pub const DEFAULT_DESTINATION: &str = "https://kubernetes.default.svc";

/// Why a template path may not be used, if it may not: it must stay inside the repository.
pub fn template_path_problem(path: &str) -> Option<&'static str> {
    let bytes = path.as_bytes();
    if path.starts_with('/') || (bytes.len() > 1 && bytes[1] == b':') {
        Some("is absolute")
    } else if path.contains('\\') {
        Some("contains a backslash")
    } else if path.split('/').any(|s| s == "..") {
        Some("contains `..`")
    } else if path.split('/').any(str::is_empty) || path.chars().any(char::is_control) {
        Some("is not a plain relative path")
    } else {
        None
    }
}

impl Cx<'_> {
    pub(super) fn argocd(&mut self, raw: &RawSpec, teams: &[Team]) -> Option<ArgoCd> {
        let a = raw.gitops.as_ref()?.argocd.as_ref()?;
        let namespace = a
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_ARGOCD_NAMESPACE.to_owned());
        if let Some(team) = teams.iter().find(|t| t.namespace == namespace) {
            let at = match &a.namespace {
                Some(_) => ptr(&["gitops", "argocd", "namespace"]),
                None => ptr(&["gitops", "argocd"]),
            };
            self.error_at_key(
                &at,
                format!(
                    "team `{}`'s namespace `{namespace}` is Argo CD's namespace",
                    team.name
                ),
                "the AppProject would let the environment deploy into Argo CD's own namespace; rename the team, change cluster.namespacePrefix, or set gitops.argocd.namespace to where Argo CD runs",
            );
        }
        if a.project.as_deref() == Some("default") {
            self.error(
                &ptr(&["gitops", "argocd", "project"]),
                "AppProject `default` is Argo CD's own project",
                "nbgen writes the AppProject it names, and Argo CD's built-in `default` project admits every repository, cluster and kind: overwriting it would change what every other Application may do. Name a project of this environment's own, or omit `project` (default: notebooks-<environment>)",
            );
        }
        let application = names::argocd_application(&raw.name);
        Some(ArgoCd {
            repo_url: a.repo_url.clone(),
            target_revision: a.target_revision.clone(),
            namespace,
            destination: a
                .destination
                .clone()
                .unwrap_or_else(|| DEFAULT_DESTINATION.to_owned()),
            project: a.project.clone().unwrap_or_else(|| application.clone()),
            application,
        })
    }

    pub(super) fn extras(&mut self, raw: &RawSpec) -> Vec<Extra> {
        let mut out = Vec::new();
        for (i, e) in raw.extras.iter().enumerate() {
            let at = ptr(&["extras", &i.to_string(), "template"]);
            if let Some(problem) = template_path_problem(&e.template) {
                self.error(
                    &at,
                    format!("template path `{}` {problem}", e.template),
                    "templates live inside the repository: write the path relative to its root, e.g. templates/ingress.yaml.hbs",
                );
                continue;
            }
            let mut allow_kinds = e.allow_kinds.clone();
            allow_kinds.sort();
            allow_kinds.dedup();
            out.push(Extra {
                template: e.template.clone(),
                each: e.each,
                at,
                allow_kinds,
            });
        }
        out
    }
}
