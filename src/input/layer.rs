//! Environments that build on each other (`extends: base`, docs/environments.md): each file is
//! parsed on its own, then laid over the one it extends — maps merge key by key, scalars and
//! lists are replaced, `key: null` removes an inherited key — and the position of every node is
//! merged by the same rule, so that an error points at the file and line that wrote the value
//! the merged spec holds. Pure: `project` reads the files and follows `extends`.

use crate::diagnostic::Diagnostic;
use crate::input::schema::display_path;
use crate::input::yaml::{self, Positions, escape};
use crate::source::{SourceFile, Span};
use serde_json::Value;
use std::collections::HashSet;

/// The key that names the environment a file builds on.
pub const EXTENDS: &str = "extends";

/// One spec file, parsed.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The environment the file defines: its name without `.yaml`.
    pub env: String,
    pub src: SourceFile,
    value: Value,
    positions: Positions,
}

impl Layer {
    /// Parse `src`, the file of environment `env`.
    pub fn parse(src: SourceFile, env: &str) -> Result<Layer, Diagnostic> {
        let (value, positions) = yaml::parse(&src)?;
        Ok(Layer {
            env: env.to_owned(),
            src,
            value,
            positions,
        })
    }

    /// The environment this file builds on, if it names one, and where (in this file) that is
    /// written. An `extends` that is not a string is left to the schema check.
    pub fn extends(&self) -> Option<(String, Span)> {
        let base = self.value.get(EXTENDS)?.as_str()?;
        Some((
            base.to_owned(),
            self.positions.value(&format!("/{EXTENDS}")),
        ))
    }
}

/// An environment's spec, merged from the files it is written in.
#[derive(Clone, Debug)]
pub struct Merged {
    /// The environment: the name of the first (leaf) file.
    pub env: String,
    pub value: Value,
    pub positions: Positions,
    /// Every file, the leaf first, then what it extends, nearest first.
    pub sources: Vec<SourceFile>,
}

impl Merged {
    /// The display names of the files the leaf builds on, nearest first.
    pub fn bases(&self) -> Vec<String> {
        self.sources
            .iter()
            .skip(1)
            .map(|s| s.name.clone())
            .collect()
    }
}

/// Merge an environment's files: `layers[0]` is the environment's own file, each next one the
/// file the previous one extends. `name` is never inherited; a leaf with `extends` and no
/// `name` is named after its file. Errors: a `null` that removes nothing, and a chain that
/// does not match the files' `extends` (a caller's mistake).
pub fn merge(layers: Vec<Layer>) -> Result<Merged, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    for pair in layers.windows(2) {
        match pair[0].extends() {
            Some((base, _)) if base == pair[1].env => {}
            _ => diags.push(
                Diagnostic::error(format!(
                    "{} is merged onto {}, which it does not extend",
                    pair[0].src.name, pair[1].src.name
                ))
                .in_file(&pair[0].src.name),
            ),
        }
    }
    let Some(leaf) = layers.first() else {
        return Err(vec![Diagnostic::error("no spec file to render")]);
    };
    let env = leaf.env.clone();
    let leaf_extends = layers.len() > 1 || leaf.extends().is_some();
    if let (Some((base, span)), 1) = (leaf.extends(), layers.len()) {
        diags.push(
            Diagnostic::error(format!(
                "{} extends `{base}`, which was not read with it",
                leaf.src.name
            ))
            .at(&leaf.src.name, span)
            .help("render it through nbgen::project::Project, which follows `extends`"),
        );
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let sources: Vec<SourceFile> = layers.iter().map(|l| l.src.clone()).collect();
    let last = layers.len() - 1;
    let mut iter = layers.into_iter().enumerate().rev();
    let (_, root) = iter.next().expect("at least one layer");
    let mut positions = root.positions;
    let mut value = own_part(root.value, last > 0, &mut positions);
    for (i, mut layer) in iter {
        let upper = own_part(layer.value, i > 0, &mut layer.positions);
        let mut replaced = HashSet::new();
        lay_over(
            &mut value,
            upper,
            "",
            &layer.positions,
            &mut replaced,
            &mut diags,
        );
        positions.overlay(layer.positions, &replaced);
    }
    if leaf_extends
        && let Value::Object(map) = &mut value
        && !map.contains_key("name")
    {
        map.insert("name".to_owned(), Value::String(env.clone()));
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Merged {
        env,
        value,
        positions,
        sources,
    })
}

/// What a file contributes to the merged spec: all but `extends` (and `name`, when the file is
/// a base of the environment being merged). Their positions go with them.
fn own_part(mut value: Value, is_base: bool, positions: &mut Positions) -> Value {
    let mut removed = HashSet::new();
    if let Value::Object(map) = &mut value {
        // One that is not a string stays, for the schema check to report.
        if map.get(EXTENDS).is_some_and(Value::is_string) {
            map.shift_remove(EXTENDS);
            removed.insert(format!("/{EXTENDS}"));
        }
        if is_base && map.shift_remove("name").is_some() {
            removed.insert("/name".to_owned());
        }
    }
    positions.forget(&removed);
    value
}

