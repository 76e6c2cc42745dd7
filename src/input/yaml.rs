//! Spec text → a JSON value plus the source position of every node in it. Pure: no I/O.
//!
//! serde-saphyr does the parsing proper: it rejects duplicate keys, bounds alias expansion and
//! nesting, and reports syntax errors with a position. A second, cheap pass over the parser's
//! event stream records where each node was written, keyed by JSON pointer, so that errors found
//! later (schema, cross-references, capacity) can point at a line.

use crate::diagnostic::Diagnostic;
use crate::source::{Loc, SourceFile, Span};
use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser};
use std::collections::{HashMap, HashSet};

/// Where a node was written: its key (for map entries) and its value, in which file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodePos {
    pub key: Option<Span>,
    pub value: Option<Span>,
    /// Index into `Positions::files`.
    pub file: usize,
}

/// Source positions of the nodes of a document, keyed by JSON pointer (`/teams/a/roles/0`).
/// The document may be merged from several files (`layer`): each node knows its own file.
#[derive(Clone, Debug, Default)]
pub struct Positions {
    /// Display names of the files the nodes come from; the first is the one a pointer with no
    /// position at all falls back to.
    files: Vec<String>,
    nodes: HashMap<String, NodePos>,
}

impl Positions {
    /// The value at `pointer`, or the closest enclosing node that has a position.
    pub fn value(&self, pointer: &str) -> Span {
        self.value_at(pointer).span
    }

    /// The key of the entry at `pointer` (falls back to its value, then to enclosing nodes).
    pub fn key(&self, pointer: &str) -> Span {
        self.key_at(pointer).span
    }

    /// Like `value`, with the file the value was written in.
    pub fn value_at(&self, pointer: &str) -> Loc<'_> {
        self.find(pointer, |p| p.value)
    }

    /// Like `key`, with the file the key was written in.
    pub fn key_at(&self, pointer: &str) -> Loc<'_> {
        self.find(pointer, |p| p.key.or(p.value))
    }

    /// The file a pointer with no position of its own falls back to.
    pub fn primary_file(&self) -> &str {
        self.files.first().map_or("", String::as_str)
    }

    fn find(&self, pointer: &str, pick: impl Fn(&NodePos) -> Option<Span>) -> Loc<'_> {
        let mut p = pointer;
        loop {
            if let Some((node, span)) = self.nodes.get(p).and_then(|n| Some((n, pick(n)?))) {
                return Loc {
                    file: self.files.get(node.file).map_or("", String::as_str),
                    span,
                };
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => {
                    return Loc {
                        file: self.primary_file(),
                        span: Span::START,
                    };
                }
            }
        }
    }

    /// Lay `upper` over `self` as `layer::merge` lays one file's value over another's: every
    /// node `upper` writes takes its position from `upper`; below each pointer in `replaced`
    /// (a value `upper` replaced or removed outright) nothing of `self` survives. `upper`'s file
    /// becomes the fallback.
    pub fn overlay(&mut self, upper: Positions, replaced: &HashSet<String>) {
        self.forget(replaced);
        let shift = upper.files.len();
        for node in self.nodes.values_mut() {
            node.file += shift;
        }
        let mut files = upper.files;
        files.append(&mut self.files);
        self.files = files;
        self.nodes.extend(upper.nodes);
    }
}

impl Positions {
    /// Drop the positions of every node at or below one of `roots`: values no longer there.
    pub fn forget(&mut self, roots: &HashSet<String>) {
        if !roots.is_empty() {
            self.nodes.retain(|p, _| !under_any(p, roots));
        }
    }
}

/// Is `pointer` one of `roots` or below one of them?
fn under_any(pointer: &str, roots: &HashSet<String>) -> bool {
    let mut p = pointer;
    loop {
        if roots.contains(p) {
            return true;
        }
        match p.rfind('/') {
            Some(i) => p = &p[..i],
            None => return false,
        }
    }
}

/// Escape one JSON pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Largest spec nbgen reads. Real environments are tens of kilobytes; the generated
/// 5,000-team benchmark spec is a few megabytes.
pub const MAX_SPEC_BYTES: usize = 16 * 1024 * 1024;

/// Parse one YAML document. On failure, the diagnostic points at the offending position.
pub fn parse(src: &SourceFile) -> Result<(Value, Positions), Diagnostic> {
    if src.text.trim().is_empty()
        || src
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(Diagnostic::error("the environment file is empty")
            .at(&src.name, Span::START)
            .help("start from environments/prod.yaml in the nbgen repository, or see the spec reference in the README"));
    }
    check_expansion(src)?;
    // YAML 1.2 booleans only (as editors' YAML language servers read the spec): with YAML 1.1's
    // `y`/`n`/`on`/`off`/`yes`/`no`, a role named `n` or a group `no` would silently become
    // `false` and fail as "must be a string".
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    // Two independent passes over the text, one per core.
    let (positions, value) = crate::parallel::join(
        || positions(src),
        || serde_saphyr::from_str_with_options::<Value>(&src.text, options),
    );
    Ok((value.map_err(|e| syntax_error(src, &e))?, positions))
}

