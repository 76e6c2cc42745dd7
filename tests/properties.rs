//! Properties of rendering over generated valid specs (random teams, roles, members, perMember,
//! shared volumes, GPU pools, quotas and pins, always within valid bounds):
//! - rendering is deterministic, whatever order the spec lists its teams in;
//! - both hold for the kubeflow target too (Profiles per team or per member, Notebooks);
//! - adding or removing one team changes no file of any other team and moves no other server's
//!   NodePort (through the real write path: the second render reads the first one's ports);
//! - a spec that fails validation leaves `out/` untouched (through the `nbgen` binary).

use nbgen::emit::Tree;
use nbgen::project::Project;
use nbgen::source::SourceFile;
use proptest::prelude::*;
use proptest::sample::subsequence;
use proptest::test_runner::FileFailurePersistence;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

const ENV: &str = "gen";
const SPEC_PATH: &str = "environments/gen.yaml";
const TEAM_LABEL: &str = "nbgen.io/team";
const CPU_MILLI: [u32; 4] = [250, 500, 1000, 2000];
const MEMORY_MI: [u32; 3] = [512, 1024, 4096];
const GPU_RESOURCES: [&str; 2] = ["nvidia.com/gpu", "nvidia.com/mig-1g.10gb"];

#[derive(Clone, Debug)]
struct Spec {
    /// `cluster.target: kubeflow` (no NodePorts there; a team with no member gets one to own
    /// its Profile).
    kubeflow: bool,
    prefix: &'static str,
    /// Free NodePorts beyond one per server: few, so that hash probing collides often.
    port_slack: u16,
    volumes: Vec<String>,
    pools: Vec<(String, &'static str)>,
    roles: Vec<Role>,
    teams: Vec<Team>,
}

/// Limits written into a spec: computed from one spec, kept when a team is added or removed.
#[derive(Clone, Debug)]
struct Bounds {
    capacities: Vec<u32>,
    ports: (u16, u16),
}

#[derive(Clone, Debug)]
struct Role {
    name: String,
    cpu: usize,
    memory: usize,
    gpu: Option<(usize, u32)>,
    /// Volume index → writes it.
    mounts: BTreeMap<usize, bool>,
}

#[derive(Clone, Debug)]
struct Team {
    name: String,
    /// E-mail local parts, distinct, already slug-safe.
    members: Vec<String>,
    groups: Vec<String>,
    roles: Vec<usize>,
    per_member: bool,
    /// Some(headroom): a quota that fits the team's servers with that much to spare.
    quota: Option<u32>,
    /// A NodePort pinned for the team's first server.
    pin: Option<u16>,
}

impl Team {
    fn servers_per_role(&self) -> u32 {
        if self.per_member && !self.members.is_empty() {
            self.members.len() as u32
        } else {
            1
        }
    }

    fn first_server(&self, spec: &Spec) -> String {
        let role = &spec.roles[self.roles[0]].name;
        if self.per_member && !self.members.is_empty() {
            let mut members = self.members.clone();
            members.sort();
            format!("{role}-{}", members[0])
        } else {
            role.clone()
        }
    }
}

impl Spec {
    fn without_team(&self, k: usize) -> Spec {
        let mut s = self.clone();
        s.teams.remove(k);
        s
    }

    /// The environment file, with bounds that fit exactly its teams.
    fn yaml(&self) -> String {
        self.yaml_with(&self.bounds(), false)
    }

    fn servers(&self) -> u32 {
        self.teams
            .iter()
            .map(|t| t.roles.len() as u32 * t.servers_per_role())
            .sum()
    }

