//! Issue 5, as a user meets it: environments that extend others (`extends`), the Argo CD
//! objects and sync waves (`gitops.argocd`), and user templates (`extras`). Each test writes a
//! small repository to a temporary directory, renders one environment through
//! `Project` (which follows `extends` and reads templates), and compares files or the full
//! rendered diagnostics.

use nbgen::Render;
use nbgen::project::{Failure, Project};
use std::fs;
use tempfile::TempDir;

/// A complete environment: two teams, a CPU and a GPU role, one shared volume.
const BASE: &str = r#"apiVersion: nbgen.io/v1alpha1
kind: Environment
name: base
cluster:
  kubernetesVersion: "1.33"
  nodePortRange: 30000-30099
images:
  notebook: {image: registry.example.com/ml/notebook:1.0.0, start: docker-stacks}
  train: {image: registry.example.com/ml/train:2.0.0, start: docker-stacks}
gpuPools:
  a100:
    resource: nvidia.com/gpu
    capacity: 4
storage:
  datasets:
    size: 100Gi
    nfs: {server: nfs.example.com, path: /exports/datasets}
roles:
  prep:
    image: notebook
    cpu: "1"
    memory: 4Gi
    mounts: {datasets: readWrite}
  train:
    image: train
    cpu: "4"
    memory: 16Gi
    gpu: {pool: a100, count: 2}
    mounts: {datasets: readOnly}
teams:
  research:
    members: [alice@example.com, bob@example.com]
    roles: [prep]
    perMember: true
  training:
    groups: [ml]
    roles: [train]
    # no nodePorts: this environment exposes none
"#;

const ARGOCD: &str = "gitops:
  argocd:
    repoURL: https://git.example.com/platform/notebooks.git
    targetRevision: main
";

/// A temporary repository.
struct Repo {
    dir: TempDir,
}

impl Repo {
    fn new(files: &[(&str, &str)]) -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        for (path, text) in files {
            repo.write(path, text);
        }
        repo
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.dir.path().join(rel);
        fs::create_dir_all(path.parent().expect("a file in a directory")).expect("mkdir");
        fs::write(path, text).expect("write a file of the test repository");
    }

    fn project(&self) -> Project {
        Project::new(self.dir.path())
    }

    /// Render `env`, or the diagnostics as nbgen prints them (without colour).
    fn render(&self, env: &str) -> Result<Render, String> {
        match self.project().render(env) {
            Ok((render, _)) => Ok(render),
            Err(Failure::Invalid {
                diagnostics,
                sources,
            }) => {
                let mut diagnostics = diagnostics;
                nbgen::diagnostic::sort(&mut diagnostics);
                Err(diagnostics
                    .iter()
                    .map(|d| d.render(&sources, false))
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
            Err(Failure::Output(e)) => panic!("{e}"),
        }
    }

    #[track_caller]
    fn ok(&self, env: &str) -> Render {
        self.render(env)
            .unwrap_or_else(|e| panic!("environments/{env}.yaml should render:\n{e}"))
    }

    #[track_caller]
    fn fails(&self, env: &str, expected: &str) {
        match self.render(env) {
            Ok(_) => panic!("environments/{env}.yaml should not render"),
            Err(actual) => assert_eq!(actual, expected, "\n--- actual ---\n{actual}"),
        }
    }
}

/// `BASE` with each `(old, new)` applied; each `old` must occur exactly once.
fn edit(spec: &str, edits: &[(&str, &str)]) -> String {
    let mut spec = spec.to_owned();
    for (old, new) in edits {
        assert_eq!(spec.matches(old).count(), 1, "{old:?} must occur once");
        spec = spec.replacen(old, new, 1);
    }
    spec
}

#[track_caller]
fn file<'a>(render: &'a Render, path: &str) -> &'a str {
    &render
        .tree
        .get(path)
        .unwrap_or_else(|| {
            panic!(
                "no {path}; files: {:?}",
                render.tree.keys().collect::<Vec<_>>()
            )
        })
        .text
}

/// A file's text without its header line.
#[track_caller]
fn body<'a>(render: &'a Render, path: &str) -> &'a str {
    let text = file(render, path);
    &text[text.find('\n').map_or(0, |i| i + 1)..]
}

// ---------------------------------------------------------------------------------------------
// Layered environments

#[test]
fn a_child_merges_maps_by_key_and_replaces_lists_and_scalars() {
    let repo = Repo::new(&[
        ("environments/base.yaml", BASE),
        (
            "environments/prod.yaml",
            "extends: base
images:
  train: {image: registry.example.com/ml/train:2.1.0, start: docker-stacks}
storage:
  datasets:
    nfs: {server: nfs.prod.example.com}
teams:
  research:
    members: [carol@example.com]
",
        ),
    ]);
    let prod = repo.ok("prod");
    assert_eq!(prod.env.name, "prod", "the name is the leaf file's");
    // a scalar replaced; the sibling image inherited
    assert!(file(&prod, "training/statefulset-train.yaml").contains("ml/train:2.1.0"));
    assert!(file(&prod, "research/statefulset-prep-carol.yaml").contains("ml/notebook:1.0.0"));
    // a list replaced, not appended to
    let servers: Vec<&str> = prod.env.teams[0]
        .servers
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(servers, ["prep-carol"]);
    // a map merged key by key: the server from prod, the path from base
    let pv = file(
        &prod,
        "_cluster/persistentvolume-prod-research-datasets.yaml",
    );
    assert!(pv.contains("server: nfs.prod.example.com"), "{pv}");
    assert!(pv.contains("path: /exports/datasets"), "{pv}");
    // every file names the leaf spec and what it extends
    assert!(pv.starts_with(
        "# Generated by nbgen from environments/prod.yaml (extends environments/base.yaml); do not edit. Change the spec, then run: nbgen render prod\n"
    ));
}

