//! The kubeflow target (docs/kubeflow.md), read from the rendered objects as Kubeflow's
//! controllers and a reviewer would read them: who owns each Profile, who contributes where and
//! under which names, what a Notebook's pod carries, and what is not rendered at all.

use nbgen::source::SourceFile;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const SPEC: &str = r#"apiVersion: nbgen.io/v1alpha1
kind: Environment
name: kf
cluster:
  kubernetesVersion: "1.33"
  target: kubeflow
  namespacePrefix: kf-
images:
  scipy: kubeflownotebookswg/jupyter-scipy:v1.10.0
  lab: quay.io/jupyter/scipy-notebook:2025-03-17
storage:
  data: {size: 10Gi, nfs: {server: nfs.example.com, path: /d}}
roles:
  explore: {image: scipy, cpu: "1", memory: 2Gi, mounts: {data: readOnly}}
  batch: {image: lab, cpu: "1", memory: 2Gi, mounts: {data: readWrite}}
teams:
  solo:
    members: [ana@example.com, ben@example.com]
    roles: [explore]
    perMember: true
  shared:
    members: [zoe@example.com, carl@example.com, dora@example.com]
    roles: [explore, batch]
jobs:
  once:
    team: shared
    role: batch
    notebook: /data/data/nb.ipynb
    outputDir: /data/data/out
"#;

fn objects() -> Vec<Value> {
    let src = SourceFile::new("environments/kf.yaml", SPEC);
    let render = nbgen::render(&src, "kf", &BTreeMap::new()).unwrap_or_else(|diags| {
        let shown: Vec<String> = diags
            .iter()
            .map(|d| d.render(std::slice::from_ref(&src), false))
            .collect();
        panic!("the spec is valid, but:\n{}", shown.join("\n"))
    });
    assert!(render.warnings.is_empty(), "{:?}", render.warnings);
    render
        .tree
        .values()
        .map(|f| serde_saphyr::from_str::<Value>(&f.text).expect("YAML"))
        .collect()
}

fn of_kind<'a>(all: &'a [Value], kind: &str) -> Vec<&'a Value> {
    all.iter().filter(|o| o["kind"] == kind).collect()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn namespace(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or_default()
}

#[test]
fn a_profile_per_team_and_per_member_owned_as_the_spec_lists_them() {
    let all = objects();
    let owners: BTreeMap<&str, &str> = of_kind(&all, "Profile")
        .into_iter()
        .map(|p| (name(p), p["spec"]["owner"]["name"].as_str().unwrap()))
        .collect();
    // `shared`'s first member as written owns it, not the first in sorted order.
    assert_eq!(
        owners,
        BTreeMap::from([
            ("kf-shared", "zoe@example.com"),
            ("kf-solo-ana", "ana@example.com"),
            ("kf-solo-ben", "ben@example.com"),
        ])
    );
    // Each Namespace as the profile controller adopts it: its owner, Kubeflow's labels.
    for ns in of_kind(&all, "Namespace") {
        assert_eq!(ns["metadata"]["annotations"]["owner"], owners[name(ns)]);
        let labels = &ns["metadata"]["labels"];
        assert_eq!(labels["istio-injection"], "enabled");
        assert_eq!(labels["app.kubernetes.io/part-of"], "kubeflow-profile");
        assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
    }
    for o in of_kind(&all, "Namespace")
        .into_iter()
        .chain(of_kind(&all, "Profile"))
    {
        assert_eq!(
            o["metadata"]["annotations"]["argocd.argoproj.io/sync-options"],
            "Prune=false,Delete=false",
            "{} {}",
            o["kind"],
            name(o)
        );
    }
}

#[test]
fn contributors_are_bound_as_kfam_binds_them_and_only_in_their_team() {
    let all = objects();
    let bindings: BTreeSet<(&str, &str, &str)> = of_kind(&all, "RoleBinding")
        .into_iter()
        .map(|b| {
            assert_eq!(b["roleRef"]["kind"], "ClusterRole");
            assert_eq!(b["roleRef"]["name"], "kubeflow-edit");
            assert_eq!(b["metadata"]["annotations"]["role"], "edit");
            let user = b["subjects"][0]["name"].as_str().unwrap();
            assert_eq!(b["metadata"]["annotations"]["user"], user);
            (namespace(b), name(b), user)
        })
        .collect();
    // The owner is the controller's to bind (kubeflow-admin); a perMember member's Profile is
    // theirs alone.
    assert_eq!(
        bindings,
        BTreeSet::from([
            (
                "kf-shared",
                "user-carl-example-com-clusterrole-edit",
                "carl@example.com"
            ),
            (
                "kf-shared",
                "user-dora-example-com-clusterrole-edit",
                "dora@example.com"
            ),
        ])
    );
    let policies: BTreeSet<(&str, &str)> = of_kind(&all, "AuthorizationPolicy")
        .into_iter()
        .map(|p| {
            let rule = &p["spec"]["rules"][0];
            assert_eq!(rule["when"][0]["key"], "request.headers[kubeflow-userid]");
            assert_eq!(
                rule["when"][0]["values"][0],
                p["metadata"]["annotations"]["user"]
            );
            assert_eq!(
                rule["from"][0]["source"]["principals"][0],
                "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
            );
            (namespace(p), name(p))
        })
        .collect();
    let bound: BTreeSet<(&str, &str)> = bindings.iter().map(|(ns, n, _)| (*ns, *n)).collect();
    assert_eq!(
        policies, bound,
        "one AuthorizationPolicy per RoleBinding, same name"
    );
}

