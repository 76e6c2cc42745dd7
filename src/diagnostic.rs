//! Errors and warnings a person can act on: what is wrong, where (file:line:column, the line,
//! a caret), and what to do. Rendering is pure; colour is the caller's decision, and colour and
//! escaping are `terminal`'s, as for reports.
//!
//! The `-->`, gutter and caret are written here (`render` and its helpers, ~100 lines) rather than
//! by annotate-snippets 0.12, which is already compiled in through serde-saphyr, because its layout
//! is not this one and the differences would not help a reader of one caret per finding: it widens
//! a tab to four columns (here every character is one column, so the caret stays under the
//! character whatever the terminal's tab stops); it cuts a long line to a set width, 140
//! columns by default, where this shows 160 characters around the caret; it
//! shows control characters in the source line as control pictures (`␛`) but passes the title and
//! help through as given, so `terminal::escape` would still be needed; its default colours are the
//! bright ones. Adopting it would rewrite every exact diagnostic the tests hold
//! (tests/validation.rs, gitops.rs, jobs.rs, bad-inputs, cmd).

use crate::source::{Loc, SourceFile, Span};
use crate::terminal::{self, EMPHASIS, LOCATION, Paint};
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the user's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// The file the finding is about (display name), if any.
    pub file: Option<String>,
    pub span: Option<Span>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            file: None,
            span: None,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, file: &str, span: Span) -> Self {
        self.file = Some(file.to_owned());
        self.span = Some(span);
        self
    }

    pub fn at_loc(self, loc: Loc<'_>) -> Self {
        self.at(loc.file, loc.span)
    }

    pub fn in_file(mut self, file: &str) -> Self {
        self.file = Some(file.to_owned());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render for a terminal or a log, looking up the offending line in `sources`.
    pub fn render(&self, sources: &[SourceFile], color: bool) -> String {
        let paint = Paint(color);
        let mut out = String::new();
        let (label, style) = match self.severity {
            Severity::Error => ("error", terminal::ERROR),
            Severity::Warning => ("warning", terminal::WARNING),
        };
        let _ = writeln!(
            out,
            "{}: {}",
            paint.style(style, label),
            paint.style(EMPHASIS, &clip(&self.message, MAX_MESSAGE))
        );
        let gutter_width = self.span.map_or(1, |s| s.line.to_string().len());
        let pad = " ".repeat(gutter_width);
        match (&self.file, self.span) {
            (Some(file), Some(span)) => {
                let _ = writeln!(out, "{pad}{} {file}:{span}", paint.style(LOCATION, "-->"));
                if let Some(src) = sources.iter().find(|s| &s.name == file) {
                    let (text, col) = window(src.line(span.line), span.col);
                    let span = Span { col, ..span };
                    let bar = paint.style(LOCATION, "|");
                    let _ = writeln!(out, "{pad} {bar}");
                    let _ = writeln!(
                        out,
                        "{} {bar} {}",
                        paint.style(LOCATION, &span.line.to_string()),
                        visible(&text)
                    );
                    let indent = " ".repeat(span.col.saturating_sub(1));
                    let room = text.chars().count().saturating_sub(span.col - 1).max(1);
                    let carets = "^".repeat(span.len.clamp(1, room));
                    let _ = writeln!(out, "{pad} {bar} {indent}{}", paint.style(style, &carets));
                }
            }
            (Some(file), None) => {
                let _ = writeln!(out, "{pad}{} {file}", paint.style(LOCATION, "-->"));
            }
            _ => {}
        }
        if let Some(help) = &self.help {
            let help = clip(help, MAX_MESSAGE);
            let _ = writeln!(out, "{pad} {} {help}", paint.style(EMPHASIS, "= help:"));
        }
        out
    }
}

/// Longest message or help shown: they may quote a value from the spec, which may be huge.
const MAX_MESSAGE: usize = 400;
/// Longest part of a source line shown.
const MAX_LINE: usize = 160;