    /// GPU pool capacities and a NodePort range that fit every team in `self.teams`.
    fn bounds(&self) -> Bounds {
        let mut capacities = vec![1; self.pools.len()];
        for t in &self.teams {
            for &r in &t.roles {
                if let Some((pool, count)) = self.roles[r].gpu {
                    capacities[pool] += count * t.servers_per_role();
                }
            }
        }
        // At the top of the range, so the pins (32767 - team index) are in it.
        let size = (self.servers() as u16 + self.port_slack).max(self.teams.len() as u16);
        Bounds {
            capacities,
            ports: (32768 - size, 32767),
        }
    }

    fn yaml_with(&self, bounds: &Bounds, reverse_teams: bool) -> String {
        let mut y = String::new();
        let _ = write!(
            y,
            "apiVersion: nbgen.io/v1alpha1\nkind: Environment\nname: {ENV}\ncluster:\n  \
             kubernetesVersion: \"1.34\"\n  nodePortRange: {}-{}\n  \
             namespacePrefix: \"{}\"\n",
            bounds.ports.0, bounds.ports.1, self.prefix
        );
        y.push_str(if self.kubeflow {
            "  target: kubeflow\n"
        } else {
            "  network: {nodePort: {clientCIDRs: [10.10.0.0/16]}}\n"
        });
        y.push_str("images:\n");
        for (i, r) in self.roles.iter().enumerate() {
            let _ = writeln!(
                y,
                "  {}: {{image: registry.example.com/ml/{}:1.{i}.0, start: docker-stacks}}",
                r.name, r.name
            );
        }
        if !self.pools.is_empty() {
            y.push_str("gpuPools:\n");
            for ((name, resource), cap) in self.pools.iter().zip(&bounds.capacities) {
                let _ = writeln!(
                    y,
                    "  {name}:\n    resource: {resource}\n    capacity: {cap}\n    \
                     nodeSelector: {{nbgen.test/pool: {name}}}"
                );
            }
        }
        if !self.volumes.is_empty() {
            y.push_str("storage:\n");
            for v in &self.volumes {
                let _ = writeln!(
                    y,
                    "  {v}:\n    size: 10Gi\n    nfs: {{server: nfs.example.com, path: /exports/{v}}}"
                );
            }
        }
        y.push_str("roles:\n");
        for r in &self.roles {
            let _ = writeln!(
                y,
                "  {}:\n    image: {}\n    cpu: {}m\n    memory: {}Mi",
                r.name, r.name, CPU_MILLI[r.cpu], MEMORY_MI[r.memory]
            );
            if let Some((pool, count)) = r.gpu {
                let _ = writeln!(
                    y,
                    "    gpu: {{pool: {}, count: {count}}}",
                    self.pools[pool].0
                );
            }
            if !r.mounts.is_empty() {
                let mounts: Vec<String> = r
                    .mounts
                    .iter()
                    .map(|(v, w)| {
                        let mode = if *w { "readWrite" } else { "readOnly" };
                        format!("{}: {mode}", self.volumes[*v])
                    })
                    .collect();
                let _ = writeln!(y, "    mounts: {{{}}}", mounts.join(", "));
            }
        }
        y.push_str("teams:\n");
        let mut teams: Vec<&Team> = self.teams.iter().collect();
        if reverse_teams {
            teams.reverse();
        }
        for t in teams {
            let _ = writeln!(y, "  {}:", t.name);
            if !t.members.is_empty() {
                let members: Vec<String> = t
                    .members
                    .iter()
                    .map(|m| format!("{m}@example.com"))
                    .collect();
                let _ = writeln!(y, "    members: [{}]", members.join(", "));
            } else if self.kubeflow {
                let _ = writeln!(y, "    members: [{}-owner@example.com]", t.name);
            }
            if !t.groups.is_empty() {
                let _ = writeln!(y, "    groups: [{}]", t.groups.join(", "));
            }
            let roles: Vec<&str> = t
                .roles
                .iter()
                .map(|r| self.roles[*r].name.as_str())
                .collect();
            let _ = writeln!(y, "    roles: [{}]", roles.join(", "));
            if t.per_member && !t.members.is_empty() {
                y.push_str("    perMember: true\n");
            }
            if let Some(headroom) = t.quota {
                let n = t.servers_per_role();
                let roles = t.roles.iter().map(|r| &self.roles[*r]);
                let cpu: u32 = roles.clone().map(|r| CPU_MILLI[r.cpu] * n).sum();
                let memory: u32 = roles.clone().map(|r| MEMORY_MI[r.memory] * n).sum();
                let mut gpus: BTreeMap<&str, u32> = BTreeMap::new();
                for r in roles {
                    if let Some((pool, count)) = r.gpu {
                        *gpus.entry(self.pools[pool].1).or_default() += count * n;
                    }
                }
                let gpu = gpus.values().max().copied().unwrap_or(0);
                let _ = writeln!(
                    y,
                    "    quota: {{cpu: {}m, memory: {}Mi, gpu: {}}}",
                    cpu + 100 * headroom,
                    memory + 256 * headroom,
                    gpu + headroom
                );
            }
            if let Some(port) = t.pin.filter(|_| !self.kubeflow) {
                let _ = writeln!(y, "    nodePorts: {{{}: {port}}}", t.first_server(self));
            }
        }
        y
    }
}

/// A valid spec with at least `min_teams` teams.
fn spec(min_teams: usize) -> impl Strategy<Value = Spec> {
    (
        prop::collection::btree_set("[a-z][a-z0-9]{0,6}", 1..=4),
        prop::collection::btree_set("[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,4})?", min_teams..=5),
        prop::collection::btree_set("[a-z]{2,8}", 0..=3),
        prop::collection::btree_set("[a-z][0-9]{2,3}", 0..=2),
        prop_oneof![Just(""), Just("nb-")],
        0..=3u16,
    )
        .prop_flat_map(|(roles, teams, volumes, pools, prefix, port_slack)| {
            let (nr, nv, np) = (roles.len(), volumes.len(), pools.len());
            let role = (
                0..CPU_MILLI.len(),
                0..MEMORY_MI.len(),
                (prop::bool::weighted(0.4), 0..np.max(1), 1..=2u32)
                    .prop_map(move |(on, pool, count)| (on && np > 0).then_some((pool, count))),
                prop::collection::btree_map(0..nv.max(1), any::<bool>(), 0..=nv),
            );
            let team = (
                prop::collection::btree_set("[a-z][a-z0-9]{0,7}", 0..=3),
                prop::collection::btree_set("[a-z]{2,6}", 0..=2),
                subsequence((0..nr).collect::<Vec<_>>(), 1..=nr).prop_shuffle(),
                any::<bool>(),
                prop::option::of(0..=2u32),
                prop::bool::weighted(0.3),
            );
            let pool_resources =
                prop::collection::vec(prop::sample::select(&GPU_RESOURCES[..]), np);
            let nt = teams.len();
            (
                Just((roles, teams, volumes, pools, prefix, port_slack)),
                prop::collection::vec(role, nr),
                prop::collection::vec(team, nt),
                pool_resources,
            )
        })
        .prop_map(
            |(
                (role_names, team_names, volumes, pools, prefix, port_slack),
                roles,
                teams,
                resources,
            )| {
                let roles = role_names
                    .into_iter()
                    .zip(roles)
                    .map(|(name, (cpu, memory, gpu, mounts))| Role {
                        name,
                        cpu,
                        memory,
                        gpu,
                        mounts,
                    })
                    .collect();
                let teams = team_names
                    .into_iter()
                    .zip(teams)
                    .enumerate()
                    .map(
                        |(i, (name, (members, groups, roles, per_member, quota, pin)))| Team {
                            name,
                            members: members.into_iter().collect(),
                            groups: groups.into_iter().collect(),
                            roles,
                            per_member,
                            quota,
                            // Distinct per team, at the top of the range.
                            pin: pin.then(|| 32767 - i as u16),
                        },
                    )
                    .collect();
                Spec {
                    kubeflow: false,
                    prefix,
                    port_slack,
                    volumes: volumes.into_iter().collect(),
                    pools: pools.into_iter().zip(resources).collect(),
                    roles,
                    teams,
                }
            },
        )
}

/// A valid spec for the kubeflow target with at least `min_teams` teams: `spec`'s, whose Profile
/// namespaces (and so the PersistentVolumes named after them) do not collide — a team `a-b` and
/// member `b` of a perMember team `a` would, which validation refuses.
fn kubeflow_spec(min_teams: usize) -> impl Strategy<Value = Spec> {
    spec(min_teams)
        .prop_map(|s| Spec {
            kubeflow: true,
            ..s
        })
        .prop_filter("Profile namespaces collide", |s| {
            let spaces: Vec<String> = s
                .teams
                .iter()
                .flat_map(|t| {
                    if t.per_member && !t.members.is_empty() {
                        t.members
                            .iter()
                            .map(|m| format!("{}-{m}", t.name))
                            .collect()
                    } else {
                        vec![t.name.clone()]
                    }
                })
                .collect();
            spaces.iter().collect::<BTreeSet<_>>().len() == spaces.len()
        })
}

/// Render spec text in memory, with the NodePorts a previous render handed out.
fn render(text: &str, previous: &BTreeMap<(String, String), u16>) -> nbgen::Render {
    let src = SourceFile::new(SPEC_PATH, text);
    nbgen::render(&src, ENV, previous).unwrap_or_else(|diags| {
        let shown: String = diags
            .iter()
            .map(|d| d.render(std::slice::from_ref(&src), false))
            .collect();
        panic!("a generated spec is valid, but:\n{shown}\n{text}")
    })
}

/// The team each file belongs to, by its `nbgen.io/team` label; `""` for the environment's
/// admission policy, the one kind of object that belongs to no team.
fn team_of(text: &str) -> String {
    let doc: serde_json::Value = serde_saphyr::from_str(text).expect("rendered YAML parses");
    let kind = doc.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
    if kind.starts_with("ValidatingAdmissionPolicy") {
        return String::new();
    }
    doc.pointer(&format!(
        "/metadata/labels/{}",
        TEAM_LABEL.replace('/', "~1")
    ))
    .and_then(|v| v.as_str())
    .unwrap_or_else(|| panic!("every rendered object carries {TEAM_LABEL}:\n{text}"))
    .to_owned()
}

/// The paths of `team`'s files, and every other file (path → text), cluster-scoped ones
/// included: each goes by its team label.
fn split_by_team(tree: &Tree, team: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let mut mine = BTreeSet::new();
    let mut others = BTreeMap::new();
    for (path, file) in tree {
        if team_of(&file.text) == team {
            mine.insert(path.clone());
        } else {
            others.insert(path.clone(), file.text.clone());
        }
    }
    (mine, others)
}

/// The files that differ between two trees, each with a unified diff (empty: none).
fn tree_diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> String {
    let paths: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = String::new();
    for p in paths {
        let (x, y) = (a.get(p), b.get(p));
        if x != y {
            let diff = similar::TextDiff::from_lines(
                x.map_or("", String::as_str),
                y.map_or("", String::as_str),
            )
            .unified_diff()
            .header(&format!("{p} before"), &format!("{p} after"))
            .to_string();
            let _ = writeln!(out, "{diff}");
        }
    }
    out
}

fn ports(r: &nbgen::Render) -> BTreeMap<(String, String), u16> {
    r.env
        .teams
        .iter()
        .flat_map(|t| {
            t.servers
                .iter()
                .filter_map(|s| Some(((t.name.clone(), s.name.clone()), s.node_port?)))
        })
        .collect()
}

/// Write `text` as the spec of a repository at `root`, render it as `nbgen render` does
/// (previous ports from out/), and write the output.
fn render_into(root: &Path, text: &str) -> (nbgen::Render, nbgen::output::Summary) {
    fs::create_dir_all(root.join("environments")).expect("create environments/");
    fs::write(root.join(SPEC_PATH), text).expect("write the spec");
    let project = Project::new(root);
    let (r, _) = match project.render(ENV) {
        Ok(rendered) => rendered,
        Err(nbgen::project::Failure::Invalid {
            diagnostics,
            sources,
        }) => {
            let shown: String = diagnostics
                .iter()
                .map(|d| d.render(&sources, false))
                .collect();
            panic!("a generated spec is valid, but:\n{shown}\n{text}")
        }
        Err(nbgen::project::Failure::Output(e)) => panic!("out/{ENV}: {e}"),
    };
    let summary = project
        .write(ENV, &r)
        .unwrap_or_else(|_| panic!("out/{ENV} is writable"));
    (r, summary)
}

/// Check that going from spec `before` to spec `after`, which differ by team `team` only,
/// touches no other team's file or port. Both directions use this.
fn check_one_team_change(before: &str, after: &str, team: &str) -> Result<(), TestCaseError> {
    let dir = scratch_dir();
    let (first, _) = render_into(dir.path(), before);
    let (second, summary) = render_into(dir.path(), after);

    let (first_mine, first_others) = split_by_team(&first.tree, team);
    let (second_mine, second_others) = split_by_team(&second.tree, team);
    let differences = tree_diff(&first_others, &second_others);
    prop_assert!(
        differences.is_empty(),
        "files of teams other than {} differ:\n{}\n--- before:\n{}\n--- after:\n{}",
        team,
        differences,
        before,
        after
    );
    let (old_ports, new_ports) = (ports(&first), ports(&second));
    for (server, port) in &old_ports {
        if server.0 != team {
            prop_assert_eq!(new_ports.get(server), Some(port), "{:?} moved", server);
        }
    }
    prop_assert!(summary.changed.is_empty(), "changed: {:?}", summary.changed);
    let touched: BTreeSet<String> = summary
        .added
        .iter()
        .chain(&summary.removed)
        .cloned()
        .collect();
    let expected: BTreeSet<String> = first_mine.union(&second_mine).cloned().collect();
    prop_assert!(!expected.is_empty(), "the team has files");
    prop_assert_eq!(touched, expected, "files written or removed on disk");
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // A failing case is recorded beside this file (tests/properties.proptest-regressions)
        // and replayed first from then on.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn rendering_is_deterministic_and_independent_of_team_order(spec in spec(1)) {
        deterministic(&spec)?;
    }