#[test]
fn null_removes_an_inherited_key() {
    let repo = Repo::new(&[
        ("environments/base.yaml", BASE),
        (
            "environments/prod.yaml",
            "extends: base\nteams:\n  training: null\nroles:\n  train: null\nimages:\n  train: null\ngpuPools: null\n",
        ),
    ]);
    let prod = repo.ok("prod");
    assert_eq!(prod.env.teams.len(), 1);
    assert!(prod.tree.keys().all(|p| !p.starts_with("training/")));
    assert!(prod.warnings.is_empty(), "{:?}", prod.warnings);
}

#[test]
fn a_null_that_removes_nothing_is_an_error_at_its_line() {
    let repo = Repo::new(&[
        ("environments/base.yaml", BASE),
        (
            "environments/prod.yaml",
            "extends: base\nteams:\n  trainnig: null\n",
        ),
    ]);
    repo.fails(
        "prod",
        "error: `teams.trainnig: null` removes nothing: no base environment sets it
 --> environments/prod.yaml:3:3
  |
3 |   trainnig: null
  |   ^^^^^^^^
  = help: `null` removes a key this file inherits through `extends`; delete the line, or check the key's spelling
",
    );
}

#[test]
fn chains_apply_nearest_last() {
    let repo = Repo::new(&[
        ("environments/base.yaml", BASE),
        (
            "environments/prod.yaml",
            "extends: base\nimages:\n  train: {image: registry.example.com/ml/train:2.1.0, start: docker-stacks}\n",
        ),
        (
            "environments/staging.yaml",
            "extends: prod\ncluster:\n  kubernetesVersion: \"1.34\"\n",
        ),
    ]);
    let staging = repo.ok("staging");
    assert_eq!(staging.env.kubernetes_version, "1.34");
    assert_eq!(
        staging.env.bases,
        ["environments/prod.yaml", "environments/base.yaml"]
    );
    let train = file(&staging, "training/statefulset-train.yaml");
    assert!(train.contains("ml/train:2.1.0"));
    assert!(train.starts_with("# Generated by nbgen from environments/staging.yaml (extends environments/prod.yaml, environments/base.yaml);"));
}

#[test]
fn a_cycle_is_an_error_naming_it() {
    let repo = Repo::new(&[
        (
            "environments/base.yaml",
            &format!("# the platform\nextends: prod\n{BASE}"),
        ),
        ("environments/prod.yaml", "extends: base\n"),
    ]);
    repo.fails(
        "prod",
        "error: `extends` makes a cycle: prod → base → prod
 --> environments/base.yaml:2:10
  |
2 | extends: prod
  |          ^^^^
  = help: an environment cannot build on itself; remove `extends` from one of these files
",
    );
}

#[test]
fn extending_itself_is_a_cycle() {
    let repo = Repo::new(&[("environments/prod.yaml", "extends: prod\n")]);
    repo.fails(
        "prod",
        "error: `extends` makes a cycle: prod → prod
 --> environments/prod.yaml:1:10
  |
1 | extends: prod
  |          ^^^^
  = help: an environment cannot build on itself; remove `extends` from one of these files
",
    );
}

#[test]
fn extending_a_missing_environment_suggests_the_closest() {
    let repo = Repo::new(&[
        ("environments/base.yaml", BASE),
        ("environments/prod.yaml", "extends: bsae\n"),
    ]);
    repo.fails(
        "prod",
        "error: environments/prod.yaml extends `bsae`, but there is no environments/bsae.yaml
 --> environments/prod.yaml:1:10
  |
1 | extends: bsae
  |          ^^^^
  = help: did you mean `base`?
",
    );
    let repo = Repo::new(&[
        ("environments/base.yaml", BASE),
        ("environments/prod.yaml", "extends: ../base\n"),
    ]);
    repo.fails(
        "prod",
        "error: environments/prod.yaml extends `../base`, but there is no environments/../base.yaml
 --> environments/prod.yaml:1:10
  |
1 | extends: ../base
  |          ^^^^^^^
  = help: `extends` names another file in environments/ without .yaml; environments here: base
",
    );
}

#[test]
fn errors_point_at_the_file_that_wrote_the_value() {
    // Schema errors: an unknown key written in the base, a bad quantity and a wrong type in the
    // child, all in one run, each at its own file and line.
    let repo = Repo::new(&[
        (
            "environments/base.yaml",
            &edit(
                BASE,
                &[(
                    "    roles: [prep]\n",
                    "    roles: [prep]\n    color: blue\n",
                )],
            ),
        ),
        (
            "environments/prod.yaml",
            "extends: base\nroles:\n  train:\n    memory: 16 Gi\nteams:\n  training:\n    perMember: maybe\n",
        ),
    ]);
    let e = repo.render("prod").unwrap_err();
    let locations: Vec<&str> = e
        .lines()
        .filter(|l| l.contains(" --> "))
        .map(str::trim)
        .collect();
    assert_eq!(
        locations,
        [
            "--> environments/base.yaml:34:5",
            "--> environments/prod.yaml:4:13",
            "--> environments/prod.yaml:7:16"
        ],
        "{e}"
    );
    // Semantic errors: an undefined role written in the base, a zero quantity in the child.
    let repo = Repo::new(&[
        (
            "environments/base.yaml",
            &edit(BASE, &[("    roles: [prep]\n", "    roles: [prpe]\n")]),
        ),
        (
            "environments/prod.yaml",
            "extends: base\nroles:\n  train:\n    memory: \"0\"\n",
        ),
    ]);
    repo.fails(
        "prod",
        "error: team `research` uses undefined role `prpe`
  --> environments/base.yaml:33:13
   |
33 |     roles: [prpe]
   |             ^^^^
   = help: did you mean `prep`?

error: roles.train.memory must be more than zero, found `0`
 --> environments/prod.yaml:4:13
  |
4 |     memory: \"0\"
  |             ^^^
  = help: write sizes with a binary suffix, no space: \"512Mi\", \"8Gi\", \"1Ti\"
",
    );
}

