//! The rules the kubeflow target adds (docs/kubeflow.md): what a Profile needs (an owner), what
//! Kubeflow cannot express (groups in its web apps and gateway, NodePorts, a job of no one
//! namespace), and the names only this target derives (a perMember team's member namespaces,
//! their PersistentVolumes). Pure.

use super::*;
use crate::source::Loc;

impl Cx<'_> {
    pub(super) fn kubeflow(&mut self, raw: &RawSpec, teams: &[Team], jobs: &[Job]) {
        if raw.cluster.network.node_port.is_some() {
            self.error_at_key(
                "/cluster/network/nodePort",
                "the kubeflow target exposes no NodePorts: Kubeflow routes every notebook through its Istio gateway, at /notebook/<namespace>/<server>/",
                "remove cluster.network.nodePort; users open their servers from the Kubeflow dashboard",
            );
        }
        self.custom_starts(raw, teams);
        if !raw.extras.is_empty()
            && let Some(t) = teams.iter().find(|t| t.per_member)
        {
            self.error_at_key(
                "/extras",
                format!(
                    "team `{}` is perMember, which on the kubeflow target has no namespace of its own for templates (extras) to render into",
                    t.name
                ),
                "remove `extras`, or set perMember: false: each member of a perMember team has a Profile namespace of their own",
            );
        }
        let mut namespaces: BTreeMap<String, String> = teams
            .iter()
            .filter(|t| !t.per_member)
            .map(|t| (t.namespace.clone(), format!("team `{}`", t.name)))
            .collect();
        let mut pvs: BTreeMap<String, String> = BTreeMap::new();
        for t in teams {
            let at = ptr(&["teams", &t.name]);
            if t.owner.is_none() {
                self.error_at_key(
                    &at,
                    format!(
                        "team `{}` has no member to own its Kubeflow Profile",
                        t.name
                    ),
                    "list the team's people under `members`: the first one listed owns the Profile (Kubeflow makes them its namespace's admin)",
                );
                continue;
            }
            if !t.groups.is_empty() {
                self.warn_at_key(
                    &format!("{at}/groups"),
                    format!(
                        "team `{}`'s groups get no access on the kubeflow target: Kubeflow's web apps and the AuthorizationPolicies of its gateway know a user by the kubeflow-userid header alone",
                        t.name
                    ),
                    "list the groups' people under `members`; nbgen binds no group in a Profile namespace",
                );
            }
            if t.per_member {
                for (i, m) in raw.teams[&t.name].members.iter().enumerate() {
                    let ns = names::member_namespace(&t.namespace, m);
                    let member_at = format!("{at}/members/{i}");
                    self.check_namespace(
                        &member_at,
                        &ns,
                        format!("member `{m}` of team `{}`", t.name),
                        &mut namespaces,
                    );
                    for c in &t.claims {
                        if matches!(
                            raw.storage.get(&c.volume).map(|v| v.nfs.is_some()),
                            Some(true)
                        ) {
                            let owner = names::member_space(&t.name, m);
                            let pv = names::persistent_volume(&raw.name, &owner, &c.volume);
                            self.check_pv(self.pos.value_at(&member_at), pv, &c.volume, &mut pvs);
                        }
                    }
                }
            } else {
                for c in &t.claims {
                    if matches!(
                        raw.storage.get(&c.volume).map(|v| v.nfs.is_some()),
                        Some(true)
                    ) {
                        let pv = names::persistent_volume(&raw.name, &t.name, &c.volume);
                        self.check_pv(self.pos.key_at(&at), pv, &c.volume, &mut pvs);
                    }
                }
            }
        }
        for j in jobs {
            if teams.iter().any(|t| t.name == j.team && t.per_member) {
                self.error(
                    &ptr(&["jobs", &j.name, "team"]),
                    format!(
                        "job `{}` belongs to perMember team `{}`, which has no namespace of its own on the kubeflow target: each member has a Profile of their own",
                        j.name, j.team
                    ),
                    "give the job to a team without perMember",
                );
            }
        }
    }

    /// A member's namespace: a DNS label, and no other team's or member's.
    fn check_namespace(
        &mut self,
        at: &str,
        ns: &str,
        whose: String,
        seen: &mut BTreeMap<String, String>,
    ) {
        if ns.len() > MAX_NAME {
            self.error(
                at,
                format!(
                    "{whose} gets the Profile and namespace `{ns}`, {} characters; Kubernetes allows {MAX_NAME}",
                    ns.len()
                ),
                "a perMember team's members get <namespace of the team>-<part of the e-mail before @>: shorten the team name or cluster.namespacePrefix",
            );
        } else if let Some(first) = seen.get(ns) {
            self.error(
                at,
                format!("{whose} and {first} would both be the Profile and namespace `{ns}`"),
                "a perMember team's members get <namespace of the team>-<part of the e-mail before @>: rename a team",
            );
        } else {
            seen.insert(ns.to_owned(), whose);
        }
    }

    fn check_pv(
        &mut self,
        at: Loc<'_>,
        pv: String,
        volume: &str,
        seen: &mut BTreeMap<String, String>,
    ) {
        let mut error = |message: String, help: &str| {
            self.diags
                .push(Diagnostic::error(message).at_loc(at).help(help));
        };
        if pv.len() > names::MAX_SUBDOMAIN {
            error(
                format!(
                    "the PersistentVolume for volume `{volume}` here would be named `{pv}`, {} characters; Kubernetes allows {}",
                    pv.len(),
                    names::MAX_SUBDOMAIN
                ),
                "PersistentVolumes are named <environment>-<team>[-<member>]-<volume>: shorten one of them",
            );
        } else if let std::collections::btree_map::Entry::Vacant(e) = seen.entry(pv.clone()) {
            e.insert(volume.to_owned());
        } else {
            error(
                format!("two uses of volume `{volume}` would both be the PersistentVolume `{pv}`"),
                "PersistentVolumes are named <environment>-<team>[-<member>]-<volume>, and the '-' in these names makes two alike: rename a team or a volume",
            );
        }
    }

    /// Kubeflow's gateway authenticates, so Jupyter runs without a token; nbgen can only say
    /// so on a command line it writes itself (a custom command may not mention tokens).
    fn custom_starts(&mut self, raw: &RawSpec, teams: &[Team]) {
        let used: BTreeSet<&str> = teams
            .iter()
            .flat_map(|t| &t.servers)
            .map(|s| s.image.reference.as_str())
            .collect();
        for (name, image) in &raw.images {
            if let RawImage::Spec(spec) = image
                && spec.command.is_some()
                && used.contains(spec.image.as_str())
            {
                self.error_at_key(
                    &ptr(&["images", name, "command"]),
                    format!(
                        "image `{name}` starts with a command of its own, which the kubeflow target cannot run: behind Kubeflow's gateway Jupyter must run without a token, and only nbgen's own start conventions say so"
                    ),
                    "use `start: kubeflow` (Kubeflow's notebook images) or `start: docker-stacks`, or the plain kubernetes target",
                );
            }
        }
    }
}
