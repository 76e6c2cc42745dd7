//! The environment as a picture: teams (subgraphs; on Kubeflow named with their Profiles) with
//! their servers (on Kubeflow, Notebooks) and notebook jobs, the
//! shared volumes each reads (ro) or writes (rw), the GPU pool each draws on; as Mermaid or
//! Graphviz DOT.
//! Pure: Env → text. Node ids are positional (`t0s1`), never derived from names, so no name can
//! break the syntax; every label is escaped.

use crate::model::{Env, GpuUse, Target, VolumeBackend};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Nodes and edges, in the environment's order, before either syntax is chosen.
struct Picture {
    teams: Vec<(String, Vec<Node>)>,
    volumes: Vec<(String, String)>,
    pools: Vec<(String, String)>,
    edges: Vec<Edge>,
}

struct Node {
    id: String,
    label: String,
    /// A notebook job (drawn rounded) rather than a server.
    job: bool,
}

struct Edge {
    from: String,
    to: String,
    label: String,
    style: Style,
}

#[derive(Clone, Copy)]
enum Style {
    Reads,
    Writes,
    Gpu,
}

fn picture(env: &Env) -> Picture {
    let volume_ids: BTreeMap<&str, String> = env
        .volumes
        .keys()
        .enumerate()
        .map(|(i, v)| (v.as_str(), format!("v{i}")))
        .collect();
    let pool_ids: BTreeMap<&str, String> = env
        .gpu_pools
        .keys()
        .enumerate()
        .map(|(i, p)| (p.as_str(), format!("p{i}")))
        .collect();
    let mut edges = Vec::new();
    let mut link = |id: &str, mounts: &[(String, bool)], gpu: Option<&GpuUse>| {
        for (volume, read_only) in mounts {
            if let Some(to) = volume_ids.get(volume.as_str()) {
                edges.push(Edge {
                    from: id.to_owned(),
                    to: to.clone(),
                    label: if *read_only { "ro" } else { "rw" }.to_owned(),
                    style: if *read_only {
                        Style::Reads
                    } else {
                        Style::Writes
                    },
                });
            }
        }
        if let Some(gpu) = gpu
            && let Some(to) = pool_ids.get(gpu.pool.as_str())
        {
            edges.push(Edge {
                from: id.to_owned(),
                to: to.clone(),
                label: format!("{} GPU", gpu.count),
                style: Style::Gpu,
            });
        }
    };
    let mut teams = Vec::new();
    for (ti, team) in env.teams.iter().enumerate() {
        let mut servers = Vec::new();
        for (si, s) in team.servers.iter().enumerate() {
            let id = format!("t{ti}s{si}");
            // On Kubeflow a server is a Notebook object, in its member's Profile in a perMember team.
            let kind = if env.target == Target::Kubeflow {
                "Notebook "
            } else {
                ""
            };
            let mut label = format!(
                "{kind}{}\n{} · {} CPU · {}",
                s.name, s.role, s.cpu.text, s.memory.text
            );
            if let Some(member) = &s.member {
                let _ = write!(label, "\n{member}");
            }
            link(&id, &s.mounts, s.gpu.as_ref());
            servers.push(Node {
                id,
                label,
                job: false,
            });
        }
        let jobs = env.jobs.iter().filter(|j| j.team == team.name);
        for (ji, j) in jobs.enumerate() {
            let id = format!("t{ti}j{ji}");
            let when = j
                .schedule
                .as_ref()
                // Non-breaking spaces: a renderer wraps a long label at spaces, and a schedule
                // split over two lines ("0 3 * / * 1") reads as another schedule.
                .map_or_else(
                    || "runs once".to_owned(),
                    |s| format!("cron\u{a0}{}", s.cron.replace(' ', "\u{a0}")),
                );
            let label = format!("job {}\n{} · {when}", j.name, j.role);
            link(&id, &j.mounts, j.gpu.as_ref());
            servers.push(Node {
                id,
                label,
                job: true,
            });
        }
        let title = if env.target == Target::Kubeflow {
            let profiles = team.namespaces(env.target);
            let plural = if profiles.len() == 1 { "" } else { "s" };
            format!("{} (Profile{plural} {})", team.name, profiles.join(", "))
        } else if env.target == Target::OpenDataHub {
            let projects = team.namespaces(env.target);
            let plural = if projects.len() == 1 { "" } else { "s" };
            format!("{} (project{plural} {})", team.name, projects.join(", "))
        } else if team.namespace == team.name {
            team.name.clone()
        } else {
            format!("{} (namespace {})", team.name, team.namespace)
        };
        teams.push((title, servers));
    }
    let volumes = env
        .volumes
        .values()
        .map(|v| {
            let backend = match &v.backend {
                VolumeBackend::Nfs { server, path } => format!("nfs {server}:{path}"),
                VolumeBackend::StorageClass(c) => format!("class {c}"),
            };
            (
                volume_ids[v.name.as_str()].clone(),
                format!("{}\n{} · {backend}", v.name, v.size.text),
            )
        })
        .collect();
    let pools = env
        .gpu_pools
        .values()
        .map(|p| {
            (
                pool_ids[p.name.as_str()].clone(),
                format!("{}\n{} × {}", p.name, p.capacity, p.resource),
            )
        })
        .collect();
    Picture {
        teams,
        volumes,
        pools,
        edges,
    }
}

