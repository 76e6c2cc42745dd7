//! JSON Schema validation of the spec (schemas/environment.schema.json, embedded at build time),
//! with errors pointed at the offending line. Pure: no I/O.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::input::yaml::Positions;
use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use std::sync::OnceLock;

/// The schema text, as shipped in `schemas/`.
pub const SCHEMA: &str = include_str!("../../schemas/environment.schema.json");

struct Compiled {
    schema: Value,
    validator: jsonschema::Validator,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(SCHEMA).expect("the embedded schema is valid JSON (tested)");
        let validator =
            jsonschema::validator_for(&schema).expect("the embedded schema compiles (tested)");
        Compiled { schema, validator }
    })
}

/// Every schema violation in `value`, one diagnostic each (unknown keys one per key).
pub fn check(value: &Value, positions: &Positions) -> Vec<Diagnostic> {
    let c = compiled();
    let mut out = Vec::new();
    // One error per value: a value of the wrong type also fails its enum or pattern.
    let mut reported = std::collections::HashSet::new();
    let errs = errors(value);
    // A misspelt required key (`memroy`) is one mistake: its "unknown key ... did you mean
    // `memory`?" says it all, so "missing `memory`" is not reported as well.
    let misspelt: std::collections::HashSet<(String, String)> = misspellings(&errs)
        .into_iter()
        .map(|(at, _, meant)| (at, meant))
        .collect();
    for err in errs {
        let pointer = err.instance_path().as_str().to_owned();
        let is_key_error = matches!(
            err.kind(),
            ValidationErrorKind::AdditionalProperties { .. }
                | ValidationErrorKind::PropertyNames { .. }
                | ValidationErrorKind::Required { .. }
        );
        if !is_key_error && !reported.insert(pointer.clone()) {
            continue;
        }
        let schema_path = err.schema_path().as_str().to_owned();
        // The schema node that holds the failing keyword: its title/description explain it.
        let node = schema_path
            .rfind('/')
            .and_then(|i| c.schema.pointer(&schema_path[..i]));
        let title = node.and_then(|n| n.get("title")).and_then(Value::as_str);
        let description = node
            .and_then(|n| n.get("description"))
            .and_then(Value::as_str);
        let at = display_path(&pointer);
        let instance = err.instance();
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known: Vec<&str> = node
                    .and_then(|n| n.get("properties"))
                    .and_then(Value::as_object)
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                for key in unexpected {
                    let key_ptr = format!("{pointer}/{}", crate::input::yaml::escape(key));
                    let help = match did_you_mean(key, known.iter().copied()) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None if known.is_empty() => "remove it".to_owned(),
                        None => format!("remove it; allowed keys here: {}", known.join(", ")),
                    };
                    out.push(
                        Diagnostic::error(format!("unknown key `{key}` in {at}"))
                            .at_loc(positions.key_at(&key_ptr))
                            .help(help),
                    );
                }
            }
            ValidationErrorKind::PropertyNames { error } => {
                // The offending key is the inner error's instance; point at the key itself.
                let key = error.instance().as_str().unwrap_or_default().to_owned();
                let key_ptr = format!("{pointer}/{}", crate::input::yaml::escape(&key));
                let inner_path = error.schema_path().as_str();
                let names = inner_path
                    .rfind('/')
                    .and_then(|i| c.schema.pointer(&inner_path[..i]));
                let what = names
                    .and_then(|n| n.get("title"))
                    .and_then(Value::as_str)
                    .map_or_else(|| "name".to_owned(), lowercase_first);
                let help = names
                    .and_then(|n| {
                        n.get("patternErrorMessage")
                            .or_else(|| n.get("description"))
                    })
                    .and_then(Value::as_str)
                    .unwrap_or("use lower-case letters, digits and '-'");
                // A name that is only too long is not helped by "use lower-case letters".
                let (message, help) = match error.kind() {
                    ValidationErrorKind::MaxLength { limit } => (
                        format!(
                            "`{key}` in {at} is {} characters long; a {what} has at most {limit}",
                            key.chars().count()
                        ),
                        "shorten the name".to_owned(),
                    ),
                    _ => (
                        format!("`{key}` in {at} is not a valid {what}"),
                        help.to_owned(),
                    ),
                };
                out.push(
                    Diagnostic::error(message)
                        .at_loc(positions.key_at(&key_ptr))
                        .help(help),
                );
            }
            ValidationErrorKind::Required { property } => {
                let prop = property.as_str().unwrap_or_default();
                // Every missing key of a map is reported, each once.
                if misspelt.contains(&(pointer.clone(), prop.to_owned()))
                    || !reported.insert(format!("{pointer} requires {prop}"))
                {
                    continue;
                }
                // A conditional requirement (`else: {required: [...]}`) describes its keys in
                // the enclosing schema's `properties`.
                let holder = schema_path
                    .strip_suffix("/else/required")
                    .or_else(|| schema_path.strip_suffix("/then/required"))
                    .and_then(|p| c.schema.pointer(p))
                    .or(node);
                let help = holder
                    .and_then(|n| n.pointer(&format!("/properties/{prop}/description")))
                    .and_then(Value::as_str)
                    .map_or_else(
                        || format!("add `{prop}:`"),
                        |d| format!("add `{prop}:` ({})", lowercase_first(d)),
                    );
                out.push(
                    Diagnostic::error(format!("{at} is missing the required key `{prop}`"))
                        .at_loc(positions.key_at(&pointer))
                        .help(help),
                );
            }
            kind => {
                let what = title.map(lowercase_first);
                let message = match (kind, &what) {
                    (ValidationErrorKind::Type { .. }, _) => format!(
                        "{at} must be {}, found {}",
                        expected_type(node),
                        describe(instance)
                    ),
                    (
                        ValidationErrorKind::OneOfNotValid { .. }
                        | ValidationErrorKind::OneOfMultipleValid { .. },
                        _,
                    ) if one_of_message(node).is_some() => {
                        format!("{at}: {}", one_of_message(node).unwrap_or_default())
                    }
                    (ValidationErrorKind::Pattern { .. }, Some(w))
                    | (ValidationErrorKind::Format { .. }, Some(w))
                    | (ValidationErrorKind::OneOfNotValid { .. }, Some(w))
                    | (ValidationErrorKind::OneOfMultipleValid { .. }, Some(w))
                    | (ValidationErrorKind::AnyOf { .. }, Some(w)) => match instance.as_ref() {
                        Value::Object(_) | Value::Array(_) => format!("{at} is not a valid {w}"),
                        v => format!("{at}: {} is not a valid {w}", describe(v)),
                    },
                    (ValidationErrorKind::Enum { options }, _) => format!(
                        "{at}: {} is not one of {}",
                        describe(instance),
                        list(options)
                    ),
                    (ValidationErrorKind::MinItems { limit: 1 }, _) => {
                        format!("{at} is empty: list at least one {}", singular(&pointer))
                    }
                    (ValidationErrorKind::MinItems { limit }, _) => format!(
                        "{at} lists {}; list at least {limit}",
                        count(instance, "item")
                    ),
                    (ValidationErrorKind::MaxItems { limit }, _) => format!(
                        "{at} lists {}; list at most {limit}",
                        count(instance, "item")
                    ),
                    (ValidationErrorKind::MinProperties { limit: 1 }, _) => {
                        format!("{at} is empty: define at least one entry")
                    }
                    (ValidationErrorKind::UniqueItems, _) => {
                        format!("{at} lists the same value more than once")
                    }
                    (ValidationErrorKind::MinLength { limit: 1 }, _) => {
                        format!("{at} is empty")
                    }
                    (ValidationErrorKind::MinLength { limit }, _) => {
                        format!("{at} is shorter than {limit} characters")
                    }
                    (ValidationErrorKind::Minimum { limit }, _) => {
                        format!(
                            "{at} is {}; it must be at least {limit}",
                            describe(instance)
                        )
                    }
                    (ValidationErrorKind::Maximum { limit }, _) => {
                        format!("{at} is {}; it must be at most {limit}", describe(instance))
                    }
                    (ValidationErrorKind::ExclusiveMinimum { limit }, _) => format!(
                        "{at} is {}; it must be more than {limit}",
                        describe(instance)
                    ),
                    (ValidationErrorKind::Constant { expected_value }, _) => {
                        format!(
                            "{at} must be {expected_value}, found {}",
                            describe(instance)
                        )
                    }
                    _ => format!("{at}: {}", err.masked()),
                };
                let pattern_hint = node
                    .and_then(|n| n.get("patternErrorMessage"))
                    .and_then(Value::as_str)
                    .filter(|_| matches!(kind, ValidationErrorKind::Pattern { .. }));
                let help = pattern_hint
                    .or(description)
                    .map(str::to_owned)
                    .unwrap_or_else(|| "see the spec reference in the README".to_owned());
                // What the value was probably meant to be: a close enum value, or a quantity
                // in Kubernetes' spelling (`8GB` → `8Gi`).
                let meant = match (kind, instance.as_str()) {
                    (ValidationErrorKind::Enum { options }, Some(v)) => {
                        let options: Vec<&str> = options
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect();
                        closest_option(v, &options).map(str::to_owned)
                    }
                    (ValidationErrorKind::Pattern { .. }, Some(v))
                        if title == Some("Kubernetes quantity") =>
                    {
                        quantity_meant(v)
                    }
                    _ => None,
                };
                let help = match meant {
                    Some(m) => format!("did you mean `{m}`? {help}"),
                    None => help,
                };
                // A whole map or list is wrong (e.g. both backends set): point at its name,
                // not at its first entry.
                let at = if instance.is_object() || instance.is_array() {
                    positions.key_at(&pointer)
                } else {
                    positions.value_at(&pointer)
                };
                out.push(Diagnostic::error(message).at_loc(at).help(help));
            }
        }
    }
    out
}