    #[test]
    fn kubeflow_rendering_is_deterministic_and_independent_of_team_order(
        spec in kubeflow_spec(1),
    ) {
        deterministic(&spec)?;
    }
}

/// Two renders agree, whatever order the teams are listed in and fed their own ports.
fn deterministic(spec: &Spec) -> Result<(), TestCaseError> {
    let text = spec.yaml();
    let none = BTreeMap::new();
    let first = render(&text, &none);
    let again = render(&text, &none);
    let texts = |r: &nbgen::Render| -> BTreeMap<String, String> {
        r.tree
            .iter()
            .map(|(p, f)| (p.clone(), f.text.clone()))
            .collect()
    };
    let expected = texts(&first);
    let d = tree_diff(&expected, &texts(&again));
    prop_assert!(d.is_empty(), "a second render differs:\n{}", d);
    let reversed = render(&spec.yaml_with(&spec.bounds(), true), &none);
    let d = tree_diff(&expected, &texts(&reversed));
    prop_assert!(d.is_empty(), "listing the teams in reverse changes:\n{}", d);
    // Fed its own ports back, as the next `nbgen render` is, nothing changes either.
    let next = render(&text, &ports(&first));
    let d = tree_diff(&expected, &texts(&next));
    prop_assert!(d.is_empty(), "a render fed its own ports differs:\n{}", d);
    Ok(())
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn removing_a_team_changes_no_other_teams_file_or_port(
        spec in spec(2),
        pick in any::<prop::sample::Index>(),
    ) {
        let k = pick.index(spec.teams.len());
        let mut spec = spec;
        spec.teams[k].pin = None;
        let bounds = spec.bounds();
        let all = spec.yaml_with(&bounds, false);
        let fewer = spec.without_team(k).yaml_with(&bounds, false);
        check_one_team_change(&all, &fewer, &spec.teams[k].name)?;
    }

    #[test]
    fn adding_a_team_changes_no_other_teams_file_or_port(
        spec in spec(2),
        pick in any::<prop::sample::Index>(),
    ) {
        // The new team pins nothing: a pin wins over a port another server already has,
        // by design (with a warning), which is not what this property is about.
        let k = pick.index(spec.teams.len());
        let mut spec = spec;
        spec.teams[k].pin = None;
        let bounds = spec.bounds();
        let fewer = spec.without_team(k).yaml_with(&bounds, false);
        let all = spec.yaml_with(&bounds, false);
        check_one_team_change(&fewer, &all, &spec.teams[k].name)?;
    }

    #[test]
    fn kubeflow_adding_or_removing_a_team_changes_no_other_teams_file(
        spec in kubeflow_spec(2),
        pick in any::<prop::sample::Index>(),
    ) {
        let k = pick.index(spec.teams.len());
        let bounds = spec.bounds();
        let fewer = spec.without_team(k).yaml_with(&bounds, false);
        let all = spec.yaml_with(&bounds, false);
        check_one_team_change(&fewer, &all, &spec.teams[k].name)?;
        check_one_team_change(&all, &fewer, &spec.teams[k].name)?;
    }
}

