//! Diff and check results → what a person or a script reads: plain text (coloured on a
//! terminal), Markdown for a pull-request comment, JSON for scripts (field names are an
//! interface: see docs/review.md). One renderer per format, each rendering both reports
//! (`text`, `markdown`, `json`); here the reports themselves and the wording the formats share.
//! Colour and terminal escaping are `terminal`'s, quantities `model::Quantity`'s. Pure: builds
//! strings, prints nothing.

mod json;
mod markdown;
mod text;

use crate::model::Quantity;
use crate::review::check::Finding;
use crate::review::diff::{Change, Diff, ObjectDiff};
use crate::review::risk::{NodePortMove, NodePortWhat, RbacChange, RbacWhat, Risks};
use crate::review::snapshot::Note;
use crate::terminal::Paint;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub use markdown::MARKDOWN_BUDGET;

/// Version of the JSON documents; bumped only when a field changes meaning or disappears.
pub const JSON_VERSION: u32 = 1;

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
            Format::Text => text::diff(self, stat, Paint(color)),
            Format::Markdown => markdown::diff(self, stat),
            Format::Json => json::diff(self, stat),
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
}

fn note_text(n: &Note, dir: &str) -> String {
    match n {
        Note::Unidentified { reason, .. } => format!("not a Kubernetes object: {reason}"),
        Note::Duplicate { id, first, .. } => {
            format!("another copy of {id} (compared: {dir}/{first})")
        }
        Note::Link { .. } => "a symbolic link; not followed".to_owned(),
        Note::Unowned { id, .. } => format!(
            "{id} is not nbgen's (not in .nbgen-manifest): render leaves it, Argo CD applies it"
        ),
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

fn rbac_text(c: &RbacChange, q: impl Fn(&str) -> String) -> String {
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

/// One NodePort risk: what happens to the port and its URL, and what to do.
fn port_text(m: &NodePortMove, q: impl Fn(&str) -> String) -> String {
    let service = q(&m.service.to_string());
    let show = |port: Option<i64>| port.map_or_else(|| "–".to_owned(), |p| p.to_string());
    let urls = match (&m.before_url, &m.after_url) {
        (Some(b), Some(a)) if a != b => format!("{} → {}", q(b), q(a)),
        (Some(u), _) | (None, Some(u)) => q(u),
        (None, None) => String::new(),
    };
    let server = m.service.name.as_str();
    match (m.what, &m.replaces, &m.previous_owner) {
        (NodePortWhat::Released, _, _) => format!(
            "{service} port {} released ({}): {urls} stops working; tell its users",
            m.port,
            show(m.before)
        ),
        (NodePortWhat::Taken, _, Some(owner)) => format!(
            "{service} port {} takes {}, {}'s until now ({urls}): that server's users' bookmarks now reach this one; tell them, or pin the ports in the team's `nodePorts`",
            m.port,
            show(m.after),
            q(&owner.to_string())
        ),
        (_, Some(old), _) if m.before == m.after => format!(
            "{} is replaced by {service} (a renamed server), port {} stays {}, its path changes: {urls}; users' bookmarks break: send them the new URL",
            q(&old.to_string()),
            m.port,
            show(m.after)
        ),
        (_, Some(old), _) => format!(
            "{} is replaced by {service} (a renamed server), port {} {} → {}: {urls}; users' bookmarks break: send them the new URL (`nodePorts: {{{server}: {}}}` in the team keeps the port, not the path)",
            q(&old.to_string()),
            m.port,
            show(m.before),
            show(m.after),
            show(m.before)
        ),
        _ => format!(
            "{service} port {} {} → {}: {urls}; users' bookmarks break (`nodePorts: {{{server}: {}}}` in the team pins it back)",
            m.port,
            show(m.before),
            show(m.after),
            show(m.before)
        ),
    }
}

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
            Format::Text => text::check(self, Paint(color)),
            Format::Markdown => markdown::check(self),
            Format::Json => json::check(self),
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
}

/// CPU and memory totals as Kubernetes writes them (`Quantity`), as the spec and out/ do.
fn cpu_text(milli: i64) -> String {
    Quantity::cpu_text(milli.into())
}

fn bytes_text(bytes: i64) -> String {
    Quantity::bytes_text(i128::from(bytes) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectId;
    use crate::review::risk::NodePortWhat;

    fn service(name: &str) -> ObjectId {
        ObjectId {
            kind: "Service".into(),
            namespace: Some("mlops".into()),
            name: name.into(),
        }
    }

    #[test]
    fn a_renamed_server_is_told_apart_from_a_pinned_one() {
        let mut m = NodePortMove {
            service: service("inference"),
            port: "http".into(),
            what: NodePortWhat::Moved,
            before: Some(32214),
            after: Some(31879),
            previous_owner: None,
            replaces: Some(service("infer")),
            before_url: Some("http://<node>:32214/notebook/mlops/infer/".into()),
            after_url: Some("http://<node>:31879/notebook/mlops/inference/".into()),
        };
        let moved = port_text(&m, str::to_owned);
        assert!(moved.contains("port http 32214 → 31879"), "{moved}");
        assert!(moved.contains("`nodePorts: {inference: 32214}`"), "{moved}");
        // Pinned to its old port: only the path changes, and there is nothing to pin.
        m.after = Some(32214);
        m.after_url = Some("http://<node>:32214/notebook/mlops/inference/".into());
        let pinned = port_text(&m, str::to_owned);
        assert!(
            pinned.contains("port http stays 32214, its path changes"),
            "{pinned}"
        );
        assert!(!pinned.contains("nodePorts"), "{pinned}");
    }
}
