//! The only module that touches `out/<env>/`. Invariants:
//! - nothing is written outside `out/<env>/`, and no symbolic link is followed for a write or a
//!   delete;
//! - a file nbgen does not own (see the manifest) is never overwritten or deleted;
//! - every file is written to a temporary file and renamed into place, so a killed run leaves
//!   each file with its old or its new content. Nothing is fsynced: a power cut may lose the
//!   last seconds of a render (a file back empty, the manifest back old). `nbgen check` reports
//!   that; the output is reproducible from the spec and kept in git, so restoring `out/<env>/`
//!   from git (or deleting it) and rendering again repairs it. An fsync per file cost 3 ms here,
//!   a minute for 20,000 files (BENCHMARKS.md);
//! - two runs on one environment never interleave (an exclusive lock on the directory);
//! - all checks happen before the first write: a refused run writes nothing.

use crate::emit::{File, Tree};
use crate::expand::{SERVER, TEAM};
use crate::nodeport::ServerKey;
use k8s_openapi::api::core::v1::Service;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The ownership manifest: `sha256sum` format, one line per file nbgen wrote.
pub const MANIFEST: &str = ".nbgen-manifest";
const TMP_PREFIX: &str = ".nbgen-tmp-";

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0} is a symbolic link; nbgen does not write through links")]
    Symlink(String),
    #[error("{0} exists and is not a directory")]
    NotADirectory(String),
    #[error(
        "{0} exists and was not written by nbgen; move it away or delete it, then render again"
    )]
    NotOwned(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What a render did, per file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    /// Owned files that had become symbolic links: left alone.
    pub skipped_links: Vec<String>,
}

/// Part of a write, planned by one thread.
#[derive(Default)]
struct Plan<'t> {
    added: Vec<String>,
    changed: Vec<String>,
    unchanged: usize,
    writes: Vec<(PathBuf, &'t String)>,
    manifest: String,
}

/// Threads for `n` files: file system calls dominate, and they run in parallel in the kernel.
fn workers(n: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    cores.min(n / 500).clamp(1, 8)
}

/// Whether the file at `path` holds exactly `expected`, whose length it was just seen to have
/// (a file that grows meanwhile is a race with another writer no lock covers anyway).
/// `buf` is scratch space, reused from file to file.
fn same_content(path: &Path, expected: &[u8], buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut f = fs::File::open(path)?;
    buf.resize(expected.len(), 0);
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf[..n] == *expected)
}

/// `out/<env>/` of one repository.
pub struct OutDir {
    /// `<root>/out/<env>`
    pub path: PathBuf,
    /// How to name it to the user: `out/prod`.
    pub display: String,
}

impl OutDir {
    pub fn new(root: &Path, env: &str) -> Self {
        OutDir {
            path: root.join("out").join(env),
            display: format!("out/{env}"),
        }
    }

    /// Refuse a directory (or its parent `out/`) that is a symbolic link or a file.
    pub fn check_shape(&self) -> Result<bool, OutputError> {
        for (p, shown) in [
            (self.path.parent().unwrap_or(&self.path), "out".to_owned()),
            (self.path.as_path(), self.display.clone()),
        ] {
            match fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => return Err(OutputError::Symlink(shown)),
                Ok(m) if !m.is_dir() => return Err(OutputError::NotADirectory(shown)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(io_err(p)(e)),
            }
        }
        Ok(true)
    }

    /// The files nbgen owns, from the manifest (empty when there is none).
    pub fn owned(&self) -> BTreeMap<String, String> {
        let text = fs::read_to_string(self.path.join(MANIFEST)).unwrap_or_default();
        manifest_entries(&text)
            .map(|(h, p)| (p.to_owned(), h.to_owned()))
            .collect()
    }

