//! Files as committed at a git revision, read without checking anything out, through the git
//! command line (`rev-parse`, `ls-tree`, `cat-file --batch`: three processes, whatever the
//! number of files). A file whose blob id (`ls-tree` lists it) is the id of the text nbgen
//! renders for its path holds exactly that text, so it is not read at all: git's blob id is a
//! hash of `blob <len>\0<content>` (SHA-1, or SHA-256 in a SHA-256 repository), computed
//! here for the rendered text. Only the other files go through `cat-file`. Read-only: it
//! never runs a git command that writes, and never passes a user's revision where git could
//! take it for an option.
//!
//! Why the git CLI rather than a library: nbgen needs three read-only plumbing commands; git2
//! builds libgit2 from C and gix adds well over a hundred crates to a tool that otherwise needs
//! none of them, while every machine that has a clone to compare has git, and git already
//! understands everything a repository may use (worktrees, alternates, partial clones,
//! SHA-256 object format, `safe.directory`).

use crate::emit::Tree;
use crate::emit::ownership::{Listed, is_manifest_name};
use crate::parallel;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
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
/// `out/prod`) as committed at `rev`, by path relative to `dir`, compared with `tree` by blob
/// id: a file committed with exactly the text rendered for its path is `AsRendered` and never
/// read; the others are `Text` (decoded lossily), symbolic links `Link`. A revision where `dir`
/// does not exist gives an empty map.
pub fn files_against(
    root: &Path,
    rev: &str,
    dir: &str,
    tree: &Tree,
) -> Result<BTreeMap<String, Listed>, GitError> {
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
                out.insert(rel.to_owned(), Listed::Link);
            }
            (_, Some("blob"), Some(oid)) => blobs.push((rel.to_owned(), oid.to_owned())),
            _ => {} // submodules
        }
    }
    // The blob ids of the rendered texts at the listed paths, on every core.
    let same = parallel::map(&blobs, |(rel, oid)| {
        tree.get(rel)
            .is_some_and(|f| blob_id(f.text.as_bytes(), oid.len()).as_deref() == Some(oid))
    });
    let mut read = Vec::new();
    for ((rel, oid), same) in blobs.into_iter().zip(same) {
        if same {
            out.insert(rel, Listed::AsRendered);
        } else {
            read.push((rel, oid));
        }
    }
    if read.is_empty() {
        return Ok(out);
    }
    let request: String = read.iter().map(|(_, oid)| format!("{oid}\n")).collect();
    let batch = run(root, &["cat-file", "--batch"], Some(request.into_bytes()))?;
    let mut rest = batch.as_slice();
    for (rel, oid) in read {
        let (text, tail) = batch_entry(rest).ok_or_else(|| GitError::Failed {
            command: "cat-file --batch".to_owned(),
            detail: format!("unexpected output for {oid}"),
        })?;
        out.insert(
            rel,
            Listed::Text(String::from_utf8_lossy(text).into_owned()),
        );
        rest = tail;
    }
    Ok(out)
}

/// Git's id of a blob holding `content`, in lower-case hex, for an object format known by the
/// length of its ids (40: SHA-1, 64: SHA-256); `None` for any other length.
/// The text of the regular file `path` at `rev`, or `None` when `rev` has no such file (the
/// ownership manifest of an environment, say, that REV did not have yet).
pub fn file_at(root: &Path, rev: &str, path: &str) -> Result<Option<String>, GitError> {
    let commit = resolve(root, rev)?;
    let listing = run(root, &["ls-tree", "-z", &commit, "--", path], None)?;
    let entry =
        String::from_utf8_lossy(listing.split(|&b| b == 0).next().unwrap_or_default()).into_owned();
    let Some((meta, _)) = entry.split_once('\t') else {
        return Ok(None);
    };
    let mut fields = meta.split(' ');
    let (Some(mode), Some("blob"), Some(oid)) = (fields.next(), fields.next(), fields.next())
    else {
        return Ok(None);
    };
    if mode == "120000" {
        return Ok(None); // a link is never nbgen's manifest
    }
    let text = run(root, &["cat-file", "blob", oid], None)?;
    Ok(Some(String::from_utf8_lossy(&text).into_owned()))
}

fn blob_id(content: &[u8], hex_len: usize) -> Option<String> {
    let header = format!("blob {}\0", content.len());
    let bytes: Vec<u8> = match hex_len {
        // SHA-1 only recognises a blob git already holds; nothing is trusted by it.
        40 => {
            let mut h = Sha1::new();
            h.update(header.as_bytes());
            h.update(content);
            h.finalize().to_vec()
        }
        64 => {
            let mut h = Sha256::new();
            h.update(header.as_bytes());
            h.update(content);
            h.finalize().to_vec()
        }
        _ => return None,
    };
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
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

    #[test]
    fn blob_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`, and with --object-format=sha256.
        assert_eq!(
            blob_id(b"hello\n", 40).unwrap(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            blob_id(b"", 40).unwrap(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        assert_eq!(
            blob_id(b"hello\n", 64).unwrap(),
            "2cf8d83d9ee29543b34a87727421fdecb7e3f3a183d337639025de576db9ebb4"
        );
        assert_eq!(blob_id(b"x", 12), None);
        // More than one SHA-1 block: `printf 'a%.0s' $(seq 200) | git hash-object --stdin`.
        assert_eq!(
            blob_id(&[b'a'; 200], 40).unwrap(),
            "1d33d17ad3abab24046a78cf5a4abc31e69865b3"
        );
    }
}
