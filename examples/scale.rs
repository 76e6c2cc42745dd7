//! Benchmark helper: writes a synthetic but valid environment of N teams, and the Helm values
//! that make the peer chart in `benches/peers/helm/` render the same objects.
//!
//! ```text
//! cargo run --release --example scale -- spec 1000   > environments/scale.yaml
//! cargo run --release --example scale -- values environments/scale.yaml > values.json
//! ```
//!
//! The mix (team kinds cycle in this order):
//! - `perMember` team: 3 members, roles prep + train (6 servers), quota;
//! - full team: roles prep + train + infer (3 servers), quota;
//! - serving team: groups only, role infer, its NodePort pinned;
//! - small team: 2 members, role prep.
//!
//! That is about 21 objects and 2.75 notebook servers per team. Every server needs its own
//! NodePort, and 5,000 teams have 13,750 servers: far more than the 2,768 ports of Kubernetes'
//! default range 30000-32767. So the generated cluster declares `nodePortRange: 20000-59999`
//! (40,000 ports) at every N, which a real cluster would match with the API server's
//! `--service-node-port-range`; the range stays at most a third full, so port probing stays
//! short.
//!
//! The values file is derived from nbgen's own validated model (ports included), so Helm is given
//! every decision ready-made and only has to print the objects.

use nbgen::model::{Env, VolumeBackend};
use nbgen::source::SourceFile;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

/// The environment name, so the spec lives in `environments/scale.yaml`.
const ENV: &str = "scale";
const PORTS: (u32, u32) = (20000, 59999);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["spec", n] => match n.parse::<usize>() {
            Ok(n) if n > 0 => {
                print!("{}", spec(n));
                ExitCode::SUCCESS
            }
            _ => usage(),
        },
        ["values", path] => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("scale: {path}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let src = SourceFile::new(format!("environments/{ENV}.yaml"), text);
            match nbgen::render(&src, ENV, &BTreeMap::new()) {
                Ok(r) => {
                    println!("{}", values(&r.env));
                    ExitCode::SUCCESS
                }
                Err(diags) => {
                    for d in diags {
                        eprint!("{}", d.render(std::slice::from_ref(&src), false));
                    }
                    ExitCode::FAILURE
                }
            }
        }
        _ => usage(),
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: scale spec TEAMS | scale values SPEC_FILE");
    ExitCode::from(2)
}

