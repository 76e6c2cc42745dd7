//! Benchmark helper: writes a synthetic but valid environment of N teams, and the Helm values
//! that make the peer chart in `benches/peers/helm/` render the same objects.
//!
//! ```text
//! cargo run --release --example scale -- spec 1000   > environments/scale.yaml
//! cargo run --release --example scale -- values environments/scale.yaml > values.json
//! ```
//!
//! The mix (team kinds cycle in this order):
//! - `perMember` team: 3 members, roles prep + train (6 servers), quota written;
//! - full team: roles prep + train + infer (3 servers), quota written;
//! - serving team: groups only, role infer, its NodePort pinned, quota derived;
//! - small team: 2 members, role prep, quota derived.
//!
//! That is 26.5 objects and 2.75 notebook servers per team, plus the environment's admission
//! policy and its binding. The cluster declares `cluster.network`: its ranges, an ingress
//! controller, NodePort clients outside the cluster's ranges (without them NodePort pins are an
//! error and Services are ClusterIP) and one egress destination, so every team gets all four
//! NetworkPolicies. Every server needs its own NodePort, and 5,000 teams have 13,750 servers:
//! far more than the 2,768 ports of Kubernetes' default range 30000-32767. So the generated
//! cluster declares `nodePortRange: 20000-59999` (40,000 ports) at every N, which a real cluster
//! would match with the API server's `--service-node-port-range`; the range stays at most a
//! third full, so port probing stays short.
//!
//! The values file is derived from nbgen's own validated model (ports, derived quotas, member
//! slugs, command lines included, through nbgen's own name and start-convention functions), so
//! Helm is given every decision ready-made and only has to print the objects. `values` refuses a
//! spec with jobs, extras or gitops, which the chart does not render.