#[test]
fn notebooks_run_as_the_controller_expects_with_no_service_or_statefulset_of_nbgens() {
    let all = objects();
    for kind in ["Service", "StatefulSet", "ResourceQuota", "Role"] {
        assert!(of_kind(&all, kind).is_empty(), "no {kind} on Kubeflow");
    }
    let notebooks = of_kind(&all, "Notebook");
    let where_: BTreeSet<(&str, &str)> =
        notebooks.iter().map(|n| (namespace(n), name(n))).collect();
    assert_eq!(
        where_,
        BTreeSet::from([
            ("kf-shared", "batch"),
            ("kf-shared", "explore"),
            ("kf-solo-ana", "explore-ana"),
            ("kf-solo-ben", "explore-ben"),
        ])
    );
    for n in notebooks {
        let pod = &n["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        assert_eq!(c["name"], name(n));
        assert_eq!(c["ports"][0]["name"], "notebook-port");
        assert_eq!(c["ports"][0]["containerPort"], 8888);
        assert_eq!(c["workingDir"], "/home/jovyan");
        let env: BTreeMap<&str, &Value> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), &e["value"]))
            .collect();
        let prefix = format!("/notebook/{}/{}", namespace(n), name(n));
        assert_eq!(env["NB_PREFIX"], prefix.as_str());
        assert!(
            !env.contains_key("JUPYTER_TOKEN"),
            "the gateway authenticates"
        );
        let line: Vec<&str> = ["command", "args"]
            .iter()
            .filter_map(|k| c[*k].as_array())
            .flatten()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(line.contains(&format!("--ServerApp.base_url={prefix}/").as_str()));
        assert!(line.contains(&"--IdentityProvider.token="), "{line:?}");
        assert_eq!(
            n["metadata"]["annotations"]["notebooks.kubeflow.org/server-type"],
            "jupyter"
        );
        let sc = &c["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"][0], "ALL");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let claims: BTreeSet<&str> = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
            .collect();
        let home = format!("{}-home", name(n));
        assert_eq!(claims, BTreeSet::from([home.as_str(), "data"]));
        // The claims it mounts are in its own namespace.
        for claim in claims {
            assert!(
                of_kind(&all, "PersistentVolumeClaim")
                    .iter()
                    .any(|p| name(p) == claim && namespace(p) == namespace(n)),
                "{claim} in {}",
                namespace(n)
            );
        }
    }
}

#[test]
fn a_job_runs_without_the_sidecar_that_would_keep_it_from_completing() {
    let all = objects();
    let jobs = of_kind(&all, "Job");
    assert_eq!(jobs.len(), 1);
    assert_eq!(namespace(jobs[0]), "kf-shared");
    assert_eq!(
        jobs[0]["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"],
        "false"
    );
}

#[test]
fn the_gateway_the_culler_and_istiod_are_let_through_default_deny() {
    let all = objects();
    for ns in ["kf-shared", "kf-solo-ana", "kf-solo-ben"] {
        let here: BTreeMap<&str, &Value> = of_kind(&all, "NetworkPolicy")
            .into_iter()
            .filter(|p| namespace(p) == ns)
            .map(|p| (name(p), p))
            .collect();
        assert!(here.contains_key("default-deny"), "{ns}");
        let http = &here["allow-notebook-http"]["spec"]["ingress"][0];
        assert_eq!(http["ports"][0]["port"], 8888);
        let from: BTreeSet<String> = http["from"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{}/{}",
                    f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                        .as_str()
                        .unwrap(),
                    serde_json::to_string(&f["podSelector"]["matchLabels"]).unwrap()
                )
            })
            .collect();
        assert_eq!(
            from,
            BTreeSet::from([
                r#"istio-system/{"istio":"ingressgateway"}"#.to_owned(),
                r#"kubeflow/{"app":"notebook-controller"}"#.to_owned(),
            ])
        );
        let istiod = &here["allow-istiod"]["spec"]["egress"][0];
        assert_eq!(istiod["ports"][0]["port"], 15012);
    }
}

#[test]
fn the_graph_names_each_teams_profiles_and_shows_notebooks() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("environments")).expect("environments/");
    std::fs::write(dir.path().join("environments/kf.yaml"), SPEC).expect("the spec");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_nbgen"))
        .arg("--root")
        .arg(dir.path())
        .args(["graph", "kf"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run nbgen");
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let g = String::from_utf8(run.stdout).expect("UTF-8");
    assert!(
        g.contains(r#"subgraph team0["shared (Profile kf-shared)"]"#),
        "{g}"
    );
    assert!(
        g.contains(r#"subgraph team1["solo (Profiles kf-solo-ana, kf-solo-ben)"]"#),
        "{g}"
    );
    assert!(g.contains(r#"["Notebook explore-ana<br/>"#), "{g}");
}
