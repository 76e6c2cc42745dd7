//! The only module that touches `out/<env>/`. Invariants:
//! - nothing is written outside `out/<env>/`, and no symbolic link is followed for a write or a
//!   delete;
//! - a file nbgen does not own (see the manifest) is never overwritten or deleted;
//! - every file is written to a temporary file and renamed into place, so a killed run leaves
//!   each file with its old or its new content;
//! - two runs on one environment never interleave (an exclusive lock on the directory);
//! - all checks happen before the first write: a refused run writes nothing.

use crate::emit::Tree;
use crate::emit::ownership::{self, Listed, MANIFEST, digest, is_manifest_name};
use crate::model::names::{SERVER, TEAM};
use crate::parallel;
use crate::validate::nodeport::ServerKey;
use k8s_openapi::api::core::v1::Service;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// Temporaries are `.nbgen-tmp-<pid>-<name>.part`: the suffix keeps one a killed run left
/// behind from looking like a manifest to `check`, or to Argo CD if it were committed.
const TMP_PREFIX: &str = ".nbgen-tmp-";
const TMP_SUFFIX: &str = ".part";

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

/// The exclusive lock on an `out/<env>/` directory, held until dropped.
pub struct Lock(fs::File);

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
        // Never through a link: the manifest could point at /dev/zero or another tree's file.
        let text = read_regular(&self.path.join(MANIFEST)).unwrap_or_default();
        ownership::entries(&text)
            .into_iter()
            .filter(|(p, _)| safe_relative(p))
            .map(|(p, h)| (p.to_owned(), h.to_owned()))
            .collect()
    }

    /// NodePorts of the servers in the current output, read from the owned Service files.
    pub fn previous_ports(&self) -> BTreeMap<ServerKey, u16> {
        let services: Vec<(String, String)> = self
            .owned()
            .into_iter()
            .filter(|(file, _)| {
                file.rsplit('/')
                    .next()
                    .is_some_and(|f| f.starts_with("service-"))
            })
            .collect();
        let found = parallel::map(&services, |(file, hash)| {
            let text = read_regular(&self.path.join(file))?;
            // A file exactly as nbgen wrote it has a known layout, scanned in microseconds;
            // an edited one is parsed.
            let scanned = if digest(text.as_bytes()) == *hash {
                scan_service(&text)
            } else {
                None
            };
            scanned.or_else(|| parse_service(&text))
        });
        found.into_iter().flatten().collect()
    }

    /// Every manifest-like file (`.yaml`, `.yml`, `.json`) under the directory, by relative path:
    /// what Argo CD would apply. Links and other non-regular files (a FIFO) are listed, never
    /// followed or read; their text is `None`.
    pub fn manifests(&self) -> Result<BTreeMap<String, Option<String>>, OutputError> {
        let listed = self.manifests_against(&Tree::new())?;
        Ok(listed
            .into_iter()
            .map(|(rel, l)| match l {
                Listed::Text(t) => (rel, Some(t)),
                Listed::Link | Listed::AsRendered => (rel, None),
            })
            .collect())
    }

    /// Whether the directory holds any manifest-like file (one `manifests` would list); reads
    /// none of them.
    pub fn has_manifests(&self) -> Result<bool, OutputError> {
        Ok(!self.manifest_entries()?.is_empty())
    }

    /// The manifest-like entries under the directory (links and FIFOs too), by relative path;
    /// none when it does not exist.
    fn manifest_entries(&self) -> Result<Vec<(String, Entry)>, OutputError> {
        if !self.check_shape()? {
            return Ok(Vec::new());
        }
        let mut entries = BTreeMap::new();
        list(&self.path, "", &mut entries, false)?;
        Ok(entries
            .into_iter()
            .filter(|(rel, e)| *e != Entry::Dir && is_manifest_name(rel))
            .collect())
    }

    /// Every manifest-like file under the directory, like `manifests`, compared with `tree`
    /// as it is read: a file holding exactly its rendered text is `AsRendered` and its text is
    /// not kept, so checking a large environment holds one copy of it, not two.
    pub fn manifests_against(&self, tree: &Tree) -> Result<BTreeMap<String, Listed>, OutputError> {
        let manifests = self.manifest_entries()?;
        // Only regular files are read: a FIFO named x.yaml would block `check` forever.
        let listed = parallel::map(&manifests, |(rel, e)| {
            if *e != Entry::File {
                return Listed::Link;
            }
            let path = self.path.join(rel);
            if let Some(f) = tree.get(rel)
                && same_content(&path, f.text.as_bytes()).unwrap_or(false)
            {
                return Listed::AsRendered;
            }
            Listed::Text(read_text(&path).unwrap_or_default())
        });
        Ok(manifests
            .into_iter()
            .map(|(rel, _)| rel)
            .zip(listed)
            .collect())
    }

    /// Make the directory hold exactly `tree` (plus files nbgen does not own).
    pub fn write(&self, tree: &Tree) -> Result<Summary, OutputError> {
        self.write_holding(tree, None)
    }

    /// The directory's lock, taken now, when the directory exists; creates nothing. A render
    /// that holds it from the start reads the NodePorts already handed out, and writes, with no
    /// other nbgen writing in between.
    pub fn lock_existing(&self) -> Result<Option<Lock>, OutputError> {
        if !self.check_shape()? {
            return Ok(None);
        }
        Ok(Some(self.lock()?))
    }

    /// `write`, under `held` when it is still the lock of the directory at this path.
    pub fn write_holding(&self, tree: &Tree, held: Option<Lock>) -> Result<Summary, OutputError> {
        self.check_shape()?;
        fs::create_dir_all(&self.path).map_err(io_err(&self.path))?;
        let _lock = match held {
            Some(lock) if self.is_locked_by(&lock) => lock,
            _ => self.lock()?,
        };
        // Checked again under the lock: another process may have changed things.
        self.check_shape()?;
        // One listing of the directory answers every question about what is there; temporaries
        // a killed run left behind go on the way.
        let mut existing = BTreeMap::new();
        list(&self.path, "", &mut existing, true)?;
        let owned = self.owned();

        // Plan everything first; refuse before writing anything.
        let mut summary = Summary::default();
        let mut present = Vec::new();
        for rel in tree.keys() {
            self.check_parents(rel, &existing)?;
            let shown = || format!("{}/{rel}", self.display);
            match existing.get(rel) {
                Some(Entry::Link) => return Err(OutputError::Symlink(shown())),
                Some(Entry::Dir | Entry::Other) => return Err(OutputError::NotADirectory(shown())),
                Some(Entry::File) => present.push(rel),
                None => summary.added.push(rel.clone()),
            }
        }
        let same = parallel::map(&present, |rel| {
            let path = self.path.join(rel);
            same_content(&path, tree[*rel].text.as_bytes()).map_err(io_err(&path))
        });
        for (rel, same) in present.into_iter().zip(same) {
            if same? {
                summary.unchanged += 1; // also adopts a file a killed run left behind
            } else if owned.contains_key(rel) {
                summary.changed.push(rel.clone());
            } else {
                return Err(OutputError::NotOwned(format!("{}/{rel}", self.display)));
            }
        }
        let stale: Vec<&String> = owned.keys().filter(|f| !tree.contains_key(*f)).collect();
        // Own every file before creating it: a run killed half-way then leaves only files the
        // manifest lists, which the next render - of this spec or another - updates or removes.
        if !summary.added.is_empty() {
            let mut intent = owned.clone();
            for rel in &summary.added {
                intent.insert(rel.clone(), tree[rel].digest.clone());
            }
            let text: String = intent
                .iter()
                .map(|(rel, hash)| format!("{hash}  {rel}\n"))
                .collect();
            write_atomic(&self.path.join(MANIFEST), text.as_bytes())?;
        }
        let writes: Vec<&String> = summary.added.iter().chain(&summary.changed).collect();
        let dirs: BTreeSet<&str> = writes
            .iter()
            .flat_map(|rel| rel.match_indices('/').map(|(i, _)| &rel[..i]))
            .filter(|dir| !existing.contains_key(*dir))
            .collect();
        for dir in dirs {
            // Sorted, so each parent comes before its children.
            let path = self.path.join(dir);
            match fs::create_dir(&path) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(io_err(&path)(e)),
                _ => {}
            }
        }
        let written = parallel::map(&writes, |rel| {
            write_atomic(&self.path.join(rel), tree[*rel].text.as_bytes())
        });
        written.into_iter().collect::<Result<(), _>>()?;
        for rel in stale {
            let path = self.path.join(rel);
            if self.check_parents(rel, &existing).is_err() {
                summary.skipped_links.push(rel.clone());
                continue;
            }
            match existing.get(rel) {
                Some(Entry::Link) => summary.skipped_links.push(rel.clone()),
                Some(Entry::File) => {
                    fs::remove_file(&path).map_err(io_err(&path))?;
                    summary.removed.push(rel.clone());
                    remove_empty_dirs(&self.path, &path);
                }
                _ => {}
            }
        }
        let manifest = ownership::text(tree);
        let manifest_path = self.path.join(MANIFEST);
        if read_regular(&manifest_path).as_deref() != Some(manifest.as_str()) {
            write_atomic(&manifest_path, manifest.as_bytes())?;
        }
        Ok(summary)
    }

    /// An exclusive lock on the directory itself, held until dropped. Leaves no file behind.
    fn lock(&self) -> Result<Lock, OutputError> {
        let dir = fs::File::open(&self.path).map_err(io_err(&self.path))?;
        match dir.try_lock() {
            Ok(()) => Ok(Lock(dir)),
            Err(fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "nbgen: waiting for another nbgen writing {} to finish...",
                    self.display
                );
                dir.lock().map_err(io_err(&self.path))?;
                Ok(Lock(dir))
            }
            Err(fs::TryLockError::Error(e)) => Err(io_err(&self.path)(e)),
        }
    }

    /// Whether `lock` is on the directory now at this path (not on one since moved away).
    fn is_locked_by(&self, lock: &Lock) -> bool {
        use std::os::unix::fs::MetadataExt as _;
        match (lock.0.metadata(), fs::symlink_metadata(&self.path)) {
            (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
            _ => false,
        }
    }

    /// Every directory between `out/<env>/` and the file must be a real directory.
    fn check_parents(
        &self,
        rel: &str,
        existing: &BTreeMap<String, Entry>,
    ) -> Result<(), OutputError> {
        if !safe_relative(rel) {
            return Err(OutputError::NotADirectory(format!(
                "{}/{rel}",
                self.display
            )));
        }
        for (i, _) in rel.match_indices('/') {
            let dir = &rel[..i];
            let shown = || format!("{}/{dir}", self.display);
            match existing.get(dir) {
                Some(Entry::Link) => return Err(OutputError::Symlink(shown())),
                Some(Entry::File | Entry::Other) => {
                    return Err(OutputError::NotADirectory(shown()));
                }
                Some(Entry::Dir) | None => {}
            }
        }
        Ok(())
    }
}