/// The schema's errors for `value`. A `oneOf` whose branches differ by type (an image: a
/// string or a map) gives way to the errors of the one branch of the value's type, which say
/// what is wrong inside it (an unknown key, a bad `start`) rather than "matches no branch".
fn errors(value: &Value) -> Vec<ValidationError<'static>> {
    fn push(err: ValidationError<'static>, out: &mut Vec<ValidationError<'static>>) {
        let branch = match err.kind() {
            ValidationErrorKind::OneOfNotValid { context } => {
                let at = err.instance_path();
                let of_its_type: Vec<usize> = context
                    .iter()
                    .enumerate()
                    .filter(|(_, errs)| {
                        !errs.iter().any(|e| {
                            e.instance_path() == at
                                && matches!(e.kind(), ValidationErrorKind::Type { .. })
                        })
                    })
                    .map(|(i, _)| i)
                    .collect();
                match of_its_type[..] {
                    [i] if !context[i].is_empty() => Some(i),
                    _ => None,
                }
            }
            _ => None,
        };
        match branch {
            Some(i) => {
                let ValidationErrorKind::OneOfNotValid { context } = err.into_parts().kind else {
                    unreachable!("matched above")
                };
                for e in context.into_iter().nth(i).unwrap_or_default() {
                    push(e, out);
                }
            }
            None => out.push(err),
        }
    }
    let mut out = Vec::new();
    for err in compiled().validator.iter_errors(value) {
        push(err.to_owned(), &mut out);
    }
    out
}

