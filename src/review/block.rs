//! A fast reader for the YAML nbgen itself writes (`emit/yaml_writer.rs`): one document of
//! block mappings and sequences (a sequence at its key's indentation), plain scalars, quoted
//! strings without escapes, `[]` and `{}`, full-line comments. Anything else — flow
//! collections, block scalars, anchors, tags, escapes, floats, a second document, a scalar YAML
//! could read more than one way — gives `None`, and the caller parses the text in full. When it
//! gives a value, it is the value serde-saphyr gives (tests compare both on every file nbgen
//! renders in this repository). Used for unchanged files only, whose text is nbgen's own: the
//! few fields a review needs of them (NodePorts, resources) without a full parse. Pure.

use serde_json::{Map, Number, Value};

/// What to keep of a mapping's key, to read only the part of a document that is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Not needed: skipped unread.
    Drop,
    /// Needed in part: its keys are asked about in turn.
    Walk,
    /// Needed whole.
    Whole,
}

/// Which keys to keep, by name at any depth.
pub type Filter = fn(&str) -> Keep;

fn everything(_: &str) -> Keep {
    Keep::Whole
}

/// The document in `text`, when `text` is in the layout described above.
#[cfg(test)]
pub fn read(text: &str) -> Option<Value> {
    read_only(text, everything)
}

/// `value` with only the keys `keep` asks for: what `read_only` gives for the same document.
pub fn prune(value: Value, keep: Filter) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| match keep(&k) {
                    Keep::Drop => None,
                    Keep::Walk => Some((k, prune(v, keep))),
                    Keep::Whole => Some((k, v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| prune(v, keep)).collect()),
        v => v,
    }
}

/// `read`, keeping only the keys `keep` asks for (`prune` of the whole document): the rest of
/// the text is skipped, not read.
pub fn read_only(text: &str, keep: Filter) -> Option<Value> {
    let mut lines = Vec::new();
    for line in text.lines() {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if content.starts_with('\t') || line.starts_with("---") || line.starts_with("...") {
            return None;
        }
        lines.push((line.len() - content.len(), content));
    }
    let first = lines.first()?.0;
    let mut i = 0;
    let value = node(&mut lines, &mut i, first, keep)?;
    (i == lines.len()).then_some(value)
}

type Lines<'t> = Vec<(usize, &'t str)>;

fn is_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// The node whose first line is `lines[*i]`, at indentation `indent`.
fn node(lines: &mut Lines, i: &mut usize, indent: usize, keep: Filter) -> Option<Value> {
    let (ind, content) = *lines.get(*i)?;
    if ind != indent {
        return None;
    }
    if is_item(content) {
        let mut items = Vec::new();
        while let Some(&(ind, content)) = lines.get(*i) {
            if ind != indent || !is_item(content) {
                break;
            }
            let rest = content.strip_prefix("- ")?.trim_start_matches(' ');
            // The item's content stands where it starts, two columns in (or more).
            lines[*i] = (indent + (content.len() - rest.len()), rest);
            items.push(node(lines, i, lines[*i].0, keep)?);
        }
        return Some(Value::Array(items));
    }
    if !content.contains(": ") && !content.ends_with(':') {
        // A lone scalar (a sequence item such as `- ALL`).
        *i += 1;
        return scalar(content);
    }
    let mut map = Map::new();
    while let Some(&(ind, content)) = lines.get(*i) {
        if ind < indent || (ind == indent && is_item(content)) {
            break;
        }
        if ind > indent {
            return None;
        }
        let (key, rest) = match content.split_once(": ") {
            Some((k, v)) => (k, v.trim_start_matches(' ')),
            None => (content.strip_suffix(':')?, ""),
        };
        if key.is_empty() || key.ends_with(' ') || scalar(key)? != Value::String(key.to_owned()) {
            return None;
        }
        *i += 1;
        let wanted = keep(key);
        if wanted == Keep::Drop {
            // Its value: the rest of this line, and every line below it that is indented more
            // (or a sequence at its indentation).
            while let Some(&(next, c)) = lines.get(*i) {
                if next > indent || (next == indent && is_item(c)) {
                    *i += 1;
                } else {
                    break;
                }
            }
            continue;
        }
        let inner = if wanted == Keep::Whole {
            everything
        } else {
            keep
        };
        let value = if rest.is_empty() {
            match lines.get(*i) {
                Some(&(next, c)) if next > indent || (next == indent && is_item(c)) => {
                    node(lines, i, next, inner)?
                }
                _ => Value::Null,
            }
        } else {
            scalar(rest)?
        };
        if map.insert(key.to_owned(), value).is_some() {
            return None; // a duplicate key: serde-saphyr refuses it
        }
    }
    Some(Value::Object(map))
}

