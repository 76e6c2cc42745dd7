//! The diff and check reports as Markdown for a pull-request comment: under GitHub's size
//! limits, every piece of text from a file in a code span (`code`) or escaped for its place
//! (`cell`, `html`).

use super::{
    CheckReport, DiffReport, Status, bytes_text, cpu_text, note_text, per_kind, port_text,
    rbac_text,
};
use crate::review::diff::Change;
use crate::review::risk::{DataRiskKind, Risks};
use std::fmt::Write as _;

/// GitHub refuses comments over 65,536 characters; object diffs beyond this budget are listed
/// without their text.
pub const MARKDOWN_BUDGET: usize = 60_000;

/// Mermaid graphs longer than this are left out of Markdown: GitHub refuses to draw Mermaid
/// text over 50,000 characters, and a graph that large is unreadable in a comment anyway.
const MARKDOWN_GRAPH_MAX: usize = 20_000;

pub(super) fn diff(report: &DiffReport, stat: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!-- nbgen-diff:{} -->", report.env);
    let against = report
        .against
        .as_deref()
        .map(|a| format!(" against {}", code(a)))
        .unwrap_or_default();
    let _ = writeln!(out, "## nbgen diff: {}{against}\n", code(&report.dir));
    let unchanged = report.diff.unchanged;
    let _ = writeln!(out, "**{}** ({unchanged} unchanged)\n", report.summary());

    out.push_str("### Risks\n\n");
    out.push_str(&risks_markdown(&report.risks, &report.env));

    if !report.diff.objects.is_empty() {
        out.push_str(
            "### Changes per kind\n\n| kind | added | changed | removed |\n|---|---:|---:|---:|\n",
        );
        for (kind, [a, c, r]) in per_kind(&report.diff) {
            let _ = writeln!(out, "| {kind} | {a} | {c} | {r} |");
        }
        out.push('\n');
    }
    if !report.diff.notes.is_empty() {
        let notes = report
            .diff
            .notes
            .iter()
            .map(|n| {
                let path = format!("{}/{}", report.dir, n.path());
                format!("{}: {}", code(&path), note_text(n, &report.dir))
            })
            .collect();
        bullets(&mut out, "Files nbgen cannot match", notes, &report.env);
    }

    if report.graph.is_empty() {
        // No spec, no graph (a deleted environment).
    } else if report.graph.len() <= MARKDOWN_GRAPH_MAX {
        out.push_str("<details><summary>Environment graph</summary>\n\n```mermaid\n");
        out.push_str(&report.graph);
        out.push_str("```\n\n</details>\n\n");
    } else {
        let _ = writeln!(
            out,
            "The environment graph is too large for a comment: `nbgen graph {}` draws it.\n",
            report.env
        );
    }

    if stat || report.diff.objects.is_empty() {
        return out;
    }
    out.push_str("### Objects\n\n");
    // Each object left out costs a list line; keep room for the lines of all objects not
    // yet placed, so the list always fits too.
    let lines: Vec<String> = report
        .diff
        .objects
        .iter()
        .map(|o| format!("- {}\n", code(&report.one_liner(o, true))))
        .collect();
    let mut still_to_place: usize = lines.iter().map(String::len).sum::<usize>() + 300;
    let mut left_out = Vec::new();
    for (o, line) in report.diff.objects.iter().zip(&lines) {
        still_to_place -= line.len();
        let block = details(&report.one_liner(o, true), o.change, &o.unified);
        if !left_out.is_empty() || out.len() + block.len() + still_to_place > MARKDOWN_BUDGET {
            left_out.push(line.as_str());
        } else {
            out.push_str(&block);
        }
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "{} more object diff{} left out to keep this comment under GitHub's size limit; run `nbgen diff {}` to see them:\n",
            left_out.len(),
            if left_out.len() == 1 { "" } else { "s" },
            report.env
        );
        for line in left_out {
            if out.len() + line.len() > MARKDOWN_BUDGET {
                out.push_str("- …\n");
                break;
            }
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

pub(super) fn check(report: &CheckReport) -> String {
    let mut out = String::from("<!-- nbgen-check -->\n## nbgen check\n\n");
    for e in &report.environments {
        let verdict = match e.status {
            Status::UpToDate => format!("✅ up to date ({} files)", e.files),
            Status::OutOfDate => "❌ out of date".to_owned(),
            Status::Invalid => "❌ invalid spec (see the job log)".to_owned(),
        };
        let _ = writeln!(out, "- {}: {verdict}", code(&e.dir));
        for f in &e.findings {
            let object = f
                .object
                .as_ref()
                .map(|id| format!(" ({})", code(&id.to_string())))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  - {}: {}{object}",
                code(&CheckReport::finding_path(e, f)),
                f.detail
            );
        }
        if !e.fix.is_empty() {
            let _ = writeln!(
                out,
                "\n  Fix:\n\n  ```sh\n  {}\n  ```\n",
                e.fix.join(" && ")
            );
        }
    }
    let _ = writeln!(out, "\n{}", report.summary());
    out
}

/// A collapsible block holding one object's diff.
fn details(summary: &str, change: Change, unified: &str) -> String {
    let fence = fence_for(unified);
    let verb = match change {
        Change::Added => "added",
        Change::Changed => "changed",
        Change::Removed => "removed",
    };
    format!(
        "<details><summary><code>{}</code> {verb}</summary>\n\n{fence}diff\n{unified}{fence}\n\n</details>\n\n",
        html(summary)
    )
}

/// The longest run of backticks in `text`: a fence or code span around it must be longer.
fn longest_backticks(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    "`".repeat((longest_backticks(text) + 1).max(3))
}

/// An inline code span that survives any backticks inside.
fn code(s: &str) -> String {
    let longest = longest_backticks(s);
    let ticks = "`".repeat(longest + 1);
    if longest > 0 {
        format!("{ticks} {s} {ticks}")
    } else {
        format!("{ticks}{s}{ticks}")
    }
}

/// A Markdown table cell: a `|` would end it.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Text inside HTML (a `<summary>`): `<`, `>` and `&` would be read as markup.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn arrow(b: String, a: String) -> String {
    if a == b {
        a
    } else {
        format!("{b} → **{a}**")
    }
}