/// Unknown keys that are misspellings of a required key missing from the same map: (the map's
/// pointer, the key written, the key meant).
pub fn misspellings(errs: &[ValidationError<'_>]) -> Vec<(String, String, String)> {
    let missing: Vec<(&str, &str)> = errs
        .iter()
        .filter_map(|e| match e.kind() {
            ValidationErrorKind::Required { property } => {
                Some((e.instance_path().as_str(), property.as_str()?))
            }
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for e in errs {
        let ValidationErrorKind::AdditionalProperties { unexpected } = e.kind() else {
            continue;
        };
        let at = e.instance_path().as_str();
        let required = missing.iter().filter(|(p, _)| *p == at).map(|(_, k)| *k);
        for key in unexpected {
            if let Some(meant) = did_you_mean(key, required.clone()) {
                out.push((at.to_owned(), key.clone(), meant.to_owned()));
            }
        }
    }
    out
}

/// The option `wrong` was meant to be: a close spelling (`readwrite`), or an abbreviation whose
/// letters appear in order in exactly one option (`rw` → `readWrite`, `ro` → `readOnly`).
fn closest_option<'a>(wrong: &str, options: &[&'a str]) -> Option<&'a str> {
    if let Some(close) = did_you_mean(wrong, options.iter().copied()) {
        return Some(close);
    }
    let wrong = wrong.to_lowercase();
    let abbreviates = |option: &str| {
        let option = option.to_lowercase();
        let mut rest = option.chars();
        option.chars().next() == wrong.chars().next() && wrong.chars().all(|c| rest.any(|o| o == c))
    };
    match options
        .iter()
        .filter(|o| wrong.chars().count() >= 2 && abbreviates(o))
        .collect::<Vec<_>>()[..]
    {
        [one] => Some(one),
        _ => None,
    }
}

/// A size written the way people write it elsewhere, in Kubernetes' spelling: `8GB`, `8gb`,
/// `8 GiB`, `8g` → `8Gi`; `512MB` → `512Mi`. Binary units: memory and disks are sized in them.
pub fn quantity_meant(text: &str) -> Option<String> {
    let t = text.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    if number.is_empty() || number.parse::<f64>().is_err() {
        return None;
    }
    let unit = unit.trim().to_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let prefix = match unit {
        "k" => "Ki",
        "m" => "Mi",
        "g" => "Gi",
        "t" => "Ti",
        "p" => "Pi",
        _ => return None,
    };
    Some(format!("{number}{prefix}"))
}

