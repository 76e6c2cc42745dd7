//! Helpers shared by the tests that run the real binary: a command for it, pipe draining, a
//! snapshot of a directory tree that never follows symbolic links, and a large spec.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::thread::JoinHandle;

/// `nbgen --root <root> --color never`, with a quiet environment.
pub fn nbgen(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nbgen"));
    cmd.arg("--root")
        .arg(root)
        .arg("--color")
        .arg("never")
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    cmd
}

/// Read a pipe to its end on another thread.
pub fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// One entry of a tree, as seen without following links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Dir,
    File(Vec<u8>),
    /// A file too big to keep in memory: its size and SHA-256.
    Large(u64, Vec<u8>),
    /// A file this process may not read: its size and permission bits.
    Unreadable(u64, u32),
    Symlink(String),
    Other(String),
}

/// Every path under a root (relative, `/`-separated) and what is there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<String, Entry>);

impl Snapshot {
    pub fn take(root: &Path) -> Self {
        let mut out = BTreeMap::new();
        walk(root, "", &mut out);
        Snapshot(out)
    }

    pub fn get(&self, rel: &str) -> Option<&Entry> {
        self.0.get(rel)
    }

    /// Paths that differ from `self` to `after`, with what happened to each.
    pub fn changes(&self, after: &Snapshot) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        for (p, e) in &self.0 {
            match after.0.get(p) {
                None => out.push((p.clone(), "removed")),
                Some(a) if a != e => out.push((p.clone(), "changed")),
                _ => {}
            }
        }
        for p in after.0.keys() {
            if !self.0.contains_key(p) {
                out.push((p.clone(), "added"));
            }
        }
        out
    }

    /// Regular files only, as text: for comparing rendered trees.
    pub fn texts(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .filter_map(|(p, e)| match e {
                Entry::File(b) => Some((p.clone(), String::from_utf8_lossy(b).into_owned())),
                _ => None,
            })
            .collect()
    }
}

/// Files above this size are kept as a digest.
const LARGE: u64 = 1 << 20;

fn digest(path: &Path) -> std::io::Result<Vec<u8>> {
    use sha2::Digest as _;
    let mut f = fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize().to_vec());
        }
        hasher.update(&buf[..n]);
    }
}

fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Entry>) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let Ok(m) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        let ft = m.file_type();
        let entry = if ft.is_symlink() {
            Entry::Symlink(
                fs::read_link(e.path())
                    .map(|t| t.display().to_string())
                    .unwrap_or_default(),
            )
        } else if ft.is_dir() {
            walk(&e.path(), &rel, out);
            Entry::Dir
        } else if ft.is_file() && m.len() > LARGE {
            match digest(&e.path()) {
                Ok(d) => Entry::Large(m.len(), d),
                Err(_) => Entry::Unreadable(m.len(), m.permissions().mode()),
            }
        } else if ft.is_file() {
            match fs::read(e.path()) {
                Ok(b) => Entry::File(b),
                Err(_) => Entry::Unreadable(m.len(), m.permissions().mode()),
            }
        } else {
            Entry::Other(format!("{ft:?}"))
        };
        out.insert(rel, entry);
    }
}

/// A valid spec with `teams` teams; `variant` changes most of what they render (images,
/// resources, members, quotas, volume sizes) and which teams exist (variant 1 drops teams 0-4 and
/// adds five), so rendering one variant over the other changes, adds and removes files. Every
/// server's NodePort is pinned (differently in each variant), so a render never depends on what
/// the previous output held. At most 680 teams.
pub fn large_spec(teams: usize, variant: u32) -> String {
    let v = variant as usize;
    let mut s = String::new();
    let _ = write!(
        s,
        "apiVersion: nbgen.io/v1alpha1
kind: Environment
name: big
cluster:
  kubernetesVersion: \"1.33\"
  nodePortRange: 30000-32767
  namespacePrefix: nb-
  network:
    nodePort: {{clientCIDRs: [10.10.0.0/16]}}
images:
  notebook: {{image: registry.example.com/ml/notebook:1.{v}.0, start: docker-stacks}}
  train: {{image: registry.example.com/ml/train:2.{v}.0, start: docker-stacks}}
gpuPools:
  a100:
    resource: nvidia.com/gpu
    capacity: {}
storage:
  datasets:
    size: {}Gi
    nfs: {{server: nfs.example.com, path: /exports/datasets}}
roles:
  prep:
    image: notebook
    cpu: \"{}\"
    memory: 8Gi
    homeSize: {}Gi
    mounts: {{datasets: readWrite}}
  train:
    image: train
    cpu: \"4\"
    memory: 16Gi
    gpu: {{pool: a100, count: 1}}
    mounts: {{datasets: readOnly}}
teams:
",
        teams * 2,
        100 + v,
        2 + v,
        10 + v
    );
    let first = v * 5;
    for i in first..first + teams {
        let (roles, ports) = if i % 4 == 0 {
            (
                "prep, train",
                format!("prep: {}, train: {}", port(i, v), port(i, v) + 1),
            )
        } else {
            ("prep", format!("prep: {}", port(i, v)))
        };
        let _ = write!(
            s,
            "  team-{i}:
    members: [user{i}-{v}@example.com]
    roles: [{roles}]
    quota: {{cpu: \"{}\", memory: 64Gi, gpu: 4}}
    nodePorts: {{{ports}}}
",
            16 + v,
        );
    }
    s
}

fn port(team: usize, variant: usize) -> usize {
    30000 + 4 * team + 2 * variant
}
