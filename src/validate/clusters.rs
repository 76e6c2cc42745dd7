//! Environments on one cluster (`cluster.name`): no namespace in common, no NodePort in common.
//! Each environment is valid on its own; together, Argo CD would refuse the second
//! Application's objects or the two would fight over them, and the API server refuses a second
//! Service on a NodePort. Pure: handed the validated environments, reads nothing.

use crate::diagnostic::Diagnostic;
use crate::model::Env;
use std::collections::BTreeMap;

/// Errors for every pair of environments that share a cluster and a namespace or a NodePort.
/// Each error is in the file of the later environment (by name) and names both.
/// Only pairs for which `concerns(a, b)` (environment names) holds are compared.
pub fn shared(envs: &[&Env], concerns: impl Fn(&str, &str) -> bool) -> Vec<Diagnostic> {
    let mut by_cluster: BTreeMap<String, Vec<&Env>> = BTreeMap::new();
    for env in envs {
        by_cluster.entry(env.cluster()).or_default().push(env);
    }
    let mut out = Vec::new();
    for group in by_cluster.values_mut() {
        group.sort_by(|a, b| a.name.cmp(&b.name));
        group.dedup_by(|a, b| a.name == b.name);
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                if concerns(&a.name, &b.name) {
                    pair(a, b, &mut out);
                }
            }
        }
    }
    out
}

fn pair(a: &Env, b: &Env, out: &mut Vec<Diagnostic>) {
    let cluster = a.cluster_name.as_deref().unwrap_or_default();
    // The namespaces each target renders: a perMember team's members' own on Kubeflow and ODH.
    let rendered = |e: &Env| -> Vec<String> {
        e.teams
            .iter()
            .flat_map(|t| t.namespaces(e.target))
            .collect()
    };
    let theirs = rendered(b);
    let ours = rendered(a);
    let namespaces: Vec<&str> = ours
        .iter()
        .filter(|n| theirs.contains(n))
        .map(String::as_str)
        .collect();
    if !namespaces.is_empty() {
        out.push(
            Diagnostic::error(format!(
                "environments `{}` and `{}` are both on cluster `{cluster}` and both render namespace{} {}",
                a.name,
                b.name,
                if namespaces.len() == 1 { "" } else { "s" },
                quoted(&namespaces)
            ))
            .in_file(&b.source)
            .help(format!(
                "give one of them its own cluster.namespacePrefix, or, if they are on different clusters, a cluster.name of its own{}",
                if b.bases.is_empty() {
                    String::new()
                } else {
                    format!(" (`{}` inherits cluster.name from the file it extends)", b.name)
                }
            )),
        );
    }
    let ports = |e: &Env| -> BTreeMap<u16, String> {
        e.teams
            .iter()
            .flat_map(|t| {
                t.servers
                    .iter()
                    .filter_map(move |s| Some((s.node_port?, format!("{}/{}", t.name, s.name))))
            })
            .collect()
    };
    let (pa, pb) = (ports(a), ports(b));
    for (port, server) in &pb {
        if let Some(other) = pa.get(port) {
            out.push(
                Diagnostic::error(format!(
                    "NodePort {port} is used by `{}` server {other} and by `{}` server {server}, both on cluster `{cluster}`",
                    a.name, b.name
                ))
                .in_file(&b.source)
                .help("a NodePort is unique in a cluster: give the environments on one cluster disjoint cluster.nodePortRange slices, or pin another port (teams.<team>.nodePorts)"),
            );
        }
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
