//! `cluster.nodePortRange` and each team's `nodePorts` pins → every server's NodePort (the
//! assignment itself is `nodeport.rs`'s), with a warning for each port that moves. Pure.

use super::*;

impl Cx<'_> {
    pub(super) fn node_port_range(&mut self, text: &str) -> Option<(u16, u16)> {
        let parsed = text
            .split_once('-')
            .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
            .filter(|(a, b)| 0 < *a && a <= b);
        if parsed.is_none() {
            self.error(
                "/cluster/nodePortRange",
                format!("cluster.nodePortRange `{text}` is not a port range"),
                "write it as LOW-HIGH with 1 <= LOW <= HIGH <= 65535, matching the API server's --service-node-port-range (default 30000-32767)",
            );
        }
        parsed
    }

    pub(super) fn assign_ports(
        &mut self,
        raw: &RawSpec,
        roles: &BTreeMap<String, ResolvedRole>,
        range: (u16, u16),
        teams: &mut [Team],
        previous: &BTreeMap<ServerKey, u16>,
    ) {
        let servers: BTreeSet<ServerKey> = teams
            .iter()
            .flat_map(|t| {
                t.servers
                    .iter()
                    .map(move |s| (t.name.clone(), s.name.clone()))
            })
            .collect();
        let mut pins = BTreeMap::new();
        for t in teams.iter() {
            let Some(rt) = raw.teams.get(&t.name) else {
                continue;
            };
            let all_roles_resolved = rt.roles.iter().all(|r| roles.contains_key(r));
            // The servers the team's roles and members name, including those dropped for an
            // error of their own (a name too long, two members with one slug).
            let intended: BTreeSet<String> = rt
                .roles
                .iter()
                .flat_map(|role| {
                    if rt.per_member {
                        rt.members
                            .iter()
                            .map(|m| names::server(role, Some(&slug(m))))
                            .collect()
                    } else {
                        vec![names::server(role, None)]
                    }
                })
                .collect();
            for (server, port) in &rt.node_ports {
                if t.servers.iter().any(|s| &s.name == server) {
                    pins.insert((t.name.clone(), server.clone()), *port);
                } else if all_roles_resolved && !intended.contains(server) {
                    // (Otherwise the server is missing because of an error already reported.)
                    let names: Vec<&str> = intended.iter().map(String::as_str).collect();
                    let help = match did_you_mean(server, names.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => format!(
                            "nodePorts are keyed by server name; team `{}` has: {}",
                            t.name,
                            names.join(", ")
                        ),
                    };
                    self.error_at_key(
                        &ptr(&["teams", &t.name, "nodePorts", server]),
                        format!(
                            "team `{}` pins a NodePort for unknown server `{server}`",
                            t.name
                        ),
                        help,
                    );
                }
            }
        }
        let pin_at = |k: &ServerKey| ptr(&["teams", &k.0, "nodePorts", &k.1]);
        match nodeport::assign(range, &servers, &pins, previous) {
            Ok(assignment) => {
                for t in teams.iter_mut() {
                    for s in &mut t.servers {
                        s.node_port = Some(assignment.ports[&(t.name.clone(), s.name.clone())]);
                    }
                }
                for m in assignment.moved {
                    let loc = self.pos.key_at(&ptr(&["teams", &m.server.0]));
                    self.diags.push(
                        Diagnostic::warning(format!(
                            "NodePort of {}/{} moves from {} to {}: {}",
                            m.server.0, m.server.1, m.from, m.to, m.why
                        ))
                        .at_loc(loc)
                        .help("users who bookmarked the old port must update it; pin ports under the team's nodePorts to control them"),
                    );
                }
            }
            Err(errors) => {
                for e in errors {
                    match e {
                        PortError::PinOutOfRange { server, port } => self.error(
                            &pin_at(&server),
                            format!("NodePort {port} for {}/{} is outside cluster.nodePortRange {}-{}", server.0, server.1, range.0, range.1),
                            "pick a port inside the range, or widen the range (it must match the API server's --service-node-port-range)",
                        ),
                        PortError::PinTaken { server, other, port } => self.error(
                            &pin_at(&server),
                            format!("NodePort {port} for {}/{} is already pinned by {}/{}", server.0, server.1, other.0, other.1),
                            "every server needs its own NodePort; pick another one",
                        ),
                        PortError::Exhausted { needed, available } => self.error(
                            "/cluster/nodePortRange",
                            format!(
                                "the NodePort range is exhausted: {needed} notebook servers need a port each, cluster.nodePortRange {}-{} has {available}",
                                range.0, range.1
                            ),
                            "widen cluster.nodePortRange (and the API server's --service-node-port-range to match), or render fewer servers",
                        ),
                    }
                }
            }
        }
    }
}
