//! Raw spec → `Env`: every rule of DESIGN.md's "Validation" section. Pure: no I/O. All errors
//! are collected, not just the first; each points at the line where the offending value was
//! written.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::input::layer::Merged;
use crate::input::schema::{self, display_path};
use crate::input::yaml::{Positions, escape};
use crate::model::names::{self, MAX_NAME, MAX_SERVER, POD_VOLUME_PREFIX, slug};
use crate::model::*;
use crate::spec::*;
use nodeport::{PortError, ServerKey};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

mod gitops;
mod images;
mod jobs;
mod network;
pub mod nodeport;
pub mod schedule;

pub use gitops::template_path_problem;

/// A valid environment, and the warnings found on the way.
#[derive(Debug)]
pub struct Checked {
    pub env: Env,
    pub warnings: Vec<Diagnostic>,
}

/// Schema-check and validate an environment merged from its files (`layer::merge`). Every
/// diagnostic names the file and line where the offending value was written.
pub fn validate(
    merged: &Merged,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Result<Checked, Vec<Diagnostic>> {
    let schema_errors = schema::check(&merged.value, &merged.positions);
    if !schema_errors.is_empty() {
        return Err(with_semantic_errors(merged, schema_errors, previous_ports));
    }
    let source = merged.positions.primary_file();
    let mut value = merged.value.clone();
    whole_numbers(&mut value);
    let raw = RawSpec::deserialize(&value).map_err(|e| {
        vec![
            Diagnostic::error(format!("the spec does not fit nbgen's model: {e}"))
                .in_file(source)
                .help("this is a bug in nbgen's schema; please report it with the spec"),
        ]
    })?;
    let mut cx = Cx {
        source,
        pos: &merged.positions,
        diags: Vec::new(),
    };
    let env = cx.env(&raw, &merged.env, previous_ports).map(|env| Env {
        bases: merged.bases(),
        ..env
    });
    let (errors, warnings): (Vec<_>, Vec<_>) = cx.diags.into_iter().partition(|d| d.is_error());
    match env {
        Some(env) if errors.is_empty() => Ok(Checked { env, warnings }),
        _ => Err(errors.into_iter().chain(warnings).collect()),
    }
}

/// All errors in one run: after schema errors, the semantic rules still run when the spec's shape
/// allows it — without the unknown keys, which are reported already. A semantic error where a
/// schema error already points is its echo and is dropped; so is the whole semantic pass when the
/// environment's name or cluster settings are wrong, since every derived name depends on them.
fn with_semantic_errors(
    merged: &Merged,
    schema_errors: Vec<Diagnostic>,
    previous_ports: &BTreeMap<ServerKey, u16>,
) -> Vec<Diagnostic> {
    let failures = schema::failures(&merged.value);
    let env_wide = |p: &String| p.is_empty() || p == "/name" || p.starts_with("/cluster");
    if failures.values.iter().any(env_wide) {
        return schema_errors;
    }
    let mut value = merged.value.clone();
    for pointer in failures.unknown_keys {
        if let Some((parent, key)) = pointer.rsplit_once('/')
            && let Some(serde_json::Value::Object(map)) = value.pointer_mut(parent)
        {
            map.remove(&key.replace("~1", "/").replace("~0", "~"));
        }
    }
    whole_numbers(&mut value);
    let Ok(raw) = RawSpec::deserialize(&value) else {
        return schema_errors; // the shape itself is wrong: the schema errors say how
    };
    let mut cx = Cx {
        source: merged.positions.primary_file(),
        pos: &merged.positions,
        diags: Vec::new(),
    };
    let _ = cx.env(&raw, &merged.env, previous_ports);
    let reported: BTreeSet<(Option<String>, Option<usize>)> = schema_errors
        .iter()
        .map(|d| (d.file.clone(), d.span.map(|s| s.line)))
        .collect();
    let echoes = |d: &Diagnostic| reported.contains(&(d.file.clone(), d.span.map(|s| s.line)));
    let semantic: Vec<Diagnostic> = cx
        .diags
        .into_iter()
        .filter(|d| d.is_error() && !echoes(d))
        .collect();
    schema_errors.into_iter().chain(semantic).collect()
}

/// The spec's integer fields, as JSON pointers (`*`: any key or index). Only these are touched
/// by [`whole_numbers`]: elsewhere (a job's `parameters`) `1.0` and `1` mean different things.
const INTEGER_FIELDS: [&str; 9] = [
    "/gpuPools/*/capacity",
    "/gpuPools/*/tolerations/*/tolerationSeconds",
    "/roles/*/gpu/count",
    "/teams/*/quota/gpu",
    "/teams/*/nodePorts/*",
    "/cluster/network/egress/*/ports/*",
    "/jobs/*/backoffLimit",
    "/jobs/*/activeDeadlineSeconds",
    "/jobs/*/ttlSecondsAfterFinished",
];

/// YAML's `4.0` passes the schema's `integer` (JSON Schema counts 4.0 as one) but not serde's
/// integer types: in the integer fields, write whole floats as integers before deserializing.
fn whole_numbers(value: &mut serde_json::Value) {
    fn walk(v: &mut serde_json::Value, pattern: &[&str]) {
        use serde_json::Value;
        let Some((first, rest)) = pattern.split_first() else {
            if let Value::Number(n) = v {
                let whole = n
                    .as_f64()
                    .filter(|f| n.is_f64() && f.fract() == 0.0)
                    .filter(|f| (i64::MIN as f64..i64::MAX as f64).contains(f));
                if let Some(f) = whole {
                    *n = (f as i64).into();
                }
            }
            return;
        };
        match v {
            Value::Object(map) if *first == "*" => map.values_mut().for_each(|c| walk(c, rest)),
            Value::Object(map) => {
                if let Some(c) = map.get_mut(*first) {
                    walk(c, rest);
                }
            }
            Value::Array(items) if *first == "*" => items.iter_mut().for_each(|c| walk(c, rest)),
            _ => {}
        }
    }
    for field in INTEGER_FIELDS {
        let pattern: Vec<&str> = field.split('/').skip(1).collect();
        walk(value, &pattern);
    }
}

/// Build a JSON pointer from segments.
fn ptr(segments: &[&str]) -> String {
    segments.iter().map(|s| format!("/{}", escape(s))).collect()
}

struct Cx<'a> {
    /// The environment's own spec file (display name).
    source: &'a str,
    /// Where each value was written, in whichever of the environment's files.
    pos: &'a Positions,
    diags: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn error(&mut self, at: &str, message: impl Into<String>, help: impl Into<String>) {
        let at = self.pos.value_at(at);
        self.diags
            .push(Diagnostic::error(message).at_loc(at).help(help));
    }

    fn error_at_key(&mut self, at: &str, message: impl Into<String>, help: impl Into<String>) {
        let at = self.pos.key_at(at);
        self.diags
            .push(Diagnostic::error(message).at_loc(at).help(help));
    }

    fn warn_at_key(&mut self, at: &str, message: impl Into<String>, help: impl Into<String>) {
        let at = self.pos.key_at(at);
        self.diags
            .push(Diagnostic::warning(message).at_loc(at).help(help));
    }

    fn env(
        &mut self,
        raw: &RawSpec,
        env_name: &str,
        previous_ports: &BTreeMap<ServerKey, u16>,
    ) -> Option<Env> {
        if raw.name != env_name {
            self.error(
                "/name",
                format!(
                    "the environment is named `{}` but its file is `{}`",
                    raw.name, self.source
                ),
                format!(
                    "set `name: {env_name}`, or rename the file to environments/{}.yaml",
                    raw.name
                ),
            );
        }
        let node_ports = self.node_port_range(&raw.cluster.node_port_range);
        let images = self.images(raw);
        let gpu_pools = self.gpu_pools(raw);
        let volumes = self.volumes(raw);
        let roles = self.roles(raw, &images, &gpu_pools, &volumes);
        let jobs = self.jobs(raw, &roles);
        let mut teams = self.teams(raw, &roles, &volumes, &jobs);
        self.check_job_collisions(&jobs, &teams);
        self.check_object_names(raw, &teams, &volumes);
        self.check_gpu_capacity(&teams, &jobs, &gpu_pools);
        self.check_shared_volumes(raw, &teams, &volumes);
        let argocd = self.argocd(raw, &teams);
        let extras = self.extras(raw);
        // Unused-name warnings after an error are mostly its echo (a misspelt reference leaves
        // the intended name "unused"): report them once the errors are fixed.
        if !self.diags.iter().any(Diagnostic::is_error) {
            self.warn_unused(raw, &teams, &jobs);
        }
        let network = self.network(&raw.cluster.network);
        let node_ports = node_ports?;
        if network.node_ports() {
            self.assign_ports(raw, &roles, node_ports, &mut teams, previous_ports);
        } else if let Some((team, _)) = raw.teams.iter().find(|(_, t)| !t.node_ports.is_empty()) {
            self.error_at_key(
                &ptr(&["teams", team, "nodePorts"]),
                format!("team `{team}` pins NodePorts, but the environment exposes no NodePorts"),
                "NodePort exposure is a choice: declare cluster.network.nodePort.clientCIDRs (who may connect), or remove the pins",
            );
        }
        Some(Env {
            name: raw.name.clone(),
            source: self.source.to_owned(),
            kubernetes_version: raw.cluster.kubernetes_version.clone(),
            node_ports,
            storage_class: raw.cluster.storage_class.clone(),
            gpu_pools,
            volumes,
            teams,
            jobs,
            bases: Vec::new(),
            argocd,
            extras,
            network,
        })
    }

    fn node_port_range(&mut self, text: &str) -> Option<(u16, u16)> {
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

    fn gpu_pools(&mut self, raw: &RawSpec) -> BTreeMap<String, GpuPool> {
        raw.gpu_pools
            .iter()
            .map(|(name, p)| {
                let pool = GpuPool {
                    name: name.clone(),
                    resource: p.resource.clone(),
                    capacity: p.capacity,
                    node_selector: p.node_selector.clone(),
                    tolerations: p
                        .tolerations
                        .iter()
                        .map(|t| Toleration {
                            key: t.key.clone(),
                            operator: t.operator.clone(),
                            value: t.value.clone(),
                            effect: t.effect.clone(),
                            toleration_seconds: t.toleration_seconds,
                        })
                        .collect(),
                };
                (name.clone(), pool)
            })
            .collect()
    }

    fn volumes(&mut self, raw: &RawSpec) -> BTreeMap<String, Volume> {
        let mut out = BTreeMap::new();
        for (name, v) in &raw.storage {
            let at = ptr(&["storage", name]);
            let pod_volume = names::pod_volume(name);
            if pod_volume.len() > MAX_NAME {
                self.error_at_key(
                    &at,
                    format!(
                        "volume `{name}` is mounted as pod volume `{pod_volume}`, {} characters; Kubernetes allows {MAX_NAME}",
                        pod_volume.len()
                    ),
                    format!("shorten the volume name to {} characters", MAX_NAME - POD_VOLUME_PREFIX.len()),
                );
            }
            let size = self.quantity(&format!("{at}/size"), &v.size, Unit::Bytes);
            let backend = match (&v.nfs, &v.storage_class) {
                (Some(nfs), None) => {
                    if !nfs.path.starts_with('/') {
                        self.error(
                            &format!("{at}/nfs/path"),
                            format!(
                                "storage.{name}.nfs.path `{}` is not an absolute path",
                                nfs.path
                            ),
                            "write the export path as the NFS server shows it, starting with /",
                        );
                    }
                    Some(VolumeBackend::Nfs {
                        server: nfs.server.clone(),
                        path: nfs.path.clone(),
                    })
                }
                (None, Some(class)) => Some(VolumeBackend::StorageClass(class.clone())),
                _ => {
                    self.error_at_key(
                        &at,
                        format!("storage.{name} needs exactly one of `nfs` or `storageClass`"),
                        "use nfs: {server, path} for a volume several teams share, or storageClass: <class> for one team's dynamic volume",
                    );
                    None
                }
            };
            if let (Some(size), Some(backend)) = (size, backend) {
                out.insert(
                    name.clone(),
                    Volume {
                        name: name.clone(),
                        size,
                        backend,
                    },
                );
            }
        }
        out
    }

    fn roles(
        &mut self,
        raw: &RawSpec,
        images: &BTreeMap<String, Image>,
        pools: &BTreeMap<String, GpuPool>,
        volumes: &BTreeMap<String, Volume>,
    ) -> BTreeMap<String, ResolvedRole> {
        let mut out = BTreeMap::new();
        for (name, r) in &raw.roles {
            let at = ptr(&["roles", name]);
            let image = match images.get(&r.image) {
                Some(i) => Some(i.clone()),
                // Defined but invalid: already reported.
                None if raw.images.contains_key(&r.image) => None,
                None => {
                    self.unresolved(
                        &format!("{at}/image"),
                        &format!("role `{name}`"),
                        "image",
                        &r.image,
                        raw.images.keys(),
                        "images",
                    );
                    None
                }
            };
            let cpu = self.quantity(&format!("{at}/cpu"), &r.cpu, Unit::Cpu);
            let memory = self.quantity(&format!("{at}/memory"), &r.memory, Unit::Bytes);
            let home_size = match &r.home_size {
                Some(q) => self.quantity(&format!("{at}/homeSize"), q, Unit::Bytes),
                None => Some(Quantity {
                    text: "10Gi".to_owned(),
                    value: 10 * (1 << 30) * 1000,
                }),
            };
            let gpu = match &r.gpu {
                None => Some(None),
                Some(g) => match pools.get(&g.pool) {
                    Some(p) => Some(Some(GpuUse {
                        pool: p.name.clone(),
                        resource: p.resource.clone(),
                        count: g.count,
                    })),
                    None => {
                        self.unresolved(
                            &format!("{at}/gpu/pool"),
                            &format!("role `{name}`"),
                            "GPU pool",
                            &g.pool,
                            raw.gpu_pools.keys(),
                            "gpuPools",
                        );
                        None
                    }
                },
            };
            let shm_size = match (&memory, &r.shm_size) {
                (Some(memory), Some(q)) => self
                    .quantity(&format!("{at}/shmSize"), q, Unit::Bytes)
                    .filter(|shm| self.shm_fits(&at, name, shm, memory)),
                (Some(memory), None) => Some(default_shm(memory, r.gpu.is_some())),
                (None, _) => None,
            };
            let mut mounts = Vec::new();
            for (vol, mode) in &r.mounts {
                if volumes.contains_key(vol) {
                    mounts.push((vol.clone(), *mode == MountMode::ReadOnly));
                } else if !raw.storage.contains_key(vol) {
                    let at = format!("{at}/mounts/{}", escape(vol));
                    let help = match did_you_mean(vol, raw.storage.keys().map(String::as_str)) {
                        Some(c) => format!(
                            "did you mean `{c}`? Shared volumes are defined under `storage:`"
                        ),
                        None => format!(
                            "define it under `storage:` ({})",
                            defined(raw.storage.keys())
                        ),
                    };
                    self.error_at_key(
                        &at,
                        format!("role `{name}` mounts undefined volume `{vol}`"),
                        help,
                    );
                }
            }
            if let (
                Some(image),
                Some(cpu),
                Some(memory),
                Some(shm_size),
                Some(home_size),
                Some(gpu),
            ) = (image, cpu, memory, shm_size, home_size, gpu)
            {
                out.insert(
                    name.clone(),
                    ResolvedRole {
                        image,
                        cpu,
                        memory,
                        shm_size,
                        home_size,
                        gpu,
                        mounts,
                    },
                );
            }
        }
        out
    }

    /// /dev/shm is memory-backed: what is written there counts against the container's memory
    /// limit, so it may take at most half of it.
    fn shm_fits(&mut self, at: &str, role: &str, shm: &Quantity, memory: &Quantity) -> bool {
        if shm.value.saturating_mul(2) <= memory.value {
            return true;
        }
        let half = memory.value / 2000 * 1000;
        let needed = shm.value.saturating_mul(2);
        self.error(
            &format!("{at}/shmSize"),
            format!(
                "role `{role}` asks for shmSize {}, more than half of its memory {}",
                shm.text, memory.text
            ),
            format!(
                "/dev/shm is memory: what processes write there counts against the container's {} limit; set shmSize to at most {}, or memory to at least {}",
                memory.text,
                bytes_text(half),
                bytes_text(needed)
            ),
        );
        false
    }

    fn teams(
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
                ) && pv.len() > MAX_NAME
                {
                    self.error_at_key(
                        &at,
                        format!(
                            "the PersistentVolume for team `{name}`'s use of `{vol}` would be named `{pv}`, {} characters; Kubernetes allows {MAX_NAME}",
                            pv.len()
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
            let mut members = t.members.clone();
            members.sort();
            let mut groups = t.groups.clone();
            groups.sort();
            out.push(Team {
                name: name.clone(),
                namespace,
                members,
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
    fn slugs(&mut self, team_at: &str, members: &[String]) -> Vec<(String, String)> {
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
    fn quota(
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
                    milli_text(cpu_used),
                    cap.text
                ),
                format!(
                    "raise quota.cpu to at least {}, or give the team fewer or smaller {who} ({})",
                    milli_text(cpu_used),
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
                    bytes_text(memory_used),
                    cap.text
                ),
                format!("raise quota.memory to at least {}, or give the team fewer or smaller {who} ({})", bytes_text(memory_used), usage_list(servers, jobs, |s| &s.memory, |j| &j.memory)),
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
            cpu: Some(cpu.unwrap_or_else(|| derived(cpu_used, milli_text))),
            memory: Some(memory.unwrap_or_else(|| derived(memory_used, bytes_text))),
            gpu,
            pods: u32::try_from(servers.len() + jobs.len()).unwrap_or(u32::MAX),
            claims: u32::try_from(servers.len() + claims).unwrap_or(u32::MAX),
        })
    }

    /// Names nbgen derives must not collide: two objects with one name would be one file (and
    /// one object in the cluster), the second silently replacing the first.
    fn check_object_names(
        &mut self,
        raw: &RawSpec,
        teams: &[Team],
        volumes: &BTreeMap<String, Volume>,
    ) {
        // PersistentVolumes are cluster-wide and named <env>-<team>-<volume>.
        let mut pvs: BTreeMap<String, (&str, &str)> = BTreeMap::new();
        for t in teams {
            for c in &t.claims {
                let nfs = matches!(
                    volumes.get(&c.volume).map(|v| &v.backend),
                    Some(VolumeBackend::Nfs { .. })
                );
                if !nfs {
                    continue;
                }
                let pv = names::persistent_volume(&raw.name, &t.name, &c.volume);
                match pvs.get(&pv) {
                    Some((first_team, first_volume)) => self.error_at_key(
                        &ptr(&["teams", &t.name]),
                        format!(
                            "team `{}`'s use of volume `{}` and team `{first_team}`'s use of volume `{first_volume}` would both be the PersistentVolume `{pv}`",
                            t.name, c.volume
                        ),
                        "PersistentVolumes are named <environment>-<team>-<volume>, and the '-' in these names makes the two alike: rename a team or a volume",
                    ),
                    None => {
                        pvs.insert(pv, (&t.name, &c.volume));
                    }
                }
            }
        }
        for t in teams {
            // Servers are <role> or <role>-<member>; a role name with '-' can make two alike.
            let mut seen: BTreeMap<&str, &Server> = BTreeMap::new();
            for s in &t.servers {
                let Some(first) = seen.insert(&s.name, s) else {
                    continue;
                };
                let who = |s: &Server| match &s.member {
                    Some(m) => format!("role `{}` for `{m}`", s.role),
                    None => format!("role `{}`", s.role),
                };
                self.error(
                    &ptr(&["teams", &t.name, "roles"]),
                    format!(
                        "team `{}` would have two servers named `{}`: {} and {}",
                        t.name,
                        s.name,
                        who(first),
                        who(s)
                    ),
                    "servers are named <role>-<part of the e-mail before @>: rename one of the roles",
                );
            }
            // A server's home claim `<server>-home` and a shared volume's claim `<volume>`
            // live in the same namespace.
            for s in &t.servers {
                let home = names::home_claim(&s.name);
                if t.claims.iter().any(|c| c.volume == home) {
                    self.error_at_key(
                        &ptr(&["storage", &home]),
                        format!(
                            "volume `{home}` and the home volume of server `{}` in team `{}` would both be the PersistentVolumeClaim `{home}`",
                            s.name, t.name
                        ),
                        "names ending in -home are taken by servers' home volumes: rename the shared volume",
                    );
                }
            }
        }
    }

    /// Jobs count as if always running (docs/jobs.md): the pool must hold every server and job.
    fn check_gpu_capacity(
        &mut self,
        teams: &[Team],
        jobs: &[Job],
        pools: &BTreeMap<String, GpuPool>,
    ) {
        for pool in pools.values() {
            let on_pool =
                |g: &Option<GpuUse>| g.as_ref().filter(|g| g.pool == pool.name).map(|g| g.count);
            let mut users: Vec<String> = teams
                .iter()
                .flat_map(|t| {
                    t.servers.iter().filter_map(move |s| {
                        on_pool(&s.gpu).map(|n| format!("{}/{} ({n})", t.name, s.name))
                    })
                })
                .collect();
            users.extend(jobs.iter().filter_map(|j| {
                on_pool(&j.gpu).map(|n| format!("{}/{} (job, {n})", j.team, j.name))
            }));
            let used: u64 = teams
                .iter()
                .flat_map(|t| &t.servers)
                .filter_map(|s| on_pool(&s.gpu))
                .chain(jobs.iter().filter_map(|j| on_pool(&j.gpu)))
                .map(u64::from)
                .sum();
            let has_jobs = jobs.iter().any(|j| on_pool(&j.gpu).is_some());
            if used > u64::from(pool.capacity) {
                self.error(
                    &ptr(&["gpuPools", &pool.name, "capacity"]),
                    format!(
                        "GPU pool `{}` is over capacity: its {} ask for {used} GPUs, it has {}",
                        pool.name,
                        if has_jobs { "servers and jobs" } else { "servers" },
                        pool.capacity
                    ),
                    format!(
                        "raise the capacity if the pool really has more GPUs, or lower the roles' gpu.count; {} on this pool: {}",
                        if has_jobs { "servers and jobs (a job counts as if always running)" } else { "servers" },
                        users.join(", ")
                    ),
                );
            }
        }
    }

    fn check_shared_volumes(
        &mut self,
        raw: &RawSpec,
        teams: &[Team],
        volumes: &BTreeMap<String, Volume>,
    ) {
        // After an error, "nobody writes it" is mostly its echo: the writing role or its team
        // failed to resolve. Like the unused-name warnings, it waits until the errors are fixed.
        let after_errors = self.diags.iter().any(Diagnostic::is_error);
        for v in volumes.values() {
            let users: Vec<&str> = teams
                .iter()
                .filter(|t| t.claims.iter().any(|c| c.volume == v.name))
                .map(|t| t.name.as_str())
                .collect();
            if users.len() > 1 && matches!(v.backend, VolumeBackend::StorageClass(_)) {
                self.error(
                    &ptr(&["storage", &v.name, "storageClass"]),
                    format!(
                        "volume `{}` is used by {} teams ({}) but has a dynamic backend",
                        v.name,
                        users.len(),
                        users.join(", ")
                    ),
                    "a dynamically provisioned claim belongs to one namespace; give the volume a static backend (nfs: {server, path}) so each team gets its own PersistentVolume onto the same data",
                );
            }
            let writers = teams
                .iter()
                .flat_map(|t| &t.claims)
                .any(|c| c.volume == v.name && c.writable);
            if !users.is_empty() && !writers && !after_errors {
                self.warn_at_key(
                    &ptr(&["storage", &v.name]),
                    format!("shared volume `{}` is mounted read-only everywhere: nobody writes it", v.name),
                    "that is fine if something outside this environment fills it; otherwise give a role `readWrite`",
                );
            }
        }
        let _ = raw;
    }

    fn warn_unused(&mut self, raw: &RawSpec, teams: &[Team], jobs: &[Job]) {
        let used_roles: BTreeSet<&str> = raw
            .teams
            .values()
            .flat_map(|t| t.roles.iter().map(String::as_str))
            .collect();
        for name in raw.roles.keys() {
            if !used_roles.contains(name.as_str()) {
                self.warn_at_key(
                    &ptr(&["roles", name]),
                    format!("role `{name}` is not used by any team"),
                    "add it to a team's roles, or remove it",
                );
            }
        }
        let used_images: BTreeSet<&str> = raw.roles.values().map(|r| r.image.as_str()).collect();
        for name in raw.images.keys() {
            if !used_images.contains(name.as_str()) {
                self.warn_at_key(
                    &ptr(&["images", name]),
                    format!("image `{name}` is not used by any role"),
                    "use it in a role, or remove it",
                );
            }
        }
        let used_pools: BTreeSet<&str> = teams
            .iter()
            .flat_map(|t| &t.servers)
            .filter_map(|s| s.gpu.as_ref())
            .chain(jobs.iter().filter_map(|j| j.gpu.as_ref()))
            .map(|g| g.pool.as_str())
            .collect();
        for name in raw.gpu_pools.keys() {
            if !used_pools.contains(name.as_str()) {
                self.warn_at_key(
                    &ptr(&["gpuPools", name]),
                    format!("GPU pool `{name}` is not used by any server"),
                    "reference it from a role's gpu.pool, or remove it",
                );
            }
        }
        let used_volumes: BTreeSet<&str> = teams
            .iter()
            .flat_map(|t| &t.claims)
            .map(|c| c.volume.as_str())
            .collect();
        for name in raw.storage.keys() {
            if !used_volumes.contains(name.as_str()) {
                self.warn_at_key(
                    &ptr(&["storage", name]),
                    format!("volume `{name}` is not mounted by any server"),
                    "mount it from a role's mounts, or remove it",
                );
            }
        }
    }

    fn assign_ports(
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

    fn unresolved<'k>(
        &mut self,
        at: &str,
        subject: &str,
        what: &str,
        name: &str,
        defined_names: impl Iterator<Item = &'k String> + Clone,
        section: &str,
    ) {
        let help = match did_you_mean(name, defined_names.clone().map(String::as_str)) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!("define it under `{section}:` ({})", defined(defined_names)),
        };
        self.error(
            at,
            format!("{subject} uses undefined {what} `{name}`"),
            help,
        );
    }

    fn quantity(&mut self, at: &str, raw: &RawQuantity, unit: Unit) -> Option<Quantity> {
        let text = raw.0.trim();
        match Quantity::milli(text) {
            Some(v) if v > 0 && !text.contains(char::is_whitespace) => Some(Quantity {
                text: text.to_owned(),
                value: v,
            }),
            Some(_) => {
                self.error(
                    at,
                    format!(
                        "{} must be more than zero, found `{text}`",
                        display_path(at)
                    ),
                    unit.example(),
                );
                None
            }
            None => {
                self.error(
                    at,
                    format!(
                        "{} is not a Kubernetes quantity: `{text}`",
                        display_path(at)
                    ),
                    unit.example(),
                );
                None
            }
        }
    }
}

/// A role with its references resolved; copied into each of its servers.
struct ResolvedRole {
    image: Image,
    cpu: Quantity,
    memory: Quantity,
    shm_size: Quantity,
    home_size: Quantity,
    gpu: Option<GpuUse>,
    mounts: Vec<(String, bool)>,
}

#[derive(Clone, Copy)]
enum Unit {
    Cpu,
    Bytes,
}

impl Unit {
    fn example(self) -> &'static str {
        match self {
            Unit::Cpu => "write CPU as cores (\"2\", \"0.5\") or millicores (\"500m\")",
            Unit::Bytes => {
                "write sizes with a binary suffix, no space: \"512Mi\", \"8Gi\", \"1Ti\""
            }
        }
    }
}

/// /dev/shm when a role does not say: 1Gi with a GPU (data loaders share batches through it),
/// 256Mi without; never more than half the role's memory.
pub const DEFAULT_SHM_GPU: &str = "1Gi";
pub const DEFAULT_SHM: &str = "256Mi";

fn default_shm(memory: &Quantity, gpu: bool) -> Quantity {
    let (text, mib) = if gpu {
        (DEFAULT_SHM_GPU, 1024)
    } else {
        (DEFAULT_SHM, 256)
    };
    let value: i128 = mib * (1 << 20) * 1000;
    let half = memory.value / 2000 * 1000;
    if value <= half {
        Quantity {
            text: text.to_owned(),
            value,
        }
    } else {
        Quantity {
            text: bytes_text(half),
            value: half,
        }
    }
}

fn defined<'k>(names: impl Iterator<Item = &'k String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none are defined yet".to_owned()
    } else {
        format!("defined: {}", names.join(", "))
    }
}