/// One way to break a valid spec.
#[derive(Clone, Debug)]
enum Breakage {
    UndefinedRole,
    UndefinedImage,
    WrongEnvironmentName,
    BadQuantity,
    UnknownKey,
    DuplicateTeam,
    GpuOverCapacity,
    RangeExhausted,
}

fn breakage() -> impl Strategy<Value = Breakage> {
    prop_oneof![
        Just(Breakage::UndefinedRole),
        Just(Breakage::UndefinedImage),
        Just(Breakage::WrongEnvironmentName),
        Just(Breakage::BadQuantity),
        Just(Breakage::UnknownKey),
        Just(Breakage::DuplicateTeam),
        Just(Breakage::GpuOverCapacity),
        Just(Breakage::RangeExhausted),
    ]
}

/// `spec`'s YAML with one error in it.
fn broken(spec: &Spec, how: &Breakage) -> String {
    let text = spec.yaml();
    let team = &spec.teams[0];
    let role = &spec.roles[team.roles[0]];
    let replace = |text: &str, old: &str, new: &str| {
        assert!(text.contains(old), "{old:?} in\n{text}");
        text.replacen(old, new, 1)
    };
    // Edit the part of `text` after `anchor`, which must be in it.
    let after = |text: &str, anchor: &str, old: &str, new: &str| {
        let at = text.find(anchor).expect("the anchor is in the spec") + anchor.len();
        let (head, tail) = text.split_at(at);
        format!("{head}{}", replace(tail, old, new))
    };
    // The first team is listed first under `teams:`.
    let first_team = format!("\nteams:\n  {}:\n", team.name);
    match how {
        Breakage::UndefinedRole => after(
            &text,
            &first_team,
            "    roles: [",
            "    roles: [nosuchrole, ",
        ),
        Breakage::UndefinedImage => replace(
            &text,
            &format!("    image: {}\n", role.name),
            "    image: nosuchimage\n",
        ),
        Breakage::WrongEnvironmentName => {
            replace(&text, &format!("name: {ENV}\n"), "name: other\n")
        }
        Breakage::BadQuantity => replace(
            &text,
            &format!("    cpu: {}m\n", CPU_MILLI[role.cpu]),
            "    cpu: lots\n",
        ),
        Breakage::UnknownKey => replace(
            &text,
            &first_team,
            &format!("{first_team}    replicas: 2\n"),
        ),
        Breakage::DuplicateTeam => format!("{text}  {}:\n    roles: [{}]\n", team.name, role.name),
        Breakage::GpuOverCapacity => {
            let used = spec
                .teams
                .iter()
                .flat_map(|t| &t.roles)
                .find_map(|r| spec.roles[*r].gpu.map(|g| (&spec.roles[*r].name, g)));
            match used {
                // Every pool has one GPU; a role some team runs asks for two per server.
                Some((name, (pool, count))) => {
                    let bounds = Bounds {
                        capacities: vec![1; spec.pools.len()],
                        ..spec.bounds()
                    };
                    let t = spec.yaml_with(&bounds, false);
                    let pool = &spec.pools[pool].0;
                    after(
                        &t,
                        &format!("\n  {name}:\n    image: {name}\n"),
                        &format!("gpu: {{pool: {pool}, count: {count}}}"),
                        &format!("gpu: {{pool: {pool}, count: 2}}"),
                    )
                }
                // No GPU in use: ask for one from a pool that does not exist.
                None => replace(
                    &text,
                    &format!("  {}:\n    image: {}\n", role.name, role.name),
                    &format!(
                        "  {}:\n    image: {}\n    gpu: {{pool: nosuchpool, count: 1}}\n",
                        role.name, role.name
                    ),
                ),
            }
        }
        Breakage::RangeExhausted => {
            // One port fewer than there are servers; for a single server, no port at all.
            let servers = spec.servers() as u16;
            let ports = if servers >= 2 {
                (32767 + 2 - servers, 32767)
            } else {
                (32767, 30000)
            };
            spec.yaml_with(
                &Bounds {
                    ports,
                    ..spec.bounds()
                },
                false,
            )
        }
    }
}