/// Most nodes a spec may hold once its aliases are expanded (serde-saphyr's own node budget).
pub const MAX_NODES: u64 = 250_000;

/// Refuse a spec whose aliases would expand past [`MAX_NODES`], before anything is expanded:
/// one pass over the parser's events that counts an alias as the size of the node it names. A
/// "billion laughs" spec is refused in microseconds, at the alias that tips it over, instead of
/// after serde-saphyr has copied a quarter of a million nodes. Syntax errors are left for
/// serde-saphyr to report.
fn check_expansion(src: &SourceFile) -> Result<(), Diagnostic> {
    let mut anchored: HashMap<usize, u64> = HashMap::new();
    // Open collections: their anchor (0 for none) and their size so far.
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut total: u64 = 0;
    for item in Parser::new_from_str(&src.text) {
        let Ok((event, span)) = item else {
            return Ok(());
        };
        let size = match event {
            Event::Scalar(_, _, anchor, _) => {
                if anchor != 0 {
                    anchored.insert(anchor, 1);
                }
                1
            }
            Event::Alias(id) => anchored.get(&id).copied().unwrap_or(0),
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _) => {
                open.push((anchor, 1));
                total += 1;
                0
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, size)) = open.pop() {
                    if anchor != 0 {
                        anchored.insert(anchor, size);
                    }
                    if let Some(parent) = open.last_mut() {
                        parent.1 = parent.1.saturating_add(size);
                    }
                }
                continue;
            }
            _ => continue,
        };
        if let Some(parent) = open.last_mut() {
            parent.1 = parent.1.saturating_add(size);
        }
        total = total.saturating_add(size);
        if total > MAX_NODES {
            let at = Span::new(span.start.line(), span.start.col() + 1, 1);
            return Err(Diagnostic::error(format!(
                "the spec expands to more than {MAX_NODES} values (aliases such as `*name` repeat what they refer to)"
            ))
            .at(&src.name, at)
            .help("an environment spec is far smaller than this; write repeated parts out plainly instead of nesting aliases"));
        }
    }
    Ok(())
}

fn syntax_error(src: &SourceFile, e: &serde_saphyr::Error) -> Diagnostic {
    let plain = e.without_snippet().to_string();
    // serde-saphyr prefixes "error: line L column C: "; the position is rendered separately.
    let message = plain
        .strip_prefix("error: ")
        .unwrap_or(&plain)
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("line "))
        .map_or(plain.as_str(), |(_, rest)| rest)
        .lines()
        .next()
        .unwrap_or_default()
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
        .trim()
        .to_owned();
    // ... and sometimes suffixes " at line L, column C".
    let message = match message.rfind(" at line ") {
        Some(i) if message[i..].contains(", column ") => message[..i].to_owned(),
        _ => message,
    };
    // Advice meant for programmers using the library ("; use Option<String>", "If you just
    // use !!binary ..., set ... in Options") is not for users.
    let message = ["; use ", ". If you "]
        .iter()
        .fold(message, |m, cut| match m.split_once(cut) {
            Some((head, _)) => head.to_owned(),
            None => m,
        });
    // The scanner quotes the character as `@' : quote it as everywhere else.
    let message = match message.strip_prefix("unexpected character: `") {
        Some(c) if c.ends_with('\'') => format!("unexpected character `{}`", &c[..c.len() - 1]),
        _ => message,
    };
    let message = if message.starts_with("multiple YAML documents") {
        "the file holds more than one YAML document (a second `---`)".to_owned()
    } else if message.starts_with("budget breached: Depth") {
        "the spec is nested too deeply (more than 64 levels)".to_owned()
    } else if message.starts_with("budget breached") {
        format!("the spec is too large to read safely ({message})")
    } else {
        message
    };
    let span = e
        .location()
        .filter(|l| l.line() > 0)
        .map_or(Span::START, |l| {
            Span::new(l.line() as usize, l.column().max(1) as usize, 1)
        });
    // The scanner reports some tabs at the token before them: point at the tab itself.
    let span = if message.contains("tab") {
        first_tab(&src.text, span).unwrap_or(span)
    } else {
        span
    };
    // An over-indented first key makes the parser blame the first sibling written correctly.
    let span = if message.contains("did not find expected key") {
        over_indented_above(&src.text, span).unwrap_or(span)
    } else {
        span
    };
    let line = src.line(span.line);
    let rest = line.chars().skip(span.col - 1).collect::<String>();
    let help = if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.trim();
        match first_definition(&src.text, span, key) {
            Some(first) => format!(
                "`{key}` is already defined on line {first}; each name may appear once in a map: merge the two entries or rename one"
            ),
            None => {
                "each name may appear once in a map; merge the two entries or rename one".to_owned()
            }
        }
    } else if message.contains("tab") {
        "YAML indents with spaces only; replace the tab with spaces".to_owned()
    } else if message.contains("more than one YAML document") {
        "an environment is one YAML document: remove the extra `---` and what follows, or move it to its own file".to_owned()
    } else if ["budget", "alias", "depth", "recursion"]
        .iter()
        .any(|w| message.contains(w))
    {
        "the spec is too deeply nested or expands too many aliases; write it out plainly".to_owned()
    } else if message.starts_with("unexpected character") && rest.starts_with(['@', '`']) {
        // `@` and `` ` `` are reserved: a plain value may not start with them.
        let value = rest.split(" #").next().unwrap_or_default().trim_end();
        format!(
            "a value starting with `{}` must be quoted: write \"{value}\"",
            &rest[..1]
        )
    } else if message.contains("did not find expected key") {
        "this line is not indented like the keys around it: keys of one map start in the same column, with spaces".to_owned()
    } else if message.contains("mapping values are not allowed") {
        "a line indented deeper than the key above it, or a value containing `: ` (quote the value, or indent the line like its neighbours)".to_owned()
    } else {
        "fix the YAML syntax at this position (check indentation, quotes and brackets)".to_owned()
    };
    Diagnostic::error(format!("invalid YAML: {message}"))
        .at(&src.name, span)
        .help(help)
}

