//! Which fields of the spec are integers, read from the embedded schema (`"type": "integer"`), and
//! whole floats in them written as integers before serde reads the spec. Pure.

use crate::input::schema::SCHEMA;
use serde_json::Value;
use std::sync::LazyLock;

/// The spec's integer fields, as JSON pointer segments (`*`: any key or index), wherever the
/// schema says `"type": "integer"`. Only these are touched by [`whole_numbers`]: elsewhere (a
/// job's `parameters`) `1.0` and `1` mean different things.
static INTEGER_FIELDS: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the embedded schema is JSON");
    let mut out = Vec::new();
    integer_paths(&schema, &schema, &mut Vec::new(), &mut out, 0);
    out.sort();
    out.dedup();
    out
});

/// Walk the schema as the validator does: `$ref`s followed, `properties` by name,
/// `additionalProperties`, `patternProperties` and `items` as `*`, and the branches of `oneOf`,
/// `anyOf`, `allOf` and `if`/`then`/`else` at the same place.
fn integer_paths(
    root: &Value,
    node: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
    depth: usize,
) {
    let Some(map) = node.as_object() else {
        return;
    };
    if depth > 64 {
        return; // a recursive schema: nbgen's is not, and the integer fields are not deep
    }
    let integer = match map.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
        _ => false,
    };
    if integer {
        out.push(path.clone());
    }
    let mut at = |child: &Value, segment: Option<&str>, out: &mut Vec<Vec<String>>| {
        if let Some(s) = segment {
            path.push(s.to_owned());
        }
        integer_paths(root, child, path, out, depth + 1);
        if segment.is_some() {
            path.pop();
        }
    };
    if let Some(target) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|p| root.pointer(p))
    {
        at(target, None, out);
    }
    for (key, child) in map {
        match key.as_str() {
            "properties" => {
                for (name, c) in child.as_object().into_iter().flatten() {
                    at(c, Some(name), out);
                }
            }
            "additionalProperties" | "items" => at(child, Some("*"), out),
            "patternProperties" => {
                for c in child.as_object().into_iter().flat_map(|m| m.values()) {
                    at(c, Some("*"), out);
                }
            }
            "oneOf" | "anyOf" | "allOf" => {
                for c in child.as_array().into_iter().flatten() {
                    at(c, None, out);
                }
            }
            "if" | "then" | "else" => at(child, None, out),
            _ => {}
        }
    }
}

/// YAML's `4.0` passes the schema's `integer` (JSON Schema counts 4.0 as one) but not serde's
/// integer types: in the integer fields, write whole floats as integers before deserializing.
pub(super) fn whole_numbers(value: &mut Value) {
    fn walk(v: &mut Value, pattern: &[String]) {
        let Some((first, rest)) = pattern.split_first() else {
            if let Value::Number(n) = v {
                let whole = n
                    .as_f64()
                    .filter(|f| n.is_f64() && f.fract() == 0.0)
                    .filter(|f| (i64::MIN as f64..i64::MAX as f64).contains(f));
                if let Some(f) = whole {
                    *n = (f as i64).into();
                }
            }
            return;
        };
        match v {
            Value::Object(map) if first == "*" => map.values_mut().for_each(|c| walk(c, rest)),
            Value::Object(map) => {
                if let Some(c) = map.get_mut(first.as_str()) {
                    walk(c, rest);
                }
            }
            Value::Array(items) if first == "*" => items.iter_mut().for_each(|c| walk(c, rest)),
            _ => {}
        }
    }
    for field in INTEGER_FIELDS.iter() {
        walk(value, field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_the_integer_fields() {
        let fields: Vec<String> = INTEGER_FIELDS
            .iter()
            .map(|f| format!("/{}", f.join("/")))
            .collect();
        for expected in [
            "/teams/*/nodePorts/*",
            "/gpuPools/*/tolerations/*/tolerationSeconds",
        ] {
            assert!(fields.iter().any(|f| f == expected), "{fields:?}");
        }
        assert!(
            !fields.iter().any(|f| f.contains("parameters")),
            "{fields:?}"
        );
    }

    #[test]
    fn whole_floats_become_integers_only_in_integer_fields() {
        let mut v = serde_json::json!({
            "gpuPools": {"a": {"capacity": 4.0, "tolerations": [{"tolerationSeconds": 30.0}]}},
            "teams": {"t": {"nodePorts": {"x": 30080.0}, "quota": {"gpu": 2.0, "cpu": 2.0}}},
            "jobs": {"j": {"backoffLimit": 1.0, "parameters": {"count": 1.0}}},
        });
        whole_numbers(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "gpuPools": {"a": {"capacity": 4, "tolerations": [{"tolerationSeconds": 30}]}},
                "teams": {"t": {"nodePorts": {"x": 30080}, "quota": {"gpu": 2, "cpu": 2.0}}},
                "jobs": {"j": {"backoffLimit": 1, "parameters": {"count": 1.0}}},
            })
        );
    }
}