/// Every file under `dir`: bytes, modification time, inode.
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime, u64)> {
    fn walk(
        dir: &Path,
        rel: &str,
        out: &mut BTreeMap<String, (Vec<u8>, std::time::SystemTime, u64)>,
    ) {
        for e in fs::read_dir(dir).expect("a listable directory") {
            let e = e.expect("an entry");
            let rel = format!("{rel}/{}", e.file_name().to_string_lossy());
            let meta = fs::symlink_metadata(e.path()).expect("metadata");
            if meta.is_dir() {
                walk(&e.path(), &rel, out);
            } else {
                let bytes = fs::read(e.path()).expect("a readable file");
                out.insert(rel, (bytes, meta.modified().expect("an mtime"), meta.ino()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn a_spec_that_fails_validation_leaves_out_untouched(spec in spec(1), how in breakage()) {
        let dir = scratch_dir();
        render_into(dir.path(), &spec.yaml());
        let before = snapshot(&dir.path().join("out"));

        let text = broken(&spec, &how);
        fs::write(dir.path().join(SPEC_PATH), &text).expect("write the spec");
        let run = Command::new(env!("CARGO_BIN_EXE_nbgen"))
            .arg("--root")
            .arg(dir.path())
            .args(["render", ENV])
            .stdin(Stdio::null())
            .output()
            .expect("run nbgen");
        let stderr = String::from_utf8_lossy(&run.stderr);
        prop_assert_eq!(run.status.code(), Some(2), "{:?}: {}\n{}", how, stderr, text);
        prop_assert!(stderr.contains("error: "), "{}", stderr);
        prop_assert!(run.stdout.is_empty());
        prop_assert_eq!(snapshot(&dir.path().join("out")), before, "{:?} touched out/", how);
    }
}

/// A temporary directory, in memory where the system offers one: the write path syncs every
/// file it writes, which on a disk makes each case slow for no gain here.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("a temporary directory")
}