/// At most `max` characters of a message, each line's control characters escaped
/// (`terminal::escape`): text from the spec (a key written as "\e]0;..." in YAML) must not reach
/// a terminal as a control sequence.
fn clip(text: &str, max: usize) -> String {
    let escaped = text
        .split('\n')
        .map(terminal::escape)
        .collect::<Vec<_>>()
        .join("\n");
    match escaped.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &escaped[..i]),
        None => escaped,
    }
}

/// A source line as shown: a tab becomes a space and any other control character U+FFFD, one
/// character each, so the caret below stays aligned and the terminal sees no control sequence.
/// (Not `terminal::escape`: an escape is several characters wide and would move the caret.)
fn visible(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// The part of a long line around 1-based column `col`, and the column in that part.
fn window(line: &str, col: usize) -> (String, usize) {
    let len = line.chars().count();
    if len <= MAX_LINE {
        return (line.to_owned(), col);
    }
    let start = col.saturating_sub(1 + MAX_LINE / 2).min(len - MAX_LINE);
    let mut shown: String = line.chars().skip(start).take(MAX_LINE).collect();
    let mut col = col - start;
    if start > 0 {
        shown.insert(0, '…');
        col += 1;
    }
    if start + MAX_LINE < len {
        shown.push('…');
    }
    (shown, col)
}

/// Sort diagnostics the way a reader scans a file: errors and warnings by position.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.span, a.severity, &a.message).cmp(&(&b.file, b.span, b.severity, &b.message))
    });
}

/// The closest candidate to `wrong`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(wrong, c), c))
        .filter(|&(d, c)| d <= (c.chars().count().max(wrong.chars().count()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_caret_and_help() {
        let src = SourceFile::new("env.yaml", "teams:\n  a:\n    roles: [trian]\n");
        let d = Diagnostic::error("unknown role `trian`")
            .at("env.yaml", Span::new(3, 13, 5))
            .help("did you mean `train`?");
        assert_eq!(
            d.render(&[src], false),
            "error: unknown role `trian`\n --> env.yaml:3:13\n  |\n3 |     roles: [trian]\n  |             ^^^^^\n  = help: did you mean `train`?\n"
        );
    }

    #[test]
    fn long_lines_are_shown_around_the_caret() {
        let line = format!("{}XYZ{}", "a".repeat(5_000), "b".repeat(5_000));
        let src = SourceFile::new("env.yaml", line);
        let d = Diagnostic::error("x".repeat(1000)).at("env.yaml", Span::new(1, 5_001, 3));
        let out = d.render(&[src], false);
        assert!(out.len() < 1_000, "{out}");
        let lines: Vec<Vec<char>> = out.lines().map(|l| l.chars().collect()).collect();
        let caret = lines[4].iter().position(|&c| c == '^').unwrap();
        assert_eq!(lines[3][caret..caret + 3], ['X', 'Y', 'Z']);
        assert_eq!(lines[3].last(), Some(&'…'));
        assert_eq!(lines[3][4], '…');
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let src = SourceFile::new("env.yaml", "name: pr\u{7}od\u{1b}[2J\r\n");
        let d = Diagnostic::error("unknown key `\u{1b}]0;pwned\u{7}`")
            .at("env.yaml", Span::new(1, 9, 1))
            .help("\u{1b}[31m");
        let out = d.render(&[src], false);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(out.contains("unknown key `\\u{1b}]0;pwned\\u{7}`"), "{out}");
        assert!(out.contains("1 | name: pr\u{fffd}od\u{fffd}[2J"), "{out}");
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(did_you_mean("trian", ["train", "prep"]), Some("train"));
        assert_eq!(did_you_mean("storage", ["train", "prep"]), None);
        assert_eq!(
            did_you_mean("nodeport", ["nodePorts", "roles"]),
            Some("nodePorts")
        );
    }
}
