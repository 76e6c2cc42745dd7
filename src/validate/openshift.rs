//! The rules of the `openshift` and `opendatahub` targets (docs/openshift.md): what OpenShift
//! expresses its own way. Servers are reached through the router (a Route per server, or the ODH
//! controller's), never through NodePorts; the cluster DNS is OpenShift's. Pure. Never admits a
//! spec whose servers would be exposed past the router's TLS.

use super::{Cx, ptr};
use crate::model::Target;
use crate::model::names::{self, MAX_NAME};
use crate::spec::RawSpec;
use std::collections::BTreeMap;

/// Where OpenShift's DNS runs: the DNS operator's daemon set, which listens on 5353.
pub const DNS_NAMESPACE: &str = "openshift-dns";
pub const DNS_LABEL: (&str, &str) = ("dns.operator.openshift.io/daemonset-dns", "default");
pub const DNS_PORT: u16 = 5353;

/// The label OpenShift puts on the namespaces its ingress (router) traffic comes from: the
/// router's own and, for a router on the host network, the host network's
/// (OpenShift's "allow-from-openshift-ingress" NetworkPolicy selects it).
pub const ROUTER_NAMESPACE_LABEL: &str = "policy-group.network.openshift.io/ingress";

pub fn is_openshift(target: Target) -> bool {
    matches!(target, Target::OpenShift | Target::OpenDataHub)
}

/// The namespaces whose pods may reach a notebook's port on this target: on `openshift`, the
/// router's; on `opendatahub`, none (the ODH controller's own NetworkPolicies open its auth
/// proxy's port, and Jupyter's port stays closed behind it); elsewhere none.
pub fn router_namespaces(target: Target) -> Vec<BTreeMap<String, String>> {
    match target {
        Target::OpenShift => vec![BTreeMap::from([(
            ROUTER_NAMESPACE_LABEL.to_owned(),
            String::new(),
        )])],
        _ => Vec::new(),
    }
}

impl Cx<'_> {
    pub(super) fn openshift(&mut self, raw: &RawSpec, target: Target) {
        let how = match target {
            Target::OpenDataHub => "the ODH controller's route and auth proxy",
            _ => "a Route per server (edge TLS)",
        };
        if raw.cluster.network.node_port.is_some() {
            self.error_at_key(
                &ptr(&["cluster", "network", "nodePort"]),
                format!(
                    "target `{}` exposes servers through {how}, not NodePorts",
                    target.as_str()
                ),
                "remove cluster.network.nodePort: a NodePort would reach Jupyter around the router's TLS",
            );
        }
        for (team, t) in &raw.teams {
            if !t.node_ports.is_empty() {
                self.error_at_key(
                    &ptr(&["teams", team, "nodePorts"]),
                    format!(
                        "team `{team}` pins NodePorts, but target `{}` exposes no NodePorts",
                        target.as_str()
                    ),
                    format!("remove the pins: servers are reached through {how}"),
                );
            }
        }
        if target == Target::OpenDataHub {
            if let Some(job) = raw.jobs.keys().next() {
                self.error_at_key(
                    &ptr(&["jobs", job]),
                    "notebook jobs are not rendered for target `opendatahub`",
                    "run them in an environment with `target: openshift` (its jobs run on the same cluster), or remove them",
                );
            }
            if let Some(team) = raw
                .teams
                .iter()
                .find(|(_, t)| t.per_member && !t.groups.is_empty())
                .map(|(name, _)| name)
            {
                self.error_at_key(
                    &ptr(&["teams", team, "groups"]),
                    format!("perMember team `{team}` lists groups, which target `opendatahub` cannot place"),
                    "every member of a perMember team gets a data science project of their own; a group has no project. List the people under `members`",
                );
            }
            self.member_projects(raw);
        }
    }

    /// On `opendatahub` every member of a perMember team gets a project
    /// `<team namespace>-<slug>` (`names::member_namespace`): a Namespace name, so at most 63
    /// characters, and never another team's namespace.
    fn member_projects(&mut self, raw: &RawSpec) {
        let prefix = &raw.cluster.namespace_prefix;
        // Projects already given, to whom: two members' projects are one name when the '-' of
        // team names and e-mails lines up (team `a`'s b-x@ and team `a-b`'s x@ are both `a-b-x`);
        // their PersistentVolumes (`<env>-<team>-<slug>-<volume>`) then collide too.
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (team, t) in raw.teams.iter().filter(|(_, t)| t.per_member) {
            let namespace = names::namespace(prefix, team);
            if namespace.len() > MAX_NAME {
                continue; // the team's own namespace is already an error (validate/teams.rs)
            }
            for (i, member) in t.members.iter().enumerate() {
                let at = format!("{}/members/{i}", ptr(&["teams", team]));
                let project = names::member_namespace(&namespace, member);
                if project.len() > MAX_NAME {
                    self.error(
                        &at,
                        format!(
                            "member `{member}` of perMember team `{team}` gets data science project `{project}`, {} characters; Kubernetes allows {MAX_NAME}",
                            project.len()
                        ),
                        format!(
                            "a member's project is `<namespacePrefix><team>-<e-mail local part>`: shorten the team name or cluster.namespacePrefix by {} character{}, or set perMember: false (one project for the team)",
                            project.len() - MAX_NAME,
                            if project.len() - MAX_NAME == 1 { "" } else { "s" }
                        ),
                    );
                } else if let Some(other) = raw
                    .teams
                    .keys()
                    .find(|other| names::namespace(prefix, other) == project)
                {
                    self.error(
                        &at,
                        format!(
                            "member `{member}` of perMember team `{team}` gets data science project `{project}`, which is team `{other}`'s namespace"
                        ),
                        format!("rename team `{team}` or team `{other}`: one project cannot be both"),
                    );
                } else if let Some(first) = seen.get(&project) {
                    self.error(
                        &at,
                        format!(
                            "member `{member}` of perMember team `{team}` gets data science project `{project}`, which {first} gets too"
                        ),
                        "a member's project is `<namespacePrefix><team>-<e-mail local part>`: rename one of the teams",
                    );
                } else {
                    seen.insert(
                        project,
                        format!("member `{member}` of perMember team `{team}`"),
                    );
                }
            }
        }
    }
}