/// Risk lists longer than this are cut in Markdown (JSON always has them all).
const MARKDOWN_LIST_MAX: usize = 25;
/// Resource tables with more rows than this show only the rows that change.
const MARKDOWN_TABLE_MAX: usize = 15;

/// A titled bullet list, cut after `MARKDOWN_LIST_MAX` items.
fn bullets(out: &mut String, title: &str, items: Vec<String>, env: &str) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "**{title}**\n");
    for item in items.iter().take(MARKDOWN_LIST_MAX) {
        let _ = writeln!(out, "- {item}");
    }
    if items.len() > MARKDOWN_LIST_MAX {
        let _ = writeln!(
            out,
            "- … and {} more: `nbgen diff {env} --format json` lists them all",
            items.len() - MARKDOWN_LIST_MAX
        );
    }
    out.push('\n');
}

fn risks_markdown(r: &Risks, env: &str) -> String {
    let mut out = String::new();
    if r.is_empty() {
        out.push_str(
            "No data at risk, no RBAC, NodePort, data access, network policy, immutable-field, image or start-up changes.\n\n",
        );
    }
    if let Some(e) = &r.environment_deleted {
        let _ = writeln!(out, "⚠️ **Environment deleted**: {}\n", e.message());
    }
    let data = r
        .data
        .iter()
        .map(|d| {
            let sizes = match (d.what, &d.before, &d.after) {
                (DataRiskKind::Removed, Some(b), _) => format!(" ({b})"),
                (_, Some(b), Some(a)) => format!(" {} → {}", code(b), code(a)),
                _ => String::new(),
            };
            format!(
                "⚠️ {} **{}**{sizes}: {}",
                code(&d.object.to_string()),
                d.what.as_str(),
                d.detail
            )
        })
        .collect();
    bullets(&mut out, "Data at risk", data, env);
    let rbac = r.rbac.iter().map(|c| rbac_text(c, code)).collect();
    bullets(&mut out, "RBAC", rbac, env);
    let ports = r.node_ports.iter().map(|m| port_text(m, code)).collect();
    bullets(&mut out, "NodePorts and URLs", ports, env);
    let access = r
        .access
        .iter()
        .map(|a| format!("⚠️ {}", a.message_with(code)))
        .collect();
    bullets(&mut out, "Access to shared data", access, env);
    let network = r
        .network
        .iter()
        .map(|w| {
            format!(
                "⚠️ {} now allows {} {}: check that this traffic should reach (or leave) the team's pods",
                code(&w.object.to_string()),
                w.direction,
                code(&w.allows)
            )
        })
        .collect();
    bullets(&mut out, "Network policies that allow more", network, env);
    let immutable = r
        .immutable
        .iter()
        .map(|c| {
            let fields: Vec<String> = c.fields.iter().map(|f| code(f)).collect();
            format!(
                "⚠️ {} {} cannot change in place: the API server refuses the update and Argo CD's sync fails; {}",
                code(&c.object.to_string()),
                fields.join(", "),
                c.fix
            )
        })
        .collect();
    bullets(&mut out, "Immutable fields: the sync fails", immutable, env);
    let images = r
        .images
        .iter()
        .map(|i| {
            format!(
                "{} container {}: {} → {}",
                code(&i.object.to_string()),
                code(&i.container),
                code(&i.before),
                code(&i.after)
            )
        })
        .collect();
    bullets(&mut out, "Images", images, env);
    let starts = r
        .starts
        .iter()
        .map(|c| {
            let show = |v: &Option<String>| v.as_deref().map_or("unset".to_owned(), code);
            format!(
                "⚠️ {} container {}: {} {} → {}",
                code(&c.object.to_string()),
                code(&c.container),
                c.what,
                show(&c.before),
                show(&c.after)
            )
        })
        .collect();
    bullets(&mut out, "Servers that start differently", starts, env);
    let gitops = r
        .gitops
        .iter()
        .map(|g| format!("⚠️ {}", g.message()))
        .collect();
    bullets(&mut out, "Argo CD project and application", gitops, env);

    let teams = &r.totals.teams;
    if !teams.is_empty() {
        let only_changed = teams.len() > MARKDOWN_TABLE_MAX;
        let changed = teams.iter().filter(|t| t.before != t.after).count();
        let shown: Vec<_> = teams
            .iter()
            .filter(|t| !only_changed || t.before != t.after)
            .take(2 * MARKDOWN_LIST_MAX)
            .collect();
        out.push_str("**Resources requested** (before → after)\n\n");
        if !shown.is_empty() {
            out.push_str("| team | CPU | memory | GPU |\n|---|---:|---:|---:|\n");
        }
        for t in &shown {
            let (b, a) = (&t.before, &t.after);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&t.team),
                arrow(cpu_text(b.cpu_millicores), cpu_text(a.cpu_millicores)),
                arrow(bytes_text(b.memory_bytes), bytes_text(a.memory_bytes)),
                arrow(b.gpus.to_string(), a.gpus.to_string())
            );
        }
        if only_changed {
            let _ = writeln!(
                out,
                "\n{} of {} teams change{}; unchanged teams are not shown.",
                changed,
                teams.len(),
                if shown.len() < changed {
                    format!(" ({} shown)", shown.len())
                } else {
                    String::new()
                }
            );
        }
        out.push('\n');
    }
    if !r.totals.pools.is_empty() {
        out.push_str("| GPU pool | resource | capacity | GPUs |\n|---|---|---:|---:|\n");
        for p in &r.totals.pools {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&p.pool),
                code(&p.resource),
                p.capacity.map_or_else(|| "–".to_owned(), |c| c.to_string()),
                arrow(p.before.to_string(), p.after.to_string())
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectId;
    use crate::report::Format;
    use crate::review::diff::{Diff, ObjectDiff};

    #[test]
    fn a_huge_diff_stays_under_githubs_comment_limit() {
        let objects = (0..300)
            .map(|i| ObjectDiff {
                id: ObjectId {
                    kind: "ConfigMap".into(),
                    namespace: Some("t".into()),
                    name: format!("c{i:03}"),
                },
                change: Change::Added,
                old_path: None,
                new_path: Some(format!("t/configmap-c{i:03}.yaml")),
                unified: "+ a line of yaml\n".repeat(40),
                lines_added: 40,
                lines_removed: 0,
            })
            .collect();
        let report = DiffReport {
            env: "prod".into(),
            against: None,
            dir: "out/prod".into(),
            diff: Diff {
                objects,
                ..Diff::default()
            },
            risks: Risks::default(),
            graph: String::new(),
        };
        let md = report.render(Format::Markdown, false, false);
        assert!(
            md.chars().count() < 65_536,
            "{} characters",
            md.chars().count()
        );
        assert!(md.contains("more object diffs left out"));
        assert!(md.contains("`+ t ConfigMap/c299 (+40 -0)`"));
    }

    #[test]
    fn table_cells_survive_pipes() {
        assert_eq!(cell("a|b"), "a\\|b");
    }

    #[test]
    fn fences_and_code_spans_outlast_backticks_inside() {
        assert_eq!(fence_for("a ``` b"), "````");
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "`` a`b ``");
    }
}
