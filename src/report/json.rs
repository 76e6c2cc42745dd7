//! The diff and check reports as JSON for scripts. Field names are an interface
//! (docs/review.md): a change of meaning bumps `JSON_VERSION`.

use super::{CheckReport, DiffReport, JSON_VERSION, Status, note_text, per_kind};
use crate::object::ObjectId;
use crate::review::check::Problem;
use crate::review::diff::Change;
use crate::review::risk::Risks;
use crate::review::snapshot::Note;
use serde::Serialize;

pub(super) fn diff(report: &DiffReport, stat: bool) -> String {
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
    let d = &report.diff;
    let path = |p: &Option<String>| p.as_ref().map(|p| format!("{}/{p}", report.dir));
    let doc = Doc {
        version: JSON_VERSION,
        environment: &report.env,
        against: report.against.as_deref(),
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
        notes: d.notes.iter().map(|n| json_note(n, &report.dir)).collect(),
        risks: &report.risks,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("plain data serializes");
    s.push('\n');
    s
}

pub(super) fn check(report: &CheckReport) -> String {
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
        ok: report
            .environments
            .iter()
            .all(|e| e.status == Status::UpToDate),
        environments: report
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
                        path: CheckReport::finding_path(e, f),
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
            Note::Unowned { .. } => "unowned",
        },
        detail: note_text(n, dir),
    }
}