/// CPU in milli-cores, as Kubernetes would write it.
fn milli_text(milli: i128) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

fn bytes_text(milli: i128) -> String {
    let b = milli / 1000;
    const GI: i128 = 1 << 30;
    const MI: i128 = 1 << 20;
    if b % GI == 0 {
        format!("{}Gi", b / GI)
    } else if b % MI == 0 {
        format!("{}Mi", b / MI)
    } else {
        b.to_string()
    }
}

/// Quantities are in milli-units and may be huge: a sum that does not fit saturates (and is
/// then over any quota) rather than overflowing.
fn saturating_sum(values: impl Iterator<Item = i128>) -> i128 {
    values.fold(0, i128::saturating_add)
}

/// `prep-alice 2, job nightly-features 2`: what each server and job asks for.
fn usage_list(
    servers: &[Server],
    jobs: &[&Job],
    server: impl Fn(&Server) -> &Quantity,
    job: impl Fn(&Job) -> &Quantity,
) -> String {
    servers
        .iter()
        .map(|s| format!("{} {}", s.name, server(s).text))
        .chain(
            jobs.iter()
                .map(|j| format!("job {} {}", j.name, job(j).text)),
        )
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_become_integers_only_in_integer_fields() {
        let mut v = serde_json::json!({
            "gpuPools": {"a": {"capacity": 4.0, "tolerations": [{"tolerationSeconds": 30.0}]}},
            "teams": {"t": {"nodePorts": {"x": 30080.0}, "quota": {"gpu": 2.0, "cpu": 2.0}}},
            "jobs": {"j": {"backoffLimit": 1.0, "parameters": {"count": 1.0}}},
        });
        whole_numbers(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "gpuPools": {"a": {"capacity": 4, "tolerations": [{"tolerationSeconds": 30}]}},
                "teams": {"t": {"nodePorts": {"x": 30080}, "quota": {"gpu": 2, "cpu": 2.0}}},
                "jobs": {"j": {"backoffLimit": 1, "parameters": {"count": 1.0}}},
            })
        );
    }

    #[test]
    fn quantities_print_readably() {
        assert_eq!(milli_text(34_000), "34");
        assert_eq!(milli_text(2_500), "2500m");
        assert_eq!(bytes_text(8 * (1 << 30) * 1000), "8Gi");
    }

    #[test]
    fn default_shm_is_at_most_half_the_memory() {
        let q = |text: &str| Quantity {
            text: text.to_owned(),
            value: Quantity::milli(text).unwrap(),
        };
        assert_eq!(default_shm(&q("64Gi"), true).text, "1Gi");
        assert_eq!(default_shm(&q("8Gi"), false).text, "256Mi");
        assert_eq!(default_shm(&q("1Gi"), true).text, "512Mi");
        assert_eq!(default_shm(&q("300Mi"), false).text, "150Mi");
        assert_eq!(default_shm(&q("1G"), false).value, 256 * (1 << 20) * 1000);
        assert_eq!(default_shm(&q("1001"), false).text, "500");
    }
}