#[test]
fn a_duplicate_key_in_a_base_is_reported_in_the_base() {
    let repo = Repo::new(&[
        (
            "environments/base.yaml",
            &edit(
                BASE,
                &[(
                    "  train: {image: registry",
                    "  notebook: x\n  train: {image: registry",
                )],
            ),
        ),
        ("environments/prod.yaml", "extends: base\n"),
    ]);
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.starts_with("error: invalid YAML: duplicate mapping key: notebook\n --> environments/base.yaml:9:3\n"),
        "{e}"
    );
}

#[test]
fn name_is_never_inherited() {
    // The child may omit it; if it writes one, it must be its own file's name.
    let repo = Repo::new(&[
        ("environments/base.yaml", BASE),
        ("environments/prod.yaml", "extends: base\nname: staging\n"),
    ]);
    repo.fails(
        "prod",
        "error: the environment is named `staging` but its file is `environments/prod.yaml`
 --> environments/prod.yaml:2:7
  |
2 | name: staging
  |       ^^^^^^^
  = help: set `name: prod`, or rename the file to environments/staging.yaml
",
    );
}

#[test]
fn a_complete_base_validates_alone_and_an_incomplete_one_says_what_is_missing() {
    let repo = Repo::new(&[
        ("environments/base.yaml", BASE),
        ("environments/prod.yaml", "extends: base\n"),
    ]);
    assert_eq!(repo.ok("base").env.name, "base");
    let partial = BASE
        .split("teams:\n")
        .next()
        .expect("BASE has teams")
        .to_owned();
    let repo = Repo::new(&[
        ("environments/base.yaml", &partial),
        (
            "environments/prod.yaml",
            &format!(
                "extends: base\nteams:\n{}",
                BASE.split("teams:\n").nth(1).expect("teams")
            ),
        ),
    ]);
    repo.ok("prod");
    repo.fails(
        "base",
        "warning: environments/base.yaml is extended by prod
 --> environments/base.yaml
  = help: a base need not be a complete environment: `nbgen validate prod` checks it as part of prod; rendered on its own, it must be complete

error: the spec is missing the required key `teams`
 --> environments/base.yaml:1:1
  |
1 | apiVersion: nbgen.io/v1alpha1
  | ^
  = help: add `teams:` (teams by name. Each team gets its own namespace (namespacePrefix + team name), access for its members and groups, and one notebook server per role it lists.)
",
    );
}

#[test]
fn an_incomplete_merged_base_reports_every_missing_key_at_once() {
    // The base holds only the cluster settings; prod adds teams. Both `images` and `roles` are
    // missing: one run says so, not one key per run.
    let cluster_only = BASE.split("images:\n").next().expect("BASE has images");
    let teams = BASE.split("teams:\n").nth(1).expect("teams");
    let repo = Repo::new(&[
        ("environments/base.yaml", cluster_only),
        (
            "environments/prod.yaml",
            &format!("extends: base\nteams:\n{teams}"),
        ),
    ]);
    let e = repo.render("prod").unwrap_err();
    for key in ["images", "roles"] {
        assert!(
            e.contains(&format!(
                "error: the spec is missing the required key `{key}`"
            )),
            "{e}"
        );
    }
}

