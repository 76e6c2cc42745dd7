//! The ownership manifest `out/<env>/.nbgen-manifest` (what nbgen wrote there, with each file's
//! SHA-256, in `sha256sum` format), written and read by this one module; and how a file found
//! under `out/<env>/` compares with the tree. Pure: `output` does the reading and writing,
//! `review::check` the judging.

use super::Tree;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The ownership manifest: `sha256sum` format, one line per file nbgen wrote.
pub const MANIFEST: &str = ".nbgen-manifest";

/// The ownership manifest nbgen writes for `tree`.
pub fn text(tree: &Tree) -> String {
    let mut text = String::with_capacity(tree.keys().map(|rel| rel.len() + 67).sum());
    for (rel, f) in tree {
        text.push_str(&f.digest);
        text.push_str("  ");
        text.push_str(rel);
        text.push('\n');
    }
    text
}

/// A file's SHA-256 as the ownership manifest records it (lower-case hex).
pub fn digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The manifest's entries, path → digest, as written (`output` keeps only safe paths).
pub fn entries(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(h, p)| (p, h))
        .collect()
}

/// Files Argo CD's directory source applies.
pub fn is_manifest_name(name: &str) -> bool {
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// A manifest-like file in `out/<env>/`, as `OutDir::manifests_against` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listed {
    /// A symbolic link or another file that is not regular: never followed or read.
    Link,
    /// Exactly the text rendered for its path; compared as it was read, not kept.
    AsRendered,
    /// Any other text ("" when it is not UTF-8).
    Text(String),
}

impl Listed {
    /// The file's text when it was kept.
    pub fn text(&self) -> Option<&str> {
        match self {
            Listed::Text(t) => Some(t),
            Listed::Link | Listed::AsRendered => None,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}