/// One scalar on one line, or `None` when it is not one of the simple forms.
fn scalar(text: &str) -> Option<Value> {
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        return (!inner.contains(['"', '\\'])).then(|| Value::String(inner.to_owned()));
    }
    if let Some(inner) = text.strip_prefix('\'') {
        let inner = inner.strip_suffix('\'')?;
        return (!inner.replace("''", "").contains('\''))
            .then(|| Value::String(inner.replace("''", "'")));
    }
    match text {
        "[]" => return Some(Value::Array(Vec::new())),
        "{}" => return Some(Value::Object(Map::new())),
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "null" | "~" => return Some(Value::Null),
        _ => {}
    }
    let first = text.chars().next()?;
    if "[]{}|>&*!%@`\"',#?:-".contains(first) && !(first == '-' && text.len() > 1) {
        return None;
    }
    if text.contains(" #") || text.contains(": ") || text.ends_with(':') || text.ends_with(' ') {
        return None;
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() > 1 && digits.starts_with('0') {
            return None; // octal in YAML 1.1, a number in 1.2: not nbgen's
        }
        return text
            .strip_prefix('+')
            .unwrap_or(text)
            .parse::<i64>()
            .ok()
            .map(|n| Value::Number(Number::from(n)));
    }
    // Anything a YAML reader might take for a number, a boolean, null or a date other than the
    // plain forms above (1.5, 1e3, 1_000, 0x1f, .inf, 2026-01-01, yes, Off, NULL) is left to
    // serde-saphyr; `50Gi` and `2.3.0-gpu` are strings to every reader.
    let lower = text.to_ascii_lowercase();
    let special = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", ".inf", "-.inf", "+.inf",
        ".nan",
    ];
    let numeric = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && (lower.starts_with("0x")
            || digits
                .bytes()
                .all(|b| b.is_ascii_digit() || b"._:+-eEoObB".contains(&b)));
    if special.contains(&lower.as_str()) || numeric {
        return None;
    }
    Some(Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn full(text: &str) -> Value {
        serde_saphyr::from_str::<Value>(text).unwrap()
    }

    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }

    #[test]
    fn every_file_nbgen_rendered_here_reads_as_serde_saphyr_reads_it() {
        let mut all = Vec::new();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        files(&root.join("out"), &mut all);
        assert!(all.len() > 100, "out/ holds the rendered examples");
        let mut read_fast = 0;
        for path in &all {
            let text = std::fs::read_to_string(path).unwrap();
            if let Some(v) = read(&text) {
                assert_eq!(v, full(&text), "{}", path.display());
                read_fast += 1;
            }
        }
        // nbgen's own output is read fast, not merely correctly.
        fn some(key: &str) -> Keep {
            match key {
                "metadata" | "spec" | "containers" | "ports" => Keep::Walk,
                "labels" | "resources" | "name" | "nodePort" => Keep::Whole,
                _ => Keep::Drop,
            }
        }
        for path in &all {
            let text = std::fs::read_to_string(path).unwrap();
            if let Some(v) = read_only(&text, some) {
                assert_eq!(v, prune(full(&text), some), "{}", path.display());
            }
        }
        assert!(
            read_fast * 10 >= all.len() * 9,
            "{read_fast} of {}",
            all.len()
        );
    }

    #[test]
    fn anything_else_is_left_to_the_full_parser() {
        for text in [
            "a: {b: 1}\n",
            "a: [1]\n",
            "a: |\n  x\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: \"x\\ty\"\n",
            "a: 1.5\n",
            "a: 1e3\n",
            "a: 0x1f\n",
            "a: 2026-01-01\n",
            "a: yes\n",
            "a: 0755\n",
            "a: 1\na: 2\n",
            "a: 1\n---\nb: 2\n",
            "a: b # c\n",
            "a:\n  - x\n - y\n",
            "a: 'it''s\n",
        ] {
            assert_eq!(read(text), None, "{text:?}");
        }
        let text = "# header\nkind: X\nmetadata:\n  labels:\n    a.b/c: \"1\"\n  name: x\nspec:\n  list:\n  - a: 1\n    b: [] \n  - - x\n    - 'y''s'\n  e: {}\n  nil: null\n  t: true\n  s: -x\n";
        let fast = read(text.replace(" \n", "\n").as_str()).unwrap();
        assert_eq!(fast, full(text));
    }
}