/// A server and its NodePort from a Service file nbgen wrote: its `nbgen.io/team` and
/// `nbgen.io/server` labels and its one `nodePort`, each a plain scalar. Anything else is left
/// to `parse_service`.
fn scan_service(text: &str) -> Option<(ServerKey, u16)> {
    let (mut team, mut server, mut port) = (None, None, None);
    for line in text.lines().map(str::trim_start) {
        let (slot, value) =
            if let Some(v) = line.strip_prefix(TEAM).and_then(|l| l.strip_prefix(": ")) {
                (&mut team, v)
            } else if let Some(v) = line.strip_prefix(SERVER).and_then(|l| l.strip_prefix(": ")) {
                (&mut server, v)
            } else if let Some(v) = line.strip_prefix("nodePort: ") {
                (&mut port, v)
            } else {
                continue;
            };
        // The selector repeats the server label; anything else said twice is not nbgen's.
        if slot.replace(value).is_some_and(|old| old != value) {
            return None;
        }
    }
    let plain = |v: &str| {
        v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && v.bytes().any(|b| b.is_ascii_lowercase())
    };
    let (team, server) = (team.filter(|v| plain(v))?, server.filter(|v| plain(v))?);
    let port = port?.parse().ok()?;
    Some(((team.to_owned(), server.to_owned()), port))
}