/// A Mermaid flowchart (GitHub renders ```mermaid blocks in comments and Markdown files).
pub fn mermaid(env: &Env) -> String {
    let p = picture(env);
    let mut out = String::from("flowchart LR\n");
    for (i, (title, servers)) in p.teams.iter().enumerate() {
        let _ = writeln!(out, "  subgraph team{i}[\"{}\"]", mermaid_text(title));
        for n in servers {
            let (open, close) = if n.job { ("([", "])") } else { ("[", "]") };
            let _ = writeln!(
                out,
                "    {}{open}\"{}\"{close}",
                n.id,
                mermaid_text(&n.label)
            );
        }
        out.push_str("  end\n");
    }
    for (id, label) in &p.volumes {
        let _ = writeln!(out, "  {id}[(\"{}\")]", mermaid_text(label));
    }
    for (id, label) in &p.pools {
        let _ = writeln!(out, "  {id}{{{{\"{}\"}}}}", mermaid_text(label));
    }
    for e in &p.edges {
        let arrow = match e.style {
            Style::Writes => "-->",
            Style::Reads => "-.->",
            Style::Gpu => "==>",
        };
        let _ = writeln!(
            out,
            "  {} {arrow}|\"{}\"| {}",
            e.from,
            mermaid_text(&e.label),
            e.to
        );
    }
    out
}

/// Mermaid label text: quotes and markup characters as entity codes, newlines as `<br/>`.
fn mermaid_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\n' => out.push_str("<br/>"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            _ => out.push(c),
        }
    }
    out
}

/// A Graphviz digraph: `nbgen graph prod --format dot | dot -Tsvg > prod.svg`.
pub fn dot(env: &Env) -> String {
    let p = picture(env);
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  graph [fontname=\"Helvetica\"];\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
        dot_text(&env.name)
    );
    for (i, (title, servers)) in p.teams.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_team{i} {{");
        let _ = writeln!(out, "    label={};", dot_text(title));
        out.push_str("    style=rounded;\n");
        for n in servers {
            let style = if n.job {
                ", style=\"rounded,dashed\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {} [label={}, shape=box{style}];",
                n.id,
                dot_text(&n.label)
            );
        }
        out.push_str("  }\n");
    }
    for (id, label) in &p.volumes {
        let _ = writeln!(out, "  {id} [label={}, shape=cylinder];", dot_text(label));
    }
    for (id, label) in &p.pools {
        let _ = writeln!(out, "  {id} [label={}, shape=hexagon];", dot_text(label));
    }
    for e in &p.edges {
        let style = match e.style {
            Style::Writes => "solid",
            Style::Reads => "dashed",
            Style::Gpu => "bold",
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}, style={style}];",
            e.from,
            e.to,
            dot_text(&e.label)
        );
    }
    out.push_str("}\n");
    out
}

/// A DOT string literal; newlines become centred line breaks.
fn dot_text(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out_of_their_quotes() {
        assert_eq!(mermaid_text("a\"b<c>\nd#"), "a#quot;b#lt;c#gt;<br/>d#35;");
        assert_eq!(dot_text("a\"b\\\nc"), "\"a\\\"b\\\\\\nc\"");
    }
}
