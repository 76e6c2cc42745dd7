//! Every name nbgen derives and every label key it writes, each rule once. `validate` checks the
//! lengths and collisions of these names, `expand` (every target) builds objects with them, and
//! `output` and `review` read the label keys back: all through these functions, so a rule cannot
//! drift between the check and the object. Pure string functions; never decides whether a name
//! is acceptable (that is `validate`'s job).

/// Kubernetes' limit for names that are DNS-1123 labels (and for label values): Namespaces,
/// Services, and every name nbgen also writes as a label value.
pub const MAX_NAME: usize = 63;

/// Kubernetes' limit for names that are DNS-1123 subdomains: PersistentVolumes (whose names
/// are no label value of nbgen's).
pub const MAX_SUBDOMAIN: usize = 253;

/// The longest server name: it names a StatefulSet, whose controller labels each revision
/// `<name>-<10-character hash>` (a label value: 63 characters). Its `-token` Secret and `-home`
/// claim stay well inside 63.
pub const MAX_SERVER: usize = 52;

/// The CronJob controller names each run's Job `<cronjob>-<11 characters>`, within 63.
pub const MAX_CRONJOB: usize = 52;

// Label keys nbgen puts on its objects; `output` and `review` read them back.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const PART_OF: &str = "app.kubernetes.io/part-of";
pub const COMPONENT: &str = "app.kubernetes.io/component";
pub const TEAM: &str = "nbgen.io/team";
pub const ROLE: &str = "nbgen.io/role";
pub const SERVER: &str = "nbgen.io/server";
pub const VOLUME: &str = "nbgen.io/volume";
pub const JOB: &str = "nbgen.io/job";
/// The value of `MANAGED_BY` on every object nbgen renders.
pub const NBGEN: &str = "nbgen";

/// Argo CD must never prune or delete an object that holds data: this annotation, this value.
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
pub const KEEP_DATA: &str = "Prune=false,Delete=false";

/// Argo CD's namespace when the spec does not say.
pub const DEFAULT_ARGOCD_NAMESPACE: &str = "argocd";

/// A team's namespace: `<cluster.namespacePrefix><team>`.
pub fn namespace(prefix: &str, team: &str) -> String {
    format!("{prefix}{team}")
}

/// A perMember team's member's own namespace on the kubeflow target (their Profile) and the
/// opendatahub target (their project): `<team namespace>-<member slug>`. On both platforms the
/// namespace is the unit of isolation: a Profile or a project is shared whole.
pub fn member_namespace(team_namespace: &str, member: &str) -> String {
    format!("{team_namespace}-{}", slug(member))
}

/// On the kubeflow target, whose name a member's PersistentVolumes carry in place of the team's
/// (`persistent_volume(env, <this>, volume)`): `<team>-<member slug>`.
pub fn member_space(team: &str, member: &str) -> String {
    format!("{team}-{}", slug(member))
}

/// A notebook server: `<role>` for the team, or `<role>-<member slug>` in a perMember team.
pub fn server(role: &str, member_slug: Option<&str>) -> String {
    match member_slug {
        Some(slug) => format!("{role}-{slug}"),
        None => role.to_owned(),
    }
}