#[test]
fn an_extends_that_is_not_a_name_is_a_schema_error() {
    let repo = Repo::new(&[(
        "environments/prod.yaml",
        &format!("extends: [base]\n{BASE}"),
    )]);
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.starts_with(
            "error: extends must be a string, found a list\n --> environments/prod.yaml:1:1\n"
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Argo CD

#[test]
fn argo_cd_objects_deploy_exactly_the_environment() {
    let repo = Repo::new(&[(
        "environments/prod.yaml",
        &format!("{}{ARGOCD}", BASE.replace("name: base", "name: prod")),
    )]);
    let prod = repo.ok("prod");
    assert_eq!(
        body(&prod, "_argocd/appproject-notebooks-prod.yaml"),
        r#"apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  labels:
    app.kubernetes.io/managed-by: nbgen
    app.kubernetes.io/part-of: prod
  name: notebooks-prod
  namespace: argocd
spec:
  description: Jupyter notebook platform prod, rendered by nbgen from environments/prod.yaml
  sourceRepos:
  - https://git.example.com/platform/notebooks.git
  destinations:
  - server: https://kubernetes.default.svc
    namespace: research
  - server: https://kubernetes.default.svc
    namespace: training
  clusterResourceWhitelist:
  - group: ""
    kind: Namespace
  - group: ""
    kind: PersistentVolume
  - group: admissionregistration.k8s.io
    kind: ValidatingAdmissionPolicy
  - group: admissionregistration.k8s.io
    kind: ValidatingAdmissionPolicyBinding
  namespaceResourceWhitelist:
  - group: ""
    kind: ConfigMap
  - group: ""
    kind: PersistentVolumeClaim
  - group: ""
    kind: ResourceQuota
  - group: ""
    kind: Service
  - group: ""
    kind: ServiceAccount
  - group: apps
    kind: StatefulSet
  - group: batch
    kind: CronJob
  - group: batch
    kind: Job
  - group: networking.k8s.io
    kind: NetworkPolicy
  - group: rbac.authorization.k8s.io
    kind: Role
  - group: rbac.authorization.k8s.io
    kind: RoleBinding
"#
    );
    assert_eq!(
        body(&prod, "_argocd/application-notebooks-prod.yaml"),
        r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  labels:
    app.kubernetes.io/managed-by: nbgen
    app.kubernetes.io/part-of: prod
  name: notebooks-prod
  namespace: argocd
spec:
  project: notebooks-prod
  source:
    repoURL: https://git.example.com/platform/notebooks.git
    targetRevision: main
    path: out/prod
    directory:
      recurse: true
      exclude: _argocd/*
  destination:
    server: https://kubernetes.default.svc
    namespace: research
  ignoreDifferences:
  - group: apps
    kind: StatefulSet
    jsonPointers:
    - /spec/replicas
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
    - RespectIgnoreDifferences=true
"#
    );
}

/// The fields of Argo CD v3's AppProject and Application types (pkg/apis/application/v1alpha1)
/// that nbgen may write, by path; `[]` is a list item. An Argo CD object nbgen renders must use
/// no other: the API server would drop an unknown field silently (CRDs prune them).
const ARGO_FIELDS: [&str; 27] = [
    "apiVersion",
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.labels",
    "spec.description",
    "spec.sourceRepos[]",
    "spec.destinations[].server",
    "spec.destinations[].namespace",
    "spec.clusterResourceWhitelist[].group",
    "spec.clusterResourceWhitelist[].kind",
    "spec.namespaceResourceWhitelist[].group",
    "spec.namespaceResourceWhitelist[].kind",
    "spec.project",
    "spec.source.repoURL",
    "spec.source.targetRevision",
    "spec.source.path",
    "spec.source.directory.recurse",
    "spec.source.directory.exclude",
    "spec.destination.server",
    "spec.destination.namespace",
    "spec.syncPolicy.automated.prune",
    "spec.syncPolicy.automated.selfHeal",
    "spec.syncPolicy.syncOptions[]",
    "spec.ignoreDifferences[].group",
    "spec.ignoreDifferences[].kind",
    "spec.ignoreDifferences[].jsonPointers[]",
];

/// The path of every scalar in `v` (`[]` for a list item); labels count as one field.
fn field_paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) if prefix != "metadata.labels" => {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                field_paths(child, &p, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                field_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn argo_cd_objects_use_only_argo_cd_fields_of_the_right_types() {
    let repo = Repo::new(&[(
        "environments/prod.yaml",
        &format!("{}{ARGOCD}", BASE.replace("name: base", "name: prod")),
    )]);
    let prod = repo.ok("prod");
    for path in [
        "_argocd/appproject-notebooks-prod.yaml",
        "_argocd/application-notebooks-prod.yaml",
    ] {
        let value: serde_json::Value =
            serde_saphyr::from_str(file(&prod, path)).expect("the file is YAML");
        let mut paths = Vec::new();
        field_paths(&value, "", &mut paths);
        for p in &paths {
            assert!(
                ARGO_FIELDS.contains(&p.as_str()),
                "{path}: unknown field {p}"
            );
        }
        // booleans are booleans, lists are lists
        for (pointer, is) in [
            ("/spec/source/directory/recurse", "bool"),
            ("/spec/syncPolicy/automated/prune", "bool"),
            ("/spec/syncPolicy/automated/selfHeal", "bool"),
            ("/spec/sourceRepos", "list"),
            ("/spec/destinations", "list"),
            ("/spec/ignoreDifferences", "list"),
            ("/spec/syncPolicy/syncOptions", "list"),
        ] {
            if let Some(v) = value.pointer(pointer) {
                let ok = match is {
                    "bool" => v.is_boolean(),
                    _ => v.is_array(),
                };
                assert!(ok, "{path}: {pointer} is {v}");
            }
        }
    }
}

#[test]
fn argo_cd_settings_and_names_can_be_chosen() {
    let spec = format!(
        "{}{}",
        BASE.replace("name: base", "name: prod"),
        "gitops:
  argocd:
    repoURL: git@git.example.com:platform/notebooks.git
    targetRevision: v1.4.0
    namespace: gitops
    destination: https://prod.k8s.example.com
    project: ml-platform
"
    );
    let repo = Repo::new(&[("environments/prod.yaml", &spec)]);
    let prod = repo.ok("prod");
    let project = body(&prod, "_argocd/appproject-ml-platform.yaml");
    assert!(
        project.contains("  name: ml-platform\n  namespace: gitops\n"),
        "{project}"
    );
    assert!(
        project.contains("  - server: https://prod.k8s.example.com\n    namespace: research\n")
    );
    let app = body(&prod, "_argocd/application-notebooks-prod.yaml");
    for want in [
        "  namespace: gitops\n",
        "  project: ml-platform\n",
        "    repoURL: git@git.example.com:platform/notebooks.git\n    targetRevision: v1.4.0\n",
        "    server: https://prod.k8s.example.com\n",
    ] {
        assert!(app.contains(want), "{want}\n{app}");
    }
}

#[test]
fn a_team_in_argo_cds_namespace_is_an_error() {
    let spec = format!(
        "{}{ARGOCD}",
        BASE.replace("name: base", "name: prod")
            .replace("  training:\n", "  argocd:\n")
    );
    let repo = Repo::new(&[("environments/prod.yaml", &spec)]);
    repo.fails(
        "prod",
        "error: team `argocd`'s namespace `argocd` is Argo CD's namespace
  --> environments/prod.yaml:40:3
   |
40 |   argocd:
   |   ^^^^^^
   = help: the AppProject would let the environment deploy into Argo CD's own namespace; rename the team, change cluster.namespacePrefix, or set gitops.argocd.namespace to where Argo CD runs
",
    );
}

#[test]
fn without_argo_cd_there_are_no_waves_and_no_argo_cd_objects() {
    let repo = Repo::new(&[("environments/base.yaml", BASE)]);
    let r = repo.ok("base");
    assert!(r.tree.keys().all(|p| !p.starts_with("_argocd/")));
    assert!(r.tree.values().all(|f| !f.text.contains("sync-wave")));
}

#[test]
fn sync_waves_order_namespaces_then_limits_rbac_policies_volumes_accounts_workloads() {
    let spec = format!(
        "{}{ARGOCD}jobs:\n  nightly:\n    team: research\n    role: prep\n    notebook: /data/datasets/nb.ipynb\n    outputDir: /data/datasets/runs\n    schedule: \"0 2 * * *\"\n",
        BASE.replace("name: base", "name: prod").replace(
            "    # no nodePorts",
            "    quota: {cpu: \"8\", memory: 32Gi, gpu: 2}\n    # no nodePorts"
        )
    );
    let repo = Repo::new(&[("environments/prod.yaml", &spec)]);
    let prod = repo.ok("prod");
    let mut waves: std::collections::BTreeMap<String, std::collections::BTreeSet<i32>> =
        Default::default();
    for f in prod.tree.values() {
        if f.id.kind == "AppProject" || f.id.kind == "Application" {
            assert!(
                !f.text.contains("sync-wave"),
                "Argo CD's own objects are not synced"
            );
            continue;
        }
        let wave = f
            .text
            .lines()
            .find_map(|l| l.trim().strip_prefix("argocd.argoproj.io/sync-wave: "))
            .unwrap_or_else(|| panic!("{} has no sync wave", f.id));
        waves
            .entry(f.id.kind.clone())
            .or_default()
            .insert(wave.trim_matches('"').parse().expect("a number"));
    }
    let one = |kind: &str| -> i32 {
        let w = &waves[kind];
        assert_eq!(w.len(), 1, "every {kind} in one wave");
        *w.iter().next().expect("one")
    };
    let order = [
        vec!["Namespace"],
        vec![
            "ResourceQuota",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ],
        vec!["Role", "RoleBinding"],
        vec!["NetworkPolicy"],
        vec!["PersistentVolume"],
        vec!["ServiceAccount", "ConfigMap"],
        vec!["PersistentVolumeClaim", "StatefulSet", "Service", "CronJob"],
    ];
    for (expected, kinds) in order.iter().enumerate() {
        for kind in kinds {
            assert_eq!(one(kind), expected as i32, "{kind}");
        }
    }
    assert_eq!(
        waves.len(),
        order.iter().map(Vec::len).sum::<usize>(),
        "{waves:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// User templates

fn with_template(each: &str, template: &str) -> Repo {
    with_allowed_template(each, &[], template)
}

/// `with_template`, its extras entry allowing `kinds` (`allowKinds`).
fn with_allowed_template(each: &str, kinds: &[&str], template: &str) -> Repo {
    let allow = if kinds.is_empty() {
        String::new()
    } else {
        format!("    allowKinds: [{}]\n", kinds.join(", "))
    };
    Repo::new(&[
        (
            "environments/prod.yaml",
            &format!(
                "{}{ARGOCD}extras:\n  - template: templates/t.yaml.hbs\n    each: {each}\n{allow}",
                BASE.replace("name: base", "name: prod")
            ),
        ),
        ("templates/t.yaml.hbs", template),
    ])
}

const PDB: &str = "apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{server.name}}
  labels: {app: notebook}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {nbgen.io/server: {{server.name}}}
";

#[test]
fn a_template_renders_one_object_per_server_labelled_placed_and_allowed() {
    let repo = with_template("server", PDB);
    let prod = repo.ok("prod");
    assert_eq!(
        file(&prod, "research/poddisruptionbudget-prep-alice.yaml"),
        "# Generated by nbgen from environments/prod.yaml and templates/t.yaml.hbs; do not edit. Change the spec, then run: nbgen render prod
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: prep-alice
  namespace: research
  labels:
    app: notebook
    app.kubernetes.io/managed-by: nbgen
    app.kubernetes.io/part-of: prod
    nbgen.io/role: prep
    nbgen.io/server: prep-alice
    nbgen.io/team: research
  annotations:
    argocd.argoproj.io/sync-wave: \"6\"
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      nbgen.io/server: prep-alice
"
    );
    assert!(
        prod.tree
            .contains_key("research/poddisruptionbudget-prep-bob.yaml")
    );
    assert!(
        prod.tree
            .contains_key("training/poddisruptionbudget-train.yaml")
    );
    // The environment's AppProject allows the new kind.
    assert!(
        body(&prod, "_argocd/appproject-notebooks-prod.yaml")
            .contains("  - group: policy\n    kind: PodDisruptionBudget\n")
    );
}

#[test]
fn a_template_may_choose_its_own_sync_wave() {
    let repo = with_template(
        "team",
        "apiVersion: v1
kind: LimitRange
metadata:
  name: defaults
  annotations: {argocd.argoproj.io/sync-wave: \"-1\"}
spec:
  limits: [{type: Container, default: {cpu: 500m}}]
",
    );
    let prod = repo.ok("prod");
    assert!(
        file(&prod, "training/limitrange-defaults.yaml")
            .contains("  annotations:\n    argocd.argoproj.io/sync-wave: \"-1\"\n")
    );
}

#[test]
fn the_template_context_is_as_documented() {
    let repo = with_template(
        "server",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: ctx-{{server.name}}
data:
  environment: {{json (json environment)}}
  team: {{json (json team)}}
  server: {{json (json server)}}
",
    );
    let prod = repo.ok("prod");
    let cm: serde_json::Value =
        serde_saphyr::from_str(file(&prod, "training/configmap-ctx-train.yaml")).expect("YAML");
    let data = |k: &str| -> serde_json::Value {
        serde_json::from_str(cm["data"][k].as_str().expect("a string")).expect("JSON")
    };
    assert_eq!(
        data("environment"),
        serde_json::json!({"name": "prod", "kubernetesVersion": "1.33", "namespaces": ["research", "training"]})
    );
    let server = serde_json::json!({
        "name": "train", "role": "train", "member": null,
        "image": "registry.example.com/ml/train:2.0.0", "namespace": "training",
        "nodePort": null, "urlPrefix": "/notebook/training/train",
        "cpu": "4", "memory": "16Gi",
        "gpu": {"pool": "a100", "resource": "nvidia.com/gpu", "count": 2}
    });
    assert_eq!(data("server"), server);
    assert_eq!(
        data("team"),
        serde_json::json!({
            "name": "training", "namespace": "training", "members": [], "groups": ["ml"],
            "servers": [server], "jobs": []
        })
    );
}

#[test]
fn a_misspelt_variable_is_an_error_at_its_template_line() {
    let repo = with_template(
        "server",
        &PDB.replace(
            "name: {{server.name}}\n  labels",
            "name: {{server.nmae}}\n  labels",
        ),
    );
    repo.fails(
        "prod",
        "error: `server.nmae` is not defined for a template rendered with each: server
 --> templates/t.yaml.hbs:4:9
  |
4 |   name: {{server.nmae}}
  |         ^
  = help: did you mean `server.name`?
",
    );
}

#[test]
fn a_variable_of_another_each_is_an_error() {
    let repo = with_template("team", PDB);
    repo.fails(
        "prod",
        "error: `server.name` is not defined for a template rendered with each: team
 --> templates/t.yaml.hbs:4:9
  |
4 |   name: {{server.name}}
  |         ^
  = help: with each: team a template can use `environment`, `team`; see docs/templates.md
",
    );
}

#[test]
fn a_template_syntax_error_points_at_its_line() {
    let repo = with_template(
        "env",
        "kind: X\nmetadata:\n  name: {{#if environment.name}}x\n",
    );
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.starts_with("error: template syntax: ") && e.contains("\n --> templates/t.yaml.hbs:"),
        "{e}"
    );
}

#[test]
fn an_object_nbgen_renders_cannot_be_rendered_again() {
    let repo = with_template(
        "team",
        "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
spec:
  podSelector: {}
",
    );
    repo.fails(
        "prod",
        "error: templates/t.yaml.hbs (for team research) renders research NetworkPolicy/default-deny, which nbgen renders itself
 --> templates/t.yaml.hbs
  = help: give the object another name; to change what nbgen renders, change the spec

error: templates/t.yaml.hbs (for team training) renders training NetworkPolicy/default-deny, which nbgen renders itself
 --> templates/t.yaml.hbs
  = help: give the object another name; to change what nbgen renders, change the spec
",
    );
}

#[test]
fn two_renderings_of_one_object_collide() {
    let repo = with_template(
        "server",
        &PDB.replace(
            "name: {{server.name}}\n  labels",
            "name: notebooks\n  labels",
        ),
    );
    repo.fails(
        "prod",
        "error: templates/t.yaml.hbs (for server research/prep-bob) renders research PodDisruptionBudget/notebooks, which templates/t.yaml.hbs (for server research/prep-alice) renders too
 --> templates/t.yaml.hbs
  = help: make the name depend on what the template is rendered for, e.g. {{server.name}} or {{team.name}}
",
    );
}

#[test]
fn objects_land_in_the_environments_namespaces_only() {
    // per team: another namespace is an error
    let repo = with_template(
        "team",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n",
    );
    let e = repo.render("prod").unwrap_err();
    assert!(e.starts_with("error: templates/t.yaml.hbs (for team research), object 1: ConfigMap x is in namespace `kube-system`, not in team research's namespace `research`\n"), "{e}");
    // once for the environment: the namespace must be written, and be the environment's
    let repo = with_template(
        "env",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    repo.fails(
        "prod",
        "error: templates/t.yaml.hbs (for the environment), object 1: ConfigMap x has no namespace
 --> templates/t.yaml.hbs:2:7
  |
2 | kind: ConfigMap
  |       ^^^^^^^^^
  = help: a template rendered once for the environment names each object's namespace, one of: research, training
",
    );
    let repo = with_template(
        "env",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n",
    );
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.contains("ConfigMap x is in namespace `default`, which is not one of this environment's"),
        "{e}"
    );
    // one in a team's namespace is fine, and labelled as the team's
    let repo = with_allowed_template(
        "env",
        &["ClusterRole"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: training}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: notebook-viewer}\nrules: []\n",
    );
    let prod = repo.ok("prod");
    assert!(file(&prod, "training/configmap-x.yaml").contains("    nbgen.io/team: training\n"));
    // cluster-scoped kinds land in _cluster/ and may not name a namespace
    assert!(
        prod.tree
            .contains_key("_cluster/clusterrole-notebook-viewer.yaml")
    );
    assert!(body(&prod, "_argocd/appproject-notebooks-prod.yaml")
        .contains("  - group: rbac.authorization.k8s.io\n    kind: ClusterRole\n  namespaceResourceWhitelist:"));
    let repo = with_allowed_template(
        "team",
        &["ClusterRole"],
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: 'x-{{team.name}}', namespace: '{{team.namespace}}'}\n",
    );
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.contains("ClusterRole x-research is cluster-scoped but has namespace `research`"),
        "{e}"
    );
}

#[test]
fn secrets_argo_cd_objects_and_nameless_objects_are_refused() {
    for (doc, message) in [
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n",
            "is a Secret",
        ),
        (
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\n",
            "is an Argo CD Application",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: c-}\n",
            "ConfigMap has no metadata.name",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../../etc}\n",
            "name `../../etc` is not a valid Kubernetes name",
        ),
        (
            "kind: ConfigMap\nmetadata: {name: c}\n",
            "has no apiVersion",
        ),
        (
            "apiVersion: v1\nkind: ../x\nmetadata: {name: c}\n",
            "kind `../x` is not a Kubernetes kind",
        ),
        ("- a list\n", "is not a map"),
        (
            "apiVersion: v1\nkind: ConfigMapList\nmetadata: {name: c}\n",
            "is a ConfigMapList",
        ),
    ] {
        let repo = with_template("team", doc);
        let e = repo.render("prod").unwrap_err();
        assert!(
            e.starts_with(&format!(
                "error: templates/t.yaml.hbs (for team research and 1 more), object 1: {message}\n"
            )),
            "{doc}\n{e}"
        );
    }
}

#[test]
fn output_that_is_not_yaml_names_the_template_and_the_line() {
    let repo = with_template(
        "team",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n",
    );
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.starts_with(
            "error: templates/t.yaml.hbs (for team research and 1 more): the output is not valid YAML: "
        ),
        "{e}"
    );
    assert!(e.contains("\n --> templates/t.yaml.hbs\n"), "{e}");
}

#[test]
fn template_paths_stay_inside_the_repository() {
    for (path, problem) in [
        ("../outside.hbs", "contains `..`"),
        ("templates/../../outside.hbs", "contains `..`"),
        ("/etc/passwd", "is absolute"),
        ("templates\\\\t.hbs", "contains a backslash"),
    ] {
        let repo = Repo::new(&[(
            "environments/prod.yaml",
            &format!(
                "{}extras:\n  - template: \"{path}\"\n    each: env\n",
                BASE.replace("name: base", "name: prod")
            ),
        )]);
        let e = repo.render("prod").unwrap_err();
        let shown = path.replace("\\\\", "\\");
        assert!(
            e.starts_with(&format!(
                "error: template path `{shown}` {problem}\n  --> environments/prod.yaml:40:15\n"
            )),
            "{path}: {e}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_template_that_links_outside_the_repository_is_not_read() {
    let outside = tempfile::tempdir().expect("a temporary directory");
    fs::write(outside.path().join("t.hbs"), PDB).expect("write");
    let repo = with_template("server", PDB);
    fs::remove_file(repo.dir.path().join("templates/t.yaml.hbs")).expect("rm");
    std::os::unix::fs::symlink(
        outside.path().join("t.hbs"),
        repo.dir.path().join("templates/t.yaml.hbs"),
    )
    .expect("symlink");
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.starts_with("error: cannot read template templates/t.yaml.hbs: it resolves to a file outside the repository\n  --> environments/prod.yaml:44:15\n"),
        "{e}"
    );
}

#[test]
fn a_missing_template_is_an_error_at_the_spec_line() {
    let repo = with_template("server", PDB);
    fs::remove_file(repo.dir.path().join("templates/t.yaml.hbs")).expect("rm");
    repo.fails(
        "prod",
        "error: cannot read template templates/t.yaml.hbs: no such file
  --> environments/prod.yaml:44:15
   |
44 |   - template: templates/t.yaml.hbs
   |               ^^^^^^^^^^^^^^^^^^^^
   = help: templates live inside the repository; write the path relative to its root, e.g. templates/ingress.yaml.hbs
",
    );
}

#[test]
fn extras_in_a_base_are_inherited() {
    let repo = Repo::new(&[
        (
            "environments/base.yaml",
            &format!("{BASE}extras:\n  - template: templates/t.yaml.hbs\n    each: server\n"),
        ),
        (
            "environments/prod.yaml",
            "extends: base\nteams:\n  research: null\n",
        ),
        ("templates/t.yaml.hbs", PDB),
    ]);
    let prod = repo.ok("prod");
    let pdbs: Vec<&String> = prod
        .tree
        .keys()
        .filter(|p| p.contains("poddisruptionbudget"))
        .collect();
    assert_eq!(pdbs, ["training/poddisruptionbudget-train.yaml"]);
}

#[test]
fn optional_values_are_null_and_helpers_work_in_strict_mode() {
    let repo = with_template(
        "server",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: x-{{server.name}}
data:
  member: {{json server.member}}
  gpus: \"{{#if server.gpu}}{{server.gpu.count}}{{else}}0{{/if}}\"
  groups: {{json (json team.groups)}}
  first: {{#each team.servers}}{{#if @first}}{{name}}{{/if}}{{/each}}
  is-train: \"{{#if (eq server.role \"train\")}}yes{{else}}no{{/if}}\"
",
    );
    let prod = repo.ok("prod");
    assert_eq!(
        body(&prod, "training/configmap-x-train.yaml"),
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: x-train
  namespace: training
  labels:
    app.kubernetes.io/managed-by: nbgen
    app.kubernetes.io/part-of: prod
    nbgen.io/role: train
    nbgen.io/server: train
    nbgen.io/team: training
  annotations:
    argocd.argoproj.io/sync-wave: \"5\"
data:
  member: null
  gpus: \"2\"
  groups: \"[\\\"ml\\\"]\"
  first: train
  is-train: \"yes\"
"
    );
    let alice = body(&prod, "research/configmap-x-prep-alice.yaml");
    assert!(
        alice.contains("  member: alice@example.com\n  gpus: \"0\"\n"),
        "{alice}"
    );
}

#[test]
fn a_misspelt_variable_inside_a_helper_is_an_error_too() {
    let repo = with_template(
        "server",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x-{{server.name}}}\ndata:\n  a: {{json server.nodeport}}\n  b: \"{{#if server.gpus}}x{{/if}}\"\n",
    );
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.starts_with("error: `server.nodeport` is not defined for a template rendered with each: server\n --> templates/t.yaml.hbs:5:6\n"),
        "{e}"
    );
    assert!(e.contains("= help: did you mean `server.nodePort`?"), "{e}");
    // Handlebars' own `if` takes a missing name for false; nbgen's does not.
    let repo = with_template(
        "server",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x-{{server.name}}}\ndata:\n  b: \"{{#unless server.gpus}}x{{/unless}}\"\n",
    );
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.starts_with("error: `server.gpus` is not defined for a template rendered with each: server\n --> templates/t.yaml.hbs:5:7\n"),
        "{e}"
    );
    assert!(e.contains("= help: did you mean `server.gpu`?"), "{e}");
}

// ---- templates cannot widen trust silently ----

const CLUSTER_ADMIN: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everyone-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: ml}]
";

#[test]
fn a_template_granting_cluster_admin_fails_at_its_kind_line_unless_allowed() {
    with_template("env", CLUSTER_ADMIN).fails(
        "prod",
        "error: templates/t.yaml.hbs (for the environment), object 1: is a ClusterRoleBinding, which is cluster-scoped: it acts beyond the environment's namespaces
 --> templates/t.yaml.hbs:2:7
  |
2 | kind: ClusterRoleBinding
  |       ^^^^^^^^^^^^^^^^^^
  = help: a template may render a ClusterRoleBinding only when the spec allows it by name: add `allowKinds: [ClusterRoleBinding]` to this extras entry, and have the change reviewed as a change of who may do what
",
    );
    let prod = with_allowed_template("env", &["ClusterRoleBinding"], CLUSTER_ADMIN).ok("prod");
    assert!(
        prod.tree
            .contains_key("_cluster/clusterrolebinding-everyone-admin.yaml")
    );
}

#[test]
fn webhooks_roles_workloads_and_persistent_volumes_from_templates_need_allowing() {
    for (kind, api, why) in [
        (
            "ValidatingWebhookConfiguration",
            "admissionregistration.k8s.io/v1",
            "is cluster-scoped",
        ),
        (
            "MutatingWebhookConfiguration",
            "admissionregistration.k8s.io/v1",
            "is cluster-scoped",
        ),
        ("PersistentVolume", "v1", "is cluster-scoped"),
        ("Namespace", "v1", "is cluster-scoped"),
        ("Role", "rbac.authorization.k8s.io/v1", "grants permissions"),
        (
            "RoleBinding",
            "rbac.authorization.k8s.io/v1",
            "grants permissions",
        ),
        (
            "Deployment",
            "apps/v1",
            "runs pods outside nbgen's pod model",
        ),
        ("Pod", "v1", "runs pods outside nbgen's pod model"),
    ] {
        let template = format!("apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\n");
        let e = with_template("team", &template).render("prod").unwrap_err();
        assert!(
            e.contains(&format!("object 1: is a {kind}, which {why}"))
                && e.contains(&format!("add `allowKinds: [{kind}]`")),
            "{kind}: {e}"
        );
    }
}

#[test]
fn argo_cds_namespace_is_refused_even_when_namespaces_are_allowed() {
    let e = with_allowed_template(
        "env",
        &["Namespace"],
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n",
    )
    .render("prod")
    .unwrap_err();
    assert!(
        e.starts_with("error: templates/t.yaml.hbs (for the environment), object 1: is Namespace `argocd`, Argo CD's own namespace\n --> templates/t.yaml.hbs:2:7\n"),
        "{e}"
    );
}

#[test]
fn argo_cds_default_project_cannot_be_overwritten() {
    let repo = Repo::new(&[(
        "environments/prod.yaml",
        &format!(
            "{}{ARGOCD}    project: default\n",
            BASE.replace("name: base", "name: prod")
        ),
    )]);
    let e = repo.render("prod").unwrap_err();
    assert!(
        e.starts_with("error: AppProject `default` is Argo CD's own project\n"),
        "{e}"
    );
}

#[test]
fn a_mistake_in_a_template_is_one_error_for_all_its_servers() {
    let repo = with_template(
        "server",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: '{{server.name}}-x'}\n",
    );
    let e = repo.render("prod").unwrap_err();
    assert_eq!(e.matches("is a Secret").count(), 1, "{e}");
    assert!(
        e.contains("templates/t.yaml.hbs (for server research/prep-alice and 2 more), object 1: is a Secret"),
        "{e}"
    );
}