/// The spec of `teams` teams; pools get 10% more GPUs than their servers ask for.
fn spec(teams: usize) -> String {
    let count = |kind: usize| (0..teams).filter(|i| i % 4 == kind).count() as u32;
    // a100: one train server per member of kind 0 (3) and one per kind-1 team.
    let a100 = 3 * count(0) + count(1);
    // l4: one infer server per kind-1 and kind-2 team.
    let l4 = count(1) + count(2);
    let mut s = String::new();
    let _ = write!(
        s,
        "\
# yaml-language-server: $schema=../schemas/environment.schema.json
#
# Synthetic environment of {teams} teams for nbgen's benchmarks (examples/scale.rs).
apiVersion: nbgen.io/v1alpha1
kind: Environment
name: {ENV}
cluster:
  kubernetesVersion: \"1.33\"
  nodePortRange: {}-{}               # wider than the default: every server needs a port
  storageClass: standard
images:
  dataprep: {{image: registry.example.com/ml/dataprep:1.4.2, start: docker-stacks}}
  train: {{image: registry.example.com/ml/train:2.3.0-gpu, start: docker-stacks}}
  infer: {{image: registry.example.com/ml/infer:2.3.0, start: docker-stacks}}
gpuPools:
  a100:
    resource: nvidia.com/gpu
    capacity: {}
    nodeSelector: {{nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB}}
    tolerations: [{{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}]
  l4:
    resource: nvidia.com/gpu
    capacity: {}
    nodeSelector: {{nvidia.com/gpu.product: NVIDIA-L4}}
    tolerations: [{{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}]
storage:
  datasets:
    size: 500Gi
    nfs: {{server: nfs.storage.example.com, path: /exports/datasets}}
  features:
    size: 200Gi
    nfs: {{server: nfs.storage.example.com, path: /exports/features}}
  models:
    size: 100Gi
    nfs: {{server: 10.20.0.5, path: /exports/models}}
roles:
  prep:
    image: dataprep
    cpu: \"2\"
    memory: 8Gi
    homeSize: 20Gi
    mounts: {{datasets: readWrite, features: readWrite}}
  train:
    image: train
    cpu: \"8\"
    memory: 64Gi
    gpu: {{pool: a100, count: 1}}
    mounts: {{datasets: readOnly, features: readOnly, models: readWrite}}
  infer:
    image: infer
    cpu: \"2\"
    memory: 8Gi
    gpu: {{pool: l4, count: 1}}
    mounts: {{models: readOnly}}
teams:
",
        PORTS.0,
        PORTS.1,
        a100 + a100 / 10 + 1,
        l4 + l4 / 10 + 1,
    );
    for i in 0..teams {
        let name = format!("team-{i:05}");
        let _ = writeln!(s, "  {name}:");
        match i % 4 {
            0 => {
                let members: Vec<String> =
                    (0..3).map(|m| format!("u{i}-{m}@example.com")).collect();
                let _ = writeln!(s, "    members: [{}]", members.join(", "));
                let _ = writeln!(s, "    groups: [{name}-ds]");
                let _ = writeln!(s, "    roles: [prep, train]");
                let _ = writeln!(s, "    perMember: true");
                let _ = writeln!(s, "    quota: {{cpu: \"32\", memory: 256Gi, gpu: 4}}");
            }
            1 => {
                let _ = writeln!(s, "    members: [lead{i}@example.com]");
                let _ = writeln!(s, "    groups: [{name}-ml]");
                let _ = writeln!(s, "    roles: [prep, train, infer]");
                let _ = writeln!(s, "    quota: {{cpu: \"16\", memory: 96Gi, gpu: 2}}");
            }
            2 => {
                let _ = writeln!(s, "    groups: [{name}-ops]");
                let _ = writeln!(s, "    roles: [infer]");
                let _ = writeln!(s, "    nodePorts: {{infer: {}}}", PORTS.0 + i as u32);
            }
            _ => {
                let _ = writeln!(
                    s,
                    "    members: [a{i}@example.com, b{i}@example.com]\n    roles: [prep]"
                );
            }
        }
    }
    s
}

/// Everything the chart needs, decided: teams, their servers with ports, claims and quotas.
fn values(env: &Env) -> Value {
    let pools: BTreeMap<&str, Value> = env
        .gpu_pools
        .values()
        .map(|p| {
            let tolerations: Vec<Value> = p
                .tolerations
                .iter()
                .map(|t| {
                    let mut m = serde_json::Map::new();
                    for (k, v) in [
                        ("effect", &t.effect),
                        ("key", &t.key),
                        ("operator", &t.operator),
                        ("value", &t.value),
                    ] {
                        if let Some(v) = v {
                            m.insert(k.to_owned(), json!(v));
                        }
                    }
                    if let Some(s) = t.toleration_seconds {
                        m.insert("tolerationSeconds".to_owned(), json!(s));
                    }
                    Value::Object(m)
                })
                .collect();
            (
                p.name.as_str(),
                json!({"nodeSelector": p.node_selector, "tolerations": tolerations}),
            )
        })
        .collect();
    let volumes: BTreeMap<&str, Value> = env
        .volumes
        .values()
        .map(|v| {
            let nfs = match &v.backend {
                VolumeBackend::Nfs { server, path } => json!({"server": server, "path": path}),
                VolumeBackend::StorageClass(_) => Value::Null,
            };
            (v.name.as_str(), json!({"size": v.size.text, "nfs": nfs}))
        })
        .collect();
    let teams: Vec<Value> = env
        .teams
        .iter()
        .map(|t| {
            let quota = t.quota.as_ref().map(|q| {
                let mut hard = serde_json::Map::new();
                if let Some(c) = &q.cpu {
                    hard.insert("cpu".to_owned(), json!(c.text));
                }
                if let Some(m) = &q.memory {
                    hard.insert("memory".to_owned(), json!(m.text));
                }
                for (resource, cap) in &q.gpu {
                    hard.insert(format!("requests.{resource}"), json!(cap.to_string()));
                }
                hard
            });
            let servers: Vec<Value> = t
                .servers
                .iter()
                .map(|s| {
                    json!({
                        "name": s.name,
                        "role": s.role,
                        "image": s.image.reference,
                        "shmSize": s.shm_size.text,
                        "cpu": s.cpu.text,
                        "memory": s.memory.text,
                        "homeSize": s.home_size.text,
                        "gpu": s.gpu.as_ref().map(|g| json!({"pool": g.pool, "resource": g.resource, "count": g.count.to_string()})),
                        "mounts": s.mounts.iter().map(|(v, ro)| json!({"volume": v, "readOnly": ro})).collect::<Vec<_>>(),
                        "nodePort": s.node_port,
                    })
                })
                .collect();
            json!({
                "name": t.name,
                "namespace": t.namespace,
                "members": t.members,
                "groups": t.groups,
                "quota": quota,
                "claims": t.claims.iter().map(|c| json!({"volume": c.volume, "writable": c.writable})).collect::<Vec<_>>(),
                "servers": servers,
            })
        })
        .collect();
    json!({
        "env": env.name,
        "kubernetesVersion": env.kubernetes_version,
        "storageClass": env.storage_class,
        "gpuPools": pools,
        "volumes": volumes,
        "teams": teams,
    })
}
