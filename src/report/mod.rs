//! Diff and check results → what a person or a script reads: plain text (coloured on a
//! terminal), Markdown for a pull-request comment, JSON for scripts (field names are an
//! interface: see docs/review.md). Pure: builds strings, prints nothing.

use crate::model::Quantity;
use crate::object::ObjectId;
use crate::review::check::{Finding, Problem};
use crate::review::diff::{Change, Diff, ObjectDiff};
use crate::review::risk::{DataRiskKind, RbacWhat, Resources, Risks};
use crate::review::snapshot::Note;
use crate::terminal::{self, EMPHASIS, Paint, escape};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Version of the JSON documents; bumped only when a field changes meaning or disappears.
pub const JSON_VERSION: u32 = 1;

/// GitHub refuses comments over 65,536 characters; object diffs beyond this budget are listed
/// without their text.
pub const MARKDOWN_BUDGET: usize = 60_000;

/// Mermaid graphs longer than this are left out of Markdown: GitHub refuses to draw Mermaid
/// text over 50,000 characters, and a graph that large is unreadable in a comment anyway.
const MARKDOWN_GRAPH_MAX: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

/// Everything `nbgen diff` reports.
#[derive(Debug)]
pub struct DiffReport {
    pub env: String,
    /// The revision compared against; `None` for the working tree.
    pub against: Option<String>,
    /// `out/prod`
    pub dir: String,
    pub diff: Diff,
    pub risks: Risks,
    /// The new environment as a Mermaid flowchart.
    pub graph: String,
}

impl DiffReport {
    pub fn render(&self, format: Format, stat: bool, color: bool) -> String {
        match format {
            Format::Text => self.text(stat, color),
            Format::Markdown => self.markdown(stat),
            Format::Json => self.json(stat),
        }
    }

    /// `2 added, 1 changed, 0 removed`
    pub fn summary(&self) -> String {
        let d = &self.diff;
        let mut s = format!(
            "{} added, {} changed, {} removed",
            d.count(Change::Added),
            d.count(Change::Changed),
            d.count(Change::Removed)
        );
        if !d.notes.is_empty() {
            let n = d.notes.len();
            let _ = write!(s, "; {n} file{} not matched", if n == 1 { "" } else { "s" });
        }
        s
    }

    fn text(&self, stat: bool, color: bool) -> String {
        let p = Paint(color);
        let mut out = String::new();
        for o in &self.diff.objects {
            let line = escape(&self.one_liner(o, stat)).into_owned();
            let _ = writeln!(out, "{}", header(p, o.change, &line));
            if !stat {
                for line in o.unified.lines() {
                    let _ = writeln!(out, "{}", diff_line(p, &escape(line)));
                }
                out.push('\n');
            }
        }
        for n in &self.diff.notes {
            let line = format!("? {}/{}: {}", self.dir, n.path(), note_text(n, &self.dir));
            let _ = writeln!(out, "{}", escape(&line));
        }
        if !stat {
            for line in risks_text(&self.risks).lines() {
                let _ = writeln!(out, "{}", escape(line));
            }
        }
        let _ = writeln!(out, "{}", p.style(EMPHASIS, &self.summary()));
        out
    }

    fn one_liner(&self, o: &ObjectDiff, stat: bool) -> String {
        let mut line = format!("{} {}", o.change.mark(), o.id);
        if o.change == Change::Changed && o.old_path != o.new_path {
            let _ = write!(
                line,
                " (moved from {}/{})",
                self.dir,
                o.old_path.as_deref().unwrap_or_default()
            );
        }
        if stat && !o.moved() {
            let _ = write!(line, " (+{} -{})", o.lines_added, o.lines_removed);
        }
        line
    }

    fn markdown(&self, stat: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "<!-- nbgen-diff:{} -->", self.env);
        let against = self
            .against
            .as_deref()
            .map(|a| format!(" against {}", code(a)))
            .unwrap_or_default();
        let _ = writeln!(out, "## nbgen diff: {}{against}\n", code(&self.dir));
        let unchanged = self.diff.unchanged;
        let _ = writeln!(out, "**{}** ({unchanged} unchanged)\n", self.summary());

