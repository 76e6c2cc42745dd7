//! Source text and positions in it. Knows nothing about YAML or Kubernetes.

use std::fmt;

/// A region of one source file: 1-based line and column (in characters), and a length in
/// characters (at least 1, so a caret is always drawn).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub line: usize,
    pub col: usize,
    pub len: usize,
}

impl Span {
    pub const fn new(line: usize, col: usize, len: usize) -> Self {
        Span { line, col, len }
    }

    /// The start of a file, used when nothing more precise is known.
    pub const START: Span = Span::new(1, 1, 1);
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A region of a named file: where a diagnostic points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc<'a> {
    pub file: &'a str,
    pub span: Span,
}

/// A file the user wrote, as read: its display name (relative to the repository root when
/// possible) and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The text of a 1-based line, without its line ending; empty past the end.
    pub fn line(&self, line: usize) -> &str {
        self.text
            .split('\n')
            .nth(line.saturating_sub(1))
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or("")
    }
}
