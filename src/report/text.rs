//! The diff and check reports as plain text for a terminal or a CI log: coloured only when
//! asked (`terminal::Paint`), every line from a file escaped (`terminal::escape`).

use super::{
    CheckReport, DiffReport, Status, bytes_text, cpu_text, note_text, port_text, rbac_text,
};
use crate::review::check::Problem;
use crate::review::diff::Change;
use crate::review::risk::{Resources, Risks};
use crate::terminal::{self, EMPHASIS, Paint, escape};
use std::fmt::Write as _;

pub(super) fn diff(report: &DiffReport, stat: bool, p: Paint) -> String {
    // Risks first: what a reviewer must not miss comes before the objects, with --stat too.
    let mut out = String::new();
    let risks = risks_text(&report.risks);
    for line in risks.lines() {
        let _ = writeln!(out, "{}", escape(line));
    }
    if !stat && !risks.is_empty() {
        out.push('\n'); // apart from the first diff, as each diff is from the next
    }
    for o in &report.diff.objects {
        let line = escape(&report.one_liner(o, stat)).into_owned();
        let _ = writeln!(out, "{}", header(p, o.change, &line));
        if !stat {
            for line in o.unified.lines() {
                let _ = writeln!(out, "{}", diff_line(p, &escape(line)));
            }
            out.push('\n');
        }
    }
    for n in &report.diff.notes {
        let line = format!(
            "? {}/{}: {}",
            report.dir,
            n.path(),
            note_text(n, &report.dir)
        );
        let _ = writeln!(out, "{}", escape(&line));
    }
    let _ = writeln!(out, "{}", p.style(EMPHASIS, &report.summary()));
    out
}

pub(super) fn check(report: &CheckReport, p: Paint) -> String {
    let mut out = String::new();
    for e in &report.environments {
        match e.status {
            Status::UpToDate => {
                let _ = writeln!(
                    out,
                    "{}: {} ({} files)",
                    e.dir,
                    p.style(terminal::GOOD, "up to date"),
                    e.files
                );
            }
            Status::Invalid => {
                let _ = writeln!(
                    out,
                    "{}: {} (see the errors above)",
                    e.dir,
                    p.style(terminal::ERROR, "invalid spec")
                );
            }
            Status::OutOfDate => {
                let n = e.findings.len();
                let _ = writeln!(
                    out,
                    "{}: {} ({n} problem{})",
                    e.dir,
                    p.style(terminal::ERROR, "out of date"),
                    if n == 1 { "" } else { "s" }
                );
                for f in &e.findings {
                    let _ = writeln!(out, "  {}", escape(&CheckReport::finding_text(e, f)));
                }
                if !e.fix.is_empty() {
                    let _ = writeln!(out, "  fix: {}", p.style(EMPHASIS, &e.fix.join(" && ")));
                }
                if e.findings.iter().any(|f| f.problem == Problem::HandEdited) {
                    let _ = writeln!(
                        out,
                        "  to keep a hand edit, make it in the spec instead; `nbgen diff {}` shows what render changes",
                        e.environment
                    );
                }
            }
        }
    }
    let _ = writeln!(out, "{}", report.summary());
    out
}

fn risks_text(r: &Risks) -> String {
    let mut out = String::new();
    if let Some(e) = &r.environment_deleted {
        let _ = writeln!(out, "  environment deleted: {}", e.message());
    }
    for d in &r.data {
        let _ = writeln!(out, "  data at risk: {}", d.message());
    }
    for c in &r.rbac {
        let _ = writeln!(out, "  rbac: {}", rbac_text(c, |s| s.to_owned()));
    }
    for m in &r.node_ports {
        let _ = writeln!(out, "  nodePort: {}", port_text(m, |s| s.to_owned()));
    }
    for a in &r.access {
        let _ = writeln!(out, "  access: {}", a.message());
    }
    for w in &r.network {
        let _ = writeln!(out, "  network: {}", w.message());
    }
    for c in &r.immutable {
        let _ = writeln!(out, "  immutable: {}", c.message());
    }
    for i in &r.images {
        let _ = writeln!(
            out,
            "  image: {} container {}: {} → {}",
            i.object, i.container, i.before, i.after
        );
    }
    for c in &r.starts {
        let _ = writeln!(out, "  start: {}", c.message());
    }
    for g in &r.gitops {
        let _ = writeln!(out, "  gitops: {}", g.message());
    }
    for t in r.totals.teams.iter().filter(|t| t.before != t.after) {
        let _ = writeln!(
            out,
            "  resources: team {}: {}",
            t.team,
            resources_change(&t.before, &t.after)
        );
    }
    for p in r.totals.pools.iter().filter(|p| p.before != p.after) {
        let cap = p
            .capacity
            .map(|c| format!(", capacity {c}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  resources: GPU pool {} ({}{cap}): {} → {} GPUs",
            p.pool, p.resource, p.before, p.after
        );
    }
    if out.is_empty() {
        out
    } else {
        format!("risks:\n{out}")
    }
}

fn resources_change(b: &Resources, a: &Resources) -> String {
    let part = |name: &str, b: String, a: String| {
        if a == b {
            format!("{name} {a}")
        } else {
            format!("{name} {b} → {a}")
        }
    };
    [
        part(
            "CPU",
            cpu_text(b.cpu_millicores),
            cpu_text(a.cpu_millicores),
        ),
        part(
            "memory",
            bytes_text(b.memory_bytes),
            bytes_text(a.memory_bytes),
        ),
        part("GPU", b.gpus.to_string(), a.gpus.to_string()),
    ]
    .join(", ")
}

/// A diff's header line in the colour of its change.
fn header(p: Paint, change: Change, t: &str) -> String {
    p.style(
        match change {
            Change::Added => terminal::ADDED,
            Change::Changed => terminal::CHANGED,
            Change::Removed => terminal::REMOVED,
        },
        t,
    )
}

/// One line of a unified diff, coloured by its first characters.
fn diff_line(p: Paint, line: &str) -> String {
    if line.starts_with("+++") || line.starts_with("---") {
        p.style(EMPHASIS, line)
    } else if line.starts_with('+') {
        p.style(terminal::LINE_ADDED, line)
    } else if line.starts_with('-') {
        p.style(terminal::LINE_REMOVED, line)
    } else if line.starts_with("@@") {
        p.style(terminal::HUNK, line)
    } else {
        line.to_owned()
    }
}