use nbgen::model::names;
use nbgen::model::start;
use nbgen::model::{
    Cidr, EgressTo, Env, Family, Network, Peer, Start, VolumeBackend, metadata_addresses,
};
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
                Ok(r) => match values(&r.env) {
                    Ok(v) => {
                        println!("{v}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("scale: {path}: {e}");
                        ExitCode::FAILURE
                    }
                },
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
  network:                           # NodePorts need declared clients (cluster.network.nodePort)
    clusterCIDRs: [10.0.0.0/8]
    ingressController: {{namespace: ingress-nginx, podSelector: {{app.kubernetes.io/name: ingress-nginx}}}}
    nodePort: {{clientCIDRs: [192.168.100.0/24]}}
    egress:
      - {{cidr: 10.30.0.7/32, ports: [3128]}}
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

/// Everything the chart needs, decided: teams, their servers with ports and command lines,
/// RBAC subjects, claims, quotas (written or derived) and the network. Read from nbgen's
/// validated model (and its name and command-line rules), never recomputed here.
fn values(env: &Env) -> Result<Value, String> {
    // The chart renders servers, claims and the team-wide objects; not jobs, user templates or
    // Argo CD's objects, which the generated spec never declares.
    if !env.jobs.is_empty() || !env.extras.is_empty() || env.argocd.is_some() {
        return Err("the peer chart renders no jobs, extras or gitops objects".to_owned());
    }
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
            let (nfs, class) = match &v.backend {
                VolumeBackend::Nfs { server, path } => {
                    (json!({"server": server, "path": path}), Value::Null)
                }
                VolumeBackend::StorageClass(c) => (Value::Null, json!(c)),
            };
            (
                v.name.as_str(),
                json!({"size": v.size.text, "nfs": nfs, "storageClass": class}),
            )
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
                hard.insert("pods".to_owned(), json!(q.pods.to_string()));
                hard.insert(
                    "persistentvolumeclaims".to_owned(),
                    json!(q.claims.to_string()),
                );
                hard
            });
            let servers: Vec<Value> = t
                .servers
                .iter()
                .map(|s| {
                    let prefix = names::url_prefix(&t.namespace, &s.name);
                    let line = start::server_command(&s.image.start, &format!("{prefix}/"));
                    json!({
                        "name": s.name,
                        "role": s.role,
                        "image": s.image.reference,
                        "command": line.command,
                        "args": line.args,
                        "dockerStacks": s.image.start == Start::Family(Family::DockerStacks),
                        "prefix": prefix,
                        "pod": names::pod(&s.name),
                        "tokenSecret": names::token_secret(&s.name),
                        "shmSize": s.shm_size.text,
                        "cpu": s.cpu.text,
                        "memory": s.memory.text,
                        "homeSize": s.home_size.text,
                        "gpu": s.gpu.as_ref().map(|g| json!({"pool": g.pool, "resource": g.resource, "count": g.count.to_string()})),
                        "mounts": s.mounts.iter().map(|(v, ro)| json!({"volume": v, "readOnly": ro})).collect::<Vec<_>>(),
                        "nodePort": s.node_port.filter(|_| env.network.node_ports()),
                    })
                })
                .collect();
            // perMember: one Role per member who has servers, bound to that member alone;
            // otherwise one notebook-user Role for the team's servers, bound to everyone.
            let per_member = t.servers.iter().any(|s| s.member.is_some());
            let member_roles: Vec<Value> = if per_member {
                t.members
                    .iter()
                    .filter_map(|m| {
                        let own: Vec<Value> = t
                            .servers
                            .iter()
                            .filter(|s| s.member.as_ref() == Some(m))
                            .map(|s| {
                                json!({
                                    "name": s.name,
                                    "pod": names::pod(&s.name),
                                    "tokenSecret": names::token_secret(&s.name),
                                })
                            })
                            .collect();
                        (!own.is_empty()).then(|| {
                            json!({"name": names::member_role(m), "user": m, "servers": own})
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            json!({
                "name": t.name,
                "namespace": t.namespace,
                "members": t.members,
                "groups": t.groups,
                "perMember": per_member,
                "memberRoles": member_roles,
                "quota": quota,
                "claims": t.claims.iter().map(|c| json!({"volume": c.volume, "writable": c.writable})).collect::<Vec<_>>(),
                "servers": servers,
            })
        })
        .collect();
    Ok(json!({
        "env": env.name,
        "kubernetesVersion": env.kubernetes_version,
        "storageClass": env.storage_class,
        "admissionPolicy": names::admission_policy(&env.name),
        "network": network(&env.network),
        "gpuPools": pools,
        "volumes": volumes,
        "teams": teams,
    }))
}

/// The network the spec declares, as NetworkPolicy peers: DNS, the sources of notebook HTTP (the
/// ingress controller's pods, the NodePort clients), and each egress destination with the
/// ranges it must never reach cut out, as nbgen cuts them (the cluster's ranges from the
/// internet, the cloud metadata addresses from everything).
fn network(net: &Network) -> Value {
    let pods = |p: &Peer| json!({"namespace": p.namespace, "podSelector": p.pod_selector});
    let block = |cidr: &Cidr, cut: &[Cidr]| {
        let mut except: Vec<Cidr> = cut
            .iter()
            .chain(metadata_addresses().iter())
            .filter(|c| cidr.contains(c) && *c != cidr)
            .copied()
            .collect();
        except.sort();
        except.dedup();
        json!({"cidr": cidr.to_string(), "except": except.iter().map(ToString::to_string).collect::<Vec<_>>()})
    };
    let egress: Vec<Value> = net
        .egress
        .iter()
        .map(|e| {
            let to: Vec<Value> = match &e.to {
                EgressTo::Cidr(c) => vec![block(c, &[])],
                EgressTo::Internet => ["0.0.0.0/0", "::/0"]
                    .iter()
                    .map(|all| {
                        block(
                            &Cidr::parse(all).expect("a valid range"),
                            &net.cluster_cidrs,
                        )
                    })
                    .collect(),
            };
            json!({"to": to, "ports": e.ports})
        })
        .collect();
    json!({
        "dns": pods(&net.dns),
        "ingressController": net.ingress_controller.as_ref().map(pods),
        "nodePortClients": net.node_port_clients.iter().flatten().map(ToString::to_string).collect::<Vec<_>>(),
        "egress": egress,
    })
}