    /// NodePorts of the servers in the current output, read from the owned Service files.
    pub fn previous_ports(&self) -> BTreeMap<ServerKey, u16> {
        let manifest = fs::read_to_string(self.path.join(MANIFEST)).unwrap_or_default();
        let services: Vec<(&str, &str)> = manifest_entries(&manifest)
            .filter(|(_, file)| {
                file.rsplit('/')
                    .next()
                    .is_some_and(|f| f.starts_with("service-"))
            })
            .collect();
        let chunk = services.len().div_ceil(workers(services.len())).max(1);
        std::thread::scope(|s| {
            let parts: Vec<_> = services
                .chunks(chunk)
                .map(|part| {
                    s.spawn(|| {
                        part.iter()
                            .filter_map(|e| self.service_port(e))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().expect("reading ports does not panic"))
                .collect()
        })
    }

    /// The server and NodePort of one owned Service file.
    fn service_port(&self, &(hash, file): &(&str, &str)) -> Option<(ServerKey, u16)> {
        let text = read_regular(&self.path.join(file))?;
        // A file exactly as nbgen wrote it has nbgen's layout, which a line scan reads in a
        // thousandth of the time a YAML parse takes; anything else gets the parse.
        let exact = hex(&Sha256::digest(text.as_bytes())) == hash;
        exact
            .then(|| scan_service(&text))
            .flatten()
            .or_else(|| parse_service(&text))
    }

    /// Every manifest-like file (`.yaml`, `.yml`, `.json`) under the directory, by relative path:
    /// what Argo CD would apply. Links are listed (never followed); their text is `None`.
    pub fn manifests(&self) -> Result<BTreeMap<String, Option<String>>, OutputError> {
        let mut out = BTreeMap::new();
        if !self.check_shape()? {
            return Ok(out);
        }
        walk(&self.path, "", &mut out)?;
        Ok(out)
    }

    /// Make the directory hold exactly `tree` (plus files nbgen does not own).
    pub fn write(&self, tree: &Tree) -> Result<Summary, OutputError> {
        self.check_shape()?;
        fs::create_dir_all(&self.path).map_err(io_err(&self.path))?;
        let _lock = self.lock()?;
        // Checked again under the lock: another process may have changed things.
        self.check_shape()?;
        let owned = self.owned();

        // Plan everything first; refuse before writing anything. The plan reads every file
        // that may be unchanged, so it is split across threads (merged back in path order).
        // Meanwhile another thread removes temporary files a killed run left behind (the plan
        // never looks at them).
        let files: Vec<(&String, &File)> = tree.iter().collect();
        let threads = workers(files.len());
        let plans: Vec<Result<Plan, OutputError>> = std::thread::scope(|s| {
            s.spawn(|| clean_temporaries(&self.path));
            let parts: Vec<_> = files
                .chunks(files.len().div_ceil(threads).max(1))
                .map(|part| s.spawn(|| self.plan(part, &owned)))
                .collect();
            parts
                .into_iter()
                .map(|p| p.join().expect("planning does not panic"))
                .collect()
        });
        let mut summary = Summary::default();
        let mut writes = Vec::new();
        let mut manifest = String::with_capacity(files.len() * 100);
        for plan in plans {
            let plan = plan?;
            summary.added.extend(plan.added);
            summary.changed.extend(plan.changed);
            summary.unchanged += plan.unchanged;
            writes.extend(plan.writes);
            manifest.push_str(&plan.manifest);
        }
        let stale: Vec<&String> = owned.keys().filter(|f| !tree.contains_key(*f)).collect();

        let chunk = writes.len().div_ceil(workers(writes.len())).max(1);
        std::thread::scope(|s| {
            let parts: Vec<_> = writes
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        for (path, text) in part {
                            if let Some(dir) = path.parent() {
                                fs::create_dir_all(dir).map_err(io_err(dir))?;
                            }
                            write_atomic(path, text.as_bytes())?;
                        }
                        Ok(())
                    })
                })
                .collect();
            parts
                .into_iter()
                .try_for_each(|p| p.join().expect("writing does not panic"))
        })?;
        for rel in stale {
            let path = self.path.join(rel);
            if self.check_parents(rel).is_err() {
                summary.skipped_links.push(rel.clone());
                continue;
            }
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => summary.skipped_links.push(rel.clone()),
                Ok(m) if m.is_file() => {
                    fs::remove_file(&path).map_err(io_err(&path))?;
                    summary.removed.push(rel.clone());
                    remove_empty_dirs(&self.path, &path);
                }
                _ => {}
            }
        }
        let manifest_path = self.path.join(MANIFEST);
        if fs::read_to_string(&manifest_path).ok().as_deref() != Some(manifest.as_str()) {
            write_atomic(&manifest_path, manifest.as_bytes())?;
        }
        Ok(summary)
    }

    /// What writing `files` would do, checked: each file is new, unchanged (same bytes; this
    /// also adopts a file a killed run left behind), or changed and owned; anything else is
    /// refused. Also their manifest lines.
    fn plan<'t>(
        &self,
        files: &[(&'t String, &'t File)],
        owned: &BTreeMap<String, String>,
    ) -> Result<Plan<'t>, OutputError> {
        let mut plan = Plan::default();
        let mut dirs_checked = HashSet::new();
        let mut buf = Vec::new();
        for &(rel, file) in files {
            let path = self.path.join(rel);
            let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
            if !safe_relative(rel) || !dirs_checked.contains(dir) {
                self.check_parents(rel)?;
                dirs_checked.insert(dir);
            }
            let text = file.text.as_bytes();
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(OutputError::Symlink(format!("{}/{rel}", self.display)));
                }
                Ok(m) if !m.is_file() => {
                    return Err(OutputError::NotADirectory(format!(
                        "{}/{rel}",
                        self.display
                    )));
                }
                Ok(m) => {
                    let same = m.len() == text.len() as u64
                        && same_content(&path, text, &mut buf).map_err(io_err(&path))?;
                    if same {
                        plan.unchanged += 1;
                    } else if owned.contains_key(rel) {
                        plan.changed.push(rel.clone());
                        plan.writes.push((path, &file.text));
                    } else {
                        return Err(OutputError::NotOwned(format!("{}/{rel}", self.display)));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    plan.added.push(rel.clone());
                    plan.writes.push((path, &file.text));
                }
                Err(e) => return Err(io_err(&path)(e)),
            }
            plan.manifest.push_str(&hex(&Sha256::digest(text)));
            plan.manifest.push_str("  ");
            plan.manifest.push_str(rel);
            plan.manifest.push('\n');
        }
        Ok(plan)
    }

    /// An exclusive lock on the directory itself, held until dropped. Leaves no file behind.
    fn lock(&self) -> Result<fs::File, OutputError> {
        let dir = fs::File::open(&self.path).map_err(io_err(&self.path))?;
        match dir.try_lock() {
            Ok(()) => Ok(dir),
            Err(fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "nbgen: waiting for another nbgen writing {} to finish...",
                    self.display
                );
                dir.lock().map_err(io_err(&self.path))?;
                Ok(dir)
            }
            Err(fs::TryLockError::Error(e)) => Err(io_err(&self.path)(e)),
        }
    }

    /// Every directory between `out/<env>/` and the file must be a real directory.
    fn check_parents(&self, rel: &str) -> Result<(), OutputError> {
        if !safe_relative(rel) {
            return Err(OutputError::NotADirectory(format!(
                "{}/{rel}",
                self.display
            )));
        }
        let mut p = self.path.clone();
        let parts: Vec<&str> = rel.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            p.push(part);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(OutputError::Symlink(format!(
                        "{}/{}",
                        self.display,
                        rel_of(&self.path, &p)
                    )));
                }
                Ok(m) if !m.is_dir() => {
                    return Err(OutputError::NotADirectory(format!(
                        "{}/{}",
                        self.display,
                        rel_of(&self.path, &p)
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The `(sha256, path)` lines of a manifest, unsafe paths skipped.
fn manifest_entries(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .filter_map(|l| l.split_once("  "))
        .filter(|(_, p)| safe_relative(p))
}

/// A path nbgen may use under `out/<env>/`: relative, plain components only.
pub fn safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && rel.split('/').all(|c| {
            !c.is_empty() && c != "." && c != ".." && !c.contains('\\') && !c.contains('\0')
        })
}

fn rel_of(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

fn read_regular(path: &Path) -> Option<String> {
    let m = fs::symlink_metadata(path).ok()?;
    if !m.is_file() {
        return None;
    }
    fs::read_to_string(path).ok()
}

fn walk(
    dir: &Path,
    rel: &str,
    out: &mut BTreeMap<String, Option<String>>,
) -> Result<(), OutputError> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = e.file_type().map_err(io_err(&e.path()))?;
        if ft.is_dir() {
            walk(&e.path(), &child_rel, out)?;
        } else if is_manifest_name(&name) {
            let text = if ft.is_symlink() {
                None
            } else {
                Some(fs::read_to_string(e.path()).unwrap_or_default())
            };
            out.insert(child_rel, text);
        }
    }
    Ok(())
}

/// Files Argo CD's directory source applies.
pub fn is_manifest_name(name: &str) -> bool {
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!("{TMP_PREFIX}{}-{name}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err(path)(e)
    })
}

/// Remove temporary files a killed run left behind (they are nbgen's by name).
fn clean_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            clean_temporaries(&e.path());
        } else if ft.is_file() && e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn remove_empty_dirs(base: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == base || !d.starts_with(base) {
            break;
        }
        if fs::remove_dir(d).is_err() {
            break; // not empty, or not ours to remove
        }
        dir = d.parent();
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// A Service's server and NodePort, from its YAML.
fn parse_service(text: &str) -> Option<(ServerKey, u16)> {
    let svc = serde_saphyr::from_str::<Service>(text).ok()?;
    let labels = svc.metadata.labels.unwrap_or_default();
    let port = svc
        .spec
        .and_then(|s| s.ports)
        .and_then(|p| p.into_iter().next())
        .and_then(|p| p.node_port)
        .and_then(|p| u16::try_from(p).ok())?;
    Some((
        (labels.get(TEAM)?.clone(), labels.get(SERVER)?.clone()),
        port,
    ))
}

/// The same, from a Service in the layout nbgen writes: `metadata.labels` at 4 spaces, the
/// first port's `nodePort` at 4 spaces under `spec.ports`. `None` when anything is unexpected.
fn scan_service(text: &str) -> Option<(ServerKey, u16)> {
    let (mut team, mut server, mut port) = (None, None, None);
    let mut section = ("", "");
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let depth = line.len() - line.trim_start_matches(' ').len();
        let line = line.trim_start_matches(' ');
        match depth {
            0 => section = (line, ""),
            2 if !line.starts_with("- ") => section.1 = line,
            _ => {}
        }
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        let slot = match (section, depth, key) {
            (("metadata:", "labels:"), 4, TEAM) => &mut team,
            (("metadata:", "labels:"), 4, SERVER) => &mut server,
            (("spec:", "ports:"), 4, "nodePort") => &mut port,
            _ => continue,
        };
        if slot.is_some() {
            return None; // a second port, or a repeated label: not nbgen's layout
        }
        *slot = Some(unquote(value)?);
    }
    Some(((team?.to_owned(), server?.to_owned()), port?.parse().ok()?))
}