/// `/teams/a/roles` → "role": what one item of the list at `pointer` is.
fn singular(pointer: &str) -> String {
    let last = display_path(pointer);
    let last = last.rsplit('.').next().unwrap_or_default();
    last.strip_suffix("ies")
        .map(|s| format!("{s}y"))
        .or_else(|| last.strip_suffix('s').map(str::to_owned))
        .unwrap_or_else(|| "item".to_owned())
}

/// "3 items", "1 item".
fn count(instance: &Value, noun: &str) -> String {
    let n = instance.as_array().map_or(0, Vec::len);
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The schema's own wording for a failed `oneOf` (its branches' shared `errorMessage`).
fn one_of_message(node: Option<&Value>) -> Option<String> {
    let text = node?
        .get("oneOf")?
        .as_array()?
        .iter()
        .find_map(|branch| branch.get("errorMessage")?.as_str())?;
    Some(lowercase_first(text.trim_end_matches('.')))
}

/// Where the schema errors are, by JSON pointer: the keys the schema does not allow (so
/// validation can go on without them once reported), and every other failing value.
#[derive(Debug, Default)]
pub struct Failures {
    pub unknown_keys: Vec<String>,
    /// Unknown keys that misspell a missing required key: (the map's pointer, the key written,
    /// the key meant). Validation can go on with the key read as meant.
    pub misspelt: Vec<(String, String, String)>,
    pub values: Vec<String>,
    /// The values of the wrong type where a scalar was expected (a subset of `values`).
    pub wrong_types: Vec<String>,
}

pub fn failures(value: &Value) -> Failures {
    let errs = errors(value);
    let mut out = Failures {
        misspelt: misspellings(&errs),
        ..Failures::default()
    };
    for err in errs {
        let at = err.instance_path().as_str();
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => out.unknown_keys.extend(
                unexpected
                    .iter()
                    .map(|k| format!("{at}/{}", crate::input::yaml::escape(k))),
            ),
            // Only where a scalar was expected: a value standing in for a list or a map
            // (`members: alice@example.com`) is not "not written" but written wrongly.
            ValidationErrorKind::Type {
                kind: jsonschema::error::TypeKind::Single(t),
            } if !matches!(
                t,
                jsonschema::JsonType::Array | jsonschema::JsonType::Object
            ) =>
            {
                out.values.push(at.to_owned());
                out.wrong_types.push(at.to_owned());
            }
            _ => out.values.push(at.to_owned()),
        }
    }
    out
}

/// `/teams/ml-engineering/quota/cpu` → `teams.ml-engineering.quota.cpu` (`the spec` for the root).
pub fn display_path(pointer: &str) -> String {
    if pointer.is_empty() {
        return "the spec".to_owned();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

fn expected_type(node: Option<&Value>) -> String {
    match node.and_then(|n| n.get("type")) {
        Some(Value::String(t)) => article(t),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(article)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "of another type".to_owned(),
    }
}

fn article(t: &str) -> String {
    match t {
        "object" => "a map".to_owned(),
        "array" => "a list".to_owned(),
        "integer" => "a whole number".to_owned(),
        "number" => "a number".to_owned(),
        "boolean" => "true or false".to_owned(),
        "string" => "a string".to_owned(),
        other => other.to_owned(),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".to_owned(),
        Value::Object(_) => "a map".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn list(options: &Value) -> String {
    match options.as_array() {
        Some(items) => items
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        None => options.to_string(),
    }
}

/// "Shared volume" → "shared volume", but "DNS-1035 label" stays as it is.
fn lowercase_first(s: &str) -> String {
    // Proper names keep their capital: "not a valid Kubernetes quantity".
    const NAMES: [&str; 1] = ["Kubernetes"];
    if NAMES.iter().any(|n| s.split(' ').next() == Some(*n)) {
        return s.to_owned();
    }
    let mut c = s.chars();
    match (c.next(), c.clone().next()) {
        (Some(f), Some(second)) if !second.is_uppercase() => f.to_lowercase().chain(c).collect(),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_compiles() {
        let _ = compiled();
    }

    #[test]
    fn display_paths_are_dotted() {
        assert_eq!(display_path("/teams/a/quota/cpu"), "teams.a.quota.cpu");
        assert_eq!(
            display_path("/gpuPools/a100/nodeSelector/nvidia.com~1gpu"),
            "gpuPools.a100.nodeSelector.nvidia.com/gpu"
        );
        assert_eq!(display_path(""), "the spec");
    }
}
