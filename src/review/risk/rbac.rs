//! RBAC: subjects that gain or lose a binding, rules added to or dropped from a role, a
//! binding's roleRef.

use crate::object::ObjectId;
use crate::review::diff::Change;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One RBAC subject, rule or role reference added or removed.
#[derive(Clone, Debug, Serialize)]
pub struct RbacChange {
    /// The Role, ClusterRole, RoleBinding or ClusterRoleBinding.
    pub object: ObjectId,
    pub change: Change,
    pub what: RbacWhat,
    /// `User alice@example.com`, `get, list on pods`, `Role notebook-user`.
    pub item: String,
    /// For a subject: the role the binding grants (`Role notebook-user`).
    pub grants: Option<String>,
}

/// What part of an RBAC object changed. Serialized as in JSON reports since version 1
/// (`subject`, `rule`, `roleRef`); ordered as a reviewer reads them: who gains or loses access
/// first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RbacWhat {
    /// A binding's subject: who is granted the role.
    Subject,
    /// A binding's role reference.
    RoleRef,
    /// A role's rule: what is granted.
    Rule,
}

pub(super) fn rules(
    id: &ObjectId,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<RbacChange>,
) {
    // A rule naming resources grants each name on its own: compare name by name, so that a new
    // server reads "adds … (prep-dave)" rather than one rule dropped and another added.
    type Grants = BTreeMap<String, BTreeSet<Option<String>>>;
    let grants = |v: Option<&Value>| -> Grants {
        let mut g = Grants::new();
        let rules = v.and_then(|v| v.get("rules")).and_then(Value::as_array);
        for rule in rules.into_iter().flatten() {
            let names = strings(rule, "resourceNames");
            let set = g.entry(rule_text(rule)).or_default();
            if names.is_empty() {
                set.insert(None);
            } else {
                set.extend(names.into_iter().map(Some));
            }
        }
        g
    };
    let (o, n) = (grants(old), grants(new));
    let empty = BTreeSet::new();
    let bases: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    for base in bases {
        let (before, after) = (o.get(base).unwrap_or(&empty), n.get(base).unwrap_or(&empty));
        for (change, names) in [
            (Change::Removed, before.difference(after)),
            (Change::Added, after.difference(before)),
        ] {
            let names: Vec<&Option<String>> = names.collect();
            let mut items = Vec::new();
            if names.contains(&&None) {
                items.push(base.clone());
            }
            let named: Vec<&str> = names.iter().filter_map(|n| n.as_deref()).collect();
            if !named.is_empty() {
                items.push(format!("{base} ({})", named.join(", ")));
            }
            out.extend(items.into_iter().map(|item| RbacChange {
                object: id.clone(),
                change,
                what: RbacWhat::Rule,
                item,
                grants: None,
            }));
        }
    }
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `get, list on pods, pods/log`, `patch on apps deployments/scale`; resource names apart.
fn rule_text(rule: &Value) -> String {
    let list = |key: &str| strings(rule, key);
    let verbs = list("verbs").join(", ");
    let mut text = format!("{verbs} on");
    let groups: Vec<String> = list("apiGroups")
        .into_iter()
        .filter(|g| !g.is_empty())
        .collect();
    if !groups.is_empty() {
        text.push(' ');
        text.push_str(&groups.join(", "));
    }
    let resources = list("resources");
    if !resources.is_empty() {
        text.push(' ');
        text.push_str(&resources.join(", "));
    }
    let urls = list("nonResourceURLs");
    if !urls.is_empty() {
        text.push_str(&format!(" URLs {}", urls.join(", ")));
    }
    text
}

pub(super) fn subjects(
    id: &ObjectId,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<RbacChange>,
) {
    let set = |v: Option<&Value>| -> BTreeSet<String> {
        v.and_then(|v| v.get("subjects"))
            .and_then(Value::as_array)
            .map(|s| s.iter().map(subject_text).collect())
            .unwrap_or_default()
    };
    let role_ref = |v: Option<&Value>| {
        v.and_then(|v| v.get("roleRef")).map(|r| {
            format!(
                "{} {}",
                r.get("kind").and_then(Value::as_str).unwrap_or("?"),
                r.get("name").and_then(Value::as_str).unwrap_or("?")
            )
        })
    };
    let (o, n) = (set(old), set(new));
    let (old_ref, new_ref) = (role_ref(old), role_ref(new));
    let change = |change, item: &String, grants: &Option<String>| RbacChange {
        object: id.clone(),
        change,
        what: RbacWhat::Subject,
        item: item.clone(),
        grants: grants.clone(),
    };
    if old.is_some() && new.is_some() && old_ref != new_ref {
        for (c, r) in [(Change::Removed, &old_ref), (Change::Added, &new_ref)] {
            if let Some(r) = r {
                out.push(RbacChange {
                    object: id.clone(),
                    change: c,
                    what: RbacWhat::RoleRef,
                    item: r.clone(),
                    grants: None,
                });
            }
        }
    }
    out.extend(
        o.difference(&n)
            .map(|s| change(Change::Removed, s, &old_ref)),
    );
    out.extend(n.difference(&o).map(|s| change(Change::Added, s, &new_ref)));
}

/// `User alice@example.com`, `Group ds-team`, `ServiceAccount ci/deployer`.
fn subject_text(s: &Value) -> String {
    let kind = s.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = s.get("name").and_then(Value::as_str).unwrap_or("?");
    match s.get("namespace").and_then(Value::as_str) {
        Some(ns) if kind == "ServiceAccount" => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::risk::{assess, snap};
    use std::collections::BTreeMap;

    #[test]
    fn subjects_and_rules_added_or_removed() {
        let rb = |users: &str| {
            format!(
                "kind: RoleBinding\nmetadata: {{name: b, namespace: t}}\nroleRef: {{kind: Role, name: r}}\nsubjects: [{users}]\n"
            )
        };
        let r = assess(
            &snap(&[("b.yaml", &rb("{kind: User, name: a}"))]),
            &snap(&[(
                "b.yaml",
                &rb("{kind: User, name: a}, {kind: Group, name: g}"),
            )]),
            &BTreeMap::new(),
        );
        assert_eq!(r.rbac.len(), 1);
        assert_eq!(r.rbac[0].change, Change::Added);
        assert_eq!(r.rbac[0].item, "Group g");
        assert_eq!(r.rbac[0].grants.as_deref(), Some("Role r"));

        let role = |verbs: &str| {
            format!(
                "kind: Role\nmetadata: {{name: r, namespace: t}}\nrules: [{{apiGroups: [''], resources: [pods], verbs: [{verbs}]}}]\n"
            )
        };
        let r = assess(
            &snap(&[("r.yaml", &role("get"))]),
            &snap(&[("r.yaml", &role("get, delete"))]),
            &BTreeMap::new(),
        );
        let items: Vec<String> = r
            .rbac
            .iter()
            .map(|c| format!("{} {}", c.change.mark(), c.item))
            .collect();
        assert_eq!(items, ["- get on pods", "+ get, delete on pods"]);
    }
}