        out.push_str("### Risks\n\n");
        out.push_str(&risks_markdown(&self.risks, &self.env));

        if !self.diff.objects.is_empty() {
            out.push_str("### Changes per kind\n\n| kind | added | changed | removed |\n|---|---:|---:|---:|\n");
            for (kind, [a, c, r]) in per_kind(&self.diff) {
                let _ = writeln!(out, "| {kind} | {a} | {c} | {r} |");
            }
            out.push('\n');
        }
        if !self.diff.notes.is_empty() {
            let notes = self
                .diff
                .notes
                .iter()
                .map(|n| {
                    let path = format!("{}/{}", self.dir, n.path());
                    format!("{}: {}", code(&path), note_text(n, &self.dir))
                })
                .collect();
            bullets(&mut out, "Files nbgen cannot match", notes, &self.env);
        }

        if self.graph.len() <= MARKDOWN_GRAPH_MAX {
            out.push_str("<details><summary>Environment graph</summary>\n\n```mermaid\n");
            out.push_str(&self.graph);
            out.push_str("```\n\n</details>\n\n");
        } else {
            let _ = writeln!(
                out,
                "The environment graph is too large for a comment: `nbgen graph {}` draws it.\n",
                self.env
            );
        }

        if stat || self.diff.objects.is_empty() {
            return out;
        }
        out.push_str("### Objects\n\n");
        // Each object left out costs a list line; keep room for the lines of all objects not
        // yet placed, so the list always fits too.
        let lines: Vec<String> = self
            .diff
            .objects
            .iter()
            .map(|o| format!("- {}\n", code(&self.one_liner(o, true))))
            .collect();
        let mut still_to_place: usize = lines.iter().map(String::len).sum::<usize>() + 300;
        let mut left_out = Vec::new();
        for (o, line) in self.diff.objects.iter().zip(&lines) {
            still_to_place -= line.len();
            let block = details(&self.one_liner(o, true), o.change, &o.unified);
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
                self.env
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

    fn json(&self, stat: bool) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Doc<'a> {
            version: u32,
            environment: &'a str,
            against: Option<&'a str>,
            summary: Summary,
            kinds: Vec<KindCount>,
            objects: Vec<JsonObject<'a>>,
            notes: Vec<JsonNote>,
            risks: &'a Risks,
        }
        #[derive(Serialize)]
        struct Summary {
            added: usize,
            changed: usize,
            removed: usize,
            unchanged: usize,
        }
        #[derive(Serialize)]
        struct KindCount {
            kind: String,
            added: usize,
            changed: usize,
            removed: usize,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct JsonObject<'a> {
            change: Change,
            object: &'a ObjectId,
            old_path: Option<String>,
            new_path: Option<String>,
            lines_added: usize,
            lines_removed: usize,
            #[serde(skip_serializing_if = "Option::is_none")]
            diff: Option<&'a str>,
        }
        let d = &self.diff;
        let path = |p: &Option<String>| p.as_ref().map(|p| format!("{}/{p}", self.dir));
        let doc = Doc {
            version: JSON_VERSION,
            environment: &self.env,
            against: self.against.as_deref(),
            summary: Summary {
                added: d.count(Change::Added),
                changed: d.count(Change::Changed),
                removed: d.count(Change::Removed),
                unchanged: d.unchanged,
            },
            kinds: per_kind(d)
                .into_iter()
                .map(|(kind, [added, changed, removed])| KindCount {
                    kind,
                    added,
                    changed,
                    removed,
                })
                .collect(),
            objects: d
                .objects
                .iter()
                .map(|o| JsonObject {
                    change: o.change,
                    object: &o.id,
                    old_path: path(&o.old_path),
                    new_path: path(&o.new_path),
                    lines_added: o.lines_added,
                    lines_removed: o.lines_removed,
                    diff: (!stat).then_some(o.unified.as_str()),
                })
                .collect(),
            notes: d.notes.iter().map(|n| json_note(n, &self.dir)).collect(),
            risks: &self.risks,
        };
        let mut s = serde_json::to_string_pretty(&doc).expect("plain data serializes");
        s.push('\n');
        s
    }
}