/// Where "did not find expected key" at `at` really is when the keys just above `at` are
/// indented deeper than it and than their parent, and more of their siblings below are
/// indented like `at` (`     image: x` over `    cpu: "1"`, `    memory: 4Gi`): the parser
/// took the first key's column for the map's and blames the next line. `None`: `at` stands.
fn over_indented_above(text: &str, at: Span) -> Option<Span> {
    let lines: Vec<&str> = text.split('\n').collect();
    let indent = |l: &str| {
        let t = l.trim_start_matches(' ');
        (!t.is_empty() && !t.starts_with('#')).then(|| l.len() - t.len())
    };
    let here = indent(lines.get(at.line - 1)?)?;
    // The lines above, up to the parent (indented less than `at`).
    let mut above = Vec::new();
    for i in (0..at.line - 1).rev() {
        match indent(lines[i]) {
            None => continue,
            Some(n) if n > here => above.push((i, n)),
            Some(n) if n < here => break,
            Some(_) => return None, // a sibling at `at`'s column: `at` is not the odd one
        }
    }
    let deeper = above.iter().map(|&(_, n)| n).min()?;
    let firsts: Vec<usize> = above
        .iter()
        .filter(|&&(_, n)| n == deeper)
        .map(|&(i, _)| i)
        .collect();
    // `at` and its siblings below, at `at`'s column, before the map ends.
    let below = lines[at.line - 1..]
        .iter()
        .filter_map(|l| indent(l))
        .take_while(|&n| n >= here)
        .filter(|&n| n == here)
        .count();
    if firsts.len() >= below {
        return None;
    }
    let first = *firsts.last()?;
    Some(Span::new(first + 1, deeper + 1, 1))
}

/// The line where `key`, found again at `dup`, was first written in the same block map: the
/// nearest line above at the same indentation, before any line indented less.
fn first_definition(text: &str, dup: Span, key: &str) -> Option<usize> {
    let indent = dup.col - 1;
    let lines: Vec<&str> = text.split('\n').take(dup.line - 1).collect();
    for (i, line) in lines.iter().enumerate().rev() {
        let trimmed = line.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let here = line.len() - trimmed.len();
        if here < indent {
            return None;
        }
        if here == indent {
            let name = trimmed.split(':').next().unwrap_or_default().trim();
            if name.trim_matches(['"', '\'']) == key {
                return Some(i + 1);
            }
        }
    }
    None
}

/// The first tab on `from`'s line or the next two.
fn first_tab(text: &str, from: Span) -> Option<Span> {
    text.split('\n')
        .enumerate()
        .skip(from.line - 1)
        .take(3)
        .find_map(|(i, line)| {
            let col = line.chars().position(|c| c == '\t')? + 1;
            Some(Span::new(i + 1, col, 1))
        })
}