/// Lay `upper` (from a file with positions `upper_pos`) over `lower` at `pointer`. Every
/// pointer whose value `upper` replaced or removed is added to `replaced`.
fn lay_over(
    lower: &mut Value,
    upper: Value,
    pointer: &str,
    upper_pos: &Positions,
    replaced: &mut HashSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    match (lower, upper) {
        (Value::Object(l), Value::Object(u)) => {
            for (key, v) in u {
                let p = format!("{pointer}/{}", escape(&key));
                if v.is_null() {
                    if l.shift_remove(&key).is_some() {
                        replaced.insert(p);
                    } else {
                        let at = upper_pos.key_at(&p);
                        diags.push(
                            Diagnostic::error(format!(
                                "`{}: null` removes nothing: no base environment sets it",
                                display_path(&p)
                            ))
                            .at(at.file, at.span)
                            .help("`null` removes a key this file inherits through `extends`; delete the line, or check the key's spelling"),
                        );
                    }
                    continue;
                }
                match l.get_mut(&key) {
                    Some(lv) => lay_over(lv, v, &p, upper_pos, replaced, diags),
                    None => {
                        l.insert(key, v);
                    }
                }
            }
        }
        (l, u) => {
            *l = u;
            replaced.insert(pointer.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(env: &str, text: &str) -> Layer {
        Layer::parse(
            SourceFile::new(format!("environments/{env}.yaml"), text),
            env,
        )
        .unwrap()
    }

    #[test]
    fn maps_merge_lists_and_scalars_are_replaced_null_removes() {
        let base = layer(
            "base",
            "name: base\na: {x: 1, y: [1, 2, 3], z: {deep: 1}}\nb: 2\nc: 3\n",
        );
        let prod = layer(
            "prod",
            "extends: base\na: {y: [9], z: {more: 2}}\nb: {now: map}\nc: null\n",
        );
        let m = merge(vec![prod, base]).unwrap();
        assert_eq!(
            m.value,
            serde_json::json!({
                "a": {"x": 1, "y": [9], "z": {"deep": 1, "more": 2}},
                "b": {"now": "map"},
                "name": "prod"
            })
        );
        let at = |p: &str| {
            let l = m.positions.value_at(p);
            (l.file.to_owned(), l.span.line)
        };
        assert_eq!(at("/a/x"), ("environments/base.yaml".into(), 2));
        assert_eq!(at("/a/y/0"), ("environments/prod.yaml".into(), 2));
        // the base's longer list left no positions behind
        assert_eq!(at("/a/y/2"), ("environments/prod.yaml".into(), 2));
        assert_eq!(at("/a/z/deep"), ("environments/base.yaml".into(), 2));
        assert_eq!(at("/b/now"), ("environments/prod.yaml".into(), 3));
        // the name is the leaf's file name; nothing points into the base for it
        assert_eq!(at("/name").0, "environments/prod.yaml");
        assert_eq!(m.bases(), vec!["environments/base.yaml".to_owned()]);
    }

    #[test]
    fn a_null_that_removes_nothing_is_an_error_in_its_file() {
        let base = layer("base", "a: 1\n");
        let prod = layer("prod", "extends: base\n\nb: null\n");
        let e = merge(vec![prod, base]).unwrap_err();
        assert_eq!(
            e[0].message,
            "`b: null` removes nothing: no base environment sets it"
        );
        assert_eq!(e[0].file.as_deref(), Some("environments/prod.yaml"));
        assert_eq!(e[0].span.map(|s| s.line), Some(3));
    }

    #[test]
    fn chains_merge_in_order() {
        let a = layer("a", "name: a\nv: a\nonly-a: 1\n");
        let b = layer("b", "extends: a\nname: b\nv: b\n");
        let c = layer("c", "extends: b\n");
        let m = merge(vec![c, b, a]).unwrap();
        assert_eq!(
            m.value,
            serde_json::json!({"v": "b", "only-a": 1, "name": "c"})
        );
        assert_eq!(m.positions.value_at("/v").file, "environments/b.yaml");
        assert_eq!(m.positions.value_at("/only-a").file, "environments/a.yaml");
    }

    #[test]
    fn a_single_file_is_its_own_merge() {
        let m = merge(vec![layer("dev", "name: dev\nx: 1\n")]).unwrap();
        assert_eq!(m.value, serde_json::json!({"name": "dev", "x": 1}));
        assert!(m.bases().is_empty());
    }
}