/// A server and its NodePort from any Service manifest.
fn parse_service(text: &str) -> Option<(ServerKey, u16)> {
    let svc = serde_saphyr::from_str::<Service>(text).ok()?;
    let labels = svc.metadata.labels.unwrap_or_default();
    let port = svc
        .spec?
        .ports?
        .into_iter()
        .next()?
        .node_port
        .and_then(|p| u16::try_from(p).ok())?;
    Some((
        (labels.get(TEAM)?.clone(), labels.get(SERVER)?.clone()),
        port,
    ))
}

/// A path nbgen may use under `out/<env>/`: relative, plain components only.
pub fn safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && rel.split('/').all(|c| {
            !c.is_empty() && c != "." && c != ".." && !c.contains('\\') && !c.contains('\0')
        })
}

/// The text of a regular file (not through a link), if it is one of reasonable size: files
/// nbgen writes are small, and a huge one is not worth reading.
fn read_regular(path: &Path) -> Option<String> {
    let m = fs::symlink_metadata(path).ok()?;
    if !m.is_file() || m.len() > crate::input::yaml::MAX_SPEC_BYTES as u64 {
        return None;
    }
    fs::read_to_string(path).ok()
}

/// What a directory listing says is at a path; links are never followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    File,
    Dir,
    Link,
    /// A FIFO, a socket, a device.
    Other,
}