/// The server-name suffix for a member: the part of the e-mail before `@`, lower-cased, every
/// run of other characters turned into one `-`, no `-` at either end.
pub fn slug(member: &str) -> String {
    let local = member.split('@').next().unwrap_or_default().to_lowercase();
    let mut out = String::new();
    for c in local.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// The Secret the platform's secret manager must create for a server, holding key `token`.
pub fn token_secret(server: &str) -> String {
    format!("{server}-token")
}

/// What a server's home claim name ends with; no shared volume may end with it.
pub const HOME_SUFFIX: &str = "-home";

/// A server's home PersistentVolumeClaim: `<server>-home`.
pub fn home_claim(server: &str) -> String {
    format!("{server}{HOME_SUFFIX}")
}

/// A server's one pod: its StatefulSet's ordinal 0.
pub fn pod(server: &str) -> String {
    format!("{server}-0")
}

/// The URL prefix a server is served under (Kubeflow's NB_PREFIX convention).
pub fn url_prefix(namespace: &str, server: &str) -> String {
    format!("/notebook/{namespace}/{server}")
}

/// What prefixes a shared volume's name as a pod volume.
pub const POD_VOLUME_PREFIX: &str = "data-";

/// A shared volume as a pod's volume: `data-<volume>`.
pub fn pod_volume(volume: &str) -> String {
    format!("{POD_VOLUME_PREFIX}{volume}")
}

/// A team's PersistentVolume onto an NFS volume, `<env>-<team>-<volume>`: unique in the cluster
/// across environments and teams (unless `-` in the parts makes two alike: `validate` checks).
pub fn persistent_volume(env: &str, team: &str, volume: &str) -> String {
    format!("{env}-{team}-{volume}")
}

/// What a job's parameters ConfigMap name ends with.
pub const PARAMS_SUFFIX: &str = "-params";

/// A job's parameters ConfigMap: `<job>-params`.
pub fn params_config_map(job: &str) -> String {
    format!("{job}{PARAMS_SUFFIX}")
}

/// In a team without perMember: what its people may do with the team's servers.
pub const USER_ROLE: &str = "notebook-user";
/// What every member and group of the team may read: the team's objects, never a Secret.
pub const VIEWER_ROLE: &str = "notebook-viewer";

/// In a perMember team, `member-<slug>`: what one member may do with their own servers.
pub fn member_role(member: &str) -> String {
    format!("member-{}", slug(member))
}

/// The name Kubeflow's access management (KFAM, `getBindingName` in kubeflow/dashboard's
/// bindings.go) gives a contributor's RoleBinding and AuthorizationPolicy: `User-<user>-ClusterRole-
/// <role>` lower-cased, every run of characters outside [a-zA-Z0-9] one `-`. `role` is KFAM's
/// short name, `edit` or `view`. KFAM finds a contributor's binding by this name to remove it.
pub fn kfam_binding(user: &str, role: &str) -> String {
    let dashed = |s: &str| {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out
    };
    dashed(&format!("User-{}-ClusterRole-{role}", dashed(user)).to_lowercase())
}

/// The environment's ValidatingAdmissionPolicy and its binding: `nbgen-<env>-notebook-replicas`.
pub fn admission_policy(env: &str) -> String {
    format!("nbgen-{env}-notebook-replicas")
}

/// The environment's Argo CD Application (and its AppProject unless the spec names one).
pub fn argocd_application(env: &str) -> String {
    format!("notebooks-{env}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_dns_safe() {
        assert_eq!(slug("Alice.Smith@example.com"), "alice-smith");
        assert_eq!(slug("bob_@example.com"), "bob");
        assert_eq!(slug("zoë@example.com"), "zo");
        assert_eq!(slug("__@example.com"), "");
    }

    #[test]
    fn derived_names() {
        assert_eq!(server("prep", Some("alice")), "prep-alice");
        assert_eq!(home_claim("prep"), "prep-home");
        assert_eq!(pod_volume("datasets"), "data-datasets");
        assert_eq!(persistent_volume("prod", "a", "b"), "prod-a-b");
        assert_eq!(member_role("Alice@x"), "member-alice");
        assert_eq!(
            member_namespace("kf-ml", "Ana.Lima@x.org"),
            "kf-ml-ana-lima"
        );
    }

    /// As KFAM names them (kubeflow/dashboard bindings.go; the Python harness has the same rule).
    #[test]
    fn kfam_binding_names() {
        assert_eq!(
            kfam_binding("ana@example.com", "edit"),
            "user-ana-example-com-clusterrole-edit"
        );
        assert_eq!(
            kfam_binding("Bo_B+x@Ex.io", "view"),
            "user-bo-b-x-ex-io-clusterrole-view"
        );
        // A trailing run stays one `-`, as Go's ReplaceAllString leaves it.
        assert_eq!(kfam_binding("a..", "edit"), "user-a-clusterrole-edit");
    }
}