/// A plain scalar, or a double-quoted one without escapes (a DNS label such as `"123"`).
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').filter(|v| !v.contains(['\\', '"'])),
        None if value.starts_with(['\'', '&', '*', '!', '|', '>']) => None,
        None => Some(value),
    }
}

/// The set of files a tree will have: for callers comparing trees.
pub fn paths(tree: &Tree) -> BTreeSet<&str> {
    tree.keys().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    /// The line scan reads every Service nbgen writes as the YAML parser does, including names
    /// YAML would misread unquoted.
    #[test]
    fn service_scan_agrees_with_the_parser() {
        let spec = r#"
apiVersion: nbgen.io/v1alpha1
kind: Environment
name: dev
cluster: {kubernetesVersion: "1.33", nodePortRange: 30000-30100}
images: {nb: "registry.example.com/nb:1"}
roles:
  "on": {image: nb, cpu: "1", memory: 1Gi}
  "n": {image: nb, cpu: "1", memory: 1Gi}
teams:
  "123": {members: [a@example.com], roles: ["on", "n"]}
  "yes": {members: ["x@example.com", "true@example.com"], roles: ["on"], perMember: true}
  plain: {groups: [g], roles: ["n"]}
"#;
        let src = SourceFile::new("environments/dev.yaml", spec);
        let r = crate::render(&src, "dev", &BTreeMap::new()).unwrap();
        let services: Vec<&str> = r
            .tree
            .iter()
            .filter(|(p, _)| p.contains("/service-"))
            .map(|(_, f)| f.text.as_str())
            .collect();
        assert_eq!(services.len(), 5);
        for text in services {
            let scanned = scan_service(text);
            assert!(scanned.is_some(), "{text}");
            assert_eq!(scanned, parse_service(text), "{text}");
        }
    }

    #[test]
    fn service_scan_refuses_other_layouts() {
        let two_ports = "metadata:\n  labels:\n    nbgen.io/server: a\n    nbgen.io/team: t\nspec:\n  ports:\n  - nodePort: 30001\n  - nodePort: 30002\n";
        assert_eq!(scan_service(two_ports), None);
        let anchored = "metadata:\n  labels:\n    nbgen.io/server: &s a\n    nbgen.io/team: t\nspec:\n  ports:\n  - name: http\n    nodePort: 30001\n";
        assert_eq!(scan_service(anchored), None);
    }

    fn tree_of(files: &[(&str, &str)]) -> Tree {
        files
            .iter()
            .map(|(p, t)| {
                let id = crate::manifest::ObjectId {
                    kind: "ConfigMap".into(),
                    namespace: None,
                    name: (*p).into(),
                };
                (
                    (*p).to_owned(),
                    File {
                        id,
                        text: (*t).to_owned(),
                    },
                )
            })
            .collect()
    }

    /// Enough files to plan on several threads: the summary and the refusals are the same.
    #[test]
    fn write_plans_adds_changes_and_refusals_in_path_order() {
        let root = tempfile::tempdir().unwrap();
        let out = OutDir::new(root.path(), "dev");
        let names: Vec<String> = (0..1200)
            .map(|i| format!("ns{}/f{i:04}.yaml", i % 7))
            .collect();
        let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "a: 1\n")).collect();
        let s = out.write(&tree_of(&files)).unwrap();
        assert_eq!((s.added.len(), s.unchanged), (1200, 0));
        assert!(s.added.windows(2).all(|w| w[0] < w[1]));
        let s = out.write(&tree_of(&files)).unwrap();
        assert_eq!((s.added.len(), s.changed.len(), s.unchanged), (0, 0, 1200));

        // A hand edit of the same length is still seen, and repaired.
        fs::write(out.path.join(&names[5]), "a: 2\n").unwrap();
        let s = out.write(&tree_of(&files)).unwrap();
        assert_eq!(s.changed, vec![names[5].clone()]);
        assert_eq!(
            fs::read_to_string(out.path.join(&names[5])).unwrap(),
            "a: 1\n"
        );

        // A file nbgen does not own is refused, and nothing is written.
        fs::write(out.path.join("ns0/zz.yaml"), "mine: true\n").unwrap();
        let mut more = files.clone();
        more.push(("ns0/zz.yaml", "a: 1\n"));
        more.push(("ns9/new.yaml", "a: 1\n"));
        assert!(matches!(
            out.write(&tree_of(&more)),
            Err(OutputError::NotOwned(_))
        ));
        assert!(!out.path.join("ns9").exists());
    }
}