enum Frame {
    Map {
        pointer: String,
        key: Option<(String, Span)>,
    },
    Seq {
        pointer: String,
        index: usize,
    },
    /// Inside a complex (non-scalar) key; its contents have no pointer.
    Skip,
}

/// Record the position of every node. Runs only on text serde-saphyr accepted, so nesting and
/// size are already bounded.
fn positions(src: &SourceFile) -> Positions {
    let text = src.text.as_str();
    let mut nodes = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut seen_root = false;
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { break };
        let start = Span::new(span.start.line(), span.start.col() + 1, 1);
        let len = if span.end.line() == span.start.line() {
            span.end.col().saturating_sub(span.start.col()).max(1)
        } else {
            1
        };
        let here = Span { len, ..start };
        let (is_node, opens) = match &event {
            Event::Scalar(..) | Event::Alias(..) => (true, None),
            Event::MappingStart(..) => (true, Some(true)),
            Event::SequenceStart(..) => (true, Some(false)),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                finish_value(&mut stack);
                continue;
            }
            _ => continue,
        };
        if !is_node {
            continue;
        }
        // Is this node a map key? Then remember it and wait for its value.
        let pointer = match stack.last_mut() {
            Some(Frame::Skip) => {
                if opens.is_some() {
                    stack.push(Frame::Skip);
                }
                continue;
            }
            Some(Frame::Map {
                key: slot @ None, ..
            }) => {
                match &event {
                    Event::Scalar(v, ..) => *slot = Some((v.to_string(), here)),
                    _ => {
                        *slot = Some((String::new(), here));
                        if opens.is_some() {
                            stack.push(Frame::Skip);
                        }
                    }
                }
                continue;
            }
            Some(Frame::Map {
                pointer,
                key: Some((k, key_span)),
            }) => {
                let p = format!("{pointer}/{}", escape(k));
                nodes.insert(
                    p.clone(),
                    NodePos {
                        key: Some(*key_span),
                        value: Some(here),
                        file: 0,
                    },
                );
                p
            }
            Some(Frame::Seq { pointer, index }) => {
                let p = format!("{pointer}/{index}");
                nodes.insert(
                    p.clone(),
                    NodePos {
                        key: None,
                        value: Some(here),
                        file: 0,
                    },
                );
                p
            }
            None => {
                if seen_root {
                    break; // only the first document matters
                }
                seen_root = true;
                nodes.insert(
                    String::new(),
                    NodePos {
                        key: None,
                        value: Some(here),
                        file: 0,
                    },
                );
                String::new()
            }
        };
        match opens {
            Some(true) => stack.push(Frame::Map { pointer, key: None }),
            Some(false) => stack.push(Frame::Seq { pointer, index: 0 }),
            None => finish_value(&mut stack),
        }
    }
    Positions {
        files: vec![src.name.clone()],
        nodes,
    }
}

/// A value just ended: the enclosing map waits for its next key, a sequence moves on.
fn finish_value(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key, .. }) => *key = None,
        Some(Frame::Seq { index, .. }) => *index += 1,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<(Value, Positions), Diagnostic> {
        parse(&SourceFile::new("t.yaml", text))
    }

    #[test]
    fn records_keys_and_values() {
        let (_, pos) = parse_str("a: 1\nteams:\n  ds:\n    roles: [prep, train]\n").unwrap();
        assert_eq!(pos.value("/a"), Span::new(1, 4, 1));
        assert_eq!(pos.key("/teams/ds"), Span::new(3, 3, 2));
        assert_eq!(pos.value("/teams/ds/roles/1"), Span::new(4, 19, 5));
        // unknown pointers fall back to the closest enclosing node
        assert_eq!(pos.value("/teams/ds/roles/9"), Span::new(4, 12, 1));
    }

    #[test]
    fn nested_maps_in_sequences() {
        let text = "t:\n  - key: a\n    effect: X\n  - key: b\n";
        let (_, pos) = parse_str(text).unwrap();
        assert_eq!(pos.value("/t/1/key"), Span::new(4, 10, 1));
        assert_eq!(pos.key("/t/0/effect"), Span::new(3, 5, 6));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_position() {
        let e = parse_str("teams:\n  a: {}\n  a: {}\n").unwrap_err();
        assert_eq!(e.message, "invalid YAML: duplicate mapping key: a");
        assert_eq!(e.span, Some(Span::new(3, 3, 1)));
    }

    #[test]
    fn empty_file_is_an_error() {
        let e = parse_str("# only a comment\n").unwrap_err();
        assert_eq!(e.message, "the environment file is empty");
    }
}