/// Every entry under `dir`, by path relative to the directory `list` started from (`rel` is
/// `dir`'s). With `clean`, nbgen's temporaries that a killed run left behind are removed
/// instead of listed. The directories right under `out/<env>/` (a namespace each) are listed on
/// every core.
fn list(
    dir: &Path,
    rel: &str,
    out: &mut BTreeMap<String, Entry>,
    clean: bool,
) -> Result<(), OutputError> {
    let mut subdirs = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = e.file_type().map_err(io_err(&e.path()))?;
        let entry = if ft.is_symlink() {
            Entry::Link
        } else if ft.is_dir() {
            subdirs.push((e.path(), child.clone()));
            Entry::Dir
        } else if ft.is_file() {
            if clean && name.starts_with(TMP_PREFIX) {
                let _ = fs::remove_file(e.path());
                continue;
            }
            Entry::File
        } else {
            Entry::Other
        };
        out.insert(child, entry);
    }
    let list_one = |(path, child): &(PathBuf, String)| {
        let mut found = BTreeMap::new();
        list(path, child, &mut found, clean).map(|()| found)
    };
    let listed = if rel.is_empty() {
        parallel::map(&subdirs, list_one)
    } else {
        subdirs.iter().map(list_one).collect()
    };
    for found in listed {
        out.extend(found?);
    }
    Ok(())
}

/// Whether the file at `path` holds exactly `expected`: one read of one byte more than
/// expected. A regular file's read returns less than asked only at its end, so getting exactly
/// `expected.len()` bytes means the file has that length; anything that reads short for
/// another reason counts as different, and is rewritten, never wrongly kept.
fn same_content(path: &Path, expected: &[u8]) -> io::Result<bool> {
    thread_local! {
        // One buffer per thread for the whole run: fresh memory for each of 21,000 files cost
        // more than reading them.
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut f = fs::File::open(path)?;
    BUF.with_borrow_mut(|buf| {
        buf.resize(expected.len() + 1, 0);
        let n = loop {
            match f.read(&mut buf[..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        Ok(buf[..n] == *expected)
    })
}

/// The text of a file, "" when it is not UTF-8. No `stat`: one open, reads, one close.
fn read_text(path: &Path) -> io::Result<String> {
    let mut buf = Vec::with_capacity(8192);
    fs::File::open(path)?.take(u64::MAX).read_to_end(&mut buf)?;
    buf.shrink_to_fit(); // 21,000 files would otherwise hold 8 KB each
    Ok(String::from_utf8(buf).unwrap_or_default())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        "{TMP_PREFIX}{}-{name}{TMP_SUFFIX}",
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        // No fsync: write + rename already leaves every file old or new when the process is
        // killed, which is the guarantee nbgen gives; an fsync per file cost 3 ms each here, a
        // minute per 20,000 files. After a power cut, `git checkout out/` and render again.
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err(path)(e)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_scan_reads_every_example_service_as_the_parser_does() {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("out");
        let mut seen = 0;
        for env in fs::read_dir(&out).unwrap().flatten() {
            let out = OutDir::new(out.parent().unwrap(), &env.file_name().to_string_lossy());
            for (rel, text) in out.manifests().unwrap() {
                if rel.rsplit('/').next().unwrap().starts_with("service-") {
                    let text = text.unwrap();
                    // A ClusterIP Service (OpenShift's, behind a Route) has no port to keep.
                    let node_port = text.contains("type: NodePort");
                    assert_eq!(scan_service(&text).is_some(), node_port, "{rel}");
                    assert_eq!(scan_service(&text), parse_service(&text), "{rel}");
                    seen += 1;
                }
            }
        }
        assert!(seen > 5, "only {seen} Service files among the examples");
    }

    #[test]
    fn the_line_scan_leaves_what_it_cannot_be_sure_of_to_the_parser() {
        let svc = "metadata:\n  labels:\n    nbgen.io/server: a\n    nbgen.io/team: t\nspec:\n  ports:\n  - name: http\n    nodePort: 30001\n";
        assert_eq!(
            scan_service(svc),
            Some((("t".to_owned(), "a".to_owned()), 30001))
        );
        for bad in [
            svc.replace("server: a", "server: '1'"),
            svc.replace("team: t", "team: \"t\""),
            svc.replace("30001", "30001\n  - name: b\n    nodePort: 30002"),
            svc.replace("    nbgen.io/team: t\n", ""),
            svc.replace("30001", "http"),
        ] {
            assert_eq!(scan_service(&bad), None, "{bad}");
        }
    }
}