#[derive(Serialize)]
struct JsonNote {
    path: String,
    problem: &'static str,
    detail: String,
}

fn json_note(n: &Note, dir: &str) -> JsonNote {
    JsonNote {
        path: format!("{dir}/{}", n.path()),
        problem: match n {
            Note::Unidentified { .. } => "unidentified",
            Note::Duplicate { .. } => "duplicate",
            Note::Link { .. } => "link",
        },
        detail: note_text(n, dir),
    }
}

fn note_text(n: &Note, dir: &str) -> String {
    match n {
        Note::Unidentified { reason, .. } => format!("not a Kubernetes object: {reason}"),
        Note::Duplicate { id, first, .. } => {
            format!("another copy of {id} (compared: {dir}/{first})")
        }
        Note::Link { .. } => "a symbolic link; not followed".to_owned(),
    }
}

/// Kind → [added, changed, removed], by kind name.
fn per_kind(d: &Diff) -> BTreeMap<String, [usize; 3]> {
    let mut m: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for o in &d.objects {
        let i = match o.change {
            Change::Added => 0,
            Change::Changed => 1,
            Change::Removed => 2,
        };
        m.entry(o.id.kind.clone()).or_default()[i] += 1;
    }
    m
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

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// An inline code span that survives any backticks inside.
fn code(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
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

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

// ---- risks --------------------------------------------------------------------------------

fn risks_text(r: &Risks) -> String {
    let mut out = String::new();
    for d in &r.data {
        let _ = writeln!(out, "  data at risk: {}", d.message());
    }
    for c in &r.rbac {
        let _ = writeln!(out, "  rbac: {}", rbac_text(c, |s| s.to_owned()));
    }
    for m in &r.node_ports {
        let _ = writeln!(out, "  nodePort: {}", port_text(m, |s| s.to_owned()));
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

fn rbac_text(c: &crate::review::risk::RbacChange, q: impl Fn(&str) -> String) -> String {
    let verb = match (c.change, c.what) {
        (Change::Added, RbacWhat::Subject) => "gains",
        (Change::Removed, RbacWhat::Subject) => "loses",
        (Change::Added, _) => "adds",
        _ => "drops",
    };
    match c.what {
        RbacWhat::Subject => format!(
            "{} {verb} {} through {}",
            q(&c.item),
            q(c.grants.as_deref().unwrap_or("its role")),
            q(&c.object.to_string())
        ),
        RbacWhat::Rule => format!("{} {verb} rule {}", q(&c.object.to_string()), q(&c.item)),
        RbacWhat::RoleRef => format!("{} {verb} roleRef {}", q(&c.object.to_string()), q(&c.item)),
    }
}

fn port_text(m: &crate::review::risk::NodePortMove, q: impl Fn(&str) -> String) -> String {
    let mut s = format!("{} port {}: ", q(&m.service.to_string()), m.port);
    match m.before {
        Some(b) => {
            let _ = write!(s, "{b} → {}", m.after);
        }
        None => {
            let _ = write!(s, "new, on {}", m.after);
        }
    }
    if let Some(o) = &m.previous_owner {
        let _ = write!(
            s,
            " (was {}'s: its users' bookmarks now reach another server)",
            q(&o.to_string())
        );
    } else {
        s.push_str(" (users' bookmarks break)");
    }
    s
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
        out.push_str("No data at risk, no RBAC, NodePort, image or start-up changes.\n\n");
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
    bullets(&mut out, "NodePorts that move", ports, env);
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

// ---- check --------------------------------------------------------------------------------

/// The verdict on one environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    UpToDate,
    OutOfDate,
    /// The spec does not validate (diagnostics went to stderr).
    Invalid,
}

/// What `nbgen check` found for one environment.
#[derive(Clone, Debug, Serialize)]
pub struct EnvCheck {
    pub environment: String,
    /// `out/prod`
    #[serde(skip)]
    pub dir: String,
    pub status: Status,
    /// Files nbgen renders for it (0 when invalid).
    pub files: usize,
    pub findings: Vec<Finding>,
    /// Shell commands that fix the findings, to run in order.
    pub fix: Vec<String>,
}

#[derive(Debug)]
pub struct CheckReport {
    pub environments: Vec<EnvCheck>,
}

impl CheckReport {
    pub fn render(&self, format: Format, color: bool) -> String {
        match format {
            Format::Text => self.text(color),
            Format::Markdown => self.markdown(),
            Format::Json => self.json(),
        }
    }

    fn finding_path(e: &EnvCheck, f: &Finding) -> String {
        if f.path.is_empty() {
            e.dir.clone()
        } else {
            format!("{}/{}", e.dir, f.path)
        }
    }

    fn finding_text(e: &EnvCheck, f: &Finding) -> String {
        let object = match (&f.object, f.problem) {
            (Some(id), _) => format!(" ({id})"),
            _ => String::new(),
        };
        format!("{}: {}{object}", Self::finding_path(e, f), f.detail)
    }

    fn text(&self, color: bool) -> String {
        let p = Paint(color);
        let mut out = String::new();
        for e in &self.environments {
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
                        let _ = writeln!(out, "  {}", escape(&Self::finding_text(e, f)));
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
        let _ = writeln!(out, "{}", self.summary());
        out
    }

    fn summary(&self) -> String {
        let count = |s| self.environments.iter().filter(|e| e.status == s).count();
        let (ok, stale, invalid) = (
            count(Status::UpToDate),
            count(Status::OutOfDate),
            count(Status::Invalid),
        );
        let mut parts = vec![format!("{ok} up to date")];
        if stale > 0 {
            parts.push(format!("{stale} out of date"));
        }
        if invalid > 0 {
            parts.push(format!("{invalid} invalid"));
        }
        format!("nbgen check: {}", parts.join(", "))
    }

    fn markdown(&self) -> String {
        let mut out = String::from("<!-- nbgen-check -->\n## nbgen check\n\n");
        for e in &self.environments {
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
                    code(&Self::finding_path(e, f)),
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
        let _ = writeln!(out, "\n{}", self.summary());
        out
    }

    fn json(&self) -> String {
        #[derive(Serialize)]
        struct Doc<'a> {
            version: u32,
            ok: bool,
            environments: Vec<JsonEnv<'a>>,
        }
        #[derive(Serialize)]
        struct JsonEnv<'a> {
            environment: &'a str,
            status: Status,
            files: usize,
            findings: Vec<JsonFinding<'a>>,
            fix: &'a [String],
        }
        #[derive(Serialize)]
        struct JsonFinding<'a> {
            path: String,
            problem: Problem,
            object: Option<&'a ObjectId>,
            detail: &'a str,
        }
        let doc = Doc {
            version: JSON_VERSION,
            ok: self
                .environments
                .iter()
                .all(|e| e.status == Status::UpToDate),
            environments: self
                .environments
                .iter()
                .map(|e| JsonEnv {
                    environment: &e.environment,
                    status: e.status,
                    files: e.files,
                    findings: e
                        .findings
                        .iter()
                        .map(|f| JsonFinding {
                            path: Self::finding_path(e, f),
                            problem: f.problem,
                            object: f.object.as_ref(),
                            detail: &f.detail,
                        })
                        .collect(),
                    fix: &e.fix,
                })
                .collect(),
        };
        let mut s = serde_json::to_string_pretty(&doc).expect("plain data serializes");
        s.push('\n');
        s
    }
}

/// CPU and memory totals as Kubernetes writes them (`Quantity`), as the spec and out/ do.
fn cpu_text(milli: i64) -> String {
    Quantity::cpu_text(milli.into())
}

fn bytes_text(bytes: i64) -> String {
    Quantity::bytes_text(i128::from(bytes) * 1000)
}

// ---- colour -------------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

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
