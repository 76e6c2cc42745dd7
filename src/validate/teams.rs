//! `teams:` → `model::Team`s: namespaces, one server per role (or per role and member), shared
//! claims, and the ResourceQuota each team gets. Pure.

use super::*;

impl Cx<'_> {
    pub(super) fn teams(
        &mut self,
        raw: &RawSpec,
        roles: &BTreeMap<String, ResolvedRole>,
        volumes: &BTreeMap<String, Volume>,
        jobs: &[Job],
    ) -> Vec<Team> {
        let prefix = &raw.cluster.namespace_prefix;
        let mut out = Vec::new();
        for (name, t) in &raw.teams {
            let at = ptr(&["teams", name]);
            let namespace = names::namespace(prefix, name);
            if namespace.len() > MAX_NAME {
                self.error_at_key(
                    &at,
                    format!(
                        "team `{name}` becomes namespace `{namespace}`, {} characters; Kubernetes allows {MAX_NAME}",
                        namespace.len()
                    ),
                    "shorten the team name or cluster.namespacePrefix",
                );
            }
            if t.per_member && t.members.is_empty() {
                self.error(
                    &format!("{at}/perMember"),
                    format!("team `{name}` has perMember: true but no members"),
                    "list the members who get a server each, or set perMember: false",
                );
            }
            for (i, member) in t.members.iter().enumerate() {
                let lower = member.to_lowercase();
                if member.contains('@') && lower != *member {
                    let loc = self.pos.value_at(&format!("{at}/members/{i}"));
                    self.diags.push(
                        Diagnostic::warning(format!(
                            "member `{member}` of team `{name}` has capital letters: Kubernetes compares user names exactly"
                        ))
                        .at_loc(loc)
                        .help(format!(
                            "identity providers usually send e-mail addresses in lower case (OIDC `email` claims): write `{lower}`, unless yours sends exactly `{member}`"
                        )),
                    );
                }
            }
            if t.members.is_empty() && t.groups.is_empty() {
                self.warn_at_key(
                    &at,
                    format!("team `{name}` has no members or groups: nobody may use its servers"),
                    "add members (Kubernetes users) or groups",
                );
            }
            // Servers: one per role, or one per (role, member).
            let slugs = if t.per_member {
                self.slugs(&at, &t.members)
            } else {
                Vec::new()
            };
            let mut servers = Vec::new();
            for (i, role_name) in t.roles.iter().enumerate() {
                let role_at = format!("{at}/roles/{i}");
                let Some(role) = roles.get(role_name) else {
                    if !raw.roles.contains_key(role_name) {
                        self.unresolved(
                            &role_at,
                            &format!("team `{name}`"),
                            "role",
                            role_name,
                            raw.roles.keys(),
                            "roles",
                        );
                    }
                    continue;
                };
                let names: Vec<(String, Option<String>)> = if t.per_member {
                    slugs
                        .iter()
                        .map(|(member, slug)| {
                            (names::server(role_name, Some(slug)), Some(member.clone()))
                        })
                        .collect()
                } else {
                    vec![(names::server(role_name, None), None)]
                };
                for (server, member) in names {
                    if server.len() > MAX_SERVER {
                        self.error(
                            &role_at,
                            format!(
                                "server `{server}` in team `{name}` is too long: {} characters; a notebook server's StatefulSet name may have {MAX_SERVER}",
                                server.len()
                            ),
                            format!(
                                "the StatefulSet controller labels each revision `<name>-<10-character hash>`, and labels hold 63 characters: shorten the role name{}",
                                if t.per_member { " or the member's e-mail local part" } else { "" }
                            ),
                        );
                        continue;
                    }
                    servers.push(Server {
                        name: server,
                        role: role_name.clone(),
                        member,
                        image: role.image.clone(),
                        cpu: role.cpu.clone(),
                        memory: role.memory.clone(),
                        shm_size: role.shm_size.clone(),
                        home_size: role.home_size.clone(),
                        gpu: role.gpu.clone(),
                        mounts: role.mounts.clone(),
                        node_port: None,
                    });
                }
            }
            servers.sort_by(|a, b| a.name.cmp(&b.name));

            let mut claims: BTreeMap<String, bool> = BTreeMap::new();
            for s in &servers {
                for (vol, read_only) in &s.mounts {
                    *claims.entry(vol.clone()).or_default() |= !read_only;
                }
            }
            for vol in claims.keys() {
                let pv = names::persistent_volume(&raw.name, name, vol);
                if matches!(
                    volumes.get(vol).map(|v| &v.backend),
                    Some(VolumeBackend::Nfs { .. })
                ) && pv.len() > names::MAX_SUBDOMAIN
                {
                    self.error_at_key(
                        &at,
                        format!(
                            "the PersistentVolume for team `{name}`'s use of `{vol}` would be named `{pv}`, {} characters; Kubernetes allows {}",
                            pv.len(),
                            names::MAX_SUBDOMAIN
                        ),
                        "PersistentVolumes are named <environment>-<team>-<volume>: shorten one of them",
                    );
                }
            }
            let team_jobs: Vec<&Job> = jobs.iter().filter(|j| &j.team == name).collect();
            let quota = self.quota(
                &at,
                name,
                t.quota.as_ref(),
                &servers,
                &team_jobs,
                claims.len(),
            );
            let owner = t.members.first().cloned();
            let mut members = t.members.clone();
            members.sort();
            let mut groups = t.groups.clone();
            groups.sort();
            out.push(Team {
                name: name.clone(),
                namespace,
                members,
                owner,
                per_member: t.per_member,
                groups,
                quota,
                claims: claims
                    .into_iter()
                    .map(|(volume, writable)| Claim { volume, writable })
                    .collect(),
                servers,
            });
        }
        out
    }

    /// Member → server-name slug; slugs that collide are an error naming both members.
    pub(super) fn slugs(&mut self, team_at: &str, members: &[String]) -> Vec<(String, String)> {
        let mut seen: BTreeMap<String, &String> = BTreeMap::new();
        let mut out = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let at = format!("{team_at}/members/{i}");
            let slug = slug(member);
            if slug.is_empty() {
                self.error(
                    &at,
                    format!("member `{member}` gives an empty server name"),
                    "the part of the e-mail before @ must contain letters or digits",
                );
                continue;
            }
            if let Some(first) = seen.get(&slug) {
                self.error(
                    &at,
                    format!("members `{first}` and `{member}` both become server name suffix `{slug}`"),
                    "perMember servers are named <role>-<part of the e-mail before @>; these two collide. Give one a distinct address, or use perMember: false",
                );
                continue;
            }
            seen.insert(slug.clone(), member);
            out.push((member.clone(), slug));
        }
        out.sort();
        out
    }

    /// The team's ResourceQuota: what the spec writes, and for whatever it leaves out, what the
    /// team's servers and jobs need (jobs count as if always running: docs/jobs.md). Every team
    /// gets one, so no team can take more than the reviewed spec gives it.
    pub(super) fn quota(
        &mut self,
        team_at: &str,
        team: &str,
        q: Option<&RawQuota>,
        servers: &[Server],
        jobs: &[&Job],
        claims: usize,
    ) -> Option<Quota> {
        let at = format!("{team_at}/quota");
        let who = if jobs.is_empty() {
            "servers"
        } else {
            "servers and jobs"
        };
        let cpu = match q.and_then(|q| q.cpu.as_ref()) {
            Some(c) => Some(self.quantity(&format!("{at}/cpu"), c, Unit::Cpu)?),
            None => None,
        };
        let memory = match q.and_then(|q| q.memory.as_ref()) {
            Some(m) => Some(self.quantity(&format!("{at}/memory"), m, Unit::Bytes)?),
            None => None,
        };
        let cpu_used = saturating_sum(
            servers
                .iter()
                .map(|s| s.cpu.value)
                .chain(jobs.iter().map(|j| j.cpu.value)),
        );
        let memory_used = saturating_sum(
            servers
                .iter()
                .map(|s| s.memory.value)
                .chain(jobs.iter().map(|j| j.memory.value)),
        );
        if let Some(cap) = &cpu
            && cpu_used > cap.value
        {
            self.error(
                &format!("{at}/cpu"),
                format!(
                    "team `{team}`'s {who} request {} CPU, over its quota of {}",
                    Quantity::cpu_text(cpu_used),
                    cap.text
                ),
                format!(
                    "raise quota.cpu to at least {}, or give the team fewer or smaller {who} ({})",
                    Quantity::cpu_text(cpu_used),
                    usage_list(servers, jobs, |s| &s.cpu, |j| &j.cpu)
                ),
            );
        }
        if let Some(cap) = &memory
            && memory_used > cap.value
        {
            self.error(
                &format!("{at}/memory"),
                format!(
                    "team `{team}`'s {who} request {} of memory, over its quota of {}",
                    Quantity::bytes_text(memory_used),
                    cap.text
                ),
                format!("raise quota.memory to at least {}, or give the team fewer or smaller {who} ({})", Quantity::bytes_text(memory_used), usage_list(servers, jobs, |s| &s.memory, |j| &j.memory)),
            );
        }
        let mut per_resource: BTreeMap<&str, u64> = BTreeMap::new();
        let gpus = servers
            .iter()
            .filter_map(|s| s.gpu.as_ref())
            .chain(jobs.iter().filter_map(|j| j.gpu.as_ref()));
        for g in gpus {
            *per_resource.entry(&g.resource).or_default() += u64::from(g.count);
        }
        let written_gpu = q.and_then(|q| q.gpu);
        let mut gpu = Vec::new();
        for (resource, used) in &per_resource {
            match written_gpu {
                Some(cap) => {
                    if *used > u64::from(cap) {
                        self.error(
                            &format!("{at}/gpu"),
                            format!("team `{team}`'s {who} request {used} {resource}, over its quota of {cap}"),
                            if jobs.is_empty() {
                                format!("raise quota.gpu to at least {used}, or give the team fewer GPU servers")
                            } else {
                                format!("raise quota.gpu to at least {used}, or give the team fewer GPU servers or jobs (a job counts as if always running)")
                            },
                        );
                    }
                    gpu.push(((*resource).to_owned(), cap));
                }
                None => gpu.push((
                    (*resource).to_owned(),
                    u32::try_from(*used).unwrap_or(u32::MAX),
                )),
            }
        }
        let derived = |milli: i128, text: fn(i128) -> String| Quantity {
            text: text(milli),
            value: milli,
        };
        Some(Quota {
            cpu: Some(cpu.unwrap_or_else(|| derived(cpu_used, Quantity::cpu_text))),
            memory: Some(memory.unwrap_or_else(|| derived(memory_used, Quantity::bytes_text))),
            gpu,
            pods: u32::try_from(servers.len() + jobs.len()).unwrap_or(u32::MAX),
            claims: u32::try_from(servers.len() + claims).unwrap_or(u32::MAX),
        })
    }
}
