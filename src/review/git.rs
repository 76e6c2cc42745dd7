//! Files as committed at a git revision, read without checking anything out, through the git
//! command line (`rev-parse`, `ls-tree`, `cat-file --batch`: three processes, whatever the
//! number of files). Read-only: it never runs a git command that writes, and never passes a
//! user's revision where git could take it for an option.
//!
//! Why the git CLI rather than a library: nbgen needs three read-only plumbing commands; git2
//! builds libgit2 from C and gix adds well over a hundred crates to a tool that otherwise needs
//! none of them, while every machine that has a clone to compare has git, and git already
//! understands everything a repository may use (worktrees, alternates, partial clones,
//! SHA-256 object format, `safe.directory`).

use crate::emit::ownership::is_manifest_name;
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    NotRunnable(String),
    #[error("{0} is not inside a git repository")]
    NotARepository(String),
    #[error("`{0}` is not a revision: a revision cannot start with '-'")]
    OptionLike(String),
    #[error("`{rev}` is not a commit in this repository")]
    UnknownRevision { rev: String, detail: String },
    #[error("git {command} failed: {detail}")]
    Failed { command: String, detail: String },
}

/// Every manifest-like file (`.yaml`, `.yml`, `.json`) under `dir` (relative to `root`, e.g.
/// `out/prod`) as committed at `rev`, by path relative to `dir`; `None` for a symbolic link.
/// A revision where `dir` does not exist gives an empty map.
pub fn files_at(
    root: &Path,
    rev: &str,
    dir: &str,
) -> Result<BTreeMap<String, Option<String>>, GitError> {
    let commit = resolve(root, rev)?;
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    // Paths are relative to `root` (git's working directory here), even inside a subdirectory
    // of the repository; `-z` keeps unusual names intact.
    let listing = run(root, &["ls-tree", "-r", "-z", &commit, "--", &prefix], None)?;
    let mut blobs = Vec::new();
    let mut out = BTreeMap::new();
    for entry in listing.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let Some(rel) = path.strip_prefix(&prefix) else {
            continue;
        };
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if !is_manifest_name(name) {
            continue;
        }
        let mut fields = meta.split(' ');
        let (mode, kind, oid) = (fields.next(), fields.next(), fields.next());
        match (mode, kind, oid) {
            (Some("120000"), _, _) => {
                out.insert(rel.to_owned(), None);
            }
            (_, Some("blob"), Some(oid)) => blobs.push((rel.to_owned(), oid.to_owned())),
            _ => {} // submodules
        }
    }
    if blobs.is_empty() {
        return Ok(out);
    }
    let request: String = blobs.iter().map(|(_, oid)| format!("{oid}\n")).collect();
    let batch = run(root, &["cat-file", "--batch"], Some(request.into_bytes()))?;
    let mut rest = batch.as_slice();
    for (rel, oid) in blobs {
        let (text, tail) = batch_entry(rest).ok_or_else(|| GitError::Failed {
            command: "cat-file --batch".to_owned(),
            detail: format!("unexpected output for {oid}"),
        })?;
        out.insert(rel, Some(String::from_utf8_lossy(text).into_owned()));
        rest = tail;
    }
    Ok(out)
}

/// The commit a revision names; refuses anything git could read as an option.
/// The names of the directories directly under `dir` at `rev` (e.g. the environments under
/// `out` that had output then).
pub fn dirs_at(root: &Path, rev: &str, dir: &str) -> Result<Vec<String>, GitError> {
    let commit = resolve(root, rev)?;
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    let listing = run(root, &["ls-tree", "-z", &commit, "--", &prefix], None)?;
    let mut out = Vec::new();
    for entry in listing.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        if let Some((meta, path)) = entry.split_once('\t')
            && meta.split(' ').nth(1) == Some("tree")
            && let Some(name) = path.strip_prefix(&prefix)
        {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

fn resolve(root: &Path, rev: &str) -> Result<String, GitError> {
    if rev.is_empty() || rev.starts_with('-') || rev.contains('\0') {
        return Err(GitError::OptionLike(rev.to_owned()));
    }
    if let Err(e) = run(root, &["rev-parse", "--git-dir"], None) {
        return Err(match e {
            GitError::Failed { .. } => GitError::NotARepository(
                std::fs::canonicalize(root)
                    .unwrap_or_else(|_| root.to_owned())
                    .display()
                    .to_string(),
            ),
            e => e,
        });
    }
    let unknown = |detail: String| GitError::UnknownRevision {
        rev: rev.to_owned(),
        detail,
    };
    let spec = format!("{rev}^{{commit}}");
    match run(root, &["rev-parse", "--verify", "--quiet", &spec], None) {
        Ok(out) => Ok(String::from_utf8_lossy(&out).trim().to_owned()),
        Err(GitError::Failed { detail, .. }) => Err(unknown(detail)),
        Err(e) => Err(e),
    }
}

/// One `<oid> <type> <size>\n<content>\n` record of `cat-file --batch`.
fn batch_entry(out: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = out.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&out[..nl]).ok()?;
    let size: usize = header.split(' ').nth(2)?.parse().ok()?;
    let body = out.get(nl + 1..nl + 1 + size)?;
    let rest = out.get(nl + 1 + size + 1..).unwrap_or_default();
    Some((body, rest))
}

fn run(root: &Path, args: &[&str], input: Option<Vec<u8>>) -> Result<Vec<u8>, GitError> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["-c", "core.quotePath=false"])
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| GitError::NotRunnable(e.to_string()))?;
    // Feed stdin from another thread: git writes while it reads, and a full pipe both ways
    // would deadlock.
    let feeder = input.and_then(|bytes| {
        let mut stdin = child.stdin.take()?;
        Some(std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        }))
    });
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut s) = child.stderr.take() {
        let h = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            buf
        });
        if let Some(mut o) = child.stdout.take() {
            let _ = o.read_to_end(&mut stdout);
        }
        stderr = h.join().unwrap_or_default();
    }
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let status = child
        .wait()
        .map_err(|e| GitError::NotRunnable(e.to_string()))?;
    if status.success() {
        Ok(stdout)
    } else {
        let detail = String::from_utf8_lossy(&stderr).trim().to_owned();
        Err(GitError::Failed {
            command: args.first().copied().unwrap_or_default().to_owned(),
            detail: if detail.is_empty() {
                status.to_string()
            } else {
                detail
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_records_are_split_by_size_not_by_newlines() {
        let out = b"abc blob 6\na\nb\nc\n\ndef blob 0\n\n";
        let (first, rest) = batch_entry(out).unwrap();
        assert_eq!(first, b"a\nb\nc\n");
        let (second, rest) = batch_entry(rest).unwrap();
        assert_eq!(second, b"");
        assert!(rest.is_empty());
    }
}
